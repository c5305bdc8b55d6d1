//! Hydrological routing ([`pgp_routing`]) and its task-graph nodes.
//!
//! Every routing function is a registered node named `pgp.routing.<function>`, usable from
//! pipeline files and `Graph::add_op`:
//!
//! | name | arguments |
//! | --- | --- |
//! | `pgp.routing.fill_pits` | [`FillPitsArgs`] |
//! | `pgp.routing.flow_dir_d8`, `pgp.routing.flow_dir_mfd` | [`FlowDirArgs`] |
//! | `pgp.routing.flow_accumulation_d8` | [`FlowAccumulationD8Args`] |
//! | `pgp.routing.flow_accumulation_mfd` | [`FlowAccumulationMfdArgs`] |
//! | `pgp.routing.extract_streams_d8` | [`ExtractStreamsD8Args`] |
//! | `pgp.routing.extract_streams_mfd` | [`ExtractStreamsMfdArgs`] |
//! | `pgp.routing.distance_to_channel_d8`, `pgp.routing.distance_to_channel_mfd` | [`DistanceToChannelArgs`] |
//! | `pgp.routing.detect_outlets` | [`DetectOutletsArgs`] |
//! | `pgp.routing.detect_lowest_drain_and_sink` | [`DetectLowestDrainAndSinkArgs`] |
//! | `pgp.routing.delineate_watersheds_d8` | [`DelineateWatershedsD8Args`] |
//! | `pgp.routing.extract_strahler_streams_d8` | [`ExtractStrahlerStreamsD8Args`] |
//! | `pgp.routing.calculate_subwatershed_boundary` | [`CalculateSubwatershedBoundaryArgs`] |
//!
//! Bands default to 1; paths are relative to the pipeline file.

use std::path::PathBuf;

use pgp_exec::{Executor, RemoteOp};
use pgp_graph::GraphOp;
use serde::{Deserialize, Serialize};

pub use pgp_routing::*;

fn one_band() -> usize {
    1
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Implements [`GraphOp`] for a node whose inputs and single output are fields of its args.
macro_rules! graph_op {
    ($node:ty, $args:ty, inputs = |$a:ident| $inputs:expr) => {
        impl GraphOp for $node {
            const VERSION: u32 = 1;
            fn run_on(a: $args, exec: &Executor) -> Result<(), String> {
                <$node>::run_with(a, exec)
            }
            fn inputs($a: &$args) -> Vec<PathBuf> {
                $inputs
            }
            fn outputs(a: &$args) -> Vec<PathBuf> {
                vec![a.target.clone()]
            }
            fn redirect_outputs(a: &$args, temps: &[PathBuf]) -> $args {
                let mut b = a.clone();
                b.target = temps[0].clone();
                b
            }
        }
        pgp_exec::register_op!($node);
        pgp_graph::register_graph_op!($node);
    };
}

/// Arguments of `pgp.routing.fill_pits`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FillPitsArgs {
    /// The DEM.
    pub dem: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The filled DEM.
    pub target: PathBuf,
    /// Leave pits larger than this many pixels unfilled.
    #[serde(default)]
    pub max_pixel_fill_count: Option<u64>,
    /// `[x, y]` of the only pixel that drains.
    #[serde(default)]
    pub single_outlet: Option<(usize, usize)>,
}

/// `pgp.routing.fill_pits`.
pub struct FillPitsNode;

