//! A content-addressed store of task results shared by projects, users and nodes.
//!
//! Output files are kept once each as *blobs* named by their BLAKE3 digest; a task's result is an
//! *entry* named by its (relocatable) task key that lists its outputs' places and digests and
//! holds its return value. A graph opened with a cache ([`GraphBuilder::cache`]) restores a task
//! whose key has an entry instead of running it, and adds what its tasks produce. The protocol
//! (when an entry counts as complete, crash safety, concurrent writers, permissions) is in
//! `src/cache/README.md`, included below.
//!
//! [`GraphBuilder::cache`]: crate::GraphBuilder::cache
#![doc = include_str!("README.md")]

mod derived;
mod files;
mod maintain;
mod size;
mod writer;

pub use maintain::{GcReport, Stats, VerifyReport};
pub use size::{format_size, parse_size};
pub(crate) use writer::CacheWriter;

use crate::digest::{hash_file, Digest};
use crate::fsutil::{frame, sync_dir, sync_file, unframe};
use crate::memo::{now_ns, FileStamp};
use files::{materialize, Modes, Placed};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const FORMAT_FILE: &str = "FORMAT";
/// 2: blobs named by BLAKE3, entries under BLAKE3 task keys (format 1: SHA-256).
const FORMAT_LINE: &str = "pgp-graph cache 2\n";
/// What a store of format 1 says; opening one upgrades it (its entries could never hit).
const FORMAT_1_LINE: &str = "pgp-graph cache 1\n";
/// Where an upgrade moves format 1's directories before removing them (under `tmp/`).
const OLD_FORMAT_PREFIX: &str = "format-1-";
const ENTRY_MAGIC: &[u8; 8] = b"PGPCENT\0";
const ENTRY_VERSION: u32 = 2;
/// The file a byte is appended to per restored task: `stats` counts hits by its length, `gc`
/// reads last use from it.
const HITS_FILE: &str = "hits";

/// One output of a cached task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryOutput {
    /// Where the output goes, relative to the project root (absolute when outside it).
    pub place: PathBuf,
    /// The blob's content digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
}

/// The cached result of one task key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// The task key (also the entry's file name; checked on reading).
    pub key: Digest,
    /// The operation that produced it.
    pub op_id: String,
    /// Its version.
    pub op_version: u32,
    /// The outputs, in declaration order.
    pub outputs: Vec<EntryOutput>,
    /// The task's serialised return value.
    pub result: Vec<u8>,
}

/// One restored output as its verification found it: the graph records it by this digest
/// instead of reading it again, as long as the file keeps the stamp's size, mtime and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The content digest (the entry's, which the restored bytes matched).
    pub digest: Digest,
    /// The restored file's stamp while it was hashed (at its temporary path).
    pub stamp: FileStamp,
    /// When hashing started (ns since the epoch).
    pub hashed_at_ns: i128,
}

/// Why an entry could not be restored; the task then runs (and its outputs are added again).
#[derive(Debug)]
pub enum RestoreFailure {
    /// A blob is not in the store (never added, or collected).
    Missing(PathBuf),
    /// A blob's content does not match its digest (truncated, edited): it was removed.
    Damaged(PathBuf),
    /// A blob cannot be read (permissions).
    Unreadable(PathBuf, io::Error),
    /// Writing the restored output failed.
    Io(PathBuf, io::Error),
}

impl fmt::Display for RestoreFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestoreFailure::Missing(p) => write!(f, "cache blob {} is missing", p.display()),
            RestoreFailure::Damaged(p) => write!(
                f,
                "cache blob {} does not match its digest (damaged); removed, the task runs",
                p.display()
            ),
            RestoreFailure::Unreadable(p, e) => write!(
                f,
                "cache blob {} cannot be read ({e}); ask the store's owner for group read \
                 access; the task runs",
                p.display()
            ),
            RestoreFailure::Io(p, e) => write!(f, "cannot restore {} from cache: {e}", p.display()),
        }
    }
}

