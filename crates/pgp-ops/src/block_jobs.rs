//! Running per-block work on any executor, results in input order.
//!
//! Every block-wise operation here describes one unit of work twice over the same function: as a
//! closure on sync and thread executors (which can reuse open raster handles), and as a
//! registered [`RemoteOp`] on a process pool (arguments are paths, windows and parameters; the
//! worker opens what it needs). The caller consumes results in input order on one thread, which
//! is where outputs are written, so the output does not depend on the executor.

use pgp_exec::{Executor, RemoteOp};
use serde::{Deserialize, Serialize};

use pgp_core::tiles::{encode_window, FinishFn, RawTile, TileLayout, TiledTiffOutput};
use pgp_core::{DynArray, OutputRaster, Raster, RasterSpec, Window};

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
    let items = items.into_iter();
    let tracker = Tracker::start(operation, "blocks", expected_len(&items));
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
    let items = items.into_iter();
    let tracker = Tracker::start(operation, "blocks", expected_len(&items));
    Box::new(
        tracker.track(
            exec.map_ordered_op::<O>(items)
                .map(|r| r.map_err(Error::from)),
        ),
    )
}

/// How many items an iterator will yield, for progress: its upper bound when it has one (a
/// `map_while` that stops early only does so on an error). Items are never collected first:
/// they are made as workers free up, so items that carry pixels (distance transform strips)
/// stay bounded in memory like the results.
fn expected_len(items: &impl Iterator) -> usize {
    let (lower, upper) = items.size_hint();
    upper.unwrap_or(lower)
}

/// A token naming one call of an operation, for [`with_worker_raster`]: unique within this
/// process, and different from any other process's (it mixes in the process id).
pub(crate) fn run_token() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    (u64::from(std::process::id()) << 32) ^ n
}

/// Runs `f` on `path` opened in this (worker) process, keeping the handle for the next block
/// of the same call (`run`, from [`run_token`]). Blocks of one call overlap and share file
/// blocks; a handle kept from block to block decodes each file block once, as threads sharing
/// one handle do, instead of once per block that touches it. Another call (or file) reopens,
/// so a handle never outlives the call that opened it by more than one block.
pub(crate) fn with_worker_raster<R>(
    run: u64,
    path: &std::path::Path,
    f: impl FnOnce(&Raster) -> Result<R>,
) -> Result<R> {
    type Kept = Option<(u64, std::path::PathBuf, Raster)>;
    static KEPT: std::sync::Mutex<Kept> = std::sync::Mutex::new(None);
    let mut kept = KEPT.lock().unwrap_or_else(|p| p.into_inner());
    let reuse = matches!(kept.as_ref(), Some((r, p, _)) if *r == run && p == path);
    if !reuse {
        *kept = None;
        *kept = Some((run, path.to_path_buf(), Raster::open(path)?));
    }
    match kept.as_ref() {
        Some((_, _, raster)) => f(raster),
        None => Err(Error::invalid("raster", "worker handle missing")),
    }
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

/// Drop a read-only band's cached blocks after reading `window`, when the window covers whole
/// blocks of that band (then no later window reads them again). Keeps GDAL's block cache, and
/// so memory, from growing with the raster; blocks shared with later windows stay cached.
pub(crate) fn forget_read_blocks(raster: &Raster, band: usize, window: Window) {
    let Ok((bx, by)) = raster.block_size(band) else {
        return;
    };
    let (cols, rows) = raster.size();
    let whole = |off: usize, len: usize, step: usize, full: usize| {
        step > 0 && off.is_multiple_of(step) && (len.is_multiple_of(step) || off + len == full)
    };
    if !(whole(window.x_off, window.width, bx, cols)
        && whole(window.y_off, window.height, by, rows))
    {
        return;
    }
    if let Ok(b) = raster.dataset().rasterband(band) {
        // SAFETY: a valid band handle of a read-only dataset used by this thread only; flushing
        // a read-only band just releases its cached blocks.
        unsafe {
            gdal_sys::GDALFlushRasterCache(b.c_rasterband());
        }
    }
}

/// A block's pixels, or the same pixels already compressed as the output's tiles. Serialisable,
/// so process-pool workers compress their blocks too and send the tiles back as bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum Payload {
    Pixels(DynArray),
    Tiles(Vec<RawTile>),
}

impl Payload {
    /// Compress pixels into `layout`'s tiles (call it on the worker that computed them), when
    /// the output takes raw tiles; anything else is returned as it is.
    pub(crate) fn encoded(self, window: Window, layout: Option<&TileLayout>) -> Result<Payload> {
        match (layout, self) {
            (Some(layout), Payload::Pixels(data)) => {
                Ok(Payload::Tiles(encode_window(&data, window, layout)?))
            }
            (_, other) => Ok(other),
        }
    }
}

/// Where an operation's blocks go, in block order from one thread: raw tiles compressed by the
/// workers when the output allows ([`TiledTiffOutput`]), GDAL's writer otherwise. Either way
/// the output appears at its path only on [`Sink::commit`].
pub(crate) enum Sink {
    Raw(TiledTiffOutput),
    Gdal(OutputRaster, DirtyBlocks),
}

