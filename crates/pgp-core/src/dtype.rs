//! Pixel types: the runtime [`DataType`] and the compile-time [`Pixel`] trait.

use std::fmt;
use std::str::FromStr;

use gdal::raster::{GdalDataType, GdalType};
use serde::{Deserialize, Serialize};

/// The pixel types pgp reads and writes.
///
/// GDAL 3.6 has no native signed 8-bit type: [`DataType::I8`] is stored as a `Byte` band with the
/// `PIXELTYPE=SIGNEDBYTE` creation option, which is how GDAL itself (and pygeoprocessing) spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DataType {
    /// Unsigned 8-bit integer (GDAL `Byte`).
    U8,
    /// Signed 8-bit integer (GDAL `Byte` + `PIXELTYPE=SIGNEDBYTE`).
    I8,
    /// Unsigned 16-bit integer.
    U16,
    /// Signed 16-bit integer.
    I16,
    /// Unsigned 32-bit integer.
    U32,
    /// Signed 32-bit integer.
    I32,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl DataType {
    /// Every supported type, narrowest first.
    pub const ALL: [DataType; 8] = [
        DataType::U8,
        DataType::I8,
        DataType::U16,
        DataType::I16,
        DataType::U32,
        DataType::I32,
        DataType::F32,
        DataType::F64,
    ];

    /// GDAL's name for the type (`Byte`, `Int16`, `Float32`, ...). `I8` reports `Int8`.
    pub fn gdal_name(self) -> &'static str {
        match self {
            DataType::U8 => "Byte",
            DataType::I8 => "Int8",
            DataType::U16 => "UInt16",
            DataType::I16 => "Int16",
            DataType::U32 => "UInt32",
            DataType::I32 => "Int32",
            DataType::F32 => "Float32",
            DataType::F64 => "Float64",
        }
    }

    /// Bytes per pixel.
    pub fn size_bytes(self) -> usize {
        match self {
            DataType::U8 | DataType::I8 => 1,
            DataType::U16 | DataType::I16 => 2,
            DataType::U32 | DataType::I32 | DataType::F32 => 4,
            DataType::F64 => 8,
        }
    }

    /// True for `F32` and `F64`.
    pub fn is_float(self) -> bool {
        matches!(self, DataType::F32 | DataType::F64)
    }

    /// The smallest and largest values of the type, as `f64`.
    pub fn range(self) -> (f64, f64) {
        match self {
            DataType::U8 => (0.0, u8::MAX as f64),
            DataType::I8 => (i8::MIN as f64, i8::MAX as f64),
            DataType::U16 => (0.0, u16::MAX as f64),
            DataType::I16 => (i16::MIN as f64, i16::MAX as f64),
            DataType::U32 => (0.0, u32::MAX as f64),
            DataType::I32 => (i32::MIN as f64, i32::MAX as f64),
            DataType::F32 => (f32::MIN as f64, f32::MAX as f64),
            DataType::F64 => (f64::MIN, f64::MAX),
        }
    }

    /// pygeoprocessing's `choose_nodata`: the type's maximum.
    pub fn default_nodata(self) -> f64 {
        self.range().1
    }

    /// The narrowest type that holds every value of both (numpy's `result_type` rules).
    pub fn promote(self, other: DataType) -> DataType {
        use DataType::*;
        if self == other {
            return self;
        }
        let (a, b) = if self <= other {
            (self, other)
        } else {
            (other, self)
        };
        match (a, b) {
            (_, F64) => F64,
            (U8 | I8 | U16 | I16, F32) => F32,
            (U32 | I32, F32) => F64,
            (U8, I8) => I16,
            (U8, _) => b,
            (I8, I16) => I16,
            (I8, U16 | I32) | (U16, I16 | I32) | (I16, I32) => I32,
            (U16, U32) => U32,
            // numpy would pick int64, which GDAL 3.6 rasters do not carry: f64 holds both exactly.
            _ => F64,
        }
    }

    pub(crate) fn from_gdal(t: GdalDataType, signed_byte: bool) -> Option<DataType> {
        Some(match t {
            GdalDataType::UInt8 if signed_byte => DataType::I8,
            GdalDataType::UInt8 => DataType::U8,
            GdalDataType::UInt16 => DataType::U16,
            GdalDataType::Int16 => DataType::I16,
            GdalDataType::UInt32 => DataType::U32,
            GdalDataType::Int32 => DataType::I32,
            GdalDataType::Float32 => DataType::F32,
            GdalDataType::Float64 => DataType::F64,
            _ => return None,
        })
    }

    pub(crate) fn to_gdal(self) -> GdalDataType {
        match self {
            DataType::U8 | DataType::I8 => GdalDataType::UInt8,
            DataType::U16 => GdalDataType::UInt16,
            DataType::I16 => GdalDataType::Int16,
            DataType::U32 => GdalDataType::UInt32,
            DataType::I32 => GdalDataType::Int32,
            DataType::F32 => GdalDataType::Float32,
            DataType::F64 => GdalDataType::Float64,
        }
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.gdal_name())
    }
}

