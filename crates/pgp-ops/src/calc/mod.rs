//! The raster calculator family: [`raster_calculator`], [`raster_map`], [`raster_reduce`],
//! [`reclassify_raster`], and raster algebra expressions ([`evaluate_expression`], [`evaluate`]).
//!
//! All of them walk the target's blocks the way pygeoprocessing's `iterblocks` does, compute
//! blocks on an [`Executor`] (each worker reads through its own dataset handles), and write them
//! from the calling thread in block order, so outputs are bit-identical whatever the executor and
//! worker count, memory stays bounded (about two blocks per worker in flight, and GDAL's block
//! cache is flushed as blocks are done), and outputs are written under a temporary name and
//! renamed only when complete. Statistics (min, max, mean, population standard deviation over
//! pixels that are not nodata or NaN) are written to the band as GDAL statistics by default.
//!
//! Local operations given as Rust closures run on the synchronous and thread executors; a
//! process pool refuses them (closures cannot cross processes). Expressions and
//! reclassifications are data, so they also run on process pools.
//!
//! ```
//! use pgp_core::{DataType, GeoTransform, OutputRaster, RasterSpec, Raster, Window};
//! use pgp_exec::Executor;
//! use pgp_ops::calc::{evaluate_expression, raster_calculator, CalcInput, CalcOptions, ExprOptions};
//!
//! # fn main() -> pgp_ops::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let dem = dir.path().join("dem.tif");
//! let spec = RasterSpec::new(300, 200, DataType::F32, GeoTransform::north_up(0.0, 0.0, 30.0, -30.0))
//!     .nodata(Some(-9999.0)).fill(100.0);
//! OutputRaster::create(&dem, &spec)?.commit()?;
//!
//! // A closure over typed blocks.
//! let doubled = dir.path().join("doubled.tif");
//! let exec = Executor::threads(2)?;
//! let report = raster_calculator(
//!     &[CalcInput::raster(&dem, 1), CalcInput::Scalar(2.0)],
//!     |block| {
//!         let k = block.scalar(1)? as f32;
//!         Ok(block.array::<f32>(0)?.mapv(|v| v * k))
//!     },
//!     &doubled, DataType::F32, Some(-9999.0), &CalcOptions::default(), &exec,
//! )?;
//! assert_eq!(report.statistics.unwrap().mean, 200.0);
//!
//! // The same as an expression (which could also run on a process pool).
//! let out = dir.path().join("expr.tif");
//! evaluate_expression("dem * 2", &[("dem", &dem, 1)], &out, &ExprOptions::default(), &exec)?;
//! let r = Raster::open(&out)?;
//! assert_eq!(r.read::<f32>(1, Window::new(299, 199, 1, 1))?[[0, 0]], 200.0);
//! # Ok(())
//! # }
//! ```

mod cast;
mod engine;
mod expression;
mod inputs;
mod job;
mod kernel;
mod map;
mod reclassify;
mod reduce;
mod stats;

use std::path::Path;
use std::sync::Arc;

use pgp_core::{DataType, DynArray, GeoTransform, RasterDriver, RasterSpec, LARGEST_BLOCK};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

pub use engine::CalcReport;
pub use expression::{evaluate, evaluate_bands, evaluate_expression, ExprInput, ExprOptions};
pub use inputs::{Block, BlockArg, CalcInput};
pub use job::ExpressionJob;
pub use map::{raster_map, MapOptions};
pub use reclassify::{reclassify_raster, ReclassifyOptions};
pub use reduce::{raster_reduce, ReduceOptions};
pub use stats::Moments;

use crate::{Error, Result};

/// Options of [`raster_calculator`] (pygeoprocessing's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CalcOptions {
    /// Write min, max, mean and standard deviation to the band (default true).
    pub calc_raster_stats: bool,
    /// Pixels per block window ([`LARGEST_BLOCK`] = 65536, pygeoprocessing's `largest_block`).
    pub largest_block: usize,
    /// Driver and creation options of the output (default: tiled, LZW, BigTIFF GTiff). When the
    /// executor has several workers and the options compress, GTiff's `NUM_THREADS` is set to
    /// the worker count (unless given) so compression runs in parallel too.
    pub driver: RasterDriver,
}

