//! The align -> reclassify -> runoff -> zonal pipeline on a pgp task graph, run cold, again with
//! nothing changed (cached), and after one edit of the coefficient table (changed): the same
//! three phases the peer runs on taskgraph.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use pgp::core::DataType;
use pgp::exec::Executor;
use pgp::graph::{Graph, RunReport, Task};
use pgp::nodes::{
    AlignNode, AlignRequest, CalcNode, ReclassifyNode, ReclassifyRequest, ZonalNode, ZonalRequest,
};
use pgp::ops::{ExprInput, Expression, ExpressionJob};

use super::{aligned_paths, f32_out, Check, Data, Outputs};
use crate::AnyResult;

/// The peer computes runoff in float32 arithmetic, pgp in float64 rounded to float32 once: a
/// few float32 ulps apart. Zonal sums: the peer's are float32 sums (see the `zonal` case).
pub const CHECK: Check = Check {
    raster_tolerance: 1e-6,
    max_mismatch_fraction: 0.0,
    json_tolerance: 1e-6,
};

/// Runoff coefficient per land-cover class, as the peer's `TABLE`: 0.1 * class, none for
/// class 7 (its pixels become nodata); `class3` replaces class 3's.
fn write_table(path: &Path, class3: f64) -> std::io::Result<()> {
    let mut s = String::from("lucode,coef\n");
    for k in (1..=12u32).filter(|&k| k != 7) {
        let coef = if k == 3 { class3 } else { 0.1 * f64::from(k) };
        s.push_str(&format!("{k},{coef:.3}\n"));
    }
    std::fs::write(path, s)
}

fn declare(graph: &Graph, d: &Data, work: &Path) -> AnyResult<()> {
    let aligned = aligned_paths(work);
    graph.add_op::<AlignNode>(
        AlignRequest {
            base_rasters: vec![d.dem.clone(), d.landcover.clone(), d.precip.clone()],
            targets: aligned.to_vec(),
            resample_methods: vec!["bilinear".into(), "near".into(), "bilinear".into()],
            target_pixel_size: [30.0, -30.0],
            bounding_box_mode: "intersection".into(),
            raster_align_index: Some(0),
            target_projection: None,
        },
        Task::new("align"),
    )?;
    let coef = work.join("coef.tif");
    graph.add_op::<ReclassifyNode>(
        ReclassifyRequest {
            raster: aligned[1].clone(),
            band: 1,
            table: work.join("biophysical.csv"),
            key_field: "lucode".into(),
            value_field: "coef".into(),
            target: coef.clone(),
            datatype: DataType::F32,
            nodata: Some(-1.0),
            values_required: false,
        },
        Task::new("coefficients"),
    )?;
    let raster = |p: &Path| ExprInput::Raster {
        path: p.to_path_buf(),
        band: 1,
    };
    let runoff = ExpressionJob {
        expression: Expression::parse("precip * coef * (1 + dem / 1000)")?,
        more_bands: Vec::new(),
        inputs: BTreeMap::from([
            ("dem".to_string(), raster(&aligned[0])),
            ("coef".to_string(), raster(&coef)),
            ("precip".to_string(), raster(&aligned[2])),
        ]),
        target: work.join("runoff.tif"),
        options: f32_out(),
    };
    graph.add_op::<CalcNode>(runoff, Task::new("runoff"))?;
    graph.add_op::<ZonalNode>(
        ZonalRequest {
            raster: work.join("runoff.tif"),
            band: 1,
            vector: d.zones.clone(),
            layer: None,
            ignore_nodata: true,
            include_value_counts: false,
            target: work.join("zonal.json"),
        },
        Task::new("zonal"),
    )?;
    Ok(())
}

/// Open the graph, declare the tasks and run them: what a script does each time it runs.
fn run_once(d: &Data, work: &Path, exec: &Executor) -> AnyResult<(f64, RunReport)> {
    let t = Instant::now();
    let graph = Graph::open(work.join(".pgp"), exec.clone())?;
    declare(&graph, d, work)?;
    let report = graph.join()?;
    Ok((t.elapsed().as_secs_f64(), report))
}

/// The three phases; `total` (the reported time) is the cold run. A phase that runs more or less
/// than it must is an error, not a time.
pub fn run(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    let table = out.join("biophysical.csv");
    write_table(&table, 0.3)?;
    let (cold, report) = run_once(d, out, exec)?;
    if !report.skipped.is_empty() {
        return Err(format!("cold run skipped {:?}", report.skipped).into());
    }
    let (cached, report) = run_once(d, out, exec)?;
    if !report.ran.is_empty() {
        return Err(format!("cached run reran {:?}", report.ran).into());
    }
    write_table(&table, 0.9)?;
    let (changed, report) = run_once(d, out, exec)?;
    if report.skipped != ["align"] {
        return Err(format!(
            "after the table edit: ran {:?}, skipped {:?} (only align should be skipped)",
            report.ran, report.skipped
        )
        .into());
    }
    let outputs = BTreeMap::from([
        ("runoff".to_string(), out.join("runoff.tif")),
        ("zonal".to_string(), out.join("zonal.json")),
    ]);
    let phases = BTreeMap::from([
        ("total".to_string(), cold),
        ("cold".to_string(), cold),
        ("cached".to_string(), cached),
        ("changed".to_string(), changed),
    ]);
    Ok((outputs, phases))
}
