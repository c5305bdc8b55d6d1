//! Process-pool tests with real worker processes.
//!
//! This binary is its own worker program: `main()` calls `run_if_worker()` first, so the pool's
//! workers (copies of this binary) serve requests instead of running the checks.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::ops::*;
use common::runner::{self, Check};
use pgp_exec::{wait_all, ExecError, Executor, ProcessPool, RemoteOp, WorkerId};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn main() {
    pgp_exec::worker::run_if_worker();
    let checks: &[Check] = &[
        ("results_come_back_exactly", results_come_back_exactly),
        (
            "task_errors_and_panics_reach_the_waiter",
            task_errors_and_panics_reach_the_waiter,
        ),
        (
            "worker_killed_mid_task_is_reported_and_replaced",
            worker_killed_mid_task_is_reported_and_replaced,
        ),
        (
            "aborting_and_exiting_workers_are_reported",
            aborting_and_exiting_workers_are_reported,
        ),
        (
            "closures_are_refused_with_advice",
            closures_are_refused_with_advice,
        ),
        (
            "unregistered_ops_are_refused_at_submit",
            unregistered_ops_are_refused_at_submit,
        ),
        (
            "printing_ops_and_large_frames_keep_the_protocol_intact",
            printing_ops_and_large_frames_keep_the_protocol_intact,
        ),
        (
            "programs_without_handshake_fail_with_advice",
            programs_without_handshake_fail_with_advice,
        ),
        (
            "pending_and_running_tasks_can_be_cancelled",
            pending_and_running_tasks_can_be_cancelled,
        ),
        (
            "task_timeout_kills_and_replaces_the_worker",
            task_timeout_kills_and_replaces_the_worker,
        ),
        (
            "submission_blocks_at_the_in_flight_limit",
            submission_blocks_at_the_in_flight_limit,
        ),
        (
            "map_ordered_op_yields_in_input_order",
            map_ordered_op_yields_in_input_order,
        ),
        (
            "random_task_graphs_match_the_sync_executor",
            random_task_graphs_match_the_sync_executor,
        ),
        (
            "dropping_the_pool_ends_its_workers",
            dropping_the_pool_ends_its_workers,
        ),
        (
            "a_worker_that_cannot_be_replaced_fails_tasks_instead_of_hanging",
            a_worker_that_cannot_be_replaced_fails_tasks_instead_of_hanging,
        ),
        (
            "a_forgotten_run_if_worker_is_detected",
            a_forgotten_run_if_worker_is_detected,
        ),
    ];
    runner::run(checks);
}

fn pool(workers: usize) -> ProcessPool {
    ProcessPool::builder()
        .workers(workers)
        .build()
        .expect("process pool starts")
}

fn results_come_back_exactly() {
    let exec = Executor::processes(2).unwrap();
    assert!(!exec.runs_closures());
    assert_eq!(exec.spec().to_string(), "multiprocessing:2");
    assert_eq!(exec.workers(), 2);
    let handles: Vec<_> = (0..50u64)
        .map(|x| exec.submit::<Square>(x * 1_000_003).unwrap())
        .collect();
    let expected: Vec<u64> = (0..50u64)
        .map(|x| (x * 1_000_003).wrapping_mul(x * 1_000_003))
        .collect();
    assert_eq!(wait_all(handles).unwrap(), expected);

    // The work really ran in other processes, both of them eventually.
    let pool = exec.process_pool().unwrap();
    let pids = pool.worker_pids();
    assert_eq!(pids.len(), 2);
    assert!(!pids.contains(&std::process::id()));
    let who: Vec<u32> = (0..20)
        .map(|_| exec.submit::<WhoAmI>(()).unwrap().wait().unwrap())
        .collect();
    assert!(
        who.iter().all(|pid| pids.contains(pid)),
        "{who:?} not in {pids:?}"
    );
    // Each handle names the worker that ran its task: the pid the task saw.
    for _ in 0..10 {
        let (pid, worker) = exec.submit::<WhoAmI>(()).unwrap().wait_with_worker();
        let pid = pid.unwrap();
        let Some(WorkerId::Process { index, pid: named }) = worker else {
            panic!("{worker:?}")
        };
        assert_eq!((named, pids[index]), (pid, pid));
    }

    // The raw interface carries bincode both ways.
    let raw = exec
        .submit_raw(Square::NAME, bincode::serialize(&12u64).unwrap())
        .unwrap();
    assert_eq!(
        bincode::deserialize::<u64>(&raw.wait().unwrap()).unwrap(),
        144
    );
    let names = pool.registered_ops();
    assert!(
        names.iter().any(|n| n == Square::NAME) && !names.iter().any(|n| n == Unregistered::NAME)
    );
}

