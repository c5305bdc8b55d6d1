//! Tile-parallel MFD flow accumulation.
//!
//! A pixel's accumulation is its weight plus, from each upstream neighbour, that neighbour's
//! accumulation times the share of its flow that comes this way: linear in what flows in. So
//! tiles can be solved apart and joined through what crosses their edges. Unlike D8, flow can
//! leave a tile and come back (tile-level cycles), so the join goes in waves:
//!
//! 1. In parallel, each tile accumulates its own weights as if nothing flowed in, and reports
//!    what flows out across its edges.
//! 2. Waves: every tile that received something new propagates just that (no weights) through
//!    the pixels downstream of where it entered, reporting what it passes on across its edges.
//!    A wave carries the contributions of flow paths crossing tile edges exactly once more than
//!    the last, and paths are finite (the directions have no cycles), so the waves end, when
//!    nothing new crosses an edge.
//! 3. In parallel, each tile accumulates again, with everything that flowed in across its
//!    edges.
//!
//! Sums are added in an order fixed by the raster alone (tile order, waves, a tile's
//! topological order), whatever the executor; it is not pygeoprocessing's depth-first order,
//! so values agree with its to rounding, not bit for bit. Memory: one tile per worker, and
//! what crosses the tile edges.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pgp_core::{Raster, RasterInfo, Window};
use pgp_exec::{Executor, RemoteOp};
use serde::{Deserialize, Serialize};

use crate::accumulation_tiles::WeightBand;
use crate::common::{write_tiles, Ticker, COL_OFFSETS, IMPROBABLE_FLOAT_NODATA, ROW_OFFSETS};
use crate::error::{Error, Result};

/// Which of the three passes a job runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum MfdPass {
    /// The tile's own weights, nothing flowing in.
    Local,
    /// Only these inflows `(pixel index in the tile, value)`, no weights.
    Wave(Vec<(u32, f64)>),
    /// The weights and every inflow: the tile's accumulation.
    Final(Vec<(u32, f64)>),
}

/// One tile of one pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MfdJob {
    path: PathBuf,
    band: usize,
    /// The raster's size, to tell what leaves it from what enters another tile.
    size: (usize, usize),
    window: Window,
    weight: Option<WeightBand>,
    pass: MfdPass,
}

/// The result of an [`MfdJob`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum MfdOutput {
    /// What flows out across the tile's edges: `(row-major pixel index in the raster, value)`.
    Outflows(Vec<(u64, f64)>),
    /// The tile's accumulation, little-endian `f64`s, row-major.
    Values(Vec<u8>),
}

/// The registered operation of the three passes.
pub(crate) struct MfdOp;

impl RemoteOp for MfdOp {
    const NAME: &'static str = "pgp.routing.mfd_tile_accumulation";
    type Args = MfdJob;
    type Output = MfdOutput;
    fn run(job: MfdJob) -> std::result::Result<MfdOutput, String> {
        run_job(&job).map_err(|e| e.to_string())
    }
}

pgp_exec::register_op!(MfdOp);

/// A tile's directions and where its pixels' flow goes.
struct Tile<'a> {
    dirs: &'a [i32],
    w: usize,
    h: usize,
    window: Window,
    size: (usize, usize),
}

/// Where flow in direction `d` from pixel `i` of a tile goes.
enum Target {
    Inside(usize),
    Outside(u64),
    Gone,
}

