//! Writing to stdout and stderr without panicking: `println!` panics when the reader of a pipe
//! has gone (`pgp calc ... --json | head -3`), and Rust ignores SIGPIPE, so the write fails
//! instead of ending the program. SIGPIPE stays ignored on purpose: process-pool workers talk
//! over pipes, and a dead worker must be an error, not the end of the parent.

use std::fmt;
use std::io::{ErrorKind, Write};

/// Stdout's reader went away: the command ends quietly with success, as `ls | head` does.
#[derive(Debug)]
pub struct StdoutClosed;

impl fmt::Display for StdoutClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("stdout was closed by its reader")
    }
}

impl std::error::Error for StdoutClosed {}

/// Write one line to stdout. A closed pipe is [`StdoutClosed`]; any other failure (a full disk
/// behind a redirection) is an error that says it was stdout.
pub fn stdout_line(text: fmt::Arguments<'_>) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Err(Box::new(StdoutClosed)),
        Err(e) => Err(format!("writing to stdout: {e}").into()),
    }
}

/// Write one line to stderr. A failure is ignored: there is nowhere left to report it.
pub fn stderr_line(text: fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// `println!` that returns an error instead of panicking (see [`stdout_line`]).
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::output::stdout_line(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics (see [`stderr_line`]).
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::stderr_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};
