//! `distance_to_channel_d8` and `distance_to_channel_mfd`: the length of the flow path from
//! each pixel down to the first stream pixel (diagonal steps sqrt(2), or the weight of each
//! pixel stepped from when a weight raster is given). MFD distances are the flow-weighted mean
//! over downstream neighbours. Serial walks in the channel raster's block order, as
//! pygeoprocessing's, through the tile cache.

use std::path::Path;

use pgp_core::DataType;
use pgp_exec::Executor;

use crate::common::{
    is_close, neighbour, same_size, scan_in_block_order, scratch_dir, write_grid, RasterBand,
    Ticker, IMPROBABLE_FLOAT_NODATA, INFLOW_OFFSETS, SQRT2,
};
use crate::error::Result;
use crate::grid::{cache_budget, Grid, TILE};

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

/// D8 distance from each pixel to the stream pixels (value 1) of `channels` along the D8
/// directions of `flow_dir`, into `target` (Float64, nodata -1).
pub fn distance_to_channel_d8(
    flow_dir: &RasterBand,
    channels: &RasterBand,
    target: &Path,
    weight: Option<&RasterBand>,
    _exec: &Executor,
) -> Result<()> {
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let mut inputs = open_inputs(flow_dir, channels, weight, budget / 4, &scratch)?;
    let (cols, rows) = inputs.info.raster_size;
    let (dir_raster, _) = flow_dir.open()?;
    let mut dirs = Grid::<u8>::from_raster(dir_raster, flow_dir.band, 128, budget / 8, &scratch);
    let mut distance = Grid::<f64>::new(cols, rows, DISTANCE_NODATA, budget / 4, &scratch);
    let mut stack: Vec<(f64, usize, usize)> = Vec::new();
    let tiles_x = distance.tiles_x();
    let mut ticker = Ticker::start(
        "distance_to_channel_d8",
        "tiles",
        tiles_x * rows.div_ceil(TILE),
    );
    let mut last_tile = usize::MAX;
    let channel_block = inputs.channel_block;
    let Inputs {
        channels, weights, ..
    } = &mut inputs;
    scan_in_block_order(
        (cols, rows),
        channel_block,
        tiles_x,
        |_| false,
        |x, y| {
            let tile = (y / TILE) * tiles_x + x / TILE;
            if tile != last_tile {
                last_tile = tile;
                ticker.advance(1);
                channels.status()?;
            }
            if channels.get(x, y) != 1.0 {
                return Ok(());
            }
            stack.push((0.0, x, y));
            while let Some((value, xq, yq)) = stack.pop() {
                distance.set(xq, yq, value);
                for d in 0..8 {
                    let Some((xn, yn)) = neighbour(xq, yq, d, cols, rows) else {
                        continue;
                    };
                    if channels.get(xn, yn) == 1.0 {
                        continue;
                    }
                    if dirs.get(xn, yn) == INFLOW_OFFSETS[d] {
                        let w = step_weight(weights, xn, yn, d);
                        stack.push((w + value, xn, yn));
                    }
                }
            }
            Ok(())
        },
    )?;
    drop(ticker);
    dirs.status()?;
    if let Some((g, _)) = weights {
        g.status()?;
    }
    write_grid(
        &mut distance,
        &inputs.info,
        target,
        DataType::F64,
        Some(DISTANCE_NODATA),
        |v: f64| v,
    )
}

struct Frame {
    x: usize,
    y: usize,
    next_dir: usize,
    weighted_distances: f64,
    weights: f64,
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
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let mut inputs = open_inputs(flow_dir, channels, weight, budget / 4, &scratch)?;
    let (cols, rows) = inputs.info.raster_size;
    let (dir_raster, _) = flow_dir.open()?;
    let mut dirs = Grid::<i32>::from_raster(dir_raster, flow_dir.band, 0, budget / 6, &scratch);
    let mut distance = Grid::<f64>::new(cols, rows, DISTANCE_NODATA, budget / 4, &scratch);
    let mut visited = Grid::<u8>::new(cols, rows, 0, budget / 24, &scratch);
    let mut stack: Vec<Frame> = Vec::new();
    let tiles_x = distance.tiles_x();
    let mut ticker = Ticker::start(
        "distance_to_channel_mfd",
        "tiles",
        tiles_x * rows.div_ceil(TILE),
    );
    let mut last_tile = usize::MAX;
    let channel_block = inputs.channel_block;
    let Inputs {
        channels, weights, ..
    } = &mut inputs;
    scan_in_block_order(
        (cols, rows),
        channel_block,
        tiles_x,
        |_| false,
        |x, y| {
            let tile = (y / TILE) * tiles_x + x / TILE;
            if tile != last_tile {
                last_tile = tile;
                ticker.advance(1);
                channels.status()?;
            }
            if channels.get(x, y) == 1.0 {
                distance.set(x, y, 0.0);
                return Ok(());
            }
            if dirs.get(x, y) == 0 {
                return Ok(());
            }
            if visited.get(x, y) == 0 {
                visited.set(x, y, 1);
                stack.push(Frame {
                    x,
                    y,
                    next_dir: 0,
                    weighted_distances: 0.0,
                    weights: 0.0,
                });
            }
            while let Some(top) = stack.last_mut() {
                let (px, py) = (top.x, top.y);
                if channels.get(px, py) == 1.0 {
                    distance.set(px, py, 0.0);
                    stack.pop();
                    continue;
                }
                let code = dirs.get(px, py);
                let mut child = None;
                for i in top.next_dir..8 {
                    let share = 0xF & (code >> (i * 4));
                    if share == 0 {
                        continue;
                    }
                    let Some((xn, yn)) = neighbour(px, py, i, cols, rows) else {
                        continue;
                    };
                    if visited.get(xn, yn) == 0 {
                        visited.set(xn, yn, 1);
                        top.next_dir = i;
                        child = Some(Frame {
                            x: xn,
                            y: yn,
                            next_dir: 0,
                            weighted_distances: 0.0,
                            weights: 0.0,
                        });
                        break;
                    }
                    let n_distance = distance.get(xn, yn);
                    if n_distance == DISTANCE_NODATA {
                        continue;
                    }
                    let w = step_weight(weights, xn, yn, i);
                    top.weights += f64::from(share);
                    top.weighted_distances += f64::from(share) * (w + n_distance);
                }
                if let Some(c) = child {
                    stack.push(c);
                    continue;
                }
                if let Some(done) = stack.pop() {
                    if done.weights != 0.0 {
                        distance.set(done.x, done.y, done.weighted_distances / done.weights);
                    }
                }
            }
            Ok(())
        },
    )?;
    drop(ticker);
    dirs.status()?;
    visited.status()?;
    if let Some((g, _)) = weights {
        g.status()?;
    }
    write_grid(
        &mut distance,
        &inputs.info,
        target,
        DataType::F64,
        Some(DISTANCE_NODATA),
        |v: f64| v,
    )
}
