//! Handles (futures) for submitted work, completion signals, and the helpers that wait on many.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{ExecError, Result};
use crate::worker_id::WorkerId;

type Callback = Box<dyn FnOnce() + Send>;

enum Phase<T> {
    Pending,
    Running,
    Done(Result<T>),
    Taken,
}

struct State<T> {
    phase: Phase<T>,
    callbacks: Vec<Callback>,
    failed: bool,
    cancel_requested: bool,
    /// Where the task ran, when its pool says.
    worker: Option<WorkerId>,
}

/// The shared cell a task writes its result into and its [`Handle`] reads from.
pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    done: Condvar,
}

impl<T: Send + 'static> Slot<T> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Slot {
            state: Mutex::new(State {
                phase: Phase::Pending,
                callbacks: Vec::new(),
                failed: false,
                cancel_requested: false,
                worker: None,
            }),
            done: Condvar::new(),
        })
    }

    /// Moves a pending task to running. False when it was cancelled (or already finished), in
    /// which case the caller must not run it.
    pub(crate) fn try_start(&self) -> bool {
        let mut state = self.state.lock();
        if matches!(state.phase, Phase::Pending) {
            state.phase = Phase::Running;
            true
        } else {
            false
        }
    }

    /// Stores the result (unless one is already there, e.g. after a cancel), wakes waiters and
    /// runs the completion callbacks on this thread, outside the lock.
    pub(crate) fn complete(&self, result: Result<T>) {
        let callbacks = {
            let mut state = self.state.lock();
            if matches!(state.phase, Phase::Done(_) | Phase::Taken) {
                return;
            }
            state.failed = result.is_err();
            state.phase = Phase::Done(result);
            self.done.notify_all();
            std::mem::take(&mut state.callbacks)
        };
        for callback in callbacks {
            callback();
        }
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.state.lock().cancel_requested
    }

    fn set_worker(&self, worker: WorkerId) {
        self.state.lock().worker = Some(worker);
    }

    fn take(&self) -> (Result<T>, Option<WorkerId>) {
        let mut state = self.state.lock();
        while !matches!(state.phase, Phase::Done(_) | Phase::Taken) {
            self.done.wait(&mut state);
        }
        let worker = state.worker.take();
        match std::mem::replace(&mut state.phase, Phase::Taken) {
            Phase::Done(result) => (result, worker),
            // A Handle is the only reader and `wait` consumes it, so this cannot be observed.
            _ => (
                Err(ExecError::Codec("task result was already taken".into())),
                worker,
            ),
        }
    }
}

/// Type-erased view of a [`Slot`], so signals of differently typed tasks can be mixed.
pub(crate) trait Completion: Send + Sync {
    fn is_done(&self) -> bool;
    fn wait_done(&self, deadline: Option<Instant>) -> bool;
    fn on_done(&self, callback: Callback);
    fn cancel(&self) -> bool;
    fn failed(&self) -> Option<bool>;
}

impl<T: Send + 'static> Completion for Slot<T> {
    fn is_done(&self) -> bool {
        matches!(self.state.lock().phase, Phase::Done(_) | Phase::Taken)
    }

    fn wait_done(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.state.lock();
        while !matches!(state.phase, Phase::Done(_) | Phase::Taken) {
            match deadline {
                None => self.done.wait(&mut state),
                Some(deadline) => {
                    if self.done.wait_until(&mut state, deadline).timed_out() {
                        return matches!(state.phase, Phase::Done(_) | Phase::Taken);
                    }
                }
            }
        }
        true
    }

    fn on_done(&self, callback: Callback) {
        {
            let mut state = self.state.lock();
            if !matches!(state.phase, Phase::Done(_) | Phase::Taken) {
                state.callbacks.push(callback);
                return;
            }
        }
        callback();
    }

    fn cancel(&self) -> bool {
        {
            let mut state = self.state.lock();
            match state.phase {
                Phase::Pending => {}
                Phase::Running => {
                    state.cancel_requested = true;
                    return false;
                }
                Phase::Done(_) | Phase::Taken => return false,
            }
        }
        self.complete(Err(ExecError::Cancelled));
        true
    }

    fn failed(&self) -> Option<bool> {
        let state = self.state.lock();
        match state.phase {
            Phase::Done(_) | Phase::Taken => Some(state.failed),
            _ => None,
        }
    }
}

