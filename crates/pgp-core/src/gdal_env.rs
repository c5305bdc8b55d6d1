//! Process-wide GDAL set-up and access to GDAL's error messages.

use std::collections::VecDeque;
use std::ffi::{c_char, c_int, CStr};
use std::sync::{Mutex, Once};

static INIT: Once = Once::new();

/// Register drivers and route GDAL's error printing to a handler that prints nothing: pgp
/// returns every failure as an [`Error`](crate::Error) carrying GDAL's message, so nothing needs
/// to go to stderr. The handler keeps the last failures of every thread (see
/// [`gdal_failures_since`]).
pub fn init() {
    INIT.call_once(|| {
        pgp_gdal_lazy::link_trampolines();
        gdal::DriverManager::register_all();
        // SAFETY: the handler only copies the message; CPLGetLastErrorMsg still records
        // messages per thread as before.
        unsafe {
            gdal_sys::CPLSetErrorHandler(Some(record_failure));
        }
    });
}

/// How many of the latest failures are kept.
const KEPT_FAILURES: usize = 64;

/// The latest failures GDAL reported on any thread, numbered from 1 in the order reported.
struct FailureLog {
    reported: u64,
    latest: VecDeque<(u64, String)>,
}

static FAILURES: Mutex<FailureLog> = Mutex::new(FailureLog {
    reported: 0,
    latest: VecDeque::new(),
});

/// GDAL's error handler. Never unwinds into C: it copies a string under a lock, and a poisoned
/// lock is still used (the log is only ever appended to).
unsafe extern "C" fn record_failure(
    class: gdal_sys::CPLErr::Type,
    _code: c_int,
    message: *const c_char,
) {
    if class != gdal_sys::CPLErr::CE_Failure && class != gdal_sys::CPLErr::CE_Fatal {
        return;
    }
    let text = if message.is_null() {
        String::new()
    } else {
        // SAFETY: GDAL passes a valid NUL-terminated string for the duration of the call.
        unsafe { CStr::from_ptr(message) }
            .to_string_lossy()
            .into_owned()
    };
    let mut log = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    log.reported += 1;
    let n = log.reported;
    if log.latest.len() == KEPT_FAILURES {
        log.latest.pop_front();
    }
    log.latest.push_back((n, text));
}

/// A mark in the failure log: [`gdal_failures_since`] returns the failures reported after it.
pub fn gdal_failure_mark() -> u64 {
    init();
    FAILURES.lock().unwrap_or_else(|p| p.into_inner()).reported
}

/// The failure messages GDAL reported on any thread after `mark` (at most the latest 64), oldest
/// first. GDAL's own worker threads (the warper's, multi-threaded decoding) report their errors
/// only there: the thread that called GDAL sees a failure and no message.
pub fn gdal_failures_since(mark: u64) -> Vec<String> {
    let log = FAILURES.lock().unwrap_or_else(|p| p.into_inner());
    log.latest
        .iter()
        .filter(|(n, _)| *n > mark)
        .map(|(_, m)| m.clone())
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_on_other_threads_are_kept() {
        let mark = gdal_failure_mark();
        std::thread::spawn(|| {
            let missing = crate::Raster::open("/vsimem/pgp-failure-log-missing.tif");
            assert!(missing.is_err());
        })
        .join()
        .unwrap();
        let failures = gdal_failures_since(mark);
        assert!(
            failures.iter().any(|m| m.contains("No such file")),
            "{failures:?}"
        );
        assert!(gdal_failures_since(gdal_failure_mark()).is_empty());
    }
}
