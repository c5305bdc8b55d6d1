//! The scheduler's state and every transition of it, in one place.
//!
//! A task's life: `Pending` (added; waiting for the graph to start or for dependencies) →
//! `Queued` (ready, in the priority queue) → `Running` (dispatched: on a worker, then with the
//! recorder) → `Skipped` | `Completed` | `Failed`. A task can also be failed while pending or
//! queued: by a failed dependency, by stop-at-first-error, or by the graph closing.
//!
//! [`State`] is plain data guarded by the scheduler's mutex: no threads, no I/O, so every
//! transition is unit-tested here. Events produced by transitions are collected and emitted by
//! the caller once the lock is released.

use crate::dag::{Dag, NewNode};
use crate::error::{GraphError, RunError, TaskError, TaskFailure};
use crate::events::Event;
use crate::job::{Completion, Outcome, Work};
use crate::plan::{identity_of, KeyForm, TaskDef};
use crate::task::{TaskRef, TaskStatus};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What a successful [`Graph::join`](crate::Graph::join) reports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Names of tasks that ran, in the order they were added.
    pub ran: Vec<String>,
    /// Names of tasks skipped as up to date, in the order they were added.
    pub skipped: Vec<String>,
    /// Names of tasks whose outputs were restored from the shared cache, in the order they were
    /// added.
    pub restored: Vec<String>,
    /// Workspace warnings (repaired store or memo) so far.
    pub warnings: Vec<String>,
}

/// A task being added, with normalised paths.
pub struct NewTask {
    pub name: String,
    pub op_id: String,
    pub op_version: u32,
    pub args: Vec<u8>,
    pub inputs: Vec<PathBuf>,
    pub outputs: Vec<PathBuf>,
    /// What the key is computed from (relative to the project root).
    pub key: KeyForm,
    pub after: Vec<TaskRef>,
    pub priority: i32,
    pub transient: bool,
    /// Outputs are judged by existence only (see `Task::outputs_exist_only`).
    pub outputs_exist_only: bool,
    pub walltime: Option<std::time::Duration>,
    pub work: Work,
}

/// One task as the scheduler sees it.
pub struct Slot {
    pub def: Arc<TaskDef>,
    work: Option<Work>,
    pub status: TaskStatus,
    /// Dependencies not yet completed.
    waiting_on: usize,
    pub result: Option<Vec<u8>>,
}

/// A task taken off the ready queue, to be run.
pub struct Job {
    pub id: usize,
    pub def: Arc<TaskDef>,
    pub work: Work,
}

/// The scheduler's bookkeeping.
pub struct State {
    graph: u64,
    stop_on_first_error: bool,
    pub dag: Dag,
    pub slots: Vec<Slot>,
    ready: BinaryHeap<(i32, Reverse<usize>)>,
    /// Dispatched jobs still on a worker (what the executor's capacity limits).
    on_workers: usize,
    /// Dispatched jobs not finished (on a worker or with the recorder).
    in_flight: usize,
    unfinished: usize,
    started: bool,
    stopping: bool,
    closed: bool,
    /// Events produced under the lock, emitted after it is released.
    events: Vec<Event>,
    /// Per (op, name): how many output-less tasks have had that pair, for their identities.
    ordinals: HashMap<(String, String), u32>,
}

impl State {
    /// The empty state of graph `graph`.
    pub fn new(graph: u64, stop_on_first_error: bool) -> State {
        State {
            graph,
            stop_on_first_error,
            dag: Dag::default(),
            slots: Vec::new(),
            ready: BinaryHeap::new(),
            on_workers: 0,
            in_flight: 0,
            unfinished: 0,
            started: false,
            stopping: false,
            closed: false,
            events: Vec::new(),
            ordinals: HashMap::new(),
        }
    }

