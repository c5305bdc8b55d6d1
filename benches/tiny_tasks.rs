//! The graph's cost per task on a cold run of many tiny tasks (run:
//! `cargo bench -p pgp --bench tiny_tasks -- [TASKS] [EXECUTOR]`, default 1000 on `threading:2`).
//!
//! Each task is a `pgp.calc` of `a + i` on a 16 x 16 raster, so nearly all of a task's time is
//! the graph's own: hashing, the key, temporary outputs, installing, settling and recording.
//! The baseline is the same calculations called directly on the same executor, without a graph,
//! in the same run; the figure that matters is the graph's time over the baseline's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pgp::core::sample;
use pgp::exec::{Executor, ExecutorSpec};
use pgp::graph::{Graph, Task};
use pgp::nodes::CalcNode;
use pgp::ops::calc::{ExprInput, ExpressionJob};

fn job(input: &Path, i: usize, target: PathBuf) -> ExpressionJob {
    ExpressionJob {
        expression: format!("a + {i}").parse().expect("a valid expression"),
        more_bands: Vec::new(),
        inputs: BTreeMap::from([(
            "a".to_string(),
            ExprInput::Raster {
                path: input.to_path_buf(),
                band: 1,
            },
        )]),
        target,
        options: Default::default(),
    }
}

/// CPU seconds (user + system) this process has used so far.
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn measured<T>(f: impl FnOnce() -> T) -> (T, Duration, f64) {
    let (start, cpu) = (Instant::now(), cpu_seconds());
    let out = f();
    (out, start.elapsed(), cpu_seconds() - cpu)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let tasks: usize = args.first().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let spec: ExecutorSpec = args
        .get(1)
        .map_or("threading:2", String::as_str)
        .parse()
        .expect("an executor spec such as threading:2");
    let exec = Executor::from_spec(&spec).expect("the executor starts");
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = sample::generate(dir.path().join("data"), 16, 1).expect("sample data");

    // Baseline: the same calculations, straight on the executor.
    let direct_out = dir.path().join("direct");
    std::fs::create_dir_all(&direct_out).expect("output directory");
    let jobs: Vec<ExpressionJob> = (0..tasks)
        .map(|i| job(&data.dem, i, direct_out.join(format!("{i}.tif"))))
        .collect();
    let (_, direct, direct_cpu) = measured(|| {
        exec.map_ordered(jobs, |j: ExpressionJob| {
            j.run(&Executor::sync())
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .map(|r| r.map_err(|e| e.to_string()).and_then(|done| done))
        .collect::<Result<Vec<()>, String>>()
        .expect("every calculation succeeds")
    });

    let ws = dir.path().join("ws");
    let graph_out = dir.path().join("graph");
    let run = || {
        let graph = Graph::open(&ws, exec.clone()).expect("the workspace opens");
        for i in 0..tasks {
            graph
                .add_op::<CalcNode>(
                    job(&data.dem, i, graph_out.join(format!("{i}.tif"))),
                    Task::default(),
                )
                .expect("the task is added");
        }
        graph.join().expect("every task succeeds")
    };
    let (report, cold, cold_cpu) = measured(run);
    assert_eq!(report.ran.len(), tasks);
    let (report, rerun, _) = measured(run);
    assert_eq!(report.skipped.len(), tasks);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("{tasks} tiny pgp.calc tasks (16 x 16), {spec}:");
    println!(
        "  direct calls, no graph   {:>8.0} ms wall {:>8.0} ms CPU",
        ms(direct),
        direct_cpu * 1e3
    );
    println!(
        "  graph, cold              {:>8.0} ms wall {:>8.0} ms CPU   {:.2} ms per task   goal < 3000 ms for 1000",
        ms(cold),
        cold_cpu * 1e3,
        ms(cold) / tasks as f64
    );
    println!("  graph, rerun (all skip)  {:>8.0} ms wall", ms(rerun));
    println!(
        "  ratio cold graph / direct: {:.2}",
        cold.as_secs_f64() / direct.as_secs_f64()
    );
}
