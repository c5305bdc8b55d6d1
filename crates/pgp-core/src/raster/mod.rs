//! Rasters: opening, info, typed I/O, creation, atomic outputs, per-worker handles.

pub(crate) mod bands;
pub(crate) mod create;
pub(crate) mod dataset;
pub(crate) mod dynarray;
pub(crate) mod info;
pub(crate) mod orphans;
pub(crate) mod output;
pub(crate) mod pool;
pub(crate) mod reduced;
