//! Raster algebra expressions over raster bands: [`evaluate_expression`] and [`evaluate`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::{with_pixel_type, DataType, DynArray, Pixel, Raster, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::cast::gdal_convert;
use super::engine::{typed_bands, CalcBlock, CalcReport, Job};
use super::inputs::{self, CalcInput, NodataTest};
use super::kernel::{self, KernelSpec};
use super::{output_spec, CalcOptions};
use crate::runtime::Handles;
use crate::{Error, Result};
use pgp_expr::{Binding, ExprError, Expression, InputBlock, Program};

/// What an expression variable is bound to. In human-readable formats (JSON, TOML) it reads as a
/// number, a path (band 1), or `{ "path": ..., "band": ... }`; binary formats (bincode, for
/// worker processes and the task graph) use a plain tagged form.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprInput {
    /// A raster band (from 1).
    Raster {
        /// The raster.
        path: PathBuf,
        /// The band, from 1.
        band: usize,
    },
    /// A number, the same for every pixel.
    Scalar(f64),
}

/// The binary form.
#[derive(Serialize, Deserialize)]
enum InputTagged {
    Raster { path: PathBuf, band: usize },
    Scalar(f64),
}

/// The human-readable forms.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum InputRepr {
    Scalar(f64),
    Path(PathBuf),
    Band {
        path: PathBuf,
        #[serde(default = "first_band")]
        band: usize,
    },
}

fn first_band() -> usize {
    1
}

impl From<InputRepr> for ExprInput {
    fn from(r: InputRepr) -> Self {
        match r {
            InputRepr::Scalar(v) => ExprInput::Scalar(v),
            InputRepr::Path(path) => ExprInput::Raster { path, band: 1 },
            InputRepr::Band { path, band } => ExprInput::Raster { path, band },
        }
    }
}

impl From<ExprInput> for InputRepr {
    fn from(i: ExprInput) -> Self {
        match i {
            ExprInput::Scalar(v) => InputRepr::Scalar(v),
            ExprInput::Raster { path, band } => InputRepr::Band { path, band },
        }
    }
}

impl Serialize for ExprInput {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            InputRepr::from(self.clone()).serialize(s)
        } else {
            match self.clone() {
                ExprInput::Raster { path, band } => InputTagged::Raster { path, band },
                ExprInput::Scalar(v) => InputTagged::Scalar(v),
            }
            .serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for ExprInput {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        if d.is_human_readable() {
            InputRepr::deserialize(d).map(Into::into)
        } else {
            Ok(match InputTagged::deserialize(d)? {
                InputTagged::Raster { path, band } => ExprInput::Raster { path, band },
                InputTagged::Scalar(v) => ExprInput::Scalar(v),
            })
        }
    }
}

/// Options of [`evaluate`] and [`evaluate_expression`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExprOptions {
    /// Output pixel type. Default, as raster algebra tools widen integer sums:
    /// - an expression that keeps integers integral (`+ - * %`, `min`/`max`, `abs`, comparisons,
    ///   `where`, rounding, integer constants) over integer rasters gets the smallest integer
    ///   type that holds every value it can produce from valid input pixels (computed from the
    ///   input types' ranges, less a nodata value at either end), with the type's maximum left
    ///   free for the default nodata: `r + g` on two `Byte` bands is `UInt16` (0 to 510, nodata
    ///   65535), `r - g` is `Int16`, `lc` alone on a `Byte` band with nodata 255 stays `Byte`.
    ///   When no 32-bit integer type holds the range: `Float64`.
    /// - over float rasters: the promotion of the input types (numpy's rules);
    /// - any other expression: at least `Float32` (`Float64` for 32-bit integer or `Float64`
    ///   inputs).
    ///
    /// The choice and its reason are reported as a [`note`](crate::progress::Progress::note)
    /// (`pgp calc -v`). With a type given, a valid result that type cannot hold (out of range,
    /// or NaN into an integer type) is an error, [`Error::ValueDoesNotFit`], never clamped.
    pub datatype: Option<DataType>,
    /// Output nodata. Default: the type's maximum (pygeoprocessing's `choose_nodata`).
    pub nodata: Option<f64>,
    /// Replace NaN results (of valid pixels) with this value; by default NaN is written as is.
    pub default_nan: Option<f64>,
    /// Replace infinite results with this value (keeping the sign is not attempted, as in
    /// pygeoprocessing); by default infinities are written as is.
    pub default_inf: Option<f64>,
    /// Statistics, block size and driver.
    pub calc: CalcOptions,
}

