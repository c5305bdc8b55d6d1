//! `pgp align IN... --out OUT... --pixel-size X,Y --bbox MODE --resample METHOD[,METHOD...]`:
//! put rasters on one common grid.

use std::collections::HashSet;
use std::path::PathBuf;

use pgp::ops::request::{AlignRequest, Request};
use pgp::ops::{BoundingBoxMode, ResampleMethod, WarpPath};
use serde_json::json;

use super::common::{
    output_json, parse_bbox, parse_pixel_size, parse_resample, print_outputs, require_file,
    require_output, ExecutorArg, Stopwatch,
};
use super::CmdResult;

/// Arguments of `pgp align`.
#[derive(Debug, clap::Args)]
pub struct AlignArgs {
    /// The rasters to align.
    #[arg(required = true, value_name = "IN")]
    inputs: Vec<PathBuf>,
    /// One output per input, in the same order.
    #[arg(long = "out", value_name = "OUT", num_args = 1.., required = true)]
    outputs: Vec<PathBuf>,
    /// Target pixel size X,Y in map units (Y is usually negative).
    #[arg(long, value_name = "X,Y", value_parser = parse_pixel_size, allow_hyphen_values = true)]
    pixel_size: (f64, f64),
    /// Target extent: union, intersection, or MINX,MINY,MAXX,MAXY.
    #[arg(long, value_name = "MODE", value_parser = parse_bbox, allow_hyphen_values = true)]
    bbox: BoundingBoxMode,
    /// Resampling: one method for every input, or one per input (comma-separated).
    #[arg(long, value_name = "METHOD[,METHOD...]", value_parser = parse_resample,
          value_delimiter = ',', required = true)]
    resample: Vec<ResampleMethod>,
    /// Snap the grid to the pixels of input number INDEX (from 0).
    #[arg(long, value_name = "INDEX")]
    align_to: Option<usize>,
    /// Target projection: EPSG:N, WKT or a PROJ string (default: the inputs', which must then
    /// share one). The pixel size and an explicit --bbox are in this projection.
    #[arg(long, value_name = "SRS")]
    t_srs: Option<String>,
    #[command(flatten)]
    executor: ExecutorArg,
    /// Print a JSON summary of the outputs.
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

/// Check the lists against each other, naming the flags at fault.
fn check_lists(args: &AlignArgs) -> Result<(), String> {
    let n = args.inputs.len();
    if args.outputs.len() != n {
        return Err(format!(
            "--out: {} output(s) for {n} input(s); give one output per input",
            args.outputs.len()
        ));
    }
    let m = args.resample.len();
    if m != 1 && m != n {
        return Err(format!(
            "--resample: {m} methods for {n} inputs; give one method for all inputs or one per \
             input"
        ));
    }
    if let Some(i) = args.align_to {
        if i >= n {
            return Err(format!(
                "--align-to: {i} is out of range for {n} input(s) (counted from 0)"
            ));
        }
    }
    let mut seen = HashSet::new();
    for out in &args.outputs {
        if !seen.insert(out) {
            return Err(format!("--out: {} is given more than once", out.display()));
        }
        if args.inputs.contains(out) {
            return Err(format!("--out: {} is also an input", out.display()));
        }
    }
    Ok(())
}

/// Run `pgp align`: the same request a `pgp.align` pipeline task runs.
pub fn run(args: AlignArgs) -> CmdResult {
    check_lists(&args)?;
    for input in &args.inputs {
        require_file(input, "input raster")?;
    }
    for output in &args.outputs {
        require_output(output, "--out")?;
    }
    let request = AlignRequest {
        base_rasters: args.inputs.clone(),
        targets: args.outputs.clone(),
        resample_methods: args
            .resample
            .iter()
            .map(ResampleMethod::to_string)
            .collect(),
        target_pixel_size: [args.pixel_size.0, args.pixel_size.1],
        bounding_box_mode: args.bbox.to_string(),
        raster_align_index: args.align_to,
        target_projection: args.t_srs.clone(),
    };
    let methods = request.methods()?;
    let exec = args.executor.build()?;
    let stopwatch = Stopwatch::start();
    let report = request.run(&exec)?;
    let seconds = stopwatch.seconds();
    let mut outputs = Vec::new();
    for (i, out) in args.outputs.iter().enumerate() {
        let mut o = output_json(out)?;
        o["input"] = json!(args.inputs[i]);
        o["resample"] = json!(methods[i].gdal_name());
        o["how"] = json!(report.paths.get(i).map(|p| how_json(*p)));
        outputs.push(o);
    }
    print_outputs(outputs, seconds, args.json)?;
    Ok(())
}
