//! Durable file writes and self-checking file framing.
//!
//! Every file the graph keeps in its workspace is written with [`atomic_write`] (temporary file,
//! fsync, rename, fsync of the directory) and framed with [`frame`]: a magic tag, a format
//! version, the payload and a BLAKE3 digest of the payload. A reader therefore sees either a complete,
//! verified file or something it can recognise as not one of ours.

use crate::digest::Digest;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Prefix of temporary files inside the store; anything with it is a leftover of a crash.
pub const TMP_PREFIX: &str = ".tmp-";

/// Writes `bytes` to `path` so that a crash at any moment leaves either the old file or the new
/// one, never a mix: write a temporary sibling, fsync it, rename it over `path`, fsync the
/// directory so the rename itself is durable.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let mut results = atomic_write_group(dir, &[(path, bytes)], true);
    results.pop().unwrap_or(Ok(()))
}

/// [`atomic_write`] of many files of one directory at once (a group commit): every temporary
/// file is written (and fsynced if `sync_each`), then each is renamed into place, then the
/// directory is fsynced once for all of them. One result per file, in order; a file whose
/// result is an error was not put in place, or its rename may not be durable.
///
/// Without `sync_each`, a power failure can leave a renamed file with incomplete content, so
/// only files that check themselves ([`frame`]) may skip it: a torn one is then recognised and
/// discarded, never trusted. A crash of the process alone never tears a file either way.
pub fn atomic_write_group(
    dir: &Path,
    files: &[(&Path, &[u8])],
    sync_each: bool,
) -> Vec<io::Result<()>> {
    let temps: Vec<io::Result<std::path::PathBuf>> = files
        .iter()
        .map(|(path, bytes)| write_temp(dir, path, bytes, sync_each))
        .collect();
    let mut results: Vec<io::Result<()>> = temps
        .into_iter()
        .zip(files)
        .map(|(temp, (path, _))| {
            let temp = temp?;
            fs::rename(&temp, path).inspect_err(|_| {
                let _ = fs::remove_file(&temp);
            })
        })
        .collect();
    if results.iter().any(Result::is_ok) {
        if let Err(e) = sync_dir(dir) {
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(io::Error::new(e.kind(), e.to_string()));
            }
        }
    }
    results
}

/// Writes (and fsyncs, if `sync`) a temporary sibling of `path` in `dir`; removed again on
/// failure.
fn write_temp(dir: &Path, path: &Path, bytes: &[u8], sync: bool) -> io::Result<std::path::PathBuf> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        "{TMP_PREFIX}{name}-{}-{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Asks the kernel to start writing `path`'s dirty pages to disk without waiting, so that a
/// later fsync finds little left to do. Only a hint: errors are ignored (the fsync reports them).
pub fn start_writeback(path: &Path) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        if let Ok(file) = File::open(path) {
            // SAFETY: the descriptor is open for the duration of the call; the call reads nothing
            // from our memory.
            unsafe {
                libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = path;
}

/// Flushes a file's data and metadata to disk.
pub fn sync_file(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

/// Makes renames and creations inside `dir` durable. A no-op where directories cannot be opened.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Frames `payload` as `magic ‖ version (u32 LE) ‖ payload ‖ BLAKE3(payload)`.
pub fn frame(magic: &[u8; 8], version: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 44);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&Digest::of_bytes(payload).0);
    out
}

/// Why a framed file was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Too short, wrong magic or wrong checksum: not a complete file of ours.
    Corrupt,
    /// Written by another format version of this crate.
    Version(u32),
}

/// Checks and strips the frame written by [`frame`].
pub fn unframe<'a>(magic: &[u8; 8], version: u32, bytes: &'a [u8]) -> Result<&'a [u8], FrameError> {
    if bytes.len() < 44 || &bytes[..8] != magic {
        return Err(FrameError::Corrupt);
    }
    let mut v = [0u8; 4];
    v.copy_from_slice(&bytes[8..12]);
    let found = u32::from_le_bytes(v);
    let payload = &bytes[12..bytes.len() - 32];
    if bytes[bytes.len() - 32..] != Digest::of_bytes(payload).0 {
        return Err(FrameError::Corrupt);
    }
    if found != version {
        return Err(FrameError::Version(found));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_roundtrip_and_every_flipped_byte_is_caught() {
        let framed = frame(b"TESTMAGI", 3, b"hello payload");
        assert_eq!(unframe(b"TESTMAGI", 3, &framed).unwrap(), b"hello payload");
        assert_eq!(
            unframe(b"TESTMAGI", 4, &framed),
            Err(FrameError::Version(3))
        );
        for i in 0..framed.len() {
            if (8..12).contains(&i) {
                continue; // version bytes: reported as a version mismatch, checked above
            }
            let mut bad = framed.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                unframe(b"TESTMAGI", 3, &bad),
                Err(FrameError::Corrupt),
                "byte {i}"
            );
        }
        assert_eq!(
            unframe(b"TESTMAGI", 3, &framed[..framed.len() - 1]),
            Err(FrameError::Corrupt)
        );
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.bin");
        atomic_write(&p, b"one").unwrap();
        atomic_write(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("f.bin")]);
    }
}
