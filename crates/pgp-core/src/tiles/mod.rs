//! Compressed GeoTIFF tiles made on the workers, written by one writer without recompression.
//!
//! GDAL compresses every block in the thread that writes it (or on a few helper threads), and
//! for block-wise operations that compression is most of the work: an 8192² float32 LZW output
//! costs more CPU than reading both inputs. When the output is a tiled, LZW-compressed GeoTIFF
//! without predictor (pygeoprocessing's default creation options; any number of bands, pixel or
//! band interleaved), pgp instead compresses each tile where the block was computed
//! ([`encode_window`], [`encode_bands`], in parallel on the executor) and the writer only
//! appends bytes ([`TiledTiffOutput`]).
//!
//! GDAL still creates the file (geotransform, projection, nodata, every tag it would write),
//! as a sparse file with empty tile arrays; the writer appends tiles, fills the two arrays in,
//! and reopens the file with GDAL for statistics. Other creation options take GDAL's own path
//! ([`TileLayout::for_spec`] says which).

pub mod decode;
mod ifd;
mod lzw;

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use lzw::LzwEncoder;

use crate::raster::create::{create_raster, RasterSpec};
use crate::raster::dataset::Raster;
use crate::raster::output::{
    check_output_path, remove_temporary, rename_into_place, temporary_sibling,
};
use crate::{with_pixel_type, DataType, DynArray, Error, Pixel, Result, Window};

/// Creation options the raw-tile path understands (anything else goes through GDAL).
const UNDERSTOOD: [&str; 8] = [
    "TILED",
    "BLOCKXSIZE",
    "BLOCKYSIZE",
    "COMPRESS",
    "BIGTIFF",
    "NUM_THREADS",
    "PREDICTOR",
    "INTERLEAVE",
];

/// The tile grid of an output written as raw tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TileLayout {
    /// Raster width and height.
    pub size: (usize, usize),
    /// Tile width and height.
    pub tile: (usize, usize),
    /// Pixel type.
    pub datatype: DataType,
    /// Number of bands.
    pub bands: usize,
    /// How the bands share tiles (irrelevant for one band).
    pub interleave: Interleave,
}

/// How the bands of a multi-band TIFF are laid out in its tiles (GDAL's `INTERLEAVE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Interleave {
    /// One tile holds every band, pixel by pixel (`PlanarConfiguration` 1, GDAL's default).
    Pixel,
    /// One tile per band; all of band 1's tiles come first in the tile arrays (`PlanarConfiguration` 2).
    Band,
}

