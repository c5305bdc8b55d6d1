//! One output tile of a convolution by FFT (overlap-save).
//!
//! A tile reads its window of the signal grown by the kernel's reach (zeros beyond the raster),
//! convolves it with the kernel by one real-to-complex 2-D FFT of a fast size (the kernel's
//! spectrum is computed once per call), and keeps the part the circular wrap-around cannot touch.
//! With nodata normalisation the valid-pixel mask takes a second transform of its own.

use std::cell::RefCell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;

use ndarray::Array2;
use pgp_core::{with_pixel_type, DynArray, Nodata, Pixel, Raster, Window};
use serde::{Deserialize, Serialize};

use super::blocks::SignalBlocks;
use super::fft2::{fast_len, Fft2, FftBuffers, C64};
use crate::{Error, Result};

/// Largest kernel side `convolve_2d` takes: tiles grow with the kernel (about twice its size), and
/// a 2049-pixel kernel already needs transforms of about 6000 x 6000 points per tile.
pub const MAX_CONVOLVE_KERNEL_SIDE: usize = 2049;

/// Everything a tile needs besides its window; small and serialisable (the kernel travels by
/// path and digest, each worker process loads it once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ConvSpec {
    pub signal: PathBuf,
    pub signal_band: usize,
    pub signal_nodata: Option<f64>,
    pub kernel: PathBuf,
    pub kernel_band: usize,
    /// Digest of the prepared kernel values, to notice a kernel file changed under us.
    pub kernel_digest: u64,
    pub ignore_nodata_and_edges: bool,
    pub mask_nodata: bool,
    pub normalize_kernel: bool,
    pub set_tol_to_zero: Option<f64>,
    pub target_nodata: f64,
    /// The (unclipped) tile size the op steps by, `(cols, rows)`.
    pub tile: (usize, usize),
}

/// The kernel as convolved: nodata zeroed, normalised if asked, plus pygeoprocessing's kernel sum.
#[derive(Debug, Clone)]
pub(crate) struct KernelData {
    pub values: Array2<f64>,
    /// The sum pygeoprocessing scales by (nodata counted as 0 only with `ignore_nodata_and_edges`).
    pub sum: f64,
    /// Sum of absolute values (for the "mask is zero" tolerance).
    pub abs_sum: f64,
}

impl KernelData {
    pub(crate) fn load(
        path: &std::path::Path,
        band: usize,
        ignore_nodata: bool,
        normalize: bool,
    ) -> Result<KernelData> {
        let r = Raster::open(path)?;
        let (cols, rows) = r.size();
        if cols > MAX_CONVOLVE_KERNEL_SIDE || rows > MAX_CONVOLVE_KERNEL_SIDE {
            return Err(Error::invalid(
                "kernel",
                format!(
                    "{}: {cols} x {rows} pixels is larger than {} a side",
                    path.display(),
                    MAX_CONVOLVE_KERNEL_SIDE
                ),
            ));
        }
        let nodata = r.nodata(band)?;
        let dt = r.data_type(band)?;
        let (mut values, is_nodata) = with_pixel_type!(dt, T => {
            let nd = Nodata::<T>::new(nodata);
            let raw = r.read::<T>(band, Window::full(cols, rows))?;
            (raw.mapv(|v| v.to_f64()), raw.mapv(|v| nd.is_nodata(v)))
        });
        // pygeoprocessing always zeroes kernel nodata before convolving, but counts it in the
        // kernel sum unless nodata is being ignored.
        let mut sum = 0.0;
        for (v, &nd) in values.iter_mut().zip(is_nodata.iter()) {
            if !(nd && ignore_nodata) {
                sum += *v;
            }
            if nd {
                *v = 0.0;
            }
        }
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::invalid(
                "kernel",
                format!(
                    "{}: kernel values must be finite, found {bad}",
                    path.display()
                ),
            ));
        }
        if normalize {
            if sum == 0.0 || !sum.is_finite() {
                return Err(Error::invalid(
                    "normalize_kernel",
                    format!(
                        "{}: the kernel sums to {sum}, it cannot be normalised",
                        path.display()
                    ),
                ));
            }
            values.mapv_inplace(|v| v / sum);
        }
        let abs_sum = values.iter().map(|v| v.abs()).sum();
        Ok(KernelData {
            values,
            sum,
            abs_sum,
        })
    }

    pub(crate) fn digest(&self) -> u64 {
        let mut h = DefaultHasher::new();
        self.values.dim().hash(&mut h);
        for v in &self.values {
            v.to_bits().hash(&mut h);
        }
        self.sum.to_bits().hash(&mut h);
        h.finish()
    }
}

/// What a tile read from the signal: the clipped window in the band's own type, and where it
/// sits in the padded block (rows, columns).
pub(crate) struct TileRead {
    offset: (usize, usize),
    data: DynArray,
}

