//! What every routing step shares: input bands, nodata matching, the neighbour numbering,
//! progress, and writing a working grid out as pygeoprocessing writes its outputs.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::tiles::{encode_window, RawTile, TileLayout, TiledTiffOutput};
use pgp_core::{DataType, DynArray, OutputRaster, Pixel, Raster, RasterInfo, RasterSpec};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::grid::{tile_windows, Cell, Grid};

/// Column offsets of the eight neighbours, direction codes 0-7 counter-clockwise from east
/// (`3 2 1 / 4 x 0 / 5 6 7`).
pub const COL_OFFSETS: [isize; 8] = [1, 1, 0, -1, -1, -1, 0, 1];
/// Row offsets of the eight neighbours (rows grow southwards).
pub const ROW_OFFSETS: [isize; 8] = [0, -1, -1, -1, 0, 1, 1, 1];
/// The direction from neighbour `i` back to the centre pixel.
pub const INFLOW_OFFSETS: [u8; 8] = [4, 5, 6, 7, 0, 1, 2, 3];
/// `sqrt(2)` (the same double as pygeoprocessing's 1.4142135623730951).
pub const SQRT2: f64 = std::f64::consts::SQRT_2;
/// `1 / sqrt(2)`, computed as pygeoprocessing computes it (not `FRAC_1_SQRT_2`, which may
/// differ in the last bit).
pub const SQRT2_INV: f64 = 1.0 / std::f64::consts::SQRT_2;
/// pygeoprocessing's nodata for float outputs and inputs without nodata.
pub const IMPROBABLE_FLOAT_NODATA: f64 = -1.23789789e29;

/// A band of a raster: the `(path, band)` tuples of pygeoprocessing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RasterBand {
    /// The raster.
    pub path: PathBuf,
    /// The band, from 1.
    pub band: usize,
}

impl RasterBand {
    /// Band `band` of `path`.
    pub fn new(path: impl Into<PathBuf>, band: usize) -> RasterBand {
        RasterBand {
            path: path.into(),
            band,
        }
    }

    /// Band 1 of `path`.
    pub fn first(path: impl Into<PathBuf>) -> RasterBand {
        RasterBand::new(path, 1)
    }

    /// Opens the raster and checks the band exists; returns the raster and its description.
    pub(crate) fn open(&self) -> Result<(Raster, RasterInfo)> {
        let raster = Raster::open(&self.path)?;
        raster.data_type(self.band)?;
        let info = raster.info()?;
        Ok((raster, info))
    }

    /// The band's nodata, if it has one.
    pub(crate) fn nodata(&self, info: &RasterInfo) -> Option<f64> {
        info.nodata.get(self.band - 1).copied().flatten()
    }
}

impl From<&Path> for RasterBand {
    fn from(path: &Path) -> RasterBand {
        RasterBand::first(path)
    }
}

/// pygeoprocessing's `is_close`: both NaN, or `|x - y| <= 1e-8 + 1e-5 * |y|`.
#[inline]
pub fn is_close(x: f64, y: f64) -> bool {
    if x.is_nan() && y.is_nan() {
        return true;
    }
    (x - y).abs() <= 1e-8 + 1e-5 * y.abs()
}

/// The neighbour of `(x, y)` in direction `d`, if it is inside a `cols` x `rows` raster.
#[inline]
pub fn neighbour(x: usize, y: usize, d: usize, cols: usize, rows: usize) -> Option<(usize, usize)> {
    let xn = x as isize + COL_OFFSETS[d];
    let yn = y as isize + ROW_OFFSETS[d];
    if xn < 0 || yn < 0 || xn as usize >= cols || yn as usize >= rows {
        None
    } else {
        Some((xn as usize, yn as usize))
    }
}

/// Checks that `other` has the grid size of `base`, naming both when not.
pub(crate) fn same_size(
    base: &RasterBand,
    base_info: &RasterInfo,
    other: &RasterBand,
    other_info: &RasterInfo,
) -> Result<()> {
    if base_info.raster_size != other_info.raster_size {
        return Err(Error::invalid(
            other.path.display().to_string(),
            format!(
                "is {}x{} but {} is {}x{}; routing inputs must be on the same grid",
                other_info.raster_size.0,
                other_info.raster_size.1,
                base.path.display(),
                base_info.raster_size.0,
                base_info.raster_size.1
            ),
        ));
    }
    Ok(())
}

