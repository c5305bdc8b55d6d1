//! Executor spec strings: `sync`, `threading[:N]`, `multiprocessing[:N]`, `slurm:KEY=VALUE,...`.
//!
//! A spec is data: it can be stored in a pipeline file or sent to a remote worker, and turned into
//! a live [`Executor`](crate::Executor) where it is used.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ExecError, Result};
pub use crate::slurm::spec::SlurmSpec;

/// Which executor to use, as data.
///
/// Parsed case-insensitively from `sync` (or `none`), `threading[:N]` (or `threads[:N]`),
/// `multiprocessing[:N]` (or `processes[:N]`), `slurm[:KEY=VALUE,...]` (see [`SlurmSpec`] for the
/// keys). Without `N` a pool gets one worker per available
/// core, resolved where the executor is built (so a stored `threading` adapts to the machine
/// that runs it). [`Display`](fmt::Display) prints the canonical form, which parses back to the
/// same spec; serde stores it as that string.
///
/// ```
/// use pgp_exec::ExecutorSpec;
/// let spec: ExecutorSpec = "Threading:4".parse().unwrap();
/// assert_eq!(spec.to_string(), "threading:4");
/// assert_eq!(spec.workers(), 4);
/// assert!("threading:0".parse::<ExecutorSpec>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ExecutorSpec {
    /// Run every task on the calling thread, at submission.
    #[default]
    Sync,
    /// A thread pool with this many workers (`None`: one per available core).
    Threads(Option<NonZeroUsize>),
    /// A process pool with this many worker processes (`None`: one per available core).
    Processes(Option<NonZeroUsize>),
    /// Pilot worker jobs on a Slurm cluster, started with `sbatch` (see [`SlurmSpec`]).
    Slurm(SlurmSpec),
}

/// Cores granted by the job this process runs in, when it is a Slurm pilot (0: none).
static GRANTED_CORES: AtomicUsize = AtomicUsize::new(0);

/// Number of cores this process may use (at least 1): inside a Slurm pilot the CPUs of its job
/// (a cluster without CPU binding would otherwise report the whole node), else what the OS
/// allows this process.
pub fn available_cores() -> usize {
    match GRANTED_CORES.load(Ordering::Relaxed) {
        0 => std::thread::available_parallelism().map_or(1, NonZeroUsize::get),
        granted => granted,
    }
}

/// Makes [`available_cores`] report the CPUs of this process's Slurm job.
pub(crate) fn grant_cores(cores: usize) {
    GRANTED_CORES.store(cores, Ordering::Relaxed);
}

/// Memory (MB) granted by the job this process runs in, when it is a Slurm pilot (0: none).
static GRANTED_MEMORY_MB: AtomicU64 = AtomicU64::new(0);

/// The memory of the Slurm job this process serves as a pilot, in megabytes (`None` outside a
/// job, or when Slurm gave no memory figure). Caches size themselves from it, so that a small
/// allocation on a large node is not overrun (GDAL's cache is set by the pilot itself).
pub fn allocation_memory_mb() -> Option<u64> {
    match GRANTED_MEMORY_MB.load(Ordering::Relaxed) {
        0 => None,
        mb => Some(mb),
    }
}

/// Makes [`allocation_memory_mb`] report the memory of this process's Slurm job.
pub(crate) fn grant_memory_mb(mb: u64) {
    GRANTED_MEMORY_MB.store(mb, Ordering::Relaxed);
}

impl ExecutorSpec {
    /// How many workers this spec stands for: 1 for `sync`, the given count, or the number of
    /// available cores when no count was given.
    pub fn workers(&self) -> usize {
        match self {
            ExecutorSpec::Sync => 1,
            ExecutorSpec::Threads(n) | ExecutorSpec::Processes(n) => {
                n.map_or_else(available_cores, NonZeroUsize::get)
            }
            ExecutorSpec::Slurm(slurm) => slurm.workers(),
        }
    }

    /// True for a process pool, which only runs registered operations (no closures).
    pub fn is_processes(&self) -> bool {
        matches!(self, ExecutorSpec::Processes(_))
    }

    /// True for workers in Slurm jobs, which (like a process pool) only run registered
    /// operations.
    pub fn is_slurm(&self) -> bool {
        matches!(self, ExecutorSpec::Slurm(_))
    }
}

const ACCEPTED: &str = "expected `sync`, `none`, `threading`, `threading:N`, `multiprocessing`, \
                        `multiprocessing:N`, `processes:N` (N a whole number of at least 1) or \
                        `slurm:workers=N,cpus=N,mem=SIZE,time=WALLTIME,partition=NAME`";