impl RemoteOp for FillPitsNode {
    const NAME: &'static str = "pgp.routing.fill_pits";
    type Args = FillPitsArgs;
    type Output = ();
    fn run(a: FillPitsArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl FillPitsNode {
    fn run_with(a: FillPitsArgs, exec: &Executor) -> Result<(), String> {
        let options = FillOptions {
            max_pixel_fill_count: a.max_pixel_fill_count,
            single_outlet: a.single_outlet,
        };
        fill_pits(&RasterBand::new(&a.dem, a.band), &a.target, &options, exec).map_err(err)
    }
}
graph_op!(FillPitsNode, FillPitsArgs, inputs = |a| vec![a.dem.clone()]);

/// Arguments of `pgp.routing.flow_dir_d8` and `pgp.routing.flow_dir_mfd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowDirArgs {
    /// The (filled) DEM.
    pub dem: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The flow directions.
    pub target: PathBuf,
}

/// `pgp.routing.flow_dir_d8`.
pub struct FlowDirD8Node;

impl RemoteOp for FlowDirD8Node {
    const NAME: &'static str = "pgp.routing.flow_dir_d8";
    type Args = FlowDirArgs;
    type Output = ();
    fn run(a: FlowDirArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl FlowDirD8Node {
    fn run_with(a: FlowDirArgs, exec: &Executor) -> Result<(), String> {
        flow_dir_d8(&RasterBand::new(&a.dem, a.band), &a.target, exec).map_err(err)
    }
}
graph_op!(FlowDirD8Node, FlowDirArgs, inputs = |a| vec![a.dem.clone()]);

/// `pgp.routing.flow_dir_mfd`.
pub struct FlowDirMfdNode;

impl RemoteOp for FlowDirMfdNode {
    const NAME: &'static str = "pgp.routing.flow_dir_mfd";
    type Args = FlowDirArgs;
    type Output = ();
    fn run(a: FlowDirArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl FlowDirMfdNode {
    fn run_with(a: FlowDirArgs, exec: &Executor) -> Result<(), String> {
        flow_dir_mfd(&RasterBand::new(&a.dem, a.band), &a.target, exec).map_err(err)
    }
}
graph_op!(
    FlowDirMfdNode,
    FlowDirArgs,
    inputs = |a| vec![a.dem.clone()]
);

/// Arguments of `pgp.routing.flow_accumulation_d8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowAccumulationD8Args {
    /// D8 flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The accumulation.
    pub target: PathBuf,
    /// Per-pixel weights (band 1).
    #[serde(default)]
    pub weight: Option<PathBuf>,
    /// A constant decay factor.
    #[serde(default)]
    pub decay_factor: Option<f64>,
    /// A raster of decay factors (band 1); exclusive with `decay_factor`.
    #[serde(default)]
    pub decay_raster: Option<PathBuf>,
    /// Decayed values below this proportion are dropped (0.001).
    #[serde(default)]
    pub min_decay_proportion: Option<f64>,
}

/// `pgp.routing.flow_accumulation_d8`.
pub struct FlowAccumulationD8Node;

impl RemoteOp for FlowAccumulationD8Node {
    const NAME: &'static str = "pgp.routing.flow_accumulation_d8";
    type Args = FlowAccumulationD8Args;
    type Output = ();
    fn run(a: FlowAccumulationD8Args) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl FlowAccumulationD8Node {
    fn run_with(a: FlowAccumulationD8Args, exec: &Executor) -> Result<(), String> {
        let decay = match (a.decay_factor, &a.decay_raster) {
            (Some(_), Some(_)) => {
                return Err("decay_factor and decay_raster: give one, not both".into())
            }
            (Some(c), None) => Some(DecayFactor::Constant(c)),
            (None, Some(p)) => Some(DecayFactor::Raster(RasterBand::first(p))),
            (None, None) => None,
        };
        let options = D8AccumulationOptions {
            weight: a.weight.as_ref().map(RasterBand::first),
            decay,
            min_decay_proportion: a.min_decay_proportion.unwrap_or(0.001),
        };
        flow_accumulation_d8(
            &RasterBand::new(&a.flow_dir, a.band),
            &a.target,
            &options,
            exec,
        )
        .map_err(err)
    }
}
graph_op!(
    FlowAccumulationD8Node,
    FlowAccumulationD8Args,
    inputs = |a| {
        let mut v = vec![a.flow_dir.clone()];
        v.extend(a.weight.iter().cloned());
        v.extend(a.decay_raster.iter().cloned());
        v
    }
);

/// Arguments of `pgp.routing.flow_accumulation_mfd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowAccumulationMfdArgs {
    /// MFD flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The accumulation.
    pub target: PathBuf,
    /// Per-pixel weights (band 1).
    #[serde(default)]
    pub weight: Option<PathBuf>,
}

/// `pgp.routing.flow_accumulation_mfd`.
pub struct FlowAccumulationMfdNode;

impl RemoteOp for FlowAccumulationMfdNode {
    const NAME: &'static str = "pgp.routing.flow_accumulation_mfd";
    type Args = FlowAccumulationMfdArgs;
    type Output = ();
    fn run(a: FlowAccumulationMfdArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl FlowAccumulationMfdNode {
    fn run_with(a: FlowAccumulationMfdArgs, exec: &Executor) -> Result<(), String> {
        let weight = a.weight.as_ref().map(RasterBand::first);
        flow_accumulation_mfd(
            &RasterBand::new(&a.flow_dir, a.band),
            &a.target,
            weight.as_ref(),
            exec,
        )
        .map_err(err)
    }
}
graph_op!(
    FlowAccumulationMfdNode,
    FlowAccumulationMfdArgs,
    inputs = |a| {
        let mut v = vec![a.flow_dir.clone()];
        v.extend(a.weight.iter().cloned());
        v
    }
);

/// Arguments of `pgp.routing.extract_streams_d8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractStreamsD8Args {
    /// D8 flow accumulation.
    pub flow_accum: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// Accumulation above which a pixel is stream.
    pub threshold: f64,
    /// The streams.
    pub target: PathBuf,
}

/// `pgp.routing.extract_streams_d8`.
pub struct ExtractStreamsD8Node;

impl RemoteOp for ExtractStreamsD8Node {
    const NAME: &'static str = "pgp.routing.extract_streams_d8";
    type Args = ExtractStreamsD8Args;
    type Output = ();
    fn run(a: ExtractStreamsD8Args) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl ExtractStreamsD8Node {
    fn run_with(a: ExtractStreamsD8Args, exec: &Executor) -> Result<(), String> {
        extract_streams_d8(
            &RasterBand::new(&a.flow_accum, a.band),
            a.threshold,
            &a.target,
            exec,
        )
        .map_err(err)
    }
}
graph_op!(
    ExtractStreamsD8Node,
    ExtractStreamsD8Args,
    inputs = |a| vec![a.flow_accum.clone()]
);

/// Arguments of `pgp.routing.extract_streams_mfd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractStreamsMfdArgs {
    /// MFD flow accumulation (band 1).
    pub flow_accum: PathBuf,
    /// MFD flow directions (band 1).
    pub flow_dir: PathBuf,
    /// Accumulation at which a pixel is stream.
    pub threshold: f64,
    /// The streams.
    pub target: PathBuf,
    /// Proportion of the threshold that carries a trace (1.0).
    #[serde(default)]
    pub trace_threshold_proportion: Option<f64>,
}

/// `pgp.routing.extract_streams_mfd`.
pub struct ExtractStreamsMfdNode;

impl RemoteOp for ExtractStreamsMfdNode {
    const NAME: &'static str = "pgp.routing.extract_streams_mfd";
    type Args = ExtractStreamsMfdArgs;
    type Output = ();
    fn run(a: ExtractStreamsMfdArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl ExtractStreamsMfdNode {
    fn run_with(a: ExtractStreamsMfdArgs, exec: &Executor) -> Result<(), String> {
        extract_streams_mfd(
            &RasterBand::first(&a.flow_accum),
            &RasterBand::first(&a.flow_dir),
            a.threshold,
            &a.target,
            a.trace_threshold_proportion.unwrap_or(1.0),
            exec,
        )
        .map_err(err)
    }
}
graph_op!(
    ExtractStreamsMfdNode,
    ExtractStreamsMfdArgs,
    inputs = |a| vec![a.flow_accum.clone(), a.flow_dir.clone()]
);

/// Arguments of `pgp.routing.distance_to_channel_d8` and `pgp.routing.distance_to_channel_mfd`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistanceToChannelArgs {
    /// Flow directions (band 1).
    pub flow_dir: PathBuf,
    /// Streams (band 1; 1 is stream).
    pub streams: PathBuf,
    /// The distances.
    pub target: PathBuf,
    /// Per-step weights (band 1).
    #[serde(default)]
    pub weight: Option<PathBuf>,
}

fn distance_inputs(a: &DistanceToChannelArgs) -> Vec<PathBuf> {
    let mut v = vec![a.flow_dir.clone(), a.streams.clone()];
    v.extend(a.weight.iter().cloned());
    v
}

/// `pgp.routing.distance_to_channel_d8`.
pub struct DistanceToChannelD8Node;

impl RemoteOp for DistanceToChannelD8Node {
    const NAME: &'static str = "pgp.routing.distance_to_channel_d8";
    type Args = DistanceToChannelArgs;
    type Output = ();
    fn run(a: DistanceToChannelArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl DistanceToChannelD8Node {
    fn run_with(a: DistanceToChannelArgs, exec: &Executor) -> Result<(), String> {
        let weight = a.weight.as_ref().map(RasterBand::first);
        distance_to_channel_d8(
            &RasterBand::first(&a.flow_dir),
            &RasterBand::first(&a.streams),
            &a.target,
            weight.as_ref(),
            exec,
        )
        .map_err(err)
    }
}
graph_op!(
    DistanceToChannelD8Node,
    DistanceToChannelArgs,
    inputs = |a| distance_inputs(a)
);

/// `pgp.routing.distance_to_channel_mfd`.
pub struct DistanceToChannelMfdNode;

impl RemoteOp for DistanceToChannelMfdNode {
    const NAME: &'static str = "pgp.routing.distance_to_channel_mfd";
    type Args = DistanceToChannelArgs;
    type Output = ();
    fn run(a: DistanceToChannelArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl DistanceToChannelMfdNode {
    fn run_with(a: DistanceToChannelArgs, exec: &Executor) -> Result<(), String> {
        let weight = a.weight.as_ref().map(RasterBand::first);
        distance_to_channel_mfd(
            &RasterBand::first(&a.flow_dir),
            &RasterBand::first(&a.streams),
            &a.target,
            weight.as_ref(),
            exec,
        )
        .map_err(err)
    }
}
graph_op!(
    DistanceToChannelMfdNode,
    DistanceToChannelArgs,
    inputs = |a| distance_inputs(a)
);

/// Arguments of `pgp.routing.detect_outlets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectOutletsArgs {
    /// Flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// `d8` or `mfd`.
    pub flow_dir_type: FlowDirType,
    /// The outlet points (GeoPackage).
    pub target: PathBuf,
}

/// `pgp.routing.detect_outlets`.
pub struct DetectOutletsNode;

impl RemoteOp for DetectOutletsNode {
    const NAME: &'static str = "pgp.routing.detect_outlets";
    type Args = DetectOutletsArgs;
    type Output = ();
    fn run(a: DetectOutletsArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl DetectOutletsNode {
    fn run_with(a: DetectOutletsArgs, exec: &Executor) -> Result<(), String> {
        detect_outlets(
            &RasterBand::new(&a.flow_dir, a.band),
            a.flow_dir_type,
            &a.target,
            exec,
        )
        .map(|_| ())
        .map_err(err)
    }
}
graph_op!(
    DetectOutletsNode,
    DetectOutletsArgs,
    inputs = |a| vec![a.flow_dir.clone()]
);

/// Arguments of `pgp.routing.detect_lowest_drain_and_sink`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectLowestDrainAndSinkArgs {
    /// The DEM.
    pub dem: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// A JSON file receiving `{"drain": [x, y] | null, "drain_height", "sink", "sink_height"}`
    /// (heights null where there is no such pixel).
    pub target: PathBuf,
}

/// `pgp.routing.detect_lowest_drain_and_sink`.
pub struct DetectLowestDrainAndSinkNode;

impl RemoteOp for DetectLowestDrainAndSinkNode {
    const NAME: &'static str = "pgp.routing.detect_lowest_drain_and_sink";
    type Args = DetectLowestDrainAndSinkArgs;
    type Output = ();
    fn run(a: DetectLowestDrainAndSinkArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl DetectLowestDrainAndSinkNode {
    fn run_with(a: DetectLowestDrainAndSinkArgs, exec: &Executor) -> Result<(), String> {
        let found =
            detect_lowest_drain_and_sink(&RasterBand::new(&a.dem, a.band), exec).map_err(err)?;
        let height = |p: Option<(usize, usize)>, h: f64| p.map(|_| h);
        let doc = serde_json::json!({
            "drain": found.drain,
            "drain_height": height(found.drain, found.drain_height),
            "sink": found.sink,
            "sink_height": height(found.sink, found.sink_height),
        });
        let text = serde_json::to_string_pretty(&doc).map_err(err)?;
        std::fs::write(&a.target, text).map_err(|e| format!("{}: {e}", a.target.display()))
    }
}
graph_op!(
    DetectLowestDrainAndSinkNode,
    DetectLowestDrainAndSinkArgs,
    inputs = |a| vec![a.dem.clone()]
);

fn watersheds_layer_name() -> String {
    "watersheds".to_string()
}

/// Arguments of `pgp.routing.delineate_watersheds_d8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelineateWatershedsD8Args {
    /// D8 flow directions.
    pub d8_flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The outflow features (first layer).
    pub outflow_vector: PathBuf,
    /// The watersheds (GeoPackage).
    pub target: PathBuf,
    /// Name of the watersheds layer (`watersheds`).
    #[serde(default = "watersheds_layer_name")]
    pub target_layer_name: String,
}

/// `pgp.routing.delineate_watersheds_d8`.
pub struct DelineateWatershedsD8Node;

impl RemoteOp for DelineateWatershedsD8Node {
    const NAME: &'static str = "pgp.routing.delineate_watersheds_d8";
    type Args = DelineateWatershedsD8Args;
    type Output = ();
    fn run(a: DelineateWatershedsD8Args) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl DelineateWatershedsD8Node {
    fn run_with(a: DelineateWatershedsD8Args, exec: &Executor) -> Result<(), String> {
        let options = WatershedOptions {
            target_layer_name: a.target_layer_name,
            ..Default::default()
        };
        delineate_watersheds_d8(
            &RasterBand::new(&a.d8_flow_dir, a.band),
            &a.outflow_vector,
            &a.target,
            &options,
            exec,
        )
        .map(|_| ())
        .map_err(err)
    }
}
graph_op!(
    DelineateWatershedsD8Node,
    DelineateWatershedsD8Args,
    inputs = |a| vec![a.d8_flow_dir.clone(), a.outflow_vector.clone()]
);

/// Arguments of `pgp.routing.extract_strahler_streams_d8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractStrahlerStreamsD8Args {
    /// D8 flow directions (band 1).
    pub flow_dir: PathBuf,
    /// Their D8 flow accumulation (band 1).
    pub flow_accum: PathBuf,
    /// The DEM (band 1).
    pub dem: PathBuf,
    /// The stream segments (GeoPackage).
    pub target: PathBuf,
    /// Flow accumulation at which a pixel is stream (100).
    #[serde(default)]
    pub min_flow_accum_threshold: Option<i64>,
    /// The order that makes a river (5).
    #[serde(default)]
    pub river_order: Option<i32>,
    /// Autotune the threshold per river (false).
    #[serde(default)]
    pub autotune_flow_accumulation: bool,
    /// The p-value of the autotuning test (0.05).
    #[serde(default)]
    pub min_p_val: Option<f64>,
}

/// `pgp.routing.extract_strahler_streams_d8`.
pub struct ExtractStrahlerStreamsD8Node;

impl RemoteOp for ExtractStrahlerStreamsD8Node {
    const NAME: &'static str = "pgp.routing.extract_strahler_streams_d8";
    type Args = ExtractStrahlerStreamsD8Args;
    type Output = ();
    fn run(a: ExtractStrahlerStreamsD8Args) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl ExtractStrahlerStreamsD8Node {
    fn run_with(a: ExtractStrahlerStreamsD8Args, exec: &Executor) -> Result<(), String> {
        let defaults = StrahlerOptions::default();
        let options = StrahlerOptions {
            min_flow_accum_threshold: a
                .min_flow_accum_threshold
                .unwrap_or(defaults.min_flow_accum_threshold),
            river_order: a.river_order.unwrap_or(defaults.river_order),
            autotune_flow_accumulation: a.autotune_flow_accumulation,
            min_p_val: a.min_p_val.unwrap_or(defaults.min_p_val),
        };
        extract_strahler_streams_d8(
            &RasterBand::first(&a.flow_dir),
            &RasterBand::first(&a.flow_accum),
            &RasterBand::first(&a.dem),
            &a.target,
            &options,
            exec,
        )
        .map(|_| ())
        .map_err(err)
    }
}
graph_op!(
    ExtractStrahlerStreamsD8Node,
    ExtractStrahlerStreamsD8Args,
    inputs = |a| vec![a.flow_dir.clone(), a.flow_accum.clone(), a.dem.clone()]
);

/// Arguments of `pgp.routing.calculate_subwatershed_boundary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalculateSubwatershedBoundaryArgs {
    /// D8 flow directions (band 1).
    pub d8_flow_dir: PathBuf,
    /// Streams made by `pgp.routing.extract_strahler_streams_d8`.
    pub strahler_streams: PathBuf,
    /// The subwatersheds (GeoPackage).
    pub target: PathBuf,
    /// Boundary steps after which a subwatershed is cut short (1000000).
    #[serde(default)]
    pub max_steps_per_watershed: Option<i64>,
    /// Start subwatersheds at confluences (false: one pixel upstream).
    #[serde(default)]
    pub outlet_at_confluence: bool,
}

/// `pgp.routing.calculate_subwatershed_boundary`.
pub struct CalculateSubwatershedBoundaryNode;

impl RemoteOp for CalculateSubwatershedBoundaryNode {
    const NAME: &'static str = "pgp.routing.calculate_subwatershed_boundary";
    type Args = CalculateSubwatershedBoundaryArgs;
    type Output = ();
    fn run(a: CalculateSubwatershedBoundaryArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm), as
        // every other node runs.
        <Self as GraphOp>::run_on(a, &pgp_exec::worker::executor())
    }
}

impl CalculateSubwatershedBoundaryNode {
    fn run_with(a: CalculateSubwatershedBoundaryArgs, exec: &Executor) -> Result<(), String> {
        let options = SubwatershedOptions {
            max_steps_per_watershed: a
                .max_steps_per_watershed
                .unwrap_or(SubwatershedOptions::default().max_steps_per_watershed),
            outlet_at_confluence: a.outlet_at_confluence,
        };
        calculate_subwatershed_boundary(
            &RasterBand::first(&a.d8_flow_dir),
            &a.strahler_streams,
            &a.target,
            &options,
            exec,
        )
        .map(|_| ())
        .map_err(err)
    }
}
graph_op!(
    CalculateSubwatershedBoundaryNode,
    CalculateSubwatershedBoundaryArgs,
    inputs = |a| vec![a.d8_flow_dir.clone(), a.strahler_streams.clone()]
);
