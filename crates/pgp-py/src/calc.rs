//! The raster calculator family: Python callables on numpy blocks, and pgp expressions.

use std::path::PathBuf;

use ndarray::Array1;
use numpy::{PyArray1, PyReadonlyArray1};
use pgp_core::DynArray;
use pgp_ops::calc::{
    BlockArg, CalcInput, CalcOptions, CalcReport, ExprInput, ExprOptions, MapOptions,
    ReclassifyOptions, ReduceOptions,
};
use pgp_ops::Expression;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::arrays::{datatype, from_numpy, to_numpy};
use crate::errors::{ops_err, Raised};
use crate::executor::resolve;
use crate::info::driver;
use crate::interrupt::{self, Interrupt};
use crate::ops::run_step;

pub(crate) fn options(
    stats: bool,
    largest_block: usize,
    driver_name: &str,
    opts: Vec<String>,
) -> CalcOptions {
    CalcOptions {
        calc_raster_stats: stats,
        largest_block,
        driver: driver(driver_name, opts),
    }
}

fn report<'py>(py: Python<'py>, r: &CalcReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("target", r.target.to_string_lossy().into_owned())?;
    d.set_item("size", r.size)?;
    d.set_item("blocks", r.blocks)?;
    d.set_item("valid_pixels", r.valid_pixels)?;
    if let Some(s) = &r.statistics {
        d.set_item("statistics", (s.min, s.max, s.mean, s.std_dev))?;
    }
    Ok(d)
}

/// The error a failed callback reports to pgp-ops (the Python exception itself is kept).
fn callback_failed(raised: &Raised, e: PyErr) -> pgp_ops::Error {
    pgp_ops::Error::invalid("local_op", raised.keep(e))
}

fn interrupted(raised: &Raised) -> pgp_ops::Error {
    callback_failed(
        raised,
        pyo3::exceptions::PyKeyboardInterrupt::new_err("interrupted"),
    )
}

/// One input of `raster_calculator`: `("raster", path, band)`, `("array", ndarray)` or
/// `("scalar", value)`.
fn calc_input(item: &Bound<'_, PyAny>) -> PyResult<CalcInput> {
    let kind: String = item.get_item(0)?.extract()?;
    Ok(match kind.as_str() {
        "raster" => CalcInput::raster(
            item.get_item(1)?.extract::<PathBuf>()?,
            item.get_item(2)?.extract()?,
        ),
        "array" => CalcInput::Array(from_numpy(&item.get_item(1)?, "array input")?),
        _ => CalcInput::Scalar(item.get_item(1)?.extract()?),
    })
}

/// `raster_calculator` with a Python `local_op(list_of_block_arrays) -> ndarray`: the GIL is
/// taken only around the call; reading, converting, statistics and writing run without it.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn raster_calculator_py<'py>(
    py: Python<'py>,
    inputs: Vec<Bound<'py, PyAny>>,
    local_op: Py<PyAny>,
    target: PathBuf,
    datatype_name: &str,
    nodata: Option<f64>,
    calc_raster_stats: bool,
    largest_block: usize,
    driver_name: &str,
    driver_options: Vec<String>,
    executor: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let inputs: Vec<CalcInput> = inputs.iter().map(calc_input).collect::<PyResult<_>>()?;
    let dt = datatype(datatype_name)?;
    let exec = resolve(py, executor)?;
    let opts = options(
        calc_raster_stats,
        largest_block,
        driver_name,
        driver_options,
    );
    let raised = Raised::default();
    let kept = raised.clone();
    let result = interrupt::run(py, move |stop: Interrupt| {
        let op = move |block: &pgp_ops::calc::Block<'_>| -> pgp_ops::Result<DynArray> {
            if stop.is_set() {
                return Err(interrupted(&kept));
            }
            Python::attach(|py| {
                let args = PyList::empty(py);
                for i in 0..block.len() {
                    match block.arg(i)? {
                        BlockArg::Raster { data, .. } | BlockArg::Array(data) => {
                            args.append(to_numpy(py, data.clone()))
                        }
                        BlockArg::Scalar(v) => args.append(*v),
                    }
                    .map_err(|e| callback_failed(&kept, e))?;
                }
                local_op
                    .bind(py)
                    .call1((args,))
                    .and_then(|r| from_numpy(&r, "the array local_op returned"))
                    .map_err(|e| callback_failed(&kept, e))
            })
        };
        pgp_ops::raster_calculator(&inputs, op, &target, dt, nodata, &opts, &exec)
    })?;
    match result {
        Ok(r) => report(py, &r),
        Err(e) => Err(raised.or(ops_err(e))),
    }
}

