//! What every job of a graph shares: the record store, the digest memo, the executor and the
//! event sink.

use crate::cache::CacheWriter;
use crate::events::{Event, EventSink};
use crate::memo::DigestMemo;
use crate::store::Store;
use parking_lot::Mutex;
use pgp_exec::Executor;

/// The context jobs run in. Immutable apart from the memo (internally locked) and the warnings.
pub struct Ctx {
    pub store: Store,
    pub memo: DigestMemo,
    pub executor: Executor,
    pub sink: Option<EventSink>,
    pub warnings: Mutex<Vec<String>>,
    /// The shared store, when the graph uses one.
    pub cache: Option<CacheWriter>,
}

impl Ctx {
    pub fn emit(&self, event: Event) {
        if let Some(sink) = &self.sink {
            sink(&event);
        }
    }

    /// The shared store, if any.
    pub fn cache(&self) -> Option<&crate::cache::Cache> {
        self.cache.as_ref().map(|w| w.cache.as_ref())
    }

    pub fn warn(&self, message: String) {
        self.warnings.lock().push(message.clone());
        self.emit(Event::Warning { message });
    }
}
