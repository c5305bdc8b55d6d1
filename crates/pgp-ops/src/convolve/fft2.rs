//! Two-dimensional complex FFTs on row-major buffers, built from rustfft's 1-D transforms.
//!
//! Spectra are kept *transposed* (column-major, `nc` rows of `nr`), which saves the transpose
//! back after the column transforms: a convolution only multiplies spectra elementwise, so their
//! layout does not matter as long as the signal's and the kernel's agree.

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// A complex sample.
pub(crate) type C64 = Complex<f64>;

/// Plans for one `nr` x `nc` transform size.
pub(crate) struct Fft2 {
    nr: usize,
    nc: usize,
    row_fwd: Arc<dyn Fft<f64>>,
    row_inv: Arc<dyn Fft<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
}

impl Fft2 {
    pub(crate) fn new(nr: usize, nc: usize) -> Fft2 {
        let mut planner = FftPlanner::<f64>::new();
        Fft2 {
            nr,
            nc,
            row_fwd: planner.plan_fft_forward(nc),
            row_inv: planner.plan_fft_inverse(nc),
            col_fwd: planner.plan_fft_forward(nr),
            col_inv: planner.plan_fft_inverse(nr),
        }
    }

    /// `(rows, cols)` of the transform.
    pub(crate) fn shape(&self) -> (usize, usize) {
        (self.nr, self.nc)
    }

    fn scratch_len(&self) -> usize {
        [&self.row_fwd, &self.row_inv, &self.col_fwd, &self.col_inv]
            .iter()
            .map(|f| f.get_inplace_scratch_len())
            .max()
            .unwrap_or(0)
    }

    /// Forward transform of `data` (row-major `nr` x `nc`, of which only the first `live_rows`
    /// rows may be non-zero; the rest is ignored and treated as zeros). Returns the spectrum in
    /// transposed layout.
    pub(crate) fn forward(&self, data: &mut [C64], live_rows: usize) -> Vec<C64> {
        let (nr, nc) = (self.nr, self.nc);
        let live = live_rows.min(nr);
        let mut scratch = vec![C64::default(); self.scratch_len()];
        if live > 0 {
            self.row_fwd
                .process_with_scratch(&mut data[..live * nc], &mut scratch);
        }
        let mut t = vec![C64::default(); nr * nc];
        transpose_into(&data[..live * nc], live, nc, &mut t, nr);
        self.col_fwd.process_with_scratch(&mut t, &mut scratch);
        t
    }

    /// Inverse of [`Fft2::forward`] (unnormalised, like rustfft): takes a transposed spectrum and
    /// returns rows `first_row .. first_row + n_rows` of the row-major result.
    pub(crate) fn inverse_rows(
        &self,
        spectrum: &mut [C64],
        first_row: usize,
        n_rows: usize,
    ) -> Vec<C64> {
        let (nr, nc) = (self.nr, self.nc);
        let mut scratch = vec![C64::default(); self.scratch_len()];
        self.col_inv.process_with_scratch(spectrum, &mut scratch);
        let mut rows = vec![C64::default(); n_rows * nc];
        for (k, row) in rows.chunks_mut(nc).enumerate() {
            let r = first_row + k;
            for (j, v) in row.iter_mut().enumerate() {
                *v = spectrum[j * nr + r];
            }
        }
        if n_rows > 0 {
            self.row_inv.process_with_scratch(&mut rows, &mut scratch);
        }
        rows
    }
}

/// Writes the transpose of row-major `src` (`rows` x `cols`) into `dst` laid out as `cols` rows
/// of `dst_stride`, leaving entries past `rows` in each destination row untouched (zeros).
fn transpose_into(src: &[C64], rows: usize, cols: usize, dst: &mut [C64], dst_stride: usize) {
    const TILE: usize = 32;
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    dst[c * dst_stride + r] = src[r * cols + c];
                }
            }
        }
    }
}

/// The smallest `n >= m` whose only prime factors are 2, 3 and 5 (fast FFT sizes).
pub(crate) fn fast_len(m: usize) -> usize {
    let m = m.max(1);
    let mut best = m.next_power_of_two();
    let mut p5 = 1;
    while p5 < best {
        let mut p35 = p5;
        while p35 < best {
            let mut n = p35;
            while n < m {
                n *= 2;
            }
            best = best.min(n);
            p35 *= 3;
        }
        p5 *= 5;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_lengths() {
        assert_eq!(fast_len(1), 1);
        assert_eq!(fast_len(286), 288);
        assert_eq!(fast_len(158), 160);
        assert_eq!(fast_len(257), 270);
        assert_eq!(fast_len(1024), 1024);
        let smooth = |mut k: usize| {
            for p in [2, 3, 5] {
                while k > 1 && k / p * p == k {
                    k /= p;
                }
            }
            k == 1
        };
        for m in 1..2000 {
            let n = fast_len(m);
            assert!(n >= m && smooth(n), "{m} -> {n}");
            assert!((m..n).all(|x| !smooth(x)), "{m} -> {n} skips a smaller one");
        }
    }

    #[test]
    fn forward_then_inverse_is_identity_times_n() {
        let (nr, nc) = (6, 10);
        let f = Fft2::new(nr, nc);
        let orig: Vec<C64> = (0..nr * nc)
            .map(|i| {
                if i / nc < 4 {
                    C64::new(i as f64, -(i as f64) * 0.5)
                } else {
                    C64::default()
                }
            })
            .collect();
        let mut data = orig.clone();
        let mut spec = f.forward(&mut data, 4);
        let back = f.inverse_rows(&mut spec, 0, nr);
        let n = (nr * nc) as f64;
        for (a, b) in orig.iter().zip(&back) {
            assert!((a - b / n).norm() < 1e-9);
        }
    }
}
