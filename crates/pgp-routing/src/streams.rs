//! `extract_streams_d8` and `extract_streams_mfd`.
//!
//! D8 streams are a threshold on the accumulation, block-local and parallel over tiles. MFD
//! streams are traced upstream from outlets over the accumulation and directions (serial, in
//! tile order, as pygeoprocessing does, over two bytes a pixel the inputs are reduced to in
//! parallel first): pixels at or above the threshold become streams, pixels
//! at or above `trace_threshold_proportion` of it are provisional and become streams only when
//! a stream pixel upstream flows through them; provisional pixels left over become 0.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use pgp_core::tiles::TileLayout;
use pgp_core::{DataType, Raster, Window};
use pgp_exec::{Executor, RemoteOp};
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::common::{
    encoded_output, is_close, neighbour, same_size, scratch_dir, write_grid, write_tile_values,
    RasterBand, Ticker, TileValues, IMPROBABLE_FLOAT_NODATA, INFLOW_OFFSETS,
};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, tile_windows, Grid, TILE};

/// Stream rasters' nodata.
pub const STREAM_NODATA: u8 = 255;

/// numpy's `isclose` (NaN is never close; equal values, infinities included, always are).
fn numpy_isclose(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-8 + 1e-5 * b.abs()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ThresholdJob {
    path: std::path::PathBuf,
    band: usize,
    window: Window,
    nodata: Option<f64>,
    threshold: f64,
    /// The output's layout when the job compresses its tile itself.
    layout: Option<TileLayout>,
}

struct ThresholdOp;

remote_tile_op!(ThresholdOp, "pgp.routing.stream_threshold", ThresholdJob => TileValues<u8>, run_threshold);

fn run_threshold(job: &ThresholdJob) -> Result<TileValues<u8>> {
    let raster = Raster::open(&job.path)?;
    let block = raster.read_as::<f64>(job.band, job.window)?;
    let values = block
        .iter()
        .map(|&a| {
            if job.nodata.is_some_and(|n| numpy_isclose(a, n)) {
                STREAM_NODATA
            } else {
                u8::from(a > job.threshold)
            }
        })
        .collect();
    Ok(TileValues::new(values, job.window, job.layout.as_ref())?)
}

/// Streams where the D8 accumulation in `flow_accum` exceeds `threshold` (strictly, as
/// pygeoprocessing): Byte 1 stream, 0 not, 255 where the accumulation is nodata. Each tile
/// is thresholded, and compressed, on `exec`.
pub fn extract_streams_d8(
    flow_accum: &RasterBand,
    threshold: f64,
    target: &Path,
    exec: &Executor,
) -> Result<()> {
    let (_, info) = flow_accum.open()?;
    let (cols, rows) = info.raster_size;
    let nodata = flow_accum.nodata(&info);
    let out_nodata = Some(f64::from(STREAM_NODATA));
    let encoded = encoded_output(&info, target, DataType::U8, out_nodata, TILE)?;
    let layout = encoded.as_ref().map(|o| *o.layout());
    let windows: Vec<Window> = tile_windows(cols, rows).map(|(_, w)| w).collect();
    let jobs = windows.iter().map(|w| ThresholdJob {
        path: flow_accum.path.clone(),
        band: flow_accum.band,
        window: *w,
        nodata,
        threshold,
        layout,
    });
    let tiles = windows
        .iter()
        .zip(exec.map_ordered_op::<ThresholdOp>(jobs))
        .map(|(w, result)| Ok((*w, result?)));
    write_tile_values(
        "extract_streams_d8",
        tiles,
        encoded,
        &info,
        target,
        DataType::U8,
        out_nodata,
    )
}

/// What the MFD trace needs of a pixel, packed: its accumulation against the nodata and the
/// thresholds (low byte) and which of its eight directions carry flow (high byte), so the
/// serial trace reads two bytes a pixel and the decoding runs in parallel.
mod class {
    /// The accumulation is nodata by pygeoprocessing's `is_close`.
    pub const NODATA_CLOSE: u16 = 1;
    /// The accumulation equals nodata exactly (the outlet test compares with `==`).
    pub const NODATA_EXACT: u16 = 2;
    /// The accumulation is at least the threshold.
    pub const STREAM: u16 = 4;
    /// The accumulation is at least the trace threshold.
    pub const TRACE: u16 = 8;
    /// The direction code is the directions' nodata.
    pub const DIR_NODATA: u16 = 16;
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ClassJob {
    accum: (PathBuf, usize, f64),
    dirs: (PathBuf, usize, i32),
    window: Window,
    threshold: f64,
    trace_threshold: f64,
}

struct ClassOp;

impl RemoteOp for ClassOp {
    const NAME: &'static str = "pgp.routing.stream_trace_classes";
    type Args = ClassJob;
    type Output = Vec<u16>;
    fn run(job: ClassJob) -> std::result::Result<Vec<u16>, String> {
        let read = || -> Result<Vec<u16>> {
            let _cap = crate::grid::GdalCacheCap::hold();
            let accum = Raster::open(&job.accum.0)?.read_as::<f64>(job.accum.1, job.window)?;
            let dirs = Raster::open(&job.dirs.0)?.read_as::<i32>(job.dirs.1, job.window)?;
            let nodata = job.accum.2;
            Ok(accum
                .iter()
                .zip(dirs.iter())
                .map(|(&a, &code)| {
                    let mut c = 0;
                    if is_close(a, nodata) {
                        c |= class::NODATA_CLOSE;
                    }
                    if a == nodata {
                        c |= class::NODATA_EXACT;
                    }
                    if a >= job.threshold {
                        c |= class::STREAM;
                    }
                    if a >= job.trace_threshold {
                        c |= class::TRACE;
                    }
                    if code == job.dirs.2 {
                        c |= class::DIR_NODATA;
                    }
                    let mask = (0..8).fold(0u16, |m, d| {
                        m | (u16::from((code >> (d * 4)) & 0xF != 0) << d)
                    });
                    c | mask << 8
                })
                .collect())
        };
        read().map_err(|e| e.to_string())
    }
}

pgp_exec::register_op!(ClassOp);

/// Whether direction `d` carries flow in the packed class `c`.
#[inline]
fn flows(c: u16, d: usize) -> bool {
    (c >> (8 + d)) & 1 != 0
}

/// MFD streams from the accumulation `flow_accum` and directions `flow_dir`: pixels reached
/// upstream from an outlet whose accumulation is at least `threshold`, continuing through
/// pixels of at least `trace_threshold_proportion * threshold` that lead to more stream.
pub fn extract_streams_mfd(
    flow_accum: &RasterBand,
    flow_dir: &RasterBand,
    threshold: f64,
    target: &Path,
    trace_threshold_proportion: f64,
    exec: &Executor,
) -> Result<()> {
    if !(0.0..=1.0).contains(&trace_threshold_proportion) {
        return Err(Error::invalid(
            "trace_threshold_proportion",
            format!("should be in the range [0.0, 1.0], got {trace_threshold_proportion}"),
        ));
    }
    let (_, info) = flow_accum.open()?;
    let (_, dir_info) = flow_dir.open()?;
    same_size(flow_accum, &info, flow_dir, &dir_info)?;
    let (cols, rows) = info.raster_size;
    let accum_nodata = flow_accum.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA);
    let dir_nodata = flow_dir.nodata(&dir_info).map_or(0, |v| v as i32);
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let mut classes = Grid::<u16>::new(cols, rows, 0, budget * 2 / 3, &scratch);
    let mut streams = Grid::<u8>::new(cols, rows, STREAM_NODATA, budget / 3, &scratch);
    let trace_threshold = trace_threshold_proportion * threshold;
    let windows: Vec<Window> = tile_windows(cols, rows).map(|(_, w)| w).collect();
    let mut ticker = Ticker::start("extract_streams_mfd: classes", "tiles", windows.len());
    let jobs = windows.iter().map(|w| ClassJob {
        accum: (flow_accum.path.clone(), flow_accum.band, accum_nodata),
        dirs: (flow_dir.path.clone(), flow_dir.band, dir_nodata),
        window: *w,
        threshold,
        trace_threshold,
    });
    for (tile, result) in exec.map_ordered_op::<ClassOp>(jobs).enumerate() {
        let values = result?;
        let w = windows[tile];
        let data = classes.tile_mut(tile);
        for r in 0..w.height {
            data[r * TILE..r * TILE + w.width]
                .copy_from_slice(&values[r * w.width..(r + 1) * w.width]);
        }
        ticker.advance(1);
    }
    drop(ticker);
    classes.status()?;
    let mut open: VecDeque<(usize, usize)> = VecDeque::new();
    let mut backtrace: VecDeque<(usize, usize)> = VecDeque::new();
    let mut ticker = Ticker::start("extract_streams_mfd: tracing", "tiles", windows.len());
    for w in windows {
        for y in w.y_off..w.y_off + w.height {
            for x in w.x_off..w.x_off + w.width {
                let c = classes.get(x, y);
                if c & class::NODATA_CLOSE != 0 || streams.get(x, y) != STREAM_NODATA {
                    continue;
                }
                streams.set(x, y, 0);
                if c & class::STREAM == 0 {
                    continue;
                }
                let outlet = (0..8).any(|d| {
                    flows(c, d)
                        && match neighbour(x, y, d, cols, rows) {
                            None => true,
                            Some((xn, yn)) => classes.get(xn, yn) & class::NODATA_EXACT != 0,
                        }
                });
                if outlet {
                    open.push_back((x, y));
                    streams.set(x, y, 1);
                }
                while let Some((xo, yo)) = open.pop_front() {
                    for i in 0..8 {
                        let Some((xs, ys)) = neighbour(xo, yo, i, cols, rows) else {
                            continue;
                        };
                        let cs = classes.get(xs, ys);
                        if cs & class::DIR_NODATA != 0 || !flows(cs, INFLOW_OFFSETS[i] as usize) {
                            continue;
                        }
                        let s = streams.get(xs, ys);
                        if s == 1 || s == 2 {
                            continue;
                        }
                        if cs & class::STREAM != 0 {
                            streams.set(xs, ys, 1);
                            open.push_back((xs, ys));
                            backtrace.push_back((xs, ys));
                            while let Some((xb, yb)) = backtrace.pop_front() {
                                let cb = classes.get(xb, yb);
                                for k in 0..8 {
                                    if !flows(cb, k) {
                                        continue;
                                    }
                                    let Some((xk, yk)) = neighbour(xb, yb, k, cols, rows) else {
                                        continue;
                                    };
                                    if streams.get(xk, yk) == 2 {
                                        streams.set(xk, yk, 1);
                                        backtrace.push_back((xk, yk));
                                    }
                                }
                            }
                        } else if cs & class::TRACE != 0 {
                            streams.set(xs, ys, 2);
                            open.push_back((xs, ys));
                        }
                    }
                }
            }
        }
        ticker.advance(1);
        classes.status()?;
    }
    drop(ticker);
    streams.status()?;
    write_grid(
        &mut streams,
        &info,
        target,
        DataType::U8,
        Some(f64::from(STREAM_NODATA)),
        |v: u8| {
            if v == 2 {
                0
            } else {
                v
            }
        },
    )
}

fn one() -> f64 {
    1.0
}

/// `pgp.routing.extract_streams_d8`: [`extract_streams_d8`] as one serialisable value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractStreamsD8Request {
    /// D8 flow accumulation.
    pub flow_accum: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// Accumulation above which a pixel is stream.
    pub threshold: f64,
    /// The streams.
    pub target: PathBuf,
}

