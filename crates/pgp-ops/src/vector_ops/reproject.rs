//! `reproject_vector`: copy a layer into a new vector in another projection.

use std::path::{Path, PathBuf};

use pgp_core::gdal::spatial_ref::{AxisMappingStrategy, CoordTransform};
use pgp_core::gdal::vector::{LayerAccess, LayerOptions};
use pgp_core::{layer, open_vector, LayerRef};
use serde::{Deserialize, Serialize};

use crate::geom::{shorten, spatial_ref};
use crate::vector_ops::output::{vector_driver_for, VectorOutput};
use crate::{Error, Result};

/// Which attribute fields [`reproject_vector`] copies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum CopyFields {
    /// Every field (pygeoprocessing's `copy_fields=True`).
    #[default]
    All,
    /// No field, geometry only.
    None,
    /// Only these fields (names not in the layer are ignored, as pygeoprocessing).
    Only(Vec<String>),
}

/// Options of [`reproject_vector`]; the defaults are pygeoprocessing's, except the driver.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ReprojectVectorOptions {
    /// The layer to copy (default: the first).
    pub layer: LayerRef,
    /// OGR driver of the target; `None` picks it from the target's extension (`.gpkg` GPKG,
    /// `.geojson` GeoJSON, ..., anything else ESRI Shapefile, pygeoprocessing's fixed default).
    pub driver: Option<String>,
    /// Attribute fields to copy.
    pub copy_fields: CopyFields,
    /// Name of the target layer (default: the source layer's). Shapefiles take it from the file
    /// name instead.
    pub target_layer_name: Option<String>,
}

/// What [`reproject_vector`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReprojectReport {
    /// Features written to the target.
    pub written: u64,
    /// Features left out: without geometry, or whose geometry could not be transformed.
    pub skipped: u64,
}

