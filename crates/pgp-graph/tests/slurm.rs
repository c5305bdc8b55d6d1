//! A graph on a real Slurm (`scripts/start-slurm.sh`) whose worker jobs reach their walltime
//! while tasks run on them: a task is retried on a fresh job when it may be, else it fails with
//! the job's id, state and log; either way nothing is recorded that is not complete. Skipped with
//! a message when no Slurm is reachable, unless `PGP_REQUIRE_SLURM=1` (set by `.ci/run`). This
//! binary is also the program the Slurm jobs run, hence the custom `main()`.

mod runner;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgp_exec::{Executor, ExecutorSpec, RemoteOp, SlurmPool, WorkerId};
use pgp_graph::{Event, Graph, GraphOp, PlanAction, Task};
use serde::{Deserialize, Serialize};

/// Notes each attempt (its Slurm job) in a log, writes part of its output, and sleeps far past
/// any walltime for its first `naps` attempts; later attempts finish at once.
struct Nap;

#[derive(Clone, Serialize, Deserialize)]
struct NapArgs {
    attempts: PathBuf,
    output: PathBuf,
    naps: usize,
}

impl RemoteOp for Nap {
    const NAME: &'static str = "test::nap_until_walltime";
    type Args = NapArgs;
    type Output = u64;
    fn run(args: NapArgs) -> Result<u64, String> {
        use std::io::Write;
        let job: u64 = std::env::var("SLURM_JOB_ID")
            .map_err(|e| e.to_string())?
            .parse()
            .map_err(|e| format!("SLURM_JOB_ID: {e}"))?;
        let mut log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&args.attempts)
            .map_err(|e| e.to_string())?;
        writeln!(log, "{job}").map_err(|e| e.to_string())?;
        log.sync_all().map_err(|e| e.to_string())?;
        let attempt = fs::read_to_string(&args.attempts)
            .map_err(|e| e.to_string())?
            .lines()
            .count();
        fs::write(&args.output, "partial").map_err(|e| e.to_string())?;
        if attempt <= args.naps {
            std::thread::sleep(Duration::from_secs(600));
        }
        fs::write(&args.output, format!("done on job {job}")).map_err(|e| e.to_string())?;
        Ok(job)
    }
}

impl GraphOp for Nap {
    const VERSION: u32 = 1;
    fn inputs(_: &NapArgs) -> Vec<PathBuf> {
        Vec::new()
    }
    fn outputs(args: &NapArgs) -> Vec<PathBuf> {
        vec![args.output.clone()]
    }
    fn redirect_outputs(args: &NapArgs, temps: &[PathBuf]) -> NapArgs {
        NapArgs {
            output: temps[0].clone(),
            ..args.clone()
        }
    }
}

pgp_exec::register_op!(Nap);
pgp_graph::register_graph_op!(Nap);

fn main() {
    pgp_exec::worker::run_if_worker();
    if !slurm_available() {
        std::process::exit(0);
    }
    runner::run(&[(
        "walltime_kills_mid_task_are_retried_or_fail_naming_the_job",
        walltime_kills_mid_task_are_retried_or_fail_naming_the_job,
    )]);
}

