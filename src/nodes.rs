//! The operations as task-graph nodes.
//!
//! Each node is a [`RemoteOp`] (so it runs on any executor, worker processes included) and a
//! [`GraphOp`] (so it declares the files it reads and writes once, and a graph or a pipeline file
//! needs nothing more than its arguments). Registered names, for pipeline files:
//!
//! | name | operation | arguments |
//! | --- | --- | --- |
//! | `pgp.calc` | raster algebra expression | [`ExpressionJob`] |
//! | `pgp.align` | `align_and_resize_raster_stack` | [`AlignArgs`] |
//! | `pgp.warp` | `warp_raster` | [`WarpArgs`] |
//! | `pgp.reclassify` | `reclassify_raster` with a CSV table | [`ReclassifyArgs`] |
//! | `pgp.zonal_stats` | `zonal_statistics`, written as JSON | [`ZonalArgs`] |
//! | `pgp.convolve` | `convolve_2d` | [`ConvolveArgs`] |
//!
//! The graph's executor is the budget of all its work: on a thread pool, a task's operation runs
//! its blocks on the graph's own pool ([`GraphOp::run_on`]), shared with the other tasks in
//! flight, and GDAL's compression threads follow that pool's size; on the synchronous executor
//! everything runs on one thread; in a worker process of a process pool, an operation runs on
//! that process alone, and in a Slurm worker on the CPUs of its job
//! ([`pgp_exec::worker::executor`]). The executor is not part of a task's key: it changes how fast an output
//! is made, never what it is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgp_core::DataType;
use pgp_exec::{Executor, RemoteOp};
use pgp_graph::GraphOp;
use pgp_ops::calc::ReclassifyOptions;
use pgp_ops::{
    AlignOptions, BoundingBoxMode, ConvolveOptions, ExpressionJob, ResampleMethod, WarpOptions,
    ZonalOptions,
};
use serde::{Deserialize, Serialize};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn one(v: &Path) -> Vec<PathBuf> {
    vec![v.to_path_buf()]
}

fn one_band() -> usize {
    1
}

fn yes() -> bool {
    true
}

// ---------------------------------------------------------------------------------------------

/// `pgp.calc`: evaluate a raster algebra expression ([`ExpressionJob`]).
pub struct CalcNode;

impl RemoteOp for CalcNode {
    const NAME: &'static str = "pgp.calc";
    type Args = ExpressionJob;
    type Output = ();
    fn run(job: ExpressionJob) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm).
        Self::run_on(job, &pgp_exec::worker::executor())
    }
}

impl GraphOp for CalcNode {
    const VERSION: u32 = 1;
    fn run_on(job: ExpressionJob, exec: &Executor) -> Result<(), String> {
        job.run(exec).map(|_| ()).map_err(err)
    }
    fn inputs(a: &ExpressionJob) -> Vec<PathBuf> {
        a.inputs_paths()
    }
    fn outputs(a: &ExpressionJob) -> Vec<PathBuf> {
        one(&a.target)
    }
    fn redirect_outputs(a: &ExpressionJob, temps: &[PathBuf]) -> ExpressionJob {
        let mut b = a.clone();
        b.target = temps[0].clone();
        b
    }
}

// ---------------------------------------------------------------------------------------------

/// Arguments of `pgp.align`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignArgs {
    /// The rasters to align.
    pub rasters: Vec<PathBuf>,
    /// One output per raster.
    pub targets: Vec<PathBuf>,
    /// One method per raster, or one for all (`near`, `bilinear`, ...).
    pub resample: Vec<String>,
    /// Target pixel size `[x, y]` (y negative for north-up).
    pub pixel_size: [f64; 2],
    /// `union`, `intersection`, or `xmin,ymin,xmax,ymax`.
    pub bbox: String,
    /// Snap the grid to this raster's (index into `rasters`).
    #[serde(default)]
    pub align_to: Option<usize>,
    /// Target projection (WKT or `EPSG:n`); default: the rasters' own.
    #[serde(default)]
    pub target_projection: Option<String>,
}

