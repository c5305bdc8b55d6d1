//! The [`Graph`]: opening a workspace, adding tasks, running them and joining them.

use crate::cache::{Cache, CacheWriter};
use crate::ctx::Ctx;
use crate::error::{GraphError, RunError};
use crate::events::{Event, EventSink};
use crate::handle::{Opaque, TaskHandle};
use crate::job::Work;
use crate::lock::LockWait;
use crate::memo::DigestMemo;
use crate::output_lock::OutputLocks;
use crate::paths::normalize;
use crate::plan::KeyForm;
use crate::registry::{lookup, OpVtable};
use crate::sched::Shared;
use crate::state::{NewTask, RunReport, State};
use crate::store::Store;
use crate::task::{GraphOp, Task, TaskIo, TaskRef};
use parking_lot::Mutex;
use pgp_exec::Executor;
use serde::Serialize;
use std::fmt::Display;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

static NEXT_GRAPH_ID: AtomicU64 = AtomicU64::new(1);

/// Options for opening a [`Graph`].
pub struct GraphBuilder {
    workspace: PathBuf,
    root: Option<PathBuf>,
    executor: Option<Executor>,
    lock_wait: LockWait,
    stop_on_first_error: bool,
    racy_window: Duration,
    sink: Option<EventSink>,
    cache: Option<PathBuf>,
}

impl GraphBuilder {
    /// The project root: paths in task keys are relative to it, so copying, moving or renaming
    /// the project keeps its records valid (default: the workspace's parent directory, as in the
    /// usual layout `project/.pgp`). Inputs outside the root are keyed by their content alone;
    /// outputs outside it by their absolute path.
    pub fn root(mut self, root: impl AsRef<Path>) -> Self {
        self.root = Some(root.as_ref().to_path_buf());
        self
    }

    /// The executor that runs tasks (default: synchronous).
    pub fn executor(mut self, executor: Executor) -> Self {
        self.executor = Some(executor);
        self
    }

    /// What to do if another graph holds the workspace (default: fail at once).
    pub fn lock_wait(mut self, wait: LockWait) -> Self {
        self.lock_wait = wait;
        self
    }

    /// Stop dispatching after the first failure, cancelling what has not started (default: keep
    /// running independent branches).
    pub fn stop_on_first_error(mut self, stop: bool) -> Self {
        self.stop_on_first_error = stop;
        self
    }

    /// How long a file must be left alone before its memoised digest is trusted (default 2 s,
    /// which covers filesystems with 1-second timestamps). See the `memo` module.
    pub fn racy_window(mut self, window: Duration) -> Self {
        self.racy_window = window;
        self
    }

