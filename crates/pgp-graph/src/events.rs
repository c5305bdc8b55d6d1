//! Progress events for embedders (progress bars, logs, metrics).

use crate::digest::Digest;
use crate::error::TaskError;
use crate::plan::RunReason;
use pgp_exec::WorkerId;
use std::sync::Arc;
use std::time::Duration;

/// Something that happened to a task, or a warning about the workspace.
///
/// Events of one task arrive in order (queued, then started/skipped, then ran-on once its
/// operation ended, then finished/failed); events of different tasks interleave. The callback runs on graph threads: keep it short.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The task's dependencies are done; it waits for a free worker.
    Queued {
        /// Task name.
        task: String,
    },
    /// The task's operation started, for this reason.
    Started {
        /// Task name.
        task: String,
        /// Why it runs rather than being skipped.
        reason: RunReason,
    },
    /// The task's operation (or closure) ended, well or not, on this worker: a thread of this
    /// program, a worker process, or a Slurm job (for a task retried after its worker died, the
    /// last one). Comes after `Started`, before `Finished` or `Failed`; not sent for a task that
    /// failed before its operation reached a worker.
    RanOn {
        /// Task name.
        task: String,
        /// Where it ran.
        worker: WorkerId,
    },
    /// The task was up to date and not run.
    Skipped {
        /// Task name.
        task: String,
        /// The key whose record was found valid.
        key: Digest,
        /// Time spent checking (hashing inputs, verifying outputs).
        duration: Duration,
    },
    /// The task's outputs were restored from the shared cache (and recorded) instead of it
    /// running: its key had an entry there.
    Restored {
        /// Task name.
        task: String,
        /// The key found in the cache.
        key: Digest,
        /// Time from start of checking to the record being written.
        duration: Duration,
    },
    /// The task ran and its outputs were recorded.
    Finished {
        /// Task name.
        task: String,
        /// Time from start of checking to the record being written.
        duration: Duration,
    },
    /// The task failed (or was failed by a dependency, or cancelled).
    Failed {
        /// Task name.
        task: String,
        /// Why.
        error: TaskError,
        /// Time spent, when the task had started.
        duration: Option<Duration>,
    },
    /// The workspace needed repair (a damaged or old-format store or memo).
    Warning {
        /// What happened.
        message: String,
    },
}

/// Receiver of events.
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;
