//! Relocatable pipelines and the shared cache, through `pgp run` and `pgp cache` on the example
//! pipeline with generated data.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pgp::core::sample;

fn pgp() -> Command {
    let mut cmd = Command::cargo_bin("pgp").unwrap();
    cmd.env_remove("PGP_CACHE");
    cmd
}

/// A project directory `parent/name` with the example pipeline and its generated inputs.
fn project(parent: &Path, name: &str) -> PathBuf {
    let dir = parent.join(name);
    sample::generate(dir.join("data"), 96, 5).unwrap();
    let mut table = String::from("lucode,coef\n");
    for k in (1..=12).filter(|&k| k != 7) {
        table.push_str(&format!("{k},{}\n", 0.1 * k as f64));
    }
    std::fs::write(dir.join("biophysical.csv"), table).unwrap();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipeline/pipeline.toml");
    std::fs::copy(example, dir.join("pipeline.toml")).unwrap();
    dir
}

/// `pgp run --json` in `dir`, with extra arguments; the parsed result.
fn run_json(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let out = pgp()
        .arg("run")
        .arg(dir.join("pipeline.toml"))
        .args(["--executor", "threading:2", "--json"])
        .args(extra)
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

fn names(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no `{key}` in {v}"))
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

fn cp_r(from: &Path, to: &Path) {
    let ok = std::process::Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn a_copied_pipeline_project_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let proj = project(dir.path(), "proj");
    assert_eq!(names(&run_json(&proj, &[]), "ran").len(), 4);
    let copy = dir.path().join("deeper/copy");
    std::fs::create_dir_all(copy.parent().unwrap()).unwrap();
    cp_r(&proj, &copy);
    let again = run_json(&copy, &[]);
    assert!(names(&again, "ran").is_empty(), "{again}");
    assert_eq!(names(&again, "skipped").len(), 4);
}