/// The producer side of a slot, held by whatever will run the task.
///
/// If it is dropped without [`Completer::finish`] (the task was never run, e.g. the pool went
/// away), the handle gets [`ExecError::ShutDown`] instead of waiting forever.
pub(crate) struct Completer<T: Send + 'static> {
    slot: Arc<Slot<T>>,
    finished: bool,
}

impl<T: Send + 'static> Completer<T> {
    /// A new pending task: the completer for the runner and the handle for the caller.
    pub(crate) fn pair() -> (Completer<T>, Handle<T>) {
        let slot = Slot::new();
        (
            Completer {
                slot: slot.clone(),
                finished: false,
            },
            Handle { slot },
        )
    }

    pub(crate) fn try_start(&self) -> bool {
        self.slot.try_start()
    }

    pub(crate) fn cancel_requested(&self) -> bool {
        self.slot.cancel_requested()
    }

    /// Notes where the task runs (before [`Completer::finish`]; a retry notes its new worker).
    pub(crate) fn set_worker(&self, worker: WorkerId) {
        self.slot.set_worker(worker);
    }

    pub(crate) fn finish(mut self, result: Result<T>) {
        self.finished = true;
        self.slot.complete(result);
    }
}

impl<T: Send + 'static> Drop for Completer<T> {
    fn drop(&mut self) {
        if !self.finished {
            self.slot.complete(Err(ExecError::ShutDown));
        }
    }
}

/// A handle on submitted work: a future you can block on.
///
/// Dropping a handle without waiting detaches the task (it still runs, like
/// [`std::thread::JoinHandle`]); use [`Handle::cancel`] to stop pending work. Waiting never
/// hangs on a task that cannot run any more: a task whose pool went away yields
/// [`ExecError::ShutDown`].
#[must_use = "a handle does nothing unless waited on; dropping it detaches the task"]
pub struct Handle<T> {
    slot: Arc<Slot<T>>,
}

impl<T: Send + 'static> Handle<T> {
    /// A handle that is already finished with `result`.
    pub fn ready(result: Result<T>) -> Self {
        let slot = Slot::new();
        slot.complete(result);
        Handle { slot }
    }

    /// Blocks until the task finished and returns its result (or the error it ended with).
    pub fn wait(self) -> Result<T> {
        self.slot.take().0
    }

    /// [`Handle::wait`], and the worker the task ran on when its pool says: process and Slurm
    /// pools do for every task they sent to a worker; closures (which run wherever the pool
    /// put them) and tasks that never reached a worker have `None`.
    pub fn wait_with_worker(self) -> (Result<T>, Option<WorkerId>) {
        self.slot.take()
    }

    /// Same as [`Handle::wait`]; the name Python's `Future.result()` users look for.
    pub fn result(self) -> Result<T> {
        self.wait()
    }

    /// True once the task finished (successfully or not); never blocks.
    pub fn is_done(&self) -> bool {
        self.slot.is_done()
    }

    /// Blocks until the task finished or `timeout` elapsed; true if it finished.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.slot.wait_done(Some(Instant::now() + timeout))
    }

    /// Cancels the task if it has not started: its result becomes [`ExecError::Cancelled`] and
    /// it will not run. Returns true if that happened. A task that is already running on a
    /// process pool is stopped by killing its worker (which the pool replaces) and also ends
    /// with `Cancelled`; a running closure on a thread pool cannot be interrupted and finishes
    /// normally (false is returned in both running cases).
    pub fn cancel(&self) -> bool {
        self.slot.cancel()
    }

    /// A cloneable, type-erased token that completes when this task does: use it to make other
    /// work depend on this task ([`Executor::spawn_after`](crate::Executor::spawn_after)).
    pub fn signal(&self) -> Signal {
        Signal {
            inner: self.slot.clone(),
        }
    }
}

impl<T: Send + 'static> std::fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("done", &self.is_done())
            .finish()
    }
}

