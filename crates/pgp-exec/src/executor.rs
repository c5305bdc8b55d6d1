//! [`Executor`]: one interface over the synchronous executor, the thread pool and the process pool.

use std::str::FromStr;
use std::sync::Arc;

use crate::error::{ExecError, Result};
use crate::group::TaskGroup;
use crate::handle::{Handle, Signal};
use crate::ordered::OrderedResults;
use crate::process::ProcessPool;
use crate::registry::{find_op, RemoteOp};
use crate::slurm::SlurmPool;
use crate::spec::ExecutorSpec;
use crate::task::run_caught;
use crate::thread_pool::ThreadPool;

/// Where work runs: on the calling thread, on a thread pool, or on a process pool.
///
/// Cheap to clone (the pools are shared), `Send + Sync`. Functions that are likely CPU-bound
/// take an `&Executor` (or an `Option`, or a spec string turned into one with
/// [`Executor::from_spec`]).
///
/// * **Sync** runs each task on the calling thread when it is submitted; the handle is already
///   done when `spawn` returns.
/// * **Threads** runs closures and registered operations on worker threads.
/// * **Processes** runs only registered [`RemoteOp`]s, in worker processes; [`Executor::spawn`]
///   refuses closures with [`ExecError::NotSendable`] ([`Executor::runs_closures`] tells ahead).
///
/// ```
/// use pgp_exec::{wait_all, Executor};
/// let exec: Executor = "threading:2".parse().unwrap();
/// let handles: Vec<_> = (0..4u64).map(|i| exec.spawn(move || i * i).unwrap()).collect();
/// assert_eq!(wait_all(handles).unwrap(), vec![0, 1, 4, 9]);
/// ```
#[derive(Clone)]
pub struct Executor {
    spec: ExecutorSpec,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    Sync,
    Threads(ThreadPool),
    Processes(ProcessPool),
    Slurm(SlurmPool),
}

fn workers_of(n: usize) -> Option<std::num::NonZeroUsize> {
    std::num::NonZeroUsize::new(n)
}

impl Executor {
    /// Runs everything on the calling thread.
    pub fn sync() -> Executor {
        Executor {
            spec: ExecutorSpec::Sync,
            kind: Kind::Sync,
        }
    }

    /// A new pool of `n` threads.
    pub fn threads(n: usize) -> Result<Executor> {
        let pool = ThreadPool::new(n)?;
        Ok(Executor {
            spec: ExecutorSpec::Threads(workers_of(n)),
            kind: Kind::Threads(pool),
        })
    }

    /// A new pool of `n` worker processes running this program (see [`ProcessPool`]).
    pub fn processes(n: usize) -> Result<Executor> {
        let pool = ProcessPool::new(n)?;
        Ok(Executor {
            spec: ExecutorSpec::Processes(workers_of(n)),
            kind: Kind::Processes(pool),
        })
    }

    /// Builds the executor a spec describes (pools without a count get one worker per core).
    /// [`Executor::spec`] gives back the same spec.
    pub fn from_spec(spec: &ExecutorSpec) -> Result<Executor> {
        let kind = match spec {
            ExecutorSpec::Sync => Kind::Sync,
            ExecutorSpec::Threads(_) => Kind::Threads(ThreadPool::new(spec.workers())?),
            ExecutorSpec::Processes(_) => Kind::Processes(ProcessPool::new(spec.workers())?),
            ExecutorSpec::Slurm(slurm) => Kind::Slurm(SlurmPool::new(slurm.clone())?),
        };
        Ok(Executor {
            spec: spec.clone(),
            kind,
        })
    }

    /// The spec this executor was built from (or the one that rebuilds it).
    pub fn spec(&self) -> ExecutorSpec {
        self.spec.clone()
    }

    /// Number of workers (1 for sync).
    pub fn workers(&self) -> usize {
        match &self.kind {
            Kind::Sync => 1,
            Kind::Threads(pool) => pool.workers(),
            Kind::Processes(pool) => pool.workers(),
            Kind::Slurm(pool) => pool.workers(),
        }
    }

