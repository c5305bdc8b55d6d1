//! Skipping and invalidation: what reruns after each kind of change, and nothing else.

mod common;
use common::*;
use pgp_graph::{PlanAction, RunReason};
use std::fs;
use std::time::Duration;

fn run(env: &Env, a_arg: &str, b_version: u32) -> (Vec<String>, Vec<String>) {
    let g = env.graph();
    pipeline(&g, env, a_arg, b_version);
    let report = g.join().unwrap();
    (sorted(report.ran), sorted(report.skipped))
}

#[test]
fn first_run_runs_all_and_rerun_skips_all_with_recorded_results() {
    let env = Env::new();
    assert_eq!(run(&env, "hello", 1).0, ["a", "b", "c", "d"]);
    assert_eq!(env.read("d.txt"), "HELLO+ecruos");
    let g = env.graph();
    let p = pipeline(&g, &env, "hello", 1);
    let report = g.join().unwrap();
    assert!(report.ran.is_empty(), "{report:?}");
    assert_eq!(sorted(report.skipped), ["a", "b", "c", "d"]);
    assert_eq!(p.d.result().unwrap(), "HELLO+ecruos");
    assert_eq!(p.b.result().unwrap(), "HELLO");
}

#[test]
fn argument_change_reruns_task_and_dependents_only() {
    let env = Env::new();
    run(&env, "hello", 1);
    let (ran, skipped) = run(&env, "bye", 1);
    assert_eq!(ran, ["a", "b", "d"]);
    assert_eq!(skipped, ["c"]);
    assert_eq!(env.read("d.txt"), "BYE+ecruos");
}

#[test]
fn version_change_reruns_task_and_dependents_only() {
    let env = Env::new();
    run(&env, "hello", 1);
    // Same output bytes from the new version: `d` sees identical inputs and is skipped.
    let (ran, skipped) = run(&env, "hello", 2);
    assert_eq!(ran, ["b"]);
    assert_eq!(skipped, ["a", "c", "d"]);
}

#[test]
fn input_content_change_reruns_its_branch() {
    let env = Env::new();
    run(&env, "hello", 1);
    fs::write(env.p("src.txt"), "other").unwrap();
    let (ran, skipped) = run(&env, "hello", 1);
    assert_eq!(ran, ["c", "d"]);
    assert_eq!(skipped, ["a", "b"]);
    assert_eq!(env.read("d.txt"), "HELLO+rehto");
}

#[test]
fn touching_an_input_without_changing_it_reruns_nothing() {
    let env = Env::new();
    run(&env, "hello", 1);
    filetime::set_file_mtime(env.p("src.txt"), filetime::FileTime::now()).unwrap();
    assert!(run(&env, "hello", 1).0.is_empty());
}

#[test]
fn deleted_edited_or_touched_output_reruns_that_task() {
    let env = Env::new();
    run(&env, "hello", 1);

    fs::remove_file(env.p("c.txt")).unwrap();
    assert_eq!(run(&env, "hello", 1).0, ["c"]);
    assert_eq!(env.read("c.txt"), "ecruos");

    fs::write(env.p("b.txt"), "HELLX").unwrap();
    assert_eq!(run(&env, "hello", 1).0, ["b"]);
    assert_eq!(env.read("b.txt"), "HELLO");

    // Regenerated outputs keep their content, so dependents stay skipped.
    std::thread::sleep(Duration::from_millis(20));
    filetime::set_file_mtime(env.p("d.txt"), filetime::FileTime::now()).unwrap();
    assert_eq!(run(&env, "hello", 1).0, ["d"]);
}

#[test]
fn same_size_edit_with_restored_mtime_is_caught_even_with_trusting_memo() {
    let env = Env::new();
    let old = filetime::FileTime::from_unix_time(1_500_000_000, 0);
    filetime::set_file_mtime(env.p("src.txt"), old).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    {
        let g = env.graph_trusting_memo();
        pipeline(&g, &env, "hello", 1);
        g.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(20));
    {
        // Unchanged rerun: the memo answers for every file hashed while it was already quiet.
        let g = env.graph_trusting_memo();
        pipeline(&g, &env, "hello", 1);
        assert!(g.join().unwrap().ran.is_empty());
        let first_rerun = g.files_hashed();
        drop(g);
        let g = env.graph_trusting_memo();
        pipeline(&g, &env, "hello", 1);
        assert!(g.join().unwrap().ran.is_empty());
        assert_eq!(
            g.files_hashed(),
            0,
            "second rerun hashed again (first rerun hashed {first_rerun})"
        );
    }
    // `touch -r`-style attack: same size, same mtime, different bytes.
    fs::write(env.p("src.txt"), "sourcf").unwrap();
    filetime::set_file_mtime(env.p("src.txt"), old).unwrap();
    let g = env.graph_trusting_memo();
    pipeline(&g, &env, "hello", 1);
    let report = g.join().unwrap();
    assert_eq!(sorted(report.ran), ["c", "d"]);
    assert_eq!(env.read("d.txt"), "HELLO+fcruos");
}

