//! `rasterize`: burn a vector layer into an existing raster.

use std::path::Path;

use pgp_core::gdal::vector::LayerAccess;
use pgp_core::{layer, open_vector, LayerRef, Raster};
use serde::{Deserialize, Serialize};

use crate::gdal_ffi::{gdal_failed, last_gdal_message, reset_gdal_error, CStringList};
use crate::{Error, Result};

/// What value a feature burns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Burn {
    /// One value per band listed in [`RasterizeOptions::bands`] (a single value is used for every
    /// band), the same for every feature.
    Values(Vec<f64>),
    /// The value of this numeric attribute field of each feature, in every band.
    Attribute(String),
}

/// How overlapping features combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MergeAlg {
    /// The last feature drawn wins (GDAL's default).
    #[default]
    Replace,
    /// Values add up (heat maps, counts).
    Add,
}

/// Options of [`rasterize`]; the defaults are pygeoprocessing's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RasterizeOptions {
    /// Bands to burn into, numbered from 1 (default: band 1 only, as pygeoprocessing).
    pub bands: Vec<usize>,
    /// Burn every pixel a geometry touches, not only those whose centre is inside (default
    /// false).
    pub all_touched: bool,
    /// The layer to burn (default: the first).
    pub layer: LayerRef,
    /// An OGR SQL `WHERE` filter on the features (e.g. `"zone_id > 10"`).
    pub where_clause: Option<String>,
    /// How overlapping features combine.
    pub merge: MergeAlg,
    /// Further `GDALRasterizeLayers` options, `KEY=VALUE` (`CHUNKYSIZE`, `BURN_VALUE_FROM=Z`,
    /// `OPTIM`).
    pub extra_options: Vec<String>,
}

impl Default for RasterizeOptions {
    fn default() -> Self {
        RasterizeOptions {
            bands: vec![1],
            all_touched: false,
            layer: LayerRef::default(),
            where_clause: None,
            merge: MergeAlg::Replace,
            extra_options: Vec::new(),
        }
    }
}

/// pygeoprocessing's `rasterize`: burn the features of one layer of `vector` into the existing
/// raster `target_raster` (modified in place), with GDAL's rasterizer. Features in another
/// projection than the raster's are reprojected on the fly by GDAL.
///
/// Errors name the file, band or field at fault: a missing raster or vector, a band out of
/// range, an attribute field the layer does not have, a bad `WHERE` clause, a number of burn
/// values that fits neither one nor every band.
pub fn rasterize(
    vector: impl AsRef<Path>,
    target_raster: impl AsRef<Path>,
    burn: &Burn,
    options: &RasterizeOptions,
) -> Result<()> {
    let vector = vector.as_ref();
    let target_raster = target_raster.as_ref();
    let raster = Raster::open_update(target_raster)?;
    if options.bands.is_empty() {
        return Err(Error::invalid("bands", "no band to burn into"));
    }
    let count = raster.band_count();
    if let Some(&bad) = options.bands.iter().find(|&&b| b == 0 || b > count) {
        return Err(pgp_core::Error::BandOutOfRange {
            path: target_raster.to_path_buf(),
            band: bad,
            count,
        }
        .into());
    }
    let ds = open_vector(vector)?;
    let mut lyr = layer(&ds, vector, &options.layer)?;
    if let Some(clause) = &options.where_clause {
        lyr.set_attribute_filter(clause).map_err(|e| {
            Error::invalid(
                "where_clause",
                format!("{clause:?} on {}: {e}", vector.display()),
            )
        })?;
    }

    let mut gdal_options = vec![
        format!(
            "ALL_TOUCHED={}",
            if options.all_touched { "TRUE" } else { "FALSE" }
        ),
        format!(
            "MERGE_ALG={}",
            match options.merge {
                MergeAlg::Replace => "REPLACE",
                MergeAlg::Add => "ADD",
            }
        ),
    ];
    let burn_values: Vec<f64> = match burn {
        Burn::Values(values) => match values.len() {
            1 => vec![values[0]; options.bands.len()],
            n if n == options.bands.len() => values.clone(),
            n => {
                return Err(Error::LengthMismatch {
                    names: "burn values, bands".to_string(),
                    lengths: vec![n, options.bands.len()],
                })
            }
        },
        Burn::Attribute(field) => {
            if lyr.defn().field_index(field).is_err() {
                let fields: Vec<String> = lyr.defn().fields().map(|f| f.name()).collect();
                return Err(Error::invalid(
                    "burn",
                    format!(
                        "{} has no attribute field {field:?} (fields: {fields:?})",
                        vector.display()
                    ),
                ));
            }
            gdal_options.push(format!("ATTRIBUTE={field}"));
            // Ignored by GDAL when ATTRIBUTE is set, but the array must exist.
            vec![0.0; options.bands.len()]
        }
    };
    gdal_options.extend(options.extra_options.iter().cloned());
    let mut csl = CStringList::new(&gdal_options, "extra_options")?;
    let mut bands: Vec<i32> = options.bands.iter().map(|&b| b as i32).collect();
    let mut burn_values = burn_values;

    reset_gdal_error();
    // SAFETY: the dataset, layer, band list, burn values (one per band) and option list are valid
    // for the duration of the call; GDAL only reads the arrays.
    let rc = unsafe {
        let mut layers = [lyr.c_layer()];
        gdal_sys::GDALRasterizeLayers(
            raster.dataset().c_dataset(),
            bands.len() as i32,
            bands.as_mut_ptr(),
            1,
            layers.as_mut_ptr(),
            None,
            std::ptr::null_mut(),
            burn_values.as_mut_ptr(),
            csl.as_ptr(),
            None,
            std::ptr::null_mut(),
        )
    };
    if rc != gdal_sys::CPLErr::CE_None || gdal_failed() {
        return Err(pgp_core::Error::Gdal {
            path: target_raster.to_path_buf(),
            operation: format!("rasterizing {}", vector.display()),
            message: last_gdal_message(),
        }
        .into());
    }
    raster.close()?;
    Ok(())
}
