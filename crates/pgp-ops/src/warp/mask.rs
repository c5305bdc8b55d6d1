//! Masking a warped raster: rasterize polygons onto its grid, keep the pixels inside.

use std::path::Path;

use ndarray::{Array2, ArrayViewMut2, Zip};
use pgp_core::{
    new_raster_from_base, raster_info, DataType, LayerRef, Pixel, RasterDriver, RasterSpec,
};

use crate::vector_ops::{rasterize, Burn, RasterizeOptions};
use crate::warp::recompress::{copy_blocks, mask_fills};
use crate::{Error, Result};

/// A byte raster on the grid of `grid_of`: 1 where a pixel centre falls inside a feature of
/// `vector` (filtered by `where_clause`), 0 elsewhere.
pub(crate) fn rasterize_mask(
    grid_of: &Path,
    vector: &Path,
    layer: &LayerRef,
    where_clause: Option<&str>,
    mask: &Path,
) -> Result<()> {
    new_raster_from_base(
        grid_of,
        mask,
        DataType::U8,
        &[Some(255.0)],
        Some(&[0.0]),
        &RasterDriver::new("GTiff", ["TILED=YES", "BIGTIFF=YES"]),
    )?;
    rasterize(
        vector,
        mask,
        &Burn::Values(vec![1.0]),
        &RasterizeOptions {
            layer: layer.clone(),
            where_clause: where_clause.map(str::to_string),
            ..Default::default()
        },
    )
}

/// Write `target`: every band of `warped` where `mask` is 1, the band's nodata elsewhere. The
/// mask must be on the same grid.
pub(crate) fn apply_mask(
    warped: &Path,
    mask: &Path,
    target: &Path,
    driver: &RasterDriver,
) -> Result<()> {
    let info = raster_info(warped)?;
    let mut spec = RasterSpec::like(&info, info.datatype)
        .bands(info.n_bands)
        .driver(driver.clone());
    spec.nodata = info.nodata.clone();
    let exec = pgp_exec::Executor::sync();
    let masked = Some((mask, mask_fills(warped, mask)?));
    let bands = (1..=info.n_bands).collect();
    copy_blocks(
        warped,
        bands,
        masked,
        target,
        &spec,
        "warp_raster: mask",
        &exec,
    )?
    .commit(None)
}

/// Fails unless `mask` has `size` (the warped raster's) pixels.
pub(crate) fn check_mask_grid(mask: &Path, size: (usize, usize)) -> Result<()> {
    let mask_size = raster_info(mask)?.raster_size;
    if mask_size != size {
        return Err(Error::invalid(
            "mask_raster_path",
            format!(
                "{} is {:?} pixels but the warped raster is {:?}; the mask must be on the target \
                 grid",
                mask.display(),
                mask_size,
                size
            ),
        ));
    }
    Ok(())
}

/// Sets `values` to `fill` wherever `keep` is not 1.
pub(crate) fn mask_outside<T: Pixel>(values: ArrayViewMut2<'_, T>, keep: &Array2<u8>, fill: f64) {
    let outside = T::from_f64(fill);
    Zip::from(values).and(keep).for_each(|v, &m| {
        if m != 1 {
            *v = outside;
        }
    });
}
