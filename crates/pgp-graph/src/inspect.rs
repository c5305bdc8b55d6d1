//! Looking at a graph without running it: dry runs and DOT export.

use crate::dag::EdgeKind;
use crate::digest::Digest;
use crate::graph::Graph;
use crate::plan::{judge, prepare_with, PlanAction, PlannedTask, RunReason, TaskDef, Verdict};
use crate::task::TaskStatus;
use crate::TaskError;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Graph {
    /// Predicts, for every task in dependency order, whether the next run would run it (and why)
    /// or skip it. Reads and hashes inputs like a run would, but runs nothing and writes nothing
    /// except the digest memo. A task downstream of one that would run is reported as
    /// [`RunReason::UpstreamWillRun`]: whether it really runs depends on what its dependency writes.
    /// A task the shared cache would restore is [`PlanAction::Restore`]; its dependents are
    /// judged with the digests the cache holds for its outputs.
    pub fn dry_run(&self) -> Vec<PlannedTask> {
        let shared = self.shared();
        let (order, defs, deps): (Vec<usize>, Vec<Arc<TaskDef>>, Vec<Vec<usize>>) = {
            let st = shared.state.lock();
            let order = st.dag.topological_order();
            let defs = st.slots.iter().map(|s| Arc::clone(&s.def)).collect();
            let deps = (0..st.slots.len())
                .map(|i| st.dag.dependencies(i))
                .collect();
            (order, defs, deps)
        };
        let ctx = &shared.ctx;
        let mut runs = vec![false; defs.len()];
        // Outputs that restores would bring back, by path: their digests are known already.
        let mut restored: HashMap<PathBuf, Digest> = HashMap::new();
        let mut plan = Vec::with_capacity(defs.len());
        for id in order {
            let def = &defs[id];
            let action = if def.transient {
                PlanAction::Run(RunReason::Transient)
            } else if let Some(&up) = deps[id].iter().find(|&&d| runs[d]) {
                PlanAction::Run(RunReason::UpstreamWillRun(defs[up].name.clone()))
            } else {
                let digest_of = |p: &std::path::Path| match restored.get(p) {
                    Some(d) => Ok(*d),
                    None => ctx.memo.digest(p).map(|f| f.digest),
                };
                match prepare_with(def, digest_of) {
                    Err(TaskError::Input { path, message }) => {
                        PlanAction::Run(RunReason::InputUnavailable { path, message })
                    }
                    Err(other) => PlanAction::Run(RunReason::InputUnavailable {
                        path: Default::default(),
                        message: other.to_string(),
                    }),
                    Ok(prepared) => {
                        let (verdict, warning) = judge(&ctx.store, &ctx.memo, def, &prepared);
                        if let Some(w) = warning {
                            ctx.warn(w);
                        }
                        match verdict {
                            Verdict::UpToDate(_) => PlanAction::Skip,
                            Verdict::Run(reason) => {
                                match crate::job::cached_entry(ctx, def, &prepared) {
                                    Some(entry)
                                        if ctx.cache().is_some_and(|c| c.blobs_present(&entry)) =>
                                    {
                                        for (path, out) in def.outputs.iter().zip(&entry.outputs) {
                                            restored.insert(path.clone(), out.digest);
                                        }
                                        PlanAction::Restore(reason)
                                    }
                                    _ => PlanAction::Run(reason),
                                }
                            }
                        }
                    }
                }
            };
            runs[id] = matches!(action, PlanAction::Run(_));
            plan.push(PlannedTask {
                name: def.name.clone(),
                action,
            });
        }
        plan
    }

    /// The graph in Graphviz DOT: one box per task (name, operation and version, status), solid
    /// edges labelled with the file that links two tasks, dashed edges for explicit dependencies.
    pub fn to_dot(&self) -> String {
        let st = self.shared().state.lock();
        let mut out =
            String::from("digraph pgp_graph {\n  rankdir=LR;\n  node [shape=box, style=filled];\n");
        for (id, slot) in st.slots.iter().enumerate() {
            let def = &slot.def;
            let (status, color) = match &slot.status {
                TaskStatus::Pending => ("pending", "white"),
                TaskStatus::Queued => ("queued", "lightyellow"),
                TaskStatus::Running => ("running", "lightblue"),
                TaskStatus::Skipped => ("skipped", "lightgrey"),
                TaskStatus::Completed => ("completed", "palegreen"),
                TaskStatus::Restored => ("restored", "lightcyan"),
                TaskStatus::Failed(_) => ("failed", "salmon"),
            };
            let transient = if def.transient { ", transient" } else { "" };
            let label = format!(
                "{}\n{}@{}\n{status}{transient}",
                def.name, def.op_id, def.op_version
            );
            let _ = writeln!(
                out,
                "  t{id} [label=\"{}\", fillcolor={color}];",
                dot_escape(&label)
            );
        }
        for (from, to, kind) in st.dag.edges() {
            match kind {
                EdgeKind::Explicit => {
                    let _ = writeln!(out, "  t{from} -> t{to} [style=dashed];");
                }
                EdgeKind::File(path) => {
                    let file = path
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let _ = writeln!(out, "  t{from} -> t{to} [label=\"{}\"];", dot_escape(&file));
                }
            }
        }
        out.push_str("}\n");
        out
    }
}

/// One task as added, for reports: its name and the operation it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSummary {
    /// The task's name.
    pub name: String,
    /// The operation id: a registered operation's name (`pgp.calc`), or `fn:<name>` for a
    /// closure.
    pub op: String,
    /// The operation's version (a closure's `Task::version`).
    pub version: u32,
}

impl Graph {
    /// Every task in the order it was added.
    pub fn tasks(&self) -> Vec<TaskSummary> {
        let st = self.shared().state.lock();
        st.slots
            .iter()
            .map(|s| TaskSummary {
                name: s.def.name.clone(),
                op: s.def.op_id.clone(),
                version: s.def.op_version,
            })
            .collect()
    }

    /// The dependency edges `(from, to)` between task indices (as in [`Graph::tasks`]): `to`
    /// reads a file `from` writes, or runs after it. Each pair once.
    pub fn edges(&self) -> Vec<(usize, usize)> {
        let st = self.shared().state.lock();
        let mut edges: Vec<(usize, usize)> =
            st.dag.edges().into_iter().map(|(a, b, _)| (a, b)).collect();
        edges.sort_unstable();
        edges.dedup();
        edges
    }
}
