//! Benchmarks of the graph's own costs (run: `cargo bench -p pgp-graph --bench graph_overhead`).
//!
//! 1. A cached rerun of a 1,000-task graph over real files (goal: under 1 s), against a baseline
//!    that just hashes every file once (what a checker without a memo must at least do).
//! 2. Scheduling overhead per no-op task on threads (goal: under 50 µs), against submitting the
//!    same no-ops straight to the executor.

use pgp_exec::Executor;
use pgp_graph::{Graph, Task};
use sha2::{Digest as _, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TASKS: usize = 1000;
const FILE_LEN: usize = 64 * 1024;

fn inputs(dir: &Path) -> Vec<PathBuf> {
    (0..TASKS)
        .map(|i| dir.join(format!("in/{i}.bin")))
        .collect()
}

fn outputs(dir: &Path) -> Vec<PathBuf> {
    (0..TASKS)
        .map(|i| dir.join(format!("out/{i}.bin")))
        .collect()
}

/// Task `i` reads input `i` and, for `i > 0`, output `(i-1)/2` (a binary tree of dependencies),
/// and writes output `i`.
fn build(g: &Graph, dir: &Path) {
    let (ins, outs) = (inputs(dir), outputs(dir));
    for i in 0..TASKS {
        let mut reads = vec![ins[i].clone()];
        if i > 0 {
            reads.push(outs[(i - 1) / 2].clone());
        }
        g.add_fn(
            Task::new(format!("t{i}")).reads(reads).writes([&outs[i]]),
            i as u64,
            |i, io| {
                let mut h = Sha256::new();
                for input in io.inputs() {
                    h.update(fs::read(input)?);
                }
                h.update(i.to_le_bytes());
                fs::write(io.output(0), h.finalize().repeat(FILE_LEN / 32))
            },
        )
        .unwrap();
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed())
}

fn cached_rerun(exec: &Executor) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("in")).unwrap();
    for (i, p) in inputs(dir.path()).iter().enumerate() {
        fs::write(p, (i as u32).to_le_bytes().repeat(FILE_LEN / 4)).unwrap();
    }
    let ws = dir.path().join("ws");
    let run = || {
        let g = Graph::open(&ws, exec.clone()).unwrap();
        build(&g, dir.path());
        let report = g.join().unwrap();
        (report.ran.len(), g.files_hashed())
    };
    let ((ran, _), first) = timed(run);
    assert_eq!(ran, TASKS);
    // Let every file age past the racy window, so the memo may trust what the next run hashes.
    std::thread::sleep(Duration::from_millis(2100));
    let ((ran, hashed_cold), cold) = timed(run);
    assert_eq!(ran, 0);
    let ((ran, hashed_warm), warm) = timed(run);
    assert_eq!(ran, 0);

    let all_files: Vec<PathBuf> = inputs(dir.path())
        .into_iter()
        .chain(outputs(dir.path()))
        .collect();
    let (_, baseline) = timed(|| {
        for p in &all_files {
            std::hint::black_box(Sha256::digest(fs::read(p).unwrap()));
        }
    });
    let mib = (all_files.len() * FILE_LEN) as f64 / (1 << 20) as f64;
    println!(
        "cached rerun of {TASKS} tasks over {} files ({mib:.0} MiB), {}:",
        all_files.len(),
        exec.spec()
    );
    println!(
        "  first run (all tasks run, records fsync'ed)  {:>9.1} ms",
        first.as_secs_f64() * 1e3
    );
    println!(
        "  rerun, memo entries still racy ({hashed_cold} hashed) {:>9.1} ms",
        cold.as_secs_f64() * 1e3
    );
    println!(
        "  rerun, memo trusted ({hashed_warm} files hashed)      {:>9.1} ms   goal < 1000 ms",
        warm.as_secs_f64() * 1e3
    );
    println!(
        "  baseline: hash every file once, one thread   {:>9.1} ms",
        baseline.as_secs_f64() * 1e3
    );
    println!(
        "  ratio warm rerun / baseline: {:.2}   cold rerun / baseline: {:.2}",
        warm.as_secs_f64() / baseline.as_secs_f64(),
        cold.as_secs_f64() / baseline.as_secs_f64()
    );
}

fn scheduling_overhead(exec: &Executor) {
    const N: usize = 20_000;
    // Baseline: the same no-ops submitted straight to the executor and waited for.
    let (_, direct) = timed(|| {
        let handles: Vec<_> = (0..N)
            .map(|i| exec.spawn(move || std::hint::black_box(i)).unwrap())
            .collect();
        for h in handles {
            h.wait().unwrap();
        }
    });
    let (_, plain) = timed(|| {
        for i in 0..N {
            std::hint::black_box(i);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let per = |d: Duration, n: usize| d.as_secs_f64() * 1e6 / n as f64;

    let (_, independent) = timed(|| {
        let g = Graph::open(dir.path().join("ws1"), exec.clone()).unwrap();
        for i in 0..N {
            g.add_fn(Task::new(format!("noop{i}")).transient(true), (), |_, _| {
                Ok::<(), String>(())
            })
            .unwrap();
        }
        g.join().unwrap();
    });
    let (_, chain) = timed(|| {
        let g = Graph::open(dir.path().join("ws2"), exec.clone()).unwrap();
        let mut prev = g
            .add_fn(Task::new("c0").transient(true), (), |_, _| {
                Ok::<(), String>(())
            })
            .unwrap();
        for i in 1..N {
            prev = g
                .add_fn(
                    Task::new(format!("c{i}")).after(&prev).transient(true),
                    (),
                    |_, _| Ok::<(), String>(()),
                )
                .unwrap();
        }
        g.join().unwrap();
    });
    const RECORDED: usize = 2000;
    let recorded_run = || {
        let g = Graph::open(dir.path().join("ws3"), exec.clone()).unwrap();
        for i in 0..RECORDED {
            g.add_fn(Task::new(format!("r{i}")), i, |_, _| Ok::<(), String>(()))
                .unwrap();
        }
        g.join().unwrap()
    };
    let (report, recorded_first) = timed(recorded_run);
    assert_eq!(report.ran.len(), RECORDED);
    let (report, recorded_cached) = timed(recorded_run);
    assert_eq!(report.skipped.len(), RECORDED);

    println!("scheduling overhead per no-op task, {}:", exec.spec());
    println!(
        "  plain loop                                  {:>8.3} µs",
        per(plain, N)
    );
    println!(
        "  executor spawn + wait (baseline)            {:>8.3} µs",
        per(direct, N)
    );
    println!(
        "  graph, {N} independent transient tasks     {:>8.3} µs   goal < 50 µs   ratio to baseline {:.1}",
        per(independent, N),
        independent.as_secs_f64() / direct.as_secs_f64()
    );
    println!(
        "  graph, chain of {N} transient tasks        {:>8.3} µs   ratio to baseline {:.1}",
        per(chain, N),
        chain.as_secs_f64() / direct.as_secs_f64()
    );
    println!(
        "  graph, {RECORDED} recorded tasks, first run        {:>8.3} µs (one fsync'ed record each)",
        per(recorded_first, RECORDED)
    );
    println!(
        "  graph, {RECORDED} recorded tasks, cached rerun     {:>8.3} µs",
        per(recorded_cached, RECORDED)
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let threads = Executor::threads(2).unwrap();
    cached_rerun(&threads);
    scheduling_overhead(&threads);
    scheduling_overhead(&Executor::sync());
}