fn invalid(input: &str, reason: impl Into<String>) -> ExecError {
    ExecError::InvalidSpec {
        input: input.to_string(),
        reason: reason.into(),
    }
}

fn parse_count(input: &str, count: &str) -> Result<NonZeroUsize> {
    if count.is_empty() {
        return Err(invalid(input, "missing worker count after ':'"));
    }
    if !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            input,
            format!("worker count {count:?} is not a whole number of at least 1"),
        ));
    }
    let n: usize = count
        .parse()
        .map_err(|_| invalid(input, format!("worker count {count:?} is too large")))?;
    NonZeroUsize::new(n).ok_or_else(|| invalid(input, "worker count must be at least 1, got 0"))
}

impl FromStr for ExecutorSpec {
    type Err = ExecError;

    fn from_str(input: &str) -> Result<Self> {
        let trimmed = input.trim();
        // Slurm values (partition names, sbatch options) keep their case.
        if let Some((kind, keys)) = trimmed.split_once(':') {
            if kind.eq_ignore_ascii_case("slurm") {
                return SlurmSpec::parse_keys(keys)
                    .map(ExecutorSpec::Slurm)
                    .map_err(|reason| invalid(input, reason));
            }
        }
        if trimmed.eq_ignore_ascii_case("slurm") {
            return Ok(ExecutorSpec::Slurm(SlurmSpec::default()));
        }
        let lower = trimmed.to_ascii_lowercase();
        let (kind, count) = match lower.split_once(':') {
            Some((kind, count)) => (kind, Some(count)),
            None => (lower.as_str(), None),
        };
        match kind {
            "sync" | "none" => match count {
                None => Ok(ExecutorSpec::Sync),
                Some(_) => Err(invalid(input, "`sync` takes no worker count")),
            },
            "threading" | "threads" => {
                let n = count.map(|c| parse_count(input, c)).transpose()?;
                Ok(ExecutorSpec::Threads(n))
            }
            "multiprocessing" | "processes" => {
                let n = count.map(|c| parse_count(input, c)).transpose()?;
                Ok(ExecutorSpec::Processes(n))
            }
            "" => Err(invalid(input, format!("empty spec; {ACCEPTED}"))),
            other => Err(invalid(
                input,
                format!("unknown executor kind {other:?}; {ACCEPTED}"),
            )),
        }
    }
}

impl fmt::Display for ExecutorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, count) = match self {
            ExecutorSpec::Sync => return f.write_str("sync"),
            ExecutorSpec::Threads(n) => ("threading", n),
            ExecutorSpec::Processes(n) => ("multiprocessing", n),
            ExecutorSpec::Slurm(slurm) if *slurm == SlurmSpec::default() => {
                return f.write_str("slurm")
            }
            ExecutorSpec::Slurm(slurm) => return write!(f, "slurm:{slurm}"),
        };
        match count {
            Some(n) => write!(f, "{kind}:{n}"),
            None => f.write_str(kind),
        }
    }
}

