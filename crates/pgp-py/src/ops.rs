//! The other operations: warp and align, zonal statistics, convolution, distance, slope,
//! kernels, vector operations, stitching.
//!
//! Options travel as JSON objects whose keys are the fields of the pgp-ops option structs; the
//! given keys replace those of the struct's defaults, so the Python layer passes only what the
//! caller set.

use std::path::PathBuf;

use pgp_core::{BoundingBox, DataType};
use pgp_exec::Executor;
use pgp_ops::{
    AlignOptions, BoundingBoxMode, Burn, ConvolveOptions, CreateRasterOptions, DistanceOptions,
    MaskOptions, RasterizeOptions, ReprojectVectorOptions, ResampleMethod, SlopeOptions,
    StitchOptions, WarpOptions, ZonalOptions,
};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::arrays::{datatype, from_numpy};
use crate::errors::{ops_err, raise, Kind};
use crate::executor::resolve;
use crate::interrupt;

/// Runs an operation on the executor the caller gave (resolved first), off the GIL and
/// interruptible by Ctrl-C, with pgp-ops' errors raised as Python's.
pub(crate) fn run_step<T: Send + 'static>(
    py: Python<'_>,
    executor: Option<&Bound<'_, PyAny>>,
    step: impl FnOnce(&Executor) -> pgp_ops::Result<T> + Send + 'static,
) -> PyResult<T> {
    let exec = resolve(py, executor)?;
    interrupt::run(py, move |_| step(&exec))?.map_err(ops_err)
}

/// `defaults` with the keys of the JSON object `given` replaced.
fn merged<T: Serialize + DeserializeOwned>(defaults: T, given: &str, what: &str) -> PyResult<T> {
    let bad = |e: serde_json::Error| raise(Kind::Value, format!("{what}: {e}"));
    let mut value = serde_json::to_value(defaults).map_err(bad)?;
    let given: serde_json::Value = serde_json::from_str(given).map_err(bad)?;
    if let (Some(base), Some(over)) = (value.as_object_mut(), given.as_object()) {
        for (k, v) in over {
            if !base.contains_key(k) {
                return Err(raise(Kind::Value, format!("{what}: no option `{k}`")));
            }
            base.insert(k.clone(), v.clone());
        }
    }
    serde_json::from_value(value).map_err(bad)
}

/// The default options of an operation as JSON (what `merged` starts from), for the Python
/// layer's tests and for users who want to see the names.
#[pyfunction]
fn default_options(name: &str) -> PyResult<String> {
    let value = match name {
        "warp" => serde_json::to_string(&WarpOptions::default()),
        "align" => serde_json::to_string(&AlignOptions::default()),
        "zonal" => serde_json::to_string(&ZonalOptions::default()),
        "convolve" => serde_json::to_string(&ConvolveOptions::default()),
        "distance" => serde_json::to_string(&DistanceOptions::default()),
        "slope" => serde_json::to_string(&SlopeOptions::default()),
        "mask" => serde_json::to_string(&MaskOptions::default()),
        "rasterize" => serde_json::to_string(&RasterizeOptions::default()),
        "reproject" => serde_json::to_string(&ReprojectVectorOptions::default()),
        "stitch" => serde_json::to_string(&StitchOptions::default()),
        "create" => serde_json::to_string(&CreateRasterOptions::default()),
        _ => return Err(raise(Kind::Value, format!("no options named {name:?}"))),
    };
    value.map_err(|e| raise(Kind::Runtime, e.to_string()))
}

fn method(name: &str) -> PyResult<ResampleMethod> {
    name.parse::<ResampleMethod>().map_err(ops_err)
}