/// Where scratch tiles go: the target's directory (as pygeoprocessing puts its working files).
pub(crate) fn scratch_dir(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Progress of one step: units done of a total, reported to pgp's progress reporter if any.
pub(crate) struct Ticker(Option<Box<dyn pgp_ops::progress::ProgressTicker>>);

impl Ticker {
    pub(crate) fn start(operation: &str, unit: &str, total: usize) -> Ticker {
        Ticker(pgp_ops::progress::start_ticker(
            operation,
            unit,
            total as u64,
        ))
    }

    pub(crate) fn advance(&mut self, units: usize) {
        if let Some(t) = &mut self.0 {
            t.advance(units as u64);
        }
    }
}

/// Writes `grid` to `target` on the grid of `base` as a one-band `datatype` raster with
/// `nodata`, tiled 256, LZW, BIGTIFF (pygeoprocessing's defaults), converting each value with
/// `convert`. The file appears at `target` only once complete.
pub(crate) fn write_grid<T: Cell, U: Pixel + Copy>(
    grid: &mut Grid<T>,
    base: &RasterInfo,
    target: &Path,
    datatype: DataType,
    nodata: Option<f64>,
    convert: impl Fn(T) -> U,
) -> Result<()> {
    let (cols, rows) = grid.size();
    let tiles = tile_windows(cols, rows).map(|(_, w)| {
        let values: Vec<U> = grid.read_window(w).into_iter().map(&convert).collect();
        grid.status()?;
        Ok((w, values))
    });
    write_tiles("writing output", tiles, base, target, datatype, nodata)
}

/// Writes `tiles` (windows covering the grid of `base`, with their values row-major) to
/// `target` as [`write_grid`] does; the first error stops the writing and leaves nothing at
/// `target`.
pub(crate) fn write_tiles<U: Pixel + Copy>(
    label: &str,
    tiles: impl Iterator<Item = Result<(pgp_core::Window, Vec<U>)>>,
    base: &RasterInfo,
    target: &Path,
    datatype: DataType,
    nodata: Option<f64>,
) -> Result<()> {
    // Written blocks wait in GDAL's cache until it is full: cap it, or a whole output may.
    let _cap = crate::grid::GdalCacheCap::hold();
    let mut out = OutputRaster::create(target, &output_spec(base, datatype, nodata))?;
    let (cols, rows) = base.raster_size;
    let mut ticker = Ticker::start(label, "tiles", cols.div_ceil(256) * rows.div_ceil(256));
    for tile in tiles {
        let (w, values) = tile?;
        let block = Array2::from_shape_vec(w.shape(), values)
            .map_err(|e| Error::invalid(target.display().to_string(), e.to_string()))?;
        if U::DATA_TYPE == datatype {
            out.raster().write(1, w.x_off, w.y_off, block.view())?;
        } else {
            let cast = cast_dyn(DynArray::F64(block.mapv(|v| v.to_f64())), datatype);
            out.raster().write_dyn(1, w.x_off, w.y_off, &cast)?;
        }
        ticker.advance(1);
    }
    out.commit()?;
    Ok(())
}

/// The spec of a routing output on the grid of `base`: pygeoprocessing's creation options
/// (tiled 256, LZW, BIGTIFF).
fn output_spec(base: &RasterInfo, datatype: DataType, nodata: Option<f64>) -> RasterSpec {
    let mut spec = RasterSpec::like(base, datatype).nodata(nodata);
    // Compressing the tiles is much of a step's time: when GDAL compresses them, it spreads
    // the work over the CPUs this process may use (the file's pixels are the same).
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    spec.driver = pgp_core::RasterDriver::default().with_option("NUM_THREADS", &cpus.to_string());
    spec
}

/// An output whose tiles the tile jobs compress themselves, in parallel, the writer only
/// appending their bytes ([`TiledTiffOutput`]), when its layout allows it and its tiles are
/// the jobs' `chunk` x `chunk` windows; `None` when GDAL must compress and write them
/// ([`write_tiles`]). The pixels are the same either way.
pub(crate) fn encoded_output(
    base: &RasterInfo,
    target: &Path,
    datatype: DataType,
    nodata: Option<f64>,
    chunk: usize,
) -> Result<Option<TiledTiffOutput>> {
    let spec = output_spec(base, datatype, nodata);
    if TileLayout::for_spec(&spec).is_none_or(|l| l.tile != (chunk, chunk)) {
        return Ok(None);
    }
    Ok(TiledTiffOutput::create(target, &spec)?)
}

/// The pixels of one tile job's window: plain values for [`write_tiles`], or compressed for
/// an [`encoded_output`] when the job was given its layout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum TileValues<U> {
    /// Row-major values of the window.
    Plain(Vec<U>),
    /// The window's tiles, compressed.
    Encoded(Vec<RawTile>),
}

