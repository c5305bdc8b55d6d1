//! `pgp-bench --peer` finds the peers where bench/peer-setup.sh put them: `$PGP_PEER_VENV`.

use std::process::Command;

#[test]
fn pgp_peer_venv_chooses_the_peers_python() {
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("no-venv-here");
    let out = Command::new(env!("CARGO_BIN_EXE_pgp-bench"))
        .args(["--peer", "--size", "16", "--cases", "io_floor", "--out"])
        .arg(dir.path().join("bench-out"))
        .env("PGP_PEER_VENV", &venv)
        .env_remove("PGP_PEER_PYTHON")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "ran without the venv it was given: {stderr}"
    );
    let python = venv.join("bin/python");
    assert!(
        stderr.contains(&format!(
            "{} (PGP_PEER_VENV) does not exist",
            python.display()
        )),
        "{stderr}"
    );
    // Nothing was generated or run before the check.
    assert!(!dir.path().join("bench-out").exists());
}
