//! Is a Slurm cluster reachable? Tests that need one skip without it, unless CI requires it.

/// True if `sinfo` answers. Otherwise prints why the checks are skipped, or panics when
/// `PGP_REQUIRE_SLURM=1` (set by `.ci/run`, which starts a Slurm first).
pub fn available() -> bool {
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
    if std::env::var("PGP_REQUIRE_SLURM").is_ok_and(|v| v == "1") {
        panic!("PGP_REQUIRE_SLURM=1 but no Slurm is reachable ({problem}); run scripts/start-slurm.sh as root");
    }
    eprintln!(
        "skipping the Slurm tests: no Slurm is reachable ({problem}). Start one with \
         scripts/start-slurm.sh (as root); PGP_REQUIRE_SLURM=1 makes this a failure."
    );
    false
}