    /// Adds a task: checks its dependencies and files, re-blocks queued readers of its outputs,
    /// and queues it at once if the graph runs and nothing blocks it. Returns its id.
    pub fn add(&mut self, task: NewTask) -> Result<usize, GraphError> {
        let mut after = Vec::with_capacity(task.after.len());
        for r in &task.after {
            if r.graph != self.graph || r.id >= self.slots.len() {
                return Err(GraphError::ForeignDependency { task: task.name });
            }
            after.push(r.id);
        }
        let node = NewNode {
            name: &task.name,
            inputs: &task.inputs,
            outputs: &task.outputs,
            after: &after,
        };
        let slots = &self.slots;
        let gained = self.dag.add(
            &node,
            |i| slots[i].def.name.clone(),
            |i| !matches!(slots[i].status, TaskStatus::Pending | TaskStatus::Queued),
        )?;
        let id = self.slots.len();
        let ordinal = if task.outputs.is_empty() {
            let n = self
                .ordinals
                .entry((task.op_id.clone(), task.name.clone()))
                .or_insert(0);
            *n += 1;
            *n - 1
        } else {
            0
        };
        let identity = identity_of(&task.key.outputs, &task.op_id, &task.name, ordinal);
        // Readers of the new task's outputs now wait for it; a queued one goes back to pending
        // (its stale heap entry is skipped by `take_ready`).
        for &g in &gained {
            let slot = &mut self.slots[g];
            slot.waiting_on += 1;
            if slot.status == TaskStatus::Queued {
                slot.status = TaskStatus::Pending;
            }
        }
        let deps = self.dag.dependencies(id);
        let failed_dep = deps.iter().find_map(|&d| match &self.slots[d].status {
            TaskStatus::Failed(e) => Some((self.slots[d].def.name.clone(), e.clone())),
            _ => None,
        });
        let waiting_on = deps
            .iter()
            .filter(|&&d| {
                !matches!(
                    self.slots[d].status,
                    TaskStatus::Skipped | TaskStatus::Completed | TaskStatus::Restored
                )
            })
            .count();
        self.slots.push(Slot {
            def: Arc::new(TaskDef {
                name: task.name,
                op_id: task.op_id,
                op_version: task.op_version,
                args: task.args,
                inputs: task.inputs,
                outputs: task.outputs,
                key: task.key,
                priority: task.priority,
                transient: task.transient,
                outputs_exist_only: task.outputs_exist_only,
                walltime: task.walltime,
                identity,
            }),
            work: Some(task.work),
            status: TaskStatus::Pending,
            waiting_on,
            result: None,
        });
        self.unfinished += 1;
        if let Some((dependency, cause)) = failed_dep {
            let error = TaskError::Dependency {
                dependency,
                cause: Box::new(cause),
            };
            self.set_failed(id, error, None);
        } else if self.stopping || self.closed {
            self.set_failed(id, TaskError::Cancelled, None);
        } else if waiting_on == 0 && self.started {
            self.queue(id);
        }
        Ok(id)
    }

    /// Starts the graph: queues every task whose dependencies are done. False if it had already
    /// started or was closed (nothing changes then).
    pub fn start(&mut self) -> bool {
        if self.started || self.closed {
            return false;
        }
        self.started = true;
        for id in 0..self.slots.len() {
            if self.slots[id].status == TaskStatus::Pending && self.slots[id].waiting_on == 0 {
                self.queue(id);
            }
        }
        true
    }

    /// Fails every unfinished task that is not running with `error` (the scheduler could not
    /// start).
    pub fn fail_unstarted(&mut self, error: TaskError) {
        for id in 0..self.slots.len() {
            if matches!(
                self.slots[id].status,
                TaskStatus::Pending | TaskStatus::Queued
            ) {
                self.set_failed(id, error.clone(), None);
            }
        }
        self.ready.clear();
    }

    /// Pops ready tasks, highest priority first (then the earliest added), while fewer than
    /// `capacity` jobs are on workers.
    pub fn take_ready(&mut self, capacity: usize) -> Vec<Job> {
        let mut jobs = Vec::new();
        while self.on_workers < capacity && !self.stopping {
            let Some((_, Reverse(id))) = self.ready.pop() else {
                break;
            };
            let slot = &mut self.slots[id];
            if slot.status != TaskStatus::Queued {
                continue; // re-blocked by a producer added later, or failed
            }
            let Some(work) = slot.work.take() else {
                continue;
            };
            slot.status = TaskStatus::Running;
            self.on_workers += 1;
            self.in_flight += 1;
            jobs.push(Job {
                id,
                def: Arc::clone(&slot.def),
                work,
            });
        }
        jobs
    }

    /// A running job left its worker and waits for the recorder: the worker is free.
    pub fn release(&mut self, id: usize) {
        debug_assert_eq!(self.slots[id].status, TaskStatus::Running);
        self.on_workers -= 1;
    }