/// One compressed tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawTile {
    /// Tile index in the file's tile arrays: row-major over the tile grid, and for
    /// band-interleaved outputs band by band after that (band `b`'s tiles start at `b` times
    /// the grid's count).
    pub index: usize,
    /// TIFF LZW bytes of the whole (padded) tile; serialised as one block, not byte by byte
    /// (a fifth of a process-pool calculation went to bincode before).
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl TileLayout {
    /// The layout when `spec` can be written as raw tiles: GTiff, tiled, LZW, no predictor, no
    /// fill value, pixel or band interleaved, only creation options pgp's writer understands (`UNDERSTOOD`). `None` means "let
    /// GDAL write".
    pub fn for_spec(spec: &RasterSpec) -> Option<TileLayout> {
        let d = &spec.driver;
        let is =
            |key: &str, want: &str| d.option(key).is_some_and(|v| v.eq_ignore_ascii_case(want));
        let understood = d.options.iter().all(|o| {
            let key = o
                .split('=')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_uppercase();
            UNDERSTOOD.contains(&key.as_str())
        });
        let no_predictor = d.option("PREDICTOR").is_none_or(|p| p.trim() == "1");
        let interleave = match d.option("INTERLEAVE").map(str::trim) {
            None => Interleave::Pixel,
            Some(v) if v.eq_ignore_ascii_case("PIXEL") => Interleave::Pixel,
            Some(v) if v.eq_ignore_ascii_case("BAND") => Interleave::Band,
            Some(_) => return None,
        };
        if !(d.driver.eq_ignore_ascii_case("GTiff")
            && spec.bands >= 1
            && spec.fill.is_none()
            && is("TILED", "YES")
            && is("COMPRESS", "LZW")
            && no_predictor
            && understood
            && cfg!(target_endian = "little"))
        {
            return None;
        }
        let size_of = |key: &str| {
            d.option(key)
                .map_or(Some(256), |v| v.trim().parse::<usize>().ok())
        };
        let tile = (size_of("BLOCKXSIZE")?, size_of("BLOCKYSIZE")?);
        if tile.0 == 0 || tile.1 == 0 || !tile.0.is_multiple_of(16) || !tile.1.is_multiple_of(16) {
            return None;
        }
        Some(TileLayout {
            size: (spec.cols, spec.rows),
            tile,
            datatype: spec.datatype,
            bands: spec.bands,
            interleave,
        })
    }

    /// Tiles across and down.
    pub fn grid(&self) -> (usize, usize) {
        (
            self.size.0.div_ceil(self.tile.0),
            self.size.1.div_ceil(self.tile.1),
        )
    }

    /// Number of tile positions in the grid.
    pub fn count(&self) -> usize {
        let (a, d) = self.grid();
        a * d
    }

    /// Number of tiles in the file: one per position, or one per position and band when the
    /// bands are interleaved by band.
    pub fn tiles(&self) -> usize {
        match self.interleave {
            Interleave::Band => self.count() * self.bands,
            Interleave::Pixel => self.count(),
        }
    }

    fn aligned(&self, w: Window) -> bool {
        let fits = |off: usize, len: usize, step: usize, full: usize| {
            off.is_multiple_of(step)
                && (len.is_multiple_of(step) || off + len == full)
                && off + len <= full
        };
        fits(w.x_off, w.width, self.tile.0, self.size.0)
            && fits(w.y_off, w.height, self.tile.1, self.size.1)
            && w.width > 0
            && w.height > 0
    }
}

thread_local! {
    static ENCODER: RefCell<LzwEncoder> = RefCell::new(LzwEncoder::new());
}

/// Compress the tiles `data` covers in a one-band output; `window` must be made of whole
/// tiles of `layout` (the right and bottom edge tiles may be partial: they are padded with
/// zeros, as TIFF wants).
pub fn encode_window(data: &DynArray, window: Window, layout: &TileLayout) -> Result<Vec<RawTile>> {
    encode_bands(std::slice::from_ref(data), window, layout)
}

/// [`encode_window`] for every band of the output at once (band 1 first), as the layout
/// interleaves them: one tile per position holding all bands pixel by pixel, or one tile per
/// position and band. Tiles come out in file order within the window.
pub fn encode_bands(
    bands: &[DynArray],
    window: Window,
    layout: &TileLayout,
) -> Result<Vec<RawTile>> {
    if bands.len() != layout.bands {
        return Err(Error::invalid(
            "data",
            format!("{} band(s) for a {}-band output", bands.len(), layout.bands),
        ));
    }
    for data in bands {
        if data.data_type() != layout.datatype {
            return Err(Error::invalid(
                "data",
                format!(
                    "{} pixels for a {} output",
                    data.data_type(),
                    layout.datatype
                ),
            ));
        }
        if data.shape() != window.shape() {
            return Err(Error::invalid(
                "window",
                format!("{:?} pixels for window {window:?}", data.shape()),
            ));
        }
    }
    if !layout.aligned(window) {
        return Err(Error::invalid(
            "window",
            format!("{window:?} is not whole tiles of {:?}", layout.tile),
        ));
    }
    with_pixel_type!(layout.datatype, T => {
        let views = bands
            .iter()
            .map(|b| b.view::<T>().ok_or_else(|| Error::invalid("data", "pixel type mismatch")))
            .collect::<Result<Vec<_>>>()?;
        Ok(match layout.interleave {
            Interleave::Pixel => encode_typed::<T>(&views, window, layout, 0),
            Interleave::Band => {
                let mut tiles = Vec::new();
                for (b, view) in views.iter().enumerate() {
                    let first = b * layout.count();
                    tiles.extend(encode_typed::<T>(std::slice::from_ref(view), window, layout, first));
                }
                tiles
            }
        })
    })
}

