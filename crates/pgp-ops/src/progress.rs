//! Progress of long operations, and their warnings, for whoever wants to show them.
//!
//! Block-wise operations report how many of their blocks are done (warps and aligns report
//! rasters done). Nothing is reported unless a [`Progress`] is installed, either for the calls
//! made inside a closure on this thread ([`with_progress`]) or for the whole process
//! ([`set_global_progress`], which is what a command-line tool wants, because graph tasks run
//! operations on executor threads). The scoped one wins.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use std::sync::Arc;
//! use pgp_ops::progress::{with_progress, Progress, ProgressTicker};
//!
//! struct Count(Arc<AtomicU64>);
//! struct Ticker(Arc<AtomicU64>);
//! impl ProgressTicker for Ticker {
//!     fn advance(&mut self, units: u64) {
//!         self.0.fetch_add(units, Ordering::Relaxed);
//!     }
//! }
//! impl Progress for Count {
//!     fn start(&self, _operation: &str, _unit: &str, _total: u64) -> Box<dyn ProgressTicker> {
//!         Box::new(Ticker(self.0.clone()))
//!     }
//! }
//! let done = Arc::new(AtomicU64::new(0));
//! with_progress(Arc::new(Count(done.clone())), || {
//!     // pgp_ops::raster_calculator(...) here would advance `done` once per block.
//! });
//! assert_eq!(done.load(Ordering::Relaxed), 0);
//! ```
//!
//! Progress is reported by the thread that drives the operation (the one writing its output);
//! operations running inside process-pool workers report nothing to the parent.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};

use parking_lot::RwLock;

/// Something that shows or records progress (a progress bar, a log, a counter).
pub trait Progress: Send + Sync {
    /// An operation starts `total` units of work (`unit` is e.g. `"blocks"` or `"rasters"`).
    /// The returned ticker is advanced as units finish and dropped when the operation ends,
    /// whether it succeeded or not.
    fn start(&self, operation: &str, unit: &str, total: u64) -> Box<dyn ProgressTicker>;

    /// `operation` succeeded but something about its inputs or result deserves the user's
    /// attention (e.g. zonal statistics where no polygon meets the raster). Ignored by default.
    fn warning(&self, operation: &str, message: &str) {
        let _ = (operation, message);
    }

    /// A choice `operation` made for the user (e.g. the output type of an expression), for
    /// verbose logs. Ignored by default.
    fn note(&self, operation: &str, message: &str) {
        let _ = (operation, message);
    }
}

/// The progress of one running operation.
pub trait ProgressTicker: Send {
    /// `units` more units are done.
    fn advance(&mut self, units: u64);
}

thread_local! {
    static SCOPED: RefCell<Vec<Arc<dyn Progress>>> = const { RefCell::new(Vec::new()) };
}

fn global() -> &'static RwLock<Option<Arc<dyn Progress>>> {
    static GLOBAL: OnceLock<RwLock<Option<Arc<dyn Progress>>>> = OnceLock::new();
    GLOBAL.get_or_init(|| RwLock::new(None))
}

/// Report the progress of operations started inside `f`, on this thread, to `progress`.
pub fn with_progress<R>(progress: Arc<dyn Progress>, f: impl FnOnce() -> R) -> R {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            SCOPED.with(|s| s.borrow_mut().pop());
        }
    }
    SCOPED.with(|s| s.borrow_mut().push(progress));
    let _pop = Pop;
    f()
}

/// Report the progress of every operation in this process that has no scoped reporter
/// ([`with_progress`]) to `progress`; `None` turns it off.
pub fn set_global_progress(progress: Option<Arc<dyn Progress>>) {
    *global().write() = progress;
}

/// Starts reporting `total` units of `operation` to the current reporter (scoped, else global),
/// for operations outside this crate (routing); `None` when nobody listens.
pub fn start_ticker(operation: &str, unit: &str, total: u64) -> Option<Box<dyn ProgressTicker>> {
    current().map(|p| p.start(operation, unit, total))
}

