//! Tile-parallel D8 flow accumulation without decay (after Barnes' parallel flow accumulation,
//! 2017).
//!
//! Without weights every accumulation is a count of pixels, so sums are exact in any order and
//! this gives pygeoprocessing's pixels bit for bit; with weights the same terms are added in
//! another (fixed) order, so sums agree with pygeoprocessing's to rounding:
//!
//! 1. In parallel, each tile sums its own upstream weights (a topological pass over the tile's
//!    directions, as if nothing flowed in from outside) and, for every perimeter pixel, the
//!    perimeter pixel through which its flow leaves the tile (if it does).
//! 2. Serially, on the perimeters only: a pixel whose flow crosses into another tile adds its
//!    total to every pixel down to where that flow leaves the next tile; taken in topological
//!    order (flow has no cycles) this gives each crossing pixel its total.
//! 3. Serially, what flows into each tile across its edges is added to the tile's sums along
//!    its flow path, to where it leaves the tile (the rest of a tile does not change).
//!
//! The tiles' sums and directions wait for step 3 in bounded tile caches ([`Grid`]), so the
//! inputs are read (and decoded) once. Memory: one tile per worker, the caches, and a few
//! numbers per perimeter pixel of the raster.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use pgp_core::{Raster, RasterInfo, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::common::{
    is_close, scratch_dir, write_grid, Ticker, COL_OFFSETS, IMPROBABLE_FLOAT_NODATA, ROW_OFFSETS,
};
use crate::error::Result;
use crate::grid::Grid;

/// A direction code that is no direction.
const NO_DIR: u8 = u8::MAX;
/// A perimeter pixel whose flow ends inside its tile.
const STAYS: u32 = u32::MAX;

/// One tile of the accumulation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CountJob {
    path: PathBuf,
    band: usize,
    window: Window,
    dir_nodata: i32,
    /// Per-pixel weights (every pixel weighs 1 without).
    weight: Option<WeightBand>,
}

/// A weight raster's band and nodata (pixels matching it weigh 0).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WeightBand {
    pub(crate) path: PathBuf,
    pub(crate) band: usize,
    pub(crate) nodata: f64,
}

impl WeightBand {
    /// The weights of `window`, row-major, nodata as 0.
    pub(crate) fn read(&self, window: Window) -> Result<Vec<f64>> {
        let raster = Raster::open(&self.path)?;
        let block = raster.read_as::<f64>(self.band, window)?;
        Ok(block
            .iter()
            .map(|v| if is_close(*v, self.nodata) { 0.0 } else { *v })
            .collect())
    }
}

/// What the first pass learns about a tile's perimeter, by perimeter position
/// ([`perimeter_position`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Perimeter {
    /// Direction code (`NO_DIR` when invalid).
    dirs: Vec<u8>,
    /// The position of the perimeter pixel through which the flow leaves the tile, or `STAYS`.
    exits: Vec<u32>,
    /// Count of the pixel as if nothing flowed in from outside the tile.
    local: Vec<f64>,
}

/// The registered operation of step 1.
pub(crate) struct CountOp;

/// The result of a [`CountOp`]: the tile's perimeter, and its directions (`NO_DIR` where
/// invalid) and sums (nodata where invalid), row-major.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CountOutput {
    perimeter: Perimeter,
    dirs: Vec<u8>,
    sums: Vec<f64>,
}

remote_tile_op!(CountOp, "pgp.routing.d8_counts", CountJob => CountOutput, run_job);

/// Pixels on the perimeter of a `w` x `h` tile.
pub(crate) fn perimeter_len(w: usize, h: usize) -> usize {
    if h == 1 {
        w
    } else if w == 1 {
        h
    } else {
        2 * w + 2 * (h - 2)
    }
}

