//! The driver side of the workers' connections: accepting and authenticating them, and one
//! thread per connected worker that feeds it tasks from the pool's queue, one at a time.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::ExecError;
use crate::process::driver::outcome_to_result;
use crate::process::protocol::{
    encode_frame, read_frame, wait_readable, write_frame, Hello, WorkerMsg, MAGIC,
};
use crate::slurm::auth::{self, WorkerProof, GREETING};
use crate::slurm::{jobs, Queued, Shared};
use crate::task::enter_pool;
use crate::worker_id::WorkerId;

/// How often a waiting connection thread looks at cancellation, lost jobs and shutdown.
const TICK: Duration = Duration::from_millis(20);
/// How long a new connection may take to authenticate and greet.
const HANDSHAKE: Duration = Duration::from_secs(15);

/// Probes an idle connection so a peer whose host vanished is noticed within about a minute.
pub(crate) fn keepalive(stream: &TcpStream) {
    let fd = stream.as_raw_fd();
    let set = |level: i32, name: i32, value: i32| {
        // SAFETY: setsockopt on an open socket with a pointer to a live i32 and its size.
        unsafe {
            libc::setsockopt(
                fd,
                level,
                name,
                (&value as *const i32).cast(),
                std::mem::size_of::<i32>() as libc::socklen_t,
            )
        };
    };
    set(libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, 20);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, 5);
    set(libc::IPPROTO_TCP, libc::TCP_KEEPCNT, 6);
}

/// Accepts connections until the pool is finished.
pub(super) fn listen(shared: Arc<Shared>, listener: TcpListener) {
    while !shared.state.lock().finished {
        match wait_readable(listener.as_raw_fd(), Some(Duration::from_millis(200))) {
            Ok(true) => {}
            _ => continue,
        }
        let Ok((stream, peer)) = listener.accept() else {
            continue;
        };
        let shared = shared.clone();
        let _ = std::thread::Builder::new()
            .name(format!("pgp-slurm-conn-{peer}"))
            .spawn(move || serve(&shared, stream, peer));
    }
}

struct Worker {
    stream: TcpStream,
    job_id: u64,
    /// Who it is, as tasks note it.
    id: WorkerId,
}

fn serve(shared: &Arc<Shared>, mut stream: TcpStream, peer: SocketAddr) {
    let (job_id, id) = match handshake(shared, &mut stream) {
        Ok(who) => who,
        Err(reason) => {
            shared.state.lock().refused += 1;
            eprintln!("pgp-exec: refused a connection from {peer}: {reason}");
            return;
        }
    };
    let worker = Worker { stream, job_id, id };
    enter_pool(shared.pool_id);
    feed(shared, worker);
}

/// Authenticates a new connection and reads its greeting; returns the worker's job id and who
/// it is.
fn handshake(shared: &Shared, stream: &mut TcpStream) -> Result<(u64, WorkerId), String> {
    let io = |e: std::io::Error| e.to_string();
    stream.set_read_timeout(Some(HANDSHAKE)).map_err(io)?;
    stream.set_write_timeout(Some(HANDSHAKE)).map_err(io)?;
    let _ = stream.set_nodelay(true);
    let secret = shared
        .state
        .lock()
        .secret
        .clone()
        .ok_or("the pool has not started")?;
    let nd = auth::random_bytes().map_err(io)?;
    let mut greeting = GREETING.to_vec();
    greeting.extend_from_slice(&nd);
    stream.write_all(&greeting).map_err(io)?;
    // A proof is a few dozen bytes: refuse a longer frame before reading it.
    let mut len = [0u8; 4];
    stream
        .read_exact(&mut len)
        .map_err(|e| format!("no proof of the run secret ({e})"))?;
    let len = u32::from_le_bytes(len) as usize;
    if len > 256 {
        return Err(format!(
            "not a pgp worker (it sent {len} as a proof length)"
        ));
    }
    let mut frame = vec![0u8; len];
    stream
        .read_exact(&mut frame)
        .map_err(|e| format!("no proof of the run secret ({e})"))?;
    let proof: WorkerProof =
        bincode::deserialize(&frame).map_err(|_| "not a pgp worker proof".to_string())?;
    let expected = auth::worker_mac(&secret, &nd, &proof.nonce, proof.job_id, &proof.node);
    if !auth::same(&proof.mac, &expected) {
        return Err(format!(
            "wrong proof of the run secret (claimed job {}, pid {})",
            proof.job_id, proof.pid
        ));
    }
    {
        let mut state = shared.state.lock();
        let Some(alloc) = state.allocs.iter_mut().find(|a| a.job_id == proof.job_id) else {
            return Err(format!(
                "job {} is not one of this run's workers",
                proof.job_id
            ));
        };
        if alloc.connected || alloc.ended {
            return Err(format!(
                "job {} is already connected or has ended",
                proof.job_id
            ));
        }
        alloc.connected = true;
        alloc.connected_at = Some(Instant::now());
        alloc.node = Some(proof.node.clone());
        state.start_failures = 0;
    }
    let fail = |message: String| {
        if let Some(alloc) = shared.state.lock().alloc_mut(proof.job_id) {
            alloc.retired = true;
            alloc.connected = false;
        }
        message
    };
    write_frame(stream, &auth::driver_mac(&secret, &proof.nonce, &nd))
        .map_err(|e| fail(e.to_string()))?;
    let mut magic = [0u8; MAGIC.len()];
    stream
        .read_exact(&mut magic)
        .map_err(|e| fail(format!("job {}: no pgp-exec greeting: {e}", proof.job_id)))?;
    if magic != MAGIC {
        return Err(fail(format!(
            "job {}: not the pgp-exec protocol",
            proof.job_id
        )));
    }
    let hello: Hello = read_frame(stream)
        .ok()
        .flatten()
        .and_then(|f| bincode::deserialize(&f).ok())
        .ok_or_else(|| fail(format!("job {}: its greeting did not decode", proof.job_id)))?;
    let _ = hello.ops;
    stream.set_read_timeout(None).map_err(io)?;
    stream.set_write_timeout(None).map_err(io)?;
    keepalive(stream);
    shared.changed.notify_all();
    let who = WorkerId::Slurm {
        job_id: proof.job_id,
        node: proof.node,
        pid: proof.pid,
    };
    Ok((proof.job_id, who))
}

