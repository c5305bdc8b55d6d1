//! The Slurm executor: pilot worker jobs that pull many tasks each.
//!
//! See the crate README ("Slurm executor") for the design; in short:
//!
//! * Nothing happens until the first task is submitted: then the pool creates a private run
//!   directory on the shared filesystem (the working directory's `.pgp-slurm/`), a per-run secret
//!   in it, listens on a TCP port, and submits `workers` jobs with `sbatch`.
//! * Each job runs the worker program (by default this program) as a pilot: it connects back,
//!   authenticates ([`auth`]) and serves the process pool's protocol on the socket, one task at
//!   a time, with the job's CPUs as its threads and GDAL's cache sized from the job's memory.
//! * A supervisor thread keeps `workers` jobs alive while there is work, polls `squeue` once per
//!   interval for all of them, and cancels every job when the pool ends, when the program exits
//!   or on SIGINT/SIGTERM.
//! * A task whose job dies (scancel, walltime, out of memory, node failure) runs again on
//!   another worker, up to `retries` times, then fails with the job's state and log path.

pub(crate) mod auth;
mod conn;
pub(crate) mod jobs;
pub(crate) mod pilot;
mod signals;
pub(crate) mod spec;
mod supervisor;

use std::collections::HashSet;
use std::ffi::OsString;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};

use crate::error::{ExecError, Result};
use crate::handle::{when_all, Completer, Handle, Signal};
use crate::process::driver::{RemoteJob, TypedSink};
use crate::process::protocol::MAX_FRAME;
use crate::process::{decode, encode_args};
use crate::registry::{registered_ops, RemoteOp};
use crate::task::{next_pool_id, Admission};
pub use jobs::JobState;
pub use spec::SlurmSpec;

/// Cancels the jobs of every live Slurm pool (see [`crate::stop_all_workers`]).
pub(crate) fn stop_all_jobs() {
    signals::stop_all();
}

/// Environment variable that makes the worker program a pilot: the run directory.
pub(crate) const RUN_ENV: &str = "PGP_EXEC_SLURM_RUN";
/// Overrides the host name workers connect to (default: this host's name).
pub const DRIVER_HOST_ENV: &str = "PGP_SLURM_DRIVER_HOST";

/// A pool of Slurm jobs running pilot workers that pull registered operations ([`RemoteOp`]).
///
/// Like a [`ProcessPool`](crate::ProcessPool) it runs only work described by data, with the same
/// worker program and protocol; the workers are jobs started with `sbatch` on the cluster, on the
/// shared filesystem this program runs from. Cheap to clone; dropping the last clone lets the
/// queued work finish, then cancels every job.
#[derive(Clone)]
pub struct SlurmPool {
    owner: Arc<Owner>,
}

/// Dropped with the last [`SlurmPool`] clone: tells the threads to wind down.
struct Owner {
    shared: Arc<Shared>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.state.lock().closing = true;
        self.shared.changed.notify_all();
        if !self.shared.state.lock().started {
            self.shared.finish();
        }
    }
}

/// A task waiting for a worker, with what happened to its earlier attempts.
pub(crate) struct Queued {
    pub job: RemoteJob,
    pub attempts: u32,
    pub history: Vec<String>,
}

/// One submitted job.
#[derive(Debug, Clone)]
pub(crate) struct Alloc {
    pub job_id: u64,
    pub log: PathBuf,
    pub state: JobState,
    pub connected: bool,
    pub connected_at: Option<Instant>,
    /// The node its pilot reported when it connected.
    pub node: Option<String>,
    pub busy: bool,
    /// Squeue reported a final state.
    pub ended: bool,
    /// Takes no more tasks (lost, retired near its walltime, or finished serving).
    pub retired: bool,
    /// Its log explains a failure: not removed at the end.
    pub keep_log: bool,
}

pub(crate) struct State {
    pub started: bool,
    pub secret: Option<Vec<u8>>,
    pub address: Option<SocketAddr>,
    /// The last pool handle is gone.
    pub closing: bool,
    /// Shut down: jobs cancelled, no more work.
    pub stopped: bool,
    /// Files cleaned up, threads told to exit.
    pub finished: bool,
    /// Submitting workers failed for good; every task fails with this.
    pub fatal: Option<String>,
    pub allocs: Vec<Alloc>,
    /// Jobs in a row that ended without ever connecting.
    pub start_failures: u32,
    /// Connections refused (bad or missing proof of the secret).
    pub refused: usize,
}

