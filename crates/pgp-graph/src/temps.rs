//! Temporary output directories that outlive their run, and how they are swept.
//!
//! A task killed mid-run leaves its `.pgp-tmp-*` directory beside its outputs. When the rerun
//! runs that task, it starts afresh; but a rerun may skip it (its inputs were reverted), or the
//! task may be gone from the pipeline, and nothing would ever look there again. So every
//! temporary directory is first noted in the workspace (`temps/`, one small file per directory,
//! naming it and its owner process), and the note is removed after the directory. At graph
//! open, directories noted by processes that are gone are removed. Directories of a live
//! process (another run) are never touched. A program stopped by a signal removes its own at
//! once ([`remove_live_temporaries`]), so nothing is left even until the next open.

use crate::owner::Owner;
use crate::paths::path_bytes;
use crate::Digest;
use parking_lot::Mutex;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by [`remove_live_temporaries`]: no task creates a temporary directory any more.
static STOPPING: AtomicBool = AtomicBool::new(false);
/// The temporary directories this process noted and has not removed: `(workspace, dir)`.
static LIVE: Mutex<Vec<(PathBuf, PathBuf)>> = Mutex::new(Vec::new());

/// Prefix of every temporary output directory name.
pub const TEMP_DIR_PREFIX: &str = ".pgp-tmp-";

/// Name of a task's temporary directory: the task's identity and this process, so that two
/// runs writing the same outputs (from different workspaces) never share one.
pub fn temp_dir_name(identity: &Digest) -> String {
    format!(
        "{TEMP_DIR_PREFIX}{}-{}",
        identity.short_hex(16),
        std::process::id()
    )
}

fn notes_dir(workspace: &Path) -> PathBuf {
    workspace.join("temps")
}

fn note_path(workspace: &Path, dir: &Path) -> PathBuf {
    notes_dir(workspace).join(format!(
        "{}.dir",
        Digest::of_bytes(&path_bytes(dir)).short_hex(24)
    ))
}

/// Notes that this process is about to create the temporary directory `dir`.
pub fn note(workspace: &Path, dir: &Path) -> io::Result<()> {
    fs::create_dir_all(notes_dir(workspace))?;
    let text = format!("{}\n{}\n", Owner::current().encode(), dir.display());
    {
        let mut live = LIVE.lock();
        if STOPPING.load(Ordering::SeqCst) {
            return Err(io::Error::other(
                "the program is stopping (signal): no new task starts",
            ));
        }
        live.push((workspace.to_path_buf(), dir.to_path_buf()));
    }
    fs::write(note_path(workspace, dir), text)
}

/// Forgets `dir` once it is removed.
pub fn forget(workspace: &Path, dir: &Path) {
    LIVE.lock().retain(|(w, d)| !(w == workspace && d == dir));
    let _ = fs::remove_file(note_path(workspace, dir));
}

/// Removes the temporary output directories of this process's running tasks, and their notes.
///
/// For a program's SIGINT/SIGTERM handling (on an ordinary thread, not in the handler) just
/// before it ends: the tasks' partial outputs go at once instead of at the workspace's next
/// open. Stop whatever writes into them first (worker processes, Slurm jobs:
/// `pgp_exec::stop_all_workers`). A task still running in this process only finds its
/// directory gone and fails; nothing is recorded for it.
pub fn remove_live_temporaries() {
    let live = {
        let live = LIVE.lock();
        STOPPING.store(true, Ordering::SeqCst);
        live.clone()
    };
    // A task noted just before may create its directory just after the first pass.
    for pass in 0..2 {
        if pass > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        for (workspace, dir) in &live {
            if fs::remove_dir_all(dir).is_ok() || !dir.exists() {
                forget(workspace, dir);
            }
        }
    }
}

/// Removes the temporary directories noted by processes that are gone, and their notes.
/// Returns the directories removed.
pub fn sweep(workspace: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = fs::read_dir(notes_dir(workspace)) else {
        return removed;
    };
    for entry in entries.flatten() {
        let note = entry.path();
        let Ok(text) = fs::read_to_string(&note) else {
            continue;
        };
        let mut lines = text.lines();
        let owner = lines.next().and_then(Owner::decode);
        let dir = lines.next().map(PathBuf::from);
        match (owner, dir) {
            (Some(owner), Some(dir)) => {
                if !owner.is_gone() {
                    continue;
                }
                // Only ever a directory of ours: the note could have been edited by hand.
                let ours = dir
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(TEMP_DIR_PREFIX));
                if ours && dir.is_dir() && fs::remove_dir_all(&dir).is_ok() {
                    removed.push(dir);
                }
                let _ = fs::remove_file(&note);
            }
            // Cut short while being written: its directory was not created yet.
            _ => {
                let _ = fs::remove_file(&note);
            }
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_directories_of_gone_processes_are_swept() {
        let ws = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let mine = out.path().join(".pgp-tmp-aaaa-1");
        let dead = out.path().join(".pgp-tmp-bbbb-2");
        let not_ours = out.path().join("data");
        for d in [&mine, &dead, &not_ours] {
            fs::create_dir(d).unwrap();
            fs::write(d.join("partial.tif"), b"x").unwrap();
        }
        note(ws.path(), &mine).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let gone = Owner {
            pid: child.id(),
            ..Owner::current()
        };
        child.wait().unwrap();
        for d in [&dead, &not_ours] {
            let text = format!("{}\n{}\n", gone.encode(), d.display());
            fs::write(note_path(ws.path(), d), text).unwrap();
        }
        fs::write(notes_dir(ws.path()).join("cut.dir"), "pid=").unwrap();
        assert_eq!(sweep(ws.path()), vec![dead.clone()]);
        assert!(mine.is_dir() && not_ours.is_dir() && !dead.exists());
        let left: Vec<_> = fs::read_dir(notes_dir(ws.path())).unwrap().collect();
        assert_eq!(left.len(), 1, "only the live process's note stays");
        forget(ws.path(), &mine);
        assert_eq!(fs::read_dir(notes_dir(ws.path())).unwrap().count(), 0);
    }
}