/// Evaluate `expr` with each name bound to a raster band: the facade's simple entry.
///
/// ```no_run
/// # use pgp_exec::Executor;
/// # use pgp_ops::calc::{evaluate_expression, ExprOptions};
/// # fn main() -> pgp_ops::Result<()> {
/// let exec: Executor = "threading:2".parse()?;
/// evaluate_expression(
///     "where(lc == 3, dem * 2.5, -9999)",
///     &[("lc", "landcover.tif", 1), ("dem", "dem.tif", 1)],
///     "out.tif",
///     &ExprOptions { nodata: Some(-9999.0), ..Default::default() },
///     &exec,
/// )?;
/// # Ok(())
/// # }
/// ```
pub fn evaluate_expression<P: AsRef<Path>>(
    expr: &str,
    rasters: &[(&str, P, usize)],
    target: impl AsRef<Path>,
    options: &ExprOptions,
    exec: &Executor,
) -> Result<CalcReport> {
    let expression = Expression::parse(expr)?;
    let bindings: Vec<(String, ExprInput)> = rasters
        .iter()
        .map(|(name, path, band)| {
            (
                (*name).to_string(),
                ExprInput::Raster {
                    path: path.as_ref().to_path_buf(),
                    band: *band,
                },
            )
        })
        .collect();
    evaluate(&expression, &bindings, target, options, exec)
}

/// Evaluate `expr` over raster bands and scalars, writing `target`. Bindings the expression does
/// not use are ignored. Runs on any executor, process pools included (the expression travels as
/// text and is compiled in each worker).
pub fn evaluate(
    expr: &Expression,
    bindings: &[(String, ExprInput)],
    target: impl AsRef<Path>,
    options: &ExprOptions,
    exec: &Executor,
) -> Result<CalcReport> {
    evaluate_bands(std::slice::from_ref(expr), bindings, target, options, exec)
}

