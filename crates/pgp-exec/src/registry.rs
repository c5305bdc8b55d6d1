//! Named operations: work described by data, which can cross a process boundary.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{ExecError, Result};

/// An operation that a worker process can run, found by its [`RemoteOp::NAME`].
///
/// Implement it for a (usually empty) marker type and register it with
/// [`register_op!`](crate::register_op) in a crate that is linked into the worker binary. On the
/// synchronous and thread executors [`RemoteOp::run`] is called directly with the arguments; on
/// a process pool the arguments are encoded with bincode, sent to a worker, and the output sent
/// back the same way.
///
/// ```
/// use pgp_exec::{Executor, RemoteOp};
///
/// struct SumOfSquares;
/// impl RemoteOp for SumOfSquares {
///     const NAME: &'static str = "doc::sum_of_squares";
///     type Args = Vec<i64>;
///     type Output = i64;
///     fn run(args: Vec<i64>) -> Result<i64, String> {
///         args.iter().try_fold(0i64, |acc, x| acc.checked_add(x * x)).ok_or("overflow".into())
///     }
/// }
/// pgp_exec::register_op!(SumOfSquares);
///
/// let exec = Executor::threads(2).unwrap();
/// let handle = exec.submit::<SumOfSquares>(vec![1, 2, 3]).unwrap();
/// assert_eq!(handle.wait().unwrap(), 14);
/// ```
pub trait RemoteOp: 'static {
    /// Unique name; workers find the operation by it. Namespacing (`crate::op`) avoids clashes.
    const NAME: &'static str;
    /// Arguments, sent to the worker.
    type Args: Serialize + DeserializeOwned + Send + 'static;
    /// Result, sent back.
    type Output: Serialize + DeserializeOwned + Send + 'static;
    /// Runs the operation. `Err` becomes [`ExecError::TaskFailed`] for whoever waits on it; a
    /// panic becomes [`ExecError::Panicked`].
    fn run(args: Self::Args) -> std::result::Result<Self::Output, String>;
}

/// Why an encoded operation call failed (other than by panicking).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum RawFailure {
    /// The operation ran and returned `Err`.
    Failed(String),
    /// The argument bytes did not decode as the operation's `Args`.
    BadArgs(String),
    /// The output could not be encoded.
    BadOutput(String),
}

impl RawFailure {
    pub(crate) fn into_error(self, op: &str) -> ExecError {
        match self {
            RawFailure::Failed(message) => ExecError::TaskFailed { message },
            RawFailure::BadArgs(detail) => ExecError::Codec(format!(
                "arguments of operation {op:?} do not decode: {detail}"
            )),
            RawFailure::BadOutput(detail) => ExecError::Codec(format!(
                "output of operation {op:?} does not encode: {detail}"
            )),
        }
    }
}

/// A registered operation: its name and a type-erased entry point on encoded bytes.
///
/// Created by [`register_op!`](crate::register_op); not meant to be built by hand.
#[doc(hidden)]
pub struct OpEntry {
    name: &'static str,
    run: fn(&[u8]) -> std::result::Result<Vec<u8>, RawFailure>,
}

impl OpEntry {
    /// The entry for `O`.
    pub const fn of<O: RemoteOp>() -> Self {
        OpEntry {
            name: O::NAME,
            run: run_encoded::<O>,
        }
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// Decodes the arguments, runs the operation and encodes its output. Panics propagate; the
    /// caller catches them.
    pub(crate) fn run_encoded(&self, args: &[u8]) -> std::result::Result<Vec<u8>, RawFailure> {
        (self.run)(args)
    }
}

inventory::collect!(OpEntry);

fn run_encoded<O: RemoteOp>(args: &[u8]) -> std::result::Result<Vec<u8>, RawFailure> {
    let args: O::Args =
        bincode::deserialize(args).map_err(|e| RawFailure::BadArgs(e.to_string()))?;
    let output = O::run(args).map_err(RawFailure::Failed)?;
    bincode::serialize(&output).map_err(|e| RawFailure::BadOutput(e.to_string()))
}

/// Registers a [`RemoteOp`] so worker processes (and [`Executor::submit_raw`]) can find it by
/// name. Use it once per operation, at module level, in any crate linked into the binary.
///
/// [`Executor::submit_raw`]: crate::Executor::submit_raw
#[macro_export]
macro_rules! register_op {
    ($op:ty) => {
        $crate::__private::inventory::submit! {
            $crate::__private::OpEntry::of::<$op>()
        }
    };
}

enum Registered {
    Unique(&'static OpEntry),
    Duplicate,
}

fn table() -> &'static HashMap<&'static str, Registered> {
    static TABLE: OnceLock<HashMap<&'static str, Registered>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for entry in inventory::iter::<OpEntry> {
            table
                .entry(entry.name)
                .and_modify(|slot| *slot = Registered::Duplicate)
                .or_insert(Registered::Unique(entry));
        }
        table
    })
}

