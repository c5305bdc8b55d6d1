//! Deciding whether a task runs or is skipped, and saying why.

use crate::digest::Digest;
use crate::error::TaskError;
use crate::key::{canonical_args, key_inputs, KeyParts};
use crate::memo::DigestMemo;
use crate::paths::{key_path, path_bytes};
use crate::store::{Record, Store};
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a task runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunReason {
    /// No record of this task exists.
    New,
    /// The task is transient: it always runs.
    Transient,
    /// The operation's id or version differs from the recorded one.
    VersionChanged {
        /// Recorded `op@version`.
        from: String,
        /// Current `op@version`.
        to: String,
    },
    /// The serialised arguments differ from the recorded ones.
    ArgumentsChanged,
    /// These inputs' contents differ from the recorded ones.
    InputsChanged(Vec<PathBuf>),
    /// The list of inputs differs from the recorded one.
    InputListChanged,
    /// The list of outputs differs from the recorded one.
    OutputListChanged,
    /// This output no longer exists.
    OutputMissing(PathBuf),
    /// This output's content differs from what the task wrote.
    OutputEdited(PathBuf),
    /// This output has the recorded content but was touched or replaced since.
    OutputTouched(PathBuf),
    /// Dry run only: a dependency will run first, so this task's inputs are not known yet.
    UpstreamWillRun(String),
    /// Dry run only: an input cannot be read now (the task would fail).
    InputUnavailable {
        /// The input.
        path: PathBuf,
        /// Why.
        message: String,
    },
}

impl fmt::Display for RunReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |paths: &[PathBuf]| {
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            RunReason::New => write!(f, "new"),
            RunReason::Transient => write!(f, "transient"),
            RunReason::VersionChanged { from, to } => {
                write!(f, "operation changed from {from} to {to}")
            }
            RunReason::ArgumentsChanged => write!(f, "arguments changed"),
            RunReason::InputsChanged(paths) => write!(f, "input changed: {}", list(paths)),
            RunReason::InputListChanged => write!(f, "list of inputs changed"),
            RunReason::OutputListChanged => write!(f, "list of outputs changed"),
            RunReason::OutputMissing(p) => write!(f, "output missing: {}", p.display()),
            RunReason::OutputEdited(p) => write!(f, "output edited: {}", p.display()),
            RunReason::OutputTouched(p) => write!(f, "output touched or replaced: {}", p.display()),
            RunReason::UpstreamWillRun(t) => write!(f, "upstream task '{t}' will run first"),
            RunReason::InputUnavailable { path, message } => {
                write!(f, "input unavailable: {} ({message})", path.display())
            }
        }
    }
}

/// What a dry run predicts for one task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlanAction {
    /// The task would run, for this reason.
    Run(RunReason),
    /// The task would be skipped: its record matches and its outputs are intact.
    Skip,
    /// The task would not run: the shared cache has its key, and its outputs would be
    /// restored from there (they are missing or differ, for this reason).
    Restore(RunReason),
}

impl fmt::Display for PlanAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanAction::Run(reason) => write!(f, "run ({reason})"),
            PlanAction::Skip => write!(f, "skip (up to date)"),
            PlanAction::Restore(reason) => write!(f, "restored from cache ({reason})"),
        }
    }
}

/// One line of a dry run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedTask {
    /// The task's name.
    pub name: String,
    /// What would happen.
    pub action: PlanAction,
}

/// The fixed description of a task, shared by the scheduler, dry runs and jobs.
#[derive(Debug)]
pub struct TaskDef {
    pub name: String,
    pub op_id: String,
    pub op_version: u32,
    pub args: Vec<u8>,
    pub inputs: Vec<PathBuf>,
    pub outputs: Vec<PathBuf>,
    /// The task as its key sees it: independent of where the project lies.
    pub key: KeyForm,
    pub priority: i32,
    pub transient: bool,
    /// Outputs are judged by existence only (see `Task::outputs_exist_only`).
    pub outputs_exist_only: bool,
    /// The longest it may run, for executors with walltime-limited workers.
    pub walltime: Option<std::time::Duration>,
    /// What stays fixed when the key changes; names the record file.
    pub identity: Digest,
}

/// The parts of a task that go into its key, relative to the project root (see `key.rs`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyForm {
    /// Canonical arguments.
    pub args: Vec<u8>,
    /// Inputs relative to the root, `None` outside it.
    pub inputs: Vec<Option<PathBuf>>,
    /// Outputs relative to the root, absolute outside it.
    pub outputs: Vec<PathBuf>,
}

impl KeyForm {
    /// The key form of a task whose arguments spell its paths as `declared_*` and whose
    /// normalised (absolute) paths are `inputs` and `outputs`.
    pub fn of(
        root: &Path,
        args: &[u8],
        declared_inputs: &[PathBuf],
        declared_outputs: &[PathBuf],
        inputs: &[PathBuf],
        outputs: &[PathBuf],
    ) -> KeyForm {
        KeyForm {
            args: canonical_args(args, declared_inputs, declared_outputs),
            inputs: key_inputs(root, inputs),
            outputs: outputs.iter().map(|p| key_path(root, p)).collect(),
        }
    }
}