    /// Shares task results through the content-addressed store in `dir` (created if needed;
    /// see [`crate::cache`]): a task whose key the store has is restored from it instead of
    /// run, and what tasks produce is added to it. Off by default. Closure tasks are keyed by
    /// their name and version only: on a store shared with other projects, keep their names
    /// unique to the project and bump their version when the code changes.
    pub fn cache(mut self, dir: impl AsRef<Path>) -> Self {
        self.cache = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Calls `sink` for every [`Event`].
    pub fn on_event(mut self, sink: impl Fn(&Event) + Send + Sync + 'static) -> Self {
        self.sink = Some(Arc::new(sink));
        self
    }

    /// Opens the workspace (creating it if needed) and takes its lock.
    pub fn open(self) -> Result<Graph, GraphError> {
        let workspace = normalize(&self.workspace).map_err(|source| GraphError::Workspace {
            path: self.workspace.clone(),
            source,
        })?;
        let root = match &self.root {
            Some(r) => normalize(r).map_err(|source| GraphError::Workspace {
                path: r.clone(),
                source,
            })?,
            None => workspace.parent().unwrap_or(&workspace).to_path_buf(),
        };
        let (store, mut warnings) = Store::open(&workspace, &root, self.lock_wait)?;
        // With the workspace held, leftovers of its killed runs can go (see `temps`).
        crate::temps::sweep(&workspace);
        let (memo, memo_warning) = DigestMemo::load(&store.memo_path(), self.racy_window);
        warnings.extend(memo_warning);
        let cache = match &self.cache {
            None => None,
            Some(dir) => {
                let cache_err = |source| GraphError::Cache {
                    path: dir.clone(),
                    source,
                };
                let cache = Cache::open(dir).map_err(cache_err)?;
                warnings.extend(cache.notes().iter().cloned());
                Some(CacheWriter::start(cache, self.sink.clone()).map_err(cache_err)?)
            }
        };
        if let Some(sink) = &self.sink {
            for message in &warnings {
                sink(&Event::Warning {
                    message: message.clone(),
                });
            }
        }
        let ctx = Ctx {
            store,
            memo,
            executor: self.executor.unwrap_or_else(Executor::sync),
            sink: self.sink,
            warnings: Mutex::new(warnings),
            cache,
            refreshed: Mutex::new(Vec::new()),
        };
        let id = NEXT_GRAPH_ID.fetch_add(1, Ordering::Relaxed);
        let state = State::new(id, self.stop_on_first_error);
        let shared = Arc::new(Shared::new(id, ctx, state));
        let output_locks = OutputLocks::new(&workspace, self.lock_wait);
        Ok(Graph {
            shared,
            workspace,
            output_locks,
        })
    }
}

/// A task graph over a workspace directory. See the crate documentation for the model.
///
/// Tasks added before the first [`join`](Graph::join) (or [`start`](Graph::start), or a handle's
/// `join`) wait; after that, tasks start as soon as their dependencies are done. Dropping the
/// graph waits for running tasks and cancels the others.
pub struct Graph {
    shared: Arc<Shared>,
    workspace: PathBuf,
    /// Released after `Drop` has waited for the running tasks.
    output_locks: OutputLocks,
}

impl std::fmt::Debug for Graph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Graph")
            .field("workspace", &self.workspace)
            .field("tasks", &self.len())
            .finish()
    }
}

impl Graph {
    /// Opens a graph over `workspace` running tasks on `executor`, with default options.
    pub fn open(workspace: impl AsRef<Path>, executor: Executor) -> Result<Graph, GraphError> {
        Graph::builder(workspace).executor(executor).open()
    }

    /// Options for opening a graph over `workspace`.
    pub fn builder(workspace: impl AsRef<Path>) -> GraphBuilder {
        GraphBuilder {
            workspace: workspace.as_ref().to_path_buf(),
            root: None,
            executor: None,
            lock_wait: LockWait::Fail,
            stop_on_first_error: false,
            racy_window: Duration::from_secs(2),
            sink: None,
            cache: None,
        }
    }

    /// The workspace directory (absolute).
    pub fn workspace(&self) -> &Path {
        &self.workspace
    }

    /// The project root task keys are relative to (absolute).
    pub fn root(&self) -> &Path {
        self.shared.ctx.store.project_root()
    }

    /// The executor tasks run on.
    pub fn executor(&self) -> &Executor {
        &self.shared.ctx.executor
    }

    /// Number of tasks added.
    pub fn len(&self) -> usize {
        self.shared.state.lock().slots.len()
    }

    /// Whether no task was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of files this graph actually read and hashed (memo misses).
    pub fn files_hashed(&self) -> u64 {
        self.shared.ctx.memo.hash_count()
    }

    /// Workspace warnings so far (a rebuilt store, a dropped record or memo, a cache problem).
    pub fn warnings(&self) -> Vec<String> {
        let ctx = &self.shared.ctx;
        let mut warnings = ctx.warnings.lock().clone();
        warnings.extend(ctx.cache.iter().flat_map(|w| w.warnings()));
        warnings
    }

    /// The content digest of `path`, from the digest memo when its identity is known (no
    /// rereading of what the graph has just hashed), else by hashing it.
    pub fn file_digest(&self, path: impl AsRef<Path>) -> std::io::Result<crate::Digest> {
        let path = normalize(path.as_ref())?;
        self.shared.ctx.memo.digest(&path).map(|found| found.digest)
    }