/// The position of `(x, y)` on the perimeter of a `w` x `h` tile: top row, bottom row, left
/// column, right column (corners in the rows).
pub(crate) fn perimeter_position(x: usize, y: usize, w: usize, h: usize) -> Option<usize> {
    if y == 0 {
        Some(x)
    } else if y == h - 1 {
        Some(w + x)
    } else if x == 0 {
        Some(2 * w + (y - 1))
    } else if x == w - 1 {
        Some(2 * w + (h - 2) + (y - 1))
    } else {
        None
    }
}

/// The pixel of a `w` x `h` tile at perimeter position `p`.
pub(crate) fn perimeter_pixel(p: usize, w: usize, h: usize) -> (usize, usize) {
    if h == 1 || p < w {
        (p, 0)
    } else if p < 2 * w && w > 1 {
        (p - w, h - 1)
    } else if w == 1 {
        // A one-pixel-wide tile: top, bottom, then the column between.
        if p == 1 {
            (0, h - 1)
        } else {
            (0, p - 1)
        }
    } else if p < 2 * w + (h - 2) {
        (0, p - 2 * w + 1)
    } else {
        (w - 1, p - 2 * w - (h - 2) + 1)
    }
}

/// The neighbour of `(x, y)` in direction `d` inside a `w` x `h` tile.
#[inline]
pub(crate) fn inside(x: usize, y: usize, d: usize, w: usize, h: usize) -> Option<usize> {
    let xn = x as isize + COL_OFFSETS[d];
    let yn = y as isize + ROW_OFFSETS[d];
    if xn < 0 || yn < 0 || xn as usize >= w || yn as usize >= h {
        None
    } else {
        Some(yn as usize * w + xn as usize)
    }
}

/// Accumulations of a tile: each valid pixel is its weight (1 without weights) plus its inflow
/// plus what flows into it inside the tile; `None` for invalid ones.
fn count(
    dirs: &[u8],
    w: usize,
    h: usize,
    weights: Option<&[f64]>,
    inflow: &[f64],
) -> Vec<Option<f64>> {
    let mut upstream = vec![0u8; w * h];
    for i in 0..w * h {
        if dirs[i] == NO_DIR {
            continue;
        }
        if let Some(n) = inside(i % w, i / w, dirs[i] as usize, w, h) {
            if dirs[n] != NO_DIR {
                upstream[n] += 1;
            }
        }
    }
    let mut counts: Vec<Option<f64>> = vec![None; w * h];
    let mut sums: Vec<f64> = inflow.to_vec();
    let mut ready: VecDeque<usize> = (0..w * h)
        .filter(|i| dirs[*i] != NO_DIR && upstream[*i] == 0)
        .collect();
    while let Some(i) = ready.pop_front() {
        let total = weights.map_or(1.0, |ws| ws[i]) + sums[i];
        counts[i] = Some(total);
        if let Some(n) = inside(i % w, i / w, dirs[i] as usize, w, h) {
            if dirs[n] != NO_DIR {
                sums[n] += total;
                upstream[n] -= 1;
                if upstream[n] == 0 {
                    ready.push_back(n);
                }
            }
        }
    }
    counts
}

fn run_job(job: &CountJob) -> Result<CountOutput> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let raster = Raster::open(&job.path)?;
    // Read as bytes, as the serial walk reads directions.
    let block = raster.read_as::<u8>(job.band, job.window)?;
    drop(raster);
    let (w, h) = (job.window.width, job.window.height);
    let dirs: Vec<u8> = block
        .iter()
        .map(|d| {
            if i32::from(*d) != job.dir_nodata && *d < 8 {
                *d
            } else {
                NO_DIR
            }
        })
        .collect();
    let inflow = vec![0.0; w * h];
    let weights = match &job.weight {
        Some(band) => Some(band.read(job.window)?),
        None => None,
    };
    let counts = count(&dirs, w, h, weights.as_deref(), &inflow);
    let n = perimeter_len(w, h);
    let mut perimeter = Perimeter {
        dirs: Vec::with_capacity(n),
        exits: Vec::with_capacity(n),
        local: Vec::with_capacity(n),
    };
    for p in 0..n {
        let (x, y) = perimeter_pixel(p, w, h);
        let mut i = y * w + x;
        perimeter.dirs.push(dirs[i]);
        perimeter.local.push(counts[i].unwrap_or(0.0));
        // Follow the flow to where it leaves the tile (at most w * h steps: no cycles).
        let mut exit = STAYS;
        for _ in 0..w * h {
            if dirs[i] == NO_DIR {
                break;
            }
            match inside(i % w, i / w, dirs[i] as usize, w, h) {
                Some(n) if dirs[n] != NO_DIR => i = n,
                Some(_) => break,
                None => {
                    exit = perimeter_position(i % w, i / w, w, h).map_or(STAYS, |p| p as u32);
                    break;
                }
            }
        }
        perimeter.exits.push(exit);
    }
    Ok(CountOutput {
        perimeter,
        dirs,
        sums: counts
            .into_iter()
            .map(|c| c.unwrap_or(IMPROBABLE_FLOAT_NODATA))
            .collect(),
    })
}

