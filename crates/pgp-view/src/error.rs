//! What can go wrong making a picture.

use std::path::PathBuf;

/// An error of `pgp-view`, naming the file or option at fault.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// The raster cannot be opened or read (its message names the file and band).
    #[error(transparent)]
    Raster(#[from] pgp_core::Error),
    /// An option has a value that cannot work; `name` is the option as `pgp quicklook` spells it.
    #[error("--{name}: {reason}")]
    Option {
        /// The option (`max-size`, `range`, `log`...).
        name: &'static str,
        /// Why the value does not work.
        reason: String,
    },
    /// The PNG could not be encoded or written.
    #[error("{}: {message}", path.display())]
    Write {
        /// The PNG being written.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// `Result` with [`ViewError`].
pub type Result<T> = std::result::Result<T, ViewError>;
