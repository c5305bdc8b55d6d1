//! `flow_dir_d8` and `flow_dir_mfd`.
//!
//! Two phases. In parallel over windows of tiles (the first pass of [`crate::blocks`]), every
//! pixel with a downhill neighbour gets its direction, and every plateau (pixels of one height
//! without a downhill neighbour, see [`crate::plateaus`]) lying wholly inside the window is
//! drained there. Then, serially and in pygeoprocessing's scan order, the plateaus crossing
//! windows are drained through the tile caches, from the first of their unresolved pixels met.
//! Both phases run the same plateau code, whose queues run in pygeoprocessing's order, so ties
//! resolve the same.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use pgp_core::{DataType, Pixel};
use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::blocks::{run_pass, Pass};
use crate::common::{
    neighbour, scan_in_block_order, scratch_dir, write_grid, RasterBand, Ticker,
    IMPROBABLE_FLOAT_NODATA,
};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, Cell, Grid, TILE};
use crate::plateaus::{Method, Queues, Store};
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

/// The serial pass's rasters: the whole raster through tile caches.
struct Plateaus<T: Cell> {
    cols: usize,
    rows: usize,
    nodata: f64,
    far: f64,
    dirs: Grid<T>,
    heights: Grid<f64>,
    distance: Grid<f64>,
    marks: Grid<u8>,
}

impl<T: Cell> Store for Plateaus<T> {
    type Pixel = (usize, usize);
    type Dir = T;
    fn nodata(&self) -> f64 {
        self.nodata
    }
    fn far(&self) -> f64 {
        self.far
    }
    fn neighbour(&self, (x, y): (usize, usize), d: usize) -> Option<(usize, usize)> {
        neighbour(x, y, d, self.cols, self.rows)
    }
    fn height(&mut self, (x, y): (usize, usize)) -> f64 {
        self.heights.get(x, y)
    }
    fn set_dir(&mut self, (x, y): (usize, usize), dir: T) {
        self.dirs.set(x, y, dir);
    }
    fn distance(&mut self, (x, y): (usize, usize)) -> f64 {
        self.distance.get(x, y)
    }
    fn set_distance(&mut self, (x, y): (usize, usize), distance: f64) {
        self.distance.set(x, y, distance);
    }
    fn marks(&mut self, (x, y): (usize, usize)) -> u8 {
        self.marks.get(x, y)
    }
    fn set_marks(&mut self, (x, y): (usize, usize), marks: u8) {
        self.marks.set(x, y, marks);
    }
}

/// What differs between the two encodings outside plateau resolution.
trait Encoding: Method + Clone + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// The function's name, in progress messages.
    const NAME: &'static str;
    /// The request's operation name.
    const OPERATION: &'static str;
    const DATATYPE: DataType;
    /// The block-local pass, given pygeoprocessing's scan block.
    fn pass(scan_block: (usize, usize)) -> Pass;
    /// Shares of the cache budget (as divisors) of directions, distances and marks: the
    /// directions are dense, distances and marks only hold the plateaus crossing windows.
    const SHARES: (usize, usize, usize);
}

impl Encoding for D8 {
    const NAME: &'static str = "flow_dir_d8";
    const OPERATION: &'static str = "pgp.routing.flow_dir_d8";
    const DATATYPE: DataType = DataType::U8;
    fn pass(scan_block: (usize, usize)) -> Pass {
        Pass::D8 { scan_block }
    }
    // u8 directions, f64 heights (1/2), f64 plateau distances (sparse), u8 marks (sparse).
    const SHARES: (usize, usize, usize) = (6, 4, 12);
}

impl Encoding for Mfd {
    const NAME: &'static str = "flow_dir_mfd";
    const OPERATION: &'static str = "pgp.routing.flow_dir_mfd";
    const DATATYPE: DataType = DataType::I32;
    fn pass(scan_block: (usize, usize)) -> Pass {
        Pass::Mfd { scan_block }
    }
    const SHARES: (usize, usize, usize) = (4, 8, 8);
}

/// Directions of `dem` into `target` by method `M`: the block-local pass on `exec`, then the
/// plateaus it left unresolved, in pygeoprocessing's scan order.
fn flow_dir<M: Encoding>(dem: &RasterBand, target: &Path, exec: &Executor) -> Result<()> {
    let (raster, info) = dem.open()?;
    let (cols, rows) = info.raster_size;
    let nodata = dem.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA);
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let (dir_share, distance_share, marks_share) = M::SHARES;
    let far = (cols as u64 * rows as u64) as f64;
    let mut p = Plateaus {
        cols,
        rows,
        nodata,
        far,
        dirs: Grid::<M::Dir>::new(cols, rows, M::NODATA, budget / dir_share, &scratch),
        heights: Grid::<f64>::from_raster(raster, dem.band, nodata, budget / 2, &scratch),
        distance: Grid::<f64>::new(cols, rows, far, budget / distance_share, &scratch),
        marks: Grid::<u8>::new(cols, rows, 0, budget / marks_share, &scratch),
    };
    let block = scan_block(info.block_size);
    let slopes = format!("{}: slopes", M::NAME);
    let visit = run_pass(exec, dem, nodata, M::pass(block), &mut p.dirs, &slopes)?;
    let tiles_x = p.dirs.tiles_x();
    let plateaus = format!("{}: plateaus", M::NAME);
    let mut ticker = Ticker::start(&plateaus, "tiles", visit.len());
    let mut queues = Queues::new();
    let mut last_tile = usize::MAX;
    scan_in_block_order(
        (cols, rows),
        block,
        tiles_x,
        |t| !visit[t],
        |x, y| {
            let tile = (y / TILE) * tiles_x + x / TILE;
            if tile != last_tile {
                last_tile = tile;
                ticker.advance(1);
                p.heights.status()?;
            }
            if p.dirs.get(x, y) == M::UNRESOLVED {
                let root = p.heights.get(x, y);
                M::drain(&mut p, &mut queues, (x, y), root);
            }
            Ok(())
        },
    )?;
    drop(ticker);
    p.heights.status()?;
    p.distance.status()?;
    p.marks.status()?;
    write_grid(
        &mut p.dirs,
        &info,
        target,
        M::DATATYPE,
        Some(M::NODATA.to_f64()),
        |v: M::Dir| if v == M::UNRESOLVED { M::NODATA } else { v },
    )
}

/// D8 flow directions of band `dem.band` of `dem.path` into `target` (Byte, nodata 128).
pub fn flow_dir_d8(dem: &RasterBand, target: &Path, exec: &Executor) -> Result<()> {
    flow_dir::<D8>(dem, target, exec)
}

/// MFD flow directions of band `dem.band` of `dem.path` into `target` (Int32, nodata 0).
pub fn flow_dir_mfd(dem: &RasterBand, target: &Path, exec: &Executor) -> Result<()> {
    flow_dir::<Mfd>(dem, target, exec)
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

impl<M: Encoding> Request for FlowDirRequest<M> {
    const NAME: &'static str = M::OPERATION;
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        flow_dir::<M>(&self.dem_band(), &self.target, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.dem.clone()]
    }
    pgp_ops::one_target!();
}
