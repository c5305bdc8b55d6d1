//! Pipeline files: references between tasks, errors that name task and key, reruns that skip.

use std::path::PathBuf;

use pgp::exec::{Executor, RemoteOp};
use pgp::graph::{Graph, GraphOp};
use pgp::pipeline::{Pipeline, PipelineError};
use serde::{Deserialize, Serialize};

/// Test operation: write the concatenation of text files plus a suffix.
struct Concat;

#[derive(Serialize, Deserialize)]
struct ConcatArgs {
    inputs: Vec<PathBuf>,
    suffix: String,
    target: PathBuf,
}

impl RemoteOp for Concat {
    const NAME: &'static str = "test.concat";
    type Args = ConcatArgs;
    type Output = ();
    fn run(a: ConcatArgs) -> Result<(), String> {
        let mut s = String::new();
        for p in &a.inputs {
            s.push_str(&std::fs::read_to_string(p).map_err(|e| e.to_string())?);
        }
        s.push_str(&a.suffix);
        std::fs::write(&a.target, s).map_err(|e| e.to_string())
    }
}

impl GraphOp for Concat {
    const VERSION: u32 = 1;
    fn inputs(a: &ConcatArgs) -> Vec<PathBuf> {
        a.inputs.clone()
    }
    fn outputs(a: &ConcatArgs) -> Vec<PathBuf> {
        vec![a.target.clone()]
    }
    fn redirect_outputs(a: &ConcatArgs, temps: &[PathBuf]) -> ConcatArgs {
        ConcatArgs {
            inputs: a.inputs.clone(),
            suffix: a.suffix.clone(),
            target: temps[0].clone(),
        }
    }
}
pgp::graph::register_graph_op!(Concat);

fn write_pipeline(dir: &std::path::Path, body: &str) -> PathBuf {
    let p = dir.join("pipeline.toml");
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn references_resolve_and_a_rerun_skips_everything() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("a.txt"), "A").unwrap();
    let body = format!(
        r#"
executor = "threading:2"

[[task]]
name = "first"
op = "test.concat"
args = {{ inputs = ["{a}"], suffix = "1", target = "{o1}" }}

[[task]]
name = "second"
op = "test.concat"
args = {{ inputs = ["@first", "@first.0"], suffix = "2", target = "{o2}" }}
"#,
        a = d.join("a.txt").display(),
        o1 = d.join("one.txt").display(),
        o2 = d.join("two.txt").display()
    );
    let p = Pipeline::load(write_pipeline(d, &body)).unwrap();
    assert_eq!(p.executor.as_ref().unwrap().to_string(), "threading:2");
    assert_eq!(
        p.tasks[1].args["inputs"][0],
        d.join("one.txt").display().to_string()
    );
    for expected_ran in [2, 0] {
        let g = Graph::open(d.join("ws"), Executor::threads(2).unwrap()).unwrap();
        p.add_to(&g).unwrap();
        let report = g.join().unwrap();
        assert_eq!(report.ran.len(), expected_ran);
        assert_eq!(report.skipped.len(), 2 - expected_ran);
    }
    assert_eq!(std::fs::read_to_string(d.join("two.txt")).unwrap(), "A1A12");
}

fn load_err(body: &str) -> (PipelineError, String) {
    let dir = tempfile::tempdir().unwrap();
    let err = Pipeline::load(write_pipeline(dir.path(), body)).unwrap_err();
    let msg = err.to_string();
    (err, msg)
}

#[test]
fn errors_point_at_the_task_and_key() {
    let (err, msg) = load_err(
        r#"
[[task]]
name = "x"
op = "no.such.op"
"#,
    );
    assert!(
        matches!(err, PipelineError::Task { ref key, .. } if key == "op"),
        "{msg}"
    );
    assert!(
        msg.contains("no.such.op") && msg.contains("test.concat"),
        "{msg}"
    );

    let (_, msg) = load_err(
        r#"
[[task]]
name = "x"
op = "test.concat"
args = { inputs = ["@later"], suffix = "", target = "t" }
"#,
    );
    assert!(
        msg.contains("task `x`, key `args.inputs[0]`") && msg.contains("later"),
        "{msg}"
    );

    let (_, msg) = load_err(
        r#"
[[task]]
name = "x"
op = "test.concat"
args = { inputs = [], suffix = "", target = "t" }
[[task]]
name = "x"
op = "test.concat"
args = { inputs = [], suffix = "", target = "u" }
"#,
    );
    assert!(msg.contains("task `x`, key `name`"), "{msg}");

    let (_, msg) = load_err(
        r#"
[[task]]
name = "x"
op = "test.concat"
args = { inputs = [], target = "t" }
"#,
    );
    assert!(
        msg.contains("task `x`, key `args`") && msg.contains("suffix"),
        "{msg}"
    );

    let (err, msg) = load_err("executor = \"threading:0\"\n");
    assert!(matches!(err, PipelineError::Syntax { .. }), "{msg}");
    assert!(msg.contains("threading:0"), "{msg}");

    let (_, msg) = load_err("[[task]]\nname = \"x\"\nop = \"test.concat\"\nbogus = 1\n");
    assert!(msg.contains("bogus"), "{msg}");
}

