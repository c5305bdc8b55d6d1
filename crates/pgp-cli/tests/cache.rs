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

/// A fresh project `name` beside `from` with the same inputs (a GeoPackage generated again would
/// differ: it holds its creation time), and no outputs or workspace.
fn same_inputs(from: &Path, name: &str) -> PathBuf {
    let dir = from.parent().unwrap().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    cp_r(&from.join("data"), &dir.join("data"));
    for f in ["biophysical.csv", "pipeline.toml"] {
        std::fs::copy(from.join(f), dir.join(f)).unwrap();
    }
    dir
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
    // Thumbnails are named by content, so the copy's report finds them instead of redrawing:
    // a marker put in place of one survives the rerun.
    let thumbs: Vec<PathBuf> = std::fs::read_dir(copy.join(".pgp/thumbnails"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(thumbs.len(), 5);
    std::fs::write(&thumbs[0], b"marker").unwrap();
    let again = run_json(&copy, &[]);
    assert!(names(&again, "ran").is_empty(), "{again}");
    assert_eq!(names(&again, "skipped").len(), 4);
    assert_eq!(std::fs::read(&thumbs[0]).unwrap(), b"marker", "redrawn");
}

fn stats(store: &Path) -> serde_json::Value {
    let out = pgp()
        .args(["cache", "stats", "--json", "--cache"])
        .arg(store)
        .assert()
        .success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

#[test]
fn a_fresh_project_restores_every_task_from_the_shared_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = project(dir.path(), "a");
    let first = run_json(&a, &["--cache", store.to_str().unwrap()]);
    assert_eq!(names(&first, "ran").len(), 4);
    assert!(names(&first, "restored").is_empty());
    assert_eq!(stats(&store)["entries"], 4);
    // The thumbnails went to the store too, beside their outputs' blobs; one is replaced by a
    // marker, which the next project's report must show instead of drawing its own.
    let derived: Vec<PathBuf> = std::fs::read_dir(store.join("derived"))
        .unwrap()
        .flat_map(|fan| std::fs::read_dir(fan.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(derived.len(), 5, "{derived:?}");
    let name = derived[0]
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let (hex, kind) = name.split_once('.').unwrap();
    let of = pgp::graph::Digest::from_hex(hex).unwrap();
    let cache = pgp::graph::cache::Cache::open(&store).unwrap();
    cache.add_derived(&of, kind, b"marker").unwrap();

    // Another project, same inputs, store named by the environment: nothing runs.
    let b = same_inputs(&a, "b");
    let dry = pgp()
        .arg("run")
        .arg(b.join("pipeline.toml"))
        .arg("--dry-run")
        .env("PGP_CACHE", &store)
        .assert()
        .success();
    let dry = String::from_utf8_lossy(&dry.get_output().stdout).to_string();
    assert_eq!(dry.matches("restored from cache").count(), 4, "{dry}");
    let out = pgp()
        .arg("run")
        .arg(b.join("pipeline.toml"))
        .args(["--executor", "threading:2", "--json"])
        .env("PGP_CACHE", &store)
        .assert()
        .success();
    let second: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(names(&second, "ran").is_empty(), "{second}");
    assert_eq!(
        names(&second, "restored"),
        ["align", "coefficients", "runoff", "zonal"]
    );
    for f in ["work/runoff.tif", "work/coef.tif", "work/zonal_runoff.json"] {
        assert_eq!(
            std::fs::read(b.join(f)).unwrap(),
            std::fs::read(a.join(f)).unwrap(),
            "{f}"
        );
    }
    let report = std::fs::read_to_string(b.join(".pgp/report.html")).unwrap();
    assert!(report.contains("4 restored from cache"), "report summary");
    assert_eq!(
        report.matches("<figure class=\"thumb\">").count(),
        5,
        "restored outputs get thumbnails"
    );
    let markers = std::fs::read_dir(b.join(".pgp/thumbnails"))
        .unwrap()
        .filter(|e| std::fs::read(e.as_ref().unwrap().path()).unwrap() == b"marker")
        .count();
    assert_eq!(
        markers, 1,
        "the store's thumbnail is taken, not drawn again"
    );
    assert_eq!(stats(&store)["hits"], 4);

    // The pipeline file's own `cache` key, relative to the file.
    let c = same_inputs(&a, "c");
    let text = std::fs::read_to_string(c.join("pipeline.toml")).unwrap();
    std::fs::write(
        c.join("pipeline.toml"),
        format!("cache = \"../store\"\n{text}"),
    )
    .unwrap();
    let third = run_json(&c, &[]);
    assert_eq!(names(&third, "restored").len(), 4, "{third}");
}

#[test]
fn cache_commands_gc_and_verify_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let a = project(dir.path(), "a");
    run_json(&a, &["--cache", store.to_str().unwrap()]);
    let s = stats(&store);
    assert_eq!(
        (s["entries"].as_u64(), s["blobs"].as_u64()),
        (Some(4), Some(6))
    );
    let bytes = s["bytes"].as_u64().unwrap();

    let out = pgp()
        .args(["cache", "verify"])
        .env("PGP_CACHE", &store)
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains("6 blobs") && text.contains("0 damaged"),
        "{text}"
    );

    // Truncate one blob: verify names it, removes it and fails.
    let blob = std::fs::read_dir(store.join("blobs"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut perms = std::fs::metadata(&blob).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(&blob, perms).unwrap();
    let content = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &content[..content.len() / 3]).unwrap();
    let out = pgp()
        .args(["cache", "verify", "--cache"])
        .arg(&store)
        .assert()
        .failure();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        text.contains(&format!("damaged (removed): {}", blob.display())),
        "{text}"
    );
    assert!(!blob.exists());
    assert_eq!(
        stats(&store)["entries"],
        3,
        "the entry that needed it went too"
    );

    // gc to a size smaller than everything: every entry goes, with the blobs they named (the
    // blobs of the entry verify removed are left for the grace period: a writer may own them).
    pgp()
        .args(["cache", "gc", "--max-size", "1K", "--cache"])
        .arg(&store)
        .assert()
        .success();
    let s = stats(&store);
    assert_eq!(s["entries"], 0);
    assert!(s["bytes"].as_u64().unwrap() < bytes / 2, "{s}");

    let bad = pgp()
        .args(["cache", "gc", "--max-size", "12X", "--cache"])
        .arg(&store)
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&bad.get_output().stderr).to_string();
    assert!(
        err.contains("invalid size '12X'") && err.contains("unknown unit"),
        "{err}"
    );
    let none = pgp().args(["cache", "stats"]).assert().failure();
    let err = String::from_utf8_lossy(&none.get_output().stderr).to_string();
    assert!(err.contains("--cache DIR or the PGP_CACHE"), "{err}");
    let missing = pgp()
        .args(["cache", "stats", "--cache"])
        .arg(dir.path().join("nowhere"))
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&missing.get_output().stderr).to_string();
    assert!(
        err.contains("no cache at") && err.contains("nowhere"),
        "{err}"
    );
}
