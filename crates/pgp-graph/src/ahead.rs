//! Digesting ahead of the jobs: when a graph starts, the files its recorded tasks will check are
//! hashed on several threads at once, so that the jobs find their digests in the memo.
//!
//! A rerun where the memo cannot vouch for the files (a copied or moved project: every file has
//! a new inode and mtime) must read every input and output once. Left to the jobs, that happens
//! one file after another along the chain of dependencies: the first task hashes its inputs,
//! then its outputs, and only then may the next one start on its own outputs, while the other
//! workers idle. Ahead of them, the files of every task are hashed in parallel from the start.
//!
//! Only what a job would hash is hashed: the inputs of every task that no task of the graph
//! writes, and the outputs (unless judged by existence alone) of tasks whose record still looks
//! valid (same operation, arguments and input list; no input
//! known to differ from the recorded one; no input produced by a task that will run). The guess
//! only saves work: whether a task is up to date is still decided by its job, through the memo
//! and its racy-timestamp rule (see [`crate::memo`]); a file being hashed by one thread is
//! waited for, never read twice.

use crate::ctx::Ctx;
use crate::digest::Digest;
use crate::plan::TaskDef;
use crate::store::Record;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Threads digesting ahead; [`DigestAhead::stop`] ends them after the file at hand.
pub struct DigestAhead {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl DigestAhead {
    /// Starts digesting the files of `tasks` (those of a graph that is starting) on `threads`
    /// threads. `None` if there is nothing worth doing or no thread could be started.
    pub fn start(ctx: &Arc<Ctx>, tasks: Vec<Arc<TaskDef>>, threads: usize) -> Option<Self> {
        if threads == 0 || tasks.iter().all(|t| t.transient) {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let (ctx, flag) = (Arc::clone(ctx), Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name("pgp-graph-digest-ahead".into())
            .spawn(move || {
                let plan = Plan::of(&ctx, tasks);
                plan.run(&ctx, &flag, threads);
            })
            .ok()?;
        Some(DigestAhead { stop, thread })
    }

    /// Stops after the files being hashed now and waits for the threads.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

/// A recorded task as its job will check it.
struct Recorded {
    def: Arc<TaskDef>,
    record: Record,
    /// Per input: the recorded task that writes it, if any.
    producers: Vec<Option<usize>>,
    /// Known to run (so its outputs are not worth hashing).
    stale: AtomicBool,
}

enum Item {
    Input(PathBuf),
    Output { task: usize, path: PathBuf },
}

struct Plan {
    tasks: Vec<Recorded>,
    items: Vec<Item>,
}

impl Plan {
    /// Inputs first (in task order, each once), then outputs: an output's task is judged by its
    /// inputs' digests, which are then mostly known.
    fn of(ctx: &Ctx, defs: Vec<Arc<TaskDef>>) -> Plan {
        let mut writer_of: HashMap<&PathBuf, (usize, usize)> = HashMap::new();
        for (t, def) in defs.iter().enumerate() {
            for (o, out) in def.outputs.iter().enumerate() {
                writer_of.insert(out, (t, o));
            }
        }
        let records: Vec<Option<Record>> = defs
            .iter()
            .map(|def| {
                let record = ctx.store.peek(&def.identity)?;
                plausible(def, &record).then_some(record)
            })
            .collect();
        // Index among the recorded tasks, by index among all.
        let mut recorded_index = vec![None; defs.len()];
        let mut tasks: Vec<Recorded> = Vec::new();
        for (t, record) in records.iter().enumerate() {
            if let Some(record) = record {
                recorded_index[t] = Some(tasks.len());
                tasks.push(Recorded {
                    def: Arc::clone(&defs[t]),
                    record: record.clone(),
                    producers: Vec::new(),
                    stale: AtomicBool::new(false),
                });
            }
        }
        for task in &mut tasks {
            let mut stale = false;
            for (i, input) in task.def.inputs.iter().enumerate() {
                let producer = writer_of.get(input).copied();
                task.producers
                    .push(producer.and_then(|(t, _)| recorded_index[t]));
                // Written by a task without a usable record (it runs), or by one whose record
                // vouches for other content than this task read.
                stale |= producer.is_some_and(|(t, o)| {
                    records[t].as_ref().is_none_or(|r| {
                        r.outputs.get(o).map(|out| out.digest) != Some(task.record.inputs[i].1)
                    })
                });
            }
            task.stale = AtomicBool::new(stale);
        }
        // Every job hashes its inputs; those no task of the graph writes can be hashed now.
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let mut items = Vec::new();
        for def in defs.iter().filter(|d| !d.transient) {
            for input in &def.inputs {
                if !writer_of.contains_key(input) && seen.insert(input.clone()) {
                    items.push(Item::Input(input.clone()));
                }
            }
        }
        // Outputs judged by existence alone are not read by their job.
        for (t, task) in tasks.iter().enumerate() {
            if task.def.outputs_exist_only {
                continue;
            }
            for out in &task.def.outputs {
                if seen.insert(out.clone()) {
                    items.push(Item::Output {
                        task: t,
                        path: out.clone(),
                    });
                }
            }
        }
        Plan { tasks, items }
    }

    fn run(&self, ctx: &Ctx, stop: &AtomicBool, threads: usize) {
        let next = AtomicUsize::new(0);
        let work = || {
            while !stop.load(Ordering::Relaxed) {
                let Some(item) = self.items.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return;
                };
                match item {
                    Item::Input(path) => ctx.memo.digest_ahead(path),
                    Item::Output { task, path } => {
                        if self.worth_checking(ctx, *task) {
                            ctx.memo.digest_ahead(path);
                        }
                    }
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads.min(self.items.len()) {
                let _ = std::thread::Builder::new()
                    .name("pgp-graph-digest-ahead".into())
                    .spawn_scoped(scope, work);
            }
            work();
        });
    }

    /// Whether task `t` may still be up to date, by what is known now: no input produced by a
    /// task that will run, no input whose known digest differs from the recorded one.
    fn worth_checking(&self, ctx: &Ctx, t: usize) -> bool {
        let task = &self.tasks[t];
        if task.stale.load(Ordering::Relaxed) {
            return false;
        }
        let stale = task
            .def
            .inputs
            .iter()
            .zip(&task.record.inputs)
            .zip(&task.producers)
            .any(|((path, (_, recorded)), producer)| {
                producer.is_some_and(|p| self.tasks[p].stale.load(Ordering::Relaxed))
                    || ctx.memo.known(path).is_some_and(|d| d != *recorded)
            });
        if stale {
            task.stale.store(true, Ordering::Relaxed);
        }
        !stale
    }
}

/// Whether `record` may still vouch for `def` as far as can be told without reading a file.
fn plausible(def: &TaskDef, record: &Record) -> bool {
    record.op_id == def.op_id
        && record.op_version == def.op_version
        && record.args_digest == Digest::of_bytes(&def.key.args)
        && record.inputs.len() == def.inputs.len()
        && record
            .inputs
            .iter()
            .zip(&def.key.inputs)
            .all(|((recorded, _), now)| recorded == now)
        && record.outputs.len() == def.outputs.len()
}
