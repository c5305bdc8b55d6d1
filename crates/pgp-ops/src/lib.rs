//! Geoprocessing operations for pgp (work in progress).
#![warn(missing_docs)]

mod error;
pub mod geom;

pub use error::{Error, Result};
pub use geom::{
    align_bbox, merge_bounding_boxes, transform_bounding_box, BoundingBoxMode, GridAnchor,
    MergeMode, TargetGrid,
};
