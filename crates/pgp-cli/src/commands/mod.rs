//! One module per subcommand.

pub mod align;
pub mod calc;
pub mod common;
pub mod convolve;
pub mod info;
pub mod report;
pub mod run;
pub mod warp;
pub mod zonal;

/// What a subcommand returns: errors are printed as one line by `main`.
pub type CmdResult = Result<(), Box<dyn std::error::Error>>;

/// What `main` prints before an error message (expression errors align their caret past it).
pub const ERROR_PREFIX: &str = "pgp: error: ";
