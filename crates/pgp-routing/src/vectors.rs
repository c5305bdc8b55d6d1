//! The GeoPackage outputs of the vector steps, written as pygeoprocessing writes them: one
//! layer, in the raster's projection, created inside one transaction, the file appearing only
//! once complete.

use std::path::Path;

use pgp_core::gdal::errors::GdalError;
use pgp_core::gdal::spatial_ref::SpatialRef;
use pgp_core::gdal::vector::{FieldDefn, Geometry, Layer, LayerOptions, OGRwkbGeometryType};
use pgp_core::RasterInfo;

use crate::error::{Error, Result};

/// A GDAL error while writing `target`, saying what was being done.
pub(crate) fn gdal_error(target: &Path, what: &str, e: GdalError) -> Error {
    Error::from(pgp_core::Error::gdal(target, what, e))
}

/// The raster's projection, `None` when it has none.
pub(crate) fn projection(info: &RasterInfo) -> Result<Option<SpatialRef>> {
    match &info.projection_wkt {
        Some(wkt) if !wkt.is_empty() => SpatialRef::from_wkt(wkt)
            .map(Some)
            .map_err(|e| gdal_error(&info.path, "reading the projection", e)),
        _ => Ok(None),
    }
}

/// pygeoprocessing's layer name for an output: the file's name without its extension.
pub(crate) fn layer_name(target: &Path) -> String {
    target
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `gdal.ApplyGeoTransform(gt, x + 0.5, y + 0.5)`: the centre of pixel `(x, y)`, in GDAL's
/// order of operations.
pub(crate) fn pixel_centre(gt: &[f64; 6], x: f64, y: f64) -> (f64, f64) {
    let (px, py) = (x + 0.5, y + 0.5);
    (
        gt[0] + px * gt[1] + py * gt[2],
        gt[3] + px * gt[4] + py * gt[5],
    )
}

/// A geometry of type `ty` through `points`, each 3D with z = 0: pygeoprocessing adds points
/// with `AddPoint(x, y)`, which makes them 3D.
pub(crate) fn geometry_z0(
    ty: OGRwkbGeometryType::Type,
    points: impl IntoIterator<Item = (f64, f64)>,
) -> std::result::Result<Geometry, GdalError> {
    let mut g = Geometry::empty(ty)?;
    for (x, y) in points {
        g.add_point((x, y, 0.0));
    }
    Ok(g)
}

/// Writes the GeoPackage `target` with one layer `name` of geometry type `ty` and the integer,
/// real or other `fields` given, filled by `fill` in one transaction. On any error nothing is
/// left at `target`.
pub(crate) fn write_gpkg<T>(
    target: &Path,
    name: &str,
    srs: Option<&SpatialRef>,
    ty: OGRwkbGeometryType::Type,
    fields: &[(&str, gdal_sys::OGRFieldType::Type)],
    fill: impl FnOnce(&Layer<'_>) -> Result<T>,
) -> Result<T> {
    let err = |what: &str, e| gdal_error(target, what, e);
    let mut out = pgp_ops::vector_ops::VectorOutput::create(target, "GPKG")?;
    let value = {
        let ds = out.dataset();
        let mut txn = ds
            .start_transaction()
            .map_err(|e| err("starting a transaction", e))?;
        let layer = txn
            .create_layer(LayerOptions {
                name,
                srs,
                ty,
                options: None,
            })
            .map_err(|e| err("creating the layer", e))?;
        for (field, kind) in fields {
            FieldDefn::new(field, *kind)
                .and_then(|f| f.add_to_layer(&layer))
                .map_err(|e| err("creating the fields", e))?;
        }
        let value = fill(&layer)?;
        txn.commit()
            .map_err(|e| err("committing the features", e))?;
        value
    };
    out.commit()?;
    Ok(value)
}
