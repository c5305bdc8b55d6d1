//! Worker mode: the side of the process pool that runs inside a worker process.
//!
//! Every binary that may serve as a process-pool worker (by default: any binary that creates a
//! process pool, since workers are copies of it) must call [`run_if_worker`] first thing in
//! `main()`:
//!
//! ```
//! # #![allow(clippy::needless_doctest_main)] // showing where the call goes is the point
//! fn main() {
//!     pgp_exec::worker::run_if_worker();
//!     // ... the program proper ...
//! }
//! ```

use std::fs::File;
use std::io::{self, BufReader, BufWriter};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::process::protocol::{
    read_frame, write_frame, Hello, Outcome, Reply, Request, WorkerMsg, HEARTBEAT_ENV, MAGIC,
    MAX_FRAME, WORKER_ENV, WORKER_ENV_VALUE,
};
use crate::registry::{find_op, registered_ops, RawFailure};
use crate::task::panic_message;
use crate::ExecError;

static IN_WORKER: AtomicBool = AtomicBool::new(false);

/// If this process was started as a pool worker, serves requests on stdin/stdout until the pool
/// closes the pipe, then exits the process. Otherwise returns immediately (cheap: one
/// environment lookup).
pub fn run_if_worker() {
    if let Some(run_dir) = crate::slurm::pilot::run_dir_from_env() {
        // A Slurm pilot: the same protocol over an authenticated socket to the driver.
        IN_WORKER.store(true, Ordering::SeqCst);
        IN_SLURM_JOB.store(true, Ordering::SeqCst);
        std::process::exit(crate::slurm::pilot::run(&run_dir));
    }
    if !marked_as_worker() {
        return;
    }
    IN_WORKER.store(true, Ordering::SeqCst);
    // Children of this worker (if an operation starts programs) are not workers.
    std::env::remove_var(WORKER_ENV);
    let heartbeat = heartbeat_interval();
    std::env::remove_var(HEARTBEAT_ENV);
    let code = match serve(heartbeat) {
        Ok(()) => 0,
        // The pool closed its end: it exited (typically with the error of another worker) or
        // dropped this one. Nobody is left to answer, and a message would only bury the real
        // error under `Broken pipe` lines.
        Err(ExecError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(error) => {
            eprintln!("pgp-exec worker {}: {error}", std::process::id());
            1
        }
    };
    std::process::exit(code);
}

/// True inside a process serving as a pool worker.
pub fn is_worker() -> bool {
    IN_WORKER.load(Ordering::SeqCst)
}

static IN_SLURM_JOB: AtomicBool = AtomicBool::new(false);

/// The executor an operation runs its own blocks on when it runs as a task in this process
/// (a registered operation's [`RemoteOp::run`](crate::RemoteOp::run)): in a Slurm worker, threads
/// on the CPUs of its job (the job is the task's budget); anywhere else the synchronous one (in
/// a process-pool worker the pool's processes are the budget). Built once per process.
pub fn executor() -> crate::Executor {
    static IN_JOB: std::sync::OnceLock<crate::Executor> = std::sync::OnceLock::new();
    if !IN_SLURM_JOB.load(Ordering::SeqCst) {
        return crate::Executor::sync();
    }
    IN_JOB
        .get_or_init(|| {
            crate::Executor::threads(crate::available_cores())
                .unwrap_or_else(|_| crate::Executor::sync())
        })
        .clone()
}

/// True if the environment marks this process as a worker but [`run_if_worker`] was not
/// called: a binary that forgot it. Used to refuse starting pools recursively.
pub(crate) fn forgot_run_if_worker() -> bool {
    !is_worker() && marked_as_worker()
}

fn marked_as_worker() -> bool {
    matches!(std::env::var_os(WORKER_ENV), Some(value) if value == WORKER_ENV_VALUE)
}

/// Moves the protocol pipes off fds 0 and 1, so that an operation printing to stdout (or
/// reading stdin) cannot corrupt the stream: stdout then goes to stderr, stdin reads nothing.
fn take_protocol_pipes() -> io::Result<(File, File)> {
    // SAFETY: plain fd syscalls on fds this process owns; every result is checked, and each new
    // fd is owned by exactly one File.
    unsafe {
        let input = libc::fcntl(0, libc::F_DUPFD_CLOEXEC, 3);
        if input < 0 {
            return Err(io::Error::last_os_error());
        }
        let input = File::from_raw_fd(input);
        let output = libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3);
        if output < 0 {
            return Err(io::Error::last_os_error());
        }
        let output = File::from_raw_fd(output);
        if libc::dup2(2, 1) < 0 {
            return Err(io::Error::last_os_error());
        }
        let null = File::open("/dev/null")?;
        if libc::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((input, output))
    }
}