fn task_errors_and_panics_reach_the_waiter() {
    let pool = ProcessPool::builder()
        .workers(1)
        .quiet_stderr(true)
        .build()
        .unwrap();
    match pool
        .submit::<Fail>("disk full at /tmp/x.tif".into())
        .unwrap()
        .wait()
    {
        Err(ExecError::TaskFailed { message }) => assert_eq!(message, "disk full at /tmp/x.tif"),
        other => panic!("expected TaskFailed, got {other:?}"),
    }
    let pid_before = pool.worker_pids();
    match pool
        .submit::<Panic>("raster band 3 missing".into())
        .unwrap()
        .wait()
    {
        Err(ExecError::Panicked { message }) => assert_eq!(message, "raster band 3 missing"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    // A caught panic does not cost the worker its life.
    assert_eq!(pool.worker_pids(), pid_before);
    assert_eq!(pool.submit::<Square>(9).unwrap().wait().unwrap(), 81);
    // Bytes that are not the op's arguments are a codec error, not a crash.
    match pool.submit_raw(NapArgsOp::NAME, vec![1, 2]).unwrap().wait() {
        Err(ExecError::Codec(detail)) => assert!(detail.contains(NapArgsOp::NAME), "{detail}"),
        other => panic!("expected Codec, got {other:?}"),
    }
}

/// Alias to name the napper op in raw submissions.
type NapArgsOp = Napper;

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

/// Waits (boundedly) until the pool has `count` live workers, and returns their pids.
fn wait_for_workers(pool: &ProcessPool, count: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pids = pool.worker_pids();
        if pids.len() == count {
            return pids;
        }
        assert!(Instant::now() < deadline, "pool stuck at workers {pids:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn worker_killed_mid_task_is_reported_and_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::processes(2).unwrap();
    let pool = exec.process_pool().unwrap().clone();
    let pid_file = dir.path().join("victim.pid");
    let victim = exec
        .submit::<Napper>(NapArgs {
            pid_file: Some(pid_file.clone()),
            millis: 60_000,
        })
        .unwrap();
    // Other work queued behind it must not be lost or hang.
    let bystanders: Vec<_> = (0..6u64)
        .map(|x| exec.submit::<Square>(x).unwrap())
        .collect();
    let pid = wait_for_pid_file(&pid_file);
    assert!(pool.worker_pids().contains(&pid));
    // SAFETY: `pid` is a live child of this process (its driver has not reaped it).
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    match victim.wait() {
        Err(ExecError::WorkerDied { op, detail }) => {
            assert_eq!(op, Napper::NAME);
            assert!(detail.contains("SIGKILL"), "{detail}");
        }
        other => panic!("expected WorkerDied, got {other:?}"),
    }
    assert_eq!(wait_all(bystanders).unwrap(), vec![0, 1, 4, 9, 16, 25]);
    // The dead worker is replaced: two workers again, the victim not among them, and both
    // slots serve work.
    let pids = wait_for_workers(&pool, 2);
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(!pids.contains(&pid));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            exec.submit::<Napper>(NapArgs {
                pid_file: None,
                millis: 50,
            })
            .unwrap()
        })
        .collect();
    let served = wait_all(handles).unwrap();
    assert!(
        served.iter().all(|p| pids.contains(p)),
        "{served:?} vs {pids:?}"
    );
}

fn aborting_and_exiting_workers_are_reported() {
    let pool = ProcessPool::builder()
        .workers(1)
        .quiet_stderr(true)
        .build()
        .unwrap();
    match pool.submit::<Abort>(()).unwrap().wait() {
        Err(ExecError::WorkerDied { op, detail }) => {
            assert_eq!(op, Abort::NAME);
            assert!(detail.contains("SIGABRT"), "{detail}");
        }
        other => panic!("expected WorkerDied, got {other:?}"),
    }
    match pool.submit::<Exit>(3).unwrap().wait() {
        Err(ExecError::WorkerDied { detail, .. }) => {
            assert!(detail.contains("status 3"), "{detail}")
        }
        other => panic!("expected WorkerDied, got {other:?}"),
    }
    assert_eq!(pool.submit::<Square>(11).unwrap().wait().unwrap(), 121);
}

fn closures_are_refused_with_advice() {
    let exec = Executor::processes(1).unwrap();
    match exec.spawn(|| 1 + 1) {
        Err(ExecError::NotSendable { reason }) => {
            assert!(reason.contains("register_op!"), "{reason}");
            assert!(reason.contains("RemoteOp"), "{reason}");
        }
        other => panic!("expected NotSendable, got {other:?}"),
    }
    assert!(matches!(
        exec.spawn_after([], || 1),
        Err(ExecError::NotSendable { .. })
    ));
    let results: Vec<_> = exec.map_ordered(0..100, |x: i32| x).collect();
    assert_eq!(results.len(), 1);
    assert!(matches!(results[0], Err(ExecError::NotSendable { .. })));
    let mut group = exec.group();
    assert!(matches!(
        group.spawn(|| ()),
        Err(ExecError::NotSendable { .. })
    ));
    assert_eq!(group.submit::<Square>(5).unwrap().wait().unwrap(), 25);
    group.join();
}

fn unregistered_ops_are_refused_at_submit() {
    let pool = pool(1);
    match pool.submit::<Unregistered>(()) {
        Err(error @ ExecError::UnknownOp { .. }) => {
            let text = error.to_string();
            assert!(
                text.contains(Unregistered::NAME) && text.contains("register_op!"),
                "{text}"
            );
        }
        other => panic!("expected UnknownOp, got {other:?}"),
    }
    assert!(matches!(
        pool.submit_raw("no::such::op", vec![]),
        Err(ExecError::UnknownOp { .. })
    ));
    // Thread and sync executors run an unregistered typed op directly, but not by name.
    let threads = Executor::threads(1).unwrap();
    threads.submit::<Unregistered>(()).unwrap().wait().unwrap();
    assert!(matches!(
        threads.submit_raw(Unregistered::NAME, vec![]),
        Err(ExecError::UnknownOp { .. })
    ));
}

fn printing_ops_and_large_frames_keep_the_protocol_intact() {
    let pool = ProcessPool::builder()
        .workers(1)
        .quiet_stderr(true)
        .build()
        .unwrap();
    // Larger than a pipe buffer in both directions.
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for _ in 0..3 {
        let echoed = pool
            .submit::<Chatty>(payload.clone())
            .unwrap()
            .wait()
            .unwrap();
        assert_eq!(echoed, payload);
    }
    assert_eq!(pool.submit::<Square>(3).unwrap().wait().unwrap(), 9);
}

fn expect_start_error(builder: pgp_exec::ProcessPoolBuilder, wanted: &str) {
    match builder.build() {
        Err(ExecError::WorkerStart { program, detail }) => {
            assert!(!program.is_empty());
            assert!(detail.contains(wanted), "{detail}");
            assert!(detail.contains("run_if_worker"), "{detail}");
        }
        other => panic!("expected WorkerStart, got {other:?}"),
    }
}

fn programs_without_handshake_fail_with_advice() {
    let base = || {
        ProcessPool::builder()
            .workers(1)
            .handshake_timeout(Duration::from_millis(300))
    };
    expect_start_error(base().worker_program("true"), "exited or closed its output");
    expect_start_error(
        base().worker_program("echo").worker_args(["not a worker"]),
        "instead of the pgp-exec handshake",
    );
    expect_start_error(
        base().worker_program("sleep").worker_args(["30"]),
        "no handshake within",
    );
    match base().worker_program("/nonexistent/pgp-worker").build() {
        Err(ExecError::WorkerStart { program, .. }) => {
            assert_eq!(program, "/nonexistent/pgp-worker")
        }
        other => panic!("expected WorkerStart, got {other:?}"),
    }
    assert!(matches!(
        ProcessPool::builder().workers(0).build(),
        Err(ExecError::InvalidWorkerCount { requested: 0, .. })
    ));
}

fn pending_and_running_tasks_can_be_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let pool = pool(1);
    let pid_file = dir.path().join("running.pid");
    let running = pool
        .submit::<Napper>(NapArgs {
            pid_file: Some(pid_file.clone()),
            millis: 60_000,
        })
        .unwrap();
    let pending: Vec<_> = (0..5u64)
        .map(|x| pool.submit::<Square>(x).unwrap())
        .collect();
    let pid = wait_for_pid_file(&pid_file);
    assert!(
        pending.iter().all(|h| h.cancel()),
        "queued tasks must be cancellable"
    );
    for handle in pending {
        assert!(matches!(handle.wait(), Err(ExecError::Cancelled)));
    }
    // A running task is stopped by killing its worker; it reports Cancelled, not WorkerDied.
    assert!(!running.cancel());
    assert!(matches!(running.wait(), Err(ExecError::Cancelled)));
    assert!(!pool.worker_pids().contains(&pid));
    assert_eq!(pool.submit::<Square>(12).unwrap().wait().unwrap(), 144);
}

