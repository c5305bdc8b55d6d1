//! The worker side of the Slurm executor: a pilot process inside a Slurm job.
//!
//! The job's batch script starts the worker program with [`RUN_ENV`] pointing at the run
//! directory. [`crate::worker::run_if_worker`] sees it and calls [`run`]: size the process to its
//! allocation, connect to the driver, prove knowledge of the run's secret (and check the
//! driver's proof), then serve the process pool's own protocol on the socket until the driver
//! closes it. The pilot exits by itself when the driver is gone: a closed connection (the driver
//! exited or was killed) is seen at once, a vanished host through TCP keepalive within a minute.

use std::io::Read;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::protocol::{read_frame, write_frame};
use crate::slurm::auth::{self, WorkerProof, GREETING};
use crate::slurm::RUN_ENV;

/// The run directory, if this process was started as a Slurm pilot (and clears the variable,
/// so programs an operation starts are not pilots).
pub(crate) fn run_dir_from_env() -> Option<PathBuf> {
    let dir = std::env::var_os(RUN_ENV)?;
    std::env::remove_var(RUN_ENV);
    Some(PathBuf::from(dir))
}

/// Serves as a pilot; returns the process exit code.
pub(crate) fn run(run_dir: &Path) -> i32 {
    let job = std::env::var("SLURM_JOB_ID").unwrap_or_default();
    match serve(run_dir, &job) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!(
                "pgp-exec Slurm worker (job {job}, pid {}): {error}",
                std::process::id()
            );
            1
        }
    }
}

fn serve(run_dir: &Path, job: &str) -> Result<(), String> {
    let job_id: u64 = job
        .parse()
        .map_err(|_| format!("SLURM_JOB_ID is {job:?}; a pilot runs inside a Slurm job"))?;
    size_to_allocation();
    let secret = auth::read_secret(run_dir).map_err(|e| format!("reading the run secret: {e}"))?;
    let (mut stream, address) = connect(run_dir)?;
    authenticate(&mut stream, &secret, job_id)
        .map_err(|e| format!("authenticating with the driver at {address}: {e}"))?;
    eprintln!(
        "pgp-exec Slurm worker (job {job_id}, pid {}): connected to {address}",
        std::process::id()
    );
    watch_for_driver_exit(&stream);
    let reader = stream.try_clone().map_err(|e| format!("socket: {e}"))?;
    // No heartbeats: a lost job shows as a closed socket, in squeue, or to TCP keepalive.
    crate::worker::serve_on(reader, stream, None).map_err(|e| e.to_string())
}

/// The addresses the driver listens on, one per line in `connect`, tried in order.
fn connect(run_dir: &Path) -> Result<(TcpStream, SocketAddr), String> {
    let path = run_dir.join("connect");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut tried = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let addresses = match line.to_socket_addrs() {
            Ok(a) => a,
            Err(e) => {
                tried.push(format!("{line}: {e}"));
                continue;
            }
        };
        for address in addresses {
            match TcpStream::connect_timeout(&address, Duration::from_secs(10)) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    super::conn::keepalive(&stream);
                    return Ok((stream, address));
                }
                Err(e) => tried.push(format!("{address}: {e}")),
            }
        }
    }
    Err(format!(
        "cannot reach the driver (it may have exited): {}",
        tried.join("; ")
    ))
}

fn authenticate(stream: &mut TcpStream, secret: &[u8], job_id: u64) -> Result<(), String> {
    let timeout = Some(Duration::from_secs(30));
    stream
        .set_read_timeout(timeout)
        .and_then(|()| stream.set_write_timeout(timeout))
        .map_err(|e| e.to_string())?;
    let mut greeting = [0u8; GREETING.len() + auth::KEY_LEN];
    stream
        .read_exact(&mut greeting)
        .map_err(|e| format!("no greeting: {e}"))?;
    if greeting[..GREETING.len()] != GREETING {
        return Err("the peer is not a pgp Slurm driver".into());
    }
    let nd = &greeting[GREETING.len()..];
    let nonce = auth::random_bytes().map_err(|e| e.to_string())?;
    let node = node_name();
    let proof = WorkerProof {
        job_id,
        pid: std::process::id(),
        mac: auth::worker_mac(secret, nd, &nonce, job_id, &node),
        node,
        nonce,
    };
    let frame = bincode::serialize(&proof).map_err(|e| e.to_string())?;
    write_frame(stream, &frame).map_err(|e| e.to_string())?;
    let answer = read_frame(stream)
        .map_err(|e| format!("the driver refused this worker: {e}"))?
        .ok_or("the driver refused this worker (connection closed)")?;
    if !auth::same(&answer, &auth::driver_mac(secret, &nonce, nd)) {
        return Err("the peer could not prove it is this run's driver; refusing its work".into());
    }
    stream
        .set_read_timeout(None)
        .and_then(|()| stream.set_write_timeout(None))
        .map_err(|e| e.to_string())
}

/// The node's name as Slurm calls it (`SLURMD_NODENAME`, set in every job), else the host name;
/// cut to [`auth::MAX_NODE_NAME`] bytes.
fn node_name() -> String {
    let mut name = std::env::var("SLURMD_NODENAME")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(super::host_name);
    while name.len() > auth::MAX_NODE_NAME {
        name.pop();
    }
    name
}

