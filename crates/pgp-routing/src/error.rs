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
    /// A broken invariant of pgp-routing itself (a tile pass answered with the wrong kind of
    /// result), not a fault of the inputs; reported against the file the pass was reading.
    #[error("{}: internal: {what}", file.display())]
    Internal {
        /// The input (or output) the pass was working on.
        file: PathBuf,
        /// What broke.
        what: String,
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

    /// An [`Error::Internal`]: a broken invariant of a tile pass over `file`.
    pub(crate) fn internal(file: &std::path::Path, what: &str) -> Error {
        Error::Internal {
            file: file.to_path_buf(),
            what: what.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_invariant_is_internal_not_bad_input_and_names_the_file() {
        let e = Error::internal(std::path::Path::new("dirs.tif"), "a tile came back twice");
        assert!(matches!(e, Error::Internal { .. }), "{e:?}");
        assert_eq!(e.to_string(), "dirs.tif: internal: a tile came back twice");
    }
}