/// A spec with its kernel loaded and transformed: what tiles are computed from.
pub(crate) struct Prepared {
    pub spec: ConvSpec,
    kernel: KernelData,
    fft: Fft2,
    /// Kernel spectrum (transposed layout), pre-scaled by 1 / (nr * nc).
    spectrum: Vec<C64>,
    /// The signal band's decoded blocks.
    blocks: SignalBlocks,
}

impl Prepared {
    pub(crate) fn new(spec: ConvSpec, kernel: KernelData) -> Result<Prepared> {
        let blocks = SignalBlocks::open(&spec.signal, spec.signal_band)?;
        let (kr, kc) = kernel.values.dim();
        let (tx, ty) = spec.tile;
        let nr = fast_len(ty + kr - 1);
        let nc = fast_len(tx + kc - 1);
        let fft = Fft2::new(nr, nc);
        let mut k = vec![0.0f64; kr * nc];
        for ((r, c), &v) in kernel.values.indexed_iter() {
            k[r * nc + c] = v;
        }
        let mut spectrum = fft.forward(&mut k, kr).map_err(transform_error)?;
        let scale = 1.0 / (nr * nc) as f64;
        spectrum.iter_mut().for_each(|v| *v *= scale);
        Ok(Prepared {
            spec,
            kernel,
            fft,
            spectrum,
            blocks,
        })
    }

    /// The spec with its kernel loaded from its file, which must still hold the kernel the call
    /// started with.
    pub(crate) fn load(spec: &ConvSpec) -> Result<Prepared> {
        let kernel = KernelData::load(
            &spec.kernel,
            spec.kernel_band,
            spec.ignore_nodata_and_edges,
            spec.normalize_kernel,
        )?;
        if kernel.digest() != spec.kernel_digest {
            return Err(Error::invalid(
                "kernel",
                format!(
                    "{} changed while the convolution was running",
                    spec.kernel.display()
                ),
            ));
        }
        Prepared::new(spec.clone(), kernel)
    }

    /// Reads the part of the raster `window` needs (the window grown by the kernel's reach,
    /// clipped to the raster), from the blocks the threads share.
    pub(crate) fn read(&self, window: Window) -> Result<TileRead> {
        let (kr, kc) = self.kernel.values.dim();
        let (cols, rows) = self.blocks.size();
        let (top, left) = (kr - 1 - kr / 2, kc - 1 - kc / 2);
        let (ph, pw) = (window.height + kr - 1, window.width + kc - 1);
        let y0 = window.y_off as isize - top as isize;
        let x0 = window.x_off as isize - left as isize;
        let ry0 = y0.max(0) as usize;
        let rx0 = x0.max(0) as usize;
        let ry1 = ((y0 + ph as isize) as usize).min(rows);
        let rx1 = ((x0 + pw as isize) as usize).min(cols);
        let read = Window::new(rx0, ry0, rx1 - rx0, ry1 - ry0);
        Ok(TileRead {
            offset: ((ry0 as isize - y0) as usize, (rx0 as isize - x0) as usize),
            data: self.blocks.read(read)?,
        })
    }

    /// The convolved values of `window` from what [`Prepared::read`] read for it.
    pub(crate) fn compute(&self, window: Window, input: TileRead) -> Result<Array2<f64>> {
        WORKSPACE.with(|work| {
            let work = &mut *work.borrow_mut();
            self.compute_in(window, input, work)
        })
    }

