//! Geoprocessing operations for pgp (work in progress).
#![warn(missing_docs)]

mod block_jobs;
pub mod convolve;
pub mod distance;
mod error;
pub mod kernels;
pub mod slope;
pub mod zonal;

pub use convolve::{convolve_2d, ConvolveOptions};
pub use distance::{distance_transform_edt, DistanceOptions};
pub use error::{Error, Result};
pub use slope::{calculate_slope, SlopeOptions};
pub use zonal::{
    zonal_statistics, zonal_statistics_many, FeatureStats, ZonalOptions, ZonalStats, ZoneLayer,
};
