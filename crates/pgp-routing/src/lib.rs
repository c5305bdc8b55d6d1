//! Hydrological routing for pgp, pixel-identical to `pygeoprocessing.routing` 2.4.11.
//!
//! ```
//! use pgp_core::{DataType, GeoTransform, OutputRaster, RasterSpec};
//! use pgp_routing::{fill_pits, flow_accumulation_d8, flow_dir_d8, FillOptions, RasterBand};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! // A 3x3 bowl draining east through its middle row.
//! let dem = dir.path().join("dem.tif");
//! let spec = RasterSpec::new(3, 3, DataType::F32, GeoTransform::north_up(0.0, 0.0, 1.0, -1.0));
//! let mut out = OutputRaster::create(&dem, &spec)?;
//! let heights = ndarray::arr2(&[[5.0f32, 5.0, 5.0], [5.0, 1.0, 3.0], [5.0, 5.0, 5.0]]);
//! out.raster().write(1, 0, 0, heights.view())?;
//! out.commit()?;
//!
//! let exec = pgp_exec::Executor::sync();
//! let filled = dir.path().join("filled.tif");
//! fill_pits(&RasterBand::first(&dem), &filled, &FillOptions::default(), &exec)?;
//! let d8 = dir.path().join("d8.tif");
//! flow_dir_d8(&RasterBand::first(&filled), &d8, &exec)?;
//! let accum = dir.path().join("accum.tif");
//! flow_accumulation_d8(&RasterBand::first(&d8), &accum, &Default::default(), &exec)?;
//!
//! let filled = pgp_core::Raster::open(&filled)?.read::<f32>(1, pgp_core::Window::full(3, 3))?;
//! assert_eq!(filled[[1, 1]], 3.0, "the pit is raised to its pour point");
//! # Ok(())
//! # }
//! ```
//!
//! # The contract
//!
//! Outputs use pygeoprocessing's encodings, because InVEST's kernels read them: D8 directions
//! as Byte codes 0-7 counter-clockwise from east (`3 2 1 / 4 x 0 / 5 6 7`), nodata 128; MFD
//! directions as Int32 holding eight 4-bit flow proportions (direction `d` in bits `4d..4d+3`),
//! nodata 0; accumulations Float64 with nodata -1.23789789e29; streams Byte 1/0, nodata 255;
//! distances Float64, nodata -1. Files are GeoTIFF tiled 256, LZW, BIGTIFF. Nodata is matched
//! with pygeoprocessing's `is_close` (NaN matches NaN).
//!
//! Every rule is pygeoprocessing's, down to the order its queues and stacks run in: plateaus
//! drain by breadth-first distance from their drains with ties to the first found, nodata and
//! edge drains count only when a plateau has no downhill drain, MFD weights come from slopes
//! rounded to nibbles, and pit search uses a heap reordered as `std::priority_queue` reorders
//! it. Decayed and MFD accumulations and distances add their terms in pygeoprocessing's order,
//! so they are bit-identical too (the tests compare against checksums of pygeoprocessing's
//! outputs). Weighted D8 accumulation adds its terms in another order (see below), so it
//! agrees with pygeoprocessing's to rounding (within 1e-9 relative; exactly when the sums are
//! exact, as for Float32 weights on rasters of fewer than 2^29 pixels).
//!
//! # Parallel and bounded memory
//!
//! Each serial step keeps its working rasters in 256x256 tiles in a bounded cache
//! ([`grid::Grid`]): tiles are read from the inputs when first needed, and modified tiles that
//! leave the cache go to an unlinked scratch file next to the output. One setting bounds every
//! step, `PGP_ROUTING_CACHE_MB` (default 256 MiB, a quarter of the job's memory in a Slurm
//! worker; see [`grid::cache_setting`]): three quarters for the step's tiles, one quarter for
//! GDAL's block cache, which steps hold to that while they read and write rasters unless
//! `GDAL_CACHEMAX` is set ([`grid::GdalCacheCap`]). So memory is flat in the DEM's size.
//!
//! Parallel on the executor (sync, threads or processes, same pixels):
//! - `fill_pits` without `max_pixel_fill_count` or `single_outlet`: Barnes' tile-parallel
//!   Priority-Flood (tiles flood alone, a small label graph joins them through their perimeters,
//!   tiles are raised to their labels' spill levels). The filled DEM is unique, so this is
//!   pygeoprocessing's result; with a fill limit or a single outlet the result depends on the
//!   visiting order, and pygeoprocessing's serial algorithm runs instead.
//! - `flow_accumulation_d8` without decay: tiles sum their weights alone, perimeters join in
//!   topological order, tiles sum again with their inflows. Counts are exact in any order;
//!   weighted sums are added in an order fixed by the raster and the tiling alone (so the
//!   same on every executor), which is not pygeoprocessing's depth-first order: they agree
//!   with its to rounding, and the tests compare them with a tolerance.
//!   (A direction raster with cycles, which `flow_dir_d8` never makes, differs here: pixels
//!   upstream of a cycle get counts, where the serial walk from outlets never reaches them.)
//! - `distance_to_channel_d8`, weighted or not: tiles follow their flow paths alone, the chains
//!   of steps from their perimeters to where flow leaves them are evaluated across tiles, and
//!   tiles are evaluated again from their exits. Each distance is still the one chain of
//!   additions from its stream up, in pygeoprocessing's order, so the pixels are bit for bit
//!   pygeoprocessing's.
//! - `distance_to_channel_mfd`, weighted or not: the same three passes, with each open
//!   perimeter pixel's downstream dependencies (flow share, step, target) evaluated across
//!   tiles and each tile evaluated again with its one-pixel ring known. A pixel's value is
//!   still its one sum of downstream terms in direction order, so bit for bit too, on any
//!   direction raster without cycles (`flow_dir_mfd` makes none).
//! - Decoding the inputs of `flow_accumulation_mfd` (directions and weights go into its tile
//!   caches before its serial walk, so the walk never waits on decompression).
//! - The block-local passes, up to 4x4 tiles a job: pit candidates of the serial `fill_pits`,
//!   `extract_streams_d8`, `detect_outlets`, `detect_lowest_drain_and_sink` (block results are
//!   merged in block order, so they are the serial ones); the reduction of
//!   `extract_streams_mfd`'s inputs to what its trace compares (two bytes a pixel), before the
//!   serial trace; and `flow_dir_d8`/`flow_dir_mfd`: every direction off plateaus, and every
//!   plateau lying wholly inside the job's window (a plateau's directions depend only on its
//!   pixels, its surroundings and its root, the first of its pixels met in pygeoprocessing's
//!   scan order, so they are the serial ones).
//!
//! Serial, through the cache: plateaus crossing job windows, decayed accumulation (its
//! floating-point sums are added in pygeoprocessing's order, which a parallel join would
//! change), MFD accumulation (pixels in topological order, tile by tile, each summed in
//! direction order as pygeoprocessing sums it, so bit for bit), MFD stream tracing, watershed delineation, Strahler streams and
//! subwatersheds, which follow flow paths across the whole raster.
//!
//! # Requests
//!
//! Each function also has a request ([`request`]): its arguments as one serialisable value with
//! the version of its outputs, which the CLI, pipeline files (`pgp.routing.<function>`), graph
//! nodes and worker processes run.
//!
//! # Vectors
//!
//! `detect_outlets`, `delineate_watersheds_d8`, `extract_strahler_streams_d8` and
//! `calculate_subwatershed_boundary` write GeoPackages as pygeoprocessing does (same layers,
//! fields, feature ids and order, values and geometries, byte for byte in ISO WKB; points and
//! lines are 3D with z = 0, as pygeoprocessing's `AddPoint` makes them). pygeoprocessing's
//! quirks are kept, since its outputs are the contract: the outlet scan treats a lone column
//! (row) past a block as nodata for that block, Strahler seeding scans blocks column by column
//! and compares accumulations cast to C ints, and autotuned thresholds are truncated to ints
//! (p-values are scipy's to about 1e-12, so only a test statistic within that of `min_p_val`
//! could decide otherwise). Joining a segment into its single downstream one appends the
//! upstream line's vertices after the junction, which is what shapely's `linemerge` makes of
//! the two. Watersheds use GDAL's own rasterize (`ALL_TOUCHED`) to
//! seed and polygonize to trace, on the same windows, so geometries match exactly. A
//! watershed is polygonized in memory over its bounding box (4 bytes a pixel).

