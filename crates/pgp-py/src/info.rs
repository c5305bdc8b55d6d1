//! Describing rasters and vectors, reading and writing whole arrays and blocks.

use std::path::PathBuf;

use pgp_core::{
    block_windows, create_raster, DataType, GeoTransform, LayerRef, OutputRaster, Raster,
    RasterDriver, RasterSpec, Window,
};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::arrays::{datatype, from_numpy, to_numpy};
use crate::errors::core_err;

/// `get_raster_info`'s dictionary, less `datatype` and `numpy_type` codes (the Python layer adds
/// them from `datatype_name`).
#[pyfunction]
fn raster_info<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    let info = py
        .detach(|| pgp_core::raster_info(&path))
        .map_err(core_err)?;
    let d = PyDict::new(py);
    let files: Vec<String> = info
        .file_list
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    d.set_item("file_list", files)?;
    d.set_item("projection_wkt", info.projection_wkt.clone())?;
    d.set_item("geotransform", PyTuple::new(py, info.geotransform.0)?)?;
    d.set_item("pixel_size", info.pixel_size)?;
    d.set_item("raster_size", info.raster_size)?;
    d.set_item("n_bands", info.n_bands)?;
    d.set_item("nodata", info.nodata.clone())?;
    d.set_item("overviews", overview_sizes(py, &path)?)?;
    d.set_item("block_size", vec![info.block_size.0, info.block_size.1])?;
    d.set_item("bounding_box", info.bounding_box.to_array().to_vec())?;
    d.set_item("datatype_name", info.datatype.gdal_name())?;
    let names: Vec<&str> = info.datatypes.iter().map(|t| t.gdal_name()).collect();
    d.set_item("datatype_names", names)?;
    Ok(d)
}

/// `(width, height)` of each overview of band 1 (pygeoprocessing assumes every band has the
/// same overviews).
fn overview_sizes<'py>(py: Python<'py>, path: &std::path::Path) -> PyResult<Bound<'py, PyList>> {
    let sizes = py
        .detach(|| -> pgp_core::Result<Vec<(usize, usize)>> {
            let raster = Raster::open(path)?;
            (0..raster.overview_count(1)?)
                .map(|i| raster.overview_size(1, i))
                .collect()
        })
        .map_err(core_err)?;
    PyList::new(py, sizes)
}

/// `get_vector_info`'s dictionary, with the geometry type as OGR's name (`geometry_type_name`).
#[pyfunction]
#[pyo3(signature = (path, layer_id=None, layer_name=None))]
fn vector_info<'py>(
    py: Python<'py>,
    path: PathBuf,
    layer_id: Option<usize>,
    layer_name: Option<String>,
) -> PyResult<Bound<'py, PyDict>> {
    let which = match layer_name {
        Some(n) => LayerRef::Name(n),
        None => LayerRef::Index(layer_id.unwrap_or(0)),
    };
    let info = py
        .detach(|| pgp_core::vector_info(&path, &which))
        .map_err(core_err)?;
    let ds_files = vec![info.path.to_string_lossy().into_owned()];
    let d = PyDict::new(py);
    d.set_item("file_list", ds_files)?;
    d.set_item("projection_wkt", info.projection_wkt.clone())?;
    d.set_item("feature_count", info.feature_count)?;
    d.set_item("geometry_type_name", info.geometry_type.clone())?;
    d.set_item(
        "bounding_box",
        info.bounding_box.map(|b| b.to_array().to_vec()),
    )?;
    d.set_item("layer_name", info.layer_name.clone())?;
    let fields: Vec<(String, String)> = info
        .fields
        .iter()
        .map(|f| (f.name.clone(), f.field_type.clone()))
        .collect();
    d.set_item("fields", fields)?;
    Ok(d)
}

/// Every window `iterblocks` visits, as `(xoff, yoff, win_xsize, win_ysize)`.
#[pyfunction]
fn block_offsets(
    py: Python<'_>,
    path: PathBuf,
    band: usize,
    largest_block: usize,
) -> PyResult<Vec<(usize, usize, usize, usize)>> {
    py.detach(|| {
        let r = Raster::open(&path)?;
        let windows = block_windows(r.size(), r.block_size(band)?, largest_block);
        Ok(windows
            .map(|w| (w.x_off, w.y_off, w.width, w.height))
            .collect())
    })
    .map_err(core_err)
}

/// An open raster whose windows are read into numpy arrays (`iterblocks`).
#[pyclass(unsendable, module = "pgp._pgp")]
struct RasterReader {
    raster: Raster,
}

#[pymethods]
impl RasterReader {
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        Ok(RasterReader {
            raster: Raster::open(&path).map_err(core_err)?,
        })
    }

    /// The window as a numpy array of the band's type.
    fn read<'py>(
        &self,
        py: Python<'py>,
        band: usize,
        xoff: usize,
        yoff: usize,
        width: usize,
        height: usize,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = self
            .raster
            .read_dyn(band, Window::new(xoff, yoff, width, height))
            .map_err(core_err)?;
        Ok(to_numpy(py, a))
    }
}

