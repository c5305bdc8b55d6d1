//! The record store: one self-checking file per task identity in the workspace.
//!
//! Layout of a workspace directory:
//!
//! ```text
//! workspace/
//!   lock              flock'ed by the graph that uses the workspace
//!   FORMAT            "pgp-graph store <version>"; anything else means "rebuild"
//!   memo.bin          memoised file digests (a cache; losing it costs only rehashing)
//!   records/<id>.rec  the completion record of the task whose identity hashes to <id>
//! ```
//!
//! A task's identity is what stays the same when its key changes (its output paths, or its
//! operation and name when it writes nothing), so one file per task is enough and the previous
//! record tells a dry run *what* changed.

use crate::digest::Digest;
use crate::error::GraphError;
use crate::fsutil::{atomic_write, atomic_write_group, frame, unframe, FrameError, TMP_PREFIX};
use crate::lock::{LockWait, WorkspaceLock};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

const RECORD_MAGIC: &[u8; 8] = b"PGPGREC\0";
/// Bump when [`Record`] changes shape: old stores are then rebuilt, not misread. 2: relocatable
/// keys (records of format 1 hold absolute-path keys; they are dropped, their tasks rerun once).
/// 3: BLAKE3 digests and keys instead of SHA-256 (records of format 2 are dropped likewise).
pub const STORE_VERSION: u32 = 3;
const FORMAT_FILE: &str = "FORMAT";

fn format_line() -> String {
    format!("pgp-graph store {STORE_VERSION}\n")
}

/// One output as it was when its task completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputRecord {
    /// Path relative to the project root (absolute when outside it).
    pub path: PathBuf,
    /// Content digest.
    pub digest: Digest,
    /// Modification time (ns) after it was put in place; a later touch reruns the task.
    pub mtime_ns: i128,
    /// Inode after it was put in place; a replacement file reruns the task.
    pub ino: u64,
}

/// The proof that a task completed: written only after its outputs were in place.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The task key this record vouches for.
    pub key: Digest,
    /// Operation id.
    pub op_id: String,
    /// Operation version.
    pub op_version: u32,
    /// Digest of the serialised arguments.
    pub args_digest: Digest,
    /// Inputs (key form: relative to the project root, `None` outside it) and their digests
    /// when the task ran.
    pub inputs: Vec<(Option<PathBuf>, Digest)>,
    /// Outputs as written.
    pub outputs: Vec<OutputRecord>,
    /// The task's serialised return value.
    pub result: Vec<u8>,
    /// How long the task took, in nanoseconds.
    pub duration_ns: u64,
    /// The project root (absolute) the outputs' inodes and mtimes were taken under. A record
    /// read under another root (a copied or moved project) vouches by content only.
    pub root: PathBuf,
}

/// The record store of one workspace, holding the workspace lock while it lives.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    project: PathBuf,
    records: PathBuf,
    lock: parking_lot::Mutex<Option<WorkspaceLock>>,
}

