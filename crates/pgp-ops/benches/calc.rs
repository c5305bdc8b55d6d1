//! Raster calculator speed against pygeoprocessing and against the I/O floor, in one run.
//!
//! ```text
//! PGP_BENCH_SIZE=8192 cargo bench -p pgp-ops --bench calc
//! ```
//!
//! Environment:
//! * `PGP_BENCH_SIZE` (default 1024): the DEM's width and height.
//! * `PGP_BENCH_CASES`: comma-separated subset of `floor,simple,heavy,peer,rss` (default all but
//!   `rss`). `rss` measures peak memory of `raster_calculator` at 4096² and 16384² in child
//!   processes (it generates about 3 GB of data the first time).
//! * `PGP_BENCH_DIR`: where data and outputs go (default: the system temp dir).
//! * `PGP_BENCH_REPEAT` (default 1): runs per pgp case; the table keeps the best.
//! * `PGP_PEER_VENV`: the pygeoprocessing virtual environment (default `~/.cache/pgp-peer/venv`);
//!   the peer cases are skipped when it is missing.
//!
//! Data: `pgp_core::sample` DEM (float32, nodata -9999) and weight (float32, NaN nodata), tiled
//! 256², LZW. Simple op: `a*2+b` (float32); heavy op: 32 rounds of `sin(x*i)*exp(-x/i) +
//! sqrt(|cos(x+i)|)` with `x = a/1000` in float64, float32 output; both nodata -9999 and
//! statistics on, like the peers' benchmark. Every figure in the printed table is measured in
//! this run. This binary is also the process pool's worker program, hence `run_if_worker()`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use ndarray::Zip;
use pgp_core::{block_windows, DataType, OutputRaster, Raster, RasterSpec, LARGEST_BLOCK};
use pgp_exec::Executor;
use pgp_ops::calc::{
    evaluate, raster_calculator, Block, CalcInput, CalcOptions, ExprInput, ExprOptions,
};
use pgp_ops::expr::Expression;

const SEED: u64 = 42;
const NODATA: f64 = -9999.0;

