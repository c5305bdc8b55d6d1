//! Block computations described by data (expressions, reclassifications): the same description
//! runs in-process on sync and thread executors and in worker processes on a process pool.

use std::path::PathBuf;
use std::sync::Arc;

use pgp_core::{Raster, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::engine::{self, CalcReport, Computed, Job, Unmapped};
use super::expression::{ExprSpec, PreparedExpr};
use super::reclassify::{PreparedReclass, ReclassSpec};
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

impl KernelSpec {
    /// The rasters the kernel reads, in the order `compute` expects their handles.
    pub fn raster_paths(&self) -> Vec<PathBuf> {
        match self {
            KernelSpec::Expr(e) => e.raster_paths(),
            KernelSpec::Reclassify(r) => vec![r.path.clone()],
        }
    }

    pub fn prepare(&self) -> Result<Prepared> {
        Ok(match self {
            KernelSpec::Expr(e) => Prepared::Expr(e.prepare()?),
            KernelSpec::Reclassify(r) => Prepared::Reclassify(r.prepare()),
        })
    }
}

impl Prepared {
    pub fn compute(&self, rasters: &[Raster], window: Window) -> Result<Computed> {
        match self {
            Prepared::Expr(e) => e.compute(rasters, window),
            Prepared::Reclassify(r) => r.compute(rasters, window),
        }
    }
}

/// Run `spec` over every block of `job` on `exec` (any executor, process pools included).
pub(crate) fn run_kernel(
    job: &Job,
    spec: KernelSpec,
    exec: &Executor,
    check_unmapped: impl FnOnce(Unmapped) -> Result<()>,
) -> Result<CalcReport> {
    if exec.runs_closures() {
        let prepared = Arc::new(spec.prepare()?);
        let paths = spec.raster_paths();
        engine::run_local(
            job,
            exec,
            paths,
            move |rasters, w| prepared.compute(rasters, w),
            check_unmapped,
        )
    } else {
        super::remote::run_on_processes(job, spec, exec, check_unmapped)
    }
}
