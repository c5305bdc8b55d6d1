//! Behaviour of the synchronous executor and the thread pool through the public API.
//! (Process pools need a custom `main`; they are tested in `process_pool.rs`.)

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::ops::{combine, node_path, GraphNode, NodeArgs, Square};
use crossbeam_channel::bounded;
use pgp_exec::{
    as_completed, wait_all, ExecError, Executor, ExecutorSpec, Handle, RemoteOp, ThreadPool,
};
use proptest::prelude::*;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn executors_and_signals_can_be_shared_across_threads() {
    assert_send_sync::<Executor>();
    assert_send_sync::<pgp_exec::Signal>();
    fn assert_send<T: Send>() {}
    assert_send::<Handle<Vec<u8>>>();
}

#[test]
fn executors_build_from_spec_strings_and_report_them() {
    let exec: Executor = "Threading:3".parse().unwrap();
    assert_eq!(exec.workers(), 3);
    assert_eq!(exec.spec().to_string(), "threading:3");
    assert!(exec.runs_closures());
    let sync: Executor = "none".parse().unwrap();
    assert!(sync.is_sync());
    assert_eq!(sync.spec(), ExecutorSpec::Sync);
    let cores: Executor = "threading".parse().unwrap();
    assert_eq!(cores.workers(), pgp_exec::available_cores());
    assert_eq!(cores.spec().to_string(), "threading");
    match "threading:0".parse::<Executor>() {
        Err(ExecError::InvalidSpec { input, .. }) => assert_eq!(input, "threading:0"),
        other => panic!("expected InvalidSpec, got {other:?}"),
    }
    assert!(matches!(
        Executor::threads(0),
        Err(ExecError::InvalidWorkerCount { requested: 0, .. })
    ));
}

#[test]
fn a_panic_becomes_an_error_and_the_worker_survives() {
    let exec = Executor::threads(1).unwrap();
    let before = exec
        .spawn(|| std::thread::current().id())
        .unwrap()
        .wait()
        .unwrap();
    let failed = exec
        .spawn(|| -> u32 { panic!("block 17 is corrupt") })
        .unwrap();
    match failed.wait() {
        Err(ExecError::Panicked { message }) => assert_eq!(message, "block 17 is corrupt"),
        other => panic!("expected Panicked, got {other:?}"),
    }
    let after = exec
        .spawn(|| std::thread::current().id())
        .unwrap()
        .wait()
        .unwrap();
    assert_eq!(
        before, after,
        "the single worker thread must survive the panic"
    );
    // Same on the synchronous executor.
    assert!(matches!(
        Executor::sync().spawn(|| panic!("x")).unwrap().wait(),
        Err(ExecError::Panicked { .. })
    ));
}

#[test]
fn registered_ops_run_on_every_in_process_executor() {
    for exec in [Executor::sync(), Executor::threads(2).unwrap()] {
        assert_eq!(exec.submit::<Square>(12).unwrap().wait().unwrap(), 144);
        let raw = exec
            .submit_raw(Square::NAME, bincode::serialize(&5u64).unwrap())
            .unwrap();
        assert_eq!(
            bincode::deserialize::<u64>(&raw.wait().unwrap()).unwrap(),
            25
        );
        match exec
            .submit::<common::ops::Fail>("no space left".into())
            .unwrap()
            .wait()
        {
            Err(ExecError::TaskFailed { message }) => assert_eq!(message, "no space left"),
            other => panic!("expected TaskFailed, got {other:?}"),
        }
        assert!(matches!(
            exec.submit_raw("missing::op", vec![]),
            Err(ExecError::UnknownOp { .. })
        ));
    }
}