    /// The shared cache this graph uses, if any.
    pub fn cache(&self) -> Option<&Cache> {
        self.shared.ctx.cache()
    }

    /// Adds operation `O` with `args`; its inputs and outputs come from the operation itself
    /// (plus `task.reads`). The default name is `NAME:<first output file name>`.
    pub fn add_op<O: GraphOp>(
        &self,
        args: O::Args,
        task: Task,
    ) -> Result<TaskHandle<O::Output>, GraphError> {
        let bytes = bincode::serialize(&args).map_err(|e| GraphError::Args {
            task: task.name.clone().unwrap_or_else(|| O::NAME.to_string()),
            op: O::NAME.to_string(),
            message: e.to_string(),
        })?;
        self.add_vtable(OpVtable::of::<O>(), bytes, task)
            .map(retype)
    }

    /// Adds the registered operation `op` (see [`register_graph_op!`](crate::register_graph_op))
    /// with bincode-serialised arguments.
    pub fn add_op_bytes(
        &self,
        op: &str,
        args: Vec<u8>,
        task: Task,
    ) -> Result<TaskHandle<Opaque>, GraphError> {
        let vtable = lookup(op).ok_or_else(|| GraphError::UnknownOp {
            name: op.to_string(),
        })?;
        self.add_vtable(vtable, args, task)
    }

    /// Adds the registered operation `op` with arguments given as JSON (for pipeline files).
    pub fn add_op_json(
        &self,
        op: &str,
        args: &serde_json::Value,
        task: Task,
    ) -> Result<TaskHandle<Opaque>, GraphError> {
        let vtable = lookup(op).ok_or_else(|| GraphError::UnknownOp {
            name: op.to_string(),
        })?;
        let bytes = (vtable.args_from_json)(args).map_err(|message| GraphError::Args {
            task: task.name.clone().unwrap_or_else(|| op.to_string()),
            op: op.to_string(),
            message,
        })?;
        self.add_vtable(vtable, bytes, task)
    }

    fn add_vtable(
        &self,
        vtable: OpVtable,
        args: Vec<u8>,
        task: Task,
    ) -> Result<TaskHandle<Opaque>, GraphError> {
        let args_err = |message: String| GraphError::Args {
            task: task.name.clone().unwrap_or_else(|| vtable.name.to_string()),
            op: vtable.name.to_string(),
            message,
        };
        if !task.writes.is_empty() {
            return Err(args_err(
                "operation tasks write only the outputs their operation declares".into(),
            ));
        }
        let mut inputs = (vtable.inputs)(&args).map_err(args_err)?;
        inputs.extend(task.reads.iter().cloned());
        let outputs = (vtable.outputs)(&args).map_err(args_err)?;
        let name = task.name.clone().unwrap_or_else(|| {
            match outputs.first().and_then(|o| o.file_name()) {
                Some(file) => format!("{}:{}", vtable.name, file.to_string_lossy()),
                None => vtable.name.to_string(),
            }
        });
        self.add_task(
            name,
            vtable.name.to_string(),
            vtable.version,
            args,
            inputs,
            outputs,
            &task,
            Work::Op(vtable),
        )
    }

