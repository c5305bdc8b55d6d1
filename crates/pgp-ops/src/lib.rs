//! Geoprocessing operations for pgp (work in progress).
#![warn(missing_docs)]

mod error;

pub use error::{Error, Result};
pub mod calc;
pub mod expr;

pub use calc::{
    evaluate, evaluate_expression, raster_calculator, raster_map, raster_reduce, reclassify_raster,
    CalcInput, CalcOptions, CalcReport, ExprInput, ExprOptions, ExpressionJob,
};
pub use expr::Expression;
