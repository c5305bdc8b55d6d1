//! numpy arrays to and from pgp's runtime-typed arrays, and pixel type names.

use ndarray::Array2;
use numpy::{PyArray2, PyReadonlyArray2};
use pgp_core::{DataType, DynArray};
use pyo3::prelude::*;

use crate::errors::{raise, Kind};

/// A pgp array as a numpy array of the same dtype (moved, not copied).
pub(crate) fn to_numpy<'py>(py: Python<'py>, a: DynArray) -> Bound<'py, PyAny> {
    match a {
        DynArray::U8(a) => PyArray2::from_owned_array(py, a).into_any(),
        DynArray::I8(a) => PyArray2::from_owned_array(py, a).into_any(),
        DynArray::U16(a) => PyArray2::from_owned_array(py, a).into_any(),
        DynArray::I16(a) => PyArray2::from_owned_array(py, a).into_any(),
        DynArray::U32(a) => PyArray2::from_owned_array(py, a).into_any(),
        DynArray::I32(a) => PyArray2::from_owned_array(py, a).into_any(),
        DynArray::F32(a) => PyArray2::from_owned_array(py, a).into_any(),
        DynArray::F64(a) => PyArray2::from_owned_array(py, a).into_any(),
    }
}

fn take<T: numpy::Element + Copy>(obj: &Bound<'_, PyAny>) -> Option<Array2<T>> {
    obj.extract::<PyReadonlyArray2<'_, T>>()
        .ok()
        .map(|a| a.as_array().to_owned())
}

/// A 2-D numpy array of one of pgp's pixel types as a pgp array (copied). `what` names the
/// argument in the error for anything else.
pub(crate) fn from_numpy(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<DynArray> {
    let found = None
        .or_else(|| take::<f32>(obj).map(DynArray::F32))
        .or_else(|| take::<f64>(obj).map(DynArray::F64))
        .or_else(|| take::<u8>(obj).map(DynArray::U8))
        .or_else(|| take::<i32>(obj).map(DynArray::I32))
        .or_else(|| take::<i16>(obj).map(DynArray::I16))
        .or_else(|| take::<u16>(obj).map(DynArray::U16))
        .or_else(|| take::<u32>(obj).map(DynArray::U32))
        .or_else(|| take::<i8>(obj).map(DynArray::I8));
    found.ok_or_else(|| {
        let shown = obj
            .getattr("dtype")
            .map(|d| d.to_string())
            .unwrap_or_else(|_| obj.get_type().to_string());
        raise(
            Kind::Value,
            format!(
                "{what}: expected a 2-D numpy array of uint8, int8, uint16, int16, uint32, \
                 int32, float32 or float64, got {shown} (ndim {})",
                obj.getattr("ndim")
                    .map(|n| n.to_string())
                    .unwrap_or_default()
            ),
        )
    })
}

/// A pixel type from GDAL's name (`Float32`, `Byte`, `Int8`, ...).
pub(crate) fn datatype(name: &str) -> PyResult<DataType> {
    name.parse::<DataType>()
        .map_err(|e| raise(Kind::Value, format!("pixel type {name:?}: {e}")))
}
