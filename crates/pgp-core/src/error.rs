//! The one error type of pgp-core. Every variant names the file, band or argument at fault.

use std::path::{Path, PathBuf};

use crate::DataType;

/// Result alias used across pgp-core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, and with which input.
///
/// Serialisable, so an error raised in a worker process reaches the caller as the same variant
/// it would be on a thread.
#[derive(Debug, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// The path does not exist.
    #[error("{}: no such file or directory", path.display())]
    FileNotFound {
        /// The missing path.
        path: PathBuf,
    },
    /// The file exists but GDAL cannot open it as a raster.
    #[error("{}: not a raster GDAL can open: {message}", path.display())]
    NotARaster {
        /// The file.
        path: PathBuf,
        /// GDAL's own message.
        message: String,
    },
    /// The file exists but GDAL cannot open it as a vector.
    #[error("{}: not a vector GDAL can open: {message}", path.display())]
    NotAVector {
        /// The file.
        path: PathBuf,
        /// GDAL's own message.
        message: String,
    },
    /// A band index outside `1..=count`.
    #[error("{}: band {band} does not exist (the raster has {count} band(s), numbered from 1)", path.display())]
    BandOutOfRange {
        /// The raster.
        path: PathBuf,
        /// The band asked for.
        band: usize,
        /// How many bands the raster has.
        count: usize,
    },
    /// A vector layer that does not exist.
    #[error("{}: layer {layer} does not exist ({count} layer(s))", path.display())]
    LayerNotFound {
        /// The vector.
        path: PathBuf,
        /// The layer asked for (index or name).
        layer: String,
        /// How many layers the vector has.
        count: usize,
    },
    /// Typed access with a pixel type that is not the band's.
    #[error("{} band {band}: pixels are {actual}, but {expected} was asked for", path.display())]
    TypeMismatch {
        /// The raster.
        path: PathBuf,
        /// The band.
        band: usize,
        /// The type the caller asked for.
        expected: DataType,
        /// The band's type.
        actual: DataType,
    },
    /// A band whose pixel type pgp does not handle (complex, 64-bit integers, ...).
    #[error("{} band {band}: unsupported pixel type {gdal_type}", path.display())]
    UnsupportedDataType {
        /// The raster.
        path: PathBuf,
        /// The band.
        band: usize,
        /// GDAL's name of the type.
        gdal_type: String,
    },
    /// A window that does not fit inside the raster.
    #[error("{}: window {window} is outside the raster ({cols} x {rows} pixels)", path.display())]
    WindowOutOfBounds {
        /// The raster.
        path: PathBuf,
        /// The window asked for.
        window: crate::Window,
        /// Raster width.
        cols: usize,
        /// Raster height.
        rows: usize,
    },
    /// A GDAL call failed; `message` is GDAL's own.
    #[error("{}: {operation} failed: {message}", path.display())]
    Gdal {
        /// The file the call was about.
        path: PathBuf,
        /// What was being done.
        operation: String,
        /// GDAL's message.
        message: String,
    },
    /// A bad argument value.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: String,
        /// Why it is wrong.
        reason: String,
    },
    /// An output path that cannot be written: its directory is missing or is not a directory,
    /// or the path is a directory. Names the path the caller gave, never a temporary.
    #[error("{}: {problem}", path.display())]
    OutputPath {
        /// The output as given.
        path: PathBuf,
        /// What is wrong with it (`directory nodir/sub does not exist`).
        problem: String,
    },
    /// A TIFF whose directory or tiles pgp reads itself is corrupt or truncated.
    #[error("{}: corrupt TIFF: {message}", path.display())]
    CorruptTiff {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where (`tile 12 of band 1: LZW stream ends after 310 of 65536 bytes`).
        message: String,
    },
    /// A filesystem error on a path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        #[serde(with = "io_error_serde")]
        source: std::io::Error,
    },
}

impl Error {
    /// Wrap a `gdal` crate error with the path and the operation that failed.
    pub fn gdal(path: &Path, operation: impl Into<String>, err: gdal::errors::GdalError) -> Error {
        Error::Gdal {
            path: path.to_path_buf(),
            operation: operation.into(),
            message: gdal_message(&err),
        }
    }

    /// An [`Error::InvalidArgument`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Error {
        Error::InvalidArgument {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// An [`Error::Io`].
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// GDAL's message without the crate's debug framing.
fn gdal_message(err: &gdal::errors::GdalError) -> String {
    use gdal::errors::GdalError;
    match err {
        GdalError::CplError { msg, .. } if !msg.is_empty() => msg.clone(),
        GdalError::NullPointer { msg, .. } if !msg.is_empty() => msg.clone(),
        other => other.to_string(),
    }
}

/// `std::io::Error` across a process boundary: an OS error by its code (which gives back its
/// kind and message), any other by its message.
pub mod io_error_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Serialise as `(os error code, message)`.
    pub fn serialize<S: Serializer>(e: &std::io::Error, s: S) -> Result<S::Ok, S::Error> {
        (e.raw_os_error(), e.to_string()).serialize(s)
    }

    /// The error back from `(os error code, message)`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<std::io::Error, D::Error> {
        let (code, message) = <(Option<i32>, String)>::deserialize(d)?;
        Ok(match code {
            Some(code) => std::io::Error::from_raw_os_error(code),
            None => std::io::Error::other(message),
        })
    }
}
