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
    // --- geometry, warp, align and vector operations ---
    /// Bounding boxes that were to be intersected have no common area.
    #[error("the bounding boxes do not intersect: {boxes}")]
    EmptyIntersection {
        /// Each input box with its source (file or argument), and the empty result.
        boxes: String,
    },
    /// A projection definition GDAL cannot understand.
    #[error("unknown projection in `{argument}`: {message} (definition: {definition:?})")]
    UnknownProjection {
        /// The argument or file the definition came from.
        argument: String,
        /// The definition as given (WKT, `EPSG:n`, PROJ string), shortened if long.
        definition: String,
        /// GDAL's message.
        message: String,
    },
    /// Parallel argument lists of different lengths.
    #[error("{names} must have the same length, got {lengths:?}")]
    LengthMismatch {
        /// The arguments, e.g. `base_rasters, targets, resample_methods`.
        names: String,
        /// Their lengths, in the same order.
        lengths: Vec<usize>,
    },
    /// A resampling method name GDAL does not know.
    #[error("unknown resampling method {name:?} in `{argument}`; expected one of {valid}")]
    UnknownResampleMethod {
        /// The name given.
        name: String,
        /// The argument it was given in.
        argument: String,
        /// The accepted names.
        valid: String,
    },
    /// Coordinates that cannot be transformed between two projections.
    #[error("cannot transform {what} from {from} to {to}: {message}")]
    Transform {
        /// What was being transformed (a bounding box, a feature).
        what: String,
        /// Source projection (shortened).
        from: String,
        /// Target projection (shortened).
        to: String,
        /// Why.
        message: String,
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
