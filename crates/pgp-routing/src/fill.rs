//! `fill_pits`: raise every undrained region to the height of its lowest pour point.
//!
//! Two phases. In parallel over tiles, find the pit candidates: pixels with no lower, nodata or
//! off-raster neighbour ([`crate::blocks::Pass::FillCandidates`]). Then, serially and in
//! pygeoprocessing's visiting order (the DEM's blocks, row-major), each candidate that still has
//! no drain grows its flat region; if the region has no drain it is a pit, searched outward in
//! increasing height (a priority queue with pygeoprocessing's tie-break and the same heap
//! algorithm as C++'s `std::priority_queue`, so even `max_pixel_fill_count` cut-offs match) until
//! a pour point, and filled to that height. Heights only ever rise during the serial phase, so a
//! pixel that drains on the input can only lose its drain by being filled or by bordering a
//! filled region at its own level, and such a region always drains through its pour point: the
//! candidates of the first phase are exactly the pixels whose visit can change the output.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::blocks::{run_pass, Pass};
use crate::common::{
    is_close, neighbour, scratch_dir, write_grid, RasterBand, IMPROBABLE_FLOAT_NODATA,
};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, Grid, TILE};

/// Options of [`fill_pits`], pygeoprocessing's keyword arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FillOptions {
    /// Give up on a pit (leave it as a depression) after visiting this many pixels while
    /// searching for its drain; `None` (pygeoprocessing's -1) searches without limit.
    pub max_pixel_fill_count: Option<u64>,
    /// `(x, y)` of the only pixel allowed to drain; edges and nodata then do not drain.
    pub single_outlet: Option<(usize, usize)>,
}

#[derive(Clone, Copy)]
struct Pixel {
    value: f64,
    x: u32,
    y: u32,
    priority: i32,
}

/// pygeoprocessing's `GreaterPixel`: `a` sorts after `b`.
fn greater(a: &Pixel, b: &Pixel) -> bool {
    a.value > b.value || (a.value == b.value && a.priority > b.priority)
}

/// A min-heap laid out and reordered exactly as libstdc++'s `push_heap` / `pop_heap` do with
/// pygeoprocessing's comparator, so equal pixels leave in the same order as there.
#[derive(Default)]
struct PitQueue(Vec<Pixel>);

impl PitQueue {
    fn push(&mut self, p: Pixel) {
        self.0.push(p);
        let hole = self.0.len() - 1;
        self.sift_up(hole, 0, p);
    }

    fn sift_up(&mut self, mut hole: usize, top: usize, value: Pixel) {
        let h = &mut self.0;
        while hole > top {
            let parent = (hole - 1) / 2;
            if !greater(&h[parent], &value) {
                break;
            }
            h[hole] = h[parent];
            hole = parent;
        }
        h[hole] = value;
    }

