//! The block-local first passes of the routing steps, as registered operations so they run on
//! every executor (worker processes included): each reads a window of tiles plus a one-pixel
//! halo, computes what needs nothing beyond that halo (for flow directions, also the plateaus
//! wholly inside the window), and returns it for the serial phase.

use std::path::PathBuf;

use pgp_core::{Pixel, Raster, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::common::{is_close, Ticker, COL_OFFSETS, ROW_OFFSETS, SQRT2_INV};
use crate::error::Result;
use crate::grid::{tile_windows, Cell, Grid, TILE};
use crate::plateaus::drain_enclosed;
use crate::request::{Mfd, D8};

/// A tile of band `band` of `path` with a one-pixel halo, values as `f64`, `outside` beyond the
/// raster's edge: pygeoprocessing's `_generate_read_bounds` buffers.
pub(crate) struct Halo {
    pub values: Vec<f64>,
    pub stride: usize,
}

impl Halo {
    pub(crate) fn read<T: Pixel>(
        raster: &Raster,
        band: usize,
        w: Window,
        outside: f64,
    ) -> pgp_core::Result<Halo> {
        let (cols, rows) = raster.size();
        let x0 = w.x_off.saturating_sub(1);
        let y0 = w.y_off.saturating_sub(1);
        let x1 = (w.x_off + w.width + 1).min(cols);
        let y1 = (w.y_off + w.height + 1).min(rows);
        let block = raster.read_as::<T>(band, Window::new(x0, y0, x1 - x0, y1 - y0))?;
        let stride = w.width + 2;
        let mut values = vec![outside; stride * (w.height + 2)];
        // Halo column 0 is the pixel left of the window; at the raster's edge it stays `outside`.
        let dx = usize::from(w.x_off == 0);
        let dy = usize::from(w.y_off == 0);
        for (r, row) in block.rows().into_iter().enumerate() {
            let base = (r + dy) * stride + dx;
            for (c, v) in row.iter().enumerate() {
                values[base + c] = v.to_f64();
            }
        }
        Ok(Halo { values, stride })
    }

    /// The value at window pixel `(x, y)` shifted by direction `d` (`None` for the centre).
    #[inline]
    pub(crate) fn at(&self, x: usize, y: usize, d: Option<usize>) -> f64 {
        let (dx, dy) = d.map_or((0, 0), |d| (COL_OFFSETS[d], ROW_OFFSETS[d]));
        let xx = (x as isize + 1 + dx) as usize;
        let yy = (y as isize + 1 + dy) as usize;
        self.values[yy * self.stride + xx]
    }
}

/// Which first pass a [`TileJob`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) enum Pass {
    /// Pit candidates: 1 where a pixel is not nodata and has no lower, nodata or off-raster
    /// neighbour (in single-outlet mode nodata and edges do not drain; the outlet is never one).
    FillCandidates {
        single_outlet: Option<(usize, usize)>,
    },
    /// D8 directions: the steepest downhill neighbour (lowest code on ties), 128 for nodata;
    /// then the plateaus wholly inside the job's window drained, the DEM being scanned in
    /// blocks of `scan_block` (see [`crate::plateaus`]);
    /// [`crate::flow_dir::D8_UNRESOLVED`] where a plateau crosses the window's edge.
    D8 { scan_block: (usize, usize) },
    /// MFD directions: slope-weighted nibbles, 0 for nodata, plateaus as for `D8`;
    /// [`crate::flow_dir::MFD_UNRESOLVED`] where a plateau crosses the window's edge.
    Mfd { scan_block: (usize, usize) },
}

/// One tile of a first pass.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TileJob {
    pub path: PathBuf,
    pub band: usize,
    pub window: Window,
    pub nodata: f64,
    pub pass: Pass,
}

/// The registered operation running a [`TileJob`]; its output holds, for each 256x256 tile of
/// the job's window (row-major), whether the serial phase must visit it and its values as
/// little-endian bytes (row-major over the tile), or no bytes when the tile holds nothing
/// the serial phase needs.
pub(crate) struct TileOp;