/// `pgp.align`: `align_and_resize_raster_stack`.
pub struct AlignNode;

impl RemoteOp for AlignNode {
    const NAME: &'static str = "pgp.align";
    type Args = AlignArgs;
    type Output = ();
    fn run(a: AlignArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm).
        Self::run_on(a, &pgp_exec::worker::executor())
    }
}

impl GraphOp for AlignNode {
    const VERSION: u32 = 1;
    fn run_on(a: AlignArgs, exec: &Executor) -> Result<(), String> {
        let mut methods = ResampleMethod::parse_list(&a.resample).map_err(err)?;
        if methods.len() == 1 && a.rasters.len() > 1 {
            methods = vec![methods[0]; a.rasters.len()];
        }
        let mode: BoundingBoxMode = a.bbox.parse().map_err(err)?;
        let options = AlignOptions {
            raster_align_index: a.align_to,
            target_projection: a.target_projection.clone(),
            ..AlignOptions::default()
        };
        pgp_ops::align_and_resize_raster_stack(
            &a.rasters,
            &a.targets,
            &methods,
            (a.pixel_size[0], a.pixel_size[1]),
            mode,
            &options,
            exec,
        )
        .map(|_| ())
        .map_err(err)
    }
    fn inputs(a: &AlignArgs) -> Vec<PathBuf> {
        a.rasters.clone()
    }
    fn outputs(a: &AlignArgs) -> Vec<PathBuf> {
        a.targets.clone()
    }
    fn redirect_outputs(a: &AlignArgs, temps: &[PathBuf]) -> AlignArgs {
        AlignArgs {
            targets: temps.to_vec(),
            ..a.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Arguments of `pgp.warp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarpArgs {
    /// The source raster.
    pub raster: PathBuf,
    /// The output.
    pub target: PathBuf,
    /// Target pixel size `[x, y]`.
    pub pixel_size: [f64; 2],
    /// Resampling method name.
    pub resample: String,
    /// Target projection (WKT or `EPSG:n`); default: the source's.
    #[serde(default)]
    pub target_projection: Option<String>,
    /// Target bounding box `[xmin, ymin, xmax, ymax]`; default: the source's, transformed.
    #[serde(default)]
    pub target_bbox: Option<[f64; 4]>,
}

/// `pgp.warp`: `warp_raster`.
pub struct WarpNode;

impl RemoteOp for WarpNode {
    const NAME: &'static str = "pgp.warp";
    type Args = WarpArgs;
    type Output = ();
    fn run(a: WarpArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm).
        Self::run_on(a, &pgp_exec::worker::executor())
    }
}

impl GraphOp for WarpNode {
    const VERSION: u32 = 1;
    fn run_on(a: WarpArgs, exec: &Executor) -> Result<(), String> {
        let method: ResampleMethod = a.resample.parse().map_err(err)?;
        let options = WarpOptions {
            target_projection: a.target_projection.clone(),
            target_bbox: a.target_bbox.map(pgp_core::BoundingBox::from_array),
            ..WarpOptions::default()
        };
        pgp_ops::warp_raster(
            &a.raster,
            (a.pixel_size[0], a.pixel_size[1]),
            &a.target,
            method,
            &options,
            exec,
        )
        .map(|_| ())
        .map_err(err)
    }
    fn inputs(a: &WarpArgs) -> Vec<PathBuf> {
        one(&a.raster)
    }
    fn outputs(a: &WarpArgs) -> Vec<PathBuf> {
        one(&a.target)
    }
    fn redirect_outputs(a: &WarpArgs, temps: &[PathBuf]) -> WarpArgs {
        WarpArgs {
            target: temps[0].clone(),
            ..a.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Arguments of `pgp.reclassify`: values mapped through a CSV table (the table is an input, so
/// editing it reruns the task).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReclassifyArgs {
    /// The raster to reclassify.
    pub raster: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// A CSV file with a header row.
    pub table: PathBuf,
    /// Column holding the raster values.
    pub key_field: String,
    /// Column holding the new values.
    pub value_field: String,
    /// The output.
    pub target: PathBuf,
    /// Output pixel type (GDAL name).
    pub datatype: DataType,
    /// Output nodata.
    #[serde(default)]
    pub nodata: Option<f64>,
    /// Fail on values missing from the table (default true); else they become nodata.
    #[serde(default = "yes")]
    pub values_required: bool,
}

/// Read `key_field` -> `value_field` pairs from a CSV file with a header row.
pub fn read_value_table(
    path: &Path,
    key_field: &str,
    value_field: &str,
) -> Result<Vec<(f64, f64)>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| format!("{}: empty table", path.display()))?
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                format!(
                    "{}: no column `{name}` (columns: {})",
                    path.display(),
                    header.join(", ")
                )
            })
    };
    let (k, v) = (col(key_field)?, col(value_field)?);
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell = |j: usize| -> Result<f64, String> {
            cells
                .get(j)
                .and_then(|c| c.parse::<f64>().ok())
                .ok_or_else(|| {
                    format!(
                        "{}: row {}: `{}` is not a number",
                        path.display(),
                        i + 2,
                        cells.get(j).unwrap_or(&"")
                    )
                })
        };
        out.push((cell(k)?, cell(v)?));
    }
    Ok(out)
}

/// `pgp.reclassify`: `reclassify_raster` with the map read from a CSV table.
pub struct ReclassifyNode;

impl RemoteOp for ReclassifyNode {
    const NAME: &'static str = "pgp.reclassify";
    type Args = ReclassifyArgs;
    type Output = ();
    fn run(a: ReclassifyArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm).
        Self::run_on(a, &pgp_exec::worker::executor())
    }
}

impl GraphOp for ReclassifyNode {
    const VERSION: u32 = 1;
    fn run_on(a: ReclassifyArgs, exec: &Executor) -> Result<(), String> {
        let map = read_value_table(&a.table, &a.key_field, &a.value_field)?;
        let options = ReclassifyOptions {
            values_required: a.values_required,
            ..ReclassifyOptions::default()
        };
        pgp_ops::reclassify_raster(
            &a.raster, a.band, &map, &a.target, a.datatype, a.nodata, &options, exec,
        )
        .map(|_| ())
        .map_err(err)
    }
    fn inputs(a: &ReclassifyArgs) -> Vec<PathBuf> {
        vec![a.raster.clone(), a.table.clone()]
    }
    fn outputs(a: &ReclassifyArgs) -> Vec<PathBuf> {
        one(&a.target)
    }
    fn redirect_outputs(a: &ReclassifyArgs, temps: &[PathBuf]) -> ReclassifyArgs {
        ReclassifyArgs {
            target: temps[0].clone(),
            ..a.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Arguments of `pgp.zonal_stats`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZonalArgs {
    /// The raster.
    pub raster: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The polygons.
    pub vector: PathBuf,
    /// Where to write the statistics as JSON `{fid: {min, max, sum, count, nodata_count}}`.
    pub target: PathBuf,
}

/// Per-feature statistics as the JSON the CLI and the zonal node write.
pub fn zonal_json(stats: &pgp_ops::ZonalStats) -> serde_json::Value {
    let map: BTreeMap<String, serde_json::Value> = stats
        .iter()
        .map(|(fid, s)| {
            (
                fid.to_string(),
                serde_json::json!({
                    "min": s.min, "max": s.max, "sum": s.sum,
                    "count": s.count, "nodata_count": s.nodata_count,
                }),
            )
        })
        .collect();
    serde_json::to_value(map).unwrap_or_default()
}

/// `pgp.zonal_stats`: `zonal_statistics`, written to a JSON file.
pub struct ZonalNode;

impl RemoteOp for ZonalNode {
    const NAME: &'static str = "pgp.zonal_stats";
    type Args = ZonalArgs;
    type Output = ();
    fn run(a: ZonalArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm).
        Self::run_on(a, &pgp_exec::worker::executor())
    }
}

impl GraphOp for ZonalNode {
    const VERSION: u32 = 1;
    fn run_on(a: ZonalArgs, exec: &Executor) -> Result<(), String> {
        let stats =
            pgp_ops::zonal_statistics(&a.raster, a.band, &a.vector, &ZonalOptions::default(), exec)
                .map_err(err)?;
        let text = serde_json::to_string_pretty(&zonal_json(&stats)).map_err(err)?;
        std::fs::write(&a.target, text).map_err(|e| format!("{}: {e}", a.target.display()))
    }
    fn inputs(a: &ZonalArgs) -> Vec<PathBuf> {
        vec![a.raster.clone(), a.vector.clone()]
    }
    fn outputs(a: &ZonalArgs) -> Vec<PathBuf> {
        one(&a.target)
    }
    fn redirect_outputs(a: &ZonalArgs, temps: &[PathBuf]) -> ZonalArgs {
        ZonalArgs {
            target: temps[0].clone(),
            ..a.clone()
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Arguments of `pgp.convolve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvolveArgs {
    /// The signal raster (band 1).
    pub signal: PathBuf,
    /// The kernel raster (band 1).
    pub kernel: PathBuf,
    /// The output.
    pub target: PathBuf,
    /// Divide the kernel by its sum first.
    #[serde(default)]
    pub normalize_kernel: bool,
    /// Normalise by the convolution of the valid-pixel mask.
    #[serde(default)]
    pub ignore_nodata_and_edges: bool,
}

/// `pgp.convolve`: `convolve_2d`.
pub struct ConvolveNode;

impl RemoteOp for ConvolveNode {
    const NAME: &'static str = "pgp.convolve";
    type Args = ConvolveArgs;
    type Output = ();
    fn run(a: ConvolveArgs) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm).
        Self::run_on(a, &pgp_exec::worker::executor())
    }
}

impl GraphOp for ConvolveNode {
    const VERSION: u32 = 1;
    fn run_on(a: ConvolveArgs, exec: &Executor) -> Result<(), String> {
        let options = ConvolveOptions {
            normalize_kernel: a.normalize_kernel,
            ignore_nodata_and_edges: a.ignore_nodata_and_edges,
            ..ConvolveOptions::default()
        };
        pgp_ops::convolve_2d(&a.signal, 1, &a.kernel, 1, &a.target, &options, exec).map_err(err)
    }
    fn inputs(a: &ConvolveArgs) -> Vec<PathBuf> {
        vec![a.signal.clone(), a.kernel.clone()]
    }
    fn outputs(a: &ConvolveArgs) -> Vec<PathBuf> {
        one(&a.target)
    }
    fn redirect_outputs(a: &ConvolveArgs, temps: &[PathBuf]) -> ConvolveArgs {
        ConvolveArgs {
            target: temps[0].clone(),
            ..a.clone()
        }
    }
}

pgp_exec::register_op!(CalcNode);
pgp_exec::register_op!(AlignNode);
pgp_exec::register_op!(WarpNode);
pgp_exec::register_op!(ReclassifyNode);
pgp_exec::register_op!(ZonalNode);
pgp_exec::register_op!(ConvolveNode);
pgp_graph::register_graph_op!(CalcNode);
pgp_graph::register_graph_op!(AlignNode);
pgp_graph::register_graph_op!(WarpNode);
pgp_graph::register_graph_op!(ReclassifyNode);
pgp_graph::register_graph_op!(ZonalNode);
pgp_graph::register_graph_op!(ConvolveNode);
