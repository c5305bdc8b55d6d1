//! Inputs of the raster calculator: what they are, how they are checked, and how one block of
//! each is put together for a local operation.

use std::path::{Path, PathBuf};

use ndarray::{s, Array2, ArrayView2};
use pgp_core::{with_pixel_type, DataType, DynArray, Nodata, Pixel, Raster, Window};

use super::cast::view_of;
use crate::{Error, Result};

/// One input of [`raster_calculator`](super::raster_calculator), as pygeoprocessing takes them.
#[derive(Debug, Clone, PartialEq)]
pub enum CalcInput {
    /// A band of a raster (bands count from 1). Every raster input must have the same size.
    Raster {
        /// The raster.
        path: PathBuf,
        /// The band, from 1.
        band: usize,
    },
    /// One number, passed to the operation as is.
    Scalar(f64),
    /// A small array broadcast against the raster grid, numpy-style: each dimension is either the
    /// raster's (sliced per block) or 1 (repeated). A row `(1, cols)` repeats down the rows, a
    /// column `(rows, 1)` across the columns. With no raster inputs, the arrays' broadcast shape
    /// is the output size.
    Array(DynArray),
}

impl CalcInput {
    /// A raster band input.
    pub fn raster(path: impl AsRef<Path>, band: usize) -> CalcInput {
        CalcInput::Raster {
            path: path.as_ref().to_path_buf(),
            band,
        }
    }

    /// A 1-D array along the columns (numpy's 1-D broadcasting): shape `(1, values.len())`.
    pub fn row<T: Pixel>(values: Vec<T>) -> CalcInput
    where
        Array2<T>: Into<DynArray>,
    {
        let n = values.len();
        CalcInput::Array(
            Array2::from_shape_vec((1, n), values)
                .map(Into::into)
                .unwrap_or_else(|_| DynArray::zeros(T::DATA_TYPE, (1, 0))),
        )
    }
}

/// What the calculator learned about one raster input.
#[derive(Debug, Clone)]
pub(crate) struct RasterInput {
    pub path: PathBuf,
    pub datatype: DataType,
    pub nodata: Option<f64>,
}

/// Checked inputs: raster facts, the output size, and where the first raster's grid comes from.
#[derive(Debug, Clone)]
pub(crate) struct Checked {
    pub rasters: Vec<RasterInput>,
    /// `(cols, rows)` of the output.
    pub size: (usize, usize),
    /// Info of the first raster (grid and projection of the output), if any.
    pub grid: Option<pgp_core::RasterInfo>,
}

/// Open every raster input once, check bands and sizes, arrays' shapes, and that `target` is not
/// one of the inputs.
pub(crate) fn check(inputs: &[CalcInput], target: &Path) -> Result<Checked> {
    if inputs.is_empty() {
        return Err(Error::invalid(
            "inputs",
            "no inputs: give at least one raster band or array",
        ));
    }
    let mut rasters = Vec::new();
    let mut grid: Option<pgp_core::RasterInfo> = None;
    for input in inputs {
        let CalcInput::Raster { path, band } = input else {
            continue;
        };
        if same_file(path, target) {
            return Err(Error::invalid(
                "target",
                format!(
                    "{} is both an input and the target; write the result to another path",
                    target.display()
                ),
            ));
        }
        let raster = Raster::open(path)?;
        let info = raster.info()?;
        let datatype = raster.data_type(*band)?;
        if let Some(first) = &grid {
            if first.raster_size != info.raster_size {
                return Err(Error::SizeMismatch {
                    path: path.clone(),
                    size: info.raster_size,
                    reference: first.path.clone(),
                    reference_size: first.raster_size,
                });
            }
        }
        rasters.push(RasterInput {
            path: path.clone(),
            datatype,
            nodata: raster.nodata(*band)?,
        });
        if grid.is_none() {
            grid = Some(info);
        }
    }
    let arrays: Vec<(usize, (usize, usize))> = inputs
        .iter()
        .enumerate()
        .filter_map(|(i, x)| match x {
            CalcInput::Array(a) => Some((i, a.shape())),
            _ => None,
        })
        .collect();
    let size = match &grid {
        Some(info) => info.raster_size,
        None => {
            if arrays.is_empty() {
                return Err(Error::invalid(
                    "inputs",
                    "only scalars given: give at least one raster band or array, which sets the output size",
                ));
            }
            let rows = arrays.iter().map(|(_, s)| s.0).max().unwrap_or(1);
            let cols = arrays.iter().map(|(_, s)| s.1).max().unwrap_or(1);
            (cols, rows)
        }
    };
    for (i, (rows, cols)) in arrays {
        let fits = |n: usize, full: usize| n == 1 || n == full;
        if rows == 0 || cols == 0 || !fits(rows, size.1) || !fits(cols, size.0) {
            return Err(Error::invalid(
                "inputs",
                format!(
                    "array input {i} has shape ({rows}, {cols}), which does not broadcast to the \
                     output's {} rows x {} columns (each dimension must be 1 or the output's)",
                    size.1, size.0
                ),
            ));
        }
    }
    Ok(Checked {
        rasters,
        size,
        grid,
    })
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// One input as a local operation sees it for one block.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockArg {
    /// The block of a raster band, in the band's own pixel type, and the band's nodata value.
    Raster {
        /// The pixels.
        data: DynArray,
        /// The band's nodata value.
        nodata: Option<f64>,
    },
    /// A scalar input.
    Scalar(f64),
    /// An array input, sliced and repeated to the block's shape.
    Array(DynArray),
}

