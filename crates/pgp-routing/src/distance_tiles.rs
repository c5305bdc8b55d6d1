//! Tile-parallel D8 distance to channel.
//!
//! D8 distance is a downstream recurrence: a stream pixel is 0, any other pixel is its step
//! plus the distance of the one pixel it drains to (pygeoprocessing adds `step + downstream`
//! as it walks upstream from each stream pixel). A pixel's value is that one chain of
//! additions in whatever order pixels are visited, so tiles give pygeoprocessing's pixels bit
//! for bit:
//!
//! 1. In parallel, each tile walks upstream from its own stream pixels. For every perimeter
//!    pixel the walk does not reach, it returns the steps down to where the flow leaves the
//!    tile (or ends without reaching a stream), as chains shared where flows join.
//! 2. Serially, the chains are evaluated across tiles (flow has no cycles), adding the steps
//!    in the recurrence's order: this gives the exact distance of every pixel some tile's
//!    flow leaves into.
//! 3. In parallel, each tile walks upstream again, from its stream pixels and from the pixels
//!    whose flow leaves it, each seeded with its step plus the distance of the pixel it
//!    leaves into.
//!
//! Memory: one tile per worker, and the chains, a few numbers per perimeter pixel (more only
//! where long flow paths run to a tile's edge without meeting a stream).

use std::path::{Path, PathBuf};

use pgp_core::{Raster, RasterInfo, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::accumulation_tiles::{inside, perimeter_len, perimeter_pixel, perimeter_position};
use crate::common::{is_close, write_tiles, COL_OFFSETS, ROW_OFFSETS, SQRT2};
use crate::distance::DISTANCE_NODATA;
use crate::error::{Error, Result};

/// The rasters a distance reads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DistanceInputs {
    pub flow_dir: PathBuf,
    pub dir_band: usize,
    pub channels: PathBuf,
    pub channel_band: usize,
    /// Per-step weights: path, band and nodata.
    pub weight: Option<(PathBuf, usize, f64)>,
}

/// One tile of the distance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DistanceJob {
    inputs: DistanceInputs,
    window: Window,
    raster_size: (usize, usize),
    /// The final pass: for each pixel (index in the tile) whose flow leaves the tile into a
    /// pixel with a distance, that distance. `None` in the first pass.
    exits: Option<Vec<(u32, f64)>>,
}

/// Where a pixel's distance comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Link {
    /// It is known inside the tile.
    Known(f64),
    /// There is none: the flow ends without reaching a stream.
    Dead,
    /// Chain node `k` of the tile: its step plus what its next link gives.
    Node(u32),
    /// The pixel at (x, y) of the raster, in another tile.
    Leaves(u32, u32),
}

/// What the first pass learns about a tile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Chains {
    /// By perimeter position.
    starts: Vec<Link>,
    /// The chain nodes' steps and next links.
    steps: Vec<f64>,
    nexts: Vec<Link>,
    /// Perimeter pixels (by position) whose flow leaves the tile, with the raster pixel it
    /// leaves into.
    exits: Vec<(u32, u32, u32)>,
}

/// The result of a [`DistanceOp`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum DistanceOutput {
    Chains(Chains),
    Distances(Vec<f64>),
}

/// The registered operation of both passes.
pub(crate) struct DistanceOp;

remote_tile_op!(DistanceOp, "pgp.routing.d8_distance", DistanceJob => DistanceOutput, run_job);

/// A tile's inputs, row-major.
struct Tile {
    w: usize,
    h: usize,
    dirs: Vec<u8>,
    channel: Vec<bool>,
    /// The step from each pixel to the one it drains to.
    steps: Vec<f64>,
}

fn read_tile(inputs: &DistanceInputs, window: Window) -> Result<Tile> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let dirs: Vec<u8> = Raster::open(&inputs.flow_dir)?
        .read_as::<u8>(inputs.dir_band, window)?
        .iter()
        .copied()
        .collect();
    let channel: Vec<bool> = Raster::open(&inputs.channels)?
        .read_as::<f64>(inputs.channel_band, window)?
        .iter()
        .map(|v| *v == 1.0)
        .collect();
    let steps: Vec<f64> = match &inputs.weight {
        // Without weights a diagonal step (odd code) is sqrt(2), as pygeoprocessing counts it.
        None => dirs
            .iter()
            .map(|d| if d % 2 == 1 { SQRT2 } else { 1.0 })
            .collect(),
        Some((path, band, nodata)) => Raster::open(path)?
            .read_as::<f64>(*band, window)?
            .iter()
            .map(|v| if is_close(*v, *nodata) { 0.0 } else { *v })
            .collect(),
    };
    Ok(Tile {
        w: window.width,
        h: window.height,
        dirs,
        channel,
        steps,
    })
}

