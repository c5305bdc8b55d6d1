//! Vectors: `VectorInfo` (pygeoprocessing's `get_vector_info`) and opening.

use std::path::{Path, PathBuf};

use gdal::vector::{field_type_to_name, geometry_type_to_name, LayerAccess};
use gdal::Dataset;
use serde::{Deserialize, Serialize};

use crate::raster::dataset::open_vector_dataset;
use crate::{BoundingBox, Error, Result};

/// A layer's description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorInfo {
    /// The vector's path.
    pub path: PathBuf,
    /// The layer described.
    pub layer_name: String,
    /// Number of features.
    pub feature_count: u64,
    /// OGR's geometry type name, e.g. `Polygon`.
    pub geometry_type: String,
    /// Extent of the layer, `None` for an empty layer.
    pub bounding_box: Option<BoundingBox>,
    /// Projection WKT, `None` when the layer has none.
    pub projection_wkt: Option<String>,
    /// Attribute fields, in order.
    pub fields: Vec<FieldInfo>,
}

/// One attribute field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldInfo {
    /// Field name.
    pub name: String,
    /// OGR's field type name, e.g. `Integer`, `Real`, `String`.
    pub field_type: String,
}

/// Which layer of a vector dataset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerRef {
    /// By position, from 0.
    Index(usize),
    /// By name.
    Name(String),
}

impl Default for LayerRef {
    fn default() -> Self {
        LayerRef::Index(0)
    }
}

/// Open a vector dataset read-only.
pub fn open_vector(path: impl AsRef<Path>) -> Result<Dataset> {
    open_vector_dataset(path.as_ref(), false)
}

/// Open a vector dataset for update.
pub fn open_vector_update(path: impl AsRef<Path>) -> Result<Dataset> {
    open_vector_dataset(path.as_ref(), true)
}

/// Find a layer, with an error naming the file when it does not exist.
pub fn layer<'a>(
    ds: &'a Dataset,
    path: &Path,
    which: &LayerRef,
) -> Result<gdal::vector::Layer<'a>> {
    let count = ds.layer_count();
    let found = match which {
        LayerRef::Index(i) => ds.layer(*i).ok(),
        LayerRef::Name(n) => ds.layer_by_name(n).ok(),
    };
    found.ok_or_else(|| Error::LayerNotFound {
        path: path.to_path_buf(),
        layer: match which {
            LayerRef::Index(i) => i.to_string(),
            LayerRef::Name(n) => format!("{n:?}"),
        },
        count,
    })
}

/// Describe one layer of a vector.
pub fn vector_info(path: impl AsRef<Path>, which: &LayerRef) -> Result<VectorInfo> {
    let path = path.as_ref();
    let ds = open_vector(path)?;
    let lyr = layer(&ds, path, which)?;
    let feature_count = lyr.feature_count();
    let bounding_box = if feature_count == 0 {
        None
    } else {
        let e = lyr
            .get_extent()
            .map_err(|e| Error::gdal(path, "computing the layer extent", e))?;
        Some(BoundingBox::new(e.MinX, e.MinY, e.MaxX, e.MaxY))
    };
    let projection_wkt = lyr.spatial_ref().and_then(|s| s.to_wkt().ok());
    let fields = lyr
        .defn()
        .fields()
        .map(|f| FieldInfo {
            name: f.name(),
            field_type: field_type_to_name(f.field_type()),
        })
        .collect();
    Ok(VectorInfo {
        path: path.to_path_buf(),
        layer_name: lyr.name(),
        feature_count,
        geometry_type: geometry_type_to_name(lyr.defn().geometry_type()),
        bounding_box,
        projection_wkt,
        fields,
    })
}
