//! Band statistics accumulated block by block.
//!
//! Each block gets exact two-pass moments (computed wherever the block is computed, in
//! parallel); blocks merge with Chan et al.'s pairwise formula in block order on the writer, so
//! the result is the same whatever the executor and worker count.

use ndarray::ArrayView2;
use pgp_core::{BandStatistics, Nodata, Pixel};
use serde::{Deserialize, Serialize};

/// Count, mean, sum of squared deviations, minimum and maximum of some values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Moments {
    /// Number of values.
    pub count: u64,
    /// Their mean (0 when empty).
    pub mean: f64,
    /// Sum of squared deviations from the mean.
    pub m2: f64,
    /// Smallest value (`+inf` when empty).
    pub min: f64,
    /// Largest value (`-inf` when empty).
    pub max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    /// Moments of the pixels of `block` that are not nodata (by pgp's nodata rule) and not NaN.
    pub fn of_block<T: Pixel>(block: ArrayView2<'_, T>, nodata: Option<f64>) -> Moments {
        match block.as_slice() {
            Some(values) => Moments::of_values(values, nodata),
            None => Moments::of_values(&block.iter().copied().collect::<Vec<T>>(), nodata),
        }
    }

    /// Moments of the values that are not nodata and not NaN (two passes: exact mean first).
    pub fn of_values<T: Pixel>(values: &[T], nodata: Option<f64>) -> Moments {
        let nd = Nodata::<T>::new(nodata);
        let valid = |v: T| !nd.is_nodata(v) && !v.is_nan();
        let mut count = 0u64;
        let mut sum = 0.0f64;
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for &v in values {
            if valid(v) {
                let x = v.to_f64();
                count += 1;
                sum += x;
                min = min.min(x);
                max = max.max(x);
            }
        }
        if count == 0 {
            return Moments::default();
        }
        let mean = sum / count as f64;
        let mut m2 = 0.0f64;
        for &v in values {
            if valid(v) {
                let d = v.to_f64() - mean;
                m2 += d * d;
            }
        }
        Moments {
            count,
            mean,
            m2,
            min,
            max,
        }
    }

    /// Fold `other` into `self` (Chan et al.).
    pub fn merge(&mut self, other: &Moments) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let na = self.count as f64;
        let nb = other.count as f64;
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// GDAL band statistics (population standard deviation), `None` when no value was seen.
    pub fn statistics(&self) -> Option<BandStatistics> {
        (self.count > 0).then(|| BandStatistics {
            min: self.min,
            max: self.max,
            mean: self.mean,
            std_dev: (self.m2 / self.count as f64).sqrt(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};
    use proptest::prelude::*;

    #[test]
    fn skips_nodata_and_nan() {
        let a = array![[1.0f32, -9999.0, f32::NAN], [3.0, 5.0, 7.0]];
        let m = Moments::of_block(a.view(), Some(-9999.0));
        assert_eq!(m.count, 4);
        assert_eq!(m.mean, 4.0);
        assert_eq!(m.m2, 9.0 + 1.0 + 1.0 + 9.0);
        assert_eq!((m.min, m.max), (1.0, 7.0));
        let s = m.statistics().unwrap();
        assert_eq!(s.std_dev, 5.0f64.sqrt());
        let none = Moments::of_block(array![[255u8]].view(), Some(255.0));
        assert_eq!(none.statistics(), None);
    }

    proptest! {
        #[test]
        fn merging_blocks_matches_one_pass(values in prop::collection::vec(-1e6..1e6f64, 1..200), cut in 0usize..200) {
            let cut = cut.min(values.len());
            let whole = Moments::of_block(Array2::from_shape_vec((1, values.len()), values.clone()).unwrap().view(), None);
            let mut merged = Moments::default();
            for part in [&values[..cut], &values[cut..]] {
                let b = Array2::from_shape_vec((1, part.len()), part.to_vec()).unwrap();
                merged.merge(&Moments::of_block(b.view(), None));
            }
            prop_assert_eq!(merged.count, whole.count);
            prop_assert!((merged.mean - whole.mean).abs() <= 1e-9 * (1.0 + whole.mean.abs()));
            prop_assert!((merged.m2 - whole.m2).abs() <= 1e-9 * (1.0 + whole.m2));
            prop_assert_eq!((merged.min, merged.max), (whole.min, whole.max));
        }
    }
}
