//! Slurm executor tests on a real Slurm (`scripts/start-slurm.sh` starts a single-node one).
//!
//! Like the process-pool tests, this binary is its own worker program. Without a reachable
//! Slurm the checks are skipped with a message, unless `PGP_REQUIRE_SLURM=1` (set by `.ci/run`)
//! makes that a failure.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::ops::*;
use common::runner::{self, Check};
use pgp_exec::{
    wait_all, ExecError, Executor, ExecutorSpec, RemoteOp, SlurmPool, SlurmSpec, WorkerId,
};

fn main() {
    pgp_exec::worker::run_if_worker();
    if let Some(mode) = std::env::args()
        .nth(1)
        .filter(|a| a.starts_with("driver-child:"))
    {
        driver_child(&mode);
    }
    if !common::slurm::available() {
        std::process::exit(0);
    }
    let checks: &[Check] = &[
        ("results_come_back_exactly", results_come_back_exactly),
        (
            "task_errors_name_the_job_and_log",
            task_errors_name_the_job_and_log,
        ),
        (
            "a_cancelled_worker_job_is_survived",
            a_cancelled_worker_job_is_survived,
        ),
        (
            "a_task_whose_workers_keep_dying_fails_with_state_and_log",
            a_task_whose_workers_keep_dying_fails_with_state_and_log,
        ),
        (
            "unauthenticated_connections_are_refused",
            unauthenticated_connections_are_refused,
        ),
        (
            "a_refused_submission_is_a_clear_error",
            a_refused_submission_is_a_clear_error,
        ),
        ("shutdown_cancels_every_job", shutdown_cancels_every_job),
        (
            "a_worker_short_of_walltime_takes_no_task",
            a_worker_short_of_walltime_takes_no_task,
        ),
        (
            "a_task_walltime_picks_a_pilot_that_outlives_it",
            a_task_walltime_picks_a_pilot_that_outlives_it,
        ),
        ("sigint_cancels_every_job", sigint_cancels_every_job),
        (
            "workers_of_a_killed_driver_exit_by_themselves",
            workers_of_a_killed_driver_exit_by_themselves,
        ),
    ];
    runner::run(checks);
}

fn spec(text: &str) -> SlurmSpec {
    match text.parse::<ExecutorSpec>().unwrap() {
        ExecutorSpec::Slurm(spec) => spec,
        other => panic!("{other}"),
    }
}

