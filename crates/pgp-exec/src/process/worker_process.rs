//! One worker process as seen from the pool: starting it, the handshake, calls, and its end.

use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::error::{ExecError, Result};
use crate::process::protocol::{
    encode_frame, read_frame, wait_readable, Hello, Outcome, WorkerMsg, HEARTBEAT_ENV, MAGIC,
    WORKER_ENV, WORKER_ENV_VALUE,
};

/// How worker processes are started; shared by all drivers of a pool.
#[derive(Debug, Clone)]
pub(crate) struct LaunchConfig {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub envs: Vec<(OsString, OsString)>,
    pub handshake_timeout: Duration,
    pub task_timeout: Option<Duration>,
    /// Longest silence (no heartbeat, no reply) from a worker running a task before it is
    /// declared stuck and killed; `None`: never.
    pub liveness_timeout: Option<Duration>,
    pub quiet_stderr: bool,
}

impl LaunchConfig {
    /// How often workers beat: several times per liveness deadline, so that one late beat on a
    /// busy machine is not taken for a stuck process.
    fn heartbeat(&self) -> Option<Duration> {
        self.liveness_timeout
            .map(|limit| (limit / 8).clamp(Duration::from_millis(5), Duration::from_secs(2)))
    }
}

const HINT: &str = "the worker program must call pgp_exec::worker::run_if_worker() first thing in \
                    main(), or the pool must be given such a program with \
                    ProcessPoolBuilder::worker_program";

/// How often a driver waiting for a reply checks for cancellation and the task timeout.
const TICK: Duration = Duration::from_millis(20);

/// A started worker that has not yet completed the handshake. Dropped before the handshake, it
/// kills the child so no stray process outlives a failed pool creation.
pub(crate) struct Spawned {
    child: Option<Child>,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            stop(child);
        }
    }
}

/// A live worker that completed the handshake.
pub(crate) struct WorkerProcess {
    child: Child,
    liveness: Option<Duration>,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    pub hello: Hello,
}

/// How one call ended when no reply came.
pub(crate) enum CallError {
    /// The worker died or the pipe broke; the text says how.
    Died(String),
    /// Cancelled while running: the worker was killed.
    Cancelled,
    /// Ran past the task timeout: the worker was killed.
    TimedOut(Duration),
    /// Silent (no heartbeat) for this long while running: stopped or frozen; it was killed.
    Unresponsive(Duration),
    /// The worker answered something that is not the expected reply.
    Protocol(String),
}

pub(crate) fn spawn(config: &LaunchConfig) -> Result<Spawned> {
    let mut command = Command::new(&config.program);
    command
        .args(&config.args)
        .envs(config.envs.iter().map(|(k, v)| (k, v)))
        .env(WORKER_ENV, WORKER_ENV_VALUE)
        .env(
            HEARTBEAT_ENV,
            config
                .heartbeat()
                .map_or(0, |beat| beat.as_millis())
                .to_string(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(if config.quiet_stderr {
            Stdio::null()
        } else {
            Stdio::inherit()
        });
    let child = command.spawn().map_err(|e| ExecError::WorkerStart {
        program: config.program.display().to_string(),
        detail: e.to_string(),
    })?;
    Ok(Spawned { child: Some(child) })
}

/// Reads from a pipe, failing with `TimedOut` when a single read waits longer than `silence`
/// (`None`: waits forever): a worker stopped half-way through a frame must not hang the pool.
struct SilenceReader<'a> {
    pipe: &'a mut ChildStdout,
    silence: Option<Duration>,
}

impl Read for SilenceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !wait_readable(self.pipe.as_raw_fd(), self.silence)? {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.pipe.read(buf)
    }
}

/// Reads from a pipe, failing with `TimedOut` once `deadline` passes.
struct DeadlineReader<'a> {
    pipe: &'a mut ChildStdout,
    deadline: Instant,
}

impl Read for DeadlineReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if !wait_readable(self.pipe.as_raw_fd(), Some(left))? {
            return Err(io::ErrorKind::TimedOut.into());
        }
        self.pipe.read(buf)
    }
}

