//! Two-dimensional convolution of a raster with a kernel raster (pygeoprocessing's
//! `convolve_2d`), by FFT over tiles with overlap.
//!
//! Semantics follow pygeoprocessing:
//! - output pixel `(r, c)` is `Σ kernel[i][j] · signal[r - i + kr/2][c - j + kc/2]` (a true
//!   convolution, kernel centred at `(kr/2, kc/2)`), with zeros beyond the raster edges and in
//!   place of signal nodata;
//! - `ignore_nodata_and_edges` divides by the same convolution of the valid-pixel mask (and
//!   multiplies by the kernel sum unless `normalize_kernel`), so edges and holes are not pulled
//!   toward 0; pixels whose kernel window holds no valid pixel keep the plain result;
//! - `mask_nodata` makes output nodata wherever the signal is nodata;
//! - `normalize_kernel` divides the kernel by its sum;
//! - results within `numpy.isclose(x, set_tol_to_zero)` become 0 (round-off clean-up);
//! - default output Float64 with nodata float32-min; another `target_datatype` needs a
//!   `target_nodata`. NaN nodata is nodata (pygeoprocessing #473).
//!
//! Differences: values are computed in float64 and written once (pygeoprocessing accumulates
//! block pairs through a float32 buffer, so its results carry float32 round-off); integer targets
//! are rounded once, to nearest. A NaN or infinite signal value that is not nodata makes the
//! output NaN where the kernel window covers it. Strip-organised rasters are accepted.
//!
//! Each output tile (a whole number of the signal's blocks) is one task on the executor; results
//! are written in tile order by the calling thread, so outputs are identical on every executor.

mod blocks;
mod fft2;
mod tile;

use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::{
    block_windows, with_pixel_type, DataType, DynArray, Pixel, Raster, RasterDriver, Window,
};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::runtime::{
    self, register_block_op, spec_like, with_compression_threads, BlockOp, Computed, Handles,
    RasterTarget, RemoteBlockOp, Runner, Windows,
};
use crate::{Error, Result};
pub use tile::MAX_CONVOLVE_KERNEL_SIDE;
use tile::{ConvSpec, KernelData, Prepared};

/// Default output nodata: float32-min, as pygeoprocessing.
pub const CONVOLVE_NODATA: f64 = f32::MIN as f64;

/// Options of [`convolve_2d`]; `Default` gives pygeoprocessing's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvolveOptions {
    /// Normalise by the convolution of the valid-pixel mask (default false).
    pub ignore_nodata_and_edges: bool,
    /// Output is nodata where the signal is nodata (default true).
    pub mask_nodata: bool,
    /// Divide the kernel by its sum first (default false).
    pub normalize_kernel: bool,
    /// Output pixel type (default Float64).
    pub target_datatype: DataType,
    /// Output nodata; `None` means float32-min, allowed only for Float64 output.
    pub target_nodata: Option<f64>,
    /// Values within `numpy.isclose` of this become 0; `None` keeps round-off (default 1e-8).
    pub set_tol_to_zero: Option<f64>,
    /// Driver and creation options of the output.
    pub driver: RasterDriver,
}

impl Default for ConvolveOptions {
    fn default() -> Self {
        ConvolveOptions {
            ignore_nodata_and_edges: false,
            mask_nodata: true,
            normalize_kernel: false,
            target_datatype: DataType::F64,
            target_nodata: None,
            set_tol_to_zero: Some(1e-8),
            driver: RasterDriver::default(),
        }
    }
}