/// Why a call ended without a reply.
enum Lost {
    /// The connection broke or the job ended (the text says how).
    Died(String),
    /// The task was cancelled; its job was cancelled with it.
    Cancelled,
    /// The pool was shut down.
    Stopped,
}

/// Takes tasks for one worker until the pool closes, the worker's job ends, or its walltime
/// leaves too little for another task.
fn feed(shared: &Arc<Shared>, mut worker: Worker) {
    let mut next_id = 0u64;
    loop {
        if let Some(reason) = stop_taking(shared, worker.job_id) {
            if let Some(alloc) = shared.state.lock().alloc_mut(worker.job_id) {
                alloc.retired = true;
                alloc.connected = false;
                alloc.busy = false;
            }
            if !reason.is_empty() {
                eprintln!("pgp-exec: Slurm worker job {}: {reason}", worker.job_id);
            }
            shared.changed.notify_all();
            return; // dropping the stream tells the pilot to exit
        }
        let queued = match shared.queue_rx.recv_timeout(Duration::from_millis(100)) {
            Ok(queued) => queued,
            Err(_) => continue,
        };
        if queued.attempts == 0 && !queued.job.sink.try_start() {
            continue; // cancelled while queued
        }
        // A retried task started on its first attempt already.
        if queued.attempts > 0 && queued.job.sink.cancel_requested() {
            let op = queued.job.op.clone();
            queued.job.sink.finish(&op, Err(ExecError::Cancelled));
            continue;
        }
        next_id += 1;
        queued.job.sink.ran_on(worker.id.clone());
        shared.set_busy(worker.job_id, true);
        let outcome = call(shared, &mut worker, next_id, &queued);
        shared.set_busy(worker.job_id, false);
        let op = queued.job.op.clone();
        match outcome {
            Ok(reply) => {
                let result = outcome_to_result(&op, reply, &shared.program)
                    .map_err(|e| where_it_ran(shared, worker.job_id, e));
                queued.job.sink.finish(&op, result);
            }
            Err(Lost::Cancelled) => {
                queued.job.sink.finish(&op, Err(ExecError::Cancelled));
                lose(shared, worker.job_id);
                return;
            }
            Err(Lost::Stopped) => {
                queued.job.sink.finish(&op, Err(ExecError::ShutDown));
                return;
            }
            Err(Lost::Died(how)) => {
                lose(shared, worker.job_id);
                retry_or_fail(shared, worker.job_id, queued, &how);
                return;
            }
        }
    }
}

/// Names the job (and its log) in the error of a task that failed there.
fn where_it_ran(shared: &Shared, job_id: u64, error: ExecError) -> ExecError {
    if !matches!(
        error,
        ExecError::TaskFailed { .. } | ExecError::Panicked { .. }
    ) {
        return error;
    }
    if let Some(alloc) = shared.state.lock().alloc_mut(job_id) {
        alloc.keep_log = true;
    }
    let place = format!(
        " (on Slurm job {job_id}; log {})",
        shared.log_of(job_id).display()
    );
    match error {
        ExecError::TaskFailed { message } => ExecError::TaskFailed {
            message: message + &place,
        },
        ExecError::Panicked { message } => ExecError::Panicked {
            message: message + &place,
        },
        other => other,
    }
}

