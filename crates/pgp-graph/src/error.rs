//! Error types: graph construction errors, per-task failures and the failure of a run.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// An error while opening a workspace or adding a task.
#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    /// The workspace directory or one of its files could not be used.
    #[error("workspace {path}: {source}")]
    Workspace {
        /// The file or directory at fault.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Another graph (in this or another process) holds the workspace.
    #[error("workspace {path} is locked by another graph{holder}")]
    Locked {
        /// The workspace directory.
        path: PathBuf,
        /// ", held by process N" when known.
        holder: String,
    },
    /// Another graph (another run, perhaps with another workspace) writes outputs into this
    /// directory.
    #[error(
        "outputs in {dir} are being written by another run: {holder}; wait for it to finish \
         (pgp run --wait queues behind it)"
    )]
    OutputsLocked {
        /// The output directory.
        dir: PathBuf,
        /// Who holds it: process, host, since when, workspace.
        holder: String,
    },
    /// The shared cache could not be opened.
    #[error("shared cache: {source}")]
    Cache {
        /// The store's directory (the error names it too).
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A path given for a task could not be made absolute.
    #[error("task '{task}': cannot resolve path {path}: {source}")]
    Path {
        /// The task being added.
        task: String,
        /// The path at fault.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// Adding the task would make the graph cyclic.
    #[error("task '{task}' would close a cycle: {}", cycle.join(" -> "))]
    Cycle {
        /// The task being added.
        task: String,
        /// The tasks on the cycle, in dependency order, starting and ending with `task`.
        cycle: Vec<String>,
    },
    /// Two tasks (or one task twice) write the same file.
    #[error("task '{task}' writes {path}, which task '{other}' also writes")]
    DuplicateOutput {
        /// The task being added.
        task: String,
        /// The file written twice.
        path: PathBuf,
        /// The task that already writes it.
        other: String,
    },
    /// The task writes a file that an already-started task reads.
    #[error("task '{task}' writes {path}, but task '{reader}' reads it and has already started; add producers before running their consumers")]
    LateProducer {
        /// The task being added.
        task: String,
        /// The file concerned.
        path: PathBuf,
        /// The reader that already started.
        reader: String,
    },
    /// A dependency handle belongs to another graph.
    #[error("task '{task}': a dependency handle belongs to another graph")]
    ForeignDependency {
        /// The task being added.
        task: String,
    },
    /// No operation of that name was registered with `register_graph_op!`.
    #[error("no graph operation named '{name}' is registered")]
    UnknownOp {
        /// The name looked up.
        name: String,
    },
    /// The arguments could not be (de)serialised or did not fit the operation.
    #[error("task '{task}': bad arguments for operation '{op}': {message}")]
    Args {
        /// The task being added.
        task: String,
        /// The operation.
        op: String,
        /// What went wrong.
        message: String,
    },
}

/// Why one task did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// An input file could not be read or hashed.
    #[error("input {path}: {message}")]
    Input {
        /// The input file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The operation or closure returned an error.
    #[error("operation failed: {0}")]
    Op(String),
    /// The operation or closure panicked.
    #[error("task panicked: {0}")]
    Panicked(String),
    /// The executor could not run the task.
    #[error("executor: {0}")]
    Executor(String),
    /// An output could not be put in place or verified.
    #[error("output {path}: {message}")]
    Output {
        /// The output file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The completion record could not be written (the task will rerun next time).
    #[error("could not record completion: {0}")]
    Record(String),
    /// A task this one depends on failed.
    #[error("dependency '{dependency}' failed: {cause}")]
    Dependency {
        /// The failed dependency's name.
        dependency: String,
        /// Why it failed.
        cause: Box<TaskError>,
    },
    /// Not run because another task failed and the graph stops at the first error.
    #[error("cancelled: another task failed and the graph stops at the first error")]
    Cancelled,
    /// The stored or returned result could not be decoded as the handle's type.
    #[error("result could not be decoded: {0}")]
    Result(String),
}

/// One failed task in a [`RunError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The task's name.
    pub task: String,
    /// Why it failed.
    pub error: TaskError,
}

/// The failure of a run: every task that failed (including dependents failed by a cause
/// upstream, and tasks cancelled by stop-at-first-error), in the order tasks were added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunError {
    /// The failed tasks.
    pub failures: Vec<TaskFailure>,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} task(s) failed:", self.failures.len())?;
        for failure in &self.failures {
            write!(f, "\n  {}: {}", failure.task, failure.error)?;
        }
        Ok(())
    }
}

impl std::error::Error for RunError {}
