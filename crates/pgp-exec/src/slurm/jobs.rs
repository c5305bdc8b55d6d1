//! Talking to Slurm through its commands: `sbatch`, `squeue`, `scancel`.
//!
//! The commands are what every cluster has and what its admins expect; pgp never talks to
//! `slurmctld` directly. Queries ask for all jobs of this run by their shared job name, once per
//! poll for the whole pool, so the controller sees one light request per interval whatever the
//! number of workers or tasks.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A job's state as `squeue` prints it (`PENDING`, `RUNNING`, `CANCELLED`, `TIMEOUT`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobState(pub String);

impl JobState {
    /// True for states after which the job runs no more.
    pub fn is_final(&self) -> bool {
        !matches!(
            self.0.as_str(),
            "PENDING"
                | "RUNNING"
                | "CONFIGURING"
                | "COMPLETING"
                | "REQUEUED"
                | "RESIZING"
                | "SUSPENDED"
                | "STOPPED"
                | "SIGNALING"
                | "STAGE_OUT"
                | "REQUEUE_HOLD"
                | "REQUEUE_FED"
                | "RESV_DEL_HOLD"
        )
    }

    /// What the state means for a worker that was killed, in plain words.
    pub fn explain(&self) -> &'static str {
        match self.0.as_str() {
            "TIMEOUT" => " (the job reached its walltime; raise `time` or set `task_time`)",
            "OUT_OF_MEMORY" => " (the job ran out of memory; raise `mem`)",
            "CANCELLED" => " (scancel, or an administrator)",
            "NODE_FAIL" => " (its node failed)",
            "PREEMPTED" => " (preempted by a higher-priority job)",
            "BOOT_FAIL" => " (its node did not boot)",
            "DEADLINE" => " (it passed its deadline)",
            _ => "",
        }
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn run(mut command: Command, what: &str) -> Result<String, String> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "`{what}` was not found on PATH: the Slurm executor needs the Slurm commands \
                 (run pgp on a cluster's login node, or install slurm-client)"
            ),
            _ => format!("`{what}` could not be run: {e}"),
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(format!(
            "`{what}` failed ({}): {}",
            output.status,
            stderr.trim()
        ))
    }
}

/// What one `sbatch` call submits.
pub(crate) struct Submission<'a> {
    pub job_name: &'a str,
    pub run_dir: &'a Path,
    pub work_dir: &'a Path,
    pub script: &'a Path,
    pub options: &'a [String],
}

/// Submits one worker job; returns its id and log file.
pub(crate) fn sbatch(s: &Submission<'_>) -> Result<(u64, PathBuf), String> {
    let mut command = Command::new("sbatch");
    command
        .arg("--parsable")
        .arg(format!("--job-name={}", s.job_name))
        .arg(format!(
            "--output={}",
            s.run_dir.join("worker-%j.log").display()
        ))
        .arg(format!("--chdir={}", s.work_dir.display()))
        .args(s.options)
        .arg(s.script);
    let out = run(command, "sbatch")?;
    // `--parsable` prints `id` or `id;cluster`.
    let id = out
        .trim()
        .split(';')
        .next()
        .and_then(|id| id.parse::<u64>().ok())
        .ok_or_else(|| format!("`sbatch` printed {:?} instead of a job id", out.trim()))?;
    Ok((id, s.run_dir.join(format!("worker-{id}.log"))))
}

/// States of every job named `job_name` that the controller still remembers (finished jobs stay
/// for `MinJobAge`, 300 s by default).
pub(crate) fn squeue(job_name: &str) -> Result<Vec<(u64, JobState)>, String> {
    let mut command = Command::new("squeue");
    command
        .arg("--noheader")
        .arg("--states=all")
        .arg(format!("--name={job_name}"))
        .arg("--format=%i|%T");
    let out = run(command, "squeue")?;
    Ok(parse_squeue(&out))
}

fn parse_squeue(out: &str) -> Vec<(u64, JobState)> {
    out.lines()
        .filter_map(|line| {
            let (id, state) = line.trim().split_once('|')?;
            Some((id.trim().parse().ok()?, JobState(state.trim().to_string())))
        })
        .collect()
}

/// Cancels these jobs (quietly: a job that already ended is not an error).
pub(crate) fn scancel(ids: &[u64]) -> Result<(), String> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut command = Command::new("scancel");
    command
        .arg("--quiet")
        .args(ids.iter().map(u64::to_string))
        .stderr(Stdio::null());
    run(command, "scancel").map(|_| ())
}

/// The last lines of a job's log, for an error message.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_parse_and_garbage_is_skipped() {
        let jobs = parse_squeue("12|RUNNING\n 13|PENDING \nnot a job\n14|OUT_OF_MEMORY\n|x\n");
        assert_eq!(
            jobs,
            vec![
                (12, JobState("RUNNING".into())),
                (13, JobState("PENDING".into())),
                (14, JobState("OUT_OF_MEMORY".into())),
            ]
        );
        assert!(!jobs[0].1.is_final());
        assert!(!jobs[1].1.is_final());
        assert!(jobs[2].1.is_final());
        assert!(jobs[2].1.explain().contains("mem"));
    }
}
