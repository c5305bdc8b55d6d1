//! `flow_accumulation_d8` and `flow_accumulation_mfd`.
//!
//! D8 accumulation without decay is tile-parallel ([`crate::accumulation_tiles`]). Decayed D8
//! accumulation walks from every outlet (a pixel whose flow leaves the raster or enters
//! nodata) depth-first upstream and sums, on the way back, each pixel's weight and its upstream
//! neighbours' accumulations in direction order, exactly as pygeoprocessing's stack does; so
//! its sums are added in the same order and come out bit-identical. The walk is serial (its
//! cost is one visit per pixel through the tile cache); outlets are met in tile order. MFD
//! accumulation sums the same terms in the same order, visiting pixels in topological order
//! tile by tile instead ([`crate::accumulation_mfd`]).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use pgp_core::DataType;
use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::accumulation_tiles::WeightBand;
use crate::common::{
    is_close, neighbour, same_size, scratch_dir, write_grid, RasterBand, Ticker,
    IMPROBABLE_FLOAT_NODATA, INFLOW_OFFSETS,
};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, tile_windows, Cell, Grid};
use crate::prefetch::decoded_grid;

/// How load decays along D8 flow paths (`custom_decay_factor` of pygeoprocessing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum DecayFactor {
    /// The same proportion passes through every pixel (held as a 32-bit float, as there).
    Constant(f64),
    /// The proportion passing through each pixel, from a raster (nodata passes nothing).
    Raster(RasterBand),
}

/// Options of [`flow_accumulation_d8`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct D8AccumulationOptions {
    /// Per-pixel weight (nodata counts 0); `None` weighs every pixel 1.
    pub weight: Option<RasterBand>,
    /// Decay of load along flow paths.
    pub decay: Option<DecayFactor>,
    /// Decayed upstream values below this proportion of their start are dropped.
    pub min_decay_proportion: f64,
}

impl Default for D8AccumulationOptions {
    fn default() -> Self {
        D8AccumulationOptions {
            weight: None,
            decay: None,
            min_decay_proportion: 0.001,
        }
    }
}

#[derive(Clone, Copy)]
struct Decaying {
    value: f64,
    min: f64,
}

struct Frame {
    x: usize,
    y: usize,
    next_dir: usize,
    value: f64,
    decaying: VecDeque<Decaying>,
}

fn weight_grid(
    weight: Option<&RasterBand>,
    base: &RasterBand,
    base_info: &pgp_core::RasterInfo,
    budget: usize,
    scratch: &Path,
) -> Result<Option<(Grid<f64>, f64)>> {
    let Some(w) = weight else { return Ok(None) };
    let (raster, info) = w.open()?;
    same_size(base, base_info, w, &info)?;
    let nodata = w.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA);
    Ok(Some((
        Grid::from_raster(raster, w.band, nodata, budget, scratch),
        nodata,
    )))
}

/// `weight` checked against the grid of `base`, for the tile-parallel accumulations.
fn weight_band(
    base: &RasterBand,
    base_info: &pgp_core::RasterInfo,
    weight: &RasterBand,
) -> Result<WeightBand> {
    let (_, info) = weight.open()?;
    same_size(base, base_info, weight, &info)?;
    Ok(WeightBand {
        path: weight.path.clone(),
        band: weight.band,
        nodata: weight.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA),
    })
}

#[inline]
fn weight_at(weights: &mut Option<(Grid<f64>, f64)>, x: usize, y: usize) -> f64 {
    match weights {
        None => 1.0,
        Some((g, nodata)) => {
            let v = g.get(x, y);
            if is_close(v, *nodata) {
                0.0
            } else {
                v
            }
        }
    }
}

/// What both accumulations walk: the directions and the accumulation, in the tile cache.
struct Walk<T: Cell> {
    dirs: Grid<T>,
    accum: Grid<f64>,
}

