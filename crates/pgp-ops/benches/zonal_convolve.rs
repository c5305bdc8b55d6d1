//! Zonal statistics, convolve_2d (31 x 31 gaussian), slope and distance transform: pgp on the
//! synchronous executor and on 2 threads, against pygeoprocessing on the same files, in one run.
//!
//! ```text
//! PGP_BENCH_SIZE=8192 cargo bench -p pgp-ops --bench zonal_convolve
//! ```
//!
//! The size defaults to 1024 (quick). pygeoprocessing is timed by `peer_zonal_convolve.py` with
//! the peer virtual environment's python (`$PGP_PEER_VENV`, default `~/.cache/pgp-peer/venv`);
//! without it only pgp's own figures are printed. Data go to `$PGP_BENCH_DIR` (default: a
//! temporary directory). Each pgp timing is the best of `PGP_BENCH_REPEATS` runs (default 2);
//! pygeoprocessing runs once. `PGP_BENCH_CASES=zonal,convolve` runs a subset of the cases,
//! `PGP_BENCH_NO_PEER=1` skips pygeoprocessing. This binary is also the process pool's worker
//! program.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ndarray::Array2;
use pgp_core::{sample, DataType, OutputRaster, Raster, RasterSpec};
use pgp_exec::Executor;
use pgp_ops::zonal::{zonal_statistics, ZonalOptions};
use pgp_ops::{
    calculate_slope, convolve_2d, distance_transform_edt, ConvolveOptions, DistanceOptions,
    SlopeOptions,
};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system, all threads) used by this process so far.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// (wall, cpu) seconds of the run with the best wall time.
fn best_of(repeats: usize, mut f: impl FnMut()) -> (f64, f64) {
    (0..repeats.max(1))
        .map(|_| {
            let (t, c) = (Instant::now(), cpu_seconds());
            f();
            (t.elapsed().as_secs_f64(), cpu_seconds() - c)
        })
        .fold((f64::INFINITY, 0.0), |a, b| if b.0 < a.0 { b } else { a })
}

/// A sparse byte mask on the DEM grid: region pixels where the DEM is within 2 m of a contour.
fn write_mask(dem: &Path, target: &Path) {
    let r = Raster::open(dem).unwrap();
    let info = r.info().unwrap();
    let spec = RasterSpec::like(&info, DataType::U8).nodata(Some(255.0));
    let mut out = OutputRaster::create(target, &spec).unwrap();
    let (cols, rows) = info.raster_size;
    for w in pgp_core::block_windows((cols, rows), (cols, 256), 0) {
        let z = r.read::<f32>(1, w).unwrap();
        let m: Array2<u8> = z.mapv(|v| {
            if v == -9999.0 {
                255
            } else {
                u8::from((v % 100.0).abs() < 0.05)
            }
        });
        out.raster().write(1, 0, w.y_off, m.view()).unwrap();
    }
    out.commit().unwrap();
}

fn peer_python() -> Option<PathBuf> {
    let venv = std::env::var_os("PGP_PEER_VENV")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/pgp-peer/venv"))
        })?;
    let py = venv.join("bin/python");
    py.exists().then_some(py)
}