fn slurm_available() -> bool {
    let answer = std::process::Command::new("sinfo")
        .args(["--noheader", "--format=%a"])
        .output();
    let problem = match answer {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => return true,
        Ok(out) => format!(
            "sinfo failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("sinfo could not run: {e}"),
    };
    assert!(
        !std::env::var("PGP_REQUIRE_SLURM").is_ok_and(|v| v == "1"),
        "PGP_REQUIRE_SLURM=1 but no Slurm is reachable ({problem}); run scripts/start-slurm.sh"
    );
    eprintln!("skipping: no Slurm is reachable ({problem}); start one with scripts/start-slurm.sh");
    false
}

/// A job's state as Slurm reports it now.
fn job_state(job: u64) -> String {
    let out = std::process::Command::new("squeue")
        .args(["--noheader", "--states=all", "--format=%T"])
        .arg(format!("--jobs={job}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// What one graph on its own Slurm pool did with one `Nap` task.
struct Outcome {
    joined: Result<pgp_graph::RunReport, pgp_graph::RunError>,
    events: Vec<Event>,
    /// The Slurm jobs its attempts ran on, in order.
    attempts: Vec<u64>,
    output: PathBuf,
    args: NapArgs,
}

fn run_one(dir: &Path, spec: &str) -> Outcome {
    let ExecutorSpec::Slurm(spec) = spec.parse::<ExecutorSpec>().unwrap() else {
        panic!("{spec} is not a Slurm spec")
    };
    let pool = SlurmPool::builder(spec)
        .run_dir(dir.join("run"))
        .poll_interval(Duration::from_millis(500))
        .build()
        .unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let graph = Graph::builder(dir.join("ws"))
        .executor(Executor::from(pool))
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .open()
        .unwrap();
    let args = NapArgs {
        attempts: dir.join("attempts.txt"),
        output: dir.join("out.txt"),
        naps: 1,
    };
    graph.add_op::<Nap>(args.clone(), Task::new("nap")).unwrap();
    let joined = graph.join();
    drop(graph);
    let attempts = fs::read_to_string(&args.attempts)
        .unwrap_or_default()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let events = events.lock().unwrap().clone();
    Outcome {
        joined,
        events,
        attempts,
        output: args.output.clone(),
        args,
    }
}

/// Whether a new graph in `dir`'s workspace would run the task again (no record accepted).
fn would_run(dir: &Path, args: &NapArgs) -> bool {
    let graph = Graph::open(dir.join("ws"), Executor::sync()).unwrap();
    graph.add_op::<Nap>(args.clone(), Task::new("nap")).unwrap();
    let plan = graph.dry_run();
    matches!(plan[0].action, PlanAction::Run(_))
}

/// Two pools at once (so one walltime, at least a minute on Slurm, serves both cases): jobs of
/// one minute whose task sleeps past it. With `retries=1` the task runs again on a fresh job
/// and is recorded once, from that job; with `retries=0` it fails naming the job, its TIMEOUT
/// state and its log, and leaves neither an output nor a record.
fn walltime_kills_mid_task_are_retried_or_fail_naming_the_job() {
    let (retried, failed) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let started = Instant::now();
    let (a, b) = (retried.path().to_path_buf(), failed.path().to_path_buf());
    let retrying =
        std::thread::spawn(move || run_one(&a, "slurm:workers=1,cpus=1,mem=200M,time=1,retries=1"));
    let failing =
        std::thread::spawn(move || run_one(&b, "slurm:workers=1,cpus=1,mem=200M,time=1,retries=0"));
    let (retrying, failing) = (retrying.join().unwrap(), failing.join().unwrap());
    println!(
        "  two walltime kills and a retry took {:.1?}",
        started.elapsed()
    );

    // Retried: two attempts on two jobs, the first killed at its walltime; recorded from the
    // second, whose worker the events name.
    let report = retrying.joined.as_ref().expect("the retried task succeeds");
    assert_eq!(report.ran, ["nap"]);
    let [first, second] = retrying.attempts[..] else {
        panic!("attempts: {:?}", retrying.attempts)
    };
    assert_ne!(first, second);
    assert_eq!(job_state(first), "TIMEOUT");
    assert_eq!(
        fs::read_to_string(&retrying.output).unwrap(),
        format!("done on job {second}")
    );
    let ran_on: Vec<&WorkerId> = retrying
        .events
        .iter()
        .filter_map(|e| match e {
            Event::RanOn { worker, .. } => Some(worker),
            _ => None,
        })
        .collect();
    assert!(
        matches!(ran_on[..], [WorkerId::Slurm { job_id, .. }] if *job_id == second),
        "{ran_on:?}"
    );
    assert!(!would_run(retried.path(), &retrying.args));

    // Failed: one attempt, killed; the error says which job, how it ended and where its log is.
    let err = failing.joined.as_ref().expect_err("the task fails");
    let [job] = failing.attempts[..] else {
        panic!("attempts: {:?}", failing.attempts)
    };
    let message = err.failures[0].error.to_string();
    assert!(
        message.contains(&format!("Slurm job {job} ended with state TIMEOUT"))
            && message.contains("walltime")
            && message.contains(&format!("worker-{job}.log")),
        "{message}"
    );
    assert!(
        !failing.output.exists(),
        "a killed task left its output in place"
    );
    let leftovers: Vec<_> = fs::read_dir(failed.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".pgp-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(would_run(failed.path(), &failing.args));
}
