//! The error type of pgp-routing: every variant names the file or argument at fault.

use std::path::PathBuf;

/// Result alias of pgp-routing.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in a routing step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a raster failed (the message names the file and band).
    #[error(transparent)]
    Core(#[from] pgp_core::Error),
    /// Writing a vector output failed (the message names the file).
    #[error(transparent)]
    Ops(#[from] pgp_ops::Error),
    /// The executor failed (a worker died, a task panicked).
    #[error("{0}")]
    Exec(#[from] pgp_exec::ExecError),
    /// A scratch file of the tile cache could not be written or read.
    #[error("routing scratch file in {}: {source}", dir.display())]
    Scratch {
        /// Where the scratch file lives.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An argument is out of its range or inputs do not fit together.
    #[error("{argument}: {reason}")]
    Invalid {
        /// The argument (or file) at fault.
        argument: String,
        /// Why.
        reason: String,
    },
}

impl Error {
    /// An [`Error::Invalid`] for `argument`.
    pub fn invalid(argument: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::Invalid {
            argument: argument.into(),
            reason: reason.into(),
        }
    }

    /// A broken invariant of a tile pass over `file` (a worker answered with the wrong kind of
    /// result), reported against the input the pass was reading.
    pub(crate) fn internal(file: &std::path::Path, what: &str) -> Error {
        Error::invalid(file.display().to_string(), format!("internal: {what}"))
    }
}
