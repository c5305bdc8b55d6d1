//! `pgp routing ...`: hydrological routing, pixel-identical to pygeoprocessing.routing.

use std::path::PathBuf;

use pgp::routing::{self as r, D8AccumulationOptions, DecayFactor, FillOptions, RasterBand};

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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
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
        executor: ExecutorArg,
        /// Print a JSON summary of the output.
        #[arg(long)]
        json: bool,
    },
}

fn finish_vector(
    output: &std::path::Path,
    features: u64,
    stopwatch: Stopwatch,
    json: bool,
) -> CmdResult {
    let seconds = stopwatch.seconds();
    if json {
        let doc = serde_json::json!({
            "outputs": [{"path": output, "features": features}],
            "seconds": seconds,
        });
        outln!("{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        outln!("wrote {} ({features} features)", output.display())?;
    }
    Ok(())
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

fn finish(output: &std::path::Path, stopwatch: Stopwatch, json: bool) -> CmdResult {
    let seconds = stopwatch.seconds();
    print_outputs(vec![output_json(output)?], seconds, json)?;
    Ok(())
}

/// Run `pgp routing ...`.
pub fn run(args: RoutingArgs) -> CmdResult {
    match args.step {
        Step::FillPits {
            dem,
            output,
            band,
            max_pixel_fill_count,
            single_outlet,
            executor,
            json,
        } => {
            require_file(&dem, "DEM")?;
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let options = FillOptions {
                max_pixel_fill_count,
                single_outlet,
            };
            r::fill_pits(&RasterBand::new(&dem, band), &output, &options, &exec)?;
            finish(&output, stopwatch, json)
        }
        Step::FlowDir {
            dem,
            output,
            method,
            band,
            executor,
            json,
        } => {
            require_file(&dem, "DEM")?;
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let dem = RasterBand::new(&dem, band);
            match method {
                Method::D8 => r::flow_dir_d8(&dem, &output, &exec)?,
                Method::Mfd => r::flow_dir_mfd(&dem, &output, &exec)?,
            }
            finish(&output, stopwatch, json)
        }
        Step::FlowAccum {
            flow_dir,
            output,
            method,
            band,
            weight,
            decay_factor,
            executor,
            json,
        } => {
            require_file(&flow_dir, "FLOW_DIR")?;
            if let Some(w) = &weight {
                require_file(w, "--weight")?;
            }
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let dirs = RasterBand::new(&flow_dir, band);
            let weight = weight.map(RasterBand::first);
            match method {
                Method::D8 => {
                    let options = D8AccumulationOptions {
                        weight,
                        decay: decay_factor.map(DecayFactor::Constant),
                        ..Default::default()
                    };
                    r::flow_accumulation_d8(&dirs, &output, &options, &exec)?
                }
                Method::Mfd => {
                    if decay_factor.is_some() {
                        return Err("--decay-factor: only D8 accumulation decays (pygeoprocessing has no MFD decay)".into());
                    }
                    r::flow_accumulation_mfd(&dirs, &output, weight.as_ref(), &exec)?
                }
            }
            finish(&output, stopwatch, json)
        }
        Step::ExtractStreams {
            flow_accum,
            output,
            threshold,
            method,
            flow_dir,
            trace_threshold_proportion,
            band,
            executor,
            json,
        } => {
            require_file(&flow_accum, "FLOW_ACCUM")?;
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let accum = RasterBand::new(&flow_accum, band);
            match method {
                Method::D8 => r::extract_streams_d8(&accum, threshold, &output, &exec)?,
                Method::Mfd => {
                    let dirs = flow_dir.ok_or("--flow-dir: MFD streams follow the MFD directions; give the flow direction raster")?;
                    require_file(&dirs, "--flow-dir")?;
                    r::extract_streams_mfd(
                        &accum,
                        &RasterBand::first(&dirs),
                        threshold,
                        &output,
                        trace_threshold_proportion,
                        &exec,
                    )?
                }
            }
            finish(&output, stopwatch, json)
        }
        Step::DistanceToChannel {
            flow_dir,
            streams,
            output,
            method,
            weight,
            band,
            executor,
            json,
        } => {
            require_file(&flow_dir, "FLOW_DIR")?;
            require_file(&streams, "STREAMS")?;
            if let Some(w) = &weight {
                require_file(w, "--weight")?;
            }
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let dirs = RasterBand::new(&flow_dir, band);
            let streams = RasterBand::first(&streams);
            let weight = weight.map(RasterBand::first);
            match method {
                Method::D8 => {
                    r::distance_to_channel_d8(&dirs, &streams, &output, weight.as_ref(), &exec)?
                }
                Method::Mfd => {
                    r::distance_to_channel_mfd(&dirs, &streams, &output, weight.as_ref(), &exec)?
                }
            }
            finish(&output, stopwatch, json)
        }
        Step::DetectOutlets {
            flow_dir,
            output,
            method,
            band,
            executor,
            json,
        } => {
            require_file(&flow_dir, "FLOW_DIR")?;
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let kind = match method {
                Method::D8 => r::FlowDirType::D8,
                Method::Mfd => r::FlowDirType::Mfd,
            };
            let n = r::detect_outlets(&RasterBand::new(&flow_dir, band), kind, &output, &exec)?;
            finish_vector(&output, n, stopwatch, json)
        }
        Step::LowestDrainAndSink {
            dem,
            band,
            executor,
        } => {
            require_file(&dem, "DEM")?;
            let exec = executor.build()?;
            let found = r::detect_lowest_drain_and_sink(&RasterBand::new(&dem, band), &exec)?;
            // JSON has no infinity: a missing drain or sink is null with a null height.
            let height = |p: Option<(usize, usize)>, h: f64| p.map(|_| h);
            let doc = serde_json::json!({
                "drain": found.drain,
                "drain_height": height(found.drain, found.drain_height),
                "sink": found.sink,
                "sink_height": height(found.sink, found.sink_height),
            });
            outln!("{}", serde_json::to_string_pretty(&doc)?)?;
            Ok(())
        }
        Step::Watersheds {
            d8_flow_dir,
            outlets_vector,
            output,
            band,
            layer_name,
            executor,
            json,
        } => {
            require_file(&d8_flow_dir, "D8_FLOW_DIR")?;
            require_file(&outlets_vector, "OUTLETS_VECTOR")?;
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let options = r::WatershedOptions {
                target_layer_name: layer_name,
                ..Default::default()
            };
            let n = r::delineate_watersheds_d8(
                &RasterBand::new(&d8_flow_dir, band),
                &outlets_vector,
                &output,
                &options,
                &exec,
            )?;
            finish_vector(&output, n, stopwatch, json)
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
            executor,
            json,
        } => {
            require_file(&d8_flow_dir, "D8_FLOW_DIR")?;
            require_file(&flow_accum, "FLOW_ACCUM")?;
            require_file(&dem, "DEM")?;
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let options = r::StrahlerOptions {
                min_flow_accum_threshold: threshold,
                river_order,
                autotune_flow_accumulation: autotune,
                min_p_val,
            };
            let n = r::extract_strahler_streams_d8(
                &RasterBand::new(&d8_flow_dir, band),
                &RasterBand::first(&flow_accum),
                &RasterBand::first(&dem),
                &output,
                &options,
                &exec,
            )?;
            finish_vector(&output, n, stopwatch, json)
        }
        Step::Subwatersheds {
            d8_flow_dir,
            streams_vector,
            output,
            outlet_at_confluence,
            max_steps,
            band,
            executor,
            json,
        } => {
            require_file(&d8_flow_dir, "D8_FLOW_DIR")?;
            require_file(&streams_vector, "STREAMS_VECTOR")?;
            let exec = executor.build()?;
            let stopwatch = Stopwatch::start();
            let options = r::SubwatershedOptions {
                max_steps_per_watershed: max_steps,
                outlet_at_confluence,
            };
            let n = r::calculate_subwatershed_boundary(
                &RasterBand::new(&d8_flow_dir, band),
                &streams_vector,
                &output,
                &options,
                &exec,
            )?;
            finish_vector(&output, n, stopwatch, json)
        }
    }
}