/// [`evaluate`] with one expression per output band (band 1 first), all over the same
/// bindings, in one pass over the windows; every band shares the type, nodata and options
/// (the default type holds every band's results). The report's statistics are band 1's;
/// every band's are written to the file.
pub fn evaluate_bands(
    bands: &[Expression],
    bindings: &[(String, ExprInput)],
    target: impl AsRef<Path>,
    options: &ExprOptions,
    exec: &Executor,
) -> Result<CalcReport> {
    let target = target.as_ref();
    let Some(first) = bands.first() else {
        return Err(Error::invalid("expression", "no band expression given"));
    };
    let names: Vec<&str> = bindings.iter().map(|(n, _)| n.as_str()).collect();
    let mut seen = HashSet::new();
    if let Some(dup) = names.iter().find(|n| !seen.insert(**n)) {
        return Err(Error::invalid(
            "bindings",
            format!("`{dup}` is bound more than once"),
        ));
    }
    for expr in bands {
        expr.check_bound(&names)?;
    }
    let uses = |n: &String| bands.iter().any(|e| e.variables().contains(n));
    let used: Vec<(String, ExprInput)> =
        bindings.iter().filter(|(n, _)| uses(n)).cloned().collect();
    let calc_inputs: Vec<CalcInput> = used
        .iter()
        .filter_map(|(_, b)| match b {
            ExprInput::Raster { path, band } => Some(CalcInput::raster(path, *band)),
            ExprInput::Scalar(_) => None,
        })
        .collect();
    if calc_inputs.is_empty() {
        return Err(Error::Expression(ExprError::new(
            first.source(),
            1,
            "the expression uses no raster, so there is no grid to compute on",
        )));
    }
    let checked = inputs::check(&calc_inputs, target)?;
    let datatype = match options.datatype {
        Some(t) => t,
        None => {
            let mut chosen: Option<DataType> = None;
            for (i, expr) in bands.iter().enumerate() {
                let (t, why) = default_datatype(expr, &used, &checked.rasters, options.nodata);
                let band = if bands.len() > 1 {
                    format!(" of band {}", i + 1)
                } else {
                    String::new()
                };
                crate::progress::note("evaluate", &format!("output type{band} {t}: {why}"));
                chosen = Some(chosen.map_or(t, |c| c.promote(t)));
            }
            chosen.unwrap_or(DataType::F64)
        }
    };
    let nodata = options.nodata.unwrap_or_else(|| datatype.default_nodata());
    super::check_nodata_fits(nodata, datatype)?;
    // One nodata value stands for every band.
    let spec = output_spec(
        &checked,
        datatype,
        Some(nodata),
        crate::runtime::with_compression_threads(&options.calc.driver, exec),
    )
    .bands(bands.len());
    let job = Job {
        operation: "evaluate",
        target: target.to_path_buf(),
        spec,
        stats: options.calc.calc_raster_stats,
        largest_block: options.calc.largest_block,
    };
    let kernel = ExprSpec {
        bands: bands.to_vec(),
        bindings: used,
        datatype,
        nodata,
        default_nan: options.default_nan,
        default_inf: options.default_inf,
        stats: options.calc.calc_raster_stats,
    };
    kernel::run_kernel(&job, KernelSpec::Expr(kernel), exec, |_| Ok(()))
}

/// The output type when none is given, and why (see [`ExprOptions::datatype`]).
fn default_datatype(
    expr: &Expression,
    used: &[(String, ExprInput)],
    rasters: &[inputs::RasterInput],
    nodata: Option<f64>,
) -> (DataType, String) {
    let promoted = rasters
        .iter()
        .map(|r| r.datatype)
        .reduce(DataType::promote)
        .unwrap_or(DataType::F64);
    // `rasters` holds the raster bindings of `used`, in order.
    let raster_of = |name: &str| {
        let i = used
            .iter()
            .filter(|(_, b)| matches!(b, ExprInput::Raster { .. }))
            .position(|(n, _)| n == name)?;
        rasters.get(i)
    };
    let integral = expr.keeps_integers(&|name| {
        used.iter().any(|(n, b)| {
            n == name
                && match b {
                    ExprInput::Scalar(v) => v.fract() == 0.0,
                    ExprInput::Raster { .. } => true,
                }
        })
    });
    if !integral {
        let t = promoted.promote(DataType::F32);
        return (
            t,
            format!("the expression is not integer arithmetic; {t} holds its inputs"),
        );
    }
    if promoted.is_float() {
        return (promoted, "the promotion of the input types".to_string());
    }
    let range = expr.value_range(&|name| {
        if let Some(v) = used.iter().find_map(|(n, b)| match b {
            ExprInput::Scalar(v) if n == name => Some(*v),
            _ => None,
        }) {
            return (v, v);
        }
        raster_of(name).map_or((f64::NEG_INFINITY, f64::INFINITY), |r| {
            valid_range(r.datatype, r.nodata)
        })
    });
    let t = integer_type_for(range, nodata);
    let why = format!(
        "integer results range from {} to {} on valid input pixels{}",
        range.0,
        range.1,
        match (t.is_float(), nodata) {
            (true, _) => ", more than a 32-bit integer holds".to_string(),
            (false, None) => format!(", with {} left free for nodata", t.default_nodata()),
            (false, Some(v)) => format!(", with nodata {v}"),
        }
    );
    (t, why)
}