impl FromStr for DataType {
    type Err = crate::Error;

    /// Accepts GDAL names (`Float32`) and short names (`f32`, `uint8`, `int16`), any case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = match s.to_ascii_lowercase().as_str() {
            "byte" | "uint8" | "u8" => DataType::U8,
            "int8" | "i8" => DataType::I8,
            "uint16" | "u16" => DataType::U16,
            "int16" | "i16" => DataType::I16,
            "uint32" | "u32" => DataType::U32,
            "int32" | "i32" => DataType::I32,
            "float32" | "f32" => DataType::F32,
            "float64" | "f64" => DataType::F64,
            _ => {
                return Err(crate::Error::invalid(
                    "datatype",
                    format!(
                        "`{s}` is not a pixel type (use one of Byte, Int8, UInt16, Int16, UInt32, Int32, Float32, Float64)"
                    ),
                ))
            }
        };
        Ok(t)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A pixel value type: `u8, i8, u16, i16, u32, i32, f32, f64`.
///
/// `Storage` is the type GDAL moves for it (the same type, except `i8`, which GDAL 3.6 moves as
/// bytes); the two always have the same size and layout.
pub trait Pixel:
    sealed::Sealed + Copy + PartialEq + PartialOrd + Send + Sync + fmt::Debug + Default + 'static
{
    /// The runtime type tag.
    const DATA_TYPE: DataType;
    /// The type GDAL reads and writes for this pixel type.
    type Storage: GdalType + Copy;
    /// Widen to `f64` (exact for every type but very large `u32`/`i32`, which still are exact).
    fn to_f64(self) -> f64;
    /// Convert from `f64` with Rust's saturating `as` rules (NaN becomes 0 for integers).
    fn from_f64(v: f64) -> Self;
    /// True for NaN (always false for integers).
    fn is_nan(self) -> bool;
    /// Reinterpret a storage buffer as pixels, without copying.
    fn from_storage_vec(v: Vec<Self::Storage>) -> Vec<Self>;
    /// Reinterpret a pixel buffer as storage, without copying.
    fn into_storage_vec(v: Vec<Self>) -> Vec<Self::Storage>;
    /// Reinterpret pixels as storage, without copying.
    fn as_storage_slice(v: &[Self]) -> &[Self::Storage];
    /// Reinterpret pixels as mutable storage, without copying.
    fn as_storage_slice_mut(v: &mut [Self]) -> &mut [Self::Storage];
}

