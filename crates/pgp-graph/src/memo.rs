//! Memoised file digests, keyed by file identity, with a racy-timestamp guard.
//!
//! Hashing a multi-gigabyte raster on every rerun is too slow, so a digest is remembered together
//! with the file's identity: path, size, mtime, ctime, inode and device. The memo answers only if
//! all of them are unchanged *and* the entry is not racy:
//!
//! * `ctime` cannot be set by users (`touch -r` sets mtime, but the kernel sets ctime to "now"),
//!   so an edit that restores the old mtime still changes the identity.
//! * A file modified within the filesystem's timestamp resolution of the moment it was hashed can
//!   keep identical timestamps across the modification. Like git's racy-index rule, an entry is
//!   trusted only if the file's newest timestamp (mtime or ctime) is at least `racy_window` older
//!   than the moment hashing started. Any later modification then gets a ctime after that moment
//!   and so differs from the remembered one. A racy entry is rehashed on next use; by then the file
//!   has usually aged and the new entry is trusted.
//! * The window adapts to the filesystem: timestamps with a sub-millisecond part come from a
//!   filesystem that stamps at kernel-tick resolution (ext4, xfs, btrfs, tmpfs: 1-10 ms), where
//!   [`FINE_WINDOW`] is enough; anything coarser (whole seconds, FAT's two seconds) keeps the
//!   configured window. Outputs the graph just wrote are hashed once they are [`FINE_WINDOW`] old
//!   ([`DigestMemo::settle_wait`]), so a rerun right after a run trusts them instead of
//!   rehashing gigabytes; the graph's recorder waits for many outputs at once, off the workers.

use crate::digest::{hash_file, Digest};
use crate::fsutil::{atomic_write, frame, unframe, FrameError};
use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const MEMO_MAGIC: &[u8; 8] = b"PGPGMEMO";

/// The racy window for files whose timestamps have kernel-tick resolution (see module docs).
pub const FINE_WINDOW: Duration = Duration::from_millis(50);
/// 2: BLAKE3 digests (a memo of format 1 holds SHA-256 ones and is dropped).
const MEMO_VERSION: u32 = 2;

/// What identifies one version of a file without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStamp {
    /// Length in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Status-change time, nanoseconds since the epoch (0 where the platform has none).
    pub ctime_ns: i128,
    /// Inode number (0 where the platform has none).
    pub ino: u64,
    /// Device number (0 where the platform has none).
    pub dev: u64,
}

impl FileStamp {
    /// Reads the stamp of the file at `path` (following symlinks).
    pub fn of(path: &Path) -> io::Result<FileStamp> {
        let md = std::fs::metadata(path)?;
        if !md.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            Ok(FileStamp {
                size: md.len(),
                mtime_ns: i128::from(md.mtime()) * 1_000_000_000 + i128::from(md.mtime_nsec()),
                ctime_ns: i128::from(md.ctime()) * 1_000_000_000 + i128::from(md.ctime_nsec()),
                ino: md.ino(),
                dev: md.dev(),
            })
        }
        #[cfg(not(unix))]
        {
            let mtime_ns = md
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as i128);
            Ok(FileStamp {
                size: md.len(),
                mtime_ns,
                ctime_ns: 0,
                ino: 0,
                dev: 0,
            })
        }
    }

    fn newest_ns(&self) -> i128 {
        self.mtime_ns.max(self.ctime_ns)
    }

    /// Whether both timestamps carry a sub-millisecond part, i.e. the filesystem stamps files
    /// with (at least) kernel-tick resolution. A coarse filesystem never does.
    fn fine_grained(&self) -> bool {
        self.mtime_ns % 1_000_000 != 0 && self.ctime_ns % 1_000_000 != 0
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct MemoEntry {
    stamp: FileStamp,
    digest: Digest,
    /// Wall-clock time (ns since epoch) at which hashing started.
    hashed_at_ns: i128,
    /// Put in by the graph for a file it placed itself after verifying its content
    /// ([`DigestMemo::vouch`]): trusted for as long as this process keeps it, never saved as such.
    #[serde(skip)]
    vouched: bool,
}

/// The digest of a file, with the stamp the file had when it was hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileDigest {
    /// The content digest.
    pub digest: Digest,
    /// The stamp the file had while it was hashed.
    pub stamp: FileStamp,
}