/// The values a band of `datatype` holds that are not its nodata (when that sits at an end).
fn valid_range(datatype: DataType, nodata: Option<f64>) -> (f64, f64) {
    let (lo, hi) = datatype.range();
    match nodata {
        Some(v) if v == hi => (lo, hi - 1.0),
        Some(v) if v == lo => (lo + 1.0, hi),
        _ => (lo, hi),
    }
}

/// The smallest integer type that holds `range` and the nodata: the given one, or by default
/// the type's maximum, which must then lie above every result so that no result reads as
/// nodata. Float64 (exact up to 2^53) when no 32-bit integer type does.
fn integer_type_for(range: (f64, f64), nodata: Option<f64>) -> DataType {
    use DataType::*;
    [U8, I8, U16, I16, U32, I32]
        .into_iter()
        .find(|t| {
            let (lo, hi) = t.range();
            let holds = range.0 >= lo && range.1 <= hi;
            holds
                && match nodata {
                    Some(v) => v >= lo && v <= hi,
                    None => range.1 < hi,
                }
        })
        .unwrap_or(F64)
}

/// An expression kernel as data: what travels to worker processes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ExprSpec {
    /// One expression per output band.
    bands: Vec<Expression>,
    /// The bindings the expressions use.
    bindings: Vec<(String, ExprInput)>,
    datatype: DataType,
    nodata: f64,
    default_nan: Option<f64>,
    default_inf: Option<f64>,
    stats: bool,
}

/// Pixels evaluated at a time: a register of this many `f64` is 32 KB, so a program's registers
/// stay in the L1/L2 cache.
const CHUNK: usize = 4096;

/// Block values `start..end` widened to `f64` into `out`.
fn widen(block: &DynArray, start: usize, end: usize, out: &mut Vec<f64>) {
    fn go<P: Pixel>(a: &Array2<P>, start: usize, end: usize, out: &mut Vec<f64>) {
        out.clear();
        match a.as_slice() {
            Some(s) => out.extend(s[start..end].iter().map(|v| v.to_f64())),
            None => out.extend(a.iter().skip(start).take(end - start).map(|v| v.to_f64())),
        }
    }
    match block {
        DynArray::U8(a) => go(a, start, end, out),
        DynArray::I8(a) => go(a, start, end, out),
        DynArray::U16(a) => go(a, start, end, out),
        DynArray::I16(a) => go(a, start, end, out),
        DynArray::U32(a) => go(a, start, end, out),
        DynArray::I32(a) => go(a, start, end, out),
        DynArray::F32(a) => go(a, start, end, out),
        DynArray::F64(a) => go(a, start, end, out),
    }
}

/// Per-pixel program cost from which evaluating only the valid pixels pays off.
const GATHER_COST: u32 = 16;

/// A compiled expression kernel.
pub(crate) struct PreparedExpr {
    /// Per output band: its program and, per program input, the index of its block.
    programs: Vec<(Program, Vec<usize>)>,
    /// Per block read (the union of the programs' inputs): band and nodata test; the raster
    /// handle has the same index.
    bands: Vec<(usize, NodataTest)>,
    datatype: DataType,
    nodata: f64,
    default_nan: Option<f64>,
    default_inf: Option<f64>,
    stats: bool,
}

