//! The dependency graph: explicit edges plus edges inferred from files, validated on insertion.

use crate::error::GraphError;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::Direction;
use std::collections::{HashMap, HashSet, VecDeque};
#[cfg(test)]
use std::path::Path;
use std::path::PathBuf;

/// Why one task depends on another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// Declared with `Task::after`.
    Explicit,
    /// The dependent reads this file, which the dependency writes.
    File(PathBuf),
}

/// Tasks are nodes whose index equals the task id; edges point from dependency to dependent.
#[derive(Default)]
pub struct Dag {
    graph: DiGraph<(), EdgeKind, u32>,
    writers: HashMap<PathBuf, usize>,
    readers: HashMap<PathBuf, Vec<usize>>,
}

/// What a new task brings: its files and explicit dependencies.
pub struct NewNode<'a> {
    pub name: &'a str,
    pub inputs: &'a [PathBuf],
    pub outputs: &'a [PathBuf],
    pub after: &'a [usize],
}

impl Dag {
    /// Number of tasks.
    pub fn len(&self) -> usize {
        self.graph.node_count()
    }

    /// Validates `node` and, if it is acceptable, inserts it with id `self.len()`. Returns the
    /// existing tasks that gain the new task as a dependency (they read one of its outputs).
    /// `name_of` names existing tasks for messages; `started` tells whether a task already began.
    pub fn add(
        &mut self,
        node: &NewNode<'_>,
        name_of: impl Fn(usize) -> String,
        started: impl Fn(usize) -> bool,
    ) -> Result<Vec<usize>, GraphError> {
        let task = || node.name.to_string();
        let mut seen = HashSet::new();
        for out in node.outputs {
            if !seen.insert(out) {
                return Err(GraphError::DuplicateOutput {
                    task: task(),
                    path: out.clone(),
                    other: task(),
                });
            }
            if let Some(&w) = self.writers.get(out) {
                return Err(GraphError::DuplicateOutput {
                    task: task(),
                    path: out.clone(),
                    other: name_of(w),
                });
            }
        }
        if node.inputs.iter().any(|p| seen.contains(p)) {
            return Err(GraphError::Cycle {
                task: task(),
                cycle: vec![task(), task()],
            });
        }
        // Dependencies (edges into the new task) and dependents (edges out of it).
        let mut preds: Vec<(usize, EdgeKind)> = node
            .after
            .iter()
            .map(|&a| (a, EdgeKind::Explicit))
            .collect();
        for input in node.inputs {
            if let Some(&w) = self.writers.get(input) {
                preds.push((w, EdgeKind::File(input.clone())));
            }
        }
        let mut succs: Vec<(usize, EdgeKind)> = Vec::new();
        for out in node.outputs {
            for &r in self.readers.get(out).map(Vec::as_slice).unwrap_or(&[]) {
                if started(r) {
                    return Err(GraphError::LateProducer {
                        task: task(),
                        path: out.clone(),
                        reader: name_of(r),
                    });
                }
                succs.push((r, EdgeKind::File(out.clone())));
            }
        }
        let pred_set: HashSet<usize> = preds.iter().map(|p| p.0).collect();
        if let Some(path) = self.path_from_any(succs.iter().map(|s| s.0), &pred_set) {
            let mut cycle = vec![task()];
            cycle.extend(path.into_iter().map(&name_of));
            cycle.push(task());
            return Err(GraphError::Cycle {
                task: task(),
                cycle,
            });
        }
        let id = self.graph.add_node(());
        for (p, kind) in preds {
            self.link(p, id.index(), kind);
        }
        let mut gained = Vec::new();
        for (s, kind) in succs {
            if self.link(id.index(), s, kind) {
                gained.push(s);
            }
        }
        for out in node.outputs {
            self.writers.insert(out.clone(), id.index());
        }
        for input in node.inputs {
            self.readers
                .entry(input.clone())
                .or_default()
                .push(id.index());
        }
        Ok(gained)
    }

    /// Adds an edge unless one already joins the pair; true if added.
    fn link(&mut self, from: usize, to: usize, kind: EdgeKind) -> bool {
        let (a, b) = (NodeIndex::new(from), NodeIndex::new(to));
        if self.graph.find_edge(a, b).is_some() {
            return false;
        }
        self.graph.add_edge(a, b, kind);
        true
    }

    /// A path (list of task ids) from one of `starts` to one of `targets`, if any.
    fn path_from_any(
        &self,
        starts: impl Iterator<Item = usize>,
        targets: &HashSet<usize>,
    ) -> Option<Vec<usize>> {
        let mut parent: HashMap<usize, Option<usize>> = HashMap::new();
        let mut queue = VecDeque::new();
        for s in starts {
            if parent.insert(s, None).is_none() {
                queue.push_back(s);
            }
        }
        while let Some(n) = queue.pop_front() {
            if targets.contains(&n) {
                let mut path = vec![n];
                let mut cur = n;
                while let Some(Some(p)) = parent.get(&cur) {
                    path.push(*p);
                    cur = *p;
                }
                path.reverse();
                return Some(path);
            }
            for next in self
                .graph
                .neighbors_directed(NodeIndex::new(n), Direction::Outgoing)
            {
                if let std::collections::hash_map::Entry::Vacant(v) = parent.entry(next.index()) {
                    v.insert(Some(n));
                    queue.push_back(next.index());
                }
            }
        }
        None
    }