/// Thread-safe memo of file digests (see the module docs for when an entry is trusted).
pub struct DigestMemo {
    entries: Mutex<HashMap<PathBuf, MemoEntry>>,
    /// Files being hashed right now, each with the signal its hasher gives when done: a second
    /// caller waits for that digest instead of reading the file again (a task's output is the
    /// next task's input, and the graph digests ahead of its jobs).
    in_flight: Mutex<HashMap<PathBuf, Arc<Hashing>>>,
    racy_window_ns: i128,
    /// Counts actual hashing (memo misses) so tests and benchmarks can tell what happened.
    hashes: AtomicU64,
    /// Whether entries changed since the memo was loaded or last saved.
    dirty: AtomicBool,
}

/// The done-signal of one file being hashed.
#[derive(Default)]
struct Hashing {
    done: Mutex<bool>,
    signal: Condvar,
}

/// Marks a file as being hashed until dropped (also on an error or a panic), then wakes its
/// waiters.
struct InFlight<'a> {
    memo: &'a DigestMemo,
    path: &'a Path,
    hashing: Arc<Hashing>,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.memo.in_flight.lock().remove(self.path);
        *self.hashing.done.lock() = true;
        self.hashing.signal.notify_all();
    }
}

/// Who hashes a file that the memo cannot vouch for.
enum Claim<'a> {
    /// This caller: no one else is hashing it.
    Mine(InFlight<'a>),
    /// Another thread is hashing it; wait on this.
    Theirs(Arc<Hashing>),
}

/// Wall-clock time, ns since the epoch (what memo entries are stamped with).
pub fn now_ns() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

impl DigestMemo {
    /// An empty memo. `racy_window` is how long a file must have been left alone before hashing for
    /// its entry to be trusted later; it must cover the coarsest timestamp resolution in use.
    pub fn new(racy_window: Duration) -> Self {
        DigestMemo {
            entries: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            racy_window_ns: racy_window.as_nanos() as i128,
            hashes: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
        }
    }

    /// Number of files actually read and hashed so far.
    pub fn hash_count(&self) -> u64 {
        self.hashes.load(Ordering::Relaxed)
    }

    /// The digest of the file at `path` (an absolute, normalised path), from the memo when the
    /// entry can be trusted, by hashing otherwise. If another thread is hashing the file, waits
    /// for its digest and takes it under the same rule (the file then has the stamp it had while
    /// it was hashed, and the entry is not racy); otherwise hashes it again.
    pub fn digest(&self, path: &Path) -> io::Result<FileDigest> {
        loop {
            let stamp = FileStamp::of(path)?;
            if let Some(found) = self.trusted(path, &stamp) {
                return Ok(found);
            }
            match self.claim(path) {
                Claim::Mine(claim) => return self.hash_claimed(claim, stamp),
                Claim::Theirs(hashing) => {
                    let mut done = hashing.done.lock();
                    while !*done {
                        hashing.signal.wait(&mut done);
                    }
                }
            }
        }
    }

    /// Hashes the file at `path` unless the memo can vouch for it or another thread is hashing
    /// it, so that a later [`DigestMemo::digest`] finds its entry. Digesting ahead of the jobs
    /// that need it; errors are left for those jobs to meet.
    pub fn digest_ahead(&self, path: &Path) {
        let Ok(stamp) = FileStamp::of(path) else {
            return;
        };
        if self.trusted(path, &stamp).is_some() {
            return;
        }
        if let Claim::Mine(claim) = self.claim(path) {
            let _ = self.hash_claimed(claim, stamp);
        }
    }

    /// The digest the memo holds for `path` if the file still has the stamp it was hashed with
    /// (racy or not): what a job would most likely find. Only for guessing which work is worth
    /// doing ahead, never for deciding whether a task is up to date.
    pub fn known(&self, path: &Path) -> Option<Digest> {
        let stamp = FileStamp::of(path).ok()?;
        let entries = self.entries.lock();
        let e = entries.get(path)?;
        (e.stamp == stamp).then_some(e.digest)
    }

    /// The memo's entry for `path` if it can be trusted for a file that now has `stamp`.
    fn trusted(&self, path: &Path, stamp: &FileStamp) -> Option<FileDigest> {
        let entries = self.entries.lock();
        let e = entries.get(path)?;
        let trusted = e.stamp == *stamp
            && (e.vouched || e.stamp.newest_ns() + self.window_ns(stamp) <= e.hashed_at_ns);
        trusted.then_some(FileDigest {
            digest: e.digest,
            stamp: *stamp,
        })
    }

