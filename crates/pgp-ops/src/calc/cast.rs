//! Converting computed blocks to the target pixel type the way GDAL does when an array of one
//! type is written to a band of another (pygeoprocessing's `WriteArray`): floats round half away
//! from zero into integers (the half added in the source precision), out-of-range values clamp,
//! NaN becomes 0 (except float32 to int32: `i32::MIN`, as GDAL 3.6 does); float to float and
//! integer to float are plain conversions. Checked against GDAL 3.6's `WriteArray`.

use std::any::Any;

use ndarray::{Array2, ArrayView2};
use pgp_core::{with_pixel_type, DataType, DynArray, Pixel};

/// One value of type `S` to `T` with GDAL's rules.
#[inline(always)]
pub(crate) fn gdal_convert<S: Pixel, T: Pixel>(v: S) -> T {
    match (S::DATA_TYPE, T::DATA_TYPE.is_float()) {
        // GDAL adds or subtracts one half in the source precision, then clamps and truncates.
        (DataType::F32, false) => {
            let f = f32::from_f64(v.to_f64());
            if f.is_nan() && T::DATA_TYPE == DataType::I32 {
                // GDAL 3.6's float32 -> int32 path (SSE truncation) turns NaN into INT_MIN.
                return T::from_f64(f64::from(i32::MIN));
            }
            let r = if f >= 0.0 { f + 0.5 } else { f - 0.5 };
            T::from_f64(f64::from(r))
        }
        (DataType::F64, false) => {
            let f = v.to_f64();
            T::from_f64(if f >= 0.0 { f + 0.5 } else { f - 0.5 })
        }
        // Integer to integer clamps; anything to float converts (rounding to nearest).
        _ => T::from_f64(v.to_f64()),
    }
}

/// `data` (float64 results) as `target` the way numpy casts them when pygeoprocessing's
/// `raster_map` fills its result array, for every value the type holds: integers truncate toward
/// zero, floats round to nearest. A value an integer type cannot hold once truncated (out of
/// range, NaN, infinite) is `Err(value)`: numpy would wrap it (270 into Byte gives 14) or give an
/// arbitrary number, GDAL would clamp it, and either writes a wrong value that looks like data
/// (or like nodata, the type's maximum by default).
pub(crate) fn truncate_checked(
    data: Array2<f64>,
    target: DataType,
) -> std::result::Result<DynArray, f64> {
    if target == DataType::F64 {
        return Ok(data.into());
    }
    if target.is_float() {
        return Ok(data.mapv(|v| v as f32).into());
    }
    let (lo, hi) = target.range();
    if let Some(&bad) = data.iter().find(|v| !(v.trunc() >= lo && v.trunc() <= hi)) {
        return Err(bad);
    }
    with_pixel_type!(target, T => Ok(data.mapv(|v| T::from_f64(v.trunc())).into()))
}

fn convert_array<S: Pixel, T: Pixel>(a: ArrayView2<'_, S>) -> Array2<T> {
    a.mapv(gdal_convert::<S, T>)
}

/// A typed view of a [`DynArray`], when it holds `T`.
pub(crate) fn view_of<T: Pixel>(d: &DynArray) -> Option<ArrayView2<'_, T>> {
    let any: &dyn Any = match d {
        DynArray::U8(a) => a,
        DynArray::I8(a) => a,
        DynArray::U16(a) => a,
        DynArray::I16(a) => a,
        DynArray::U32(a) => a,
        DynArray::I32(a) => a,
        DynArray::F32(a) => a,
        DynArray::F64(a) => a,
    };
    any.downcast_ref::<Array2<T>>().map(|a| a.view())
}

/// `data` as `target`, converted with GDAL's rules (moved, not copied, when already `target`).
pub(crate) fn to_type(data: DynArray, target: DataType) -> DynArray {
    if data.data_type() == target {
        return data;
    }
    with_pixel_type!(target, T => {
        let out: Array2<T> = match &data {
            DynArray::U8(a) => convert_array(a.view()),
            DynArray::I8(a) => convert_array(a.view()),
            DynArray::U16(a) => convert_array(a.view()),
            DynArray::I16(a) => convert_array(a.view()),
            DynArray::U32(a) => convert_array(a.view()),
            DynArray::I32(a) => convert_array(a.view()),
            DynArray::F32(a) => convert_array(a.view()),
            DynArray::F64(a) => convert_array(a.view()),
        };
        out.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn raster_map_results_truncate_like_numpy_and_refuse_what_does_not_fit() {
        let a = array![[2.9, -14.5, -0.5, 255.7, 0.0]];
        assert_eq!(
            truncate_checked(a.clone(), DataType::I16),
            Ok(DynArray::I16(array![[2i16, -14, 0, 255, 0]]))
        );
        assert_eq!(
            truncate_checked(array![[255.7, -0.9]], DataType::U8),
            Ok(DynArray::U8(array![[255u8, 0]]))
        );
        assert_eq!(
            truncate_checked(array![[1.0, 270.0]], DataType::U8),
            Err(270.0)
        );
        assert_eq!(truncate_checked(array![[-1.0]], DataType::U8), Err(-1.0));
        assert!(truncate_checked(array![[f64::NAN]], DataType::I32)
            .unwrap_err()
            .is_nan());
        assert_eq!(
            truncate_checked(array![[f64::INFINITY]], DataType::I16),
            Err(f64::INFINITY)
        );
        assert_eq!(
            truncate_checked(a, DataType::F32),
            Ok(DynArray::F32(array![[2.9f32, -14.5, -0.5, 255.7, 0.0]]))
        );
    }

    #[test]
    fn floats_round_half_away_and_clamp_like_gdal() {
        let a: DynArray = array![[0.5f64, 1.49, -0.5, -1.5, 300.0, -3.0, f64::NAN]].into();
        assert_eq!(
            to_type(a.clone(), DataType::U8),
            DynArray::U8(array![[1u8, 1, 0, 0, 255, 0, 0]])
        );
        assert_eq!(
            to_type(a, DataType::I16),
            DynArray::I16(array![[1i16, 1, -1, -2, 300, -3, 0]])
        );
        // float32 sources round in float32, as GDAL does.
        let big: DynArray = array![[16_777_215.0f32]].into();
        assert_eq!(
            to_type(big, DataType::I32),
            DynArray::I32(array![[16_777_216]])
        );
        let nan: DynArray = array![[f32::NAN]].into();
        assert_eq!(
            to_type(nan, DataType::I32),
            DynArray::I32(array![[i32::MIN]])
        );
        let nan: DynArray = array![[f64::NAN]].into();
        assert_eq!(to_type(nan, DataType::I32), DynArray::I32(array![[0]]));
        let ints: DynArray = array![[-5i32, 70_000]].into();
        assert_eq!(
            to_type(ints, DataType::U16),
            DynArray::U16(array![[0u16, 65535]])
        );
        let same: DynArray = array![[1.25f32]].into();
        assert_eq!(to_type(same.clone(), DataType::F32), same);
        assert_eq!(view_of::<f32>(&same).unwrap()[[0, 0]], 1.25f32);
        assert!(view_of::<f64>(&same).is_none());
    }
}