    /// Tasks that `id` depends on directly.
    pub fn dependencies(&self, id: usize) -> Vec<usize> {
        self.graph
            .neighbors_directed(NodeIndex::new(id), Direction::Incoming)
            .map(|n| n.index())
            .collect()
    }

    /// Tasks that depend on `id` directly.
    pub fn dependents(&self, id: usize) -> Vec<usize> {
        self.graph
            .neighbors_directed(NodeIndex::new(id), Direction::Outgoing)
            .map(|n| n.index())
            .collect()
    }

    /// All tasks that depend on `id`, directly or not.
    pub fn descendants(&self, id: usize) -> Vec<usize> {
        let mut seen = HashSet::new();
        let mut stack = self.dependents(id);
        let mut out = Vec::new();
        while let Some(n) = stack.pop() {
            if seen.insert(n) {
                out.push(n);
                stack.extend(self.dependents(n));
            }
        }
        out
    }

    /// Task ids in an order where every task follows its dependencies (the graph is acyclic by
    /// construction, so this always succeeds).
    pub fn topological_order(&self) -> Vec<usize> {
        match petgraph::algo::toposort(&self.graph, None) {
            Ok(order) => order.into_iter().map(|n| n.index()).collect(),
            Err(_) => (0..self.len()).collect(),
        }
    }

    /// All edges as (dependency, dependent, kind).
    pub fn edges(&self) -> Vec<(usize, usize, &EdgeKind)> {
        use petgraph::visit::EdgeRef;
        self.graph
            .edge_references()
            .map(|e| (e.source().index(), e.target().index(), e.weight()))
            .collect()
    }

    /// The task writing `path`, if any.
    #[cfg(test)]
    pub fn writer_of(&self, path: &Path) -> Option<usize> {
        self.writers.get(path).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PathBuf {
        PathBuf::from(format!("/w/{s}"))
    }

    fn add(
        dag: &mut Dag,
        name: &str,
        ins: &[&str],
        outs: &[&str],
        after: &[usize],
    ) -> Result<Vec<usize>, GraphError> {
        let inputs: Vec<_> = ins.iter().map(|s| p(s)).collect();
        let outputs: Vec<_> = outs.iter().map(|s| p(s)).collect();
        dag.add(
            &NewNode {
                name,
                inputs: &inputs,
                outputs: &outputs,
                after,
            },
            |i| format!("t{i}"),
            |_| false,
        )
    }

    #[test]
    fn file_edges_are_inferred_both_ways() {
        let mut dag = Dag::default();
        add(&mut dag, "t0", &["a"], &["b"], &[]).unwrap(); // reads a before anyone writes it
        let gained = add(&mut dag, "t1", &[], &["a"], &[]).unwrap();
        assert_eq!(gained, vec![0]);
        add(&mut dag, "t2", &["b"], &["c"], &[]).unwrap();
        assert_eq!(dag.dependencies(0), vec![1]);
        assert_eq!(dag.dependencies(2), vec![0]);
        assert_eq!(dag.topological_order(), vec![1, 0, 2]);
        let mut desc = dag.descendants(1);
        desc.sort();
        assert_eq!(desc, vec![0, 2]);
    }

    #[test]
    fn cycle_is_rejected_with_its_path_and_graph_unchanged() {
        let mut dag = Dag::default();
        add(&mut dag, "t0", &["x"], &["y"], &[]).unwrap();
        add(&mut dag, "t1", &["y"], &["z"], &[]).unwrap();
        let err = add(&mut dag, "t2", &["z"], &["x"], &[]).unwrap_err();
        match err {
            GraphError::Cycle { cycle, .. } => assert_eq!(cycle, vec!["t2", "t0", "t1", "t2"]),
            other => panic!("unexpected {other}"),
        }
        assert_eq!(dag.len(), 2);
        assert_eq!(dag.writer_of(&p("x")), None);
    }

    #[test]
    fn explicit_dependency_cycle_is_rejected() {
        let mut dag = Dag::default();
        add(&mut dag, "t0", &["x"], &[], &[]).unwrap();
        // t1 runs after t0 but writes what t0 reads.
        assert!(matches!(
            add(&mut dag, "t1", &[], &["x"], &[0]),
            Err(GraphError::Cycle { .. })
        ));
    }

    #[test]
    fn self_read_and_duplicate_outputs_are_rejected() {
        let mut dag = Dag::default();
        assert!(matches!(
            add(&mut dag, "t0", &["a"], &["a"], &[]),
            Err(GraphError::Cycle { .. })
        ));
        assert!(matches!(
            add(&mut dag, "t0", &[], &["a", "a"], &[]),
            Err(GraphError::DuplicateOutput { .. })
        ));
        add(&mut dag, "t0", &[], &["a"], &[]).unwrap();
        match add(&mut dag, "t1", &[], &["a"], &[]).unwrap_err() {
            GraphError::DuplicateOutput { other, path, .. } => {
                assert_eq!(other, "t0");
                assert_eq!(path, p("a"));
            }
            e => panic!("unexpected {e}"),
        }
    }

    #[test]
    fn late_producer_is_rejected() {
        let mut dag = Dag::default();
        add(&mut dag, "t0", &["a"], &[], &[]).unwrap();
        let outs = [p("a")];
        let err = dag
            .add(
                &NewNode {
                    name: "t1",
                    inputs: &[],
                    outputs: &outs,
                    after: &[],
                },
                |i| format!("t{i}"),
                |_| true,
            )
            .unwrap_err();
        assert!(matches!(err, GraphError::LateProducer { .. }));
    }
}
