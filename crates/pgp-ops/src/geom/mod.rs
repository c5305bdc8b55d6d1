//! Geometry math shared by warp, align and the vector operations: bounding boxes (merge, align to
//! a grid, transform between projections) and the one rule that turns a box and a pixel size into
//! a raster grid ([`TargetGrid`]).

mod bbox;
mod grid;
mod srs;

pub(crate) use bbox::merge_labelled;
pub use bbox::{merge_bounding_boxes, BoundingBoxMode, MergeMode};
pub(crate) use grid::check_pixel_size;
pub use grid::{align_bbox, GridAnchor, TargetGrid};
pub(crate) use srs::{crs_label, shorten};
pub use srs::{
    projection_wkt, same_projection, spatial_ref, transform_bounding_box, DEFAULT_EDGE_SAMPLES,
};
