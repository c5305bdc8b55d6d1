//! Exclusive use of a workspace by one graph at a time, through an OS file lock.
//!
//! `flock` locks belong to an open file description, so two graphs in one process conflict just
//! like two processes do, and the kernel releases the lock when its holder dies (even by SIGKILL):
//! a stale lock is impossible.

use crate::error::GraphError;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// What to do when another graph holds the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LockWait {
    /// Fail at once with [`GraphError::Locked`].
    #[default]
    Fail,
    /// Wait up to this long, then fail with [`GraphError::Locked`].
    Timeout(Duration),
    /// Wait as long as it takes.
    Forever,
}

/// A held workspace lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct WorkspaceLock {
    _file: File,
}

impl WorkspaceLock {
    /// Takes the lock file `path` in the workspace `workspace`.
    pub fn acquire(workspace: &Path, path: &Path, wait: LockWait) -> Result<Self, GraphError> {
        let io_err = |source| GraphError::Workspace {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_err)?;
        let start = Instant::now();
        loop {
            match try_lock(&file) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return Err(io_err(e)),
            }
            let give_up = match wait {
                LockWait::Fail => true,
                LockWait::Timeout(t) => start.elapsed() >= t,
                LockWait::Forever => false,
            };
            if give_up {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim().parse::<u32>() {
                    Ok(pid) => format!(", held by process {pid}"),
                    Err(_) => String::new(),
                };
                return Err(GraphError::Locked {
                    path: workspace.to_path_buf(),
                    holder,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Note who holds it, for the error message of whoever comes next.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "{}", std::process::id());
        Ok(WorkspaceLock { _file: file })
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
        Some(code) if code == libc::EWOULDBLOCK || code == libc::EAGAIN => Ok(false),
        Some(code) if code == libc::EINTR => Ok(false),
        _ => Err(err),
    }
}

#[cfg(not(unix))]
fn try_lock(_file: &File) -> std::io::Result<bool> {
    // Without flock there is no lock that dies with its holder; workspaces are unguarded here.
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_fails_then_succeeds_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let lock_path = dir.path().join("lock");
        let first = WorkspaceLock::acquire(dir.path(), &lock_path, LockWait::Fail).unwrap();
        let err = WorkspaceLock::acquire(
            dir.path(),
            &lock_path,
            LockWait::Timeout(Duration::from_millis(60)),
        )
        .unwrap_err();
        match err {
            GraphError::Locked { holder, .. } => {
                assert_eq!(holder, format!(", held by process {}", std::process::id()))
            }
            other => panic!("unexpected {other}"),
        }
        drop(first);
        WorkspaceLock::acquire(dir.path(), &lock_path, LockWait::Fail).unwrap();
    }

    #[test]
    fn waiter_gets_lock_when_released() {
        let dir = tempfile::tempdir().unwrap();
        let lock_path = dir.path().join("lock");
        let first = WorkspaceLock::acquire(dir.path(), &lock_path, LockWait::Fail).unwrap();
        let (ws, lp) = (dir.path().to_path_buf(), lock_path.clone());
        let waiter =
            std::thread::spawn(move || WorkspaceLock::acquire(&ws, &lp, LockWait::Forever).is_ok());
        std::thread::sleep(Duration::from_millis(50));
        drop(first);
        assert!(waiter.join().unwrap());
    }
}