/// A raster algebra expression over named bands and scalars: no Python runs, so it is parallel
/// on threads and processes alike.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn evaluate_expression<'py>(
    py: Python<'py>,
    expression: &str,
    rasters: Vec<(String, PathBuf, usize)>,
    scalars: Vec<(String, f64)>,
    target: PathBuf,
    datatype_name: Option<&str>,
    nodata: Option<f64>,
    default_nan: Option<f64>,
    default_inf: Option<f64>,
    calc_raster_stats: bool,
    largest_block: usize,
    driver_name: &str,
    driver_options: Vec<String>,
    executor: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let expr = Expression::parse(expression).map_err(|e| ops_err(e.into()))?;
    let mut bindings: Vec<(String, ExprInput)> = rasters
        .into_iter()
        .map(|(n, path, band)| (n, ExprInput::Raster { path, band }))
        .collect();
    bindings.extend(scalars.into_iter().map(|(n, v)| (n, ExprInput::Scalar(v))));
    let opts = ExprOptions {
        datatype: datatype_name.map(datatype).transpose()?,
        nodata,
        default_nan,
        default_inf,
        calc: options(
            calc_raster_stats,
            largest_block,
            driver_name,
            driver_options,
        ),
    };
    let result = run_step(py, executor, move |exec| {
        pgp_ops::evaluate(&expr, &bindings, &target, &opts, exec)
    })?;
    report(py, &result)
}

/// `raster_map`: `op(list of 1-D float64 arrays of the pixels valid in every input)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn raster_map_py<'py>(
    py: Python<'py>,
    op: Py<PyAny>,
    rasters: Vec<PathBuf>,
    target: PathBuf,
    target_nodata: Option<f64>,
    target_dtype: Option<&str>,
    driver_name: &str,
    driver_options: Vec<String>,
    executor: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = MapOptions {
        target_nodata,
        target_dtype: target_dtype.map(datatype).transpose()?,
        calc: options(true, pgp_core::LARGEST_BLOCK, driver_name, driver_options),
    };
    let exec = resolve(py, executor)?;
    let raised = Raised::default();
    let kept = raised.clone();
    let result = interrupt::run(py, move |stop: Interrupt| {
        let f = move |arrays: &[ndarray::ArrayView1<'_, f64>]| -> pgp_ops::Result<Array1<f64>> {
            if stop.is_set() {
                return Err(interrupted(&kept));
            }
            Python::attach(|py| {
                let args = PyList::empty(py);
                for a in arrays {
                    args.append(PyArray1::from_owned_array(py, a.to_owned()))
                        .map_err(|e| callback_failed(&kept, e))?;
                }
                op.bind(py)
                    .call1((args,))
                    .and_then(|r| {
                        let a: PyReadonlyArray1<'_, f64> = r.extract()?;
                        Ok(a.as_array().to_owned())
                    })
                    .map_err(|e| callback_failed(&kept, e))
            })
        };
        pgp_ops::raster_map(f, &rasters, &target, &opts, &exec)
    })?;
    match result {
        Ok(r) => report(py, &r),
        Err(e) => Err(raised.or(ops_err(e))),
    }
}

/// `raster_reduce`: `function(accumulator, 1-D float64 array of a block's valid pixels)`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn raster_reduce_py<'py>(
    py: Python<'py>,
    function: Py<PyAny>,
    path: PathBuf,
    band: usize,
    initializer: Py<PyAny>,
    mask_nodata: bool,
    largest_block: usize,
    executor: Option<&Bound<'py, PyAny>>,
) -> PyResult<Py<PyAny>> {
    let exec = resolve(py, executor)?;
    let opts = ReduceOptions {
        mask_nodata,
        largest_block,
    };
    let raised = Raised::default();
    let kept = raised.clone();
    let result = interrupt::run(py, move |stop: Interrupt| {
        let f = |acc: Py<PyAny>, values: &[f64]| -> Py<PyAny> {
            if stop.is_set() {
                kept.keep(pyo3::exceptions::PyKeyboardInterrupt::new_err(
                    "interrupted",
                ));
            }
            Python::attach(|py| {
                if kept.is_set() {
                    return acc;
                }
                let block = PyArray1::from_slice(py, values);
                match function.bind(py).call1((acc.clone_ref(py), block)) {
                    Ok(v) => v.unbind(),
                    Err(e) => {
                        kept.keep(e);
                        acc
                    }
                }
            })
        };
        pgp_ops::raster_reduce(f, &path, band, initializer, &opts, &exec)
    })?;
    if raised.is_set() {
        return Err(raised.or(pyo3::exceptions::PyRuntimeError::new_err("raster_reduce")));
    }
    result.map_err(ops_err)
}

/// `reclassify_raster` with `value_map` as `(from, to)` pairs; runs on any executor.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn reclassify_raster<'py>(
    py: Python<'py>,
    path: PathBuf,
    band: usize,
    value_map: Vec<(f64, f64)>,
    target: PathBuf,
    datatype_name: &str,
    target_nodata: Option<f64>,
    values_required: bool,
    driver_name: &str,
    driver_options: Vec<String>,
    executor: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let dt = datatype(datatype_name)?;
    let opts = ReclassifyOptions {
        values_required,
        calc: options(true, pgp_core::LARGEST_BLOCK, driver_name, driver_options),
    };
    let result = run_step(py, executor, move |exec| {
        pgp_ops::reclassify_raster(
            &path,
            band,
            &value_map,
            &target,
            dt,
            target_nodata,
            &opts,
            exec,
        )
    })?;
    report(py, &result)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(raster_calculator_py, m)?)?;
    m.add_function(wrap_pyfunction!(evaluate_expression, m)?)?;
    m.add_function(wrap_pyfunction!(raster_map_py, m)?)?;
    m.add_function(wrap_pyfunction!(raster_reduce_py, m)?)?;
    m.add_function(wrap_pyfunction!(reclassify_raster, m)?)?;
    Ok(())
}
