//! Geoprocessing operations for pgp (work in progress).
#![warn(missing_docs)]

mod error;

pub use error::{Error, Result};
pub mod calc;
pub mod expr;
