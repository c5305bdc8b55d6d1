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
//! Your own function over the windows of multi-band rasters, on any executor, is
//! [`map_windows`] (and [`fold_windows`] for a value per window): it takes and returns
//! [`ndarray`] arrays of [`Pixel`] types; [`simd`] makes such functions use the machine's best
//! instruction set. `examples/concurrent_windows.rs` is rasterio's concurrent-processing example.
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
pub mod routing;
pub mod simd;

pub use pgp_core as core;
pub use pgp_exec as exec;
pub use pgp_graph as graph;
pub use pgp_ops as ops;
pub use pgp_view as view;

/// The array crate of window functions' inputs and outputs.
pub use ndarray;
pub use pgp_core::{DataType, GeoTransform, Pixel, Window};
pub use pgp_ops::windows::{
    self as windows, fold_windows, fold_windows_registered, map_windows, map_windows_registered,
    Edge, WindowData, WindowFold, WindowMap, WindowReport,
};
pub use pgp_ops::{register_fold_fn, register_window_fn};