/// A shared store of task results (see the module documentation).
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    modes: Modes,
    /// What opening it did that its users should hear of (an upgrade).
    notes: Vec<String>,
}

impl Cache {
    /// Opens the store in `root`, creating it if needed. A directory holding something else
    /// than a pgp cache of this format is refused (a shared store is never wiped).
    pub fn open(root: impl AsRef<Path>) -> io::Result<Cache> {
        let root = std::path::absolute(root.as_ref())?;
        let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", root.display()));
        fs::create_dir_all(&root).map_err(named)?;
        let modes = Modes::of_root(&root).map_err(named)?;
        let format = root.join(FORMAT_FILE);
        let mut cache = Cache {
            root: root.clone(),
            modes,
            notes: Vec::new(),
        };
        // Two processes may create one store at once: each writes the same marker under a name
        // of its own and renames it into place, and a marker that appeared meanwhile is fine.
        let mut created = false;
        loop {
            match fs::read_to_string(&format) {
                Ok(s) if s == FORMAT_LINE => break,
                Ok(s) if s == FORMAT_1_LINE => {
                    cache.upgrade_from_format_1().map_err(named)?;
                    break;
                }
                Ok(s) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{}: not a pgp cache of format '{}' (its FORMAT says '{}')",
                            root.display(),
                            FORMAT_LINE.trim(),
                            s.trim()
                        ),
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && !created => {
                    let foreign = fs::read_dir(&root)
                        .map_err(named)?
                        .flatten()
                        .any(|e| !e.file_name().to_string_lossy().starts_with(".FORMAT-"));
                    if foreign && !format.exists() {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!(
                                "{}: neither empty nor a pgp cache (no FORMAT file); refusing to use it",
                                root.display()
                            ),
                        ));
                    }
                    let tmp = root.join(files::unique_name(".FORMAT"));
                    let written = cache
                        .write_file(&tmp, FORMAT_LINE.as_bytes(), cache.modes.file)
                        .and_then(|()| fs::rename(&tmp, &format));
                    if written.is_err() {
                        let _ = fs::remove_file(&tmp);
                    }
                    written.map_err(named)?;
                    created = true;
                }
                Err(e) => return Err(named(e)),
            }
        }
        for dir in ["blobs", "tasks", "tmp"] {
            cache.make_dir(&cache.root.join(dir)).map_err(named)?;
        }
        cache.remove_old_format_leftovers();
        let hits = cache.root.join(HITS_FILE);
        if !hits.exists() {
            // Only counting hits needs it: a user who may not create it still restores.
            let _ = fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&hits)
                .and_then(|_| files::set_mode(&hits, cache.modes.shared_file));
        }
        Ok(cache)
    }

    /// The store's directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// What opening the store did that its user should hear of (an upgrade from an older
    /// format), as warnings.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Upgrades a store of format 1 (SHA-256 names) in place. Its entries are filed under
    /// SHA-256 task keys, which no current key can equal, so they could only ever miss: they
    /// and their blobs are dropped (moved under `tmp/` first, so a crash midway leaves nothing
    /// that looks like a current entry), and the marker is rewritten. A pgp that only knows
    /// format 1 then refuses the store instead of misreading it.
    fn upgrade_from_format_1(&mut self) -> io::Result<()> {
        self.make_dir(&self.root.join("tmp"))?;
        let mut dropped = 0usize;
        for dir in ["tasks", "blobs"] {
            let aside = self
                .root
                .join("tmp")
                .join(files::unique_name(&format!("{OLD_FORMAT_PREFIX}{dir}")));
            if dir == "tasks" {
                dropped = maintain::walk(&self.root.join(dir)).map_or(0, |f| f.len());
            }
            match fs::rename(self.root.join(dir), &aside) {
                Ok(()) => {}
                // Another process upgrading at once moved it first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let tmp = self.tmp_path("FORMAT");
        let written = self
            .write_file(&tmp, FORMAT_LINE.as_bytes(), self.modes.file)
            .and_then(|()| fs::rename(&tmp, self.root.join(FORMAT_FILE)))
            .and_then(|()| sync_dir(&self.root));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        self.notes.push(format!(
            "cache {}: upgraded from format 1 (SHA-256) to {} (BLAKE3); its {dropped} \
             entries could never match a current key and were dropped",
            self.root.display(),
            FORMAT_LINE.trim()
        ));
        Ok(())
    }

    /// Removes what an upgrade moved aside (also after a crash midway). Best effort.
    fn remove_old_format_leftovers(&self) {
        let Ok(tmp) = fs::read_dir(self.root.join("tmp")) else {
            return;
        };
        for t in tmp.flatten() {
            if t.file_name()
                .to_string_lossy()
                .starts_with(OLD_FORMAT_PREFIX)
            {
                let _ = fs::remove_dir_all(t.path());
            }
        }
    }

    /// Where the blob of `digest` lives.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.root.join("blobs").join(&hex[..2]).join(hex)
    }

    /// Where the entry of task key `key` lives.
    pub fn entry_path(&self, key: &Digest) -> PathBuf {
        let hex = key.to_hex();
        self.root.join("tasks").join(&hex[..2]).join(hex)
    }

    /// Whether an entry file exists for `key` (not whether it is valid).
    pub fn has_entry(&self, key: &Digest) -> bool {
        self.entry_path(key).exists()
    }

    /// The entry of `key`, if a valid one exists. `Err` is a warning: the entry exists but is
    /// unreadable or damaged (a damaged one is removed when we may).
    pub fn lookup(&self, key: &Digest) -> Result<Option<Entry>, String> {
        let path = self.entry_path(key);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "cache entry {} cannot be read ({e}); the task runs",
                    path.display()
                ))
            }
        };
        match decode_entry(&bytes) {
            Some(entry) if entry.key == *key => Ok(Some(entry)),
            _ => {
                let _ = fs::remove_file(&path);
                Err(format!(
                    "cache entry {} is damaged; removed, the task runs",
                    path.display()
                ))
            }
        }
    }

    /// Whether every blob of `entry` is present (what a dry run predicts a restore by).
    pub fn blobs_present(&self, entry: &Entry) -> bool {
        entry
            .outputs
            .iter()
            .all(|o| self.blob_path(&o.digest).is_file())
    }

    /// Restores `entry`'s outputs to `targets` (one per output; temporary paths the graph then
    /// puts in place): reflink, else hard link (blobs are read-only, so the output is too),
    /// else copy; each restored file is hashed and must match its digest. A blob that does not
    /// is removed from the store and nothing of it is left at its target. Returns what each
    /// output's verification found.
    pub fn restore(
        &self,
        entry: &Entry,
        targets: &[PathBuf],
    ) -> Result<Vec<Verified>, RestoreFailure> {
        let mut verified = Vec::with_capacity(targets.len());
        for (out, target) in entry.outputs.iter().zip(targets) {
            let blob = self.blob_path(&out.digest);
            match fs::metadata(&blob) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(RestoreFailure::Missing(blob))
                }
                Err(e) => return Err(RestoreFailure::Unreadable(blob, e)),
            }
            let placed = materialize(&blob, target, true).map_err(|e| match e.kind() {
                io::ErrorKind::PermissionDenied => RestoreFailure::Unreadable(blob.clone(), e),
                io::ErrorKind::NotFound => RestoreFailure::Missing(blob.clone()),
                _ => RestoreFailure::Io(target.clone(), e),
            })?;
            let hashed = (|| {
                let before = FileStamp::of(target)?;
                let hashed_at_ns = now_ns();
                let digest = hash_file(target)?;
                if FileStamp::of(target)? != before {
                    return Err(io::Error::other("changed while it was being verified"));
                }
                Ok((digest, before, hashed_at_ns))
            })();
            let (found, stamp, hashed_at_ns) = hashed.map_err(|e| {
                let _ = fs::remove_file(target);
                match e.kind() {
                    io::ErrorKind::PermissionDenied => RestoreFailure::Unreadable(blob.clone(), e),
                    _ => RestoreFailure::Io(target.clone(), e),
                }
            })?;
            if found != out.digest {
                let _ = fs::remove_file(target);
                let _ = fs::remove_file(&blob);
                return Err(RestoreFailure::Damaged(blob));
            }
            if placed == Placed::Copied {
                // A private copy: writable like any output the task would have written.
                let _ = files::set_mode(target, 0o644);
            }
            verified.push(Verified {
                digest: found,
                stamp,
                hashed_at_ns,
            });
        }
        self.note_hit(&entry.key);
        Ok(verified)
    }

    /// Adds a task's result: each output file `sources[i]` (which must still hash to
    /// `entry.outputs[i].digest`) becomes a blob unless one of the right size is there, then the
    /// entry is written. Every file is written under a temporary name in `tmp/`, fsynced and
    /// renamed into place, blobs before the entry, so a crash leaves no entry whose blobs are
    /// not complete, and two writers of the same blob or entry replace identical content with
    /// identical content.
    pub fn add(&self, entry: &Entry, sources: &[PathBuf]) -> io::Result<()> {
        for (out, source) in entry.outputs.iter().zip(sources) {
            let blob = self.blob_path(&out.digest);
            if fs::metadata(&blob).is_ok_and(|m| m.len() == out.size) {
                continue; // damage of the same size is caught by digest when restored
            }
            let tmp = self.tmp_path("blob");
            let added = (|| {
                materialize(source, &tmp, false)?;
                if hash_file(&tmp)? != out.digest {
                    return Err(io::Error::other(format!(
                        "{} changed while it was being added to the cache",
                        source.display()
                    )));
                }
                files::set_mode(&tmp, self.modes.file)?;
                sync_file(&tmp)?;
                self.place(&tmp, &blob)
            })();
            if added.is_err() {
                let _ = fs::remove_file(&tmp);
            }
            added?;
        }
        let path = self.entry_path(&entry.key);
        if fs::read(&path)
            .ok()
            .and_then(|b| decode_entry(&b))
            .is_some_and(|e| e == *entry)
        {
            return Ok(());
        }
        let payload = bincode::serialize(entry).map_err(io::Error::other)?;
        let tmp = self.tmp_path("entry");
        let written = self
            .write_file(
                &tmp,
                &frame(ENTRY_MAGIC, ENTRY_VERSION, &payload),
                self.modes.file,
            )
            .and_then(|()| self.place(&tmp, &path));
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written
    }

    /// Renames `tmp` over `dest` (creating its fan-out directory) and makes the rename durable.
    fn place(&self, tmp: &Path, dest: &Path) -> io::Result<()> {
        let dir = dest
            .parent()
            .ok_or_else(|| io::Error::other("store path without a parent"))?;
        self.make_dir(dir)?;
        fs::rename(tmp, dest)?;
        sync_dir(dir)
    }

    /// Writes `bytes` to a new file `path` with `mode`, fsynced.
    fn write_file(&self, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        files::set_mode(path, mode)
    }

    fn make_dir(&self, dir: &Path) -> io::Result<()> {
        match fs::create_dir(dir) {
            Ok(()) => files::set_mode(dir, self.modes.dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if let Some(parent) = dir.parent() {
                    self.make_dir(parent)?;
                }
                self.make_dir(dir)
            }
            Err(e) => Err(e),
        }
    }

    /// A fresh temporary path in `tmp/`, unique across processes and hosts sharing the store.
    fn tmp_path(&self, what: &str) -> PathBuf {
        self.root.join("tmp").join(files::unique_name(what))
    }

    /// Notes one hit (one byte and the key, appended; small appends do not interleave).
    fn note_hit(&self, key: &Digest) {
        use std::io::Write;
        let line = format!("{} {}\n", key.short_hex(32), files::unix_now());
        if let Ok(mut f) = fs::OpenOptions::new()
            .append(true)
            .open(self.root.join(HITS_FILE))
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}

fn decode_entry(bytes: &[u8]) -> Option<Entry> {
    let payload = unframe(ENTRY_MAGIC, ENTRY_VERSION, bytes).ok()?;
    bincode::deserialize(payload).ok()
}
