//! Graph construction errors, failure handling, scheduling, locking, store repair, events, DOT.

mod common;
use common::*;
use pgp_exec::Executor;
use pgp_graph::{Event, Graph, GraphError, LockWait, Task, TaskError, TaskStatus};
use std::fs;
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

fn write_fn(
    g: &Graph,
    name: &str,
    reads: &[std::path::PathBuf],
    out: &std::path::Path,
) -> Result<(), GraphError> {
    g.add_fn(Task::new(name).reads(reads).writes([out]), (), |_, io| {
        fs::write(io.output(0), "x")
    })
    .map(|_| ())
}

#[test]
fn cycles_and_duplicate_outputs_are_refused_when_added() {
    let env = Env::new();
    let g = env.graph();
    write_fn(&g, "x", &[env.p("z")], &env.p("x")).unwrap();
    write_fn(&g, "y", &[env.p("x")], &env.p("y")).unwrap();
    match write_fn(&g, "z", &[env.p("y")], &env.p("z")).unwrap_err() {
        GraphError::Cycle { cycle, .. } => assert_eq!(cycle, ["z", "x", "y", "z"]),
        e => panic!("unexpected {e}"),
    }
    match write_fn(&g, "y2", &[], &env.p("./y")).unwrap_err() {
        GraphError::DuplicateOutput { other, path, .. } => {
            assert_eq!(other, "y");
            assert_eq!(path, env.p("y"));
        }
        e => panic!("unexpected {e}"),
    }
    assert_eq!(g.len(), 2, "refused tasks are not added");
    let msg = write_fn(&g, "z", &[env.p("y")], &env.p("z"))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("z -> x -> y -> z"), "{msg}");
}

#[test]
fn failure_fails_dependents_with_cause_and_independent_branch_completes() {
    let env = Env::new();
    let g = env.graph();
    let bad = g
        .add_fn(Task::new("bad").writes([env.p("bad.txt")]), (), |_, _| {
            Err::<(), _>("disk on fire")
        })
        .unwrap();
    let child = transform(
        &g,
        "child",
        1,
        &env.p("bad.txt"),
        &env.p("child.txt"),
        |s| s.to_string(),
    );
    let grandchild = transform(
        &g,
        "grandchild",
        1,
        &env.p("child.txt"),
        &env.p("gc.txt"),
        |s| s.to_string(),
    );
    let good = transform(&g, "good", 1, &env.p("src.txt"), &env.p("good.txt"), |s| {
        s.to_string()
    });
    let err = g.join().unwrap_err();
    let names: Vec<_> = err.failures.iter().map(|f| f.task.as_str()).collect();
    assert_eq!(names, ["bad", "child", "grandchild"]);
    assert_eq!(err.failures[0].error, TaskError::Op("disk on fire".into()));
    match &err.failures[2].error {
        TaskError::Dependency { dependency, cause } => {
            assert_eq!(dependency, "bad");
            assert_eq!(**cause, TaskError::Op("disk on fire".into()));
        }
        e => panic!("unexpected {e}"),
    }
    assert_eq!(good.result().unwrap(), "source");
    assert!(matches!(bad.status(), TaskStatus::Failed(_)));
    assert!(matches!(child.join(), Err(TaskError::Dependency { .. })));
    assert!(matches!(grandchild.status(), TaskStatus::Failed(_)));
    assert!(!env.p("bad.txt").exists());
    assert!(
        err.to_string()
            .contains("bad: operation failed: disk on fire"),
        "{err}"
    );
}

#[test]
fn stop_on_first_error_cancels_what_has_not_started() {
    let env = Env::new();
    let g = Graph::builder(env.ws())
        .executor(Executor::sync())
        .stop_on_first_error(true)
        .open()
        .unwrap();
    g.add_fn(Task::new("bad").priority(10), (), |_, _| {
        Err::<(), _>("boom")
    })
    .unwrap();
    let later = transform(&g, "later", 1, &env.p("src.txt"), &env.p("l.txt"), |s| {
        s.to_string()
    });
    let err = g.join().unwrap_err();
    assert_eq!(err.failures.len(), 2);
    assert_eq!(later.join(), Err(TaskError::Cancelled));
    assert!(!env.p("l.txt").exists());
}

