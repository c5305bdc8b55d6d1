//! [`reclassify_raster`]: map pixel values through a table.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::{with_pixel_type, DataType, DynArray, Nodata, Pixel, RasterSpec, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::cast::{gdal_convert, view_of};
use super::engine::{typed_block, CalcBlock, CalcReport, Job};
use super::kernel::{self, KernelSpec};
use super::CalcOptions;
use crate::runtime::Handles;
use crate::{Error, Result};

/// Options of [`reclassify_raster`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReclassifyOptions {
    /// Fail, listing every unmapped value, when a valid pixel's value has no entry in the map
    /// (default true). When false, such pixels become the target nodata.
    pub values_required: bool,
    /// Statistics, block size and driver.
    pub calc: CalcOptions,
}

impl Default for ReclassifyOptions {
    fn default() -> Self {
        ReclassifyOptions {
            values_required: true,
            calc: CalcOptions::default(),
        }
    }
}

/// pygeoprocessing's `reclassify_raster`: write `value_map[v]` for every pixel value `v` of
/// `band` of `raster`.
///
/// Nodata pixels become `target_nodata`, unless the raster's nodata value is itself a key of the
/// map (NaN matches NaN), in which case they take its value. Keys match pixel values exactly.
/// With `values_required` (the default) every valid pixel must have an entry; otherwise the
/// operation fails with [`Error::UnmappedValues`] listing every distinct unmapped value found
/// in the whole raster, and no output is left behind. Unlike pygeoprocessing (whose lookup
/// rounds unmapped values up to the next key), unmapped pixels with `values_required = false`
/// become `target_nodata`.
///
/// Runs on any executor, process pools included.
#[allow(clippy::too_many_arguments)]
pub fn reclassify_raster(
    raster: impl AsRef<Path>,
    band: usize,
    value_map: &[(f64, f64)],
    target: impl AsRef<Path>,
    datatype: DataType,
    target_nodata: Option<f64>,
    options: &ReclassifyOptions,
    exec: &Executor,
) -> Result<CalcReport> {
    let path = raster.as_ref();
    let target = target.as_ref();
    if value_map.is_empty() {
        return Err(Error::invalid(
            "value_map",
            "is empty: give at least one value",
        ));
    }
    let checked = super::inputs::check(&[super::CalcInput::raster(path, band)], target)?;
    let base = &checked.rasters[0];
    let mut nodata_dest = target_nodata;
    let mut entries: Vec<(f64, f64)> = Vec::with_capacity(value_map.len());
    for &(k, v) in value_map {
        let is_nodata_key = base
            .nodata
            .is_some_and(|nd| k == nd || (k.is_nan() && nd.is_nan()));
        if is_nodata_key {
            nodata_dest = Some(v);
        } else if k.is_nan() {
            return Err(Error::invalid(
                "value_map",
                format!(
                    "has a NaN key, but the nodata value of {} is {:?}",
                    path.display(),
                    base.nodata
                ),
            ));
        } else {
            entries.push((k, v));
        }
    }
    entries.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(Error::invalid(
            "value_map",
            format!("key {} appears more than once", w[0].0),
        ));
    }
    let Some(nodata_dest) = nodata_dest else {
        return Err(Error::invalid(
            "target_nodata",
            format!(
                "is None and the nodata value of {} ({:?}) is not a key of the value map: set a \
                 target nodata and/or map the raster's nodata value",
                path.display(),
                base.nodata
            ),
        ));
    };
    if !options.values_required && target_nodata.is_none() {
        return Err(Error::invalid(
            "target_nodata",
            "is None, but with values_required = false unmapped pixels need it",
        ));
    }
    let Some(info) = &checked.grid else {
        return Err(Error::invalid("raster", "no raster input"));
    };
    let mut spec = RasterSpec::like(info, datatype);
    spec.driver = crate::runtime::with_compression_threads(&options.calc.driver, exec);
    spec.nodata = vec![target_nodata];
    let job = Job {
        operation: "reclassify_raster",
        target: target.to_path_buf(),
        spec,
        stats: options.calc.calc_raster_stats,
        largest_block: options.calc.largest_block,
    };
    let kernel = ReclassSpec {
        path: path.to_path_buf(),
        band,
        input_type: base.datatype,
        input_nodata: base.nodata,
        keys: entries.iter().map(|e| e.0).collect(),
        values: entries.iter().map(|e| e.1).collect(),
        nodata_dest,
        unmapped_dest: target_nodata.unwrap_or(nodata_dest),
        values_required: options.values_required,
        datatype,
        target_nodata,
        stats: options.calc.calc_raster_stats,
    };
    let source = path.to_path_buf();
    kernel::run_kernel(&job, KernelSpec::Reclassify(kernel), exec, |unmapped| {
        if unmapped.is_empty() {
            Ok(())
        } else {
            Err(Error::UnmappedValues {
                path: source,
                values: unmapped.values(),
                truncated: unmapped.truncated,
            })
        }
    })
}