/// Completion of some task, without its result: the currency of dependencies.
///
/// Obtained from [`Handle::signal`]. Cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct Signal {
    inner: Arc<dyn Completion>,
}

impl Signal {
    /// True once the task finished.
    pub fn is_done(&self) -> bool {
        self.inner.is_done()
    }

    /// Blocks until the task finished.
    pub fn wait(&self) {
        self.inner.wait_done(None);
    }

    /// Blocks until the task finished or `timeout` elapsed; true if it finished.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.inner.wait_done(Some(Instant::now() + timeout))
    }

    /// `None` while running, then `Some(true)` if the task ended with an error (including
    /// cancellation), `Some(false)` if it succeeded.
    pub fn failed(&self) -> Option<bool> {
        self.inner.failed()
    }

    /// Runs `callback` once the task finished: immediately on this thread if it already has,
    /// otherwise on the thread that completes it. The callback must be short and must not block
    /// (it may run on a pool's worker or driver thread).
    pub fn on_done(&self, callback: impl FnOnce() + Send + 'static) {
        self.inner.on_done(Box::new(callback));
    }

    pub(crate) fn cancel(&self) -> bool {
        self.inner.cancel()
    }
}

impl<T: Send + 'static> From<&Handle<T>> for Signal {
    fn from(handle: &Handle<T>) -> Self {
        handle.signal()
    }
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal")
            .field("done", &self.is_done())
            .finish()
    }
}

/// Runs `then` once every signal in `deps` is done, on the thread that completes the last one
/// (or right here if all are done already). Never blocks.
pub(crate) fn when_all(deps: Vec<Signal>, then: Callback) {
    // One count per dependency plus one held by this function, so `then` cannot fire while
    // callbacks are still being registered.
    let remaining = Arc::new(AtomicUsize::new(deps.len() + 1));
    let then = Arc::new(Mutex::new(Some(then)));
    let arrive = move |remaining: &AtomicUsize, then: &Mutex<Option<Callback>>| {
        if remaining.fetch_sub(1, Ordering::AcqRel) == 1 {
            if let Some(callback) = then.lock().take() {
                callback();
            }
        }
    };
    for dep in deps {
        let (remaining, then) = (remaining.clone(), then.clone());
        dep.on_done(move || arrive(&remaining, &then));
    }
    arrive(&remaining, &then);
}

/// Waits for every handle and returns the results in order, or the first error to occur.
///
/// On the first error the other tasks are cancelled ([`Handle::cancel`]: pending ones do not run,
/// running ones on a process pool are stopped, running closures finish) and waited for, so
/// nothing submitted is still running when this returns.
pub fn wait_all<T: Send + 'static>(handles: Vec<Handle<T>>) -> Result<Vec<T>> {
    wait_all_notify(handles, |_| {})
}

/// [`wait_all`], calling `finished(index)` as each handle finishes (successfully or not), in
/// completion order: for progress reporting.
pub fn wait_all_notify<T: Send + 'static>(
    handles: Vec<Handle<T>>,
    mut finished: impl FnMut(usize),
) -> Result<Vec<T>> {
    let signals: Vec<Signal> = handles.iter().map(Handle::signal).collect();
    let mut results: Vec<Option<T>> = Vec::new();
    results.resize_with(handles.len(), || None);
    let mut first_error: Option<ExecError> = None;
    for (index, result) in as_completed(handles) {
        finished(index);
        match result {
            Ok(value) => results[index] = Some(value),
            Err(error) => {
                if first_error.is_none() {
                    first_error = Some(error);
                    for signal in &signals {
                        signal.cancel();
                    }
                }
            }
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(results.into_iter().flatten().collect()),
    }
}

/// Yields `(index, result)` for each handle as it finishes, in completion order.
///
/// `index` is the handle's position in `handles`. Dropping the iterator early detaches the
/// remaining tasks.
pub fn as_completed<T: Send + 'static>(handles: Vec<Handle<T>>) -> AsCompleted<T> {
    let (sender, receiver) = crossbeam_channel::unbounded();
    for (index, handle) in handles.iter().enumerate() {
        let sender = sender.clone();
        handle.signal().on_done(move || {
            // The receiver may be gone if the iterator was dropped: nothing to tell then.
            let _ = sender.send(index);
        });
    }
    let remaining = handles.len();
    AsCompleted {
        handles: handles.into_iter().map(Some).collect(),
        receiver,
        remaining,
    }
}