#[pyfunction]
fn warp_raster(
    py: Python<'_>,
    base: PathBuf,
    pixel_size: (f64, f64),
    target: PathBuf,
    resample_method: &str,
    options: &str,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let m = method(resample_method)?;
    let opts: WarpOptions = merged(WarpOptions::default(), options, "warp_raster")?;
    run_step(py, executor, move |exec| {
        pgp_ops::warp_raster(&base, pixel_size, &target, m, &opts, exec)
    })
    .map(|_| ())
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn align_and_resize_raster_stack(
    py: Python<'_>,
    bases: Vec<PathBuf>,
    targets: Vec<PathBuf>,
    resample_methods: Vec<String>,
    pixel_size: (f64, f64),
    bounding_box_mode: &str,
    options: &str,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let methods: Vec<ResampleMethod> = resample_methods
        .iter()
        .map(|m| method(m))
        .collect::<PyResult<_>>()?;
    let mode: BoundingBoxMode = bounding_box_mode.parse().map_err(ops_err)?;
    let opts: AlignOptions = merged(
        AlignOptions::default(),
        options,
        "align_and_resize_raster_stack",
    )?;
    run_step(py, executor, move |exec| {
        pgp_ops::align_and_resize_raster_stack(
            &bases, &targets, &methods, pixel_size, mode, &opts, exec,
        )
    })
    .map(|_| ())
}

/// `{fid: {'min', 'max', 'sum', 'count', 'nodata_count'}}`, and `value_counts` as `(value,
/// pixels)` pairs when asked for (the Python layer adds `average` and makes the counts a dict).
#[pyfunction]
fn zonal_statistics<'py>(
    py: Python<'py>,
    raster: PathBuf,
    band: usize,
    vector: PathBuf,
    options: &str,
    executor: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyDict>> {
    let opts: ZonalOptions = merged(ZonalOptions::default(), options, "zonal_statistics")?;
    let stats = run_step(py, executor, move |exec| {
        pgp_ops::zonal_statistics(&raster, band, &vector, &opts, exec)
    })?;
    let out = PyDict::new(py);
    for (fid, s) in stats {
        let d = PyDict::new(py);
        d.set_item("min", s.min)?;
        d.set_item("max", s.max)?;
        d.set_item("sum", s.sum)?;
        d.set_item("count", s.count)?;
        d.set_item("nodata_count", s.nodata_count)?;
        if let Some(counts) = s.value_counts {
            d.set_item("value_counts", counts)?;
        }
        out.set_item(fid, d)?;
    }
    Ok(out)
}

#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn convolve_2d(
    py: Python<'_>,
    signal: PathBuf,
    signal_band: usize,
    kernel: PathBuf,
    kernel_band: usize,
    target: PathBuf,
    options: &str,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let opts: ConvolveOptions = merged(ConvolveOptions::default(), options, "convolve_2d")?;
    run_step(py, executor, move |exec| {
        pgp_ops::convolve_2d(
            &signal,
            signal_band,
            &kernel,
            kernel_band,
            &target,
            &opts,
            exec,
        )
    })
}

#[pyfunction]
fn distance_transform_edt(
    py: Python<'_>,
    base: PathBuf,
    band: usize,
    target: PathBuf,
    options: &str,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let opts: DistanceOptions = merged(
        DistanceOptions::default(),
        options,
        "distance_transform_edt",
    )?;
    run_step(py, executor, move |exec| {
        pgp_ops::distance_transform_edt(&base, band, &target, &opts, exec)
    })
}

#[pyfunction]
fn calculate_slope(
    py: Python<'_>,
    dem: PathBuf,
    band: usize,
    target: PathBuf,
    options: &str,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let opts: SlopeOptions = merged(SlopeOptions::default(), options, "calculate_slope")?;
    run_step(py, executor, move |exec| {
        pgp_ops::calculate_slope(&dem, band, &target, &opts, exec)
    })
}

/// `kernels.*`: `kind` is `dichotomous`, `exponential_decay`, `linear_decay` or
/// `normal_distribution`; `a` is the max distance (sigma for the normal kernel), `b` the
/// expected distance (n_std_dev).
#[pyfunction]
fn kernel(
    py: Python<'_>,
    kind: &str,
    target: PathBuf,
    a: f64,
    b: f64,
    normalize: bool,
) -> PyResult<()> {
    let result = py.detach(|| match kind {
        "dichotomous" => Some(pgp_ops::kernels::dichotomous_kernel(&target, a, normalize)),
        "exponential_decay" => Some(pgp_ops::kernels::exponential_decay_kernel(
            &target, a, b, normalize,
        )),
        "linear_decay" => Some(pgp_ops::kernels::linear_decay_kernel(&target, a, normalize)),
        "normal_distribution" => Some(pgp_ops::kernels::normal_distribution_kernel(
            &target, a, b, normalize,
        )),
        _ => None,
    });
    match result {
        Some(r) => r.map_err(ops_err),
        None => Err(raise(Kind::Value, format!("no kernel named {kind:?}"))),
    }
}

/// `kernels.kernel_from_numpy_array`.
#[pyfunction]
fn kernel_from_array(array: &Bound<'_, PyAny>, target: PathBuf) -> PyResult<()> {
    let a = from_numpy(array, "numpy_array")?;
    let result = pgp_core::with_pixel_type!(a.data_type(), T => {
        match a.view::<T>() {
            Some(v) => pgp_ops::kernels::kernel_from_array(v, &target),
            None => Err(pgp_ops::Error::internal("array type")),
        }
    });
    result.map_err(ops_err)
}

#[pyfunction]
fn mask_raster(
    py: Python<'_>,
    base: PathBuf,
    band: usize,
    vector: PathBuf,
    target: PathBuf,
    options: &str,
) -> PyResult<()> {
    let opts: MaskOptions = merged(MaskOptions::default(), options, "mask_raster")?;
    py.detach(|| pgp_ops::mask_raster(&base, band, &vector, &target, &opts))
        .map_err(ops_err)
}

