//! Progress on stderr: a bar per running operation (blocks done of total) and, for `pgp run`,
//! one for tasks done of total. Bars are drawn only on a terminal; `--progress lines` prints
//! plain lines instead (for batch-job logs), `--progress off` prints nothing.

use std::io::IsTerminal;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

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

fn sink() -> &'static Sink {
    SINK.get_or_init(|| Sink::Off)
}

/// Choose how progress is shown for this process and report every operation's progress there.
pub fn install(mode: ProgressMode) {
    let terminal = std::io::stderr().is_terminal();
    let chosen = match mode {
        ProgressMode::Auto | ProgressMode::Bars if terminal => {
            Sink::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        }
        ProgressMode::Lines => Sink::Lines,
        _ => Sink::Off,
    };
    let on = !matches!(chosen, Sink::Off);
    if SINK.set(chosen).is_ok() && on {
        set_global_progress(Some(Arc::new(Operations)));
    }
}

/// The reporter the operations see.
struct Operations;

impl Progress for Operations {
    fn start(&self, operation: &str, unit: &str, total: u64) -> Box<dyn ProgressTicker> {
        start(operation, unit, total)
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
        eprintln!(
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

struct Nothing;

impl ProgressTicker for Nothing {
    fn advance(&mut self, _units: u64) {}
}
