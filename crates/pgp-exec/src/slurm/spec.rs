//! The `slurm:` executor spec: `slurm:workers=4,cpus=8,mem=16G,time=02:00:00,partition=normal`.

use std::fmt;
use std::num::NonZeroUsize;
use std::time::Duration;

/// How a Slurm executor asks for its allocations, as data (the part after `slurm:`).
///
/// Keys, all optional, separated by commas, in any order:
///
/// | key | meaning | default |
/// | --- | --- | --- |
/// | `workers` | pilot jobs kept running (each pulls tasks one at a time) | 1 |
/// | `cpus` | CPUs of each job (`--cpus-per-task`); a task's operation uses that many threads | 1 |
/// | `mem` | memory of each job (`--mem`), `K`/`M`/`G`/`T` suffix, no suffix = megabytes | the cluster's |
/// | `time` | walltime of each job (`--time`), Slurm's forms: `MM`, `MM:SS`, `HH:MM:SS`, `D-HH[:MM[:SS]]` | the partition's |
/// | `partition` | `--partition` | the cluster's default |
/// | `retries` | how often a task whose worker job died is run again elsewhere | 2 |
/// | `task_time` | longest one task may take: a worker with less walltime left takes no new task | none |
/// | `--name=value` | any other `sbatch` option, passed through as written (`--account=lab`) | |
///
/// ```
/// use pgp_exec::{ExecutorSpec, SlurmSpec};
/// let spec: ExecutorSpec = "slurm:workers=4,cpus=8,mem=16G,time=2:00:00,--account=lab".parse()?;
/// assert_eq!(spec.to_string(), "slurm:workers=4,cpus=8,mem=16G,time=02:00:00,--account=lab");
/// let ExecutorSpec::Slurm(slurm) = &spec else { unreachable!() };
/// assert_eq!(slurm.mem_megabytes(), Some(16 * 1024));
/// assert_eq!(slurm.sbatch_args()[0], "--cpus-per-task=8");
/// # Ok::<(), pgp_exec::ExecError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct SlurmSpec {
    /// Pilot jobs to keep (`workers`).
    pub workers: Option<NonZeroUsize>,
    /// CPUs per job (`cpus`).
    pub cpus: Option<NonZeroUsize>,
    /// Memory per job in megabytes (`mem`).
    pub mem_mb: Option<u64>,
    /// Walltime per job in seconds (`time`).
    pub time_s: Option<u64>,
    /// Partition (`partition`).
    pub partition: Option<String>,
    /// Extra attempts for a task whose worker died (`retries`).
    pub retries: Option<u32>,
    /// Longest a task may take, in seconds (`task_time`).
    pub task_time_s: Option<u64>,
    /// Other `sbatch` options, each `--name` or `--name=value`.
    pub extra: Vec<String>,
}

/// Default number of extra attempts for a task whose worker job died.
pub const DEFAULT_RETRIES: u32 = 2;

impl SlurmSpec {
    /// Number of pilot jobs (1 when not given).
    pub fn workers(&self) -> usize {
        self.workers.map_or(1, NonZeroUsize::get)
    }

    /// CPUs of each job (1 when not given).
    pub fn cpus(&self) -> usize {
        self.cpus.map_or(1, NonZeroUsize::get)
    }

    /// Memory of each job in megabytes, if given.
    pub fn mem_megabytes(&self) -> Option<u64> {
        self.mem_mb
    }

    /// Walltime of each job, if given.
    pub fn walltime(&self) -> Option<Duration> {
        self.time_s.map(Duration::from_secs)
    }

    /// Longest one task may take, if given.
    pub fn task_time(&self) -> Option<Duration> {
        self.task_time_s.map(Duration::from_secs)
    }

    /// Extra attempts for a task whose worker job died.
    pub fn retries(&self) -> u32 {
        self.retries.unwrap_or(DEFAULT_RETRIES)
    }

