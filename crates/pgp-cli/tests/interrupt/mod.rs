//! `pgp run` stopped by Ctrl-C (SIGINT) mid-run, on any executor: it dies of the signal (a
//! shell shows exit status 130), its workers are gone, it leaves no temporary, and its records
//! claim nothing false: a rerun produces exactly the outputs of an uninterrupted run.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pgp::core::sample;

/// The example pipeline beside generated data (`size`² rasters, seed 5).
pub fn example(dir: &Path, size: usize) {
    sample::generate(dir.join("data"), size, 5).unwrap();
    let mut table = String::from("lucode,coef\n");
    for k in (1..=12).filter(|&k| k != 7) {
        table.push_str(&format!("{k},{}\n", 0.1 * k as f64));
    }
    std::fs::write(dir.join("biophysical.csv"), table).unwrap();
    std::fs::create_dir(dir.join("work")).unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipeline/pipeline.toml");
    std::fs::copy(file, dir.join("pipeline.toml")).unwrap();
}

/// Each task's outputs, relative to the pipeline's directory.
pub const OUTPUTS: [(&str, &[&str]); 4] = [
    (
        "align",
        &[
            "work/dem_aligned.tif",
            "work/landcover_aligned.tif",
            "work/precip_aligned.tif",
        ],
    ),
    ("coefficients", &["work/coef.tif"]),
    ("runoff", &["work/runoff.tif"]),
    ("zonal", &["work/zonal_runoff.json"]),
];

fn pgp(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("pgp"))
        .args(["--progress", "off", "run"])
        .arg(dir.join("pipeline.toml"))
        .args(args)
        .output()
        .unwrap()
}

/// Every file or directory under `dir` whose name marks a temporary (`pgp-tmp`).
pub fn temporaries(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().contains("pgp-tmp") {
                found.push(path.clone());
            }
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
    found
}

/// Child processes of `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: the command may hold spaces, so split after its ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            kids.push(child);
        }
    }
    kids
}

/// Alive and not a zombie (a container's init may reap lazily).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
        })
        .is_some_and(|zombie| !zombie)
}

/// What one interrupted run left to check.
pub struct Interrupted {
    /// The pid the run had.
    pub pid: u32,
}

/// Runs the pipeline in `dir` on `executor` and sends SIGINT once a task is under way (its
/// temporary directory exists and `ready(pid)` says so); tries again (from scratch) when the
/// run finished first. Then checks what every executor must guarantee: death by SIGINT, no
/// worker process left, no temporary left, and no false record (the dry run's skips are
/// exactly the tasks whose outputs are already those of `reference`, and a rerun makes every
/// output identical to it).
pub fn interrupt_run(
    dir: &Path,
    executor: &str,
    reference: &Path,
    ready: &dyn Fn(u32) -> bool,
) -> Interrupted {
    use std::os::unix::process::ExitStatusExt;
    for _attempt in 0..5 {
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgp"))
            .args(["--progress", "off", "run"])
            .arg(dir.join("pipeline.toml"))
            .args(["--executor", executor])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(60);
        let under_way = loop {
            let temp = std::fs::read_dir(dir.join("work"))
                .unwrap()
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".pgp-tmp-"));
            if temp && ready(pid) {
                break true;
            }
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            assert!(Instant::now() < deadline, "no task started within 60 s");
            std::thread::sleep(Duration::from_millis(1));
        };
        let workers = children_of(pid);
        if under_way {
            // SAFETY: signalling our own child, which has not been reaped.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
        }
        let out = child.wait_with_output().unwrap();
        if !under_way || out.status.success() {
            // Finished before the signal landed: start again from nothing.
            let _ = std::fs::remove_dir_all(dir.join(".pgp"));
            std::fs::remove_dir_all(dir.join("work")).unwrap();
            std::fs::create_dir(dir.join("work")).unwrap();
            continue;
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(libc::SIGINT), "{stderr}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while workers.iter().any(|&w| alive(w)) {
            assert!(
                Instant::now() < deadline,
                "worker processes {workers:?} outlived the run"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(temporaries(dir), Vec::<PathBuf>::new(), "{stderr}");
        check_records(dir, reference);
        return Interrupted { pid };
    }
    panic!("the run on {executor} always finished before SIGINT landed");
}

/// Nothing false in the cache: every task the dry run would skip has the reference's outputs
/// already; the rerun skips exactly those and leaves every output identical to the reference.
fn check_records(dir: &Path, reference: &Path) {
    let plan = pgp(dir, &["--dry-run"]);
    assert!(plan.status.success());
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    let mut skipped = Vec::new();
    for (task, outputs) in OUTPUTS {
        let skip = plan.lines().any(|l| l == format!("skip  {task}"));
        assert!(
            skip || plan
                .lines()
                .any(|l| l.starts_with(&format!("run   {task}"))),
            "{plan}"
        );
        if skip {
            skipped.push(task);
            for output in outputs {
                assert!(
                    std::fs::read(dir.join(output)).ok()
                        == std::fs::read(reference.join(output)).ok(),
                    "{task} is recorded as done but {output} is not its output"
                );
            }
        }
    }
    let rerun = pgp(dir, &["--executor", "threading:2", "--json"]);
    assert!(
        rerun.status.success(),
        "{}",
        String::from_utf8_lossy(&rerun.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&rerun.stdout).unwrap();
    let mut rerun_skipped: Vec<&str> = result["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    rerun_skipped.sort_unstable();
    skipped.sort_unstable();
    assert_eq!(rerun_skipped, skipped, "{plan}");
    for (_, outputs) in OUTPUTS {
        for output in outputs {
            assert!(
                std::fs::read(dir.join(output)).unwrap()
                    == std::fs::read(reference.join(output)).unwrap(),
                "{output} differs from an uninterrupted run"
            );
        }
    }
}

/// An uninterrupted run of the example at `size`² on threads, in a new directory.
pub fn reference(size: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    example(dir.path(), size);
    let out = pgp(dir.path(), &["--executor", "threading:2"]);
    assert!(out.status.success());
    dir
}
