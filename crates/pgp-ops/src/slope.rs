//! Percent slope of a DEM (pygeoprocessing's `calculate_slope`).
//!
//! Zevenbergen & Thorne style finite differences over the 3 x 3 neighbourhood
//!
//! ```text
//! a b c
//! d e f
//! g h i
//! ```
//!
//! with `dz/dx = ((a+2d+g) - (c+2f+i)) / (8 * pixel_width)` and the same for `dz/dy` over rows;
//! slope = `100 * sqrt(dz/dx² + dz/dy²)`. Where a neighbour is nodata or outside the raster,
//! each of the three difference terms per direction falls back as pygeoprocessing's does (a
//! half-difference with the middle cell, or the centre cell scaled by √2), so slopes exist up
//! to the edges and around holes. Output: float32, nodata float32-min, on the DEM's grid.
//!
//! Difference from pygeoprocessing: a DEM without nodata has no nodata pixels here (pgp's nodata
//! rule), where pygeoprocessing treats float32-min values as nodata; and nodata is matched
//! exactly, not with `isclose`.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::{
    block_windows, DataType, DynArray, Nodata, Pixel, Raster, RasterDriver, Window, LARGEST_BLOCK,
};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::runtime::{
    self, register_block_op, spec_like, with_compression_threads, BlockOp, Computed, Handles,
    RasterTarget, RemoteBlockOp, Runner, Windows,
};
use crate::Result;

/// Nodata of slope rasters: float32-min, as pygeoprocessing.
pub const SLOPE_NODATA: f64 = f32::MIN as f64;

/// Options of [`calculate_slope`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlopeOptions {
    /// Driver and creation options of the output.
    pub driver: RasterDriver,
}

/// Write the percent slope of band `band` of `dem` to `target` (float32, nodata
/// [`SLOPE_NODATA`]). Blocks are computed on `exec`; the output is the same on every executor.
pub fn calculate_slope(
    dem: impl AsRef<Path>,
    band: usize,
    target: impl AsRef<Path>,
    options: &SlopeOptions,
    exec: &Executor,
) -> Result<()> {
    let dem = dem.as_ref().to_path_buf();
    let r = Raster::open(&dem)?;
    let info = r.info()?;
    let nodata = r.nodata(band)?;
    drop(r);
    let spec = spec_like(
        &info,
        DataType::F32,
        &with_compression_threads(&options.driver, exec),
    )
    .nodata(Some(SLOPE_NODATA));
    let windows: Vec<Window> =
        block_windows(info.raster_size, info.block_size, LARGEST_BLOCK).collect();
    let op = SlopeOp {
        dem,
        band,
        nodata,
        pixel_size: info.pixel_size,
    };
    let target = RasterTarget {
        operation: "calculate_slope",
        path: target.as_ref(),
        spec: &spec,
    };
    let windows = Windows::Given {
        step: windows.first().map(|w| (w.width, w.height)),
        windows,
    };
    runtime::write_raster(exec, &Runner::new(op), target, windows, Ok, |()| Ok(()))?.commit(None)
}

/// Slope of a DEM band, block by block (serialisable for worker processes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SlopeOp {
    dem: PathBuf,
    band: usize,
    nodata: Option<f64>,
    pixel_size: (f64, f64),
}

impl BlockOp for SlopeOp {
    type Item = Window;
    type Side = ();
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.dem.clone()]
    }

    /// Each block reads one pixel around it.
    fn halo(&self) -> usize {
        1
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(&self, _: &(), inputs: &Handles<'_>, w: Window) -> Result<Computed<()>> {
        // The block grown by one pixel (clipped to the raster), in the band's own type.
        let (read, data) = inputs.with(0, |dem| {
            let (cols, rows) = dem.size();
            let read = w.expand(1, cols, rows);
            Ok((read, dem.read_dyn(self.band, read)?))
        })?;
        Ok(Computed::pixels(w, self.slope(w, read, data)?, ()))
    }
}

impl RemoteBlockOp for SlopeOp {
    const NAME: &'static str = "pgp_ops::slope::block";
}
register_block_op!(SlopeOp);

impl SlopeOp {
    fn slope(&self, w: Window, read: Window, data: DynArray) -> pgp_core::Result<Array2<f32>> {
        // Padded neighbourhood, row-major with stride `pw`: one ring of invalid cells around the
        // block (raster edges), filled from the read window. Nodata is decided in the DEM's own
        // type, as the band stores it.
        let (ph, pw) = (w.height + 2, w.width + 2);
        let mut z = vec![0.0f64; ph * pw];
        let mut ok = vec![false; ph * pw];
        let (oy, ox) = (1 + read.y_off - w.y_off, 1 + read.x_off - w.x_off);
        let dt = data.data_type();
        pgp_core::with_pixel_type!(dt, T => {
            let nd = Nodata::<T>::new(self.nodata);
            let raw = data
                .into_typed::<T>()
                .ok_or_else(|| pgp_core::Error::invalid("dem", "pixel type changed between read and use"))?;
            for (r, row) in raw.rows().into_iter().enumerate() {
                let at = (r + oy) * pw + ox;
                for ((zv, okv), &v) in z[at..at + read.width]
                    .iter_mut()
                    .zip(&mut ok[at..at + read.width])
                    .zip(row)
                {
                    *zv = v.to_f64();
                    *okv = !nd.is_nodata(v);
                }
            }
        });
        let (xs, ys) = self.pixel_size;
        let mut out = vec![SLOPE_NODATA as f32; w.height * w.width];
        for r in 1..=w.height {
            for c in 1..=w.width {
                let k = r * pw + c;
                if !ok[k] {
                    continue;
                }
                let cell = |k: usize| ok[k].then(|| z[k]);
                let n = Neighbours {
                    a: cell(k - pw - 1),
                    b: cell(k - pw),
                    c: cell(k - pw + 1),
                    d: cell(k - 1),
                    e: z[k],
                    f: cell(k + 1),
                    g: cell(k + pw - 1),
                    h: cell(k + pw),
                    i: cell(k + pw + 1),
                };
                out[(r - 1) * w.width + c - 1] = percent_slope(&n, xs, ys) as f32;
            }
        }
        Array2::from_shape_vec(w.shape(), out)
            .map_err(|e| pgp_core::Error::invalid("window", e.to_string()))
    }
}

