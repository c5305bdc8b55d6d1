//! The process pool: worker processes that run registered operations.
//!
//! See the crate README for the protocol (handshake, framing, death detection, backpressure,
//! cancellation).

pub(crate) mod driver;
pub(crate) mod protocol;
mod worker_process;

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::Sender;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use crate::error::{ExecError, Result};
use crate::handle::{when_all, Completer, Handle, Signal};
use crate::process::driver::{Driver, RemoteJob, TypedSink};
use crate::process::worker_process::LaunchConfig;
use crate::registry::RemoteOp;
use crate::task::{next_pool_id, Admission};

/// A pool of worker processes that runs [`RemoteOp`]s.
///
/// Workers are separate OS processes started with [`std::process::Command`] (fork + exec, so
/// never a bare fork of a process with live threads or GDAL state). Only work described by data
/// can be sent: a registered operation name and its serialised arguments. There is no method
/// taking a closure, so sending one is a compile-time error:
///
/// ```compile_fail,E0599
/// let pool = pgp_exec::ProcessPool::new(2).unwrap();
/// let handle = pool.spawn(|| 2 + 2); // no such method: closures cannot cross processes
/// ```
///
/// ```compile_fail,E0308
/// let pool = pgp_exec::ProcessPool::new(2).unwrap();
/// let handle = pool.submit_raw("op", || 2 + 2); // arguments must be encoded bytes
/// ```
///
/// A worker that dies (killed, aborted, out of memory) turns its task into
/// [`ExecError::WorkerDied`] and is replaced; the pool keeps working.
#[derive(Clone)]
pub struct ProcessPool {
    inner: Arc<Inner>,
}

struct Inner {
    workers: usize,
    queue: Sender<RemoteJob>,
    admission: Arc<Admission>,
    ops: HashSet<String>,
    program: PathBuf,
    pids: Arc<Mutex<Vec<Option<u32>>>>,
}

/// Configures a [`ProcessPool`].
#[derive(Debug, Clone)]
pub struct ProcessPoolBuilder {
    workers: usize,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    handshake_timeout: Duration,
    task_timeout: Option<Duration>,
    liveness_timeout: Option<Duration>,
    max_in_flight: Option<usize>,
    quiet_stderr: bool,
}

/// Environment variable that sets the default liveness deadline, in seconds (`0`: none).
pub const LIVENESS_ENV: &str = "PGP_EXEC_LIVENESS";

/// Default liveness deadline: generous, since a heartbeat comes every 2 s even from a worker
/// deep in a long operation; only a stopped or frozen process stays silent this long.
pub const DEFAULT_LIVENESS: Duration = Duration::from_secs(120);

/// The liveness deadline from [`LIVENESS_ENV`], else [`DEFAULT_LIVENESS`].
fn default_liveness() -> Option<Duration> {
    match std::env::var(LIVENESS_ENV) {
        Ok(text) => match text.trim().parse::<f64>() {
            Ok(0.0) => None,
            Ok(secs) if secs.is_finite() && secs > 0.0 => Some(Duration::from_secs_f64(secs)),
            _ => {
                eprintln!(
                    "pgp-exec: ignoring {LIVENESS_ENV}={text:?} (expected seconds, 0 for none)"
                );
                Some(DEFAULT_LIVENESS)
            }
        },
        Err(_) => Some(DEFAULT_LIVENESS),
    }
}

