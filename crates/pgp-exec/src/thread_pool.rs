//! A fixed-size pool of worker threads with a bounded number of tasks in flight.

use std::sync::Arc;

use crossbeam_channel::{Receiver, Sender};

use crate::error::{ExecError, Result};
use crate::handle::{when_all, Completer, Handle, Signal};
use crate::task::{enter_pool, next_pool_id, run_caught, Admission};

type Job = Box<dyn FnOnce() + Send>;

/// A pool of worker threads.
///
/// Usually used through [`Executor::threads`](crate::Executor::threads); build one directly to
/// set the in-flight limit. Worker threads exit once the pool is dropped and the queued work is
/// done; dropping does not block.
pub struct ThreadPool {
    inner: Arc<Inner>,
}

struct Inner {
    workers: usize,
    queue: Sender<Job>,
    admission: Arc<Admission>,
}

/// Configures a [`ThreadPool`].
#[derive(Debug, Clone)]
pub struct ThreadPoolBuilder {
    workers: usize,
    max_in_flight: Option<usize>,
    name: String,
}

impl ThreadPoolBuilder {
    /// Number of worker threads (at least 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// How many tasks may be submitted and unfinished at once before `submit` blocks (default:
    /// 8 per worker). Submissions from the pool's own workers are never blocked.
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = Some(limit);
        self
    }

    /// Prefix of the worker threads' names (default `pgp-exec`).
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the threads.
    pub fn build(self) -> Result<ThreadPool> {
        if self.workers == 0 {
            return Err(ExecError::InvalidWorkerCount {
                kind: "threading".into(),
                requested: 0,
            });
        }
        let id = next_pool_id();
        let limit = self.max_in_flight.unwrap_or(self.workers * 8);
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        for index in 0..self.workers {
            let jobs: Receiver<Job> = jobs.clone();
            std::thread::Builder::new()
                .name(format!("{}-{id}-{index}", self.name))
                .spawn(move || {
                    enter_pool(id);
                    // Ends when every sender is gone (pool dropped, no dependency callbacks
                    // pending) and the queue is empty.
                    for job in jobs {
                        job();
                    }
                })?;
        }
        Ok(ThreadPool {
            inner: Arc::new(Inner {
                workers: self.workers,
                queue,
                admission: Admission::new(id, limit),
            }),
        })
    }
}

impl ThreadPool {
    /// A builder with one worker per available core.
    pub fn builder() -> ThreadPoolBuilder {
        ThreadPoolBuilder {
            workers: crate::spec::available_cores(),
            max_in_flight: None,
            name: "pgp-exec".into(),
        }
    }

    /// A pool of `workers` threads with default settings.
    pub fn new(workers: usize) -> Result<Self> {
        Self::builder().workers(workers).build()
    }

    /// Number of worker threads.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// The in-flight limit that makes `spawn` block.
    pub fn max_in_flight(&self) -> usize {
        self.inner.admission.limit()
    }

    /// Tasks submitted and not yet finished (a cancelled task counts until a worker has
    /// skipped it).
    pub fn in_flight(&self) -> usize {
        self.inner.admission.in_flight()
    }

    /// Runs `task` on a worker thread once every dependency in `deps` is done. A panic in
    /// `task` becomes [`ExecError::Panicked`]. Blocks while the pool is at its in-flight limit.
    pub(crate) fn run_after<T, F>(&self, deps: Vec<Signal>, task: F) -> Handle<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let permit = self.inner.admission.admit();
        let (completer, handle) = Completer::pair();
        let job: Job = Box::new(move || {
            if completer.try_start() {
                completer.finish(run_caught(task));
            }
            drop(permit);
        });
        if deps.is_empty() {
            self.enqueue(job);
        } else {
            let queue = self.inner.queue.clone();
            when_all(
                deps,
                Box::new(move || {
                    // The workers hold the receiver until every sender (this one included) is gone,
                    // so this send cannot fail; if it did, dropping the job completes its handle
                    // with ShutDown.
                    let _ = queue.send(job);
                }),
            );
        }
        handle
    }

    fn enqueue(&self, job: Job) {
        let _ = self.inner.queue.send(job);
    }

    /// Runs `f` on a worker thread; see [`Executor::spawn`](crate::Executor::spawn).
    pub fn spawn<T, F>(&self, f: F) -> Handle<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        self.run_after(Vec::new(), move || Ok(f()))
    }
}

impl Clone for ThreadPool {
    fn clone(&self) -> Self {
        ThreadPool {
            inner: self.inner.clone(),
        }
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.inner.workers)
            .finish()
    }
}
