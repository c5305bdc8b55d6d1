//! Running task bodies safely, and bounding how much work may be queued.

use std::any::Any;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};

use crate::error::{ExecError, Result};

/// Best-effort text of a panic payload (`panic!` with a literal or a formatted message).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&'static str>() {
        (*text).to_string()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic payload is not a string".to_string()
    }
}

/// Runs `body`, turning a panic into [`ExecError::Panicked`].
pub(crate) fn run_caught<T>(body: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(result) => result,
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            // Dropping a payload can itself panic in pathological cases; forget it instead.
            std::mem::forget(payload);
            Err(ExecError::Panicked { message })
        }
    }
}

thread_local! {
    /// Id of the pool whose worker thread this is (0: none). Submissions from a pool's own
    /// workers skip that pool's admission limit, since blocking them could deadlock the pool.
    static CURRENT_POOL: Cell<u64> = const { Cell::new(0) };
}

/// Marks the current thread as a worker of pool `id`.
pub(crate) fn enter_pool(id: u64) {
    CURRENT_POOL.with(|current| current.set(id));
}

fn on_pool_thread(id: u64) -> bool {
    CURRENT_POOL.with(|current| current.get() == id)
}

/// A unique id for a new pool.
pub(crate) fn next_pool_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Counting limit on tasks in flight (submitted and not yet finished) in one pool.
///
/// This is the pool's backpressure: a caller that submits far more work than there are workers
/// blocks in `submit` until earlier tasks finish, so memory stays bounded.
pub(crate) struct Admission {
    pool_id: u64,
    limit: usize,
    in_flight: Mutex<usize>,
    freed: Condvar,
}

impl Admission {
    pub(crate) fn new(pool_id: u64, limit: usize) -> Arc<Self> {
        Arc::new(Admission {
            pool_id,
            limit: limit.max(1),
            in_flight: Mutex::new(0),
            freed: Condvar::new(),
        })
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Waits for room for one more task (unless called from this pool's own worker thread) and
    /// returns a permit that frees the room when dropped.
    pub(crate) fn admit(self: &Arc<Self>) -> Permit {
        let mut in_flight = self.in_flight.lock();
        if !on_pool_thread(self.pool_id) {
            while *in_flight >= self.limit {
                self.freed.wait(&mut in_flight);
            }
        }
        *in_flight += 1;
        Permit {
            admission: self.clone(),
        }
    }

    /// Tasks currently admitted and not finished.
    pub(crate) fn in_flight(&self) -> usize {
        *self.in_flight.lock()
    }
}

/// Room for one task in an [`Admission`]; released on drop.
pub(crate) struct Permit {
    admission: Arc<Admission>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut in_flight = self.admission.in_flight.lock();
        *in_flight = in_flight.saturating_sub(1);
        self.admission.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors_with_their_message() {
        let literal = run_caught::<()>(|| panic!("plain message"));
        assert!(
            matches!(literal, Err(ExecError::Panicked { message }) if message == "plain message")
        );
        let value = 42;
        let formatted = run_caught::<()>(|| panic!("value was {value}"));
        assert!(
            matches!(formatted, Err(ExecError::Panicked { message }) if message == "value was 42")
        );
        let other = run_caught::<()>(|| std::panic::panic_any(5u8));
        assert!(
            matches!(other, Err(ExecError::Panicked { message }) if message.contains("not a string"))
        );
        assert_eq!(run_caught(|| Ok(3)).unwrap(), 3);
    }

    #[test]
    fn admission_blocks_at_the_limit_until_a_permit_is_released() {
        let admission = Admission::new(next_pool_id(), 2);
        let first = admission.admit();
        let _second = admission.admit();
        assert_eq!(admission.in_flight(), 2);
        let (admitted_tx, admitted) = crossbeam_channel::bounded(1);
        let waiter = {
            let admission = admission.clone();
            std::thread::spawn(move || {
                let third = admission.admit();
                admitted_tx.send(()).unwrap();
                drop(third);
            })
        };
        // While both permits are held the waiter stays blocked (this can only pass wrongly if
        // the waiter were slow to start, never fail wrongly).
        let early = admitted.recv_timeout(std::time::Duration::from_millis(50));
        assert!(early.is_err(), "admitted beyond the limit");
        drop(first);
        admitted.recv().unwrap();
        waiter.join().unwrap();
        assert_eq!(admission.in_flight(), 1);
    }

    #[test]
    fn a_pool_thread_is_never_blocked_by_its_own_pool() {
        let id = next_pool_id();
        let admission = Admission::new(id, 1);
        let held = admission.admit();
        let admission2 = admission.clone();
        std::thread::spawn(move || {
            enter_pool(id);
            let _extra = admission2.admit();
        })
        .join()
        .unwrap();
        drop(held);
        assert_eq!(admission.in_flight(), 0);
    }
}