/// `burn_values` or, when it is None, the attribute named in `attribute`.
#[pyfunction]
fn rasterize(
    py: Python<'_>,
    vector: PathBuf,
    target: PathBuf,
    burn_values: Option<Vec<f64>>,
    attribute: Option<String>,
    options: &str,
) -> PyResult<()> {
    let burn = match (burn_values, attribute) {
        (Some(v), _) => Burn::Values(v),
        (None, Some(a)) => Burn::Attribute(a),
        (None, None) => {
            return Err(raise(
                Kind::Value,
                "rasterize: give burn_values or an ATTRIBUTE= option".into(),
            ))
        }
    };
    let opts: RasterizeOptions = merged(RasterizeOptions::default(), options, "rasterize")?;
    py.detach(|| pgp_ops::rasterize(&vector, &target, &burn, &opts))
        .map_err(ops_err)
}

#[pyfunction]
fn reproject_vector(
    py: Python<'_>,
    base: PathBuf,
    target_projection: &str,
    target: PathBuf,
    options: &str,
) -> PyResult<(u64, u64)> {
    let opts: ReprojectVectorOptions = merged(
        ReprojectVectorOptions::default(),
        options,
        "reproject_vector",
    )?;
    let r = py
        .detach(|| pgp_ops::reproject_vector(&base, target_projection, &target, &opts))
        .map_err(ops_err)?;
    Ok((r.written, r.skipped))
}

#[pyfunction]
fn stitch_rasters(
    py: Python<'_>,
    bases: Vec<(PathBuf, usize)>,
    resample_methods: Vec<String>,
    target: (PathBuf, usize),
    options: &str,
    executor: Option<&Bound<'_, PyAny>>,
) -> PyResult<(Vec<PathBuf>, Vec<PathBuf>)> {
    let methods: Vec<ResampleMethod> = resample_methods
        .iter()
        .map(|m| method(m))
        .collect::<PyResult<_>>()?;
    let opts: StitchOptions = merged(StitchOptions::default(), options, "stitch_rasters")?;
    let r = run_step(py, executor, move |exec| {
        pgp_ops::stitch_rasters(&bases, &methods, (&target.0, target.1), &opts, exec)
    })?;
    Ok((r.stitched, r.skipped))
}

#[pyfunction]
fn create_raster_from_bounding_box(
    py: Python<'_>,
    bbox: [f64; 4],
    target: PathBuf,
    pixel_size: (f64, f64),
    datatype_name: &str,
    projection: Option<String>,
    options: &str,
) -> PyResult<()> {
    let dt: DataType = datatype(datatype_name)?;
    let opts: CreateRasterOptions = merged(
        CreateRasterOptions::default(),
        options,
        "create_raster_from_bounding_box",
    )?;
    py.detach(|| {
        pgp_ops::create_raster_from_bounding_box(
            &BoundingBox::from_array(bbox),
            &target,
            pixel_size,
            dt,
            projection.as_deref(),
            &opts,
        )
    })
    .map(|_| ())
    .map_err(ops_err)
}

#[pyfunction]
fn create_raster_from_vector_extents(
    py: Python<'_>,
    vector: PathBuf,
    target: PathBuf,
    pixel_size: (f64, f64),
    datatype_name: &str,
    options: &str,
) -> PyResult<()> {
    let dt: DataType = datatype(datatype_name)?;
    let opts: CreateRasterOptions = merged(
        CreateRasterOptions::default(),
        options,
        "create_raster_from_vector_extents",
    )?;
    py.detach(|| {
        pgp_ops::create_raster_from_vector_extents(&vector, &target, pixel_size, dt, &opts)
    })
    .map(|_| ())
    .map_err(ops_err)
}

#[pyfunction]
fn transform_bounding_box(
    bbox: [f64; 4],
    base_projection: &str,
    target_projection: &str,
    edge_samples: usize,
) -> PyResult<[f64; 4]> {
    pgp_ops::transform_bounding_box(
        &BoundingBox::from_array(bbox),
        base_projection,
        target_projection,
        edge_samples,
    )
    .map(|b| b.to_array())
    .map_err(ops_err)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(default_options, m)?)?;
    m.add_function(wrap_pyfunction!(warp_raster, m)?)?;
    m.add_function(wrap_pyfunction!(align_and_resize_raster_stack, m)?)?;
    m.add_function(wrap_pyfunction!(zonal_statistics, m)?)?;
    m.add_function(wrap_pyfunction!(convolve_2d, m)?)?;
    m.add_function(wrap_pyfunction!(distance_transform_edt, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_slope, m)?)?;
    m.add_function(wrap_pyfunction!(kernel, m)?)?;
    m.add_function(wrap_pyfunction!(kernel_from_array, m)?)?;
    m.add_function(wrap_pyfunction!(mask_raster, m)?)?;
    m.add_function(wrap_pyfunction!(rasterize, m)?)?;
    m.add_function(wrap_pyfunction!(reproject_vector, m)?)?;
    m.add_function(wrap_pyfunction!(stitch_rasters, m)?)?;
    m.add_function(wrap_pyfunction!(create_raster_from_bounding_box, m)?)?;
    m.add_function(wrap_pyfunction!(create_raster_from_vector_extents, m)?)?;
    m.add_function(wrap_pyfunction!(transform_bounding_box, m)?)?;
    Ok(())
}
