//! The report a person opens after a run: an HTML page with the graph and a timeline of which
//! tasks ran at the same time, which were skipped, and how long each took. Built from the
//! graph's [`Event`]s ([`note_event`]) and its tasks and edges ([`Graph::tasks`],
//! [`Graph::edges`]), so every front end (`pgp run`, the Python package's task graph) draws the
//! same page; a front end may add a section of its own (the CLI's thumbnails of outputs).
//!
//! ```
//! use pgp_graph::report::{note_event, write_report, ReportPage, TaskRecord};
//! use pgp_graph::{Event, Graph, Task};
//! use std::sync::{Arc, Mutex};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let records: Arc<Mutex<Vec<TaskRecord>>> = Arc::default();
//! let sink = Arc::clone(&records);
//! let t0 = std::time::Instant::now();
//! let graph = Graph::builder(dir.path().join("ws"))
//!     .on_event(move |e: &Event| note_event(&mut sink.lock().unwrap(), e, t0.elapsed().as_secs_f64()))
//!     .open()?;
//! let out = dir.path().join("a.txt");
//! graph.add_fn(Task::new("write a").writes([&out]), (), |_, io| std::fs::write(io.output(0), "a"))?;
//! graph.join()?;
//! let page = ReportPage { title: "example", executor: "sync", seconds: t0.elapsed().as_secs_f64(), extra: "", extra_style: "" };
//! write_report(&dir.path().join("report.html"), &graph, &records.lock().unwrap(), &page)?;
//! assert!(std::fs::read_to_string(dir.path().join("report.html"))?.contains("write a"));
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use crate::events::Event;
use crate::graph::Graph;
use crate::inspect::TaskSummary;
use pgp_exec::WorkerId;

/// What became of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Not started (or never mentioned by an event).
    Pending,
    /// Started, not finished.
    Running,
    /// Ran and was recorded.
    Ran,
    /// Up to date: not run.
    Skipped,
    /// Restored from the shared cache.
    Restored,
    /// Failed, was failed by a dependency, or was cancelled.
    Failed,
}

/// One task's story, from the graph's events.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    /// The task's name.
    pub name: String,
    /// What became of it.
    pub state: TaskState,
    /// When it started being checked or run, in seconds into the run.
    pub start: Option<f64>,
    /// When it was done, in seconds into the run.
    pub end: Option<f64>,
    /// Why it ran.
    pub reason: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// Where its operation ran (a thread, a worker process, a Slurm job and node).
    pub worker: Option<WorkerId>,
}

impl TaskRecord {
    /// A task nothing has happened to yet.
    pub fn new(name: &str) -> TaskRecord {
        TaskRecord {
            name: name.to_string(),
            state: TaskState::Pending,
            start: None,
            end: None,
            reason: None,
            error: None,
            worker: None,
        }
    }

    fn seconds(&self) -> Option<f64> {
        Some(self.end? - self.start?)
    }

    /// One line for the terminal.
    pub fn line(&self) -> String {
        let secs = self
            .seconds()
            .map(|s| format!("{s:>8.3} s"))
            .unwrap_or_else(|| "         -".into());
        match self.state {
            TaskState::Ran => format!(
                "ran      {secs}  {}  ({})",
                self.name,
                self.reason.as_deref().unwrap_or("")
            ),
            TaskState::Skipped => format!("skipped  {secs}  {}  (up to date)", self.name),
            TaskState::Restored => format!("restored {secs}  {}  (restored from cache)", self.name),
            TaskState::Failed => format!(
                "FAILED   {secs}  {}  {}",
                self.name,
                self.error.as_deref().unwrap_or("")
            ),
            TaskState::Running => format!("running  {secs}  {}", self.name),
            TaskState::Pending => format!("pending  {secs}  {}", self.name),
        }
    }
}

fn record<'a>(recs: &'a mut Vec<TaskRecord>, name: &str) -> &'a mut TaskRecord {
    if let Some(i) = recs.iter().position(|r| r.name == name) {
        &mut recs[i]
    } else {
        recs.push(TaskRecord::new(name));
        let last = recs.len() - 1;
        &mut recs[last]
    }
}

