//! `pgp run PIPELINE.toml` and `pgp graph PIPELINE.toml`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use pgp::exec::{Executor, ExecutorSpec, SlurmPool};
use pgp::graph::{Event, Graph, GraphError, LockWait, PlanAction};
use pgp::pipeline::{Pipeline, PipelineError};

use pgp::graph::report::{note_event, write_report, ReportPage, TaskRecord, TaskState};

use super::CmdResult;
use crate::output::{errln, outln};

/// Arguments of `pgp run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
    /// Where the cache records live (default: `.pgp` beside the pipeline file).
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Executor spec: sync, threading[:N], multiprocessing[:N], slurm:workers=N,cpus=N,mem=16G,...
    /// (default: the file's, else `threading`).
    #[arg(long)]
    executor: Option<String>,
    /// Print what would run and why, run nothing.
    #[arg(long)]
    dry_run: bool,
    /// Keep running independent tasks after a failure (default: stop at the first).
    #[arg(long)]
    keep_going: bool,
    /// Print the run's result as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// If another run holds the workspace or writes the same outputs, wait for it to finish
    /// instead of failing at once.
    #[arg(long)]
    wait: bool,
    /// Share task results through the content-addressed store in DIR: tasks whose results are
    /// there are restored instead of run (default: the file's `cache`, else `PGP_CACHE`).
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
}

/// Arguments of `pgp graph`.
#[derive(Debug, clap::Args)]
pub struct GraphArgs {
    /// The pipeline file (TOML).
    pipeline: PathBuf,
}

