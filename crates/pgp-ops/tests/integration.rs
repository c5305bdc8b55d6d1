//! pgp-ops' integration tests, as one test binary: each links GDAL, so one binary instead of
//! sixteen saves most of the suite's link time. Each file is its own module and reads alone.
// Each file keeps its own `mod common;` so it still reads (and once ran) alone; the shared
// helpers are therefore compiled once per file that uses them.
#![allow(clippy::duplicate_mod)]

#[path = "align.rs"]
mod align;
#[path = "calc_behaviour.rs"]
mod calc_behaviour;
#[path = "calc_family.rs"]
mod calc_family;
#[path = "calc_peer.rs"]
mod calc_peer;
#[path = "convolve.rs"]
mod convolve;
#[path = "damaged_inputs.rs"]
mod damaged_inputs;
#[path = "distance_slope.rs"]
mod distance_slope;
#[path = "geom_props.rs"]
mod geom_props;
#[path = "golden.rs"]
mod golden;
#[path = "peer_parity.rs"]
mod peer_parity;
#[path = "progress.rs"]
mod progress;
#[path = "silent_successes.rs"]
mod silent_successes;
#[path = "stitch_overviews.rs"]
mod stitch_overviews;
#[path = "vector_ops.rs"]
mod vector_ops;
#[path = "warp.rs"]
mod warp;
#[path = "windows.rs"]
mod windows;
#[path = "zonal.rs"]
mod zonal;
