//! `pgp run` on a real Slurm (`scripts/start-slurm.sh`): the example pipeline gives byte-identical
//! outputs to threading, and a rerun skips everything without submitting a job. Skipped with a
//! message when no Slurm is reachable, unless `PGP_REQUIRE_SLURM=1` (set by `.ci/run`).

mod interrupt;

use std::path::Path;
use std::time::{Duration, Instant};

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

/// The cluster's node names, as `sinfo` lists them.
fn slurm_nodes() -> Vec<String> {
    let out = std::process::Command::new("sinfo")
        .args(["--noheader", "--Node", "--format=%N"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

/// The rows of the report's worker table: (task, state, worker, Slurm job, node).
fn report_workers(report: &str) -> Vec<[String; 5]> {
    let Some(start) = report.find("<table class=\"workers\">") else {
        return Vec::new();
    };
    let table = &report[start..start + report[start..].find("</table>").unwrap()];
    table
        .split("<tr><td>")
        .skip(1)
        .map(|row| {
            let cells: Vec<String> = row
                .trim_end_matches("</td></tr>\n")
                .split("</td><td>")
                .map(str::to_string)
                .collect();
            cells.try_into().unwrap()
        })
        .collect()
}

/// (id, state) of the jobs a `pgp` process with this pid submitted (their names start with
/// `pgp-<pid>-`).
fn jobs_of(pid: u32) -> Vec<(String, String)> {
    let out = std::process::Command::new("squeue")
        .args(["--noheader", "--states=all", "--format=%i|%j|%T"])
        .output()
        .unwrap();
    let prefix = format!("pgp-{pid}-");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut parts = l.trim().split('|');
            let (id, name, state) = (parts.next()?, parts.next()?, parts.next()?);
            name.starts_with(&prefix)
                .then(|| (id.to_string(), state.to_string()))
        })
        .collect()
}

/// Ctrl-C during `pgp run` on Slurm: every job the run submitted is cancelled before it ends
/// (pending ones too: none is left in the queue), no temporary or run directory is left, and
/// nothing is recorded falsely (see `interrupt`).
#[test]
fn ctrl_c_during_a_run_on_slurm_cancels_every_job_and_leaves_nothing_behind() {
    if !slurm_available() {
        return;
    }
    let reference = interrupt::reference(128);
    let dir = tempfile::tempdir().unwrap();
    interrupt::example(dir.path(), 128);
    let run = interrupt::interrupt_run(
        dir.path(),
        "slurm:workers=2,mem=300M,time=00:10:00",
        reference.path(),
        &|pid| !jobs_of(pid).is_empty(),
    );
    let jobs = jobs_of(run.pid);
    assert!(!jobs.is_empty());
    assert!(
        jobs.iter()
            .all(|(_, state)| matches!(state.as_str(), "CANCELLED" | "COMPLETING" | "COMPLETED")),
        "jobs the interrupted run did not cancel: {jobs:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while jobs_of(run.pid).iter().any(|(_, s)| s == "COMPLETING") {
        assert!(Instant::now() < deadline, "{:?}", jobs_of(run.pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        !dir.path().join(".pgp-slurm").exists(),
        "the Slurm run directory was left behind"
    );
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
    // The report names the Slurm job and node that ran each task.
    let report = std::fs::read_to_string(slurm.path().join(".pgp/report.html")).unwrap();
    let rows = report_workers(&report);
    let (jobs, nodes) = (jobs_known_to_slurm(), slurm_nodes());
    let tasks: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        tasks,
        ["align", "coefficients", "runoff", "zonal"],
        "{report}"
    );
    for [task, state, worker, job, node] in &rows {
        assert_eq!(state, "ran", "{task}");
        assert!(
            jobs.contains(job),
            "{task}: job {job:?} is not one of {jobs:?}"
        );
        assert!(
            nodes.contains(node),
            "{task}: node {node:?} not in {nodes:?}"
        );
        assert!(
            worker.starts_with(&format!("Slurm job {job} on {node} (pid ")),
            "{task}: {worker}"
        );
    }
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
