//! Pipeline files: a graph declared in TOML, with the same operations and arguments as the
//! library.
//!
//! ```toml
//! executor = "threading:2"          # optional; a command-line flag overrides it
//! cache = "../shared-cache"         # optional shared result store (relative to this file);
//!                                   # `pgp run --cache` overrides it, `PGP_CACHE` is the default
//!
//! [[task]]
//! name = "align"
//! op = "pgp.align"                  # a registered graph operation
//! [task.args]
//! base_rasters = ["data/dem.tif", "data/landcover.tif"]
//! targets = ["work/dem.tif", "work/landcover.tif"]
//! # ...
//!
//! [[task]]
//! name = "runoff"
//! op = "pgp.calc"
//! after = []                        # optional explicit dependencies, by task name
//! priority = 0                      # optional; higher runs first among ready tasks
//! transient = false                 # optional; always run, never recorded
//! walltime = "00:20:00"             # optional; longest it runs (Slurm's forms: MM, MM:SS,
//!                                   # HH:MM:SS, D-HH[:MM[:SS]]); a Slurm executor runs it only
//!                                   # on a worker that has that long left, and refuses it if
//!                                   # its jobs' `time` is shorter; other executors ignore it
//! [task.args]
//! expression = "dem * 2"
//! inputs = { dem = "@align.0" }     # "@align.0": output 0 of task `align`; "@align": its only output
//! target = "work/runoff.tif"
//! ```
//!
//! Relative paths in arguments are relative to the directory of the pipeline file (the `pgp run`
//! command works there), which is also the project root of the task keys: a copied or moved
//! project directory reruns nothing. A reference may only name a task declared earlier in the file, so a
//! pipeline reads top to bottom. Errors name the file, the task and the key.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use pgp_exec::ExecutorSpec;
use pgp_graph::{find_op, Graph, Opaque, Task, TaskHandle};
use serde::Deserialize;
use serde_json::Value;