/// A whole band as a numpy array of its own type.
#[pyfunction]
fn raster_to_numpy_array<'py>(
    py: Python<'py>,
    path: PathBuf,
    band: usize,
) -> PyResult<Bound<'py, PyAny>> {
    let a = py
        .detach(|| {
            let r = Raster::open(&path)?;
            let (cols, rows) = r.size();
            r.read_dyn(band, Window::full(cols, rows))
        })
        .map_err(core_err)?;
    Ok(to_numpy(py, a))
}

/// A driver and its creation options.
pub(crate) fn driver(name: &str, options: Vec<String>) -> RasterDriver {
    RasterDriver::new(name, options)
}

/// Writes `array` as a one-band raster (atomically: nothing at `target` until it is complete).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn numpy_array_to_raster(
    py: Python<'_>,
    array: &Bound<'_, PyAny>,
    nodata: Option<f64>,
    pixel_size: (f64, f64),
    origin: (f64, f64),
    projection_wkt: Option<String>,
    target: PathBuf,
    driver_name: &str,
    options: Vec<String>,
) -> PyResult<()> {
    let data = from_numpy(array, "base_array")?;
    let (rows, cols) = data.shape();
    let spec = RasterSpec::new(
        cols,
        rows,
        data.data_type(),
        GeoTransform([origin.0, pixel_size.0, 0.0, origin.1, 0.0, pixel_size.1]),
    )
    .nodata(nodata)
    .projection(projection_wkt.filter(|w| !w.is_empty()))
    .driver(driver(driver_name, options));
    py.detach(|| {
        let mut out = OutputRaster::create(&target, &spec)?;
        out.raster().write_dyn(1, 0, 0, &data)?;
        out.commit().map(|_| ())
    })
    .map_err(core_err)
}

/// pygeoprocessing's `new_raster_from_base`.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn new_raster_from_base(
    py: Python<'_>,
    base: PathBuf,
    target: PathBuf,
    datatype_name: &str,
    nodata: Vec<Option<f64>>,
    fill: Option<Vec<f64>>,
    n_rows: Option<usize>,
    n_cols: Option<usize>,
    driver_name: &str,
    options: Vec<String>,
) -> PyResult<()> {
    let dt: DataType = datatype(datatype_name)?;
    let drv = driver(driver_name, options);
    py.detach(|| {
        let info = Raster::open(&base)?.info()?;
        let mut spec = RasterSpec::like_with_driver(&info, dt, &drv);
        spec.cols = n_cols.unwrap_or(spec.cols);
        spec.rows = n_rows.unwrap_or(spec.rows);
        spec.bands = nodata.len().max(1);
        spec.nodata = nodata;
        spec.fill = fill;
        create_raster(&target, &spec)?.close()
    })
    .map_err(core_err)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(raster_info, m)?)?;
    m.add_function(wrap_pyfunction!(vector_info, m)?)?;
    m.add_function(wrap_pyfunction!(block_offsets, m)?)?;
    m.add_function(wrap_pyfunction!(raster_to_numpy_array, m)?)?;
    m.add_function(wrap_pyfunction!(numpy_array_to_raster, m)?)?;
    m.add_function(wrap_pyfunction!(new_raster_from_base, m)?)?;
    m.add_class::<RasterReader>()?;
    Ok(())
}

/// pgp's seeded sample data (a DEM, weights, land cover, precipitation, zone polygons) in `dir`:
/// `{name: path}`.
#[pyfunction]
#[pyo3(signature = (dir, size, seed=1))]
fn sample_data(
    py: Python<'_>,
    dir: PathBuf,
    size: usize,
    seed: u64,
) -> PyResult<Vec<(&'static str, PathBuf)>> {
    let d = py
        .detach(|| pgp_core::sample::generate(&dir, size, seed))
        .map_err(core_err)?;
    Ok(vec![
        ("dem", d.dem),
        ("weight", d.weight),
        ("landcover", d.landcover),
        ("precip", d.precip),
        ("zones", d.zones),
    ])
}

pub(crate) fn register_sample(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sample_data, m)?)
}

/// The content digest pgp's task graph keys files by (BLAKE3, hex), computed without the GIL.
#[pyfunction]
fn hash_file(py: Python<'_>, path: PathBuf) -> PyResult<String> {
    py.detach(|| pgp_graph::hash_file(&path))
        .map(|d| d.to_hex())
        .map_err(|e| {
            crate::errors::raise(
                if e.kind() == std::io::ErrorKind::NotFound {
                    crate::errors::Kind::NotFound
                } else {
                    crate::errors::Kind::Runtime
                },
                format!("{}: {e}", path.display()),
            )
        })
}

pub(crate) fn register_hash(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(hash_file, m)?)
}
