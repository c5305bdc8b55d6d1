//! File mechanics of the store: modes that follow the store's directory, unique temporary
//! names, and putting a file's bytes at another path (reflink, hard link or copy).

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::BuildHasher;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The modes of what the store creates, derived from its root directory's mode: a store shared
/// by a group (group-readable, group-writable, setgid) stays so; nothing is writable by others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modes {
    /// Directories: the owner's rwx, the root's group bits and setgid, others at most r-x.
    pub dir: u32,
    /// Blobs and entries: read-only for everyone who may read the root (0444 or 0440).
    pub file: u32,
    /// Files every user of the store appends to (the hits log): writable by the group when
    /// the root is.
    pub shared_file: u32,
}

impl Modes {
    pub fn of_root(root: &Path) -> io::Result<Modes> {
        Ok(Modes::of_mode(fs::metadata(root)?.permissions().mode()))
    }

    pub fn of_mode(root: u32) -> Modes {
        let group = root & 0o070;
        let others = root & 0o005;
        let setgid = root & 0o2000;
        let readable = |bits: u32, r: u32| if bits & r != 0 { r } else { 0 };
        Modes {
            dir: 0o700 | group | others | setgid,
            file: 0o400 | readable(root, 0o040) | readable(root, 0o004),
            shared_file: 0o600 | (root & 0o060) | readable(root, 0o004),
        }
    }
}

/// Sets `path`'s permission bits.
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

/// How [`materialize`] put the bytes in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placed {
    /// A copy-on-write clone (FICLONE): a file of its own, sharing extents.
    Reflinked,
    /// A hard link to the (read-only) source.
    Linked,
    /// A byte copy.
    Copied,
}

/// Puts the content of `source` at the new path `dest` (removed first if there): a reflink
/// where the filesystem can, else a hard link if `may_link` and `source` is read-only (so the
/// link cannot be written through by accident), else a copy.
pub fn materialize(source: &Path, dest: &Path, may_link: bool) -> io::Result<Placed> {
    match fs::remove_file(dest) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let src = fs::File::open(source)?;
    if reflink(&src, dest).is_ok() {
        return Ok(Placed::Reflinked);
    }
    let read_only = src.metadata()?.permissions().mode() & 0o222 == 0;
    if may_link && read_only && fs::hard_link(source, dest).is_ok() {
        return Ok(Placed::Linked);
    }
    fs::copy(source, dest)?;
    Ok(Placed::Copied)
}

/// A copy-on-write clone of `src` at the new path `dest`; on failure nothing is left there.
fn reflink(src: &fs::File, dest: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        /// `_IOW(0x94, 9, int)` from linux/fs.h.
        const FICLONE: u64 = 0x4004_9409;
        let out = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dest)?;
        // SAFETY: both descriptors are open for the duration of the call; FICLONE reads an int
        // (the source descriptor) passed by value and writes nothing to our memory.
        let rc = unsafe { libc::ioctl(out.as_raw_fd(), FICLONE as _, src.as_raw_fd()) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        drop(out);
        let _ = fs::remove_file(dest);
        Err(e)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (src, dest);
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `what-<pid>-<counter>-<random>`: unique among the processes of every host sharing a store
/// (pids repeat across hosts; the random part, from the standard library's per-process random
/// keys and the clock, does not).
pub fn unique_name(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let random = RandomState::new().hash_one(nanos);
    format!(
        "{what}-{}-{}-{random:016x}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_root_and_never_let_others_write() {
        let shared = Modes::of_mode(0o2775);
        assert_eq!(shared.dir, 0o2775);
        assert_eq!(shared.file, 0o444);
        assert_eq!(shared.shared_file, 0o664);
        let group_only = Modes::of_mode(0o2770);
        assert_eq!((group_only.dir, group_only.file), (0o2770, 0o440));
        let private = Modes::of_mode(0o700);
        assert_eq!(
            (private.dir, private.file, private.shared_file),
            (0o700, 0o400, 0o600)
        );
        // A world-writable root does not make anything inside world-writable.
        let open = Modes::of_mode(0o777);
        assert_eq!(open.dir & 0o002, 0);
        assert_eq!(open.shared_file & 0o002, 0);
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("x"), unique_name("x"));
    }

    #[test]
    fn materialize_links_only_read_only_sources() {
        let dir = tempfile::tempdir().unwrap();
        let (src, a, b) = (
            dir.path().join("s"),
            dir.path().join("a"),
            dir.path().join("b"),
        );
        fs::write(&src, b"content").unwrap();
        let how = materialize(&src, &a, true).unwrap();
        assert_ne!(how, Placed::Linked, "a writable source is never linked");
        set_mode(&src, 0o444).unwrap();
        let how = materialize(&src, &b, true).unwrap();
        assert!(matches!(how, Placed::Linked | Placed::Reflinked), "{how:?}");
        assert_eq!(fs::read(&b).unwrap(), b"content");
        let how = materialize(&src, &b, false).unwrap();
        assert_ne!(how, Placed::Linked);
        assert_eq!(fs::read(&b).unwrap(), b"content");
    }
}
