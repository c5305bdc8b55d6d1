//! Several bands of a window at once: one band x row x column array, read or written by one
//! GDAL call over the dataset (so a pixel-interleaved file is decoded or encoded once per block,
//! not once per band).

use ndarray::{Array3, ArrayView3, Axis};

use crate::gdal_env::{last_error_message, reset_error};
use crate::raster::dataset::Raster;
use crate::{DataType, Error, Pixel, Result, Window};

impl Raster {
    /// Every band number of the raster, `1..=band_count`, for [`Raster::read_bands`].
    pub fn all_bands(&self) -> Vec<usize> {
        (1..=self.band_count()).collect()
    }

    /// Read `window` of `bands` (numbered from 1, any order, repeats allowed) as one
    /// band x row x column array. Every band's pixel type must be `T`
    /// ([`Error::TypeMismatch`] names the first that is not).
    ///
    /// ```
    /// # use pgp_core::{DataType, GeoTransform, OutputRaster, Raster, RasterSpec, Window};
    /// # fn main() -> pgp_core::Result<()> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("rgb.tif");
    /// let spec = RasterSpec::new(4, 3, DataType::U8, GeoTransform::north_up(0.0, 0.0, 1.0, -1.0)).bands(3);
    /// let mut out = OutputRaster::create(&path, &spec)?;
    /// let block = ndarray::Array3::from_shape_fn((3, 3, 4), |(b, r, c)| (b * 100 + r * 10 + c) as u8);
    /// out.raster().write_bands(&[1, 2, 3], 0, 0, block.view())?;
    /// out.commit()?;
    ///
    /// let back = Raster::open(&path)?.read_bands::<u8>(&[3, 1], Window::new(1, 1, 2, 2))?;
    /// assert_eq!(back.dim(), (2, 2, 2));
    /// assert_eq!(back[[0, 1, 1]], 222); // band 3, row 2, column 2
    /// assert_eq!(back[[1, 0, 0]], 11);
    /// # Ok(())
    /// # }
    /// ```
    pub fn read_bands<T: Pixel>(&self, bands: &[usize], window: Window) -> Result<Array3<T>> {
        for &band in bands {
            self.check_type::<T>(band)?;
        }
        self.read_bands_raw::<T>(bands, window)
    }

    /// Read `window` of `bands` as one band x row x column array converted to `T`, whatever
    /// the bands' own types, with [`Raster::read_as`]'s conversion rules.
    pub fn read_bands_as<T: Pixel>(&self, bands: &[usize], window: Window) -> Result<Array3<T>> {
        for &band in bands {
            let actual = self.data_type(band)?;
            // Signed bytes travel as bytes through GDAL 3.6: convert those in Rust, band by band.
            if actual != T::DATA_TYPE && (actual == DataType::I8 || T::DATA_TYPE == DataType::I8) {
                return self.read_bands_each::<T>(bands, window);
            }
        }
        self.read_bands_raw::<T>(bands, window)
    }

    fn read_bands_each<T: Pixel>(&self, bands: &[usize], window: Window) -> Result<Array3<T>> {
        self.check_window(&window)?;
        let planes = bands
            .iter()
            .map(|&b| self.read_as::<T>(b, window))
            .collect::<Result<Vec<_>>>()?;
        let views: Vec<_> = planes.iter().map(|p| p.view()).collect();
        ndarray::stack(Axis(0), &views).map_err(|e| Error::invalid("bands", e.to_string()))
    }

    fn read_bands_raw<T: Pixel>(&self, bands: &[usize], window: Window) -> Result<Array3<T>> {
        self.check_window(&window)?;
        let map = self.band_map(bands)?;
        self.note_read(window);
        let mut buf = vec![T::default(); window.area() * bands.len()];
        self.io_bands::<T>(
            gdal_sys::GDALRWFlag::GF_Read,
            &map,
            window,
            T::as_storage_slice_mut(&mut buf).as_mut_ptr().cast(),
        )?;
        Array3::from_shape_vec((bands.len(), window.height, window.width), buf)
            .map_err(|e| Error::invalid("window", e.to_string()))
    }

