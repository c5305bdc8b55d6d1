//! Executors from Python: spec strings (`"threading:4"`), `pgp.Executor` objects, `None`.
//!
//! Pools are kept per spec for the life of the process, so `executor="threading:2"` on every
//! call of a script starts its threads (or worker processes) once.

use std::collections::HashMap;
use std::sync::OnceLock;

use parking_lot::Mutex;
use pgp_exec::{Executor, ExecutorSpec, ProcessPool};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

use crate::errors::{exec_err, raise, Kind};

/// A pgp executor: `Executor("threading:4")`, `Executor("multiprocessing:3")`,
/// `Executor("threading")` (one thread per core) or `Executor("sync")`.
#[pyclass(name = "Executor", module = "pgp._pgp", frozen)]
pub struct PyExecutor {
    pub(crate) inner: Executor,
}

#[pymethods]
impl PyExecutor {
    #[new]
    fn new(py: Python<'_>, spec: &str) -> PyResult<Self> {
        Ok(PyExecutor {
            inner: build(py, spec)?,
        })
    }

    /// `sync`, `threading`, `multiprocessing` or `slurm`.
    #[getter]
    fn kind(&self) -> &'static str {
        kind_of(&self.inner.spec())
    }

    /// Number of workers (1 for `sync`).
    #[getter]
    fn max_workers(&self) -> usize {
        self.inner.workers()
    }

    /// The canonical spec string (`threading:4`).
    #[getter]
    fn spec(&self) -> String {
        self.inner.spec().to_string()
    }

    fn __repr__(&self) -> String {
        format!("pgp.Executor({:?})", self.inner.spec().to_string())
    }
}

fn kind_of(spec: &ExecutorSpec) -> &'static str {
    match spec {
        ExecutorSpec::Sync => "sync",
        ExecutorSpec::Threads(_) => "threading",
        ExecutorSpec::Processes(_) => "multiprocessing",
        ExecutorSpec::Slurm(_) => "slurm",
    }
}

/// Number of cores this process may use.
#[pyfunction]
pub fn available_cores() -> usize {
    pgp_exec::available_cores()
}

fn parse(spec: &str) -> PyResult<ExecutorSpec> {
    spec.parse::<ExecutorSpec>()
        .map_err(|e| raise(Kind::Value, format!("executor: {e}")))
}

/// A new executor for `spec`. Worker processes are this Python running `pgp._pgp`'s worker
/// loop: the extension module holds every registered operation.
fn build(py: Python<'_>, spec: &str) -> PyResult<Executor> {
    let spec = parse(spec)?;
    if let ExecutorSpec::Processes(_) = spec {
        let python: String = py.import("sys")?.getattr("executable")?.extract()?;
        let pool = ProcessPool::builder()
            .workers(spec.workers())
            .worker_program(python)
            .worker_args(["-c", "from pgp import _pgp; _pgp._serve_worker()"])
            .build()
            .map_err(exec_err)?;
        return Ok(Executor::from(pool));
    }
    Executor::from_spec(&spec).map_err(exec_err)
}

/// The pools by spec, with the id of the process that started them: a child made by `fork`
/// (Python's `multiprocessing`) inherits the map but not the pools' threads or pipes.
type Pools = (u32, HashMap<String, Executor>);

fn cached(py: Python<'_>, spec: &str) -> PyResult<Executor> {
    static POOLS: OnceLock<Mutex<Pools>> = OnceLock::new();
    let key = parse(spec)?.to_string();
    let pools = POOLS.get_or_init(Default::default);
    {
        let mut pools = pools.lock();
        if pools.0 != std::process::id() {
            // The parent's pools are not this process's to shut down: dropping them would
            // wait for threads that do not exist here.
            std::mem::forget(std::mem::replace(
                &mut *pools,
                (std::process::id(), HashMap::new()),
            ));
        }
        if let Some(exec) = pools.1.get(&key) {
            return Ok(exec.clone());
        }
    }
    let exec = build(py, &key)?;
    pools.lock().1.insert(key, exec.clone());
    Ok(exec)
}

/// The executor an `executor=` argument names: `None` (synchronous), a spec string, or a
/// `pgp.Executor`. (`concurrent.futures` executors are turned into spec strings by the Python
/// layer, which knows their classes.)
pub(crate) fn resolve(py: Python<'_>, executor: Option<&Bound<'_, PyAny>>) -> PyResult<Executor> {
    let Some(obj) = executor else {
        return Ok(Executor::sync());
    };
    if obj.is_none() {
        return Ok(Executor::sync());
    }
    if let Ok(e) = obj.cast::<PyExecutor>() {
        return Ok(e.get().inner.clone());
    }
    if let Ok(spec) = obj.extract::<String>() {
        return cached(py, &spec);
    }
    Err(PyTypeError::new_err(format!(
        "executor must be None, a spec string such as \"threading:4\", a pgp.Executor or a \
         concurrent.futures executor, got {}",
        obj.get_type().name()?
    )))
}
