//! One request type per operation: the operation's arguments as one serialisable value.
//!
//! The function (`request.run(&exec)`), the CLI, pipeline files, task-graph nodes, worker
//! processes and the Python package all describe an operation with the same struct, so there is
//! one vocabulary and one set of defaults. Each request also says which files it reads and
//! writes, and carries the version of its outputs next to the code that makes them: change what
//! an operation writes, bump its [`Request::VERSION`], and every cached result of the old version
//! is recomputed. The golden-checksum test (`tests/golden.rs`) fails when an output changes while
//! its version does not.
//!
//! Operations built in other crates implement the same trait with their own error type: every
//! `pgp-routing` function has its request there (`pgp_routing::request`), with its own golden
//! test.
//!
//! ```
//! use pgp_ops::request::{Request, WarpRequest};
//! use pgp_exec::Executor;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let data = pgp_core::sample::generate(dir.path(), 64, 1)?;
//! let request = WarpRequest::new(&data.dem, dir.path().join("coarse.tif")).pixel_size([60.0, -60.0]);
//! request.run(&Executor::sync())?;
//! assert_eq!(request.outputs(), vec![dir.path().join("coarse.tif")]);
//! # Ok(())
//! # }
//! ```
//!
//! The task graph knows nothing of this crate: the facade turns every `Request` into a graph node
//! with one generic binding (`pgp::nodes::Node`).

mod align;
mod calc;
mod convolve;
mod reclassify;
mod warp;
mod zonal;

use std::path::PathBuf;

use pgp_exec::Executor;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use align::AlignRequest;
pub use convolve::ConvolveRequest;
pub use reclassify::{read_value_table, ReclassifyRequest};
pub use warp::{default_pixel_size, WarpRequest};
pub use zonal::{zonal_json, ZonalRequest};

use crate::Result;

/// An operation as data: what it is called, which version of outputs it makes, how it runs, and
/// which files it reads and writes.
pub trait Request: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The registered name (`pgp.align`): what pipeline files and worker processes call it.
    const NAME: &'static str;
    /// The version of what it writes. Bump it when the same request would write other bytes;
    /// cached results of other versions are then recomputed.
    const VERSION: u32;
    /// What a run returns besides its files (a report, statistics).
    type Output;
    /// What a failed run returns: [`crate::Error`] for this crate's operations, the own error
    /// type of operations built in other crates (routing).
    type Error: std::error::Error + Send + Sync + 'static;

    /// Runs the operation on `exec`: its blocks, warps or features are spread over that
    /// executor, process pools included.
    fn run(&self, exec: &Executor) -> Result<Self::Output, Self::Error>;

    /// The files it reads, in a fixed order.
    fn inputs(&self) -> Vec<PathBuf>;

    /// The files it writes, in a fixed order.
    fn outputs(&self) -> Vec<PathBuf>;

    /// The same request writing `outputs[i]` instead of `self.outputs()[i]` (the task graph
    /// writes to temporaries and renames them once a task succeeds). Outputs beyond the given
    /// list are left as they are.
    fn with_outputs(&self, outputs: &[PathBuf]) -> Self;
}

/// [`Request::outputs`] and [`Request::with_outputs`] of a request that writes one file, its
/// `target` field (every operation crate's requests use it, so it is exported).
#[macro_export]
macro_rules! one_target {
    () => {
        fn outputs(&self) -> ::std::vec::Vec<::std::path::PathBuf> {
            ::std::vec![self.target.clone()]
        }
        fn with_outputs(&self, outputs: &[::std::path::PathBuf]) -> Self {
            let mut request = self.clone();
            if let ::std::option::Option::Some(target) = outputs.first() {
                request.target = target.clone();
            }
            request
        }
    };
}
pub(crate) use one_target;

/// Band 1: the default band of a request's raster (`#[serde(default = "...")]`).
pub fn one_band() -> usize {
    1
}

fn yes() -> bool {
    true
}
