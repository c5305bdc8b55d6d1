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
use std::path::Path;

use pgp_core::DataType;
use pgp_exec::Executor;

use crate::blocks::{run_pass, Pass};
use crate::common::{
    is_close, neighbour, scan_in_block_order, scratch_dir, write_grid, RasterBand, Ticker,
    IMPROBABLE_FLOAT_NODATA, INFLOW_OFFSETS, SQRT2, SQRT2_INV,
};
use crate::error::Result;
use crate::grid::{cache_budget, Grid, TILE};

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

/// D8 flow directions of band `dem.band` of `dem.path` into `target` (Byte, nodata 128).
pub fn flow_dir_d8(dem: &RasterBand, target: &Path, exec: &Executor) -> Result<()> {
    let (raster, info) = dem.open()?;
    let (cols, rows) = info.raster_size;
    let nodata = dem.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA);
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    // u8 directions, f64 heights, f64 plateau distances (sparse), u8 flat mask (sparse).
    let mut dirs = Grid::<u8>::new(cols, rows, D8_NODATA, budget / 6, &scratch);
    let mut heights = Grid::<f64>::from_raster(raster, dem.band, nodata, budget / 2, &scratch);
    let far = (cols * rows) as f64;
    let mut distance = Grid::<f64>::new(cols, rows, far, budget / 4, &scratch);
    let mut flat = Grid::<u8>::new(cols, rows, 0, budget / 12, &scratch);
    let visit = run_pass(
        exec,
        dem,
        nodata,
        Pass::D8,
        &mut dirs,
        "flow_dir_d8: slopes",
    )?;
    let tiles_x = dirs.tiles_x();
    let mut search: VecDeque<(usize, usize)> = VecDeque::new();
    let mut drains: VecDeque<(usize, usize)> = VecDeque::new();
    let mut nodata_drains: VecDeque<(usize, usize, u8)> = VecDeque::new();
    let mut ticker = Ticker::start("flow_dir_d8: plateaus", "tiles", visit.len());
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
                heights.status()?;
            }
            if dirs.get(x, y) != D8_UNRESOLVED {
                return Ok(());
            }
            let root = heights.get(x, y);
            search.push_back((x, y));
            flat.set(x, y, 1);
            while let Some((xq, yq)) = search.pop_front() {
                let mut best_dir: Option<usize> = None;
                let mut best = 0.0f64;
                let mut diagonal_nodata = true;
                for d in 0..8 {
                    let n = match neighbour(xq, yq, d, cols, rows) {
                        None => nodata,
                        Some((xn, yn)) => heights.get(xn, yn),
                    };
                    if is_close(n, nodata) {
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
                        if let Some((xn, yn)) = neighbour(xq, yq, d, cols, rows) {
                            if flat.get(xn, yn) == 0 {
                                search.push_back((xn, yn));
                                flat.set(xn, yn, 1);
                            }
                        }
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
                        dirs.set(xq, yq, d as u8);
                        distance.set(xq, yq, 0.0);
                        drains.push_back((xq, yq));
                    } else {
                        nodata_drains.push_back((xq, yq, d as u8));
                    }
                }
            }
            if drains.is_empty() {
                for (xq, yq, d) in nodata_drains.drain(..) {
                    dirs.set(xq, yq, d);
                    distance.set(xq, yq, 0.0);
                    drains.push_back((xq, yq));
                }
            } else {
                nodata_drains.clear();
            }
            while let Some((xq, yq)) = drains.pop_front() {
                let dist = distance.get(xq, yq);
                for d in 0..8 {
                    let Some((xn, yn)) = neighbour(xq, yq, d, cols, rows) else {
                        continue;
                    };
                    let n_dist = dist + if d & 1 == 1 { SQRT2 } else { 1.0 };
                    if heights.get(xn, yn) == root && distance.get(xn, yn) > n_dist {
                        dirs.set(xn, yn, INFLOW_OFFSETS[d]);
                        distance.set(xn, yn, n_dist);
                        drains.push_back((xn, yn));
                    }
                }
            }
            Ok(())
        },
    )?;
    drop(ticker);
    heights.status()?;
    distance.status()?;
    flat.status()?;
    write_grid(
        &mut dirs,
        &info,
        target,
        DataType::U8,
        Some(f64::from(D8_NODATA)),
        |v: u8| {
            if v == D8_UNRESOLVED {
                D8_NODATA
            } else {
                v
            }
        },
    )
}

