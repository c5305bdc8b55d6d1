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
