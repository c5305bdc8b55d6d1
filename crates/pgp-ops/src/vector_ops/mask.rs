//! `mask_raster`: keep a raster's pixels inside a vector's polygons, set the rest to a value.

use std::path::Path;

use ndarray::Zip;
use pgp_core::{
    block_windows, new_raster_from_base, with_pixel_type, LayerRef, OutputRaster, Pixel, Raster,
    RasterDriver, RasterSpec, LARGEST_BLOCK,
};
use serde::{Deserialize, Serialize};

use crate::vector_ops::create::ScratchFile;
use crate::vector_ops::rasterize::{rasterize, Burn, RasterizeOptions};
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

    let mut spec = RasterSpec::like(&info, datatype).driver(options.driver.clone());
    spec.nodata = vec![nodata];
    let mut out = OutputRaster::create(target, &spec)?;
    let mask_raster = Raster::open(&mask.0)?;
    for w in block_windows(info.raster_size, info.block_size, LARGEST_BLOCK) {
        let inside = mask_raster.read::<u8>(1, w)?;
        with_pixel_type!(datatype, T => {
            let mut values = raster.read::<T>(band, w)?;
            let outside = T::from_f64(mask_value);
            Zip::from(&mut values).and(&inside).for_each(|v, &m| {
                if m == 0 {
                    *v = outside;
                }
            });
            out.raster().write(1, w.x_off, w.y_off, values.view())?;
        });
    }
    drop(mask_raster);
    out.commit()?;
    Ok(())
}
