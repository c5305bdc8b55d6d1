//! Process-wide GDAL set-up and access to GDAL's last error message.

use std::ffi::CStr;
use std::sync::Once;

static INIT: Once = Once::new();

/// Register drivers and route GDAL's error printing through its quiet handler: pgp returns every
/// failure as an [`Error`](crate::Error) carrying GDAL's message, so nothing needs to go to stderr.
pub fn init() {
    INIT.call_once(|| {
        gdal::DriverManager::register_all();
        // SAFETY: installs GDAL's own no-op handler; CPLGetLastErrorMsg still records messages.
        unsafe {
            gdal_sys::CPLSetErrorHandler(Some(gdal_sys::CPLQuietErrorHandler));
        }
    });
}

/// GDAL's last error message on this thread (empty when none).
pub(crate) fn last_error_message() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a valid NUL-terminated string owned by GDAL (thread-local).
    unsafe {
        let p = gdal_sys::CPLGetLastErrorMsg();
        if p.is_null() {
            return String::new();
        }
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// Clear GDAL's last error on this thread, so a later message is not mistaken for a new one.
pub(crate) fn reset_error() {
    // SAFETY: plain call into GDAL's error state.
    unsafe { gdal_sys::CPLErrorReset() }
}

/// The version of the GDAL library pgp runs on, e.g. `3.6.2`.
pub fn gdal_version() -> String {
    gdal::version::version_info("RELEASE_NAME")
}
