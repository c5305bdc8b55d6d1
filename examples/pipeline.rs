//! An incremental research pipeline in Rust: align three rasters, map land-cover classes to
//! runoff coefficients from a CSV table, compute runoff with an expression, and take zonal
//! statistics of the result. Run it, rerun it (everything is skipped), edit the table and rerun
//! (only the tasks downstream of the table run).
//!
//! Usage: `cargo run --release --example pipeline -- [WORK_DIR] [SIZE] [EXECUTOR]`

use std::path::Path;
use std::time::Instant;

use pgp::core::{sample, DataType};
use pgp::exec::Executor;
use pgp::graph::{Graph, RunReport, Task};
use pgp::nodes::{
    AlignNode, AlignRequest, CalcNode, ReclassifyNode, ReclassifyRequest, ZonalNode, ZonalRequest,
};
use pgp::ops::ExpressionJob;

type AnyResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Runoff coefficient per land-cover class; class 7 has none (its pixels become nodata).
fn write_table(path: &Path, class3: f64) -> std::io::Result<()> {
    let mut s = String::from("lucode,coef\n");
    for k in (1..=12).filter(|&k| k != 7) {
        let coef = if k == 3 { class3 } else { 0.1 * k as f64 };
        s.push_str(&format!("{k},{coef}\n"));
    }
    std::fs::write(path, s)
}

/// Declare the pipeline on `graph`. Each operation knows which files it reads and writes, so
/// the dependencies (align -> reclassify -> runoff -> zonal) follow from the paths.
fn declare(graph: &Graph, data: &sample::SampleData, work: &Path) -> AnyResult<()> {
    let aligned = ["dem", "landcover", "precip"].map(|n| work.join(format!("{n}_aligned.tif")));
    graph.add_op::<AlignNode>(
        AlignRequest {
            base_rasters: vec![
                data.dem.clone(),
                data.landcover.clone(),
                data.precip.clone(),
            ],
            targets: aligned.to_vec(),
            resample_methods: vec!["bilinear".into(), "near".into(), "bilinear".into()],
            target_pixel_size: [30.0, -30.0],
            bounding_box_mode: "intersection".into(),
            raster_align_index: Some(0),
            target_projection: None,
        },
        Task::new("align"),
    )?;
    graph.add_op::<ReclassifyNode>(
        ReclassifyRequest {
            raster: aligned[1].clone(),
            band: 1,
            table: work.join("biophysical.csv"),
            key_field: "lucode".into(),
            value_field: "coef".into(),
            target: work.join("coef.tif"),
            datatype: DataType::F32,
            nodata: Some(-1.0),
            values_required: false,
        },
        Task::new("coefficients"),
    )?;
    let runoff: ExpressionJob = serde_json::from_value(serde_json::json!({
        "expression": "precip * coef * (1 + dem / 1000)",
        "inputs": { "dem": aligned[0], "coef": work.join("coef.tif"), "precip": aligned[2] },
        "target": work.join("runoff.tif"),
        "options": { "datatype": "F32", "nodata": -9999.0 },
    }))?;
    graph.add_op::<CalcNode>(runoff, Task::new("runoff"))?;
    graph.add_op::<ZonalNode>(
        ZonalRequest {
            raster: work.join("runoff.tif"),
            band: 1,
            vector: data.zones.clone(),
            layer: None,
            ignore_nodata: true,
            target: work.join("zonal_runoff.json"),
        },
        Task::new("zonal"),
    )?;
    Ok(())
}

/// CPU seconds (user + system) this process and its finished children have used: the graph's
/// executor is the budget of all its work, so on `sync` a run uses about one CPU second per
/// second, on `threading:2` about two.
fn cpu_seconds() -> f64 {
    let secs = |who| {
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: getrusage only writes the struct it is given.
        let usage = unsafe {
            libc::getrusage(who, usage.as_mut_ptr());
            usage.assume_init()
        };
        let t = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
        t(usage.ru_utime) + t(usage.ru_stime)
    };
    secs(libc::RUSAGE_SELF) + secs(libc::RUSAGE_CHILDREN)
}

fn run(
    label: &str,
    work: &Path,
    data: &sample::SampleData,
    exec: &Executor,
) -> AnyResult<RunReport> {
    let (t, cpu) = (Instant::now(), cpu_seconds());
    let graph = Graph::open(work.join(".pgp"), exec.clone())?;
    declare(&graph, data, work)?;
    let report = graph.join()?;
    let wall = t.elapsed().as_secs_f64();
    println!(
        "{label:<28} {wall:>7.2} s   {:.2} CPU s per s   ran {:?}   skipped {:?}",
        (cpu_seconds() - cpu) / wall,
        report.ran,
        report.skipped
    );
    Ok(report)
}

fn main() -> AnyResult<()> {
    pgp::exec::worker::run_if_worker();
    let mut args = std::env::args().skip(1);
    let work = std::path::PathBuf::from(args.next().unwrap_or_else(|| "pipeline-out".into()));
    let size: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(1024);
    let exec: Executor = args.next().unwrap_or_else(|| "threading".into()).parse()?;

    std::fs::create_dir_all(&work)?;
    let data = sample::generate(work.join("data"), size, 1)?;
    write_table(&work.join("biophysical.csv"), 0.3)?;
    println!(
        "pipeline on {size} x {size} sample data, executor {}",
        exec.spec()
    );

    run("first run", &work, &data, &exec)?;
    let again = run("rerun, nothing changed", &work, &data, &exec)?;
    assert!(
        again.ran.is_empty(),
        "an unchanged rerun must skip everything"
    );
    write_table(&work.join("biophysical.csv"), 0.9)?;
    let edited = run("rerun after a table edit", &work, &data, &exec)?;
    assert!(
        !edited.ran.contains(&"align".to_string()),
        "align does not read the table"
    );
    write_table(&work.join("biophysical.csv"), 0.3)?;
    println!(
        "zonal statistics: {}",
        work.join("zonal_runoff.json").display()
    );
    Ok(())
}
