//! `flow_dir_d8` and `flow_dir_mfd`.
//!
//! Pixels with a downhill neighbour get their direction in parallel over tiles (the first pass
//! of [`crate::blocks`]). Plateaus (pixels with no downhill neighbour) are resolved serially in
//! pygeoprocessing's order, from the first plateau pixel met in the DEM's block order: a
//! breadth-first search over the plateau finds its drains (downhill edge pixels; only when there
//! is none, pixels next to nodata or the raster's edge), then a breadth-first relaxation of
//! distances from the drains points every plateau pixel along the shortest path, ties to the
//! first found. The queues run in the same order as pygeoprocessing's, so ties resolve the same.

use std::collections::VecDeque;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use pgp_core::DataType;
use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::blocks::{run_pass, Pass};
use crate::common::{
    is_close, neighbour, scan_in_block_order, scratch_dir, write_grid, RasterBand, Ticker,
    IMPROBABLE_FLOAT_NODATA, INFLOW_OFFSETS, SQRT2, SQRT2_INV,
};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, Cell, Grid, TILE};
use crate::request::{Mfd, D8};

/// D8 nodata (pygeoprocessing's).
pub const D8_NODATA: u8 = 128;
/// Working value of a pixel the first pass could not resolve (never written out).
pub(crate) const D8_UNRESOLVED: u8 = 129;
/// MFD nodata: no flow in any direction.
pub const MFD_NODATA: i32 = 0;
/// Working value of an unresolved MFD pixel: all nibbles 15, which slope weights never give.
pub(crate) const MFD_UNRESOLVED: i32 = -1;

/// Packs eight slope weights summing to `sum` into eight 4-bit proportions, direction `d` in
/// bits `4d..4d+3`, rounding each as pygeoprocessing does (`(int)(0.5 + w / sum * 15)`).
pub(crate) fn pack_mfd(weights: &[f64; 8], sum: f64) -> i32 {
    let mut packed = 0i32;
    for (d, w) in weights.iter().enumerate() {
        packed |= ((0.5 + w / sum * 15.0) as i32) << (d * 4);
    }
    packed
}

/// The order plateau roots are met in: the DEM's blocks when their size is a power of two
/// (pygeoprocessing walks those), otherwise the 256x256 tiles of the copy it makes.
fn scan_block(block: (usize, usize)) -> (usize, usize) {
    if block.0.is_power_of_two() && block.1.is_power_of_two() {
        block
    } else {
        (TILE, TILE)
    }
}

/// The working state of plateau resolution, shared by both encodings.
struct Plateaus<T: Cell> {
    cols: usize,
    rows: usize,
    nodata: f64,
    /// The distance of pixels no drain has reached yet.
    far: f64,
    dirs: Grid<T>,
    heights: Grid<f64>,
    distance: Grid<f64>,
    /// Bit 0: searched as part of a flat region; bit 1 (MFD): a drain or queued for directions.
    marks: Grid<u8>,
}

impl<T: Cell> Plateaus<T> {
    /// The height of the neighbour in direction `d`, nodata off the raster.
    fn height_towards(&mut self, x: usize, y: usize, d: usize) -> f64 {
        match neighbour(x, y, d, self.cols, self.rows) {
            None => self.nodata,
            Some((xn, yn)) => self.heights.get(xn, yn),
        }
    }

    /// Queues the neighbour in direction `d` for the flat search unless it was searched.
    fn queue_flat(&mut self, x: usize, y: usize, d: usize, search: &mut VecDeque<(usize, usize)>) {
        if let Some((xn, yn)) = neighbour(x, y, d, self.cols, self.rows) {
            let m = self.marks.get(xn, yn);
            if m & 1 == 0 {
                search.push_back((xn, yn));
                self.marks.set(xn, yn, m | 1);
            }
        }
    }