    /// Adds a Rust closure as a task. `task` must have a name; its version (`Task::version`),
    /// `args` (serialised into the key and handed to the closure), `reads` and `writes` say what
    /// the result depends on. The closure must write output `i` to `io.output(i)`. On a process
    /// pool, closures run on threads of this process (they cannot cross a process boundary)
    /// while operations go to the worker processes.
    pub fn add_fn<A, T, E, F>(&self, task: Task, args: A, f: F) -> Result<TaskHandle<T>, GraphError>
    where
        A: Serialize + Send + 'static,
        T: Serialize + 'static,
        E: Display,
        F: FnOnce(&A, &TaskIo) -> Result<T, E> + Send + 'static,
    {
        let Some(name) = task.name.clone() else {
            return Err(GraphError::Args {
                task: "<unnamed>".into(),
                op: "closure".into(),
                message: "closure tasks need a name (Task::new)".into(),
            });
        };
        let bytes = bincode::serialize(&args).map_err(|e| GraphError::Args {
            task: name.clone(),
            op: format!("fn:{name}"),
            message: e.to_string(),
        })?;
        let body = Box::new(move |io: &TaskIo| {
            let value = f(&args, io).map_err(|e| e.to_string())?;
            bincode::serialize(&value).map_err(|e| format!("result does not serialise: {e}"))
        });
        let (inputs, outputs) = (task.reads.clone(), task.writes.clone());
        let op_id = format!("fn:{name}");
        self.add_task(
            name,
            op_id,
            task.version,
            bytes,
            inputs,
            outputs,
            &task,
            Work::Closure(body),
        )
        .map(retype)
    }

    #[allow(clippy::too_many_arguments)]
    fn add_task(
        &self,
        name: String,
        op_id: String,
        op_version: u32,
        args: Vec<u8>,
        inputs: Vec<PathBuf>,
        outputs: Vec<PathBuf>,
        task: &Task,
        work: Work,
    ) -> Result<TaskHandle<Opaque>, GraphError> {
        let norm = |paths: Vec<PathBuf>| -> Result<Vec<PathBuf>, GraphError> {
            paths
                .into_iter()
                .map(|p| {
                    normalize(&p).map_err(|source| GraphError::Path {
                        task: name.clone(),
                        path: p,
                        source,
                    })
                })
                .collect()
        };
        let (declared_inputs, declared_outputs) = (inputs.clone(), outputs.clone());
        let outputs = norm(outputs)?;
        let inputs = norm(inputs)?;
        self.output_locks.hold(&outputs)?;
        let key = KeyForm::of(
            self.root(),
            &args,
            &declared_inputs,
            &declared_outputs,
            &inputs,
            &outputs,
        );
        let new = NewTask {
            inputs,
            outputs,
            key,
            name,
            op_id,
            op_version,
            args,
            after: task.after.clone(),
            priority: task.priority,
            transient: task.transient,
            outputs_exist_only: task.outputs_exist_only,
            walltime: task.walltime,
            work,
        };
        let (id, events) = {
            let mut st = self.shared.state.lock();
            let id = st.add(new)?;
            (id, st.take_events())
        };
        self.shared.flush_events(events);
        self.shared.wake();
        Ok(TaskHandle {
            shared: Arc::clone(&self.shared),
            task: TaskRef {
                graph: self.shared.id,
                id,
            },
            _type: PhantomData,
        })
    }

    /// Starts running tasks without waiting.
    pub fn start(&self) {
        self.shared.start();
    }

    /// Runs every task added so far and waits for all of them (and for their results to be in
    /// the shared cache, if any). On failure, lists every failed task and why; independent
    /// branches still ran unless the graph stops at the first error.
    pub fn join(&self) -> Result<RunReport, RunError> {
        let report = self.shared.wait_all().report();
        if let Some(writer) = &self.shared.ctx.cache {
            writer.flush();
        }
        self.shared.ctx.save_refreshed();
        self.save_memo();
        report.map(|mut r| {
            r.warnings = self.warnings();
            r
        })
    }

    fn save_memo(&self) {
        let ctx = &self.shared.ctx;
        if let Err(e) = ctx.memo.save(&ctx.store.memo_path()) {
            ctx.warn(format!("digest memo not saved ({e}); next run rehashes"));
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

fn retype<A, B>(h: TaskHandle<A>) -> TaskHandle<B> {
    TaskHandle {
        shared: h.shared,
        task: h.task,
        _type: PhantomData,
    }
}

impl Drop for Graph {
    fn drop(&mut self) {
        self.shared.close();
        if let Some(writer) = &self.shared.ctx.cache {
            writer.finish();
        }
        self.shared.ctx.save_refreshed();
        self.save_memo();
        self.shared.ctx.store.release_lock();
    }
}