fn main() {
    pgp_exec::worker::run_if_worker();
    let size = env_usize("PGP_BENCH_SIZE", 1024);
    let repeats = env_usize("PGP_BENCH_REPEATS", 2);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("PGP_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let data = dir.join(format!("data-{size}"));
    let t = Instant::now();
    let d = if data.join("zones.gpkg").exists()
        && data.join("gauss31.tif").exists()
        && data.join("mask.tif").exists()
    {
        sample::SampleData {
            dem: data.join("dem.tif"),
            weight: data.join("weight.tif"),
            landcover: data.join("landcover.tif"),
            precip: data.join("precip.tif"),
            zones: data.join("zones.gpkg"),
        }
    } else {
        let d = sample::generate(&data, size, 1).unwrap();
        pgp_ops::kernels::normal_distribution_kernel(data.join("gauss31.tif"), 5.0, 3.0, true)
            .unwrap();
        write_mask(&d.dem, &data.join("mask.tif"));
        d
    };
    println!(
        "size {size}x{size}, data ready in {:.1} s ({})",
        t.elapsed().as_secs_f64(),
        data.display()
    );
    let kernel = data.join("gauss31.tif");
    let mask = data.join("mask.tif");
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();

    let executors = [
        ("sync", Executor::sync()),
        ("threading:2", Executor::threads(2).unwrap()),
    ];
    type Case<'a> = (&'a str, Box<dyn Fn(&Executor) + 'a>);
    let cases: Vec<Case> = vec![
        (
            "zonal_statistics",
            Box::new(|e| {
                zonal_statistics(&d.dem, 1, &d.zones, &ZonalOptions::default(), e).unwrap();
            }),
        ),
        (
            "convolve_2d_gauss31",
            Box::new(|e| {
                convolve_2d(
                    &d.dem,
                    1,
                    &kernel,
                    1,
                    out.join("conv.tif"),
                    &ConvolveOptions::default(),
                    e,
                )
                .unwrap()
            }),
        ),
        (
            "convolve_2d_gauss31_ignore_nodata",
            Box::new(|e| {
                let o = ConvolveOptions {
                    ignore_nodata_and_edges: true,
                    ..Default::default()
                };
                convolve_2d(&d.dem, 1, &kernel, 1, out.join("conv_ignore.tif"), &o, e).unwrap()
            }),
        ),
        (
            "calculate_slope",
            Box::new(|e| {
                calculate_slope(
                    &d.dem,
                    1,
                    out.join("slope.tif"),
                    &SlopeOptions::default(),
                    e,
                )
                .unwrap()
            }),
        ),
        (
            "distance_transform_edt",
            Box::new(|e| {
                distance_transform_edt(
                    &mask,
                    1,
                    out.join("dist.tif"),
                    &DistanceOptions::default(),
                    e,
                )
                .unwrap()
            }),
        ),
    ];
    // PGP_BENCH_CASES=zonal,convolve runs only the cases whose names contain one of the words.
    let only: Vec<String> = std::env::var("PGP_BENCH_CASES")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let mut ours = Vec::new();
    for (name, run) in cases
        .iter()
        .filter(|(n, _)| only.is_empty() || only.iter().any(|o| n.contains(o.as_str())))
    {
        let times: Vec<(f64, f64)> = executors
            .iter()
            .map(|(_, e)| best_of(repeats, || run(e)))
            .collect();
        ours.push((name.to_string(), times));
    }

    let skip_peer = std::env::var_os("PGP_BENCH_NO_PEER").is_some();
    let peer: Option<serde_json::Value> = peer_python().filter(|_| !skip_peer).and_then(|py| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_zonal_convolve.py");
        let o = Command::new(py)
            .arg(script)
            .arg(&data)
            .arg(dir.join("peer"))
            .output()
            .ok()?;
        if !o.status.success() {
            eprintln!("peer script failed: {}", String::from_utf8_lossy(&o.stderr));
            return None;
        }
        serde_json::from_slice(&o.stdout).ok()
    });
    if peer.is_none() {
        println!("(pygeoprocessing not available: pgp figures only)");
    }
    println!(
        "\n{:<34} {:>15} {:>15} {:>15} {:>8} {:>8} {:>8}",
        "case (wall s / cpu s)",
        "pgp sync",
        "pgp 2 threads",
        "pygeoprocessing",
        "x sync",
        "x 2 thr",
        "x cpu"
    );
    let cell = |(w, c): (f64, f64)| format!("{w:.2} / {c:.2}");
    for (name, times) in &ours {
        let p = peer.as_ref().and_then(|p| {
            let v = &p[name.as_str()];
            Some((v["wall"].as_f64()?, v["cpu"].as_f64()?))
        });
        let ratio = |a: Option<f64>, b: f64| {
            a.map(|a| format!("{:.2}", a / b))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "{:<34} {:>15} {:>15} {:>15} {:>8} {:>8} {:>8}",
            name,
            cell(times[0]),
            cell(times[1]),
            p.map(cell).unwrap_or_else(|| "-".into()),
            ratio(p.map(|p| p.0), times[0].0),
            ratio(p.map(|p| p.0), times[1].0),
            ratio(p.map(|p| p.1), times[0].1),
        );
    }
    println!(
        "\nx = pygeoprocessing time / pgp time (higher: pgp faster); x cpu compares CPU seconds of\n\
         pgp sync and pygeoprocessing, steadier than wall time on a shared machine. Load average\n\
         at the end: {}",
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );
}