    /// Breadth-first distances from `drains` over the plateau at height `root`, calling
    /// `stepped(dirs, x, y, d)` for every pixel given a shorter distance from direction `d`.
    fn relax(
        &mut self,
        drains: &mut VecDeque<(usize, usize)>,
        root: f64,
        mut stepped: impl FnMut(&mut Grid<T>, usize, usize, usize),
    ) {
        while let Some((xq, yq)) = drains.pop_front() {
            let dist = self.distance.get(xq, yq);
            for d in 0..8 {
                let Some((xn, yn)) = neighbour(xq, yq, d, self.cols, self.rows) else {
                    continue;
                };
                let n_dist = dist + if d & 1 == 1 { SQRT2 } else { 1.0 };
                if self.heights.get(xn, yn) == root && self.distance.get(xn, yn) > n_dist {
                    stepped(&mut self.dirs, xn, yn, d);
                    self.distance.set(xn, yn, n_dist);
                    drains.push_back((xn, yn));
                }
            }
        }
    }
}

/// What differs between the two encodings around plateau resolution.
struct Encoding<T> {
    name: &'static str,
    pass: Pass,
    datatype: DataType,
    nodata: T,
    unresolved: T,
    /// Shares of the cache budget (as divisors) of directions, distances and marks.
    shares: (usize, usize, usize),
}

/// Directions of `dem` into `target`: the block-local pass on `exec`, then `plateau(state, x,
/// y, height)` for every pixel it left unresolved, in pygeoprocessing's scan order.
fn flow_dir<T: Cell>(
    dem: &RasterBand,
    target: &Path,
    exec: &Executor,
    encoding: Encoding<T>,
    mut plateau: impl FnMut(&mut Plateaus<T>, usize, usize, f64),
) -> Result<()> {
    let (raster, info) = dem.open()?;
    let (cols, rows) = info.raster_size;
    let nodata = dem.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA);
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let (dir_share, distance_share, marks_share) = encoding.shares;
    let far = (cols as u64 * rows as u64) as f64;
    let mut p = Plateaus {
        cols,
        rows,
        nodata,
        far,
        dirs: Grid::<T>::new(cols, rows, encoding.nodata, budget / dir_share, &scratch),
        heights: Grid::<f64>::from_raster(raster, dem.band, nodata, budget / 2, &scratch),
        distance: Grid::<f64>::new(cols, rows, far, budget / distance_share, &scratch),
        marks: Grid::<u8>::new(cols, rows, 0, budget / marks_share, &scratch),
    };
    let slopes = format!("{}: slopes", encoding.name);
    let visit = run_pass(exec, dem, nodata, encoding.pass, &mut p.dirs, &slopes)?;
    let tiles_x = p.dirs.tiles_x();
    let plateaus = format!("{}: plateaus", encoding.name);
    let mut ticker = Ticker::start(&plateaus, "tiles", visit.len());
    let mut last_tile = usize::MAX;
    scan_in_block_order(
        (cols, rows),
        scan_block(info.block_size),
        tiles_x,
        |t| !visit[t],
        |x, y| {
            let tile = (y / TILE) * tiles_x + x / TILE;
            if tile != last_tile {
                last_tile = tile;
                ticker.advance(1);
                p.heights.status()?;
            }
            if p.dirs.get(x, y) == encoding.unresolved {
                let root = p.heights.get(x, y);
                plateau(&mut p, x, y, root);
            }
            Ok(())
        },
    )?;
    drop(ticker);
    p.heights.status()?;
    p.distance.status()?;
    p.marks.status()?;
    let (unresolved, nodata_code) = (encoding.unresolved, encoding.nodata);
    write_grid(
        &mut p.dirs,
        &info,
        target,
        encoding.datatype,
        Some(nodata_code.to_f64()),
        |v: T| if v == unresolved { nodata_code } else { v },
    )
}