impl Store {
    /// Opens (creating if needed) the store in `root`, taking the workspace lock. An unknown,
    /// old or damaged format marker makes the store be rebuilt empty; the returned warnings say so.
    /// `project` is the project root the graph's keys are relative to.
    pub fn open(
        root: &Path,
        project: &Path,
        wait: LockWait,
    ) -> Result<(Store, Vec<String>), GraphError> {
        let ws_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| GraphError::Workspace { path, source }
        };
        fs::create_dir_all(root).map_err(ws_err(root))?;
        let lock = WorkspaceLock::acquire(root, &root.join("lock"), wait)?;
        let records = root.join("records");
        let format_path = root.join(FORMAT_FILE);
        let mut warnings = Vec::new();
        let rebuild = match fs::read_to_string(&format_path) {
            Ok(s) if s == format_line() => false,
            Ok(s) => {
                warnings.push(format!(
                    "workspace {}: store format '{}' is not '{}'; rebuilding (every task reruns once)",
                    root.display(),
                    s.trim(),
                    format_line().trim()
                ));
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                if records.exists() {
                    warnings.push(format!(
                        "workspace {}: store has no format marker; rebuilding (every task reruns once)",
                        root.display()
                    ));
                }
                true
            }
            Err(e) => {
                warnings.push(format!(
                    "workspace {}: format marker unreadable ({e}); rebuilding",
                    root.display()
                ));
                true
            }
        };
        if rebuild {
            for stale in [records.clone(), root.join("memo.bin")] {
                let removed = if stale.is_dir() {
                    fs::remove_dir_all(&stale)
                } else {
                    fs::remove_file(&stale)
                };
                match removed {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(GraphError::Workspace {
                            path: stale,
                            source: e,
                        })
                    }
                }
            }
        }
        fs::create_dir_all(&records).map_err(ws_err(&records))?;
        if rebuild {
            atomic_write(&format_path, format_line().as_bytes()).map_err(ws_err(&format_path))?;
        }
        // Temporary files are leftovers of a crash: never trusted, so just cleared.
        for entry in fs::read_dir(&records).map_err(ws_err(&records))?.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok((
            Store {
                root: root.to_path_buf(),
                project: project.to_path_buf(),
                records,
                lock: parking_lot::Mutex::new(Some(lock)),
            },
            warnings,
        ))
    }

    /// Releases the workspace lock early (when the graph closes while handles still live).
    pub fn release_lock(&self) {
        self.lock.lock().take();
    }

    /// The workspace directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The project root the keys are relative to (absolute).
    pub fn project_root(&self) -> &Path {
        &self.project
    }

    /// Where the digest memo lives.
    pub fn memo_path(&self) -> PathBuf {
        self.root.join("memo.bin")
    }

    fn record_path(&self, identity: &Digest) -> PathBuf {
        self.records.join(format!("{}.rec", identity.short_hex(32)))
    }

    /// The record of the task with this identity, if a valid one exists. A damaged record is
    /// removed and reported as a warning (its task simply reruns).
    pub fn load(&self, identity: &Digest) -> (Option<Record>, Option<String>) {
        let path = self.record_path(identity);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (None, None),
            Err(e) => {
                return (
                    None,
                    Some(format!(
                        "record {} unreadable ({e}); task reruns",
                        path.display()
                    )),
                )
            }
        };
        let problem = match unframe(RECORD_MAGIC, STORE_VERSION, &bytes) {
            Ok(payload) => match bincode::deserialize::<Record>(payload) {
                Ok(record) => return (Some(record), None),
                Err(e) => format!("undecodable ({e})"),
            },
            Err(FrameError::Corrupt) => "corrupt".to_string(),
            Err(FrameError::Version(v)) => format!("of format {v}, not {STORE_VERSION}"),
        };
        let _ = fs::remove_file(&path);
        (
            None,
            Some(format!(
                "record {} is {problem}; removed, task reruns",
                path.display()
            )),
        )
    }

    /// The record of the task with this identity if a valid one exists, touching nothing: a
    /// damaged record is left for [`Store::load`] to remove and report.
    pub fn peek(&self, identity: &Digest) -> Option<Record> {
        let bytes = fs::read(self.record_path(identity)).ok()?;
        let payload = unframe(RECORD_MAGIC, STORE_VERSION, &bytes).ok()?;
        bincode::deserialize(payload).ok()
    }

    /// Atomically writes the record of the task with this identity.
    #[cfg(test)]
    pub fn save(&self, identity: &Digest, record: &Record) -> io::Result<()> {
        let payload = bincode::serialize(record).map_err(io::Error::other)?;
        atomic_write(
            &self.record_path(identity),
            &frame(RECORD_MAGIC, STORE_VERSION, &payload),
        )
    }

    /// Atomically writes several records at once (one directory fsync for the group); one
    /// result per record, in order. Each record is either completely in place or absent.
    pub fn save_group(&self, records: &[(Digest, Record)]) -> Vec<io::Result<()>> {
        let encoded: Vec<(PathBuf, io::Result<Vec<u8>>)> = records
            .iter()
            .map(|(identity, record)| {
                let bytes = bincode::serialize(record)
                    .map(|payload| frame(RECORD_MAGIC, STORE_VERSION, &payload))
                    .map_err(io::Error::other);
                (self.record_path(identity), bytes)
            })
            .collect();
        let files: Vec<(&Path, &[u8])> = encoded
            .iter()
            .filter_map(|(path, bytes)| Some((path.as_path(), bytes.as_ref().ok()?.as_slice())))
            .collect();
        // Records are framed with a checksum, so a record torn by a power failure is recognised
        // and discarded (its task reruns): one fsync of the directory is enough for the group.
        // Their tasks' outputs were made durable before any of them was written.
        let mut written = atomic_write_group(&self.records, &files, false).into_iter();
        encoded
            .into_iter()
            .map(|(_, bytes)| match bytes {
                Ok(_) => written.next().unwrap_or(Ok(())),
                Err(e) => Err(e),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            key: Digest([7; 32]),
            op_id: "op".into(),
            op_version: 2,
            args_digest: Digest([1; 32]),
            inputs: vec![(Some(PathBuf::from("i")), Digest([2; 32]))],
            outputs: vec![OutputRecord {
                path: PathBuf::from("/o"),
                digest: Digest([3; 32]),
                mtime_ns: 5,
                ino: 9,
            }],
            result: vec![1, 2, 3],
            duration_ns: 42,
            root: PathBuf::from("/p"),
        }
    }

    #[test]
    fn save_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let (store, warnings) = Store::open(dir.path(), dir.path(), LockWait::Fail).unwrap();
        assert!(warnings.is_empty());
        let id = Digest([9; 32]);
        assert_eq!(store.load(&id).0, None);
        store.save(&id, &sample()).unwrap();
        assert_eq!(store.load(&id).0, Some(sample()));
    }

    #[test]
    fn corrupt_record_is_dropped_with_warning() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = Store::open(dir.path(), dir.path(), LockWait::Fail).unwrap();
        let id = Digest([9; 32]);
        store.save(&id, &sample()).unwrap();
        let path = store.record_path(&id);
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        fs::write(&path, bytes).unwrap();
        let (rec, warning) = store.load(&id);
        assert_eq!(rec, None);
        assert!(warning.unwrap().contains("corrupt"));
        assert!(!path.exists());
    }

    #[test]
    fn old_format_marker_rebuilds_store() {
        let dir = tempfile::tempdir().unwrap();
        let id = Digest([9; 32]);
        {
            let (store, _) = Store::open(dir.path(), dir.path(), LockWait::Fail).unwrap();
            store.save(&id, &sample()).unwrap();
        }
        fs::write(dir.path().join(FORMAT_FILE), "pgp-graph store 0\n").unwrap();
        let (store, warnings) = Store::open(dir.path(), dir.path(), LockWait::Fail).unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("rebuilding"), "{}", warnings[0]);
        assert_eq!(store.load(&id).0, None);
        // Reopening a rebuilt store is silent.
        drop(store);
        let (_, warnings) = Store::open(dir.path(), dir.path(), LockWait::Fail).unwrap();
        assert!(warnings.is_empty());
    }

    #[test]
    fn second_open_is_locked_out() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path(), dir.path(), LockWait::Fail).unwrap();
        assert!(matches!(
            Store::open(dir.path(), dir.path(), LockWait::Fail),
            Err(GraphError::Locked { .. })
        ));
    }
}
