//! New empty rasters on a grid derived from a bounding box or from a vector's extent.

use std::path::{Path, PathBuf};

use pgp_core::gdal::vector::LayerAccess;
use pgp_core::{open_vector, BoundingBox, DataType, OutputRaster, RasterDriver, RasterSpec};
use serde::{Deserialize, Serialize};

use crate::geom::{projection_wkt, GridAnchor, TargetGrid};
use crate::{Error, Result};

/// Options of [`create_raster_from_bounding_box`] and [`create_raster_from_vector_extents`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct CreateRasterOptions {
    /// Nodata value of the band (`None`: no nodata).
    pub nodata: Option<f64>,
    /// Fill every pixel with this value (`None`: the driver's default, 0 for GeoTIFF).
    pub fill: Option<f64>,
    /// Snap the box's west and south edges to this grid first (pygeoprocessing's
    /// `raster_align_index` rule), so the new raster lines up with an existing one.
    pub anchor: Option<GridAnchor>,
    /// Driver and creation options.
    pub driver: RasterDriver,
}

/// pygeoprocessing's `create_raster_from_bounding_box`: a one-band raster covering `bbox` with
/// pixels of `pixel_size`, in `projection` (WKT, `EPSG:n`, ...; `None`: no projection).
///
/// The grid comes from [`TargetGrid::new`], the same rule warp and align use, so a raster made
/// here from the same box and pixel size lines up exactly with an aligned or warped raster.
/// Difference from pygeoprocessing 2.4.11: when the box's height is not a whole number of pixels,
/// pygeoprocessing anchors this raster at the box's north edge but its warps at the south edge;
/// here both are anchored at the south-west corner (pygeoprocessing #321 / #348). Grids are
/// always north-up with a positive pixel width whatever the signs of `pixel_size`.
pub fn create_raster_from_bounding_box(
    bbox: &BoundingBox,
    target: impl AsRef<Path>,
    pixel_size: (f64, f64),
    datatype: DataType,
    projection: Option<&str>,
    options: &CreateRasterOptions,
) -> Result<TargetGrid> {
    let grid = TargetGrid::new(bbox, pixel_size, options.anchor.as_ref())?;
    let wkt = projection
        .map(|p| projection_wkt(p, "projection"))
        .transpose()?;
    let mut spec = RasterSpec::new(grid.cols, grid.rows, datatype, grid.geotransform())
        .projection(wkt)
        .driver(options.driver.clone());
    spec.nodata = vec![options.nodata];
    if let Some(fill) = options.fill {
        spec = spec.fill(fill);
    }
    OutputRaster::create(target, &spec)?.commit()?;
    Ok(grid)
}

/// pygeoprocessing's `create_raster_from_vector_extents`: a one-band raster covering the
/// envelopes of every feature of every layer of `vector`, in the projection of its first layer.
/// Features without geometry are skipped; a vector without any geometry is an error.
pub fn create_raster_from_vector_extents(
    vector: impl AsRef<Path>,
    target: impl AsRef<Path>,
    pixel_size: (f64, f64),
    datatype: DataType,
    options: &CreateRasterOptions,
) -> Result<TargetGrid> {
    let vector = vector.as_ref();
    let (extent, wkt) = vector_extent(vector)?;
    let extent = extent.ok_or_else(|| {
        Error::invalid(
            "vector",
            format!(
                "{} has no geometry, so it has no extent to make a raster from",
                vector.display()
            ),
        )
    })?;
    create_raster_from_bounding_box(
        &extent,
        target,
        pixel_size,
        datatype,
        wkt.as_deref(),
        options,
    )
}

/// The union of the envelopes of every feature in every layer, and the first layer's WKT.
pub(crate) fn vector_extent(vector: &Path) -> Result<(Option<BoundingBox>, Option<String>)> {
    let ds = open_vector(vector)?;
    let mut extent: Option<BoundingBox> = None;
    let mut wkt = None;
    for (i, mut lyr) in ds.layers().enumerate() {
        if i == 0 {
            wkt = lyr.spatial_ref().and_then(|s| s.to_wkt().ok());
        }
        for feature in lyr.features() {
            let Some(geometry) = feature.geometry() else {
                continue;
            };
            if geometry.is_empty() {
                continue;
            }
            let e = geometry.envelope();
            let b = BoundingBox::new(e.MinX, e.MinY, e.MaxX, e.MaxY);
            extent = Some(match extent {
                Some(acc) => acc.union(&b),
                None => b,
            });
        }
    }
    Ok((extent, wkt))
}

/// A file next to `target` that is removed when dropped (scratch rasters of an operation).
pub(crate) struct ScratchFile(pub(crate) PathBuf);

impl ScratchFile {
    /// A fresh scratch path beside `target`, with extension `ext`.
    pub(crate) fn beside(target: &Path, ext: &str) -> ScratchFile {
        ScratchFile(pgp_core::temporary_sibling(target).with_extension(ext))
    }
}

impl Drop for ScratchFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut aux = self.0.clone().into_os_string();
        aux.push(".aux.xml");
        let _ = std::fs::remove_file(aux);
    }
}