impl<T: Cell> Walk<T> {
    /// Calls `from_outlet` for every pixel `is_outlet` accepts, in tile order (so outlets are
    /// met as pygeoprocessing meets them).
    fn walk_from_outlets(
        &mut self,
        label: &str,
        mut is_outlet: impl FnMut(&mut Grid<T>, usize, usize) -> bool,
        mut from_outlet: impl FnMut(&mut Walk<T>, usize, usize) -> Result<()>,
    ) -> Result<()> {
        let (cols, rows) = self.dirs.size();
        let windows: Vec<_> = tile_windows(cols, rows).collect();
        let mut ticker = Ticker::start(label, "tiles", windows.len());
        for (_, w) in windows {
            for y in w.y_off..w.y_off + w.height {
                for x in w.x_off..w.x_off + w.width {
                    if is_outlet(&mut self.dirs, x, y) {
                        from_outlet(self, x, y)?;
                    }
                }
            }
            ticker.advance(1);
            self.dirs.status()?;
            self.accum.status()?;
        }
        Ok(())
    }

    /// Writes the accumulation to `target` on the grid of `info`.
    fn write(mut self, info: &pgp_core::RasterInfo, target: &Path) -> Result<()> {
        write_grid(
            &mut self.accum,
            info,
            target,
            DataType::F64,
            Some(IMPROBABLE_FLOAT_NODATA),
            |v: f64| v,
        )
    }
}

/// D8 flow accumulation of the directions in `flow_dir` into `target` (Float64, nodata
/// -1.23789789e29): each pixel is its own weight plus everything that flows into it.
pub fn flow_accumulation_d8(
    flow_dir: &RasterBand,
    target: &Path,
    options: &D8AccumulationOptions,
    exec: &Executor,
) -> Result<()> {
    let (raster, info) = flow_dir.open()?;
    let dir_nodata = flow_dir.nodata(&info).map_or(128i32, |v| v as i32);
    if options.decay.is_none() {
        // Sums along the tree: the tile-parallel accumulation.
        drop(raster);
        let weight = options
            .weight
            .as_ref()
            .map(|w| weight_band(flow_dir, &info, w))
            .transpose()?;
        return crate::accumulation_tiles::accumulate_tiled(
            &flow_dir.path,
            flow_dir.band,
            &info,
            dir_nodata,
            weight,
            target,
            crate::grid::TILE,
            exec,
        );
    }
    d8_serial(flow_dir, raster, &info, dir_nodata, target, options)
}

