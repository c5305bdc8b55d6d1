//! Jobs must not outlive the program that submitted them: on SIGINT or SIGTERM, and when the
//! program exits, every live pool cancels its jobs.
//!
//! The signal handler only writes the signal's number to a pipe (all a handler may safely do);
//! a thread reads it, cancels the jobs, restores the default action and raises the signal
//! again, so the program still ends the way the signal means. At exit (`main` returning or
//! `std::process::exit`) an `atexit` hook does the same cancelling. A program that installed
//! handlers of its own keeps them: the pool then only cancels at exit, on
//! [`SlurmPool::shutdown`](super::SlurmPool::shutdown) and when that handler calls
//! [`stop_all_workers`](crate::stop_all_workers) (which `pgp`'s does). A program whose
//! signals are blocked (taken with `sigwait`) must call it: the handler here never runs then.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Once, Weak};

use parking_lot::Mutex;

use super::Shared;

static POOLS: Mutex<Vec<Weak<Shared>>> = Mutex::new(Vec::new());
static INSTALL_EXIT: Once = Once::new();
static INSTALL_SIGNALS: Once = Once::new();
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The signal being handled (0: none). Cancelling the jobs can wake the main thread, which may
/// then `exit` before the signal thread re-raises: the exit hook raises it instead, so the
/// program still ends by the signal, not with the status its `main` chose.
static PENDING_SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Cancels the jobs of every live pool (the program is ending: tasks are left as they are).
pub(crate) fn stop_all() {
    let pools: Vec<Arc<Shared>> = {
        let mut pools = POOLS.lock();
        pools.retain(|p| p.strong_count() > 0);
        pools.iter().filter_map(Weak::upgrade).collect()
    };
    for pool in pools {
        pool.finish();
    }
}

extern "C" fn at_exit() {
    stop_all();
    let signal = PENDING_SIGNAL.load(Ordering::SeqCst);
    if signal != 0 {
        // SAFETY: restores the default action and re-raises the signal being handled, ending
        // the program as the signal asked (see PENDING_SIGNAL).
        unsafe {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// Makes the pool's jobs end with the program.
pub(super) fn register(pool: &Arc<Shared>) {
    POOLS.lock().push(Arc::downgrade(pool));
    INSTALL_EXIT.call_once(|| {
        // SAFETY: registers a plain function with no arguments, as atexit requires.
        unsafe { libc::atexit(at_exit) };
    });
}

extern "C" fn on_signal(signal: libc::c_int) {
    let byte = signal as u8;
    let fd = WAKE_FD.load(Ordering::Relaxed);
    // SAFETY: write(2) is async-signal-safe; the fd is set before the handler is installed.
    unsafe {
        libc::write(fd, (&byte as *const u8).cast(), 1);
    }
}

/// [`register`], and cancel the jobs on SIGINT and SIGTERM too.
pub(super) fn watch(pool: &Arc<Shared>) {
    register(pool);
    INSTALL_SIGNALS.call_once(install);
}

fn install() {
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 fills two fds on success; every call's result is checked or harmless.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return;
        }
    }
    WAKE_FD.store(fds[1], Ordering::Relaxed);
    let read_fd = fds[0];
    let spawned = std::thread::Builder::new()
        .name("pgp-slurm-signals".into())
        .spawn(move || loop {
            let mut byte = 0u8;
            // SAFETY: reads one byte into a live buffer from the pipe this thread owns.
            let n = unsafe { libc::read(read_fd, (&mut byte as *mut u8).cast(), 1) };
            if n == 1 {
                let signal = i32::from(byte);
                eprintln!("pgp-exec: signal {signal}: cancelling this program's Slurm jobs");
                PENDING_SIGNAL.store(signal, Ordering::SeqCst);
                stop_all();
                // SAFETY: restores the default action and re-raises, ending the program as the
                // signal asked.
                unsafe {
                    libc::signal(signal, libc::SIG_DFL);
                    libc::raise(signal);
                }
            } else if n == 0 {
                return;
            }
        });
    if spawned.is_err() {
        return;
    }
    for signal in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: queries then (only if it is the default) replaces the signal's action with a
        // handler that only calls write(2).
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) != 0
                || current.sa_sigaction != libc::SIG_DFL
            {
                continue;
            }
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut action.sa_mask);
            action.sa_flags = libc::SA_RESTART;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}
