//! Warping through an uncompressed scratch file, then compressing it into the output on several
//! threads.
//!
//! Why: GDAL's warper hands finished blocks to libtiff's LZW encoder, which is slow (~3.6 s of a
//! 23 s single-threaded 8192² warp) and not what the warp kernel's threads do. Warping into an
//! uncompressed file (same tiling) and compressing its tiles with our own encoder on the
//! executor's threads ([`crate::block_jobs::Sink`]) costs less CPU and spreads it over the cores.
//! The pixels are the warper's own: only how they are compressed changes. Metadata the warper
//! wrote (dataset and band metadata, descriptions, colour tables, scale and offset) is copied.

use std::path::{Path, PathBuf};

use ndarray::Axis;
use pgp_core::gdal::Metadata;
use pgp_core::tiles::TileLayout;
use pgp_core::{raster_info, with_pixel_type, Raster, RasterSpec, Window, LARGEST_BLOCK};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::runtime::{
    self, register_block_op, BlockOp, Computed, Handles, Payload, RasterTarget, RemoteBlockOp,
    Runner, Windows,
};
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
    let mask = match mask {
        Some(mask) => Some((mask, mask_fills(scratch, mask)?)),
        None => None,
    };
    let bands = (1..=spec.bands).collect();
    // A second phase after the warper's percent: on a big raster it takes seconds.
    let written = copy_blocks(
        scratch,
        bands,
        mask,
        target,
        spec,
        "warp_raster: compress",
        &exec,
    )?;
    let source = Raster::open(scratch)?;
    written.commit(Some(Box::new(move |out: &mut Raster| {
        copy_descriptive_metadata(&source, out)
    })))
}

/// What masked-out pixels of each band of `warped` become (the band's nodata, else 0), after
/// checking that `mask` is on its grid.
pub(crate) fn mask_fills(warped: &Path, mask: &Path) -> Result<Vec<f64>> {
    let info = raster_info(warped)?;
    check_mask_grid(mask, info.raster_size)?;
    Ok(info.nodata.iter().map(|n| n.unwrap_or(0.0)).collect())
}

/// Write `bands` of `source` to the bands of `target` (laid out as `spec`), block by block on
/// `exec`; with a `mask` (a byte raster on the same grid, and a fill per band), pixels where it
/// is not 1 become the band's fill. Not yet committed.
pub(crate) fn copy_blocks(
    source: &Path,
    bands: Vec<usize>,
    mask: Option<(&Path, Vec<f64>)>,
    target: &Path,
    spec: &RasterSpec,
    operation: &'static str,
    exec: &Executor,
) -> Result<runtime::Written> {
    let (mask, fills) = mask.unzip();
    let op = CopyBlocks {
        source: source.to_path_buf(),
        mask: mask.map(Path::to_path_buf),
        bands,
        fills,
        datatype: spec.datatype,
    };
    let target = RasterTarget {
        operation,
        path: target,
        spec,
    };
    let windows = Windows::OutputBlocks {
        largest_block: LARGEST_BLOCK,
    };
    runtime::write_raster(exec, &Runner::new(op), target, windows, Ok, |()| Ok(()))
}

/// Bands of a raster copied block by block, optionally masked (a mask of 0 and 1, as
/// rasterized polygons give).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CopyBlocks {
    source: PathBuf,
    mask: Option<PathBuf>,
    bands: Vec<usize>,
    /// Per band, what masked-out pixels become (with a mask).
    fills: Option<Vec<f64>>,
    /// The bands' pixel type (a warped raster has one for all bands).
    datatype: pgp_core::DataType,
}

impl BlockOp for CopyBlocks {
    type Item = Window;
    type Side = ();
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        let mut paths = vec![self.source.clone()];
        paths.extend(self.mask.clone());
        paths
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(&self, _: &(), inputs: &Handles<'_>, w: Window) -> Result<Computed<()>> {
        let keep = match self.mask {
            Some(_) => Some(inputs.with(1, |mask| {
                let keep = mask.read_as::<u8>(1, w)?;
                runtime::forget_read_blocks(mask, 1, w);
                Ok(keep)
            })?),
            None => None,
        };
        let data = with_pixel_type!(self.datatype, T => {
            let mut block = inputs.read_bands::<T>(0, &self.bands, w)?;
            if let (Some(keep), Some(fills)) = (&keep, &self.fills) {
                for (band, fill) in block.axis_iter_mut(Axis(0)).zip(fills) {
                    mask_outside(band, keep, *fill);
                }
            }
            Payload::from_bands(block)
        });
        Ok(Computed {
            window: w,
            data: Some(data),
            side: (),
        })
    }
}

impl RemoteBlockOp for CopyBlocks {
    const NAME: &'static str = "pgp_ops::warp::copy_blocks";
}
register_block_op!(CopyBlocks);

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
