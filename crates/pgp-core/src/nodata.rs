//! Nodata tests that get the hard cases right.
//!
//! The rules, which every pgp operation follows:
//! - no nodata value set: no pixel is nodata (NaN pixels are data, and stay NaN through arithmetic);
//! - NaN nodata: exactly the NaN pixels are nodata;
//! - a numeric nodata value is first converted to the band's type, the way GDAL itself stores it
//!   (a float32 band with nodata `-3.4028234663852886e38` holds `f32::MIN`), then compared exactly;
//! - a nodata value the band's type cannot hold (`300` on a byte band, `1.5` on an integer band)
//!   matches no pixel.
//!
//! pygeoprocessing compares floats with `numpy.isclose`, so values *near* nodata count as nodata
//! too; pgp does not, because a relative tolerance of 1e-5 swallows real data next to large
//! nodata values (e.g. 99999 next to nodata 100000).

use ndarray::{Array2, ArrayView2, Zip};

use crate::Pixel;

/// A band's nodata value, converted once to its pixel type for fast tests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Nodata<T: Pixel> {
    rule: Rule<T>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Rule<T> {
    Nothing,
    Nan,
    Value(T),
}

impl<T: Pixel> Nodata<T> {
    /// Build from the band's nodata (as GDAL reports it, a `f64`), or `None` when unset.
    pub fn new(nodata: Option<f64>) -> Nodata<T> {
        let rule = match nodata {
            None => Rule::Nothing,
            Some(v) if v.is_nan() => {
                if T::DATA_TYPE.is_float() {
                    Rule::Nan
                } else {
                    Rule::Nothing
                }
            }
            Some(v) => {
                let t = T::from_f64(v);
                let representable = if T::DATA_TYPE.is_float() {
                    // float32 rounds; anything finite in range is the value GDAL would store.
                    !t.is_nan() && t.to_f64().is_finite() == v.is_finite()
                } else {
                    t.to_f64() == v
                };
                if representable {
                    Rule::Value(t)
                } else {
                    Rule::Nothing
                }
            }
        };
        Nodata { rule }
    }

    /// True when `v` is nodata.
    #[inline]
    pub fn is_nodata(&self, v: T) -> bool {
        match self.rule {
            Rule::Nothing => false,
            Rule::Nan => v.is_nan(),
            Rule::Value(n) => v == n,
        }
    }

    /// True when some pixel can be nodata at all.
    pub fn is_set(&self) -> bool {
        !matches!(self.rule, Rule::Nothing)
    }

    /// The nodata value in the pixel type, if it has one (`NaN` for NaN nodata).
    pub fn value(&self) -> Option<T> {
        match self.rule {
            Rule::Nothing => None,
            Rule::Nan => Some(T::from_f64(f64::NAN)),
            Rule::Value(v) => Some(v),
        }
    }
}

/// A boolean mask, true where `array` is nodata.
pub fn nodata_mask<T: Pixel>(array: ArrayView2<'_, T>, nodata: Option<f64>) -> Array2<bool> {
    let nd = Nodata::<T>::new(nodata);
    array.map(|&v| nd.is_nodata(v))
}

/// A boolean mask, true where `array` holds valid data (the complement of [`nodata_mask`]).
pub fn valid_mask<T: Pixel>(array: ArrayView2<'_, T>, nodata: Option<f64>) -> Array2<bool> {
    let nd = Nodata::<T>::new(nodata);
    array.map(|&v| !nd.is_nodata(v))
}

/// Count the nodata pixels of `array`.
pub fn count_nodata<T: Pixel>(array: ArrayView2<'_, T>, nodata: Option<f64>) -> usize {
    let nd = Nodata::<T>::new(nodata);
    let mut n = 0usize;
    Zip::from(&array).for_each(|&v| n += usize::from(nd.is_nodata(v)));
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn no_nodata_matches_nothing_not_even_nan() {
        let a = array![[f32::NAN, 0.0, -9999.0]];
        assert_eq!(count_nodata(a.view(), None), 0);
    }

    #[test]
    fn nan_nodata_matches_only_nan() {
        let a = array![[f32::NAN, 0.0, -9999.0, f32::NAN]];
        assert_eq!(
            nodata_mask(a.view(), Some(f64::NAN)),
            array![[true, false, false, true]]
        );
        // NaN nodata on an integer band cannot match.
        let b = array![[0u8, 255]];
        assert_eq!(count_nodata(b.view(), Some(f64::NAN)), 0);
    }

    #[test]
    fn float32_data_with_float64_nodata() {
        // float32 min reported as f64 by GDAL, and a value that only exists after rounding to f32.
        let a = array![[f32::MIN, 0.1f32, 1.0]];
        assert_eq!(count_nodata(a.view(), Some(f32::MIN as f64)), 1);
        assert_eq!(
            nodata_mask(a.view(), Some(0.1f64)),
            array![[false, true, false]]
        );
    }

    #[test]
    fn exact_not_close() {
        let a = array![[99999.0f32, 100000.0]];
        assert_eq!(nodata_mask(a.view(), Some(100000.0)), array![[false, true]]);
    }

    #[test]
    fn unrepresentable_integer_nodata_matches_nothing() {
        let a = array![[44u8, 255, 0]];
        assert_eq!(count_nodata(a.view(), Some(300.0)), 0);
        assert_eq!(count_nodata(a.view(), Some(1.5)), 0);
        assert_eq!(count_nodata(a.view(), Some(-1.0)), 0);
        assert_eq!(count_nodata(a.view(), Some(255.0)), 1);
        let b = array![[-128i8, 5]];
        assert_eq!(count_nodata(b.view(), Some(-128.0)), 1);
    }
}
