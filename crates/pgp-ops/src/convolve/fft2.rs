//! Two-dimensional real-to-complex FFTs on row-major buffers: realfft's 1-D transforms along the
//! rows (half the work of a complex transform, and only `nc / 2 + 1` columns of spectrum to carry),
//! rustfft's complex ones down the columns.
//!
//! Spectra are kept *transposed* (column-major, `nc / 2 + 1` rows of `nr`), which saves the
//! transpose back after the column transforms: a convolution only multiplies spectra
//! elementwise, so their layout does not matter as long as the signal's and the kernel's agree.

use std::sync::Arc;

use realfft::{ComplexToReal, FftError, RealFftPlanner, RealToComplex};
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

/// A complex sample.
pub(crate) type C64 = Complex<f64>;

/// Rows moved per pass between the row transforms and the transposed spectrum: enough that each
/// strided write or read touches a run of neighbouring values, few enough to stay in L1.
const ROW_BATCH: usize = 8;

/// Plans for one `nr` x `nc` transform size.
pub(crate) struct Fft2 {
    nr: usize,
    nc: usize,
    row_fwd: Arc<dyn RealToComplex<f64>>,
    row_inv: Arc<dyn ComplexToReal<f64>>,
    col_fwd: Arc<dyn Fft<f64>>,
    col_inv: Arc<dyn Fft<f64>>,
}

impl Fft2 {
    pub(crate) fn new(nr: usize, nc: usize) -> Fft2 {
        let mut real = RealFftPlanner::<f64>::new();
        let mut complex = FftPlanner::<f64>::new();
        Fft2 {
            nr,
            nc,
            row_fwd: real.plan_fft_forward(nc),
            row_inv: real.plan_fft_inverse(nc),
            col_fwd: complex.plan_fft_forward(nr),
            col_inv: complex.plan_fft_inverse(nr),
        }
    }

    /// `(rows, cols)` of the transform.
    pub(crate) fn shape(&self) -> (usize, usize) {
        (self.nr, self.nc)
    }

    /// Spectrum columns: the row transforms of real data keep `nc / 2 + 1` of their `nc` outputs
    /// (the rest are their mirror images).
    fn half_cols(&self) -> usize {
        self.nc / 2 + 1
    }

