//! `distance_to_channel_d8` and `distance_to_channel_mfd`: the length of the flow path from
//! each pixel down to the first stream pixel (diagonal steps sqrt(2), or the weight of each
//! pixel stepped from when a weight raster is given). MFD distances are the flow-weighted mean
//! over downstream neighbours. D8 distances are tile-parallel (`distance_tiles`); MFD
//! distances are a serial walk in the channel raster's block order, as pygeoprocessing's,
//! through the tile cache.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use pgp_core::DataType;
use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::common::{
    is_close, neighbour, same_size, scan_in_block_order, scratch_dir, write_grid, RasterBand,
    Ticker, IMPROBABLE_FLOAT_NODATA, SQRT2,
};
use crate::distance_tiles::{distance_tiled, D8DistanceInputs};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, Cell, Grid, TILE};
use crate::request::{Mfd, D8};

/// Distance rasters' nodata.
pub const DISTANCE_NODATA: f64 = -1.0;

struct Inputs {
    info: pgp_core::RasterInfo,
    channel_block: (usize, usize),
    channels: Grid<f64>,
    weights: Option<(Grid<f64>, f64)>,
}

fn open_inputs(
    flow_dir: &RasterBand,
    channels: &RasterBand,
    weight: Option<&RasterBand>,
    budget: usize,
    scratch: &Path,
) -> Result<Inputs> {
    let (_, info) = flow_dir.open()?;
    let (channel_raster, channel_info) = channels.open()?;
    same_size(flow_dir, &info, channels, &channel_info)?;
    let channels_grid = Grid::from_raster(channel_raster, channels.band, 0.0, budget, scratch);
    let weights = match weight {
        None => None,
        Some(w) => {
            let (r, i) = w.open()?;
            same_size(flow_dir, &info, w, &i)?;
            let nodata = w.nodata(&i).unwrap_or(IMPROBABLE_FLOAT_NODATA);
            Some((
                Grid::from_raster(r, w.band, nodata, budget, scratch),
                nodata,
            ))
        }
    };
    Ok(Inputs {
        info,
        channel_block: channel_info.block_size,
        channels: channels_grid,
        weights,
    })
}

