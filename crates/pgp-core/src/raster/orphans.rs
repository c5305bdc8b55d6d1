//! Temporary outputs that must not outlive their process.
//!
//! A command stopped by SIGINT or SIGTERM would leave its hidden `.<stem>.pgp-tmp-<pid>-<n>.*`
//! files (possibly large) beside the output. Two things prevent that: every temporary name is
//! noted here, so a signal handler can delete them with [`remove_live_temporaries`]; and when a
//! new temporary is named for an output, those of the same output whose process is gone (a
//! SIGKILL cannot be caught) are removed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

/// Temporary names handed out by this process: (directory, name prefix).
static LIVE: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

pub(crate) fn note_live(dir: &Path, base: &str) {
    if let Ok(mut live) = LIVE.lock() {
        live.push((dir.to_path_buf(), base.to_string()));
    }
}

/// Whether `name` is `base` itself or derived from it (`base.tif`, `base.tif.aux.xml`, ...).
fn derived_from(name: &str, base: &str) -> bool {
    name.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

fn remove_entry(path: &Path) {
    if path.is_dir() {
        let _ = fs::remove_dir_all(path);
    } else {
        let _ = fs::remove_file(path);
    }
}

/// Deletes every temporary output this process has named and not yet renamed into place. For
/// signal handlers (run it on a normal thread, not inside the handler): after it, the process
/// should end at once.
pub fn remove_live_temporaries() {
    let live = match LIVE.lock() {
        Ok(live) => live.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    remove_listed(&live);
}

fn remove_listed(live: &[(PathBuf, String)]) {
    let mut dirs: Vec<&PathBuf> = live.iter().map(|(d, _)| d).collect();
    dirs.sort();
    dirs.dedup();
    for dir in dirs {
        let listed = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir.as_path()
        };
        let Ok(entries) = fs::read_dir(listed) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if live
                .iter()
                .any(|(d, base)| d == dir && derived_from(&name, base))
            {
                remove_entry(&entry.path());
            }
        }
    }
}

/// Removes temporaries of output `stem` in `dir` whose process is gone.
pub(crate) fn sweep(dir: &Path, stem: &str) {
    let listed = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = fs::read_dir(listed) else {
        return;
    };
    let prefix = format!(".{stem}.pgp-tmp-");
    let me = std::process::id();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let modified = entry.metadata().and_then(|m| m.modified()).ok();
        if owner_is_gone(pid, modified) {
            remove_entry(&entry.path());
        }
    }
}

/// True if process `pid` does not exist, or exists but started after the file was last
/// modified (so it reused the pid of the dead writer).
fn owner_is_gone(pid: u32, modified: Option<SystemTime>) -> bool {
    let Ok(raw) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 sends nothing; it only checks that the process exists.
    let exists = unsafe { libc::kill(raw, 0) } == 0
        || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
    if !exists {
        return true;
    }
    match (modified, process_start(pid)) {
        // One second of slack: start times have clock-tick resolution, boot time seconds.
        (Some(modified), Some(start)) => start
            .duration_since(modified)
            .is_ok_and(|d| d.as_secs() >= 1),
        _ => false,
    }
}

/// When process `pid` started, from `/proc` (Linux); `None` elsewhere.
fn process_start(pid: u32) -> Option<SystemTime> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let ticks: u64 = after_name.split_whitespace().nth(19)?.parse().ok()?;
    let boot: u64 = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) })
        .ok()
        .filter(|&hz| hz > 0)?;
    let secs = boot + ticks / hz;
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporaries_of_gone_processes_are_swept_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let me = std::process::id();
        // The parent of this test process is alive and started before these files.
        // SAFETY: getppid has no preconditions.
        let parent = unsafe { libc::getppid() } as u32;
        let names = [
            format!(".out.pgp-tmp-{dead}-0.tif"),
            format!(".out.pgp-tmp-{dead}-0.tif.aux.xml"),
            format!(".out.pgp-tmp-{me}-7.tif"),
            format!(".out.pgp-tmp-{parent}-0.tif"),
            format!(".other.pgp-tmp-{dead}-0.tif"),
        ];
        for n in &names {
            fs::write(dir.path().join(n), b"partial").unwrap();
        }
        sweep(dir.path(), "out");
        let left = |n: &str| dir.path().join(n).exists();
        assert!(!left(&names[0]) && !left(&names[1]));
        assert!(left(&names[2]) && left(&names[3]) && left(&names[4]));
    }

    #[test]
    fn live_temporaries_and_their_derived_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x.tif");
        let tmp = crate::temporary_sibling(&target);
        let base = tmp.file_stem().unwrap().to_string_lossy().into_owned();
        let noted = LIVE
            .lock()
            .unwrap()
            .iter()
            .any(|(d, b)| d == dir.path() && *b == base);
        assert!(noted, "{base} not noted");
        fs::write(&tmp, b"partial").unwrap();
        fs::write(dir.path().join(format!("{base}.tif.aux.xml")), b"s").unwrap();
        fs::write(dir.path().join(format!("{base}0.tif")), b"another n").unwrap();
        fs::write(&target, b"finished").unwrap();
        // Only this test's entry: other tests of this process write temporaries meanwhile.
        remove_listed(&[(dir.path().to_path_buf(), base.clone())]);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec![format!("{base}0.tif"), "x.tif".to_string()]);
    }
}
