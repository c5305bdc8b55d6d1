//! `Raster`: an open raster dataset with typed, checked window I/O.
//!
//! # Threads
//! A `Raster` owns one GDAL dataset handle. GDAL handles are not safe to use from two threads at
//! once, so `Raster` is `Send` (it may move to another thread) but not `Sync` (it cannot be
//! shared). Parallel code opens one `Raster` per worker (see [`RasterPool`](crate::RasterPool)) and
//! lets exactly one thread own the output.

use std::path::{Path, PathBuf};

use gdal::raster::RasterBand;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags, Metadata};
use ndarray::{Array2, ArrayView2};

use crate::gdal_env::{init, last_error_message, reset_error};
use crate::raster::dynarray::DynArray;
use crate::tiles::decode::{pixel_bytes_mut, TiffTiles};
use crate::{
    with_pixel_type, BoundingBox, DataType, Error, GeoTransform, Pixel, RasterInfo, Result, Window,
};

/// An open raster. See the module docs for the threading rule.
#[derive(Debug)]
pub struct Raster {
    path: PathBuf,
    ds: Dataset,
    writable: bool,
    /// End (exclusive) of the rows read since GDAL's cache was last released; 0 for none.
    read_end: std::cell::Cell<usize>,
    /// The file's own tiles, decoded without GDAL, when its layout allows (on first read).
    tiles: std::cell::OnceCell<Option<TiffTiles>>,
}

fn is_virtual(path: &Path) -> bool {
    path.to_str().is_some_and(|s| s.starts_with("/vsi"))
}

fn open_dataset(path: &Path, update: bool, vector: bool) -> Result<Dataset> {
    init();
    if !is_virtual(path) && !path.exists() {
        return Err(Error::FileNotFound {
            path: path.to_path_buf(),
        });
    }
    let mut flags = GdalOpenFlags::GDAL_OF_VERBOSE_ERROR;
    flags |= if vector {
        GdalOpenFlags::GDAL_OF_VECTOR
    } else {
        GdalOpenFlags::GDAL_OF_RASTER
    };
    if update {
        flags |= GdalOpenFlags::GDAL_OF_UPDATE;
    }
    reset_error();
    Dataset::open_ex(
        path,
        DatasetOptions {
            open_flags: flags,
            ..Default::default()
        },
    )
    .map_err(|e| {
        let mut message = last_error_message();
        if message.is_empty() {
            message = e.to_string();
        }
        let path = path.to_path_buf();
        if vector {
            Error::NotAVector { path, message }
        } else {
            Error::NotARaster { path, message }
        }
    })
}

pub(crate) fn open_vector_dataset(path: &Path, update: bool) -> Result<Dataset> {
    open_dataset(path, update, true)
}

impl Raster {
    /// Open a raster read-only.
    pub fn open(path: impl AsRef<Path>) -> Result<Raster> {
        let path = path.as_ref();
        Ok(Raster {
            ds: open_dataset(path, false, false)?,
            path: path.to_path_buf(),
            writable: false,
            read_end: Default::default(),
            tiles: Default::default(),
        })
    }

    /// Open a raster for update (reading and writing).
    pub fn open_update(path: impl AsRef<Path>) -> Result<Raster> {
        let path = path.as_ref();
        Ok(Raster {
            ds: open_dataset(path, true, false)?,
            path: path.to_path_buf(),
            writable: true,
            read_end: Default::default(),
            tiles: Default::default(),
        })
    }

    pub(crate) fn from_created(path: &Path, ds: Dataset) -> Raster {
        Raster {
            path: path.to_path_buf(),
            ds,
            writable: true,
            read_end: Default::default(),
            tiles: Default::default(),
        }
    }

    /// The path the raster was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The underlying GDAL dataset, for operations that call GDAL's algorithms directly.
    pub fn dataset(&self) -> &Dataset {
        &self.ds
    }

    /// `(cols, rows)`.
    pub fn size(&self) -> (usize, usize) {
        self.ds.raster_size()
    }

    /// Number of bands.
    pub fn band_count(&self) -> usize {
        self.ds.raster_count()
    }