/// Where task events go while a pipeline runs.
type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// Resolve the pipeline file and the workspace, then work in the file's directory: paths in a
/// pipeline are relative to it. Must run before any executor starts, so that worker processes
/// (which inherit the working directory) see the same paths.
fn enter(
    pipeline: &Path,
    workspace: Option<&Path>,
) -> Result<(PathBuf, PathBuf), Box<dyn std::error::Error>> {
    let file =
        std::fs::canonicalize(pipeline).map_err(|e| format!("{}: {e}", pipeline.display()))?;
    let workspace = match workspace {
        Some(w) => std::path::absolute(w)?,
        None => file.parent().unwrap_or(Path::new("/")).join(".pgp"),
    };
    if let Some(dir) = file.parent() {
        std::env::set_current_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok((file, workspace))
}

/// Load the pipeline and declare it on a graph in `workspace`. With `wait`, a workspace or
/// output directory held by another run is waited for (saying so once) instead of an error.
#[allow(clippy::too_many_arguments)]
fn open(
    file: &Path,
    workspace: &Path,
    executor: Executor,
    keep_going: bool,
    events: Option<EventSink>,
    wait: bool,
    cache: Option<&Path>,
) -> Result<(Pipeline, Graph), Box<dyn std::error::Error>> {
    let p = Pipeline::load(file)?;
    let dir = file.parent().unwrap_or(Path::new("/"));
    // The flag, else the file's own (relative to it), else the environment's default.
    let cache = cache
        .map(Path::to_path_buf)
        .or_else(|| p.cache.as_ref().map(|c| dir.join(c)))
        .or_else(|| cache_from_env().ok().flatten());
    let declare = |lock_wait: LockWait| -> Result<Graph, Box<dyn std::error::Error>> {
        let mut b = Graph::builder(workspace)
            .root(file.parent().unwrap_or(Path::new("/")))
            .executor(executor.clone())
            .lock_wait(lock_wait)
            .stop_on_first_error(!keep_going);
        if let Some(sink) = events.clone() {
            b = b.on_event(move |e| sink(e));
        }
        if let Some(dir) = &cache {
            b = b.cache(dir);
        }
        let g = b.open()?;
        p.add_to(&g)?;
        Ok(g)
    };
    let g = match declare(LockWait::Fail) {
        Err(e) if wait && held_by_another_run(e.as_ref()) => {
            eprintln!("pgp: waiting (--wait): {e}");
            declare(LockWait::Forever)?
        }
        other => other?,
    };
    Ok((p, g))
}

/// Whether `e` says that another run holds the workspace or an output directory.
fn held_by_another_run(e: &(dyn std::error::Error + 'static)) -> bool {
    let graph_error = match e.downcast_ref::<PipelineError>() {
        Some(PipelineError::Graph { source, .. }) => Some(source.as_ref()),
        _ => e.downcast_ref::<GraphError>(),
    };
    matches!(
        graph_error,
        Some(GraphError::Locked { .. } | GraphError::OutputsLocked { .. })
    )
}

fn executor_for(
    flag: Option<&str>,
    pipeline: &Path,
) -> Result<Executor, Box<dyn std::error::Error>> {
    let spec: ExecutorSpec = match flag {
        Some(s) => s.parse().map_err(|e| format!("--executor: {e}"))?,
        None => {
            // Peek at the file's own choice without resolving tasks yet.
            let text = std::fs::read_to_string(pipeline)
                .map_err(|e| format!("{}: {e}", pipeline.display()))?;
            let table: toml::Table = text
                .parse()
                .map_err(|e| format!("{}: {e}", pipeline.display()))?;
            match table.get("executor").and_then(|v| v.as_str()) {
                Some(s) => s
                    .parse()
                    .map_err(|e| format!("{}: key `executor`: {e}", pipeline.display()))?,
                None => ExecutorSpec::Threads(None),
            }
        }
    };
    Ok(Executor::from_spec(&spec)?)
}

/// The store `PGP_CACHE` names (made absolute against the directory `pgp` was started in), if set
/// and not empty.
pub fn cache_from_env() -> std::io::Result<Option<PathBuf>> {
    match std::env::var_os("PGP_CACHE") {
        Some(v) if !v.is_empty() => std::path::absolute(PathBuf::from(v)).map(Some),
        _ => Ok(None),
    }
}

/// Run `pgp run`.
/// `verbose` (the global `-v`) logs every task event as a JSON line on stderr.
pub fn run(args: RunArgs, verbose: bool) -> CmdResult {
    // Paths given on the command line and in the environment are relative to where `pgp` was
    // started: resolve them before entering the pipeline's directory.
    let cache = args.cache.as_deref().map(std::path::absolute).transpose()?;
    let env_cache = cache_from_env()?;
    let (file, workspace) = enter(&args.pipeline, args.workspace.as_deref())?;
    let executor = executor_for(args.executor.as_deref(), &file)?;
    let spec = executor.spec();
    let t0 = crate::progress::log_clock();
    let records: Arc<Mutex<Vec<TaskRecord>>> = Arc::new(Mutex::new(Vec::new()));
    let sink_records = Arc::clone(&records);
    // Tasks may finish while the graph is still being built: count them until the bar exists.
    let tasks_done = Arc::new(Mutex::new((None::<crate::progress::Tasks>, 0usize)));
    let sink_tasks = Arc::clone(&tasks_done);
    let sink: EventSink = Arc::new(move |e: &Event| {
        let at = t0.elapsed().as_secs_f64();
        if matches!(
            e,
            Event::Skipped { .. }
                | Event::Finished { .. }
                | Event::Restored { .. }
                | Event::Failed { .. }
        ) {
            if let Ok(mut tasks) = sink_tasks.lock() {
                match tasks.0.as_mut() {
                    Some(t) => t.done(),
                    None => tasks.1 += 1,
                }
            }
        }
        if verbose {
            crate::progress::log_line(event_json(e));
        }
        if let Ok(mut recs) = sink_records.lock() {
            note_event(&mut recs, e, at);
        }
    });
    let slurm_pool = executor.slurm_pool().cloned();
    let (pipeline, graph) = open(
        &file,
        &workspace,
        executor,
        args.keep_going,
        Some(sink),
        args.wait,
        cache.or(env_cache).as_deref(),
    )?;

    if args.dry_run {
        let plan = graph.dry_run();
        for t in &plan {
            match &t.action {
                PlanAction::Skip => outln!("skip  {}", t.name)?,
                PlanAction::Restore(reason) => {
                    outln!("restore  {}  (restored from cache; {reason})", t.name)?
                }
                PlanAction::Run(reason) => outln!("run   {}  ({reason})", t.name)?,
            }
        }
        return Ok(());
    }

    let total = pipeline.tasks.len();
    if let Ok(mut tasks) = tasks_done.lock() {
        let mut bar = crate::progress::Tasks::start(total);
        for _ in 0..tasks.1 {
            bar.done();
        }
        tasks.0 = Some(bar);
    }
    let watcher = slurm_pool.map(AllocationWatcher::start);
    let result = graph.join();
    // Stopped by a signal: the failures of the workers it ended are not the run's result.
    crate::signals::wait_if_stopping();
    drop(watcher);
    if let Ok(mut tasks) = tasks_done.lock() {
        tasks.0.take();
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let mut recs = records.lock().map(|r| r.clone()).unwrap_or_default();
    for t in &pipeline.tasks {
        if !recs.iter().any(|r| r.name == t.name) {
            recs.push(TaskRecord::new(&t.name));
        }
    }
    let report_path = workspace.join("report.html");
    let digest_of = |path: &Path| graph.file_digest(path).ok();
    let outputs = super::report_outputs::outputs_section(
        &workspace,
        &pipeline,
        &recs,
        &digest_of,
        graph.cache(),
    );
    // The report is secondary: the run's own result comes first, then a warning if the report
    // could not be written (a full disk must not hide which tasks ran or failed).
    let title = pipeline.path.display().to_string();
    let page = ReportPage {
        title: &title,
        executor: &spec.to_string(),
        seconds: elapsed,
        extra: &outputs,
        extra_style: super::report_outputs::OUTPUTS_STYLE,
    };
    let report = write_report(&report_path, &graph, &recs, &page)
        .map(|()| report_path.clone())
        .map_err(|e| format!("could not write the report {}: {e}", report_path.display()));
    let report_note = match &report {
        Ok(path) => format!("report: {}", path.display()),
        Err(_) => "no report".to_string(),
    };
    let warn_report = || {
        if let Err(message) = &report {
            errln!("pgp: warning: {message}");
        }
    };
    match result {
        Ok(run) => {
            if args.json {
                let workers: serde_json::Map<String, serde_json::Value> = recs
                    .iter()
                    .filter_map(|r| Some((r.name.clone(), serde_json::json!(r.worker.as_ref()?))))
                    .collect();
                outln!(
                    "{}",
                    serde_json::json!({
                        "ran": run.ran, "restored": run.restored, "skipped": run.skipped,
                        "seconds": elapsed, "report": report.as_ref().ok(),
                        "workers": workers,
                    })
                )?;
            } else {
                for r in recs.iter().filter(|r| r.state != TaskState::Pending) {
                    outln!("{}", r.line())?;
                }
                if run.ran.is_empty() && run.restored.is_empty() {
                    outln!(
                        "nothing to do: all {total} task(s) up to date (skipped), {elapsed:.2} s"
                    )?;
                } else if !run.restored.is_empty() {
                    outln!(
                        "{} task(s) ran, {} restored from cache, {} skipped, {elapsed:.2} s on {spec}",
                        run.ran.len(),
                        run.restored.len(),
                        run.skipped.len()
                    )?;
                } else {
                    outln!(
                        "{} task(s) ran, {} skipped, {elapsed:.2} s on {spec}",
                        run.ran.len(),
                        run.skipped.len()
                    )?;
                }
                outln!("{report_note}")?;
            }
            for w in run.warnings {
                errln!("pgp: warning: {w}");
            }
            warn_report();
            Ok(())
        }
        Err(e) => {
            for r in recs.iter().filter(|r| r.state != TaskState::Pending) {
                errln!("{}", r.line());
            }
            warn_report();
            let first = e
                .failures
                .first()
                .map(|f| format!("task `{}`: {}", f.task, f.error))
                .unwrap_or_default();
            Err(format!(
                "{} task(s) failed; first: {first} ({report_note})",
                e.failures.len(),
            )
            .into())
        }
    }
}

/// Run `pgp graph`.
pub fn graph(args: GraphArgs) -> CmdResult {
    let dir = tempfile_dir()?;
    let (file, _) = enter(&args.pipeline, None)?;
    let (_, graph) = open(&file, &dir, Executor::sync(), false, None, false, None)?;
    let dot = graph.to_dot();
    drop(graph);
    let _ = std::fs::remove_dir_all(&dir);
    outln!("{}", dot.strip_suffix('\n').unwrap_or(&dot))?;
    Ok(())
}

/// A throwaway workspace: `pgp graph` only draws, it never reads or writes records.
fn tempfile_dir() -> std::io::Result<PathBuf> {
    let d = std::env::temp_dir().join(format!("pgp-graph-{}", std::process::id()));
    std::fs::create_dir_all(&d)?;
    Ok(d)
}

/// A task event as a `-v` line: `{"event": "<kind>", ...fields}`. Every variant is written out
/// (no catch-all), so a new kind of event cannot reach the log in another shape.
fn event_json(e: &Event) -> serde_json::Value {
    match e {
        Event::Queued { task } => serde_json::json!({"event": "queued", "task": task}),
        Event::Started { task, reason } => {
            serde_json::json!({"event": "started", "task": task, "reason": reason.to_string()})
        }
        Event::Skipped { task, duration, .. } => serde_json::json!({
            "event": "skipped", "task": task, "seconds": duration.as_secs_f64()}),
        Event::Finished { task, duration } => serde_json::json!({
            "event": "finished", "task": task, "seconds": duration.as_secs_f64()}),
        Event::Restored { task, duration, .. } => serde_json::json!({
            "event": "restored", "task": task, "seconds": duration.as_secs_f64()}),
        Event::Failed {
            task,
            error,
            duration,
        } => serde_json::json!({
            "event": "failed", "task": task, "error": error.to_string(),
            "seconds": duration.map(|d| d.as_secs_f64())}),
        Event::RanOn { task, worker } => {
            serde_json::json!({"event": "ran_on", "task": task, "worker": worker})
        }
        Event::Warning { message } => {
            serde_json::json!({"event": "warning", "message": message})
        }
    }
}

/// Shows a Slurm pool's jobs (pending, running, their ids) next to the task progress while a
/// pipeline runs.
struct AllocationWatcher {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AllocationWatcher {
    fn start(pool: SlurmPool) -> AllocationWatcher {
        use std::sync::atomic::Ordering;
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut status = crate::progress::Status::start("slurm");
            while !stopping.load(Ordering::Relaxed) {
                let jobs = pool.allocations();
                if !jobs.is_empty() {
                    status.set(describe_allocations(&jobs));
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
        });
        AllocationWatcher {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for AllocationWatcher {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `2 busy, 1 idle, 1 pending (jobs 12 13 14 15)`: live jobs by what they do, then their ids.
fn describe_allocations(jobs: &[pgp::exec::Allocation]) -> String {
    let final_state = |s: &str| !matches!(s, "SUBMITTED" | "PENDING" | "RUNNING" | "CONFIGURING");
    let busy = jobs.iter().filter(|a| a.busy).count();
    let idle = jobs.iter().filter(|a| a.connected && !a.busy).count();
    let waiting: Vec<&pgp::exec::Allocation> = jobs
        .iter()
        .filter(|a| !a.connected && !final_state(&a.state))
        .collect();
    let ended = jobs.len() - busy - idle - waiting.len();
    let live: Vec<String> = jobs
        .iter()
        .filter(|a| a.connected || !final_state(&a.state))
        .map(|a| a.job_id.to_string())
        .collect();
    let mut parts = vec![format!("{busy} busy"), format!("{idle} idle")];
    parts.push(format!("{} pending", waiting.len()));
    if ended > 0 {
        parts.push(format!("{ended} ended"));
    }
    format!("{} (jobs {})", parts.join(", "), live.join(" "))
}