#[test]
fn panics_and_missing_outputs_become_task_errors() {
    let env = Env::new();
    let g = env.graph();
    let p = g
        .add_fn(Task::new("panics"), (), |_, _| -> Result<(), String> {
            panic!("oops")
        })
        .unwrap();
    let target = env.p("direct.txt");
    let t2 = target.clone();
    let w = g
        .add_fn(
            Task::new("writes directly").writes([&target]),
            (),
            move |_, _| fs::write(&t2, "x"),
        )
        .unwrap();
    let missing = g
        .add_fn(
            Task::new("reads missing").reads([env.p("nope.txt")]),
            (),
            |_, _| Ok::<(), String>(()),
        )
        .unwrap();
    assert!(g.join().is_err());
    match p.join().unwrap_err() {
        TaskError::Op(m) => assert!(m.contains("oops"), "{m}"),
        e => panic!("unexpected {e}"),
    }
    match w.join().unwrap_err() {
        TaskError::Output { path, message } => {
            assert_eq!(path, target);
            assert!(message.contains("temporary path"), "{message}");
        }
        e => panic!("unexpected {e}"),
    }
    assert!(
        matches!(missing.join(), Err(TaskError::Input { path, .. }) if path == env.p("nope.txt"))
    );
    // Failed tasks leave no temporary directories behind.
    let leftovers: Vec<_> = fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".pgp-tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn independent_tasks_run_at_the_same_time_on_threads() {
    // Each task waits until the other has started: on a one-at-a-time scheduler this times out.
    let env = Env::new();
    let g = env.graph();
    let (tx_a, rx_a) = mpsc::channel::<()>();
    let (tx_b, rx_b) = mpsc::channel::<()>();
    let rendezvous = |tx: mpsc::Sender<()>, rx: mpsc::Receiver<()>| {
        move |_: &(), _: &pgp_graph::TaskIo| {
            tx.send(()).map_err(|e| e.to_string())?;
            rx.recv_timeout(Duration::from_secs(20))
                .map_err(|_| "the other task never started".to_string())
        }
    };
    g.add_fn(
        Task::new("left").transient(true),
        (),
        rendezvous(tx_a, rx_b),
    )
    .unwrap();
    g.add_fn(
        Task::new("right").transient(true),
        (),
        rendezvous(tx_b, rx_a),
    )
    .unwrap();
    g.join().unwrap();
}

#[test]
fn higher_priority_ready_tasks_go_first() {
    let env = Env::new();
    let g = Graph::builder(env.ws())
        .executor(Executor::sync())
        .open()
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    for (name, prio) in [("low", -1), ("mid", 0), ("high", 5), ("mid2", 0)] {
        let order = Arc::clone(&order);
        g.add_fn(
            Task::new(name).priority(prio).transient(true),
            (),
            move |_, _| {
                order.lock().unwrap().push(name);
                Ok::<(), String>(())
            },
        )
        .unwrap();
    }
    g.join().unwrap();
    assert_eq!(*order.lock().unwrap(), ["high", "mid", "mid2", "low"]);
}

#[test]
fn explicit_dependency_orders_tasks_without_files() {
    let env = Env::new();
    let g = Graph::builder(env.ws())
        .executor(Executor::sync())
        .open()
        .unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o1 = Arc::clone(&order);
    let first = g
        .add_fn(
            Task::new("first").priority(-5).transient(true),
            (),
            move |_, _| {
                o1.lock().unwrap().push("first");
                Ok::<(), String>(())
            },
        )
        .unwrap();
    let o2 = Arc::clone(&order);
    g.add_fn(
        Task::new("second")
            .priority(5)
            .after(&first)
            .transient(true),
        (),
        move |_, _| {
            o2.lock().unwrap().push("second");
            Ok::<(), String>(())
        },
    )
    .unwrap();
    g.join().unwrap();
    assert_eq!(*order.lock().unwrap(), ["first", "second"]);
}

