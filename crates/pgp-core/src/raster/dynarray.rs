//! Runtime-typed pixel arrays, for code that learns the pixel type from the file.

use ndarray::Array2;

use crate::{DataType, Pixel};

/// Run a generic block of code with `$T` bound to the Rust type of a runtime [`DataType`].
///
/// ```
/// use pgp_core::{with_pixel_type, DataType, Pixel};
/// fn size_of(dt: DataType) -> usize {
///     with_pixel_type!(dt, T => std::mem::size_of::<T>())
/// }
/// assert_eq!(size_of(DataType::I16), 2);
/// assert_eq!(size_of(DataType::F64), 8);
/// ```
#[macro_export]
macro_rules! with_pixel_type {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::DataType::U8 => {
                type $T = u8;
                $body
            }
            $crate::DataType::I8 => {
                type $T = i8;
                $body
            }
            $crate::DataType::U16 => {
                type $T = u16;
                $body
            }
            $crate::DataType::I16 => {
                type $T = i16;
                $body
            }
            $crate::DataType::U32 => {
                type $T = u32;
                $body
            }
            $crate::DataType::I32 => {
                type $T = i32;
                $body
            }
            $crate::DataType::F32 => {
                type $T = f32;
                $body
            }
            $crate::DataType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}

/// A 2-D pixel array whose type is known only at run time (serialisable, for worker processes).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[allow(missing_docs)]
pub enum DynArray {
    U8(Array2<u8>),
    I8(Array2<i8>),
    U16(Array2<u16>),
    I16(Array2<i16>),
    U32(Array2<u32>),
    I32(Array2<i32>),
    F32(Array2<f32>),
    F64(Array2<f64>),
}

macro_rules! each {
    ($self:expr, $a:ident => $body:expr) => {
        match $self {
            DynArray::U8($a) => $body,
            DynArray::I8($a) => $body,
            DynArray::U16($a) => $body,
            DynArray::I16($a) => $body,
            DynArray::U32($a) => $body,
            DynArray::I32($a) => $body,
            DynArray::F32($a) => $body,
            DynArray::F64($a) => $body,
        }
    };
}

impl DynArray {
    /// The pixel type.
    pub fn data_type(&self) -> DataType {
        match self {
            DynArray::U8(_) => DataType::U8,
            DynArray::I8(_) => DataType::I8,
            DynArray::U16(_) => DataType::U16,
            DynArray::I16(_) => DataType::I16,
            DynArray::U32(_) => DataType::U32,
            DynArray::I32(_) => DataType::I32,
            DynArray::F32(_) => DataType::F32,
            DynArray::F64(_) => DataType::F64,
        }
    }

    /// `(rows, cols)`.
    pub fn shape(&self) -> (usize, usize) {
        each!(self, a => a.dim())
    }

    /// A zero-filled array of the given type and `(rows, cols)` shape.
    pub fn zeros(data_type: DataType, shape: (usize, usize)) -> DynArray {
        crate::with_pixel_type!(data_type, T => Array2::<T>::default(shape).into())
    }

    /// Convert every pixel to `T` with Rust's `as` rules (saturating; NaN to 0 for integers).
    pub fn cast<T: Pixel>(&self) -> Array2<T> {
        each!(self, a => a.mapv(|v| T::from_f64(v.to_f64())))
    }

    /// Every pixel widened to `f64` (exact for every supported type).
    pub fn to_f64(&self) -> Array2<f64> {
        self.cast::<f64>()
    }

    /// A typed view, if `T` is the array's type.
    pub fn view<T: Pixel>(&self) -> Option<ndarray::ArrayView2<'_, T>> {
        let any: &dyn std::any::Any = each!(self, a => a);
        any.downcast_ref::<Array2<T>>().map(|a| a.view())
    }

    /// A typed mutable view, if `T` is the array's type.
    pub fn view_mut<T: Pixel>(&mut self) -> Option<ndarray::ArrayViewMut2<'_, T>> {
        let any: &mut dyn std::any::Any = each!(self, a => a);
        any.downcast_mut::<Array2<T>>().map(|a| a.view_mut())
    }

    /// Take the typed array out, if `T` is the array's type.
    pub fn into_typed<T: Pixel>(self) -> Option<Array2<T>> {
        // Route through Any so one generic function serves all eight types.
        let boxed: Box<dyn std::any::Any> = each!(self, a => Box::new(a));
        boxed.downcast::<Array2<T>>().ok().map(|b| *b)
    }
}

macro_rules! from_typed {
    ($t:ty, $v:ident) => {
        impl From<Array2<$t>> for DynArray {
            fn from(a: Array2<$t>) -> DynArray {
                DynArray::$v(a)
            }
        }
    };
}
from_typed!(u8, U8);
from_typed!(i8, I8);
from_typed!(u16, U16);
from_typed!(i16, I16);
from_typed!(u32, U32);
from_typed!(i32, I32);
from_typed!(f32, F32);
from_typed!(f64, F64);

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn cast_and_into_typed() {
        let d: DynArray = array![[-1i16, 300]].into();
        assert_eq!(d.data_type(), DataType::I16);
        assert_eq!(d.cast::<u8>(), array![[0u8, 255]]);
        assert_eq!(d.to_f64(), array![[-1.0, 300.0]]);
        assert!(d.clone().into_typed::<u8>().is_none());
        assert_eq!(d.into_typed::<i16>().unwrap(), array![[-1i16, 300]]);
        let z = DynArray::zeros(DataType::F32, (2, 3));
        assert_eq!(z.shape(), (2, 3));
    }
}
