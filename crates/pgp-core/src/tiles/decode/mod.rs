//! Reading a tiled GeoTIFF's pixels without GDAL: raw tiles decoded on the calling thread.
//!
//! GDAL decodes every block inside `RasterIO`, with libtiff's LZW and zlib decoders; for a
//! simple raster calculation that is about 40% of the work. [`TiffTiles`] reads the first image
//! directory of a file itself (TIFF or BigTIFF, either byte order) and, for windows made of
//! whole tiles, reads and decodes the tiles directly: uncompressed, LZW (its own decoder) or DEFLATE
//! (libdeflate, as GDAL's libtiff), with horizontal (2) or floating-point (3) predictor, 8- to 64-bit
//! samples, one band or band-separate planes. The pixels are the ones GDAL would return (tests
//! compare both on files GDAL wrote with every combination).
//!
//! Anything else (strips, JPEG or other codecs, pixel-interleaved bands, masks, missing tiles of
//! sparse files, windows that do not cover whole tiles) is not handled here: [`TiffTiles::open`]
//! returns `None` or [`TiffTiles::read_window_into`] `Ok(false)`, and [`Raster`] reads through
//! GDAL as before. `Raster` uses this path by itself for read-only GTiff datasets whose GDAL
//! view matches the directory; set `PGP_TILE_READS=gdal` (or call [`set_raw_tile_reads`]) to
//! read everything through GDAL.
//!
//! ```
//! use pgp_core::{tiles::decode::TiffTiles, DataType, GeoTransform, OutputRaster, RasterSpec, Window};
//! # fn main() -> pgp_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("t.tif");
//! let spec = RasterSpec::new(300, 200, DataType::U16, GeoTransform::north_up(0.0, 0.0, 1.0, -1.0));
//! let mut out = OutputRaster::create(&path, &spec)?;
//! out.raster().fill(1, 7.0)?;
//! out.commit()?;
//!
//! let tiles = TiffTiles::open(&path)?.expect("a tiled LZW GeoTIFF");
//! let edge = Window::new(256, 0, 44, 200); // the last column of tiles
//! let block = tiles.read_window(1, edge)?.expect("whole tiles");
//! assert_eq!(block.cast::<u16>().iter().filter(|&&v| v == 7).count(), 44 * 200);
//! # Ok(())
//! # }
//! ```
//!
//! [`Raster`]: crate::Raster

mod codec;
mod directory;
mod lzw;

use std::cell::RefCell;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::{with_pixel_type, DataType, DynArray, Error, Pixel, Result, Window};

const UNSET: u8 = 0;
const ON: u8 = 1;
const OFF: u8 = 2;
static RAW_READS: AtomicU8 = AtomicU8::new(UNSET);

/// Whether [`Raster`](crate::Raster)s decode whole tiles themselves when they can: yes unless
/// [`set_raw_tile_reads`] said otherwise, or the environment variable `PGP_TILE_READS` is `gdal`.
pub fn raw_tile_reads() -> bool {
    match RAW_READS.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => {
            let on = std::env::var_os("PGP_TILE_READS").is_none_or(|v| v != "gdal");
            RAW_READS.store(if on { ON } else { OFF }, Ordering::Relaxed);
            on
        }
    }
}

/// Turn raw tile reads on or off in this process, for rasters not read yet (benchmarks compare
/// both; worker processes follow the environment variable instead).
pub fn set_raw_tile_reads(on: bool) {
    RAW_READS.store(if on { ON } else { OFF }, Ordering::Relaxed);
}

/// Largest decompressed tile accepted (GDAL's tiles are at most a few MiB): a corrupt tile size
/// must not make a reader allocate gigabytes.
const MAX_TILE_BYTES: usize = 256 << 20;

/// Random-access bytes: a file, or a buffer (tests and fuzzing).
pub trait ByteSource: Send {
    /// Total length in bytes.
    fn len(&self) -> u64;
    /// Whether the source is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Fill `buf` from offset `at`, failing if fewer bytes are there.
    fn read_at(&self, at: u64, buf: &mut [u8]) -> std::io::Result<()>;
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> u64 {
        self.as_slice().len() as u64
    }
    fn read_at(&self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        let start = usize::try_from(at).unwrap_or(usize::MAX);
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::UnexpectedEof))?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