    /// The `sbatch` options this spec stands for (resources first, then the extra ones).
    pub fn sbatch_args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--cpus-per-task={}", self.cpus()),
            "--ntasks=1".to_string(),
            "--nodes=1".to_string(),
        ];
        if let Some(mem) = self.mem_mb {
            args.push(format!("--mem={mem}M"));
        }
        if let Some(time) = self.time_s {
            args.push(format!("--time={}", format_walltime(time)));
        }
        if let Some(partition) = &self.partition {
            args.push(format!("--partition={partition}"));
        }
        args.extend(self.extra.iter().cloned());
        args
    }

    /// Parses the part after `slurm:` (may be empty). `Err` is the reason, for the caller to
    /// wrap with the whole input.
    pub(crate) fn parse_keys(text: &str) -> Result<SlurmSpec, String> {
        let mut spec = SlurmSpec::default();
        let mut seen: Vec<String> = Vec::new();
        for item in text.split(',').map(str::trim) {
            if item.is_empty() {
                if text.trim().is_empty() {
                    continue;
                }
                return Err("empty item between commas".into());
            }
            if item.starts_with("--") {
                check_sbatch_option(item)?;
                spec.extra.push(item.to_string());
                continue;
            }
            let Some((key, value)) = item.split_once('=') else {
                return Err(format!(
                    "{item:?} is not key=value; keys: {KEYS}, or an sbatch option `--name=value`"
                ));
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            if seen.contains(&key) {
                return Err(format!("key `{key}` given twice"));
            }
            if value.is_empty() {
                return Err(format!("key `{key}` has no value"));
            }
            match key.as_str() {
                "workers" => spec.workers = Some(positive(&key, value)?),
                "cpus" => spec.cpus = Some(positive(&key, value)?),
                "mem" => spec.mem_mb = Some(parse_mem(value)?),
                "time" => spec.time_s = Some(parse_walltime("time", value)?),
                "task_time" => spec.task_time_s = Some(parse_walltime("task_time", value)?),
                "partition" => {
                    if !value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                    {
                        return Err(format!(
                            "partition {value:?} has characters Slurm does not allow in a name"
                        ));
                    }
                    spec.partition = Some(value.to_string());
                }
                "retries" => {
                    spec.retries = Some(value.parse().map_err(|_| {
                        format!("retries {value:?} is not a whole number of 0 or more")
                    })?)
                }
                other => {
                    return Err(format!(
                        "unknown key `{other}`; keys: {KEYS}, or an sbatch option `--name=value`"
                    ))
                }
            }
            seen.push(key);
        }
        if let (Some(task), Some(time)) = (spec.task_time_s, spec.time_s) {
            if task >= time {
                return Err(format!(
                    "task_time ({}) must be shorter than the jobs' time ({}): no worker could \
                     take a task",
                    format_walltime(task),
                    format_walltime(time)
                ));
            }
        }
        Ok(spec)
    }
}

const KEYS: &str = "workers, cpus, mem, time, partition, retries, task_time";

/// Options the executor sets itself, which a pass-through option must not override.
const RESERVED: [&str; 9] = [
    "--cpus-per-task",
    "--ntasks",
    "--nodes",
    "--mem",
    "--time",
    "--partition",
    "--output",
    "--job-name",
    "--wrap",
];

fn check_sbatch_option(item: &str) -> Result<(), String> {
    let name = item.split_once('=').map_or(item, |(name, _)| name);
    if name.len() < 3
        || !name[2..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "{item:?} is not an sbatch option of the form --name or --name=value"
        ));
    }
    if RESERVED.contains(&name) {
        return Err(format!(
            "{name} is set by the executor; use the keys ({KEYS}) instead of passing it"
        ));
    }
    if item.bytes().any(|b| b.is_ascii_control()) {
        return Err(format!("{item:?} contains a control character"));
    }
    Ok(())
}

fn positive(key: &str, value: &str) -> Result<NonZeroUsize, String> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{key} {value:?} is not a whole number of at least 1"
        ));
    }
    let n: usize = value
        .parse()
        .map_err(|_| format!("{key} {value:?} is too large"))?;
    NonZeroUsize::new(n).ok_or_else(|| format!("{key} must be at least 1, got 0"))
}