#[test]
fn tasks_added_after_a_join_run_on_the_next_join() {
    let env = Env::new();
    let g = env.graph();
    let a = transform(&g, "a", 1, &env.p("src.txt"), &env.p("a.txt"), |s| {
        s.to_uppercase()
    });
    g.join().unwrap();
    let b = transform(&g, "b", 1, &env.p("a.txt"), &env.p("b.txt"), |s| {
        format!("{s}!")
    });
    assert_eq!(b.result().unwrap(), "SOURCE!");
    assert_eq!(a.result().unwrap(), "SOURCE");
    // The producer already ran, so a new writer of its input is refused.
    let err = write_fn(&g, "late", &[], &env.p("src.txt")).unwrap_err();
    assert!(matches!(err, GraphError::LateProducer { .. }), "{err}");
}

#[test]
fn a_second_graph_on_the_workspace_fails_clearly_or_waits() {
    let env = Env::new();
    let g = env.graph();
    let err = Graph::builder(env.ws()).open().unwrap_err();
    assert!(matches!(err, GraphError::Locked { .. }));
    assert!(err.to_string().contains("locked by another graph"), "{err}");
    let ws = env.ws();
    let waiter = std::thread::spawn(move || {
        Graph::builder(ws)
            .lock_wait(LockWait::Forever)
            .open()
            .map(|_| ())
    });
    std::thread::sleep(Duration::from_millis(50));
    drop(g);
    waiter.join().unwrap().unwrap();
}

#[test]
fn corrupt_record_and_old_store_are_rebuilt_with_warnings() {
    let env = Env::new();
    {
        let g = env.graph();
        pipeline(&g, &env, "hello", 1);
        g.join().unwrap();
    }
    for entry in fs::read_dir(env.ws().join("records")).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0xff;
        fs::write(&path, bytes).unwrap();
    }
    fs::write(env.ws().join("memo.bin"), b"garbage").unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&events);
    let g = Graph::builder(env.ws())
        .executor(threads())
        .on_event(move |e| sink.lock().unwrap().push(e.clone()))
        .open()
        .unwrap();
    pipeline(&g, &env, "hello", 1);
    let report = g.join().unwrap();
    assert_eq!(report.ran.len(), 4);
    assert_eq!(report.warnings.len(), 5, "{:?}", report.warnings);
    let warned = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::Warning { .. }))
        .count();
    assert_eq!(warned, 5);
    drop(g);

    fs::write(env.ws().join("FORMAT"), "pgp-graph store 0\n").unwrap();
    let g = env.graph();
    pipeline(&g, &env, "hello", 1);
    let report = g.join().unwrap();
    assert_eq!(report.ran.len(), 4, "an old-format store is discarded");
    assert!(
        report.warnings[0].contains("rebuilding"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn events_tell_each_task_story_in_order() {
    let env = Env::new();
    let run = |env: &Env| {
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let g = Graph::builder(env.ws())
            .executor(threads())
            .on_event(move |e| sink.lock().unwrap().push(e.clone()))
            .open()
            .unwrap();
        pipeline(&g, env, "hello", 1);
        g.join().unwrap();
        drop(g);
        let events = events.lock().unwrap().clone();
        events
    };
    let kinds_of = |events: &[Event], task: &str| -> Vec<&'static str> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Queued { task: t } if t == task => Some("queued"),
                Event::Started { task: t, .. } if t == task => Some("started"),
                Event::RanOn { task: t, .. } if t == task => Some("ran on"),
                Event::Skipped { task: t, .. } if t == task => Some("skipped"),
                Event::Finished { task: t, .. } if t == task => Some("finished"),
                Event::Failed { task: t, .. } if t == task => Some("failed"),
                _ => None,
            })
            .collect()
    };
    let first = run(&env);
    for t in ["a", "b", "c", "d"] {
        assert_eq!(
            kinds_of(&first, t),
            ["queued", "started", "ran on", "finished"],
            "task {t}"
        );
    }
    // Closures on a thread pool ran on the pool's threads, which the events name.
    let this_thread = std::thread::current().name().map(str::to_string);
    for e in &first {
        if let Event::RanOn { worker, .. } = e {
            let pgp_exec::WorkerId::Thread { name } = worker else {
                panic!("{worker:?}")
            };
            assert_ne!(Some(name), this_thread.as_ref());
        }
    }
    assert!(first.contains(&Event::Started {
        task: "a".into(),
        reason: pgp_graph::RunReason::New
    }));
    let second = run(&env);
    for t in ["a", "b", "c", "d"] {
        assert_eq!(kinds_of(&second, t), ["queued", "skipped"], "task {t}");
    }
}

