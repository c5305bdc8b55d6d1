//! SIGINT and SIGTERM: end every worker (Slurm jobs cancelled, worker processes killed), delete
//! this run's temporary outputs, then die of the signal.
//!
//! Without this, `pgp calc` stopped by Ctrl-C or `kill` left its hidden
//! `.out.pgp-tmp-<pid>-0.tif` (tens of MB) beside the output, and `pgp run` on Slurm left its
//! pending jobs in the queue (the Slurm pool's own handler never runs: the signals are blocked
//! here). Workers go first, so nothing they write lands after the cleanup; the graph's records
//! need nothing: a task is only recorded once its outputs are complete. The signals are blocked in every
//! thread (threads inherit the mask of the thread that starts them, so this runs first in
//! `main`) and taken by one thread with `sigwait`, so the cleanup is ordinary code rather than
//! async-signal-unsafe work inside a handler. No crate needed: libc's `sigwait` is all it takes.
//! Child processes (pool workers) start with an empty mask: `std::process::Command` resets it.

/// Set once a signal was taken: the process is about to die of it.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Waits for the end if a signal is being handled (never returns then).
///
/// Ending the workers makes their tasks fail at once, so the command would otherwise report
/// those failures and exit with status 1 before the signal thread is done: call this where a
/// command's result is about to be reported.
pub fn wait_if_stopping() {
    if STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
        loop {
            std::thread::park();
        }
    }
}

/// Starts the thread that handles SIGINT and SIGTERM. Must run before any other thread starts.
#[cfg(unix)]
pub fn install() {
    // SAFETY: sigset operations on a local, initialised set; pthread_sigmask on this thread.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        set
    };
    let spawned = std::thread::Builder::new()
        .name("pgp-signals".into())
        .spawn(move || {
            let mut signal: libc::c_int = 0;
            // SAFETY: `set` is a valid signal set and `signal` a valid out-pointer.
            if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
                return;
            }
            STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
            pgp::exec::stop_all_workers();
            pgp::core::remove_live_temporaries();
            pgp::graph::remove_live_temporaries();
            die_of(signal);
        });
    if spawned.is_err() {
        // No handler thread: let the signals act as before rather than be ignored.
        // SAFETY: unblocking the set blocked above on this thread.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    }
}

#[cfg(not(unix))]
pub fn install() {}

/// Ends the process by `signal` itself, so the parent sees "killed by SIGINT" as it would have
/// without a handler (shells rely on that to stop a script on Ctrl-C).
#[cfg(unix)]
fn die_of(signal: libc::c_int) -> ! {
    // SAFETY: restoring the default action and unblocking the signal on this thread, then
    // raising it at this thread: the default action ends the process.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
    }
    std::process::exit(128 + signal)
}