/// A reclassification as data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ReclassSpec {
    pub path: PathBuf,
    band: usize,
    input_type: DataType,
    input_nodata: Option<f64>,
    /// Sorted, distinct, not NaN.
    keys: Vec<f64>,
    values: Vec<f64>,
    nodata_dest: f64,
    unmapped_dest: f64,
    values_required: bool,
    datatype: DataType,
    target_nodata: Option<f64>,
    stats: bool,
}

/// A reclassification ready to run: small integer types get a dense lookup table.
pub(crate) struct PreparedReclass {
    spec: ReclassSpec,
    /// For 8- and 16-bit inputs: the value for `pixel - offset`.
    table: Option<(i64, Vec<Option<f64>>)>,
}

impl ReclassSpec {
    pub fn prepare(&self) -> PreparedReclass {
        let table = (self.input_type.size_bytes() <= 2).then(|| {
            let (lo, hi) = self.input_type.range();
            let mut t = vec![None; (hi - lo) as usize + 1];
            for (k, v) in self.keys.iter().zip(&self.values) {
                if k.fract() == 0.0 && *k >= lo && *k <= hi {
                    t[(*k - lo) as usize] = Some(*v);
                }
            }
            (lo as i64, t)
        });
        PreparedReclass {
            spec: self.clone(),
            table,
        }
    }
}

impl PreparedReclass {
    fn lookup(&self, x: f64) -> Option<f64> {
        match &self.table {
            Some((offset, t)) => t.get((x as i64 - offset) as usize).copied().flatten(),
            None => self
                .spec
                .keys
                .binary_search_by(|k| k.total_cmp(&x))
                .ok()
                .map(|i| self.spec.values[i]),
        }
    }

    pub fn compute(&self, inputs: &Handles<'_>, window: Window) -> Result<CalcBlock> {
        let block = inputs.read_dyn(0, self.spec.band, window)?;
        let mut unmapped = Vec::new();
        let mapped: Vec<f64> = with_pixel_type!(block.data_type(), S => {
            match view_of::<S>(&block) {
                Some(v) => self.map_values(v.iter().copied(), &mut unmapped),
                None => Vec::new(),
            }
        });
        unmapped.sort_by(f64::total_cmp);
        unmapped.dedup_by(|a, b| a.to_bits() == b.to_bits());
        if !self.spec.values_required {
            unmapped.clear();
        }
        let data: DynArray = with_pixel_type!(self.spec.datatype, T => {
            let typed: Vec<T> = mapped.iter().map(|&v| gdal_convert::<f64, T>(v)).collect();
            Array2::from_shape_vec(window.shape(), typed)
                .map_err(|e| Error::invalid("window", e.to_string()))?
                .into()
        });
        let mut block = typed_block(window, data, self.spec.target_nodata, self.spec.stats);
        block.side.unmapped = unmapped;
        Ok(block)
    }

    fn map_values<S: Pixel>(
        &self,
        pixels: impl Iterator<Item = S>,
        unmapped: &mut Vec<f64>,
    ) -> Vec<f64> {
        let nd = Nodata::<S>::new(self.spec.input_nodata);
        pixels
            .map(|p| {
                if nd.is_nodata(p) {
                    return self.spec.nodata_dest;
                }
                let x = p.to_f64();
                match self.lookup(x) {
                    Some(v) => v,
                    None => {
                        unmapped.push(x);
                        self.spec.unmapped_dest
                    }
                }
            })
            .collect()
    }
}
