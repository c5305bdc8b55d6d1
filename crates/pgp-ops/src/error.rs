//! The error type of pgp-ops. Variants name the file, band or argument at fault.

/// Result alias used across pgp-ops.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong in an operation.
///
/// Serialisable: work that runs in a worker process sends its error back as it is, so a caller
/// matches the same variant on the synchronous, thread and process executors.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// A data access error from pgp-core (already names its file/band).
    #[error(transparent)]
    Core(#[from] pgp_core::Error),
    /// An executor error: a task panicked, a worker died, work was cancelled or refused.
    #[error(transparent)]
    Exec(#[from] pgp_exec::ExecError),
    /// Raster inputs that should share a size do not.
    #[error(
        "{} is {} x {} pixels but {} is {} x {}: inputs must all have the same size (align them first)",
        path.display(), size.0, size.1, reference.display(), reference_size.0, reference_size.1
    )]
    SizeMismatch {
        /// The raster that differs.
        path: std::path::PathBuf,
        /// Its `(cols, rows)`.
        size: (usize, usize),
        /// The first raster input, whose size the others must have.
        reference: std::path::PathBuf,
        /// Its `(cols, rows)`.
        reference_size: (usize, usize),
    },
    /// A local operation returned a block of the wrong shape.
    #[error(
        "the local operation returned a {}x{} array for block {window}, which needs {}x{} (rows x cols)",
        actual.0, actual.1, expected.0, expected.1
    )]
    BlockShape {
        /// The block.
        window: pgp_core::Window,
        /// `(rows, cols)` the block needs.
        expected: (usize, usize),
        /// `(rows, cols)` returned.
        actual: (usize, usize),
    },
    /// A raster algebra expression that does not parse or does not match its inputs.
    #[error(transparent)]
    Expression(#[from] crate::expr::ExprError),
    /// Raster values that a reclassification has no mapping for (every such value is listed).
    #[error("{}", unmapped_message(path, values, *truncated))]
    UnmappedValues {
        /// The raster reclassified.
        path: std::path::PathBuf,
        /// Every distinct unmapped value, in increasing order.
        values: Vec<f64>,
        /// More distinct values were found than are listed.
        truncated: bool,
    },
    /// A computed value that the output's pixel type cannot hold (out of its range, or NaN or
    /// infinite into an integer type). Writing it would wrap or clamp it into a wrong value.
    #[error(
        "{operation}: a pixel of block {window} is {value}, which {datatype} cannot hold \
         ({} to {}): {advice}",
        datatype.range().0, datatype.range().1
    )]
    ValueDoesNotFit {
        /// The operation.
        operation: String,
        /// The value computed.
        value: f64,
        /// The output's pixel type.
        datatype: pgp_core::DataType,
        /// The block holding the pixel.
        window: pgp_core::Window,
        /// What to do about it.
        advice: String,
    },
    /// A window function panicked; the output was not written.
    #[error("{operation}: the window function panicked on window {index} {window}: {message}")]
    WindowPanicked {
        /// The operation.
        operation: String,
        /// The window's number, in write order from 0.
        index: usize,
        /// The window.
        window: pgp_core::Window,
        /// The panic's message.
        message: String,
    },
    /// A window function returned a block of the wrong shape.
    #[error(
        "the window function returned a {} x {} x {} array for window {window}, which needs \
         {} x {} x {} (bands x rows x cols)",
        actual.0, actual.1, actual.2, expected.0, expected.1, expected.2
    )]
    WindowShape {
        /// The window.
        window: pgp_core::Window,
        /// `(bands, rows, cols)` the window needs.
        expected: (usize, usize, usize),
        /// `(bands, rows, cols)` returned.
        actual: (usize, usize, usize),
    },
    /// A bad argument value.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: String,
        /// Why it is wrong.
        reason: String,
    },
    /// A broken internal invariant (a bug in pgp, not a bad input): what did not hold.
    #[error("internal error: {0} (this is a bug in pgp)")]
    Internal(String),
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

fn unmapped_message(path: &std::path::Path, values: &[f64], truncated: bool) -> String {
    let listed: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    format!(
        "{}: {}{} raster value(s) have no entry in the value map: {}",
        path.display(),
        if truncated { "more than " } else { "" },
        values.len(),
        listed.join(", ")
    )
}

impl Error {
    /// An [`Error::Internal`].
    pub fn internal(what: impl Into<String>) -> Error {
        Error::Internal(what.into())
    }

    /// An [`Error::InvalidArgument`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            name: name.into(),
            reason: reason.into(),
        }
    }
}