impl State {
    pub(crate) fn alloc_mut(&mut self, job_id: u64) -> Option<&mut Alloc> {
        self.allocs.iter_mut().find(|a| a.job_id == job_id)
    }
}

pub(crate) struct Shared {
    pub pool_id: u64,
    pub spec: SlurmSpec,
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub work_dir: PathBuf,
    pub run_dir: PathBuf,
    pub job_name: String,
    pub poll: Duration,
    pub handle_signals: bool,
    /// Operations the workers will have, when they run this very program.
    pub known_ops: Option<HashSet<String>>,
    pub queue_tx: Sender<Queued>,
    pub queue_rx: Receiver<Queued>,
    pub admission: Arc<Admission>,
    pub state: Mutex<State>,
    pub changed: Condvar,
    /// Held by the supervisor while an `sbatch` is on its way (see [`Shared::finish`]).
    pub submitting: Mutex<()>,
}

impl Shared {
    pub(crate) fn set_busy(&self, job_id: u64, busy: bool) {
        if let Some(alloc) = self.state.lock().alloc_mut(job_id) {
            alloc.busy = busy;
        }
    }

    pub(crate) fn log_of(&self, job_id: u64) -> PathBuf {
        self.state
            .lock()
            .allocs
            .iter()
            .find(|a| a.job_id == job_id)
            .map_or_else(
                || self.run_dir.join(format!("worker-{job_id}.log")),
                |a| a.log.clone(),
            )
    }