fn codec(error: bincode::Error) -> ExecError {
    ExecError::Codec(error.to_string())
}

fn serve(heartbeat: Option<Duration>) -> crate::Result<()> {
    let (input, output) = take_protocol_pipes()?;
    serve_on(input, output, heartbeat)
}

/// Greets the pool on `output`, then answers every request read from `input` until it ends.
/// Process-pool workers serve on their pipes, Slurm pilots on their socket to the driver.
/// With `heartbeat`, a thread sends a beat at that interval while a request runs.
pub(crate) fn serve_on(
    input: impl io::Read,
    output: impl io::Write + Send + 'static,
    heartbeat: Option<Duration>,
) -> crate::Result<()> {
    let mut input = BufReader::new(input);
    let output = Arc::new(Mutex::new(BufWriter::new(output)));
    let hello = Hello {
        pid: std::process::id(),
        ops: registered_ops().into_iter().map(str::to_string).collect(),
    };
    {
        let mut out = output.lock();
        io::Write::write_all(&mut *out, &MAGIC)?;
        write_frame(&mut *out, &bincode::serialize(&hello).map_err(codec)?)?;
    }
    let busy = Arc::new(AtomicBool::new(false));
    if let Some(interval) = heartbeat {
        let beat = bincode::serialize(&WorkerMsg::Beat).map_err(codec)?;
        let (output, busy) = (Arc::clone(&output), Arc::clone(&busy));
        std::thread::Builder::new()
            .name("pgp-exec-heartbeat".into())
            .spawn(move || loop {
                std::thread::sleep(interval);
                if busy.load(Ordering::SeqCst) && write_frame(&mut *output.lock(), &beat).is_err() {
                    // The pool is gone; the main loop notices when it replies.
                    return;
                }
            })?;
    }
    while let Some(frame) = read_frame(&mut input)? {
        let request: Request = bincode::deserialize(&frame).map_err(codec)?;
        busy.store(true, Ordering::SeqCst);
        let outcome = run_request(&request);
        let reply = WorkerMsg::Reply(Reply {
            id: request.id,
            outcome,
        });
        let mut frame = bincode::serialize(&reply).map_err(codec)?;
        if frame.len() > MAX_FRAME {
            let too_big = RawFailure::BadOutput(format!(
                "the output takes {} bytes, more than a reply may carry ({MAX_FRAME} bytes); \
                 pass large data through files instead",
                frame.len()
            ));
            let reply = WorkerMsg::Reply(Reply {
                id: request.id,
                outcome: Outcome::Failed(too_big),
            });
            frame = bincode::serialize(&reply).map_err(codec)?;
        }
        let mut out = output.lock();
        busy.store(false, Ordering::SeqCst);
        write_frame(&mut *out, &frame)?;
    }
    Ok(())
}

/// How often to send heartbeats, as the pool asked (none if it did not).
fn heartbeat_interval() -> Option<Duration> {
    let millis: u64 = std::env::var(HEARTBEAT_ENV).ok()?.parse().ok()?;
    (millis > 0).then(|| Duration::from_millis(millis))
}

fn run_request(request: &Request) -> Outcome {
    let entry = match find_op(&request.op) {
        Ok(entry) => entry,
        Err(ExecError::DuplicateOp { .. }) => return Outcome::DuplicateOp,
        Err(_) => return Outcome::UnknownOp,
    };
    match std::panic::catch_unwind(|| entry.run_encoded(&request.args)) {
        Ok(Ok(bytes)) => Outcome::Ok(bytes),
        Ok(Err(failure)) => Outcome::Failed(failure),
        Err(payload) => {
            let message = panic_message(payload.as_ref());
            std::mem::forget(payload);
            Outcome::Panicked(message)
        }
    }
}
