//! Runs that go wrong around the pipeline rather than inside it: a report that cannot be
//! written, two runs at once, commands stopped by signals. Real processes, real files.

mod interrupt;

use std::path::Path;

use assert_cmd::Command;
use pgp::core::sample;

fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

/// The example pipeline beside generated data (96² rasters, seed 5).
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sample::generate(dir.path().join("data"), 96, 5).unwrap();
    let mut table = String::from("lucode,coef\n");
    for k in (1..=12).filter(|&k| k != 7) {
        table.push_str(&format!("{k},{}\n", 0.1 * k as f64));
    }
    std::fs::write(dir.path().join("biophysical.csv"), table).unwrap();
    std::fs::create_dir(dir.path().join("work")).unwrap();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipeline/pipeline.toml");
    std::fs::copy(example, dir.path().join("pipeline.toml")).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A full disk while writing report.html: the report's temporary is a link to /dev/full, so the
/// write really fails with ENOSPC. The run's result must still be printed, the report named in
/// a warning, and nothing half-written left.
#[cfg(target_os = "linux")]
#[test]
fn a_report_that_cannot_be_written_is_a_warning_after_the_result() {
    let dir = setup();
    let workspace = dir.path().join(".pgp");
    std::fs::create_dir(&workspace).unwrap();
    let tmp = workspace.join("report.html.tmp");
    std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
    let out = pgp()
        .arg("run")
        .arg(dir.path().join("pipeline.toml"))
        .assert()
        .success();
    let (stdout, stderr) = (
        text(&out.get_output().stdout),
        text(&out.get_output().stderr),
    );
    assert!(stdout.contains("4 task(s) ran, 0 skipped"), "{stdout}");
    assert!(stdout.contains("runoff"), "per-task lines: {stdout}");
    assert!(stdout.contains("no report"), "{stdout}");
    let report = workspace.join("report.html");
    assert!(
        stderr.contains(&format!(
            "pgp: warning: could not write the report {}",
            report.display()
        )) && stderr.contains("No space left on device"),
        "{stderr}"
    );
    assert!(!report.exists());
    assert!(
        std::fs::symlink_metadata(&tmp).is_err(),
        "report.html.tmp left behind"
    );
    // Outputs are complete and recorded: the next run skips everything and writes its report.
    let again = pgp()
        .arg("run")
        .arg(dir.path().join("pipeline.toml"))
        .assert()
        .success();
    assert!(text(&again.get_output().stdout).contains("nothing to do: all 4 task(s)"));
    assert!(report.is_file());
}

