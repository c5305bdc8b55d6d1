//! The [`Graph`]: opening a workspace, adding tasks, running them and joining them.

use crate::dag::{Dag, NewNode};
use crate::digest::Digest;
use crate::error::{GraphError, RunError, TaskError, TaskFailure};
use crate::events::{Event, EventSink};
use crate::handle::{Opaque, TaskHandle, TaskRef, TaskStatus};
use crate::job::Work;
use crate::lock::LockWait;
use crate::memo::DigestMemo;
use crate::output_lock::OutputLocks;
use crate::paths::{normalize, path_bytes};
use crate::plan::TaskDef;
use crate::registry::{lookup, OpVtable};
use crate::sched::Msg;
use crate::state::{Ctx, Shared, Slot, State};
use crate::store::Store;
use crate::task::{GraphOp, Task, TaskIo};
use parking_lot::{Condvar, Mutex};
use pgp_exec::Executor;
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::{BinaryHeap, HashMap};
use std::fmt::Display;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

static NEXT_GRAPH_ID: AtomicU64 = AtomicU64::new(1);

/// What a successful [`Graph::join`] reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Names of tasks that ran, in the order they were added.
    pub ran: Vec<String>,
    /// Names of tasks skipped as up to date, in the order they were added.
    pub skipped: Vec<String>,
    /// Workspace warnings (repaired store or memo) so far.
    pub warnings: Vec<String>,
}

/// Options for opening a [`Graph`].
pub struct GraphBuilder {
    workspace: PathBuf,
    executor: Option<Executor>,
    lock_wait: LockWait,
    stop_on_first_error: bool,
    racy_window: Duration,
    sink: Option<EventSink>,
}

impl GraphBuilder {
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
        let (store, mut warnings) = Store::open(&workspace, self.lock_wait)?;
        // With the workspace held, leftovers of its killed runs can go (see `temps`).
        crate::temps::sweep(&workspace);
        let (memo, memo_warning) = DigestMemo::load(&store.memo_path(), self.racy_window);
        warnings.extend(memo_warning);
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
            stop_on_first_error: self.stop_on_first_error,
        };
        let state = State {
            dag: Dag::default(),
            slots: Vec::new(),
            ready: BinaryHeap::new(),
            in_flight: 0,
            unfinished: 0,
            started: false,
            stopping: false,
            closed: false,
            driver: None,
            events: Vec::new(),
            ordinals: HashMap::new(),
        };
        let shared = Arc::new(Shared {
            id: NEXT_GRAPH_ID.fetch_add(1, Ordering::Relaxed),
            ctx: Arc::new(ctx),
            state: Mutex::new(state),
            changed: Condvar::new(),
            driver_thread: Mutex::new(None),
        });
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