impl ProcessPoolBuilder {
    /// Number of worker processes (at least 1).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// The executable to start as a worker (default: this program, [`std::env::current_exe`]).
    /// It must call [`worker::run_if_worker`](crate::worker::run_if_worker) first in `main()`
    /// and have the operations it will be sent registered.
    pub fn worker_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Extra command-line arguments for the workers.
    pub fn worker_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// An extra environment variable for the workers.
    pub fn worker_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.envs.push((key.into(), value.into()));
        self
    }

    /// How long a starting worker may take to greet the pool (default 20 s). A program that
    /// never does (e.g. it forgot `run_if_worker`) fails the pool's creation after this long.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Longest a single task may run; past it the worker is killed and replaced, and the task
    /// ends with [`ExecError::TimedOut`]. Default: no limit.
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    /// Longest a worker running a task may stay silent before it is declared stuck: workers send
    /// a heartbeat several times per deadline while they run, so a long task is fine but a
    /// stopped (SIGSTOP) or frozen process is killed and replaced, and its task ends with
    /// [`ExecError::Unresponsive`] naming the worker. `None` disables the check. Default:
    /// [`LIVENESS_ENV`] seconds if set, else [`DEFAULT_LIVENESS`].
    pub fn liveness_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.liveness_timeout = timeout;
        self
    }

    /// How many tasks may be submitted and unfinished at once before `submit` blocks (default:
    /// 8 per worker).
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = Some(limit);
        self
    }

    /// Send the workers' stderr to /dev/null instead of this process's stderr.
    pub fn quiet_stderr(mut self, quiet: bool) -> Self {
        self.quiet_stderr = quiet;
        self
    }

    /// Starts the workers and waits for each one's handshake.
    pub fn build(self) -> Result<ProcessPool> {
        if crate::worker::forgot_run_if_worker() {
            return Err(ExecError::NotInWorkerMode {
                var: protocol::WORKER_ENV.into(),
            });
        }
        if self.workers == 0 {
            return Err(ExecError::InvalidWorkerCount {
                kind: "multiprocessing".into(),
                requested: 0,
            });
        }
        let program = match self.program {
            Some(program) => program,
            None => std::env::current_exe().map_err(|e| ExecError::WorkerStart {
                program: "<current executable>".into(),
                detail: format!("cannot locate this program to start it as a worker: {e}"),
            })?,
        };
        let config = Arc::new(LaunchConfig {
            program: program.clone(),
            args: self.args,
            envs: self.envs,
            handshake_timeout: self.handshake_timeout,
            task_timeout: self.task_timeout,
            liveness_timeout: self.liveness_timeout,
            quiet_stderr: self.quiet_stderr,
        });
        // Start them all before waiting, so the handshakes overlap.
        let spawned = (0..self.workers)
            .map(|_| worker_process::spawn(&config))
            .collect::<Result<Vec<_>>>()?;
        let mut started = Vec::with_capacity(self.workers);
        for worker in spawned {
            started.push(worker.handshake(&config)?);
        }
        let ops: HashSet<String> = started
            .first()
            .map(|w| w.hello.ops.iter().cloned().collect())
            .unwrap_or_default();
        let pids = Arc::new(Mutex::new(
            started.iter().map(|w| Some(w.pid())).collect::<Vec<_>>(),
        ));
        LIVE_POOLS.lock().push(Arc::downgrade(&pids));
        let id = next_pool_id();
        let (queue, jobs) = crossbeam_channel::unbounded();
        for (index, worker) in started.into_iter().enumerate() {
            let driver = Driver {
                pool_id: id,
                index,
                jobs: jobs.clone(),
                config: config.clone(),
                pids: pids.clone(),
                next_id: 0,
                last_start_error: None,
            };
            std::thread::Builder::new()
                .name(format!("pgp-exec-proc-{id}-{index}"))
                .spawn(move || driver.run(worker))?;
        }
        let limit = self.max_in_flight.unwrap_or(self.workers * 8);
        Ok(ProcessPool {
            inner: Arc::new(Inner {
                workers: self.workers,
                queue,
                admission: Admission::new(id, limit),
                ops,
                program,
                pids,
            }),
        })
    }
}

/// Set by [`kill_all_workers`]: dead workers are not replaced any more.
pub(crate) static STOPPING: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);
/// The worker pids of every process pool of this program, for [`kill_all_workers`].
static LIVE_POOLS: Mutex<Vec<std::sync::Weak<WorkerPids>>> = Mutex::new(Vec::new());

/// The pid of each worker slot of one pool (`None` while a slot has no live worker).
type WorkerPids = Mutex<Vec<Option<u32>>>;

/// Kills the worker processes of every process pool now and waits until they are dead (so
/// nothing they write lands after the caller cleans up). Their tasks end as `WorkerDied`.
pub(crate) fn kill_all_workers() {
    STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
    let pools: Vec<_> = {
        let mut pools = LIVE_POOLS.lock();
        pools.retain(|p| p.strong_count() > 0);
        pools.iter().filter_map(std::sync::Weak::upgrade).collect()
    };
    let pids: Vec<u32> = pools
        .iter()
        .flat_map(|p| p.lock().iter().flatten().copied().collect::<Vec<_>>())
        .collect();
    for &pid in &pids {
        // SAFETY: kill(2) on a pid of our own live child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    }
    for &pid in &pids {
        // SAFETY: waitid on our child with WNOWAIT: waits for its death without reaping it, so
        // the pool's own wait still finds it; an already reaped child just returns an error.
        unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            );
        }
    }
}

impl ProcessPool {
    /// A builder with one worker per available core and this program as the worker.
    pub fn builder() -> ProcessPoolBuilder {
        ProcessPoolBuilder {
            workers: crate::spec::available_cores(),
            program: None,
            args: Vec::new(),
            envs: Vec::new(),
            handshake_timeout: Duration::from_secs(20),
            task_timeout: None,
            liveness_timeout: default_liveness(),
            max_in_flight: None,
            quiet_stderr: false,
        }
    }

    /// A pool of `workers` copies of this program.
    pub fn new(workers: usize) -> Result<Self> {
        Self::builder().workers(workers).build()
    }

    /// Number of worker processes.
    pub fn workers(&self) -> usize {
        self.inner.workers
    }

    /// The in-flight limit that makes `submit` block.
    pub fn max_in_flight(&self) -> usize {
        self.inner.admission.limit()
    }

    /// Tasks submitted and not yet finished (a cancelled task counts until a worker has
    /// skipped it).
    pub fn in_flight(&self) -> usize {
        self.inner.admission.in_flight()
    }

    /// The worker executable.
    pub fn program(&self) -> &Path {
        &self.inner.program
    }

