//! The operations as task-graph nodes.
//!
//! Each node is a [`RemoteOp`] (so it runs on any executor, worker processes included) and a
//! [`GraphOp`] (so it declares the files it reads and writes once, and a graph or a pipeline file
//! needs nothing more than its arguments). Registered names, for pipeline files:
//!
//! | name | operation | arguments |
//! | --- | --- | --- |
//! | `pgp.calc` | raster algebra expression | [`ExpressionJob`] |
//! | `pgp.align` | `align_and_resize_raster_stack` | [`AlignRequest`] |
//! | `pgp.warp` | `warp_raster` | [`WarpRequest`] |
//! | `pgp.reclassify` | `reclassify_raster` with a CSV table | [`ReclassifyRequest`] |
//! | `pgp.zonal_stats` | `zonal_statistics`, written as JSON | [`ZonalRequest`] |
//! | `pgp.convolve` | `convolve_2d` | [`ConvolveRequest`] |
//! | `pgp.routing.<function>` | each routing function | see [`crate::routing`] |
//!
//! The arguments are the operations' own request types ([`pgp_ops::request`]): the same struct
//! the CLI builds and the function runs, with its output version beside the operation. One
//! generic binding, [`Node`], makes any [`Request`] a node.
//!
//! The graph's executor is the budget of all its work: on a thread pool, a task's operation runs
//! its blocks on the graph's own pool ([`GraphOp::run_on`]), shared with the other tasks in
//! flight, and GDAL's compression threads follow that pool's size; on the synchronous executor
//! everything runs on one thread; in a worker process of a process pool, an operation runs on
//! that process alone, and in a Slurm worker on the CPUs of its job
//! ([`pgp_exec::worker::executor`]). The executor is not part of a task's key: it changes how fast an output
//! is made, never what it is.

use std::marker::PhantomData;
use std::path::PathBuf;

use pgp_exec::{Executor, RemoteOp};
use pgp_graph::GraphOp;
pub use pgp_ops::calc::ExpressionJob;
pub use pgp_ops::request::{
    read_value_table, zonal_json, AlignRequest, ConvolveRequest, ReclassifyRequest, Request,
    WarpRequest, ZonalRequest,
};

/// Any operation's [`Request`] as a task-graph node (and a registered operation for worker
/// processes): its name, version, files and run all come from the request.
pub struct Node<R>(PhantomData<fn() -> R>);

impl<R: Request> RemoteOp for Node<R> {
    const NAME: &'static str = R::NAME;
    type Args = R;
    type Output = ();
    fn run(request: R) -> Result<(), String> {
        // In a worker process: the process's own share (its Slurm job's CPUs on Slurm).
        Self::run_on(request, &pgp_exec::worker::executor())
    }
}

impl<R: Request> GraphOp for Node<R> {
    const VERSION: u32 = R::VERSION;
    fn run_on(request: R, exec: &Executor) -> Result<(), String> {
        request.run(exec).map(|_| ()).map_err(|e| e.to_string())
    }
    fn inputs(request: &R) -> Vec<PathBuf> {
        request.inputs()
    }
    fn outputs(request: &R) -> Vec<PathBuf> {
        request.outputs()
    }
    fn redirect_outputs(request: &R, temps: &[PathBuf]) -> R {
        request.with_outputs(temps)
    }
}

/// `pgp.calc`: evaluate a raster algebra expression.
pub type CalcNode = Node<ExpressionJob>;
/// `pgp.align`: `align_and_resize_raster_stack`.
pub type AlignNode = Node<AlignRequest>;
/// `pgp.warp`: `warp_raster`.
pub type WarpNode = Node<WarpRequest>;
/// `pgp.reclassify`: `reclassify_raster` with the map read from a CSV table.
pub type ReclassifyNode = Node<ReclassifyRequest>;
/// `pgp.zonal_stats`: `zonal_statistics`, written to a JSON file.
pub type ZonalNode = Node<ZonalRequest>;
/// `pgp.convolve`: `convolve_2d`.
pub type ConvolveNode = Node<ConvolveRequest>;

/// Registers a request type as an operation (worker processes) and a graph node (pipeline
/// files), under its [`Request::NAME`]. The routing requests are registered in
/// [`crate::routing`].
macro_rules! register_request {
    ($($request:ty),* $(,)?) => {$(
        pgp_exec::register_op!(Node<$request>);
        pgp_graph::register_graph_op!(Node<$request>);
    )*};
}
pub(crate) use register_request;

register_request!(
    ExpressionJob,
    AlignRequest,
    WarpRequest,
    ReclassifyRequest,
    ZonalRequest,
    ConvolveRequest,
);
