//! Vector operations: reproject a layer, burn a layer into a raster, mask a raster with
//! polygons, make empty rasters from a bounding box or a vector's extent, and group a layer's
//! polygons into non-overlapping sets.

mod create;
mod disjoint;
mod mask;
mod output;
mod rasterize;
mod reproject;

pub(crate) use crate::gdal_ffi::last_gdal_message;
pub(crate) use create::ScratchFile;
pub use create::{
    create_raster_from_bounding_box, create_raster_from_vector_extents, CreateRasterOptions,
};
pub use disjoint::calculate_disjoint_polygon_set;
pub use mask::{mask_raster, MaskOptions};
pub use output::{vector_driver_for, VectorOutput};
pub use rasterize::{rasterize, Burn, MergeAlg, RasterizeOptions};
pub use reproject::{reproject_vector, CopyFields, ReprojectReport, ReprojectVectorOptions};