impl Tile<'_> {
    #[inline]
    fn target(&self, i: usize, d: usize) -> Target {
        let x = (i % self.w) as isize + COL_OFFSETS[d];
        let y = (i / self.w) as isize + ROW_OFFSETS[d];
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            return Target::Inside(y as usize * self.w + x as usize);
        }
        let gx = self.window.x_off as isize + x;
        let gy = self.window.y_off as isize + y;
        let (cols, rows) = self.size;
        if gx < 0 || gy < 0 || gx as usize >= cols || gy as usize >= rows {
            Target::Gone
        } else {
            Target::Outside(gy as u64 * cols as u64 + gx as u64)
        }
    }

    /// Pixels inside the tile that `i` sends flow to, with the share of its flow each gets.
    #[inline]
    fn shares(&self, i: usize) -> ([(Target, f64); 8], usize) {
        let code = self.dirs[i];
        let total: i32 = (0..8).map(|k| (code >> (k * 4)) & 0xF).sum();
        // As pygeoprocessing divides: by the total held as a 32-bit float.
        let total = f64::from(total as f32);
        let mut out: [(Target, f64); 8] = std::array::from_fn(|_| (Target::Gone, 0.0));
        let mut n = 0;
        for d in 0..8 {
            let nibble = (code >> (d * 4)) & 0xF;
            if nibble == 0 {
                continue;
            }
            out[n] = (self.target(i, d), f64::from(nibble) / total);
            n += 1;
        }
        (out, n)
    }

    /// Accumulates, in topological order, over the pixels in `order` (valid pixels, and every
    /// valid pixel downstream of one of them inside the tile): each is its `own` value plus
    /// what flows into it from `inflow` and inside the tile. Returns the accumulation (NaN
    /// where not computed) and what flows out across the edges.
    fn accumulate(
        &self,
        order: &[usize],
        own: impl Fn(usize) -> f64,
        inflow: &[(u32, f64)],
    ) -> (Vec<f64>, Vec<(u64, f64)>) {
        let area = self.w * self.h;
        let mut waiting = vec![0u8; area];
        for &i in order {
            let (shares, n) = self.shares(i);
            for (t, _) in &shares[..n] {
                if let Target::Inside(j) = t {
                    if self.dirs[*j] != 0 {
                        waiting[*j] += 1;
                    }
                }
            }
        }
        let mut sums = vec![0.0f64; area];
        for (i, v) in inflow {
            sums[*i as usize] += v;
        }
        let mut values = vec![f64::NAN; area];
        let mut ready: Vec<usize> = order
            .iter()
            .rev()
            .copied()
            .filter(|i| waiting[*i] == 0)
            .collect();
        let mut outflows = Vec::new();
        while let Some(i) = ready.pop() {
            let value = own(i) + sums[i];
            values[i] = value;
            let (shares, n) = self.shares(i);
            for (t, share) in &shares[..n] {
                match t {
                    Target::Inside(j) => {
                        if self.dirs[*j] != 0 {
                            sums[*j] += value * share;
                            waiting[*j] -= 1;
                            if waiting[*j] == 0 {
                                ready.push(*j);
                            }
                        }
                    }
                    Target::Outside(g) => {
                        let v = value * share;
                        if v != 0.0 {
                            outflows.push((*g, v));
                        }
                    }
                    Target::Gone => {}
                }
            }
        }
        (values, outflows)
    }

    /// The valid pixels downstream of (and including) the valid ones among `starts`, row-major.
    fn downstream_of(&self, starts: &[(u32, f64)]) -> Vec<usize> {
        let mut seen = vec![false; self.w * self.h];
        let mut stack: Vec<usize> = Vec::new();
        for (i, _) in starts {
            let i = *i as usize;
            if self.dirs[i] != 0 && !seen[i] {
                seen[i] = true;
                stack.push(i);
            }
        }
        while let Some(i) = stack.pop() {
            let (shares, n) = self.shares(i);
            for (t, _) in &shares[..n] {
                if let Target::Inside(j) = t {
                    if self.dirs[*j] != 0 && !seen[*j] {
                        seen[*j] = true;
                        stack.push(*j);
                    }
                }
            }
        }
        (0..seen.len()).filter(|i| seen[*i]).collect()
    }
}

fn run_job(job: &MfdJob) -> Result<MfdOutput> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let raster = Raster::open(&job.path)?;
    let dirs: Vec<i32> = raster
        .read_as::<i32>(job.band, job.window)?
        .iter()
        .copied()
        .collect();
    drop(raster);
    let tile = Tile {
        dirs: &dirs,
        w: job.window.width,
        h: job.window.height,
        window: job.window,
        size: job.size,
    };
    let weights = match (&job.pass, &job.weight) {
        (MfdPass::Wave(_), _) | (_, None) => None,
        (_, Some(band)) => Some(band.read(job.window)?),
    };
    let own = |i: usize| weights.as_ref().map_or(1.0, |w| w[i]);
    let valid: Vec<usize> = (0..dirs.len()).filter(|i| dirs[*i] != 0).collect();
    match &job.pass {
        MfdPass::Local => Ok(MfdOutput::Outflows(tile.accumulate(&valid, own, &[]).1)),
        MfdPass::Wave(inflow) => {
            let order = tile.downstream_of(inflow);
            Ok(MfdOutput::Outflows(
                tile.accumulate(&order, |_| 0.0, inflow).1,
            ))
        }
        MfdPass::Final(inflow) => {
            let (values, _) = tile.accumulate(&valid, own, inflow);
            let mut bytes = Vec::with_capacity(values.len() * 8);
            for v in values {
                let v = if v.is_nan() { IMPROBABLE_FLOAT_NODATA } else { v };
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            Ok(MfdOutput::Values(bytes))
        }
    }
}

