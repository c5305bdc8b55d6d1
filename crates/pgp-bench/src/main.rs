//! `pgp-bench`: pgp against pygeoprocessing and taskgraph, side by side, in one run.
//!
//! It makes the seeded sample data at a chosen size, runs every case on the synchronous executor
//! and on N workers (each run in a fresh child process, so peak memory is per case), runs the same
//! case through the Python peers on the same files (`bench/peer_cases.py`), checks that pgp's
//! output matches the peer's before it reports a time (a fast wrong answer is a failure), and
//! prints a table of seconds, peak memory and ratios.
//!
//!     cargo run --release -p pgp-bench -- --size 2048 --workers 2 --peer

mod cases;
mod compare;
mod report;

// The same allocator as the `pgp` binary, so the figures are what the CLI gets (see pgp-cli's
// main.rs for why).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};

#[derive(Debug, Parser)]
#[command(
    name = "pgp-bench",
    about = "pgp vs pygeoprocessing/taskgraph, side by side"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Width and height of the DEM in pixels.
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Workers for the parallel runs.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Comma-separated cases (default: all).
    #[arg(long)]
    cases: Option<String>,
    /// Also run the Python peers (needs the venv made by bench/peer-setup.sh).
    #[arg(long)]
    peer: bool,
    /// Python of the peers' virtual environment (default: `$PGP_PEER_VENV/bin/python`, else
    /// `~/.cache/pgp-peer/venv/bin/python`: where bench/peer-setup.sh installs them).
    #[arg(long, env = "PGP_PEER_PYTHON")]
    peer_python: Option<PathBuf>,
    /// Where data and outputs go.
    #[arg(long, default_value = "bench-out")]
    out: PathBuf,
    /// Also write the results as JSON lines to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Keep every case's outputs (by default they are deleted once checked: at 8192² they add
    /// up to several GB; the generated input data is always kept for the next run).
    #[arg(long)]
    keep_outputs: bool,
    /// Run every case (pgp's runners and the peers) this many times, in rounds that interleave
    /// them, and keep each runner's fastest run: on a noisy machine the best of a few runs is a
    /// steadier figure than one run. Every run's output is checked.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run one case in this process and print its measurement as JSON (used by the driver).
    #[command(hide = true)]
    Case {
        name: String,
        #[arg(long)]
        executor: String,
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
}

/// What one run of one case reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Measurement {
    /// Wall seconds of the operation itself (data generation and checks excluded).
    pub seconds: f64,
    /// Peak resident memory of the process (and its children) in MiB.
    pub peak_rss_mib: f64,
    /// Named outputs, for the correctness check.
    #[serde(default)]
    pub outputs: BTreeMap<String, PathBuf>,
    /// Extra timings some cases report (pipeline phases).
    #[serde(default)]
    pub phases: BTreeMap<String, f64>,
}

