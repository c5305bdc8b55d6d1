//! [`raster_map`]: a per-pixel function over the valid pixels of several rasters.

use std::path::Path;
use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayView1};
use pgp_core::{DataType, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::cast::truncate_checked;
use super::engine::{self, CalcReport, ClosureOp, Job};
use super::inputs::{self, CalcInput, NodataTest};
use super::{check_nodata_fits, output_spec, CalcOptions};
use crate::runtime::{Handles, Runner};
use crate::{Error, Result};

/// Options of [`raster_map`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MapOptions {
    /// Output nodata. Default: the output type's maximum (pygeoprocessing's `choose_nodata`).
    /// A value the type cannot hold is refused.
    pub target_nodata: Option<f64>,
    /// Output type. Default: the promotion of the inputs' types (pygeoprocessing's
    /// `choose_dtype`, numpy's `result_type`).
    pub target_dtype: Option<DataType>,
    /// Statistics, block size and driver.
    pub calc: CalcOptions,
}

/// pygeoprocessing's `raster_map`: apply `op` to the pixels that are valid in every input and
/// write nodata wherever any input is nodata.
///
/// `op` receives, for one block, one 1-D array per raster (band 1, widened to `f64`) holding only
/// the pixels valid in all inputs, in row-major order, and returns one value per such pixel. Runs
/// on sync and thread executors (a process pool refuses closures).
///
/// # Into integer types
/// Values are stored as pygeoprocessing stores them (numpy's cast into the result array):
/// truncated toward zero, so `2.9` and `-14.5` become `2` and `-14` (GDAL's writer would round
/// them to `3` and `-15`). A value the type cannot hold once truncated (270 into `Byte`, NaN or
/// infinity into any integer type) is an error, [`Error::ValueDoesNotFit`], naming it and its
/// block: pygeoprocessing wraps it (270 becomes 14, since numpy computes `uint8 * 30` in `uint8`;
/// here the op sees float64, so it gets 270) and clamping would write 255, the default nodata.
/// Choose a wider `target_dtype`, or clamp in the op.
pub fn raster_map<F, P>(
    op: F,
    rasters: &[P],
    target: impl AsRef<Path>,
    options: &MapOptions,
    exec: &Executor,
) -> Result<CalcReport>
where
    F: Fn(&[ArrayView1<'_, f64>]) -> Result<Array1<f64>> + Send + Sync + 'static,
    P: AsRef<Path>,
{
    crate::runtime::require_closures(exec, "raster_map")?;
    let target = target.as_ref();
    let inputs: Vec<CalcInput> = rasters.iter().map(|p| CalcInput::raster(p, 1)).collect();
    let checked = inputs::check(&inputs, target)?;
    let dtype = match options.target_dtype {
        Some(t) => t,
        None => checked
            .rasters
            .iter()
            .map(|r| r.datatype)
            .reduce(DataType::promote)
            .ok_or_else(|| Error::invalid("rasters", "no rasters given"))?,
    };
    let nodata = match options.target_nodata {
        Some(v) => {
            check_nodata_fits(v, dtype)?;
            v
        }
        None => dtype.default_nodata(),
    };
    let spec = output_spec(
        &checked,
        dtype,
        Some(nodata),
        crate::runtime::with_compression_threads(&options.calc.driver, exec),
    );
    let job = Job {
        operation: "raster_map",
        target: target.to_path_buf(),
        spec,
        stats: options.calc.calc_raster_stats,
        largest_block: options.calc.largest_block,
    };
    let tests: Arc<Vec<NodataTest>> = Arc::new(
        checked
            .rasters
            .iter()
            .map(|r| NodataTest::new(r.datatype, r.nodata))
            .collect(),
    );
    let stats = options.calc.calc_raster_stats;
    let paths = checked.rasters.iter().map(|r| r.path.clone()).collect();
    let compute = move |rasters: &Handles<'_>, window: Window| {
        let n = window.area();
        let mut valid = vec![true; n];
        let mut blocks = Vec::with_capacity(tests.len());
        for (i, test) in tests.iter().enumerate() {
            let values = rasters.with(i, |r| {
                let values = r.read_as::<f64>(1, window)?.into_raw_vec_and_offset().0;
                crate::runtime::forget_read_blocks(r, 1, window);
                Ok(values)
            })?;
            if let Some(m) = test.mask(&values) {
                for (a, ok) in valid.iter_mut().zip(m) {
                    *a &= ok;
                }
            }
            blocks.push(values);
        }
        let masked: Vec<Array1<f64>> = blocks
            .iter()
            .map(|b| {
                b.iter()
                    .zip(&valid)
                    .filter(|(_, ok)| **ok)
                    .map(|(v, _)| *v)
                    .collect()
            })
            .collect();
        let views: Vec<ArrayView1<'_, f64>> = masked.iter().map(|a| a.view()).collect();
        let result = op(&views)?;
        let n_valid = valid.iter().filter(|ok| **ok).count();
        if result.len() != n_valid {
            return Err(Error::invalid(
                "op",
                format!(
                    "returned {} values for the {n_valid} valid pixels of block {window}",
                    result.len()
                ),
            ));
        }
        let mut out = vec![nodata; n];
        for (slot, v) in out
            .iter_mut()
            .zip(&valid)
            .filter(|(_, ok)| **ok)
            .map(|(s, _)| s)
            .zip(result)
        {
            *slot = v;
        }
        let out = Array2::from_shape_vec(window.shape(), out)
            .map_err(|e| Error::invalid("window", e.to_string()))?;
        let out = truncate_checked(out, dtype).map_err(|value| Error::ValueDoesNotFit {
            operation: "raster_map".to_string(),
            value,
            datatype: dtype,
            window,
            advice: "choose a wider target_dtype, or bring the op's values into range".to_string(),
        })?;
        engine::finish_block(window, out, dtype, Some(nodata), stats)
    };
    let runner = Runner::in_process(ClosureOp {
        inputs: paths,
        compute,
    });
    engine::run(&job, exec, &runner, |_| Ok(()))
}