    /// False for a process pool or Slurm workers, which only run registered operations.
    pub fn runs_closures(&self) -> bool {
        !matches!(self.kind, Kind::Processes(_) | Kind::Slurm(_))
    }

    /// True for the synchronous executor.
    pub fn is_sync(&self) -> bool {
        matches!(self.kind, Kind::Sync)
    }

    /// The thread pool, if this is one.
    pub fn thread_pool(&self) -> Option<&ThreadPool> {
        match &self.kind {
            Kind::Threads(pool) => Some(pool),
            _ => None,
        }
    }

    /// The process pool, if this is one.
    pub fn process_pool(&self) -> Option<&ProcessPool> {
        match &self.kind {
            Kind::Processes(pool) => Some(pool),
            _ => None,
        }
    }

    /// The Slurm pool, if this is one.
    pub fn slurm_pool(&self) -> Option<&SlurmPool> {
        match &self.kind {
            Kind::Slurm(pool) => Some(pool),
            _ => None,
        }
    }

    /// Runs `f` and returns a handle on its result. A panic in `f` becomes
    /// [`ExecError::Panicked`] for whoever waits. On a process pool this fails with
    /// [`ExecError::NotSendable`]: closures cannot cross processes. Blocks while a pool is at its
    /// in-flight limit (backpressure).
    pub fn spawn<T, F>(&self, f: F) -> Result<Handle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_after(Vec::new(), f)
    }

    /// Runs `f` once every signal in `deps` is done (whatever their outcome: capture the
    /// dependencies' handles in `f` to read their results). On a pool no thread is blocked
    /// while waiting for the dependencies; on the synchronous executor the calling thread waits.
    pub fn spawn_after<T, F>(
        &self,
        deps: impl IntoIterator<Item = Signal>,
        f: F,
    ) -> Result<Handle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run_after(deps.into_iter().collect(), move || Ok(f()))
    }

    /// Runs operation `O` with `args`: in-process on sync and threads, in a worker process on a
    /// process pool. `O::run` returning `Err` becomes [`ExecError::TaskFailed`].
    pub fn submit<O: RemoteOp>(&self, args: O::Args) -> Result<Handle<O::Output>> {
        self.submit_after::<O>(Vec::new(), args)
    }

    /// [`Executor::submit`] once every signal in `deps` is done.
    pub fn submit_after<O: RemoteOp>(
        &self,
        deps: impl IntoIterator<Item = Signal>,
        args: O::Args,
    ) -> Result<Handle<O::Output>> {
        match &self.kind {
            Kind::Processes(pool) => pool.submit_after::<O>(deps, args),
            Kind::Slurm(pool) => pool.submit_after::<O>(deps, args),
            _ => self.run_after(deps.into_iter().collect(), move || {
                O::run(args).map_err(|message| ExecError::TaskFailed { message })
            }),
        }
    }

    /// Runs the operation registered under `op_name` on bincode-encoded `args`; the handle
    /// yields the bincode-encoded output. For callers that only know operations by name (the
    /// task graph). An unknown name fails here, at submission.
    pub fn submit_raw(&self, op_name: &str, args: Vec<u8>) -> Result<Handle<Vec<u8>>> {
        self.submit_raw_after(Vec::new(), op_name, args)
    }

    /// [`Executor::submit_raw`] once every signal in `deps` is done.
    pub fn submit_raw_after(
        &self,
        deps: impl IntoIterator<Item = Signal>,
        op_name: &str,
        args: Vec<u8>,
    ) -> Result<Handle<Vec<u8>>> {
        match &self.kind {
            Kind::Processes(pool) => pool.submit_raw_after(deps, op_name, args),
            Kind::Slurm(pool) => pool.submit_raw_after(deps, op_name, args),
            _ => {
                let entry = find_op(op_name)?;
                self.run_after(deps.into_iter().collect(), move || {
                    entry
                        .run_encoded(&args)
                        .map_err(|failure| failure.into_error(entry.name()))
                })
            }
        }
    }

    /// [`Executor::submit_raw_after`] for a task that says how long it runs. A Slurm pool gives
    /// it only to a worker whose job has that much walltime left, and refuses it at once if
    /// none of its jobs could ever have (see [`SlurmPool::submit_raw_with_walltime`]); the
    /// other executors have no walltime and ignore it.
    pub fn submit_raw_with_walltime(
        &self,
        deps: impl IntoIterator<Item = Signal>,
        op_name: &str,
        args: Vec<u8>,
        walltime: Option<std::time::Duration>,
    ) -> Result<Handle<Vec<u8>>> {
        match &self.kind {
            Kind::Slurm(pool) => pool.submit_raw_with_walltime(deps, op_name, args, walltime),
            _ => self.submit_raw_after(deps, op_name, args),
        }
    }

    /// Applies `f` to every item, computing up to about four items per worker ahead, and yields
    /// the results in input order. This is the streaming pattern of block-wise raster
    /// operations: compute blocks in parallel, consume them in order on one thread, with
    /// bounded memory. On the synchronous executor each item is computed when it is asked for.
    ///
    /// Dropping the iterator early cancels the items in flight ([`Handle::cancel`]) and waits
    /// for those that cannot be stopped. On a process pool it yields a single [`ExecError::NotSendable`] (closures cannot
    /// cross processes; use [`Executor::map_ordered_op`]).
    pub fn map_ordered<'a, I, T, F>(&self, items: I, f: F) -> OrderedResults<'a, T>
    where
        I: IntoIterator + 'a,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        let f = Arc::new(f);
        let exec = self.clone();
        let mut items = items.into_iter();
        let next = move || {
            let item = items.next()?;
            let f = f.clone();
            Some(exec.spawn(move || f(item)))
        };
        OrderedResults::new(Box::new(next), self.ordered_window())
    }

    /// [`Executor::map_ordered`] for a registered operation: works on every executor,
    /// including process pools.
    /// Call it as `exec.map_ordered_op::<MyOp>(args)`.
    pub fn map_ordered_op<'a, O: RemoteOp>(
        &self,
        args: impl IntoIterator<Item = O::Args> + 'a,
    ) -> OrderedResults<'a, O::Output> {
        let exec = self.clone();
        let mut args = args.into_iter();
        let next = move || Some(exec.submit::<O>(args.next()?));
        OrderedResults::new(Box::new(next), self.ordered_window())
    }

    /// A group that tracks what is submitted through it and joins it all: see [`TaskGroup`].
    pub fn group(&self) -> TaskGroup {
        TaskGroup::new(self.clone())
    }

    /// Items submitted ahead of the consumer. Threads get four per worker: with two, a worker
    /// goes idle whenever the oldest item takes longer than about two of the others (a thread
    /// preempted on a shared machine, an edge block of different cost), since nothing new is
    /// submitted until the oldest is consumed. Memory stays bounded (the raster operations'
    /// items are blocks of bounded size). Process pools keep two per worker: their tasks
    /// are batches, already large next to such stalls.
    fn ordered_window(&self) -> usize {
        match self.kind {
            Kind::Sync => 1,
            Kind::Threads(_) => 4 * self.workers(),
            _ => 2 * self.workers(),
        }
    }

    fn run_after<T, F>(&self, deps: Vec<Signal>, task: F) -> Result<Handle<T>>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        match &self.kind {
            Kind::Sync => {
                for dep in &deps {
                    dep.wait();
                }
                Ok(Handle::ready(run_caught(task)))
            }
            Kind::Threads(pool) => Ok(pool.run_after(deps, task)),
            Kind::Processes(pool) => Err(ExecError::NotSendable {
                reason: format!(
                    "a closure cannot be sent to the process pool ({}, worker program {}); \
                     describe the work as data instead: implement pgp_exec::RemoteOp for it, \
                     register it with pgp_exec::register_op!, and call Executor::submit::<YourOp>(args) \
                     (or use a `threading` executor for closures)",
                    self.spec,
                    pool.program().display()
                ),
            }),
            Kind::Slurm(_) => Err(ExecError::NotSendable {
                reason: format!(
                    "a closure cannot be sent to Slurm workers ({}); describe the work as data: \
                     implement pgp_exec::RemoteOp for it, register it with pgp_exec::register_op!, \
                     and call Executor::submit::<YourOp>(args)",
                    self.spec
                ),
            }),
        }
    }
}