impl Request for ExtractStreamsD8Request {
    const NAME: &'static str = "pgp.routing.extract_streams_d8";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        let accum = RasterBand::new(&self.flow_accum, self.band);
        extract_streams_d8(&accum, self.threshold, &self.target, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.flow_accum.clone()]
    }
    pgp_ops::one_target!();
}

/// `pgp.routing.extract_streams_mfd`: [`extract_streams_mfd`] as one serialisable value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractStreamsMfdRequest {
    /// MFD flow accumulation.
    pub flow_accum: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// MFD flow directions (band 1).
    pub flow_dir: PathBuf,
    /// Accumulation at which a pixel is stream.
    pub threshold: f64,
    /// The streams.
    pub target: PathBuf,
    /// Proportion of the threshold that carries a trace (1.0).
    #[serde(default = "one")]
    pub trace_threshold_proportion: f64,
}

impl Request for ExtractStreamsMfdRequest {
    const NAME: &'static str = "pgp.routing.extract_streams_mfd";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        extract_streams_mfd(
            &RasterBand::new(&self.flow_accum, self.band),
            &RasterBand::first(&self.flow_dir),
            self.threshold,
            &self.target,
            self.trace_threshold_proportion,
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.flow_accum.clone(), self.flow_dir.clone()]
    }
    pgp_ops::one_target!();
}
