//! pgp: parallel geoprocessing and incremental task graphs on GDAL.
//!
//! This facade re-exports the crates that do the work, so one dependency gives all of them:
//!
//! - [`core`] (`pgp-core`): rasters and vectors on GDAL: info, typed block I/O, block iteration,
//!   nodata rules, atomic outputs, sample data.
//! - [`exec`] (`pgp-exec`): executors (sync, threads, processes) and their spec strings.
//! - [`ops`] (`pgp-ops`): the geoprocessing operations.
//! - [`graph`] (`pgp-graph`): the task graph that skips unchanged work.
//! - [`view`] (`pgp-view`): quicklook pictures of rasters (PNG, colormaps, hillshade).
//!
//! ```
//! use pgp::core::{raster_info, sample};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let data = sample::generate(dir.path(), 64, 1)?;
//! let info = raster_info(&data.dem)?;
//! assert_eq!(info.raster_size, (64, 64));
//! assert_eq!(info.nodata, vec![Some(-9999.0)]);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

pub mod nodes;
pub mod pipeline;

pub use pgp_core as core;
pub use pgp_exec as exec;
pub use pgp_graph as graph;
pub use pgp_ops as ops;
pub use pgp_view as view;
