//! GDAL's first calls, which load libgdal, made from two threads at once: the library loads
//! once, every function resolves, and arguments in registers (integers, doubles, a variadic
//! call's count of vector registers) reach GDAL intact through the resolver.

use std::ffi::{c_char, CStr};
use std::sync::Barrier;

fn gdal_mapped() -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    pgp_gdal_lazy::GDAL_SONAME.is_some_and(|soname| maps.contains(soname))
}

fn version_num() -> String {
    // SAFETY: GDALVersionInfo returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(gdal_sys::GDALVersionInfo(c"VERSION_NUM".as_ptr())) }
        .to_string_lossy()
        .into_owned()
}

/// WGS 84's semi-major axis, through GDAL/PROJ: calls that pass and return doubles.
fn wgs84_semi_major() -> f64 {
    // SAFETY: a new spatial reference is created, used and destroyed on this thread.
    unsafe {
        let srs = gdal_sys::OSRNewSpatialReference(std::ptr::null());
        assert!(!srs.is_null());
        assert_eq!(gdal_sys::OSRImportFromEPSG(srs, 4326), 0);
        let mut err = 0;
        let axis = gdal_sys::OSRGetSemiMajor(srs, &mut err);
        assert_eq!(err, 0);
        gdal_sys::OSRDestroySpatialReference(srs);
        axis
    }
}

/// A variadic call made first through the trampoline: `al` and the xmm registers carry the
/// doubles.
fn formatted() -> String {
    let mut buffer = [0 as c_char; 64];
    // SAFETY: the buffer's size is passed; the format matches the arguments.
    unsafe {
        gdal_sys::CPLsnprintf(
            buffer.as_mut_ptr(),
            buffer.len(),
            c"%d %.2f %s %.3f".as_ptr(),
            42,
            1.25f64,
            c"x".as_ptr(),
            -7.5f64,
        );
        CStr::from_ptr(buffer.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

#[test]
fn first_calls_from_two_threads_load_gdal_once_and_pass_arguments_intact() {
    pgp_gdal_lazy::link_trampolines();
    if pgp_gdal_lazy::GDAL_SONAME.is_none() {
        // GDAL is linked as usual on this platform: loaded from the start.
        assert!(!pgp_gdal_lazy::is_loaded());
        return;
    }
    assert!(!gdal_mapped(), "libgdal is mapped before any GDAL call");
    assert!(!pgp_gdal_lazy::is_loaded());
    let barrier = Barrier::new(2);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| {
            barrier.wait();
            (version_num(), wgs84_semi_major())
        });
        let b = s.spawn(|| {
            barrier.wait();
            (version_num(), formatted())
        });
        (a.join().expect("thread a"), b.join().expect("thread b"))
    });
    assert!(pgp_gdal_lazy::is_loaded());
    assert!(gdal_mapped());
    assert_eq!(a.0, b.0);
    if let Some(built) = option_env!("PGP_GDAL_BUILT_VERSION_NUM") {
        assert_eq!(a.0, built, "the libgdal loaded is the one built against");
    }
    assert_eq!(a.1, 6_378_137.0);
    assert_eq!(b.1, "42 1.25 x -7.500");
}