#[inline]
fn step_weight(weights: &mut Option<(Grid<f64>, f64)>, x: usize, y: usize, d: usize) -> f64 {
    match weights {
        None => {
            if d % 2 == 1 {
                SQRT2
            } else {
                1.0
            }
        }
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

/// The walk both distances share: the inputs in the tile cache, a visit of every pixel in the
/// channel raster's block order (pygeoprocessing's `iterblocks` over it), and the output.
struct ChannelWalk<T: Cell> {
    cols: usize,
    rows: usize,
    dirs: Grid<T>,
    channels: Grid<f64>,
    weights: Option<(Grid<f64>, f64)>,
    distance: Grid<f64>,
}

/// Opens the inputs (directions of type `T` with `dir_fill` beyond the raster, in a cache of
/// `dir_budget` bytes), calls `visit` for every pixel in the channels' block order, and writes
/// the distances to `target`.
fn walk_channels<T: Cell>(
    flow_dir: &RasterBand,
    channels: &RasterBand,
    target: &Path,
    weight: Option<&RasterBand>,
    label: &str,
    (dir_fill, dir_budget): (T, usize),
    mut visit: impl FnMut(&mut ChannelWalk<T>, usize, usize) -> Result<()>,
) -> Result<()> {
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let inputs = open_inputs(flow_dir, channels, weight, budget / 4, &scratch)?;
    let (cols, rows) = inputs.info.raster_size;
    let (dir_raster, _) = flow_dir.open()?;
    let mut walk = ChannelWalk {
        cols,
        rows,
        dirs: Grid::<T>::from_raster(dir_raster, flow_dir.band, dir_fill, dir_budget, &scratch),
        channels: inputs.channels,
        weights: inputs.weights,
        distance: Grid::<f64>::new(cols, rows, DISTANCE_NODATA, budget / 4, &scratch),
    };
    let tiles_x = walk.distance.tiles_x();
    let mut ticker = Ticker::start(label, "tiles", tiles_x * rows.div_ceil(TILE));
    let mut last_tile = usize::MAX;
    scan_in_block_order(
        (cols, rows),
        inputs.channel_block,
        tiles_x,
        |_| false,
        |x, y| {
            let tile = (y / TILE) * tiles_x + x / TILE;
            if tile != last_tile {
                last_tile = tile;
                ticker.advance(1);
                walk.channels.status()?;
            }
            visit(&mut walk, x, y)
        },
    )?;
    drop(ticker);
    walk.dirs.status()?;
    if let Some((g, _)) = &mut walk.weights {
        g.status()?;
    }
    write_grid(
        &mut walk.distance,
        &inputs.info,
        target,
        DataType::F64,
        Some(DISTANCE_NODATA),
        |v: f64| v,
    )
}

/// D8 distance from each pixel to the stream pixels (value 1) of `channels` along the D8
/// directions of `flow_dir`, into `target` (Float64, nodata -1). Tile-parallel on `exec`
/// (see `distance_tiles`), with pygeoprocessing's pixels.
pub fn distance_to_channel_d8(
    flow_dir: &RasterBand,
    channels: &RasterBand,
    target: &Path,
    weight: Option<&RasterBand>,
    exec: &Executor,
) -> Result<()> {
    let (_, info) = flow_dir.open()?;
    let (_, channel_info) = channels.open()?;
    same_size(flow_dir, &info, channels, &channel_info)?;
    let weight = match weight {
        None => None,
        Some(w) => {
            let (_, i) = w.open()?;
            same_size(flow_dir, &info, w, &i)?;
            let nodata = w.nodata(&i).unwrap_or(IMPROBABLE_FLOAT_NODATA);
            Some((w.path.clone(), w.band, nodata))
        }
    };
    let inputs = D8DistanceInputs {
        flow_dir: flow_dir.path.clone(),
        dir_band: flow_dir.band,
        channels: channels.path.clone(),
        channel_band: channels.band,
        weight,
    };
    distance_tiled(&inputs, &info, target, TILE, exec)
}

struct Frame {
    x: usize,
    y: usize,
    next_dir: usize,
    weighted_distances: f64,
    weights: f64,
}

impl Frame {
    fn at(x: usize, y: usize) -> Frame {
        Frame {
            x,
            y,
            next_dir: 0,
            weighted_distances: 0.0,
            weights: 0.0,
        }
    }
}

/// MFD distance from each pixel to the stream pixels (value 1) of `channels`: the mean of the
/// downstream neighbours' distances plus the step, weighted by the flow proportions of
/// `flow_dir`, into `target` (Float64, nodata -1).
pub fn distance_to_channel_mfd(
    flow_dir: &RasterBand,
    channels: &RasterBand,
    target: &Path,
    weight: Option<&RasterBand>,
    _exec: &Executor,
) -> Result<()> {
    let budget = cache_budget();
    let scratch = scratch_dir(target);
    let (_, info) = flow_dir.open()?;
    let (cols, rows) = info.raster_size;
    let mut visited = Grid::<u8>::new(cols, rows, 0, budget / 24, &scratch);
    let mut stack: Vec<Frame> = Vec::new();
    let dirs = (0i32, budget / 6);
    walk_channels(
        flow_dir,
        channels,
        target,
        weight,
        "distance_to_channel_mfd",
        dirs,
        |w, x, y| {
            if w.channels.get(x, y) == 1.0 {
                w.distance.set(x, y, 0.0);
                return Ok(());
            }
            if w.dirs.get(x, y) == 0 {
                return Ok(());
            }
            if visited.get(x, y) == 0 {
                visited.set(x, y, 1);
                stack.push(Frame::at(x, y));
            }
            while let Some(top) = stack.last_mut() {
                let (px, py) = (top.x, top.y);
                if w.channels.get(px, py) == 1.0 {
                    w.distance.set(px, py, 0.0);
                    stack.pop();
                    continue;
                }
                let code = w.dirs.get(px, py);
                let mut child = None;
                for i in top.next_dir..8 {
                    let share = 0xF & (code >> (i * 4));
                    if share == 0 {
                        continue;
                    }
                    let Some((xn, yn)) = neighbour(px, py, i, w.cols, w.rows) else {
                        continue;
                    };
                    if visited.get(xn, yn) == 0 {
                        visited.set(xn, yn, 1);
                        top.next_dir = i;
                        child = Some(Frame::at(xn, yn));
                        break;
                    }
                    let n_distance = w.distance.get(xn, yn);
                    if n_distance == DISTANCE_NODATA {
                        continue;
                    }
                    let step = step_weight(&mut w.weights, xn, yn, i);
                    top.weights += f64::from(share);
                    top.weighted_distances += f64::from(share) * (step + n_distance);
                }
                if let Some(c) = child {
                    stack.push(c);
                    continue;
                }
                if let Some(done) = stack.pop() {
                    if done.weights != 0.0 {
                        w.distance
                            .set(done.x, done.y, done.weighted_distances / done.weights);
                    }
                }
            }
            visited.status()
        },
    )
}

/// `pgp.routing.distance_to_channel_d8` and `pgp.routing.distance_to_channel_mfd`:
/// [`distance_to_channel_d8`] or [`distance_to_channel_mfd`] as one serialisable value, the
/// method ([`D8`] or [`Mfd`]) being part of its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct DistanceToChannelRequest<M> {
    /// Flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// Streams (band 1; 1 is stream).
    pub streams: PathBuf,
    /// The distances.
    pub target: PathBuf,
    /// Per-step weights (band 1).
    #[serde(default)]
    pub weight: Option<PathBuf>,
    #[serde(skip)]
    method: PhantomData<M>,
}

impl<M> DistanceToChannelRequest<M> {
    /// Distances along band `band` of `flow_dir` to `streams`, into `target`, unweighted.
    pub fn new(
        flow_dir: impl Into<PathBuf>,
        band: usize,
        streams: impl Into<PathBuf>,
        target: impl Into<PathBuf>,
    ) -> Self {
        DistanceToChannelRequest {
            flow_dir: flow_dir.into(),
            band,
            streams: streams.into(),
            target: target.into(),
            weight: None,
            method: PhantomData,
        }
    }

    /// The same request, each step weighted by band 1 of `weight`.
    pub fn weight(self, weight: Option<PathBuf>) -> Self {
        DistanceToChannelRequest { weight, ..self }
    }

    fn run_with(
        &self,
        distance: fn(&RasterBand, &RasterBand, &Path, Option<&RasterBand>, &Executor) -> Result<()>,
        exec: &Executor,
    ) -> Result<()> {
        let weight = self.weight.as_ref().map(RasterBand::first);
        distance(
            &RasterBand::new(&self.flow_dir, self.band),
            &RasterBand::first(&self.streams),
            &self.target,
            weight.as_ref(),
            exec,
        )
    }

    fn files_read(&self) -> Vec<PathBuf> {
        let mut inputs = vec![self.flow_dir.clone(), self.streams.clone()];
        inputs.extend(self.weight.iter().cloned());
        inputs
    }
}

impl Request for DistanceToChannelRequest<D8> {
    const NAME: &'static str = "pgp.routing.distance_to_channel_d8";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        self.run_with(distance_to_channel_d8, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.files_read()
    }
    pgp_ops::one_target!();
}

impl Request for DistanceToChannelRequest<Mfd> {
    const NAME: &'static str = "pgp.routing.distance_to_channel_mfd";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        self.run_with(distance_to_channel_mfd, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.files_read()
    }
    pgp_ops::one_target!();
}