fn task_timeout_kills_and_replaces_the_worker() {
    let pool = ProcessPool::builder()
        .workers(1)
        .task_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let before = pool.worker_pids();
    match pool
        .submit::<Napper>(NapArgs {
            pid_file: None,
            millis: 60_000,
        })
        .unwrap()
        .wait()
    {
        Err(ExecError::TimedOut { op, timeout }) => {
            assert_eq!(op, Napper::NAME);
            assert_eq!(timeout, Duration::from_millis(200));
        }
        other => panic!("expected TimedOut, got {other:?}"),
    }
    let after = wait_for_workers(&pool, 1);
    assert_ne!(after, before);
    let served_by = pool
        .submit::<Napper>(NapArgs {
            pid_file: None,
            millis: 1,
        })
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(served_by, after[0]);
}

fn submission_blocks_at_the_in_flight_limit() {
    let pool = ProcessPool::builder()
        .workers(1)
        .max_in_flight(3)
        .build()
        .unwrap();
    assert_eq!(pool.max_in_flight(), 3);
    let mut handles = Vec::new();
    for _ in 0..12 {
        handles.push(
            pool.submit::<Napper>(NapArgs {
                pid_file: None,
                millis: 5,
            })
            .unwrap(),
        );
        // Submission waited for room, so no more than the limit is ever outstanding.
        assert!(pool.in_flight() <= 3, "in flight: {}", pool.in_flight());
    }
    assert_eq!(wait_all(handles).unwrap().len(), 12);
    wait_until_idle(&pool);
}

