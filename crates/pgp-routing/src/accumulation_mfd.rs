//! The walk of `flow_accumulation_mfd`: pixels in topological order, tile by tile.
//!
//! Each pixel's accumulation is its weight plus, in direction order, each upstream
//! neighbour's accumulation times the share of its flow that comes this way, the sum
//! pygeoprocessing's depth-first walk from the outlets makes. A pixel can be summed as soon
//! as all its upstream neighbours are (on directions without cycles, which `flow_dir_mfd`
//! makes, every order that respects this gives the same terms in the same order, so the
//! pixels equal pygeoprocessing's bit for bit). Here a pixel is summed once its count of
//! upstream neighbours not yet summed reaches zero (Kahn's order), and pixels that become
//! ready in another tile wait in that tile's list, so the walk stays in one tile as long as
//! it can: its tiles come and go from the cache far less than a depth-first walk's, which
//! follows a river across the whole raster and back.
//!
//! Pixels on a cycle of directions (which `flow_dir_mfd` never makes) and those downstream
//! of one are never ready and stay nodata.

use std::collections::VecDeque;

use std::path::Path;

use pgp_core::{DataType, RasterInfo};

use crate::common::{write_tiles, IMPROBABLE_FLOAT_NODATA, INFLOW_OFFSETS};
use crate::error::Result;
use crate::grid::{tile_windows, Grid, TILE, TILE_BITS};

const TILE_MASK: usize = TILE - 1;

/// A pixel not counted yet (the grid's initial value).
const UNCOUNTED: u8 = 0;
/// A pixel all of whose upstream neighbours are summed (plus the count of those that are not).
const READY: u8 = 0x10;
/// A pixel already summed.
const DONE: u8 = u8::MAX;
/// A pixel without directions (nodata).
const INVALID: u8 = u8::MAX - 1;

/// The eight neighbour offsets `(dx, dy)` in direction order.
const OFFSETS: [(isize, isize); 8] = [
    (1, 0),
    (1, -1),
    (0, -1),
    (-1, -1),
    (-1, 0),
    (-1, 1),
    (0, 1),
    (1, 1),
];

/// The grids of the walk: MFD codes (0 for nodata), the accumulation (each pixel's weight
/// until it is summed), and per pixel its state ([`MfdWalk::left`]), 0 until counted.
pub(crate) struct MfdWalk<'a> {
    pub(crate) dirs: &'a mut Grid<i32>,
    pub(crate) accum: &'a mut Grid<f64>,
    pub(crate) pending: &'a mut Grid<u8>,
}

#[inline]
fn neighbour(x: usize, y: usize, d: usize, cols: usize, rows: usize) -> Option<(usize, usize)> {
    let (dx, dy) = OFFSETS[d];
    let xn = x.wrapping_add_signed(dx);
    let yn = y.wrapping_add_signed(dy);
    (xn < cols && yn < rows).then_some((xn, yn))
}

#[inline]
fn tile_of(x: usize, y: usize, tiles_x: usize) -> usize {
    (y >> TILE_BITS) * tiles_x + (x >> TILE_BITS)
}

