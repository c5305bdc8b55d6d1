//! The recorder: hashes the outputs of tasks that ran and writes their records, in groups.
//!
//! A task's outputs can only be hashed into trusted memo entries once they are older than the
//! filesystem's timestamp resolution (the racy-timestamp rule, see [`crate::memo`]): on a
//! fine-grained filesystem up to [`FINE_WINDOW`](crate::memo::FINE_WINDOW) after they were
//! written. Instead of every worker sleeping through that wait (and through the fsyncs before
//! it), a worker hands the task that ran here and takes the next one. The recorder puts the
//! outputs in place as they arrive (fsync each file, rename it over the final path), waits for
//! the earliest settle deadline, and then records every task whose outputs have settled by then
//! (and those that arrived while it waited), as one group:
//!
//! 1. each output directory of the group is fsynced once (the renames become durable);
//! 2. each output is hashed (through the memo, so the next run trusts it);
//! 3. the records are written as a group commit: every record's temporary file is written and
//!    fsynced, all are renamed into place, the records directory is fsynced once.
//!
//! A record is still written only after its outputs are in place, durable and hashed, so a crash
//! at any moment leaves no record a rerun would wrongly accept: a task handed here and not yet
//! recorded simply reruns.

use crate::cache::Verified;
use crate::ctx::Ctx;
use crate::digest::Digest;
use crate::error::TaskError;
use crate::events::Event;
use crate::fsutil::sync_dir;
use crate::job::{offer_to_cache, Completion, Installed, Outcome};
use crate::memo::{FileDigest, FileStamp};
use crate::store::{OutputRecord, Record};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Outputs above this many bytes in one group are hashed on several threads.
const PARALLEL_HASH_BYTES: u64 = 8 << 20;

/// How many threads put outputs in place at once (they mostly wait for fsync, not for a CPU).
const FSYNC_THREADS: usize = 8;

/// The longest a settled task waits for others to join its group.
const MAX_LINGER: Duration = Duration::from_millis(20);

/// A running recorder thread. Dropping the last [`Recorder::sender`] and calling
/// [`Recorder::finish`] records what is left and stops it.
pub struct Recorder {
    tx: Sender<(usize, Installed)>,
    thread: JoinHandle<()>,
}

impl Recorder {
    /// Starts the thread; `done` receives each group's outcomes, by task id.
    pub fn start(
        ctx: Arc<Ctx>,
        done: impl Fn(Vec<(usize, Outcome)>) + Send + 'static,
    ) -> std::io::Result<Recorder> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("pgp-graph-recorder".into())
            .spawn(move || run(&ctx, &rx, &done))?;
        Ok(Recorder { tx, thread })
    }

    /// Where workers hand installed tasks.
    pub fn sender(&self) -> Sender<(usize, Installed)> {
        self.tx.clone()
    }

    /// Records everything handed over so far, then stops the thread.
    pub fn finish(self) {
        drop(self.tx);
        let _ = self.thread.join();
    }
}

struct Waiting {
    due: Instant,
    id: usize,
    task: Installed,
    /// Why its outputs could not be put in place.
    failed: Option<TaskError>,
}

fn run(ctx: &Ctx, rx: &Receiver<(usize, Installed)>, done: &dyn Fn(Vec<(usize, Outcome)>)) {
    let mut waiting: Vec<Waiting> = Vec::new();
    let mut open = true;
    // How long the last group took to commit. A settled task waits about as long for others to
    // settle and join its group: a commit costs a few fsyncs whatever its size, so when commits
    // are slow, bigger groups keep the recorder from falling behind the workers.
    let mut linger = Duration::ZERO;
    while open || !waiting.is_empty() {
        let next = waiting.iter().map(|w| w.due).min();
        match next {
            None => match rx.recv() {
                Ok(item) => {
                    let mut items = vec![item];
                    items.extend(rx.try_iter());
                    waiting.extend(settle_all(ctx, items));
                }
                Err(_) => open = false,
            },
            Some(due) => {
                if open {
                    open = receive_until(ctx, rx, due, &mut waiting);
                } else {
                    std::thread::sleep(due.saturating_duration_since(Instant::now()));
                }
            }
        }
        if !waiting.iter().any(|w| w.due <= Instant::now()) {
            continue;
        }
        if open && !linger.is_zero() {
            open = receive_until(ctx, rx, Instant::now() + linger, &mut waiting);
        }
        let now = Instant::now();
        let (due, later): (Vec<Waiting>, Vec<Waiting>) =
            waiting.into_iter().partition(|w| w.due <= now);
        waiting = later;
        let began = Instant::now();
        done(record_group(ctx, due));
        linger = began.elapsed().min(MAX_LINGER);
    }
}

