//! pgp-graph: a task graph that runs independent steps at once and skips what is cached.
//!
//! A [`Graph`] lives in a workspace directory and runs tasks on a [`pgp_exec::Executor`]. Each
//! task declares the files it reads and writes; a task reading another's output depends on it,
//! and explicit dependencies can be added with [`Task::after`]. Cycles and files written by two
//! tasks are refused when the task is added.
//!
//! A task is skipped when a record exists for its *key* — BLAKE3 over its operation's id and
//! version, its serialised arguments, the content digests of its inputs and its output paths —
//! and every output still has the recorded content, inode and mtime. Paths in keys are relative
//! to the project root ([`GraphBuilder::root`]), so a copied or moved project keeps its records. Digests are memoised by
//! file identity with a racy-timestamp guard, so reruns are fast and cannot be fooled by edits
//! that keep size and mtime. Outputs are written under temporary names, moved into place, and
//! only then recorded, so a killed run never leaves anything a rerun would accept as done.
//! The cache protocol and the scheduler's design are described in [`design`].
//!
//! ```
//! use pgp_graph::{Graph, Task};
//! use pgp_exec::Executor;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let (a, b) = (dir.path().join("a.txt"), dir.path().join("b.txt"));
//! let open = || Graph::open(dir.path().join("ws"), Executor::threads(2).unwrap());
//!
//! let graph = open()?;
//! graph.add_fn(Task::new("write a").writes([&a]), 21u32, |n, io| std::fs::write(io.output(0), n.to_string()))?;
//! let double = graph.add_fn(Task::new("double").version(1).reads([&a]).writes([&b]), (), |_, io| {
//!     let n: u32 = std::fs::read_to_string(io.input(0))?.parse().map_err(std::io::Error::other)?;
//!     std::fs::write(io.output(0), (2 * n).to_string())?;
//!     Ok::<u32, std::io::Error>(2 * n)
//! })?;
//! let report = graph.join()?;
//! assert_eq!(report.ran, ["write a", "double"]);
//! assert_eq!(double.result()?, 42);
//! drop(graph);
//!
//! // Same graph again: nothing changed, so nothing runs, and results come from the records.
//! let graph = open()?;
//! graph.add_fn(Task::new("write a").writes([&a]), 21u32, |n, io| std::fs::write(io.output(0), n.to_string()))?;
//! let double = graph.add_fn(Task::new("double").version(1).reads([&a]).writes([&b]), (), |_, _| Ok::<u32, std::io::Error>(0))?;
//! assert_eq!(graph.join()?.skipped.len(), 2);
//! assert_eq!(double.result()?, 42);
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod ahead;
pub mod cache;
mod ctx;
mod dag;
mod digest;
mod error;
mod events;
mod fsutil;
mod graph;
mod handle;
mod inspect;
mod job;
mod key;
mod lock;
mod memo;
mod output_lock;
mod owner;
mod paths;
mod plan;
mod recorder;
mod registry;
pub mod report;
mod sched;
mod state;
mod store;
mod task;
mod temps;

#[doc = include_str!("README.md")]
pub mod design {}

pub use digest::{hash_file, Digest};
pub use error::{GraphError, RunError, TaskError, TaskFailure};
pub use events::{Event, EventSink};
pub use graph::{Graph, GraphBuilder};
pub use handle::{Opaque, TaskHandle};
pub use inspect::TaskSummary;
pub use key::KeyParts;
pub use lock::LockWait;
pub use plan::{PlanAction, PlannedTask, RunReason};
pub use registry::{lookup as find_op, registered_ops, GraphOpEntry, OpVtable};
pub use state::RunReport;
pub use task::{GraphOp, Task, TaskIo, TaskRef, TaskStatus};
pub use temps::remove_live_temporaries;

#[doc(hidden)]
pub use inventory as __inventory;