/// Why this worker should take no more tasks ("" for a quiet end), or `None` to go on.
fn stop_taking(shared: &Shared, job_id: u64) -> Option<String> {
    let state = shared.state.lock();
    if state.stopped {
        return Some(String::new());
    }
    let alloc = state.allocs.iter().find(|a| a.job_id == job_id)?;
    if alloc.ended {
        return Some(String::new());
    }
    if state.closing && shared.admission.in_flight() == 0 {
        return Some(String::new());
    }
    let wall = shared.spec.walltime()?;
    let since = alloc.connected_at?;
    let left = wall.saturating_sub(since.elapsed());
    let needed = shared.spec.task_time().unwrap_or_default();
    if left <= needed {
        Some(format!(
            "{left:?} of walltime left, less than a task may take (task_time {needed:?}); \
             retiring it and starting a fresh job"
        ))
    } else {
        None
    }
}

fn call(
    shared: &Shared,
    worker: &mut Worker,
    id: u64,
    queued: &Queued,
) -> Result<crate::process::protocol::Outcome, Lost> {
    #[derive(serde::Serialize)]
    struct RequestRef<'a> {
        id: u64,
        op: &'a str,
        #[serde(with = "serde_bytes")]
        args: &'a [u8],
    }
    let job = &queued.job;
    let request = encode_frame(&RequestRef {
        id,
        op: &job.op,
        args: &job.args,
    })
    .map_err(|e| Lost::Died(format!("the request did not encode: {e}")))?;
    worker
        .stream
        .write_all(&request)
        .map_err(|e| Lost::Died(format!("sending the task failed: {e}")))?;
    loop {
        match wait_readable(worker.stream.as_raw_fd(), Some(TICK)) {
            Ok(true) => match read_message(&mut worker.stream)? {
                WorkerMsg::Beat => continue,
                WorkerMsg::Reply(reply) if reply.id == id => return Ok(reply.outcome),
                WorkerMsg::Reply(reply) => {
                    return Err(Lost::Died(format!(
                        "it answered request {} while {id} was expected",
                        reply.id
                    )))
                }
            },
            Ok(false) => {}
            Err(e) => return Err(Lost::Died(format!("waiting for its reply failed: {e}"))),
        }
        if job.sink.cancel_requested() {
            let _ = jobs::scancel(&[worker.job_id]);
            return Err(Lost::Cancelled);
        }
        let state = shared.state.lock();
        if state.stopped {
            return Err(Lost::Stopped);
        }
        if state
            .allocs
            .iter()
            .any(|a| a.job_id == worker.job_id && a.ended)
        {
            return Err(Lost::Died("squeue reports the job ended".into()));
        }
    }
}

fn read_message(stream: &mut TcpStream) -> Result<WorkerMsg, Lost> {
    let frame = match read_frame(stream) {
        Ok(Some(frame)) => frame,
        Ok(None) => return Err(Lost::Died("its connection closed".into())),
        Err(e) => return Err(Lost::Died(format!("its connection broke: {e}"))),
    };
    bincode::deserialize(&frame).map_err(|e| Lost::Died(format!("its message did not decode: {e}")))
}

/// Marks the worker's job as gone (its log is kept: an error message may point at it).
fn lose(shared: &Shared, job_id: u64) {
    if let Some(alloc) = shared.state.lock().alloc_mut(job_id) {
        alloc.connected = false;
        alloc.retired = true;
        alloc.keep_log = true;
    }
    shared.changed.notify_all();
}

/// Runs the task again on another worker, or fails it once it has used its retries.
fn retry_or_fail(shared: &Shared, job_id: u64, mut queued: Queued, how: &str) {
    let log = shared.log_of(job_id);
    let op = queued.job.op.clone();
    queued.attempts += 1;
    let allowed = shared.spec.retries() + 1;
    if shared.state.lock().stopped {
        queued.job.sink.finish(&op, Err(ExecError::ShutDown));
        return;
    }
    if queued.attempts < allowed {
        let attempt = queued.attempts;
        // Requeue before asking Slurm what happened, so the task restarts at once.
        let note = format!("Slurm job {job_id} was lost ({how}; log {})", log.display());
        queued.history.push(note);
        let _ = shared.queue_tx.send(queued);
        shared.changed.notify_all();
        let state = shared.final_state(job_id, Duration::from_secs(3));
        eprintln!(
            "pgp-exec: Slurm worker job {job_id} ended ({state}{}) while running {op:?}; the task \
             runs again on another worker (attempt {} of {allowed}); job log: {}",
            state.explain(),
            attempt + 1,
            log.display()
        );
        return;
    }
    let state = shared.final_state(job_id, Duration::from_secs(3));
    let mut detail = format!(
        "Slurm job {job_id} ended with state {state}{} ({how}); job log: {}",
        state.explain(),
        log.display()
    );
    let tail = jobs::log_tail(&log, 5);
    if !tail.trim().is_empty() {
        detail.push_str(&format!("; its last lines:\n{tail}"));
    }
    if !queued.history.is_empty() {
        detail = format!(
            "{detail}\nearlier attempts: {}; gave up after {} attempts (retries={})",
            queued.history.join("; "),
            queued.attempts,
            shared.spec.retries()
        );
    }
    queued.job.sink.finish(
        &op,
        Err(ExecError::WorkerDied {
            op: op.clone(),
            detail,
        }),
    );
}