impl Serialize for ExecutorSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ExecutorSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn nz(n: usize) -> Option<NonZeroUsize> {
        NonZeroUsize::new(n)
    }

    #[test]
    fn parses_every_documented_form() {
        let cases = [
            ("sync", ExecutorSpec::Sync),
            ("NONE", ExecutorSpec::Sync),
            ("threading", ExecutorSpec::Threads(None)),
            ("Threading:5", ExecutorSpec::Threads(nz(5))),
            ("threads:2", ExecutorSpec::Threads(nz(2))),
            ("multiprocessing", ExecutorSpec::Processes(None)),
            ("multiprocessing:3", ExecutorSpec::Processes(nz(3))),
            ("slurm", ExecutorSpec::Slurm(SlurmSpec::default())),
            ("SLURM:", ExecutorSpec::Slurm(SlurmSpec::default())),
            (
                "Slurm:workers=2,partition=Big",
                ExecutorSpec::Slurm(SlurmSpec {
                    workers: nz(2),
                    partition: Some("Big".into()),
                    ..SlurmSpec::default()
                }),
            ),
            ("PROCESSES:7", ExecutorSpec::Processes(nz(7))),
            (" threading:4 ", ExecutorSpec::Threads(nz(4))),
        ];
        for (text, want) in cases {
            assert_eq!(text.parse::<ExecutorSpec>().unwrap(), want, "{text}");
        }
    }

    #[test]
    fn rejects_bad_counts_and_kinds_quoting_the_input() {
        for bad in [
            "threading:0",
            "threading:-2",
            "threading:",
            "threading:x",
            "threading:1.5",
            "multiprocessing:+3",
            "sync:2",
            "fibers",
            "",
            "threading:99999999999999999999999999",
            "slurm:workers=0",
            "slurm:mem=lots",
            "slurm:--output=x.log",
        ] {
            match bad.parse::<ExecutorSpec>() {
                Err(ExecError::InvalidSpec { input, reason }) => {
                    assert_eq!(input, bad);
                    assert!(!reason.is_empty());
                    let shown = ExecError::InvalidSpec { input, reason }.to_string();
                    assert!(shown.contains(&format!("{bad:?}")), "{shown}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
        let zero = "threading:0"
            .parse::<ExecutorSpec>()
            .unwrap_err()
            .to_string();
        assert!(zero.contains("at least 1"), "{zero}");
    }

    #[test]
    fn workers_resolves_missing_counts_to_available_cores() {
        assert_eq!(ExecutorSpec::Sync.workers(), 1);
        assert_eq!(ExecutorSpec::Threads(nz(3)).workers(), 3);
        assert_eq!(ExecutorSpec::Processes(None).workers(), available_cores());
        assert_eq!(ExecutorSpec::default(), ExecutorSpec::Sync);
    }

    #[test]
    fn serde_uses_the_canonical_string() {
        let spec = ExecutorSpec::Processes(nz(3));
        assert_eq!(
            serde_json::to_string(&spec).unwrap(),
            "\"multiprocessing:3\""
        );
        let back: ExecutorSpec = serde_json::from_str("\"Processes:3\"").unwrap();
        assert_eq!(back, spec);
        let err = serde_json::from_str::<ExecutorSpec>("\"threading:0\"").unwrap_err();
        assert!(err.to_string().contains("threading:0"), "{err}");
        let bin = bincode::serialize(&ExecutorSpec::Threads(None)).unwrap();
        assert_eq!(
            bincode::deserialize::<ExecutorSpec>(&bin).unwrap(),
            ExecutorSpec::Threads(None)
        );
    }

    fn any_spec() -> impl Strategy<Value = ExecutorSpec> {
        let count =
            proptest::option::of(1usize..10_000).prop_map(|n| n.and_then(NonZeroUsize::new));
        prop_oneof![
            Just(ExecutorSpec::Sync),
            count.clone().prop_map(ExecutorSpec::Threads),
            count.prop_map(ExecutorSpec::Processes),
            (
                proptest::option::of(1usize..64),
                proptest::option::of(1u64..100_000)
            )
                .prop_map(|(w, mem_mb)| ExecutorSpec::Slurm(SlurmSpec {
                    workers: w.and_then(NonZeroUsize::new),
                    mem_mb,
                    ..SlurmSpec::default()
                })),
        ]
    }

    /// Spells a spec with a random alias and random letter case.
    fn spelled(spec: &ExecutorSpec, alias: bool, upper_mask: u64) -> String {
        let (kind, count) = match *spec {
            ExecutorSpec::Sync => (if alias { "none" } else { "sync" }, None),
            ExecutorSpec::Threads(n) => (if alias { "threads" } else { "threading" }, n),
            ExecutorSpec::Slurm(_) => return spec.to_string(),
            ExecutorSpec::Processes(n) => (
                if alias {
                    "processes"
                } else {
                    "multiprocessing"
                },
                n,
            ),
        };
        let kind: String = kind
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if upper_mask >> (i % 64) & 1 == 1 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        match count {
            Some(n) => format!("{kind}:{n}"),
            None => kind,
        }
    }

    proptest! {
        #[test]
        fn print_then_parse_round_trips(spec in any_spec()) {
            let text = spec.to_string();
            prop_assert_eq!(text.parse::<ExecutorSpec>().unwrap(), spec.clone());
            let json = serde_json::to_string(&spec).unwrap();
            prop_assert_eq!(json, format!("\"{text}\""));
        }

        #[test]
        fn any_spelling_parses_and_prints_canonically(
            spec in any_spec(), alias in any::<bool>(), mask in any::<u64>()
        ) {
            let text = spelled(&spec, alias, mask);
            let parsed: ExecutorSpec = text.parse().unwrap();
            prop_assert_eq!(parsed.to_string(), spelled(&spec, false, 0));
            prop_assert_eq!(parsed, spec);
        }

        #[test]
        fn arbitrary_text_never_panics_and_errors_quote_it(text in ".{0,24}") {
            if let Err(ExecError::InvalidSpec { input, .. }) = text.parse::<ExecutorSpec>() {
                prop_assert_eq!(input, text);
            }
        }
    }
}
