//! Geoprocessing operations for pgp: rasters in, rasters out, on any executor.
//!
//! ```
//! use pgp_core::sample;
//! use pgp_exec::Executor;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let data = sample::generate(dir.path(), 64, 1)?;
//! let target = dir.path().join("doubled.tif");
//! let exec = Executor::threads(2)?;
//! pgp_ops::evaluate_expression("dem * 2", &[("dem", &data.dem, 1)], &target, &Default::default(), &exec)?;
//! assert_eq!(pgp_core::raster_info(&target)?.raster_size, (64, 64));
//! # Ok(())
//! # }
//! ```
//!
#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod align;
pub mod calc;
pub mod convolve;
pub mod distance;
mod error;
/// The expression language, from its own crate ([`pgp_expr`]): no GDAL, reusable alone.
pub use pgp_expr as expr;
mod gdal_ffi;
pub mod geom;
pub mod kernels;
mod overviews;
mod percentile;
pub mod progress;
pub mod request;
mod runtime;
pub mod slope;
mod stitch;
pub mod vector_ops;
pub mod warp;
pub mod windows;
pub mod zonal;

pub use align::{align_and_resize_raster_stack, AlignOptions, AlignReport, StackMask};
pub use calc::{
    evaluate, evaluate_bands, evaluate_expression, raster_calculator, raster_map, raster_reduce,
    reclassify_raster, CalcInput, CalcOptions, CalcReport, ExprInput, ExprOptions, ExpressionJob,
};
pub use convolve::{convolve_2d, ConvolveOptions};
pub use distance::{distance_transform_edt, DistanceOptions};
pub use error::{Error, Result};
pub use expr::Expression;
pub use geom::{
    align_bbox, merge_bounding_boxes, transform_bounding_box, BoundingBoxMode, GridAnchor,
    MergeMode, TargetGrid,
};
pub use overviews::{auto_overview_levels, build_overviews, OverviewOptions};
pub use percentile::{raster_band_percentile, PercentileValue};
pub use slope::{calculate_slope, SlopeOptions};
pub use stitch::{stitch_rasters, wgs84_pixel_area_m2, OverlapRule, StitchOptions, StitchReport};
pub use vector_ops::{
    calculate_disjoint_polygon_set, create_raster_from_bounding_box,
    create_raster_from_vector_extents, mask_raster, rasterize, reproject_vector, Burn, CopyFields,
    CreateRasterOptions, MaskOptions, MergeAlg, RasterizeOptions, ReprojectReport,
    ReprojectVectorOptions,
};
pub use warp::{
    default_target_nodata, warp_raster, OverviewLevel, ResampleMethod, WarpJob, WarpMask, WarpOp,
    WarpOptions, WarpPath,
};
pub use windows::{
    fold_windows, fold_windows_registered, map_windows, map_windows_registered, Edge, Halo,
    WindowData, WindowFold, WindowMap, WindowReport,
};
pub use zonal::{
    zonal_statistics, zonal_statistics_many, FeatureStats, ZonalOptions, ZonalStats, ZoneLayer,
};

/// Items the registration macros expand to; not part of the API.
#[doc(hidden)]
pub mod __private {
    pub use pgp_core::DataType;
    pub use pgp_exec::register_op;
}
