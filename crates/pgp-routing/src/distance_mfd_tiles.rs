//! Tile-parallel MFD distance to channel.
//!
//! An MFD distance is a function of the distances downstream: 0 on a stream, otherwise the
//! flow-weighted mean of `step + distance` over the downstream neighbours that have one,
//! summed in direction order (pygeoprocessing's depth-first walk computes each pixel once all
//! its downstream neighbours are done). On directions without cycles, which `flow_dir_mfd`
//! makes, every pixel's value is that one sum whatever order pixels are visited in, so tiles
//! give pygeoprocessing's pixels bit for bit:
//!
//! 1. In parallel, each tile evaluates what depends only on itself. For every perimeter
//!    pixel left open (its flow reaches another tile), it returns the pixels it depends on
//!    that are open too, each with its terms (flow share, step, and a known distance, another
//!    open pixel or a pixel of another tile).
//! 2. Serially, those pixels are evaluated across tiles, downstream first.
//! 3. In parallel, each tile evaluates again with the distances of the one-pixel ring around
//!    it known.

use std::path::Path;

use pgp_core::tiles::TileLayout;
use pgp_core::{Raster, RasterInfo, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::accumulation_tiles::{perimeter_len, perimeter_pixel, perimeter_position};
use crate::blocks::Halo;
use crate::common::{
    encoded_output, is_close, write_tile_values, TileValues, COL_OFFSETS, ROW_OFFSETS, SQRT2,
};
use crate::distance::DISTANCE_NODATA;
use crate::distance_tiles::DistanceInputs;
use crate::error::{Error, Result};

/// One tile of the distance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MfdDistanceJob {
    inputs: DistanceInputs,
    window: Window,
    raster_size: (usize, usize),
    /// The final pass: the distances of the ring of pixels around the tile, by perimeter
    /// position of the tile grown by one pixel each side (unused where off the raster).
    /// `None` in the first pass.
    ring: Option<Vec<f64>>,
    /// The output's layout when the final pass compresses its tile itself.
    layout: Option<TileLayout>,
}

/// What a term's distance is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
enum Target {
    Known(f64),
    /// Open pixel `k` of the tile.
    Node(u32),
    /// The pixel at (x, y) of the raster, in another tile.
    Ring(u32, u32),
}

/// What the first pass learns about a tile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct OpenPixels {
    /// By perimeter position.
    starts: Vec<Target>,
    /// Node `k`'s terms are `terms[first[k]..first[k + 1]]`: flow share, step, target.
    first: Vec<u32>,
    terms: Vec<(u8, f64, Target)>,
}

/// The result of a [`MfdDistanceOp`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum MfdDistanceOutput {
    Open(OpenPixels),
    Distances(TileValues<f64>),
}

/// The registered operation of both passes.
pub(crate) struct MfdDistanceOp;

remote_tile_op!(MfdDistanceOp, "pgp.routing.mfd_distance", MfdDistanceJob => MfdDistanceOutput, run_job);

const UNKNOWN: u8 = 0;
const ON_STACK: u8 = 1;
const DONE: u8 = 2;
/// Depends on a pixel of another tile not known yet.
const OPEN: u8 = 3;
/// Off the raster.
const OFF: u8 = 4;

/// A tile grown by one pixel each side (the ring), row-major with stride `w + 2`.
struct Padded {
    w: usize,
    h: usize,
    codes: Vec<i32>,
    /// Step weights (nodata as 0), ring included; `None` for unweighted distances.
    weights: Option<Vec<f64>>,
    state: Vec<u8>,
    value: Vec<f64>,
}

impl Padded {
    fn stride(&self) -> usize {
        self.w + 2
    }

    fn offset(&self, d: usize) -> isize {
        ROW_OFFSETS[d] * self.stride() as isize + COL_OFFSETS[d]
    }

    /// The step to neighbour `n` in direction `d`: its weight, or sqrt(2) for diagonals.
    #[inline]
    fn step(&self, d: usize, n: usize) -> f64 {
        match &self.weights {
            Some(w) => w[n],
            None if d % 2 == 1 => SQRT2,
            None => 1.0,
        }
    }