/// Peak resident set size of this process, from the kernel's high-water mark.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn main() -> ExitCode {
    pgp::exec::worker::run_if_worker();
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Cmd::Case {
            name,
            executor,
            data,
            out,
        }) => run_one(&name, &executor, &data, &out),
        None => drive(&cli.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pgp-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn run_one(name: &str, executor: &str, data: &Path, out: &Path) -> AnyResult<()> {
    let case = cases::find(name).ok_or_else(|| format!("unknown case {name:?}"))?;
    let exec: pgp::exec::Executor = executor.parse()?;
    let data = cases::Data::at(data);
    // A fresh directory, so a cold run is cold and a stale output cannot pass for a new one.
    if out.exists() {
        std::fs::remove_dir_all(out)?;
    }
    std::fs::create_dir_all(out)?;
    let t = Instant::now();
    let (outputs, phases) = (case.run)(&data, out, &exec)?;
    let seconds = phases
        .get("total")
        .copied()
        .unwrap_or_else(|| t.elapsed().as_secs_f64());
    let m = Measurement {
        seconds,
        peak_rss_mib: peak_rss_mib(),
        outputs,
        phases,
    };
    println!("{}", serde_json::to_string(&m)?);
    Ok(())
}

fn ensure_data(root: &Path, size: usize) -> AnyResult<PathBuf> {
    let dir = root.join("data").join(size.to_string());
    let stamp = dir.join("complete");
    if !stamp.exists() {
        let t = Instant::now();
        pgp::core::sample::generate(&dir, size, 1)?;
        std::fs::write(&stamp, format!("size {size} seed 1\n"))?;
        eprintln!(
            "generated sample data {size} x {size} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    Ok(dir)
}

fn child_measurement(mut cmd: Command, what: &str) -> AnyResult<Measurement> {
    let out = cmd.output()?;
    if !out.status.success() {
        // The whole story to the terminal, its last line (the error itself) to the table.
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{what} failed ({}):\n{}", out.status, stderr.trim_end());
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
        return Err(format!(
            "{what} failed ({}): {}",
            out.status,
            last.unwrap_or("").trim()
        )
        .into());
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| format!("{what} printed no measurement"))?;
    Ok(serde_json::from_str(line)?)
}

/// The peers' Python and where that choice came from: `--peer-python` (or `PGP_PEER_PYTHON`),
/// else the virtual environment bench/peer-setup.sh installs into, by the script's own rule
/// (`$PGP_PEER_VENV`, default `~/.cache/pgp-peer/venv`).
fn peer_python(
    explicit: Option<&Path>,
    venv: Option<&OsStr>,
    home: Option<&OsStr>,
) -> (PathBuf, &'static str) {
    if let Some(python) = explicit {
        return (python.to_path_buf(), "--peer-python / PGP_PEER_PYTHON");
    }
    match venv.filter(|v| !v.is_empty()) {
        Some(venv) => (Path::new(venv).join("bin/python"), "PGP_PEER_VENV"),
        None => (
            Path::new(home.unwrap_or_default()).join(".cache/pgp-peer/venv/bin/python"),
            "the default virtual environment",
        ),
    }
}

fn drive(args: &RunArgs) -> AnyResult<()> {
    let load_at_start = report::load_average();
    let (python, python_from) = peer_python(
        args.peer_python.as_deref(),
        std::env::var_os("PGP_PEER_VENV").as_deref(),
        std::env::var_os("HOME").as_deref(),
    );
    // Before any data is generated: a missing peer is a setup error, not a case failure.
    if args.peer && !python.exists() {
        return Err(format!(
            "the peers' Python {} ({python_from}) does not exist; run bench/peer-setup.sh",
            python.display()
        )
        .into());
    }
    let data = ensure_data(&args.out, args.size)?;
    let selected: Vec<&cases::Case> = match &args.cases {
        None => cases::ALL.iter().collect(),
        Some(list) => list
            .split(',')
            .map(|n| cases::find(n.trim()).ok_or_else(|| format!("unknown case {n:?}")))
            .collect::<Result<_, _>>()?,
    };
    let me = std::env::current_exe()?;
    let peer_script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/peer_cases.py");
    let mut rows = Vec::new();
    for case in selected {
        let out_root = args
            .out
            .join("out")
            .join(args.size.to_string())
            .join(case.name);
        let mut runners: Vec<String> = vec!["sync".into()];
        if case.parallel {
            runners.push(format!("threading:{}", args.workers));
            if case.processes {
                runners.push(format!("multiprocessing:{}", args.workers));
            }
        }
        // Best (fastest) measurement so far per pgp runner and per peer, with the load after it
        // and the worst check any of its runs got.
        let mut best: Vec<Option<(Measurement, Option<f64>)>> = vec![None; runners.len()];
        let mut checks: Vec<Option<String>> = vec![None; runners.len()];
        let mut peers: Vec<(&str, Result<Measurement, String>, Option<f64>)> = Vec::new();
        for _round in 0..args.repeat {
            let round_peers: Vec<(&str, Result<Measurement, String>, Option<f64>)> = if args.peer {
                case.peers
                    .iter()
                    .map(|p| {
                        let dir = out_root.join(format!("peer-{p}"));
                        let mut cmd = Command::new(&python);
                        cmd.arg(&peer_script)
                            .arg(p)
                            .arg("--data")
                            .arg(&data)
                            .arg("--out")
                            .arg(&dir)
                            .arg("--workers")
                            .arg(args.workers.to_string());
                        let m = child_measurement(cmd, &format!("peer case {p}"))
                            .map_err(|e| e.to_string());
                        (*p, m, report::load_average())
                    })
                    .collect()
            } else {
                Vec::new()
            };
            for (i, runner) in runners.iter().enumerate() {
                let dir = out_root.join(runner.replace(':', "-"));
                let mut cmd = Command::new(&me);
                cmd.arg("case")
                    .arg(case.name)
                    .arg("--executor")
                    .arg(runner)
                    .arg("--data")
                    .arg(&data)
                    .arg("--out")
                    .arg(&dir);
                let m = child_measurement(cmd, &format!("case {} on {runner}", case.name))?;
                let load = report::load_average();
                // Each run is checked against the peers' outputs of the same round.
                let check = match round_peers.first() {
                    Some((_, Ok(p), _)) => compare::check(case, &m, p),
                    Some((_, Err(e), _)) => format!("peer failed: {e}"),
                    None => "not compared".into(),
                };
                if !args.keep_outputs {
                    remove_outputs(&dir);
                }
                let keep_check = checks[i]
                    .as_ref()
                    .is_some_and(|c| c.starts_with("MISMATCH") || c.starts_with("peer failed"));
                if !keep_check {
                    checks[i] = Some(check);
                }
                if best[i].as_ref().is_none_or(|(b, _)| m.seconds < b.seconds) {
                    best[i] = Some((m, load));
                }
            }
            if peers.is_empty() {
                peers = round_peers;
            } else {
                for (kept, new) in peers.iter_mut().zip(round_peers) {
                    match (&kept.1, new.1) {
                        (Ok(k), Ok(n)) if n.seconds < k.seconds => *kept = (new.0, Ok(n), new.2),
                        (Ok(_), Err(e)) => *kept = (new.0, Err(e), new.2),
                        _ => {}
                    }
                }
            }
        }
        let baseline = peers.first().and_then(|(_, m, _)| m.as_ref().ok());
        let sync_seconds = best
            .first()
            .and_then(|b| b.as_ref())
            .map(|(m, _)| m.seconds);
        for ((runner, b), check) in runners.iter().zip(best).zip(checks) {
            let Some((m, load)) = b else { continue };
            let row = report::Row {
                case: case.name.into(),
                size: args.size,
                runner: format!("pgp {runner}"),
                seconds: m.seconds,
                peak_rss_mib: m.peak_rss_mib,
                vs_peer: baseline.map(|p| p.seconds / m.seconds),
                vs_sync: sync_seconds.map(|s| s / m.seconds),
                check: check.unwrap_or_default(),
                phases: m.phases.clone(),
                load1: load,
                runs: args.repeat,
            };
            report::progress(&row);
            rows.push(row);
        }
        if !args.keep_outputs {
            remove_outputs(&out_root);
        }
        for (name, m, load) in &peers {
            if let Ok(p) = m {
                let row = report::Row {
                    case: case.name.into(),
                    size: args.size,
                    runner: format!("peer {name}"),
                    seconds: p.seconds,
                    peak_rss_mib: p.peak_rss_mib,
                    vs_peer: baseline.map(|b| b.seconds / p.seconds),
                    vs_sync: None,
                    check: "baseline".into(),
                    phases: p.phases.clone(),
                    load1: *load,
                    runs: args.repeat,
                };
                report::progress(&row);
                rows.push(row);
            }
        }
    }
    println!();
    report::print_table(&rows);
    println!();
    if args.repeat > 1 {
        println!(
            "Each time is the fastest of {} runs, taken in interleaved rounds.",
            args.repeat
        );
    }
    println!(
        "{} cores; 1-minute load average {} at the start, {} at the end.",
        pgp::exec::available_cores(),
        load_at_start.map_or("?".into(), |l| format!("{l:.1}")),
        report::load_average().map_or("?".into(), |l| format!("{l:.1}")),
    );
    if let Some(path) = &args.json {
        let mut s = String::new();
        for r in &rows {
            s.push_str(&serde_json::to_string(r)?);
            s.push('\n');
        }
        std::fs::write(path, s)?;
    }
    if rows
        .iter()
        .any(|r| r.check.starts_with("MISMATCH") || r.check.starts_with("peer failed"))
    {
        return Err("some outputs do not match the peer's (see the check column)".into());
    }
    Ok(())
}

/// Delete a case's outputs; a failure only costs disk space, so it is reported, not fatal.
fn remove_outputs(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            eprintln!("could not delete {}: {e}", dir.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peer_python_follows_peer_setup_rule() {
        let home = Some(OsStr::new("/home/u"));
        let venv = Some(OsStr::new("/opt/peers"));
        let explicit = Path::new("/usr/bin/python3");
        assert_eq!(
            peer_python(Some(explicit), venv, home).0,
            PathBuf::from("/usr/bin/python3")
        );
        assert_eq!(
            peer_python(None, venv, home),
            (PathBuf::from("/opt/peers/bin/python"), "PGP_PEER_VENV")
        );
        // peer-setup.sh's `${PGP_PEER_VENV:-...}`: empty counts as unset.
        for unset in [None, Some(OsStr::new(""))] {
            assert_eq!(
                peer_python(None, unset, home).0,
                PathBuf::from("/home/u/.cache/pgp-peer/venv/bin/python")
            );
        }
    }
}