fn main() {
    pgp_exec::worker::run_if_worker();
    if let Ok(spec) = std::env::var("PGP_CALC_RSS_PROBE") {
        rss_probe(&spec);
        return;
    }
    let size: usize = env_or("PGP_BENCH_SIZE", "1024")
        .parse()
        .expect("PGP_BENCH_SIZE");
    let cases = env_or("PGP_BENCH_CASES", "floor,simple,heavy,peer");
    let want = |c: &str| cases.split(',').any(|x| x == c);
    let root = bench_root();
    let data = ensure_data(&root, size);
    let out = root.join(format!("out-{size}"));
    std::fs::create_dir_all(&out).expect("output dir");
    println!(
        "pgp-ops calc bench: {size} x {size} float32, GDAL {}",
        pgp_core::gdal_version()
    );
    let mut table = Table::default();

    if want("floor") {
        table.time("I/O floor: GDAL read a, b + write (sync)", || {
            floor_gdal(&data, &out.join("floor.tif"))
        });
        table.time("I/O floor: pgp pipeline, copy a (threads:2)", || {
            let exec = Executor::threads(2).expect("threads");
            let opts = CalcOptions {
                calc_raster_stats: false,
                ..Default::default()
            };
            raster_calculator(
                &[CalcInput::raster(&data.0, 1), CalcInput::raster(&data.1, 1)],
                |b| Ok(b.array::<f32>(0)?.to_owned()),
                out.join("floor_pipeline.tif"),
                DataType::F32,
                Some(NODATA),
                &opts,
                &exec,
            )
            .expect("floor pipeline");
        });
    }
    if want("simple") {
        for spec in ["sync", "threading:2"] {
            let exec: Executor = spec.parse().expect("executor");
            let path = out.join(format!("simple_closure_{}.tif", spec.replace(':', "")));
            table.time(&format!("simple a*2+b, closure ({spec})"), || {
                simple_closure(&data, &path, &exec)
            });
            table.outputs.push(path);
        }
        for spec in ["sync", "threading:2", "multiprocessing:2"] {
            let exec: Executor = spec.parse().expect("executor");
            let path = out.join(format!("simple_expr_{}.tif", spec.replace(':', "")));
            table.time(&format!("simple a*2+b, expression ({spec})"), || {
                run_expr(&"a * 2 + b".parse().expect("expr"), &data, &path, &exec)
            });
            table.outputs.push(path);
        }
    }
    if want("heavy") {
        for spec in ["sync", "threading:2"] {
            let exec: Executor = spec.parse().expect("executor");
            let path = out.join(format!("heavy_closure_{}.tif", spec.replace(':', "")));
            table.time(&format!("heavy, closure ({spec})"), || {
                heavy_closure(&data, &path, &exec)
            });
            table.heavy.push(path);
        }
        for spec in ["threading:2", "multiprocessing:2"] {
            let exec: Executor = spec.parse().expect("executor");
            let path = out.join(format!("heavy_expr_{}.tif", spec.replace(':', "")));
            table.time(&format!("heavy, expression ({spec})"), || {
                run_expr(&heavy_expression(), &data, &path, &exec)
            });
            table.heavy.push(path);
        }
    }
    if want("peer") {
        // The peer's heavy cases take minutes: run them only with the pgp heavy cases.
        let peer_cases = if want("heavy") {
            "simple,heavy,heavy_mp2"
        } else {
            "simple"
        };
        peer(&data, &out, peer_cases, &mut table);
    }
    table.print();
    if want("rss") {
        rss(&root);
    }
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

fn bench_root() -> PathBuf {
    std::env::var_os("PGP_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("pgp-bench-calc"))
}

/// DEM and weight rasters of `size`, generated once per size and seed.
fn ensure_data(root: &Path, size: usize) -> (PathBuf, PathBuf) {
    let dir = root.join(format!("data-{size}-{SEED}"));
    let (dem, weight) = (dir.join("dem.tif"), dir.join("weight.tif"));
    let done = dir.join("complete");
    if !done.exists() {
        std::fs::create_dir_all(&dir).expect("data dir");
        let t = Instant::now();
        pgp_core::sample::dem(&dem, size, SEED).expect("dem");
        pgp_core::sample::weight(&weight, size, SEED).expect("weight");
        std::fs::write(&done, b"").expect("marker");
        println!(
            "generated {size}² data in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    (dem, weight)
}

/// CPU seconds (user + system) used so far by this process and its waited-for children.
fn cpu_seconds() -> f64 {
    let mut total = 0.0;
    for who in [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN] {
        // SAFETY: getrusage writes into the zeroed struct we own.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(who, &mut u) } == 0 {
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            total += tv(u.ru_utime) + tv(u.ru_stime);
        }
    }
    total
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[derive(Default)]
struct Table {
    rows: Vec<(String, f64)>,
    cpu: Vec<Option<f64>>,
    outputs: Vec<PathBuf>,
    heavy: Vec<PathBuf>,
    peer_outputs: Vec<(String, PathBuf)>,
}

impl Table {
    fn time(&mut self, name: &str, f: impl FnOnce()) {
        let c = cpu_seconds();
        let t = Instant::now();
        f();
        let s = t.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - c;
        println!(
            "  {name:<55} {s:8.2} s  (cpu {cpu:6.2} s, load {})",
            load_average()
        );
        self.rows.push((name.to_string(), s));
        self.cpu.push(Some(cpu));
    }

    fn get(&self, prefix: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|(n, _)| n.starts_with(prefix))
            .map(|r| r.1)
    }

    fn print(&self) {
        println!("\n| case | wall s | cpu s |\n| --- | --- | --- |");
        for (i, (n, s)) in self.rows.iter().enumerate() {
            let cpu = self
                .cpu
                .get(i)
                .copied()
                .flatten()
                .map_or("-".to_string(), |c| format!("{c:.2}"));
            println!("| {n} | {s:.2} | {cpu} |");
        }
        println!();
        let ratio = |label: &str, num: Option<f64>, den: Option<f64>| {
            if let (Some(a), Some(b)) = (num, den) {
                println!("{label:<62} {:6.2}x", a / b);
            }
        };
        let floor = self.get("I/O floor: GDAL");
        let simple2 = self.get("simple a*2+b, closure (threading:2)");
        let simple_e2 = self.get("simple a*2+b, expression (threading:2)");
        ratio(
            "simple closure threads:2 vs pygeoprocessing (target >= 3)",
            self.get("pygeoprocessing simple"),
            simple2,
        );
        ratio(
            "simple expression threads:2 vs pygeoprocessing",
            self.get("pygeoprocessing simple"),
            simple_e2,
        );
        ratio(
            "simple closure threads:2 / I/O floor (target <= 1.3)",
            simple2,
            floor,
        );
        ratio("simple expression threads:2 / I/O floor", simple_e2, floor);
        ratio(
            "simple closure sync / I/O floor",
            self.get("simple a*2+b, closure (sync)"),
            floor,
        );
        ratio(
            "heavy closure: sync / threads:2 (target >= 1.85)",
            self.get("heavy, closure (sync)"),
            self.get("heavy, closure (threading:2)"),
        );
        ratio(
            "heavy: pygeoprocessing / pgp closure sync",
            self.get("pygeoprocessing heavy "),
            self.get("heavy, closure (sync)"),
        );
        ratio(
            "heavy: pygeoprocessing mp:2 / pgp closure threads:2",
            self.get("pygeoprocessing heavy mp"),
            self.get("heavy, closure (threading:2)"),
        );
        ratio(
            "heavy: pygeoprocessing mp:2 / pgp expression processes:2",
            self.get("pygeoprocessing heavy mp"),
            self.get("heavy, expression (multiprocessing:2)"),
        );
        self.check_outputs();
    }

    fn check_outputs(&self) {
        // Each file is read once: comparing 8192² outputs is itself a few seconds each.
        let hash = |p: &Path| {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            pixels(p).hash(&mut h);
            h.finish()
        };
        if let Some(first) = self.outputs.first() {
            let h = hash(first);
            let same = self.outputs.iter().skip(1).all(|p| hash(p) == h);
            println!("simple outputs identical across executors and closure/expression: {same}");
            if let Some((_, peer)) = self.peer_outputs.iter().find(|(c, _)| c == "simple") {
                println!(
                    "simple output identical to pygeoprocessing's: {}",
                    hash(peer) == h
                );
            }
        }
        if let Some(first) = self.heavy.first() {
            let h = hash(first);
            let same = self.heavy.iter().skip(1).all(|p| hash(p) == h);
            println!("heavy outputs identical across executors and closure/expression: {same}");
            for (case, peer) in self
                .peer_outputs
                .iter()
                .filter(|(c, _)| c.starts_with("heavy"))
            {
                let (differ, max_ulps, n) = ulp_diff(first, peer);
                println!(
                    "heavy vs pygeoprocessing {case}: {differ} of {n} pixels differ ({:.4} %), max {max_ulps} float32 ulp",
                    differ as f64 / n as f64 * 100.0
                );
            }
        }
    }
}

fn floor_gdal(data: &(PathBuf, PathBuf), target: &Path) {
    let a = Raster::open(&data.0).expect("open a");
    let b = Raster::open(&data.1).expect("open b");
    let info = a.info().expect("info");
    let spec = RasterSpec::like(&info, DataType::F32).nodata(Some(NODATA));
    let mut out = OutputRaster::create(target, &spec).expect("create");
    for w in block_windows(info.raster_size, info.block_size, LARGEST_BLOCK) {
        let block = a.read::<f32>(1, w).expect("read a");
        let _ = b.read::<f32>(1, w).expect("read b");
        out.raster()
            .write(1, w.x_off, w.y_off, block.view())
            .expect("write");
    }
    out.commit().expect("commit");
}

fn simple_op(b: &Block<'_>) -> pgp_ops::Result<ndarray::Array2<f32>> {
    let (a, w) = (b.array::<f32>(0)?, b.array::<f32>(1)?);
    Ok(Zip::from(&a).and(&w).map_collect(|&a, &w| {
        if f64::from(a) != NODATA && !w.is_nan() {
            a * 2.0 + w
        } else {
            NODATA as f32
        }
    }))
}

fn simple_closure(data: &(PathBuf, PathBuf), target: &Path, exec: &Executor) {
    raster_calculator(
        &[CalcInput::raster(&data.0, 1), CalcInput::raster(&data.1, 1)],
        simple_op,
        target,
        DataType::F32,
        Some(NODATA),
        &CalcOptions::default(),
        exec,
    )
    .expect("simple closure");
}

fn heavy_closure(data: &(PathBuf, PathBuf), target: &Path, exec: &Executor) {
    raster_calculator(
        &[CalcInput::raster(&data.0, 1)],
        |b| {
            Ok(b.array::<f32>(0)?.mapv(|a| {
                if f64::from(a) == NODATA {
                    return NODATA as f32;
                }
                let x = f64::from(a) * 1e-3;
                let mut acc = 0.0f64;
                for i in 1..=32 {
                    let i = f64::from(i);
                    acc += (x * i).sin() * (-x / i).exp() + (x + i).cos().abs().sqrt();
                }
                acc as f32
            }))
        },
        target,
        DataType::F32,
        Some(NODATA),
        &CalcOptions::default(),
        exec,
    )
    .expect("heavy closure");
}

fn heavy_expression() -> Expression {
    let x = "(a * 1e-3)";
    let terms: Vec<String> = (1..=32)
        .map(|i| format!("(sin({x} * {i}) * exp(-{x} / {i}) + sqrt(abs(cos({x} + {i}))))"))
        .collect();
    Expression::parse(&format!("0 + {}", terms.join(" + "))).expect("heavy expression")
}

fn run_expr(expr: &Expression, data: &(PathBuf, PathBuf), target: &Path, exec: &Executor) {
    let bindings = vec![
        (
            "a".to_string(),
            ExprInput::Raster {
                path: data.0.clone(),
                band: 1,
            },
        ),
        (
            "b".to_string(),
            ExprInput::Raster {
                path: data.1.clone(),
                band: 1,
            },
        ),
    ];
    let opts = ExprOptions {
        datatype: Some(DataType::F32),
        nodata: Some(NODATA),
        ..Default::default()
    };
    evaluate(expr, &bindings, target, &opts, exec).expect("expression");
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

fn peer(data: &(PathBuf, PathBuf), out: &Path, cases: &str, table: &mut Table) {
    let Some(python) = peer_python() else {
        println!("  (pygeoprocessing venv not found: peer cases skipped)");
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer_calc.py");
    let output = Command::new(python)
        .arg(script)
        .arg("--dem")
        .arg(&data.0)
        .arg("--weight")
        .arg(&data.1)
        .arg("--out-dir")
        .arg(out)
        .arg("--cases")
        .arg(cases)
        .arg("--repeat")
        .arg(env_or("PGP_BENCH_REPEAT", "1"))
        .output()
        .expect("running the peer script");
    if !output.status.success() {
        println!(
            "  peer script failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let case = v["case"].as_str().unwrap_or("?").to_string();
        let secs = v["seconds"].as_f64().unwrap_or(f64::NAN);
        let cpu = v["cpu"].as_f64();
        let name = match case.as_str() {
            "simple" => "pygeoprocessing simple (raster_calculator)".to_string(),
            "heavy" => "pygeoprocessing heavy (raster_calculator)".to_string(),
            "heavy_mp2" => "pygeoprocessing heavy mp (multiprocessing, 2 workers)".to_string(),
            other => format!("pygeoprocessing {other}"),
        };
        println!(
            "  {name:<55} {secs:8.2} s  (cpu {:6.2} s)",
            cpu.unwrap_or(f64::NAN)
        );
        table.rows.push((name, secs));
        table.cpu.push(cpu);
        if let Some(p) = v["output"].as_str() {
            table.peer_outputs.push((case, PathBuf::from(p)));
        }
    }
}

fn pixels(path: &Path) -> Vec<u32> {
    let r = Raster::open(path).expect("open output");
    let (c, rows) = r.size();
    r.read::<f32>(1, pgp_core::Window::new(0, 0, c, rows))
        .expect("read output")
        .iter()
        .map(|v| v.to_bits())
        .collect()
}

/// (pixels that differ, largest difference in float32 ulps, pixels).
fn ulp_diff(a: &Path, b: &Path) -> (usize, i64, usize) {
    let (x, y) = (pixels(a), pixels(b));
    let mut differ = 0;
    let mut max = 0;
    for (p, q) in x.iter().zip(&y) {
        let d = (i64::from(*p as i32) - i64::from(*q as i32)).abs();
        if d != 0 {
            differ += 1;
            max = max.max(d);
        }
    }
    (differ, max, x.len())
}

/// Peak resident memory of raster_calculator (simple op) at 4096² and 16384², each in a child
/// process so the figures do not include data generation or each other.
fn rss(root: &Path) {
    println!("\npeak RSS (VmHWM) of raster_calculator a*2+b, statistics on:");
    for size in [4096usize, 16384] {
        let data = ensure_data(root, size);
        for spec in ["sync", "threading:2"] {
            let out = root.join(format!("rss_{size}.tif"));
            let child = Command::new(std::env::current_exe().expect("current exe"))
                .env(
                    "PGP_CALC_RSS_PROBE",
                    format!(
                        "{spec}|{}|{}|{}",
                        data.0.display(),
                        data.1.display(),
                        out.display()
                    ),
                )
                .output()
                .expect("rss probe");
            print!(
                "  {size:>5}² {spec:<12} {}",
                String::from_utf8_lossy(&child.stdout)
            );
            let _ = std::fs::remove_file(out);
        }
    }
}

fn rss_probe(arg: &str) {
    let parts: Vec<&str> = arg.split('|').collect();
    let exec: Executor = parts[0].parse().expect("executor");
    let data = (PathBuf::from(parts[1]), PathBuf::from(parts[2]));
    let before = vm_hwm_kib();
    let t = Instant::now();
    simple_closure(&data, Path::new(parts[3]), &exec);
    let secs = t.elapsed().as_secs_f64();
    println!(
        "peak {:>6.1} MiB (at start {:>5.1} MiB), {secs:.1} s",
        vm_hwm_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}