/// Takes tasks handed over until `until`; false once every sender is gone.
fn receive_until(
    ctx: &Ctx,
    rx: &Receiver<(usize, Installed)>,
    until: Instant,
    waiting: &mut Vec<Waiting>,
) -> bool {
    loop {
        match rx.recv_deadline(until) {
            Ok(item) => {
                let mut items = vec![item];
                items.extend(rx.try_iter());
                waiting.extend(settle_all(ctx, items));
            }
            Err(RecvTimeoutError::Timeout) => return true,
            Err(RecvTimeoutError::Disconnected) => return false,
        }
    }
}

/// [`settle_deadline`] of many tasks, on several threads: putting outputs in place is mostly
/// waiting for the disk (fsync), and waits overlap.
fn settle_all(ctx: &Ctx, items: Vec<(usize, Installed)>) -> Vec<Waiting> {
    if items.len() < 2 {
        return items.into_iter().map(|i| settle_deadline(ctx, i)).collect();
    }
    let threads = items.len().min(FSYNC_THREADS);
    let mut chunks: Vec<Vec<(usize, Installed)>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        chunks[i % threads].push(item);
    }
    std::thread::scope(|scope| {
        let parts: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|i| settle_deadline(ctx, i))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    })
}

/// When every output of `task` will have settled.
/// Puts a handed-over task's outputs in place and computes when they will have settled (the
/// rename changed their ctime, so only now).
fn settle_deadline(ctx: &Ctx, (id, mut task): (usize, Installed)) -> Waiting {
    if let Err(e) = task.put_in_place(ctx) {
        return Waiting {
            due: Instant::now(),
            id,
            task,
            failed: Some(e),
        };
    }
    let now = Instant::now();
    // Restored outputs were hashed before they were renamed into place: the recorder takes
    // their verified digests (see `record_of`) and has nothing to wait for.
    let wait = if task.restored {
        Duration::ZERO
    } else {
        task.def
            .outputs
            .iter()
            .filter_map(|path| FileStamp::of(path).ok())
            .map(|stamp| ctx.memo.settle_wait(&stamp))
            .max()
            .unwrap_or_default()
    };
    Waiting {
        due: now + wait,
        id,
        task,
        failed: None,
    }
}

/// Records a group of settled tasks; one outcome per task.
fn record_group(ctx: &Ctx, group: Vec<Waiting>) -> Vec<(usize, Outcome)> {
    // 1. Make the renames durable, once per directory.
    let mut dir_errors: HashMap<PathBuf, String> = HashMap::new();
    let mut synced: Vec<&PathBuf> = Vec::new();
    for dir in group.iter().flat_map(|w| &w.task.dirs) {
        if !synced.contains(&dir) {
            synced.push(dir);
            if let Err(e) = sync_dir(dir) {
                dir_errors.insert(dir.clone(), format!("fsync failed: {e}"));
            }
        }
    }
    // 2. Hash the outputs (in parallel when there is much to read).
    let records = hash_outputs(ctx, &group, &dir_errors);
    // 3. Write the records that could be made, as one group.
    let ready: Vec<(Digest, Record)> = records
        .iter()
        .zip(&group)
        .filter_map(|(r, w)| Some((w.task.def.identity, r.as_ref().ok()?.clone())))
        .collect();
    let mut saved = ctx.store.save_group(&ready).into_iter();
    records
        .into_iter()
        .zip(group)
        .map(|(record, w)| {
            let outcome = record
                .and_then(|record| match saved.next() {
                    Some(Err(e)) => Err(TaskError::Record(e.to_string())),
                    _ => Ok(record),
                })
                .map(|record| {
                    let (task, duration) = (w.task.def.name.clone(), w.task.start.elapsed());
                    if w.task.restored {
                        ctx.emit(Event::Restored {
                            task,
                            key: record.key,
                            duration,
                        });
                    } else {
                        ctx.emit(Event::Finished { task, duration });
                        let digests = record.outputs.iter().map(|o| o.digest).collect();
                        offer_to_cache(ctx, &w.task.def, record.key, &w.task.result, digests);
                    }
                    Completion {
                        skipped: false,
                        restored: w.task.restored,
                        result: w.task.result,
                    }
                })
                .map_err(|e| (e, w.task.start.elapsed()));
            (w.id, outcome)
        })
        .collect()
}

