//! [`raster_reduce`]: fold a function over the blocks of a band.

use std::path::Path;
use std::sync::Arc;

use pgp_core::{block_windows, Raster, RasterPool, Window, LARGEST_BLOCK};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::inputs::NodataTest;
use crate::{Error, Result};

/// Options of [`raster_reduce`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReduceOptions {
    /// Pass only the pixels that are not nodata (default true).
    pub mask_nodata: bool,
    /// Pixels per block window (default [`LARGEST_BLOCK`]).
    pub largest_block: usize,
}

impl Default for ReduceOptions {
    fn default() -> Self {
        ReduceOptions {
            mask_nodata: true,
            largest_block: LARGEST_BLOCK,
        }
    }
}

/// pygeoprocessing's `raster_reduce`: `function(aggregate, block_values)` for every block of
/// `band`, in block order, starting from `initializer`; returns the last aggregate.
///
/// `block_values` are the block's pixels widened to `f64`, row-major, without the nodata pixels
/// when `mask_nodata` is set. Blocks are read (and decompressed) ahead in parallel on `exec`
/// when it runs closures; the fold itself runs on the calling thread, in block order, so the
/// result does not depend on the executor. On a process pool blocks are read on the calling
/// thread.
///
/// ```
/// # use pgp_core::{DataType, GeoTransform, OutputRaster, RasterSpec};
/// # use pgp_ops::calc::{raster_reduce, ReduceOptions};
/// # fn main() -> pgp_ops::Result<()> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("ones.tif");
/// # let spec = RasterSpec::new(300, 300, DataType::U8, GeoTransform::north_up(0.0, 0.0, 1.0, -1.0)).fill(1.0);
/// # OutputRaster::create(&path, &spec)?.commit()?;
/// let exec = pgp_exec::Executor::sync();
/// let sum = raster_reduce(|acc, block| acc + block.iter().sum::<f64>(), &path, 1, 0.0,
///                         &ReduceOptions::default(), &exec)?;
/// assert_eq!(sum, 90_000.0);
/// # Ok(())
/// # }
/// ```
pub fn raster_reduce<A, F>(
    mut function: F,
    raster: impl AsRef<Path>,
    band: usize,
    initializer: A,
    options: &ReduceOptions,
    exec: &Executor,
) -> Result<A>
where
    F: FnMut(A, &[f64]) -> A,
{
    let path = raster.as_ref();
    let r = Raster::open(path)?;
    let test = if options.mask_nodata {
        NodataTest::new(r.data_type(band)?, r.nodata(band)?)
    } else {
        NodataTest::Nothing
    };
    let windows: Vec<Window> =
        block_windows(r.size(), r.block_size(band)?, options.largest_block).collect();
    let read = move |raster: &Raster, w: Window| -> Result<Vec<f64>> {
        let values = raster.read_as::<f64>(band, w)?.into_raw_vec_and_offset().0;
        crate::block_jobs::forget_read_blocks(raster, band, w);
        Ok(match test.mask(&values) {
            None => values,
            Some(m) => values
                .into_iter()
                .zip(m)
                .filter(|(_, ok)| *ok)
                .map(|(v, _)| v)
                .collect(),
        })
    };
    let mut acc = initializer;
    if exec.runs_closures() && !exec.is_sync() {
        let pool = Arc::new(RasterPool::new([path]));
        let blocks = exec.map_ordered(windows, move |w| pool.with(|rs| Ok(read(&rs[0], w))));
        for block in blocks {
            let values: Vec<f64> = block
                .map_err(Error::from)
                .and_then(|opened| opened.map_err(Error::from))
                .and_then(|read| read)?;
            acc = function(acc, &values);
        }
    } else {
        for w in windows {
            acc = function(acc, &read(&r, w)?);
        }
    }
    Ok(acc)
}