/// MFD accumulation of `path` (band `band`), weighted by `weight` if given, into `target`,
/// with tiles of `chunk` pixels.
pub(crate) fn accumulate_mfd_tiled(
    path: &Path,
    band: usize,
    info: &RasterInfo,
    weight: Option<WeightBand>,
    target: &Path,
    chunk: usize,
    exec: &Executor,
) -> Result<()> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let (cols, rows) = info.raster_size;
    let windows: Vec<Window> = pgp_core::block_windows((cols, rows), (chunk, chunk), 0).collect();
    let tiles_x = cols.div_ceil(chunk).max(1);
    let job = |window: Window, pass: MfdPass| MfdJob {
        path: path.to_path_buf(),
        band,
        size: (cols, rows),
        window,
        weight: weight.clone(),
        pass,
    };
    let internal =
        |what: &str| Error::invalid(path.display().to_string(), format!("internal: {what}"));
    // Everything that flowed into each tile so far, and what arrived in the last wave.
    let mut received: Vec<HashMap<u32, f64>> = vec![HashMap::new(); windows.len()];
    let mut arrived: Vec<Vec<(u32, f64)>> = vec![Vec::new(); windows.len()];
    let mut route = |outflows: Vec<(u64, f64)>, arrived: &mut Vec<Vec<(u32, f64)>>| {
        for (g, v) in outflows {
            let (gx, gy) = ((g % cols as u64) as usize, (g / cols as u64) as usize);
            let t = (gy / chunk) * tiles_x + gx / chunk;
            let w = windows[t];
            let i = ((gy - w.y_off) * w.width + (gx - w.x_off)) as u32;
            *received[t].entry(i).or_insert(0.0) += v;
            arrived[t].push((i, v));
        }
    };
    let mut ticker = Ticker::start(
        "flow_accumulation_mfd: tiles alone",
        "tiles",
        windows.len(),
    );
    for result in exec.map_ordered_op::<MfdOp>(windows.iter().map(|w| job(*w, MfdPass::Local))) {
        let MfdOutput::Outflows(outflows) = result? else {
            return Err(internal("the first pass returned values"));
        };
        route(outflows, &mut arrived);
        ticker.advance(1);
    }
    drop(ticker);
    let mut waves = 0usize;
    loop {
        let moving: Vec<usize> = (0..windows.len())
            .filter(|t| !arrived[*t].is_empty())
            .collect();
        if moving.is_empty() {
            break;
        }
        waves += 1;
        let jobs: Vec<MfdJob> = moving
            .iter()
            .map(|t| job(windows[*t], MfdPass::Wave(std::mem::take(&mut arrived[*t]))))
            .collect();
        let mut next: Vec<Vec<(u32, f64)>> = vec![Vec::new(); windows.len()];
        for result in exec.map_ordered_op::<MfdOp>(jobs) {
            let MfdOutput::Outflows(outflows) = result? else {
                return Err(internal("a wave returned values"));
            };
            route(outflows, &mut next);
        }
        arrived = next;
    }
    if std::env::var_os("PGP_ROUTING_DEBUG_WAVES").is_some() {
        eprintln!("flow_accumulation_mfd: {waves} waves");
    }
    let jobs: Vec<MfdJob> = windows
        .iter()
        .zip(received)
        .map(|(w, inflow)| {
            let mut inflow: Vec<(u32, f64)> = inflow.into_iter().collect();
            inflow.sort_unstable_by_key(|(i, _)| *i);
            job(*w, MfdPass::Final(inflow))
        })
        .collect();
    let results = exec.map_ordered_op::<MfdOp>(jobs);
    let tiles = windows
        .iter()
        .zip(results)
        .map(|(w, result)| match result? {
            MfdOutput::Values(bytes) => Ok((
                *w,
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .collect::<Vec<f64>>(),
            )),
            MfdOutput::Outflows(_) => Err(internal("the final pass returned no values")),
        });
    write_tiles(
        "flow_accumulation_mfd: tiles with inflows",
        tiles,
        info,
        target,
        pgp_core::DataType::F64,
        Some(IMPROBABLE_FLOAT_NODATA),
    )
}
