//! Executors for pgp: run CPU-bound work synchronously, on a thread pool, or on a process pool,
//! chosen by an [`Executor`] value or a spec string that can be stored and sent
//! (`sync`, `threading:4`, `multiprocessing:3`, `threading` for one worker per core).
//!
//! * [`Executor`]: one interface over the three; submitting returns a [`Handle`] (a future).
//!   Dependencies between tasks are [`Signal`]s ([`Executor::spawn_after`]); [`wait_all`] and
//!   [`as_completed`] wait on many; [`TaskGroup`] joins everything a function submitted;
//!   [`Executor::map_ordered`] streams results in input order with bounded memory.
//! * [`ExecutorSpec`]: the executor as data (parse, print, serde). [`IntoExecutor`] lets a
//!   function take nothing, an executor, or a spec string as its `executor` argument.
//! * [`RemoteOp`] + [`register_op!`]: work described by data, the only kind a process pool
//!   accepts. Binaries that start process pools call [`worker::run_if_worker`] first in `main()`.
//!
//! A panic inside a task becomes [`ExecError::Panicked`] for whoever waits on it; a worker
//! process that dies becomes [`ExecError::WorkerDied`] and is replaced. Pools bound the work in
//! flight (submission blocks when it is full), and pending work can be cancelled.
//!
//! ```
//! use pgp_exec::{as_completed, Executor, ExecutorSpec, RemoteOp};
//!
//! // Work that can also run in a worker process: a named operation on serialisable data.
//! struct CountPrimes;
//! impl RemoteOp for CountPrimes {
//!     const NAME: &'static str = "example::count_primes";
//!     type Args = u32;
//!     type Output = usize;
//!     fn run(limit: u32) -> Result<usize, String> {
//!         Ok((2..limit).filter(|n| (2..*n).take_while(|d| d * d <= *n).all(|d| n % d != 0)).count())
//!     }
//! }
//! pgp_exec::register_op!(CountPrimes);
//!
//! let spec: ExecutorSpec = "threading:2".parse()?;
//! let exec = Executor::from_spec(&spec)?;
//! assert_eq!(exec.spec().to_string(), "threading:2");
//!
//! let handles = vec![exec.submit::<CountPrimes>(100)?, exec.submit::<CountPrimes>(10)?];
//! let mut counts: Vec<(usize, usize)> =
//!     as_completed(handles).map(|(i, r)| (i, r.unwrap())).collect();
//! counts.sort();
//! assert_eq!(counts, vec![(0, 25), (1, 4)]);
//!
//! // Closures run on sync and thread executors; results come back in input order.
//! let squares: Vec<u64> = exec.map_ordered(1..=4u64, |x| x * x).collect::<Result<_, _>>()?;
//! assert_eq!(squares, vec![1, 4, 9, 16]);
//! # Ok::<(), pgp_exec::ExecError>(())
//! ```

#![warn(missing_docs)]

mod error;
mod executor;
mod group;
mod handle;
mod ordered;
mod process;
mod registry;
mod slurm;
mod spec;
mod task;
mod thread_pool;
pub mod worker;
mod worker_id;

pub use error::{ExecError, Result};
pub use executor::{Executor, IntoExecutor};
pub use group::TaskGroup;
pub use handle::{as_completed, wait_all, wait_all_notify, AsCompleted, Handle, Signal};
pub use ordered::OrderedResults;
pub use process::{ProcessPool, ProcessPoolBuilder, DEFAULT_LIVENESS, LIVENESS_ENV};
pub use registry::{is_registered, registered_ops, RemoteOp};
pub use slurm::{Allocation, JobState, SlurmPool, SlurmPoolBuilder, SlurmSpec, DRIVER_HOST_ENV};
pub use spec::{allocation_memory_mb, available_cores, ExecutorSpec};
pub use thread_pool::{ThreadPool, ThreadPoolBuilder};
pub use worker_id::WorkerId;

/// Ends every worker this program started, at once: cancels the jobs of every live
/// [`SlurmPool`] (`scancel`, pending ones included) and kills the worker processes of every
/// [`ProcessPool`], waiting until they are dead. Their tasks end with errors; the pools are of
/// no further use.
///
/// For a program's own SIGINT/SIGTERM handling, on an ordinary thread (not inside a signal
/// handler), just before it removes its temporary files and ends: nothing a worker writes can
/// land after the cleanup, and no job is left in the cluster's queue.
pub fn stop_all_workers() {
    slurm::stop_all_jobs();
    process::kill_all_workers();
}

/// Items used by [`register_op!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::registry::OpEntry;
    pub use inventory;
}