/// pygeoprocessing's walk up from the outlets, in its order: weighted and decayed sums are
/// added exactly as there.
pub(crate) fn d8_serial(
    flow_dir: &RasterBand,
    raster: pgp_core::Raster,
    info: &pgp_core::RasterInfo,
    dir_nodata: i32,
    target: &Path,
    options: &D8AccumulationOptions,
) -> Result<()> {
    let info = info.clone();
    let (cols, rows) = info.raster_size;
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let dirs = Grid::<u8>::from_raster(
        raster,
        flow_dir.band,
        dir_nodata as u8,
        budget / 6,
        &scratch,
    );
    let accum = Grid::<f64>::new(cols, rows, IMPROBABLE_FLOAT_NODATA, budget / 3, &scratch);
    let share = if options.decay.is_some() {
        budget / 4
    } else {
        budget / 2
    };
    let mut weights = weight_grid(options.weight.as_ref(), flow_dir, &info, share, &scratch)?;
    let mut decay_grid = None;
    let mut constant = None;
    match &options.decay {
        None => {}
        Some(DecayFactor::Constant(c)) => constant = Some(f64::from(*c as f32)),
        Some(DecayFactor::Raster(band)) => {
            let (r, i) = band.open()?;
            same_size(flow_dir, &info, band, &i)?;
            // pygeoprocessing reads the nodata of band 1 whatever band is used; NaN if none.
            let nodata = i.nodata.first().copied().flatten().unwrap_or(f64::NAN);
            decay_grid = Some((
                Grid::<f64>::from_raster(r, band.band, nodata, budget / 4, &scratch),
                nodata,
            ));
        }
    }
    let decayed = options.decay.is_some();
    let min_proportion = options.min_decay_proportion;
    let is_dir = |d: u8| i32::from(d) != dir_nodata && d < 8;
    let mut stack: Vec<Frame> = Vec::new();
    let mut from_upstream: VecDeque<Decaying> = VecDeque::new();
    let is_outlet = |dirs: &mut Grid<u8>, x: usize, y: usize| {
        let d = dirs.get(x, y);
        if !is_dir(d) {
            return false;
        }
        match neighbour(x, y, d as usize, cols, rows) {
            None => true,
            Some((xn, yn)) => i32::from(dirs.get(xn, yn)) == dir_nodata,
        }
    };
    let label = "flow_accumulation_d8";
    let mut walk = Walk { dirs, accum };
    walk.walk_from_outlets(label, is_outlet, |Walk { dirs, accum }, x, y| {
        let weight = weight_at(&mut weights, x, y);
        stack.push(Frame {
            x,
            y,
            next_dir: 0,
            value: weight,
            decaying: VecDeque::new(),
        });
        from_upstream.clear();
        while let Some(top) = stack.last_mut() {
            while let Some(v) = from_upstream.pop_front() {
                if v.value > v.min {
                    top.decaying.push_back(v);
                }
            }
            let (px, py) = (top.x, top.y);
            let mut child = None;
            for i in top.next_dir..8 {
                let Some((xn, yn)) = neighbour(px, py, i, cols, rows) else {
                    continue;
                };
                let up = dirs.get(xn, yn);
                if !is_dir(up) || up != INFLOW_OFFSETS[i] {
                    continue;
                }
                let up_accum = accum.get(xn, yn);
                if is_close(up_accum, IMPROBABLE_FLOAT_NODATA) {
                    let weight = weight_at(&mut weights, xn, yn);
                    if decayed {
                        top.decaying.push_back(Decaying {
                            value: weight,
                            min: weight * min_proportion,
                        });
                    }
                    top.next_dir = i;
                    child = Some(Frame {
                        x: xn,
                        y: yn,
                        next_dir: 0,
                        value: weight,
                        decaying: VecDeque::new(),
                    });
                    break;
                }
                if !decayed {
                    top.value += up_accum;
                }
            }
            if let Some(c) = child {
                stack.push(c);
                continue;
            }
            let Some(mut done) = stack.pop() else { break };
            if decayed {
                let factor = match (&mut decay_grid, constant) {
                    (_, Some(c)) => c,
                    (Some((g, nodata)), None) => {
                        let v = g.get(done.x, done.y);
                        if is_close(v, *nodata) {
                            0.0
                        } else {
                            v
                        }
                    }
                    (None, None) => 1.0,
                };
                while let Some(mut v) = done.decaying.pop_front() {
                    v.value *= factor;
                    done.value += v.value;
                    from_upstream.push_back(v);
                }
            }
            accum.set(done.x, done.y, done.value);
        }
        Ok(())
    })?;
    if let Some((g, _)) = &mut weights {
        g.status()?;
    }
    if let Some((g, _)) = &mut decay_grid {
        g.status()?;
    }
    walk.write(&info, target)
}

/// MFD flow accumulation of the directions in `flow_dir` into `target` (Float64, nodata
/// -1.23789789e29): each pixel's weight plus, from each upstream neighbour, its accumulation
/// times the share of its flow that comes this way.
pub fn flow_accumulation_mfd(
    flow_dir: &RasterBand,
    target: &Path,
    weight: Option<&RasterBand>,
    exec: &Executor,
) -> Result<()> {
    let (raster, info) = flow_dir.open()?;
    drop(raster);
    let (cols, rows) = info.raster_size;
    if info.datatypes[flow_dir.band - 1] == DataType::F32
        || info.datatypes[flow_dir.band - 1] == DataType::F64
    {
        return Err(Error::invalid(
            flow_dir.path.display().to_string(),
            "MFD flow directions are integers (Int32 nibbles); this band holds floats",
        ));
    }
    let scratch = scratch_dir(target);
    // Per pixel: a code (4 bytes), the accumulation (8) and a count (1).
    let budget = cache_budget() / 13;
    // Decoded on the executor: the walk itself is serial, reading need not be.
    let mut dirs = decoded_grid(flow_dir, (cols, rows), 0, budget * 4, &scratch, exec, |v| {
        v as i32
    })?;
    // Each pixel's accumulation starts as its weight.
    let mut accum = match weight {
        Some(w) => {
            let band = weight_band(flow_dir, &info, w)?;
            let nodata = band.nodata;
            decoded_grid(w, (cols, rows), 0.0, budget * 8, &scratch, exec, |v| {
                if is_close(v, nodata) {
                    0.0
                } else {
                    v
                }
            })?
        }
        None => Grid::<f64>::new(cols, rows, 1.0, budget * 8, &scratch),
    };
    let mut pending = Grid::<u8>::new(cols, rows, 0, budget, &scratch);
    let tiles = tile_windows(cols, rows).count();
    let mut ticker = Ticker::start("flow_accumulation_mfd", "tiles", tiles);
    crate::accumulation_mfd::MfdWalk {
        dirs: &mut dirs,
        accum: &mut accum,
        pending: &mut pending,
    }
    .run(|| {
        ticker.advance(1);
        Ok(())
    })?;
    drop(ticker);
    dirs.status()?;
    crate::accumulation_mfd::write(&mut accum, &mut pending, &info, target)
}

