//! What every routing step shares: input bands, nodata matching, the neighbour numbering,
//! progress, and writing a working grid out as pygeoprocessing writes its outputs.

use std::path::{Path, PathBuf};

use ndarray::Array2;
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
    let mut spec = RasterSpec::like(base, datatype).nodata(nodata);
    // Compressing the tiles is much of a step's time: GDAL spreads it over the CPUs this
    // process may use (the file's pixels are the same).
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    spec.driver = pgp_core::RasterDriver::default().with_option("NUM_THREADS", &cpus.to_string());
    let spec = spec;
    let mut out = OutputRaster::create(target, &spec)?;
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
