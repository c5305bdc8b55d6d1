//! What every calculator-style operation shares: the output side of a job, the per-block
//! statistics and unmapped values, and the run through the block runtime.
//!
//! Blocks are computed on the executor (each worker reads its own blocks through its own dataset
//! handles, computes, converts to the target type and takes the block's statistics), and
//! written by one writer, the calling thread, in block order. So the output and its statistics
//! are the same whatever the executor and worker count.

use std::path::PathBuf;

use pgp_core::gdal::Metadata;
use pgp_core::{DataType, DynArray, Raster, RasterSpec, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::cast::{to_type, view_of};
use super::stats::Moments;
use crate::runtime::{self, BlockOp, Computed, Handles, RasterTarget, Runner, Windows};
use crate::{Error, Result};

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
    /// The statistics written to band 1 (`None` when off, or when no pixel is valid); every
    /// band of a several-band output gets its own in the file.
    pub statistics: Option<pgp_core::BandStatistics>,
    /// Every band's statistics, band 1 first (`None` for a band without a valid pixel; empty
    /// when statistics are off).
    #[serde(default)]
    pub band_statistics: Vec<Option<pgp_core::BandStatistics>>,
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

/// What a calculator block gives besides its pixels (and how worker processes send it back).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct BlockStats {
    pub moments: Option<Moments>,
    /// The moments of bands 2, 3, ... of a block of several bands.
    pub more_moments: Vec<Moments>,
    /// Input values the operation had no mapping for (reclassification).
    pub unmapped: Vec<f64>,
}

/// A calculator block: pixels in the target type plus their statistics.
pub(crate) type CalcBlock = Computed<BlockStats>;

/// Convert an operation's result to the target type, check its shape, take its statistics.
pub(crate) fn finish_block(
    window: Window,
    data: DynArray,
    datatype: DataType,
    nodata: Option<f64>,
    stats: bool,
) -> Result<CalcBlock> {
    if data.shape() != window.shape() {
        return Err(Error::BlockShape {
            window,
            expected: window.shape(),
            actual: data.shape(),
        });
    }
    let data = to_type(data, datatype);
    Ok(typed_block(window, data, nodata, stats))
}

/// A block already in the target type, with its statistics when `stats`.
pub(crate) fn typed_block(
    window: Window,
    data: DynArray,
    nodata: Option<f64>,
    stats: bool,
) -> CalcBlock {
    let moments = stats.then(|| block_moments(&data, nodata));
    Computed::pixels(
        window,
        data,
        BlockStats {
            moments,
            more_moments: Vec::new(),
            unmapped: Vec::new(),
        },
    )
}

/// [`typed_block`] for one array per band (band 1 first).
pub(crate) fn typed_bands(
    window: Window,
    mut bands: Vec<DynArray>,
    nodata: Option<f64>,
    stats: bool,
) -> CalcBlock {
    if bands.len() == 1 {
        return typed_block(window, bands.remove(0), nodata, stats);
    }
    let mut moments = bands.iter().map(|b| block_moments(b, nodata));
    let side = if stats {
        BlockStats {
            moments: moments.next(),
            more_moments: moments.collect(),
            unmapped: Vec::new(),
        }
    } else {
        BlockStats::default()
    };
    Computed {
        window,
        data: Some(runtime::Payload::Bands(bands)),
        side,
    }
}

/// GDAL statistics of `band` plus the share of valid pixels, as GDAL's own statistics write
/// them.
fn set_statistics(
    raster: &mut Raster,
    band: usize,
    s: pgp_core::BandStatistics,
    valid: u64,
    job: &Job,
) -> pgp_core::Result<()> {
    raster.set_statistics(band, s)?;
    let total = (job.spec.cols * job.spec.rows) as f64;
    let percent = format!("{:.2}", valid as f64 / total * 100.0);
    let mut band = raster
        .dataset()
        .rasterband(band)
        .map_err(|e| pgp_core::Error::gdal(&job.target, format!("opening band {band}"), e))?;
    band.set_metadata_item("STATISTICS_VALID_PERCENT", &percent, "")
        .map_err(|e| pgp_core::Error::gdal(&job.target, "setting statistics metadata", e))?;
    Ok(())
}

fn block_moments(data: &DynArray, nodata: Option<f64>) -> Moments {
    pgp_core::with_pixel_type!(data.data_type(), T => {
        view_of::<T>(data).map_or_else(Moments::default, |v| Moments::of_block(v, nodata))
    })
}

/// Run `runner` over every block of `job`'s output: write the blocks in order, merge their
/// statistics and unmapped values, then commit the output. Any error leaves no output behind.
pub(crate) fn run<O>(
    job: &Job,
    exec: &Executor,
    runner: &Runner<O>,
    check_unmapped: impl FnOnce(Unmapped) -> Result<()>,
) -> Result<CalcReport>
where
    O: BlockOp<Item = Window, Side = BlockStats>,
{
    let mut moments = Moments::default();
    let mut more_moments = vec![Moments::default(); job.spec.bands.saturating_sub(1)];
    let mut unmapped = Unmapped::default();
    let target = RasterTarget {
        operation: job.operation,
        path: &job.target,
        spec: &job.spec,
    };
    let windows = Windows::OutputBlocks {
        largest_block: job.largest_block,
    };
    let written = runtime::write_raster(exec, runner, target, windows, Ok, |side| {
        if let Some(m) = &side.moments {
            moments.merge(m);
        }
        for (total, m) in more_moments.iter_mut().zip(&side.more_moments) {
            total.merge(m);
        }
        unmapped.extend(side.unmapped);
        Ok(())
    })?;
    check_unmapped(unmapped)?;
    let statistics = if job.stats {
        moments.statistics()
    } else {
        None
    };
    let blocks = written.blocks;
    let all_moments: Vec<Moments> = if job.stats {
        std::iter::once(moments).chain(more_moments).collect()
    } else {
        Vec::new()
    };
    let band_statistics: Vec<_> = all_moments.iter().map(Moments::statistics).collect();
    // Every band with a valid pixel gets its statistics, band 1 first.
    let per_band: Vec<(usize, pgp_core::BandStatistics, u64)> = all_moments
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.statistics().map(|s| (i + 1, s, m.count)))
        .collect();
    written.commit(
        (!per_band.is_empty()).then(|| -> pgp_core::tiles::FinishFn<'_> {
            Box::new(move |raster: &mut Raster| {
                for (band, s, valid) in &per_band {
                    set_statistics(raster, *band, *s, *valid, job)?;
                }
                Ok(())
            })
        }),
    )?;
    Ok(CalcReport {
        target: job.target.clone(),
        size: (job.spec.cols, job.spec.rows),
        blocks,
        valid_pixels: job.stats.then_some(moments.count),
        statistics,
        band_statistics,
    })
}

/// A calculation given as a Rust closure over a block's input handles: runs on the synchronous
/// and thread executors only.
pub(crate) struct ClosureOp<F> {
    pub inputs: Vec<PathBuf>,
    pub compute: F,
}

impl<F> BlockOp for ClosureOp<F>
where
    F: Fn(&Handles<'_>, Window) -> Result<CalcBlock> + Send + Sync + 'static,
{
    type Item = Window;
    type Side = BlockStats;
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        self.inputs.clone()
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(&self, _: &(), inputs: &Handles<'_>, window: Window) -> Result<CalcBlock> {
        (self.compute)(inputs, window)
    }
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