    fn tile_pixels(&self) -> impl Iterator<Item = usize> + '_ {
        let s = self.stride();
        (0..self.h).flat_map(move |y| (0..self.w).map(move |x| (y + 1) * s + x + 1))
    }
}

fn read_tile(job: &MfdDistanceJob) -> Result<Padded> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let window = job.window;
    let (w, h) = (window.width, window.height);
    let (cols, rows) = job.raster_size;
    let stride = w + 2;
    let inputs = &job.inputs;
    let mut codes = vec![0i32; stride * (h + 2)];
    let block = Raster::open(&inputs.flow_dir)?.read_as::<i32>(inputs.dir_band, window)?;
    for (r, row) in block.rows().into_iter().enumerate() {
        codes[(r + 1) * stride + 1..(r + 1) * stride + 1 + w]
            .copy_from_slice(&row.iter().copied().collect::<Vec<i32>>());
    }
    let channels = Raster::open(&inputs.channels)?.read_as::<f64>(inputs.channel_band, window)?;
    let weights = match &inputs.weight {
        None => None,
        Some((path, band, nodata)) => {
            let halo = Halo::read::<f64>(&Raster::open(path)?, *band, window, 0.0)?;
            Some(
                halo.values
                    .iter()
                    .map(|v| if is_close(*v, *nodata) { 0.0 } else { *v })
                    .collect(),
            )
        }
    };
    let mut state = vec![UNKNOWN; stride * (h + 2)];
    let mut value = vec![DISTANCE_NODATA; stride * (h + 2)];
    let ring = perimeter_len(w + 2, h + 2);
    for p in 0..ring {
        let (px, py) = perimeter_pixel(p, w + 2, h + 2);
        let i = py * stride + px;
        let gx = (window.x_off + px) as isize - 1;
        let gy = (window.y_off + py) as isize - 1;
        if gx < 0 || gy < 0 || gx as usize >= cols || gy as usize >= rows {
            state[i] = OFF;
        } else if let Some(ring) = &job.ring {
            state[i] = DONE;
            value[i] = ring[p];
        } else {
            state[i] = OPEN;
        }
    }
    for (r, row) in channels.rows().into_iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            if *v == 1.0 {
                let i = (r + 1) * stride + c + 1;
                state[i] = DONE;
                value[i] = 0.0;
            }
        }
    }
    Ok(Padded {
        w,
        h,
        codes,
        weights,
        state,
        value,
    })
}

/// Evaluates the pixels `firsts` and those they drain to, depth-first downstream as
/// pygeoprocessing does: each becomes `DONE` with its distance, or `OPEN` if it depends on
/// a pixel that is.
fn evaluate(t: &mut Padded, firsts: Vec<usize>) {
    struct Frame {
        p: usize,
        d: usize,
        weights: f64,
        weighted: f64,
        open: bool,
    }
    let offsets: Vec<isize> = (0..8).map(|d| t.offset(d)).collect();
    let mut stack: Vec<Frame> = Vec::new();
    let frame = |p| Frame {
        p,
        d: 0,
        weights: 0.0,
        weighted: 0.0,
        open: false,
    };
    for first in firsts {
        if t.state[first] != UNKNOWN {
            continue;
        }
        t.state[first] = ON_STACK;
        stack.push(frame(first));
        while let Some(top) = stack.last_mut() {
            let code = t.codes[top.p];
            let mut child = None;
            while top.d < 8 {
                let d = top.d;
                let share = (code >> (d * 4)) & 0xF;
                if share != 0 {
                    let n = (top.p as isize + offsets[d]) as usize;
                    match t.state[n] {
                        UNKNOWN => {
                            child = Some(n);
                            break;
                        }
                        DONE => {
                            let nd = t.value[n];
                            // pygeoprocessing skips neighbours whose distance reads as nodata.
                            if nd != DISTANCE_NODATA {
                                let share = f64::from(share);
                                top.weights += share;
                                top.weighted += share * (t.step(d, n) + nd);
                            }
                        }
                        OPEN => top.open = true,
                        // Off the raster, or a cycle (which flow_dir_mfd never makes): a
                        // neighbour still on the stack reads as nodata in pygeoprocessing too.
                        _ => {}
                    }
                }
                top.d += 1;
            }
            if let Some(n) = child {
                t.state[n] = ON_STACK;
                stack.push(frame(n));
                continue;
            }
            if let Some(done) = stack.pop() {
                if done.open {
                    t.state[done.p] = OPEN;
                } else {
                    t.state[done.p] = DONE;
                    if done.weights != 0.0 {
                        t.value[done.p] = done.weighted / done.weights;
                    }
                }
            }
        }
    }
}

