//! Convolution kernels written as rasters, like `pygeoprocessing.kernels`.
//!
//! A distance-decay kernel is a square of `2 * floor(max_distance) + 1` pixels whose value at a
//! pixel `d` pixels from the centre (`d = hypot(row - apothem, col - apothem)`) is `f(d)` when
//! `d <= max_distance` and 0 beyond. Values are float32; with `normalize` they are divided by
//! their sum. The file is a plain TIFF (no geotransform, no projection), tiled 256 x 256,
//! uncompressed, with float32-min as nodata, as pygeoprocessing writes it.
//!
//! ```
//! # fn main() -> pgp_ops::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("gauss.tif");
//! pgp_ops::kernels::normal_distribution_kernel(&path, 5.0, 3.0, true)?;
//! let k = pgp_core::Raster::open(&path)?;
//! assert_eq!(k.size(), (31, 31));
//! # Ok(())
//! # }
//! ```

use std::f64::consts::PI;
use std::path::Path;

use ndarray::{Array2, ArrayView2};
use pgp_core::gdal::raster::{Buffer, RasterCreationOptions};
use pgp_core::gdal::DriverManager;
use pgp_core::{block_windows, temporary_sibling, Pixel, Window, LARGEST_BLOCK};

use crate::{Error, Result};

/// Nodata of kernel rasters (pygeoprocessing's `FLOAT32_NODATA`).
pub const KERNEL_NODATA: f64 = f32::MIN as f64;

/// Kernels larger than this many pixels per side are refused (a 16385 x 16385 float32 kernel
/// is already 1 GiB, and `convolve_2d` holds its kernel in memory).
pub const MAX_KERNEL_SIDE: usize = 16_385;

const KERNEL_OPTIONS: [&str; 4] = [
    "BIGTIFF=IF_SAFER",
    "TILED=YES",
    "BLOCKXSIZE=256",
    "BLOCKYSIZE=256",
];

/// Value 1 within `max_distance` pixels of the centre, 0 beyond.
pub fn dichotomous_kernel(
    target: impl AsRef<Path>,
    max_distance: f64,
    normalize: bool,
) -> Result<()> {
    check_non_negative("max_distance", max_distance)?;
    distance_decay_kernel(target, max_distance, normalize, |_| 1.0)
}

/// `exp(-d / expected_distance)` within `max_distance`.
pub fn exponential_decay_kernel(
    target: impl AsRef<Path>,
    max_distance: f64,
    expected_distance: f64,
    normalize: bool,
) -> Result<()> {
    check_non_negative("max_distance", max_distance)?;
    check_positive("expected_distance", expected_distance)?;
    distance_decay_kernel(target, max_distance, normalize, move |d| {
        (-d / expected_distance).exp()
    })
}

/// `(max_distance - d) / max_distance` within `max_distance`.
pub fn linear_decay_kernel(
    target: impl AsRef<Path>,
    max_distance: f64,
    normalize: bool,
) -> Result<()> {
    check_positive("max_distance", max_distance)?;
    distance_decay_kernel(target, max_distance, normalize, move |d| {
        (max_distance - d) / max_distance
    })
}

/// The normal (gaussian) density `exp(-d² / 2σ²) / (2πσ²)` within `sigma * n_std_dev` pixels.
/// `sigma = 5, n_std_dev = 3` gives pygeoprocessing's 31 x 31 kernel.
pub fn normal_distribution_kernel(
    target: impl AsRef<Path>,
    sigma: f64,
    n_std_dev: f64,
    normalize: bool,
) -> Result<()> {
    check_positive("sigma", sigma)?;
    check_non_negative("n_std_dev", n_std_dev)?;
    distance_decay_kernel(target, sigma * n_std_dev, normalize, move |d| {
        (1.0 / (2.0 * PI * sigma * sigma)) * (-(d * d) / (2.0 * sigma * sigma)).exp()
    })
}

