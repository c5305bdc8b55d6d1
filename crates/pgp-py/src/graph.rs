//! pgp-graph from Python: the engine behind `pgp.compat.taskgraph`.
//!
//! A [`PyGraph`] is a `pgp_graph::Graph` over a taskgraph cache directory. Python tasks are
//! closure tasks whose key is a description the Python layer computes (function name, source
//! digest, arguments with file paths replaced by their place) plus the content digests of the
//! files they read, which the graph hashes itself; their body takes the GIL only to call the
//! Python function. pgp's own operations are added as the registered graph node of their
//! request type (`pgp.calc`, `pgp.reclassify`, `pgp.align`, `pgp.zonal_stats`) and run with no
//! Python at all. Waiting releases the GIL and looks at Python's signals, so Ctrl-C interrupts
//! a `join`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use pgp::graph::report::{note_event, write_report, ReportPage, TaskRecord};
use pgp::graph::{Event, Graph, PlanAction, Task, TaskError, TaskHandle, TaskRef, TaskStatus};
use pgp::nodes::{
    AlignNode, AlignRequest, CalcNode, ExpressionJob, ReclassifyNode, ReclassifyRequest, ZonalNode,
    ZonalRequest,
};
use pgp_exec::Executor;
use pgp_ops::calc::{ExprInput, ExprOptions};
use pgp_ops::Expression;
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::arrays::datatype;
use crate::calc::options;
use crate::errors::ops_err;

/// A task graph over a workspace directory (`pgp._pgp.Graph`).
#[pyclass(module = "pgp._pgp", name = "Graph", frozen)]
pub(crate) struct PyGraph {
    /// `None` once released: the workspace lock is then free for another graph.
    graph: Mutex<Option<Arc<Graph>>>,
    records: Arc<Mutex<Vec<TaskRecord>>>,
    started: Instant,
    executor: String,
}

/// What a task returns to Python: the pickled result of a Python task (empty without
/// `store_result`); nothing for an operation (its outputs are files).
enum Handle {
    Python(TaskHandle<Vec<u8>>),
    Op(TaskHandle<()>),
}

/// One task of a [`PyGraph`] (`pgp._pgp.GraphTask`). It outlives its graph: after the graph is
/// released, a finished task still gives its status and result.
#[pyclass(module = "pgp._pgp", name = "GraphTask", frozen)]
pub(crate) struct PyTask {
    handle: Handle,
    task: TaskRef,
    op: String,
}

impl PyTask {
    fn current(&self) -> TaskStatus {
        match &self.handle {
            Handle::Python(h) => h.status(),
            Handle::Op(h) => h.status(),
        }
    }

    fn outcome(&self) -> Result<Vec<u8>, TaskError> {
        match &self.handle {
            Handle::Python(h) => h.result(),
            Handle::Op(h) => h.join().map(|()| Vec::new()),
        }
    }
}

fn graph_err(e: pgp::graph::GraphError) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// Runs `wait` on its own thread while this one waits without the GIL, watching Python's
/// signals. `None` when `timeout` (seconds) passed first; the wait then goes on in the
/// background until what it waits for is done.
fn wait_off_thread<T: Send + 'static>(
    py: Python<'_>,
    timeout: Option<f64>,
    wait: impl FnOnce() -> T + Send + 'static,
) -> PyResult<Option<T>> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::Builder::new()
        .name("pgp-graph-wait".into())
        .spawn(move || {
            let _ = tx.send(wait());
        })
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
    loop {
        let step = match deadline {
            Some(d) => d
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
            None => Duration::from_millis(50),
        };
        match py.detach(|| rx.recv_timeout(step)) {
            Ok(value) => return Ok(Some(value)),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                py.check_signals()?;
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(None);
                }
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                return Err(PyRuntimeError::new_err(
                    "pgp's wait thread ended without a result",
                ))
            }
        }
    }
}

fn status_name(status: &TaskStatus) -> &'static str {
    match status {
        TaskStatus::Pending => "pending",
        TaskStatus::Queued => "queued",
        TaskStatus::Running => "running",
        TaskStatus::Skipped => "skipped",
        TaskStatus::Completed => "completed",
        TaskStatus::Restored => "restored",
        TaskStatus::Failed(_) => "failed",
    }
}

