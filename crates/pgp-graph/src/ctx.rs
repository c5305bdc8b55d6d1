//! What every job of a graph shares: the record store, the digest memo, the executor and the
//! event sink.

use crate::cache::CacheWriter;
use crate::digest::Digest;
use crate::events::{Event, EventSink};
use crate::memo::DigestMemo;
use crate::store::{Record, Store};
use parking_lot::Mutex;
use pgp_exec::Executor;

/// A record rewritten for this project root, waiting to be saved.
pub struct Refreshed {
    pub task: String,
    pub identity: Digest,
    pub record: Record,
}

/// The context jobs run in. Immutable apart from the memo (internally locked) and the warnings.
pub struct Ctx {
    pub store: Store,
    pub memo: DigestMemo,
    pub executor: Executor,
    pub sink: Option<EventSink>,
    pub warnings: Mutex<Vec<String>>,
    /// The shared store, when the graph uses one.
    pub cache: Option<CacheWriter>,
    /// Records of moved or copied tasks rewritten for this project root, not yet saved: they
    /// are written together when the graph is joined or closed, one directory fsync for all,
    /// instead of one per task on its job's way. Best effort: until they are, the records
    /// written under the old root still vouch by content.
    pub refreshed: Mutex<Vec<Refreshed>>,
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

    /// Saves the refreshed records collected so far (see [`Ctx::refreshed`]).
    pub fn save_refreshed(&self) {
        let (names, records): (Vec<String>, Vec<(Digest, Record)>) =
            std::mem::take(&mut *self.refreshed.lock())
                .into_iter()
                .map(|r| (r.task, (r.identity, r.record)))
                .unzip();
        for (saved, task) in self.store.save_group(&records).into_iter().zip(names) {
            if let Err(e) = saved {
                self.warn(format!("record of moved task '{task}' not refreshed: {e}"));
            }
        }
    }

    pub fn warn(&self, message: String) {
        self.warnings.lock().push(message.clone());
        self.emit(Event::Warning { message });
    }
}
