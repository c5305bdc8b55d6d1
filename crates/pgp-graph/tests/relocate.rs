//! Relocatable keys: a copied, moved or renamed project keeps every record valid, because keys
//! hold paths relative to the project root (and inputs outside it by content alone).

use pgp_exec::Executor;
use pgp_graph::{Graph, RunReport, Task};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A two-step project: `data/in.txt` (+ optionally a file outside the project) → `work/up.txt`
/// → `work/len.txt`. The closure arguments spell the input's absolute path, as Rust callers
/// building paths from their root do.
fn run_project(root: &Path, outside: Option<&Path>) -> (RunReport, String) {
    let g = Graph::builder(root.join(".pgp"))
        .executor(Executor::threads(2).unwrap())
        .root(root)
        .open()
        .unwrap();
    let input = root.join("data/in.txt");
    let (up, len) = (root.join("work/up.txt"), root.join("work/len.txt"));
    let mut reads = vec![input.clone()];
    reads.extend(outside.map(Path::to_path_buf));
    g.add_fn(
        Task::new("upper").reads(&reads).writes([&up]),
        (input.clone(), up.clone()),
        |_, io| {
            let mut text = fs::read_to_string(io.input(0))?;
            if let Some(extra) = io.inputs().get(1) {
                text.push_str(&fs::read_to_string(extra)?);
            }
            fs::write(io.output(0), text.to_uppercase())
        },
    )
    .unwrap();
    let h = g
        .add_fn(
            Task::new("length").reads([&up]).writes([&len]),
            up.clone(),
            |_, io| {
                let n = fs::read_to_string(io.input(0))?.len();
                fs::write(io.output(0), n.to_string())?;
                Ok::<_, std::io::Error>(format!("{n} bytes"))
            },
        )
        .unwrap();
    let report = g.join().unwrap();
    (report, h.result().unwrap())
}

fn project(parent: &Path, name: &str) -> PathBuf {
    let root = parent.join(name);
    fs::create_dir_all(root.join("data")).unwrap();
    fs::write(root.join("data/in.txt"), "hello").unwrap();
    root
}

fn shell(args: &[&str]) {
    let status = Command::new(args[0]).args(&args[1..]).status().unwrap();
    assert!(status.success(), "{args:?}");
}

fn ran(report: &RunReport) -> Vec<&str> {
    report.ran.iter().map(String::as_str).collect()
}

#[test]
fn a_copied_project_runs_nothing_and_then_follows_its_own_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "proj");
    assert_eq!(ran(&run_project(&proj, None).0), ["upper", "length"]);
    let copy = dir.path().join("proj2");
    shell(&["cp", "-r", proj.to_str().unwrap(), copy.to_str().unwrap()]);

    let (report, result) = run_project(&copy, None);
    assert!(report.ran.is_empty(), "ran {:?}", report.ran);
    assert_eq!(report.skipped.len(), 2);
    assert_eq!(result, "5 bytes", "the result comes from the copied record");
    // The copy is a project of its own: an edit there reruns there only.
    fs::write(copy.join("data/in.txt"), "hello!").unwrap();
    assert_eq!(ran(&run_project(&copy, None).0), ["upper", "length"]);
    assert_eq!(fs::read_to_string(copy.join("work/len.txt")).unwrap(), "6");
    assert!(run_project(&proj, None).0.ran.is_empty());
    // Records refreshed in the copy: touching an output reruns its task again, as in place.
    let copy2 = dir.path().join("proj3");
    shell(&["cp", "-r", proj.to_str().unwrap(), copy2.to_str().unwrap()]);
    assert!(run_project(&copy2, None).0.ran.is_empty());
    std::thread::sleep(Duration::from_millis(20));
    filetime::set_file_mtime(copy2.join("work/len.txt"), filetime::FileTime::now()).unwrap();
    assert_eq!(ran(&run_project(&copy2, None).0), ["length"]);
}

