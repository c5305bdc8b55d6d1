//! What a worker does for one task: check it and run it through temporary outputs. Putting the
//! outputs in place and recording them is left to the [recorder](crate::recorder), so the
//! worker's slot is not spent waiting for disks (fsync) or for outputs to settle; the worker
//! only starts the outputs' writeback, so that the recorder's fsync finds little left to do.

use crate::cache::{Entry, EntryOutput, RestoreFailure, Verified};
use crate::ctx::{Ctx, Refreshed};
use crate::digest::Digest;
use crate::error::TaskError;
use crate::events::Event;
use crate::fsutil::{start_writeback, sync_dir, sync_file};
use crate::plan::{judge, prepare, Prepared, RunReason, TaskDef, Verdict};
use crate::registry::OpVtable;
use crate::store::Record;
use crate::task::TaskIo;
use crate::temps::{self, temp_dir_name};
use pgp_exec::WorkerId;
use std::any::Any;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A closure task's body, type-erased: returns its bincode-serialised value.
pub type ClosureBody = Box<dyn FnOnce(&TaskIo) -> Result<Vec<u8>, String> + Send>;

/// How a task computes its outputs.
pub enum Work {
    /// A registered or statically known operation; its arguments are in the task definition.
    Op(OpVtable),
    /// A Rust closure.
    Closure(ClosureBody),
}

/// How a task ended well.
#[derive(Debug)]
pub struct Completion {
    pub skipped: bool,
    /// Restored from the shared cache instead of run.
    pub restored: bool,
    pub result: Vec<u8>,
}

/// How a task ended: well, or with an error after some time.
pub type Outcome = Result<Completion, (TaskError, Duration)>;

/// A task that ran: its outputs are complete under their temporary paths, to be put in place,
/// hashed and recorded.
pub struct Installed {
    pub def: Arc<TaskDef>,
    pub prepared: Prepared,
    pub result: Vec<u8>,
    pub start: Instant,
    temps: TempOutputs,
    /// The outputs came from the shared cache (the task did not run).
    pub restored: bool,
    /// For restored outputs, what their verification found (one per output), so that the
    /// recorder does not read them again; empty for a task that ran.
    pub verified: Vec<Verified>,
    /// The directories the outputs were renamed into, once they were; not yet fsynced (the
    /// recorder does that once per directory for a whole group, before any record of the
    /// group is written).
    pub dirs: Vec<PathBuf>,
}

impl Installed {
    /// Puts the outputs in place: fsync each temporary file, rename it over the final path,
    /// remove the temporary directories. The renames are made durable later ([`sync_dirs`]).
    pub fn put_in_place(&mut self, ctx: &Ctx) -> Result<(), TaskError> {
        let installed = install_outputs(ctx, &self.def, &self.temps.temps);
        self.temps.discard();
        self.dirs = installed?;
        Ok(())
    }
}

/// Where a job got to on its worker.
pub enum JobEnd {
    /// Finished: skipped, failed, or a transient task that ran.
    Done(Outcome),
    /// Ran; its record remains to be written.
    Installed(Installed),
}

/// Temporary directories of one task's outputs, noted in the workspace until removed (see
/// `temps`), so that a crash leaves nothing that the next graph open would not sweep.
struct TempOutputs {
    workspace: PathBuf,
    dirs: Vec<PathBuf>,
    temps: Vec<PathBuf>,
}

