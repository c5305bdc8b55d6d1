//! `build_overviews`: reduced-resolution copies of a raster for fast display and coarse warps.

use std::path::Path;

use pgp_core::gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::gdal_ffi::{gdal_failed, last_gdal_message, reset_gdal_error};
use crate::warp::ResampleMethod;
use crate::{Error, Result};

/// Options of [`build_overviews`]; the defaults are pygeoprocessing's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverviewOptions {
    /// Store the overviews inside the file (GeoTIFF) instead of in a `.ovr` sidecar.
    pub internal: bool,
    /// Resampling method (default near).
    pub resample_method: ResampleMethod,
    /// Replace existing overviews instead of failing.
    pub overwrite: bool,
    /// Reduction factors; `None`: 2, 4, 8, ... until both sides fit in 256 pixels.
    pub levels: Option<Vec<u32>>,
}

impl Default for OverviewOptions {
    fn default() -> Self {
        OverviewOptions {
            internal: false,
            resample_method: ResampleMethod::Near,
            overwrite: false,
            levels: None,
        }
    }
}

/// The automatic levels: powers of two while a side of the overview would exceed 256 pixels
/// (gdaladdo's rule, as pygeoprocessing).
pub fn auto_overview_levels(cols: usize, rows: usize) -> Vec<u32> {
    let mut levels = Vec::new();
    let mut factor: usize = 2;
    while cols.div_ceil(factor) > 256 || rows.div_ceil(factor) > 256 {
        levels.push(factor as u32);
        factor *= 2;
    }
    levels
}

/// pygeoprocessing's `build_overviews`: build overviews of every band of `raster`. Errors when the
/// raster already has overviews and `overwrite` is false. GDAL may use up to the executor's worker
/// count of threads; the overviews are the same whatever the count.
pub fn build_overviews(
    raster: impl AsRef<Path>,
    options: &OverviewOptions,
    executor: &Executor,
) -> Result<Vec<u32>> {
    let path = raster.as_ref();
    if !path.exists() {
        return Err(pgp_core::Error::FileNotFound {
            path: path.to_path_buf(),
        }
        .into());
    }
    let method = options.resample_method;
    if matches!(
        method,
        ResampleMethod::Max
            | ResampleMethod::Min
            | ResampleMethod::Med
            | ResampleMethod::Q1
            | ResampleMethod::Q3
            | ResampleMethod::Sum
    ) {
        return Err(Error::UnknownResampleMethod {
            name: method.to_string(),
            argument: "resample_method".to_string(),
            valid: "near, bilinear, cubic, cubicspline, lanczos, average, rms, mode (GDAL 3.6 \
                    overviews)"
                .to_string(),
        });
    }
    pgp_core::init();
    let mut flags = GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR;
    if options.internal {
        flags |= GdalOpenFlags::GDAL_OF_UPDATE;
    }
    let ds = Dataset::open_ex(
        path,
        DatasetOptions {
            open_flags: flags,
            ..Default::default()
        },
    )
    .map_err(|e| pgp_core::Error::NotARaster {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let fail = |operation: &str| {
        Error::from(pgp_core::Error::Gdal {
            path: path.to_path_buf(),
            operation: operation.to_string(),
            message: last_gdal_message(),
        })
    };
    let existing: usize = (1..=ds.raster_count())
        .filter_map(|b| ds.rasterband(b).ok())
        .map(|b| b.overview_count().unwrap_or(0).max(0) as usize)
        .sum();
    let method_name = std::ffi::CString::new(method.gdal_name()).expect("method names have no NUL");
    if existing > 0 {
        if !options.overwrite {
            return Err(Error::invalid(
                "raster_path",
                format!(
                    "{} already has overviews; pass overwrite to rebuild them",
                    path.display()
                ),
            ));
        }
        reset_gdal_error();
        // SAFETY: valid dataset; no levels and no bands clears the overviews.
        let rc = unsafe {
            gdal_sys::GDALBuildOverviews(
                ds.c_dataset(),
                method_name.as_ptr(),
                0,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
                None,
                std::ptr::null_mut(),
            )
        };
        if rc != gdal_sys::CPLErr::CE_None {
            return Err(fail("clearing overviews"));
        }
    }
    let (cols, rows) = ds.raster_size();
    let levels = options
        .levels
        .clone()
        .unwrap_or_else(|| auto_overview_levels(cols, rows));
    if levels.is_empty() {
        return Ok(levels);
    }
    let mut c_levels: Vec<i32> = levels.iter().map(|&l| l as i32).collect();
    let threads = executor.workers().max(1).to_string();
    let key = std::ffi::CString::new("GDAL_NUM_THREADS").expect("no NUL");
    let value = std::ffi::CString::new(threads).expect("digits have no NUL");
    reset_gdal_error();
    // SAFETY: the thread-local config option only affects this thread, and is reset below; the
    // level list outlives the call; NULL band list means every band.
    let rc = unsafe {
        gdal_sys::CPLSetThreadLocalConfigOption(key.as_ptr(), value.as_ptr());
        let rc = gdal_sys::GDALBuildOverviews(
            ds.c_dataset(),
            method_name.as_ptr(),
            c_levels.len() as i32,
            c_levels.as_mut_ptr(),
            0,
            std::ptr::null_mut(),
            None,
            std::ptr::null_mut(),
        );
        gdal_sys::CPLSetThreadLocalConfigOption(key.as_ptr(), std::ptr::null());
        rc
    };
    if rc != gdal_sys::CPLErr::CE_None || gdal_failed() {
        return Err(fail("building overviews"));
    }
    ds.close()
        .map_err(|e| pgp_core::Error::gdal(path, "closing after building overviews", e))?;
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_levels_stop_when_both_sides_fit() {
        assert_eq!(auto_overview_levels(256, 256), Vec::<u32>::new());
        // ceil(257 / 2) = 129 already fits; ceil(600 / 2) = 300 does not, ceil(600 / 4) does.
        assert_eq!(auto_overview_levels(257, 10), Vec::<u32>::new());
        assert_eq!(auto_overview_levels(600, 10), vec![2]);
        assert_eq!(auto_overview_levels(8192, 300), vec![2, 4, 8, 16]);
    }
}
