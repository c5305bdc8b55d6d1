//! `pgp warp IN OUT [--pixel-size X,Y] [--t-srs SRS] [--resample METHOD]`: resample and
//! reproject one raster.

use std::path::PathBuf;

use pgp::core::{raster_info, RasterInfo};
use pgp::ops::geom::{spatial_ref, DEFAULT_EDGE_SAMPLES};
use pgp::ops::{transform_bounding_box, warp_raster, ResampleMethod, WarpOptions, WarpPath};
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

/// The pixel size when none is given: the source's in its own projection; in another one, a
/// square pixel that keeps the number of pixels along the diagonal of the transformed extent.
fn default_pixel_size(info: &RasterInfo, t_srs: Option<&str>) -> Result<(f64, f64), String> {
    let Some(to) = t_srs else {
        return Ok(info.pixel_size);
    };
    let from = info.projection_wkt.as_deref().ok_or_else(|| {
        format!(
            "{}: the raster has no projection, so it cannot be reprojected to --t-srs {to}",
            info.path.display()
        )
    })?;
    let bb = transform_bounding_box(&info.bounding_box, from, to, DEFAULT_EDGE_SAMPLES)
        .map_err(|e| format!("--t-srs {to}: {e}"))?;
    let (cols, rows) = info.raster_size;
    let diagonal_pixels = (cols as f64).hypot(rows as f64);
    let size = (bb.xmax - bb.xmin).hypot(bb.ymax - bb.ymin) / diagonal_pixels;
    if !(size.is_finite() && size > 0.0) {
        return Err(format!(
            "--t-srs {to}: cannot derive a pixel size from the transformed extent; give \
             --pixel-size"
        ));
    }
    Ok((size, -size))
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
    let info = raster_info(&args.input)?;
    let pixel_size = match args.pixel_size {
        Some(p) => p,
        None => default_pixel_size(&info, args.t_srs.as_deref())?,
    };
    let exec = args.executor.build()?;
    let options = WarpOptions {
        target_projection: args.t_srs.clone(),
        ..Default::default()
    };
    let stopwatch = Stopwatch::start();
    let how = warp_raster(
        &args.input,
        pixel_size,
        &args.output,
        args.resample,
        &options,
        &exec,
    )?;
    let seconds = stopwatch.seconds();
    let mut o = output_json(&args.output)?;
    o["input"] = json!(args.input);
    o["resample"] = json!(args.resample.gdal_name());
    o["how"] = json!(how_json(how));
    print_outputs(vec![o], seconds, args.json)?;
    Ok(())
}
