//! The bounded, order-preserving result stream behind [`Executor::map_ordered`].
//!
//! [`Executor::map_ordered`]: crate::Executor::map_ordered

use std::collections::VecDeque;

use crate::error::Result;
use crate::handle::Handle;

type SubmitNext<'a, T> = Box<dyn FnMut() -> Option<Result<Handle<T>>> + 'a>;

/// Results of [`Executor::map_ordered`](crate::Executor::map_ordered), in input order.
///
/// Keeps at most `window` tasks submitted ahead of the consumer. Dropping it cancels the tasks
/// still in its window (see [`Handle::cancel`]) and waits for them, so no work outlives it.
pub struct OrderedResults<'a, T: Send + 'static> {
    submit_next: SubmitNext<'a, T>,
    window: VecDeque<Result<Handle<T>>>,
    limit: usize,
    source_done: bool,
}

impl<'a, T: Send + 'static> OrderedResults<'a, T> {
    pub(crate) fn new(submit_next: SubmitNext<'a, T>, limit: usize) -> Self {
        OrderedResults {
            submit_next,
            window: VecDeque::new(),
            limit: limit.max(1),
            source_done: false,
        }
    }

    /// Tasks currently submitted and not yet yielded.
    pub fn in_flight(&self) -> usize {
        self.window.len()
    }

    fn fill(&mut self) {
        while !self.source_done && self.window.len() < self.limit {
            match (self.submit_next)() {
                None => self.source_done = true,
                Some(Err(error)) => {
                    // A refused submission (e.g. closures on a process pool) ends the stream
                    // after the results before it.
                    self.window.push_back(Err(error));
                    self.source_done = true;
                }
                Some(Ok(handle)) => self.window.push_back(Ok(handle)),
            }
        }
    }
}

impl<T: Send + 'static> Iterator for OrderedResults<'_, T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        self.fill();
        let front = self.window.pop_front()?;
        Some(front.and_then(Handle::wait))
    }
}

impl<T: Send + 'static> Drop for OrderedResults<'_, T> {
    fn drop(&mut self) {
        for handle in self.window.iter().flatten() {
            handle.cancel();
        }
        for handle in self.window.iter().flatten() {
            handle.signal().wait();
        }
    }
}
