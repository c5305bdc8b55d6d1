//! Benchmark: align three rasters and warp one to EPSG:4326, pgp against pygeoprocessing in the
//! same run, on the same files.
//!
//! ```text
//! PGP_BENCH_SIZE=8192 cargo bench -p pgp-ops --bench warp_align
//! ```
//!
//! Environment: `PGP_BENCH_SIZE` (default 1024), `PGP_BENCH_DIR` (data and outputs; default a
//! folder in the system temp dir, data kept between runs), `PGP_PEER_VENV` (the peers' virtual
//! environment; default `~/.cache/pgp-peer/venv`; skipped when missing), `PGP_BENCH_REPEAT`
//! (runs per variant, best kept; default 3 below 4096 px, else 1), `PGP_BENCH_LEVERS=0` (only
//! pygeoprocessing's settings and the defaults).
//!
//! Each pgp variant turns on one lever more (aligned copy, concurrent warps, GDAL threads, warp
//! memory, block cache) so their effects can be read off. Every output's pixels are hashed and
//! compared with the first variant's (pgp with pygeoprocessing's settings) and with
//! pygeoprocessing's own output.
//!
//! This binary is also the process pool's worker program, hence `run_if_worker()` first.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use pgp_core::{Raster, RasterDriver, Window};
use pgp_exec::Executor;
use pgp_ops::geom::projection_wkt;
use pgp_ops::{
    align_and_resize_raster_stack, warp_raster, AlignOptions, BoundingBoxMode, ResampleMethod,
    WarpOptions,
};
use sha2::{Digest, Sha256};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// sha256 of every band's pixels (raw little-endian, row-major), read in strips.
fn pixel_hash(path: &Path) -> AnyResult<String> {
    let r = Raster::open(path)?;
    let (cols, rows) = r.size();
    let mut h = Sha256::new();
    for band in 1..=r.band_count() {
        let mut y = 0;
        while y < rows {
            let n = 256.min(rows - y);
            let block = r.read_as::<f64>(band, Window::new(0, y, cols, n))?;
            for v in block.iter() {
                h.update(v.to_le_bytes());
            }
            y += n;
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

struct Variant {
    name: &'static str,
    exec: Executor,
    threads: Option<usize>,
    aligned_copy: bool,
    driver: RasterDriver,
    warp_memory_mb: Option<u64>,
    cache_mb: Option<i64>,
}

fn variant(name: &'static str, exec: &Executor, threads: Option<usize>) -> Variant {
    Variant {
        name,
        exec: exec.clone(),
        threads,
        aligned_copy: true,
        driver: RasterDriver::default(),
        warp_memory_mb: None,
        cache_mb: None,
    }
}

/// CPU seconds (user + system) used so far by this process, all threads (Linux; 0 elsewhere).
/// Worker processes of a process pool are not included.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which is in parentheses and may contain spaces).
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: f64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum())
        .unwrap_or(0.0);
    ticks / 100.0
}

/// Run `f` `repeat` times under the variant's block cache size; best wall time, the CPU time
/// of that run, and its outputs.
fn timed<F: FnMut() -> AnyResult<Vec<PathBuf>>>(
    v: &Variant,
    repeat: usize,
    mut f: F,
) -> AnyResult<(f64, f64, Vec<PathBuf>)> {
    // SAFETY: plain getters/setters of GDAL's global block cache size.
    let old_cache = unsafe { gdal_sys::GDALGetCacheMax64() };
    if let Some(mb) = v.cache_mb {
        unsafe { gdal_sys::GDALSetCacheMax64(mb << 20) };
    }
    let mut best = (f64::INFINITY, 0.0);
    let mut outputs = Vec::new();
    for _ in 0..repeat {
        let (t, cpu) = (Instant::now(), cpu_seconds());
        outputs = f()?;
        let wall = t.elapsed().as_secs_f64();
        if wall < best.0 {
            best = (wall, cpu_seconds() - cpu);
        }
    }
    unsafe { gdal_sys::GDALSetCacheMax64(old_cache) };
    Ok((best.0, best.1, outputs))
}

struct Row {
    case: String,
    seconds: f64,
    cpu: f64,
    same_as_first: Option<bool>,
    same_as_peer: Option<bool>,
}

fn main() -> AnyResult<()> {
    pgp_exec::worker::run_if_worker();
    let size: usize = std::env::var("PGP_BENCH_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    let repeat: usize = std::env::var("PGP_BENCH_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if size >= 4096 { 1 } else { 3 });
    let root = std::env::var("PGP_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| std::env::temp_dir().join("pgp-bench-warp-align"));
    let data = root.join("data").join(size.to_string());
    let out = root.join("out").join(size.to_string());
    std::fs::create_dir_all(&out)?;
    if !data.join("zones.gpkg").exists() {
        let t = Instant::now();
        pgp_core::sample::generate(&data, size, 42)?;
        println!(
            "generated {size} x {size} sample data in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    println!(
        "warp_align benchmark: {size} x {size}, GDAL {}, {} cores, best of {repeat}",
        pgp_core::gdal_version(),
        pgp_exec::available_cores()
    );

    let peer = run_peer(&data, &out);
    let stack = [
        data.join("dem.tif"),
        data.join("landcover.tif"),
        data.join("precip.tif"),
    ];
    let sync = Executor::sync();
    let threads2 = Executor::threads(2)?;
    let procs2 = Executor::processes(2)?;
    let compress_only = RasterDriver::default().with_option("NUM_THREADS", "2");

    // --- align three rasters: intersection, snapped to the DEM, [bilinear, near, bilinear] ---
    let align_variants = [
        Variant {
            aligned_copy: false,
            ..variant(
                "align3 sync, pygeoprocessing's settings (warp all, 1 thread)",
                &sync,
                None,
            )
        },
        variant("align3 sync (default: + aligned/file copy)", &sync, None),
        variant("align3 sync + 2 GDAL threads per warp", &sync, Some(2)),
        variant(
            "align3 threading:2, 1 GDAL thread per warp (concurrent warps only)",
            &threads2,
            Some(1),
        ),
        Variant {
            driver: compress_only.clone(),
            ..variant(
                "align3 threading:2, 1 thread + 2 compression threads",
                &threads2,
                Some(1),
            )
        },
        variant(
            "align3 threading:2 (default: 2 GDAL threads per warp)",
            &threads2,
            None,
        ),
        variant("align3 multiprocessing:2 (default)", &procs2, None),
        Variant {
            warp_memory_mb: Some(512),
            ..variant("align3 threading:2 + -wm 512", &threads2, None)
        },
        Variant {
            cache_mb: Some(4096),
            ..variant("align3 threading:2 + GDAL_CACHEMAX 4 GB", &threads2, None)
        },
    ];
    let mut rows = Vec::new();
    let mut first_hashes: Option<Vec<String>> = None;
    let peer_align = peer_hashes(&peer, "align3");
    // PGP_BENCH_LEVERS=0: only pygeoprocessing's settings and the defaults (shorter, so less
    // exposed to other load on a shared machine).
    let levers = std::env::var("PGP_BENCH_LEVERS").map_or(true, |v| v != "0");
    let keep = |name: &str| levers || name.contains("settings") || name.contains("default");
    for (k, v) in align_variants.iter().enumerate() {
        if !keep(v.name) {
            continue;
        }
        let dir = out.join(format!("align_{k}"));
        std::fs::create_dir_all(&dir)?;
        let targets: Vec<PathBuf> = ["dem", "landcover", "precip"]
            .iter()
            .map(|n| dir.join(format!("{n}_aligned.tif")))
            .collect();
        let options = AlignOptions {
            raster_align_index: Some(0),
            threads_per_warp: v.threads,
            aligned_copy: v.aligned_copy,
            driver: v.driver.clone(),
            warp_memory_mb: v.warp_memory_mb,
            ..Default::default()
        };
        let (secs, cpu, outs) = timed(v, repeat, || {
            align_and_resize_raster_stack(
                &stack,
                &targets,
                &[
                    ResampleMethod::Bilinear,
                    ResampleMethod::Near,
                    ResampleMethod::Bilinear,
                ],
                (30.0, -30.0),
                BoundingBoxMode::Intersection,
                &options,
                &v.exec,
            )?;
            Ok(targets.clone())
        })?;
        rows.push(compare(
            v.name,
            (secs, cpu),
            &outs,
            &mut first_hashes,
            peer_align.as_deref(),
        )?);
        if k > 0 {
            std::fs::remove_dir_all(&dir)?;
        }
    }
    print_table("align3", &rows, peer_seconds(&peer, "align3"));

    // --- warp the DEM to EPSG:4326, 0.0003 degrees, bilinear ---
    let wgs84 = projection_wkt("EPSG:4326", "benchmark")?;
    let warp_variants = [
        variant(
            "warp_4326 sync (default = pygeoprocessing's settings: 1 thread)",
            &sync,
            None,
        ),
        variant(
            "warp_4326 threading:2 (default: 2 GDAL threads)",
            &threads2,
            None,
        ),
        Variant {
            driver: compress_only,
            ..variant(
                "warp_4326 1 kernel thread + 2 compression threads",
                &sync,
                None,
            )
        },
        variant("warp_4326 multiprocessing:2 (default)", &procs2, None),
        Variant {
            warp_memory_mb: Some(512),
            ..variant("warp_4326 threading:2 + -wm 512", &threads2, None)
        },
        Variant {
            cache_mb: Some(4096),
            ..variant(
                "warp_4326 threading:2 + GDAL_CACHEMAX 4 GB",
                &threads2,
                None,
            )
        },
    ];
    let mut rows = Vec::new();
    let mut first_hashes = None;
    let peer_warp = peer_hashes(&peer, "warp_4326");
    for (k, v) in warp_variants.iter().enumerate() {
        if !keep(v.name) {
            continue;
        }
        let target = out.join(format!("warp_{k}.tif"));
        let options = WarpOptions {
            target_projection: Some(wgs84.clone()),
            n_threads: v.threads,
            driver: v.driver.clone(),
            warp_memory_mb: v.warp_memory_mb,
            ..Default::default()
        };
        let (secs, cpu, outs) = timed(v, repeat, || {
            warp_raster(
                &stack[0],
                (0.0003, -0.0003),
                &target,
                ResampleMethod::Bilinear,
                &options,
                &v.exec,
            )?;
            Ok(vec![target.clone()])
        })?;
        rows.push(compare(
            v.name,
            (secs, cpu),
            &outs,
            &mut first_hashes,
            peer_warp.as_deref(),
        )?);
        if k > 0 {
            std::fs::remove_file(&target)?;
        }
    }
    print_table("warp_4326", &rows, peer_seconds(&peer, "warp_4326"));
    if let Some((s, cpu)) = peer_seconds(&peer, "warp_4326_nthreads2") {
        println!("  (pygeoprocessing warp_raster with n_threads=2: {s:.2} s, CPU {cpu:.2} s)");
    }
    Ok(())
}

fn compare(
    name: &str,
    (seconds, cpu): (f64, f64),
    outputs: &[PathBuf],
    first: &mut Option<Vec<String>>,
    peer: Option<&[String]>,
) -> AnyResult<Row> {
    let hashes = outputs
        .iter()
        .map(|p| pixel_hash(p))
        .collect::<AnyResult<Vec<_>>>()?;
    let same_as_first = first.as_ref().map(|f| f == &hashes);
    if first.is_none() {
        *first = Some(hashes.clone());
    }
    Ok(Row {
        case: name.to_string(),
        seconds,
        cpu,
        same_as_first,
        same_as_peer: peer.map(|p| p == hashes),
    })
}

fn print_table(title: &str, rows: &[Row], peer: Option<(f64, f64)>) {
    println!();
    match peer {
        Some((p, cpu)) => println!("{title}: pygeoprocessing {p:.2} s (CPU {cpu:.2} s)"),
        None => println!("{title}: (pygeoprocessing not run)"),
    }
    let peer = peer.map(|p| p.0);
    println!(
        "  {:<72} {:>8} {:>9} {:>10} {:>9}",
        "pgp variant", "seconds", "vs pygeo", "= first", "= pygeo"
    );
    let yn = |b: Option<bool>| match b {
        Some(true) => "same",
        Some(false) => "DIFFERS",
        None => "-",
    };
    for r in rows {
        let ratio = peer.map_or("-".to_string(), |p| format!("{:.2}x", p / r.seconds));
        println!(
            "  {:<72} {:>8.2} {:>8.2} {:>9} {:>8} {:>8}",
            r.case,
            r.seconds,
            r.cpu,
            ratio,
            yn(r.same_as_first),
            yn(r.same_as_peer)
        );
    }
}

type PeerResults = Option<BTreeMap<String, serde_json::Value>>;

/// Run pygeoprocessing on the same files (skipped when its environment is missing).
fn run_peer(data: &Path, out: &Path) -> PeerResults {
    let venv = std::env::var("PGP_PEER_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/pgp-peer/venv")
        });
    let python = venv.join("bin/python");
    if !python.exists() {
        println!(
            "pygeoprocessing: no peer environment at {} (skipped)",
            venv.display()
        );
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_warp_align.py");
    let output = Command::new(&python)
        .arg(script)
        .arg(data)
        .arg(out.join("peer"))
        .output();
    match output {
        Ok(o) if o.status.success() => serde_json::from_slice(&o.stdout).ok(),
        Ok(o) => {
            println!(
                "pygeoprocessing failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            None
        }
        Err(e) => {
            println!("pygeoprocessing could not start: {e}");
            None
        }
    }
}

fn peer_seconds(peer: &PeerResults, case: &str) -> Option<(f64, f64)> {
    let c = peer.as_ref()?.get(case)?;
    Some((
        c["seconds"].as_f64()?,
        c["cpu_seconds"].as_f64().unwrap_or(0.0),
    ))
}

fn peer_hashes(peer: &PeerResults, case: &str) -> Option<Vec<String>> {
    let outputs = peer.as_ref()?.get(case)?["outputs"].as_object()?;
    let order: &[&str] = if case == "align3" {
        &["dem", "landcover", "precip"]
    } else {
        &["warped"]
    };
    order
        .iter()
        .map(|k| pixel_hash(Path::new(outputs.get(*k)?.as_str()?)).ok())
        .collect()
}