/// A task's identity: what stays fixed when its key changes, and so names its record. It is its
/// sorted output paths (in key form: relative to the project root, so a moved project finds its
/// records), or for a task without outputs its operation, name and `ordinal` (how
/// many output-less tasks with that operation and name were added before it).
pub fn identity_of(outputs: &[PathBuf], op_id: &str, name: &str, ordinal: u32) -> Digest {
    let mut h = blake3::Hasher::new();
    if outputs.is_empty() {
        h.update(b"pgp-graph/identity/no-outputs\0");
        for part in [op_id.as_bytes(), name.as_bytes()] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
        h.update(&ordinal.to_le_bytes());
    } else {
        h.update(b"pgp-graph/identity/outputs\0");
        let mut outs: Vec<_> = outputs.iter().map(|p| path_bytes(p)).collect();
        outs.sort();
        for o in outs {
            h.update(&(o.len() as u64).to_le_bytes());
            h.update(&o);
        }
    }
    Digest(*h.finalize().as_bytes())
}

/// A task's inputs hashed and its key computed.
#[derive(Clone)]
pub struct Prepared {
    pub key: Digest,
    /// Inputs in key form with their digests.
    pub inputs: Vec<(Option<PathBuf>, Digest)>,
}

/// Hashes the inputs (through the memo) and computes the key.
pub fn prepare(memo: &DigestMemo, def: &TaskDef) -> Result<Prepared, TaskError> {
    prepare_with(def, |path| memo.digest(path).map(|d| d.digest))
}

/// [`prepare`] with input digests from `digest_of` (a dry run knows some before they exist).
pub fn prepare_with(
    def: &TaskDef,
    mut digest_of: impl FnMut(&Path) -> io::Result<Digest>,
) -> Result<Prepared, TaskError> {
    let mut inputs = Vec::with_capacity(def.inputs.len());
    for (path, key_path) in def.inputs.iter().zip(&def.key.inputs) {
        let d = digest_of(path).map_err(|e| TaskError::Input {
            path: path.clone(),
            message: e.to_string(),
        })?;
        inputs.push((key_path.clone(), d));
    }
    let parts = KeyParts {
        op_id: def.op_id.clone(),
        op_version: def.op_version,
        args: def.key.args.clone(),
        inputs,
        outputs: def.key.outputs.clone(),
    };
    let key = parts.key();
    Ok(Prepared {
        key,
        inputs: parts.inputs,
    })
}

/// The verdict on a prepared task.
pub enum Verdict {
    /// Skip: this record is valid.
    UpToDate(Record),
    /// Run, for this reason.
    Run(RunReason),
}

/// Compares the task with its record. Store warnings (a damaged record) are returned too.
///
/// A record written under another project root (the project was copied, moved or renamed)
/// vouches for its outputs by content only: a copy gives every file a new inode and mtime, so
/// the touched-or-replaced rule applies only where the record was written.
pub fn judge(
    store: &Store,
    memo: &DigestMemo,
    def: &TaskDef,
    prepared: &Prepared,
) -> (Verdict, Option<String>) {
    let (record, warning) = store.load(&def.identity);
    let Some(record) = record else {
        return (Verdict::Run(RunReason::New), warning);
    };
    if record.key != prepared.key {
        return (
            Verdict::Run(explain_key_change(def, prepared, &record)),
            warning,
        );
    }
    // Same key, so the same outputs in the same order: `def.outputs` is where they are now.
    let moved = record.root != store.project_root();
    for (out, path) in record.outputs.iter().zip(&def.outputs) {
        if def.outputs_exist_only {
            if !path.is_file() {
                return (
                    Verdict::Run(RunReason::OutputMissing(path.clone())),
                    warning,
                );
            }
            continue;
        }
        let found = match memo.digest(path) {
            Ok(found) => found,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return (
                    Verdict::Run(RunReason::OutputMissing(path.clone())),
                    warning,
                )
            }
            // Unreadable or not a file: not what the task wrote.
            Err(_) => return (Verdict::Run(RunReason::OutputEdited(path.clone())), warning),
        };
        if found.digest != out.digest {
            return (Verdict::Run(RunReason::OutputEdited(path.clone())), warning);
        }
        if !moved && (found.stamp.mtime_ns != out.mtime_ns || found.stamp.ino != out.ino) {
            return (
                Verdict::Run(RunReason::OutputTouched(path.clone())),
                warning,
            );
        }
    }
    (Verdict::UpToDate(record), warning)
}

fn explain_key_change(def: &TaskDef, prepared: &Prepared, record: &Record) -> RunReason {
    if record.op_id != def.op_id || record.op_version != def.op_version {
        return RunReason::VersionChanged {
            from: format!("{}@{}", record.op_id, record.op_version),
            to: format!("{}@{}", def.op_id, def.op_version),
        };
    }
    if record.args_digest != Digest::of_bytes(&def.key.args) {
        return RunReason::ArgumentsChanged;
    }
    let old_paths: Vec<_> = record.inputs.iter().map(|(p, _)| p).collect();
    let new_paths: Vec<_> = prepared.inputs.iter().map(|(p, _)| p).collect();
    if old_paths != new_paths {
        return RunReason::InputListChanged;
    }
    let changed: Vec<PathBuf> = record
        .inputs
        .iter()
        .zip(&prepared.inputs)
        .zip(&def.inputs)
        .filter(|((old, new), _)| old.1 != new.1)
        .map(|(_, path)| path.clone())
        .collect();
    if !changed.is_empty() {
        return RunReason::InputsChanged(changed);
    }
    let old_outs: Vec<_> = record.outputs.iter().map(|o| &o.path).collect();
    if old_outs != def.key.outputs.iter().collect::<Vec<_>>() {
        return RunReason::OutputListChanged;
    }
    // Every part matches but the key does not: only a key-format change can do that.
    RunReason::New
}