/// Update the records with one event received `at` seconds into the run.
pub fn note_event(recs: &mut Vec<TaskRecord>, e: &Event, at: f64) {
    match e {
        Event::Started { task, reason } => {
            let r = record(recs, task);
            r.state = TaskState::Running;
            r.start.get_or_insert(at);
            r.reason = Some(reason.to_string());
        }
        Event::RanOn { task, worker } => {
            record(recs, task).worker = Some(worker.clone());
        }
        Event::Skipped { task, duration, .. } => {
            let r = record(recs, task);
            r.state = TaskState::Skipped;
            r.start = Some((at - duration.as_secs_f64()).max(0.0));
            r.end = Some(at);
        }
        Event::Restored { task, duration, .. } => {
            let r = record(recs, task);
            r.state = TaskState::Restored;
            r.start = Some((at - duration.as_secs_f64()).max(0.0));
            r.end = Some(at);
        }
        Event::Finished { task, duration } => {
            let r = record(recs, task);
            r.state = TaskState::Ran;
            r.start = Some((at - duration.as_secs_f64()).max(0.0));
            r.end = Some(at);
        }
        Event::Failed {
            task,
            error,
            duration,
        } => {
            let r = record(recs, task);
            r.state = TaskState::Failed;
            r.error = Some(error.to_string());
            if let Some(d) = duration {
                r.start = Some((at - d.as_secs_f64()).max(0.0));
            }
            r.end = Some(at);
        }
        _ => {}
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn color(state: TaskState) -> &'static str {
    match state {
        TaskState::Ran => "#4c9be8",
        TaskState::Skipped => "#b8c4ce",
        TaskState::Restored => "#7fc8a9",
        TaskState::Failed => "#e8574c",
        TaskState::Running | TaskState::Pending => "#f0c04c",
    }
}

fn graph_svg(tasks: &[TaskSummary], e: &[(usize, usize)], recs: &[TaskRecord]) -> String {
    let n = tasks.len();
    // Layer = longest path from a source. A producer may be added after its reader, so relax
    // the edges until nothing changes (at most n rounds: the graph is acyclic).
    let mut layer = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for &(i, k) in e {
            if i < n && k < n && layer[k] < layer[i] + 1 {
                layer[k] = layer[i] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut row_in_layer = vec![0usize; n];
    let mut counts: HashMap<usize, usize> = HashMap::new();
    for j in 0..n {
        let c = counts.entry(layer[j]).or_default();
        row_in_layer[j] = *c;
        *c += 1;
    }
    let (bw, bh, gx, gy) = (170.0, 36.0, 60.0, 18.0);
    let pos = |j: usize| {
        (
            10.0 + layer[j] as f64 * (bw + gx),
            10.0 + row_in_layer[j] as f64 * (bh + gy),
        )
    };
    let width = 20.0 + (layer.iter().max().copied().unwrap_or(0) + 1) as f64 * (bw + gx);
    let height = 20.0 + counts.values().max().copied().unwrap_or(1) as f64 * (bh + gy);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">
<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>
"##
    );
    for &(i, j) in e {
        let (x1, y1) = pos(i);
        let (x2, y2) = pos(j);
        let _ = writeln!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#555" marker-end="url(#arrow)"/>"##,
            x1 + bw,
            y1 + bh / 2.0,
            x2,
            y2 + bh / 2.0
        );
    }
    for (j, t) in tasks.iter().enumerate() {
        let (x, y) = pos(j);
        let state = recs
            .iter()
            .find(|r| r.name == t.name)
            .map(|r| r.state)
            .unwrap_or(TaskState::Pending);
        let _ = writeln!(
            s,
            r##"<g><title>{} ({})</title><rect x="{x}" y="{y}" width="{bw}" height="{bh}" rx="5" fill="{}" stroke="#333"/><text x="{}" y="{}">{}</text><text x="{}" y="{}" font-size="10" fill="#222">{}</text></g>"##,
            esc(&t.name),
            esc(&t.op),
            color(state),
            x + 6.0,
            y + 15.0,
            esc(&t.name),
            x + 6.0,
            y + 29.0,
            esc(&t.op)
        );
    }
    s.push_str("</svg>");
    s
}

fn timeline_svg(recs: &[TaskRecord], total: f64) -> String {
    let (label_w, plot_w, row_h) = (200.0, 640.0, 22.0);
    let span = total.max(1e-3);
    let height = 30.0 + recs.len() as f64 * row_h;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" font-family="sans-serif" font-size="12">
"#,
        label_w + plot_w + 80.0
    );
    for k in 0..=4 {
        let x = label_w + plot_w * k as f64 / 4.0;
        let _ = writeln!(
            s,
            r##"<line x1="{x}" y1="20" x2="{x}" y2="{height}" stroke="#ddd"/><text x="{x}" y="14" text-anchor="middle">{:.2} s</text>"##,
            span * k as f64 / 4.0
        );
    }
    for (i, r) in recs.iter().enumerate() {
        let y = 24.0 + i as f64 * row_h;
        let _ = writeln!(s, r#"<text x="4" y="{}">{}</text>"#, y + 13.0, esc(&r.name));
        if let (Some(a), Some(b)) = (r.start, r.end) {
            let x = label_w + plot_w * a / span;
            let w = (plot_w * (b - a) / span).max(2.0);
            let mut tip = match r.state {
                TaskState::Ran => {
                    format!("ran {:.3} s ({})", b - a, r.reason.as_deref().unwrap_or(""))
                }
                TaskState::Skipped => format!("skipped, checked in {:.3} s", b - a),
                TaskState::Restored => format!("restored from cache in {:.3} s", b - a),
                TaskState::Failed => format!("failed: {}", r.error.as_deref().unwrap_or("")),
                _ => String::new(),
            };
            if let Some(worker) = &r.worker {
                let _ = write!(tip, "; on {worker}");
            }
            let _ = writeln!(
                s,
                r##"<rect x="{x}" y="{y}" width="{w}" height="16" fill="{}"><title>{}</title></rect><text x="{}" y="{}" font-size="10">{:.3} s</text>"##,
                color(r.state),
                esc(&tip),
                x + w + 4.0,
                y + 12.0,
                b - a
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The table of where each task that reached a worker ran, with the Slurm job and node when
/// there was one (to find its log).
fn workers_table(recs: &[TaskRecord]) -> String {
    let ran: Vec<&TaskRecord> = recs.iter().filter(|r| r.worker.is_some()).collect();
    if ran.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "<h2>Workers</h2>\n<table class=\"workers\"><tr><th>task</th><th>state</th><th>worker</th><th>Slurm job</th><th>node</th></tr>\n",
    );
    for r in ran {
        let Some(worker) = &r.worker else { continue };
        let (job, node) = match worker {
            WorkerId::Slurm { job_id, node, .. } => (job_id.to_string(), node.as_str()),
            _ => (String::new(), ""),
        };
        let state = match r.state {
            TaskState::Ran => "ran",
            TaskState::Failed => "failed",
            _ => "not finished",
        };
        let _ = writeln!(
            s,
            "<tr><td>{}</td><td>{state}</td><td>{}</td><td>{job}</td><td>{}</td></tr>",
            esc(&r.name),
            esc(&worker.to_string()),
            esc(node)
        );
    }
    s.push_str("</table>\n");
    s
}

/// What a report says besides the graph's own tasks and events.
#[derive(Clone, Copy, Debug)]
pub struct ReportPage<'a> {
    /// What ran (a pipeline file, a script).
    pub title: &'a str,
    /// The executor's spec.
    pub executor: &'a str,
    /// Wall time of the run, in seconds.
    pub seconds: f64,
    /// HTML of the front end's own sections, placed after the timeline (may be empty).
    pub extra: &'a str,
    /// CSS for those sections (may be empty).
    pub extra_style: &'a str,
}

/// Writes the HTML report of `graph`'s run, from the `recs` its events made (atomically: a
/// half-written report is never left behind). Tasks the events never mentioned show as not
/// finished.
pub fn write_report(
    path: &Path,
    graph: &Graph,
    recs: &[TaskRecord],
    page: &ReportPage<'_>,
) -> std::io::Result<()> {
    let tasks = graph.tasks();
    let mut recs = recs.to_vec();
    for t in &tasks {
        if !recs.iter().any(|r| r.name == t.name) {
            recs.push(TaskRecord::new(&t.name));
        }
    }
    let recs = &recs[..];
    let (total, executor, outputs) = (page.seconds, page.executor, page.extra);
    let dot = graph.to_dot();
    let count = |st: TaskState| recs.iter().filter(|r| r.state == st).count();
    let html = format!(
        r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pgp: {title}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}} .k span{{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle}} table.workers td,table.workers th{{padding:.1em .8em;text-align:left}} {outputs_style}</style></head>
<body>
<h1>pgp: {title}</h1>
<p>{total:.3} s on <code>{executor}</code>: {ran} ran, {restored} restored from cache, {skipped} skipped, {failed} failed.</p>
<p class="k"><span style="background:#4c9be8"></span>ran<span style="background:#7fc8a9"></span>restored from cache<span style="background:#b8c4ce"></span>skipped<span style="background:#e8574c"></span>failed<span style="background:#f0c04c"></span>not finished</p>
<h2>Graph</h2>
{graph}
<h2>Timeline</h2>
<p>Bars that overlap ran at the same time. A skipped task's bar is the time spent checking it.</p>
{timeline}
{workers}
{outputs}
<details><summary>DOT</summary><pre>{dot}</pre></details>
</body></html>
"##,
        title = esc(page.title),
        ran = count(TaskState::Ran),
        skipped = count(TaskState::Skipped),
        restored = count(TaskState::Restored),
        failed = count(TaskState::Failed),
        graph = graph_svg(&tasks, &graph.edges(), recs),
        timeline = timeline_svg(recs, total),
        workers = workers_table(recs),
        dot = esc(&dot),
        outputs_style = page.extra_style,
    );
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("html.tmp");
    let written = std::fs::write(&tmp, html).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        // A full disk leaves a truncated temporary: never leave it behind.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}
