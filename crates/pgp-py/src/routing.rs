//! `pgp-routing` (pygeoprocessing.routing, pixel-identical) from Python.

use std::path::PathBuf;

use pgp_core::LayerRef;
use pgp_exec::Executor;
use pgp_routing::{
    D8AccumulationOptions, DecayFactor, FillOptions, FlowDirType, RasterBand, StrahlerOptions,
    SubwatershedOptions, WatershedOptions,
};
use pyo3::prelude::*;

use crate::errors::routing_err;
use crate::executor::resolve;
use crate::interrupt;

/// Runs a routing step on the executor the caller gave (resolved first), off the GIL and
/// interruptible by Ctrl-C, with pgp-routing's errors raised as Python's.
fn run_step<T: Send + 'static>(
    py: Python<'_>,
    executor: Option<&Bound<'_, PyAny>>,
    step: impl FnOnce(&Executor) -> pgp_routing::Result<T> + Send + 'static,
) -> PyResult<T> {
    let exec = resolve(py, executor)?;
    interrupt::run(py, move |_| step(&exec))?.map_err(routing_err)
}

fn band(b: (PathBuf, usize)) -> RasterBand {
    RasterBand::new(b.0, b.1)
}

#[pyfunction]
#[pyo3(signature = (dem, target, max_pixel_fill_count, single_outlet, executor=None))]
fn fill_pits(
    py: Python<'_>,
    dem: (PathBuf, usize),
    target: PathBuf,
    max_pixel_fill_count: Option<u64>,
    single_outlet: Option<(usize, usize)>,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let opts = FillOptions {
        max_pixel_fill_count,
        single_outlet,
    };
    run_step(py, executor, move |exec| {
        pgp_routing::fill_pits(&band(dem), &target, &opts, exec)
    })
}

/// `kind`: `d8` or `mfd`.
#[pyfunction]
#[pyo3(signature = (kind, dem, target, executor=None))]
fn flow_dir(
    py: Python<'_>,
    kind: &str,
    dem: (PathBuf, usize),
    target: PathBuf,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let mfd = kind == "mfd";
    run_step(py, executor, move |exec| {
        if mfd {
            pgp_routing::flow_dir_mfd(&band(dem), &target, exec)
        } else {
            pgp_routing::flow_dir_d8(&band(dem), &target, exec)
        }
    })
}

/// D8 accumulation; `decay` is a constant, a `(path, band)`, or None.
#[pyfunction]
#[pyo3(signature = (flow_dir, target, weight, decay_constant, decay_raster, min_decay_proportion, executor=None))]
#[allow(clippy::too_many_arguments)]
fn flow_accumulation_d8(
    py: Python<'_>,
    flow_dir: (PathBuf, usize),
    target: PathBuf,
    weight: Option<(PathBuf, usize)>,
    decay_constant: Option<f64>,
    decay_raster: Option<(PathBuf, usize)>,
    min_decay_proportion: f64,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let decay = match (decay_constant, decay_raster) {
        (Some(c), _) => Some(DecayFactor::Constant(c)),
        (None, Some(r)) => Some(DecayFactor::Raster(band(r))),
        _ => None,
    };
    let opts = D8AccumulationOptions {
        weight: weight.map(band),
        decay,
        min_decay_proportion,
    };
    run_step(py, executor, move |exec| {
        pgp_routing::flow_accumulation_d8(&band(flow_dir), &target, &opts, exec)
    })
}

#[pyfunction]
#[pyo3(signature = (flow_dir, target, weight, executor=None))]
fn flow_accumulation_mfd(
    py: Python<'_>,
    flow_dir: (PathBuf, usize),
    target: PathBuf,
    weight: Option<(PathBuf, usize)>,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    run_step(py, executor, move |exec| {
        let w = weight.map(band);
        pgp_routing::flow_accumulation_mfd(&band(flow_dir), &target, w.as_ref(), exec)
    })
}

#[pyfunction]
#[pyo3(signature = (flow_accum, threshold, target, executor=None))]
fn extract_streams_d8(
    py: Python<'_>,
    flow_accum: (PathBuf, usize),
    threshold: f64,
    target: PathBuf,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    run_step(py, executor, move |exec| {
        pgp_routing::extract_streams_d8(&band(flow_accum), threshold, &target, exec)
    })
}

#[pyfunction]
#[pyo3(signature = (flow_accum, flow_dir, threshold, target, trace_threshold_proportion, executor=None))]
fn extract_streams_mfd(
    py: Python<'_>,
    flow_accum: (PathBuf, usize),
    flow_dir: (PathBuf, usize),
    threshold: f64,
    target: PathBuf,
    trace_threshold_proportion: f64,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    run_step(py, executor, move |exec| {
        pgp_routing::extract_streams_mfd(
            &band(flow_accum),
            &band(flow_dir),
            threshold,
            &target,
            trace_threshold_proportion,
            exec,
        )
    })
}