fn pool(text: &str, dir: &Path) -> SlurmPool {
    SlurmPool::builder(spec(text))
        .run_dir(dir.join("run"))
        .poll_interval(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// States of the jobs named `name` that Slurm still lists.
fn states(name: &str) -> Vec<(u64, String)> {
    let out = Command::new("squeue")
        .args(["--noheader", "--states=all", "--format=%i|%T"])
        .arg(format!("--name={name}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (id, state) = l.trim().split_once('|')?;
            Some((id.parse().ok()?, state.to_string()))
        })
        .collect()
}

/// Waits until no job named `name` is pending or running; returns their final states.
fn wait_all_ended(name: &str, within: Duration) -> Vec<(u64, String)> {
    let deadline = Instant::now() + within;
    loop {
        let now = states(name);
        let live = now.iter().any(|(_, s)| {
            matches!(
                s.as_str(),
                "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING"
            )
        });
        if !live {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "jobs still alive after {within:?}: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The cluster's node names, as `sinfo` lists them.
fn slurm_nodes() -> Vec<String> {
    let out = Command::new("sinfo")
        .args(["--noheader", "--Node", "--format=%N"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

fn wait_for_file(path: &Path, within: Duration) -> String {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{} not written within {within:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn results_come_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let slurm = pool("slurm:workers=2,mem=200M,time=00:10:00", dir.path());
    assert!(
        slurm.allocations().is_empty(),
        "no job before the first task"
    );
    assert!(!dir.path().join("run").exists());
    let name = slurm.job_name().to_string();
    let exec = Executor::from(slurm.clone());
    assert!(!exec.runs_closures());
    assert_eq!(exec.workers(), 2);
    assert_eq!(
        exec.spec().to_string(),
        "slurm:workers=2,mem=200M,time=00:10:00"
    );
    let handles: Vec<_> = (0..300u64)
        .map(|x| exec.submit::<Square>(x * 1_000_003).unwrap())
        .collect();
    let expected: Vec<u64> = (0..300u64)
        .map(|x| (x * 1_000_003).wrapping_mul(x * 1_000_003))
        .collect();
    assert_eq!(wait_all(handles).unwrap(), expected);
    // Both jobs ran tasks, in processes other than this one; each handle names the job, node
    // and pilot that ran it (the pid the task itself saw).
    let ran: Vec<(u32, Option<WorkerId>)> = (0..200)
        .map(|_| exec.submit::<WhoAmI>(()).unwrap())
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| {
            let (pid, worker) = h.wait_with_worker();
            (pid.unwrap(), worker)
        })
        .collect();
    let allocations = slurm.allocations();
    assert_eq!(allocations.len(), 2, "{allocations:?}");
    assert!(allocations.iter().any(|a| a.connected), "{allocations:?}");
    let nodes = slurm_nodes();
    for (pid, worker) in &ran {
        let Some(WorkerId::Slurm {
            job_id,
            node,
            pid: pilot,
        }) = worker
        else {
            panic!("task on {worker:?}")
        };
        assert_eq!(pilot, pid);
        assert!(nodes.contains(node), "{node} not in {nodes:?}");
        let job = allocations.iter().find(|a| a.job_id == *job_id).unwrap();
        assert_eq!(job.node.as_ref(), Some(node));
    }
    // A pilot is sized to its job: 1 CPU, 200 MB, a quarter of it for GDAL's cache.
    assert_eq!(
        exec.submit::<Sizes>(()).unwrap().wait().unwrap(),
        (1, Some(200), Some("50".to_string()))
    );
    let mut who: Vec<u32> = ran.iter().map(|(pid, _)| *pid).collect();
    who.sort_unstable();
    who.dedup();
    assert!(!who.contains(&std::process::id()));
    assert!(!who.is_empty() && who.len() <= 2, "{who:?}");
    // The run's secret is private to the user.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(slurm.run_dir().join("secret"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "secret mode {mode:o}");
    // Dropping the pool ends every job and leaves no files behind.
    drop(exec);
    drop(slurm);
    let ended = wait_all_ended(&name, Duration::from_secs(20));
    assert_eq!(ended.len(), 2, "{ended:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while dir.path().join("run").exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !dir.path().join("run").exists(),
        "run directory left behind"
    );
}

fn task_errors_name_the_job_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let slurm = pool("slurm:workers=1,mem=200M", dir.path());
    let err = slurm
        .submit::<Fail>("disk full".into())
        .unwrap()
        .wait()
        .unwrap_err();
    let job = slurm.allocations()[0].clone();
    match &err {
        ExecError::TaskFailed { message } => {
            assert!(message.starts_with("disk full"), "{message}");
            assert!(
                message.contains(&format!("Slurm job {}", job.job_id)),
                "{message}"
            );
            assert!(
                message.contains(&job.log.display().to_string()),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    let err = slurm
        .submit::<Panic>("boom".into())
        .unwrap()
        .wait()
        .unwrap_err();
    assert!(
        matches!(&err, ExecError::Panicked { message } if message.starts_with("boom")),
        "{err}"
    );
    // The worker survives its tasks' failures.
    assert_eq!(slurm.submit::<Square>(9).unwrap().wait().unwrap(), 81);
    assert_eq!(slurm.allocations().len(), 1);
    // An operation the workers do not have is refused at submission.
    assert!(matches!(
        slurm.submit::<Unregistered>(()),
        Err(ExecError::UnknownOp { .. })
    ));
    // The job's log, which the errors point at, survives the pool.
    let name = slurm.job_name().to_string();
    drop(slurm);
    wait_all_ended(&name, Duration::from_secs(20));
    std::thread::sleep(Duration::from_millis(500));
    let log = std::fs::read_to_string(&job.log).unwrap();
    assert!(log.contains("connected to"), "{log}");
}

fn a_cancelled_worker_job_is_survived() {
    let dir = tempfile::tempdir().unwrap();
    let slurm = pool("slurm:workers=2,mem=200M", dir.path());
    // Both workers connected first, so the retry does not wait for a job to start.
    wait_all(vec![
        slurm.submit::<Square>(1).unwrap(),
        slurm.submit::<Square>(2).unwrap(),
    ])
    .unwrap();
    let pid_file = dir.path().join("napper.pid");
    let task = slurm
        .submit::<Napper>(NapArgs {
            pid_file: Some(pid_file.clone()),
            millis: 1500,
        })
        .unwrap();
    let first_pid: u32 = wait_for_file(&pid_file, Duration::from_secs(30))
        .parse()
        .unwrap();
    let busy = slurm
        .allocations()
        .into_iter()
        .find(|a| a.busy)
        .expect("one job runs the task");
    std::fs::remove_file(&pid_file).unwrap();
    let cancelled_at = Instant::now();
    assert!(Command::new("scancel")
        .arg(busy.job_id.to_string())
        .status()
        .unwrap()
        .success());
    let retry_pid: u32 = wait_for_file(&pid_file, Duration::from_secs(30))
        .parse()
        .unwrap();
    let restart = cancelled_at.elapsed();
    println!("  scancel of the busy worker to the retried task starting: {restart:.2?}");
    assert_ne!(retry_pid, first_pid);
    assert_eq!(task.wait().unwrap(), retry_pid);
    // The pool replaced the cancelled job.
    let deadline = Instant::now() + Duration::from_secs(10);
    while slurm.allocations().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let after = slurm.allocations();
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(
        !after
            .iter()
            .find(|a| a.job_id == busy.job_id)
            .unwrap()
            .connected
    );
}

fn a_task_whose_workers_keep_dying_fails_with_state_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let slurm = pool("slurm:workers=1,mem=200M,retries=1", dir.path());
    let err = slurm.submit::<Exit>(3).unwrap().wait().unwrap_err();
    // One try and one retry (a third job may already be on its way for later work).
    let jobs = slurm.allocations();
    assert!(jobs.len() >= 2, "{jobs:?}");
    let ExecError::WorkerDied { op, detail } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(op, Exit::NAME);
    let last = &jobs[1];
    assert!(
        detail.contains(&format!(
            "Slurm job {} ended with state FAILED",
            last.job_id
        )),
        "{detail}"
    );
    assert!(detail.contains(&last.log.display().to_string()), "{detail}");
    assert!(
        detail.contains(&format!("Slurm job {} was lost", jobs[0].job_id)),
        "{detail}"
    );
    assert!(detail.contains("gave up after 2 attempts"), "{detail}");
    assert!(last.log.exists());
    // A third job serves the next task.
    assert_eq!(slurm.submit::<Square>(5).unwrap().wait().unwrap(), 25);
}

fn unauthenticated_connections_are_refused() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let slurm = pool("slurm:workers=1,mem=200M", dir.path());
    assert_eq!(slurm.submit::<Square>(3).unwrap().wait().unwrap(), 9);
    let address = slurm.listen_address().unwrap();
    let job_id = slurm.allocations()[0].job_id;
    let attempt = |proof: Vec<u8>| -> Vec<u8> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", address.port())).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut greeting = [0u8; 40];
        stream.read_exact(&mut greeting).unwrap();
        assert_eq!(&greeting[..8], b"PGPSLRM1");
        let mut frame = (proof.len() as u32).to_le_bytes().to_vec();
        frame.extend_from_slice(&proof);
        stream.write_all(&frame).unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        rest
    };
    // A well-formed proof made with a wrong secret, claiming the real job.
    let forged =
        bincode::serialize(&(job_id, 1u32, "node1".to_string(), [7u8; 32], [0u8; 32])).unwrap();
    assert!(
        attempt(forged).is_empty(),
        "the driver answered a forged proof"
    );
    assert!(attempt(b"GET / HTTP/1.0\r\n".to_vec()).is_empty());
    assert_eq!(slurm.refused_connections(), 2);
    // The run's own worker still works.
    assert_eq!(slurm.submit::<Square>(4).unwrap().wait().unwrap(), 16);
}

fn a_refused_submission_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let slurm = pool("slurm:workers=1,partition=nosuchpartition", dir.path());
    let err = slurm.submit::<Square>(3).unwrap().wait().unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ExecError::Slurm { .. }), "{err:?}");
    assert!(
        text.contains("sbatch") && text.contains("--partition=nosuchpartition"),
        "{text}"
    );
    assert!(text.to_lowercase().contains("invalid partition"), "{text}");
    // Later tasks fail at once the same way, nothing hangs.
    let again = slurm.submit::<Square>(3).map(|h| h.wait());
    assert!(matches!(
        again,
        Err(ExecError::Slurm { .. }) | Ok(Err(ExecError::Slurm { .. }))
    ));
}

fn shutdown_cancels_every_job() {
    let dir = tempfile::tempdir().unwrap();
    let slurm = pool("slurm:workers=2,mem=200M", dir.path());
    let task = slurm
        .submit::<Napper>(NapArgs {
            pid_file: None,
            millis: 60_000,
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !slurm.allocations().iter().any(|a| a.busy) {
        assert!(Instant::now() < deadline, "{:?}", slurm.allocations());
        std::thread::sleep(Duration::from_millis(20));
    }
    let queued = slurm.submit::<Square>(1).unwrap();
    let _ = queued; // may run on the idle worker before the shutdown, or be cancelled
    slurm.shutdown();
    assert!(matches!(task.wait(), Err(ExecError::ShutDown)));
    let ended = wait_all_ended(slurm.job_name(), Duration::from_secs(15));
    assert!(
        ended
            .iter()
            .all(|(_, s)| s == "CANCELLED" || s == "COMPLETED"),
        "{ended:?}"
    );
    // The busy job ended well before its 60 s task could have (cancelled, or its pilot saw the
    // connection close first and exited).
    assert!(matches!(
        slurm.submit::<Square>(1),
        Err(ExecError::ShutDown)
    ));
}

fn a_worker_short_of_walltime_takes_no_task() {
    let dir = tempfile::tempdir().unwrap();
    // A one-minute job may take a task only while 58 s are left: the first task (2 s) uses up
    // that margin, so the second must go to a fresh job instead of one killed mid-task.
    let slurm = pool("slurm:workers=1,mem=200M,time=1,task_time=0:58", dir.path());
    let nap = NapArgs {
        pid_file: None,
        millis: 2000,
    };
    let first = slurm.submit::<Napper>(nap.clone()).unwrap().wait().unwrap();
    let second = slurm.submit::<Napper>(nap).unwrap().wait().unwrap();
    assert_ne!(first, second);
    let jobs = slurm.allocations();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
}

fn a_task_walltime_picks_a_pilot_that_outlives_it() {
    let dir = tempfile::tempdir().unwrap();
    // Two-minute jobs keep a 6 s margin: a fresh pilot can promise 114 s.
    let slurm = pool("slurm:workers=1,mem=200M,time=2", dir.path());
    let exec = Executor::from(slurm.clone());
    let minutes = |m: u64| Some(Duration::from_secs(60 * m));
    // More than any job of the pool has: refused at once, before any job is submitted.
    let err = exec
        .submit_raw_with_walltime(Vec::new(), WhoAmI::NAME, Vec::new(), minutes(3))
        .map(|_| ())
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ExecError::Slurm { .. }), "{err:?}");
    assert!(
        text.contains("00:03:00") && text.contains("time=00:02:00"),
        "{text}"
    );
    assert!(slurm.allocations().is_empty());
    let job_of = |need: Option<Duration>| {
        let handle = exec
            .submit_raw_with_walltime(Vec::new(), WhoAmI::NAME, Vec::new(), need)
            .unwrap();
        match handle.wait_with_worker() {
            (Ok(_), Some(WorkerId::Slurm { job_id, .. })) => job_id,
            other => panic!("{other:?}"),
        }
    };
    let old = job_of(None);
    // Once the first pilot has run 5 s it can promise less than 110 s: a task needing 110 s
    // goes to a fresh job, and the old one, idle and too short, makes room for it.
    std::thread::sleep(Duration::from_secs(5));
    let fresh = job_of(Some(Duration::from_secs(110)));
    assert_ne!(old, fresh);
    let jobs = slurm.allocations();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert!(!jobs[0].connected, "{jobs:?}");
    // A task with no stated need runs on whatever pilot is up.
    assert_eq!(job_of(None), fresh);
}

/// Run as a child: starts a pool, a long task, writes the job name, then waits to be signalled.
fn driver_child(mode: &str) -> ! {
    let dir = PathBuf::from(mode.trim_start_matches("driver-child:"));
    // A test run started in the background by a non-interactive shell inherits SIGINT ignored,
    // and pgp rightly leaves an ignored signal alone; this driver stands for a program run
    // from a terminal, where Ctrl-C arrives with its default action.
    // SAFETY: sets this process's own SIGINT disposition before any thread of pgp's starts.
    unsafe { libc::signal(libc::SIGINT, libc::SIG_DFL) };
    let slurm = SlurmPool::builder(spec("slurm:workers=2,mem=200M"))
        .run_dir(dir.join("run"))
        .build()
        .unwrap();
    let task = slurm
        .submit::<Napper>(NapArgs {
            pid_file: Some(dir.join("started")),
            millis: 600_000,
        })
        .unwrap();
    std::fs::write(dir.join("name.partial"), slurm.job_name()).unwrap();
    std::fs::rename(dir.join("name.partial"), dir.join("name")).unwrap();
    let _ = task.wait();
    std::process::exit(0)
}

fn start_child(dir: &Path) -> (std::process::Child, String) {
    let child = Command::new(std::env::current_exe().unwrap())
        .arg(format!("driver-child:{}", dir.display()))
        .spawn()
        .unwrap();
    let name = wait_for_file(&dir.join("name"), Duration::from_secs(10));
    wait_for_file(&dir.join("started"), Duration::from_secs(30));
    (child, name)
}

fn sigint_cancels_every_job() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, name) = start_child(dir.path());
    assert_eq!(states(&name).len(), 2);
    // SAFETY: signals the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    // Cancelled before the child ended, not left to find out later.
    let now = states(&name);
    assert!(
        now.iter()
            .all(|(_, s)| s == "CANCELLED" || s == "COMPLETING"),
        "{now:?}"
    );
    wait_all_ended(&name, Duration::from_secs(15));
    assert!(!dir.path().join("run").join("secret").exists());
}

fn workers_of_a_killed_driver_exit_by_themselves() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, name) = start_child(dir.path());
    child.kill().unwrap(); // SIGKILL: no chance to cancel anything
    child.wait().unwrap();
    let killed = Instant::now();
    let ended = wait_all_ended(&name, Duration::from_secs(60));
    println!(
        "  workers of a SIGKILLed driver gone after {:.2?}",
        killed.elapsed()
    );
    assert_eq!(ended.len(), 2, "{ended:?}");
}
