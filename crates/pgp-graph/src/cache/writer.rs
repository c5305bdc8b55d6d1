//! Adding to the cache off the task path: a graph hands finished tasks to one thread that
//! copies their outputs into the store, so neither workers nor the recorder wait for it.

use super::{Cache, Entry};
use crate::events::{Event, EventSink};
use crossbeam_channel::Sender;
use parking_lot::Mutex;
use std::path::PathBuf;
use std::thread::JoinHandle;

enum Msg {
    Add(Box<Entry>, Vec<PathBuf>),
    Flush(Sender<()>),
}

/// The store a graph uses and the thread that adds to it.
pub struct CacheWriter {
    pub cache: std::sync::Arc<Cache>,
    tx: Mutex<Option<Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    warnings: std::sync::Arc<Mutex<Vec<String>>>,
}

impl CacheWriter {
    /// Starts the adding thread; its warnings go to `sink` and to [`CacheWriter::warnings`].
    pub fn start(cache: Cache, sink: Option<EventSink>) -> std::io::Result<CacheWriter> {
        let cache = std::sync::Arc::new(cache);
        let warnings = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
        let (store, noted) = (
            std::sync::Arc::clone(&cache),
            std::sync::Arc::clone(&warnings),
        );
        let thread = std::thread::Builder::new()
            .name("pgp-graph-cache".into())
            .spawn(move || {
                for msg in rx {
                    match msg {
                        Msg::Add(entry, sources) => {
                            if let Err(e) = store.add(&entry, &sources) {
                                let message = format!(
                                    "cache {}: result of {} not added: {e}",
                                    store.root().display(),
                                    entry.op_id
                                );
                                if let Some(sink) = &sink {
                                    sink(&Event::Warning {
                                        message: message.clone(),
                                    });
                                }
                                noted.lock().push(message);
                            }
                        }
                        Msg::Flush(done) => {
                            let _ = done.send(());
                        }
                    }
                }
            })?;
        Ok(CacheWriter {
            cache,
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            warnings,
        })
    }

    /// Queues `entry` (outputs read from `sources`) for adding.
    pub fn add(&self, entry: Entry, sources: Vec<PathBuf>) {
        if let Some(tx) = &*self.tx.lock() {
            let _ = tx.send(Msg::Add(Box::new(entry), sources));
        }
    }

    /// Waits until everything queued so far is added.
    pub fn flush(&self) {
        let (done, wait) = crossbeam_channel::bounded(1);
        let sent = match &*self.tx.lock() {
            Some(tx) => tx.send(Msg::Flush(done)).is_ok(),
            None => false,
        };
        if sent {
            let _ = wait.recv();
        }
    }

    /// Adds what is queued, then stops the thread.
    pub fn finish(&self) {
        self.tx.lock().take();
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }

    /// Warnings of adds that failed.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().clone()
    }
}