    fn scratch_len(&self) -> usize {
        [
            self.row_fwd.get_scratch_len(),
            self.row_inv.get_scratch_len(),
            self.col_fwd.get_inplace_scratch_len(),
            self.col_inv.get_inplace_scratch_len(),
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }

    /// Forward transform of `data` (row-major `live_rows` x `nc`; the rows below, up to `nr`, are
    /// zeros). `data` is used as scratch and left unspecified. Returns the spectrum in transposed
    /// layout.
    pub(crate) fn forward(&self, data: &mut [f64], live_rows: usize) -> Result<Vec<C64>, FftError> {
        let mut t = Vec::new();
        self.forward_into(data, live_rows, &mut t, &mut FftBuffers::default())?;
        Ok(t)
    }

    /// [`Fft2::forward`] into `t`, with `buffers` for the transforms' scratch: buffers reused
    /// from tile to tile save a fresh (page-faulted, zeroed) allocation of each per tile.
    pub(crate) fn forward_into(
        &self,
        data: &mut [f64],
        live_rows: usize,
        t: &mut Vec<C64>,
        buffers: &mut FftBuffers,
    ) -> Result<(), FftError> {
        let (nr, nc, hc) = (self.nr, self.nc, self.half_cols());
        let live = live_rows.min(nr);
        let (scratch, batch) = buffers.sized(self.scratch_len(), ROW_BATCH * hc);
        t.resize(nr * hc, C64::default());
        for r0 in (0..live).step_by(ROW_BATCH) {
            let rows = (live - r0).min(ROW_BATCH);
            for k in 0..rows {
                let r = r0 + k;
                self.row_fwd.process_with_scratch(
                    &mut data[r * nc..(r + 1) * nc],
                    &mut batch[k * hc..(k + 1) * hc],
                    scratch,
                )?;
            }
            for j in 0..hc {
                let dst = &mut t[j * nr + r0..j * nr + r0 + rows];
                for (k, d) in dst.iter_mut().enumerate() {
                    *d = batch[k * hc + j];
                }
            }
        }
        // The rows below the live ones are zeros (a reused buffer holds an earlier tile's).
        for column in t.chunks_mut(nr) {
            column[live..].fill(C64::default());
        }
        self.col_fwd.process_with_scratch(t, scratch);
        Ok(())
    }

    /// Inverse of [`Fft2::forward`] (unnormalised, like rustfft): takes a transposed spectrum of
    /// real data and returns rows `first_row .. first_row + n_rows` of the row-major result.
    #[cfg(test)]
    pub(crate) fn inverse_rows(
        &self,
        spectrum: &mut [C64],
        first_row: usize,
        n_rows: usize,
    ) -> Result<Vec<f64>, FftError> {
        let mut out = Vec::new();
        self.inverse_rows_into(
            spectrum,
            first_row,
            n_rows,
            &mut out,
            &mut FftBuffers::default(),
        )?;
        Ok(out)
    }

    /// [`Fft2::inverse_rows`] into `out`, with `buffers` for the transforms' scratch.
    pub(crate) fn inverse_rows_into(
        &self,
        spectrum: &mut [C64],
        first_row: usize,
        n_rows: usize,
        out: &mut Vec<f64>,
        buffers: &mut FftBuffers,
    ) -> Result<(), FftError> {
        let (nr, nc, hc) = (self.nr, self.nc, self.half_cols());
        let (scratch, batch) = buffers.sized(self.scratch_len(), ROW_BATCH * hc);
        self.col_inv.process_with_scratch(spectrum, scratch);
        // Every value is written by the row transforms below.
        out.resize(n_rows * nc, 0.0);
        for k0 in (0..n_rows).step_by(ROW_BATCH) {
            let rows = (n_rows - k0).min(ROW_BATCH);
            for j in 0..hc {
                let at = j * nr + first_row + k0;
                for (k, &v) in spectrum[at..at + rows].iter().enumerate() {
                    batch[k * hc + j] = v;
                }
            }
            for k in 0..rows {
                let row = &mut batch[k * hc..(k + 1) * hc];
                // The DC term (and for even lengths the Nyquist term) of a real signal's row
                // spectrum is real; after the column transforms it carries round-off only.
                row[0].im = 0.0;
                if nc % 2 == 0 {
                    row[hc - 1].im = 0.0;
                }
                let r = k0 + k;
                self.row_inv
                    .process_with_scratch(row, &mut out[r * nc..(r + 1) * nc], scratch)?;
            }
        }
        Ok(())
    }
}

/// The transforms' working buffers, kept between calls.
#[derive(Default)]
pub(crate) struct FftBuffers {
    scratch: Vec<C64>,
    batch: Vec<C64>,
}

impl FftBuffers {
    /// The scratch and row-batch buffers, at least `scratch` and exactly `batch` long.
    fn sized(&mut self, scratch: usize, batch: usize) -> (&mut [C64], &mut [C64]) {
        if self.scratch.len() < scratch {
            self.scratch.resize(scratch, C64::default());
        }
        self.batch.resize(batch, C64::default());
        (&mut self.scratch[..scratch], &mut self.batch[..])
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
        // Odd and even row lengths (the Nyquist column exists only for even ones), and more
        // live rows than one batch.
        for (nr, nc, live) in [(12, 10, 11), (15, 9, 9), (6, 1, 4)] {
            let f = Fft2::new(nr, nc);
            let orig: Vec<f64> = (0..nr * nc)
                .map(|i| {
                    if i / nc < live {
                        (i as f64 * 0.37).sin() * 10.0 - i as f64
                    } else {
                        0.0
                    }
                })
                .collect();
            let mut data = orig[..live * nc].to_vec();
            let mut spec = f.forward(&mut data, live).unwrap();
            assert_eq!(spec.len(), (nc / 2 + 1) * nr);
            let back = f.inverse_rows(&mut spec, 2, nr - 3).unwrap();
            let n = (nr * nc) as f64;
            for (a, b) in orig[2 * nc..(nr - 1) * nc].iter().zip(&back) {
                assert!((a - b / n).abs() < 1e-9, "{nr}x{nc}: {a} vs {}", b / n);
            }
        }
    }

    #[test]
    fn spectrum_matches_a_direct_dft() {
        let (nr, nc) = (5, 6);
        let f = Fft2::new(nr, nc);
        let x: Vec<f64> = (0..nr * nc).map(|i| ((i * 7) % 11) as f64 - 3.0).collect();
        let spec = f.forward(&mut x.clone(), nr).unwrap();
        for u in 0..nr {
            for v in 0..nc / 2 + 1 {
                let mut want = C64::default();
                for r in 0..nr {
                    for c in 0..nc {
                        let phase = -2.0
                            * std::f64::consts::PI
                            * ((u * r) as f64 / nr as f64 + (v * c) as f64 / nc as f64);
                        want += C64::from_polar(x[r * nc + c], phase);
                    }
                }
                let got = spec[v * nr + u];
                assert!((got - want).norm() < 1e-9, "({u},{v}): {got} vs {want}");
            }
        }
    }
}