/// D8 flow directions of band `dem.band` of `dem.path` into `target` (Byte, nodata 128).
pub fn flow_dir_d8(dem: &RasterBand, target: &Path, exec: &Executor) -> Result<()> {
    let encoding = Encoding {
        name: "flow_dir_d8",
        pass: Pass::D8,
        datatype: DataType::U8,
        nodata: D8_NODATA,
        unresolved: D8_UNRESOLVED,
        // u8 directions, f64 heights (1/2), f64 plateau distances (sparse), u8 marks (sparse).
        shares: (6, 4, 12),
    };
    let mut search: VecDeque<(usize, usize)> = VecDeque::new();
    let mut drains: VecDeque<(usize, usize)> = VecDeque::new();
    let mut nodata_drains: VecDeque<(usize, usize, u8)> = VecDeque::new();
    flow_dir(dem, target, exec, encoding, |p, x, y, root| {
        search.push_back((x, y));
        p.marks.set(x, y, 1);
        while let Some((xq, yq)) = search.pop_front() {
            let mut best_dir: Option<usize> = None;
            let mut best = 0.0f64;
            let mut diagonal_nodata = true;
            for d in 0..8 {
                let n = p.height_towards(xq, yq, d);
                if is_close(n, p.nodata) {
                    if diagonal_nodata && best == 0.0 {
                        best_dir = Some(d);
                        diagonal_nodata = d & 1 == 1;
                    }
                    continue;
                }
                let mut slope = root - n;
                if slope < 0.0 {
                    continue;
                }
                if slope == 0.0 {
                    p.queue_flat(xq, yq, d, &mut search);
                    continue;
                }
                if d & 1 == 1 {
                    slope *= SQRT2_INV;
                }
                if slope > best {
                    best = slope;
                    best_dir = Some(d);
                }
            }
            if let Some(d) = best_dir {
                if best > 0.0 {
                    p.dirs.set(xq, yq, d as u8);
                    p.distance.set(xq, yq, 0.0);
                    drains.push_back((xq, yq));
                } else {
                    nodata_drains.push_back((xq, yq, d as u8));
                }
            }
        }
        if drains.is_empty() {
            for (xq, yq, d) in nodata_drains.drain(..) {
                p.dirs.set(xq, yq, d);
                p.distance.set(xq, yq, 0.0);
                drains.push_back((xq, yq));
            }
        } else {
            nodata_drains.clear();
        }
        p.relax(&mut drains, root, |dirs, xn, yn, d| {
            dirs.set(xn, yn, INFLOW_OFFSETS[d]);
        });
    })
}