/// The raster pixel that pixel `i` of the tile at `window` (whose flow leaves the tile) drains
/// to, if it is in the `cols` x `rows` raster.
fn leaves(
    tile: &Tile,
    window: Window,
    (cols, rows): (usize, usize),
    i: usize,
) -> Option<(u32, u32)> {
    let d = tile.dirs[i] as usize;
    let gx = (window.x_off + i % tile.w) as isize + COL_OFFSETS[d];
    let gy = (window.y_off + i / tile.w) as isize + ROW_OFFSETS[d];
    if gx < 0 || gy < 0 || gx as usize >= cols || gy as usize >= rows {
        return None;
    }
    Some((gx as u32, gy as u32))
}

/// The distances of a tile given those of the pixels its exits leave into (pixel index in
/// the tile, distance): each pixel's step plus the distance of the pixel it drains to, added
/// as pygeoprocessing adds them; `DISTANCE_NODATA` where the flow never meets a stream.
fn distances(tile: &Tile, exits: &[(u32, f64)]) -> Vec<f64> {
    const UNKNOWN: u8 = 0;
    const ON_PATH: u8 = 1;
    const KNOWN: u8 = 2;
    const NONE: u8 = 3;
    let (w, h) = (tile.w, tile.h);
    let mut state = vec![UNKNOWN; w * h];
    let mut dist = vec![DISTANCE_NODATA; w * h];
    for (i, c) in tile.channel.iter().enumerate() {
        if *c {
            state[i] = KNOWN;
            dist[i] = 0.0;
        }
    }
    // What an exit drains to, until the exit itself is evaluated.
    let mut leaving: Vec<Option<f64>> = vec![None; w * h];
    for (i, d) in exits {
        leaving[*i as usize] = Some(*d);
    }
    let mut path: Vec<usize> = Vec::new();
    for first in 0..w * h {
        if state[first] != UNKNOWN {
            continue;
        }
        let mut i = first;
        // The distance below the path's last pixel, if any.
        let base = loop {
            match state[i] {
                KNOWN => break Some(dist[i]),
                NONE | ON_PATH => break None,
                _ => {}
            }
            state[i] = ON_PATH;
            path.push(i);
            let d = tile.dirs[i] as usize;
            if d >= 8 {
                break None;
            }
            match inside(i % w, i / w, d, w, h) {
                Some(n) => i = n,
                None => break leaving[i],
            }
        };
        let mut value = base;
        while let Some(j) = path.pop() {
            value = value.map(|v| tile.steps[j] + v);
            match value {
                Some(v) => {
                    dist[j] = v;
                    state[j] = KNOWN;
                }
                None => state[j] = NONE,
            }
        }
    }
    dist
}

/// The chains of a tile's perimeter pixels: see [`Chains`].
fn chains(tile: &Tile, window: Window, raster_size: (usize, usize)) -> Chains {
    let (w, h) = (tile.w, tile.h);
    let mut chains = Chains::default();
    // The link of each pixel already on a chain.
    let mut link_of: Vec<Option<Link>> = vec![None; w * h];
    let mut on_path = vec![false; w * h];
    let mut path: Vec<usize> = Vec::new();
    for p in 0..perimeter_len(w, h) {
        let (x, y) = perimeter_pixel(p, w, h);
        let mut i = y * w + x;
        let end = loop {
            if tile.channel[i] {
                break Link::Known(0.0);
            }
            if let Some(l) = link_of[i] {
                break l;
            }
            if on_path[i] || tile.dirs[i] >= 8 {
                // A cycle (which flow_dir_d8 never makes) or the end of the flow.
                break Link::Dead;
            }
            on_path[i] = true;
            path.push(i);
            match inside(i % w, i / w, tile.dirs[i] as usize, w, h) {
                Some(n) => i = n,
                None => match leaves(tile, window, raster_size, i) {
                    Some((gx, gy)) => {
                        // Only a perimeter pixel's flow leaves its tile.
                        if let Some(pos) = perimeter_position(i % w, i / w, w, h) {
                            chains.exits.push((pos as u32, gx, gy));
                        }
                        break Link::Leaves(gx, gy);
                    }
                    None => break Link::Dead,
                },
            }
        };
        let mut next = end;
        while let Some(j) = path.pop() {
            on_path[j] = false;
            if next != Link::Dead {
                chains.steps.push(tile.steps[j]);
                chains.nexts.push(next);
                next = Link::Node(chains.steps.len() as u32 - 1);
            }
            link_of[j] = Some(next);
        }
        chains.starts.push(next);
    }
    chains
}