/// The tiles of `window`, each holding the samples of `views` pixel by pixel (one view: a
/// plain one-sample tile), numbered from `first`.
fn encode_typed<T: Pixel>(
    views: &[ndarray::ArrayView2<'_, T>],
    window: Window,
    layout: &TileLayout,
    first: usize,
) -> Vec<RawTile> {
    let (tw, th) = layout.tile;
    let across = layout.grid().0;
    let px = std::mem::size_of::<T>();
    let samples = views.len();
    let pixel = px * samples;
    let mut tiles = Vec::new();
    let mut buf = vec![0u8; tw * th * pixel];
    ENCODER.with(|enc| {
        let mut enc = enc.borrow_mut();
        for ty in (0..window.height).step_by(th) {
            for tx in (0..window.width).step_by(tw) {
                let w = tw.min(window.width - tx);
                let h = th.min(window.height - ty);
                buf.fill(0);
                for r in 0..h {
                    let dst = &mut buf[r * tw * pixel..(r * tw + w) * pixel];
                    for (s, view) in views.iter().enumerate() {
                        let row = view.row(ty + r);
                        let row = row.slice(ndarray::s![tx..tx + w]);
                        match row.as_slice() {
                            Some(src) => interleave(dst, samples_bytes(src), s, samples, px),
                            None => {
                                for (c, out) in dst.chunks_exact_mut(pixel).enumerate() {
                                    out[s * px..(s + 1) * px].copy_from_slice(pixel_bytes(&row[c]));
                                }
                            }
                        }
                    }
                }
                let index = first + ((window.y_off + ty) / th) * across + (window.x_off + tx) / tw;
                tiles.push(RawTile {
                    index,
                    bytes: enc.encode(&buf),
                });
            }
        }
    });
    tiles
}

/// Put the `px`-byte values of `src` at sample `s` of each `samples`-sample pixel of `dst`:
/// one copy for one sample, a strided loop the compiler unrolls otherwise.
fn interleave(dst: &mut [u8], src: &[u8], s: usize, samples: usize, px: usize) {
    if samples == 1 {
        dst.copy_from_slice(src);
    } else if px == 1 {
        for (out, &v) in dst.iter_mut().skip(s).step_by(samples).zip(src) {
            *out = v;
        }
    } else {
        for (out, v) in dst.chunks_exact_mut(samples * px).zip(src.chunks_exact(px)) {
            out[s * px..(s + 1) * px].copy_from_slice(v);
        }
    }
}

/// A row of pixels' bytes as stored in a little-endian TIFF.
fn samples_bytes<T: Pixel>(v: &[T]) -> &[u8] {
    // SAFETY: as for `pixel_bytes`: plain numbers, the slice borrows `v` for its size exactly.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// A pixel's bytes as stored in a little-endian TIFF.
fn pixel_bytes<T: Pixel>(v: &T) -> &[u8] {
    // SAFETY: pixels are plain numbers (sealed trait: u8..f64), any bit pattern is valid to
    // read as bytes, and the slice borrows `v` for its size exactly. Only compiled where the
    // machine is little-endian (checked in `for_spec`, which gates this path).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// A GeoTIFF written from raw tiles under a temporary name, renamed into place by
/// [`TiledTiffOutput::commit`]; dropped without committing, the partial file is deleted.
#[derive(Debug)]
pub struct TiledTiffOutput {
    layout: TileLayout,
    file: Option<File>,
    tmp: PathBuf,
    target: PathBuf,
    arrays: ifd::TileArrays,
    offsets: Vec<u64>,
    counts: Vec<u64>,
    end: u64,
}

impl TiledTiffOutput {
    /// Create `target` (under a temporary name) for raw tiles when `spec` allows it
    /// ([`TileLayout::for_spec`]); `Ok(None)` means GDAL must write it.
    pub fn create(target: impl AsRef<Path>, spec: &RasterSpec) -> Result<Option<TiledTiffOutput>> {
        let Some(layout) = TileLayout::for_spec(spec) else {
            return Ok(None);
        };
        let target = target.as_ref().to_path_buf();
        check_output_path(&target)?;
        let tmp = temporary_sibling(&target);
        let mut sparse = spec.clone();
        sparse.driver = spec.driver.clone().with_option("SPARSE_OK", "TRUE");
        let cleanup = |e: Error| {
            let _ = std::fs::remove_file(&tmp);
            e
        };
        create_raster(&tmp, &sparse)?.close().map_err(cleanup)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| cleanup(Error::io(&tmp, e)))?;
        let arrays = ifd::tile_arrays(&mut file, &tmp).map_err(cleanup)?;
        let uncompressed = (layout.count() * layout.tile.0 * layout.tile.1 * layout.bands) as u64
            * layout.datatype.size_bytes() as u64;
        // LZW can grow incompressible data by up to half; stay far from 4 GiB in classic TIFF.
        let fits = arrays.big || uncompressed / 2 * 3 < u64::from(u32::MAX) - (64 << 20);
        if arrays.count != layout.tiles() as u64 || arrays.byte_counts.width < 4 || !fits {
            drop(file);
            let _ = std::fs::remove_file(&tmp);
            return Ok(None);
        }
        let end = file
            .seek(SeekFrom::End(0))
            .map_err(|e| cleanup(Error::io(&tmp, e)))?;
        Ok(Some(TiledTiffOutput {
            layout,
            file: Some(file),
            tmp,
            target,
            arrays,
            offsets: vec![0; layout.tiles()],
            counts: vec![0; layout.tiles()],
            end,
        }))
    }

    /// The tile grid workers encode for.
    pub fn layout(&self) -> &TileLayout {
        &self.layout
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Append one compressed tile.
    pub fn write(&mut self, tile: &RawTile) -> Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Err(Error::invalid("output", "written after commit"));
        };
        if tile.index >= self.offsets.len() || self.counts[tile.index] != 0 {
            return Err(Error::invalid(
                "tile",
                format!(
                    "{}: tile {} is out of range or written twice",
                    self.target.display(),
                    tile.index
                ),
            ));
        }
        file.seek(SeekFrom::Start(self.end))
            .and_then(|_| file.write_all(&tile.bytes))
            .map_err(|e| Error::io(&self.target, e))?;
        self.offsets[tile.index] = self.end;
        self.counts[tile.index] = tile.bytes.len() as u64;
        self.end += tile.bytes.len() as u64;
        Ok(())
    }

    /// Fill in the tile arrays, let `finish` set statistics or metadata through GDAL (the file
    /// is reopened for it only when given), and rename the file into place. Every tile must
    /// have been written.
    pub fn commit(mut self, finish: Option<FinishFn<'_>>) -> Result<PathBuf> {
        if let Some(missing) = self.counts.iter().position(|&c| c == 0) {
            return Err(Error::invalid(
                "tiles",
                format!(
                    "{}: tile {missing} was never written",
                    self.target.display()
                ),
            ));
        }
        let Some(mut file) = self.file.take() else {
            return Err(Error::invalid("output", "committed twice"));
        };
        ifd::write_array(&mut file, &self.tmp, self.arrays.offsets, &self.offsets)?;
        ifd::write_array(&mut file, &self.tmp, self.arrays.byte_counts, &self.counts)?;
        file.flush().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        if let Some(finish) = finish {
            let mut r = Raster::open_update(&self.tmp)?;
            finish(&mut r)?;
            r.close()?;
        }
        rename_into_place(&self.tmp, &self.target)?;
        Ok(self.target.clone())
    }
}

/// What [`TiledTiffOutput::commit`] runs on the finished file, opened with GDAL for update.
pub type FinishFn<'a> = Box<dyn FnOnce(&mut Raster) -> Result<()> + 'a>;

impl Drop for TiledTiffOutput {
    fn drop(&mut self) {
        // After a successful commit the temporary name no longer exists.
        self.file.take();
        remove_temporary(&self.tmp);
    }
}