    /// The job's state once Slurm calls it final, waiting at most `wait`.
    pub(crate) fn final_state(&self, job_id: u64, wait: Duration) -> JobState {
        let deadline = Instant::now() + wait;
        loop {
            let state = jobs::squeue(&self.job_name)
                .ok()
                .and_then(|all| all.into_iter().find(|(id, _)| *id == job_id))
                .map(|(_, s)| s);
            match state {
                Some(s) if s.is_final() || Instant::now() >= deadline => return s,
                None if Instant::now() >= deadline => {
                    return JobState("UNKNOWN (squeue no longer lists it)".into())
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// Fails every queued task with `error()` (used when no worker can ever run them).
    pub(crate) fn fail_queued(&self, error: impl Fn() -> ExecError) {
        while let Ok(queued) = self.queue_rx.try_recv() {
            let op = queued.job.op.clone();
            queued.job.sink.finish(&op, Err(error()));
        }
    }

    /// Cancels every job now and fails the queued tasks (SIGINT, SIGTERM, exit, `shutdown`).
    pub(crate) fn stop(&self) {
        self.state.lock().stopped = true;
        self.changed.notify_all();
        self.fail_queued(|| ExecError::ShutDown);
        self.finish();
    }

    /// Cancels the jobs still alive and removes the run's files, keeping the logs that explain
    /// a failure. Idempotent.
    pub(crate) fn finish(&self) {
        {
            let mut state = self.state.lock();
            if state.finished {
                return;
            }
            state.finished = true;
        }
        // A job being submitted right now is listed before the cancelling (and no other
        // submission starts after this).
        let _submitting = self.submitting.lock();
        let (live, logs_to_remove, started) = {
            let state = self.state.lock();
            let live: Vec<u64> = state
                .allocs
                .iter()
                .filter(|a| !a.ended)
                .map(|a| a.job_id)
                .collect();
            let logs: Vec<PathBuf> = state
                .allocs
                .iter()
                .filter(|a| !a.keep_log)
                .map(|a| a.log.clone())
                .collect();
            (live, logs, state.started)
        };
        self.changed.notify_all();
        if let Err(e) = jobs::scancel(&live) {
            eprintln!("pgp-exec: could not cancel Slurm jobs {live:?}: {e}");
        }
        if !started {
            return;
        }
        for name in ["secret", "connect", "worker.sh"] {
            let _ = std::fs::remove_file(self.run_dir.join(name));
        }
        // A cancelled job may still be writing its last lines; its log goes once it is quiet.
        for log in logs_to_remove {
            let _ = std::fs::remove_file(log);
        }
        if std::fs::remove_dir(&self.run_dir).is_ok() {
            if let Some(parent) = self.run_dir.parent() {
                let _ = std::fs::remove_dir(parent);
            }
        }
    }

    /// Creates the run directory and secret, listens, and starts the supervisor.
    fn start(self: &Arc<Self>) -> Result<()> {
        let mut state = self.state.lock();
        if state.started {
            return Ok(());
        }
        let fail = |what: &str, e: std::io::Error| ExecError::Slurm {
            detail: format!("{what} {}: {e}", self.run_dir.display()),
        };
        let secret = auth::create_run_dir(&self.run_dir)
            .map_err(|e| fail("cannot create the run directory", e))?;
        let listener = TcpListener::bind(("0.0.0.0", 0)).map_err(|e| ExecError::Slurm {
            detail: format!("cannot listen for workers: {e}"),
        })?;
        let address = listener.local_addr()?;
        let mut lines = Vec::new();
        if let Ok(host) = std::env::var(DRIVER_HOST_ENV) {
            lines.push(format!("{host}:{}", address.port()));
        }
        lines.push(format!("{}:{}", host_name(), address.port()));
        lines.push(format!("127.0.0.1:{}", address.port()));
        write_private(
            &self.run_dir.join("connect"),
            &(lines.join("\n") + "\n"),
            0o600,
        )
        .map_err(|e| fail("cannot write the connect file in", e))?;
        write_private(&self.run_dir.join("worker.sh"), &self.script(), 0o700)
            .map_err(|e| fail("cannot write the worker script in", e))?;
        state.secret = Some(secret.to_vec());
        state.address = Some(address);
        state.started = true;
        drop(state);
        if self.handle_signals {
            signals::watch(self);
        } else {
            signals::register(self);
        }
        let shared = self.clone();
        std::thread::Builder::new()
            .name("pgp-slurm-listen".into())
            .spawn(move || conn::listen(shared, listener))?;
        let shared = self.clone();
        std::thread::Builder::new()
            .name("pgp-slurm-supervisor".into())
            .spawn(move || supervisor::run(&shared))?;
        Ok(())
    }

    /// The batch script of every worker job: the worker program, as a pilot of this run.
    fn script(&self) -> String {
        let mut command = quote(&self.program.as_os_str().to_string_lossy());
        for arg in &self.args {
            command.push(' ');
            command.push_str(&quote(&arg.to_string_lossy()));
        }
        format!(
            "#!/bin/sh\n# A pgp worker: serves tasks of one run until its driver closes the connection.\n\
             {RUN_ENV}={}\nexport {RUN_ENV}\nexec {command}\n",
            quote(&self.run_dir.to_string_lossy())
        )
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn write_private(path: &Path, text: &str, mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

pub(crate) fn host_name() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates within it.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    match std::str::from_utf8(&buffer[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "localhost".into(),
    }
}

/// One job of the pool, as [`SlurmPool::allocations`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The Slurm job id.
    pub job_id: u64,
    /// Its state as Slurm last reported it (`PENDING`, `RUNNING`, ...; `SUBMITTED` before the
    /// first poll).
    pub state: String,
    /// Its pilot is connected and takes tasks.
    pub connected: bool,
    /// Its pilot is running a task.
    pub busy: bool,
    /// The job's log file (stdout and stderr of the pilot).
    pub log: PathBuf,
    /// The node its pilot runs on, once it connected.
    pub node: Option<String>,
}

/// Configures a [`SlurmPool`].
#[derive(Debug, Clone)]
pub struct SlurmPoolBuilder {
    spec: SlurmSpec,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    run_dir: Option<PathBuf>,
    poll: Duration,
    handle_signals: bool,
    max_in_flight: Option<usize>,
}

impl SlurmPoolBuilder {
    /// The executable each job runs (default: this program). It must be on the filesystem the
    /// compute nodes see, call [`worker::run_if_worker`](crate::worker::run_if_worker) first in
    /// `main()` and have the operations it is sent registered.
    pub fn worker_program(mut self, program: impl Into<PathBuf>) -> Self {
        self.program = Some(program.into());
        self
    }

    /// Extra command-line arguments for the worker program.
    pub fn worker_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args = args.into_iter().map(Into::into).collect();
        self
    }

    /// Where the run's secret, worker script and job logs go (default: a new directory under
    /// `.pgp-slurm/` in the working directory). Must not exist yet, and must be on a filesystem
    /// the compute nodes share.
    pub fn run_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.run_dir = Some(dir.into());
        self
    }

    /// How often `squeue` is asked about the pool's jobs (default 3 s). Each poll is one
    /// `squeue` call for all of them.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval.max(Duration::from_millis(100));
        self
    }

    /// Whether SIGINT and SIGTERM cancel the pool's jobs before the program ends (default
    /// true). Only installed if the program has no handler of its own for them; a program that
    /// handles them itself should call [`SlurmPool::shutdown`].
    pub fn handle_signals(mut self, handle: bool) -> Self {
        self.handle_signals = handle;
        self
    }

    /// How many tasks may be submitted and unfinished at once before `submit` blocks (default:
    /// 8 per worker).
    pub fn max_in_flight(mut self, limit: usize) -> Self {
        self.max_in_flight = Some(limit);
        self
    }

    /// Makes the pool. Submits no job yet: that waits for the first task, so a run whose tasks
    /// are all up to date never touches the cluster.
    pub fn build(self) -> Result<SlurmPool> {
        if crate::worker::forgot_run_if_worker() {
            return Err(ExecError::NotInWorkerMode {
                var: crate::process::protocol::WORKER_ENV.into(),
            });
        }
        let current = std::env::current_exe().ok();
        let program = match self.program.or_else(|| current.clone()) {
            Some(program) => std::path::absolute(&program)?,
            None => {
                return Err(ExecError::WorkerStart {
                    program: "<current executable>".into(),
                    detail: "cannot locate this program to start it in Slurm jobs".into(),
                })
            }
        };
        let known_ops = (current.as_deref() == Some(program.as_path()))
            .then(|| registered_ops().into_iter().map(str::to_string).collect());
        let work_dir = std::env::current_dir()?;
        let tag = format!(
            "{}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            next_pool_id()
        );
        let run_dir = match self.run_dir {
            Some(dir) => std::path::absolute(dir)?,
            None => work_dir.join(".pgp-slurm").join(&tag),
        };
        let pool_id = next_pool_id();
        let workers = self.spec.workers();
        let (queue_tx, queue_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            pool_id,
            job_name: format!("pgp-{tag}"),
            spec: self.spec,
            program,
            args: self.args,
            work_dir,
            run_dir,
            poll: self.poll,
            handle_signals: self.handle_signals,
            known_ops,
            queue_tx,
            queue_rx,
            admission: Admission::new(pool_id, self.max_in_flight.unwrap_or(workers * 8)),
            state: Mutex::new(State {
                started: false,
                secret: None,
                address: None,
                closing: false,
                stopped: false,
                finished: false,
                fatal: None,
                allocs: Vec::new(),
                start_failures: 0,
                refused: 0,
            }),
            changed: Condvar::new(),
            submitting: Mutex::new(()),
        });
        Ok(SlurmPool {
            owner: Arc::new(Owner { shared }),
        })
    }
}

impl SlurmPool {
    /// A builder for a pool as `spec` describes.
    pub fn builder(spec: SlurmSpec) -> SlurmPoolBuilder {
        SlurmPoolBuilder {
            spec,
            program: None,
            args: Vec::new(),
            run_dir: None,
            poll: Duration::from_secs(3),
            handle_signals: true,
            max_in_flight: None,
        }
    }

    /// A pool as `spec` describes, running this program in its jobs.
    pub fn new(spec: SlurmSpec) -> Result<Self> {
        Self::builder(spec).build()
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.owner.shared
    }

    /// The spec the pool was built from.
    pub fn spec(&self) -> &SlurmSpec {
        &self.shared().spec
    }

    /// Number of worker jobs the pool keeps while it has work.
    pub fn workers(&self) -> usize {
        self.shared().spec.workers()
    }

    /// The run directory (created at the first task).
    pub fn run_dir(&self) -> &Path {
        &self.shared().run_dir
    }

    /// The Slurm job name shared by the pool's jobs (`squeue --name=...` lists them).
    pub fn job_name(&self) -> &str {
        &self.shared().job_name
    }

    /// Where the driver listens for workers, once started.
    pub fn listen_address(&self) -> Option<SocketAddr> {
        self.shared().state.lock().address
    }

    /// Every job submitted so far, oldest first.
    pub fn allocations(&self) -> Vec<Allocation> {
        self.shared()
            .state
            .lock()
            .allocs
            .iter()
            .map(|a| Allocation {
                job_id: a.job_id,
                state: a.state.0.clone(),
                connected: a.connected,
                busy: a.busy,
                log: a.log.clone(),
                node: a.node.clone(),
            })
            .collect()
    }

    /// Connections refused because they could not prove they belong to this run.
    pub fn refused_connections(&self) -> usize {
        self.shared().state.lock().refused
    }

    /// Tasks submitted and not yet finished.
    pub fn in_flight(&self) -> usize {
        self.shared().admission.in_flight()
    }

    /// Cancels every job now; queued tasks end with [`ExecError::ShutDown`], running ones with
    /// `ShutDown` too. The pool accepts no more work.
    pub fn shutdown(&self) {
        self.shared().stop();
    }

    /// Runs operation `O` with `args` on a worker job.
    pub fn submit<O: RemoteOp>(&self, args: O::Args) -> Result<Handle<O::Output>> {
        self.submit_after::<O>(Vec::new(), args)
    }

    /// Runs operation `O` once every signal in `deps` is done.
    pub fn submit_after<O: RemoteOp>(
        &self,
        deps: impl IntoIterator<Item = Signal>,
        args: O::Args,
    ) -> Result<Handle<O::Output>> {
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

    /// [`SlurmPool::submit_raw`] once every signal in `deps` is done.
    pub fn submit_raw_after(
        &self,
        deps: impl IntoIterator<Item = Signal>,
        op: &str,
        args: Vec<u8>,
    ) -> Result<Handle<Vec<u8>>> {
        self.enqueue(op, args, deps.into_iter().collect(), Ok)
    }

    fn enqueue<T: Send + 'static>(
        &self,
        op: &str,
        args: Vec<u8>,
        deps: Vec<Signal>,
        decode: fn(Vec<u8>) -> std::result::Result<T, String>,
    ) -> Result<Handle<T>> {
        let shared = self.shared();
        if let Some(ops) = &shared.known_ops {
            if !ops.contains(op) {
                return Err(ExecError::UnknownOp {
                    name: op.to_string(),
                    where_: format!(
                        " in the Slurm workers' program {}",
                        shared.program.display()
                    ),
                });
            }
        }
        if args.len() + op.len() + 64 > MAX_FRAME {
            return Err(ExecError::Codec(format!(
                "arguments of operation {op:?} take {} bytes, more than a request may carry; \
                 pass large data through files instead",
                args.len()
            )));
        }
        {
            let state = shared.state.lock();
            if state.stopped {
                return Err(ExecError::ShutDown);
            }
            if let Some(detail) = &state.fatal {
                return Err(ExecError::Slurm {
                    detail: detail.clone(),
                });
            }
        }
        shared.start()?;
        let permit = shared.admission.admit();
        let (completer, handle) = Completer::pair();
        let queued = Queued {
            job: RemoteJob {
                op: op.to_string(),
                args,
                sink: Box::new(TypedSink {
                    completer,
                    decode,
                    _permit: permit,
                }),
            },
            attempts: 0,
            history: Vec::new(),
        };
        if deps.is_empty() {
            let _ = shared.queue_tx.send(queued);
            shared.changed.notify_all();
        } else {
            let weak = Arc::downgrade(shared);
            when_all(
                deps,
                Box::new(move || {
                    if let Some(shared) = weak.upgrade() {
                        let _ = shared.queue_tx.send(queued);
                        shared.changed.notify_all();
                    }
                }),
            );
        }
        Ok(handle)
    }
}

impl std::fmt::Debug for SlurmPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlurmPool")
            .field("spec", &self.shared().spec.to_string())
            .field("run_dir", &self.shared().run_dir)
            .finish()
    }
}