#[test]
fn a_move_that_changes_the_path_depth_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "proj");
    run_project(&proj, None);
    let deeper = dir.path().join("a/b/c");
    fs::create_dir_all(&deeper).unwrap();
    let moved = deeper.join("renamed");
    shell(&["mv", proj.to_str().unwrap(), moved.to_str().unwrap()]);
    let (report, result) = run_project(&moved, None);
    assert!(report.ran.is_empty(), "ran {:?}", report.ran);
    assert_eq!(result, "5 bytes");
    // And back up, shallower than it started.
    let up = dir.path().join("top");
    shell(&["mv", moved.to_str().unwrap(), up.to_str().unwrap()]);
    assert!(run_project(&up, None).0.ran.is_empty());
}

#[test]
fn an_input_outside_the_root_is_keyed_by_content_alone() {
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared/extra.txt");
    fs::create_dir_all(shared.parent().unwrap()).unwrap();
    fs::write(&shared, " world").unwrap();
    let proj = project(dir.path(), "proj");
    assert_eq!(
        ran(&run_project(&proj, Some(&shared)).0),
        ["upper", "length"]
    );
    let copy = dir.path().join("elsewhere/proj");
    fs::create_dir_all(copy.parent().unwrap()).unwrap();
    shell(&["cp", "-r", proj.to_str().unwrap(), copy.to_str().unwrap()]);
    assert!(run_project(&copy, Some(&shared)).0.ran.is_empty());
    // The same content at another absolute path outside: still the same key.
    let other = dir.path().join("mirror/extra.txt");
    fs::create_dir_all(other.parent().unwrap()).unwrap();
    fs::copy(&shared, &other).unwrap();
    assert!(run_project(&copy, Some(&other)).0.ran.is_empty());
    // Other content: the task that reads it reruns.
    fs::write(&other, " there").unwrap();
    assert_eq!(
        ran(&run_project(&copy, Some(&other)).0),
        ["upper", "length"]
    );
    assert_eq!(
        fs::read_to_string(copy.join("work/up.txt")).unwrap(),
        "HELLO THERE"
    );
}

#[test]
fn an_absolute_path_into_the_old_project_is_outside_the_copy() {
    // A copy whose task still reads the original project's file by absolute path reads a file
    // outside its own root: keyed by content, not as the copy's own `data/in.txt`. Same
    // content, but inside versus outside the root are different keys: it reruns once.
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "proj");
    run_project(&proj, None);
    let copy = dir.path().join("copy");
    shell(&["cp", "-r", proj.to_str().unwrap(), copy.to_str().unwrap()]);
    let g = Graph::builder(copy.join(".pgp"))
        .root(&copy)
        .open()
        .unwrap();
    let out = copy.join("work/up.txt");
    g.add_fn(
        Task::new("upper")
            .reads([proj.join("data/in.txt")])
            .writes([&out]),
        (proj.join("data/in.txt"), out.clone()),
        |_, io| {
            fs::write(
                io.output(0),
                fs::read_to_string(io.input(0))?.to_uppercase(),
            )
        },
    )
    .unwrap();
    assert_eq!(g.join().unwrap().ran, ["upper"]);
}

#[test]
fn records_of_older_store_formats_are_a_miss_never_a_hit() {
    // Format 1: absolute-path keys; format 2: SHA-256 digests and keys (now BLAKE3).
    for old in [1, 2] {
        let dir = tempfile::tempdir().unwrap();
        let proj = project(dir.path(), "proj");
        run_project(&proj, None);
        fs::write(proj.join(".pgp/FORMAT"), format!("pgp-graph store {old}\n")).unwrap();
        let (report, _) = run_project(&proj, None);
        assert_eq!(ran(&report), ["upper", "length"], "format {old}");
        assert!(
            report.warnings.iter().any(|w| w.contains("rebuilding")),
            "{:?}",
            report.warnings
        );
        assert!(run_project(&proj, None).0.ran.is_empty());
    }
}

#[test]
fn the_default_root_is_the_workspace_parent() {
    let dir = tempfile::tempdir().unwrap();
    let g = Graph::open(dir.path().join("p/.pgp"), Executor::sync()).unwrap();
    assert_eq!(g.root(), dir.path().join("p"));
}