fn default_min_decay_proportion() -> f64 {
    D8AccumulationOptions::default().min_decay_proportion
}

/// `pgp.routing.flow_accumulation_d8`: [`flow_accumulation_d8`] as one serialisable value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowAccumulationD8Request {
    /// D8 flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The accumulation.
    pub target: PathBuf,
    /// Per-pixel weights (band 1).
    #[serde(default)]
    pub weight: Option<PathBuf>,
    /// A constant decay factor.
    #[serde(default)]
    pub decay_factor: Option<f64>,
    /// A raster of decay factors (band 1); exclusive with `decay_factor`.
    #[serde(default)]
    pub decay_raster: Option<PathBuf>,
    /// Decayed values below this proportion are dropped (0.001).
    #[serde(default = "default_min_decay_proportion")]
    pub min_decay_proportion: f64,
}

impl FlowAccumulationD8Request {
    /// The accumulation of band `band` of `flow_dir` into `target`, unweighted, without decay.
    pub fn new(flow_dir: impl Into<PathBuf>, band: usize, target: impl Into<PathBuf>) -> Self {
        FlowAccumulationD8Request {
            flow_dir: flow_dir.into(),
            band,
            target: target.into(),
            weight: None,
            decay_factor: None,
            decay_raster: None,
            min_decay_proportion: default_min_decay_proportion(),
        }
    }

    /// The options of [`flow_accumulation_d8`] this request stands for.
    pub fn options(&self) -> Result<D8AccumulationOptions> {
        let decay = match (self.decay_factor, &self.decay_raster) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "decay_factor",
                    "give decay_factor or decay_raster, not both",
                ))
            }
            (Some(c), None) => Some(DecayFactor::Constant(c)),
            (None, Some(p)) => Some(DecayFactor::Raster(RasterBand::first(p))),
            (None, None) => None,
        };
        Ok(D8AccumulationOptions {
            weight: self.weight.as_ref().map(RasterBand::first),
            decay,
            min_decay_proportion: self.min_decay_proportion,
        })
    }
}

impl Request for FlowAccumulationD8Request {
    const NAME: &'static str = "pgp.routing.flow_accumulation_d8";
    // 2: weighted sums are added in the tiles' order (equal to rounding).
    const VERSION: u32 = 2;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        let dirs = RasterBand::new(&self.flow_dir, self.band);
        flow_accumulation_d8(&dirs, &self.target, &self.options()?, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        let optional = [&self.weight, &self.decay_raster];
        let mut inputs = vec![self.flow_dir.clone()];
        inputs.extend(optional.into_iter().flatten().cloned());
        inputs
    }
    pgp_ops::one_target!();
}

/// `pgp.routing.flow_accumulation_mfd`: [`flow_accumulation_mfd`] as one serialisable value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowAccumulationMfdRequest {
    /// MFD flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The accumulation.
    pub target: PathBuf,
    /// Per-pixel weights (band 1).
    #[serde(default)]
    pub weight: Option<PathBuf>,
}

impl Request for FlowAccumulationMfdRequest {
    const NAME: &'static str = "pgp.routing.flow_accumulation_mfd";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        let dirs = RasterBand::new(&self.flow_dir, self.band);
        let weight = self.weight.as_ref().map(RasterBand::first);
        flow_accumulation_mfd(&dirs, &self.target, weight.as_ref(), exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        let mut inputs = vec![self.flow_dir.clone()];
        inputs.extend(self.weight.iter().cloned());
        inputs
    }
    pgp_ops::one_target!();
}
