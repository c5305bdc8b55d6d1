//! The supervisor: keeps the pool's jobs alive while there is work, watches them through one
//! `squeue` call per interval, and ends the run.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::ExecError;
use crate::slurm::jobs::{self, JobState, Submission};
use crate::slurm::{Alloc, Shared};

/// Jobs in a row that may end without ever connecting before the pool gives up on Slurm.
const START_FAILURES: u32 = 3;

pub(super) fn run(shared: &Arc<Shared>) {
    let mut last_poll: Option<Instant> = None;
    loop {
        {
            let mut state = shared.state.lock();
            if state.finished || state.stopped {
                break;
            }
            let idle = shared.admission.in_flight() == 0;
            if state.closing && idle {
                break;
            }
            let _ = shared
                .changed
                .wait_for(&mut state, Duration::from_millis(250));
        }
        if shared.admission.in_flight() > 0 {
            top_up(shared);
        }
        if last_poll.is_none_or(|t| t.elapsed() >= shared.poll) {
            last_poll = Some(Instant::now());
            poll(shared);
        }
    }
    // Let the connection threads close their sockets first, so pilots end as COMPLETED.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline && shared.state.lock().allocs.iter().any(|a| a.connected) {
        std::thread::sleep(Duration::from_millis(20));
    }
    shared.finish();
}

/// Submits jobs until `workers` are alive (pending, running or connected and not retiring).
fn top_up(shared: &Shared) {
    loop {
        let missing = {
            let state = shared.state.lock();
            if state.fatal.is_some() || state.stopped || state.finished {
                return;
            }
            let alive = state
                .allocs
                .iter()
                .filter(|a| !a.ended && !a.retired)
                .count();
            shared.spec.workers().saturating_sub(alive)
        };
        if missing == 0 {
            return;
        }
        let options = shared.spec.sbatch_args();
        let script = shared.run_dir.join("worker.sh");
        // Held until the job is listed, so that cancelling everything waits for it.
        let _submitting = shared.submitting.lock();
        if shared.state.lock().finished {
            return;
        }
        let submitted = jobs::sbatch(&Submission {
            job_name: &shared.job_name,
            run_dir: &shared.run_dir,
            work_dir: &shared.work_dir,
            script: &script,
            options: &options,
        });
        match submitted {
            Ok((job_id, log)) => {
                shared.state.lock().allocs.push(Alloc {
                    job_id,
                    log,
                    state: JobState("SUBMITTED".into()),
                    connected: false,
                    connected_at: None,
                    node: None,
                    busy: false,
                    ended: false,
                    retired: false,
                    keep_log: false,
                });
            }
            Err(detail) => {
                give_up(
                    shared,
                    format!(
                        "submitting a worker job failed: {detail} (sbatch options: {})",
                        options.join(" ")
                    ),
                );
                return;
            }
        }
    }
}

/// Fails every task from now on with `detail`.
fn give_up(shared: &Shared, detail: String) {
    eprintln!("pgp-exec: Slurm executor: {detail}");
    shared.state.lock().fatal = Some(detail.clone());
    shared.fail_queued(|| ExecError::Slurm {
        detail: detail.clone(),
    });
    shared.changed.notify_all();
}

/// Updates every job's state from one `squeue` call; notices jobs that ended.
fn poll(shared: &Shared) {
    let ids: Vec<u64> = {
        let state = shared.state.lock();
        state
            .allocs
            .iter()
            .filter(|a| !a.ended)
            .map(|a| a.job_id)
            .collect()
    };
    if ids.is_empty() {
        return;
    }
    let listed: HashMap<u64, JobState> = match jobs::squeue(&shared.job_name) {
        Ok(listed) => listed.into_iter().collect(),
        // The controller may be busy; the next poll tries again, lost connections are seen
        // on the socket anyway.
        Err(e) => {
            eprintln!("pgp-exec: Slurm executor: {e}");
            return;
        }
    };
    let mut never_connected = Vec::new();
    {
        let mut state = shared.state.lock();
        for alloc in state.allocs.iter_mut().filter(|a| !a.ended) {
            let Some(job_state) = listed.get(&alloc.job_id) else {
                continue; // just submitted, or purged after MinJobAge: the socket tells
            };
            alloc.state = job_state.clone();
            if job_state.is_final() {
                alloc.ended = true;
                if alloc.connected_at.is_none() {
                    alloc.keep_log = true;
                    never_connected.push(alloc.clone());
                }
            }
        }
        if !never_connected.is_empty() {
            state.start_failures += never_connected.len() as u32;
        }
    }
    shared.changed.notify_all();
    for alloc in &never_connected {
        eprintln!(
            "pgp-exec: Slurm worker job {} ended ({}{}) before connecting; log: {}",
            alloc.job_id,
            alloc.state,
            alloc.state.explain(),
            alloc.log.display()
        );
    }
    let failures = shared.state.lock().start_failures;
    if let Some(last) = never_connected
        .last()
        .filter(|_| failures >= START_FAILURES)
    {
        let tail = jobs::log_tail(&last.log, 10);
        give_up(
            shared,
            format!(
                "{failures} worker jobs in a row ended without connecting to this program; the \
                 last, job {}, ended with state {}{}; its log {}{}",
                last.job_id,
                last.state,
                last.state.explain(),
                last.log.display(),
                if tail.trim().is_empty() {
                    " is empty".to_string()
                } else {
                    format!(" ends with:\n{tail}")
                }
            ),
        );
    }
}