/// What can be wrong with a pipeline file.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not have the pipeline's shape.
    #[error("{}: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// Something wrong in one task.
    #[error("{}: task `{task}`, key `{key}`: {message}", path.display())]
    Task {
        /// The file.
        path: PathBuf,
        /// The task's name.
        task: String,
        /// The key at fault (`op`, `args.inputs.dem`, `after`...).
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The graph refused a task.
    #[error("{}: task `{task}`: {source}", path.display())]
    Graph {
        /// The file.
        path: PathBuf,
        /// The task's name.
        task: String,
        /// The graph's error.
        source: Box<pgp_graph::GraphError>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    executor: Option<String>,
    cache: Option<PathBuf>,
    #[serde(default, rename = "task")]
    tasks: Vec<RawTask>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTask {
    name: String,
    op: String,
    #[serde(default)]
    args: toml::Table,
    #[serde(default)]
    after: Vec<String>,
    #[serde(default)]
    priority: i32,
    #[serde(default)]
    transient: bool,
    walltime: Option<String>,
}

/// One task of a loaded pipeline, with references resolved.
#[derive(Debug, Clone)]
pub struct PipelineTask {
    /// Unique name.
    pub name: String,
    /// Registered operation name.
    pub op: String,
    /// Arguments as JSON, references replaced by paths.
    pub args: Value,
    /// Names of explicit dependencies.
    pub after: Vec<String>,
    /// Scheduling priority.
    pub priority: i32,
    /// Always run, never recorded.
    pub transient: bool,
    /// The longest it runs (`walltime`), for executors with walltime-limited workers.
    pub walltime: Option<std::time::Duration>,
    /// The files it writes, as its operation declares them.
    pub outputs: Vec<PathBuf>,
}

/// A loaded pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The file it came from.
    pub path: PathBuf,
    /// The executor the file asks for, if any.
    pub executor: Option<ExecutorSpec>,
    /// The shared cache the file asks for, as written (relative to the file's directory).
    pub cache: Option<PathBuf>,
    /// Tasks in file order.
    pub tasks: Vec<PipelineTask>,
}

impl Pipeline {
    /// Read and check a pipeline file: TOML shape, unique names, known operations, arguments
    /// that the operation accepts, references to earlier tasks.
    pub fn load(path: impl AsRef<Path>) -> Result<Pipeline, PipelineError> {
        let path = path.as_ref().to_path_buf();
        let text = std::fs::read_to_string(&path).map_err(|source| PipelineError::Read {
            path: path.clone(),
            source,
        })?;
        Pipeline::parse(&path, &text)
    }

    /// Like [`Pipeline::load`], from text (`path` is used in messages only).
    pub fn parse(path: &Path, text: &str) -> Result<Pipeline, PipelineError> {
        let raw: RawPipeline = toml::from_str(text).map_err(|e| PipelineError::Syntax {
            path: path.to_path_buf(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let task_err = |task: &str, key: &str, message: String| PipelineError::Task {
            path: path.to_path_buf(),
            task: task.to_string(),
            key: key.to_string(),
            message,
        };
        let executor = match &raw.executor {
            None => None,
            Some(s) => Some(
                s.parse::<ExecutorSpec>()
                    .map_err(|e| PipelineError::Syntax {
                        path: path.to_path_buf(),
                        message: format!("key `executor`: {e}"),
                    })?,
            ),
        };
        let mut outputs_by_name: HashMap<String, Vec<PathBuf>> = HashMap::new();
        let mut tasks = Vec::with_capacity(raw.tasks.len());
        for t in raw.tasks {
            if outputs_by_name.contains_key(&t.name) {
                return Err(task_err(
                    &t.name,
                    "name",
                    "another task has this name".into(),
                ));
            }
            let vtable = find_op(&t.op).ok_or_else(|| {
                task_err(
                    &t.name,
                    "op",
                    format!(
                        "unknown operation `{}` (known: {})",
                        t.op,
                        pgp_graph::registered_ops().join(", ")
                    ),
                )
            })?;
            let mut args = serde_json::to_value(&t.args)
                .map_err(|e| task_err(&t.name, "args", e.to_string()))?;
            resolve_refs(&mut args, "args", &outputs_by_name)
                .map_err(|(key, message)| task_err(&t.name, &key, message))?;
            for dep in &t.after {
                if !outputs_by_name.contains_key(dep) {
                    return Err(task_err(
                        &t.name,
                        "after",
                        format!("`{dep}` is not a task declared before this one"),
                    ));
                }
            }
            let outputs = vtable
                .outputs_from_json(&args)
                .map_err(|m| task_err(&t.name, "args", m))?;
            let walltime = t
                .walltime
                .as_deref()
                .map(|text| pgp_exec::parse_slurm_time("walltime", text))
                .transpose()
                .map_err(|m| task_err(&t.name, "walltime", m))?;
            outputs_by_name.insert(t.name.clone(), outputs.clone());
            tasks.push(PipelineTask {
                name: t.name,
                op: t.op,
                args,
                after: t.after,
                priority: t.priority,
                transient: t.transient,
                walltime,
                outputs,
            });
        }
        Ok(Pipeline {
            path: path.to_path_buf(),
            executor,
            cache: raw.cache,
            tasks,
        })
    }

    /// Add every task to `graph`, in file order. Returns the handles in the same order.
    pub fn add_to(&self, graph: &Graph) -> Result<Vec<TaskHandle<Opaque>>, PipelineError> {
        let mut handles: Vec<TaskHandle<Opaque>> = Vec::with_capacity(self.tasks.len());
        let mut by_name: HashMap<&str, usize> = HashMap::new();
        for t in &self.tasks {
            let mut task = Task::new(&t.name)
                .priority(t.priority)
                .transient(t.transient);
            if let Some(walltime) = t.walltime {
                task = task.walltime(walltime);
            }
            for dep in &t.after {
                if let Some(&i) = by_name.get(dep.as_str()) {
                    task = task.after(&handles[i]);
                }
            }
            let h =
                graph
                    .add_op_json(&t.op, &t.args, task)
                    .map_err(|source| PipelineError::Graph {
                        path: self.path.clone(),
                        task: t.name.clone(),
                        source: Box::new(source),
                    })?;
            by_name.insert(&t.name, handles.len());
            handles.push(h);
        }
        Ok(handles)
    }
}

/// Replace every string `@task` / `@task.N` with that task's output path. Returns the key path
/// and message of the first bad reference.
fn resolve_refs(
    v: &mut Value,
    key: &str,
    outputs: &HashMap<String, Vec<PathBuf>>,
) -> Result<(), (String, String)> {
    match v {
        Value::String(s) if s.starts_with('@') => {
            let reference = &s[1..];
            let (name, index) = match reference.rsplit_once('.') {
                Some((n, i)) if i.chars().all(|c| c.is_ascii_digit()) && !i.is_empty() => {
                    (n, i.parse::<usize>().ok())
                }
                _ => (reference, None),
            };
            let outs = outputs.get(name).ok_or_else(|| {
                (
                    key.to_string(),
                    format!(
                        "`{s}` refers to `{name}`, which is not a task declared before this one"
                    ),
                )
            })?;
            let path = match (index, outs.len()) {
                (Some(i), _) => outs.get(i).ok_or_else(|| {
                    (
                        key.to_string(),
                        format!(
                            "`{s}`: task `{name}` has {} output(s), numbered from 0",
                            outs.len()
                        ),
                    )
                })?,
                (None, 1) => &outs[0],
                (None, n) => {
                    return Err((
                        key.to_string(),
                        format!(
                            "`{s}`: task `{name}` has {n} outputs; say which, e.g. `@{name}.0`"
                        ),
                    ))
                }
            };
            *v = Value::String(path.to_string_lossy().into_owned());
            Ok(())
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                resolve_refs(item, &format!("{key}[{i}]"), outputs)?;
            }
            Ok(())
        }
        Value::Object(map) => {
            for (k, item) in map.iter_mut() {
                resolve_refs(item, &format!("{key}.{k}"), outputs)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