/// A 3 x 3 neighbourhood; `None` where the cell is nodata or outside the raster.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Neighbours {
    pub a: Option<f64>,
    pub b: Option<f64>,
    pub c: Option<f64>,
    pub d: Option<f64>,
    pub e: f64,
    pub f: Option<f64>,
    pub g: Option<f64>,
    pub h: Option<f64>,
    pub i: Option<f64>,
}

/// One outer difference term (weight 1) across `first`..`last` with `middle` between them:
/// returns (numerator contribution, denominator factor).
fn outer_term(first: Option<f64>, middle: Option<f64>, last: Option<f64>, e: f64) -> (f64, i32) {
    match (first, middle, last) {
        (Some(p), _, Some(q)) => (p - q, 2),
        (Some(p), Some(m), None) => (p - m, 1),
        (None, Some(m), Some(q)) => (m - q, 1),
        (Some(p), None, None) => ((p - e) * std::f64::consts::SQRT_2, 1),
        (None, None, Some(q)) => ((e - q) * std::f64::consts::SQRT_2, 1),
        _ => (0.0, 0),
    }
}

/// The centre difference term (weight 2) across `first`..`last`.
fn centre_term(first: Option<f64>, last: Option<f64>, e: f64) -> (f64, i32) {
    match (first, last) {
        (Some(p), Some(q)) => (2.0 * (p - q), 4),
        (Some(p), None) => (2.0 * (p - e), 2),
        (None, Some(q)) => (2.0 * (e - q), 2),
        (None, None) => (0.0, 0),
    }
}

/// Percent slope at the centre of `n` for pixel sizes `xs`, `ys` (signs do not matter).
pub(crate) fn percent_slope(n: &Neighbours, xs: f64, ys: f64) -> f64 {
    let e = n.e;
    let terms_x = [
        outer_term(n.a, n.b, n.c, e),
        centre_term(n.d, n.f, e),
        outer_term(n.g, n.h, n.i, e),
    ];
    let terms_y = [
        outer_term(n.a, n.d, n.g, e),
        centre_term(n.b, n.h, e),
        outer_term(n.c, n.f, n.i, e),
    ];
    let derivative = |terms: &[(f64, i32); 3], size: f64| {
        let (acc, denom) = terms
            .iter()
            .fold((0.0, 0), |(a, d), &(t, k)| (a + t, d + k));
        if denom == 0 {
            0.0
        } else {
            acc / (denom as f64 * size)
        }
    };
    let dzdx = derivative(&terms_x, xs);
    let dzdy = derivative(&terms_y, ys);
    100.0 * (dzdx * dzdx + dzdy * dzdy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(z: [[f64; 3]; 3]) -> Neighbours {
        Neighbours {
            a: Some(z[0][0]),
            b: Some(z[0][1]),
            c: Some(z[0][2]),
            d: Some(z[1][0]),
            e: z[1][1],
            f: Some(z[1][2]),
            g: Some(z[2][0]),
            h: Some(z[2][1]),
            i: Some(z[2][2]),
        }
    }

    #[test]
    fn plane_slope_is_exact() {
        // z = 3x + 4y over 10 m pixels: gradient 0.3 and 0.4 -> 50 %.
        let z = |r: f64, c: f64| 3.0 * c + 4.0 * r;
        let mut g = [[0.0; 3]; 3];
        for (r, row) in g.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = z(r as f64, c as f64);
            }
        }
        let s = percent_slope(&full(g), 10.0, -10.0);
        assert!((s - 50.0).abs() < 1e-12, "{s}");
    }

    #[test]
    fn missing_neighbours_fall_back() {
        // A plane with its whole left column missing: only f and the √2 / half terms remain.
        let mut n = full([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0]]);
        n.a = None;
        n.d = None;
        n.g = None;
        // x: (b - c) + 2(e - f) + (h - i) = -1 - 2 - 1 = -4 over (1 + 2 + 1) * 1 -> -1 -> 100 %.
        // y: centre b - h = 0 (weight 4), outer c-f-i: c - i = 0 (weight 2), a-d-g missing.
        assert!((percent_slope(&n, 1.0, 1.0) - 100.0).abs() < 1e-12);
        let lonely = Neighbours {
            a: None,
            b: None,
            c: None,
            d: None,
            e: 5.0,
            f: None,
            g: None,
            h: None,
            i: None,
        };
        assert_eq!(percent_slope(&lonely, 1.0, 1.0), 0.0);
    }
}