remote_tile_op!(TileOp, "pgp.routing.tile_pass", TileJob => Vec<(bool, Vec<u8>)>, run_tile);

/// Tiles across (and down) one job's window on a raster `tiles` tiles across or down, whichever
/// is more. A job reads its window with a one-pixel halo, so a window of 4x4 tiles decodes each
/// block of the source about 2.25 times instead of 9, and drains the plateaus inside it; but
/// there are at least two windows across, so small rasters also have plateaus crossing
/// windows (and their tests, the serial path).
fn job_tiles(tiles: usize) -> usize {
    (tiles / 2).clamp(1, 4)
}

fn run_tile(job: &TileJob) -> pgp_core::Result<Vec<(bool, Vec<u8>)>> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let raster = Raster::open(&job.path)?;
    let halo = Halo::read::<f64>(&raster, job.band, job.window, job.nodata)?;
    let size = raster.size();
    drop(raster);
    let w = job.window;
    let nodata = job.nodata;
    Ok(match job.pass {
        Pass::FillCandidates { single_outlet } => {
            let mask = window_values(w, |x, y| {
                let center = halo.at(x, y, None);
                if is_close(center, nodata) || single_outlet == Some((x + w.x_off, y + w.y_off)) {
                    return 0u8;
                }
                let drains = (0..8).any(|d| {
                    let n = halo.at(x, y, Some(d));
                    if is_close(n, nodata) {
                        return single_outlet.is_none();
                    }
                    n < center
                });
                u8::from(!drains)
            });
            split_tiles(w, &mask, |v| v == 1, true)
        }
        Pass::D8 { scan_block } => {
            let mut dirs = window_values(w, |x, y| {
                d8_local(&halo, x, y, nodata).unwrap_or(crate::flow_dir::D8_UNRESOLVED)
            });
            drain_enclosed::<D8>(&halo, w, size, nodata, scan_block, &mut dirs);
            split_tiles(w, &dirs, |v| v == crate::flow_dir::D8_UNRESOLVED, false)
        }
        Pass::Mfd { scan_block } => {
            let mut dirs = window_values(w, |x, y| {
                mfd_local(&halo, x, y, nodata).unwrap_or(crate::flow_dir::MFD_UNRESOLVED)
            });
            drain_enclosed::<Mfd>(&halo, w, size, nodata, scan_block, &mut dirs);
            split_tiles(w, &dirs, |v| v == crate::flow_dir::MFD_UNRESOLVED, false)
        }
    })
}

/// `value(x, y)` over the pixels of `w` (window coordinates), row-major.
fn window_values<T>(w: Window, mut value: impl FnMut(usize, usize) -> T) -> Vec<T> {
    let mut out = Vec::with_capacity(w.area());
    for y in 0..w.height {
        for x in 0..w.width {
            out.push(value(x, y));
        }
    }
    out
}

/// Splits `values` over window `w` (tile-aligned) into its tiles, row-major: per tile, whether
/// a pixel needs the serial phase, and the tile's bytes (none for a tile without such a pixel
/// when `only_if_needed`).
fn split_tiles<T: Cell>(
    w: Window,
    values: &[T],
    needs_serial: impl Fn(T) -> bool,
    only_if_needed: bool,
) -> Vec<(bool, Vec<u8>)> {
    let mut out = Vec::new();
    for ty in (0..w.height).step_by(TILE) {
        for tx in (0..w.width).step_by(TILE) {
            let (tw, th) = (TILE.min(w.width - tx), TILE.min(w.height - ty));
            let mut tile = Vec::with_capacity(tw * th);
            for y in ty..ty + th {
                tile.extend_from_slice(&values[y * w.width + tx..y * w.width + tx + tw]);
            }
            let needed = tile.iter().any(|v| needs_serial(*v));
            let mut bytes = Vec::new();
            if needed || !only_if_needed {
                T::put(&tile, &mut bytes);
            }
            out.push((needed, bytes));
        }
    }
    out
}