fn run_job(job: &DistanceJob) -> Result<DistanceOutput> {
    let tile = read_tile(&job.inputs, job.window)?;
    Ok(match &job.exits {
        Some(exits) => DistanceOutput::Distances(distances(&tile, exits)),
        None => DistanceOutput::Chains(chains(&tile, job.window, job.raster_size)),
    })
}

/// D8 distance to the channels of `inputs` on the grid of `info`, in tiles of `chunk`
/// pixels, into `target`.
pub(crate) fn distance_tiled(
    inputs: &DistanceInputs,
    info: &RasterInfo,
    target: &Path,
    chunk: usize,
    exec: &Executor,
) -> Result<()> {
    let (cols, rows) = info.raster_size;
    let windows: Vec<Window> = pgp_core::block_windows((cols, rows), (chunk, chunk), 0).collect();
    let tiles_x = cols.div_ceil(chunk).max(1);
    let job = |window: Window, exits: Option<Vec<(u32, f64)>>| DistanceJob {
        inputs: inputs.clone(),
        window,
        raster_size: (cols, rows),
        exits,
    };
    let internal = |what: &str| Error::internal(&inputs.flow_dir, what);
    let mut ticker = crate::common::Ticker::start(
        "distance_to_channel_d8: tiles alone",
        "tiles",
        windows.len(),
    );
    let mut tiles: Vec<Chains> = Vec::with_capacity(windows.len());
    for result in exec.map_ordered_op::<DistanceOp>(windows.iter().map(|w| job(*w, None))) {
        let DistanceOutput::Chains(c) = result? else {
            return Err(internal("the first pass returned distances"));
        };
        tiles.push(c);
        ticker.advance(1);
    }
    drop(ticker);
    // Chain nodes of all tiles, numbered tile after tile.
    let mut offsets = Vec::with_capacity(tiles.len());
    let mut total = 0usize;
    for c in &tiles {
        offsets.push(total);
        total += c.steps.len();
    }
    // A link as a global one: Known, Dead, or a global node.
    let start_of = |gx: u32, gy: u32| -> Result<Link> {
        let (gx, gy) = (gx as usize, gy as usize);
        let t = (gy / chunk) * tiles_x + gx / chunk;
        let w = windows[t];
        let p = perimeter_position(gx - w.x_off, gy - w.y_off, w.width, w.height)
            .ok_or_else(|| internal("a flow enters a tile off its perimeter"))?;
        Ok(match tiles[t].starts[p] {
            Link::Node(k) => Link::Node((offsets[t] + k as usize) as u32),
            other => other,
        })
    };
    let mut steps: Vec<f64> = Vec::with_capacity(total);
    let mut nexts: Vec<Link> = Vec::with_capacity(total);
    for (t, c) in tiles.iter().enumerate() {
        steps.extend_from_slice(&c.steps);
        for next in &c.nexts {
            nexts.push(match *next {
                Link::Node(k) => Link::Node((offsets[t] + k as usize) as u32),
                Link::Leaves(gx, gy) => start_of(gx, gy)?,
                other => other,
            });
        }
    }
    // Evaluate the nodes, each after the one it drains to.
    const PENDING: u8 = 0;
    const ON_STACK: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![PENDING; total];
    let mut values: Vec<Option<f64>> = vec![None; total];
    let mut stack: Vec<usize> = Vec::new();
    for n in 0..total {
        if state[n] != PENDING {
            continue;
        }
        stack.push(n);
        state[n] = ON_STACK;
        let mut base = loop {
            let top = stack[stack.len() - 1];
            match nexts[top] {
                Link::Known(v) => break Some(v),
                Link::Node(k) => {
                    let k = k as usize;
                    match state[k] {
                        DONE => break values[k],
                        ON_STACK => break None,
                        _ => {
                            state[k] = ON_STACK;
                            stack.push(k);
                        }
                    }
                }
                _ => break None,
            }
        };
        while let Some(m) = stack.pop() {
            base = base.map(|b| steps[m] + b);
            values[m] = base;
            state[m] = DONE;
        }
    }
    drop(nexts);
    drop(steps);
    let mut exits: Vec<Vec<(u32, f64)>> = vec![Vec::new(); windows.len()];
    for (t, c) in tiles.iter().enumerate() {
        let w = windows[t];
        for &(p, gx, gy) in &c.exits {
            let d = match start_of(gx, gy)? {
                Link::Known(v) => Some(v),
                Link::Node(k) => values[k as usize],
                _ => None,
            };
            if let Some(d) = d {
                let (x, y) = perimeter_pixel(p as usize, w.width, w.height);
                exits[t].push(((y * w.width + x) as u32, d));
            }
        }
    }
    drop(tiles);
    drop(values);
    let jobs = windows.iter().zip(exits).map(|(w, e)| job(*w, Some(e)));
    let results = exec.map_ordered_op::<DistanceOp>(jobs);
    let out = windows
        .iter()
        .zip(results)
        .map(|(w, result)| match result? {
            DistanceOutput::Distances(d) => Ok((*w, d)),
            DistanceOutput::Chains(_) => Err(internal("the final pass returned no distances")),
        });
    write_tiles(
        "distance_to_channel_d8: tiles with their exits",
        out,
        info,
        target,
        pgp_core::DataType::F64,
        Some(DISTANCE_NODATA),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rasters::{read, write};
    use proptest::prelude::*;

    /// The definition, pixel by pixel: follow the flow down to a stream, then add the steps
    /// back up from it.
    fn by_definition(dirs: &[u8], streams: &[u8], steps: &[f64], cols: usize) -> Vec<f64> {
        let rows = dirs.len() / cols;
        (0..dirs.len())
            .map(|start| {
                let mut path = Vec::new();
                let mut i = start;
                loop {
                    if streams[i] == 1 {
                        break;
                    }
                    let d = dirs[i] as usize;
                    if d >= 8 || path.len() > dirs.len() {
                        return DISTANCE_NODATA;
                    }
                    path.push(i);
                    let x = (i % cols) as isize + COL_OFFSETS[d];
                    let y = (i / cols) as isize + ROW_OFFSETS[d];
                    if x < 0 || y < 0 || x as usize >= cols || y as usize >= rows {
                        return DISTANCE_NODATA;
                    }
                    i = y as usize * cols + x as usize;
                }
                path.iter().rev().fold(0.0, |v, j| steps[*j] + v)
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100))]
        // Any directions (nodata, cycles, flow off the edge), streams with nodata, weights with
        // nodata; any tile size down to one pixel: every pixel is the definition's, bit for bit.
        #[test]
        fn tiles_give_the_definitions_distances(
            cols in 1usize..24, rows in 1usize..24, chunk in 1usize..10, weighted: bool,
            cells in proptest::collection::vec((0u8..9, 0u8..12, -2.0f64..5.0), 576),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let n = cols * rows;
            let dirs: Vec<u8> = cells[..n].iter().map(|c| if c.0 == 8 { 128 } else { c.0 }).collect();
            let streams: Vec<u8> = cells[..n]
                .iter()
                .map(|c| match c.1 { 0 | 1 => 1, 2 => 255, _ => 0 })
                .collect();
            let weights: Vec<f64> = cells[..n]
                .iter()
                .map(|c| if c.2 < -1.5 { -9.0 } else { c.2 })
                .collect();
            let paths = ["d8.tif", "streams.tif", "weight.tif"].map(|f| dir.path().join(f));
            write(&paths[0], cols, rows, 128.0, dirs.clone());
            write(&paths[1], cols, rows, 255.0, streams.clone());
            write(&paths[2], cols, rows, -9.0, weights.clone());
            let steps: Vec<f64> = if weighted {
                weights.iter().map(|w| if *w == -9.0 { 0.0 } else { *w }).collect()
            } else {
                dirs.iter().map(|d| if d % 2 == 1 { SQRT2 } else { 1.0 }).collect()
            };
            let inputs = DistanceInputs {
                flow_dir: paths[0].clone(),
                dir_band: 1,
                channels: paths[1].clone(),
                channel_band: 1,
                weight: weighted.then(|| (paths[2].clone(), 1, -9.0)),
            };
            let info = pgp_core::raster_info(&paths[0]).unwrap();
            let target = dir.path().join("dist.tif");
            distance_tiled(&inputs, &info, &target, chunk, &Executor::sync()).unwrap();
            let got = read(&target);
            let want = by_definition(&dirs, &streams, &steps, cols);
            for (i, (a, b)) in want.iter().zip(&got).enumerate() {
                prop_assert!(a.to_bits() == b.to_bits(), "pixel ({}, {}): definition {}, tiles of {} {}", i % cols, i / cols, a, chunk, b);
            }
        }
    }
}