/// `kind`: `d8` or `mfd`.
#[pyfunction]
#[pyo3(signature = (kind, flow_dir, channels, target, weight, executor=None))]
fn distance_to_channel(
    py: Python<'_>,
    kind: &str,
    flow_dir: (PathBuf, usize),
    channels: (PathBuf, usize),
    target: PathBuf,
    weight: Option<(PathBuf, usize)>,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let mfd = kind == "mfd";
    run_step(py, executor, move |exec| {
        let w = weight.map(band);
        let (f, c) = (band(flow_dir), band(channels));
        if mfd {
            pgp_routing::distance_to_channel_mfd(&f, &c, &target, w.as_ref(), exec)
        } else {
            pgp_routing::distance_to_channel_d8(&f, &c, &target, w.as_ref(), exec)
        }
    })
}

/// `kind`: `d8` or `mfd` (any case). Returns the number of outlets written.
#[pyfunction]
#[pyo3(signature = (flow_dir, kind, target, executor=None))]
fn detect_outlets(
    py: Python<'_>,
    flow_dir: (PathBuf, usize),
    kind: &str,
    target: PathBuf,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    let kind: FlowDirType = kind.parse().map_err(routing_err)?;
    run_step(py, executor, move |exec| {
        pgp_routing::detect_outlets(&band(flow_dir), kind, &target, exec)
    })
}

/// `(drain, drain_height, sink, sink_height)`, pixels as `(x, y)` or None.
type DrainSink = (Option<(usize, usize)>, f64, Option<(usize, usize)>, f64);

#[pyfunction]
#[pyo3(signature = (dem, executor=None))]
fn detect_lowest_drain_and_sink(
    py: Python<'_>,
    dem: (PathBuf, usize),
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<DrainSink> {
    let found = run_step(py, executor, move |exec| {
        pgp_routing::detect_lowest_drain_and_sink(&band(dem), exec)
    })?;
    Ok((
        found.drain,
        found.drain_height,
        found.sink,
        found.sink_height,
    ))
}

/// Returns the number of watersheds written.
#[pyfunction]
#[pyo3(signature = (flow_dir, outflow_vector, target, target_layer_name, executor=None))]
fn delineate_watersheds_d8(
    py: Python<'_>,
    flow_dir: (PathBuf, usize),
    outflow_vector: PathBuf,
    target: PathBuf,
    target_layer_name: String,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    let opts = WatershedOptions {
        layer: LayerRef::Index(0),
        target_layer_name,
    };
    run_step(py, executor, move |exec| {
        pgp_routing::delineate_watersheds_d8(&band(flow_dir), &outflow_vector, &target, &opts, exec)
    })
}

/// Returns the number of stream segments written.
#[pyfunction]
#[pyo3(signature = (flow_dir, flow_accum, dem, target, min_flow_accum_threshold, river_order, min_p_val, autotune_flow_accumulation, executor=None))]
#[allow(clippy::too_many_arguments)]
fn extract_strahler_streams_d8(
    py: Python<'_>,
    flow_dir: (PathBuf, usize),
    flow_accum: (PathBuf, usize),
    dem: (PathBuf, usize),
    target: PathBuf,
    min_flow_accum_threshold: i64,
    river_order: i32,
    min_p_val: f64,
    autotune_flow_accumulation: bool,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    let opts = StrahlerOptions {
        min_flow_accum_threshold,
        river_order,
        autotune_flow_accumulation,
        min_p_val,
    };
    run_step(py, executor, move |exec| {
        pgp_routing::extract_strahler_streams_d8(
            &band(flow_dir),
            &band(flow_accum),
            &band(dem),
            &target,
            &opts,
            exec,
        )
    })
}

/// Returns the number of subwatersheds written.
#[pyfunction]
#[pyo3(signature = (flow_dir, strahler_streams, target, max_steps_per_watershed, outlet_at_confluence, executor=None))]
fn calculate_subwatershed_boundary(
    py: Python<'_>,
    flow_dir: (PathBuf, usize),
    strahler_streams: PathBuf,
    target: PathBuf,
    max_steps_per_watershed: i64,
    outlet_at_confluence: bool,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<u64> {
    let opts = SubwatershedOptions {
        max_steps_per_watershed,
        outlet_at_confluence,
    };
    run_step(py, executor, move |exec| {
        pgp_routing::calculate_subwatershed_boundary(
            &band(flow_dir),
            &strahler_streams,
            &target,
            &opts,
            exec,
        )
    })
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fill_pits, m)?)?;
    m.add_function(wrap_pyfunction!(flow_dir, m)?)?;
    m.add_function(wrap_pyfunction!(flow_accumulation_d8, m)?)?;
    m.add_function(wrap_pyfunction!(flow_accumulation_mfd, m)?)?;
    m.add_function(wrap_pyfunction!(extract_streams_d8, m)?)?;
    m.add_function(wrap_pyfunction!(extract_streams_mfd, m)?)?;
    m.add_function(wrap_pyfunction!(distance_to_channel, m)?)?;
    m.add_function(wrap_pyfunction!(detect_outlets, m)?)?;
    m.add_function(wrap_pyfunction!(detect_lowest_drain_and_sink, m)?)?;
    m.add_function(wrap_pyfunction!(delineate_watersheds_d8, m)?)?;
    m.add_function(wrap_pyfunction!(extract_strahler_streams_d8, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_subwatershed_boundary, m)?)?;
    Ok(())
}