struct FileSource {
    file: File,
    len: u64,
}

impl ByteSource for FileSource {
    fn len(&self) -> u64 {
        self.len
    }
    #[cfg(unix)]
    fn read_at(&self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, at)
    }
    #[cfg(not(unix))]
    fn read_at(&self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        std::os::windows::fs::FileExt::seek_read(&self.file, buf, at).and_then(|n| {
            if n == buf.len() {
                Ok(())
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            }
        })
    }
}

/// What the first directory says about the pixels.
#[derive(Debug, Clone)]
struct Layout {
    size: (usize, usize),
    tile: (usize, usize),
    bands: usize,
    /// PlanarConfiguration 2: one set of tiles per band.
    separate: bool,
    datatype: DataType,
    compression: u16,
    predictor: u16,
    big_endian: bool,
    offsets: Vec<u64>,
    counts: Vec<u64>,
}

/// The tiles of a GeoTIFF's full-resolution image, read and decoded without GDAL.
pub struct TiffTiles {
    path: PathBuf,
    source: Box<dyn ByteSource>,
    layout: Layout,
}

impl std::fmt::Debug for TiffTiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TiffTiles")
            .field("path", &self.path)
            .field("layout", &self.layout)
            .finish()
    }
}

thread_local! {
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

impl TiffTiles {
    /// Read the first directory of `path`. `Ok(None)`: a TIFF whose layout this module does not
    /// decode (or not a TIFF at all); an error names the file when it is a corrupt TIFF.
    pub fn open(path: impl AsRef<Path>) -> Result<Option<TiffTiles>> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut magic = [0u8; 4];
        let source = FileSource { file, len };
        if source.read_at(0, &mut magic).is_err() || !is_tiff_magic(&magic) {
            return Ok(None);
        }
        TiffTiles::from_source(path, Box::new(source))
    }

    /// Read the first directory of a TIFF held in `source`; `path` is the name errors give.
    pub fn from_source(
        path: impl AsRef<Path>,
        source: Box<dyn ByteSource>,
    ) -> Result<Option<TiffTiles>> {
        let path = path.as_ref().to_path_buf();
        let layout = directory::parse(source.as_ref()).map_err(|message| Error::CorruptTiff {
            path: path.clone(),
            message,
        })?;
        Ok(layout.map(|layout| TiffTiles {
            path,
            source,
            layout,
        }))
    }

    /// `(cols, rows)` of the image.
    pub fn size(&self) -> (usize, usize) {
        self.layout.size
    }

    /// `(cols, rows)` of a tile.
    pub fn tile_size(&self) -> (usize, usize) {
        self.layout.tile
    }

    /// Number of bands.
    pub fn band_count(&self) -> usize {
        self.layout.bands
    }

    /// Pixel type of every band.
    pub fn data_type(&self) -> DataType {
        self.layout.datatype
    }

    /// Whether decoding here is faster than GDAL's libtiff, as measured on the sample data
    /// (`cargo bench -p pgp-core --bench tile_decode`): so for DEFLATE (libdeflate either way,
    /// less copying), uncompressed tiles, predictors 2 and 3 (libtiff's are slow) and bytes;
    /// not for LZW without predictor on wider samples, where libtiff 4.5's decoder is ~1.4x
    /// faster than this one on noisy float32. [`Raster`](crate::Raster) reads only these.
    pub fn beats_gdal(&self) -> bool {
        let l = &self.layout;
        !(l.compression == codec::LZW && l.predictor == 1 && l.datatype.size_bytes() > 1)
    }

    /// Whether `window` is made of whole tiles (the right and bottom edge tiles may be
    /// partial) inside the image: the windows [`TiffTiles::read_window_into`] reads.
    pub fn is_aligned(&self, window: Window) -> bool {
        let fits = |off: usize, len: usize, step: usize, full: usize| {
            off.is_multiple_of(step)
                && off
                    .checked_add(len)
                    .is_some_and(|end| end <= full && (len.is_multiple_of(step) || end == full))
        };
        let (tw, th) = self.layout.tile;
        window.width > 0
            && window.height > 0
            && fits(window.x_off, window.width, tw, self.layout.size.0)
            && fits(window.y_off, window.height, th, self.layout.size.1)
    }

    /// Decode `window` of `band` (from 1) into `out`, native-endian pixels in row-major order
    /// (`window.area()` pixels of [`TiffTiles::data_type`]). `Ok(false)`, with `out` in an
    /// unspecified state, when the window is not whole tiles or one of its tiles is absent
    /// (sparse files, where GDAL supplies the fill value): read it through GDAL instead.
    pub fn read_window_into(&self, band: usize, window: Window, out: &mut [u8]) -> Result<bool> {
        let l = &self.layout;
        let px = l.datatype.size_bytes();
        if band == 0 || band > l.bands {
            return Err(Error::BandOutOfRange {
                path: self.path.clone(),
                band,
                count: l.bands,
            });
        }
        if out.len() != window.area() * px {
            return Err(Error::invalid(
                "out",
                format!(
                    "{} bytes for window {window} of {px}-byte pixels",
                    out.len()
                ),
            ));
        }
        let (tw, th) = l.tile;
        let tile_bytes = tw
            .checked_mul(th)
            .and_then(|n| n.checked_mul(px))
            .filter(|&n| n <= MAX_TILE_BYTES);
        let Some(tile_bytes) = tile_bytes else {
            return Ok(false);
        };
        if !self.is_aligned(window) {
            return Ok(false);
        }
        let across = l.size.0.div_ceil(tw);
        let per_band = across * l.size.1.div_ceil(th);
        let first = if l.separate { (band - 1) * per_band } else { 0 };
        let coding = codec::TileCoding {
            compression: l.compression,
            predictor: l.predictor,
            big_endian: l.big_endian,
            sample: px,
            row: tw,
        };
        let row_out = window.width * px;
        SCRATCH.with(|scratch| {
            let (raw, tile) = &mut *scratch.borrow_mut();
            tile.resize(tile_bytes, 0);
            for ty in (0..window.height).step_by(th) {
                for tx in (0..window.width).step_by(tw) {
                    let index =
                        first + (window.y_off + ty) / th * across + (window.x_off + tx) / tw;
                    let (at, count) = (l.offsets[index], l.counts[index]);
                    if at == 0 || count == 0 {
                        return Ok(false);
                    }
                    let corrupt = |message: String| Error::CorruptTiff {
                        path: self.path.clone(),
                        message: format!("tile {index}: {message}"),
                    };
                    // A stored tile may exceed its pixels by LZW's worst case, but not the file.
                    let count = usize::try_from(count)
                        .ok()
                        .filter(|&c| {
                            at.checked_add(c as u64)
                                .is_some_and(|e| e <= self.source.len())
                        })
                        .ok_or_else(|| {
                            corrupt(format!("{count} bytes at {at} past the end of the file"))
                        })?;
                    raw.resize(count, 0);
                    self.source
                        .read_at(at, raw)
                        .map_err(|e| Error::io(&self.path, e))?;
                    codec::decode_tile(coding, raw, tile).map_err(corrupt)?;
                    let w = tw.min(window.width - tx) * px;
                    for r in 0..th.min(window.height - ty) {
                        let dst = (ty + r) * row_out + tx * px;
                        out[dst..dst + w].copy_from_slice(&tile[r * tw * px..r * tw * px + w]);
                    }
                }
            }
            Ok(true)
        })
    }

    /// [`TiffTiles::read_window_into`] into a new array; `Ok(None)` where that gives `false`.
    pub fn read_window(&self, band: usize, window: Window) -> Result<Option<DynArray>> {
        with_pixel_type!(self.layout.datatype, T => {
            let mut buf = vec![T::default(); window.area()];
            if !self.read_window_into(band, window, pixel_bytes_mut(&mut buf))? {
                return Ok(None);
            }
            let array = ndarray::Array2::from_shape_vec(window.shape(), buf)
                .map_err(|e| Error::invalid("window", e.to_string()))?;
            Ok(Some(array.into()))
        })
    }
}

fn is_tiff_magic(m: &[u8; 4]) -> bool {
    matches!(m, [b'I', b'I', 42 | 43, 0] | [b'M', b'M', 0, 42 | 43])
}

/// The bytes of a pixel slice, to decode into.
pub(crate) fn pixel_bytes_mut<T: Pixel>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: pixels are plain numbers (sealed trait: u8..f64) for which every bit pattern is
    // valid; the byte slice covers exactly the same memory and borrows `v` mutably.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}
