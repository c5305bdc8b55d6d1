//! Looking after a store: `stats`, `gc` (least recently used first) and `verify`.

use super::derived::{blob_hex_of, intact, DERIVED_DIR};
use super::{decode_entry, Cache, HITS_FILE};
use crate::digest::{hash_file, Digest};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Temporary files and unreferenced blobs younger than this may belong to a writer still at
/// work (it writes blobs, then the entry), so `gc` leaves them.
pub const GRACE: Duration = Duration::from_secs(3600);

/// What `pgp cache stats` prints.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Task entries.
    pub entries: u64,
    /// Blobs (distinct output contents).
    pub blobs: u64,
    /// Bytes in blobs.
    pub bytes: u64,
    /// Tasks restored from the store so far.
    pub hits: u64,
    /// Leftover temporary files (of writers at work, or killed).
    pub temporaries: u64,
}

/// What `pgp cache gc` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Entries removed (least recently used first, and damaged ones).
    pub entries_removed: u64,
    /// Blobs removed (no longer referenced).
    pub blobs_removed: u64,
    /// Bytes freed in blobs.
    pub bytes_freed: u64,
    /// Bytes left in blobs.
    pub bytes_kept: u64,
    /// Old temporary files removed.
    pub temporaries_removed: u64,
    /// Derived files (thumbnails) removed with their blob.
    pub derived_removed: u64,
}

/// What `pgp cache verify` found (and removed).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blobs hashed.
    pub blobs_checked: u64,
    /// Bytes hashed.
    pub bytes_checked: u64,
    /// Blobs whose content did not match their name: removed.
    pub damaged_blobs: Vec<PathBuf>,
    /// Blobs that could not be read, and why.
    pub unreadable: Vec<(PathBuf, String)>,
    /// Entries decoded.
    pub entries_checked: u64,
    /// Entries that were damaged or named a missing blob: removed.
    pub bad_entries: Vec<PathBuf>,
    /// Derived files (thumbnails) checked.
    pub derived_checked: u64,
    /// Derived files that were damaged: removed (they are made again when needed).
    pub damaged_derived: Vec<PathBuf>,
}

/// Files two levels down (`kind/<fan-out>/<name>`), with their metadata.
pub(super) fn walk(dir: &Path) -> io::Result<Vec<(PathBuf, fs::Metadata)>> {
    let mut out = Vec::new();
    let fans = match fs::read_dir(dir) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for fan in fans {
        let fan = fan?.path();
        let Ok(files) = fs::read_dir(&fan) else {
            continue;
        };
        for file in files.flatten() {
            if let Ok(md) = file.metadata() {
                if md.is_file() {
                    out.push((file.path(), md));
                }
            }
        }
    }
    Ok(out)
}

