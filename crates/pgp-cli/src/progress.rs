//! Progress on stderr: a bar per running operation (blocks done of total) and, for `pgp run`,
//! one for tasks done of total. Bars are drawn only on a terminal; `--progress lines` prints
//! plain lines instead (for batch-job logs), `--progress off` prints nothing.
//!
//! `-v` adds structured logs on the same channel: a JSON line when an operation starts and one
//! when it ends (units done of total, seconds), whatever the progress mode.
//!
//! Operations' warnings are printed whatever the mode: `pgp: warning: OPERATION: MESSAGE`, or a
//! JSON line (`"event": "warning"`) with `-v`.

use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::output::errln;
use clap::ValueEnum;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use pgp::ops::progress::{set_global_progress, Progress, ProgressTicker};

/// How progress is shown (`--progress`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars when stderr is a terminal, nothing otherwise.
    #[default]
    Auto,
    /// Bars (drawn only on a terminal).
    Bars,
    /// A plain line per operation when it ends, and every few seconds while it runs.
    Lines,
    /// Nothing.
    Off,
}

/// Lines mode prints a running operation's progress at most this often.
const LINE_EVERY: Duration = Duration::from_secs(5);

#[derive(Clone)]
enum Sink {
    Bars(MultiProgress),
    Lines,
    Off,
}

static SINK: OnceLock<Sink> = OnceLock::new();
static VERBOSE: OnceLock<bool> = OnceLock::new();
static CLOCK: OnceLock<Instant> = OnceLock::new();

/// The instant every `-v` line's `t` (seconds) counts from.
pub fn log_clock() -> Instant {
    *CLOCK.get_or_init(Instant::now)
}

/// Print one `-v` log line: `fields` (a JSON object) with `t`, seconds since [`log_clock`].
pub fn log_line(fields: serde_json::Value) {
    let mut line = serde_json::json!({"t": log_clock().elapsed().as_secs_f64()});
    if let (Some(map), serde_json::Value::Object(more)) = (line.as_object_mut(), fields) {
        map.extend(more);
    }
    // Printed above the bars rather than through them.
    match SINK.get() {
        Some(Sink::Bars(multi)) => multi.suspend(|| errln!("{line}")),
        _ => errln!("{line}"),
    }
}

/// With `-v`: log that the command ended, and how.
pub fn log_command(command: &str, error: Option<String>) {
    log_line(serde_json::json!({
        "event": "command_finished",
        "command": command,
        "ok": error.is_none(),
        "error": error,
    }));
}

fn sink() -> &'static Sink {
    SINK.get_or_init(|| Sink::Off)
}

/// Choose how progress is shown for this process (and whether operations are logged, `-v`) and
/// report every operation's progress there.
pub fn install(mode: ProgressMode, verbose: bool) {
    log_clock();
    let _ = VERBOSE.set(verbose);
    let terminal = std::io::stderr().is_terminal();
    let chosen = match mode {
        ProgressMode::Auto | ProgressMode::Bars if terminal => {
            Sink::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        }
        ProgressMode::Lines => Sink::Lines,
        _ => Sink::Off,
    };
    // Installed even with nothing to draw: operations' warnings are always printed.
    if SINK.set(chosen).is_ok() {
        set_global_progress(Some(Arc::new(Operations)));
    }
}

/// The reporter the operations see.
struct Operations;

impl Progress for Operations {
    fn start(&self, operation: &str, unit: &str, total: u64) -> Box<dyn ProgressTicker> {
        let shown = start(operation, unit, total);
        if VERBOSE.get().copied().unwrap_or(false) {
            Box::new(Logged::start(shown, operation, unit, total))
        } else {
            shown
        }
    }

    /// With `-v`, a JSON line.
    fn note(&self, operation: &str, message: &str) {
        if VERBOSE.get().copied().unwrap_or(false) {
            log_line(serde_json::json!({
                "event": "note",
                "operation": operation,
                "message": message,
            }));
        }
    }

    /// `pgp: warning: ...` on stderr; with `-v`, a JSON line like every other log line.
    fn warning(&self, operation: &str, message: &str) {
        if VERBOSE.get().copied().unwrap_or(false) {
            log_line(serde_json::json!({
                "event": "warning",
                "operation": operation,
                "message": message,
            }));
            return;
        }
        let line = format!("pgp: warning: {operation}: {message}");
        match SINK.get() {
            Some(Sink::Bars(multi)) => multi.suspend(|| eprintln!("{line}")),
            _ => eprintln!("{line}"),
        }
    }
}