/// A pipeline's `pgp.warp` takes the same request as `pgp warp` and `WarpRequest::run`, so it
/// has the same default pixel size (it once required one), and a `pgp.zonal_stats` task writes
/// exactly what `zonal_json` renders.
#[test]
fn pipeline_tasks_take_the_operations_own_requests_and_defaults() {
    use pgp::ops::request::{zonal_json, Request, ZonalRequest};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = pgp::core::sample::generate(d.join("data"), 48, 3).unwrap();
    let body = format!(
        r#"
[[task]]
name = "warp"
op = "pgp.warp"
args = {{ raster = "{dem}", target = "{warped}" }}

[[task]]
name = "zonal"
op = "pgp.zonal_stats"
args = {{ raster = "@warp", vector = "{zones}", layer = "zones", target = "{json}" }}
"#,
        dem = data.dem.display(),
        warped = d.join("warped.tif").display(),
        zones = data.zones.display(),
        json = d.join("zonal.json").display(),
    );
    let p = Pipeline::load(write_pipeline(d, &body)).unwrap();
    let g = Graph::open(d.join("ws"), Executor::sync()).unwrap();
    p.add_to(&g).unwrap();
    assert_eq!(g.join().unwrap().ran.len(), 2);
    let source = pgp::core::raster_info(&data.dem).unwrap();
    let warped = pgp::core::raster_info(d.join("warped.tif")).unwrap();
    assert_eq!(warped.pixel_size, source.pixel_size);
    assert_eq!(warped.raster_size, source.raster_size);

    let direct = ZonalRequest {
        raster: d.join("warped.tif"),
        band: 1,
        vector: data.zones.clone(),
        layer: Some("zones".into()),
        ignore_nodata: true,
        include_value_counts: false,
        target: d.join("direct.json"),
    };
    let stats = direct.run(&Executor::sync()).unwrap();
    assert!(!stats.is_empty());
    let written = std::fs::read_to_string(d.join("zonal.json")).unwrap();
    assert_eq!(written, zonal_json(&stats));
    assert_eq!(
        written,
        std::fs::read_to_string(d.join("direct.json")).unwrap()
    );
}

/// `walltime` takes Slurm's time forms; a bad one names the task and the key.
#[test]
fn a_task_walltime_is_read_in_slurm_forms() {
    let dir = tempfile::tempdir().unwrap();
    let body = |walltime: &str| {
        format!(
            "[[task]]\nname = \"long\"\nop = \"test.concat\"\nwalltime = \"{walltime}\"\n\
             args = {{ inputs = [], suffix = \"\", target = \"t\" }}\n\
             [[task]]\nname = \"short\"\nop = \"test.concat\"\n\
             args = {{ inputs = [], suffix = \"\", target = \"u\" }}\n"
        )
    };
    let pipeline = Pipeline::load(write_pipeline(dir.path(), &body("1-00:20:00"))).unwrap();
    let walltimes: Vec<_> = pipeline.tasks.iter().map(|t| t.walltime).collect();
    assert_eq!(
        walltimes,
        [Some(std::time::Duration::from_secs(86_400 + 1200)), None]
    );
    for bad in ["20 minutes", "00:61:00:00", ""] {
        let (err, msg) = load_err(&body(bad));
        assert!(
            matches!(err, PipelineError::Task { ref task, ref key, .. }
                if task == "long" && key == "walltime"),
            "{msg}"
        );
        assert!(msg.contains("MM:SS"), "{msg}");
    }
}

/// `pgp.calc` with one expression per band: the pipeline file's list form runs as one task
/// writing every band, and a rerun finds it done.
#[test]
fn a_calc_task_writes_one_band_per_listed_expression() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data = pgp::core::sample::generate(d.join("data"), 64, 7).unwrap();
    let out = d.join("bands.tif");
    let body = format!(
        r#"
[[task]]
name = "bands"
op = "pgp.calc"
args = {{ expression = ["dem * 2", "dem + k"], inputs = {{ dem = "{dem}", k = 1 }}, target = "{out}", options = {{ datatype = "F64", nodata = -1.0 }} }}
"#,
        dem = data.dem.display(),
        out = out.display()
    );
    let p = Pipeline::load(write_pipeline(d, &body)).unwrap();
    for expected_ran in [1, 0] {
        let g = Graph::open(d.join("ws"), Executor::threads(2).unwrap()).unwrap();
        p.add_to(&g).unwrap();
        assert_eq!(g.join().unwrap().ran.len(), expected_ran);
    }
    let whole = pgp::core::Window::new(0, 0, 64, 64);
    let dem = pgp::core::Raster::open(&data.dem).unwrap();
    let dem = dem.read::<f32>(1, whole).unwrap();
    let r = pgp::core::Raster::open(&out).unwrap();
    assert_eq!(r.band_count(), 2);
    let (b1, b2) = (
        r.read::<f64>(1, whole).unwrap(),
        r.read::<f64>(2, whole).unwrap(),
    );
    for ((&v, &o1), &o2) in dem.iter().zip(b1.iter()).zip(b2.iter()) {
        if f64::from(v) == pgp::core::sample::DEM_NODATA {
            assert_eq!((o1, o2), (-1.0, -1.0));
        } else {
            assert_eq!((o1, o2), (f64::from(v) * 2.0, f64::from(v) + 1.0));
        }
    }
}
