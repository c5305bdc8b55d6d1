//! Runs that go wrong around the pipeline rather than inside it: a report that cannot be
//! written, two runs at once, commands stopped by signals. Real processes, real files.

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