    fn claim<'a>(&'a self, path: &'a Path) -> Claim<'a> {
        let mut in_flight = self.in_flight.lock();
        if let Some(hashing) = in_flight.get(path) {
            return Claim::Theirs(Arc::clone(hashing));
        }
        let hashing = Arc::new(Hashing::default());
        in_flight.insert(path.to_path_buf(), Arc::clone(&hashing));
        Claim::Mine(InFlight {
            memo: self,
            path,
            hashing,
        })
    }

    /// Hashes a file this thread has claimed; `stamp` is what it had before.
    fn hash_claimed(&self, claim: InFlight<'_>, stamp: FileStamp) -> io::Result<FileDigest> {
        let path = claim.path;
        // Stat, hash, stat again: if the file changed under us, hash again (a few times) rather
        // than remember a digest that belongs to no stable version of the file.
        let mut before = stamp;
        for _ in 0..4 {
            let hashed_at_ns = now_ns();
            let digest = hash_file(path)?;
            self.hashes.fetch_add(1, Ordering::Relaxed);
            let after = FileStamp::of(path)?;
            if after == before {
                self.entries.lock().insert(
                    path.to_path_buf(),
                    MemoEntry {
                        stamp: after,
                        digest,
                        hashed_at_ns,
                        vouched: false,
                    },
                );
                self.dirty.store(true, Ordering::Relaxed);
                return Ok(FileDigest {
                    digest,
                    stamp: after,
                });
            }
            before = after;
        }
        Err(io::Error::other(
            "file kept changing while it was being hashed",
        ))
    }

    /// How old a file with `stamp` must be when hashing starts for its entry to be trusted.
    fn window_ns(&self, stamp: &FileStamp) -> i128 {
        if stamp.fine_grained() {
            self.racy_window_ns.min(FINE_WINDOW.as_nanos() as i128)
        } else {
            self.racy_window_ns
        }
    }

    /// How long to wait before hashing a file that was just written, so that its entry will
    /// be trusted on the next run: on a fine-grained filesystem until the file is
    /// [`FINE_WINDOW`] old, elsewhere not at all (a coarse filesystem's window is seconds, too
    /// long to wait; such entries are rehashed once on the next run instead).
    pub fn settle_wait(&self, stamp: &FileStamp) -> Duration {
        if !stamp.fine_grained() {
            return Duration::ZERO;
        }
        let wait = stamp.newest_ns() + self.window_ns(stamp) - now_ns();
        if wait > 0 && wait <= FINE_WINDOW.as_nanos() as i128 {
            // One millisecond more: the clock that stamps files ticks coarser than `now_ns`.
            Duration::from_nanos(wait as u64 + 1_000_000)
        } else {
            Duration::ZERO
        }
    }

    /// [`DigestMemo::digest`] of a file that was just written, after waiting
    /// [`DigestMemo::settle_wait`] (tests and one-off callers; the graph waits for many outputs
    /// at once instead).
    #[cfg(test)]
    pub fn digest_settled(&self, path: &Path) -> io::Result<FileDigest> {
        std::thread::sleep(self.settle_wait(&FileStamp::of(path)?));
        self.digest(path)
    }

    /// Whether a file with `stamp` had been left alone long enough at `at_ns` (ns since the
    /// epoch) that any later write changes its mtime: its mtime is older than the racy window.
    pub fn mtime_settled(&self, stamp: &FileStamp, at_ns: i128) -> bool {
        stamp.mtime_ns + self.window_ns(stamp) <= at_ns
    }

    /// Notes that the file at `path` has `found.digest` while it keeps `found.stamp`, without
    /// reading it: for a file the graph itself placed after hashing its content (an output
    /// restored from the shared cache, verified before it was renamed into place; the rename
    /// changed only its ctime). Trusted in this process; saved as hashed at `hashed_at_ns`, so
    /// a later run trusts it only under the racy-timestamp rule (usually: it hashes it once).
    pub fn vouch(&self, path: &Path, found: FileDigest, hashed_at_ns: i128) {
        self.entries.lock().insert(
            path.to_path_buf(),
            MemoEntry {
                stamp: found.stamp,
                digest: found.digest,
                hashed_at_ns,
                vouched: true,
            },
        );
        self.dirty.store(true, Ordering::Relaxed);
    }

