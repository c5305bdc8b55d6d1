//! Small helpers around raw GDAL calls (the warper and rasterizer are not in the `gdal` crate):
//! NUL-terminated string lists and GDAL's last error message.

use std::ffi::{c_char, CStr, CString};

use crate::{Error, Result};

/// A NULL-terminated `char**` list that owns its strings, for GDAL's `papszOptions` / `argv`.
pub(crate) struct CStringList {
    strings: Vec<CString>,
    pointers: Vec<*mut c_char>,
}

impl CStringList {
    /// Build from strings; an interior NUL is an error naming `argument`.
    pub(crate) fn new<S: AsRef<str>>(items: &[S], argument: &str) -> Result<CStringList> {
        let strings = items
            .iter()
            .map(|s| {
                CString::new(s.as_ref()).map_err(|_| {
                    Error::invalid(argument, format!("{:?} contains a NUL byte", s.as_ref()))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let mut pointers: Vec<*mut c_char> =
            strings.iter().map(|s| s.as_ptr() as *mut c_char).collect();
        pointers.push(std::ptr::null_mut());
        Ok(CStringList { strings, pointers })
    }

    /// The list as GDAL takes it; valid while `self` lives. GDAL only reads it.
    pub(crate) fn as_ptr(&mut self) -> *mut *mut c_char {
        debug_assert_eq!(self.pointers.len(), self.strings.len() + 1);
        self.pointers.as_mut_ptr()
    }
}

/// GDAL's last error message on this thread (empty when none).
pub(crate) fn last_gdal_message() -> String {
    // SAFETY: returns a valid NUL-terminated string owned by GDAL (thread-local) or NULL.
    unsafe {
        let p = gdal_sys::CPLGetLastErrorMsg();
        if p.is_null() {
            String::new()
        } else {
            CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

/// Clear GDAL's last error on this thread.
pub(crate) fn reset_gdal_error() {
    // SAFETY: plain call into GDAL's thread-local error state.
    unsafe { gdal_sys::CPLErrorReset() }
}

/// True when the last GDAL error on this thread is a failure (not just a warning).
pub(crate) fn gdal_failed() -> bool {
    // SAFETY: plain call into GDAL's thread-local error state.
    let t = unsafe { gdal_sys::CPLGetLastErrorType() };
    t == gdal_sys::CPLErr::CE_Failure || t == gdal_sys::CPLErr::CE_Fatal
}