/// The task options every kind of task shares.
fn task_options(name: String, after: &[Bound<'_, PyTask>], priority: i32, transient: bool) -> Task {
    let mut task = Task::new(name).priority(priority).transient(transient);
    for dependency in after {
        task = task.after(&dependency.get().task);
    }
    task
}

impl PyGraph {
    fn graph(&self) -> PyResult<Arc<Graph>> {
        self.graph
            .lock()
            .clone()
            .ok_or_else(|| PyValueError::new_err("the task graph was closed and released"))
    }

    /// Adds an operation task with `add` and starts it.
    fn op_task(
        &self,
        add: impl FnOnce(&Graph) -> Result<TaskHandle<()>, pgp::graph::GraphError>,
        op: &str,
    ) -> PyResult<PyTask> {
        let graph = self.graph()?;
        let handle = add(&graph).map_err(graph_err)?;
        Ok(PyTask {
            task: *handle.as_ref(),
            handle: Handle::Op(handle),
            op: op.into(),
        })
    }
}

#[pymethods]
impl PyGraph {
    /// Opens (creating it) the workspace `workspace` with `threads` task threads (`threads` 0:
    /// as many as the machine has cores).
    #[new]
    fn new(py: Python<'_>, workspace: PathBuf, threads: usize) -> PyResult<Self> {
        let executor = if threads == 0 {
            Executor::threads(pgp_exec::available_cores())
        } else {
            Executor::threads(threads)
        }
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        let spec = executor.spec().to_string();
        let records: Arc<Mutex<Vec<TaskRecord>>> = Arc::default();
        let sink = Arc::clone(&records);
        let started = Instant::now();
        let graph = py
            .detach(move || {
                Graph::builder(&workspace)
                    .executor(executor)
                    .on_event(move |e: &Event| {
                        note_event(&mut sink.lock(), e, started.elapsed().as_secs_f64())
                    })
                    .open()
            })
            .map_err(graph_err)?;
        Ok(PyGraph {
            graph: Mutex::new(Some(Arc::new(graph))),
            records,
            started,
            executor: spec,
        })
    }

    /// Adds a Python task: `runner(temporary_targets)` runs it (writing target `i` to
    /// `temporary_targets[i]`) and returns its pickled result or None. `key` describes
    /// everything but the input files' contents, which the graph hashes.
    #[pyo3(signature = (name, runner, key, inputs, targets, after, priority, transient, targets_exist_only))]
    #[allow(clippy::too_many_arguments)]
    fn add_python(
        &self,
        name: String,
        runner: Py<PyAny>,
        key: Vec<u8>,
        inputs: Vec<PathBuf>,
        targets: Vec<PathBuf>,
        after: Vec<Bound<'_, PyTask>>,
        priority: i32,
        transient: bool,
        targets_exist_only: bool,
    ) -> PyResult<PyTask> {
        let graph = self.graph()?;
        let task = task_options(name.clone(), &after, priority, transient)
            .reads(inputs)
            .writes(targets)
            .outputs_exist_only(targets_exist_only);
        let handle = graph
            .add_fn(task, key, move |_, io| {
                let temps: Vec<String> = io
                    .outputs()
                    .iter()
                    .map(|p| p.to_string_lossy().into_owned())
                    .collect();
                Python::attach(|py| -> Result<Vec<u8>, String> {
                    let result = runner.bind(py).call1((temps,)).map_err(|e| e.to_string())?;
                    if result.is_none() {
                        Ok(Vec::new())
                    } else {
                        result.extract::<Vec<u8>>().map_err(|e| e.to_string())
                    }
                })
            })
            .map_err(graph_err)?;
        Ok(PyTask {
            task: *handle.as_ref(),
            handle: Handle::Python(handle),
            op: format!("fn:{name}"),
        })
    }

    /// Adds `pgp.calc`: a raster algebra expression over named bands and scalars.
    #[pyo3(signature = (name, expression, rasters, scalars, target, datatype_name, nodata, calc_raster_stats, largest_block, driver_name, driver_options, after, priority, transient))]
    #[allow(clippy::too_many_arguments)]
    fn add_calc(
        &self,
        name: String,
        expression: &str,
        rasters: Vec<(String, PathBuf, usize)>,
        scalars: Vec<(String, f64)>,
        target: PathBuf,
        datatype_name: Option<&str>,
        nodata: Option<f64>,
        calc_raster_stats: bool,
        largest_block: usize,
        driver_name: &str,
        driver_options: Vec<String>,
        after: Vec<Bound<'_, PyTask>>,
        priority: i32,
        transient: bool,
    ) -> PyResult<PyTask> {
        let expression = Expression::parse(expression).map_err(|e| ops_err(e.into()))?;
        let mut inputs: BTreeMap<String, ExprInput> = rasters
            .into_iter()
            .map(|(n, path, band)| (n, ExprInput::Raster { path, band }))
            .collect();
        inputs.extend(scalars.into_iter().map(|(n, v)| (n, ExprInput::Scalar(v))));
        let job = ExpressionJob {
            expression,
            more_bands: Vec::new(),
            inputs,
            target,
            options: ExprOptions {
                datatype: datatype_name.map(datatype).transpose()?,
                nodata,
                default_nan: None,
                default_inf: None,
                calc: options(
                    calc_raster_stats,
                    largest_block,
                    driver_name,
                    driver_options,
                ),
            },
        };
        let task = task_options(name, &after, priority, transient);
        self.op_task(|g| g.add_op::<CalcNode>(job, task), "pgp.calc")
    }

    /// Adds `pgp.reclassify`: `raster`'s band mapped through the CSV `table`.
    #[pyo3(signature = (name, raster, band, table, key_field, value_field, target, datatype_name, nodata, values_required, after, priority, transient))]
    #[allow(clippy::too_many_arguments)]
    fn add_reclassify(
        &self,
        name: String,
        raster: PathBuf,
        band: usize,
        table: PathBuf,
        key_field: String,
        value_field: String,
        target: PathBuf,
        datatype_name: &str,
        nodata: Option<f64>,
        values_required: bool,
        after: Vec<Bound<'_, PyTask>>,
        priority: i32,
        transient: bool,
    ) -> PyResult<PyTask> {
        let request = ReclassifyRequest {
            raster,
            band,
            table,
            key_field,
            value_field,
            target,
            datatype: datatype(datatype_name)?,
            nodata,
            values_required,
        };
        let task = task_options(name, &after, priority, transient);
        self.op_task(
            |g| g.add_op::<ReclassifyNode>(request, task),
            "pgp.reclassify",
        )
    }

    /// Adds `pgp.align`: `align_and_resize_raster_stack` onto one grid.
    #[pyo3(signature = (name, rasters, targets, resample, pixel_size, bbox, align_to, target_projection, after, priority, transient))]
    #[allow(clippy::too_many_arguments)]
    fn add_align(
        &self,
        name: String,
        rasters: Vec<PathBuf>,
        targets: Vec<PathBuf>,
        resample: Vec<String>,
        pixel_size: (f64, f64),
        bbox: String,
        align_to: Option<usize>,
        target_projection: Option<String>,
        after: Vec<Bound<'_, PyTask>>,
        priority: i32,
        transient: bool,
    ) -> PyResult<PyTask> {
        let request = AlignRequest {
            base_rasters: rasters,
            targets,
            resample_methods: resample,
            target_pixel_size: [pixel_size.0, pixel_size.1],
            bounding_box_mode: bbox,
            raster_align_index: align_to,
            target_projection,
        };
        let task = task_options(name, &after, priority, transient);
        self.op_task(|g| g.add_op::<AlignNode>(request, task), "pgp.align")
    }

    /// Adds `pgp.zonal_stats`: per-feature statistics of a band, written to `target` as JSON.
    #[pyo3(signature = (name, raster, band, vector, layer, ignore_nodata, target, after, priority, transient))]
    #[allow(clippy::too_many_arguments)]
    fn add_zonal(
        &self,
        name: String,
        raster: PathBuf,
        band: usize,
        vector: PathBuf,
        layer: Option<String>,
        ignore_nodata: bool,
        target: PathBuf,
        after: Vec<Bound<'_, PyTask>>,
        priority: i32,
        transient: bool,
    ) -> PyResult<PyTask> {
        let request = ZonalRequest {
            raster,
            band,
            vector,
            layer,
            ignore_nodata,
            // Value counts run as a Python task (`_native_tasks` sends them there).
            include_value_counts: false,
            target,
        };
        let task = task_options(name, &after, priority, transient);
        self.op_task(|g| g.add_op::<ZonalNode>(request, task), "pgp.zonal_stats")
    }

    /// Starts running the tasks added so far (and those added later as soon as their
    /// dependencies are done). Until then (and in a dry run) nothing runs.
    fn start(&self) -> PyResult<()> {
        self.graph()?.start();
        Ok(())
    }

    /// Waits for every task added so far; False if `timeout` seconds passed first. Task
    /// failures are not raised here (the Python layer raises each task's own error).
    #[pyo3(signature = (timeout=None))]
    fn join(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let graph = self.graph()?;
        graph.start();
        let done = wait_off_thread(py, timeout, move || {
            // The run's failures are each task's, reported through its handle.
            let _ = graph.join();
        })?;
        Ok(done.is_some())
    }

    /// What a run would do, task by task in dependency order, without running anything:
    /// `[(name, "run" | "skip" | "restore", reason)]`.
    fn dry_run(&self, py: Python<'_>) -> PyResult<Vec<(String, String, String)>> {
        let graph = self.graph()?;
        let plan = py.detach(move || graph.dry_run());
        Ok(plan
            .into_iter()
            .map(|t| match t.action {
                PlanAction::Skip => (t.name, "skip".into(), "up to date".into()),
                PlanAction::Run(reason) => (t.name, "run".into(), reason.to_string()),
                PlanAction::Restore(reason) => (t.name, "restore".into(), reason.to_string()),
            })
            .collect())
    }

    /// Every task added: `[(name, operation id)]`, in the order added.
    fn tasks(&self) -> PyResult<Vec<(String, String)>> {
        Ok(self
            .graph()?
            .tasks()
            .into_iter()
            .map(|t| (t.name, t.op))
            .collect())
    }

    /// Writes the HTML report of the run so far to `path` (atomically), titled `title`.
    fn report(&self, py: Python<'_>, path: PathBuf, title: String) -> PyResult<()> {
        let graph = self.graph()?;
        let records = self.records.lock().clone();
        let page_executor = self.executor.clone();
        let seconds = self.started.elapsed().as_secs_f64();
        py.detach(move || {
            let page = ReportPage {
                title: &title,
                executor: &page_executor,
                seconds,
                extra: "",
                extra_style: "",
            };
            write_report(&path, &graph, &records, &page)
                .map_err(|e| format!("could not write the report {}: {e}", path.display()))
        })
        .map_err(PyRuntimeError::new_err)
    }

    /// The executor's spec (`threading:4`).
    #[getter]
    fn executor(&self) -> String {
        self.executor.clone()
    }

    /// Drops the graph: waits for running tasks, cancels those not started, saves the digest
    /// memo and frees the workspace for another graph. Idempotent.
    fn release(&self, py: Python<'_>) {
        let graph = self.graph.lock().take();
        if let Some(graph) = graph {
            py.detach(move || drop(graph));
        }
    }
}

/// A finished task as Python sees it: status, pickled result (if any), error message (if
/// it failed).
type Outcome = (String, Option<Vec<u8>>, Option<String>);

#[pymethods]
impl PyTask {
    /// Waits for the task: `(status, result bytes or None, error message or None)`, or None
    /// when `timeout` seconds passed first. Status is `skipped`, `completed`, `restored` or
    /// `failed`.
    #[pyo3(signature = (timeout=None))]
    fn wait(
        slf: Bound<'_, Self>,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Outcome>> {
        let this = slf.clone().unbind();
        let outcome = wait_off_thread(py, timeout, move || this.get().outcome())?;
        let Some(outcome) = outcome else {
            return Ok(None);
        };
        let status = status_name(&slf.get().current()).to_string();
        Ok(Some(match outcome {
            Ok(bytes) => (status, Some(bytes), None),
            Err(e) => ("failed".to_string(), None, Some(e.to_string())),
        }))
    }

    /// The current status, without waiting.
    #[getter]
    fn status(&self) -> String {
        status_name(&self.current()).to_string()
    }

    /// The operation the task runs: `pgp.calc`, ... for pgp's own (no Python involved),
    /// `fn:<name>` for a Python function.
    #[getter]
    fn op(&self) -> String {
        self.op.clone()
    }
}

/// Adds the classes to the module.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGraph>()?;
    m.add_class::<PyTask>()?;
    Ok(())
}