/// Convolve band `signal_band` of `signal` with band `kernel_band` of `kernel` into `target`
/// (same grid and projection as the signal).
pub fn convolve_2d(
    signal: impl AsRef<Path>,
    signal_band: usize,
    kernel: impl AsRef<Path>,
    kernel_band: usize,
    target: impl AsRef<Path>,
    options: &ConvolveOptions,
    exec: &Executor,
) -> Result<()> {
    let signal = signal.as_ref().to_path_buf();
    let kernel = kernel.as_ref().to_path_buf();
    let target_nodata = match (options.target_nodata, options.target_datatype) {
        (Some(v), _) => v,
        (None, DataType::F64) => CONVOLVE_NODATA,
        (None, dt) => {
            return Err(Error::invalid(
                "target_nodata",
                format!("must be set when target_datatype is {dt} (only Float64 has a default)"),
            ))
        }
    };
    let info = Raster::open(&signal)?.info()?;
    if signal_band == 0 || signal_band > info.n_bands {
        return Err(pgp_core::Error::BandOutOfRange {
            path: signal.clone(),
            band: signal_band,
            count: info.n_bands,
        }
        .into());
    }
    let kernel_data = KernelData::load(
        &kernel,
        kernel_band,
        options.ignore_nodata_and_edges,
        options.normalize_kernel,
    )?;
    let (kr, kc) = kernel_data.values.dim();
    let (cols, rows) = info.raster_size;
    let tile = (
        tile_len(info.block_size.0, kc, cols),
        tile_len(info.block_size.1, kr, rows),
    );
    let spec = ConvSpec {
        signal: signal.clone(),
        signal_band,
        signal_nodata: info.nodata[signal_band - 1],
        kernel,
        kernel_band,
        kernel_digest: kernel_data.digest(),
        ignore_nodata_and_edges: options.ignore_nodata_and_edges,
        mask_nodata: options.mask_nodata,
        normalize_kernel: options.normalize_kernel,
        set_tol_to_zero: options.set_tol_to_zero,
        target_nodata,
        tile,
    };
    let out_spec = spec_like(
        &info,
        options.target_datatype,
        &with_compression_threads(&options.driver, exec),
    )
    .nodata(Some(target_nodata));
    let op = ConvolveOp {
        spec,
        datatype: options.target_datatype,
        reach: kr.max(kc) / 2,
    };
    let target = RasterTarget {
        operation: "convolve_2d",
        path: target.as_ref(),
        spec: &out_spec,
    };
    let windows = Windows::Given {
        step: Some(tile),
        windows: block_windows((cols, rows), tile, 0).collect(),
    };
    runtime::write_raster(exec, &Runner::new(op), target, windows, Ok, |()| Ok(()))?.commit(None)
}

/// A tile's values in the output type.
fn typed(values: Array2<f64>, dt: DataType) -> DynArray {
    if dt == DataType::F64 {
        // The default output: no conversion, so no copy.
        return values.into();
    }
    with_pixel_type!(dt, T => values.mapv(to_pixel::<T>).into())
}

/// Converts a result to the output type: floats as they are, integers rounded to nearest
/// (saturating).
fn to_pixel<T: Pixel>(v: f64) -> T {
    if T::DATA_TYPE.is_float() {
        T::from_f64(v)
    } else {
        T::from_f64(v.round())
    }
}

/// Tile side along one axis: a whole number of blocks, at least 256 pixels and twice the kernel's
/// reach (so the FFT margin stays a modest fraction while the transforms stay small enough to
/// keep a few in flight), but not the whole width of a long strip block.
fn tile_len(block: usize, kernel: usize, full: usize) -> usize {
    let want = (2 * kernel.saturating_sub(1)).max(256);
    let block = block.max(1);
    let len = if block >= want {
        if block > 4 * want {
            want
        } else {
            block
        }
    } else {
        block * want.div_ceil(block)
    };
    len.min(full).max(1)
}

/// A convolution, tile by tile (the kernel travels by path and digest).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ConvolveOp {
    spec: ConvSpec,
    /// The output's pixel type.
    datatype: DataType,
    /// How far the kernel reaches from its centre, in pixels.
    reach: usize,
}

impl BlockOp for ConvolveOp {
    type Item = Window;
    type Side = ();
    type Prepared = Prepared;

    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.spec.signal.clone()]
    }

    /// Tiles overlap by the kernel's reach.
    fn halo(&self) -> usize {
        self.reach
    }

    fn prepare(&self) -> Result<Prepared> {
        Prepared::load(&self.spec)
    }

    fn compute(
        &self,
        prepared: &Prepared,
        // The signal is read through the blocks `prepared` shares between threads, not these
        // handles (shared ones would make the threads take turns to decode).
        _inputs: &Handles<'_>,
        w: Window,
    ) -> Result<Computed<()>> {
        let input = prepared.read(w)?;
        let values = prepared.compute(w, input)?;
        Ok(Computed::pixels(w, typed(values, self.datatype), ()))
    }
}

impl RemoteBlockOp for ConvolveOp {
    const NAME: &'static str = "pgp_ops::convolve::tile";
}
register_block_op!(ConvolveOp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_follow_blocks_and_kernel_size() {
        assert_eq!(tile_len(256, 31, 8192), 256);
        assert_eq!(tile_len(256, 101, 8192), 256);
        assert_eq!(tile_len(256, 201, 8192), 512);
        assert_eq!(tile_len(256, 31, 100), 100);
        // A long strip is cut; one-row strips are stacked.
        assert_eq!(tile_len(8192, 31, 8192), 256);
        assert_eq!(tile_len(1, 31, 8192), 256);
        assert_eq!(tile_len(100, 31, 8192), 300);
    }
}
