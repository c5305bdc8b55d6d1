//! Exclusive use of output directories by one graph at a time.
//!
//! The workspace lock keeps two graphs off one workspace, but two runs of the same pipeline with
//! different workspaces would still write the same outputs at once: each would see the other's
//! half-installed files and record them. So a graph also locks every directory it writes outputs
//! into, when the first task writing there is added, until it is dropped.
//!
//! The lock is an `flock` on the directory itself (nothing to create or leave behind, released by
//! the kernel when the holder dies). Who holds it is written to a note, `.pgp-lock`, in that
//! directory, removed when the lock is released; a killed holder's note is overwritten by the
//! next holder.

use crate::error::GraphError;
use crate::lock::LockWait;
use crate::owner::Owner;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Name of the note saying who holds an output directory.
pub const HOLDER_NOTE: &str = ".pgp-lock";

/// The output directories a graph holds.
#[derive(Debug)]
pub struct OutputLocks {
    wait: LockWait,
    workspace: PathBuf,
    held: Mutex<HashMap<PathBuf, DirLock>>,
}

#[derive(Debug)]
struct DirLock {
    _dir: File,
    note: PathBuf,
}

impl Drop for DirLock {
    /// The note goes first, while the lock is still held, so it never names a later holder.
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.note);
    }
}

impl OutputLocks {
    /// No directories held yet; `wait` says what to do when another graph holds one.
    pub fn new(workspace: &Path, wait: LockWait) -> Self {
        OutputLocks {
            wait,
            workspace: workspace.to_path_buf(),
            held: Mutex::new(HashMap::new()),
        }
    }

    /// Takes the directories of `outputs` not held yet (creating them if needed).
    pub fn hold(&self, outputs: &[PathBuf]) -> Result<(), GraphError> {
        let mut held = self.held.lock();
        for dir in outputs.iter().filter_map(|o| o.parent()) {
            if held.contains_key(dir) {
                continue;
            }
            let lock = self.acquire(dir)?;
            held.insert(dir.to_path_buf(), lock);
        }
        Ok(())
    }

    fn acquire(&self, dir: &Path) -> Result<DirLock, GraphError> {
        let io_err = |source| GraphError::Workspace {
            path: dir.to_path_buf(),
            source,
        };
        fs::create_dir_all(dir).map_err(io_err)?;
        let file = File::open(dir).map_err(io_err)?;
        let note = dir.join(HOLDER_NOTE);
        let start = Instant::now();
        loop {
            if try_lock(&file).map_err(io_err)? {
                break;
            }
            let give_up = match self.wait {
                LockWait::Fail => true,
                LockWait::Timeout(t) => start.elapsed() >= t,
                LockWait::Forever => false,
            };
            if give_up {
                let holder = fs::read_to_string(&note).ok().and_then(|text| {
                    let mut lines = text.lines();
                    let owner = Owner::decode(lines.next()?)?;
                    let workspace = lines.next().unwrap_or("?");
                    Some(format!("{}, workspace {workspace}", owner.describe()))
                });
                return Err(GraphError::OutputsLocked {
                    dir: dir.to_path_buf(),
                    holder: holder.unwrap_or_else(|| "another run".to_string()),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let text = format!(
            "{}\n{}\n",
            Owner::current().encode(),
            self.workspace.display()
        );
        let _ = fs::write(&note, text);
        Ok(DirLock { _dir: file, note })
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a valid, owned file descriptor has no memory-safety preconditions.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(code) if code == libc::EWOULDBLOCK || code == libc::EINTR => Ok(false),
        _ => Err(err),
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_told_who_holds_the_directory() {
        let out = tempfile::tempdir().unwrap();
        let target = [out.path().join("sub/a.tif")];
        let first = OutputLocks::new(Path::new("/ws/one"), LockWait::Fail);
        first.hold(&target).unwrap();
        first.hold(&target).unwrap(); // held already: no self-conflict
        let second = OutputLocks::new(
            Path::new("/ws/two"),
            LockWait::Timeout(Duration::from_millis(100)),
        );
        let err = second.hold(&target).unwrap_err().to_string();
        assert!(
            err.contains(&format!("process {}", std::process::id()))
                && err.contains("/ws/one")
                && err.contains(&out.path().join("sub").display().to_string()),
            "{err}"
        );
        drop(first);
        assert!(!out.path().join("sub").join(HOLDER_NOTE).exists());
        second.hold(&target).unwrap();
        assert!(out.path().join("sub").join(HOLDER_NOTE).exists());
    }
}
