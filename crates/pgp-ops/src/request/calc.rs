//! The raster calculator's request is [`ExpressionJob`], which predates this module.

use std::path::PathBuf;

use pgp_exec::Executor;

use super::{one_target, Request};
use crate::calc::{CalcReport, ExpressionJob};
use crate::Result;

impl Request for ExpressionJob {
    const NAME: &'static str = "pgp.calc";
    /// 2: `sin`, `cos` and `exp` are pgp's vectorised kernels (last-bit changes from libm's).
    const VERSION: u32 = 2;
    type Output = CalcReport;
    type Error = crate::Error;

    fn run(&self, exec: &Executor) -> Result<CalcReport> {
        ExpressionJob::run(self, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.inputs_paths()
    }
    one_target!();
}