/// The open perimeter pixels of an evaluated tile and the open pixels they depend on.
fn open_pixels(t: &Padded, window: Window) -> OpenPixels {
    let (w, h) = (t.w, t.h);
    let stride = t.stride();
    let mut out = OpenPixels::default();
    let mut node_of: Vec<u32> = vec![u32::MAX; t.state.len()];
    let mut queue: Vec<usize> = Vec::new();
    let mut node = |p: usize, queue: &mut Vec<usize>| -> u32 {
        if node_of[p] == u32::MAX {
            node_of[p] = queue.len() as u32;
            queue.push(p);
        }
        node_of[p]
    };
    for q in 0..perimeter_len(w, h) {
        let (x, y) = perimeter_pixel(q, w, h);
        let p = (y + 1) * stride + x + 1;
        out.starts.push(if t.state[p] == OPEN {
            Target::Node(node(p, &mut queue))
        } else {
            Target::Known(t.value[p])
        });
    }
    let mut k = 0;
    while k < queue.len() {
        let p = queue[k];
        out.first.push(out.terms.len() as u32);
        let code = t.codes[p];
        for d in 0..8 {
            let share = (code >> (d * 4)) & 0xF;
            if share == 0 {
                continue;
            }
            let n = (p as isize + t.offset(d)) as usize;
            let (nx, ny) = (n % stride, n / stride);
            let target = match t.state[n] {
                OFF => continue,
                _ if nx == 0 || ny == 0 || nx == w + 1 || ny == h + 1 => Target::Ring(
                    (window.x_off + nx - 1) as u32,
                    (window.y_off + ny - 1) as u32,
                ),
                OPEN => Target::Node(node(n, &mut queue)),
                _ if t.value[n] == DISTANCE_NODATA => continue,
                _ => Target::Known(t.value[n]),
            };
            out.terms.push((share as u8, t.step(d, n), target));
        }
        k += 1;
    }
    out.first.push(out.terms.len() as u32);
    out
}

fn run_job(job: &MfdDistanceJob) -> Result<MfdDistanceOutput> {
    let mut tile = read_tile(job)?;
    if job.ring.is_none() {
        // The perimeter pixels and what they drain to are all the join needs.
        let (w, h) = (tile.w, tile.h);
        let perimeter = (0..perimeter_len(w, h))
            .map(|q| {
                let (x, y) = perimeter_pixel(q, w, h);
                (y + 1) * tile.stride() + x + 1
            })
            .collect();
        evaluate(&mut tile, perimeter);
        return Ok(MfdDistanceOutput::Open(open_pixels(&tile, job.window)));
    }
    let pixels = tile.tile_pixels().collect();
    evaluate(&mut tile, pixels);
    let values = tile.tile_pixels().map(|p| tile.value[p]).collect();
    let values = TileValues::new(values, job.window, job.layout.as_ref())?;
    Ok(MfdDistanceOutput::Distances(values))
}

