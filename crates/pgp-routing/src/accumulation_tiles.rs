//! Tile-parallel unweighted D8 flow accumulation (after Barnes' parallel flow accumulation,
//! 2017).
//!
//! Without weights or decay every accumulation is a count of pixels, so sums are exact in any
//! order and this gives pygeoprocessing's pixels bit for bit:
//!
//! 1. In parallel, each tile counts its own upstream pixels (a topological pass over the tile's
//!    directions, as if nothing flowed in from outside) and, for every perimeter pixel, the
//!    perimeter pixel through which its flow leaves the tile (if it does).
//! 2. Serially, on the perimeters only: a pixel whose flow crosses into another tile adds its
//!    total to every pixel down to where that flow leaves the next tile; taken in topological
//!    order (flow has no cycles) this gives each crossing pixel its total.
//! 3. In parallel, each tile counts again with what flows in across its edges added.
//!
//! Memory: one tile per worker, and a few numbers per perimeter pixel of the raster.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use pgp_core::{Raster, RasterInfo, Window};
use pgp_exec::{Executor, RemoteOp};
use serde::{Deserialize, Serialize};

use crate::common::{write_tiles, COL_OFFSETS, IMPROBABLE_FLOAT_NODATA, ROW_OFFSETS};
use crate::error::{Error, Result};

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
    /// What flows in across the tile's edges: `(pixel index in the tile, count)`. `None` in the
    /// first pass.
    inflows: Option<Vec<(u32, f64)>>,
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

/// The registered operation of both passes: the first returns the tile's [`Perimeter`], the
/// final one (given inflows) the tile's counts as little-endian `f64`s, row-major.
pub(crate) struct CountOp;

/// The result of a [`CountOp`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum CountOutput {
    Perimeter(Perimeter),
    Counts(Vec<u8>),
}

impl RemoteOp for CountOp {
    const NAME: &'static str = "pgp.routing.d8_counts";
    type Args = CountJob;
    type Output = CountOutput;
    fn run(job: CountJob) -> std::result::Result<CountOutput, String> {
        run_job(&job).map_err(|e| e.to_string())
    }
}

pgp_exec::register_op!(CountOp);

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

/// Counts of a tile: each valid pixel is 1 plus its inflow plus what flows into it inside the
/// tile; `None` for invalid ones.
fn count(dirs: &[u8], w: usize, h: usize, inflow: &[f64]) -> Vec<Option<f64>> {
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
        let total = 1.0 + sums[i];
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
    let mut inflow = vec![0.0; w * h];
    for (i, v) in job.inflows.iter().flatten() {
        inflow[*i as usize] += v;
    }
    let counts = count(&dirs, w, h, &inflow);
    if job.inflows.is_some() {
        let mut bytes = Vec::with_capacity(w * h * 8);
        for c in &counts {
            bytes.extend_from_slice(&c.unwrap_or(IMPROBABLE_FLOAT_NODATA).to_le_bytes());
        }
        return Ok(CountOutput::Counts(bytes));
    }
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
    Ok(CountOutput::Perimeter(perimeter))
}

/// Unweighted, undecayed D8 accumulation of `path` (band `band`) into `target`.
pub(crate) fn accumulate_tiled(
    path: &Path,
    band: usize,
    info: &RasterInfo,
    dir_nodata: i32,
    target: &Path,
    chunk: usize,
    exec: &Executor,
) -> Result<()> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let (cols, rows) = info.raster_size;
    let windows: Vec<Window> = pgp_core::block_windows((cols, rows), (chunk, chunk), 0).collect();
    let tiles_x = cols.div_ceil(chunk).max(1);
    let job = |window: Window, inflows: Option<Vec<(u32, f64)>>| CountJob {
        path: path.to_path_buf(),
        band,
        window,
        dir_nodata,
        inflows,
    };
    let internal =
        |what: &str| Error::invalid(path.display().to_string(), format!("internal: {what}"));
    let mut perimeters = Vec::with_capacity(windows.len());
    let mut offsets = Vec::with_capacity(windows.len() + 1);
    let mut total = 0usize;
    let mut ticker = crate::common::Ticker::start(
        "flow_accumulation_d8: counting tiles",
        "tiles",
        windows.len(),
    );
    for result in exec.map_ordered_op::<CountOp>(windows.iter().map(|w| job(*w, None))) {
        let CountOutput::Perimeter(p) = result? else {
            return Err(internal("the first pass returned counts"));
        };
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
    // What flows into each tile across its edges.
    let mut inflows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); windows.len()];
    for t in 0..windows.len() {
        for p in 0..perimeters[t].dirs.len() {
            if perimeters[t].exits[p] as usize != p {
                continue;
            }
            if let Some((tn, pn)) = downstream(t, p) {
                let wn = windows[tn];
                let (x, y) = perimeter_pixel(pn, wn.width, wn.height);
                inflows[tn].push(((y * wn.width + x) as u32, totals[offsets[t] + p]));
            }
        }
    }
    drop(perimeters);
    drop(totals);
    let jobs = windows
        .iter()
        .zip(inflows)
        .map(|(w, inflow)| job(*w, Some(inflow)));
    let results = exec.map_ordered_op::<CountOp>(jobs);
    let tiles = windows
        .iter()
        .zip(results)
        .map(|(w, result)| match result? {
            CountOutput::Counts(bytes) => Ok((
                *w,
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .collect::<Vec<f64>>(),
            )),
            CountOutput::Perimeter(_) => Err(internal("the final pass returned no counts")),
        });
    write_tiles(
        "flow_accumulation_d8: counting with inflows",
        tiles,
        info,
        target,
        pgp_core::DataType::F64,
        Some(IMPROBABLE_FLOAT_NODATA),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{flow_dir_d8, RasterBand};
    use pgp_core::{DataType, GeoTransform, OutputRaster, RasterSpec};
    use proptest::prelude::*;

    fn read(path: &Path) -> Vec<f64> {
        let r = Raster::open(path).unwrap();
        let (c, rows) = r.size();
        r.read::<f64>(1, Window::full(c, rows))
            .unwrap()
            .iter()
            .copied()
            .collect()
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
            let dem = dir.path().join("dem.tif");
            let spec = RasterSpec::new(cols, rows, DataType::F32, GeoTransform::north_up(0.0, 0.0, 1.0, -1.0))
                .nodata(Some(-1.0));
            let values: Vec<f32> = cells[..cols * rows]
                .iter()
                .map(|c| if *c == 8 { -1.0 } else { f32::from(*c) })
                .collect();
            let mut out = OutputRaster::create(&dem, &spec).unwrap();
            let a = ndarray::Array2::from_shape_vec((rows, cols), values).unwrap();
            out.raster().write(1, 0, 0, a.view()).unwrap();
            out.commit().unwrap();
            let exec = Executor::sync();
            let d8 = dir.path().join("d8.tif");
            flow_dir_d8(&RasterBand::first(&dem), &d8, &exec).unwrap();
            let band = RasterBand::first(&d8);
            let (raster, info) = band.open().unwrap();
            let serial = dir.path().join("serial.tif");
            crate::accumulation::d8_serial(&band, raster, &info, 128, &serial, &Default::default()).unwrap();
            let tiled = dir.path().join("tiled.tif");
            accumulate_tiled(&d8, 1, &info, 128, &tiled, chunk, &exec).unwrap();
            let (a, b) = (read(&serial), read(&tiled));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                prop_assert!(x.to_bits() == y.to_bits(), "pixel ({}, {}): serial {}, tiles of {} {}", i % cols, i / cols, x, chunk, y);
            }
        }
    }
}
