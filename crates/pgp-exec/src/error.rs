//! The error type shared by every executor.

use std::time::Duration;

/// Everything that can go wrong when configuring an executor or running work on it.
///
/// Errors that come out of a task ([`ExecError::Panicked`], [`ExecError::TaskFailed`],
/// [`ExecError::WorkerDied`], [`ExecError::Cancelled`], ...) are delivered to whoever waits on the
/// task's [`Handle`](crate::Handle); the pool itself keeps working. Serialisable, so work that
/// runs in a worker process can hand an error back as the variant it is.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum ExecError {
    /// An executor spec string could not be parsed.
    #[error("invalid executor spec {input:?}: {reason}")]
    InvalidSpec {
        /// The string as given.
        input: String,
        /// Why it was rejected, and what is accepted.
        reason: String,
    },
    /// A pool was asked for zero workers.
    #[error("a {kind} executor needs at least 1 worker, got {requested}")]
    InvalidWorkerCount {
        /// `threading` or `multiprocessing`.
        kind: String,
        /// The count asked for.
        requested: usize,
    },
    /// The task panicked; `message` is the panic payload when it was a string.
    #[error("task panicked: {message}")]
    Panicked {
        /// The panic message.
        message: String,
    },
    /// The task ran and reported a failure (a [`RemoteOp`](crate::RemoteOp) returned `Err`).
    #[error("task failed: {message}")]
    TaskFailed {
        /// The failure message returned by the operation.
        message: String,
    },
    /// The worker process running the task died (killed, aborted, out of memory, exited).
    /// The pool replaced it; the task did not complete.
    #[error("worker process died while running operation {op:?}: {detail}")]
    WorkerDied {
        /// Name of the operation that was running.
        op: String,
        /// Exit status or signal, as far as it is known.
        detail: String,
    },
    /// The task ran longer than the pool's task timeout; its worker was killed and replaced.
    #[error("operation {op:?} exceeded the task timeout of {timeout:?}; its worker was killed")]
    TimedOut {
        /// Name of the operation that was running.
        op: String,
        /// The configured limit.
        timeout: Duration,
    },
    /// The worker process running the task gave no sign of life (no heartbeat, no reply) for
    /// the pool's liveness deadline: it was stopped (SIGSTOP), frozen or swapped out. It was
    /// killed and replaced; the task did not complete.
    #[error(
        "process pool worker {worker} (pid {pid}) stopped responding while running operation \
         {op:?}: no heartbeat for {silence:?}, so it was killed (the deadline is \
         ProcessPoolBuilder::liveness_timeout, or {env} in seconds)"
    )]
    Unresponsive {
        /// Name of the operation that was running.
        op: String,
        /// The worker's slot in the pool (0-based).
        worker: usize,
        /// The worker's process id.
        pid: u32,
        /// How long it had been silent.
        silence: Duration,
        /// The environment variable that sets the deadline.
        env: String,
    },
    /// The task was cancelled before it produced a result.
    #[error("task was cancelled")]
    Cancelled,
    /// The work cannot cross a process boundary (for example a closure sent to a process pool).
    #[error("work cannot be sent to a worker process: {reason}")]
    NotSendable {
        /// What was refused and what to do instead.
        reason: String,
    },
    /// No operation with this name is registered (in this process, or in the pool's workers).
    #[error(
        "no operation named {name:?} is registered{where_}; implement pgp_exec::RemoteOp for it and \
         call pgp_exec::register_op!(YourOp) in a crate linked into the worker binary"
    )]
    UnknownOp {
        /// The name looked up.
        name: String,
        /// Where it was looked up (for example " in worker program ./pgp").
        where_: String,
    },
    /// Two operations were registered under the same name, so a lookup would be ambiguous.
    #[error(
        "operation name {name:?} is registered more than once; operation names must be unique"
    )]
    DuplicateOp {
        /// The duplicated name.
        name: String,
    },
    /// A worker process could not be started or did not complete the handshake.
    #[error("could not start worker process {program:?}: {detail}")]
    WorkerStart {
        /// The worker executable.
        program: String,
        /// What went wrong and what to do about it.
        detail: String,
    },
    /// This process was started as a pgp-exec worker but did not enter worker mode.
    #[error(
        "this process was started as a pgp-exec worker (environment variable {var} is set) but its \
         main() did not call pgp_exec::worker::run_if_worker() first; refusing to start a nested \
         process pool"
    )]
    NotInWorkerMode {
        /// The environment variable that marks worker processes.
        var: String,
    },
    /// An I/O error outside a specific task (for example talking to a worker).
    #[error("i/o error: {0}")]
    Io(
        #[from]
        #[serde(with = "wire::io_error")]
        std::io::Error,
    ),
    /// Arguments or results could not be encoded or decoded.
    #[error("encoding error: {0}")]
    Codec(String),
    /// The pool has shut down and accepts no more work.
    #[error("the executor has shut down")]
    ShutDown,
}

/// The fields that do not serialise as they are.
mod wire {

    /// `std::io::Error` as `(os error code, message)`: the code gives back kind and message.
    pub mod io_error {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        pub fn serialize<S: Serializer>(e: &std::io::Error, s: S) -> Result<S::Ok, S::Error> {
            (e.raw_os_error(), e.to_string()).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<std::io::Error, D::Error> {
            let (code, message) = <(Option<i32>, String)>::deserialize(d)?;
            Ok(match code {
                Some(code) => std::io::Error::from_raw_os_error(code),
                None => std::io::Error::other(message),
            })
        }
    }
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, ExecError>;

impl ExecError {
    /// True when the error was produced by the task itself or by the worker running it (as
    /// opposed to a configuration or submission error).
    pub fn is_task_error(&self) -> bool {
        matches!(
            self,
            ExecError::Panicked { .. }
                | ExecError::TaskFailed { .. }
                | ExecError::WorkerDied { .. }
                | ExecError::TimedOut { .. }
                | ExecError::Unresponsive { .. }
                | ExecError::Cancelled
        )
    }
}