/// A kernel of `decay(d)` for pixels within `max_distance` of the centre (pygeoprocessing's
/// `create_distance_decay_kernel` with a callable). Written block by block, so memory stays
/// bounded whatever the kernel size.
pub fn distance_decay_kernel(
    target: impl AsRef<Path>,
    max_distance: f64,
    normalize: bool,
    decay: impl Fn(f64) -> f64,
) -> Result<()> {
    let target = target.as_ref();
    check_non_negative("max_distance", max_distance)?;
    let apothem = max_distance.floor() as usize;
    let side = 2 * apothem + 1;
    if side > MAX_KERNEL_SIDE {
        return Err(Error::invalid(
            "max_distance",
            format!("{max_distance} gives a {side} x {side} kernel, more than {MAX_KERNEL_SIDE} pixels a side"),
        ));
    }
    let block = |w: Window| -> Array2<f32> {
        Array2::from_shape_fn(w.shape(), |(r, c)| {
            let dy = (w.y_off + r) as f64 - apothem as f64;
            let dx = (w.x_off + c) as f64 - apothem as f64;
            let d = dx.hypot(dy);
            if d <= max_distance {
                decay(d) as f32
            } else {
                0.0
            }
        })
    };
    let scale = if normalize {
        // pygeoprocessing sums the float32 values (in float64 across blocks).
        let mut sum = 0.0f64;
        for w in block_windows((side, side), (256, 256), LARGEST_BLOCK) {
            sum += block(w).iter().map(|&v| v as f64).sum::<f64>();
        }
        if !(sum.is_finite() && sum != 0.0) {
            return Err(Error::invalid(
                "normalize",
                format!(
                    "the kernel for {} sums to {sum}, which cannot normalise it",
                    target.display()
                ),
            ));
        }
        Some(sum as f32)
    } else {
        None
    };
    write_plain_tiff(
        target,
        (side, side),
        Some(KERNEL_NODATA),
        &KERNEL_OPTIONS,
        |w| {
            let mut b = block(w);
            if let Some(s) = scale {
                b.mapv_inplace(|v| v / s);
            }
            b
        },
    )
}

/// The values of a distance-decay kernel in memory (same rule as [`distance_decay_kernel`]),
/// for small kernels used directly.
pub fn distance_decay_array(
    max_distance: f64,
    normalize: bool,
    decay: impl Fn(f64) -> f64,
) -> Result<Array2<f32>> {
    check_non_negative("max_distance", max_distance)?;
    let apothem = max_distance.floor() as usize;
    let side = 2 * apothem + 1;
    if side > MAX_KERNEL_SIDE {
        return Err(Error::invalid(
            "max_distance",
            format!("kernel of {side} pixels a side is too large"),
        ));
    }
    let mut k = Array2::from_shape_fn((side, side), |(r, c)| {
        let d = (c as f64 - apothem as f64).hypot(r as f64 - apothem as f64);
        if d <= max_distance {
            decay(d) as f32
        } else {
            0.0
        }
    });
    if normalize {
        let sum: f64 = k.iter().map(|&v| v as f64).sum();
        if !(sum.is_finite() && sum != 0.0) {
            return Err(Error::invalid(
                "normalize",
                format!("the kernel sums to {sum}"),
            ));
        }
        let s = sum as f32;
        k.mapv_inplace(|v| v / s);
    }
    Ok(k)
}

/// Write `array` as a kernel raster (pygeoprocessing's `kernel_from_numpy_array`): a TIFF of the
/// array's type with pygeoprocessing's default GTiff options, no geotransform and no nodata.
pub fn kernel_from_array<T: Pixel>(
    array: ArrayView2<'_, T>,
    target: impl AsRef<Path>,
) -> Result<()> {
    let (rows, cols) = array.dim();
    if rows == 0 || cols == 0 {
        return Err(Error::invalid("array", "a kernel needs at least one pixel"));
    }
    write_plain_tiff(
        target.as_ref(),
        (cols, rows),
        None,
        &pgp_core::DEFAULT_GTIFF_OPTIONS,
        |w| {
            array
                .slice(ndarray::s![
                    w.y_off..w.y_off + w.height,
                    w.x_off..w.x_off + w.width
                ])
                .to_owned()
        },
    )
}

fn check_positive(name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("must be a finite number > 0, got {v}"),
        ))
    }
}

fn check_non_negative(name: &str, v: f64) -> Result<()> {
    if v.is_finite() && v >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("must be a finite number >= 0, got {v}"),
        ))
    }
}