/// The inputs of one block, in the order they were given, with the block's window.
#[derive(Debug)]
pub struct Block<'a> {
    window: Window,
    args: &'a [BlockArg],
}

impl<'a> Block<'a> {
    pub(crate) fn new(window: Window, args: &'a [BlockArg]) -> Block<'a> {
        Block { window, args }
    }

    /// Where the block lies in the raster.
    pub fn window(&self) -> Window {
        self.window
    }

    /// `(rows, cols)`: the shape the operation must return.
    pub fn shape(&self) -> (usize, usize) {
        self.window.shape()
    }

    /// Number of inputs.
    pub fn len(&self) -> usize {
        self.args.len()
    }

    /// True when there are no inputs (never, in practice).
    pub fn is_empty(&self) -> bool {
        self.args.is_empty()
    }

    /// Input `i` (from 0, in the order given).
    pub fn arg(&self, i: usize) -> Result<&BlockArg> {
        self.args.get(i).ok_or_else(|| {
            Error::invalid(
                "local_op",
                format!("asked for input {i}, but there are {}", self.args.len()),
            )
        })
    }

    /// Input `i` as an array of its own type `T` (a raster or array input).
    pub fn array<T: Pixel>(&self, i: usize) -> Result<ArrayView2<'_, T>> {
        let (data, what) = match self.arg(i)? {
            BlockArg::Raster { data, .. } => (data, "raster"),
            BlockArg::Array(data) => (data, "array"),
            BlockArg::Scalar(_) => {
                return Err(Error::invalid(
                    "local_op",
                    format!("input {i} is a scalar, not an array"),
                ))
            }
        };
        view_of::<T>(data).ok_or_else(|| {
            Error::invalid(
                "local_op",
                format!(
                    "input {i} is a {what} of {}, not {}",
                    data.data_type(),
                    T::DATA_TYPE
                ),
            )
        })
    }

    /// Input `i` widened to `f64` at the block's shape (scalars are repeated).
    pub fn to_f64(&self, i: usize) -> Result<Array2<f64>> {
        Ok(match self.arg(i)? {
            BlockArg::Raster { data, .. } | BlockArg::Array(data) => data.to_f64(),
            BlockArg::Scalar(v) => Array2::from_elem(self.shape(), *v),
        })
    }

    /// Input `i` as a scalar.
    pub fn scalar(&self, i: usize) -> Result<f64> {
        match self.arg(i)? {
            BlockArg::Scalar(v) => Ok(*v),
            _ => Err(Error::invalid(
                "local_op",
                format!("input {i} is an array, not a scalar"),
            )),
        }
    }

    /// The nodata value of input `i` when it is a raster band.
    pub fn nodata(&self, i: usize) -> Option<f64> {
        match self.args.get(i) {
            Some(BlockArg::Raster { nodata, .. }) => *nodata,
            _ => None,
        }
    }

    /// True where input `i` holds valid data (pgp's nodata rule; all true for non-rasters).
    pub fn valid_mask(&self, i: usize) -> Result<Array2<bool>> {
        Ok(match self.arg(i)? {
            BlockArg::Raster { data, nodata } => valid_mask_dyn(data, *nodata),
            _ => Array2::from_elem(self.shape(), true),
        })
    }
}

/// Valid-pixel mask of a runtime-typed array.
pub(crate) fn valid_mask_dyn(data: &DynArray, nodata: Option<f64>) -> Array2<bool> {
    fn go<T: Pixel>(a: &Array2<T>, nodata: Option<f64>) -> Array2<bool> {
        let nd = Nodata::<T>::new(nodata);
        a.mapv(|v| !nd.is_nodata(v))
    }
    match data {
        DynArray::U8(a) => go(a, nodata),
        DynArray::I8(a) => go(a, nodata),
        DynArray::U16(a) => go(a, nodata),
        DynArray::I16(a) => go(a, nodata),
        DynArray::U32(a) => go(a, nodata),
        DynArray::I32(a) => go(a, nodata),
        DynArray::F32(a) => go(a, nodata),
        DynArray::F64(a) => go(a, nodata),
    }
}