    /// Write a band x row x column array to `bands` (numbered from 1, one per plane of `data`)
    /// at `(x_off, y_off)`. Every band's pixel type must be `T`.
    pub fn write_bands<T: Pixel>(
        &mut self,
        bands: &[usize],
        x_off: usize,
        y_off: usize,
        data: ArrayView3<'_, T>,
    ) -> Result<()> {
        let (planes, rows, cols) = data.dim();
        if planes != bands.len() {
            return Err(Error::invalid(
                "data",
                format!(
                    "{planes} band plane(s) given for {} band(s) {bands:?} of {}",
                    bands.len(),
                    self.path().display()
                ),
            ));
        }
        for &band in bands {
            self.check_type::<T>(band)?;
        }
        let window = Window::new(x_off, y_off, cols, rows);
        self.check_window(&window)?;
        self.check_writable()?;
        let map = self.band_map(bands)?;
        let mut buf: Vec<T> = match data.as_slice() {
            Some(s) => s.to_vec(),
            None => data.iter().copied().collect(),
        };
        self.io_bands::<T>(
            gdal_sys::GDALRWFlag::GF_Write,
            &map,
            window,
            T::as_storage_slice_mut(&mut buf).as_mut_ptr().cast(),
        )
    }

    fn band_map(&self, bands: &[usize]) -> Result<Vec<std::ffi::c_int>> {
        let count = self.band_count();
        if bands.is_empty() {
            return Err(Error::invalid(
                "bands",
                format!("no bands asked of {}", self.path().display()),
            ));
        }
        bands
            .iter()
            .map(|&band| {
                if band == 0 || band > count {
                    return Err(Error::BandOutOfRange {
                        path: self.path().to_path_buf(),
                        band,
                        count,
                    });
                }
                std::ffi::c_int::try_from(band).map_err(|e| Error::invalid("bands", e.to_string()))
            })
            .collect()
    }