/// pygeoprocessing's `reproject_vector`: write the features of one layer of `base` to a new
/// vector at `target`, with geometries transformed to `target_projection` (WKT, `EPSG:n`, ...;
/// axis order is always x/lon first) and the chosen attribute fields copied (same names, types,
/// widths). The target is written under a temporary name and only appears when complete; an
/// existing target is replaced.
///
/// Like pygeoprocessing, features without a geometry or that cannot be transformed are skipped
/// and counted in the report rather than failing the whole copy. The target's feature IDs are
/// assigned by its driver (they are not the source's).
pub fn reproject_vector(
    base: impl AsRef<Path>,
    target_projection: &str,
    target: impl AsRef<Path>,
    options: &ReprojectVectorOptions,
) -> Result<ReprojectReport> {
    let base = base.as_ref();
    let target = target.as_ref();
    let target_srs = spatial_ref(target_projection, "target_projection")?;
    let base_ds = open_vector(base)?;
    let mut base_layer = layer(&base_ds, base, &options.layer)?;
    let mut base_srs = base_layer
        .spatial_ref()
        .ok_or_else(|| Error::UnknownProjection {
            argument: format!("{} (layer {})", base.display(), base_layer.name()),
            definition: String::new(),
            message: "the layer has no projection, so it cannot be reprojected".to_string(),
        })?;
    base_srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let transform = CoordTransform::new(&base_srs, &target_srs).map_err(|e| Error::Transform {
        what: format!("features of {}", base.display()),
        from: shorten(&base_srs.to_wkt().unwrap_or_default()),
        to: shorten(target_projection),
        message: e.to_string(),
    })?;

    let driver = options
        .driver
        .clone()
        .unwrap_or_else(|| vector_driver_for(target).to_string());
    let mut out = VectorOutput::create(target, &driver)?;
    let layer_name = options
        .target_layer_name
        .clone()
        .unwrap_or_else(|| base_layer.name());
    let geometry_type = base_layer.defn().geometry_type();
    let gdal_err = |what: &str, e| Error::from(pgp_core::Error::gdal(target, what, e));
    let target_layer = out
        .dataset()
        .create_layer(LayerOptions {
            name: &layer_name,
            srs: Some(&target_srs),
            ty: geometry_type,
            options: None,
        })
        .map_err(|e| gdal_err("creating the layer", e))?;

    let field_map = create_fields(&base_layer, &target_layer, &options.copy_fields, target)?;
    let mut report = ReprojectReport {
        written: 0,
        skipped: 0,
    };
    // SAFETY: valid layer handle; a transaction only batches the writes (GPKG, SQLite).
    let in_transaction = unsafe { gdal_sys::OGR_L_StartTransaction(target_layer.c_layer()) } == 0;
    for feature in base_layer.features() {
        let Some(geometry) = feature.geometry() else {
            report.skipped += 1;
            continue;
        };
        let Ok(transformed) = geometry.transform(&transform) else {
            report.skipped += 1;
            continue;
        };
        let mut new_feature = pgp_core::gdal::vector::Feature::new(target_layer.defn())
            .map_err(|e| gdal_err("creating a feature", e))?;
        // SAFETY: both features are valid; the map has one entry per source field, as OGR needs.
        let rc = unsafe {
            gdal_sys::OGR_F_SetFromWithMap(
                new_feature.c_feature(),
                feature.c_feature(),
                1,
                field_map.as_ptr() as *mut i32,
            )
        };
        if rc != 0 {
            return Err(Error::from(pgp_core::Error::Gdal {
                path: target.to_path_buf(),
                operation: format!("copying the fields of feature {:?}", feature.fid()),
                message: format!("OGR error {rc}"),
            }));
        }
        new_feature
            .set_geometry(transformed)
            .map_err(|e| gdal_err("setting a geometry", e))?;
        new_feature
            .create(&target_layer)
            .map_err(|e| gdal_err("writing a feature", e))?;
        report.written += 1;
    }
    if in_transaction {
        // SAFETY: valid layer handle with an open transaction.
        let rc = unsafe { gdal_sys::OGR_L_CommitTransaction(target_layer.c_layer()) };
        if rc != 0 {
            return Err(Error::from(pgp_core::Error::Gdal {
                path: target.to_path_buf(),
                operation: "committing the features".to_string(),
                message: format!("OGR error {rc}"),
            }));
        }
    }
    out.commit()?;
    Ok(report)
}

/// Create the copied fields on the target layer; returns, for every source field, its index in
/// the target or -1 (OGR's field map).
fn create_fields(
    base_layer: &impl LayerAccess,
    target_layer: &impl LayerAccess,
    copy: &CopyFields,
    target: &Path,
) -> Result<Vec<i32>> {
    let mut map = Vec::new();
    let mut next = 0;
    // SAFETY: valid layer and definition handles; the field definition belongs to the source
    // layer and is only read (CreateField copies it).
    unsafe {
        let base_defn = gdal_sys::OGR_L_GetLayerDefn(base_layer.c_layer());
        let n = gdal_sys::OGR_FD_GetFieldCount(base_defn);
        for i in 0..n {
            let fdefn = gdal_sys::OGR_FD_GetFieldDefn(base_defn, i);
            let name = std::ffi::CStr::from_ptr(gdal_sys::OGR_Fld_GetNameRef(fdefn))
                .to_string_lossy()
                .into_owned();
            let wanted = match copy {
                CopyFields::All => true,
                CopyFields::None => false,
                CopyFields::Only(names) => names.iter().any(|n| n == &name),
            };
            if !wanted {
                map.push(-1);
                continue;
            }
            if gdal_sys::OGR_L_CreateField(target_layer.c_layer(), fdefn, 1) != 0 {
                return Err(Error::from(pgp_core::Error::Gdal {
                    path: PathBuf::from(target),
                    operation: format!("creating field {name:?}"),
                    message: crate::vector_ops::last_gdal_message(),
                }));
            }
            map.push(next);
            next += 1;
        }
    }
    Ok(map)
}
