//! Many small graph tasks on Slurm: pilot workers against one `sbatch` per task (run:
//! `cargo bench -p pgp-graph --bench slurm_throughput`, on a machine with Slurm, e.g. after
//! `scripts/start-slurm.sh`; `-- TASKS BASELINE_JOBS` to change the sizes, default 1000 and 50).
//!
//! 1. TASKS no-op graph tasks (each writes one small file: the graph's temporary output, rename,
//!    digest and record all happen) on `slurm:workers=2`, timed from opening the graph (no job
//!    submitted yet) to the join: job start-up included.
//! 2. Baseline, same run: BASELINE_JOBS jobs submitted with one `sbatch` each (what a
//!    job-per-task plugin does), each running `true`, timed until Slurm reports all of them
//!    ended; scaled to TASKS jobs by the measured rate.
//! 3. The same graph on `threading:2`, for the engine's own cost.
//!
//! This binary is also the workers' program (its `main` calls `run_if_worker` first).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use pgp_exec::{Executor, RemoteOp};
use pgp_graph::{Graph, GraphOp, Task};
use serde::{Deserialize, Serialize};

struct Touch;

#[derive(Clone, Serialize, Deserialize)]
struct TouchArgs {
    index: u64,
    output: PathBuf,
}

impl RemoteOp for Touch {
    const NAME: &'static str = "bench::touch";
    type Args = TouchArgs;
    type Output = ();
    fn run(args: TouchArgs) -> Result<(), String> {
        std::fs::write(&args.output, args.index.to_le_bytes()).map_err(|e| e.to_string())
    }
}

impl GraphOp for Touch {
    const VERSION: u32 = 1;
    fn inputs(_: &TouchArgs) -> Vec<PathBuf> {
        Vec::new()
    }
    fn outputs(args: &TouchArgs) -> Vec<PathBuf> {
        vec![args.output.clone()]
    }
    fn redirect_outputs(args: &TouchArgs, temps: &[PathBuf]) -> TouchArgs {
        TouchArgs {
            output: temps[0].clone(),
            ..args.clone()
        }
    }
}

pgp_exec::register_op!(Touch);
pgp_graph::register_graph_op!(Touch);

fn graph_run(exec: Executor, tasks: usize) -> Duration {
    let dir = tempfile::tempdir_in(".").expect("temporary directory on this filesystem");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let started = Instant::now();
    let graph = Graph::open(dir.path().join("ws"), exec).unwrap();
    for index in 0..tasks as u64 {
        let output = dir.path().join(format!("out/{index}.bin"));
        graph
            .add_op::<Touch>(TouchArgs { index, output }, Task::default())
            .unwrap();
    }
    let report = graph.join().unwrap();
    let took = started.elapsed();
    assert_eq!(report.ran.len(), tasks);
    took
}

fn live_jobs(name: &str) -> usize {
    let out = Command::new("squeue")
        .args(["--noheader", "--format=%i"])
        .arg(format!("--name={name}"))
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn one_sbatch_per_task(jobs: usize) -> Duration {
    let name = format!("pgp-bench-baseline-{}", std::process::id());
    let started = Instant::now();
    for _ in 0..jobs {
        let status = Command::new("sbatch")
            .args(["--quiet", "--mem=100M", "--output=/dev/null", "--ntasks=1"])
            .arg(format!("--job-name={name}"))
            .args(["--wrap", "true"])
            .status()
            .expect("sbatch");
        assert!(status.success());
    }
    while live_jobs(&name) > 0 {
        std::thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

fn main() {
    pgp_exec::worker::run_if_worker();
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let tasks = args.first().copied().unwrap_or(1000);
    let baseline_jobs = args.get(1).copied().unwrap_or(50);
    if Command::new("sinfo")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        eprintln!("no Slurm reachable (sinfo failed): start one with scripts/start-slurm.sh");
        return;
    }
    let threads = graph_run(Executor::threads(2).unwrap(), tasks);
    let slurm: Executor = "slurm:workers=2,mem=200M".parse().unwrap();
    let on_slurm = graph_run(slurm, tasks);
    let baseline = one_sbatch_per_task(baseline_jobs);
    let per_job = baseline.as_secs_f64() / baseline_jobs as f64;
    let baseline_total = per_job * tasks as f64;
    println!("{tasks} no-op graph tasks:");
    println!("  threading:2          {:>8.2} s", threads.as_secs_f64());
    println!(
        "  slurm:workers=2      {:>8.2} s  ({:.2} ms per task, job start-up included)",
        on_slurm.as_secs_f64(),
        on_slurm.as_secs_f64() * 1000.0 / tasks as f64
    );
    println!(
        "  one sbatch per task  {:>8.2} s  (measured {baseline_jobs} jobs in {:.2} s: {:.2} jobs/s)",
        baseline_total,
        baseline.as_secs_f64(),
        1.0 / per_job
    );
    println!(
        "  pilot workers are {:.1}x faster than one sbatch per task",
        baseline_total / on_slurm.as_secs_f64()
    );
}