/// MFD distance to the channels of `inputs` on the grid of `info`, in tiles of `chunk`
/// pixels, into `target`.
pub(crate) fn mfd_distance_tiled(
    inputs: &DistanceInputs,
    info: &RasterInfo,
    target: &Path,
    chunk: usize,
    exec: &Executor,
) -> Result<()> {
    let (cols, rows) = info.raster_size;
    let windows: Vec<Window> = pgp_core::block_windows((cols, rows), (chunk, chunk), 0).collect();
    let tiles_x = cols.div_ceil(chunk).max(1);
    let job = |window: Window, ring: Option<Vec<f64>>, layout| MfdDistanceJob {
        inputs: inputs.clone(),
        window,
        raster_size: (cols, rows),
        ring,
        layout,
    };
    let internal = |what: &str| Error::internal(&inputs.flow_dir, what);
    let mut ticker = crate::common::Ticker::start(
        "distance_to_channel_mfd: tiles alone",
        "tiles",
        windows.len(),
    );
    let mut tiles: Vec<OpenPixels> = Vec::with_capacity(windows.len());
    for result in exec.map_ordered_op::<MfdDistanceOp>(windows.iter().map(|w| job(*w, None, None)))
    {
        let MfdDistanceOutput::Open(o) = result? else {
            return Err(internal("the first pass returned distances"));
        };
        tiles.push(o);
        ticker.advance(1);
    }
    drop(ticker);
    let mut offsets = Vec::with_capacity(tiles.len());
    let mut total = 0usize;
    for o in &tiles {
        offsets.push(total);
        total += o.first.len() - 1;
    }
    // A target as a global one: Known or a global node.
    let start_of = |gx: u32, gy: u32| -> Result<Target> {
        let (gx, gy) = (gx as usize, gy as usize);
        let t = (gy / chunk) * tiles_x + gx / chunk;
        let w = windows[t];
        let p = perimeter_position(gx - w.x_off, gy - w.y_off, w.width, w.height)
            .ok_or_else(|| internal("a ring pixel off its tile's perimeter"))?;
        Ok(match tiles[t].starts[p] {
            Target::Node(k) => Target::Node((offsets[t] + k as usize) as u32),
            other => other,
        })
    };
    let mut first: Vec<usize> = Vec::with_capacity(total + 1);
    let mut terms: Vec<(u8, f64, Target)> = Vec::new();
    for (t, o) in tiles.iter().enumerate() {
        let base = terms.len();
        first.extend(
            o.first[..o.first.len() - 1]
                .iter()
                .map(|f| base + *f as usize),
        );
        for &(share, step, target) in &o.terms {
            let target = match target {
                Target::Node(k) => Target::Node((offsets[t] + k as usize) as u32),
                Target::Ring(gx, gy) => start_of(gx, gy)?,
                known => known,
            };
            terms.push((share, step, target));
        }
    }
    first.push(terms.len());
    // Evaluate the nodes, each after those it drains to, summing terms in their order.
    let mut state = vec![UNKNOWN; total];
    let mut values = vec![DISTANCE_NODATA; total];
    // (node, next term, sum of shares, sum of weighted distances)
    let mut stack: Vec<(usize, usize, f64, f64)> = Vec::new();
    for n in 0..total {
        if state[n] != UNKNOWN {
            continue;
        }
        state[n] = ON_STACK;
        stack.push((n, first[n], 0.0, 0.0));
        while let Some(top) = stack.last_mut() {
            let mut child = None;
            while top.1 < first[top.0 + 1] {
                let (share, step, target) = terms[top.1];
                let nd = match target {
                    Target::Known(v) => v,
                    Target::Node(k) => {
                        let k = k as usize;
                        match state[k] {
                            UNKNOWN => {
                                child = Some(k);
                                break;
                            }
                            DONE => values[k],
                            _ => DISTANCE_NODATA,
                        }
                    }
                    Target::Ring(..) => DISTANCE_NODATA,
                };
                if nd != DISTANCE_NODATA {
                    let share = f64::from(share);
                    top.2 += share;
                    top.3 += share * (step + nd);
                }
                top.1 += 1;
            }
            if let Some(k) = child {
                state[k] = ON_STACK;
                stack.push((k, first[k], 0.0, 0.0));
                continue;
            }
            if let Some((m, _, weights, weighted)) = stack.pop() {
                state[m] = DONE;
                if weights != 0.0 {
                    values[m] = weighted / weights;
                }
            }
        }
    }
    drop(terms);
    // Each tile's ring, from its neighbours' perimeters.
    let mut rings: Vec<Vec<f64>> = Vec::with_capacity(windows.len());
    for w in &windows {
        let n = perimeter_len(w.width + 2, w.height + 2);
        let mut ring = vec![DISTANCE_NODATA; n];
        for (p, slot) in ring.iter_mut().enumerate() {
            let (px, py) = perimeter_pixel(p, w.width + 2, w.height + 2);
            let gx = (w.x_off + px) as isize - 1;
            let gy = (w.y_off + py) as isize - 1;
            if gx < 0 || gy < 0 || gx as usize >= cols || gy as usize >= rows {
                continue;
            }
            *slot = match start_of(gx as u32, gy as u32)? {
                Target::Known(v) => v,
                Target::Node(k) => values[k as usize],
                Target::Ring(..) => DISTANCE_NODATA,
            };
        }
        rings.push(ring);
    }
    drop(tiles);
    drop(values);
    let nodata = Some(DISTANCE_NODATA);
    let encoded = encoded_output(info, target, pgp_core::DataType::F64, nodata, chunk)?;
    let layout = encoded.as_ref().map(|o| *o.layout());
    let jobs = windows
        .iter()
        .zip(rings)
        .map(|(w, r)| job(*w, Some(r), layout));
    let results = exec.map_ordered_op::<MfdDistanceOp>(jobs);
    let out = windows
        .iter()
        .zip(results)
        .map(|(w, result)| match result? {
            MfdDistanceOutput::Distances(d) => Ok((*w, d)),
            MfdDistanceOutput::Open(_) => Err(internal("the final pass returned no distances")),
        });
    write_tile_values(
        "distance_to_channel_mfd: tiles with their rings",
        out,
        encoded,
        info,
        target,
        pgp_core::DataType::F64,
        nodata,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_rasters::{read, write};
    use crate::{flow_dir_mfd, RasterBand};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(80))]
        // MFD directions of any DEM (plateaus, nodata, one-pixel-wide rasters), streams with
        // nodata, weights with nodata, any tile size down to one pixel: the pixels are those
        // of the whole raster evaluated as one tile (pygeoprocessing's walk), bit for bit.
        #[test]
        fn tiles_give_the_one_tile_distances(
            cols in 1usize..24, rows in 1usize..24, chunk in 1usize..10, weighted: bool,
            cells in proptest::collection::vec((0u8..9, 0u8..12, -2.0f64..5.0), 576),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let n = cols * rows;
            let dem: Vec<f32> = cells[..n].iter().map(|c| if c.0 == 8 { -1.0 } else { f32::from(c.0) }).collect();
            let streams: Vec<u8> = cells[..n]
                .iter()
                .map(|c| match c.1 { 0 | 1 => 1, 2 => 255, _ => 0 })
                .collect();
            let weights: Vec<f64> = cells[..n]
                .iter()
                .map(|c| if c.2 < -1.5 { -9.0 } else { c.2 })
                .collect();
            let paths = ["dem.tif", "streams.tif", "weight.tif", "mfd.tif"].map(|f| dir.path().join(f));
            write(&paths[0], cols, rows, -1.0, dem);
            write(&paths[1], cols, rows, 255.0, streams);
            write(&paths[2], cols, rows, -9.0, weights);
            let exec = Executor::sync();
            flow_dir_mfd(&RasterBand::first(&paths[0]), &paths[3], &exec).unwrap();
            let inputs = DistanceInputs {
                flow_dir: paths[3].clone(),
                dir_band: 1,
                channels: paths[1].clone(),
                channel_band: 1,
                weight: weighted.then(|| (paths[2].clone(), 1, -9.0)),
            };
            let info = pgp_core::raster_info(&paths[3]).unwrap();
            let whole = dir.path().join("whole.tif");
            mfd_distance_tiled(&inputs, &info, &whole, cols.max(rows), &exec).unwrap();
            let tiled = dir.path().join("tiled.tif");
            mfd_distance_tiled(&inputs, &info, &tiled, chunk, &exec).unwrap();
            let (a, b) = (read(&whole), read(&tiled));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                prop_assert!(x.to_bits() == y.to_bits(), "pixel ({}, {}): one tile {}, tiles of {} {}", i % cols, i / cols, x, chunk, y);
            }
        }
    }
}
