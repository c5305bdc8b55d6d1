//! Ctrl-C during a long call: the work runs on its own thread while the calling thread waits
//! without the GIL and looks at Python's signals every few milliseconds.
//!
//! On `KeyboardInterrupt` the call is marked interrupted: Python callbacks raise at their next
//! block, and the operation's progress ticker (pgp-ops reports each finished block to it on the
//! thread that writes the output) stops the operation at its next block by unwinding. Either way
//! the output's temporary file is removed as on any failure, and the caller gets
//! `KeyboardInterrupt` as soon as the work thread has stopped.
//!
//! The work threads are kept for the next call rather than ended: GDAL keeps a PROJ context
//! per thread (its `proj.db` connection and CRS caches), which a new thread builds again on
//! its first look at a projection. That cost tens of milliseconds of every call (most of a
//! small call, 3-5% of `raster_calculator` on 4096² float32), which the `pgp` command, one
//! call per process on its main thread, pays once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use parking_lot::Mutex;
use pgp_ops::progress::{with_progress, Progress, ProgressTicker};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError};
use pyo3::prelude::*;

/// Set while the current call's caller pressed Ctrl-C.
#[derive(Clone, Default)]
pub(crate) struct Interrupt(Arc<AtomicBool>);

impl Interrupt {
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Unwinding payload that marks a stop asked for by the user, not a bug.
struct Stopped;

struct StopOnInterrupt(Interrupt);

impl Progress for StopOnInterrupt {
    fn start(&self, _operation: &str, _unit: &str, _total: u64) -> Box<dyn ProgressTicker> {
        Box::new(StopTicker(self.0.clone()))
    }
}

struct StopTicker(Interrupt);

impl ProgressTicker for StopTicker {
    fn advance(&mut self, _units: u64) {
        if self.0.is_set() {
            std::panic::resume_unwind(Box::new(Stopped));
        }
    }
}

/// A call's work: runs on a call thread and returns what delivers its outcome, which the
/// thread runs once it is ready for the next call (so a caller that starts another call as
/// soon as it has the outcome finds the thread idle, with its PROJ context warm).
type Job = Box<dyn FnOnce() -> Box<dyn FnOnce() + Send> + Send>;

/// Call threads waiting for work, each by the sender of its own queue, with the id of the
/// process they belong to: a child made by `fork` (Python's `multiprocessing`) inherits the
/// list but not the threads, and must start its own.
static IDLE: Mutex<(u32, Vec<Sender<Job>>)> = Mutex::new((0, Vec::new()));

fn idle_thread() -> Option<Sender<Job>> {
    let mut idle = IDLE.lock();
    if idle.0 != std::process::id() {
        *idle = (std::process::id(), Vec::new());
    }
    idle.1.pop()
}

/// Runs `job` on an idle call thread, or on a new one when every call thread is busy (calls
/// from several Python threads at once).
fn start(job: Job) -> PyResult<()> {
    let mut job = job;
    while let Some(idle) = idle_thread() {
        match idle.send(job) {
            Ok(()) => return Ok(()),
            // That thread is gone (it cannot be while it keeps its own sender; kept safe).
            Err(crossbeam_channel::SendError(back)) => job = back,
        }
    }
    let (tx, rx) = crossbeam_channel::bounded::<Job>(1);
    std::thread::Builder::new()
        .name("pgp-call".into())
        .spawn(move || serve(job, tx, rx))
        .map(|_| ())
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))
}

fn serve(first: Job, tx: Sender<Job>, rx: Receiver<Job>) {
    let mut job = first;
    loop {
        let deliver = job();
        IDLE.lock().1.push(tx.clone());
        deliver();
        match rx.recv() {
            Ok(next) => job = next,
            Err(_) => return,
        }
    }
}

/// Runs `work` off the calling thread with the GIL released, returning its result, or
/// `KeyboardInterrupt` if the user interrupted it (after it stopped). `work` gets the flag so
/// its Python callbacks can refuse to start another block.
pub(crate) fn run<T, F>(py: Python<'_>, work: F) -> PyResult<T>
where
    T: Send + 'static,
    F: FnOnce(Interrupt) -> T + Send + 'static,
{
    let flag = Interrupt::default();
    let inner = flag.clone();
    let (tx, rx) = crossbeam_channel::bounded(1);
    start(Box::new(move || {
        let progress: Arc<dyn Progress> = Arc::new(StopOnInterrupt(inner.clone()));
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            with_progress(progress, || work(inner))
        }));
        Box::new(move || {
            let _ = tx.send(outcome);
        })
    }))?;
    loop {
        let got = py.detach(|| rx.recv_timeout(Duration::from_millis(50)));
        match got {
            Ok(outcome) => {
                return match outcome {
                    Ok(value) if !flag.is_set() => Ok(value),
                    Ok(_) => Err(PyKeyboardInterrupt::new_err("interrupted")),
                    Err(payload) if payload.is::<Stopped>() => {
                        Err(PyKeyboardInterrupt::new_err("interrupted"))
                    }
                    Err(payload) => Err(PyRuntimeError::new_err(format!(
                        "pgp panicked (a bug in pgp): {}",
                        panic_text(&payload)
                    ))),
                };
            }
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if let Err(e) = py.check_signals() {
                    if e.is_instance_of::<PyKeyboardInterrupt>(py) {
                        flag.0.store(true, Ordering::SeqCst);
                    } else {
                        return Err(e);
                    }
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "pgp's work thread ended without a result",
                ));
            }
        }
    }
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
