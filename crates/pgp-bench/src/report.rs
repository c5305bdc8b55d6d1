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
}

fn ratio(r: Option<f64>) -> String {
    r.map(|v| format!("{v:.2}x")).unwrap_or_else(|| "-".into())
}

fn phases(p: &BTreeMap<String, f64>) -> String {
    p.iter()
        .filter(|(k, _)| k.as_str() != "total")
        .map(|(k, v)| format!("{k} {v:.3}s"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One row to stderr as it is measured, so long runs show progress.
pub fn progress(r: &Row) {
    eprintln!(
        "{:<28} {:<26} {:>9.3} s {:>8.0} MiB  vs peer {:>7}  {}",
        r.case,
        r.runner,
        r.seconds,
        r.peak_rss_mib,
        ratio(r.vs_peer),
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
