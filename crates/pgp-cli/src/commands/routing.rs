//! `pgp routing ...`: hydrological routing, pixel-identical to pygeoprocessing.routing.

use std::path::PathBuf;

use pgp::ops::request::Request;
use pgp::routing::*;

use super::common::{output_json, parse_band, print_outputs, require_file, ExecutorArg, Stopwatch};
use super::CmdResult;
use crate::output::outln;

/// `d8` or `mfd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// One direction per pixel (Byte codes 0-7).
    D8,
    /// Multiple flow directions (Int32 nibbles).
    Mfd,
}

/// Arguments of `pgp routing`.
#[derive(Debug, clap::Args)]
pub struct RoutingArgs {
    #[command(subcommand)]
    step: Step,
}

/// `--executor` and `--json`, shared by the steps that write a file.
#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    executor: ExecutorArg,
    /// Print a JSON summary of the output.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Step {
    /// Fill the pits of a DEM to their pour points.
    FillPits {
        /// The DEM.
        dem: PathBuf,
        /// The filled DEM (the DEM's type and nodata).
        output: PathBuf,
        /// Band of the DEM.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        /// Leave pits needing more than this many pixels unfilled.
        #[arg(long)]
        max_pixel_fill_count: Option<u64>,
        /// `X,Y` of the only pixel allowed to drain.
        #[arg(long, value_parser = parse_xy)]
        single_outlet: Option<(usize, usize)>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Flow directions of a (filled) DEM.
    FlowDir {
        /// The DEM.
        dem: PathBuf,
        /// The directions.
        output: PathBuf,
        /// `d8` (Byte, nodata 128) or `mfd` (Int32, nodata 0).
        #[arg(long, value_enum)]
        method: Method,
        /// Band of the DEM.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Flow accumulation over flow directions (Float64, nodata -1.23789789e29).
    FlowAccum {
        /// The flow directions.
        flow_dir: PathBuf,
        /// The accumulation.
        output: PathBuf,
        /// How the directions are encoded.
        #[arg(long, value_enum)]
        method: Method,
        /// Band of the directions.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        /// Per-pixel weights (band 1).
        #[arg(long)]
        weight: Option<PathBuf>,
        /// D8 only: constant proportion of load passing through each pixel.
        #[arg(long)]
        decay_factor: Option<f64>,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Streams from a flow accumulation (Byte 1/0, nodata 255).
    ExtractStreams {
        /// The flow accumulation.
        flow_accum: PathBuf,
        /// The streams.
        output: PathBuf,
        /// Accumulation threshold (D8: above it; MFD: at least it).
        #[arg(long)]
        threshold: f64,
        /// How the accumulation was routed.
        #[arg(long, value_enum)]
        method: Method,
        /// MFD flow directions (needed for `--method mfd`).
        #[arg(long)]
        flow_dir: Option<PathBuf>,
        /// MFD: proportion of the threshold that carries a trace.
        #[arg(long, default_value = "1.0")]
        trace_threshold_proportion: f64,
        /// Band of the accumulation.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Distance along flow paths to the nearest stream (Float64, nodata -1).
    DistanceToChannel {
        /// The flow directions.
        flow_dir: PathBuf,
        /// The streams (1 is stream).
        streams: PathBuf,
        /// The distances.
        output: PathBuf,
        /// How the directions are encoded.
        #[arg(long, value_enum)]
        method: Method,
        /// Per-step weights (band 1).
        #[arg(long)]
        weight: Option<PathBuf>,
        /// Band of the flow directions.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Points at the pixels whose flow leaves the raster or enters nodata (GeoPackage).
    DetectOutlets {
        /// The flow directions.
        flow_dir: PathBuf,
        /// The outlet points (GeoPackage; fields i, j, ID).
        output: PathBuf,
        /// How the directions are encoded.
        #[arg(long, value_enum)]
        method: Method,
        /// Band of the flow directions.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// The lowest pixel draining off the DEM (or into nodata) and the lowest pit, as JSON.
    LowestDrainAndSink {
        /// The DEM.
        dem: PathBuf,
        /// Band of the DEM.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        #[command(flatten)]
        executor: ExecutorArg,
    },
    /// Watersheds of the features of an outflow vector over D8 directions (GeoPackage).
    Watersheds {
        /// The D8 flow directions.
        d8_flow_dir: PathBuf,
        /// The outflow features (points, lines or polygons, in the directions' projection).
        outlets_vector: PathBuf,
        /// The watersheds (GeoPackage; one multipolygon per feature, its fields copied).
        output: PathBuf,
        /// Band of the flow directions.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        /// Name of the watersheds layer.
        #[arg(long, default_value = "watersheds")]
        layer_name: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Strahler-ordered stream segments as lines (GeoPackage).
    StrahlerStreams {
        /// The D8 flow directions.
        d8_flow_dir: PathBuf,
        /// Their D8 flow accumulation.
        flow_accum: PathBuf,
        /// The DEM the directions come from (for drop distances).
        dem: PathBuf,
        /// The segments (GeoPackage, layer named after the file).
        output: PathBuf,
        /// Flow accumulation at which a pixel is stream.
        #[arg(long, default_value = "100")]
        threshold: i64,
        /// The order that makes a river (for river ids).
        #[arg(long, default_value = "5")]
        river_order: i32,
        /// Raise the threshold per river while its order 1 and 2 drops differ significantly.
        #[arg(long)]
        autotune: bool,
        /// The p-value of that test.
        #[arg(long, default_value = "0.05")]
        min_p_val: f64,
        /// Band of the flow directions.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Subwatershed outlines of a Strahler stream network (GeoPackage polygons).
    Subwatersheds {
        /// The D8 flow directions the streams come from.
        d8_flow_dir: PathBuf,
        /// Streams made by `pgp routing strahler-streams`.
        streams_vector: PathBuf,
        /// The subwatersheds (GeoPackage, layer named after the file).
        output: PathBuf,
        /// Start subwatersheds at confluences instead of one pixel upstream.
        #[arg(long)]
        outlet_at_confluence: bool,
        /// Boundary steps after which a subwatershed is cut short.
        #[arg(long, default_value = "1000000")]
        max_steps: i64,
        /// Band of the flow directions.
        #[arg(long, default_value = "1", value_parser = parse_band)]
        band: usize,
        #[command(flatten)]
        run: RunArgs,
    },
}

fn parse_xy(s: &str) -> Result<(usize, usize), String> {
    let (x, y) = s
        .split_once(',')
        .ok_or_else(|| format!("expected X,Y, got {s:?}"))?;
    let n = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("expected X,Y pixel indices, got {s:?}"))
    };
    Ok((n(x)?, n(y)?))
}

/// Checks that the request's inputs exist (each named by its argument in `labels`, in the
/// order of [`Request::inputs`]), then runs it on the executor; returns its output and the
/// seconds it took.
fn run_request<R: Request>(
    request: &R,
    labels: &[&str],
    executor: &ExecutorArg,
) -> Result<(R::Output, f64), Box<dyn std::error::Error>> {
    for (path, label) in request.inputs().iter().zip(labels) {
        require_file(path, label)?;
    }
    let exec = executor.build()?;
    let stopwatch = Stopwatch::start();
    let output = request.run(&exec)?;
    Ok((output, stopwatch.seconds()))
}

/// Runs a request that writes a raster and prints the raster's summary.
fn raster<R: Request<Output = ()>>(request: R, labels: &[&str], run: &RunArgs) -> CmdResult {
    let ((), seconds) = run_request(&request, labels, &run.executor)?;
    let outputs = request
        .outputs()
        .iter()
        .map(|o| output_json(o))
        .collect::<Result<_, _>>()?;
    print_outputs(outputs, seconds, run.json)?;
    Ok(())
}

/// Runs a request that writes a vector and prints how many features it wrote.
fn vector<R: Request<Output = u64>>(request: R, labels: &[&str], run: &RunArgs) -> CmdResult {
    let (features, seconds) = run_request(&request, labels, &run.executor)?;
    for output in request.outputs() {
        if run.json {
            let doc = serde_json::json!({
                "outputs": [{"path": output, "features": features}],
                "seconds": seconds,
            });
            outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        } else {
            outln!("wrote {} ({features} features)", output.display())?;
        }
    }
    Ok(())
}

/// Run `pgp routing ...`: each step builds the request a `pgp.routing.*` pipeline task runs.
pub fn run(args: RoutingArgs) -> CmdResult {
    match args.step {
        Step::FillPits {
            dem,
            output,
            band,
            max_pixel_fill_count,
            single_outlet,
            run,
        } => {
            let request = FillPitsRequest {
                dem,
                band,
                target: output,
                max_pixel_fill_count,
                single_outlet,
            };
            raster(request, &["DEM"], &run)
        }
        Step::FlowDir {
            dem,
            output,
            method,
            band,
            run,
        } => match method {
            Method::D8 => raster(FlowDirRequest::<D8>::new(dem, band, output), &["DEM"], &run),
            Method::Mfd => raster(
                FlowDirRequest::<Mfd>::new(dem, band, output),
                &["DEM"],
                &run,
            ),
        },
        Step::FlowAccum {
            flow_dir,
            output,
            method,
            band,
            weight,
            decay_factor,
            run,
        } => {
            let labels = ["FLOW_DIR", "--weight"];
            match method {
                Method::D8 => {
                    let request = FlowAccumulationD8Request {
                        weight,
                        decay_factor,
                        ..FlowAccumulationD8Request::new(flow_dir, band, output)
                    };
                    raster(request, &labels, &run)
                }
                Method::Mfd => {
                    if decay_factor.is_some() {
                        return Err("--decay-factor: only D8 accumulation decays (pygeoprocessing has no MFD decay)".into());
                    }
                    let request = FlowAccumulationMfdRequest {
                        flow_dir,
                        band,
                        target: output,
                        weight,
                    };
                    raster(request, &labels, &run)
                }
            }
        }
        Step::ExtractStreams {
            flow_accum,
            output,
            threshold,
            method,
            flow_dir,
            trace_threshold_proportion,
            band,
            run,
        } => match method {
            Method::D8 => {
                let request = ExtractStreamsD8Request {
                    flow_accum,
                    band,
                    threshold,
                    target: output,
                };
                raster(request, &["FLOW_ACCUM"], &run)
            }
            Method::Mfd => {
                require_file(&flow_accum, "FLOW_ACCUM")?;
                let flow_dir = flow_dir.ok_or("--flow-dir: MFD streams follow the MFD directions; give the flow direction raster")?;
                let request = ExtractStreamsMfdRequest {
                    flow_accum,
                    band,
                    flow_dir,
                    threshold,
                    target: output,
                    trace_threshold_proportion,
                };
                raster(request, &["FLOW_ACCUM", "--flow-dir"], &run)
            }
        },
        Step::DistanceToChannel {
            flow_dir,
            streams,
            output,
            method,
            weight,
            band,
            run,
        } => {
            let labels = ["FLOW_DIR", "STREAMS", "--weight"];
            match method {
                Method::D8 => {
                    let request =
                        DistanceToChannelRequest::<D8>::new(flow_dir, band, streams, output);
                    raster(request.weight(weight), &labels, &run)
                }
                Method::Mfd => {
                    let request =
                        DistanceToChannelRequest::<Mfd>::new(flow_dir, band, streams, output);
                    raster(request.weight(weight), &labels, &run)
                }
            }
        }
        Step::DetectOutlets {
            flow_dir,
            output,
            method,
            band,
            run,
        } => {
            let request = DetectOutletsRequest {
                flow_dir,
                band,
                flow_dir_type: match method {
                    Method::D8 => FlowDirType::D8,
                    Method::Mfd => FlowDirType::Mfd,
                },
                target: output,
            };
            vector(request, &["FLOW_DIR"], &run)
        }
        Step::LowestDrainAndSink {
            dem,
            band,
            executor,
        } => {
            require_file(&dem, "DEM")?;
            let exec = executor.build()?;
            // The same request a `pgp.routing.detect_lowest_drain_and_sink` task runs, printed
            // instead of written.
            let request = DetectLowestDrainAndSinkRequest {
                dem,
                band,
                target: PathBuf::new(),
            };
            let found = request.find(&exec)?;
            outln!("{}", serde_json::to_string_pretty(&found.to_json())?)?;
            Ok(())
        }
        Step::Watersheds {
            d8_flow_dir,
            outlets_vector,
            output,
            band,
            layer_name,
            run,
        } => {
            let request = DelineateWatershedsD8Request {
                d8_flow_dir,
                band,
                outflow_vector: outlets_vector,
                target: output,
                target_layer_name: layer_name,
            };
            vector(request, &["D8_FLOW_DIR", "OUTLETS_VECTOR"], &run)
        }
        Step::StrahlerStreams {
            d8_flow_dir,
            flow_accum,
            dem,
            output,
            threshold,
            river_order,
            autotune,
            min_p_val,
            band,
            run,
        } => {
            let request = ExtractStrahlerStreamsD8Request {
                flow_dir: d8_flow_dir,
                band,
                flow_accum,
                dem,
                target: output,
                min_flow_accum_threshold: threshold,
                river_order,
                autotune_flow_accumulation: autotune,
                min_p_val,
            };
            vector(request, &["D8_FLOW_DIR", "FLOW_ACCUM", "DEM"], &run)
        }
        Step::Subwatersheds {
            d8_flow_dir,
            streams_vector,
            output,
            outlet_at_confluence,
            max_steps,
            band,
            run,
        } => {
            let request = CalculateSubwatershedBoundaryRequest {
                d8_flow_dir,
                band,
                strahler_streams: streams_vector,
                target: output,
                max_steps_per_watershed: max_steps,
                outlet_at_confluence,
            };
            vector(request, &["D8_FLOW_DIR", "STREAMS_VECTOR"], &run)
        }
    }
}
