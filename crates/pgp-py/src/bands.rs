//! Whole-band operations: overviews and percentiles.

use std::path::PathBuf;

use pgp_ops::{OverviewOptions, PercentileValue};
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

use crate::errors::ops_err;
use crate::executor::resolve;
use crate::interrupt;

/// Builds overviews of every band; `levels` None: pygeoprocessing's automatic levels.
#[pyfunction]
#[pyo3(signature = (raster, internal, resample_method, overwrite, levels, executor=None))]
fn build_overviews(
    py: Python<'_>,
    raster: PathBuf,
    internal: bool,
    resample_method: &str,
    overwrite: bool,
    levels: Option<Vec<u32>>,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<Vec<u32>> {
    let opts = OverviewOptions {
        internal,
        resample_method: resample_method.parse().map_err(ops_err)?,
        overwrite,
        levels,
    };
    let exec = resolve(py, executor)?;
    interrupt::run(py, move |_| pgp_ops::build_overviews(&raster, &opts, &exec))?.map_err(ops_err)
}

/// The percentiles of a band's valid values: ints for an integer band, floats otherwise.
#[pyfunction]
#[pyo3(signature = (raster, band, percentiles, executor=None))]
fn raster_band_percentile<'py>(
    py: Python<'py>,
    raster: PathBuf,
    band: usize,
    percentiles: Vec<f64>,
    executor: Option<&Bound<'py, PyAny>>,
) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let exec = resolve(py, executor)?;
    let values = interrupt::run(py, move |_| {
        pgp_ops::raster_band_percentile(&raster, band, &percentiles, &exec)
    })?
    .map_err(ops_err)?;
    values
        .into_iter()
        .map(|v| match v {
            PercentileValue::Int(i) => i.into_bound_py_any(py),
            PercentileValue::Float(f) => f.into_bound_py_any(py),
        })
        .collect()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(build_overviews, m)?)?;
    m.add_function(wrap_pyfunction!(raster_band_percentile, m)?)?;
    Ok(())
}
