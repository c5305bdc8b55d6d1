//! The results table.

use std::collections::BTreeMap;

use serde::Serialize;

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub case: String,
    pub size: usize,
    pub runner: String,
    pub seconds: f64,
    pub peak_rss_mib: f64,
    /// Peer seconds / these seconds (above 1: faster than the peer).
    pub vs_peer: Option<f64>,
    /// pgp sync seconds / these seconds (the speedup from workers).
    pub vs_sync: Option<f64>,
    pub check: String,
    pub phases: BTreeMap<String, f64>,
    /// The machine's 1-minute load average just after the run: other work competing for the
    /// cores makes every time longer, and parallel runs gain less.
    pub load1: Option<f64>,
    /// How many runs the seconds are the fastest of (`--repeat`).
    pub runs: u32,
}

/// The 1-minute load average (Linux), if readable.
pub fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn ratio(r: Option<f64>) -> String {
    r.map(|v| format!("{v:.2}x")).unwrap_or_else(|| "-".into())
}

/// The phases in the order they ran (the pipeline's), then any others by name.
fn phases(p: &BTreeMap<String, f64>) -> String {
    const ORDER: [&str; 3] = ["cold", "cached", "changed"];
    let rank = |k: &str| ORDER.iter().position(|o| *o == k).unwrap_or(ORDER.len());
    let mut v: Vec<(&String, &f64)> = p.iter().filter(|(k, _)| k.as_str() != "total").collect();
    v.sort_by_key(|(k, _)| rank(k));
    v.iter()
        .map(|(k, v)| format!("{k} {v:.3}s"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row to stderr as it is measured, so long runs show progress.
pub fn progress(r: &Row) {
    eprintln!(
        "{:<28} {:<26} {:>9.3} s {:>8.0} MiB  vs peer {:>7}  load {:>4}  {}",
        r.case,
        r.runner,
        r.seconds,
        r.peak_rss_mib,
        ratio(r.vs_peer),
        r.load1.map_or("?".into(), |l| format!("{l:.1}")),
        r.check
    );
}

/// The whole table, as Markdown, to stdout.
pub fn print_table(rows: &[Row]) {
    println!(
        "| case | size | runner | seconds | peak MiB | vs peer | vs pgp sync | check | phases |"
    );
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |");
    for r in rows {
        println!(
            "| {} | {} | {} | {:.3} | {:.0} | {} | {} | {} | {} |",
            r.case,
            r.size,
            r.runner,
            r.seconds,
            r.peak_rss_mib,
            ratio(r.vs_peer),
            ratio(r.vs_sync),
            r.check,
            phases(&r.phases)
        );
    }
}