impl ExprSpec {
    fn lookup(&self, name: &str) -> Option<&ExprInput> {
        self.bindings
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b)
    }

    fn programs(&self) -> Vec<Program> {
        self.bands
            .iter()
            .map(|expr| {
                expr.compile(&|name| match self.lookup(name) {
                    Some(ExprInput::Scalar(v)) => Binding::Scalar(*v),
                    _ => Binding::Block,
                })
            })
            .collect()
    }

    /// The names read per pixel by any band, in order of first use (band 1's program first).
    fn block_names(programs: &[Program]) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in programs.iter().flat_map(Program::inputs) {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// One raster per block read, in [`ExprSpec::block_names`] order.
    pub fn raster_paths(&self) -> Vec<PathBuf> {
        Self::block_names(&self.programs())
            .iter()
            .filter_map(|name| match self.lookup(name) {
                Some(ExprInput::Raster { path, .. }) => Some(path.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn prepare(&self) -> Result<PreparedExpr> {
        let programs = self.programs();
        let names = Self::block_names(&programs);
        let mut bands = Vec::with_capacity(names.len());
        for name in &names {
            let Some(ExprInput::Raster { path, band }) = self.lookup(name) else {
                return Err(Error::invalid(
                    "bindings",
                    format!("`{name}` is used per pixel but not bound to a raster"),
                ));
            };
            let r = Raster::open(path)?;
            bands.push((
                *band,
                NodataTest::new(r.data_type(*band)?, r.nodata(*band)?),
            ));
        }
        let programs = programs
            .into_iter()
            .map(|program| {
                let index = program
                    .inputs()
                    .iter()
                    .map(|name| {
                        names.iter().position(|n| n == name).ok_or_else(|| {
                            Error::internal(format!("`{name}` is missing from the blocks read"))
                        })
                    })
                    .collect::<Result<Vec<usize>>>()?;
                Ok((program, index))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PreparedExpr {
            programs,
            bands,
            datatype: self.datatype,
            nodata: self.nodata,
            default_nan: self.default_nan,
            default_inf: self.default_inf,
            stats: self.stats,
        })
    }
}

impl PreparedExpr {
    /// Read the inputs of `window` (each once, whichever bands use it), evaluate every band,
    /// and convert to the output type.
    ///
    /// The block is evaluated in chunks of [`CHUNK`] pixels: every instruction runs over one
    /// chunk, then the next chunk follows, so the registers stay in the CPU cache instead of
    /// streaming whole blocks through memory once per instruction.
    pub fn compute(&self, inputs: &Handles<'_>, window: Window) -> Result<CalcBlock> {
        let n = window.area();
        let mut blocks = Vec::with_capacity(self.bands.len());
        for (i, (band, _)) in self.bands.iter().enumerate() {
            blocks.push(inputs.read_dyn(i, *band, window)?);
        }
        let mut out = Vec::with_capacity(self.programs.len());
        for (program, index) in &self.programs {
            let used: Vec<(&DynArray, NodataTest)> = index
                .iter()
                .map(|&i| (&blocks[i], self.bands[i].1))
                .collect();
            let data = with_pixel_type!(self.datatype, T => {
                let mut typed: Vec<T> = Vec::with_capacity(n);
                self.run_chunks(program, &used, n, &mut typed)
                    .map_err(|value| Error::ValueDoesNotFit {
                        operation: "evaluate".to_string(),
                        value,
                        datatype: self.datatype,
                        window,
                        advice: "leave the output type out to get one that holds every result, \
                                 choose a wider one, or map NaN with default_nan"
                            .to_string(),
                    })?;
                Array2::from_shape_vec(window.shape(), typed)
                    .map_err(|e| Error::invalid("window", e.to_string()))?
                    .into()
            });
            out.push(data);
        }
        Ok(typed_bands(window, out, Some(self.nodata), self.stats))
    }

    /// Evaluate into `out`; `Err(value)` for the first valid result `T` cannot hold.
    fn run_chunks<T: Pixel>(
        &self,
        program: &Program,
        blocks: &[(&DynArray, NodataTest)],
        n: usize,
        out: &mut Vec<T>,
    ) -> std::result::Result<(), f64> {
        // Gathering the valid pixels costs a few operations per pixel: worth it only for
        // programs that cost more than that.
        let gather = program.is_strict() && program.cost() >= GATHER_COST;
        let mut values: Vec<Vec<f64>> = vec![Vec::with_capacity(CHUNK); blocks.len()];
        let mut result = Vec::with_capacity(CHUNK);
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let mut masks = Vec::with_capacity(blocks.len());
            for ((block, test), v) in blocks.iter().zip(&mut values) {
                widen(block, start, end, v);
                masks.push(test.mask(v));
            }
            let valid = if gather && masks.iter().any(Option::is_some) {
                Self::run_on_valid(program, &values, &masks, end - start, &mut result)
            } else {
                let inputs: Vec<InputBlock<'_>> = values
                    .iter()
                    .zip(&masks)
                    .map(|(v, m)| InputBlock {
                        values: v,
                        valid: m.as_deref(),
                    })
                    .collect();
                program.run(&inputs, end - start, &mut result)
            };
            self.append_output(&result, valid.as_deref(), out)?;
            start = end;
        }
        Ok(())
    }

    /// Strict programs are valid exactly where all inputs are: evaluate only those pixels.
    fn run_on_valid(
        program: &Program,
        values: &[Vec<f64>],
        masks: &[Option<Vec<bool>>],
        n: usize,
        out: &mut Vec<f64>,
    ) -> Option<Vec<bool>> {
        let mut all = vec![true; n];
        for m in masks.iter().flatten() {
            for (a, ok) in all.iter_mut().zip(m) {
                *a &= *ok;
            }
        }
        let idx: Vec<usize> = (0..n).filter(|&i| all[i]).collect();
        let gathered: Vec<Vec<f64>> = values
            .iter()
            .map(|v| idx.iter().map(|&i| v[i]).collect())
            .collect();
        let inputs: Vec<InputBlock<'_>> = gathered
            .iter()
            .map(|v| InputBlock {
                values: v,
                valid: None,
            })
            .collect();
        let mut compact = Vec::new();
        // All-valid inputs give an all-valid result for a strict program.
        let _ = program.run(&inputs, idx.len(), &mut compact);
        out.clear();
        out.resize(n, 0.0);
        for (&i, v) in idx.iter().zip(compact) {
            out[i] = v;
        }
        Some(all)
    }

    fn append_output<T: Pixel>(
        &self,
        values: &[f64],
        valid: Option<&[bool]>,
        out: &mut Vec<T>,
    ) -> std::result::Result<(), f64> {
        let nodata = gdal_convert::<f64, T>(self.nodata);
        let fix = |v: f64| -> f64 {
            match (self.default_nan, self.default_inf) {
                (Some(d), _) if v.is_nan() => d,
                (_, Some(d)) if v.is_infinite() => d,
                _ => v,
            }
        };
        // Clamping a result into an integer type (or NaN to 0) would write a wrong value that
        // looks like data, or like nodata (the type's maximum by default): refuse it.
        if !T::DATA_TYPE.is_float() {
            let (lo, hi) = T::DATA_TYPE.range();
            let fits = |v: f64| {
                let r = if v >= 0.0 { v + 0.5 } else { v - 0.5 }.trunc();
                r >= lo && r <= hi
            };
            let bad = match valid {
                None => values.iter().map(|&v| fix(v)).find(|&v| !fits(v)),
                Some(m) => values
                    .iter()
                    .zip(m)
                    .filter(|(_, &ok)| ok)
                    .map(|(&v, _)| fix(v))
                    .find(|&v| !fits(v)),
            };
            if let Some(v) = bad {
                return Err(v);
            }
        }
        match valid {
            None => out.extend(values.iter().map(|&v| gdal_convert::<f64, T>(fix(v)))),
            Some(m) => out.extend(values.iter().zip(m).map(|(&v, &ok)| {
                if ok {
                    gdal_convert::<f64, T>(fix(v))
                } else {
                    nodata
                }
            })),
        }
        Ok(())
    }
}