#[test]
fn pending_tasks_can_be_cancelled_and_never_run() {
    let exec = Executor::threads(1).unwrap();
    let (release, gate) = bounded::<()>(0);
    let (started_tx, started) = bounded::<()>(1);
    let blocker = exec
        .spawn(move || {
            started_tx.send(()).unwrap();
            gate.recv().is_ok()
        })
        .unwrap();
    started.recv().unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let queued: Vec<_> = (0..5)
        .map(|_| {
            let ran = ran.clone();
            exec.spawn(move || ran.fetch_add(1, Ordering::SeqCst))
                .unwrap()
        })
        .collect();
    assert!(queued.iter().all(|h| h.cancel()));
    assert!(!blocker.cancel(), "a running closure cannot be cancelled");
    release.send(()).unwrap();
    assert!(blocker.wait().unwrap());
    for handle in queued {
        assert!(matches!(handle.wait(), Err(ExecError::Cancelled)));
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    assert_eq!(
        exec.spawn(|| 5).unwrap().wait().unwrap(),
        5,
        "the pool is still usable"
    );
}

#[test]
fn as_completed_yields_in_completion_order() {
    let exec = Executor::threads(2).unwrap();
    let (release, gate) = bounded::<()>(0);
    let slow = exec
        .spawn(move || gate.recv().map(|_| "slow").unwrap_or("closed"))
        .unwrap();
    let fast = exec.spawn(|| "fast").unwrap();
    let mut order = as_completed(vec![slow, fast]);
    assert_eq!(
        order.next().map(|(i, r)| (i, r.unwrap())),
        Some((1, "fast"))
    );
    release.send(()).unwrap();
    assert_eq!(
        order.next().map(|(i, r)| (i, r.unwrap())),
        Some((0, "slow"))
    );
    assert!(order.next().is_none());
}

#[test]
fn dependents_run_after_their_dependencies_even_if_they_failed() {
    let exec = Executor::threads(2).unwrap();
    let (release, gate) = bounded::<()>(0);
    let first = exec
        .spawn(move || gate.recv().map(|_| 10).unwrap_or(0))
        .unwrap();
    let failing = exec
        .spawn(|| -> u32 { panic!("dependency failed") })
        .unwrap();
    let signals = [first.signal(), failing.signal()];
    let seen = exec
        .spawn_after(signals.clone(), move || {
            let failing = failing.wait().map_err(|e| e.to_string());
            (first.wait().unwrap(), failing)
        })
        .unwrap();
    assert!(!seen.is_done());
    release.send(()).unwrap();
    let (value, failure) = seen.wait().unwrap();
    assert_eq!(value, 10);
    assert_eq!(failure.unwrap_err(), "task panicked: dependency failed");
    assert_eq!(signals[0].failed(), Some(false));
    assert_eq!(signals[1].failed(), Some(true));
}

#[test]
fn a_pool_worker_submitting_to_its_own_full_pool_does_not_deadlock() {
    let pool = ThreadPool::builder()
        .workers(1)
        .max_in_flight(1)
        .build()
        .unwrap();
    let exec = Executor::from(pool);
    let inner_exec = exec.clone();
    // The outer task holds the only slot; its own submission must not wait for room.
    let outer = exec.spawn(move || inner_exec.spawn(|| 7).unwrap()).unwrap();
    let inner = outer.wait().unwrap();
    assert_eq!(inner.wait().unwrap(), 7);
}

#[test]
fn submitting_beyond_the_limit_blocks_until_room_frees() {
    let pool = ThreadPool::builder()
        .workers(2)
        .max_in_flight(4)
        .build()
        .unwrap();
    assert_eq!(pool.max_in_flight(), 4);
    let exec = Executor::from(pool.clone());
    let mut handles = Vec::new();
    for i in 0..40u64 {
        handles.push(exec.spawn(move || {
            std::thread::sleep(Duration::from_millis(1));
            i
        }));
        assert!(pool.in_flight() <= 4, "in flight: {}", pool.in_flight());
    }
    let values = wait_all(handles.into_iter().map(Result::unwrap).collect()).unwrap();
    assert_eq!(values, (0..40).collect::<Vec<_>>());
}

#[test]
fn map_ordered_keeps_input_order_and_a_bounded_window() {
    let exec = Executor::threads(2).unwrap();
    let live = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (l, p) = (live.clone(), peak.clone());
    let results: Vec<u64> = exec
        .map_ordered(0..200u64, move |x| {
            let now = l.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            // Later items finish sooner, so completion order differs from input order.
            std::thread::sleep(Duration::from_micros(200 - x));
            l.fetch_sub(1, Ordering::SeqCst);
            x * 3
        })
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(results, (0..200u64).map(|x| x * 3).collect::<Vec<_>>());
    assert!(
        peak.load(Ordering::SeqCst) <= 2,
        "two workers run at most two items at once"
    );

    // Sync computes lazily, one item per `next`.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mut lazy = Executor::sync().map_ordered(0..10, move |x: i32| {
        c.fetch_add(1, Ordering::SeqCst);
        x
    });
    assert_eq!(lazy.next().unwrap().unwrap(), 0);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn dropping_map_ordered_early_cancels_the_rest_and_joins() {
    let exec = Executor::threads(2).unwrap();
    let started = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicUsize::new(0));
    let (s, f) = (started.clone(), finished.clone());
    let mut stream = exec.map_ordered(0..1000, move |x: u32| {
        s.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(2));
        f.fetch_add(1, Ordering::SeqCst);
        x
    });
    assert_eq!(stream.next().unwrap().unwrap(), 0);
    // Four items per worker ahead of the consumer, at most.
    assert!(stream.in_flight() <= 8);
    drop(stream);
    // Joined: whatever started has finished, and far fewer than 1000 items ever started.
    assert_eq!(
        started.load(Ordering::SeqCst),
        finished.load(Ordering::SeqCst)
    );
    assert!(started.load(Ordering::SeqCst) <= 1 + 8);
}

