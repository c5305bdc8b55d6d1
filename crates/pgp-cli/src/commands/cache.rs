//! `pgp cache stats|gc|verify`: looking after a shared result store.

use std::path::PathBuf;

use pgp::graph::cache::{format_size, parse_size, Cache};

use super::CmdResult;
use crate::output::outln;

/// Arguments of `pgp cache`.
#[derive(Debug, clap::Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    action: Action,
    /// The store (default: `PGP_CACHE`).
    #[arg(long, value_name = "DIR", global = true)]
    cache: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Entries, blobs, bytes and hits.
    Stats {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove least recently used entries until the store fits in a size.
    Gc {
        /// The size to fit in: bytes, or with K, M, G or T (powers of 1024), e.g. 50G.
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: u64,
    },
    /// Hash every blob against its name; remove damaged blobs and the entries that need them.
    Verify,
}

/// Opens the store named by `--cache` or `PGP_CACHE`; it must exist already.
fn store(flag: Option<PathBuf>) -> Result<Cache, Box<dyn std::error::Error>> {
    let dir = match flag {
        Some(d) => d,
        None => super::run::cache_from_env()?
            .ok_or("no cache given: name one with --cache DIR or the PGP_CACHE variable")?,
    };
    if !dir.is_dir() {
        return Err(format!("no cache at {}", dir.display()).into());
    }
    Ok(Cache::open(&dir).map_err(|e| format!("cache: {e}"))?)
}

/// Run `pgp cache`.
pub fn run(args: CacheArgs) -> CmdResult {
    let cache = store(args.cache)?;
    match args.action {
        Action::Stats { json } => {
            let s = cache.stats()?;
            if json {
                outln!(
                    "{}",
                    serde_json::json!({
                        "entries": s.entries, "blobs": s.blobs, "bytes": s.bytes,
                        "hits": s.hits, "temporaries": s.temporaries,
                    })
                )?;
            } else {
                outln!(
                    "{}: {} entries, {} blobs, {} ({} bytes), {} hits",
                    cache.root().display(),
                    s.entries,
                    s.blobs,
                    format_size(s.bytes),
                    s.bytes,
                    s.hits
                )?;
            }
        }
        Action::Gc { max_size } => {
            let r = cache.gc(max_size)?;
            outln!(
                "removed {} entries and {} blobs ({}), {} left; {} old temporaries removed",
                r.entries_removed,
                r.blobs_removed,
                format_size(r.bytes_freed),
                format_size(r.bytes_kept),
                r.temporaries_removed
            )?;
        }
        Action::Verify => {
            let r = cache.verify()?;
            for p in &r.damaged_blobs {
                outln!("damaged (removed): {}", p.display())?;
            }
            for (p, why) in &r.unreadable {
                outln!("unreadable: {}: {why}", p.display())?;
            }
            for p in &r.bad_entries {
                outln!("bad entry (removed): {}", p.display())?;
            }
            for p in &r.damaged_derived {
                outln!(
                    "damaged thumbnail (removed, drawn again when needed): {}",
                    p.display()
                )?;
            }
            outln!(
                "{} blobs ({}) and {} entries checked: {} damaged, {} unreadable, {} bad entries",
                r.blobs_checked,
                format_size(r.bytes_checked),
                r.entries_checked,
                r.damaged_blobs.len(),
                r.unreadable.len(),
                r.bad_entries.len()
            )?;
            if !(r.damaged_blobs.is_empty() && r.unreadable.is_empty()) {
                return Err(format!(
                    "cache {}: {} damaged and {} unreadable blob(s)",
                    cache.root().display(),
                    r.damaged_blobs.len(),
                    r.unreadable.len()
                )
                .into());
            }
        }
    }
    Ok(())
}
