//! `pgp warp IN OUT [--pixel-size X,Y] [--t-srs SRS] [--resample METHOD]`: resample and
//! reproject one raster.

use std::path::PathBuf;

use pgp::ops::geom::spatial_ref;
use pgp::ops::request::{Request, WarpRequest};
use pgp::ops::{ResampleMethod, WarpPath};
use serde_json::json;

use super::common::{
    output_json, parse_pixel_size, parse_resample, print_outputs, require_file, require_output,
    ExecutorArg, Stopwatch,
};
use super::CmdResult;

/// Arguments of `pgp warp`.
#[derive(Debug, clap::Args)]
pub struct WarpArgs {
    /// The source raster.
    input: PathBuf,
    /// The output raster.
    output: PathBuf,
    /// Target pixel size X,Y in target units (default: the source's, or with --t-srs the size
    /// that keeps the source's pixel count along the diagonal, as gdalwarp suggests).
    #[arg(long, value_name = "X,Y", value_parser = parse_pixel_size, allow_hyphen_values = true)]
    pixel_size: Option<(f64, f64)>,
    /// Target projection: EPSG:N, WKT or a PROJ string (default: the source's).
    #[arg(long, value_name = "SRS")]
    t_srs: Option<String>,
    /// Resampling method.
    #[arg(long, value_name = "METHOD", value_parser = parse_resample, default_value = "near")]
    resample: ResampleMethod,
    #[command(flatten)]
    executor: ExecutorArg,
    /// Print a JSON summary of the output.
    #[arg(long)]
    json: bool,
}

fn how_json(path: WarpPath) -> &'static str {
    match path {
        WarpPath::Warped => "warped",
        WarpPath::AlignedCopy => "aligned_copy",
        WarpPath::FileCopy => "file_copy",
    }
}

/// Run `pgp warp`.
pub fn run(args: WarpArgs) -> CmdResult {
    require_file(&args.input, "input raster")?;
    require_output(&args.output, "OUT")?;
    if let Some(srs) = &args.t_srs {
        spatial_ref(srs, "--t-srs")?;
    }
    let request = WarpRequest {
        pixel_size: args.pixel_size.map(|(x, y)| [x, y]),
        target_projection: args.t_srs.clone(),
        ..WarpRequest::new(&args.input, &args.output).resample(args.resample.gdal_name())
    };
    let exec = args.executor.build()?;
    let stopwatch = Stopwatch::start();
    let how = request.run(&exec)?;
    let seconds = stopwatch.seconds();
    let mut o = output_json(&args.output)?;
    o["input"] = json!(args.input);
    o["resample"] = json!(args.resample.gdal_name());
    o["how"] = json!(how_json(how));
    print_outputs(vec![o], seconds, args.json)?;
    Ok(())
}
