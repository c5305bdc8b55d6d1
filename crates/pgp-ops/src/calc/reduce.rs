//! [`raster_reduce`]: fold a function over the blocks of a band.

use std::path::{Path, PathBuf};

use pgp_core::{block_windows, Raster, Window, LARGEST_BLOCK};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::inputs::NodataTest;
use crate::runtime::{self, register_block_op, BlockOp, Computed, Handles, RemoteBlockOp, Runner};
use crate::Result;

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
/// when `mask_nodata` is set. Blocks are read (and decompressed) ahead in parallel on `exec`,
/// process pools included; the fold itself runs on the calling thread, in block order, so the
/// result does not depend on the executor.
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
    let nodata = if options.mask_nodata {
        NodataTest::new(r.data_type(band)?, r.nodata(band)?)
    } else {
        NodataTest::Nothing
    };
    let windows = block_windows(r.size(), r.block_size(band)?, options.largest_block);
    drop(r);
    let runner = Runner::new(ReadValues {
        path: path.to_path_buf(),
        band,
        nodata,
    });
    let mut acc = initializer;
    for block in runtime::map(exec, "raster_reduce", &runner, windows)? {
        acc = function(acc, &block?.side);
    }
    Ok(acc)
}

/// Reads a band's valid values block by block, for [`raster_reduce`]'s fold.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReadValues {
    path: PathBuf,
    band: usize,
    nodata: NodataTest,
}

impl BlockOp for ReadValues {
    type Item = Window;
    type Side = Vec<f64>;
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(&self, _: &(), inputs: &Handles<'_>, w: Window) -> Result<Computed<Vec<f64>>> {
        let values = inputs.with(0, |raster| {
            let values = raster
                .read_as::<f64>(self.band, w)?
                .into_raw_vec_and_offset()
                .0;
            runtime::forget_read_blocks(raster, self.band, w);
            Ok(values)
        })?;
        let values = match self.nodata.mask(&values) {
            None => values,
            Some(m) => values
                .into_iter()
                .zip(m)
                .filter(|(_, ok)| *ok)
                .map(|(v, _)| v)
                .collect(),
        };
        Ok(Computed::side(w, values))
    }
}

impl RemoteBlockOp for ReadValues {
    const NAME: &'static str = "pgp_ops::calc::reduce_values";
}
register_block_op!(ReadValues);
