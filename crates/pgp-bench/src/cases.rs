//! The benchmark cases. Each runs one pgp operation on the sample data and names its outputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pgp::core::{block_windows, OutputRaster, Raster, RasterSpec, LARGEST_BLOCK};
use pgp::exec::Executor;

use crate::AnyResult;

/// The sample data files. (Fields and check kinds are used as the operations' cases land.)
#[allow(dead_code)]
pub struct Data {
    pub dem: PathBuf,
    pub weight: PathBuf,
    pub landcover: PathBuf,
    pub precip: PathBuf,
    pub zones: PathBuf,
}

impl Data {
    pub fn at(dir: &Path) -> Data {
        Data {
            dem: dir.join("dem.tif"),
            weight: dir.join("weight.tif"),
            landcover: dir.join("landcover.tif"),
            precip: dir.join("precip.tif"),
            zones: dir.join("zones.gpkg"),
        }
    }
}

/// How outputs are compared with the peer's.
#[allow(dead_code)]
pub enum Check {
    /// Every named raster output: pixels within `tolerance`, at most this fraction differing.
    Rasters {
        tolerance: f64,
        max_mismatch_fraction: f64,
    },
    /// Named JSON outputs of per-feature statistics.
    Json { tolerance: f64 },
    /// Nothing to compare (no peer equivalent).
    None,
}

type Outputs = (BTreeMap<String, PathBuf>, BTreeMap<String, f64>);

/// A benchmark case.
pub struct Case {
    pub name: &'static str,
    /// Run on N workers too (else sync only).
    pub parallel: bool,
    /// Also run on a process pool of N workers.
    pub processes: bool,
    /// Peer cases (in bench/peer_cases.py); the first is the baseline for ratios and checks.
    pub peers: &'static [&'static str],
    pub check: Check,
    pub run: fn(&Data, &Path, &Executor) -> AnyResult<Outputs>,
}

pub const ALL: &[Case] = &[Case {
    name: "io_floor",
    parallel: false,
    processes: false,
    peers: &[],
    check: Check::None,
    run: io_floor,
}];

pub fn find(name: &str) -> Option<&'static Case> {
    ALL.iter().find(|c| c.name == name)
}

fn one(name: &str, path: PathBuf) -> BTreeMap<String, PathBuf> {
    BTreeMap::from([(name.to_string(), path)])
}

fn timed(t: Instant) -> BTreeMap<String, f64> {
    BTreeMap::from([("total".to_string(), t.elapsed().as_secs_f64())])
}

/// The I/O floor of the raster calculator: read both inputs of `a*2+b` block by block and write
/// one float32 output with the default creation options, computing nothing.
fn io_floor(d: &Data, out: &Path, _exec: &Executor) -> AnyResult<Outputs> {
    let t = Instant::now();
    let a = Raster::open(&d.dem)?;
    let b = Raster::open(&d.weight)?;
    let info = a.info()?;
    let target = out.join("floor.tif");
    let spec = RasterSpec::like(&info, pgp::core::DataType::F32).nodata(Some(-9999.0));
    let mut o = OutputRaster::create(&target, &spec)?;
    for w in block_windows(info.raster_size, info.block_size, LARGEST_BLOCK) {
        let x = a.read::<f32>(1, w)?;
        let _y = b.read::<f32>(1, w)?;
        o.raster().write(1, w.x_off, w.y_off, x.view())?;
    }
    o.commit()?;
    Ok((one("floor", target), timed(t)))
}
