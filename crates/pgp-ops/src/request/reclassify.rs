//! `pgp.reclassify`: [`reclassify_raster`] with its value map read from a CSV table.

use std::path::{Path, PathBuf};

use pgp_core::DataType;
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::{one_band, one_target, yes, Request};
use crate::calc::{CalcReport, ReclassifyOptions};
use crate::{reclassify_raster, Error, Result};

/// Map a raster's values through a CSV table (the table is an input, so editing it reruns a
/// task): pygeoprocessing's `reclassify_raster` with the map from a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReclassifyRequest {
    /// The raster to reclassify.
    pub raster: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// A CSV file with a header row.
    pub table: PathBuf,
    /// Column holding the raster values.
    pub key_field: String,
    /// Column holding the new values.
    pub value_field: String,
    /// The output.
    pub target: PathBuf,
    /// Output pixel type (GDAL name).
    pub datatype: DataType,
    /// Output nodata.
    #[serde(default)]
    pub nodata: Option<f64>,
    /// Fail on values missing from the table (default true); else they become nodata.
    #[serde(default = "yes")]
    pub values_required: bool,
}

impl Request for ReclassifyRequest {
    const NAME: &'static str = "pgp.reclassify";
    const VERSION: u32 = 1;
    type Output = CalcReport;
    type Error = crate::Error;

    fn run(&self, exec: &Executor) -> Result<CalcReport> {
        let map = read_value_table(&self.table, &self.key_field, &self.value_field)?;
        let options = ReclassifyOptions {
            values_required: self.values_required,
            ..ReclassifyOptions::default()
        };
        reclassify_raster(
            &self.raster,
            self.band,
            &map,
            &self.target,
            self.datatype,
            self.nodata,
            &options,
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.raster.clone(), self.table.clone()]
    }
    one_target!();
}

/// Read `key_field` -> `value_field` pairs from a CSV file with a header row (column names
/// match without regard to case). Errors name the file, and the row or column at fault.
pub fn read_value_table(
    path: &Path,
    key_field: &str,
    value_field: &str,
) -> Result<Vec<(f64, f64)>> {
    let bad = |reason: String| Error::InvalidArgument {
        name: "table".to_string(),
        reason: format!("{}: {reason}", path.display()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| pgp_core::Error::io(path, e))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines
        .next()
        .ok_or_else(|| bad("empty table".to_string()))?
        .split(',')
        .map(str::trim)
        .collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                bad(format!(
                    "no column `{name}` (columns: {})",
                    header.join(", ")
                ))
            })
    };
    let (k, v) = (col(key_field)?, col(value_field)?);
    let mut out = Vec::new();
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let cell = |j: usize| -> Result<f64> {
            let text = cells.get(j).copied().unwrap_or("");
            text.parse::<f64>()
                .map_err(|_| bad(format!("row {}: `{text}` is not a number", i + 2)))
        };
        out.push((cell(k)?, cell(v)?));
    }
    Ok(out)
}