impl Spawned {
    /// Waits for the worker's greeting. On any failure the child is killed and the error says
    /// what the program did instead and how to fix it.
    pub(crate) fn handshake(mut self, config: &LaunchConfig) -> Result<WorkerProcess> {
        let mut child = match self.child.take() {
            Some(child) => child,
            None => {
                return Err(ExecError::WorkerStart {
                    program: config.program.display().to_string(),
                    detail: "the worker was already handed over".into(),
                })
            }
        };
        let program = config.program.display().to_string();
        let fail = |child: &mut Child, detail: String| {
            let status = stop(child);
            ExecError::WorkerStart {
                program: program.clone(),
                detail: format!("{detail} ({status}); {HINT}"),
            }
        };
        let (Some(stdin), Some(mut stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(fail(&mut child, "its pipes were not set up".into()));
        };
        let mut reader = DeadlineReader {
            pipe: &mut stdout,
            deadline: Instant::now() + config.handshake_timeout,
        };
        let mut magic = [0u8; MAGIC.len()];
        let mut filled = 0;
        while filled < magic.len() {
            match reader.read(&mut magic[filled..]) {
                Ok(0) => {
                    let detail = if filled == 0 {
                        "it exited or closed its output without the pgp-exec handshake".to_string()
                    } else {
                        format!(
                            "it wrote {:?} instead of the pgp-exec handshake",
                            lossy(&magic[..filled])
                        )
                    };
                    return Err(fail(&mut child, detail));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    let detail = format!("no handshake within {:?}", config.handshake_timeout);
                    return Err(fail(&mut child, detail));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(fail(&mut child, format!("reading its output failed: {e}"))),
            }
            if magic[..filled] != MAGIC[..filled] {
                let detail = format!(
                    "it wrote {:?} instead of the pgp-exec handshake",
                    lossy(&magic[..filled])
                );
                return Err(fail(&mut child, detail));
            }
        }
        let hello = match read_frame(&mut reader) {
            Ok(Some(frame)) => bincode::deserialize::<Hello>(&frame)
                .map_err(|e| fail(&mut child, format!("its greeting does not decode: {e}")))?,
            Ok(None) => {
                return Err(fail(
                    &mut child,
                    "it closed its output during the handshake".into(),
                ))
            }
            Err(e) => {
                return Err(fail(
                    &mut child,
                    format!("its greeting could not be read: {e}"),
                ))
            }
        };
        Ok(WorkerProcess {
            child,
            liveness: config.liveness_timeout,
            stdin: Some(stdin),
            stdout,
            hello,
        })
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[derive(serde::Serialize)]
struct RequestRef<'a> {
    id: u64,
    op: &'a str,
    args: &'a [u8],
}

impl WorkerProcess {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends one request and waits for its reply. `cancelled` is polled while waiting; when it
    /// returns true (or the task timeout passes) the worker is killed. After any `Err` the
    /// worker is dead and must be dropped.
    pub(crate) fn call(
        &mut self,
        id: u64,
        op: &str,
        args: &[u8],
        timeout: Option<Duration>,
        cancelled: &dyn Fn() -> bool,
    ) -> std::result::Result<Outcome, CallError> {
        // One write for the whole frame, so the worker wakes up once with all of it.
        let request = encode_frame(&RequestRef { id, op, args })
            .map_err(|e| CallError::Protocol(format!("request does not encode: {e}")))?;
        let Some(stdin) = self.stdin.as_mut() else {
            return Err(CallError::Died("its input pipe is closed".into()));
        };
        if let Err(e) = stdin.write_all(&request).and_then(|()| stdin.flush()) {
            return Err(CallError::Died(format!(
                "{} (sending the request failed: {e})",
                stop(&mut self.child)
            )));
        }
        let started = Instant::now();
        let mut heard = Instant::now();
        let liveness = self.liveness;
        loop {
            match wait_readable(self.stdout.as_raw_fd(), Some(TICK)) {
                Ok(true) => {
                    let mut reader = SilenceReader {
                        pipe: &mut self.stdout,
                        silence: liveness,
                    };
                    let frame = match read_frame(&mut reader) {
                        Ok(Some(frame)) => frame,
                        Ok(None) => return Err(CallError::Died(reap(&mut self.child))),
                        Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                            stop(&mut self.child);
                            return Err(CallError::Unresponsive(liveness.unwrap_or_default()));
                        }
                        Err(e) => {
                            return Err(CallError::Died(format!(
                                "{} (reading the reply failed: {e})",
                                reap(&mut self.child)
                            )))
                        }
                    };
                    let message: WorkerMsg = bincode::deserialize(&frame).map_err(|e| {
                        stop(&mut self.child);
                        CallError::Protocol(format!("reply does not decode: {e}"))
                    })?;
                    match message {
                        WorkerMsg::Beat => heard = Instant::now(),
                        WorkerMsg::Reply(reply) if reply.id == id => return Ok(reply.outcome),
                        WorkerMsg::Reply(reply) => {
                            stop(&mut self.child);
                            return Err(CallError::Protocol(format!(
                                "reply to request {} while {id} was expected",
                                reply.id
                            )));
                        }
                    }
                }
                Ok(false) => {}
                Err(e) => {
                    return Err(CallError::Died(format!(
                        "{} (waiting failed: {e})",
                        stop(&mut self.child)
                    )))
                }
            }
            if cancelled() {
                stop(&mut self.child);
                return Err(CallError::Cancelled);
            }
            if let Some(limit) = timeout.filter(|&limit| started.elapsed() >= limit) {
                stop(&mut self.child);
                return Err(CallError::TimedOut(limit));
            }
            if let Some(limit) = liveness.filter(|&limit| heard.elapsed() >= limit) {
                stop(&mut self.child);
                return Err(CallError::Unresponsive(limit));
            }
        }
    }
}

impl Drop for WorkerProcess {
    /// Closing its input tells the worker to exit; give it a moment, then make sure.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        stop(&mut self.child);
    }
}

/// Kills the child (if still running), reaps it and describes how it ended.
fn stop(child: &mut Child) -> String {
    if let Ok(Some(status)) = child.try_wait() {
        return describe(status);
    }
    let _ = child.kill();
    match child.wait() {
        Ok(status) => describe(status),
        Err(e) => format!("its exit status is unknown: {e}"),
    }
}

/// Reaps a child whose output closed: it is exiting, so wait briefly before killing it.
fn reap(child: &mut Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return describe(status),
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return format!("its exit status is unknown: {e}"),
        }
    }
    format!("{} after closing its output", stop(child))
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => "SIGKILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGFPE => "SIGFPE",
        libc::SIGILL => "SIGILL",
        libc::SIGPIPE => "SIGPIPE",
        _ => "signal",
    }
}

/// Human description of how a worker ended, with a hint for the usual suspects.
pub(crate) fn describe(status: ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        let hint = match signal {
            libc::SIGKILL => "; the out-of-memory killer also sends SIGKILL",
            libc::SIGABRT => "; the process aborted",
            _ => "",
        };
        format!("killed by signal {signal} ({}){hint}", signal_name(signal))
    } else if let Some(code) = status.code() {
        format!("exited with status {code}")
    } else {
        status.to_string()
    }
}