/// Stores `values` (row-major) at `window` of `grid`: a whole grid tile at once when the window
/// is one.
fn put_window<T: crate::grid::Cell>(grid: &mut Grid<T>, window: Window, values: &[T]) {
    use crate::grid::TILE;
    let (x0, y0) = (window.x_off, window.y_off);
    if x0 % TILE == 0 && y0 % TILE == 0 && window.width <= TILE && window.height <= TILE {
        let tile = (y0 / TILE) * grid.tiles_x() + x0 / TILE;
        let data = grid.tile_mut(tile);
        for (r, row) in values.chunks_exact(window.width).enumerate() {
            data[r * TILE..r * TILE + window.width].copy_from_slice(row);
        }
        return;
    }
    for (i, v) in values.iter().enumerate() {
        grid.set(x0 + i % window.width, y0 + i / window.width, *v);
    }
}

/// Undecayed D8 accumulation of `path` (band `band`), weighted by `weight` if given, into
/// `target`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn accumulate_tiled(
    path: &Path,
    band: usize,
    info: &RasterInfo,
    dir_nodata: i32,
    weight: Option<WeightBand>,
    target: &Path,
    chunk: usize,
    exec: &Executor,
) -> Result<()> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let (cols, rows) = info.raster_size;
    let windows: Vec<Window> = pgp_core::block_windows((cols, rows), (chunk, chunk), 0).collect();
    let tiles_x = cols.div_ceil(chunk).max(1);
    let job = |window: Window| CountJob {
        path: path.to_path_buf(),
        band,
        window,
        dir_nodata,
        weight: weight.clone(),
    };
    let scratch = scratch_dir(target);
    let budget = crate::grid::cache_budget();
    let mut sums = Grid::<f64>::new(
        cols,
        rows,
        IMPROBABLE_FLOAT_NODATA,
        budget / 9 * 8,
        &scratch,
    );
    let mut dirs = Grid::<u8>::new(cols, rows, NO_DIR, budget / 9, &scratch);
    let mut perimeters = Vec::with_capacity(windows.len());
    let mut offsets = Vec::with_capacity(windows.len() + 1);
    let mut total = 0usize;
    let mut ticker = crate::common::Ticker::start(
        "flow_accumulation_d8: counting tiles",
        "tiles",
        windows.len(),
    );
    for (w, result) in windows
        .iter()
        .zip(exec.map_ordered_op::<CountOp>(windows.iter().map(|w| job(*w))))
    {
        let CountOutput {
            perimeter: p,
            dirs: tile_dirs,
            sums: tile_sums,
        } = result?;
        put_window(&mut dirs, *w, &tile_dirs);
        put_window(&mut sums, *w, &tile_sums);
        offsets.push(total);
        total += p.dirs.len();
        perimeters.push(p);
        ticker.advance(1);
    }
    drop(ticker);
    offsets.push(total);
    // The pixel (tile, perimeter position) a crossing perimeter pixel flows into.
    let downstream = |t: usize, p: usize| -> Option<(usize, usize)> {
        let w = windows[t];
        let d = perimeters[t].dirs[p];
        if d == NO_DIR {
            return None;
        }
        let (x, y) = perimeter_pixel(p, w.width, w.height);
        let gx = (w.x_off + x) as isize + COL_OFFSETS[d as usize];
        let gy = (w.y_off + y) as isize + ROW_OFFSETS[d as usize];
        if gx < 0 || gy < 0 || gx as usize >= cols || gy as usize >= rows {
            return None;
        }
        let (gx, gy) = (gx as usize, gy as usize);
        let (tx, ty) = (gx / chunk, gy / chunk);
        let tn = ty * tiles_x + tx;
        if tn == t {
            return None;
        }
        let wn = windows[tn];
        let pn = perimeter_position(gx - wn.x_off, gy - wn.y_off, wn.width, wn.height)?;
        (perimeters[tn].dirs[pn] != NO_DIR).then_some((tn, pn))
    };
    // Totals of crossing pixels, in topological order over the crossings.
    let mut totals: Vec<f64> = Vec::with_capacity(total);
    let mut waiting = vec![0u32; total];
    for p in &perimeters {
        totals.extend_from_slice(&p.local);
    }
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for t in 0..windows.len() {
        for p in 0..perimeters[t].dirs.len() {
            if perimeters[t].exits[p] as usize != p {
                continue;
            }
            if let Some((tn, pn)) = downstream(t, p) {
                let exit = perimeters[tn].exits[pn];
                if exit != STAYS {
                    let target_node = offsets[tn] + exit as usize;
                    waiting[target_node] += 1;
                    edges.push((offsets[t] + p, target_node));
                }
            }
        }
    }
    let mut crossing_target = vec![usize::MAX; total];
    for (from, to) in &edges {
        crossing_target[*from] = *to;
    }
    drop(edges);
    let mut ready: VecDeque<usize> = (0..total)
        .filter(|n| crossing_target[*n] != usize::MAX && waiting[*n] == 0)
        .collect();
    while let Some(n) = ready.pop_front() {
        let to = crossing_target[n];
        totals[to] += totals[n];
        waiting[to] -= 1;
        if waiting[to] == 0 && crossing_target[to] != usize::MAX {
            ready.push_back(to);
        }
    }
    drop(waiting);
    drop(crossing_target);
    // What flows into each tile across its edges, added along its path to where it leaves.
    let mut ticker = Ticker::start(
        "flow_accumulation_d8: adding inflows",
        "tiles",
        windows.len(),
    );
    for t in 0..windows.len() {
        for p in 0..perimeters[t].dirs.len() {
            if perimeters[t].exits[p] as usize != p {
                continue;
            }
            let Some((tn, pn)) = downstream(t, p) else {
                continue;
            };
            let inflow = totals[offsets[t] + p];
            let wn = windows[tn];
            let (x, y) = perimeter_pixel(pn, wn.width, wn.height);
            let (mut x, mut y) = (wn.x_off + x, wn.y_off + y);
            // At most the tile's area steps: flow has no cycles.
            for _ in 0..wn.area() {
                let d = dirs.get(x, y);
                if d == NO_DIR {
                    break;
                }
                let sum = sums.get(x, y) + inflow;
                sums.set(x, y, sum);
                let gx = x as isize + COL_OFFSETS[d as usize];
                let gy = y as isize + ROW_OFFSETS[d as usize];
                let inside_tile = gx >= wn.x_off as isize
                    && gy >= wn.y_off as isize
                    && (gx as usize) < wn.x_off + wn.width
                    && (gy as usize) < wn.y_off + wn.height;
                if !inside_tile {
                    break;
                }
                (x, y) = (gx as usize, gy as usize);
            }
        }
        ticker.advance(1);
    }
    drop(ticker);
    drop(perimeters);
    drop(totals);
    dirs.status()?;
    write_grid(
        &mut sums,
        info,
        target,
        pgp_core::DataType::F64,
        Some(IMPROBABLE_FLOAT_NODATA),
        |v: f64| v,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rasters::{read, write};
    use crate::{flow_dir_d8, RasterBand};
    use proptest::prelude::*;

    /// Directions of a DEM of `cells` (8 for nodata) written to `dir`.
    fn directions(dir: &Path, cols: usize, rows: usize, cells: &[u8]) -> PathBuf {
        let dem = dir.join("dem.tif");
        let values: Vec<f32> = cells[..cols * rows]
            .iter()
            .map(|c| if *c == 8 { -1.0 } else { f32::from(*c) })
            .collect();
        write(&dem, cols, rows, -1.0, values);
        let d8 = dir.join("d8.tif");
        flow_dir_d8(&RasterBand::first(&dem), &d8, &Executor::sync()).unwrap();
        d8
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(120))]
        // Directions of any DEM (plateaus, nodata, one-pixel-wide rasters), any tile size down
        // to one pixel: the tiles' counts are the serial walk's, bit for bit.
        #[test]
        fn tiles_count_as_the_serial_walk(
            cols in 1usize..30, rows in 1usize..30, chunk in 1usize..12,
            cells in proptest::collection::vec(0u8..9, 900),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let d8 = directions(dir.path(), cols, rows, &cells);
            let exec = Executor::sync();
            let band = RasterBand::first(&d8);
            let (raster, info) = band.open().unwrap();
            let serial = dir.path().join("serial.tif");
            crate::accumulation::d8_serial(&band, raster, &info, 128, &serial, &Default::default()).unwrap();
            let tiled = dir.path().join("tiled.tif");
            accumulate_tiled(&d8, 1, &info, 128, None, &tiled, chunk, &exec).unwrap();
            let (a, b) = (read(&serial), read(&tiled));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                prop_assert!(x.to_bits() == y.to_bits(), "pixel ({}, {}): serial {}, tiles of {} {}", i % cols, i / cols, x, chunk, y);
            }
        }

        // With weights (some nodata, some negative): the tiles add the serial walk's terms in
        // another order, so they agree to rounding, and nodata where it has nodata.
        #[test]
        fn weighted_tiles_sum_as_the_serial_walk(
            cols in 1usize..30, rows in 1usize..30, chunk in 1usize..12,
            cells in proptest::collection::vec(0u8..9, 900),
            weights in proptest::collection::vec(-50i32..1000, 900),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let d8 = directions(dir.path(), cols, rows, &cells);
            let weight = dir.path().join("weight.tif");
            // -50..0 are nodata (-7), the rest weigh from -0.5 to ~10 in steps of 0.01.
            let values: Vec<f32> = weights[..cols * rows]
                .iter()
                .map(|w| if *w < 0 { -7.0 } else { (*w - 50) as f32 / 100.0 })
                .collect();
            write(&weight, cols, rows, -7.0, values);
            let band = RasterBand::first(&d8);
            let (raster, info) = band.open().unwrap();
            let serial = dir.path().join("serial.tif");
            let options = crate::D8AccumulationOptions {
                weight: Some(RasterBand::first(&weight)),
                ..Default::default()
            };
            crate::accumulation::d8_serial(&band, raster, &info, 128, &serial, &options).unwrap();
            let tiled = dir.path().join("tiled.tif");
            let weight_band = WeightBand { path: weight.clone(), band: 1, nodata: -7.0 };
            accumulate_tiled(&d8, 1, &info, 128, Some(weight_band), &tiled, chunk, &Executor::sync()).unwrap();
            let (a, b) = (read(&serial), read(&tiled));
            let scale: f64 = weights[..cols * rows].iter().map(|w| f64::from((w - 50).abs()) / 100.0).sum();
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                // Cancelling terms: the bound is relative to the sum of magnitudes.
                prop_assert!((x - y).abs() <= 1e-12 * scale.max(1.0), "pixel ({}, {}): serial {}, tiles of {} {}", i % cols, i / cols, x, chunk, y);
            }
        }
    }
}
