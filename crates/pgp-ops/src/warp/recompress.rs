//! Warping through an uncompressed scratch file, then compressing it into the output on several
//! threads.
//!
//! Why: GDAL's warper hands finished blocks to libtiff's LZW encoder, which is slow (~3.6 s of a
//! 23 s single-threaded 8192² warp) and not what the warp kernel's threads do. Warping into an
//! uncompressed file (same tiling) and compressing its tiles with our own encoder on the
//! executor's threads ([`crate::block_jobs::Sink`]) costs less CPU and spreads it over the cores.
//! The pixels are the warper's own: only how they are compressed changes. Metadata the warper
//! wrote (dataset and band metadata, descriptions, colour tables, scale and offset) is copied.

use std::path::Path;
use std::sync::Arc;

use pgp_core::gdal::Metadata;
use pgp_core::tiles::TileLayout;
use pgp_core::{
    block_windows, raster_info, with_pixel_type, Raster, RasterPool, RasterSpec, Window,
    LARGEST_BLOCK,
};
use pgp_exec::Executor;

use crate::block_jobs::{forget_read_blocks, map_local, Payload, Sink};
use crate::warp::mask::{check_mask_grid, mask_outside};
use crate::Result;

/// Whether an output with `spec` can be written as raw tiles (and so is worth a scratch file).
pub(crate) fn takes_raw_tiles(spec: &RasterSpec) -> bool {
    TileLayout::for_spec(spec).is_some()
}

/// Write `target` (laid out as `spec`) with the pixels of `scratch`, compressing blocks on
/// `threads` threads. With a `mask` (a byte raster on the same grid), pixels where it is not 1
/// become the scratch's nodata. The output appears only when complete.
pub(crate) fn compress_scratch(
    scratch: &Path,
    target: &Path,
    spec: &RasterSpec,
    threads: usize,
    mask: Option<&Path>,
) -> Result<()> {
    let exec = if threads > 1 {
        Executor::threads(threads)?
    } else {
        Executor::sync()
    };
    let fill = match mask {
        Some(mask) => Some(mask_fill(scratch, mask)?),
        None => None,
    };
    let mut paths = vec![scratch];
    paths.extend(mask);
    let pool = Arc::new(RasterPool::new(paths));
    pool.check()?;
    let mut sink = Sink::create(target, spec, None)?;
    let windows: Vec<Window> =
        block_windows((spec.cols, spec.rows), sink.block_size()?, LARGEST_BLOCK).collect();
    let layout = sink.layout();
    // A second phase after the warper's percent: on a big raster it takes seconds.
    let blocks = map_local(&exec, "warp_raster: compress", windows, move |w: Window| {
        let data = pool.with(|rasters| {
            let mut data = rasters[0].read_dyn(1, w)?;
            forget_read_blocks(&rasters[0], 1, w);
            if let (Some(mask), Some(fill)) = (rasters.get(1), fill) {
                let keep = mask.read_as::<u8>(1, w)?;
                forget_read_blocks(mask, 1, w);
                with_pixel_type!(data.data_type(), T => {
                    if let Some(values) = data.view_mut::<T>() {
                        mask_outside(values, &keep, fill);
                    }
                });
            }
            Ok(data)
        })?;
        Ok((w, Payload::Pixels(data).encoded(w, layout.as_ref())?))
    });
    for block in blocks {
        let (window, payload) = block?;
        sink.write(window, &payload)?;
    }
    let source = Raster::open(scratch)?;
    sink.commit(Some(Box::new(move |out: &mut Raster| {
        copy_descriptive_metadata(&source, out)
    })))
}

/// The value masked-out pixels get (the warped band's nodata, else 0), after checking that the
/// mask is on the warped raster's grid.
fn mask_fill(warped: &Path, mask: &Path) -> Result<f64> {
    let info = raster_info(warped)?;
    check_mask_grid(mask, info.raster_size)?;
    Ok(info.nodata.first().copied().flatten().unwrap_or(0.0))
}

/// What gdalwarp carries from source to output besides pixels and the grid.
fn copy_descriptive_metadata(from: &Raster, to: &mut Raster) -> pgp_core::Result<()> {
    let gdal_error = |e: pgp_core::gdal::errors::GdalError| {
        pgp_core::Error::gdal(from.path(), "copying metadata", e)
    };
    let src = from.dataset();
    for entry in src.metadata() {
        if entry.is_default_domain() {
            to.set_metadata_item(&entry.key, &entry.value)?;
        }
    }
    let dst = to.dataset();
    for i in 1..=src.raster_count() {
        let a = src.rasterband(i).map_err(gdal_error)?;
        let mut b = dst.rasterband(i).map_err(gdal_error)?;
        for entry in a.metadata() {
            if entry.is_default_domain() {
                b.set_metadata_item(&entry.key, &entry.value, "")
                    .map_err(gdal_error)?;
            }
        }
        let description = a.description().map_err(gdal_error)?;
        if !description.is_empty() {
            b.set_description(&description).map_err(gdal_error)?;
        }
        if let Some(table) = a.color_table() {
            b.set_color_table(&table);
        }
        b.set_color_interpretation(a.color_interpretation())
            .map_err(gdal_error)?;
        if let Some(scale) = a.scale() {
            b.set_scale(scale).map_err(gdal_error)?;
        }
        if let Some(offset) = a.offset() {
            b.set_offset(offset).map_err(gdal_error)?;
        }
    }
    Ok(())
}
