//! How tasks are described: the [`Task`] options, the [`GraphOp`] trait that operations
//! implement, and the [`TaskIo`] a closure task is given.

use crate::error::TaskError;
use pgp_exec::Executor;
use std::path::{Path, PathBuf};

/// Identifies a task in a graph, for use as an explicit dependency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TaskRef {
    pub(crate) graph: u64,
    pub(crate) id: usize,
}

impl AsRef<TaskRef> for TaskRef {
    fn as_ref(&self) -> &TaskRef {
        self
    }
}

/// Where a task is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting for the graph to start or for dependencies.
    Pending,
    /// Ready, waiting for a worker.
    Queued,
    /// Being checked or run.
    Running,
    /// Done: its record was valid, so it did not run.
    Skipped,
    /// Done: it ran and completed.
    Completed,
    /// Done: its outputs were restored from the shared cache.
    Restored,
    /// It failed, was failed by a dependency, or was cancelled.
    Failed(TaskError),
}

impl TaskStatus {
    /// Whether the task will not change status any more.
    pub fn is_done(&self) -> bool {
        matches!(
            self,
            TaskStatus::Skipped
                | TaskStatus::Completed
                | TaskStatus::Restored
                | TaskStatus::Failed(_)
        )
    }
}

/// An operation that can be a graph node: it declares the files it reads and writes from its own
/// arguments, so a pipeline states each file once.
///
/// # Contract
/// * `Args` must serialise deterministically with bincode (no `HashMap`/`HashSet`; use
///   `BTreeMap` or vectors): its bytes are part of the task key.
/// * Bump `VERSION` whenever a code change can change what the operation writes or returns.
/// * Outputs are written through temporary paths: the graph calls
///   [`redirect_outputs`](GraphOp::redirect_outputs) with one temporary path per declared output
///   (same file name, in a hidden directory beside the real output) and runs the operation on the
///   redirected arguments; it then moves the outputs into place. The task key is computed from the
///   original arguments.
pub trait GraphOp: pgp_exec::RemoteOp {
    /// Version of the operation's behaviour; part of every task key.
    const VERSION: u32;

    /// The files the operation reads, in a fixed order.
    fn inputs(args: &Self::Args) -> Vec<PathBuf>;

    /// The files the operation writes, in a fixed order.
    fn outputs(args: &Self::Args) -> Vec<PathBuf>;

    /// `args` changed to write output `i` to `temp_outputs[i]` instead of `outputs(args)[i]`.
    fn redirect_outputs(args: &Self::Args, temp_outputs: &[PathBuf]) -> Self::Args;

    /// Runs the operation with `exec` as its share of the graph's executor: on a thread pool
    /// the graph's own pool (shared by every task in flight), on the synchronous executor the
    /// calling thread. Operations that parallelise internally override this and use `exec`
    /// instead of making a pool of their own, so a graph's executor bounds all of its work.
    /// The default ignores `exec` and calls [`RemoteOp::run`](pgp_exec::RemoteOp::run), which is
    /// also what a worker process calls (there the share is that one process).
    fn run_on(args: Self::Args, exec: &Executor) -> Result<Self::Output, String> {
        let _ = exec;
        Self::run(args)
    }
}

/// Options of a task being added: name, extra files, explicit dependencies, priority, and
/// whether it is transient.
#[derive(Clone, Debug, Default)]
pub struct Task {
    pub(crate) name: Option<String>,
    pub(crate) version: u32,
    pub(crate) reads: Vec<PathBuf>,
    pub(crate) writes: Vec<PathBuf>,
    pub(crate) after: Vec<TaskRef>,
    pub(crate) priority: i32,
    pub(crate) transient: bool,
    pub(crate) outputs_exist_only: bool,
    pub(crate) walltime: Option<std::time::Duration>,
}

impl Task {
    /// A task called `name` (names appear in events, errors, dry runs and DOT output).
    pub fn new(name: impl Into<String>) -> Self {
        Task {
            name: Some(name.into()),
            ..Task::default()
        }
    }

    /// The version of a closure task's code; bump it when the closure changes behaviour.
    /// (Operation tasks use [`GraphOp::VERSION`] and ignore this.)
    pub fn version(mut self, version: u32) -> Self {
        self.version = version;
        self
    }

    /// Files the task reads (for operations: in addition to those the operation declares).
    pub fn reads<P: AsRef<Path>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.reads
            .extend(paths.into_iter().map(|p| p.as_ref().to_path_buf()));
        self
    }

    /// Files the task writes (for operations: in addition to those the operation declares).
    pub fn writes<P: AsRef<Path>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.writes
            .extend(paths.into_iter().map(|p| p.as_ref().to_path_buf()));
        self
    }

    /// Runs this task only after `dependency` completed successfully.
    pub fn after(mut self, dependency: &impl AsRef<TaskRef>) -> Self {
        self.after.push(*dependency.as_ref());
        self
    }

    /// Among tasks ready at the same time, higher priorities are dispatched first.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// How long the task may run at most. An executor with walltime-limited workers (Slurm)
    /// gives it only to a worker that will live that long, starting a fresh one if needed, and
    /// fails it at once if none of its workers ever could; other executors ignore it. Not part
    /// of the task's key: changing it reruns nothing.
    pub fn walltime(mut self, walltime: std::time::Duration) -> Self {
        self.walltime = Some(walltime);
        self
    }

    /// Judge this task's outputs by existence only: a rerun skips it while its record's key
    /// matches and every output exists, whatever their content now (taskgraph's
    /// `hash_target_files=False`). Its outputs are still hashed when recorded, so the tasks that
    /// read them are keyed by content as always. Not part of the key.
    pub fn outputs_exist_only(mut self, exist_only: bool) -> Self {
        self.outputs_exist_only = exist_only;
        self
    }

    /// A transient task always runs and is never recorded (for side effects like reporting).
    pub fn transient(mut self, transient: bool) -> Self {
        self.transient = transient;
        self
    }
}

/// The files of a running closure task. Outputs must be written to [`TaskIo::output`] paths,
/// which are temporary; the graph moves them into place when the closure returns `Ok`.
#[derive(Debug)]
pub struct TaskIo {
    pub(crate) inputs: Vec<PathBuf>,
    pub(crate) outputs: Vec<PathBuf>,
    pub(crate) final_outputs: Vec<PathBuf>,
}

impl TaskIo {
    /// Input `i` as declared (absolute).
    ///
    /// # Panics
    /// If `i` is out of range; the task then fails with that message.
    pub fn input(&self, i: usize) -> &Path {
        &self.inputs[i]
    }

    /// All inputs, in declaration order.
    pub fn inputs(&self) -> &[PathBuf] {
        &self.inputs
    }

    /// Where to write output `i`: a temporary path with the output's file name.
    ///
    /// # Panics
    /// If `i` is out of range; the task then fails with that message.
    pub fn output(&self, i: usize) -> &Path {
        &self.outputs[i]
    }

    /// All temporary output paths, in declaration order.
    pub fn outputs(&self) -> &[PathBuf] {
        &self.outputs
    }

    /// Where output `i` will finally be (for messages; do not write there).
    ///
    /// # Panics
    /// If `i` is out of range; the task then fails with that message.
    pub fn final_output(&self, i: usize) -> &Path {
        &self.final_outputs[i]
    }
}
