//! Reduced-resolution reads, for looking at a raster rather than computing with it.
//!
//! A read into a buffer smaller than its window lets GDAL pick the best overview (when the
//! file has them) and otherwise sample the nearest source pixel of each buffer pixel, so only
//! the blocks that hold sampled pixels are decoded.

use ndarray::Array2;

use crate::raster::dynarray::DynArray;
use crate::{with_pixel_type, Error, Pixel, Raster, Result, Window};

impl Raster {
    /// How many overviews (reduced-resolution copies) `band` has.
    pub fn overview_count(&self, band: usize) -> Result<usize> {
        let b = self.band(band)?;
        let n = b.overview_count().map_err(|e| {
            Error::gdal(self.path(), format!("counting overviews of band {band}"), e)
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// `(cols, rows)` of overview `index` (0 = the largest) of `band`.
    pub fn overview_size(&self, band: usize, index: usize) -> Result<(usize, usize)> {
        let b = self.band(band)?;
        let overview = b.overview(index).map_err(|e| {
            Error::gdal(
                self.path(),
                format!("reading overview {index} of band {band}"),
                e,
            )
        })?;
        Ok(overview.size())
    }

    /// The unit of `band`'s values (`"m"`, `"metre"`...), when the file says.
    pub fn unit(&self, band: usize) -> Result<Option<String>> {
        let unit = self.band(band)?.unit();
        Ok(Some(unit).filter(|u| !u.trim().is_empty()))
    }

    /// Set the unit of `band`'s values (the raster must be open for update).
    pub fn set_unit(&mut self, band: usize, unit: &str) -> Result<()> {
        let b = self.band(band)?;
        let text = std::ffi::CString::new(unit)
            .map_err(|_| Error::invalid("unit", format!("`{unit}` holds a NUL byte")))?;
        // SAFETY: the band handle lives as long as `b`; GDAL copies the string.
        let err = unsafe { gdal_sys::GDALSetRasterUnitType(b.c_rasterband(), text.as_ptr()) };
        if err != gdal_sys::CPLErr::CE_None {
            return Err(Error::invalid(
                "unit",
                format!(
                    "{}: band {band}: GDAL refused the unit `{unit}`",
                    self.path().display()
                ),
            ));
        }
        Ok(())
    }

    /// Read `window` of `band` in the band's own type, resampled (nearest pixel) to
    /// `(cols, rows)`: from an overview when the file has a fitting one, else by decimation.
    pub fn read_reduced(
        &self,
        band: usize,
        window: Window,
        (cols, rows): (usize, usize),
    ) -> Result<DynArray> {
        if cols == 0 || rows == 0 {
            return Err(Error::invalid(
                "size",
                format!(
                    "a reduced read of {} needs at least one pixel",
                    self.path().display()
                ),
            ));
        }
        let (width, height) = self.size();
        if window.area() == 0 || !window.fits_in(width, height) {
            return Err(Error::WindowOutOfBounds {
                path: self.path().to_path_buf(),
                window,
                cols: width,
                rows: height,
            });
        }
        let dt = self.data_type(band)?;
        with_pixel_type!(dt, T => Ok(self.read_reduced_typed::<T>(band, window, (cols, rows))?.into()))
    }

    /// Read the pixels of `band` at every `(rows[j], cols[i])`, in the band's own type, as a
    /// `rows.len() x cols.len()` array: nearest-pixel decimation done here rather than by GDAL,
    /// so each caller (one per thread, each with its own `Raster`) decodes only the block rows
    /// its `rows` fall in. `rows` must ascend; the block cache is dropped at each new block row,
    /// so memory stays at one block row whatever the raster's size.
    pub fn read_sampled(&self, band: usize, rows: &[usize], cols: &[usize]) -> Result<DynArray> {
        let (width, height) = self.size();
        let outside = |what: &str, v: usize, n: usize| {
            Error::invalid(
                what,
                format!("{}: index {v} is outside 0..{n}", self.path().display()),
            )
        };
        if let Some(&c) = cols.iter().find(|&&c| c >= width) {
            return Err(outside("cols", c, width));
        }
        if let Some(&r) = rows.iter().find(|&&r| r >= height) {
            return Err(outside("rows", r, height));
        }
        if rows.windows(2).any(|w| w[0] > w[1]) {
            return Err(Error::invalid("rows", "sampled rows must ascend"));
        }
        let dt = self.data_type(band)?;
        with_pixel_type!(dt, T => Ok(self.read_sampled_typed::<T>(band, rows, cols)?.into()))
    }

    fn read_sampled_typed<T: Pixel>(
        &self,
        band: usize,
        rows: &[usize],
        cols: &[usize],
    ) -> Result<Array2<T>> {
        let b = self.band(band)?;
        let block_rows = self.block_size(band)?.1.max(1);
        let width = self.size().0;
        let mut line = vec![T::default(); width];
        let mut out = Vec::with_capacity(rows.len() * cols.len());
        let mut block_row = None;
        for &r in rows {
            if block_row.is_some_and(|br| br != r / block_rows) {
                // SAFETY: the band handle lives as long as `b`; flushing a read-only band only
                // frees its cached blocks.
                unsafe { gdal_sys::GDALFlushRasterCache(b.c_rasterband()) };
            }
            block_row = Some(r / block_rows);
            b.read_into_slice(
                (0, r as isize),
                (width, 1),
                (width, 1),
                T::as_storage_slice_mut(&mut line),
                None,
            )
            .map_err(|e| Error::gdal(self.path(), format!("reading band {band} row {r}"), e))?;
            out.extend(cols.iter().map(|&c| line[c]));
        }
        // SAFETY: as above.
        unsafe { gdal_sys::GDALFlushRasterCache(b.c_rasterband()) };
        Array2::from_shape_vec((rows.len(), cols.len()), out)
            .map_err(|e| Error::invalid("rows", e.to_string()))
    }

    fn read_reduced_typed<T: Pixel>(
        &self,
        band: usize,
        window: Window,
        (cols, rows): (usize, usize),
    ) -> Result<Array2<T>> {
        let b = self.band(band)?;
        let mut buf = vec![T::default(); cols * rows];
        b.read_into_slice(
            (window.x_off as isize, window.y_off as isize),
            (window.width, window.height),
            (cols, rows),
            T::as_storage_slice_mut(&mut buf),
            None,
        )
        .map_err(|e| {
            Error::gdal(
                self.path(),
                format!("reading band {band} at {window} reduced to {cols} x {rows}"),
                e,
            )
        })?;
        Array2::from_shape_vec((rows, cols), buf).map_err(|e| Error::invalid("size", e.to_string()))
    }
}