fn identity_of(def_outputs: &[PathBuf], op_id: &str, name: &str, ordinal: u32) -> Digest {
    let mut h = Sha256::new();
    if def_outputs.is_empty() {
        h.update(b"pgp-graph/identity/no-outputs\0");
        for part in [op_id.as_bytes(), name.as_bytes()] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(ordinal.to_le_bytes());
    } else {
        h.update(b"pgp-graph/identity/outputs\0");
        let mut outs: Vec<_> = def_outputs.iter().map(|p| path_bytes(p)).collect();
        outs.sort();
        for o in outs {
            h.update((o.len() as u64).to_le_bytes());
            h.update(&o);
        }
    }
    Digest(h.finalize().into())
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
            executor: None,
            lock_wait: LockWait::Fail,
            stop_on_first_error: false,
            racy_window: Duration::from_secs(2),
            sink: None,
        }
    }

    /// The workspace directory (absolute).
    pub fn workspace(&self) -> &Path {
        &self.workspace
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

    /// Workspace warnings so far (a rebuilt store, a dropped record or memo).
    pub fn warnings(&self) -> Vec<String> {
        self.shared.ctx.warnings.lock().clone()
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
    /// the result depends on. The closure must write output `i` to `io.output(i)`. Only on
    /// executors that run closures (sync and threads).
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
        if !self.shared.ctx.executor.runs_closures() {
            return Err(GraphError::ClosureNotSupported {
                task: name,
                executor: self.shared.ctx.executor.spec().to_string(),
            });
        }
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
        let inputs = norm(inputs)?;
        let outputs = norm(outputs)?;
        self.output_locks.hold(&outputs)?;
        let (handle, events, wake) = {
            let mut guard = self.shared.state.lock();
            let st = &mut *guard;
            let mut after = Vec::with_capacity(task.after.len());
            for r in &task.after {
                if r.graph != self.shared.id || r.id >= st.slots.len() {
                    return Err(GraphError::ForeignDependency { task: name });
                }
                after.push(r.id);
            }
            let node = NewNode {
                name: &name,
                inputs: &inputs,
                outputs: &outputs,
                after: &after,
            };
            let slots = &st.slots;
            let gained = st.dag.add(
                &node,
                |i| slots[i].def.name.clone(),
                |i| !matches!(slots[i].status, TaskStatus::Pending | TaskStatus::Queued),
            )?;
            let id = st.slots.len();
            let ordinal = if outputs.is_empty() {
                let n = st
                    .ordinals
                    .entry((op_id.clone(), name.clone()))
                    .or_insert(0);
                *n += 1;
                *n - 1
            } else {
                0
            };
            let identity = identity_of(&outputs, &op_id, &name, ordinal);
            let def = TaskDef {
                name,
                op_id,
                op_version,
                args,
                inputs,
                outputs,
                priority: task.priority,
                transient: task.transient,
                identity,
            };
            for &g in &gained {
                let slot = &mut st.slots[g];
                slot.waiting_on += 1;
                if slot.status == TaskStatus::Queued {
                    slot.status = TaskStatus::Pending; // its stale heap entry is skipped
                }
            }
            let deps = st.dag.dependencies(id);
            let failed_dep = deps.iter().find_map(|&d| match &st.slots[d].status {
                TaskStatus::Failed(e) => Some((st.slots[d].def.name.clone(), e.clone())),
                _ => None,
            });
            let waiting_on = deps
                .iter()
                .filter(|&&d| {
                    !matches!(
                        st.slots[d].status,
                        TaskStatus::Skipped | TaskStatus::Completed
                    )
                })
                .count();
            st.slots.push(Slot {
                def: Arc::new(def),
                work: Some(work),
                status: TaskStatus::Pending,
                waiting_on,
                result: None,
            });
            st.unfinished += 1;
            if let Some((dependency, cause)) = failed_dep {
                st.set_failed(
                    id,
                    TaskError::Dependency {
                        dependency,
                        cause: Box::new(cause),
                    },
                    None,
                );
            } else if st.stopping || st.closed {
                st.set_failed(id, TaskError::Cancelled, None);
            } else if waiting_on == 0 && st.started {
                st.queue(id);
            }
            let handle = TaskHandle {
                shared: Arc::clone(&self.shared),
                task: TaskRef {
                    graph: self.shared.id,
                    id,
                },
                _type: PhantomData,
            };
            (handle, std::mem::take(&mut st.events), st.driver.clone())
        };
        self.shared.flush_events(events);
        if let Some(tx) = wake {
            let _ = tx.send(Msg::Wake);
        }
        Ok(handle)
    }

    /// Starts running tasks without waiting.
    pub fn start(&self) {
        self.shared.start();
    }

    /// Runs every task added so far and waits for all of them. On failure, lists every failed
    /// task and why; independent branches still ran unless the graph stops at the first error.
    pub fn join(&self) -> Result<RunReport, RunError> {
        self.shared.start();
        let report = {
            let mut st = self.shared.state.lock();
            while st.unfinished > 0 {
                self.shared.changed.wait(&mut st);
            }
            let mut report = RunReport::default();
            let mut failures = Vec::new();
            for slot in &st.slots {
                match &slot.status {
                    TaskStatus::Completed => report.ran.push(slot.def.name.clone()),
                    TaskStatus::Skipped => report.skipped.push(slot.def.name.clone()),
                    TaskStatus::Failed(e) => failures.push(TaskFailure {
                        task: slot.def.name.clone(),
                        error: e.clone(),
                    }),
                    _ => {}
                }
            }
            if !failures.is_empty() {
                Err(RunError { failures })
            } else {
                Ok(report)
            }
        };
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
        let (driver, events) = {
            let mut st = self.shared.state.lock();
            st.closed = true;
            if st.driver.is_none() {
                st.cancel_pending();
            }
            (st.driver.take(), std::mem::take(&mut st.events))
        };
        self.shared.flush_events(events);
        if let Some(tx) = driver {
            let _ = tx.send(Msg::Shutdown);
            if let Some(thread) = self.shared.driver_thread.lock().take() {
                let _ = thread.join();
            }
        }
        self.shared.changed.notify_all();
        self.save_memo();
        self.shared.ctx.store.release_lock();
    }
}