#[test]
fn a_dropped_group_cancels_pending_work_and_waits_for_running_work() {
    let exec = Executor::threads(1).unwrap();
    let finished = Arc::new(AtomicUsize::new(0));
    let (release, gate) = bounded::<()>(1);
    let (started_tx, started) = bounded::<()>(1);
    let handles = {
        let mut group = exec.group();
        let f = finished.clone();
        let running = group
            .spawn(move || {
                started_tx.send(()).unwrap();
                let _ = gate.recv();
                f.fetch_add(1, Ordering::SeqCst);
            })
            .unwrap();
        started.recv().unwrap();
        let f = finished.clone();
        let pending = group
            .spawn(move || f.fetch_add(100, Ordering::SeqCst))
            .unwrap();
        assert_eq!(group.pending(), 2);
        release.send(()).unwrap();
        (running, pending)
        // The group is dropped here: `pending` is cancelled unless it already started.
    };
    let (running, pending) = handles;
    assert!(running.is_done(), "a dropped group waits for running tasks");
    running.wait().unwrap();
    match pending.wait() {
        Err(ExecError::Cancelled) => assert_eq!(finished.load(Ordering::SeqCst), 1),
        // The worker may have picked it up before the drop: then it ran to completion.
        Ok(_) => assert_eq!(finished.load(Ordering::SeqCst), 101),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

#[test]
fn dropping_a_pool_with_queued_work_still_completes_it() {
    let exec = Executor::threads(1).unwrap();
    let handles: Vec<_> = (0..50u64)
        .map(|i| {
            exec.spawn(move || {
                std::thread::sleep(Duration::from_micros(100));
                i
            })
            .unwrap()
        })
        .collect();
    drop(exec);
    assert_eq!(wait_all(handles).unwrap(), (0..50).collect::<Vec<_>>());
}

/// A random task graph: node i has a seed and depends on up to three earlier nodes.
fn graph_strategy() -> impl Strategy<Value = Vec<(u64, Vec<usize>)>> {
    (1usize..30).prop_flat_map(|n| {
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

fn model(graph: &[(u64, Vec<usize>)]) -> Vec<u64> {
    let mut values: Vec<u64> = Vec::with_capacity(graph.len());
    for (seed, deps) in graph {
        let inputs: Vec<u64> = deps.iter().map(|&d| values[d]).collect();
        values.push(combine(*seed, &inputs));
    }
    values
}

/// Runs the graph as closures: each node reads its dependencies' values from a shared table,
/// which is only filled in when they finished (so running too early would panic).
fn run_closures(exec: &Executor, graph: &[(u64, Vec<usize>)]) -> pgp_exec::Result<Vec<u64>> {
    let table: Arc<Vec<OnceLock<u64>>> =
        Arc::new((0..graph.len()).map(|_| OnceLock::new()).collect());
    let mut handles: Vec<Handle<u64>> = Vec::new();
    for (index, (seed, deps)) in graph.iter().enumerate() {
        let signals: Vec<_> = deps.iter().map(|&d| handles[d].signal()).collect();
        let (table, deps, seed) = (table.clone(), deps.clone(), *seed);
        handles.push(exec.spawn_after(signals, move || {
            let inputs: Vec<u64> = deps
                .iter()
                .map(|&d| *table[d].get().expect("dependency finished first"))
                .collect();
            let value = combine(seed, &inputs);
            table[index].set(value).expect("each node runs once");
            value
        })?);
    }
    wait_all(handles)
}

/// Runs the graph as registered ops passing results through files.
fn run_ops(exec: &Executor, graph: &[(u64, Vec<usize>)]) -> pgp_exec::Result<Vec<u64>> {
    let dir = tempfile::tempdir().map_err(ExecError::Io)?;
    let mut handles: Vec<Handle<u64>> = Vec::new();
    for (index, (seed, deps)) in graph.iter().enumerate() {
        let signals: Vec<_> = deps.iter().map(|&d| handles[d].signal()).collect();
        let args = NodeArgs {
            dir: dir.path().to_path_buf(),
            index,
            seed: *seed,
            deps: deps.clone(),
        };
        handles.push(exec.submit_after::<GraphNode>(signals, args)?);
    }
    let values = wait_all(handles)?;
    assert!(node_path(dir.path(), graph.len() - 1).exists());
    Ok(values)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_task_graphs_give_the_sync_results_on_thread_pools(
        graph in graph_strategy(), workers in 1usize..4
    ) {
        let expected = model(&graph);
        let sync = Executor::sync();
        let threads = Executor::threads(workers).unwrap();
        prop_assert_eq!(&run_closures(&sync, &graph).unwrap(), &expected);
        prop_assert_eq!(&run_closures(&threads, &graph).unwrap(), &expected);
        prop_assert_eq!(&run_ops(&sync, &graph).unwrap(), &expected);
        prop_assert_eq!(&run_ops(&threads, &graph).unwrap(), &expected);
    }
}
