//! Where blocks go: the output sink (raw tiles or GDAL), the payload workers send, and the
//! helpers that keep GDAL's block cache bounded.

use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use pgp_core::tiles::{encode_bands, FinishFn, RawTile, TileLayout, TiledTiffOutput};
use pgp_core::{DynArray, OutputRaster, Raster, RasterSpec, Window};

use crate::{Error, Result};

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
            flush_bands(out)?;
        }
        Ok(())
    }

    /// [`DirtyBlocks::write`] for a block of any pixel type, to any band.
    pub(crate) fn write_dyn(
        &mut self,
        out: &mut pgp_core::OutputRaster,
        band: usize,
        window: Window,
        data: &pgp_core::DynArray,
    ) -> crate::Result<()> {
        out.raster()
            .write_dyn(band, window.x_off, window.y_off, data)?;
        let (rows, cols) = data.shape();
        self.bytes += rows * cols * data.data_type().size_bytes();
        if self.bytes >= Self::LIMIT {
            self.bytes = 0;
            flush_bands(out)?;
        }
        Ok(())
    }
}

impl DirtyBlocks {
    /// Writes one array per band (band 1 first, one type) at `window` in one GDAL call, so a
    /// pixel-interleaved output encodes each block once, and flushes when enough is pending.
    pub(crate) fn write_bands(
        &mut self,
        out: &mut pgp_core::OutputRaster,
        window: Window,
        bands: &[DynArray],
    ) -> crate::Result<()> {
        let Some(first) = bands.first() else {
            return Ok(());
        };
        let numbers: Vec<usize> = (1..=bands.len()).collect();
        pgp_core::with_pixel_type!(first.data_type(), T => {
            let views = bands
                .iter()
                .map(|b| {
                    b.view::<T>().ok_or_else(|| {
                        Error::internal(format!(
                            "bands of block {window} differ in type ({} and {})",
                            first.data_type(),
                            b.data_type()
                        ))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let block = ndarray::stack(ndarray::Axis(0), &views)
                .map_err(|e| Error::internal(format!("block {window}: {e}")))?;
            out.raster()
                .write_bands(&numbers, window.x_off, window.y_off, block.view())?;
        });
        self.bytes += window.area() * bands.len() * first.data_type().size_bytes();
        if self.bytes >= Self::LIMIT {
            self.bytes = 0;
            flush_bands(out)?;
        }
        Ok(())
    }
}

fn flush_bands(out: &mut pgp_core::OutputRaster) -> crate::Result<()> {
    let target = out.target().to_path_buf();
    let raster = out.raster();
    for i in 1..=raster.dataset().raster_count() {
        let band = raster
            .dataset()
            .rasterband(i)
            .map_err(|e| pgp_core::Error::gdal(&target, format!("opening band {i}"), e))?;
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
pub enum Payload {
    /// One band's pixels.
    Pixels(DynArray),
    /// One array per band, for outputs of several bands (band 1 first).
    Bands(Vec<DynArray>),
    /// Every band compressed as the output's tiles.
    Tiles(Vec<RawTile>),
}

impl Payload {
    /// A band x row x column block as the output's pixels: one band as [`Payload::Pixels`],
    /// several as [`Payload::Bands`].
    pub(crate) fn from_bands<T: pgp_core::Pixel>(block: ndarray::Array3<T>) -> Payload
    where
        DynArray: From<ndarray::Array2<T>>,
    {
        let mut bands: Vec<DynArray> = block
            .outer_iter()
            .map(|band| DynArray::from(band.to_owned()))
            .collect();
        if bands.len() == 1 {
            Payload::Pixels(bands.remove(0))
        } else {
            Payload::Bands(bands)
        }
    }

    /// Compress pixels into `layout`'s tiles (call it on the worker that computed them), when
    /// the output takes raw tiles; anything else is returned as it is.
    pub(crate) fn encoded(self, window: Window, layout: Option<&TileLayout>) -> Result<Payload> {
        match (layout, self) {
            (Some(layout), Payload::Pixels(data)) => Ok(Payload::Tiles(encode_bands(
                std::slice::from_ref(&data),
                window,
                layout,
            )?)),
            (Some(layout), Payload::Bands(bands)) => {
                Ok(Payload::Tiles(encode_bands(&bands, window, layout)?))
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
                for t in encode_bands(std::slice::from_ref(data), window, &layout)? {
                    raw.write(&t)?;
                }
            }
            (Sink::Raw(raw), Payload::Bands(bands)) => {
                let layout = *raw.layout();
                for t in encode_bands(bands, window, &layout)? {
                    raw.write(&t)?;
                }
            }
            (Sink::Gdal(out, dirty), Payload::Pixels(data)) => {
                dirty.write_dyn(out, 1, window, data)?;
            }
            (Sink::Gdal(out, dirty), Payload::Bands(bands)) => {
                dirty.write_bands(out, window, bands)?;
            }
            (Sink::Gdal(..), Payload::Tiles(_)) => {
                return Err(Error::internal(
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
}