/// `16G`, `512M`, `512` (megabytes, Slurm's default unit), `2T`, `1048576K`.
fn parse_mem(value: &str) -> Result<u64, String> {
    let upper = value.to_ascii_uppercase();
    let (digits, factor_kb) = match upper.as_bytes().last() {
        Some(b'K') => (&upper[..upper.len() - 1], 1u64),
        Some(b'M') => (&upper[..upper.len() - 1], 1 << 10),
        Some(b'G') => (&upper[..upper.len() - 1], 1 << 20),
        Some(b'T') => (&upper[..upper.len() - 1], 1 << 30),
        _ => (upper.as_str(), 1 << 10),
    };
    let bad = || format!("mem {value:?} is not a size such as 512M, 16G or 2T");
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let kb = n.checked_mul(factor_kb).ok_or_else(bad)?;
    if !kb.is_multiple_of(1024) {
        return Err(format!("mem {value:?} is not a whole number of megabytes"));
    }
    let mb = kb / 1024;
    if mb == 0 {
        return Err(format!("mem {value:?} must be at least 1M"));
    }
    Ok(mb)
}

fn format_mem(mb: u64) -> String {
    if mb.is_multiple_of(1 << 20) {
        format!("{}T", mb >> 20)
    } else if mb.is_multiple_of(1024) {
        format!("{}G", mb >> 10)
    } else {
        format!("{mb}M")
    }
}

/// Parses a walltime in Slurm's forms (`MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`,
/// `D-HH:MM:SS`), as the `time` key of a `slurm:` spec does; the error names `key`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(pgp_exec::parse_slurm_time("walltime", "00:20:00"), Ok(Duration::from_secs(1200)));
/// assert!(pgp_exec::parse_slurm_time("walltime", "soon").unwrap_err().contains("walltime"));
/// ```
pub fn parse_slurm_time(key: &str, value: &str) -> Result<Duration, String> {
    parse_walltime(key, value).map(Duration::from_secs)
}

fn parse_walltime(key: &str, value: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "{key} {value:?} is not a walltime: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"
        )
    };
    let number = |s: &str| -> Result<u64, String> {
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (days, clock) = match value.split_once('-') {
        Some((d, rest)) => (Some(number(d)?), rest),
        None => (None, value),
    };
    let parts = clock
        .split(':')
        .map(number)
        .collect::<Result<Vec<u64>, String>>()?;
    let seconds = match (days, parts.as_slice()) {
        (None, [m]) => m * 60,
        (None, [m, s]) => m * 60 + s,
        (None, [h, m, s]) => h * 3600 + m * 60 + s,
        (Some(d), [h]) => d * 86400 + h * 3600,
        (Some(d), [h, m]) => d * 86400 + h * 3600 + m * 60,
        (Some(d), [h, m, s]) => d * 86400 + h * 3600 + m * 60 + s,
        _ => return Err(bad()),
    };
    if seconds == 0 {
        return Err(format!("{key} must be longer than 0"));
    }
    Ok(seconds)
}

/// `HH:MM:SS`, or `D-HH:MM:SS` from one day on.
pub(crate) fn format_walltime(seconds: u64) -> String {
    let (days, rest) = (seconds / 86400, seconds % 86400);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days}-{clock}")
    } else {
        clock
    }
}

