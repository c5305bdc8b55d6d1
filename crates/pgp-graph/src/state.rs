//! What a running graph shares between its handles, its scheduler and its jobs: the task slots
//! and their states, and the context (store, memo, executor, events) jobs run in.

use crate::dag::Dag;
use crate::error::TaskError;
use crate::events::{Event, EventSink};
use crate::handle::TaskStatus;
use crate::job::{Completion, Work};
use crate::memo::DigestMemo;
use crate::plan::TaskDef;
use crate::sched::{drive, Msg};
use crate::store::Store;
use crossbeam_channel::Sender;
use parking_lot::{Condvar, Mutex};
use pgp_exec::Executor;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// What jobs share: the store, the memo, the executor, the event sink.
pub struct Ctx {
    pub store: Store,
    pub memo: DigestMemo,
    pub executor: Executor,
    pub(crate) sink: Option<EventSink>,
    pub(crate) warnings: Mutex<Vec<String>>,
    pub(crate) stop_on_first_error: bool,
}

impl Ctx {
    pub fn emit(&self, event: Event) {
        if let Some(sink) = &self.sink {
            sink(&event);
        }
    }

    pub fn warn(&self, message: String) {
        self.warnings.lock().push(message.clone());
        self.emit(Event::Warning { message });
    }
}

pub struct Slot {
    pub def: Arc<TaskDef>,
    pub work: Option<Work>,
    pub status: TaskStatus,
    /// Dependencies not yet completed.
    pub waiting_on: usize,
    pub result: Option<Vec<u8>>,
}

pub struct State {
    pub dag: Dag,
    pub slots: Vec<Slot>,
    pub ready: BinaryHeap<(i32, Reverse<usize>)>,
    pub in_flight: usize,
    pub unfinished: usize,
    pub started: bool,
    pub stopping: bool,
    pub(crate) closed: bool,
    pub(crate) driver: Option<Sender<Msg>>,
    /// Events produced under the lock, emitted after it is released.
    pub events: Vec<Event>,
    /// Per (op, name): how many output-less tasks have had that pair, for their identities.
    pub(crate) ordinals: HashMap<(String, String), u32>,
}

impl State {
    pub(crate) fn queue(&mut self, id: usize) {
        let slot = &mut self.slots[id];
        slot.status = TaskStatus::Queued;
        self.ready.push((slot.def.priority, Reverse(id)));
        self.events.push(Event::Queued {
            task: slot.def.name.clone(),
        });
    }

    pub(crate) fn set_failed(&mut self, id: usize, error: TaskError, duration: Option<Duration>) {
        let slot = &mut self.slots[id];
        if slot.status.is_done() {
            return;
        }
        slot.status = TaskStatus::Failed(error.clone());
        slot.work = None;
        self.unfinished -= 1;
        self.events.push(Event::Failed {
            task: slot.def.name.clone(),
            error,
            duration,
        });
    }

    /// Records the end of a dispatched job and releases or fails its dependents.
    pub fn finish(
        &mut self,
        id: usize,
        outcome: Result<Completion, (TaskError, Duration)>,
        ctx: &Ctx,
    ) {
        self.in_flight -= 1;
        match outcome {
            Ok(done) => {
                let slot = &mut self.slots[id];
                slot.status = if done.skipped {
                    TaskStatus::Skipped
                } else {
                    TaskStatus::Completed
                };
                slot.result = Some(done.result);
                self.unfinished -= 1;
                for dependent in self.dag.dependents(id) {
                    let slot = &mut self.slots[dependent];
                    if slot.status == TaskStatus::Pending {
                        slot.waiting_on -= 1;
                        if slot.waiting_on == 0 && self.started && !self.stopping {
                            self.queue(dependent);
                        }
                    }
                }
            }
            Err((error, duration)) => {
                self.set_failed(id, error.clone(), Some(duration));
                let name = self.slots[id].def.name.clone();
                for d in self.dag.descendants(id) {
                    let cause = TaskError::Dependency {
                        dependency: name.clone(),
                        cause: Box::new(error.clone()),
                    };
                    self.set_failed(d, cause, None);
                }
                if ctx.stop_on_first_error {
                    self.stopping = true;
                    self.cancel_pending();
                }
            }
        }
    }

    /// Fails every task not yet dispatched with [`TaskError::Cancelled`].
    pub fn cancel_pending(&mut self) {
        for id in 0..self.slots.len() {
            if matches!(
                self.slots[id].status,
                TaskStatus::Pending | TaskStatus::Queued
            ) {
                self.set_failed(id, TaskError::Cancelled, None);
            }
        }
        self.ready.clear();
    }
}

/// State shared by the graph, its handles and its driver thread.
pub struct Shared {
    pub id: u64,
    pub ctx: Arc<Ctx>,
    pub state: Mutex<State>,
    pub changed: Condvar,
    pub(crate) driver_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn flush_events(&self, events: Vec<Event>) {
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

    /// Starts the driver (once) and queues every task whose dependencies are done.
    pub fn start(self: &Arc<Self>) {
        let events = {
            let mut st = self.state.lock();
            if st.started || st.closed {
                return;
            }
            st.started = true;
            let (tx, rx) = crossbeam_channel::unbounded();
            let shared = Arc::clone(self);
            let driver_tx = tx.clone();
            let spawned = std::thread::Builder::new()
                .name("pgp-graph-driver".into())
                .spawn(move || drive(shared, driver_tx, rx));
            match spawned {
                Ok(thread) => {
                    *self.driver_thread.lock() = Some(thread);
                    st.driver = Some(tx.clone());
                }
                Err(e) => {
                    let message = format!("cannot start the scheduler thread: {e}");
                    for id in 0..st.slots.len() {
                        st.set_failed(id, TaskError::Executor(message.clone()), None);
                    }
                }
            }
            for id in 0..st.slots.len() {
                if st.slots[id].status == TaskStatus::Pending && st.slots[id].waiting_on == 0 {
                    st.queue(id);
                }
            }
            let _ = tx.send(Msg::Wake);
            std::mem::take(&mut st.events)
        };
        self.flush_events(events);
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
}
