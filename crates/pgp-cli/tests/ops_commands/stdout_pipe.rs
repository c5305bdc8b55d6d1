//! A closed stdout (`pgp ... | head -3`) ends the command quietly, as it ends `ls | head`.

use std::process::{Command, Stdio};

use crate::util::sample_data;

/// Run `pgp ARGS...` with stdout a real pipe whose reading end is closed before the command
/// writes anything (it has its inputs to read first); return (exit code, stderr).
fn run_into_a_closed_pipe(args: &[String]) -> (Option<i32>, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("pgp"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn commands_end_quietly_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let dem = data.dem.display().to_string();
    let out = dir.path().join("double.tif").display().to_string();
    let zones = data.zones.display().to_string();
    let commands: Vec<Vec<String>> = vec![
        [
            "calc",
            "a*2",
            "--in",
            &format!("a={dem}"),
            "--out",
            &out,
            "--json",
        ]
        .map(String::from)
        .to_vec(),
        ["calc", "a*2", "--in", &format!("a={dem}"), "--out", &out]
            .map(String::from)
            .to_vec(),
        ["info", &dem].map(String::from).to_vec(),
        ["zonal-stats", &dem, &zones].map(String::from).to_vec(),
        ["-v", "info", &dem].map(String::from).to_vec(),
    ];
    for args in commands {
        let (code, stderr) = run_into_a_closed_pipe(&args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        let stderr: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with('{')) // -v log lines
            .collect();
        assert!(stderr.is_empty(), "{args:?}: {stderr:?}");
    }
    // The output was still written in full.
    assert!(std::path::Path::new(&out).exists());
}
