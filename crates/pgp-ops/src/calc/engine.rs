//! The block pipeline shared by every calculator-style operation.
//!
//! Blocks are computed on the executor (each worker reads its own blocks through its own dataset
//! handles, computes, converts to the target type and takes the block's statistics), and
//! written by one writer, the calling thread, in block order. So the output and its statistics
//! are the same whatever the executor and worker count, and at most about two blocks per worker
//! are in memory at once.

use std::path::PathBuf;
use std::sync::Arc;

use pgp_core::gdal::Metadata;
use pgp_core::{block_windows, DataType, DynArray, Raster, RasterPool, RasterSpec, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::cast::{to_type, view_of};
use super::stats::Moments;
use crate::block_jobs::{Payload, Sink};
use crate::progress::Tracker;
use crate::{Error, Result};
use pgp_core::tiles::TileLayout;

/// What a calculator-style operation produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalcReport {
    /// The output raster.
    pub target: PathBuf,
    /// `(cols, rows)`.
    pub size: (usize, usize),
    /// Number of blocks computed.
    pub blocks: usize,
    /// Pixels that are not nodata (or NaN), when statistics were calculated.
    pub valid_pixels: Option<u64>,
    /// The statistics written to the band (`None` when off, or when no pixel is valid).
    pub statistics: Option<pgp_core::BandStatistics>,
}

/// The output side of a job.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    /// The operation's name, for progress reports.
    pub operation: &'static str,
    pub target: PathBuf,
    pub spec: RasterSpec,
    pub stats: bool,
    pub largest_block: usize,
}

impl Job {
    pub fn datatype(&self) -> DataType {
        self.spec.datatype
    }
}

/// One computed block, already in the target type (and how worker processes send it back).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Computed {
    pub window: Window,
    pub data: Payload,
    pub moments: Option<Moments>,
    /// Input values the operation had no mapping for (reclassification).
    pub unmapped: Vec<f64>,
}

/// Convert an operation's result to the target type, check its shape, take its statistics.
pub(crate) fn finish_block(
    window: Window,
    data: DynArray,
    datatype: DataType,
    nodata: Option<f64>,
    stats: bool,
) -> Result<Computed> {
    if data.shape() != window.shape() {
        return Err(Error::BlockShape {
            window,
            expected: window.shape(),
            actual: data.shape(),
        });
    }
    let data = to_type(data, datatype);
    let moments = stats.then(|| block_moments(&data, nodata));
    Ok(Computed {
        window,
        data: Payload::Pixels(data),
        moments,
        unmapped: Vec::new(),
    })
}

impl Computed {
    /// Compress the block into `layout`'s tiles (on the worker that computed it), if the
    /// output takes raw tiles.
    pub fn encoded(mut self, layout: Option<&TileLayout>) -> Result<Computed> {
        self.data = self.data.encoded(self.window, layout)?;
        Ok(self)
    }
}

/// GDAL statistics plus the share of valid pixels, as GDAL's own statistics write them.
fn set_statistics(
    raster: &mut Raster,
    s: pgp_core::BandStatistics,
    valid: u64,
    job: &Job,
) -> pgp_core::Result<()> {
    raster.set_statistics(1, s)?;
    let total = (job.spec.cols * job.spec.rows) as f64;
    let percent = format!("{:.2}", valid as f64 / total * 100.0);
    let mut band = raster
        .dataset()
        .rasterband(1)
        .map_err(|e| pgp_core::Error::gdal(&job.target, "opening band 1", e))?;
    band.set_metadata_item("STATISTICS_VALID_PERCENT", &percent, "")
        .map_err(|e| pgp_core::Error::gdal(&job.target, "setting statistics metadata", e))?;
    Ok(())
}

fn block_moments(data: &DynArray, nodata: Option<f64>) -> Moments {
    pgp_core::with_pixel_type!(data.data_type(), T => {
        view_of::<T>(data).map_or_else(Moments::default, |v| Moments::of_block(v, nodata))
    })
}