#[test]
fn dot_export_shows_tasks_and_file_edges() {
    let env = Env::new();
    let g = env.graph();
    let p = pipeline(&g, &env, "hello", 1);
    g.add_fn(
        Task::new("after d").after(&p.d).transient(true),
        (),
        |_, _| Ok::<(), String>(()),
    )
    .unwrap();
    let dot = g.to_dot();
    assert!(dot.starts_with("digraph pgp_graph {"));
    assert!(dot.contains("t0 [label=\"a\\nfn:a@0\\npending\""), "{dot}");
    assert!(dot.contains("t0 -> t1 [label=\"a.txt\"];"), "{dot}");
    assert!(dot.contains("t1 -> t3 [label=\"b.txt\"];"), "{dot}");
    assert!(dot.contains("t2 -> t3 [label=\"c.txt\"];"), "{dot}");
    assert!(dot.contains("t3 -> t4 [style=dashed];"), "{dot}");
    assert_eq!(dot.matches("->").count(), 4);
    g.join().unwrap();
    assert!(g.to_dot().contains("completed"));
}

#[test]
fn graph_and_handles_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Graph>();
    assert_send_sync::<pgp_graph::TaskHandle<String>>();
    let env = Env::new();
    let g = env.graph();
    let h = transform(&g, "t", 1, &env.p("src.txt"), &env.p("t.txt"), |s| {
        s.to_string()
    });
    g.start();
    let joined = std::thread::spawn(move || h.result()).join().unwrap();
    assert_eq!(joined.unwrap(), "source");
    g.join().unwrap();
}

#[test]
fn tasks_edges_and_the_report_follow_the_graph_even_when_a_producer_comes_later() {
    use pgp_graph::report::{note_event, write_report, ReportPage, TaskRecord, TaskState};
    let env = Env::new();
    let records: Arc<Mutex<Vec<TaskRecord>>> = Arc::default();
    let sink = Arc::clone(&records);
    let g = Graph::builder(env.ws())
        .executor(threads())
        .on_event(move |e| note_event(&mut sink.lock().unwrap(), e, 0.0))
        .open()
        .unwrap();
    // Readers are added before their producers: each is found by the file it reads.
    write_fn(&g, "reader", &[env.p("middle")], &env.p("read")).unwrap();
    write_fn(&g, "middle", &[env.p("made")], &env.p("middle")).unwrap();
    write_fn(&g, "maker", &[], &env.p("made")).unwrap();
    let tasks: Vec<(String, String)> = g.tasks().into_iter().map(|t| (t.name, t.op)).collect();
    assert_eq!(tasks[0], ("reader".to_string(), "fn:reader".to_string()));
    assert_eq!(tasks[2], ("maker".to_string(), "fn:maker".to_string()));
    assert_eq!(g.edges(), [(1, 0), (2, 1)]);
    g.join().unwrap();
    let recs = records.lock().unwrap().clone();
    assert!(recs.iter().all(|r| r.state == TaskState::Ran), "{recs:?}");
    let page = ReportPage {
        title: "two tasks",
        executor: "threading:2",
        seconds: 0.5,
        extra: "<p id=extra>mine</p>",
        extra_style: "",
    };
    let path = env.p("report.html");
    write_report(&path, &g, &recs, &page).unwrap();
    let html = fs::read_to_string(&path).unwrap();
    assert!(html.contains("3 ran, 0 restored from cache, 0 skipped, 0 failed"));
    assert!(html.contains("<p id=extra>mine</p>"));
    // Each producer is in a column left of its reader's.
    let x_of = |name: &str| -> f64 {
        let at = html.find(&format!("<title>{name} (")).unwrap();
        let rect = &html[at..];
        let x = &rect[rect.find("x=\"").unwrap() + 3..];
        x[..x.find('"').unwrap()].parse().unwrap()
    };
    assert!(x_of("maker") < x_of("middle"), "{html}");
    assert!(x_of("middle") < x_of("reader"), "{html}");
}
