//! Running per-block work on any executor, results in input order.
//!
//! Every block-wise operation here describes one unit of work twice over the same function: as a
//! closure on sync and thread executors (which can reuse open raster handles), and as a
//! registered [`RemoteOp`] on a process pool (arguments are paths, windows and parameters; the
//! worker opens what it needs). The caller consumes results in input order on one thread, which
//! is where outputs are written, so the output does not depend on the executor.

use pgp_exec::{Executor, RemoteOp};

use crate::progress::Tracker;
use crate::{Error, Result};

/// Results of [`map_blocks`], in the order of the items.
pub(crate) type BlockResults<'a, T> = Box<dyn Iterator<Item = Result<T>> + 'a>;

/// Runs `local` (sync, threads) or `O` (process pool) on every item; at most about two items per
/// worker are in flight, so memory stays bounded however many blocks there are. Progress is
/// reported as `operation`, one unit per item consumed.
pub(crate) fn map_blocks<'a, O, I, F>(
    exec: &Executor,
    operation: &'static str,
    items: I,
    local: F,
) -> BlockResults<'a, O::Output>
where
    O: RemoteOp,
    I: IntoIterator<Item = O::Args> + 'a,
    F: Fn(O::Args) -> Result<O::Output> + Send + Sync + 'static,
{
    if exec.runs_closures() {
        map_local(exec, operation, items, local)
    } else {
        map_remote::<O, _>(exec, operation, items)
    }
}

/// [`map_blocks`] for work that only runs in this process (closures over open handles).
pub(crate) fn map_local<'a, A, T, I, F>(
    exec: &Executor,
    operation: &'static str,
    items: I,
    local: F,
) -> BlockResults<'a, T>
where
    A: Send + 'static,
    T: Send + 'static,
    I: IntoIterator<Item = A> + 'a,
    F: Fn(A) -> Result<T> + Send + Sync + 'static,
{
    let items: Vec<A> = items.into_iter().collect();
    let tracker = Tracker::start(operation, "blocks", items.len());
    Box::new(
        tracker.track(
            exec.map_ordered(items, local)
                .map(|r| r.map_err(Error::from).and_then(|inner| inner)),
        ),
    )
}

/// [`map_blocks`] for a registered operation (any executor, process pools included).
pub(crate) fn map_remote<'a, O, I>(
    exec: &Executor,
    operation: &'static str,
    items: I,
) -> BlockResults<'a, O::Output>
where
    O: RemoteOp,
    I: IntoIterator<Item = O::Args> + 'a,
{
    let items: Vec<O::Args> = items.into_iter().collect();
    let tracker = Tracker::start(operation, "blocks", items.len());
    Box::new(
        tracker.track(
            exec.map_ordered_op::<O>(items)
                .map(|r| r.map_err(Error::from)),
        ),
    )
}

/// Turns an operation error into the text a [`RemoteOp`] reports.
pub(crate) fn remote_error(error: Error) -> String {
    error.to_string()
}

/// pygeoprocessing's `new_raster_from_base` layout rule as a spec (see
/// [`RasterSpec::like_with_driver`](pgp_core::RasterSpec::like_with_driver)).
pub(crate) fn spec_like(
    base: &pgp_core::RasterInfo,
    datatype: pgp_core::DataType,
    driver: &pgp_core::RasterDriver,
) -> pgp_core::RasterSpec {
    pgp_core::RasterSpec::like_with_driver(base, datatype, driver)
}

/// `driver` with GDAL's multi-threaded GTiff compression (`NUM_THREADS`) set to the executor's
/// worker count, when the executor has several workers and the options compress without saying
/// otherwise. Compressing the output is most of the cost of a block-wise operation and happens
/// in the one writing thread; GDAL compresses blocks on its threads and still writes them in
/// submission order, so the file is the same as with one thread.
pub(crate) fn with_compression_threads(
    driver: &pgp_core::RasterDriver,
    exec: &Executor,
) -> pgp_core::RasterDriver {
    let compresses = driver
        .option("COMPRESS")
        .is_some_and(|c| !c.eq_ignore_ascii_case("NONE"));
    if exec.workers() > 1
        && compresses
        && driver.driver.eq_ignore_ascii_case("GTiff")
        && driver.option("NUM_THREADS").is_none()
    {
        driver
            .clone()
            .with_option("NUM_THREADS", &exec.workers().to_string())
    } else {
        driver.clone()
    }
}

/// Writes blocks to band 1 of an output and hands them to GDAL to compress and store every
/// [`DirtyBlocks::LIMIT`] bytes, so GDAL's block cache (and memory) does not grow with the
/// raster and compression (on GDAL's threads, see [`with_compression_threads`]) overlaps the
/// rest of the work instead of all happening when the file is closed.
pub(crate) struct DirtyBlocks {
    bytes: usize,
}

impl DirtyBlocks {
    /// Bytes of written blocks after which they are flushed.
    pub(crate) const LIMIT: usize = 32 << 20;

    pub(crate) fn new() -> DirtyBlocks {
        DirtyBlocks { bytes: 0 }
    }

    /// Writes `data` at `window` and flushes when enough is pending.
    pub(crate) fn write<T: pgp_core::Pixel>(
        &mut self,
        out: &mut pgp_core::OutputRaster,
        x_off: usize,
        y_off: usize,
        data: ndarray::ArrayView2<'_, T>,
    ) -> crate::Result<()> {
        out.raster().write(1, x_off, y_off, data)?;
        self.bytes += data.len() * std::mem::size_of::<T>();
        if self.bytes >= Self::LIMIT {
            self.bytes = 0;
            flush_band(out)?;
        }
        Ok(())
    }

    /// [`DirtyBlocks::write`] for a block of any pixel type.
    pub(crate) fn write_dyn(
        &mut self,
        out: &mut pgp_core::OutputRaster,
        x_off: usize,
        y_off: usize,
        data: &pgp_core::DynArray,
    ) -> crate::Result<()> {
        out.raster().write_dyn(1, x_off, y_off, data)?;
        let (rows, cols) = data.shape();
        self.bytes += rows * cols * data.data_type().size_bytes();
        if self.bytes >= Self::LIMIT {
            self.bytes = 0;
            flush_band(out)?;
        }
        Ok(())
    }
}

fn flush_band(out: &mut pgp_core::OutputRaster) -> crate::Result<()> {
    let target = out.target().to_path_buf();
    let raster = out.raster();
    let band = raster
        .dataset()
        .rasterband(1)
        .map_err(|e| pgp_core::Error::gdal(&target, "opening band 1", e))?;
    // SAFETY: a valid band handle owned by `raster`, used on this thread only.
    let rv = unsafe { gdal_sys::GDALFlushRasterCache(band.c_rasterband()) };
    if rv != gdal_sys::CPLErr::CE_None {
        return Err(pgp_core::Error::Gdal {
            path: target,
            operation: "writing blocks (flushing GDAL's cache)".into(),
            message: "GDALFlushRasterCache failed".into(),
        }
        .into());
    }
    Ok(())
}
