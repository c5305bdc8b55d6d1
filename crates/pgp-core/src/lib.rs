//! Rasters and vectors on GDAL, for pgp.
//!
//! pgp-core is the only pgp crate that talks to GDAL for data access: it opens rasters and
//! vectors, describes them ([`RasterInfo`], [`VectorInfo`]), reads and writes typed windows into
//! [`ndarray`] arrays, iterates blocks the way pygeoprocessing does ([`block_windows`]), knows the
//! nodata rules ([`Nodata`]), creates rasters with pygeoprocessing's default GTiff options
//! ([`RasterDriver`]), and writes outputs atomically ([`OutputRaster`]). Errors name the file,
//! band or argument at fault ([`Error`]).
//!
//! It is meant to be used with `pgp-exec` (executors) and `pgp-ops` (operations), usually through
//! the `pgp` facade crate.
//!
//! ```
//! use pgp_core::{block_windows, GeoTransform, OutputRaster, Raster, RasterSpec, DataType, LARGEST_BLOCK};
//! use ndarray::Array2;
//!
//! # fn main() -> pgp_core::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("ramp.tif");
//! let spec = RasterSpec::new(300, 200, DataType::F32, GeoTransform::north_up(0.0, 0.0, 30.0, -30.0))
//!     .nodata(Some(-1.0));
//! let mut out = OutputRaster::create(&path, &spec)?;
//! for w in block_windows((300, 200), (256, 256), LARGEST_BLOCK) {
//!     let block = Array2::from_shape_fn(w.shape(), |(r, c)| (w.y_off + r) as f32 + (w.x_off + c) as f32);
//!     out.raster().write(1, w.x_off, w.y_off, block.view())?;
//! }
//! out.commit()?;
//!
//! let r = Raster::open(&path)?;
//! let info = r.info()?;
//! assert_eq!(info.raster_size, (300, 200));
//! assert_eq!(info.nodata, vec![Some(-1.0)]);
//! let corner = r.read::<f32>(1, pgp_core::Window::new(298, 198, 2, 2))?;
//! assert_eq!(corner[[1, 1]], 299.0 + 199.0);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod dtype;
mod error;
mod gdal_env;
mod geo;
pub mod nodata;
mod raster;
pub mod sample;
pub mod tiles;
mod vector;
mod window;

pub use dtype::{DataType, Pixel};
pub use error::{Error, Result};
pub use gdal_env::{gdal_failure_mark, gdal_failures_since, gdal_version, init};
pub use geo::{BoundingBox, GeoTransform};
pub use nodata::Nodata;
pub use raster::create::{
    create_raster, new_raster_from_base, RasterDriver, RasterSpec, DEFAULT_GTIFF_OPTIONS,
};
pub use raster::dataset::{raster_info, BandStatistics, Raster};
pub use raster::dynarray::DynArray;
pub use raster::info::RasterInfo;
pub use raster::output::{check_output_path, temporary_sibling, OutputRaster};
pub use raster::pool::RasterPool;
pub use vector::{
    layer, open_vector, open_vector_update, vector_info, FieldInfo, LayerRef, VectorInfo,
};
pub use window::{block_windows, BlockWindows, Window, LARGEST_BLOCK};

/// The `gdal` crate pgp-core is built on, for operations that call GDAL's algorithms directly.
pub use gdal;