impl Sink {
    /// Create `target`. `step` is the size of the windows the operation will write, when it
    /// does not follow the output's tiles; raw tiles are used only if those windows are made of
    /// whole tiles.
    pub(crate) fn create(
        target: &std::path::Path,
        spec: &RasterSpec,
        step: Option<(usize, usize)>,
    ) -> Result<Sink> {
        let whole_tiles = |tile: (usize, usize)| {
            step.is_none_or(|(sx, sy)| {
                (sx.is_multiple_of(tile.0) || sx >= spec.cols)
                    && (sy.is_multiple_of(tile.1) || sy >= spec.rows)
            })
        };
        if TileLayout::for_spec(spec).is_some_and(|l| whole_tiles(l.tile)) {
            if let Some(raw) = TiledTiffOutput::create(target, spec)? {
                return Ok(Sink::Raw(raw));
            }
        }
        Ok(Sink::Gdal(
            OutputRaster::create(target, spec)?,
            DirtyBlocks::new(),
        ))
    }

    /// The tile layout workers compress for, when the output takes raw tiles.
    pub(crate) fn layout(&self) -> Option<TileLayout> {
        match self {
            Sink::Raw(raw) => Some(*raw.layout()),
            Sink::Gdal(..) => None,
        }
    }

    /// The output's block (tile) size.
    pub(crate) fn block_size(&mut self) -> Result<(usize, usize)> {
        match self {
            Sink::Raw(raw) => Ok(raw.layout().tile),
            Sink::Gdal(out, _) => Ok(out.raster().block_size(1)?),
        }
    }

    /// Write one block.
    pub(crate) fn write(&mut self, window: Window, data: &Payload) -> Result<()> {
        match (self, data) {
            (Sink::Raw(raw), Payload::Tiles(tiles)) => {
                for t in tiles {
                    raw.write(t)?;
                }
            }
            (Sink::Raw(raw), Payload::Pixels(data)) => {
                let layout = *raw.layout();
                for t in encode_window(data, window, &layout)? {
                    raw.write(&t)?;
                }
            }
            (Sink::Gdal(out, dirty), Payload::Pixels(data)) => {
                dirty.write_dyn(out, window.x_off, window.y_off, data)?;
            }
            (Sink::Gdal(..), Payload::Tiles(_)) => {
                return Err(Error::invalid(
                    "block",
                    "compressed tiles for an output GDAL writes",
                ))
            }
        }
        Ok(())
    }

    /// Finish the output: `finish` (statistics, metadata) runs on it through GDAL, then it is
    /// renamed into place.
    pub(crate) fn commit(self, finish: Option<FinishFn<'_>>) -> Result<()> {
        match self {
            Sink::Raw(raw) => {
                raw.commit(finish)?;
            }
            Sink::Gdal(mut out, _) => {
                if let Some(finish) = finish {
                    finish(out.raster())?;
                }
                out.commit()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use pgp_core::{with_pixel_type, Pixel};

    fn round_trip(p: &Payload) -> Payload {
        bincode::deserialize(&bincode::serialize(p).unwrap()).unwrap()
    }

    #[test]
    fn payloads_cross_the_wire_unchanged() {
        let tiles = vec![
            RawTile {
                index: 3,
                bytes: vec![1, 2, 255],
            },
            RawTile {
                index: 0,
                bytes: Vec::new(),
            },
        ];
        match round_trip(&Payload::Tiles(tiles.clone())) {
            Payload::Tiles(back) => assert_eq!(back, tiles),
            other => panic!("{other:?}"),
        }
        for dt in pgp_core::DataType::ALL {
            let pixels = with_pixel_type!(dt, T => DynArray::from(Array2::from_shape_fn((3, 5), |(r, c)| {
                T::from_f64((r * 5 + c) as f64)
            })));
            match round_trip(&Payload::Pixels(pixels.clone())) {
                Payload::Pixels(back) => assert_eq!(back, pixels, "{dt}"),
                other => panic!("{other:?}"),
            }
        }
    }

    fn write_constant(path: &std::path::Path, value: f32) {
        let spec = RasterSpec::new(
            4,
            3,
            pgp_core::DataType::F32,
            pgp_core::GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
        );
        let mut out = OutputRaster::create(path, &spec).unwrap();
        out.raster()
            .write(1, 0, 0, Array2::from_elem((3, 4), value).view())
            .unwrap();
        out.commit().unwrap();
    }

    #[test]
    fn worker_handles_are_kept_within_a_call_and_reopened_for_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.tif");
        let read = |run: u64| {
            with_worker_raster(run, &path, |r| {
                Ok(r.read::<f32>(1, Window::new(0, 0, 4, 3))?[[1, 1]])
            })
            .unwrap()
        };
        write_constant(&path, 1.0);
        let (first, second) = (run_token(), run_token());
        assert_ne!(first, second);
        assert_eq!(read(first), 1.0);
        // Rewritten under the same name: the next call sees the new pixels.
        std::fs::remove_file(&path).unwrap();
        write_constant(&path, 2.0);
        assert_eq!(read(second), 2.0);
        // A missing file is an error naming it, not a kept handle.
        std::fs::remove_file(&path).unwrap();
        let err = with_worker_raster(run_token(), &path, |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("r.tif"), "{err}");
    }
}
