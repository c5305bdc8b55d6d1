//! `pgp zonal-stats RASTER VECTOR [--band N]`: per-polygon statistics as JSON.

use std::path::PathBuf;

use pgp::ops::request::{zonal_json, ZonalRequest};
use pgp::ops::zonal_statistics;

use super::common::{parse_band, require_file, ExecutorArg};
use super::CmdResult;
use crate::output::outln;

/// Arguments of `pgp zonal-stats`.
#[derive(Debug, clap::Args)]
pub struct ZonalArgs {
    /// The raster whose values are summarised.
    raster: PathBuf,
    /// The polygons (reprojected to the raster's projection when they differ).
    vector: PathBuf,
    /// The raster band, from 1.
    #[arg(long, default_value_t = 1, value_parser = parse_band)]
    band: usize,
    /// The vector layer, by index or name.
    #[arg(long, default_value = "0")]
    layer: String,
    #[command(flatten)]
    executor: ExecutorArg,
}

/// Run `pgp zonal-stats`.
pub fn run(args: ZonalArgs) -> CmdResult {
    require_file(&args.raster, "RASTER")?;
    require_file(&args.vector, "VECTOR")?;
    let exec = args.executor.build()?;
    // The same request a `pgp.zonal_stats` task runs, printed instead of written.
    let request = ZonalRequest {
        raster: args.raster.clone(),
        band: args.band,
        vector: args.vector.clone(),
        layer: Some(args.layer.clone()),
        ignore_nodata: true,
        include_value_counts: false,
        target: PathBuf::new(),
    };
    let stats = zonal_statistics(
        &request.raster,
        request.band,
        &request.vector,
        &request.options(),
        &exec,
    )?;
    outln!("{}", zonal_json(&stats))?;
    Ok(())
}