    /// A running job ended; `released` says whether [`State::release`] already freed its
    /// worker. Completion releases the dependents; failure fails every descendant (and, with
    /// stop-at-first-error, cancels every task not yet dispatched).
    pub fn finish(&mut self, id: usize, outcome: Outcome, released: bool) {
        if !released {
            self.on_workers -= 1;
        }
        self.in_flight -= 1;
        match outcome {
            Ok(Completion {
                skipped,
                restored,
                result,
            }) => {
                let slot = &mut self.slots[id];
                slot.status = if skipped {
                    TaskStatus::Skipped
                } else if restored {
                    TaskStatus::Restored
                } else {
                    TaskStatus::Completed
                };
                slot.result = Some(result);
                self.unfinished -= 1;
                for dependent in self.dag.dependents(id) {
                    let slot = &mut self.slots[dependent];
                    if slot.status == TaskStatus::Pending {
                        slot.waiting_on -= 1;
                        if slot.waiting_on == 0 && self.started && !self.stopping {
                            self.queue(dependent);
                        }
                    }
                }
            }
            Err((error, duration)) => {
                self.set_failed(id, error.clone(), Some(duration));
                let name = self.slots[id].def.name.clone();
                for d in self.dag.descendants(id) {
                    let cause = TaskError::Dependency {
                        dependency: name.clone(),
                        cause: Box::new(error.clone()),
                    };
                    self.set_failed(d, cause, None);
                }
                if self.stop_on_first_error {
                    self.stopping = true;
                    self.fail_unstarted(TaskError::Cancelled);
                }
            }
        }
    }

    /// The graph is closing: nothing new is dispatched or accepted; tasks not yet dispatched are
    /// cancelled. Running jobs finish normally.
    pub fn close(&mut self) {
        self.closed = true;
        self.stopping = true;
        self.fail_unstarted(TaskError::Cancelled);
    }

    /// Whether the graph is closed and no job is left running.
    pub fn drained(&self) -> bool {
        self.closed && self.in_flight == 0
    }

    /// Whether every task added so far is done.
    pub fn all_done(&self) -> bool {
        self.unfinished == 0
    }

    /// The events produced since the last call.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// What became of every task, once [`State::all_done`].
    pub fn report(&self) -> Result<RunReport, RunError> {
        let mut report = RunReport::default();
        let mut failures = Vec::new();
        for slot in &self.slots {
            match &slot.status {
                TaskStatus::Completed => report.ran.push(slot.def.name.clone()),
                TaskStatus::Skipped => report.skipped.push(slot.def.name.clone()),
                TaskStatus::Restored => report.restored.push(slot.def.name.clone()),
                TaskStatus::Failed(e) => failures.push(TaskFailure {
                    task: slot.def.name.clone(),
                    error: e.clone(),
                }),
                _ => {}
            }
        }
        if failures.is_empty() {
            Ok(report)
        } else {
            Err(RunError { failures })
        }
    }

    fn queue(&mut self, id: usize) {
        let slot = &mut self.slots[id];
        slot.status = TaskStatus::Queued;
        self.ready.push((slot.def.priority, Reverse(id)));
        self.events.push(Event::Queued {
            task: slot.def.name.clone(),
        });
    }