    fn pop(&mut self) -> Option<Pixel> {
        let len = self.0.len();
        if len == 0 {
            return None;
        }
        let top = self.0[0];
        let last = self.0[len - 1];
        self.0[len - 1] = top;
        // __adjust_heap over the first len - 1 elements with `last` as the value to place.
        let n = len - 1;
        let mut hole = 0usize;
        let mut second = 0usize;
        if n > 0 {
            while second < (n - 1) / 2 {
                second = 2 * (second + 1);
                if greater(&self.0[second], &self.0[second - 1]) {
                    second -= 1;
                }
                self.0[hole] = self.0[second];
                hole = second;
            }
            if n & 1 == 0 && second == (n - 2) / 2 {
                second = 2 * (second + 1);
                self.0[hole] = self.0[second - 1];
                hole = second - 1;
            }
            self.sift_up(hole, 0, last);
        }
        self.0.pop();
        Some(top)
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Fill the pits of band `dem.band` of `dem.path` into `target` (same type and nodata as the
/// DEM; pygeoprocessing's -1.23789789e29 when it has none).
pub fn fill_pits(
    dem: &RasterBand,
    target: &Path,
    options: &FillOptions,
    exec: &Executor,
) -> Result<()> {
    let (raster, info) = dem.open()?;
    let (cols, rows) = info.raster_size;
    if let Some((x, y)) = options.single_outlet {
        if x >= cols || y >= rows {
            return Err(Error::invalid(
                "single_outlet",
                format!(
                    "({x}, {y}) is outside the {cols}x{rows} DEM {}",
                    dem.path.display()
                ),
            ));
        }
    }
    let nodata = dem.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA);
    if options.max_pixel_fill_count.is_none() && options.single_outlet.is_none() {
        // Unique, so any order gives it: the tile-parallel Priority-Flood.
        return crate::fill_tiles::fill_tiled(
            &dem.path, dem.band, &info, nodata, target, TILE, exec,
        );
    }
    fill_serial(dem, raster, &info, nodata, target, options, exec)
}

/// pygeoprocessing's own algorithm, in its visiting order: the only one that gives its results
/// when the fill count is limited (which pits are given up on depends on the order) or a
/// single outlet is set.
pub(crate) fn fill_serial(
    dem: &RasterBand,
    raster: pgp_core::Raster,
    info: &pgp_core::RasterInfo,
    nodata: f64,
    target: &Path,
    options: &FillOptions,
    exec: &Executor,
) -> Result<()> {
    let (cols, rows) = info.raster_size;
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    // f64 heights, u8 flat mask, i32 pit ids: 13 bytes a pixel.
    let mut filled = Grid::<f64>::from_raster(raster, dem.band, nodata, budget * 8 / 13, &scratch);
    // bit 0: searched as part of a flat region; bit 1: pit candidate from the first phase.
    let mut flat = Grid::<u8>::new(cols, rows, 0, budget / 13, &scratch);
    let mut pits = Grid::<i32>::new(cols, rows, 0, budget * 4 / 13, &scratch);
    let single = options.single_outlet.map(|(x, y)| (x as u32, y as u32));
    let candidates = run_pass(
        exec,
        dem,
        nodata,
        Pass::FillCandidates {
            single_outlet: options.single_outlet,
        },
        &mut flat,
        "fill_pits: finding pits",
    )?;
    // Candidates are stored as 1 by the pass; move them to bit 1.
    for (tile, has) in candidates.iter().enumerate() {
        if *has {
            for v in flat.tile_mut(tile).iter_mut() {
                *v <<= 1;
            }
        }
    }
    let max_count = options.max_pixel_fill_count.map_or(-1i64, |c| c as i64);
    let n_x_blocks = (cols as u32) >> 9;
    let priority =
        |x: u32, y: u32| -> i32 { (n_x_blocks.wrapping_mul(y >> 8).wrapping_add(x) >> 8) as i32 };
    let mut search: VecDeque<(u32, u32)> = VecDeque::new();
    let mut fill_queue: VecDeque<(u32, u32)> = VecDeque::new();
    let mut pit_queue = PitQueue::default();
    let mut feature_id: i32 = 0;
    let tiles_x = flat.tiles_x();
    let mut ticker = crate::common::Ticker::start("fill_pits: filling", "tiles", candidates.len());
    let mut last_tile = usize::MAX;
    crate::common::scan_in_block_order(
        (cols, rows),
        info.block_size,
        tiles_x,
        |t| !candidates[t],
        |x, y| {
            let tile = (y / TILE) * tiles_x + x / TILE;
            if tile != last_tile {
                last_tile = tile;
                ticker.advance(1);
                filled.status()?;
            }
            let state = flat.get(x, y);
            if state & 2 == 0 || state & 1 == 1 {
                return Ok(());
            }
            let center = filled.get(x, y);
            if is_close(center, nodata) || single == Some((x as u32, y as u32)) {
                return Ok(());
            }
            for d in 0..8 {
                match neighbour(x, y, d, cols, rows) {
                    None => {
                        if single.is_none() {
                            return Ok(());
                        }
                    }
                    Some((xn, yn)) => {
                        let h = filled.get(xn, yn);
                        if is_close(h, nodata) {
                            if single.is_none() {
                                return Ok(());
                            }
                        } else if h < center {
                            return Ok(());
                        }
                    }
                }
            }
            // Grow the flat region, looking for a drain.
            search.push_back((x as u32, y as u32));
            flat.set(x, y, state | 1);
            let mut natural_drain = false;
            let mut steps: i64 = 0;
            while let Some((xq, yq)) = search.pop_front() {
                if max_count > 0 && steps > max_count {
                    search.clear();
                    natural_drain = true;
                    break;
                }
                steps += 1;
                for d in 0..8 {
                    let Some((xn, yn)) = neighbour(xq as usize, yq as usize, d, cols, rows) else {
                        if single.is_none() {
                            natural_drain = true;
                        }
                        continue;
                    };
                    let h = filled.get(xn, yn);
                    if is_close(h, nodata) {
                        if single.is_none() {
                            natural_drain = true;
                        }
                        continue;
                    }
                    if h < center {
                        natural_drain = true;
                        continue;
                    }
                    let s = flat.get(xn, yn);
                    if s & 1 == 1 {
                        continue;
                    }
                    if h == center {
                        search.push_back((xn as u32, yn as u32));
                        flat.set(xn, yn, s | 1);
                    }
                }
            }
            if !natural_drain {
                feature_id += 1;
                pits.set(x, y, feature_id);
                pit_queue.push(Pixel {
                    value: center,
                    x: x as u32,
                    y: y as u32,
                    priority: priority(x as u32, y as u32),
                });
            }
            // Visit the pit in increasing height: the first unvisited lower, nodata or
            // off-raster neighbour is the pour point.
            let mut fill_height = nodata;
            let mut steps: i64 = 0;
            while let Some(p) = pit_queue.pop() {
                if max_count > 0 && steps > max_count {
                    pit_queue.clear();
                    break;
                }
                steps += 1;
                fill_height = p.value;
                let mut pour = false;
                for d in 0..8 {
                    let Some((xn, yn)) = neighbour(p.x as usize, p.y as usize, d, cols, rows)
                    else {
                        if single.is_none() {
                            pour = true;
                            break;
                        }
                        continue;
                    };
                    if pits.get(xn, yn) == feature_id {
                        continue;
                    }
                    pits.set(xn, yn, feature_id);
                    let h = filled.get(xn, yn);
                    if single == Some((xn as u32, yn as u32)) {
                        fill_height = h;
                        pour = true;
                        break;
                    }
                    if is_close(h, nodata) {
                        if single.is_none() {
                            pour = true;
                        }
                        continue;
                    }
                    if h < fill_height {
                        pour = true;
                        break;
                    }
                    pit_queue.push(Pixel {
                        value: h,
                        x: xn as u32,
                        y: yn as u32,
                        priority: priority(xn as u32, yn as u32),
                    });
                }
                if pour {
                    pit_queue.clear();
                    fill_queue.push_back((x as u32, y as u32));
                    filled.set(x, y, fill_height);
                }
            }
            while let Some((xq, yq)) = fill_queue.pop_front() {
                for d in 0..8 {
                    let Some((xn, yn)) = neighbour(xq as usize, yq as usize, d, cols, rows) else {
                        continue;
                    };
                    let h = filled.get(xn, yn);
                    if is_close(h, nodata) {
                        continue;
                    }
                    if h < fill_height {
                        filled.set(xn, yn, fill_height);
                        fill_queue.push_back((xn as u32, yn as u32));
                    }
                }
            }
            Ok(())
        },
    )?;
    drop(ticker);
    flat.status()?;
    pits.status()?;
    filled.status()?;
    write_grid(
        &mut filled,
        info,
        target,
        info.datatypes[dem.band - 1],
        Some(nodata),
        |v: f64| v,
    )
}

/// `pgp.routing.fill_pits`: [`fill_pits`] as one serialisable value (what the CLI, pipeline
/// files, graph nodes and worker processes run).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FillPitsRequest {
    /// The DEM.
    pub dem: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The filled DEM.
    pub target: PathBuf,
    /// Leave pits larger than this many pixels unfilled.
    #[serde(default)]
    pub max_pixel_fill_count: Option<u64>,
    /// `[x, y]` of the only pixel that drains.
    #[serde(default)]
    pub single_outlet: Option<(usize, usize)>,
}

impl Request for FillPitsRequest {
    const NAME: &'static str = "pgp.routing.fill_pits";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        let options = FillOptions {
            max_pixel_fill_count: self.max_pixel_fill_count,
            single_outlet: self.single_outlet,
        };
        let dem = RasterBand::new(&self.dem, self.band);
        fill_pits(&dem, &self.target, &options, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.dem.clone()]
    }
    pgp_ops::one_target!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The heap pops in comparator order whatever was pushed (a heap that reorders ties like
        // libstdc++ must still be a heap).
        #[test]
        fn pit_queue_pops_in_order(values in proptest::collection::vec((0u8..6, 0i32..3), 0..200)) {
            let mut q = PitQueue::default();
            for (i, (v, p)) in values.iter().enumerate() {
                q.push(Pixel { value: f64::from(*v), x: i as u32, y: 0, priority: *p });
            }
            let mut last: Option<Pixel> = None;
            let mut n = 0;
            while let Some(p) = q.pop() {
                if let Some(l) = last {
                    prop_assert!(!greater(&l, &p));
                }
                last = Some(p);
                n += 1;
            }
            prop_assert_eq!(n, values.len());
        }
    }
}
