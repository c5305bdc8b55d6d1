//! The scheduler: one driver thread per graph that dispatches ready tasks to the executor.
//!
//! Design (see also `README.md` in this directory):
//!
//! * All bookkeeping (statuses, dependency counters, the ready queue) lives in one mutex-guarded
//!   [`State`]. Only the driver thread dispatches; workers never touch the state. They run
//!   [`run_job`] and send one `Done` message on a channel when it ends. This keeps the executor a
//!   black box: it only needs `spawn`, and a job never submits work to the pool it runs on, so a
//!   full pool cannot deadlock.
//! * The driver keeps at most `executor.workers()` jobs in flight and picks the highest priority
//!   (then the earliest added) among ready tasks, so priorities mean something even though the
//!   executor itself is first-in first-out.
//! * Hashing, skip checks and recording happen inside the job, on the worker, so they run in
//!   parallel like the work itself.
//! * A finished task decrements its dependents' counters; a counter reaching zero queues the
//!   dependent. A failure marks every descendant failed with the cause at once; with
//!   stop-at-first-error it also cancels every task not yet dispatched. Running tasks always
//!   finish: nothing is killed half-way.
//! * Process executors cannot run closures, so there each job runs on a short-lived helper thread
//!   that submits the operation by name and waits for it.

use crate::error::TaskError;
use crate::job::{run_job, Completion, Work};
use crate::plan::TaskDef;
use crate::state::{Shared, State};
use crossbeam_channel::{Receiver, Sender};
use pgp_exec::ExecutorSpec;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Messages to the driver.
pub enum Msg {
    /// New tasks may be ready.
    Wake,
    /// A job ended.
    Done {
        id: usize,
        outcome: Result<Completion, (TaskError, Duration)>,
    },
    /// The graph is being dropped: dispatch nothing more, let running jobs end, then exit.
    Shutdown,
}

/// A task taken off the ready queue.
pub struct Job {
    pub id: usize,
    pub def: Arc<TaskDef>,
    pub work: Work,
}

/// The driver thread's body.
pub fn drive(shared: Arc<Shared>, tx: Sender<Msg>, rx: Receiver<Msg>) {
    let capacity = shared.ctx.executor.workers().max(1);
    let inline = matches!(shared.ctx.executor.spec(), ExecutorSpec::Sync);
    let mut handles: HashMap<usize, pgp_exec::Handle<()>> = HashMap::new();
    let mut shutting_down = false;
    while let Ok(first) = rx.recv() {
        let mut reap = Vec::new();
        let (jobs, events, exit) = {
            let mut st = shared.state.lock();
            for msg in std::iter::once(first).chain(rx.try_iter()) {
                match msg {
                    Msg::Wake => {}
                    Msg::Done { id, outcome } => {
                        reap.extend(handles.remove(&id));
                        st.finish(id, outcome, &shared.ctx);
                    }
                    Msg::Shutdown => {
                        shutting_down = true;
                        st.cancel_pending();
                    }
                }
            }
            let jobs = if shutting_down {
                Vec::new()
            } else {
                st.take_ready(capacity)
            };
            shared.changed.notify_all();
            (
                jobs,
                std::mem::take(&mut st.events),
                shutting_down && st.in_flight == 0,
            )
        };
        for event in events {
            shared.ctx.emit(event);
        }
        for handle in reap {
            // The job already reported through the channel; this only reclaims the executor slot.
            let _ = handle.wait();
        }
        for job in jobs {
            launch(&shared, &tx, job, inline, &mut handles);
        }
        if exit {
            break;
        }
    }
}

fn launch(
    shared: &Arc<Shared>,
    tx: &Sender<Msg>,
    job: Job,
    inline: bool,
    handles: &mut HashMap<usize, pgp_exec::Handle<()>>,
) {
    let id = job.id;
    let ctx = Arc::clone(&shared.ctx);
    let done = tx.clone();
    let body = move || {
        let outcome = run_job(&ctx, &job.def, job.work);
        let _ = done.send(Msg::Done { id, outcome });
    };
    let spawn_error = if shared.ctx.executor.runs_closures() {
        match shared.ctx.executor.spawn(body) {
            Ok(handle) if inline => {
                let _ = handle.wait();
                None
            }
            Ok(handle) => {
                handles.insert(id, handle);
                None
            }
            Err(e) => Some(e.to_string()),
        }
    } else {
        match std::thread::Builder::new()
            .name(format!("pgp-graph-task-{id}"))
            .spawn(body)
        {
            Ok(_) => None,
            Err(e) => Some(e.to_string()),
        }
    };
    if let Some(message) = spawn_error {
        let _ = tx.send(Msg::Done {
            id,
            outcome: Err((TaskError::Executor(message), Duration::ZERO)),
        });
    }
}

impl State {
    /// Pops up to `capacity - in_flight` ready tasks, highest priority first.
    pub fn take_ready(&mut self, capacity: usize) -> Vec<Job> {
        let mut jobs = Vec::new();
        while self.in_flight < capacity && !self.stopping {
            let Some((_, std::cmp::Reverse(id))) = self.ready.pop() else {
                break;
            };
            let slot = &mut self.slots[id];
            if slot.status != crate::TaskStatus::Queued {
                continue; // re-blocked by a producer added later, or cancelled
            }
            let Some(work) = slot.work.take() else {
                continue;
            };
            slot.status = crate::TaskStatus::Running;
            self.in_flight += 1;
            jobs.push(Job {
                id,
                def: Arc::clone(&slot.def),
                work,
            });
        }
        jobs
    }
}