    /// [`Prepared::compute`] with this thread's reused buffers.
    fn compute_in(
        &self,
        window: Window,
        input: TileRead,
        work: &mut Workspace,
    ) -> Result<Array2<f64>> {
        let (kr, kc) = self.kernel.values.dim();
        // Output pixel (r, c) sums kernel[i][j] * signal[r - i + kr/2][c - j + kc/2]: it reaches
        // `top` rows up and `kr / 2` rows down (likewise for columns).
        let top = kr - 1 - kr / 2;
        let left = kc - 1 - kc / 2;
        let (h, w) = (window.height, window.width);
        // The padded input block, row-major with stride `pw`; zeros beyond the raster and in
        // place of nodata.
        let (ph, pw) = (h + kr - 1, w + kc - 1);
        let mut s = std::mem::take(&mut work.padded);
        s.clear();
        s.resize(ph * pw, 0.0);
        let mut valid = std::mem::take(&mut work.valid);
        valid.clear();
        valid.resize(ph * pw, false);
        let mut non_finite = Vec::new();
        let (oy, ox) = input.offset;
        let dt = input.data.data_type();
        with_pixel_type!(dt, T => {
            let nd = Nodata::<T>::new(self.spec.signal_nodata);
            let raw = input
                .data
                .into_typed::<T>()
                .ok_or_else(|| Error::invalid("signal", "pixel type changed between read and use"))?;
            for (r, row) in raw.rows().into_iter().enumerate() {
                let at = (r + oy) * pw + ox;
                for (c, &v) in row.iter().enumerate() {
                    if !nd.is_nodata(v) {
                        let x = v.to_f64();
                        valid[at + c] = true;
                        if x.is_finite() {
                            s[at + c] = x;
                        } else {
                            non_finite.push(at + c);
                        }
                    }
                }
            }
        });
        let mut out = self.convolve_real(&s, pw, h, w, work)?;
        let mut mask = Vec::new();
        if self.spec.ignore_nodata_and_edges {
            s.clear();
            s.extend(valid.iter().map(|&v| if v { 1.0 } else { 0.0 }));
            mask = self.convolve_real(&s, pw, h, w, work)?;
        }
        work.padded = s;
        let zero_band = self
            .spec
            .set_tol_to_zero
            .map(|tol| (tol, 1e-8 + 1e-5 * tol.abs()));
        // Below this the mask convolution is transform noise, not kernel weight.
        let mask_floor = 1e-10 * self.kernel.abs_sum;
        let rescale = if self.spec.normalize_kernel {
            1.0
        } else {
            self.kernel.sum
        };
        let masking = self.spec.mask_nodata && self.spec.signal_nodata.is_some();
        // The signal pixel under output pixel (r, c) sits at (r + top, c + left) of the padded block.
        let is_valid = |r: usize, c: usize| !masking || valid[(r + top) * pw + c + left];
        for r in 0..h {
            for c in 0..w {
                let v = &mut out[r * w + c];
                if !is_valid(r, c) {
                    *v = self.spec.target_nodata;
                    continue;
                }
                if let Some((tol, band)) = zero_band {
                    // numpy.isclose(x, tol): what pygeoprocessing zeroes as round-off.
                    if (*v - tol).abs() <= band {
                        *v = 0.0;
                    }
                }
                if let Some(&m) = mask.get(r * w + c) {
                    if m > mask_floor {
                        *v = *v / m * rescale;
                    }
                }
            }
        }
        // A NaN or infinite signal value poisons every output pixel whose kernel window covers it,
        // as a direct sum would (the transform would spread it over the whole tile instead).
        for k in non_finite {
            let (pr, pc) = (k / pw, k % pw);
            for r in pr.saturating_sub(kr - 1)..=pr.min(h - 1) {
                for c in pc.saturating_sub(kc - 1)..=pc.min(w - 1) {
                    if is_valid(r, c) {
                        out[r * w + c] = f64::NAN;
                    }
                }
            }
        }
        work.valid = valid;
        Array2::from_shape_vec((h, w), out).map_err(|e| Error::invalid("window", e.to_string()))
    }

    /// Convolves one padded block (`h + kr - 1` rows of stride `pw`) with the kernel: the
    /// `h` x `w` outputs, row-major, that the circular wrap-around cannot touch.
    fn convolve_real(
        &self,
        padded: &[f64],
        pw: usize,
        h: usize,
        w: usize,
        work: &mut Workspace,
    ) -> Result<Vec<f64>> {
        let (kr, kc) = self.kernel.values.dim();
        let (nr, nc) = self.fft.shape();
        let live = (h + kr - 1).min(nr);
        let z = &mut work.rows;
        z.clear();
        z.resize(live * nc, 0.0);
        for (dst, src) in z.chunks_mut(nc).zip(padded.chunks(pw)) {
            dst[..pw].copy_from_slice(src);
        }
        let spec = &mut work.spectrum;
        self.fft
            .forward_into(z, live, spec, &mut work.fft)
            .map_err(transform_error)?;
        for (x, k) in spec.iter_mut().zip(&self.spectrum) {
            *x *= k;
        }
        self.fft
            .inverse_rows_into(spec, kr - 1, h, z, &mut work.fft)
            .map_err(transform_error)?;
        let mut out = Vec::with_capacity(h * w);
        for row in z.chunks(nc) {
            out.extend_from_slice(&row[kc - 1..kc - 1 + w]);
        }
        Ok(out)
    }
}

/// One thread's buffers for its tiles, kept from tile to tile: a tile's transforms need a few
/// megabytes, and fresh allocations of that size come zeroed from the system page by page.
#[derive(Default)]
struct Workspace {
    /// The padded input block (then the valid-pixel mask, with nodata normalisation).
    padded: Vec<f64>,
    valid: Vec<bool>,
    /// Transform rows, in and out.
    rows: Vec<f64>,
    spectrum: Vec<C64>,
    fft: FftBuffers,
}

thread_local! {
    static WORKSPACE: RefCell<Workspace> = RefCell::new(Workspace::default());
}

/// The transforms' buffers are sized from their plans, so this names a bug, not bad input.
fn transform_error(e: realfft::FftError) -> Error {
    Error::invalid("kernel", format!("FFT of the convolution tile failed: {e}"))
}