/// Exits the process when the driver closes the connection, even while a task is running (so
/// a killed driver does not leave workers busy for hours).
fn watch_for_driver_exit(stream: &TcpStream) {
    let fd = stream.as_raw_fd();
    let _ = std::thread::Builder::new()
        .name("pgp-slurm-watch".into())
        .spawn(move || loop {
            let mut poll = libc::pollfd {
                fd,
                events: libc::POLLRDHUP,
                revents: 0,
            };
            // SAFETY: one valid pollfd; the socket lives until the process exits.
            let ready = unsafe { libc::poll(&mut poll, 1, 1000) };
            if ready > 0 && poll.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0 {
                eprintln!(
                    "pgp-exec Slurm worker (pid {}): the driver closed the connection; exiting",
                    std::process::id()
                );
                std::process::exit(0);
            }
        });
}

/// Threads from the job's CPUs, GDAL's block cache from its memory (and pgp's own caches, through
/// [`crate::allocation_memory_mb`]).
///
/// GDAL's default cache is 5% of the node's RAM, which on a large node can exceed a small
/// allocation (pygeoprocessing's `slurm_utils` warns about exactly this); a quarter of the job's
/// memory leaves the rest to the operation's own buffers. A `GDAL_CACHEMAX` the user set is kept
/// when it fits the allocation, and lowered with a warning in the job's log when it does not.
fn size_to_allocation() {
    let cpus = env_u64("SLURM_CPUS_PER_TASK").or_else(|| env_u64("SLURM_CPUS_ON_NODE"));
    if let Some(cpus) = cpus.filter(|&c| c > 0) {
        crate::spec::grant_cores(cpus as usize);
    }
    let Some(job_mb) = job_memory_mb(cpus) else {
        return;
    };
    crate::spec::grant_memory_mb(job_mb);
    let current = std::env::var("GDAL_CACHEMAX").ok();
    let (cache_mb, note) = gdal_cache_for(job_mb, current.as_deref(), node_memory_mb());
    std::env::set_var("GDAL_CACHEMAX", cache_mb.to_string());
    eprintln!(
        "pgp-exec Slurm worker: job memory {job_mb} MB, {} CPU(s); GDAL_CACHEMAX={cache_mb} MB{note}",
        crate::spec::available_cores()
    );
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

fn job_memory_mb(cpus: Option<u64>) -> Option<u64> {
    env_u64("SLURM_MEM_PER_NODE")
        .or_else(|| Some(env_u64("SLURM_MEM_PER_CPU")? * cpus.unwrap_or(1)))
        .filter(|&mb| mb > 0)
}

fn node_memory_mb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

/// The GDAL cache (MB) for a job of `job_mb`, given the user's `GDAL_CACHEMAX` (GDAL's rules:
/// `N%` of the node's RAM, a number below 100000 in megabytes, else bytes), with a note for the
/// log.
pub(crate) fn gdal_cache_for(
    job_mb: u64,
    user: Option<&str>,
    node_mb: Option<u64>,
) -> (u64, String) {
    let fit = (job_mb / 4).max(1);
    let Some(text) = user.map(str::trim).filter(|t| !t.is_empty()) else {
        return (fit, " (a quarter of the job's memory)".into());
    };
    let asked_mb = if let Some(percent) = text.strip_suffix('%') {
        percent
            .trim()
            .parse::<f64>()
            .ok()
            .zip(node_mb)
            .map(|(p, node)| (p / 100.0 * node as f64) as u64)
    } else {
        text.parse::<u64>()
            .ok()
            .map(|n| if n < 100_000 { n } else { n / (1024 * 1024) })
    };
    match asked_mb {
        Some(mb) if mb <= job_mb / 2 => (mb.max(1), " (as set by GDAL_CACHEMAX)".into()),
        Some(mb) => (
            fit,
            format!(
                "; WARNING: GDAL_CACHEMAX={text} asks for {mb} MB, more than half of the job's \
                 {job_mb} MB, so it was lowered (raise `mem` to keep it)"
            ),
        ),
        None => (
            fit,
            format!("; WARNING: GDAL_CACHEMAX={text:?} is not understood, replaced"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdal_cache_fits_the_allocation() {
        assert_eq!(gdal_cache_for(16384, None, Some(512_000)).0, 4096);
        assert_eq!(gdal_cache_for(2, None, None).0, 1);
        // The user's value is kept when it fits, in every unit GDAL accepts.
        assert_eq!(gdal_cache_for(16384, Some("1024"), None).0, 1024);
        assert_eq!(gdal_cache_for(16384, Some("536870912"), None).0, 512);
        assert_eq!(gdal_cache_for(16384, Some("1%"), Some(512_000)).0, 5120);
        // 5% of a 512 GB node is far more than a 16 GB job: lowered, with a warning.
        let (mb, note) = gdal_cache_for(16384, Some("5%"), Some(512_000));
        assert_eq!(mb, 4096);
        assert!(
            note.contains("WARNING") && note.contains("25600 MB"),
            "{note}"
        );
        let (mb, note) = gdal_cache_for(1000, Some("lots"), None);
        assert_eq!(mb, 250);
        assert!(note.contains("not understood"), "{note}");
    }
}
