//! The error type of pgp-ops. Variants name the file, band or argument at fault.

/// Result alias used across pgp-ops.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in an operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A data access error from pgp-core (already names its file/band).
    #[error(transparent)]
    Core(#[from] pgp_core::Error),
    /// An executor error: a task panicked, a worker died, work was cancelled or refused.
    #[error(transparent)]
    Exec(#[from] pgp_exec::ExecError),
    /// A bad argument value.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: String,
        /// Why it is wrong.
        reason: String,
    },
}

impl Error {
    /// An [`Error::InvalidArgument`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            name: name.into(),
            reason: reason.into(),
        }
    }
}