impl Default for CalcOptions {
    fn default() -> Self {
        CalcOptions {
            calc_raster_stats: true,
            largest_block: LARGEST_BLOCK,
            driver: RasterDriver::default(),
        }
    }
}

/// pygeoprocessing refuses a nodata value the output type cannot hold (numpy's same-kind cast
/// of its smallest type); here: integers must be whole and in range, NaN only for floats.
pub(crate) fn check_nodata_fits(v: f64, dtype: DataType) -> Result<()> {
    let fits = if dtype.is_float() {
        dtype == DataType::F64 || !v.is_finite() || v.abs() <= f64::from(f32::MAX)
    } else {
        let (lo, hi) = dtype.range();
        v.is_finite() && v.fract() == 0.0 && v >= lo && v <= hi
    };
    if fits {
        Ok(())
    } else {
        Err(Error::invalid(
            "target_nodata",
            format!("{v} does not fit the target type {dtype}"),
        ))
    }
}

/// The output spec: the first raster's grid (or a plain grid for array-only inputs).
pub(crate) fn output_spec(
    checked: &inputs::Checked,
    datatype: DataType,
    nodata: Option<f64>,
    driver: RasterDriver,
) -> RasterSpec {
    let mut spec = match &checked.grid {
        Some(info) => RasterSpec::like(info, datatype),
        None => RasterSpec::new(
            checked.size.0,
            checked.size.1,
            datatype,
            GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
        ),
    };
    spec.driver = driver;
    spec.nodata = vec![nodata];
    spec
}

/// pygeoprocessing's `raster_calculator`: apply `local_op` to aligned blocks of the inputs and
/// write the result to `target` as `datatype` with `nodata`.
///
/// `local_op` receives a [`Block`] holding every input for one window (raster blocks in their own
/// pixel type, scalars, broadcast arrays) and returns an array of the block's shape, in any pixel
/// type: it is converted to `datatype` the way GDAL converts written arrays. Raster inputs must
/// share one size ([`Error::SizeMismatch`] names the one that
/// differs); the output takes the first raster's grid and projection.
///
/// Runs blocks in parallel on `exec` (sync or threads; a process pool is refused with
/// [`pgp_exec::ExecError::NotSendable`] because a closure cannot cross processes).
pub fn raster_calculator<F, A>(
    inputs: &[CalcInput],
    local_op: F,
    target: impl AsRef<Path>,
    datatype: DataType,
    nodata: Option<f64>,
    options: &CalcOptions,
    exec: &Executor,
) -> Result<CalcReport>
where
    F: Fn(&Block<'_>) -> Result<A> + Send + Sync + 'static,
    A: Into<DynArray>,
{
    crate::runtime::require_closures(exec, "raster_calculator")?;
    let target = target.as_ref();
    let checked = inputs::check(inputs, target)?;
    let spec = output_spec(
        &checked,
        datatype,
        nodata,
        crate::runtime::with_compression_threads(&options.driver, exec),
    );
    let job = engine::Job {
        operation: "raster_calculator",
        target: target.to_path_buf(),
        spec,
        stats: options.calc_raster_stats,
        largest_block: options.largest_block,
    };
    let inputs: Arc<Vec<CalcInput>> = Arc::new(inputs.to_vec());
    let facts = Arc::new(checked.rasters.clone());
    let paths = checked.rasters.iter().map(|r| r.path.clone()).collect();
    let stats = options.calc_raster_stats;
    let compute = move |rasters: &crate::runtime::Handles<'_>, window| {
        let args = inputs::read_block_args(&inputs, &facts, rasters, window)?;
        let result = local_op(&Block::new(window, &args))?.into();
        engine::finish_block(window, result, datatype, nodata, stats)
    };
    let op = engine::ClosureOp {
        inputs: paths,
        compute,
    };
    let runner = crate::runtime::Runner::in_process(op);
    engine::run(&job, exec, &runner, |_| Ok(()))
}
