//! The call into GDAL's warper (`GDALWarp`, the library behind gdalwarp), with the arguments
//! pygeoprocessing's `warp_raster` passes.

use std::path::Path;

use pgp_core::gdal::{Dataset, DatasetOptions, GdalOpenFlags};

use crate::gdal_ffi::{gdal_failed, last_gdal_message, reset_gdal_error, CStringList};
use crate::progress::Tracker;
use crate::{Error, Result};

/// GDAL's progress (a fraction) as whole percent steps of a [`Tracker`].
struct WarpProgress {
    tracker: Tracker,
    percent: u64,
}

/// GDAL's progress callback. Never unwinds into C: it only does arithmetic and calls a ticker
/// (whose panics, if any, are caught and end the reporting, not the warp).
unsafe extern "C" fn warp_progress(
    complete: f64,
    _message: *const std::ffi::c_char,
    data: *mut std::ffi::c_void,
) -> std::ffi::c_int {
    // SAFETY: `data` is the `WarpProgress` that outlives the GDALWarp call (see gdal_warp).
    let progress = unsafe { &mut *data.cast::<WarpProgress>() };
    let now = (complete.clamp(0.0, 1.0) * 100.0) as u64;
    if now > progress.percent {
        let steps = now - progress.percent;
        progress.percent = now;
        let tracker = &mut progress.tracker;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tracker.advance(steps)))
            .is_err()
        {
            progress.tracker = Tracker::none();
        }
    }
    1
}

/// gdalwarp's command-line arguments, built up the way `gdal.Warp(...)` builds them.
#[derive(Debug, Default, Clone)]
pub(crate) struct WarpArgs(pub(crate) Vec<String>);

impl WarpArgs {
    pub(crate) fn flag(&mut self, flag: &str) {
        self.0.push(flag.to_string());
    }

    pub(crate) fn opt(&mut self, flag: &str, values: &[&str]) {
        self.0.push(flag.to_string());
        self.0.extend(values.iter().map(|v| v.to_string()));
    }
}

/// Numbers as GDAL will parse them back: Rust prints the shortest string that reads back as the
/// same `f64`, so GDAL sees exactly the bounds and resolution computed here.
pub(crate) fn num(v: f64) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else {
        format!("{v}")
    }
}

/// Run GDAL's warper from `source` into a new file `dest` (created by the warper with the
/// driver and creation options in `args`). The destination is flushed and closed before
/// returning; errors name `source` and `target` (the output the caller asked for, of which
/// `dest` is a hidden temporary or scratch file) and carry GDAL's message.
///
/// The source is opened without GTiff's multi-threaded decoding (`NUM_THREADS` open option):
/// measured on an 8192² LZW float32 warp on 2 cores, it cost ~13% more CPU and ~10% more time
/// next to the warper's own threads.
pub(crate) fn gdal_warp(source: &Path, dest: &Path, target: &Path, args: &WarpArgs) -> Result<()> {
    pgp_core::init();
    if !source.exists() && !source.to_string_lossy().starts_with("/vsi") {
        return Err(pgp_core::Error::FileNotFound {
            path: source.to_path_buf(),
        }
        .into());
    }
    let src = Dataset::open_ex(
        source,
        DatasetOptions {
            open_flags: GdalOpenFlags::GDAL_OF_RASTER | GdalOpenFlags::GDAL_OF_VERBOSE_ERROR,
            ..Default::default()
        },
    )
    .map_err(|e| pgp_core::Error::NotARaster {
        path: source.to_path_buf(),
        message: e.to_string(),
    })?;

    let warp_error = |message: String| {
        Error::from(pgp_core::Error::Gdal {
            path: source.to_path_buf(),
            operation: format!("warping to {}", target.display()),
            message,
        })
    };
    let mut argv = CStringList::new(&args.0, "gdal warp arguments")?;
    let dest_c = std::ffi::CString::new(dest.to_string_lossy().as_bytes())
        .map_err(|_| Error::invalid("target_path", format!("{dest:?} contains a NUL byte")))?;

    reset_gdal_error();
    let failure_mark = pgp_core::gdal_failure_mark();
    // SAFETY: argv is a valid NULL-terminated list for the duration of the call; GDAL copies it.
    let options = unsafe { gdal_sys::GDALWarpAppOptionsNew(argv.as_ptr(), std::ptr::null_mut()) };
    if options.is_null() {
        return Err(warp_error(format!(
            "bad warp arguments {:?}: {}",
            args.0,
            last_gdal_message()
        )));
    }
    let mut progress = WarpProgress {
        tracker: Tracker::start("warp_raster", "percent", 100),
        percent: 0,
    };
    if progress.tracker.is_active() {
        // SAFETY: `options` is valid; `progress` lives on this stack frame until after GDALWarp.
        unsafe {
            gdal_sys::GDALWarpAppOptionsSetProgress(
                options,
                Some(warp_progress),
                std::ptr::addr_of_mut!(progress).cast(),
            );
        }
    }
    let mut usage_error: std::ffi::c_int = 0;
    let mut sources = [src.c_dataset()];
    // SAFETY: the source handle stays open (owned by `src`) for the call; GDALWarp creates and
    // returns the destination, which is closed right after. The options are freed once.
    let (failed, message) = unsafe {
        let out = gdal_sys::GDALWarp(
            dest_c.as_ptr(),
            std::ptr::null_mut(),
            1,
            sources.as_mut_ptr(),
            options,
            &mut usage_error,
        );
        gdal_sys::GDALWarpAppOptionsFree(options);
        if out.is_null() {
            (true, last_gdal_message())
        } else {
            // Closing flushes the last blocks; a failure there (disk full) is an error too.
            reset_gdal_error();
            gdal_sys::GDALClose(out);
            (gdal_failed(), last_gdal_message())
        }
    };
    drop(src);
    if failed || usage_error != 0 {
        let _ = std::fs::remove_file(dest);
        let message = if message.is_empty() {
            other_threads_message(source, pgp_core::gdal_failures_since(failure_mark))
        } else {
            message
        };
        return Err(warp_error(message));
    }
    // GDAL's last report can stop short of 1.0 (its chunks' weights do not add up exactly).
    progress
        .tracker
        .advance(100u64.saturating_sub(progress.percent));
    Ok(())
}

/// GDAL's message for a warp that failed in the warper's worker threads, which leave the calling
/// thread without one. Other warps may run at the same time, so failures naming `source` are
/// preferred; with none, every failure reported during the warp is given.
fn other_threads_message(source: &Path, failures: Vec<String>) -> String {
    let name = source
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut naming: Vec<String> = failures
        .iter()
        .filter(|m| !name.is_empty() && m.contains(&name))
        .cloned()
        .collect();
    if naming.is_empty() {
        naming = failures;
    }
    naming.dedup();
    if naming.is_empty() {
        "GDALWarp failed without a message".to_string()
    } else {
        naming.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_naming_the_source_are_preferred() {
        let failures = vec![
            "other.tif, band 1: IReadBlock failed".to_string(),
            "dem.tif, band 1: IReadBlock failed".to_string(),
            "dem.tif, band 1: IReadBlock failed".to_string(),
        ];
        assert_eq!(
            other_threads_message(Path::new("data/dem.tif"), failures),
            "dem.tif, band 1: IReadBlock failed"
        );
        let unnamed = vec!["out of memory".to_string()];
        assert_eq!(
            other_threads_message(Path::new("dem.tif"), unnamed),
            "out of memory"
        );
        assert!(other_threads_message(Path::new("dem.tif"), Vec::new()).contains("without"));
    }
}