impl<U: Pixel + Copy> TileValues<U>
where
    DynArray: From<Array2<U>>,
{
    /// `values` of `window`, compressed when `layout` is given.
    pub(crate) fn new(
        values: Vec<U>,
        window: pgp_core::Window,
        layout: Option<&TileLayout>,
    ) -> pgp_core::Result<TileValues<U>> {
        let Some(layout) = layout else {
            return Ok(TileValues::Plain(values));
        };
        let block = Array2::from_shape_vec(window.shape(), values)
            .map_err(|e| pgp_core::Error::invalid("window", e.to_string()))?;
        Ok(TileValues::Encoded(encode_window(
            &DynArray::from(block),
            window,
            layout,
        )?))
    }
}

/// Writes the results of tile jobs, in the order of their windows, covering the grid of
/// `base`: appended to `encoded` when the jobs compressed them, otherwise through
/// [`write_tiles`]. The first error stops the writing and leaves nothing at `target`.
pub(crate) fn write_tile_values<U: Pixel + Copy>(
    label: &str,
    tiles: impl Iterator<Item = Result<(pgp_core::Window, TileValues<U>)>>,
    encoded: Option<TiledTiffOutput>,
    base: &RasterInfo,
    target: &Path,
    datatype: DataType,
    nodata: Option<f64>,
) -> Result<()> {
    let internal = |what| Error::internal(target, what);
    let Some(mut out) = encoded else {
        let plain = tiles.map(|t| match t? {
            (w, TileValues::Plain(values)) => Ok((w, values)),
            (_, TileValues::Encoded(_)) => Err(internal("a tile compressed for a GDAL output")),
        });
        return write_tiles(label, plain, base, target, datatype, nodata);
    };
    let (cols, rows) = base.raster_size;
    let mut ticker = Ticker::start(label, "tiles", cols.div_ceil(256) * rows.div_ceil(256));
    for tile in tiles {
        let TileValues::Encoded(raw) = tile?.1 else {
            return Err(internal("a tile left uncompressed for a raw-tile output"));
        };
        for t in &raw {
            out.write(t)?;
        }
        ticker.advance(raw.len());
    }
    out.commit(None)?;
    Ok(())
}

/// `a` converted to `datatype`.
fn cast_dyn(a: DynArray, datatype: DataType) -> DynArray {
    match datatype {
        DataType::U8 => DynArray::U8(a.cast()),
        DataType::I8 => DynArray::I8(a.cast()),
        DataType::U16 => DynArray::U16(a.cast()),
        DataType::I16 => DynArray::I16(a.cast()),
        DataType::U32 => DynArray::U32(a.cast()),
        DataType::I32 => DynArray::I32(a.cast()),
        DataType::F32 => DynArray::F32(a.cast()),
        DataType::F64 => a,
    }
}

/// The order pygeoprocessing's `iterblocks(..., largest_block=0)` visits pixels in: the file's
/// blocks row-major, each block row-major. Calls `visit(x, y)` for every pixel, skipping
/// whole runs inside tiles for which `skip_tile` is true.
pub(crate) fn scan_in_block_order(
    size: (usize, usize),
    block: (usize, usize),
    tiles_x: usize,
    skip_tile: impl Fn(usize) -> bool,
    mut visit: impl FnMut(usize, usize) -> Result<()>,
) -> Result<()> {
    use crate::grid::TILE;
    for w in pgp_core::block_windows(size, block, 0) {
        for y in w.y_off..w.y_off + w.height {
            let mut x = w.x_off;
            let end = w.x_off + w.width;
            while x < end {
                let tile = (y / TILE) * tiles_x + x / TILE;
                let run_end = end.min((x / TILE + 1) * TILE);
                if skip_tile(tile) {
                    x = run_end;
                    continue;
                }
                for xi in x..run_end {
                    visit(xi, y)?;
                }
                x = run_end;
            }
        }
    }
    Ok(())
}