    /// Forgets what is known about `path` (used when the graph itself replaces the file).
    pub fn forget(&self, path: &Path) {
        if self.entries.lock().remove(path).is_some() {
            self.dirty.store(true, Ordering::Relaxed);
        }
    }

    /// Loads a memo saved by [`DigestMemo::save`]. A missing file gives an empty memo; a corrupt
    /// or old-format file gives an empty memo and a warning (the memo is only a cache).
    pub fn load(path: &Path, racy_window: Duration) -> (Self, Option<String>) {
        let memo = DigestMemo::new(racy_window);
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return (memo, None),
            Err(e) => {
                return (
                    memo,
                    Some(format!(
                        "digest memo {} unreadable ({e}); rehashing",
                        path.display()
                    )),
                )
            }
        };
        let warning = match unframe(MEMO_MAGIC, MEMO_VERSION, &bytes) {
            Ok(payload) => match bincode::deserialize::<Vec<(PathBuf, MemoEntry)>>(payload) {
                Ok(list) => {
                    memo.entries.lock().extend(list);
                    None
                }
                Err(e) => Some(format!(
                    "digest memo {} undecodable ({e}); rehashing",
                    path.display()
                )),
            },
            Err(FrameError::Corrupt) => Some(format!(
                "digest memo {} is corrupt; rehashing",
                path.display()
            )),
            Err(FrameError::Version(v)) => Some(format!(
                "digest memo {} has format {v}, expected {MEMO_VERSION}; rehashing",
                path.display()
            )),
        };
        (memo, warning)
    }

    /// Saves the memo atomically, unless nothing changed since it was loaded or last saved.
    /// Entries of files that no longer exist are dropped.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let saved = self.write(path);
        if saved.is_err() {
            self.dirty.store(true, Ordering::Relaxed);
        }
        saved
    }

    fn write(&self, path: &Path) -> io::Result<()> {
        let list: Vec<(PathBuf, MemoEntry)> = {
            let entries = self.entries.lock();
            let mut list: Vec<_> = entries
                .iter()
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect();
            list.sort_by(|a, b| a.0.cmp(&b.0));
            list
        };
        let list: Vec<_> = list.into_iter().filter(|(p, _)| p.exists()).collect();
        let payload = bincode::serialize(&list).map_err(io::Error::other)?;
        atomic_write(path, &frame(MEMO_MAGIC, MEMO_VERSION, &payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn set_old_times(p: &Path) {
        // Give the file an mtime far in the past; ctime stays "now", which is what matters.
        filetime::set_file_mtime(p, filetime::FileTime::from_unix_time(1_000_000_000, 0)).unwrap();
    }

    #[test]
    fn settled_outputs_are_trusted_on_a_fine_grained_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.bin");
        std::fs::write(&p, b"written by a task").unwrap();
        let memo = DigestMemo::new(Duration::from_secs(2));
        let first = memo.digest_settled(&p).unwrap();
        let again = memo.digest(&p).unwrap();
        assert_eq!(first.digest, again.digest);
        if FileStamp::of(&p).unwrap().fine_grained() {
            assert_eq!(memo.hash_count(), 1, "the settled entry is trusted");
        } else {
            // Whole-second timestamps: the two-second window applies and the entry is racy.
            assert_eq!(memo.hash_count(), 2);
        }
        // Trust never survives a change, even one that keeps the size and the mtime.
        std::fs::write(&p, b"WRITTEN BY A TASK").unwrap();
        let changed = memo.digest(&p).unwrap();
        assert_ne!(changed.digest, first.digest);
    }

    #[test]
    fn fresh_file_is_racy_and_rehashed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        fs::write(&p, b"one").unwrap();
        let memo = DigestMemo::new(Duration::from_secs(2));
        let d1 = memo.digest(&p).unwrap();
        let d2 = memo.digest(&p).unwrap();
        assert_eq!(d1.digest, d2.digest);
        assert_eq!(
            memo.hash_count(),
            2,
            "a just-written file must not be trusted from the memo"
        );
    }

    #[test]
    fn aged_entry_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        fs::write(&p, b"one").unwrap();
        // A zero window trusts anything hashed after its last change.
        let memo = DigestMemo::new(Duration::ZERO);
        memo.digest(&p).unwrap();
        memo.digest(&p).unwrap();
        assert_eq!(memo.hash_count(), 1);
    }

    #[test]
    fn same_size_edit_with_mtime_restored_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        fs::write(&p, b"AAAA").unwrap();
        set_old_times(&p);
        let memo = DigestMemo::new(Duration::ZERO);
        let before = memo.digest(&p).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        fs::write(&p, b"BBBB").unwrap();
        set_old_times(&p);
        let after = memo.digest(&p).unwrap();
        assert_eq!(before.stamp.mtime_ns, after.stamp.mtime_ns);
        assert_eq!(before.stamp.size, after.stamp.size);
        assert_eq!(after.digest, Digest::of_bytes(b"BBBB"));
    }

    #[test]
    fn a_file_wanted_by_many_threads_at_once_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        let data: Vec<u8> = (0..16_000_000u32).map(|i| (i % 253) as u8).collect();
        fs::write(&p, &data).unwrap();
        let memo = DigestMemo::new(Duration::ZERO);
        let expected = Digest::of_bytes(&data);
        std::thread::scope(|scope| {
            scope.spawn(|| memo.digest_ahead(&p));
            for _ in 0..6 {
                scope.spawn(|| assert_eq!(memo.digest(&p).unwrap().digest, expected));
            }
        });
        assert_eq!(
            memo.hash_count(),
            1,
            "the others waited for the first digest"
        );
        assert_eq!(memo.known(&p), Some(expected));
    }

    #[test]
    fn a_racy_digest_from_another_thread_is_not_taken() {
        // Hashed by one thread while young: a second caller hashes again, as if alone.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("young");
        fs::write(&p, b"just written").unwrap();
        let memo = DigestMemo::new(Duration::from_secs(2));
        memo.digest_ahead(&p);
        assert_eq!(memo.hash_count(), 1);
        let found = memo.digest(&p).unwrap();
        assert_eq!(found.digest, Digest::of_bytes(b"just written"));
        assert_eq!(memo.hash_count(), 2);
        // What is gone or not a file is left for the job to report.
        memo.digest_ahead(&dir.path().join("missing"));
        memo.digest_ahead(dir.path());
        assert_eq!(memo.hash_count(), 2);
        assert!(memo.digest(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn an_unchanged_memo_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::write(&a, b"aaa").unwrap();
        fs::write(&b, b"bbb").unwrap();
        let memo_path = dir.path().join("memo.bin");
        let inode = |p: &Path| FileStamp::of(p).unwrap().ino;
        let memo = DigestMemo::new(Duration::ZERO);
        memo.digest(&a).unwrap();
        memo.save(&memo_path).unwrap();
        let first = inode(&memo_path);
        memo.save(&memo_path).unwrap();
        let (loaded, _) = DigestMemo::load(&memo_path, Duration::ZERO);
        loaded.digest(&a).unwrap();
        loaded.save(&memo_path).unwrap();
        assert_eq!(inode(&memo_path), first, "nothing new: not written again");
        loaded.digest(&b).unwrap();
        loaded.save(&memo_path).unwrap();
        assert_ne!(inode(&memo_path), first);
        let (reloaded, _) = DigestMemo::load(&memo_path, Duration::ZERO);
        reloaded.digest(&a).unwrap();
        reloaded.digest(&b).unwrap();
        assert_eq!(reloaded.hash_count(), 0, "both entries were saved");
        reloaded.forget(&a);
        reloaded.save(&memo_path).unwrap();
        let (after, _) = DigestMemo::load(&memo_path, Duration::ZERO);
        after.digest(&a).unwrap();
        assert_eq!(
            after.hash_count(),
            1,
            "a forgotten entry is saved as forgotten"
        );
    }

    #[test]
    fn save_load_roundtrip_and_corrupt_file_gives_warning() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        fs::write(&p, b"data").unwrap();
        let memo_path = dir.path().join("memo.bin");
        let memo = DigestMemo::new(Duration::ZERO);
        memo.digest(&p).unwrap();
        memo.save(&memo_path).unwrap();
        let (loaded, warn) = DigestMemo::load(&memo_path, Duration::ZERO);
        assert!(warn.is_none());
        assert_eq!(loaded.digest(&p).unwrap().digest, Digest::of_bytes(b"data"));
        assert_eq!(loaded.hash_count(), 0, "entry came from the saved memo");

        let mut bytes = fs::read(&memo_path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        fs::write(&memo_path, &bytes).unwrap();
        let (loaded, warn) = DigestMemo::load(&memo_path, Duration::ZERO);
        assert!(warn.unwrap().contains("corrupt"));
        loaded.digest(&p).unwrap();
        assert_eq!(loaded.hash_count(), 1);
    }
}
