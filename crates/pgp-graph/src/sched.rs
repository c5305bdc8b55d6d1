//! The scheduler: one driver thread per graph that dispatches ready tasks, and the recorder
//! that writes their records.
//!
//! * All bookkeeping lives in one mutex-guarded [`State`]; the driver is the only dispatcher.
//!   Jobs never touch the state: they report on the driver's channel when they leave their
//!   worker (`Released`) and when they end (`Done`).
//! * At most `executor.workers()` jobs are on workers at once, picked by priority then insertion
//!   order, so priorities mean something although executors are first-in first-out. A job that
//!   ran hands its task to the [`Recorder`] and frees its worker at once: waiting for outputs to
//!   settle costs no worker time, and records are written in groups.
//! * Where a job runs: on the synchronous executor, on the driver thread. On a thread pool, an
//!   operation runs on one of the graph's task threads (as many as the executor has workers)
//!   and parallelises on the graph's pool (the executor is
//!   the whole graph's budget; the job never occupies a pool worker while it waits for its
//!   blocks, so a full pool cannot deadlock), and a closure runs on a pool worker. On a process
//!   pool, an operation is sent to a worker process by name and a closure, which cannot cross a
//!   process boundary, runs on a task thread of the driver's process.
//! * Hashing inputs, skip checks and running happen in the job, so they run in parallel like the
//!   work itself; recording happens on the recorder thread.

use crate::ahead::DigestAhead;
use crate::ctx::Ctx;
use crate::error::TaskError;
use crate::job::{run_job, JobEnd, Outcome, Work};
use crate::recorder::Recorder;
use crate::state::{Job, State};
use crate::task::TaskStatus;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

/// Messages to the driver.
pub enum Msg {
    /// New tasks may be ready, or the graph closed.
    Wake,
    /// A job left its worker; its task is with the recorder.
    Released { id: usize },
    /// A job ended.
    Done { id: usize, outcome: Outcome },
}

/// State shared by the graph, its handles and its driver thread.
pub struct Shared {
    pub id: u64,
    pub ctx: Arc<Ctx>,
    pub state: Mutex<State>,
    pub changed: Condvar,
    driver: Mutex<Option<Driver>>,
}

struct Driver {
    tx: Sender<Msg>,
    thread: std::thread::JoinHandle<()>,
}

impl Shared {
    pub fn new(id: u64, ctx: Ctx, state: State) -> Shared {
        Shared {
            id,
            ctx: Arc::new(ctx),
            state: Mutex::new(state),
            changed: Condvar::new(),
            driver: Mutex::new(None),
        }
    }

    pub fn flush_events(&self, events: Vec<crate::Event>) {
        for e in events {
            self.ctx.emit(e);
        }
    }

    pub fn task_name(&self, id: usize) -> String {
        self.state.lock().slots[id].def.name.clone()
    }

    pub fn status(&self, id: usize) -> TaskStatus {
        self.state.lock().slots[id].status.clone()
    }

    /// Tells the driver (if running) that new tasks may be ready.
    pub fn wake(&self) {
        if let Some(driver) = &*self.driver.lock() {
            let _ = driver.tx.send(Msg::Wake);
        }
    }

    /// Starts the driver (once) and queues every task whose dependencies are done.
    pub fn start(self: &Arc<Self>) {
        let events = {
            let mut st = self.state.lock();
            if !st.start() {
                return;
            }
            let (tx, rx) = crossbeam_channel::unbounded();
            let shared = Arc::clone(self);
            let driver_tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name("pgp-graph-driver".into())
                .spawn(move || drive(&shared, &driver_tx, &rx));
            match spawned {
                Ok(thread) => {
                    let _ = tx.send(Msg::Wake);
                    *self.driver.lock() = Some(Driver { tx, thread });
                }
                Err(e) => st.fail_unstarted(TaskError::Executor(format!(
                    "cannot start the scheduler thread: {e}"
                ))),
            }
            st.take_events()
        };
        self.changed.notify_all();
        self.flush_events(events);
    }

    /// Closes the graph: cancels what has not been dispatched, lets running jobs end and stops
    /// the driver.
    pub fn close(&self) {
        let events = {
            let mut st = self.state.lock();
            st.close();
            st.take_events()
        };
        self.flush_events(events);
        let driver = self.driver.lock().take();
        if let Some(driver) = driver {
            let _ = driver.tx.send(Msg::Wake);
            let _ = driver.thread.join();
        }
        self.changed.notify_all();
    }

    /// Waits for task `id`; its result bytes or its error.
    pub fn wait_task(self: &Arc<Self>, id: usize) -> Result<Vec<u8>, TaskError> {
        self.start();
        let mut st = self.state.lock();
        while !st.slots[id].status.is_done() {
            self.changed.wait(&mut st);
        }
        match &st.slots[id].status {
            TaskStatus::Failed(e) => Err(e.clone()),
            _ => Ok(st.slots[id].result.clone().unwrap_or_default()),
        }
    }

