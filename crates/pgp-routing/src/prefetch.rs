//! Decoding a raster into a working grid on the executor, before a serial walk.
//!
//! A serial walk through a [`Grid`] filled from a raster decodes each tile when first touched,
//! on the walk's one thread, and again whenever the tile left the cache and comes back. Here
//! the tiles are decoded in parallel and stored in the grid up front; a tile that leaves the
//! cache then goes to the scratch file as raw bytes and comes back without decoding.

use std::path::PathBuf;

use pgp_core::{Raster, Window};
use pgp_exec::{Executor, RemoteOp};
use serde::{Deserialize, Serialize};

use crate::common::RasterBand;
use crate::error::Result;
use crate::grid::{tile_windows, Cell, Grid, TILE};

/// One tile of a band to decode.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DecodeJob {
    path: PathBuf,
    band: usize,
    window: Window,
}

/// The registered operation decoding a [`DecodeJob`]: the window's values as `f64`, row-major
/// (exact for every integer band type and for floats).
pub(crate) struct DecodeOp;

impl RemoteOp for DecodeOp {
    const NAME: &'static str = "pgp.routing.decode_tile";
    type Args = DecodeJob;
    type Output = Vec<f64>;
    fn run(job: DecodeJob) -> std::result::Result<Vec<f64>, String> {
        let _cap = crate::grid::GdalCacheCap::hold();
        let read = || -> pgp_core::Result<Vec<f64>> {
            let raster = Raster::open(&job.path)?;
            Ok(raster
                .read_as::<f64>(job.band, job.window)?
                .iter()
                .copied()
                .collect())
        };
        read().map_err(|e| e.to_string())
    }
}

pgp_exec::register_op!(DecodeOp);

/// A grid holding `band` (converted to `T` by `convert`), decoded on `exec`, within `budget`
/// bytes of tiles; `init` where nothing is.
pub(crate) fn decoded_grid<T: Cell>(
    band: &RasterBand,
    (cols, rows): (usize, usize),
    init: T,
    budget: usize,
    scratch: &std::path::Path,
    exec: &Executor,
    convert: impl Fn(f64) -> T,
) -> Result<Grid<T>> {
    let mut grid = Grid::new(cols, rows, init, budget, scratch);
    let windows: Vec<(usize, Window)> = tile_windows(cols, rows).collect();
    let jobs = windows.iter().map(|(_, window)| DecodeJob {
        path: band.path.clone(),
        band: band.band,
        window: *window,
    });
    for ((tile, window), values) in windows.iter().zip(exec.map_ordered_op::<DecodeOp>(jobs)) {
        let values = values?;
        let data = grid.tile_mut(*tile);
        for (r, row) in values.chunks_exact(window.width).enumerate() {
            for (out, v) in data[r * TILE..r * TILE + window.width].iter_mut().zip(row) {
                *out = convert(*v);
            }
        }
    }
    grid.status()?;
    Ok(grid)
}