    /// Process ids of the live workers (a worker being replaced is missing).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.inner.pids.lock().iter().flatten().copied().collect()
    }

    /// Names of the operations the workers reported at their handshake, sorted.
    pub fn registered_ops(&self) -> Vec<String> {
        let mut ops: Vec<String> = self.inner.ops.iter().cloned().collect();
        ops.sort_unstable();
        ops
    }

    /// Runs operation `O` with `args` in a worker process.
    pub fn submit<O: RemoteOp>(&self, args: O::Args) -> Result<Handle<O::Output>> {
        self.submit_after::<O>(Vec::new(), args)
    }

    /// Runs operation `O` once every signal in `deps` is done (no thread waits meanwhile).
    pub fn submit_after<O: RemoteOp>(
        &self,
        deps: impl IntoIterator<Item = Signal>,
        args: O::Args,
    ) -> Result<Handle<O::Output>> {
        self.check_op(O::NAME)?;
        let args = encode_args::<O>(&args)?;
        self.enqueue(
            O::NAME,
            args,
            deps.into_iter().collect(),
            decode::<O::Output>,
        )
    }

    /// Runs the operation registered as `op` on bincode-encoded `args`; the handle yields the
    /// bincode-encoded output.
    pub fn submit_raw(&self, op: &str, args: Vec<u8>) -> Result<Handle<Vec<u8>>> {
        self.submit_raw_after(Vec::new(), op, args)
    }

    /// [`ProcessPool::submit_raw`] once every signal in `deps` is done.
    pub fn submit_raw_after(
        &self,
        deps: impl IntoIterator<Item = Signal>,
        op: &str,
        args: Vec<u8>,
    ) -> Result<Handle<Vec<u8>>> {
        self.check_op(op)?;
        self.enqueue(op, args, deps.into_iter().collect(), Ok)
    }

    fn check_op(&self, op: &str) -> Result<()> {
        if self.inner.ops.contains(op) {
            Ok(())
        } else {
            Err(ExecError::UnknownOp {
                name: op.to_string(),
                where_: format!(
                    " in the pool's worker program {}",
                    self.inner.program.display()
                ),
            })
        }
    }

    fn enqueue<T: Send + 'static>(
        &self,
        op: &str,
        args: Vec<u8>,
        deps: Vec<Signal>,
        decode: fn(Vec<u8>) -> std::result::Result<T, String>,
    ) -> Result<Handle<T>> {
        // The request frame adds the op name and a few length fields to the arguments.
        if args.len() + op.len() + 64 > protocol::MAX_FRAME {
            return Err(ExecError::Codec(format!(
                "arguments of operation {op:?} take {} bytes, more than a request may carry ({} bytes); \
                 pass large data through files instead",
                args.len(),
                protocol::MAX_FRAME
            )));
        }
        let permit = self.inner.admission.admit();
        let (completer, handle) = Completer::pair();
        let job = RemoteJob {
            op: op.to_string(),
            args,
            sink: Box::new(TypedSink {
                completer,
                decode,
                _permit: permit,
            }),
        };
        if deps.is_empty() {
            // Drivers hold the receiver as long as this pool exists; if the send failed anyway,
            // dropping the job completes its handle with ShutDown.
            let _ = self.inner.queue.send(job);
        } else {
            let queue = self.inner.queue.clone();
            when_all(
                deps,
                Box::new(move || {
                    let _ = queue.send(job);
                }),
            );
        }
        Ok(handle)
    }
}

impl std::fmt::Debug for ProcessPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessPool")
            .field("workers", &self.inner.workers)
            .field("program", &self.inner.program)
            .finish()
    }
}

/// The bincode form of `O`'s arguments, as every pool sends them to its workers.
pub(crate) fn encode_args<O: RemoteOp>(args: &O::Args) -> Result<Vec<u8>> {
    bincode::serialize(args).map_err(|e| {
        ExecError::Codec(format!(
            "arguments of operation {:?} do not encode: {e}",
            O::NAME
        ))
    })
}

/// An output decoded from the bincode a worker sent back.
pub(crate) fn decode<T: DeserializeOwned>(bytes: Vec<u8>) -> std::result::Result<T, String> {
    bincode::deserialize(&bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A libtest binary (this one) does not call `run_if_worker`, so it cannot serve as a
    /// worker: the pool must say so at once instead of hanging, and the copy started as a
    /// worker must not start pools of its own.
    #[test]
    fn a_test_harness_binary_is_refused_as_a_worker_with_advice() {
        let result = ProcessPool::builder()
            .workers(1)
            .quiet_stderr(true)
            .handshake_timeout(Duration::from_secs(60))
            .build();
        match result {
            Err(ExecError::WorkerStart { detail, .. }) => {
                assert!(
                    detail.contains("instead of the pgp-exec handshake"),
                    "{detail}"
                );
                assert!(detail.contains("run_if_worker"), "{detail}");
            }
            other => panic!("expected WorkerStart, got {other:?}"),
        }
    }
}