fn age(md: &fs::Metadata) -> Duration {
    md.modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default()
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Cache {
    /// Counts entries, blobs, bytes and hits.
    pub fn stats(&self) -> io::Result<Stats> {
        let blobs = walk(&self.root.join("blobs"))?;
        Ok(Stats {
            entries: walk(&self.root.join("tasks"))?.len() as u64,
            blobs: blobs.len() as u64,
            bytes: blobs.iter().map(|(_, m)| m.len()).sum(),
            hits: self.hits()?.values().map(|(n, _)| n).sum(),
            temporaries: fs::read_dir(self.root.join("tmp"))
                .map(|d| d.count() as u64)
                .unwrap_or(0),
        })
    }

    /// Per entry (by the short key of the hits log): how many hits and the last one's time.
    fn hits(&self) -> io::Result<HashMap<String, (u64, u64)>> {
        let text = match fs::read_to_string(self.root.join(HITS_FILE)) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
            Err(e) => return Err(e),
        };
        let mut hits: HashMap<String, (u64, u64)> = HashMap::new();
        for line in text.lines() {
            let mut parts = line.split(' ');
            let (Some(key), Some(at)) = (parts.next(), parts.next()) else {
                continue; // torn by a crash mid-append: not counted
            };
            let Ok(at) = at.parse::<u64>() else { continue };
            let e = hits.entry(key.to_string()).or_default();
            e.0 += 1;
            e.1 = e.1.max(at);
        }
        Ok(hits)
    }

    /// Removes least recently used entries (last restored, else added) until the blobs take at
    /// most `max_bytes`, then the blobs no entry names. Temporary files and unreferenced blobs
    /// younger than an hour (`GRACE`) are left to the writers that may own them.
    pub fn gc(&self, max_bytes: u64) -> io::Result<GcReport> {
        self.gc_with_grace(max_bytes, GRACE)
    }

    pub(crate) fn gc_with_grace(&self, max_bytes: u64, grace: Duration) -> io::Result<GcReport> {
        let mut report = GcReport::default();
        if let Ok(tmp) = fs::read_dir(self.root.join("tmp")) {
            for t in tmp.flatten() {
                if t.metadata().is_ok_and(|m| age(&m) >= grace) && fs::remove_file(t.path()).is_ok()
                {
                    report.temporaries_removed += 1;
                }
            }
        }
        let hits = self.hits()?;
        let mut sizes: HashMap<PathBuf, (u64, Duration)> = walk(&self.root.join("blobs"))?
            .into_iter()
            .map(|(p, m)| (p, (m.len(), age(&m))))
            .collect();
        let found: std::collections::HashSet<PathBuf> = sizes.keys().cloned().collect();
        let mut refs: HashMap<PathBuf, u64> = HashMap::new();
        // (last use, entry path, its blobs)
        let mut entries: Vec<(u64, PathBuf, Vec<PathBuf>)> = Vec::new();
        for (path, md) in walk(&self.root.join("tasks"))? {
            let entry = fs::read(&path).ok().and_then(|b| decode_entry(&b));
            let Some(entry) = entry else {
                if age(&md) >= grace && fs::remove_file(&path).is_ok() {
                    report.entries_removed += 1;
                }
                continue;
            };
            let blobs: Vec<PathBuf> = entry
                .outputs
                .iter()
                .map(|o| self.blob_path(&o.digest))
                .collect();
            for b in &blobs {
                *refs.entry(b.clone()).or_default() += 1;
            }
            let added = md.modified().map(unix_secs).unwrap_or(0);
            let used = hits
                .get(&entry.key.short_hex(32))
                .map_or(added, |h| h.1.max(added));
            entries.push((used, path, blobs));
        }
        let remove_blob =
            |path: &Path, sizes: &mut HashMap<PathBuf, (u64, Duration)>, report: &mut GcReport| {
                if let Some((size, _)) = sizes.remove(path) {
                    if fs::remove_file(path).is_ok() {
                        report.blobs_removed += 1;
                        report.bytes_freed += size;
                    }
                }
            };
        let orphans: Vec<PathBuf> = sizes
            .iter()
            .filter(|(p, (_, a))| *a >= grace && !refs.contains_key(*p))
            .map(|(p, _)| p.clone())
            .collect();
        for p in orphans {
            remove_blob(&p, &mut sizes, &mut report);
        }
        entries.sort();
        let mut total: u64 = sizes.values().map(|(s, _)| s).sum();
        for (_, path, blobs) in entries {
            if total <= max_bytes {
                break;
            }
            if fs::remove_file(&path).is_err() {
                continue;
            }
            report.entries_removed += 1;
            for b in blobs {
                let n = refs.entry(b.clone()).or_default();
                *n = n.saturating_sub(1);
                if *n == 0 {
                    let size = sizes.get(&b).map_or(0, |s| s.0);
                    remove_blob(&b, &mut sizes, &mut report);
                    total = total.saturating_sub(size);
                }
            }
        }
        report.bytes_kept = sizes.values().map(|(s, _)| s).sum();
        // Derived files go with their blob (or after the grace, if it never came).
        for (path, md) in walk(&self.root.join(DERIVED_DIR))? {
            let blob = blob_hex_of(&path)
                .and_then(|hex| Digest::from_hex(&hex))
                .map(|d| self.blob_path(&d));
            let kept = blob.as_ref().is_some_and(|b| sizes.contains_key(b));
            let removed_now = blob.as_ref().is_some_and(|b| found.contains(b));
            if !kept && (removed_now || age(&md) >= grace) && fs::remove_file(&path).is_ok() {
                report.derived_removed += 1;
            }
        }
        Ok(report)
    }

    /// Hashes every blob against its name (removing damaged ones) and decodes every entry
    /// (removing damaged ones and those naming a blob that is gone).
    pub fn verify(&self) -> io::Result<VerifyReport> {
        let mut report = VerifyReport::default();
        for (path, md) in walk(&self.root.join("blobs"))? {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            report.blobs_checked += 1;
            match hash_file(&path) {
                Ok(d) if Some(d.to_hex()) == name => report.bytes_checked += md.len(),
                Ok(_) => {
                    let _ = fs::remove_file(&path);
                    report.damaged_blobs.push(path);
                }
                Err(e) => report.unreadable.push((path, e.to_string())),
            }
        }
        for (path, _) in walk(&self.root.join("tasks"))? {
            report.entries_checked += 1;
            let entry = fs::read(&path).ok().and_then(|b| decode_entry(&b));
            let named_right = entry.as_ref().is_some_and(|e| {
                path.file_name()
                    .is_some_and(|n| n.to_string_lossy() == e.key.to_hex())
            });
            let complete = entry.as_ref().is_some_and(|e| self.blobs_present(e));
            if !(named_right && complete) {
                let _ = fs::remove_file(&path);
                report.bad_entries.push(path);
            }
        }
        for (path, _) in walk(&self.root.join(DERIVED_DIR))? {
            report.derived_checked += 1;
            if !intact(&path) {
                let _ = fs::remove_file(&path);
                report.damaged_derived.push(path);
            }
        }
        Ok(report)
    }
}
