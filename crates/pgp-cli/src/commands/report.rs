//! The report a person opens after `pgp run`: an HTML page with the graph and a timeline of
//! which tasks ran at the same time, which were skipped, and how long each took.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use pgp::exec::WorkerId;
use pgp::graph::Event;
use pgp::pipeline::Pipeline;
use serde_json::Value;

/// What became of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    Pending,
    Running,
    Ran,
    Skipped,
    /// Restored from the shared cache.
    Restored,
    Failed,
}

/// One task's story, from the graph's events.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub name: String,
    pub state: TaskState,
    pub start: Option<f64>,
    pub end: Option<f64>,
    pub reason: Option<String>,
    pub error: Option<String>,
    /// Where its operation ran (a thread, a worker process, a Slurm job and node).
    pub worker: Option<WorkerId>,
}

impl TaskRecord {
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

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// Edges `(from, to)` between task indices: a task that reads another's output, or lists it in
/// `after`.
fn edges(p: &Pipeline) -> Vec<(usize, usize)> {
    let mut producer: HashMap<String, usize> = HashMap::new();
    for (i, t) in p.tasks.iter().enumerate() {
        for o in &t.outputs {
            producer.insert(o.to_string_lossy().into_owned(), i);
        }
    }
    let mut out = Vec::new();
    for (j, t) in p.tasks.iter().enumerate() {
        let mut s = Vec::new();
        strings(&t.args, &mut s);
        for x in s {
            if let Some(&i) = producer.get(x) {
                if i != j && !out.contains(&(i, j)) {
                    out.push((i, j));
                }
            }
        }
        for a in &t.after {
            if let Some(i) = p.tasks.iter().position(|u| &u.name == a) {
                if !out.contains(&(i, j)) {
                    out.push((i, j));
                }
            }
        }
    }
    out
}

fn graph_svg(p: &Pipeline, recs: &[TaskRecord]) -> String {
    let n = p.tasks.len();
    let e = edges(p);
    // Layer = longest path from a source (tasks only refer to earlier tasks, so one pass).
    let mut layer = vec![0usize; n];
    for j in 0..n {
        for &(i, k) in &e {
            if k == j {
                layer[j] = layer[j].max(layer[i] + 1);
            }
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
    for &(i, j) in &e {
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
    for (j, t) in p.tasks.iter().enumerate() {
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

/// Write the HTML report (atomically: a half-written report is never left behind).
pub fn write_report(
    path: &Path,
    p: &Pipeline,
    recs: &[TaskRecord],
    total: f64,
    executor: &str,
    dot: &str,
    outputs: &str,
) -> std::io::Result<()> {
    let count = |st: TaskState| recs.iter().filter(|r| r.state == st).count();
    let html = format!(
        r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>pgp run: {title}</title>
<style>body{{font-family:sans-serif;margin:2em;color:#222}} .k span{{display:inline-block;width:1em;height:1em;margin:0 .3em 0 1em;vertical-align:middle}} table.workers td,table.workers th{{padding:.1em .8em;text-align:left}} {outputs_style}</style></head>
<body>
<h1>pgp run: {title}</h1>
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
        title = esc(&p.path.display().to_string()),
        ran = count(TaskState::Ran),
        skipped = count(TaskState::Skipped),
        restored = count(TaskState::Restored),
        failed = count(TaskState::Failed),
        graph = graph_svg(p, recs),
        timeline = timeline_svg(recs, total),
        workers = workers_table(recs),
        dot = esc(dot),
        outputs_style = super::report_outputs::OUTPUTS_STYLE,
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