fn hash_outputs(
    ctx: &Ctx,
    group: &[Waiting],
    dir_errors: &HashMap<PathBuf, String>,
) -> Vec<Result<Record, TaskError>> {
    let one = |w: &Waiting| match &w.failed {
        Some(e) => Err(e.clone()),
        None => record_of(ctx, &w.task, dir_errors),
    };
    let bytes: u64 = group
        .iter()
        .flat_map(|w| &w.task.def.outputs)
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let threads = ctx.executor.workers().min(group.len());
    if threads < 2 || bytes < PARALLEL_HASH_BYTES {
        return group.iter().map(one).collect();
    }
    let chunk = group.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let parts: Vec<_> = group
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(one).collect::<Vec<_>>()))
            .collect();
        parts
            .into_iter()
            .flat_map(|p| {
                p.join().unwrap_or_else(|_| {
                    vec![Err(TaskError::Record("hashing thread panicked".into())); chunk]
                })
            })
            .take(group.len())
            .collect()
    })
}

fn record_of(
    ctx: &Ctx,
    task: &Installed,
    dir_errors: &HashMap<PathBuf, String>,
) -> Result<Record, TaskError> {
    if let Some((dir, message)) = task
        .dirs
        .iter()
        .find_map(|d| dir_errors.get(d).map(|m| (d, m)))
    {
        return Err(TaskError::Output {
            path: dir.clone(),
            message: message.clone(),
        });
    }
    let def = &task.def;
    let mut outputs = Vec::with_capacity(def.outputs.len());
    for (i, (path, key_path)) in def.outputs.iter().zip(&def.key.outputs).enumerate() {
        let found = match task
            .verified
            .get(i)
            .and_then(|v| still_verified(ctx, path, v))
        {
            Some(found) => found,
            None => ctx.memo.digest(path).map_err(|e| TaskError::Output {
                path: path.clone(),
                message: format!("cannot hash: {e}"),
            })?,
        };
        outputs.push(OutputRecord {
            path: key_path.clone(),
            digest: found.digest,
            mtime_ns: found.stamp.mtime_ns,
            ino: found.stamp.ino,
        });
    }
    Ok(Record {
        key: task.prepared.key,
        op_id: def.op_id.clone(),
        op_version: def.op_version,
        args_digest: Digest::of_bytes(&def.key.args),
        inputs: task.prepared.inputs.clone(),
        outputs,
        result: task.result.clone(),
        duration_ns: u64::try_from(task.start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        root: ctx.store.project_root().to_path_buf(),
    })
}

/// The digest a restored output was verified with, if the file at `path` is still the one that
/// was hashed: same inode, size and mtime (the rename into place changed only its ctime), and
/// an mtime that was already settled when it was hashed, so that any write since would have
/// moved it. The memo then vouches for it for the rest of the run (dependents read it as
/// input). Otherwise `None`: it is hashed like any output.
fn still_verified(ctx: &Ctx, path: &std::path::Path, verified: &Verified) -> Option<FileDigest> {
    let now = FileStamp::of(path).ok()?;
    let was = &verified.stamp;
    let same =
        (now.size, now.mtime_ns, now.ino, now.dev) == (was.size, was.mtime_ns, was.ino, was.dev);
    if !same || !ctx.memo.mtime_settled(was, verified.hashed_at_ns) {
        return None;
    }
    let found = FileDigest {
        digest: verified.digest,
        stamp: now,
    };
    ctx.memo.vouch(path, found, verified.hashed_at_ns);
    Some(found)
}