/// MFD flow directions of band `dem.band` of `dem.path` into `target` (Int32, nodata 0).
pub fn flow_dir_mfd(dem: &RasterBand, target: &Path, exec: &Executor) -> Result<()> {
    let (raster, info) = dem.open()?;
    let (cols, rows) = info.raster_size;
    let nodata = dem.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA);
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let mut dirs = Grid::<i32>::new(cols, rows, MFD_NODATA, budget / 4, &scratch);
    let mut heights = Grid::<f64>::from_raster(raster, dem.band, nodata, budget / 2, &scratch);
    let far = (cols as u64 * rows as u64) as f64;
    let mut distance = Grid::<f64>::new(cols, rows, far, budget / 8, &scratch);
    // bit 0: flat region searched; bit 1: plateau drain / queued for directions.
    let mut mask = Grid::<u8>::new(cols, rows, 0, budget / 8, &scratch);
    let visit = run_pass(
        exec,
        dem,
        nodata,
        Pass::Mfd,
        &mut dirs,
        "flow_dir_mfd: slopes",
    )?;
    let tiles_x = dirs.tiles_x();
    let mut search: VecDeque<(usize, usize)> = VecDeque::new();
    let mut drains: VecDeque<(usize, usize)> = VecDeque::new();
    let mut nodata_drains: VecDeque<(usize, usize, i32)> = VecDeque::new();
    let mut direction_queue: VecDeque<(usize, usize)> = VecDeque::new();
    let mut ticker = Ticker::start("flow_dir_mfd: plateaus", "tiles", visit.len());
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
                heights.status()?;
            }
            if dirs.get(x, y) != MFD_UNRESOLVED {
                return Ok(());
            }
            let root = heights.get(x, y);
            search.push_back((x, y));
            let m = mask.get(x, y);
            mask.set(x, y, m | 1);
            while let Some((xq, yq)) = search.pop_front() {
                let mut slopes = [0.0f64; 8];
                let mut nodata_slopes = [0.0f64; 8];
                let mut sum = 0.0;
                let mut nodata_sum = 0.0;
                for d in 0..8 {
                    let n = match neighbour(xq, yq, d, cols, rows) {
                        None => nodata,
                        Some((xn, yn)) => heights.get(xn, yn),
                    };
                    if is_close(n, nodata) {
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
                        if let Some((xn, yn)) = neighbour(xq, yq, d, cols, rows) {
                            let m = mask.get(xn, yn);
                            if m & 1 == 0 {
                                search.push_back((xn, yn));
                                mask.set(xn, yn, m | 1);
                            }
                        }
                        continue;
                    }
                    if d & 1 == 1 {
                        slope *= SQRT2_INV;
                    }
                    slopes[d] = slope;
                    sum += slope;
                }
                if sum > 0.0 {
                    dirs.set(xq, yq, pack_mfd(&slopes, sum));
                    distance.set(xq, yq, 0.0);
                    let m = mask.get(xq, yq);
                    mask.set(xq, yq, m | 2);
                    drains.push_back((xq, yq));
                } else if nodata_sum > 0.0 {
                    nodata_drains.push_back((xq, yq, pack_mfd(&nodata_slopes, nodata_sum)));
                }
            }
            if drains.is_empty() {
                for (xq, yq, code) in nodata_drains.drain(..) {
                    dirs.set(xq, yq, code);
                    distance.set(xq, yq, 0.0);
                    let m = mask.get(xq, yq);
                    mask.set(xq, yq, m | 2);
                    drains.push_back((xq, yq));
                }
            } else {
                nodata_drains.clear();
            }
            direction_queue.extend(drains.iter().copied());
            while let Some((xq, yq)) = drains.pop_front() {
                let dist = distance.get(xq, yq);
                for d in 0..8 {
                    let Some((xn, yn)) = neighbour(xq, yq, d, cols, rows) else {
                        continue;
                    };
                    let n_dist = dist + if d & 1 == 1 { SQRT2 } else { 1.0 };
                    if heights.get(xn, yn) == root && distance.get(xn, yn) > n_dist {
                        distance.set(xn, yn, n_dist);
                        drains.push_back((xn, yn));
                    }
                }
            }
            while let Some((xq, yq)) = direction_queue.pop_front() {
                let dist = distance.get(xq, yq);
                let mut weights = [0.0f64; 8];
                let mut sum = 0.0;
                for d in 0..8 {
                    let Some((xn, yn)) = neighbour(xq, yq, d, cols, rows) else {
                        continue;
                    };
                    if heights.get(xn, yn) != root {
                        continue;
                    }
                    let n_dist = distance.get(xn, yn);
                    if n_dist == far {
                        continue;
                    }
                    if n_dist < dist {
                        let s = if d & 1 == 1 { SQRT2_INV } else { 1.0 };
                        weights[d] = s;
                        sum += s;
                    } else {
                        let m = mask.get(xn, yn);
                        if m & 2 == 0 {
                            direction_queue.push_back((xn, yn));
                            mask.set(xn, yn, m | 2);
                        }
                    }
                }
                if sum != 0.0 {
                    dirs.set(xq, yq, pack_mfd(&weights, sum));
                }
            }
            Ok(())
        },
    )?;
    drop(ticker);
    heights.status()?;
    distance.status()?;
    mask.status()?;
    write_grid(
        &mut dirs,
        &info,
        target,
        DataType::I32,
        Some(0.0),
        |v: i32| {
            if v == MFD_UNRESOLVED {
                MFD_NODATA
            } else {
                v
            }
        },
    )
}