impl MfdWalk<'_> {
    /// The state of `(x, y)`: [`READY`] plus its count of upstream neighbours not summed yet,
    /// [`DONE`] or [`INVALID`]; counted when first asked for.
    #[inline]
    fn left(&mut self, x: usize, y: usize) -> u8 {
        let state = self.pending.get(x, y);
        if state != UNCOUNTED {
            return state;
        }
        let (cols, rows) = self.dirs.size();
        let state = if self.dirs.get(x, y) == 0 {
            INVALID
        } else {
            let mut upstream = 0;
            for d in 0..8 {
                if let Some((xn, yn)) = neighbour(x, y, d, cols, rows) {
                    let share = (self.dirs.get(xn, yn) >> (u32::from(INFLOW_OFFSETS[d]) * 4)) & 0xF;
                    upstream += u8::from(share != 0);
                }
            }
            READY + upstream
        };
        self.pending.set(x, y, state);
        state
    }

    /// Sums every pixel, calling `tick` after each tile of the first sweep.
    pub(crate) fn run(&mut self, mut tick: impl FnMut() -> Result<()>) -> Result<()> {
        let (cols, rows) = self.dirs.size();
        let windows: Vec<_> = tile_windows(cols, rows).collect();
        let mut waiting: Vec<Vec<(u32, u32)>> = vec![Vec::new(); windows.len()];
        let mut queued = vec![false; windows.len()];
        let mut queue: VecDeque<usize> = VecDeque::new();
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for (t, w) in &windows {
            for y in w.y_off..w.y_off + w.height {
                for x in w.x_off..w.x_off + w.width {
                    // Counted (if need be) and summed if ready by `drain`.
                    let state = self.pending.get(x, y);
                    if state == UNCOUNTED || state == READY {
                        stack.push((x, y));
                        self.drain(*t, &mut stack, &mut waiting, &mut queued, &mut queue);
                    }
                }
            }
            // Follow what became ready downstream before the next tile, while the tiles it
            // crossed are in the cache.
            while let Some(t) = queue.pop_front() {
                queued[t] = false;
                stack.extend(
                    std::mem::take(&mut waiting[t])
                        .into_iter()
                        .map(|(x, y)| (x as usize, y as usize)),
                );
                self.drain(t, &mut stack, &mut waiting, &mut queued, &mut queue);
            }
            tick()?;
        }
        Ok(())
    }

    /// Sums the ready pixels of `stack` (in tile `tile`) and every pixel of the tile that
    /// becomes ready; ready pixels of other tiles go to their `waiting` lists.
    fn drain(
        &mut self,
        tile: usize,
        stack: &mut Vec<(usize, usize)>,
        waiting: &mut [Vec<(u32, u32)>],
        queued: &mut [bool],
        queue: &mut VecDeque<usize>,
    ) {
        let (cols, rows) = self.dirs.size();
        let tiles_x = self.dirs.tiles_x();
        let mut slow: Vec<(usize, usize)> = Vec::with_capacity(8);
        while let Some((x, y)) = stack.pop() {
            let (lx, ly) = (x & TILE_MASK, y & TILE_MASK);
            if lx > 0 && ly > 0 && lx < TILE_MASK && ly < TILE_MASK && x + 1 < cols && y + 1 < rows
            {
                // All eight neighbours in this tile: straight on its slices.
                let t = tile_of(x, y, tiles_x);
                let codes = self.dirs.tile(t);
                let acc = self.accum.tile_mut(t);
                let pend = self.pending.tile_mut(t);
                let i = (ly << TILE_BITS) | lx;
                if pend[i] == UNCOUNTED {
                    pend[i] = count_inside(codes, i);
                }
                if pend[i] != READY {
                    continue;
                }
                let mut value = acc[i];
                for d in 0..8 {
                    let n = i.wrapping_add_signed(TILE_OFFSETS[d]);
                    let up = codes[n];
                    let share = (up >> (u32::from(INFLOW_OFFSETS[d]) * 4)) & 0xF;
                    if share == 0 {
                        continue;
                    }
                    value += acc[n] * f64::from(share) / f64::from(nibble_total(up) as f32);
                }
                acc[i] = value;
                pend[i] = DONE;
                let code = codes[i];
                for d in 0..8 {
                    if (code >> (d * 4)) & 0xF == 0 {
                        continue;
                    }
                    let n = i.wrapping_add_signed(TILE_OFFSETS[d]);
                    let (nx, ny) = (n & TILE_MASK, n >> TILE_BITS);
                    let inner = nx > 0 && ny > 0 && nx < TILE_MASK && ny < TILE_MASK;
                    if pend[n] == UNCOUNTED {
                        if !inner {
                            let (dx, dy) = OFFSETS[d];
                            slow.push((x.wrapping_add_signed(dx), y.wrapping_add_signed(dy)));
                            continue;
                        }
                        pend[n] = count_inside(codes, n);
                    }
                    let left = pend[n];
                    if left == INVALID || left == DONE || left <= READY {
                        continue;
                    }
                    pend[n] = left - 1;
                    if left == READY + 1 {
                        let (dx, dy) = OFFSETS[d];
                        stack.push((x.wrapping_add_signed(dx), y.wrapping_add_signed(dy)));
                    }
                }
                for (xn, yn) in slow.drain(..) {
                    self.decrement(tile, xn, yn, stack, waiting, queued, queue);
                }
                continue;
            }
            if self.left(x, y) != READY {
                continue;
            }
            let mut value = self.accum.get(x, y);
            for d in 0..8 {
                let Some((xn, yn)) = neighbour(x, y, d, cols, rows) else {
                    continue;
                };
                let up = self.dirs.get(xn, yn);
                let share = (up >> (u32::from(INFLOW_OFFSETS[d]) * 4)) & 0xF;
                if share == 0 {
                    continue;
                }
                value +=
                    self.accum.get(xn, yn) * f64::from(share) / f64::from(nibble_total(up) as f32);
            }
            self.accum.set(x, y, value);
            self.pending.set(x, y, DONE);
            let code = self.dirs.get(x, y);
            for d in 0..8 {
                if (code >> (d * 4)) & 0xF == 0 {
                    continue;
                }
                let Some((xn, yn)) = neighbour(x, y, d, cols, rows) else {
                    continue;
                };
                self.decrement(tile, xn, yn, stack, waiting, queued, queue);
            }
        }
    }

    /// One upstream neighbour of `(xn, yn)` summed: counts it down, and when it is ready
    /// stacks it (in `tile`) or lists it for its own tile.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn decrement(
        &mut self,
        tile: usize,
        xn: usize,
        yn: usize,
        stack: &mut Vec<(usize, usize)>,
        waiting: &mut [Vec<(u32, u32)>],
        queued: &mut [bool],
        queue: &mut VecDeque<usize>,
    ) {
        let left = self.left(xn, yn);
        if left == INVALID || left == DONE || left <= READY {
            return;
        }
        self.pending.set(xn, yn, left - 1);
        if left == READY + 1 {
            let t = tile_of(xn, yn, self.dirs.tiles_x());
            if t == tile {
                stack.push((xn, yn));
            } else {
                waiting[t].push((xn as u32, yn as u32));
                if !queued[t] {
                    queued[t] = true;
                    queue.push_back(t);
                }
            }
        }
    }
}