#![warn(missing_docs)]
// Direction codes index offset tables and weight arrays and name neighbours at once; loops
// over `0..8` say that more plainly than iterator chains.
#![allow(clippy::needless_range_loop)]

/// Registers `$op` as the operation that runs one tile job on any executor, process pools
/// included: `$run(&job)` in the worker, its error sent back as its message.
macro_rules! remote_tile_op {
    ($op:ty, $name:literal, $args:ty => $output:ty, $run:path) => {
        impl pgp_exec::RemoteOp for $op {
            const NAME: &'static str = $name;
            type Args = $args;
            type Output = $output;
            fn run(job: $args) -> std::result::Result<$output, String> {
                $run(&job).map_err(|e| e.to_string())
            }
        }
        pgp_exec::register_op!($op);
    };
}

mod accumulation;
mod accumulation_mfd;
mod accumulation_tiles;
mod blocks;
mod common;
mod distance;
mod distance_mfd_tiles;
mod distance_tiles;
mod error;
mod fill;
mod fill_tiles;
mod flow_dir;
pub mod grid;
mod outlets;
mod plateaus;
mod prefetch;
pub mod request;
mod strahler;
mod streams;
mod subwatersheds;
#[cfg(test)]
mod test_rasters;
mod vectors;
mod watersheds;

pub use accumulation::{
    flow_accumulation_d8, flow_accumulation_mfd, D8AccumulationOptions, DecayFactor,
    FlowAccumulationD8Request, FlowAccumulationMfdRequest,
};
pub use common::{
    is_close, RasterBand, COL_OFFSETS, IMPROBABLE_FLOAT_NODATA, INFLOW_OFFSETS, ROW_OFFSETS,
};
pub use distance::{
    distance_to_channel_d8, distance_to_channel_mfd, DistanceToChannelRequest, DISTANCE_NODATA,
};
pub use error::{Error, Result};
pub use fill::{fill_pits, FillOptions, FillPitsRequest};
pub use flow_dir::{flow_dir_d8, flow_dir_mfd, FlowDirRequest, D8_NODATA, MFD_NODATA};
pub use outlets::{
    detect_lowest_drain_and_sink, detect_outlets, DetectLowestDrainAndSinkRequest,
    DetectOutletsRequest, DrainAndSink, FlowDirType,
};
pub use request::{Mfd, D8};
pub use strahler::{extract_strahler_streams_d8, ExtractStrahlerStreamsD8Request, StrahlerOptions};
pub use streams::{
    extract_streams_d8, extract_streams_mfd, ExtractStreamsD8Request, ExtractStreamsMfdRequest,
    STREAM_NODATA,
};
pub use subwatersheds::{
    calculate_subwatershed_boundary, CalculateSubwatershedBoundaryRequest, SubwatershedOptions,
};
pub use watersheds::{delineate_watersheds_d8, DelineateWatershedsD8Request, WatershedOptions};