/// D8 code of a pixel from its halo: `Some(128)` for nodata, `None` when no neighbour is lower.
fn d8_local(halo: &Halo, x: usize, y: usize, nodata: f64) -> Option<u8> {
    let root = halo.at(x, y, None);
    if is_close(root, nodata) {
        return Some(crate::flow_dir::D8_NODATA);
    }
    let mut best_dir = None;
    let mut best = 0.0;
    for d in 0..8 {
        let n = halo.at(x, y, Some(d));
        if is_close(n, nodata) {
            continue;
        }
        let mut slope = root - n;
        if d & 1 == 1 {
            slope *= SQRT2_INV;
        }
        if slope > best {
            best = slope;
            best_dir = Some(d as u8);
        }
    }
    best_dir
}

/// MFD code of a pixel from its halo: `Some(0)` for nodata, `None` when no neighbour is lower.
fn mfd_local(halo: &Halo, x: usize, y: usize, nodata: f64) -> Option<i32> {
    let root = halo.at(x, y, None);
    if is_close(root, nodata) {
        return Some(0);
    }
    let mut slopes = [0.0f64; 8];
    let mut sum = 0.0;
    for (d, s) in slopes.iter_mut().enumerate() {
        let n = halo.at(x, y, Some(d));
        if is_close(n, nodata) {
            continue;
        }
        let mut slope = root - n;
        if slope > 0.0 {
            if d & 1 == 1 {
                slope *= SQRT2_INV;
            }
            *s = slope;
            sum += slope;
        }
    }
    if sum > 0.0 {
        Some(crate::flow_dir::pack_mfd(&slopes, sum))
    } else {
        None
    }
}

/// Runs `pass` over every tile of `source` on `exec` and stores the results in `grid` (tiles
/// the pass left empty stay untouched). Returns, per tile, whether the serial phase must
/// visit it.
pub(crate) fn run_pass<T: Cell>(
    exec: &Executor,
    source: &crate::RasterBand,
    nodata: f64,
    pass: Pass,
    grid: &mut Grid<T>,
    label: &str,
) -> Result<Vec<bool>> {
    let (cols, rows) = grid.size();
    let tiles_x = grid.tiles_x();
    let tiles = tile_windows(cols, rows).count();
    let chunk = TILE * job_tiles(tiles_x.max(rows.div_ceil(TILE)));
    let windows: Vec<Window> = pgp_core::block_windows((cols, rows), (chunk, chunk), 0).collect();
    let mut ticker = Ticker::start(label, "tiles", tiles);
    let jobs = windows.iter().map(|w| TileJob {
        path: source.path.clone(),
        band: source.band,
        window: *w,
        nodata,
        pass,
    });
    let mut visit = vec![false; tiles];
    let mut values: Vec<T> = Vec::new();
    for (job, result) in exec.map_ordered_op::<TileOp>(jobs).enumerate() {
        let w = windows[job];
        let per_tile = result?;
        let mut tile_results = per_tile.into_iter();
        for ty in (w.y_off..w.y_off + w.height).step_by(TILE) {
            for tx in (w.x_off..w.x_off + w.width).step_by(TILE) {
                let Some((needs_serial, bytes)) = tile_results.next() else {
                    continue;
                };
                let tile = (ty / TILE) * tiles_x + tx / TILE;
                visit[tile] = needs_serial;
                if !bytes.is_empty() {
                    let (tw, th) = (TILE.min(cols - tx), TILE.min(rows - ty));
                    values.resize(
                        tw * th,
                        values.first().copied().unwrap_or_else(|| zero::<T>()),
                    );
                    T::take(&bytes, &mut values);
                    let data = grid.tile_mut(tile);
                    for r in 0..th {
                        data[r * TILE..r * TILE + tw]
                            .copy_from_slice(&values[r * tw..(r + 1) * tw]);
                    }
                }
                ticker.advance(1);
            }
        }
    }
    grid.status()?;
    Ok(visit)
}

fn zero<T: Pixel>() -> T {
    T::from_f64(0.0)
}
