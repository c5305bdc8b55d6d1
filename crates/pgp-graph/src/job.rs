//! What a worker does for one task: check it, run it through temporary outputs, put the outputs
//! in place, record it.

use crate::digest::Digest;
use crate::error::TaskError;
use crate::events::Event;
use crate::fsutil::{sync_dir, sync_file};
use crate::plan::{judge, prepare, RunReason, TaskDef, Verdict};
use crate::registry::OpVtable;
use crate::state::Ctx;
use crate::store::{OutputRecord, Record};
use crate::task::TaskIo;
use crate::temps::{self, temp_dir_name};
use std::any::Any;
use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
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
pub struct Completion {
    pub skipped: bool,
    pub result: Vec<u8>,
}

/// Temporary directories of one task's outputs, noted in the workspace until removed (see
/// `temps`), so that a crash leaves nothing that the next graph open would not sweep.
struct TempOutputs<'a> {
    workspace: &'a Path,
    dirs: Vec<PathBuf>,
    temps: Vec<PathBuf>,
}

impl<'a> TempOutputs<'a> {
    /// Creates (afresh: a leftover from a crash is removed) one temporary directory per output
    /// directory. Temporary outputs keep their file names, so format drivers that go by extension
    /// behave the same, and live on the same filesystem, so the final rename is atomic.
    fn create(workspace: &'a Path, def: &TaskDef) -> Result<Self, TaskError> {
        let mut t = TempOutputs {
            workspace,
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
                temps::forget(self.workspace, dir);
            }
        }
    }
}

impl Drop for TempOutputs<'_> {
    /// Also on an early return (a directory that could not be created).
    fn drop(&mut self) {
        self.discard();
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs one task to its end. Never panics: panics of the task body become [`TaskError::Panicked`].
pub fn run_job(ctx: &Ctx, def: &TaskDef, work: Work) -> Result<Completion, (TaskError, Duration)> {
    let start = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| execute(ctx, def, work, start)))
        .unwrap_or_else(|p| Err(TaskError::Panicked(panic_message(p.as_ref()))));
    outcome.map_err(|e| (e, start.elapsed()))
}

fn execute(ctx: &Ctx, def: &TaskDef, work: Work, start: Instant) -> Result<Completion, TaskError> {
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
                    ctx.emit(Event::Skipped {
                        task: def.name.clone(),
                        key: p.key,
                        duration: start.elapsed(),
                    });
                    return Ok(Completion {
                        skipped: true,
                        result: record.result,
                    });
                }
                Verdict::Run(reason) => reason,
            }
        }
    };
    ctx.emit(Event::Started {
        task: def.name.clone(),
        reason,
    });

    let temps = TempOutputs::create(ctx.store.root(), def)?;
    let result = run_body(ctx, def, work, &temps.temps);
    let result = result.and_then(|value| {
        install_outputs(ctx, def, &temps.temps)?;
        Ok(value)
    });
    drop(temps);
    let value = result?;

    if let Some(prepared) = prepared {
        let mut outputs = Vec::with_capacity(def.outputs.len());
        for path in &def.outputs {
            let found = ctx
                .memo
                .digest_settled(path)
                .map_err(|e| TaskError::Output {
                    path: path.clone(),
                    message: format!("cannot hash: {e}"),
                })?;
            outputs.push(OutputRecord {
                path: path.clone(),
                digest: found.digest,
                mtime_ns: found.stamp.mtime_ns,
                ino: found.stamp.ino,
            });
        }
        let record = Record {
            key: prepared.key,
            op_id: def.op_id.clone(),
            op_version: def.op_version,
            args_digest: Digest::of_bytes(&def.args),
            inputs: prepared.inputs,
            outputs,
            result: value.clone(),
            duration_ns: u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX),
        };
        ctx.store
            .save(&def.identity, &record)
            .map_err(|e| TaskError::Record(e.to_string()))?;
    }
    ctx.emit(Event::Finished {
        task: def.name.clone(),
        duration: start.elapsed(),
    });
    Ok(Completion {
        skipped: false,
        result: value,
    })
}

fn run_body(ctx: &Ctx, def: &TaskDef, work: Work, temps: &[PathBuf]) -> Result<Vec<u8>, TaskError> {
    match work {
        Work::Closure(body) => {
            let io = TaskIo {
                inputs: def.inputs.clone(),
                outputs: temps.to_vec(),
                final_outputs: def.outputs.clone(),
            };
            catch_unwind(AssertUnwindSafe(|| body(&io)))
                .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(p.as_ref()))))
                .map_err(TaskError::Op)
        }
        Work::Op(vtable) => {
            let redirected = (vtable.redirect)(&def.args, temps).map_err(TaskError::Op)?;
            if ctx.executor.runs_closures() {
                // Already on an executor worker: call the operation here.
                catch_unwind(AssertUnwindSafe(|| (vtable.run)(&redirected)))
                    .unwrap_or_else(|p| Err(format!("panicked: {}", panic_message(p.as_ref()))))
                    .map_err(TaskError::Op)
            } else {
                let handle = ctx
                    .executor
                    .submit_raw(vtable.name, redirected)
                    .map_err(|e| TaskError::Executor(e.to_string()))?;
                handle.wait().map_err(|e| TaskError::Op(e.to_string()))
            }
        }
    }
}

/// Moves finished temporary outputs into place: fsync each file, rename it over the final path,
/// fsync the directories. Only after this may the task be recorded.
fn install_outputs(ctx: &Ctx, def: &TaskDef, temps: &[PathBuf]) -> Result<(), TaskError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
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
        sync_file(temp).map_err(|e| err(format!("fsync failed: {e}")))?;
        fs::rename(temp, out).map_err(|e| err(format!("rename into place failed: {e}")))?;
        ctx.memo.forget(out);
        if let Some(parent) = out.parent() {
            if !dirs.iter().any(|d| d == parent) {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    for dir in dirs {
        sync_dir(&dir).map_err(|e| TaskError::Output {
            path: dir.clone(),
            message: format!("fsync failed: {e}"),
        })?;
    }
    Ok(())
}