/// Writes a one-band GTiff without georeferencing (pgp-core's creation always sets a
/// geotransform, which would turn the plain TIFF into a GeoTIFF), through a temporary sibling
/// renamed into place on success.
fn write_plain_tiff<T: Pixel>(
    target: &Path,
    (cols, rows): (usize, usize),
    nodata: Option<f64>,
    options: &[&str],
    mut block: impl FnMut(Window) -> Array2<T>,
) -> Result<()> {
    pgp_core::init();
    let gdal_err = |what: &str| {
        let what = what.to_string();
        move |e| Error::Core(pgp_core::Error::gdal(target, what, e))
    };
    pgp_core::check_output_path(target)?;
    let tmp = temporary_sibling(target);
    let result = (|| -> Result<()> {
        let driver = DriverManager::get_driver_by_name("GTiff")
            .map_err(gdal_err("finding the GTiff driver"))?;
        let mut csl = RasterCreationOptions::new();
        for o in options
            .iter()
            .copied()
            .chain((T::DATA_TYPE == pgp_core::DataType::I8).then_some("PIXELTYPE=SIGNEDBYTE"))
        {
            csl.add_string(o)
                .map_err(gdal_err("setting creation options"))?;
        }
        let ds = driver
            .create_with_band_type_with_options::<T::Storage, _>(&tmp, cols, rows, 1, &csl)
            .map_err(gdal_err("creating the kernel raster"))?;
        {
            let mut band = ds.rasterband(1).map_err(gdal_err("opening band 1"))?;
            if let Some(nd) = nodata {
                band.set_no_data_value(Some(nd))
                    .map_err(gdal_err("setting nodata"))?;
            }
            for w in block_windows((cols, rows), (256, 256), LARGEST_BLOCK) {
                let data = block(w);
                let vec: Vec<T> = data.iter().copied().collect();
                let mut buf = Buffer::new((w.width, w.height), T::into_storage_vec(vec));
                band.write(
                    (w.x_off as isize, w.y_off as isize),
                    (w.width, w.height),
                    &mut buf,
                )
                .map_err(gdal_err("writing a kernel block"))?;
            }
        }
        ds.close().map_err(gdal_err("closing the kernel raster"))?;
        std::fs::rename(&tmp, target).map_err(|e| Error::Core(pgp_core::Error::io(target, e)))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgp_core::Raster;

    #[test]
    fn gaussian_31_is_normalised_and_zero_outside_the_radius() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("g.tif");
        normal_distribution_kernel(&p, 5.0, 3.0, true).unwrap();
        let r = Raster::open(&p).unwrap();
        let info = r.info().unwrap();
        assert_eq!(info.raster_size, (31, 31));
        assert_eq!(info.nodata, vec![Some(KERNEL_NODATA)]);
        assert_eq!(info.block_size, (256, 256));
        assert!(info.projection_wkt.is_none());
        let k = r.read::<f32>(1, Window::full(31, 31)).unwrap();
        let sum: f64 = k.iter().map(|&v| v as f64).sum();
        assert!((sum - 1.0).abs() < 1e-6, "sum {sum}");
        // Corner (15, 15) away: d = 21.2 > 15 -> 0; edge midpoint d = 15 -> inside.
        assert_eq!(k[[0, 0]], 0.0);
        assert!(k[[0, 15]] > 0.0);
        // Ratio of two values is the gaussian ratio, whatever the normalisation.
        let ratio = k[[15, 15]] as f64 / k[[15, 20]] as f64;
        assert!((ratio - (25.0f64 / 50.0).exp()).abs() < 1e-5);
        // Matches the in-memory version.
        let mem = distance_decay_array(15.0, true, |d| (-(d * d) / 50.0).exp()).unwrap();
        for (a, b) in k.iter().zip(mem.iter()) {
            assert!((a - b).abs() <= 4e-7 * a.abs().max(1e-30), "{a} vs {b}");
        }
    }

    #[test]
    fn kernel_has_no_geotransform() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.tif");
        dichotomous_kernel(&p, 2.5, false).unwrap();
        let r = Raster::open(&p).unwrap();
        assert!(r.dataset().geo_transform().is_err());
        let k = r.read::<f32>(1, Window::full(5, 5)).unwrap();
        // 5 x 5, corners at d = 2.83 > 2.5 are out, the rest in.
        assert_eq!(k.iter().filter(|&&v| v == 1.0).count(), 21);
        assert_eq!(k[[0, 0]], 0.0);
    }

    #[test]
    fn decay_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let lin = dir.path().join("l.tif");
        linear_decay_kernel(&lin, 4.0, false).unwrap();
        let k = Raster::open(&lin)
            .unwrap()
            .read::<f32>(1, Window::full(9, 9))
            .unwrap();
        assert_eq!(k[[4, 4]], 1.0);
        assert_eq!(k[[4, 6]], 0.5);
        assert_eq!(k[[4, 8]], 0.0);
        let exp = dir.path().join("e.tif");
        exponential_decay_kernel(&exp, 3.0, 2.0, false).unwrap();
        let k = Raster::open(&exp)
            .unwrap()
            .read::<f32>(1, Window::full(7, 7))
            .unwrap();
        assert_eq!(k[[3, 5]], (-1.0f64).exp() as f32);
    }

    #[test]
    fn bad_parameters_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.tif");
        assert!(matches!(
            normal_distribution_kernel(&p, 0.0, 3.0, true),
            Err(Error::InvalidArgument { ref name, .. }) if name == "sigma"
        ));
        assert!(matches!(
            exponential_decay_kernel(&p, 3.0, f64::NAN, true),
            Err(Error::InvalidArgument { ref name, .. }) if name == "expected_distance"
        ));
        assert!(matches!(
            dichotomous_kernel(&p, 1e9, true),
            Err(Error::InvalidArgument { ref name, .. }) if name == "max_distance"
        ));
        assert!(!p.exists());
    }

    #[test]
    fn array_kernel_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.tif");
        let a = ndarray::array![[1i16, 2, 3], [4, 5, 6]];
        kernel_from_array(a.view(), &p).unwrap();
        let r = Raster::open(&p).unwrap();
        assert_eq!(r.info().unwrap().nodata, vec![None]);
        assert_eq!(r.read::<i16>(1, Window::full(3, 2)).unwrap(), a);
    }
}