/// The sum of the eight shares of MFD code `code`.
#[inline]
fn nibble_total(code: i32) -> i32 {
    (0..8).map(|k| (code >> (k * 4)) & 0xF).sum()
}

/// The offsets in a tile's row-major slice of the eight neighbours.
const TILE_OFFSETS: [isize; 8] = {
    let mut o = [0isize; 8];
    let mut d = 0;
    while d < 8 {
        o[d] = OFFSETS[d].1 * TILE as isize + OFFSETS[d].0;
        d += 1;
    }
    o
};

/// [`MfdWalk::left`] of pixel `i` of a tile's `codes`, all of whose neighbours are inside.
#[inline]
fn count_inside(codes: &[i32], i: usize) -> u8 {
    if codes[i] == 0 {
        return INVALID;
    }
    let mut upstream = 0;
    for d in 0..8 {
        let share = (codes[i.wrapping_add_signed(TILE_OFFSETS[d])]
            >> (u32::from(INFLOW_OFFSETS[d]) * 4))
            & 0xF;
        upstream += u8::from(share != 0);
    }
    READY + upstream
}
/// Writes `accum` to `target` (Float64 on the grid of `base`), nodata where `pending` says a
/// pixel was never summed (no directions, or on or below a cycle).
pub(crate) fn write(
    accum: &mut Grid<f64>,
    pending: &mut Grid<u8>,
    base: &RasterInfo,
    target: &Path,
) -> Result<()> {
    let (cols, rows) = accum.size();
    let tiles = tile_windows(cols, rows).map(|(_, w)| {
        let mut values = accum.read_window(w);
        for (v, state) in values.iter_mut().zip(pending.read_window(w)) {
            if state != DONE {
                *v = IMPROBABLE_FLOAT_NODATA;
            }
        }
        accum.status()?;
        pending.status()?;
        Ok((w, values))
    });
    write_tiles(
        "writing output",
        tiles,
        base,
        target,
        DataType::F64,
        Some(IMPROBABLE_FLOAT_NODATA),
    )
}

#[cfg(test)]
mod tests {
    use crate::test_rasters::{read, write};
    use crate::{flow_accumulation_mfd, flow_dir_mfd, RasterBand, IMPROBABLE_FLOAT_NODATA};
    use pgp_exec::Executor;
    use proptest::prelude::*;