/// Iterator returned by [`as_completed`].
pub struct AsCompleted<T> {
    handles: Vec<Option<Handle<T>>>,
    receiver: crossbeam_channel::Receiver<usize>,
    remaining: usize,
}

impl<T: Send + 'static> Iterator for AsCompleted<T> {
    type Item = (usize, Result<T>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        // Every handle completes exactly once (a dropped task completes with ShutDown), and
        // `self.handles` keeps the senders' callbacks alive, so this cannot block forever.
        let index = self.receiver.recv().ok()?;
        let handle = self.handles.get_mut(index)?.take()?;
        self.remaining -= 1;
        Some((index, handle.wait()))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completer_dropped_without_finishing_yields_shutdown() {
        let (completer, handle) = Completer::<u32>::pair();
        drop(completer);
        assert!(matches!(handle.wait(), Err(ExecError::ShutDown)));
    }

    #[test]
    fn cancel_only_affects_pending_tasks() {
        let (completer, handle) = Completer::<u32>::pair();
        assert!(handle.cancel());
        assert!(!completer.try_start(), "a cancelled task must not start");
        completer.finish(Ok(1));
        assert!(matches!(handle.wait(), Err(ExecError::Cancelled)));

        let (completer, handle) = Completer::<u32>::pair();
        assert!(completer.try_start());
        assert!(!handle.cancel());
        assert!(completer.cancel_requested());
        completer.finish(Ok(7));
        assert_eq!(handle.wait().unwrap(), 7);
    }

    #[test]
    fn when_all_fires_once_after_the_last_dependency() {
        let pairs: Vec<_> = (0..3).map(|_| Completer::<u32>::pair()).collect();
        let fired = Arc::new(AtomicUsize::new(0));
        let signals = pairs.iter().map(|(_, h)| h.signal()).collect();
        let counter = fired.clone();
        when_all(
            signals,
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        let mut handles = Vec::new();
        for (i, (completer, handle)) in pairs.into_iter().enumerate() {
            assert_eq!(
                fired.load(Ordering::SeqCst),
                0,
                "fired before dependency {i}"
            );
            completer.finish(Ok(i as u32));
            handles.push(handle);
        }
        assert_eq!(fired.load(Ordering::SeqCst), 1);
        // No dependencies: fires at once, on this thread.
        let counter = fired.clone();
        when_all(
            Vec::new(),
            Box::new(move || {
                counter.fetch_add(1, Ordering::SeqCst);
            }),
        );
        assert_eq!(fired.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn as_completed_follows_completion_order_and_wait_all_input_order() {
        let pairs: Vec<_> = (0..4).map(|_| Completer::<usize>::pair()).collect();
        let (completers, handles): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        let mut completers: Vec<_> = completers.into_iter().map(Some).collect();
        let completed = as_completed(handles);
        for index in [2, 0, 3, 1] {
            completers[index].take().unwrap().finish(Ok(index * 10));
        }
        let seen: Vec<_> = completed.map(|(i, r)| (i, r.unwrap())).collect();
        assert_eq!(seen, vec![(2, 20), (0, 0), (3, 30), (1, 10)]);

        let handles = (0..4).map(|i| Handle::ready(Ok(i))).collect();
        assert_eq!(wait_all(handles).unwrap(), vec![0, 1, 2, 3]);
    }

    #[test]
    fn wait_all_cancels_pending_work_after_the_first_error() {
        let (pending, pending_handle) = Completer::<u32>::pair();
        let failing = Handle::ready(Err(ExecError::TaskFailed {
            message: "boom".into(),
        }));
        let signal = pending_handle.signal();
        let result = wait_all(vec![pending_handle, failing]);
        match result {
            Err(ExecError::TaskFailed { message }) => assert_eq!(message, "boom"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(signal.failed(), Some(true));
        assert!(!pending.try_start());
    }
}