impl TempOutputs {
    /// Creates (afresh: a leftover from a crash is removed) one temporary directory per output
    /// directory. Temporary outputs keep their file names, so format drivers that go by extension
    /// behave the same, and live on the same filesystem, so the final rename is atomic.
    fn create(workspace: &Path, def: &TaskDef) -> Result<Self, TaskError> {
        let mut t = TempOutputs {
            workspace: workspace.to_path_buf(),
            dirs: Vec::new(),
            temps: Vec::new(),
        };
        for out in &def.outputs {
            let err = |e: std::io::Error| TaskError::Output {
                path: out.clone(),
                message: e.to_string(),
            };
            let (Some(parent), Some(file)) = (out.parent(), out.file_name()) else {
                return Err(TaskError::Output {
                    path: out.clone(),
                    message: "not a file path".into(),
                });
            };
            let dir = parent.join(temp_dir_name(&def.identity));
            if !t.dirs.contains(&dir) {
                fs::create_dir_all(parent).map_err(err)?;
                temps::note(workspace, &dir).map_err(err)?;
                t.dirs.push(dir.clone());
                if dir.exists() {
                    fs::remove_dir_all(&dir).map_err(err)?;
                }
                fs::create_dir(&dir).map_err(err)?;
            }
            t.temps.push(dir.join(file));
        }
        Ok(t)
    }

    fn discard(&self) {
        for dir in &self.dirs {
            if fs::remove_dir_all(dir).is_ok() || !dir.exists() {
                temps::forget(&self.workspace, dir);
            }
        }
    }
}

impl Drop for TempOutputs {
    /// Also on an early return or a task dropped before its outputs were put in place.
    fn drop(&mut self) {
        self.discard();
    }
}

pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs one task up to its record. Never panics: panics of the task body become
/// [`TaskError::Panicked`].
pub fn run_job(ctx: &Ctx, def: &Arc<TaskDef>, work: Work) -> JobEnd {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| execute(ctx, def, work, start)))
        .unwrap_or_else(|p| Err(TaskError::Panicked(panic_message(p.as_ref()))));
    match outcome {
        Ok(end) => end,
        Err(e) => JobEnd::Done(Err((e, start.elapsed()))),
    }
}

fn execute(ctx: &Ctx, def: &Arc<TaskDef>, work: Work, start: Instant) -> Result<JobEnd, TaskError> {
    let prepared = if def.transient {
        None
    } else {
        Some(prepare(&ctx.memo, def)?)
    };
    let reason = match &prepared {
        None => RunReason::Transient,
        Some(p) => {
            let (verdict, warning) = judge(&ctx.store, &ctx.memo, def, p);
            if let Some(w) = warning {
                ctx.warn(w);
            }
            match verdict {
                Verdict::UpToDate(record) => {
                    let record = refresh_if_moved(ctx, def, record);
                    if ctx.cache().is_some_and(|c| !c.has_entry(&p.key)) {
                        let digests = record.outputs.iter().map(|o| o.digest).collect();
                        offer_to_cache(ctx, def, p.key, &record.result, digests);
                    }
                    ctx.emit(Event::Skipped {
                        task: def.name.clone(),
                        key: p.key,
                        duration: start.elapsed(),
                    });
                    return Ok(JobEnd::Done(Ok(Completion {
                        skipped: true,
                        restored: false,
                        result: record.result,
                    })));
                }
                Verdict::Run(reason) => {
                    if let Some(installed) = restore(ctx, def, p, start) {
                        return Ok(JobEnd::Installed(installed));
                    }
                    reason
                }
            }
        }
    };
    ctx.emit(Event::Started {
        task: def.name.clone(),
        reason,
    });

    let temps = TempOutputs::create(ctx.store.root(), def)?;
    let (result, worker) = run_body(ctx, def, work, &temps.temps);
    if let Some(worker) = worker {
        ctx.emit(Event::RanOn {
            task: def.name.clone(),
            worker,
        });
    }
    let result = result.and_then(|value| check_outputs(def, &temps.temps).map(|()| value));
    let result = match result {
        Ok(value) => value,
        Err(e) => {
            temps.discard();
            return Err(e);
        }
    };

    match prepared {
        Some(prepared) => {
            for temp in &temps.temps {
                start_writeback(temp);
            }
            Ok(JobEnd::Installed(Installed {
                def: Arc::clone(def),
                prepared,
                result,
                start,
                temps,
                restored: false,
                verified: Vec::new(),
                dirs: Vec::new(),
            }))
        }
        None => {
            // Transient: nothing is recorded, so the outputs are put in place here.
            let installed = install_outputs(ctx, def, &temps.temps);
            temps.discard();
            sync_dirs(&installed?)?;
            ctx.emit(Event::Finished {
                task: def.name.clone(),
                duration: start.elapsed(),
            });
            Ok(JobEnd::Done(Ok(Completion {
                skipped: false,
                restored: false,
                result,
            })))
        }
    }
}