    /// Waits until every task added so far is done.
    pub fn wait_all(self: &Arc<Self>) -> parking_lot::MutexGuard<'_, State> {
        self.start();
        let mut st = self.state.lock();
        while !st.all_done() {
            self.changed.wait(&mut st);
        }
        st
    }
}

/// The driver thread's body.
fn drive(shared: &Arc<Shared>, tx: &Sender<Msg>, rx: &Receiver<Msg>) {
    let ctx = &shared.ctx;
    let capacity = ctx.executor.workers().max(1);
    let done_tx = tx.clone();
    let recorder = Recorder::start(Arc::clone(ctx), move |group| {
        for (id, outcome) in group {
            let _ = done_tx.send(Msg::Done { id, outcome });
        }
    });
    let recorder = match recorder {
        Ok(r) => r,
        Err(e) => {
            let events = {
                let mut st = shared.state.lock();
                st.fail_unstarted(TaskError::Executor(format!(
                    "cannot start the recorder thread: {e}"
                )));
                st.take_events()
            };
            shared.changed.notify_all();
            shared.flush_events(events);
            return;
        }
    };
    let record = recorder.sender();
    let ahead = digest_ahead(shared);
    // Long-lived threads for jobs that must not take a pool worker: GDAL and PROJ keep
    // per-thread state (PROJ contexts, caches), which a thread per task would rebuild each time.
    let runners = if ctx.executor.is_sync() {
        None
    } else {
        pgp_exec::ThreadPool::builder()
            .workers(capacity)
            .thread_name("pgp-graph-task")
            .build()
            .ok()
    };
    let mut released = HashSet::new();
    while let Ok(first) = rx.recv() {
        let (jobs, events, drained) = {
            let mut st = shared.state.lock();
            for msg in std::iter::once(first).chain(rx.try_iter()) {
                match msg {
                    Msg::Wake => {}
                    Msg::Released { id } => {
                        released.insert(id);
                        st.release(id);
                    }
                    Msg::Done { id, outcome } => {
                        let was_released = released.remove(&id);
                        st.finish(id, outcome, was_released);
                    }
                }
            }
            (st.take_ready(capacity), st.take_events(), st.drained())
        };
        shared.changed.notify_all();
        shared.flush_events(events);
        for job in jobs {
            launch(shared, tx, &record, runners.as_ref(), job);
        }
        if drained {
            break;
        }
    }
    if let Some(ahead) = ahead {
        ahead.stop();
    }
    drop(record);
    recorder.finish();
}

/// Starts digesting the files of the tasks added before the graph started, on as many threads
/// as the executor has workers (and the machine has CPUs). Not on the synchronous executor,
/// which does one thing at a time.
fn digest_ahead(shared: &Shared) -> Option<DigestAhead> {
    let ctx = &shared.ctx;
    if ctx.executor.is_sync() {
        return None;
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let tasks = shared
        .state
        .lock()
        .slots
        .iter()
        .filter(|s| matches!(s.status, TaskStatus::Pending | TaskStatus::Queued))
        .map(|s| Arc::clone(&s.def))
        .collect();
    DigestAhead::start(ctx, tasks, ctx.executor.workers().min(cpus))
}

fn launch(
    shared: &Arc<Shared>,
    tx: &Sender<Msg>,
    record: &Sender<(usize, crate::job::Installed)>,
    runners: Option<&pgp_exec::ThreadPool>,
    job: Job,
) {
    let Job { id, def, work } = job;
    let exec = &shared.ctx.executor;
    let closure = matches!(work, Work::Closure(_));
    let ctx = Arc::clone(&shared.ctx);
    let (done, record) = (tx.clone(), record.clone());
    let body = move || match run_job(&ctx, &def, work) {
        JobEnd::Done(outcome) => {
            let _ = done.send(Msg::Done { id, outcome });
        }
        JobEnd::Installed(installed) => {
            // Released first: the recorder's Done for this task must come after it.
            let _ = done.send(Msg::Released { id });
            if let Err(crossbeam_channel::SendError((_, installed))) = record.send((id, installed))
            {
                let error = TaskError::Record("the recorder has stopped".into());
                let _ = done.send(Msg::Done {
                    id,
                    outcome: Err((error, installed.start.elapsed())),
                });
            }
        }
    };
    let spawn_error = if exec.is_sync() {
        body();
        None
    } else if closure && exec.runs_closures() {
        // The job reports through the channel; its handle is not needed (dropping detaches).
        exec.spawn(body).err().map(|e| e.to_string())
    } else if let Some(runners) = runners {
        drop(runners.spawn(body));
        None
    } else {
        std::thread::Builder::new()
            .name(format!("pgp-graph-task-{id}"))
            .spawn(body)
            .err()
            .map(|e| e.to_string())
    };
    if let Some(message) = spawn_error {
        let _ = tx.send(Msg::Done {
            id,
            outcome: Err((TaskError::Executor(message), Duration::ZERO)),
        });
    }
}
