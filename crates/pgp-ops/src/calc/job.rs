//! An expression evaluation as one serialisable value: what a pipeline file or a task graph
//! stores and runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::expression::{evaluate, ExprInput, ExprOptions};
use super::CalcReport;
use crate::expr::Expression;
use crate::Result;

/// Everything [`evaluate`] needs, as data.
///
/// In a pipeline file (TOML), inputs are paths (band 1), `{ path = "...", band = 2 }`, or
/// numbers:
///
/// ```
/// use pgp_ops::calc::ExpressionJob;
/// let job: ExpressionJob = serde_json::from_str(r#"{
///     "expression": "where(lc == 3, dem * k, -9999)",
///     "inputs": { "dem": "dem.tif", "lc": { "path": "lc.tif", "band": 1 }, "k": 2.5 },
///     "target": "out.tif",
///     "options": { "nodata": -9999.0 }
/// }"#).unwrap();
/// assert_eq!(job.inputs_paths(), vec![std::path::PathBuf::from("dem.tif"), "lc.tif".into()]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpressionJob {
    /// The expression (parsed, and so checked, when the job is read).
    pub expression: Expression,
    /// Variable name to raster band or number.
    pub inputs: BTreeMap<String, ExprInput>,
    /// The output raster.
    pub target: PathBuf,
    /// Output type, nodata, statistics, driver.
    #[serde(default)]
    pub options: ExprOptions,
}

impl ExpressionJob {
    /// Evaluate on `exec` (any executor, process pools included).
    pub fn run(&self, exec: &Executor) -> Result<CalcReport> {
        let bindings: Vec<(String, ExprInput)> = self
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        evaluate(
            &self.expression,
            &bindings,
            &self.target,
            &self.options,
            exec,
        )
    }

    /// The rasters it reads (used variables only), in name order.
    pub fn inputs_paths(&self) -> Vec<PathBuf> {
        self.inputs
            .iter()
            .filter(|(name, _)| self.expression.variables().contains(name))
            .filter_map(|(_, v)| match v {
                ExprInput::Raster { path, .. } => Some(path.clone()),
                ExprInput::Scalar(_) => None,
            })
            .collect()
    }
}