    /// The definition, in memory: each pixel is its weight plus, in direction order, each
    /// upstream neighbour's accumulation times its share this way, summed depth-first.
    fn definition(codes: &[i32], cols: usize, rows: usize, weights: &[f64]) -> Vec<f64> {
        let mut acc = vec![None; cols * rows];
        let upstream = |i: usize, d: usize| -> Option<(usize, i32)> {
            let (dx, dy) = super::OFFSETS[d];
            let x = (i % cols).wrapping_add_signed(dx);
            let y = (i / cols).wrapping_add_signed(dy);
            if x >= cols || y >= rows {
                return None;
            }
            let n = y * cols + x;
            let share = (codes[n] >> (u32::from(crate::common::INFLOW_OFFSETS[d]) * 4)) & 0xF;
            (share != 0).then_some((n, share))
        };
        for start in 0..cols * rows {
            if codes[start] == 0 || acc[start].is_some() {
                continue;
            }
            let mut stack = vec![start];
            while let Some(&i) = stack.last() {
                let missing =
                    (0..8).find_map(|d| upstream(i, d).filter(|(n, _)| acc[*n].is_none()));
                if let Some((n, _)) = missing {
                    stack.push(n);
                    continue;
                }
                let mut value = weights[i];
                for d in 0..8 {
                    if let Some((n, share)) = upstream(i, d) {
                        let total = super::nibble_total(codes[n]);
                        value += acc[n].unwrap_or(0.0) * f64::from(share) / f64::from(total as f32);
                    }
                }
                acc[i] = Some(value);
                stack.pop();
            }
        }
        acc.into_iter()
            .map(|v| v.unwrap_or(IMPROBABLE_FLOAT_NODATA))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6))]
        // DEMs over several 256-pixel tiles (the walk's unit) with a valley zig-zagging along
        // the tile border, plateaus, nodata lakes and weights with nodata: the walk gives the
        // definition's pixels bit for bit, on one thread and on two.
        #[test]
        fn the_walk_sums_as_the_definition(
            cols in 260usize..300, rows in 257usize..290, weighted: bool,
            seed in proptest::collection::vec(0u8..10, 64),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let n = cols * rows;
            let noise = |i: usize| seed[(i * 31 + i / cols * 7) % seed.len()];
            let dem: Vec<f32> = (0..n)
                .map(|i| {
                    let (x, y) = ((i % cols) as f32, (i / cols) as f32);
                    let valley = 255.5 + ((y / 9.0).sin() * 3.0);
                    if noise(i) == 9 && (i / cols) % 17 == 3 {
                        -1.0
                    } else {
                        ((rows as f32 - y) * 0.25 + (x - valley).abs() * 0.5 + f32::from(noise(i) % 3)).floor()
                    }
                })
                .collect();
            let weights: Vec<f32> = (0..n).map(|i| if noise(i) == 0 { -7.0 } else { f32::from(noise(i)) * 0.37 }).collect();
            let paths = ["dem.tif", "weight.tif", "mfd.tif"].map(|f| dir.path().join(f));
            write(&paths[0], cols, rows, -1.0, dem);
            write(&paths[1], cols, rows, -7.0, weights.clone());
            flow_dir_mfd(&RasterBand::first(&paths[0]), &paths[2], &Executor::sync()).unwrap();
            let codes: Vec<i32> = pgp_core::Raster::open(&paths[2])
                .unwrap()
                .read_as::<i32>(1, pgp_core::Window::full(cols, rows))
                .unwrap()
                .iter()
                .copied()
                .collect();
            let w: Vec<f64> = weights
                .iter()
                .map(|v| if !weighted { 1.0 } else if *v == -7.0 { 0.0 } else { f64::from(*v) })
                .collect();
            let expected = definition(&codes, cols, rows, &w);
            let weight = weighted.then(|| RasterBand::first(&paths[1]));
            for exec in [Executor::sync(), Executor::threads(2).unwrap()] {
                let out = dir.path().join("acc.tif");
                flow_accumulation_mfd(&RasterBand::first(&paths[2]), &out, weight.as_ref(), &exec).unwrap();
                for (i, (a, b)) in expected.iter().zip(read(&out)).enumerate() {
                    prop_assert!(a.to_bits() == b.to_bits(), "pixel ({}, {}): definition {}, walk {}", i % cols, i / cols, a, b);
                }
            }
        }
    }
}