fn start(what: &str, unit: &str, total: u64) -> Box<dyn ProgressTicker> {
    match sink() {
        Sink::Bars(multi) => {
            let bar = multi.add(ProgressBar::new(total));
            if let Ok(style) = ProgressStyle::with_template(
                "{prefix:>24} [{bar:32}] {pos}/{len} {msg} [{elapsed}, eta {eta}]",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(what.to_string());
            bar.set_message(unit.to_string());
            Box::new(Bar(bar))
        }
        Sink::Lines => Box::new(Lines {
            what: what.to_string(),
            unit: unit.to_string(),
            total,
            done: 0,
            last: Instant::now(),
            started: Instant::now(),
        }),
        Sink::Off => Box::new(Nothing),
    }
}

/// Progress of a pipeline's tasks: done (ran, skipped or failed) of total.
pub struct Tasks(Box<dyn ProgressTicker>);

impl Tasks {
    /// Start counting `total` tasks.
    pub fn start(total: usize) -> Tasks {
        Tasks(start("tasks", "tasks", total as u64))
    }

    /// One more task is done.
    pub fn done(&mut self) {
        self.0.advance(1);
    }
}

struct Bar(ProgressBar);

impl ProgressTicker for Bar {
    fn advance(&mut self, units: u64) {
        self.0.inc(units);
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

struct Lines {
    what: String,
    unit: String,
    total: u64,
    done: u64,
    last: Instant,
    started: Instant,
}

impl Lines {
    fn print(&self) {
        errln!(
            "pgp: {}: {}/{} {} ({:.1} s)",
            self.what,
            self.done,
            self.total,
            self.unit,
            self.started.elapsed().as_secs_f64()
        );
    }
}

impl ProgressTicker for Lines {
    fn advance(&mut self, units: u64) {
        self.done += units;
        if self.last.elapsed() >= LINE_EVERY && self.done < self.total {
            self.last = Instant::now();
            self.print();
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        self.print();
    }
}

/// A ticker that also logs the operation's start and end as JSON lines (`-v`).
struct Logged {
    shown: Box<dyn ProgressTicker>,
    operation: String,
    unit: String,
    total: u64,
    done: u64,
    started: Instant,
}

impl Logged {
    fn start(shown: Box<dyn ProgressTicker>, operation: &str, unit: &str, total: u64) -> Logged {
        log_line(serde_json::json!({
            "event": "operation_started", "operation": operation, "unit": unit, "total": total,
        }));
        Logged {
            shown,
            operation: operation.to_string(),
            unit: unit.to_string(),
            total,
            done: 0,
            started: Instant::now(),
        }
    }
}

impl ProgressTicker for Logged {
    fn advance(&mut self, units: u64) {
        self.done += units;
        self.shown.advance(units);
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        log_line(serde_json::json!({
            "event": "operation_finished",
            "operation": self.operation,
            "unit": self.unit,
            "done": self.done,
            "total": self.total,
            "seconds": self.started.elapsed().as_secs_f64(),
        }));
    }
}

struct Nothing;

impl ProgressTicker for Nothing {
    fn advance(&mut self, _units: u64) {}
}

/// A one-line status shown with the bars (for `pgp run` on Slurm: the allocations), printed as a
/// line when it changes in lines mode, and logged as JSON with `-v`.
pub struct Status {
    what: String,
    bar: Option<ProgressBar>,
    last: String,
}

impl Status {
    /// A status line labelled `what`.
    pub fn start(what: &str) -> Status {
        let bar = match sink() {
            Sink::Bars(multi) => {
                let bar = multi.add(ProgressBar::new_spinner());
                if let Ok(style) = ProgressStyle::with_template("{prefix:>24} {msg}") {
                    bar.set_style(style);
                }
                bar.set_prefix(what.to_string());
                Some(bar)
            }
            _ => None,
        };
        Status {
            what: what.to_string(),
            bar,
            last: String::new(),
        }
    }

    /// Shows `text` if it differs from what is shown.
    pub fn set(&mut self, text: String) {
        if text == self.last {
            return;
        }
        match (&self.bar, sink()) {
            (Some(bar), _) => bar.set_message(text.clone()),
            (None, Sink::Lines) => eprintln!("pgp: {}: {text}", self.what),
            _ => {}
        }
        if VERBOSE.get().copied().unwrap_or(false) {
            log_line(serde_json::json!({"event": "status", "what": self.what, "status": text}));
        }
        self.last = text;
    }
}

impl Drop for Status {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