#[test]
fn dry_run_lists_each_task_with_its_reason() {
    let env = Env::new();
    let plan_of = |env: &Env, a_arg: &str, b_version: u32| {
        let g = env.graph();
        pipeline(&g, env, a_arg, b_version);
        g.dry_run()
            .into_iter()
            .map(|t| (t.name, t.action))
            .collect::<std::collections::HashMap<_, _>>()
    };
    let plan = plan_of(&env, "hello", 1);
    assert_eq!(plan["a"], PlanAction::Run(RunReason::New));
    assert_eq!(
        plan["b"],
        PlanAction::Run(RunReason::UpstreamWillRun("a".into()))
    );
    assert_eq!(plan["c"], PlanAction::Run(RunReason::New));
    assert!(!env.p("a.txt").exists(), "a dry run writes nothing");
    run(&env, "hello", 1);

    assert!(plan_of(&env, "hello", 1)
        .values()
        .all(|a| *a == PlanAction::Skip));
    assert_eq!(
        plan_of(&env, "bye", 1)["a"],
        PlanAction::Run(RunReason::ArgumentsChanged)
    );
    match &plan_of(&env, "hello", 7)["b"] {
        PlanAction::Run(RunReason::VersionChanged { from, to }) => {
            assert_eq!((from.as_str(), to.as_str()), ("fn:b@1", "fn:b@7"))
        }
        other => panic!("unexpected {other:?}"),
    }
    fs::write(env.p("src.txt"), "changed").unwrap();
    let plan = plan_of(&env, "hello", 1);
    assert_eq!(
        plan["c"],
        PlanAction::Run(RunReason::InputsChanged(vec![env.p("src.txt")]))
    );
    assert_eq!(
        plan["d"],
        PlanAction::Run(RunReason::UpstreamWillRun("c".into()))
    );
    assert_eq!(plan["b"], PlanAction::Skip);
    fs::write(env.p("src.txt"), "source").unwrap();
    fs::remove_file(env.p("a.txt")).unwrap();
    assert_eq!(
        plan_of(&env, "hello", 1)["a"],
        PlanAction::Run(RunReason::OutputMissing(env.p("a.txt")))
    );
    run(&env, "hello", 1);
    fs::write(env.p("b.txt"), "edited").unwrap();
    assert_eq!(
        plan_of(&env, "hello", 1)["b"],
        PlanAction::Run(RunReason::OutputEdited(env.p("b.txt")))
    );
}

#[test]
fn transient_task_always_runs_and_is_never_recorded() {
    let env = Env::new();
    for round in 0..2 {
        let g = env.graph();
        let p = pipeline(&g, &env, "hello", 1);
        let report_file = env.p("report.txt");
        g.add_fn(
            pgp_graph::Task::new("report")
                .transient(true)
                .reads([env.p("d.txt")])
                .writes([&report_file]),
            round,
            |round, io| {
                fs::write(
                    io.output(0),
                    format!("{round}:{}", fs::read_to_string(io.input(0))?),
                )
            },
        )
        .unwrap();
        let report = g.join().unwrap();
        assert!(
            report.ran.contains(&"report".to_string()),
            "round {round}: {report:?}"
        );
        assert_eq!(env.read("report.txt"), format!("{round}:HELLO+ecruos"));
        drop(p);
    }
    let records = fs::read_dir(env.ws().join("records")).unwrap().count();
    assert_eq!(records, 4, "only the four pipeline tasks are recorded");
}

#[test]
fn outputs_judged_by_existence_skip_when_edited_and_rerun_when_missing() {
    let env = Env::new();
    let out = env.p("exists.txt");
    let run = |exist_only: bool| {
        let g = env.graph();
        g.add_fn(
            pgp_graph::Task::new("write")
                .writes([&out])
                .outputs_exist_only(exist_only),
            (),
            |_, io| fs::write(io.output(0), "written"),
        )
        .unwrap();
        let report = g.join().unwrap();
        (report.ran, report.skipped)
    };
    assert_eq!(run(true).0, ["write"]);
    fs::write(&out, "edited behind the graph's back").unwrap();
    assert_eq!(run(true).1, ["write"], "an edited output still exists");
    assert_eq!(env.read("exists.txt"), "edited behind the graph's back");
    // The same edit with content checks (the default) reruns it.
    assert_eq!(run(false).0, ["write"]);
    fs::remove_file(&out).unwrap();
    assert_eq!(run(true).0, ["write"]);
    assert_eq!(env.read("exists.txt"), "written");
}
