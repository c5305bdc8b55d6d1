//! The pool side of one worker: a driver thread feeding it jobs and turning outcomes (or its
//! death) into task results.

use std::sync::Arc;

use crossbeam_channel::Receiver;
use parking_lot::Mutex;

use crate::error::{ExecError, Result};
use crate::handle::Completer;
use crate::process::protocol::Outcome;
use crate::process::worker_process::{self, CallError, LaunchConfig, WorkerProcess};
use crate::task::{enter_pool, Permit};
use crate::worker_id::WorkerId;

/// A queued call: what to run and where its result goes.
pub(crate) struct RemoteJob {
    pub(crate) op: String,
    pub(crate) args: Vec<u8>,
    pub(crate) sink: Box<dyn Sink>,
}

/// Type-erased receiver of a call's encoded result.
pub(crate) trait Sink: Send {
    fn try_start(&self) -> bool;
    fn cancel_requested(&self) -> bool;
    /// Notes the worker the call is sent to.
    fn ran_on(&self, worker: WorkerId);
    fn finish(self: Box<Self>, op: &str, result: Result<Vec<u8>>);
}

pub(crate) struct TypedSink<T: Send + 'static> {
    pub(crate) completer: Completer<T>,
    pub(crate) decode: fn(Vec<u8>) -> std::result::Result<T, String>,
    /// Held until the task is finished, so the in-flight limit counts it.
    pub(crate) _permit: Permit,
}

impl<T: Send + 'static> Sink for TypedSink<T> {
    fn try_start(&self) -> bool {
        self.completer.try_start()
    }

    fn cancel_requested(&self) -> bool {
        self.completer.cancel_requested()
    }

    fn ran_on(&self, worker: WorkerId) {
        self.completer.set_worker(worker);
    }

    fn finish(self: Box<Self>, op: &str, result: Result<Vec<u8>>) {
        let decode = self.decode;
        let result = result.and_then(|bytes| {
            decode(bytes).map_err(|e| {
                ExecError::Codec(format!("output of operation {op:?} does not decode: {e}"))
            })
        });
        self.completer.finish(result);
    }
}

/// Owns one worker process and feeds it jobs from the pool's queue, one at a time.
pub(super) struct Driver {
    pub(super) pool_id: u64,
    pub(super) index: usize,
    pub(super) jobs: Receiver<RemoteJob>,
    pub(super) config: Arc<LaunchConfig>,
    pub(super) pids: Arc<Mutex<Vec<Option<u32>>>>,
    pub(super) next_id: u64,
    /// Why the last attempt to start a replacement worker failed, for the tasks that fail
    /// because of it.
    pub(super) last_start_error: Option<String>,
}

impl Driver {
    pub(super) fn run(mut self, worker: WorkerProcess) {
        // Completion callbacks run on this thread; if one submits to this pool it must not
        // wait for room, since only drivers make room.
        enter_pool(self.pool_id);
        let mut worker = Some(worker);
        // Ends when the pool is dropped and every queued job is done.
        while let Ok(job) = self.jobs.recv() {
            if !job.sink.try_start() {
                continue; // cancelled while queued
            }
            if worker.is_none() {
                worker = self.replace();
            }
            let Some(live) = worker.as_mut() else {
                let detail = format!(
                    "no worker is running and a replacement could not be started: {}",
                    self.last_start_error.as_deref().unwrap_or("unknown error")
                );
                let op = job.op.clone();
                job.sink
                    .finish(&job.op, Err(ExecError::WorkerDied { op, detail }));
                continue;
            };
            self.next_id += 1;
            let pid = live.pid();
            let sink = &job.sink;
            sink.ran_on(WorkerId::Process {
                index: self.index,
                pid,
            });
            let outcome = live.call(
                self.next_id,
                &job.op,
                &job.args,
                self.config.task_timeout,
                &|| sink.cancel_requested(),
            );
            let RemoteJob { op, sink, .. } = job;
            match outcome {
                Ok(outcome) => {
                    let result = self.reply_to_result(&op, outcome);
                    sink.finish(&op, result);
                }
                Err(failure) => {
                    // The worker is dead (or was killed). Report first, so the waiter does not
                    // also wait for the replacement to start; then replace it before taking
                    // more work.
                    drop(worker.take());
                    self.set_pid(None);
                    let error = match failure {
                        CallError::Died(detail) => ExecError::WorkerDied {
                            op: op.clone(),
                            detail,
                        },
                        CallError::Cancelled => ExecError::Cancelled,
                        CallError::TimedOut(timeout) => ExecError::TimedOut {
                            op: op.clone(),
                            timeout,
                        },
                        CallError::Unresponsive(silence) => ExecError::Unresponsive {
                            op: op.clone(),
                            worker: self.index,
                            pid,
                            silence,
                            env: super::LIVENESS_ENV.to_string(),
                        },
                        CallError::Protocol(detail) => ExecError::WorkerDied {
                            op: op.clone(),
                            detail: format!("protocol error, worker killed: {detail}"),
                        },
                    };
                    sink.finish(&op, Err(error));
                    worker = self.replace();
                }
            }
        }
    }

    fn reply_to_result(&self, op: &str, outcome: Outcome) -> Result<Vec<u8>> {
        outcome_to_result(op, outcome, &self.config.program)
    }

    fn replace(&mut self) -> Option<WorkerProcess> {
        if super::STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
            self.last_start_error = Some("the program is stopping (all workers were ended)".into());
            return None;
        }
        let started = worker_process::spawn(&self.config).and_then(|s| s.handshake(&self.config));
        match started {
            Ok(worker) => {
                self.set_pid(Some(worker.pid()));
                self.last_start_error = None;
                Some(worker)
            }
            Err(error) => {
                self.last_start_error = Some(error.to_string());
                eprintln!(
                    "pgp-exec: could not replace process pool worker {}: {error}",
                    self.index
                );
                None
            }
        }
    }

    fn set_pid(&self, pid: Option<u32>) {
        if let Some(slot) = self.pids.lock().get_mut(self.index) {
            *slot = pid;
        }
    }
}

/// A worker's reply as the task's result; `program` names the worker for an unknown operation.
pub(crate) fn outcome_to_result(
    op: &str,
    outcome: Outcome,
    program: &std::path::Path,
) -> Result<Vec<u8>> {
    match outcome {
        Outcome::Ok(bytes) => Ok(bytes),
        Outcome::Failed(failure) => Err(failure.into_error(op)),
        Outcome::Panicked(message) => Err(ExecError::Panicked { message }),
        Outcome::UnknownOp => Err(ExecError::UnknownOp {
            name: op.to_string(),
            where_: format!(" in worker program {}", program.display()),
        }),
        Outcome::DuplicateOp => Err(ExecError::DuplicateOp {
            name: op.to_string(),
        }),
    }
}