/// Looks up a registered operation by name.
pub(crate) fn find_op(name: &str) -> Result<&'static OpEntry> {
    match table().get(name) {
        Some(Registered::Unique(entry)) => Ok(entry),
        Some(Registered::Duplicate) => Err(ExecError::DuplicateOp {
            name: name.to_string(),
        }),
        None => Err(ExecError::UnknownOp {
            name: name.to_string(),
            where_: " in this process".into(),
        }),
    }
}

/// Names of all operations registered in this binary, sorted.
pub fn registered_ops() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = table().keys().copied().collect();
    names.sort_unstable();
    names
}

/// True if an operation with this name is registered (exactly once) in this binary.
pub fn is_registered(name: &str) -> bool {
    matches!(table().get(name), Some(Registered::Unique(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Double;
    impl RemoteOp for Double {
        const NAME: &'static str = "pgp_exec::test::double";
        type Args = u32;
        type Output = u64;
        fn run(args: u32) -> std::result::Result<u64, String> {
            if args == 13 {
                return Err("unlucky".into());
            }
            Ok(u64::from(args) * 2)
        }
    }
    crate::register_op!(Double);

    struct Twin1;
    impl RemoteOp for Twin1 {
        const NAME: &'static str = "pgp_exec::test::twin";
        type Args = ();
        type Output = ();
        fn run(_: ()) -> std::result::Result<(), String> {
            Ok(())
        }
    }
    crate::register_op!(Twin1);
    struct Twin2;
    impl RemoteOp for Twin2 {
        const NAME: &'static str = "pgp_exec::test::twin";
        type Args = ();
        type Output = ();
        fn run(_: ()) -> std::result::Result<(), String> {
            Ok(())
        }
    }
    crate::register_op!(Twin2);

    #[test]
    fn registered_ops_are_found_and_run_on_encoded_bytes() {
        let entry = find_op(Double::NAME).unwrap();
        assert_eq!(entry.name(), Double::NAME);
        let out = entry
            .run_encoded(&bincode::serialize(&21u32).unwrap())
            .unwrap();
        assert_eq!(bincode::deserialize::<u64>(&out).unwrap(), 42);
        let failed = entry.run_encoded(&bincode::serialize(&13u32).unwrap());
        assert_eq!(failed, Err(RawFailure::Failed("unlucky".into())));
        assert!(matches!(
            entry.run_encoded(&[1]),
            Err(RawFailure::BadArgs(_))
        ));
        assert!(registered_ops().contains(&Double::NAME));
        assert!(is_registered(Double::NAME));
    }

    #[test]
    fn unknown_and_duplicate_names_are_errors_that_say_so() {
        match find_op("no::such::op") {
            Err(err @ ExecError::UnknownOp { .. }) => {
                assert!(err.to_string().contains("register_op!"), "{err}");
            }
            other => panic!("unexpected {:?}", other.map(|e| e.name())),
        }
        assert!(matches!(
            find_op("pgp_exec::test::twin"),
            Err(ExecError::DuplicateOp { .. })
        ));
        assert!(!is_registered("pgp_exec::test::twin"));
    }
}