/// Starts `pgp run` on the pipeline with its own workspace, and waits until it holds the
/// output directory `work/` (its lock note appears). `None` if it finished first.
fn start_holder(dir: &Path, workspace: &str) -> Option<std::process::Child> {
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgp"))
        .arg("run")
        .arg(dir.join("pipeline.toml"))
        .arg("--workspace")
        .arg(dir.join(workspace))
        .args(["--executor", "sync"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let note = dir.join("work/.pgp-lock");
    loop {
        if note.exists() {
            return Some(child);
        }
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Two runs of one pipeline with different workspaces: the second must not write the same
/// outputs while the first does. It fails naming the holder, or with --wait queues behind it.
#[test]
fn a_second_run_writing_the_same_outputs_is_refused_or_waits() {
    let dir = tempfile::tempdir().unwrap();
    sample::generate(dir.path().join("data"), 256, 5).unwrap();
    let setup = setup();
    for f in ["pipeline.toml", "biophysical.csv"] {
        std::fs::copy(setup.path().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::create_dir(dir.path().join("work")).unwrap();
    let mut refused = false;
    for _ in 0..5 {
        // Fresh workspaces: the first run must really run (not skip) to overlap the second.
        for ws in ["ws-one", "ws-two"] {
            let _ = std::fs::remove_dir_all(dir.path().join(ws));
        }
        let Some(mut first) = start_holder(dir.path(), "ws-one") else {
            continue;
        };
        let second = pgp()
            .arg("run")
            .arg(dir.path().join("pipeline.toml"))
            .arg("--workspace")
            .arg(dir.path().join("ws-two"))
            .output()
            .unwrap();
        let overlapped = first.try_wait().unwrap().is_none();
        let status = first.wait().unwrap();
        assert!(status.success());
        if !overlapped {
            continue; // the first run ended before the second looked: try again
        }
        let stderr = text(&second.stderr);
        assert_eq!(second.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("are being written by another run")
                && stderr.contains(&format!("process {}", first.id()))
                && stderr.contains("ws-one")
                && stderr.contains("--wait"),
            "{stderr}"
        );
        refused = true;
        break;
    }
    assert!(refused, "the first run never overlapped the second");

    let mut queued = false;
    for _ in 0..5 {
        // Fresh workspaces: the first run must really run (not skip) to overlap the second.
        for ws in ["ws-one", "ws-two"] {
            let _ = std::fs::remove_dir_all(dir.path().join(ws));
        }
        let Some(mut first) = start_holder(dir.path(), "ws-one") else {
            continue;
        };
        let second = pgp()
            .arg("run")
            .arg(dir.path().join("pipeline.toml"))
            .arg("--workspace")
            .arg(dir.path().join("ws-two"))
            .arg("--wait")
            .output()
            .unwrap();
        assert!(first.wait().unwrap().success());
        let stderr = text(&second.stderr);
        assert!(second.status.success(), "{stderr}");
        if !stderr.contains("pgp: waiting (--wait): ") {
            continue; // no overlap this time
        }
        assert!(
            stderr.contains(&format!("process {}", first.id())),
            "{stderr}"
        );
        queued = true;
        break;
    }
    assert!(queued, "the first run never overlapped the waiting one");
    // Both completed in turn: the outputs are whole and no temporaries or lock notes are left.
    let zonal: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("work/zonal_runoff.json")).unwrap(),
    )
    .unwrap();
    assert!(!zonal.as_object().unwrap().is_empty());
    let names: Vec<String> = std::fs::read_dir(dir.path().join("work"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert_eq!(names, Vec::<String>::new());
}

/// Hidden temporaries (`.*pgp-tmp*`) in `dir`.
fn hidden_temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("pgp-tmp"))
        .collect()
}

/// `pgp calc` stopped by SIGINT or SIGTERM while writing: it dies of the signal and leaves no
/// hidden temporary beside the output.
#[cfg(unix)]
#[test]
fn a_command_stopped_by_a_signal_leaves_no_temporary() {
    use std::os::unix::process::ExitStatusExt;
    let data = tempfile::tempdir().unwrap();
    let paths = sample::generate(data.path(), 1024, 3).unwrap();
    for signal in [libc::SIGINT, libc::SIGTERM] {
        let out_dir = tempfile::tempdir().unwrap();
        let mut stopped = false;
        for _ in 0..5 {
            let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("pgp"))
                .args(["calc", "a * a * 2 - a / 3 + 1", "--in"])
                .arg(format!("a={}", paths.dem.display()))
                .arg("--out")
                .arg(out_dir.path().join("out.tif"))
                .args(["--executor", "sync", "--progress", "off"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            // Signal it once its temporary exists, i.e. in the middle of writing.
            let seen = loop {
                if !hidden_temporaries(out_dir.path()).is_empty() {
                    break true;
                }
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
            };
            if seen {
                // SAFETY: signalling our own child, which has not been reaped.
                unsafe { libc::kill(child.id() as libc::pid_t, signal) };
            }
            let status = child.wait().unwrap();
            if !seen || status.success() {
                let _ = std::fs::remove_file(out_dir.path().join("out.tif"));
                continue; // finished before the signal landed: try again
            }
            assert_eq!(status.signal(), Some(signal), "{status:?}");
            assert_eq!(hidden_temporaries(out_dir.path()), Vec::<String>::new());
            assert!(!out_dir.path().join("out.tif").exists());
            stopped = true;
            break;
        }
        assert!(stopped, "calc always finished before signal {signal}");
    }
}

/// A SIGKILL cannot be caught: the next command writing the same output removes temporaries of
/// processes that are gone, and keeps those of live ones.
#[cfg(unix)]
#[test]
fn orphaned_temporaries_of_dead_processes_are_swept_by_the_next_write() {
    let data = tempfile::tempdir().unwrap();
    let paths = sample::generate(data.path(), 64, 3).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let orphan = format!(".out.pgp-tmp-{dead}-0.tif");
    let live = format!(".out.pgp-tmp-{}-0.tif", std::process::id());
    for name in [&orphan, &live] {
        std::fs::write(out_dir.path().join(name), vec![0u8; 4096]).unwrap();
    }
    pgp()
        .args(["calc", "a + 1", "--in"])
        .arg(format!("a={}", paths.dem.display()))
        .arg("--out")
        .arg(out_dir.path().join("out.tif"))
        .assert()
        .success();
    assert_eq!(hidden_temporaries(out_dir.path()), vec![live]);
}

/// Ctrl-C during `pgp run` on worker processes: the run dies of SIGINT, its worker processes are
/// gone, no temporary is left and nothing is recorded falsely (see `interrupt`).
#[cfg(unix)]
#[test]
fn ctrl_c_during_a_run_on_worker_processes_leaves_nothing_behind() {
    let reference = interrupt::reference(512);
    let dir = tempfile::tempdir().unwrap();
    interrupt::example(dir.path(), 512);
    interrupt::interrupt_run(dir.path(), "multiprocessing:2", reference.path(), &|_| true);
}
