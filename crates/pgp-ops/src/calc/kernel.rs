//! Block computations described by data (expressions, reclassifications): the same value runs
//! in-process on sync and thread executors and in worker processes on a process pool.

use std::path::PathBuf;

use pgp_core::Window;
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::engine::{self, BlockStats, CalcBlock, CalcReport, Job, Unmapped};
use super::expression::{ExprSpec, PreparedExpr};
use super::reclassify::{PreparedReclass, ReclassSpec};
use crate::runtime::{register_block_op, BlockOp, Handles, RemoteBlockOp, Runner};
use crate::Result;

/// A serialisable block computation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum KernelSpec {
    Expr(ExprSpec),
    Reclassify(ReclassSpec),
}

/// A kernel ready to run: compiled once, then applied to many blocks.
pub(crate) enum Prepared {
    Expr(PreparedExpr),
    Reclassify(PreparedReclass),
}

impl BlockOp for KernelSpec {
    type Item = Window;
    type Side = BlockStats;
    type Prepared = Prepared;

    /// The rasters the kernel reads, in the order `compute` expects their handles.
    fn inputs(&self) -> Vec<PathBuf> {
        match self {
            KernelSpec::Expr(e) => e.raster_paths(),
            KernelSpec::Reclassify(r) => vec![r.path.clone()],
        }
    }

    fn prepare(&self) -> Result<Prepared> {
        Ok(match self {
            KernelSpec::Expr(e) => Prepared::Expr(e.prepare()?),
            KernelSpec::Reclassify(r) => Prepared::Reclassify(r.prepare()),
        })
    }

    fn compute(&self, prepared: &Prepared, inputs: &Handles<'_>, w: Window) -> Result<CalcBlock> {
        match prepared {
            Prepared::Expr(e) => e.compute(inputs, w),
            Prepared::Reclassify(r) => r.compute(inputs, w),
        }
    }
}

impl RemoteBlockOp for KernelSpec {
    const NAME: &'static str = "pgp_ops::calc::chunk";
}
register_block_op!(KernelSpec);

/// Pixels per process-pool task: large enough that the round trip is small next to the work,
/// small enough to keep memory bounded (about 8 MB of f64 per task).
const CHUNK_PIXELS: usize = 1 << 20;

/// Run `spec` over every block of `job` on `exec` (any executor, process pools included).
pub(crate) fn run_kernel(
    job: &Job,
    spec: KernelSpec,
    exec: &Executor,
    check_unmapped: impl FnOnce(Unmapped) -> Result<()>,
) -> Result<CalcReport> {
    engine::run(
        job,
        exec,
        &Runner::new(spec).batched(CHUNK_PIXELS),
        check_unmapped,
    )
}