    fn set_failed(&mut self, id: usize, error: TaskError, duration: Option<Duration>) {
        let slot = &mut self.slots[id];
        if slot.status.is_done() {
            return;
        }
        slot.status = TaskStatus::Failed(error.clone());
        slot.work = None;
        self.unfinished -= 1;
        self.events.push(Event::Failed {
            task: slot.def.name.clone(),
            error,
            duration,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: u64 = 7;

    fn task(name: &str, reads: &[&str], writes: &[&str]) -> NewTask {
        let paths = |p: &[&str]| p.iter().map(|f| PathBuf::from(format!("/w/{f}"))).collect();
        NewTask {
            name: name.into(),
            op_id: format!("fn:{name}"),
            op_version: 0,
            args: Vec::new(),
            inputs: paths(reads),
            outputs: paths(writes),
            key: KeyForm {
                outputs: paths(writes),
                ..KeyForm::default()
            },
            after: Vec::new(),
            priority: 0,
            transient: false,
            outputs_exist_only: false,
            walltime: None,
            work: Work::Closure(Box::new(|_| Ok(Vec::new()))),
        }
    }

    fn ok() -> Outcome {
        Ok(Completion {
            skipped: false,
            restored: false,
            result: vec![1],
        })
    }

    fn failed() -> Outcome {
        Err((TaskError::Op("boom".into()), Duration::ZERO))
    }

    fn status(st: &State, id: usize) -> TaskStatus {
        st.slots[id].status.clone()
    }

    fn ids(jobs: &[Job]) -> Vec<usize> {
        jobs.iter().map(|j| j.id).collect()
    }

    #[test]
    fn tasks_wait_for_start_then_for_their_dependencies() {
        let mut st = State::new(GRAPH, false);
        let a = st.add(task("a", &[], &["a"])).unwrap();
        let b = st.add(task("b", &["a"], &["b"])).unwrap();
        assert_eq!(st.take_ready(4).len(), 0, "nothing runs before start");
        assert!(st.start());
        assert!(!st.start(), "starting twice is a no-op");
        assert_eq!(status(&st, a), TaskStatus::Queued);
        assert_eq!(status(&st, b), TaskStatus::Pending);
        assert_eq!(ids(&st.take_ready(4)), [a]);
        assert_eq!(status(&st, a), TaskStatus::Running);
        st.finish(a, ok(), false);
        assert_eq!(status(&st, a), TaskStatus::Completed);
        assert_eq!(ids(&st.take_ready(4)), [b]);
        st.finish(
            b,
            Ok(Completion {
                skipped: true,
                restored: false,
                result: vec![],
            }),
            false,
        );
        assert!(st.all_done());
        let report = st.report().unwrap();
        assert_eq!(
            (report.ran, report.skipped),
            (vec!["a".into()], vec!["b".into()])
        );
        let events: Vec<_> = st
            .take_events()
            .into_iter()
            .map(|e| match e {
                Event::Queued { task } => task,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(events, ["a", "b"]);
    }

    #[test]
    fn capacity_counts_jobs_on_workers_not_those_being_recorded() {
        let mut st = State::new(GRAPH, false);
        for i in 0..4 {
            st.add(task(&format!("t{i}"), &[], &[&format!("o{i}")]))
                .unwrap();
        }
        st.start();
        assert_eq!(ids(&st.take_ready(2)), [0, 1]);
        assert_eq!(st.take_ready(2).len(), 0, "both workers busy");
        st.release(0);
        assert_eq!(
            ids(&st.take_ready(2)),
            [2],
            "a released worker takes the next task"
        );
        st.finish(1, ok(), false);
        assert_eq!(ids(&st.take_ready(2)), [3]);
        st.close();
        assert!(!st.drained(), "three jobs still in flight");
        st.finish(0, ok(), true);
        st.finish(2, ok(), false);
        st.finish(3, ok(), false);
        assert!(st.drained() && st.all_done());
    }

    #[test]
    fn priority_then_insertion_order() {
        let mut st = State::new(GRAPH, false);
        for (i, p) in [0, 5, 5, -1].into_iter().enumerate() {
            let mut t = task(&format!("t{i}"), &[], &[&format!("o{i}")]);
            t.priority = p;
            st.add(t).unwrap();
        }
        st.start();
        assert_eq!(ids(&st.take_ready(10)), [1, 2, 0, 3]);
    }

    #[test]
    fn failure_fails_descendants_and_spares_independent_branches() {
        let mut st = State::new(GRAPH, false);
        let a = st.add(task("a", &[], &["a"])).unwrap();
        let b = st.add(task("b", &["a"], &["b"])).unwrap();
        let c = st.add(task("c", &["b"], &["c"])).unwrap();
        let other = st.add(task("other", &[], &["x"])).unwrap();
        st.start();
        assert_eq!(ids(&st.take_ready(1)), [a]);
        st.finish(a, failed(), false);
        for d in [b, c] {
            assert!(
                matches!(&st.slots[d].status, TaskStatus::Failed(TaskError::Dependency { dependency, .. }) if dependency == "a" || dependency == "b"),
                "{:?}",
                st.slots[d].status
            );
        }
        assert_eq!(ids(&st.take_ready(1)), [other]);
        st.finish(other, ok(), false);
        let err = st.report().unwrap_err();
        assert_eq!(err.failures.len(), 3);
        // A task added later on top of the failed one fails at once.
        let late = st.add(task("late", &["c"], &["l"])).unwrap();
        assert!(matches!(
            status(&st, late),
            TaskStatus::Failed(TaskError::Dependency { .. })
        ));
        assert!(st.all_done());
    }

    #[test]
    fn stop_at_first_error_cancels_what_has_not_started() {
        let mut st = State::new(GRAPH, true);
        let a = st.add(task("a", &[], &["a"])).unwrap();
        let b = st.add(task("b", &[], &["b"])).unwrap();
        let c = st.add(task("c", &[], &["c"])).unwrap();
        st.start();
        assert_eq!(ids(&st.take_ready(2)), [a, b]);
        st.finish(a, failed(), false);
        assert_eq!(status(&st, c), TaskStatus::Failed(TaskError::Cancelled));
        assert_eq!(status(&st, b), TaskStatus::Running, "running jobs finish");
        assert_eq!(st.take_ready(2).len(), 0);
        st.finish(b, ok(), false);
        assert_eq!(status(&st, b), TaskStatus::Completed);
        let late = st.add(task("late", &[], &["l"])).unwrap();
        assert_eq!(status(&st, late), TaskStatus::Failed(TaskError::Cancelled));
    }

    #[test]
    fn a_producer_added_later_re_blocks_its_queued_reader() {
        let mut st = State::new(GRAPH, false);
        let reader = st.add(task("reader", &["late.txt"], &["r"])).unwrap();
        st.start();
        assert_eq!(status(&st, reader), TaskStatus::Queued);
        let producer = st.add(task("producer", &[], &["late.txt"])).unwrap();
        assert_eq!(status(&st, reader), TaskStatus::Pending);
        assert_eq!(
            ids(&st.take_ready(4)),
            [producer],
            "the stale entry is skipped"
        );
        st.finish(producer, ok(), false);
        assert_eq!(ids(&st.take_ready(4)), [reader]);
        // Once the reader started, a second producer of its input is refused.
        let err = st.add(task("again", &[], &["late.txt"])).unwrap_err();
        assert!(matches!(err, GraphError::DuplicateOutput { .. }), "{err}");
    }

    #[test]
    fn a_late_producer_of_a_started_reader_is_refused() {
        let mut st = State::new(GRAPH, false);
        let reader = st.add(task("reader", &["in.txt"], &["r"])).unwrap();
        st.start();
        assert_eq!(ids(&st.take_ready(1)), [reader]);
        let err = st.add(task("producer", &[], &["in.txt"])).unwrap_err();
        assert!(matches!(err, GraphError::LateProducer { .. }), "{err}");
        assert_eq!(st.slots.len(), 1, "a refused task leaves no slot");
    }

    #[test]
    fn closing_cancels_everything_not_dispatched() {
        let mut st = State::new(GRAPH, false);
        let a = st.add(task("a", &[], &["a"])).unwrap();
        let b = st.add(task("b", &["a"], &["b"])).unwrap();
        st.close();
        assert!(!st.start(), "a closed graph does not start");
        for id in [a, b] {
            assert_eq!(status(&st, id), TaskStatus::Failed(TaskError::Cancelled));
        }
        assert!(st.drained() && st.all_done());
        let c = st.add(task("c", &[], &["c"])).unwrap();
        assert_eq!(status(&st, c), TaskStatus::Failed(TaskError::Cancelled));
    }

    #[test]
    fn explicit_dependencies_must_belong_to_this_graph() {
        let mut st = State::new(GRAPH, false);
        let a = st.add(task("a", &[], &[])).unwrap();
        let mut t = task("b", &[], &[]);
        t.after = vec![TaskRef {
            graph: GRAPH + 1,
            id: a,
        }];
        assert!(matches!(
            st.add(t),
            Err(GraphError::ForeignDependency { .. })
        ));
        let mut t = task("b", &[], &[]);
        t.after = vec![TaskRef {
            graph: GRAPH,
            id: a,
        }];
        let b = st.add(t).unwrap();
        st.start();
        assert_eq!(ids(&st.take_ready(4)), [a]);
        st.finish(a, ok(), false);
        assert_eq!(ids(&st.take_ready(4)), [b]);
    }

    #[test]
    fn output_less_tasks_of_one_name_get_distinct_identities() {
        let mut st = State::new(GRAPH, false);
        let a = st.add(task("same", &[], &[])).unwrap();
        let b = st.add(task("same", &[], &[])).unwrap();
        assert_ne!(st.slots[a].def.identity, st.slots[b].def.identity);
    }
}