/// MFD flow directions of band `dem.band` of `dem.path` into `target` (Int32, nodata 0).
pub fn flow_dir_mfd(dem: &RasterBand, target: &Path, exec: &Executor) -> Result<()> {
    let encoding = Encoding {
        name: "flow_dir_mfd",
        pass: Pass::Mfd,
        datatype: DataType::I32,
        nodata: MFD_NODATA,
        unresolved: MFD_UNRESOLVED,
        shares: (4, 8, 8),
    };
    let mut search: VecDeque<(usize, usize)> = VecDeque::new();
    let mut drains: VecDeque<(usize, usize)> = VecDeque::new();
    let mut nodata_drains: VecDeque<(usize, usize, i32)> = VecDeque::new();
    let mut direction_queue: VecDeque<(usize, usize)> = VecDeque::new();
    flow_dir(dem, target, exec, encoding, |p, x, y, root| {
        search.push_back((x, y));
        let m = p.marks.get(x, y);
        p.marks.set(x, y, m | 1);
        while let Some((xq, yq)) = search.pop_front() {
            let mut slopes = [0.0f64; 8];
            let mut nodata_slopes = [0.0f64; 8];
            let mut sum = 0.0;
            let mut nodata_sum = 0.0;
            for d in 0..8 {
                let n = p.height_towards(xq, yq, d);
                if is_close(n, p.nodata) {
                    let s = if d & 1 == 1 { SQRT2_INV } else { 1.0 };
                    nodata_sum += s;
                    nodata_slopes[d] = s;
                    continue;
                }
                let mut slope = root - n;
                if slope < 0.0 {
                    continue;
                }
                if slope == 0.0 {
                    p.queue_flat(xq, yq, d, &mut search);
                    continue;
                }
                if d & 1 == 1 {
                    slope *= SQRT2_INV;
                }
                slopes[d] = slope;
                sum += slope;
            }
            if sum > 0.0 {
                p.dirs.set(xq, yq, pack_mfd(&slopes, sum));
                p.distance.set(xq, yq, 0.0);
                let m = p.marks.get(xq, yq);
                p.marks.set(xq, yq, m | 2);
                drains.push_back((xq, yq));
            } else if nodata_sum > 0.0 {
                nodata_drains.push_back((xq, yq, pack_mfd(&nodata_slopes, nodata_sum)));
            }
        }
        if drains.is_empty() {
            for (xq, yq, code) in nodata_drains.drain(..) {
                p.dirs.set(xq, yq, code);
                p.distance.set(xq, yq, 0.0);
                let m = p.marks.get(xq, yq);
                p.marks.set(xq, yq, m | 2);
                drains.push_back((xq, yq));
            }
        } else {
            nodata_drains.clear();
        }
        direction_queue.extend(drains.iter().copied());
        p.relax(&mut drains, root, |_, _, _, _| {});
        while let Some((xq, yq)) = direction_queue.pop_front() {
            let dist = p.distance.get(xq, yq);
            let mut weights = [0.0f64; 8];
            let mut sum = 0.0;
            for d in 0..8 {
                let Some((xn, yn)) = neighbour(xq, yq, d, p.cols, p.rows) else {
                    continue;
                };
                if p.heights.get(xn, yn) != root {
                    continue;
                }
                let n_dist = p.distance.get(xn, yn);
                if n_dist == p.far {
                    continue;
                }
                if n_dist < dist {
                    let s = if d & 1 == 1 { SQRT2_INV } else { 1.0 };
                    weights[d] = s;
                    sum += s;
                } else {
                    let m = p.marks.get(xn, yn);
                    if m & 2 == 0 {
                        direction_queue.push_back((xn, yn));
                        p.marks.set(xn, yn, m | 2);
                    }
                }
            }
            if sum != 0.0 {
                p.dirs.set(xq, yq, pack_mfd(&weights, sum));
            }
        }
    })
}

/// `pgp.routing.flow_dir_d8` and `pgp.routing.flow_dir_mfd`: [`flow_dir_d8`] or
/// [`flow_dir_mfd`] as one serialisable value, the method ([`D8`] or [`Mfd`]) being part of its
/// type (each method is its own operation, with its own output version).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct FlowDirRequest<M> {
    /// The (filled) DEM.
    pub dem: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The flow directions.
    pub target: PathBuf,
    #[serde(skip)]
    method: PhantomData<M>,
}

impl<M> FlowDirRequest<M> {
    /// The directions of band `band` of `dem` into `target`.
    pub fn new(dem: impl Into<PathBuf>, band: usize, target: impl Into<PathBuf>) -> Self {
        FlowDirRequest {
            dem: dem.into(),
            band,
            target: target.into(),
            method: PhantomData,
        }
    }

    fn dem_band(&self) -> RasterBand {
        RasterBand::new(&self.dem, self.band)
    }
}

impl Request for FlowDirRequest<D8> {
    const NAME: &'static str = "pgp.routing.flow_dir_d8";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        flow_dir_d8(&self.dem_band(), &self.target, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.dem.clone()]
    }
    pgp_ops::one_target!();
}

impl Request for FlowDirRequest<Mfd> {
    const NAME: &'static str = "pgp.routing.flow_dir_mfd";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        flow_dir_mfd(&self.dem_band(), &self.target, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.dem.clone()]
    }
    pgp_ops::one_target!();
}