/// Create the output under a temporary name and list the block windows (pygeoprocessing's
/// `iterblocks` over the target).
pub(crate) fn create_output(job: &Job) -> Result<(Sink, Vec<Window>)> {
    let mut sink = Sink::create(&job.target, &job.spec, None)?;
    let size = (job.spec.cols, job.spec.rows);
    let windows = block_windows(size, sink.block_size()?, job.largest_block).collect();
    Ok((sink, windows))
}

/// Write blocks in the order they come, merge statistics, then commit the output. Any error
/// leaves no output behind (the temporary file is removed).
pub(crate) fn write_blocks(
    job: &Job,
    mut sink: Sink,
    n_blocks: usize,
    results: impl Iterator<Item = Result<Computed>>,
    check_unmapped: impl FnOnce(Unmapped) -> Result<()>,
) -> Result<CalcReport> {
    let mut moments = Moments::default();
    let mut unmapped = Unmapped::default();
    let mut written = 0usize;
    for result in Tracker::start(job.operation, "blocks", n_blocks).track(results) {
        let block = result?;
        sink.write(block.window, &block.data)?;
        written += 1;
        if let Some(m) = &block.moments {
            moments.merge(m);
        }
        unmapped.extend(block.unmapped);
    }
    if written != n_blocks {
        return Err(Error::invalid(
            "blocks",
            format!(
                "{}: {written} of {n_blocks} blocks were computed",
                job.target.display()
            ),
        ));
    }
    check_unmapped(unmapped)?;
    let statistics = if job.stats {
        moments.statistics()
    } else {
        None
    };
    let valid = moments.count;
    sink.commit(statistics.map(|s| -> pgp_core::tiles::FinishFn<'_> {
        Box::new(move |raster: &mut Raster| set_statistics(raster, s, valid, job))
    }))?;
    Ok(CalcReport {
        target: job.target.clone(),
        size: (job.spec.cols, job.spec.rows),
        blocks: written,
        valid_pixels: job.stats.then_some(moments.count),
        statistics,
    })
}

/// Run a closure-style computation over every block on a sync or thread executor.
pub(crate) fn run_local<C>(
    job: &Job,
    exec: &Executor,
    raster_paths: Vec<PathBuf>,
    compute: C,
    check_unmapped: impl FnOnce(Unmapped) -> Result<()>,
) -> Result<CalcReport>
where
    C: Fn(&[Raster], Window) -> Result<Computed> + Send + Sync + 'static,
{
    let pool = Arc::new(RasterPool::new(raster_paths));
    pool.check()?;
    let (sink, windows) = create_output(job)?;
    let n = windows.len();
    let compute = Arc::new(compute);
    let layout = sink.layout();
    let results = exec
        .map_ordered(windows, move |w| {
            pool.with(|rasters| Ok(compute(rasters, w).and_then(|c| c.encoded(layout.as_ref()))))
        })
        .map(|r| {
            r.map_err(Error::from)
                .and_then(|opened| opened.map_err(Error::from))
                .and_then(|computed| computed)
        });
    write_blocks(job, sink, n, results, check_unmapped)
}

/// Distinct unmapped input values seen so far, in increasing order (up to a limit).
#[derive(Debug, Default)]
pub(crate) struct Unmapped {
    values: std::collections::BTreeSet<OrderedBits>,
    /// More distinct values were seen than are kept.
    pub truncated: bool,
}

/// Keep at most this many distinct unmapped values for the error message.
const MAX_UNMAPPED: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct OrderedBits(i64);

impl OrderedBits {
    fn new(v: f64) -> OrderedBits {
        // The usual total-order trick: flip the magnitude bits of negative values.
        let b = v.to_bits() as i64;
        OrderedBits(b ^ (((b >> 63) as u64) >> 1) as i64)
    }
    fn value(self) -> f64 {
        let b = self.0 ^ (((self.0 >> 63) as u64) >> 1) as i64;
        f64::from_bits(b as u64)
    }
}

impl Unmapped {
    pub fn extend(&mut self, values: Vec<f64>) {
        for v in values {
            if self.values.len() >= MAX_UNMAPPED && !self.values.contains(&OrderedBits::new(v)) {
                self.truncated = true;
                continue;
            }
            self.values.insert(OrderedBits::new(v));
        }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values, in increasing order.
    pub fn values(&self) -> Vec<f64> {
        self.values.iter().map(|b| b.value()).collect()
    }
}