/// The shared cache's entry for this task's key, if the graph has a cache and the entry is
/// valid and fits the task (same outputs, same places). Warnings (a damaged entry) are noted.
pub fn cached_entry(ctx: &Ctx, def: &TaskDef, prepared: &Prepared) -> Option<Entry> {
    let entry = match ctx.cache()?.lookup(&prepared.key) {
        Ok(entry) => entry?,
        Err(warning) => {
            ctx.warn(warning);
            return None;
        }
    };
    let fits = entry.outputs.len() == def.key.outputs.len()
        && entry
            .outputs
            .iter()
            .zip(&def.key.outputs)
            .all(|(o, place)| o.place == *place);
    fits.then_some(entry)
}

/// Restores the task's outputs from the shared cache into temporary outputs, verified against
/// their digests, ready to be put in place and recorded like those of a task that ran. `None`
/// (the task runs) without a usable entry; a damaged or unreadable blob is also a warning.
fn restore(
    ctx: &Ctx,
    def: &Arc<TaskDef>,
    prepared: &Prepared,
    start: Instant,
) -> Option<Installed> {
    let entry = cached_entry(ctx, def, prepared)?;
    let cache = ctx.cache()?;
    let temps = TempOutputs::create(ctx.store.root(), def).ok()?;
    match cache.restore(&entry, &temps.temps) {
        Ok(verified) => Some(Installed {
            def: Arc::clone(def),
            prepared: prepared.clone(),
            result: entry.result,
            start,
            temps,
            restored: true,
            verified,
            dirs: Vec::new(),
        }),
        Err(RestoreFailure::Missing(_)) => None,
        Err(failure) => {
            ctx.warn(format!("task '{}': {failure}", def.name));
            None
        }
    }
}

/// Queues a completed task's outputs (now in place, with these digests) for the shared cache.
pub fn offer_to_cache(ctx: &Ctx, def: &TaskDef, key: Digest, result: &[u8], digests: Vec<Digest>) {
    let Some(writer) = &ctx.cache else { return };
    if def.transient || digests.len() != def.outputs.len() {
        return;
    }
    let outputs = def
        .key
        .outputs
        .iter()
        .zip(&def.outputs)
        .zip(digests)
        .map(|((place, path), digest)| EntryOutput {
            place: place.clone(),
            digest,
            size: fs::metadata(path).map(|m| m.len()).unwrap_or(0),
        })
        .collect();
    let entry = Entry {
        key,
        op_id: def.op_id.clone(),
        op_version: def.op_version,
        outputs,
        result: result.to_vec(),
    };
    writer.add(entry, def.outputs.clone());
}

/// A record written under another project root (the project was copied or moved) is rewritten
/// with this root and the outputs' new inodes and mtimes, so that from now on touching an output
/// reruns its task here too. Saved with the others when the graph is joined ([`Ctx::refreshed`]).
/// Best effort: if it fails, the old record still vouches by content.
fn refresh_if_moved(ctx: &Ctx, def: &TaskDef, mut record: Record) -> Record {
    if record.root == ctx.store.project_root() {
        return record;
    }
    for (out, path) in record.outputs.iter_mut().zip(&def.outputs) {
        match ctx.memo.digest(path) {
            Ok(found) if found.digest == out.digest => {
                out.mtime_ns = found.stamp.mtime_ns;
                out.ino = found.stamp.ino;
            }
            _ => return record,
        }
    }
    record.root = ctx.store.project_root().to_path_buf();
    ctx.refreshed.lock().push(Refreshed {
        task: def.name.clone(),
        identity: def.identity,
        record: record.clone(),
    });
    record
}