/// Waits (boundedly) until the pool has no task in flight: permits are released just after
/// results are delivered, and cancelled tasks when a worker skips them.
fn wait_until_idle(pool: &ProcessPool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while pool.in_flight() != 0 {
        assert!(
            Instant::now() < deadline,
            "{} tasks still in flight",
            pool.in_flight()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn map_ordered_op_yields_in_input_order() {
    let exec = Executor::processes(2).unwrap();
    let results: Vec<u64> = exec
        .map_ordered_op::<Square>(0..40u64)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(results, (0..40u64).map(|x| x * x).collect::<Vec<_>>());
    // Dropping the stream early cancels the rest and leaves the pool usable.
    let mut stream = exec.map_ordered_op::<Napper>((0..100).map(|_| NapArgs {
        pid_file: None,
        millis: 20,
    }));
    assert!(stream.next().unwrap().is_ok());
    assert!(
        stream.in_flight() <= 4,
        "window is 2 x workers, got {}",
        stream.in_flight()
    );
    drop(stream);
    wait_until_idle(exec.process_pool().unwrap());
    assert_eq!(exec.submit::<Square>(4).unwrap().wait().unwrap(), 16);
}

/// A random task graph: node i has a seed and depends on some earlier nodes.
fn graph_strategy() -> impl Strategy<Value = Vec<(u64, Vec<usize>)>> {
    (1usize..18).prop_flat_map(|n| {
        (0..n)
            .map(|i| {
                (
                    any::<u64>(),
                    proptest::collection::vec(0..i.max(1), 0..=3.min(i)),
                )
            })
            .collect::<Vec<_>>()
    })
}

fn run_graph(exec: &Executor, dir: &Path, graph: &[(u64, Vec<usize>)]) -> Vec<u64> {
    let mut handles: Vec<pgp_exec::Handle<u64>> = Vec::with_capacity(graph.len());
    for (index, (seed, deps)) in graph.iter().enumerate() {
        let signals: Vec<_> = deps
            .iter()
            .map(|&d| handles[d].signal())
            .collect::<Vec<_>>();
        let args = NodeArgs {
            dir: dir.to_path_buf(),
            index,
            seed: *seed,
            deps: deps.clone(),
        };
        handles.push(exec.submit_after::<GraphNode>(signals, args).unwrap());
    }
    wait_all(handles).unwrap()
}

fn random_task_graphs_match_the_sync_executor() {
    let sync = Executor::sync();
    let procs = Executor::processes(2).unwrap();
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&graph_strategy(), |graph| {
            let model: Vec<u64> =
                graph
                    .iter()
                    .enumerate()
                    .fold(Vec::new(), |mut done, (_, (seed, deps))| {
                        let values: Vec<u64> = deps.iter().map(|&d| done[d]).collect();
                        done.push(combine(*seed, &values));
                        done
                    });
            let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let by_sync = run_graph(&sync, a.path(), &graph);
            let by_procs = run_graph(&procs, b.path(), &graph);
            prop_assert_eq!(&by_sync, &model);
            prop_assert_eq!(&by_procs, &model);
            Ok(())
        })
        .unwrap();
}

fn process_exists(pid: u32) -> bool {
    // SAFETY: signal 0 only checks for existence; a reaped pid gives ESRCH.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

fn dropping_the_pool_ends_its_workers() {
    let exec = Executor::processes(2).unwrap();
    let pids = exec.process_pool().unwrap().worker_pids();
    assert_eq!(exec.submit::<Square>(2).unwrap().wait().unwrap(), 4);
    let clone = exec.clone();
    drop(exec);
    assert!(
        pids.iter().all(|&p| process_exists(p)),
        "a clone keeps the pool alive"
    );
    drop(clone);
    let deadline = Instant::now() + Duration::from_secs(20);
    while pids.iter().any(|&p| process_exists(p)) {
        assert!(
            Instant::now() < deadline,
            "workers {pids:?} still alive after the pool was dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn a_forgotten_run_if_worker_is_detected() {
    // Pretend this process was started as a worker that skipped run_if_worker(): creating a
    // pool must refuse instead of starting workers recursively.
    std::env::set_var("PGP_EXEC_WORKER", "pgp-exec-protocol-2");
    let result = ProcessPool::new(1);
    std::env::remove_var("PGP_EXEC_WORKER");
    match result {
        Err(error @ ExecError::NotInWorkerMode { .. }) => {
            assert!(error.to_string().contains("run_if_worker"), "{error}")
        }
        other => panic!("expected NotInWorkerMode, got {other:?}"),
    }
    assert_eq!(pool(1).submit::<Square>(6).unwrap().wait().unwrap(), 36);
}

fn a_worker_that_cannot_be_replaced_fails_tasks_instead_of_hanging() {
    // Run workers from a copy of this binary, then delete the copy: the running worker keeps
    // working, but once it dies no replacement can start.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("worker-copy");
    std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
    let pool = ProcessPool::builder()
        .workers(1)
        .worker_program(&copy)
        .quiet_stderr(true)
        .build()
        .unwrap();
    assert_eq!(pool.submit::<Square>(8).unwrap().wait().unwrap(), 64);
    std::fs::remove_file(&copy).unwrap();
    assert!(matches!(
        pool.submit::<Abort>(()).unwrap().wait(),
        Err(ExecError::WorkerDied { .. })
    ));
    match pool.submit::<Square>(8).unwrap().wait() {
        Err(ExecError::WorkerDied { op, detail }) => {
            assert_eq!(op, Square::NAME);
            assert!(detail.contains("could not be started"), "{detail}");
            assert!(detail.contains("worker-copy"), "{detail}");
        }
        other => panic!("expected WorkerDied, got {other:?}"),
    }
    assert!(pool.worker_pids().is_empty());
}
