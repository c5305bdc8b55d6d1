//! `mask_raster`: keep a raster's pixels inside a vector's polygons, set the rest to a value.

use std::path::Path;

use pgp_core::{new_raster_from_base, LayerRef, Raster, RasterDriver, RasterSpec};
use serde::{Deserialize, Serialize};

use crate::vector_ops::create::ScratchFile;
use crate::vector_ops::rasterize::{rasterize, Burn, RasterizeOptions};
use crate::warp::recompress::copy_blocks;
use crate::Result;

/// Options of [`mask_raster`]; the defaults are pygeoprocessing's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct MaskOptions {
    /// The mask layer (default: the first).
    pub layer: LayerRef,
    /// Value for pixels outside the mask; `None`: the band's nodata, or 0 when it has none.
    pub target_mask_value: Option<f64>,
    /// A pixel is inside when the polygon touches it at all, not only its centre (default false).
    pub all_touched: bool,
    /// An OGR SQL `WHERE` filter on the mask features.
    pub where_clause: Option<String>,
    /// Driver and creation options of the target.
    pub driver: RasterDriver,
}

/// pygeoprocessing's `mask_raster`: copy band `band` of `base` to `target`, with every pixel
/// outside the features of `mask_vector` set to the mask value. The target has the band's type
/// and nodata. The mask is rasterized onto the raster's grid (pixel centres, or every touched
/// pixel with `all_touched`), reprojecting the vector on the fly if needed.
pub fn mask_raster(
    base: impl AsRef<Path>,
    band: usize,
    mask_vector: impl AsRef<Path>,
    target: impl AsRef<Path>,
    options: &MaskOptions,
) -> Result<()> {
    let base = base.as_ref();
    let target = target.as_ref();
    let raster = Raster::open(base)?;
    let info = raster.info()?;
    let datatype = raster.data_type(band)?;
    let nodata = raster.nodata(band)?;
    let mask_value = options.target_mask_value.or(nodata).unwrap_or(0.0);

    let mask = ScratchFile::beside(target, "tif");
    new_raster_from_base(
        base,
        &mask.0,
        pgp_core::DataType::U8,
        &[Some(255.0)],
        Some(&[0.0]),
        &RasterDriver::default(),
    )?;
    rasterize(
        mask_vector,
        &mask.0,
        &Burn::Values(vec![1.0]),
        &RasterizeOptions {
            all_touched: options.all_touched,
            layer: options.layer.clone(),
            where_clause: options.where_clause.clone(),
            ..RasterizeOptions::default()
        },
    )?;

    let mut spec = RasterSpec::like_with_driver(&info, datatype, &options.driver);
    spec.nodata = vec![nodata];
    drop(raster);
    let exec = pgp_exec::Executor::sync();
    let masked = Some((mask.0.as_path(), vec![mask_value]));
    copy_blocks(
        base,
        vec![band],
        masked,
        target,
        &spec,
        "mask_raster",
        &exec,
    )?
    .commit(None)?;
    Ok(())
}