    pub(crate) fn band(&self, band: usize) -> Result<RasterBand<'_>> {
        let count = self.band_count();
        if band == 0 || band > count {
            return Err(Error::BandOutOfRange {
                path: self.path.clone(),
                band,
                count,
            });
        }
        self.ds
            .rasterband(band)
            .map_err(|e| Error::gdal(&self.path, format!("opening band {band}"), e))
    }

    /// The pixel type of `band` (numbered from 1).
    pub fn data_type(&self, band: usize) -> Result<DataType> {
        let b = self.band(band)?;
        let signed = b
            .metadata_item("PIXELTYPE", "IMAGE_STRUCTURE")
            .is_some_and(|v| v.eq_ignore_ascii_case("SIGNEDBYTE"));
        let gt = b.band_type();
        DataType::from_gdal(gt, signed).ok_or_else(|| Error::UnsupportedDataType {
            path: self.path.clone(),
            band,
            gdal_type: gt.name(),
        })
    }

    /// The nodata value of `band`, `None` when unset.
    pub fn nodata(&self, band: usize) -> Result<Option<f64>> {
        Ok(self.band(band)?.no_data_value())
    }

    /// Set (or with `None`, remove) the nodata value of `band`.
    pub fn set_nodata(&mut self, band: usize, nodata: Option<f64>) -> Result<()> {
        let path = self.path.clone();
        let mut b = self.band(band)?;
        match nodata {
            Some(v) => b.set_no_data_value(Some(v)),
            None => {
                // Removing a nodata value that was never set is not an error.
                // SAFETY: valid band handle for the lifetime of `b`.
                unsafe { gdal_sys::GDALDeleteRasterNoDataValue(b.c_rasterband()) };
                Ok(())
            }
        }
        .map_err(|e| Error::gdal(&path, format!("setting nodata of band {band}"), e))
    }

    /// The block size of `band`, `(cols, rows)`.
    pub fn block_size(&self, band: usize) -> Result<(usize, usize)> {
        Ok(self.band(band)?.block_size())
    }

    /// The geotransform (GDAL's default identity when the file has none).
    pub fn geotransform(&self) -> GeoTransform {
        GeoTransform(
            self.ds
                .geo_transform()
                .unwrap_or([0.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
        )
    }

    /// The projection as WKT, `None` when the file has none.
    pub fn projection_wkt(&self) -> Option<String> {
        let p = self.ds.projection();
        (!p.is_empty()).then_some(p)
    }

    /// Everything [`RasterInfo`] holds.
    pub fn info(&self) -> Result<RasterInfo> {
        let (cols, rows) = self.size();
        let n_bands = self.band_count();
        let mut nodata = Vec::with_capacity(n_bands);
        let mut datatypes = Vec::with_capacity(n_bands);
        for b in 1..=n_bands {
            nodata.push(self.nodata(b)?);
            datatypes.push(self.data_type(b)?);
        }
        let gt = self.geotransform();
        let (datatype, block_size) = if n_bands > 0 {
            (datatypes[0], self.block_size(1)?)
        } else {
            (DataType::U8, (0, 0))
        };
        Ok(RasterInfo {
            path: self.path.clone(),
            raster_size: (cols, rows),
            pixel_size: gt.pixel_size(),
            geotransform: gt,
            n_bands,
            nodata,
            datatype,
            datatypes,
            bounding_box: gt.bounding_box(cols, rows),
            projection_wkt: self.projection_wkt(),
            block_size,
            file_list: self.file_list(),
            driver: self.ds.driver().short_name(),
        })
    }

    /// The bounding box in the raster's own coordinates.
    pub fn bounding_box(&self) -> BoundingBox {
        let (c, r) = self.size();
        self.geotransform().bounding_box(c, r)
    }

    fn file_list(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        // SAFETY: GDALGetFileList returns a NULL-terminated, caller-owned string list or NULL.
        unsafe {
            let list = gdal_sys::GDALGetFileList(self.ds.c_dataset());
            if list.is_null() {
                return out;
            }
            let mut i = 0;
            loop {
                let p = *list.add(i);
                if p.is_null() {
                    break;
                }
                out.push(PathBuf::from(
                    std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned(),
                ));
                i += 1;
            }
            gdal_sys::CSLDestroy(list);
        }
        out
    }

    pub(crate) fn check_window(&self, window: &Window) -> Result<()> {
        let (cols, rows) = self.size();
        if window.area() == 0 || !window.fits_in(cols, rows) {
            return Err(Error::WindowOutOfBounds {
                path: self.path.clone(),
                window: *window,
                cols,
                rows,
            });
        }
        Ok(())
    }

    pub(crate) fn check_type<T: Pixel>(&self, band: usize) -> Result<()> {
        let actual = self.data_type(band)?;
        if actual != T::DATA_TYPE {
            return Err(Error::TypeMismatch {
                path: self.path.clone(),
                band,
                expected: T::DATA_TYPE,
                actual,
            });
        }
        Ok(())
    }

    /// Read a window of `band` whose pixel type must be `T` (else [`Error::TypeMismatch`]).
    pub fn read<T: Pixel>(&self, band: usize, window: Window) -> Result<Array2<T>> {
        self.check_type::<T>(band)?;
        self.read_raw::<T>(band, window)
    }

    /// Read into an existing array of the window's shape (no allocation), type checked.
    pub fn read_into<T: Pixel>(
        &self,
        band: usize,
        window: Window,
        out: &mut Array2<T>,
    ) -> Result<()> {
        self.check_type::<T>(band)?;
        self.check_window(&window)?;
        if out.dim() != window.shape() || !out.is_standard_layout() {
            return Err(Error::invalid(
                "out",
                format!(
                    "array of shape {:?} cannot hold window {window} of {}",
                    out.dim(),
                    self.path.display()
                ),
            ));
        }
        let slice = out
            .as_slice_mut()
            .ok_or_else(|| Error::invalid("out", "array is not contiguous"))?;
        if self.read_tiles(band, window, slice) {
            return Ok(());
        }
        self.io_read(band, window, T::as_storage_slice_mut(slice))
    }

    /// Read a window of `band` converted to `T`, whatever the band's own type. Integer targets
    /// saturate; floats convert to integers by truncation toward zero after GDAL's rounding rules
    /// for same-kind conversions.
    pub fn read_as<T: Pixel>(&self, band: usize, window: Window) -> Result<Array2<T>> {
        let actual = self.data_type(band)?;
        if actual == T::DATA_TYPE {
            return self.read_raw::<T>(band, window);
        }
        // Signed bytes travel as bytes through GDAL 3.6, so convert in Rust on either side.
        if actual == DataType::I8 || T::DATA_TYPE == DataType::I8 {
            return Ok(self.read_dyn(band, window)?.cast::<T>());
        }
        self.read_raw::<T>(band, window)
    }

    /// Read a window in the band's own type.
    pub fn read_dyn(&self, band: usize, window: Window) -> Result<DynArray> {
        let dt = self.data_type(band)?;
        with_pixel_type!(dt, T => Ok(self.read_raw::<T>(band, window)?.into()))
    }

    fn read_raw<T: Pixel>(&self, band: usize, window: Window) -> Result<Array2<T>> {
        self.check_window(&window)?;
        let mut buf = vec![T::default(); window.area()];
        if !self.read_tiles(band, window, &mut buf) {
            self.io_read(band, window, T::as_storage_slice_mut(&mut buf))?;
        }
        Array2::from_shape_vec(window.shape(), buf)
            .map_err(|e| Error::invalid("window", e.to_string()))
    }

    /// Whether GDAL reads of this raster may be replaced by decoding its tiles directly
    /// ([`TiffTiles`]): false once [`Raster::read_through_gdal`] was called, for rasters open
    /// for update, for other drivers, for files whose GDAL view differs from their first TIFF
    /// directory and where GDAL decodes faster ([`TiffTiles::beats_gdal`]).
    pub fn reads_raw_tiles(&self) -> bool {
        self.tile_reader().is_some()
    }

    /// Read everything through GDAL from now on (comparisons, benchmarks);
    /// [`tiles::decode::set_raw_tile_reads`](crate::tiles::decode::set_raw_tile_reads) does
    /// the same for every raster.
    pub fn read_through_gdal(&mut self) {
        self.tiles = std::cell::OnceCell::from(None);
    }

    fn tile_reader(&self) -> Option<&TiffTiles> {
        self.tiles.get_or_init(|| self.open_tile_reader()).as_ref()
    }

    fn open_tile_reader(&self) -> Option<TiffTiles> {
        let off = std::env::var_os("PGP_TILE_READS").is_some_and(|v| v == "gdal");
        if off
            || self.writable
            || is_virtual(&self.path)
            || self.ds.driver().short_name() != "GTiff"
        {
            return None;
        }
        // A corrupt directory is GDAL's to report, on the read.
        let tiles = TiffTiles::open(&self.path).ok().flatten()?;
        let bands = self.band_count();
        let same = tiles.size() == self.size()
            && tiles.band_count() == bands
            && (1..=bands).all(|b| {
                self.block_size(b).ok() == Some(tiles.tile_size())
                    && self.data_type(b).ok() == Some(tiles.data_type())
            });
        (same && tiles.beats_gdal()).then_some(tiles)
    }

    /// Decode `window` of `band` from the file's tiles when that path applies; false means
    /// "read through GDAL" (also after a decoding error, which GDAL then reports its way).
    fn read_tiles<T: Pixel>(&self, band: usize, window: Window, buf: &mut [T]) -> bool {
        let Some(tiles) = self.tile_reader() else {
            return false;
        };
        if tiles.data_type() != T::DATA_TYPE || !tiles.is_aligned(window) {
            return false;
        }
        let done = matches!(
            tiles.read_window_into(band, window, pixel_bytes_mut(buf)),
            Ok(true)
        );
        if done {
            self.note_read(window);
        }
        done
    }

    /// Notes that `window` was read, for [`Raster::forget_rows_above`].
    pub(crate) fn note_read(&self, window: Window) {
        let end = window.y_off + window.height;
        if end > self.read_end.get() {
            self.read_end.set(end);
        }
    }

    /// Promise that no later read of this handle starts above `row`: when every block read so
    /// far lies wholly above `row`'s block row, GDAL's cached blocks of every band are released.
    /// Otherwise GDAL keeps decoded blocks until its cache is full (5% of memory by default), so
    /// reading a raster in row order through windows that do not cover whole blocks would hold
    /// memory growing with the raster. Costs nothing until the reads pass a block row.
    pub fn forget_rows_above(&self, row: usize) {
        let end = self.read_end.get();
        let Ok((_, by)) = self.block_size(1) else {
            return;
        };
        if end == 0 || by == 0 || row / by <= (end - 1) / by {
            return;
        }
        for band in 1..=self.band_count() {
            if let Ok(b) = self.ds.rasterband(band) {
                // SAFETY: a valid band handle owned by `self`, used by this thread only; blocks
                // of a read-only band are dropped, dirty ones of an updated band written first.
                unsafe {
                    gdal_sys::GDALFlushRasterCache(b.c_rasterband());
                }
            }
        }
        self.read_end.set(0);
    }

    fn io_read<S: gdal::raster::GdalType + Copy>(
        &self,
        band: usize,
        window: Window,
        buf: &mut [S],
    ) -> Result<()> {
        self.note_read(window);
        let b = self.band(band)?;
        b.read_into_slice::<S>(
            (window.x_off as isize, window.y_off as isize),
            (window.width, window.height),
            (window.width, window.height),
            buf,
            None,
        )
        .map_err(|e| Error::gdal(&self.path, format!("reading band {band} at {window}"), e))
    }

    /// Write `data` at `(x_off, y_off)` of `band`; the array's type must be the band's.
    pub fn write<T: Pixel>(
        &mut self,
        band: usize,
        x_off: usize,
        y_off: usize,
        data: ArrayView2<'_, T>,
    ) -> Result<()> {
        self.check_type::<T>(band)?;
        let window = Window::new(x_off, y_off, data.ncols(), data.nrows());
        self.check_window(&window)?;
        self.check_writable()?;
        let vec: Vec<T> = match data.as_slice() {
            Some(s) => s.to_vec(),
            None => data.iter().copied().collect(),
        };
        let path = self.path.clone();
        let mut b = self.band(band)?;
        let mut buffer =
            gdal::raster::Buffer::new((window.width, window.height), T::into_storage_vec(vec));
        b.write(
            (x_off as isize, y_off as isize),
            (window.width, window.height),
            &mut buffer,
        )
        .map_err(|e| Error::gdal(&path, format!("writing band {band} at {window}"), e))
    }

    /// Write a runtime-typed array; its type must be the band's.
    pub fn write_dyn(
        &mut self,
        band: usize,
        x_off: usize,
        y_off: usize,
        data: &DynArray,
    ) -> Result<()> {
        match data {
            DynArray::U8(a) => self.write(band, x_off, y_off, a.view()),
            DynArray::I8(a) => self.write(band, x_off, y_off, a.view()),
            DynArray::U16(a) => self.write(band, x_off, y_off, a.view()),
            DynArray::I16(a) => self.write(band, x_off, y_off, a.view()),
            DynArray::U32(a) => self.write(band, x_off, y_off, a.view()),
            DynArray::I32(a) => self.write(band, x_off, y_off, a.view()),
            DynArray::F32(a) => self.write(band, x_off, y_off, a.view()),
            DynArray::F64(a) => self.write(band, x_off, y_off, a.view()),
        }
    }

    /// Fill every pixel of `band` with `value`.
    pub fn fill(&mut self, band: usize, value: f64) -> Result<()> {
        self.check_writable()?;
        let path = self.path.clone();
        let mut b = self.band(band)?;
        b.fill(value, None)
            .map_err(|e| Error::gdal(&path, format!("filling band {band}"), e))
    }

    /// Store min, max, mean and standard deviation as the band's GDAL statistics.
    pub fn set_statistics(&mut self, band: usize, stats: BandStatistics) -> Result<()> {
        self.check_writable()?;
        let b = self.band(band)?;
        reset_error();
        // SAFETY: valid band handle; plain doubles.
        let rv = unsafe {
            gdal_sys::GDALSetRasterStatistics(
                b.c_rasterband(),
                stats.min,
                stats.max,
                stats.mean,
                stats.std_dev,
            )
        };
        if rv != gdal_sys::CPLErr::CE_None {
            return Err(Error::Gdal {
                path: self.path.clone(),
                operation: format!("setting statistics of band {band}"),
                message: last_error_message(),
            });
        }
        Ok(())
    }

    /// The band's stored statistics, if the file has them (never computes them).
    pub fn statistics(&self, band: usize) -> Result<Option<BandStatistics>> {
        let b = self.band(band)?;
        let stats = b.get_statistics(false, false).map_err(|e| {
            Error::gdal(&self.path, format!("reading statistics of band {band}"), e)
        })?;
        Ok(stats.map(|s| BandStatistics {
            min: s.min,
            max: s.max,
            mean: s.mean,
            std_dev: s.std_dev,
        }))
    }

    /// Set a metadata item on the dataset.
    pub fn set_metadata_item(&mut self, key: &str, value: &str) -> Result<()> {
        let path = self.path.clone();
        self.ds
            .set_metadata_item(key, value, "")
            .map_err(|e| Error::gdal(&path, format!("setting metadata {key}"), e))
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        if !self.writable {
            return Err(Error::invalid(
                "raster",
                format!("{} is open read-only", self.path.display()),
            ));
        }
        Ok(())
    }

    /// Flush everything to disk and close, reporting any error GDAL meets while flushing.
    pub fn close(self) -> Result<()> {
        let path = self.path;
        reset_error();
        self.ds
            .close()
            .map_err(|e| Error::gdal(&path, "closing (flushing) the dataset", e))
    }
}

/// Band statistics as GDAL stores them (population standard deviation).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BandStatistics {
    /// Smallest valid value.
    pub min: f64,
    /// Largest valid value.
    pub max: f64,
    /// Mean of valid values.
    pub mean: f64,
    /// Population standard deviation of valid values.
    pub std_dev: f64,
}

/// Open a raster read-only and return its [`RasterInfo`].
pub fn raster_info(path: impl AsRef<Path>) -> Result<RasterInfo> {
    Raster::open(path)?.info()
}
