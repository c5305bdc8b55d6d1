//! The seeded inputs both pgp-core benches read.

use std::path::PathBuf;

use pgp_core::sample;

pub type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The bench's inputs: a seeded DEM and land cover of `PGP_BENCH_SIZE` (default 4096) pixels
/// square, in a temporary directory (`dir`, for the bench's own files too).
pub struct Inputs {
    pub size: usize,
    pub dem: PathBuf,
    pub landcover: PathBuf,
    pub dir: tempfile::TempDir,
}

pub fn inputs() -> AnyResult<Inputs> {
    let size: usize = std::env::var("PGP_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4096);
    let dir = tempfile::tempdir()?;
    let dem = dir.path().join("dem.tif");
    sample::dem(&dem, size, 11)?;
    let landcover = dir.path().join("landcover.tif");
    sample::landcover(&landcover, size, 11)?;
    Ok(Inputs {
        size,
        dem,
        landcover,
        dir,
    })
}

/// CPU seconds of `clock`: `CLOCK_THREAD_CPUTIME_ID` for what the calling thread spent (on a
/// shared machine the wall clock mostly measures the other processes), or
/// `CLOCK_PROCESS_CPUTIME_ID` where GDAL may work on threads of its own.
pub fn cpu_seconds(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; the clock ids passed are constants libc defines.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}
