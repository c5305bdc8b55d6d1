//! [`TaskGroup`]: structured submission, so a function joins everything it started.

use crate::error::Result;
use crate::executor::Executor;
use crate::handle::{Handle, Signal};
use crate::registry::RemoteOp;

/// Tracks every task submitted through it, so that a function using an executor can make sure
/// nothing it started is still running when it returns.
///
/// [`TaskGroup::join`] waits for all of them. Dropping the group without joining (for example
/// on an early return with `?`) cancels its tasks ([`Handle::cancel`]: pending ones do not
/// run, running ones on a process pool are stopped) and waits for the rest.
///
/// ```
/// use pgp_exec::Executor;
/// let exec = Executor::threads(2).unwrap();
/// let mut group = exec.group();
/// let a = group.spawn(|| 20).unwrap();
/// let b = group.spawn_after([a.signal()], || 1).unwrap();
/// group.join();
/// assert!(a.is_done() && b.is_done());
/// assert_eq!(a.wait().unwrap() + b.wait().unwrap(), 21);
/// ```
pub struct TaskGroup {
    exec: Executor,
    members: Vec<Signal>,
    prune_at: usize,
    joined: bool,
}

impl TaskGroup {
    pub(crate) fn new(exec: Executor) -> Self {
        TaskGroup {
            exec,
            members: Vec::new(),
            prune_at: 64,
            joined: false,
        }
    }

    fn track<T: Send + 'static>(&mut self, handle: Result<Handle<T>>) -> Result<Handle<T>> {
        if let Ok(handle) = &handle {
            // Forget finished members now and then, so a long-lived group stays small
            // (amortised: the threshold doubles with what is still running).
            if self.members.len() >= self.prune_at {
                self.members.retain(|signal| !signal.is_done());
                self.prune_at = (2 * self.members.len()).max(64);
            }
            self.members.push(handle.signal());
        }
        handle
    }

    /// [`Executor::spawn`], tracked.
    pub fn spawn<T, F>(&mut self, f: F) -> Result<Handle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let handle = self.exec.spawn(f);
        self.track(handle)
    }

    /// [`Executor::spawn_after`], tracked.
    pub fn spawn_after<T, F>(
        &mut self,
        deps: impl IntoIterator<Item = Signal>,
        f: F,
    ) -> Result<Handle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let handle = self.exec.spawn_after(deps, f);
        self.track(handle)
    }

    /// [`Executor::submit`], tracked.
    pub fn submit<O: RemoteOp>(&mut self, args: O::Args) -> Result<Handle<O::Output>> {
        let handle = self.exec.submit::<O>(args);
        self.track(handle)
    }

    /// [`Executor::submit_after`], tracked.
    pub fn submit_after<O: RemoteOp>(
        &mut self,
        deps: impl IntoIterator<Item = Signal>,
        args: O::Args,
    ) -> Result<Handle<O::Output>> {
        let handle = self.exec.submit_after::<O>(deps, args);
        self.track(handle)
    }

    /// [`Executor::submit_raw`], tracked.
    pub fn submit_raw(&mut self, op_name: &str, args: Vec<u8>) -> Result<Handle<Vec<u8>>> {
        let handle = self.exec.submit_raw(op_name, args);
        self.track(handle)
    }

    /// Number of tracked tasks not known to be finished.
    pub fn pending(&self) -> usize {
        self.members
            .iter()
            .filter(|signal| !signal.is_done())
            .count()
    }

    /// Cancels every tracked task that has not started; returns how many were cancelled.
    pub fn cancel_pending(&self) -> usize {
        self.members.iter().filter(|signal| signal.cancel()).count()
    }

    /// Waits until every tracked task finished.
    pub fn join(mut self) {
        self.wait_members();
        self.joined = true;
    }

    fn wait_members(&mut self) {
        for signal in self.members.drain(..) {
            signal.wait();
        }
    }
}

impl Drop for TaskGroup {
    fn drop(&mut self) {
        if !self.joined {
            self.cancel_pending();
            self.wait_members();
        }
    }
}