impl fmt::Display for SlurmSpec {
    /// The canonical form after `slurm:`, keys in the documented order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = Vec::new();
        if let Some(n) = self.workers {
            items.push(format!("workers={n}"));
        }
        if let Some(n) = self.cpus {
            items.push(format!("cpus={n}"));
        }
        if let Some(mb) = self.mem_mb {
            items.push(format!("mem={}", format_mem(mb)));
        }
        if let Some(s) = self.time_s {
            items.push(format!("time={}", format_walltime(s)));
        }
        if let Some(p) = &self.partition {
            items.push(format!("partition={p}"));
        }
        if let Some(r) = self.retries {
            items.push(format!("retries={r}"));
        }
        if let Some(s) = self.task_time_s {
            items.push(format!("task_time={}", format_walltime(s)));
        }
        items.extend(self.extra.iter().cloned());
        f.write_str(&items.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn walltime_forms_match_slurm() {
        for (text, seconds) in [
            ("90", 5400),
            ("5:30", 330),
            ("02:00:00", 7200),
            ("1-0", 86400),
            ("1-2:30", 86400 + 9000),
            ("2-01:02:03", 2 * 86400 + 3723),
        ] {
            assert_eq!(parse_walltime("time", text), Ok(seconds), "{text}");
        }
        for bad in ["", "1:2:3:4", "a", "-1", "1-", "0", "00:00:00", "1-2:3:4:5"] {
            assert!(parse_walltime("time", bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_walltime(7200), "02:00:00");
        assert_eq!(format_walltime(86400 + 61), "1-00:01:01");
    }

    #[test]
    fn memory_sizes_are_megabytes() {
        assert_eq!(parse_mem("16G"), Ok(16384));
        assert_eq!(parse_mem("512"), Ok(512));
        assert_eq!(parse_mem("512m"), Ok(512));
        assert_eq!(parse_mem("2T"), Ok(2 << 20));
        assert_eq!(parse_mem("2048K"), Ok(2));
        for bad in [
            "",
            "G",
            "1.5G",
            "1000K",
            "0",
            "-1G",
            "99999999999999999999T",
        ] {
            assert!(parse_mem(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format_mem(16384), "16G");
        assert_eq!(format_mem(1500), "1500M");
    }

    #[test]
    fn sbatch_options_come_from_the_keys_and_pass_through() {
        let spec = SlurmSpec::parse_keys(
            "partition=normal,workers=2,time=10,mem=1G,--account=lab,--qos=long,--exclusive",
        )
        .unwrap();
        assert_eq!(
            spec.sbatch_args(),
            [
                "--cpus-per-task=1",
                "--ntasks=1",
                "--nodes=1",
                "--mem=1024M",
                "--time=00:10:00",
                "--partition=normal",
                "--account=lab",
                "--qos=long",
                "--exclusive"
            ]
        );
        for (bad, says) in [
            ("--mem=3G", "set by the executor"),
            ("--output=x", "set by the executor"),
            ("-A lab", "not key=value"),
            ("--", "not an sbatch option"),
            ("--a b=c", "not an sbatch option"),
            ("workers=1,workers=2", "twice"),
            ("speed=3", "unknown key `speed`"),
            ("workers=", "no value"),
            ("partition=a b", "characters"),
            ("workers=1,,cpus=2", "empty item"),
            ("time=10,task_time=10", "must be shorter"),
        ] {
            let err = SlurmSpec::parse_keys(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        assert_eq!(SlurmSpec::parse_keys(""), Ok(SlurmSpec::default()));
    }

    fn any_spec() -> impl Strategy<Value = SlurmSpec> {
        (
            proptest::option::of(1usize..500),
            proptest::option::of(1usize..256),
            proptest::option::of(1u64..(8 << 20)),
            proptest::option::of(1u64..(30 * 86400)),
            proptest::option::of("[a-z][a-z0-9_-]{0,8}"),
            proptest::option::of(0u32..10),
            proptest::option::of(1u64..86400),
            proptest::collection::vec("--[a-z][a-z-]{0,8}(=[a-z0-9:]{1,6})?", 0..3),
        )
            .prop_filter("no reserved option, task_time < time", |t| {
                t.7.iter().all(|o| check_sbatch_option(o).is_ok())
                    && !matches!((t.6, t.3), (Some(task), Some(time)) if task >= time)
            })
            .prop_map(|(w, c, m, t, p, r, tt, extra)| SlurmSpec {
                workers: w.and_then(NonZeroUsize::new),
                cpus: c.and_then(NonZeroUsize::new),
                mem_mb: m,
                time_s: t,
                partition: p,
                retries: r,
                task_time_s: tt,
                extra,
            })
    }

    proptest! {
        #[test]
        fn print_then_parse_round_trips(spec in any_spec()) {
            let text = spec.to_string();
            prop_assert_eq!(SlurmSpec::parse_keys(&text), Ok(spec));
        }

        #[test]
        fn key_order_and_case_do_not_matter(spec in any_spec(), seed in any::<u64>()) {
            let text = spec.to_string();
            let mut items: Vec<String> = text.split(',').filter(|s| !s.is_empty()).map(|item| {
                match item.split_once('=') {
                    Some((k, v)) if !k.starts_with("--") => format!("{}={v}", k.to_ascii_uppercase()),
                    _ => item.to_string(),
                }
            }).collect();
            // Rotate the keys (pass-through options keep their own order).
            let keys = items.iter().take_while(|i| !i.starts_with("--")).count();
            if keys > 0 {
                items[..keys].rotate_left((seed as usize) % keys);
            }
            prop_assert_eq!(SlurmSpec::parse_keys(&items.join(",")), Ok(spec));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,40}") {
            let _ = SlurmSpec::parse_keys(&text);
        }
    }
}
