//! Workers that stop responding, and workers whose pool went away: real processes, real
//! signals.
//!
//! This binary is its own worker program (and, for the orphan check, its own pool program: run
//! with `PGP_EXEC_TEST_ROLE=abandon` it starts a pool, loses a worker and exits like `pgp calc`
//! does on a task error).

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::ops::*;
use common::runner::{self, Check};
use pgp_exec::{ExecError, ProcessPool, RemoteOp};

const ROLE_ENV: &str = "PGP_EXEC_TEST_ROLE";

fn main() {
    pgp_exec::worker::run_if_worker();
    if std::env::var(ROLE_ENV).as_deref() == Ok("abandon") {
        abandon_a_busy_pool();
    }
    let checks: &[Check] = &[
        (
            "a_stopped_worker_becomes_an_error_naming_it",
            a_stopped_worker_becomes_an_error_naming_it,
        ),
        (
            "long_tasks_outlive_the_liveness_deadline",
            long_tasks_outlive_the_liveness_deadline,
        ),
        (
            "only_the_real_error_reaches_the_user_when_the_pool_exits",
            only_the_real_error_reaches_the_user_when_the_pool_exits,
        ),
    ];
    runner::run(checks);
}

fn wait_for_pid_file(path: &Path) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text.trim().parse().expect("pid file holds a pid");
        }
        assert!(Instant::now() < deadline, "worker never started the task");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: `pid` is a live worker child of a pool this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, signal) }, 0);
}

fn process_exists(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

/// SIGSTOP a worker in the middle of a task: without a liveness check the waiter hangs forever.
fn a_stopped_worker_becomes_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let pool = ProcessPool::builder()
        .workers(2)
        .liveness_timeout(Some(Duration::from_millis(400)))
        .build()
        .unwrap();
    let pid_file = dir.path().join("victim.pid");
    let victim = pool
        .submit::<Napper>(NapArgs {
            pid_file: Some(pid_file.clone()),
            millis: 60_000,
        })
        .unwrap();
    let pid = wait_for_pid_file(&pid_file);
    let slot = pool
        .worker_pids()
        .iter()
        .position(|&p| p == pid)
        .expect("the victim is one of the pool's workers");
    signal(pid, libc::SIGSTOP);
    if !victim.wait_timeout(Duration::from_secs(60)) {
        signal(pid, libc::SIGKILL);
        panic!("a stopped worker stalled the task for 60 s");
    }
    match victim.wait() {
        Err(error @ ExecError::Unresponsive { .. }) => {
            let ExecError::Unresponsive {
                ref op,
                worker,
                pid: named,
                silence,
                ..
            } = error
            else {
                unreachable!()
            };
            assert_eq!(op, Napper::NAME);
            assert_eq!((worker, named), (slot, pid));
            assert_eq!(silence, Duration::from_millis(400));
            let text = error.to_string();
            assert!(text.contains(&format!("pid {pid}")), "{text}");
            assert!(text.contains("stopped responding"), "{text}");
            assert!(text.contains(pgp_exec::LIVENESS_ENV), "{text}");
        }
        other => panic!("expected Unresponsive, got {other:?}"),
    }
    // The stuck worker was killed (not left stopped) and replaced: the pool serves again.
    let deadline = Instant::now() + Duration::from_secs(20);
    while process_exists(pid) || pool.worker_pids().len() < 2 {
        assert!(Instant::now() < deadline, "stuck worker {pid} not replaced");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pool.submit::<Square>(12).unwrap().wait().unwrap(), 144);
}

/// A task running five times the deadline is alive (it beats), not stuck.
fn long_tasks_outlive_the_liveness_deadline() {
    let pool = ProcessPool::builder()
        .workers(1)
        .liveness_timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    let worker = pool.worker_pids()[0];
    let served_by = pool
        .submit::<Napper>(NapArgs {
            pid_file: None,
            millis: 1_000,
        })
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(served_by, worker);
}

/// The pool program of the orphan check: one worker is killed mid-task; like a command line
/// tool, the program reports that first error and exits while the other workers are still busy.
fn abandon_a_busy_pool() -> ! {
    let dir = std::path::PathBuf::from(std::env::var_os("PGP_EXEC_TEST_DIR").unwrap());
    let pool = ProcessPool::builder().workers(3).build().unwrap();
    let handles: Vec<_> = (0..3)
        .map(|i| {
            pool.submit::<Napper>(NapArgs {
                pid_file: Some(dir.join(format!("{i}.pid"))),
                millis: if i == 0 { 60_000 } else { 500 },
            })
            .unwrap()
        })
        .collect();
    let pids: Vec<u32> = (0..3)
        .map(|i| wait_for_pid_file(&dir.join(format!("{i}.pid"))))
        .collect();
    std::fs::write(
        dir.join("workers"),
        pids.iter().map(|p| format!("{p}\n")).collect::<String>(),
    )
    .unwrap();
    signal(pids[0], libc::SIGKILL);
    let mut handles = handles.into_iter();
    let first = handles.next().unwrap().wait().unwrap_err();
    eprintln!("error: {first}");
    std::process::exit(1);
}

/// After one worker dies and the program exits with that error, the other workers find the
/// pool gone when they reply: they must leave quietly, not print `Broken pipe` over the error.
fn only_the_real_error_reaches_the_user_when_the_pool_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .env(ROLE_ENV, "abandon")
        .env("PGP_EXEC_TEST_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The workers inherit the pipe: end of file means the program and every worker are gone.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    let pids: Vec<u32> = std::fs::read_to_string(dir.path().join("workers"))
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 3);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "expected only the real error, got:\n{stderr}"
    );
    assert!(
        lines[0].starts_with("error: worker process died") && lines[0].contains("SIGKILL"),
        "{stderr}"
    );
}
