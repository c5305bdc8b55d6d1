//! The sediment model's routing chain (InVEST SDR) as an incremental pipeline: fill pits, MFD
//! flow directions, MFD flow accumulation, streams with a trace proportion of 0.7, and the
//! weighted distance to channel, on the seeded sample DEM. The second run skips every task;
//! a new stream threshold reruns only the streams and the distances.
//! `examples/hydrology/pipeline.toml` is the same pipeline for `pgp run`.
//!
//! Usage: `cargo run --release --example hydrology -- [WORK_DIR] [SIZE] [EXECUTOR]`

use std::path::Path;
use std::time::Instant;

use pgp::core::sample;
use pgp::exec::Executor;
use pgp::graph::{Graph, RunReport, Task};
use pgp::nodes::Node;
use pgp::routing::{
    DistanceToChannelRequest, ExtractStreamsMfdRequest, FillPitsRequest,
    FlowAccumulationMfdRequest, FlowDirRequest, Mfd,
};

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

fn declare(graph: &Graph, dem: &Path, weight: &Path, work: &Path, threshold: f64) -> AnyResult<()> {
    let p = |n: &str| work.join(n);
    graph.add_op::<Node<FillPitsRequest>>(
        FillPitsRequest {
            dem: dem.to_path_buf(),
            band: 1,
            target: p("filled.tif"),
            max_pixel_fill_count: None,
            single_outlet: None,
        },
        Task::new("fill"),
    )?;
    graph.add_op::<Node<FlowDirRequest<Mfd>>>(
        FlowDirRequest::<Mfd>::new(p("filled.tif"), 1, p("flow_dir_mfd.tif")),
        Task::new("flow_dir"),
    )?;
    graph.add_op::<Node<FlowAccumulationMfdRequest>>(
        FlowAccumulationMfdRequest {
            flow_dir: p("flow_dir_mfd.tif"),
            band: 1,
            target: p("flow_accum.tif"),
            weight: None,
        },
        Task::new("flow_accum"),
    )?;
    graph.add_op::<Node<ExtractStreamsMfdRequest>>(
        ExtractStreamsMfdRequest {
            flow_accum: p("flow_accum.tif"),
            band: 1,
            flow_dir: p("flow_dir_mfd.tif"),
            threshold,
            target: p("streams.tif"),
            trace_threshold_proportion: 0.7,
        },
        Task::new("streams"),
    )?;
    let distance = DistanceToChannelRequest::<Mfd>::new(
        p("flow_dir_mfd.tif"),
        1,
        p("streams.tif"),
        p("distance_to_channel.tif"),
    );
    graph.add_op::<Node<DistanceToChannelRequest<Mfd>>>(
        distance.weight(Some(weight.to_path_buf())),
        Task::new("distance"),
    )?;
    Ok(())
}

fn run(
    label: &str,
    work: &Path,
    data: &sample::SampleData,
    exec: &Executor,
    threshold: f64,
) -> AnyResult<RunReport> {
    let t = Instant::now();
    let graph = Graph::open(work.join(".pgp"), exec.clone())?;
    declare(&graph, &data.dem, &data.weight, work, threshold)?;
    let report = graph.join()?;
    println!(
        "{label:<32} {:>7.2} s   ran {:?}   skipped {:?}",
        t.elapsed().as_secs_f64(),
        report.ran,
        report.skipped
    );
    Ok(report)
}

fn main() -> AnyResult<()> {
    pgp::exec::worker::run_if_worker();
    let mut args = std::env::args().skip(1);
    let work = std::path::PathBuf::from(args.next().unwrap_or_else(|| "hydrology-out".into()));
    let size: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1024);
    let exec: Executor = args.next().unwrap_or_else(|| "threading".into()).parse()?;
    std::fs::create_dir_all(&work)?;
    let data = sample::generate(work.join("data"), size, 1)?;
    println!(
        "hydrology on the {size} x {size} sample DEM, executor {}",
        exec.spec()
    );
    run("first run", &work, &data, &exec, 1000.0)?;
    let again = run("rerun, nothing changed", &work, &data, &exec, 1000.0)?;
    assert!(
        again.ran.is_empty(),
        "an unchanged rerun must skip everything"
    );
    let changed = run("rerun with threshold 500", &work, &data, &exec, 500.0)?;
    assert!(!changed
        .ran
        .iter()
        .any(|t| t == "fill" || t == "flow_dir" || t == "flow_accum"));
    Ok(())
}
