//! Who a run is, in a form that outlives it: enough to tell later whether that process is gone.
//!
//! A pid alone is not enough, since pids are reused. On Linux the process start time (clock ticks
//! since boot, `/proc/<pid>/stat` field 22) and the boot id tell a reused pid from the original;
//! elsewhere only the pid's existence is checked. A process on another host is never declared
//! gone: there is no way to look.

use std::time::{SystemTime, UNIX_EPOCH};

/// The identity of one process, as recorded beside what it owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Start time of the process in clock ticks since boot (Linux), if known.
    pub start_ticks: Option<u64>,
    /// Boot id (Linux), if known.
    pub boot: Option<String>,
    /// Host name.
    pub host: String,
    /// When the record was made, seconds since the Unix epoch (for people reading messages).
    pub since: u64,
}

impl Owner {
    /// This process, now.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start_ticks: start_ticks(pid),
            boot: boot_id(),
            host: host_name(),
            since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// One line of text, read back by [`Owner::decode`].
    pub fn encode(&self) -> String {
        format!(
            "pid={} start={} boot={} host={} since={}",
            self.pid,
            self.start_ticks.map_or("-".to_string(), |t| t.to_string()),
            self.boot.as_deref().unwrap_or("-"),
            self.host,
            self.since
        )
    }

    /// Parses [`Owner::encode`]'s line; `None` if it is not one.
    pub fn decode(line: &str) -> Option<Owner> {
        let mut owner = Owner {
            pid: 0,
            start_ticks: None,
            boot: None,
            host: String::new(),
            since: 0,
        };
        let mut has_pid = false;
        for field in line.split_whitespace() {
            let (key, value) = field.split_once('=')?;
            let known = value != "-";
            match key {
                "pid" => {
                    owner.pid = value.parse().ok()?;
                    has_pid = true;
                }
                "start" if known => owner.start_ticks = Some(value.parse().ok()?),
                "boot" if known => owner.boot = Some(value.to_string()),
                "host" => owner.host = value.to_string(),
                "since" => owner.since = value.parse().ok()?,
                _ => {}
            }
        }
        has_pid.then_some(owner)
    }

    /// True when this process has certainly ended (a reused pid counts as ended). False when it
    /// runs, or when that cannot be known (another host).
    pub fn is_gone(&self) -> bool {
        if self.host != host_name() {
            return false;
        }
        if let (Some(then), Some(now)) = (&self.boot, boot_id()) {
            if *then != now {
                return true; // rebooted since: every process of then is gone
            }
        }
        if !pid_exists(self.pid) {
            return true;
        }
        match (self.start_ticks, start_ticks(self.pid)) {
            (Some(then), Some(now)) => then != now,
            _ => false,
        }
    }

    /// "process 123 on host h (since 2026-12-03 07:40:00 UTC)", for messages.
    pub fn describe(&self) -> String {
        format!(
            "process {} on host {} (since {})",
            self.pid,
            self.host,
            utc(self.since)
        )
    }
}

fn pid_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 sends nothing; it only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    // EPERM: it exists but belongs to someone else.
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Field 22 of `/proc/<pid>/stat`; the command name (field 2) may hold spaces and parentheses,
/// so fields are counted after its closing parenthesis.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: field 3 (state) is the first; field 22 is the 20th.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    Some(id.trim().to_string()).filter(|s| !s.is_empty())
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name: String = String::from_utf8_lossy(&buf[..end])
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if name.is_empty() {
        "unknown".to_string()
    } else {
        name
    }
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, proleptic Gregorian).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_round_trips() {
        let me = Owner::current();
        assert_eq!(Owner::decode(&me.encode()), Some(me.clone()));
        assert!(!me.is_gone());
        assert!(Owner::decode("garbage").is_none());
    }

    #[test]
    fn a_reaped_child_and_a_reused_pid_are_gone() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = Owner {
            pid,
            ..Owner::current()
        };
        assert!(dead.is_gone());
        if cfg!(target_os = "linux") {
            // Same pid as a live process but another start time: the pid was reused.
            let mut reused = Owner::current();
            reused.start_ticks = reused.start_ticks.map(|t| t + 1);
            assert!(reused.is_gone());
        }
        let elsewhere = Owner {
            pid,
            host: "some-other-host".into(),
            ..Owner::current()
        };
        assert!(
            !elsewhere.is_gone(),
            "another host's process is never judged"
        );
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_281_200), "2026-12-03 07:00:00 UTC");
    }
}
