//! `pgp run` on a real Slurm (`scripts/start-slurm.sh`): the example pipeline gives byte-identical
//! outputs to threading, and a rerun skips everything without submitting a job. Skipped with a
//! message when no Slurm is reachable, unless `PGP_REQUIRE_SLURM=1` (set by `.ci/run`).

use std::path::Path;

use assert_cmd::Command;
use pgp::core::sample;

fn slurm_available() -> bool {
    let answer = std::process::Command::new("sinfo")
        .args(["--noheader", "--format=%a"])
        .output();
    let problem = match answer {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => return true,
        Ok(out) => format!(
            "sinfo failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => format!("sinfo could not run: {e}"),
    };
    assert!(
        !std::env::var("PGP_REQUIRE_SLURM").is_ok_and(|v| v == "1"),
        "PGP_REQUIRE_SLURM=1 but no Slurm is reachable ({problem}); run scripts/start-slurm.sh"
    );
    eprintln!("skipping: no Slurm is reachable ({problem}); start one with scripts/start-slurm.sh");
    false
}

fn example(dir: &Path) {
    sample::generate(dir.join("data"), 128, 5).unwrap();
    let mut table = String::from("lucode,coef\n");
    for k in (1..=12).filter(|&k| k != 7) {
        table.push_str(&format!("{k},{}\n", 0.1 * k as f64));
    }
    std::fs::write(dir.join("biophysical.csv"), table).unwrap();
    std::fs::create_dir(dir.join("work")).unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipeline/pipeline.toml");
    std::fs::copy(file, dir.join("pipeline.toml")).unwrap();
}

fn run(dir: &Path, executor: &str) -> (String, String) {
    let out = Command::cargo_bin("pgp")
        .unwrap()
        .args(["--progress", "lines", "run"])
        .arg(dir.join("pipeline.toml"))
        .args(["--executor", executor])
        .assert()
        .success();
    let output = out.get_output();
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn jobs_known_to_slurm() -> Vec<String> {
    let out = std::process::Command::new("squeue")
        .args(["--noheader", "--states=all", "--format=%i"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

#[test]
fn the_example_pipeline_on_slurm_matches_threading_and_reruns_without_jobs() {
    if !slurm_available() {
        return;
    }
    let (threads, slurm) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    example(threads.path());
    example(slurm.path());
    let (out, _) = run(threads.path(), "threading:2");
    assert!(out.contains("4 task(s) ran"), "{out}");
    let (out, progress) = run(slurm.path(), "slurm:workers=2,mem=300M,time=00:10:00");
    assert!(
        out.contains("4 task(s) ran, 0 skipped") && out.contains("on slurm:workers=2,mem=300M"),
        "{out}"
    );
    // The allocations were shown next to the task progress.
    assert!(
        progress.contains("pgp: slurm: ") && progress.contains("(jobs "),
        "{progress}"
    );
    for output in [
        "work/dem_aligned.tif",
        "work/landcover_aligned.tif",
        "work/precip_aligned.tif",
        "work/coef.tif",
        "work/runoff.tif",
        "work/zonal_runoff.json",
    ] {
        let a = std::fs::read(threads.path().join(output)).unwrap();
        let b = std::fs::read(slurm.path().join(output)).unwrap();
        assert!(a == b, "{output} differs between threading and Slurm");
    }
    // The run's files are gone (no failure to explain).
    let leftover = slurm.path().join(".pgp-slurm");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while leftover.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!leftover.exists(), "Slurm run directory left behind");

    let before = jobs_known_to_slurm();
    let (out, _) = run(slurm.path(), "slurm:workers=2,mem=300M,time=00:10:00");
    assert!(
        out.contains("nothing to do: all 4 task(s) up to date"),
        "{out}"
    );
    let new: Vec<String> = jobs_known_to_slurm()
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert!(
        new.is_empty(),
        "a rerun with nothing to do submitted jobs {new:?}"
    );
    assert!(!leftover.exists());
}