macro_rules! pixel_same_storage {
    ($t:ty, $dt:expr, $is_nan:expr) => {
        impl sealed::Sealed for $t {}
        impl Pixel for $t {
            const DATA_TYPE: DataType = $dt;
            type Storage = $t;
            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline]
            fn is_nan(self) -> bool {
                let f: fn($t) -> bool = $is_nan;
                f(self)
            }
            fn from_storage_vec(v: Vec<$t>) -> Vec<$t> {
                v
            }
            fn into_storage_vec(v: Vec<$t>) -> Vec<$t> {
                v
            }
            fn as_storage_slice(v: &[$t]) -> &[$t] {
                v
            }
            fn as_storage_slice_mut(v: &mut [$t]) -> &mut [$t] {
                v
            }
        }
    };
}

pixel_same_storage!(u8, DataType::U8, |_| false);
pixel_same_storage!(u16, DataType::U16, |_| false);
pixel_same_storage!(i16, DataType::I16, |_| false);
pixel_same_storage!(u32, DataType::U32, |_| false);
pixel_same_storage!(i32, DataType::I32, |_| false);
pixel_same_storage!(f32, DataType::F32, |v| v.is_nan());
pixel_same_storage!(f64, DataType::F64, |v| v.is_nan());

impl sealed::Sealed for i8 {}
impl Pixel for i8 {
    const DATA_TYPE: DataType = DataType::I8;
    type Storage = u8;
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as i8
    }
    #[inline]
    fn is_nan(self) -> bool {
        false
    }
    fn from_storage_vec(v: Vec<u8>) -> Vec<i8> {
        // u8 and i8 have the same size and alignment; every bit pattern is valid in both.
        let mut v = std::mem::ManuallyDrop::new(v);
        let (ptr, len, cap) = (v.as_mut_ptr(), v.len(), v.capacity());
        // SAFETY: same layout, ownership moves from the ManuallyDrop'd vector.
        unsafe { Vec::from_raw_parts(ptr.cast::<i8>(), len, cap) }
    }
    fn into_storage_vec(v: Vec<i8>) -> Vec<u8> {
        let mut v = std::mem::ManuallyDrop::new(v);
        let (ptr, len, cap) = (v.as_mut_ptr(), v.len(), v.capacity());
        // SAFETY: same layout, ownership moves from the ManuallyDrop'd vector.
        unsafe { Vec::from_raw_parts(ptr.cast::<u8>(), len, cap) }
    }
    fn as_storage_slice(v: &[i8]) -> &[u8] {
        // SAFETY: same size, alignment and validity.
        unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), v.len()) }
    }
    fn as_storage_slice_mut(v: &mut [i8]) -> &mut [u8] {
        // SAFETY: same size, alignment and validity.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), v.len()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for t in DataType::ALL {
            assert_eq!(t.gdal_name().parse::<DataType>().unwrap(), t);
        }
        let err = "complex64".parse::<DataType>().unwrap_err().to_string();
        assert!(err.contains("complex64"), "{err}");
    }

    #[test]
    fn promotion_follows_numpy() {
        use DataType::*;
        assert_eq!(U8.promote(I8), I16);
        assert_eq!(U8.promote(F32), F32);
        assert_eq!(I32.promote(F32), F64);
        assert_eq!(U16.promote(I16), I32);
        assert_eq!(U32.promote(I32), F64);
        assert_eq!(I16.promote(U8), I16);
        for a in DataType::ALL {
            for b in DataType::ALL {
                assert_eq!(a.promote(b), b.promote(a), "{a} {b}");
                let p = a.promote(b);
                let (lo, hi) = p.range();
                assert!(lo <= a.range().0 && hi >= a.range().1, "{a} {b} -> {p}");
                assert!(lo <= b.range().0 && hi >= b.range().1, "{a} {b} -> {p}");
            }
        }
    }

    #[test]
    fn i8_storage_roundtrip() {
        let v: Vec<u8> = vec![0, 1, 127, 128, 255];
        let p = i8::from_storage_vec(v);
        assert_eq!(p, vec![0, 1, 127, -128, -1]);
        assert_eq!(i8::as_storage_slice(&p), &[0u8, 1, 127, 128, 255]);
    }
}