fn current() -> Option<Arc<dyn Progress>> {
    SCOPED
        .with(|s| s.borrow().last().cloned())
        .or_else(|| global().read().clone())
}

/// Tell the current reporter, if any, that `operation` has a warning (see [`Progress::warning`]).
pub(crate) fn warn(operation: &str, message: &str) {
    if let Some(p) = current() {
        p.warning(operation, message);
    }
}

/// Tell the current reporter, if any, of a choice `operation` made (see [`Progress::note`]).
pub(crate) fn note(operation: &str, message: &str) {
    if let Some(p) = current() {
        p.note(operation, message);
    }
}

/// The ticker of one operation, or nothing when no reporter is installed.
pub(crate) struct Tracker(Option<Box<dyn ProgressTicker>>);

impl Tracker {
    /// Starts reporting `total` units of `operation` to the current reporter, if any.
    pub(crate) fn start(operation: &str, unit: &str, total: usize) -> Tracker {
        Tracker(current().map(|p| p.start(operation, unit, total as u64)))
    }

    /// A tracker that reports nothing.
    pub(crate) fn none() -> Tracker {
        Tracker(None)
    }

    /// Whether a reporter is listening.
    pub(crate) fn is_active(&self) -> bool {
        self.0.is_some()
    }

    /// One more unit is done.
    pub(crate) fn tick(&mut self) {
        self.advance(1);
    }

    /// `units` more units are done.
    pub(crate) fn advance(&mut self, units: u64) {
        if let Some(t) = &mut self.0 {
            t.advance(units);
        }
    }

    /// Passes `results` through, ticking once per item.
    pub(crate) fn track<I: Iterator>(mut self, results: I) -> impl Iterator<Item = I::Item> {
        results.inspect(move |_| self.tick())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Log(Arc<Mutex<Vec<String>>>);
    struct LogTicker(Arc<Mutex<Vec<String>>>, String);
    impl ProgressTicker for LogTicker {
        fn advance(&mut self, units: u64) {
            self.0.lock().push(format!("{}+{units}", self.1));
        }
    }
    impl Drop for LogTicker {
        fn drop(&mut self) {
            self.0.lock().push(format!("{} end", self.1));
        }
    }
    impl Progress for Log {
        fn start(&self, operation: &str, unit: &str, total: u64) -> Box<dyn ProgressTicker> {
            self.0.lock().push(format!("{operation} {total} {unit}"));
            Box::new(LogTicker(self.0.clone(), operation.to_string()))
        }
    }

    #[test]
    fn scoped_reporter_sees_ticks_and_the_end_and_is_removed_after() {
        let log = Arc::new(Mutex::new(Vec::new()));
        with_progress(Arc::new(Log(log.clone())), || {
            let items: Vec<u32> = Tracker::start("op", "blocks", 2).track(0..2).collect();
            assert_eq!(items, vec![0, 1]);
        });
        let mut t = Tracker::start("after", "blocks", 1);
        t.tick();
        assert_eq!(
            *log.lock(),
            vec!["op 2 blocks", "op+1", "op+1", "op end"],
            "nothing is reported once the scope has ended"
        );
    }

    #[test]
    fn innermost_scope_wins() {
        let outer = Arc::new(Mutex::new(Vec::new()));
        let inner = Arc::new(Mutex::new(Vec::new()));
        with_progress(Arc::new(Log(outer.clone())), || {
            with_progress(Arc::new(Log(inner.clone())), || {
                drop(Tracker::start("a", "rasters", 3));
            });
            drop(Tracker::start("b", "rasters", 1));
        });
        assert_eq!(*inner.lock(), vec!["a 3 rasters", "a end"]);
        assert_eq!(*outer.lock(), vec!["b 1 rasters", "b end"]);
    }
}