    /// One dataset RasterIO call over a band-sequential buffer of `map.len()` planes of the
    /// window's size, in `T`'s storage type. `buf` must hold that many pixels.
    fn io_bands<T: Pixel>(
        &self,
        flag: gdal_sys::GDALRWFlag::Type,
        map: &[std::ffi::c_int],
        window: Window,
        buf: *mut std::ffi::c_void,
    ) -> Result<()> {
        let int = |v: usize| {
            std::ffi::c_int::try_from(v).map_err(|_| {
                Error::invalid("window", format!("{window} is too large for one GDAL call"))
            })
        };
        let size = std::mem::size_of::<T>();
        let (x, y, w, h) = (
            int(window.x_off)?,
            int(window.y_off)?,
            int(window.width)?,
            int(window.height)?,
        );
        let (line, plane) = (int(window.width * size)?, int(window.area() * size)?);
        let mut map = map.to_vec();
        let n = int(map.len())?;
        reset_error();
        // SAFETY: a valid dataset handle owned by `self`, used by this thread only; `buf` holds
        // `map.len()` planes of `window.area()` pixels of `T`'s storage type, laid out with the
        // spacings given; the band map holds `n` valid band numbers.
        let rv = unsafe {
            gdal_sys::GDALDatasetRasterIO(
                self.dataset().c_dataset(),
                flag,
                x,
                y,
                w,
                h,
                buf,
                w,
                h,
                <T::Storage as gdal::raster::GdalType>::gdal_ordinal(),
                n,
                map.as_mut_ptr(),
                int(size)?,
                line,
                plane,
            )
        };
        if rv != gdal_sys::CPLErr::CE_None {
            let verb = if flag == gdal_sys::GDALRWFlag::GF_Write {
                "writing"
            } else {
                "reading"
            };
            return Err(Error::Gdal {
                path: self.path().to_path_buf(),
                operation: format!("{verb} bands {map:?} at {window}"),
                message: last_error_message(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GeoTransform, OutputRaster, RasterDriver, RasterSpec};

    fn spec(datatype: DataType, interleave: &str) -> RasterSpec {
        RasterSpec::new(
            37,
            23,
            datatype,
            GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
        )
        .bands(3)
        .driver(RasterDriver::new(
            "GTiff",
            [
                "TILED=YES",
                "BLOCKXSIZE=16",
                "BLOCKYSIZE=16",
                "COMPRESS=LZW",
                &format!("INTERLEAVE={interleave}"),
            ],
        ))
    }

    fn value(b: usize, r: usize, c: usize) -> f64 {
        (b * 1000 + r * 37 + c) as f64
    }

    #[test]
    fn bands_written_together_read_back_exactly_by_band_and_together() {
        let dir = tempfile::tempdir().unwrap();
        for interleave in ["PIXEL", "BAND"] {
            let path = dir.path().join(format!("{interleave}.tif"));
            let mut out = OutputRaster::create(&path, &spec(DataType::U16, interleave)).unwrap();
            // Two windows, the second across tile edges, bands given out of order.
            let a = Array3::from_shape_fn((3, 23, 20), |(b, r, c)| value(b, r, c) as u16);
            out.raster()
                .write_bands(&[1, 2, 3], 0, 0, a.view())
                .unwrap();
            let b = Array3::from_shape_fn((3, 23, 17), |(b, r, c)| value(b, r, c + 20) as u16);
            let reordered = ndarray::stack(
                Axis(0),
                &[
                    b.index_axis(Axis(0), 2),
                    b.index_axis(Axis(0), 0),
                    b.index_axis(Axis(0), 1),
                ],
            )
            .unwrap();
            out.raster()
                .write_bands(&[3, 1, 2], 20, 0, reordered.view())
                .unwrap();
            out.commit().unwrap();

            let r = Raster::open(&path).unwrap();
            for band in 1..=3 {
                let one = r.read::<u16>(band, Window::full(37, 23)).unwrap();
                for ((row, col), v) in one.indexed_iter() {
                    assert_eq!(
                        f64::from(*v),
                        value(band - 1, row, col),
                        "{interleave} {band}"
                    );
                }
            }
            let w = Window::new(5, 7, 30, 11);
            let got = r.read_bands::<u16>(&[2, 3, 2], w).unwrap();
            assert_eq!(got.dim(), (3, 11, 30));
            for ((p, row, col), v) in got.indexed_iter() {
                let band = [1, 2, 1][p];
                assert_eq!(f64::from(*v), value(band, row + 7, col + 5), "{interleave}");
            }
            let wide = r.read_bands_as::<f64>(&r.all_bands(), w).unwrap();
            for ((b, row, col), v) in wide.indexed_iter() {
                assert_eq!(*v, value(b, row + 7, col + 5));
            }
        }
    }

    #[test]
    fn signed_bytes_convert_band_by_band() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("i8.tif");
        let mut out = OutputRaster::create(&path, &spec(DataType::I8, "PIXEL")).unwrap();
        let data = Array3::from_shape_fn((3, 23, 37), |(b, r, c)| {
            (b as i64 * 40 - r as i64 - c as i64) as i8
        });
        out.raster()
            .write_bands(&[1, 2, 3], 0, 0, data.view())
            .unwrap();
        out.commit().unwrap();
        let r = Raster::open(&path).unwrap();
        let w = Window::full(37, 23);
        assert_eq!(r.read_bands::<i8>(&[1, 2, 3], w).unwrap(), data);
        let wide = r.read_bands_as::<f32>(&[1, 2, 3], w).unwrap();
        assert_eq!(wide, data.mapv(f32::from));
    }

    #[test]
    fn wrong_types_bands_shapes_and_windows_are_errors_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u8.tif");
        let mut out = OutputRaster::create(&path, &spec(DataType::U8, "PIXEL")).unwrap();
        let two = Array3::<u8>::zeros((2, 4, 4));
        let err = out
            .raster()
            .write_bands(&[1, 2, 3], 0, 0, two.view())
            .unwrap_err();
        assert!(
            err.to_string().contains("2 band plane(s) given for 3"),
            "{err}"
        );
        let err = out
            .raster()
            .write_bands(&[1, 4], 0, 0, two.view())
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::BandOutOfRange {
                    band: 4,
                    count: 3,
                    ..
                }
            ),
            "{err}"
        );
        let err = out
            .raster()
            .write_bands(&[1, 2], 35, 0, two.view())
            .unwrap_err();
        assert!(matches!(err, Error::WindowOutOfBounds { .. }), "{err}");
        out.commit().unwrap();
        let r = Raster::open(&path).unwrap();
        let err = r.read_bands::<u16>(&[1], Window::full(4, 4)).unwrap_err();
        assert!(matches!(err, Error::TypeMismatch { band: 1, .. }), "{err}");
        let err = r.read_bands::<u8>(&[], Window::full(4, 4)).unwrap_err();
        assert!(err.to_string().contains("no bands"), "{err}");
        let ro = Raster::open(&path).unwrap();
        let mut ro = ro;
        let err = ro.write_bands(&[1, 2], 0, 0, two.view()).unwrap_err();
        assert!(err.to_string().contains("read-only"), "{err}");
    }
}