impl Default for Executor {
    fn default() -> Self {
        Executor::sync()
    }
}

impl FromStr for Executor {
    type Err = ExecError;

    /// Parses a spec string (`sync`, `threading:4`, `multiprocessing`, ...) and builds it.
    fn from_str(spec: &str) -> Result<Executor> {
        Executor::from_spec(&spec.parse()?)
    }
}

impl From<ThreadPool> for Executor {
    fn from(pool: ThreadPool) -> Self {
        Executor {
            spec: ExecutorSpec::Threads(workers_of(pool.workers())),
            kind: Kind::Threads(pool),
        }
    }
}

impl From<ProcessPool> for Executor {
    fn from(pool: ProcessPool) -> Self {
        Executor {
            spec: ExecutorSpec::Processes(workers_of(pool.workers())),
            kind: Kind::Processes(pool),
        }
    }
}

impl From<SlurmPool> for Executor {
    fn from(pool: SlurmPool) -> Self {
        Executor {
            spec: ExecutorSpec::Slurm(pool.spec().clone()),
            kind: Kind::Slurm(pool),
        }
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Executor({})", self.spec)
    }
}

/// Anything a CPU-bound function can accept as its `executor` argument: nothing (`()` or
/// `None`: run synchronously), an [`Executor`] (owned or borrowed), or a spec ([`ExecutorSpec`]
/// or a string such as `"threading:4"`).
///
/// A spec builds a new pool on every call; pass an [`Executor`] to reuse one across calls.
///
/// ```
/// use pgp_exec::{Executor, IntoExecutor};
///
/// fn sum_of_squares(values: Vec<u64>, executor: impl IntoExecutor) -> pgp_exec::Result<u64> {
///     let exec = executor.into_executor()?;
///     exec.map_ordered(values, |v| v * v).sum()
/// }
///
/// assert_eq!(sum_of_squares(vec![1, 2, 3], ()).unwrap(), 14);
/// assert_eq!(sum_of_squares(vec![1, 2, 3], "threading:2").unwrap(), 14);
/// let pool = Executor::threads(2).unwrap();
/// assert_eq!(sum_of_squares(vec![4], &pool).unwrap(), 16);
/// assert!(sum_of_squares(vec![4], "threading:0").is_err());
/// ```
pub trait IntoExecutor {
    /// Resolves to an executor; a spec that does not parse or build is an error.
    fn into_executor(self) -> Result<Executor>;
}

impl IntoExecutor for Executor {
    fn into_executor(self) -> Result<Executor> {
        Ok(self)
    }
}

impl IntoExecutor for &Executor {
    fn into_executor(self) -> Result<Executor> {
        Ok(self.clone())
    }
}

impl IntoExecutor for () {
    fn into_executor(self) -> Result<Executor> {
        Ok(Executor::sync())
    }
}

impl<T: IntoExecutor> IntoExecutor for Option<T> {
    fn into_executor(self) -> Result<Executor> {
        self.map_or_else(|| Ok(Executor::sync()), IntoExecutor::into_executor)
    }
}

impl IntoExecutor for ExecutorSpec {
    fn into_executor(self) -> Result<Executor> {
        Executor::from_spec(&self)
    }
}

impl IntoExecutor for &ExecutorSpec {
    fn into_executor(self) -> Result<Executor> {
        Executor::from_spec(self)
    }
}

impl IntoExecutor for &str {
    fn into_executor(self) -> Result<Executor> {
        self.parse()
    }
}

impl IntoExecutor for String {
    fn into_executor(self) -> Result<Executor> {
        self.parse()
    }
}

impl IntoExecutor for &String {
    fn into_executor(self) -> Result<Executor> {
        self.parse()
    }
}
