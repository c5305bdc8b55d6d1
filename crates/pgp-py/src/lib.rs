//! pgp from Python: the extension module `pgp._pgp` behind the `pgp` package.
//!
//! The Python package (`python/pgp`) gives pygeoprocessing's and taskgraph's signatures; this
//! module does the work on pgp's crates. Every call releases the GIL for reading, computing,
//! compressing and writing; a Python `local_op` takes it back only while it runs on a block.
//!
//! ```python
//! import numpy, pgp
//! pgp.numpy_array_to_raster(numpy.ones((64, 64), numpy.float32), -1, (1, -1), (0, 0), None, "a.tif")
//! pgp.raster_calculator([("a.tif", 1)], lambda a: a * 2, "b.tif", 6, -1, executor="threading:2")
//! ```
#![warn(missing_docs)]

mod arrays;
mod calc;
mod errors;
mod executor;
mod graph;
mod info;
mod interrupt;
mod ops;
mod routing;

use pyo3::prelude::*;

/// Serves as a worker process of a `multiprocessing` executor until the pool closes the pipe,
/// then exits the process. The pool starts `python -c "from pgp import _pgp; _pgp._serve_worker()"`.
#[pyfunction]
fn _serve_worker() {
    pgp_exec::worker::run_if_worker();
}

/// The extension module.
#[pymodule]
fn _pgp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    pgp_core::init();
    m.add_class::<executor::PyExecutor>()?;
    m.add_function(wrap_pyfunction!(_serve_worker, m)?)?;
    m.add_function(wrap_pyfunction!(executor::available_cores, m)?)?;
    info::register(m)?;
    info::register_sample(m)?;
    info::register_hash(m)?;
    calc::register(m)?;
    ops::register(m)?;
    routing::register(m)?;
    graph::register(m)?;
    Ok(())
}
