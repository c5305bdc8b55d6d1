//! A copied project (`cp -r`: every file has a new inode and mtime) is checked by content: each
//! file is read once, on several threads, and an edit made in the copy reruns exactly the tasks
//! it affects, whichever executor runs them.

use pgp_exec::Executor;
use pgp_graph::{Graph, RunReport, Task};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// `a.txt` → `upper_a` → `A.txt`; `b.txt` → `upper_b` → `B.txt`; both → `join` → `AB.txt`;
/// `a.txt` → `count_a` → `n.txt`. Returns the report and how many files the run hashed.
fn run(root: &Path, executor: Executor) -> (RunReport, u64) {
    let g = Graph::builder(root.join(".pgp"))
        .executor(executor)
        .root(root)
        .open()
        .unwrap();
    let p = |name: &str| root.join(name);
    let upper = |name: &str, from: PathBuf, to: PathBuf| {
        g.add_fn(Task::new(name).reads([&from]).writes([&to]), (), |_, io| {
            let text = fs::read_to_string(io.input(0))?;
            fs::write(io.output(0), text.to_uppercase())
        })
        .unwrap();
    };
    upper("upper_a", p("data/a.txt"), p("work/A.txt"));
    upper("upper_b", p("data/b.txt"), p("work/B.txt"));
    g.add_fn(
        Task::new("join")
            .reads([p("work/A.txt"), p("work/B.txt")])
            .writes([p("work/AB.txt")]),
        (),
        |_, io| {
            let a = fs::read_to_string(io.input(0))?;
            let b = fs::read_to_string(io.input(1))?;
            fs::write(io.output(0), a + &b)
        },
    )
    .unwrap();
    g.add_fn(
        Task::new("count_a")
            .reads([p("data/a.txt")])
            .writes([p("work/n.txt")]),
        (),
        |_, io| {
            let n = fs::read_to_string(io.input(0))?.len();
            fs::write(io.output(0), n.to_string())
        },
    )
    .unwrap();
    let report = g.join().unwrap();
    (report, g.files_hashed())
}

/// A project run once, and a `cp -r` copy of it whose files are old enough (past the racy
/// window) for a digest to be trusted.
fn project_and_copy(dir: &Path) -> (PathBuf, PathBuf) {
    let proj = dir.join("proj");
    fs::create_dir_all(proj.join("data")).unwrap();
    fs::write(proj.join("data/a.txt"), "alpha").unwrap();
    fs::write(proj.join("data/b.txt"), "bravo").unwrap();
    let (report, _) = run(&proj, Executor::threads(2).unwrap());
    assert_eq!(report.ran.len(), 4);
    let copy = dir.join("copy");
    let status = Command::new("cp")
        .args(["-r", proj.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    std::thread::sleep(Duration::from_millis(120));
    (proj, copy)
}

fn sorted(names: &[String]) -> Vec<&str> {
    let mut v: Vec<&str> = names.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

fn executors() -> Vec<(&'static str, Executor)> {
    vec![
        ("sync", Executor::sync()),
        ("threads", Executor::threads(2).unwrap()),
    ]
}

/// Rewrites `path` with content of the same length and gives it back its old mtime: only the
/// content (and the kernel-set ctime) tells the edit.
fn edit_keeping_size_and_mtime(path: &Path, content: &str) {
    let mtime = filetime::FileTime::from_last_modification_time(&fs::metadata(path).unwrap());
    assert_eq!(fs::read(path).unwrap().len(), content.len());
    fs::write(path, content).unwrap();
    filetime::set_file_mtime(path, mtime).unwrap();
}

#[test]
fn a_copied_project_reads_each_file_once_and_runs_nothing() {
    for (name, executor) in executors() {
        let dir = tempfile::tempdir().unwrap();
        let (_, copy) = project_and_copy(dir.path());
        let (report, hashed) = run(&copy, executor);
        assert!(report.ran.is_empty(), "{name}: ran {:?}", report.ran);
        assert_eq!(report.skipped.len(), 4, "{name}");
        // a.txt, b.txt, A.txt, B.txt, AB.txt, n.txt: every file of the copy, each once.
        assert_eq!(hashed, 6, "{name}: files hashed");
        // The memo now knows the copy's files: the next run reads none.
        let (report, hashed) = run(&copy, Executor::threads(2).unwrap());
        assert!(report.ran.is_empty(), "{name}");
        assert_eq!(hashed, 0, "{name}: second rerun");
    }
}

#[test]
fn an_input_edited_in_a_copy_reruns_exactly_the_tasks_that_read_it() {
    for (name, executor) in executors() {
        let dir = tempfile::tempdir().unwrap();
        let (proj, copy) = project_and_copy(dir.path());
        edit_keeping_size_and_mtime(&copy.join("data/b.txt"), "BRAVE");
        let (report, _) = run(&copy, executor);
        assert_eq!(sorted(&report.ran), ["join", "upper_b"], "{name}");
        assert_eq!(sorted(&report.skipped), ["count_a", "upper_a"], "{name}");
        assert_eq!(
            fs::read_to_string(copy.join("work/AB.txt")).unwrap(),
            "ALPHABRAVE",
            "{name}"
        );
        // The original is untouched and still up to date.
        let (report, _) = run(&proj, Executor::threads(2).unwrap());
        assert!(
            report.ran.is_empty(),
            "{name}: original ran {:?}",
            report.ran
        );
        assert_eq!(
            fs::read_to_string(proj.join("work/AB.txt")).unwrap(),
            "ALPHABRAVO"
        );
    }
}

#[test]
fn an_output_edited_in_a_copy_reruns_its_task_and_nothing_downstream() {
    for (name, executor) in executors() {
        let dir = tempfile::tempdir().unwrap();
        let (_, copy) = project_and_copy(dir.path());
        edit_keeping_size_and_mtime(&copy.join("work/A.txt"), "alpha");
        let (report, _) = run(&copy, executor);
        // Rewritten with the recorded content, so `join`'s inputs are as recorded.
        assert_eq!(sorted(&report.ran), ["upper_a"], "{name}");
        assert_eq!(
            fs::read_to_string(copy.join("work/A.txt")).unwrap(),
            "ALPHA",
            "{name}"
        );
        // An edited output of a last task and an edited input of the first, at once.
        edit_keeping_size_and_mtime(&copy.join("work/n.txt"), "9");
        edit_keeping_size_and_mtime(&copy.join("data/a.txt"), "alpho");
        let (report, _) = run(&copy, Executor::threads(2).unwrap());
        assert_eq!(
            sorted(&report.ran),
            ["count_a", "join", "upper_a"],
            "{name}"
        );
        assert_eq!(fs::read_to_string(copy.join("work/n.txt")).unwrap(), "5");
        assert_eq!(
            fs::read_to_string(copy.join("work/AB.txt")).unwrap(),
            "ALPHOBRAVO"
        );
    }
}
