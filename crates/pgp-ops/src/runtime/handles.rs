//! How a block operation reaches its input rasters on each kind of worker.
//!
//! - Threads without a halo borrow one set of handles per concurrent task from a [`RasterPool`]
//!   (reads run in parallel, each thread decodes its own blocks).
//! - Threads whose items share file blocks (a halo, or windows smaller than the blocks) share
//!   one handle per input and take turns to read: one handle's block cache decodes each file
//!   block once.
//! - A worker process keeps its handles (and the prepared operation) for the rest of the call
//!   ([`with_worker_state`]), for the same reason: consecutive tasks of one call share file
//!   blocks.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ndarray::Array3;
use pgp_core::{Pixel, Raster, RasterPool, Window};

use super::BlockOp;
use crate::{Error, Result};

/// The open input rasters of one block, in the order [`BlockOp::inputs`] listed them.
pub enum Handles<'a> {
    /// Handles this task has to itself.
    Own(&'a [Raster]),
    /// Handles shared with the other threads of the call, one reader at a time.
    Shared(&'a [Mutex<Raster>]),
}

impl Handles<'_> {
    /// Runs `f` on input `index`. With shared handles the others wait meanwhile: read in `f`,
    /// compute outside it.
    pub(crate) fn with<R>(&self, index: usize, f: impl FnOnce(&Raster) -> Result<R>) -> Result<R> {
        let missing = || Error::internal(format!("the operation has no input raster {index}"));
        match self {
            Handles::Own(rasters) => f(rasters.get(index).ok_or_else(missing)?),
            Handles::Shared(rasters) => {
                let raster = rasters
                    .get(index)
                    .ok_or_else(missing)?
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                f(&raster)
            }
        }
    }

    /// Band `band` of input `index` at `window`, in the band's own type. The window's blocks
    /// leave GDAL's cache when nothing later reads them again.
    pub(crate) fn read_dyn(
        &self,
        index: usize,
        band: usize,
        window: Window,
    ) -> Result<pgp_core::DynArray> {
        self.with(index, |raster| {
            let data = raster.read_dyn(band, window)?;
            super::forget_read_blocks(raster, band, window);
            Ok(data)
        })
    }

    /// The window of `bands` of input `index` as one band x row x column array, in the bands'
    /// own pixel type `T` (which they must share).
    pub(crate) fn read_bands<T: Pixel>(
        &self,
        index: usize,
        bands: &[usize],
        window: Window,
    ) -> Result<Array3<T>> {
        self.with(index, |raster| {
            let block = raster.read_bands::<T>(bands, window)?;
            for &band in bands {
                super::forget_read_blocks(raster, band, window);
            }
            Ok(block)
        })
    }

    /// [`Handles::read_bands`] converted to `T` whatever the bands' types, for reads in row
    /// order: blocks of the block rows above `window` are released first, so memory stays flat
    /// when windows do not cover whole blocks of the input.
    pub(crate) fn read_bands_as<T: Pixel>(
        &self,
        index: usize,
        bands: &[usize],
        window: Window,
    ) -> Result<Array3<T>> {
        self.with(index, |raster| {
            raster.forget_rows_above(window.y_off);
            let block = raster.read_bands_as::<T>(bands, window)?;
            for &band in bands {
                super::forget_read_blocks(raster, band, window);
            }
            Ok(block)
        })
    }
}

/// The handles a call's threads use.
pub(crate) enum LocalHandles {
    Pool(RasterPool),
    Shared(Vec<Mutex<Raster>>),
}

impl LocalHandles {
    /// Opens (or checks) `paths` once here, so a missing input fails before any output exists.
    /// `shared`: one handle per input for all threads (see [`BlockOp::shares_blocks`]).
    pub(crate) fn open(paths: Vec<PathBuf>, shared: bool) -> Result<Arc<LocalHandles>> {
        let handles = if shared {
            LocalHandles::Shared(
                paths
                    .iter()
                    .map(|p| Raster::open(p).map(Mutex::new))
                    .collect::<pgp_core::Result<_>>()?,
            )
        } else {
            let pool = RasterPool::new(paths);
            pool.check()?;
            LocalHandles::Pool(pool)
        };
        Ok(Arc::new(handles))
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(&Handles<'_>) -> Result<R>) -> Result<R> {
        match self {
            LocalHandles::Shared(rasters) => f(&Handles::Shared(rasters)),
            LocalHandles::Pool(pool) => pool
                .with(|rasters| Ok(f(&Handles::Own(rasters))))
                .map_err(Error::from)?,
        }
    }
}

/// A token naming one call of an operation: unique within this process, and different from any
/// other process's (it mixes in the process id).
pub(crate) fn run_token() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (u64::from(std::process::id()) << 32) ^ n
}

/// What a worker process keeps between tasks of one call.
struct WorkerState<O: BlockOp> {
    prepared: O::Prepared,
    rasters: Vec<Raster>,
}

/// Runs `f` with `op` prepared and its inputs open in this worker process, keeping both for the
/// next task of the same call (`run`, from [`run_token`]). Another call reopens, so nothing
/// outlives the call that made it by more than one task. A worker process runs one task at a
/// time; the lock only guards against misuse from several threads.
pub(crate) fn with_worker_state<O: BlockOp, R>(
    run: u64,
    op: &O,
    f: impl FnOnce(&O::Prepared, &Handles<'_>) -> Result<R>,
) -> Result<R> {
    type Kept = Option<(u64, Box<dyn Any + Send>)>;
    static KEPT: Mutex<Kept> = Mutex::new(None);
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    let reuse =
        matches!(kept.as_ref(), Some((r, state)) if *r == run && state.is::<WorkerState<O>>());
    if !reuse {
        *kept = None;
        let rasters = op
            .inputs()
            .iter()
            .map(|p: &PathBuf| Raster::open(Path::new(p)))
            .collect::<pgp_core::Result<Vec<_>>>()?;
        let state = WorkerState::<O> {
            prepared: op.prepare()?,
            rasters,
        };
        *kept = Some((run, Box::new(state)));
    }
    match kept
        .as_ref()
        .and_then(|(_, state)| state.downcast_ref::<WorkerState<O>>())
    {
        Some(state) => f(&state.prepared, &Handles::Own(&state.rasters)),
        None => Err(Error::internal("worker state missing after it was stored")),
    }
}