/// Runs the task's body; its result, and the worker it ran on (`None` if it never reached one).
fn run_body(
    ctx: &Ctx,
    def: &TaskDef,
    work: Work,
    temps: &[PathBuf],
) -> (Result<Vec<u8>, TaskError>, Option<WorkerId>) {
    match work {
        Work::Closure(body) => {
            let io = TaskIo {
                inputs: def.inputs.clone(),
                outputs: temps.to_vec(),
                final_outputs: def.outputs.clone(),
            };
            let result = catch_unwind(AssertUnwindSafe(|| body(&io)))
                .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(p.as_ref()))))
                .map_err(TaskError::Op);
            (result, Some(WorkerId::current_thread()))
        }
        Work::Op(vtable) => {
            let redirected = match (vtable.redirect)(&def.args, temps) {
                Ok(args) => args,
                Err(e) => return (Err(TaskError::Op(e)), None),
            };
            if ctx.executor.runs_closures() {
                // The operation runs on this task's thread and parallelises on the graph's own
                // executor: the executor is the budget of the whole graph.
                let result = catch_unwind(AssertUnwindSafe(|| {
                    (vtable.run_on)(&redirected, &ctx.executor)
                }))
                .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(p.as_ref()))))
                .map_err(TaskError::Op);
                (result, Some(WorkerId::current_thread()))
            } else {
                let submitted = ctx.executor.submit_raw_with_walltime(
                    Vec::new(),
                    vtable.name,
                    redirected,
                    def.walltime,
                );
                match submitted {
                    Ok(handle) => {
                        let (result, worker) = handle.wait_with_worker();
                        (result.map_err(|e| TaskError::Op(e.to_string())), worker)
                    }
                    Err(e) => (Err(TaskError::Executor(e.to_string())), None),
                }
            }
        }
    }
}

/// Checks that the task wrote every output, as a regular file, to its temporary path.
fn check_outputs(def: &TaskDef, temps: &[PathBuf]) -> Result<(), TaskError> {
    for (temp, out) in temps.iter().zip(&def.outputs) {
        let err = |message: String| TaskError::Output {
            path: out.clone(),
            message,
        };
        match fs::metadata(temp) {
            Ok(md) if md.is_file() => {}
            Ok(_) => return Err(err("was not written as a regular file".into())),
            Err(_) => {
                return Err(err(format!(
                    "was not written (the task must write it to the temporary path {})",
                    temp.display()
                )))
            }
        }
    }
    Ok(())
}

/// Moves finished temporary outputs into place: fsync each file, rename it over the final path.
/// Returns the directories renamed into, which must be fsynced before the task is recorded.
fn install_outputs(ctx: &Ctx, def: &TaskDef, temps: &[PathBuf]) -> Result<Vec<PathBuf>, TaskError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (temp, out) in temps.iter().zip(&def.outputs) {
        let err = |message: String| TaskError::Output {
            path: out.clone(),
            message,
        };
        sync_file(temp).map_err(|e| err(format!("fsync failed: {e}")))?;
        fs::rename(temp, out).map_err(|e| err(format!("rename into place failed: {e}")))?;
        ctx.memo.forget(out);
        if let Some(parent) = out.parent() {
            if !dirs.iter().any(|d| d == parent) {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    Ok(dirs)
}

/// Makes the renames into `dirs` durable.
pub fn sync_dirs(dirs: &[PathBuf]) -> Result<(), TaskError> {
    for dir in dirs {
        sync_dir(dir).map_err(|e| TaskError::Output {
            path: dir.clone(),
            message: format!("fsync failed: {e}"),
        })?;
    }
    Ok(())
}