/// The part of a broadcast array that covers `window`, at the window's shape.
pub(crate) fn array_block(a: &DynArray, window: Window) -> DynArray {
    fn go<T: Pixel>(a: &Array2<T>, w: Window) -> Array2<T> {
        let (rows, cols) = a.dim();
        let (r0, r1) = if rows == 1 {
            (0, 1)
        } else {
            (w.y_off, w.y_off + w.height)
        };
        let (c0, c1) = if cols == 1 {
            (0, 1)
        } else {
            (w.x_off, w.x_off + w.width)
        };
        let part = a.slice(s![r0..r1, c0..c1]);
        match part.broadcast(w.shape()) {
            Some(b) => b.to_owned(),
            // Shapes were checked up front; an impossible shape yields an empty block.
            None => Array2::default((0, 0)),
        }
    }
    match a {
        DynArray::U8(x) => go(x, window).into(),
        DynArray::I8(x) => go(x, window).into(),
        DynArray::U16(x) => go(x, window).into(),
        DynArray::I16(x) => go(x, window).into(),
        DynArray::U32(x) => go(x, window).into(),
        DynArray::I32(x) => go(x, window).into(),
        DynArray::F32(x) => go(x, window).into(),
        DynArray::F64(x) => go(x, window).into(),
    }
}

/// Read the block `window` of every input. `rasters` holds one open handle per raster input,
/// in input order.
pub(crate) fn read_block_args(
    inputs: &[CalcInput],
    facts: &[RasterInput],
    rasters: &crate::runtime::Handles<'_>,
    window: Window,
) -> Result<Vec<BlockArg>> {
    let mut next_raster = 0;
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        out.push(match input {
            CalcInput::Raster { band, .. } => {
                let nodata = facts[next_raster].nodata;
                let data = rasters.read_dyn(next_raster, *band, window)?;
                next_raster += 1;
                BlockArg::Raster { data, nodata }
            }
            CalcInput::Scalar(v) => BlockArg::Scalar(*v),
            CalcInput::Array(a) => BlockArg::Array(array_block(a, window)),
        });
    }
    Ok(out)
}

/// How to tell nodata in a band read as `f64`: the band's nodata converted to its own type first
/// (pgp's rule), which is exact in `f64`.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub(crate) enum NodataTest {
    Nothing,
    Nan,
    Value(f64),
}

impl NodataTest {
    pub fn new(datatype: DataType, nodata: Option<f64>) -> NodataTest {
        with_pixel_type!(datatype, T => {
            let nd = Nodata::<T>::new(nodata);
            match nd.value() {
                None => NodataTest::Nothing,
                Some(v) if v.is_nan() => NodataTest::Nan,
                Some(v) => NodataTest::Value(v.to_f64()),
            }
        })
    }

    /// Validity mask, `None` when every value is valid.
    pub fn mask(self, values: &[f64]) -> Option<Vec<bool>> {
        let mask: Vec<bool> = match self {
            NodataTest::Nothing => return None,
            NodataTest::Nan => values.iter().map(|v| !v.is_nan()).collect(),
            NodataTest::Value(nd) => values.iter().map(|v| *v != nd).collect(),
        };
        mask.iter().any(|ok| !ok).then_some(mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn arrays_broadcast_to_the_window() {
        let row: DynArray = array![[1.0f64, 2.0, 3.0, 4.0]].into();
        let w = Window::new(1, 5, 2, 3);
        assert_eq!(
            array_block(&row, w),
            DynArray::F64(array![[2.0, 3.0], [2.0, 3.0], [2.0, 3.0]])
        );
        let col: DynArray = Array2::from_shape_fn((8, 1), |(r, _)| r as u8).into();
        assert_eq!(
            array_block(&col, w),
            DynArray::U8(array![[5, 5], [6, 6], [7, 7]])
        );
        let full: DynArray = Array2::from_shape_fn((8, 4), |(r, c)| (r * 10 + c) as i16).into();
        assert_eq!(
            array_block(&full, w),
            DynArray::I16(array![[51, 52], [61, 62], [71, 72]])
        );
    }

    #[test]
    fn block_accessors_check_kinds_and_types() {
        let args = vec![
            BlockArg::Raster {
                data: array![[1.0f32, -9999.0]].into(),
                nodata: Some(-9999.0),
            },
            BlockArg::Scalar(2.5),
        ];
        let b = Block::new(Window::new(0, 0, 2, 1), &args);
        assert_eq!(b.array::<f32>(0).unwrap()[[0, 1]], -9999.0);
        assert!(b
            .array::<f64>(0)
            .unwrap_err()
            .to_string()
            .contains("Float32"));
        assert!(b.array::<f32>(1).is_err());
        assert_eq!(b.scalar(1).unwrap(), 2.5);
        assert_eq!(b.to_f64(1).unwrap(), array![[2.5, 2.5]]);
        assert_eq!(b.valid_mask(0).unwrap(), array![[true, false]]);
        assert_eq!(b.nodata(0), Some(-9999.0));
        assert!(b.arg(2).is_err());
    }
}
