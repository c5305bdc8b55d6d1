//! Exact Euclidean distance transform (pygeoprocessing's `distance_transform_edt`).
//!
//! Every pixel gets the distance to the nearest *region* pixel, a pixel that is neither nodata
//! nor 0, in units of `sampling_distance` (x per column step, y per row step). Two streaming
//! passes over full-width row strips keep memory at a few strips:
//!
//! 1. top to bottom: per column, the number of rows up to the nearest region pixel above
//!    (written to a temporary `UInt32` raster next to the target);
//! 2. bottom to top: combine with the nearest region pixel below (a running carry), giving the
//!    exact vertical distance `g`; then each row is an independent 1-D problem
//!    `D(u) = min_q dx²(u - q)² + (dy·g(q))²`, solved exactly by the lower envelope of parabolas
//!    (Felzenszwalb & Huttenlocher). Rows run in parallel on the executor.
//!
//! Output: float32 with nodata -1 (as pygeoprocessing), statistics stored in the file. If the
//! raster has no region pixel at all, every pixel is nodata (pygeoprocessing returns large
//! meaningless numbers there).

use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::{
    block_windows, temporary_sibling, with_pixel_type, BandStatistics, DataType, Nodata,
    OutputRaster, Pixel, Raster, RasterDriver, Window,
};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::runtime::{
    self, forget_read_blocks, register_block_op, spec_like, with_compression_threads, BlockOp,
    Computed, DirtyBlocks, Handles, RasterTarget, RemoteBlockOp, Runner, Windows,
};
use crate::{Error, Result};

/// Nodata of distance rasters.
pub const DISTANCE_NODATA: f64 = -1.0;

/// No region pixel in this direction.
const NONE: u32 = u32::MAX;

/// Options of [`distance_transform_edt`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistanceOptions {
    /// Distance of one column step and one row step (both > 0). Default `(1, 1)`: pixels.
    pub sampling_distance: (f64, f64),
    /// Driver and creation options of the output.
    pub driver: RasterDriver,
}

impl Default for DistanceOptions {
    fn default() -> Self {
        DistanceOptions {
            sampling_distance: (1.0, 1.0),
            driver: RasterDriver::default(),
        }
    }
}

/// Write to `target` the distance from every pixel to the nearest pixel of `band` of `base`
/// that is neither nodata nor 0.
pub fn distance_transform_edt(
    base: impl AsRef<Path>,
    band: usize,
    target: impl AsRef<Path>,
    options: &DistanceOptions,
    exec: &Executor,
) -> Result<()> {
    let (sx, sy) = options.sampling_distance;
    if !(sx.is_finite() && sy.is_finite() && sx > 0.0 && sy > 0.0) {
        return Err(Error::invalid(
            "sampling_distance",
            format!("both distances must be finite and > 0, got ({sx}, {sy})"),
        ));
    }
    let base = base.as_ref();
    let target = target.as_ref();
    pgp_core::check_output_path(target)?;
    let src = Raster::open(base)?;
    let info = src.info()?;
    let nodata = src.nodata(band)?;
    let (cols, rows) = info.raster_size;
    let strip_rows = info.block_size.1.max(1) * 256usize.div_ceil(info.block_size.1.max(1));
    let strips: Vec<Window> = block_windows((cols, rows), (cols, strip_rows), 0).collect();

    // Pass 1: rows to the nearest region pixel above (or NONE). Workers read the strips and
    // find the region pixels; the carry down the columns is cheap and runs here, in order. The
    // temporary raster is tiled but uncompressed (4 bytes a pixel on disk): it is written and
    // read once, and compressing it would cost more than the distance transform itself.
    let down = TempRaster(temporary_sibling(target));
    {
        let temp_driver = RasterDriver::new(
            "GTiff",
            [
                "TILED=YES",
                "BIGTIFF=YES",
                "BLOCKXSIZE=256",
                "BLOCKYSIZE=256",
            ],
        );
        let spec = spec_like(&info, DataType::U32, &temp_driver).nodata(None);
        let mut out = OutputRaster::create(&down.0, &spec)?;
        let runner = Runner::new(RegionOp {
            path: base.to_path_buf(),
            band,
            nodata,
        });
        let regions = runtime::map(
            exec,
            "distance_transform_edt (regions)",
            &runner,
            strips.clone().into_iter(),
        )?;
        let mut carry = vec![NONE; cols];
        let mut dirty = DirtyBlocks::new();
        for (w, region) in strips.iter().zip(regions) {
            let region = region?.side;
            let mut g = vec![0u32; region.len()];
            for (g_row, region_row) in g.chunks_mut(cols).zip(region.chunks(cols)) {
                for ((gv, &is_region), up) in g_row.iter_mut().zip(region_row).zip(carry.iter_mut())
                {
                    *gv = if is_region {
                        0
                    } else if *up == NONE {
                        NONE
                    } else {
                        *up + 1
                    };
                    *up = *gv;
                }
            }
            let g = Array2::from_shape_vec(w.shape(), g)
                .map_err(|e| Error::invalid("window", e.to_string()))?;
            dirty.write(&mut out, 0, w.y_off, g.view())?;
        }
        out.commit()?;
    }

    // Pass 2: bottom to top, finish g with a carry from below, rows in parallel.
    let spec = spec_like(
        &info,
        DataType::F32,
        &with_compression_threads(&options.driver, exec),
    )
    .nodata(Some(DISTANCE_NODATA));
    let g_down = Raster::open(&down.0)?;
    let mut below = vec![NONE; cols];
    let strip = |w: Window| -> Result<RowsItem> {
        let mut g = g_down.read::<u32>(1, w)?.into_raw_vec_and_offset().0;
        // Read once: keep its blocks out of GDAL's cache.
        forget_read_blocks(&g_down, 1, w);
        for r in (0..w.height).rev() {
            let row = &mut g[r * cols..(r + 1) * cols];
            for (v, b) in row.iter_mut().zip(below.iter_mut()) {
                let up = if *v == 0 {
                    0
                } else if *b == NONE {
                    NONE
                } else {
                    *b + 1
                };
                *b = up;
                *v = (*v).min(up);
            }
        }
        Ok(RowsItem { window: w, g })
    };
    let mut stats = Moments::default();
    let target = RasterTarget {
        operation: "distance_transform_edt",
        path: target,
        spec: &spec,
    };
    let windows = Windows::Given {
        step: Some((cols, strip_rows)),
        windows: strips.into_iter().rev().collect(),
    };
    let runner = Runner::new(RowsOp {
        cols,
        sampling: (sx, sy),
    });
    let written = runtime::write_raster(exec, &runner, target, windows, strip, |strip_stats| {
        stats.merge(&strip_stats);
        Ok(())
    })?;
    drop(g_down);
    let statistics = (stats.n > 0).then(|| stats.statistics());
    written.commit(statistics.map(|s| -> pgp_core::tiles::FinishFn<'_> {
        Box::new(move |raster: &mut Raster| raster.set_statistics(1, s))
    }))?;
    Ok(())
}

/// Deletes the temporary raster when the operation ends, however it ends.
struct TempRaster(PathBuf);

impl Drop for TempRaster {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut aux = self.0.clone().into_os_string();
        aux.push(".aux.xml");
        let _ = std::fs::remove_file(aux);
    }
}

/// Count, mean, sum of squared deviations, min and max, mergeable in a fixed order.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Moments {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Default for Moments {
    fn default() -> Self {
        Moments {
            n: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Moments {
    /// The moments of `values` (two passes: no division per value).
    fn of(values: &[f32]) -> Moments {
        if values.is_empty() {
            return Moments::default();
        }
        let n = values.len();
        let (mut sum, mut min, mut max) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
        for &v in values {
            let v = v as f64;
            sum += v;
            min = min.min(v);
            max = max.max(v);
        }
        let mean = sum / n as f64;
        let m2 = values
            .iter()
            .map(|&v| (v as f64 - mean) * (v as f64 - mean))
            .sum();
        Moments {
            n: n as u64,
            mean,
            m2,
            min,
            max,
        }
    }

    #[cfg(test)]
    fn push(&mut self, v: f64) {
        self.n += 1;
        let d = v - self.mean;
        self.mean += d / self.n as f64;
        self.m2 += d * (v - self.mean);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    fn merge(&mut self, o: &Moments) {
        if o.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *o;
            return;
        }
        let n = self.n + o.n;
        let d = o.mean - self.mean;
        self.mean += d * o.n as f64 / n as f64;
        self.m2 += o.m2 + d * d * (self.n as f64 * o.n as f64 / n as f64);
        self.n = n;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    fn statistics(&self) -> BandStatistics {
        BandStatistics {
            min: self.min,
            max: self.max,
            mean: self.mean,
            std_dev: (self.m2 / self.n as f64).max(0.0).sqrt(),
        }
    }
}

/// Classifies strips of the base raster into region / not region.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RegionOp {
    path: PathBuf,
    band: usize,
    nodata: Option<f64>,
}

impl BlockOp for RegionOp {
    type Item = Window;
    /// Row-major flags: true for region pixels (neither nodata nor 0).
    type Side = Vec<bool>;
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(&self, _: &(), inputs: &Handles<'_>, w: Window) -> Result<Computed<Vec<bool>>> {
        let data = inputs.with(0, |raster| Ok(raster.read_dyn(self.band, w)?))?;
        let flags = with_pixel_type!(data.data_type(), T => {
            let nd = Nodata::<T>::new(self.nodata);
            let typed = data
                .into_typed::<T>()
                .ok_or_else(|| Error::internal("pixel type changed between read and use"))?;
            typed.iter().map(|&v| !nd.is_nodata(v) && v.to_f64() != 0.0).collect()
        });
        Ok(Computed::side(w, flags))
    }
}

impl RemoteBlockOp for RegionOp {
    const NAME: &'static str = "pgp_ops::distance::region";
}
register_block_op!(RegionOp);

/// A strip of rows with their exact vertical distances `g` (rows, or [`NONE`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RowsItem {
    window: Window,
    g: Vec<u32>,
}

/// Distances along rows from their vertical distances, strip by strip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RowsOp {
    cols: usize,
    sampling: (f64, f64),
}

impl BlockOp for RowsOp {
    type Item = RowsItem;
    /// The strip's moments.
    type Side = Moments;
    type Prepared = ();

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(&self, _: &(), _: &Handles<'_>, item: RowsItem) -> Result<Computed<Moments>> {
        let (dist, stats) = self.distances(&item.g);
        let a = Array2::from_shape_vec(item.window.shape(), dist)
            .map_err(|e| Error::internal(e.to_string()))?;
        Ok(Computed::pixels(item.window, a, stats))
    }
}

impl RemoteBlockOp for RowsOp {
    const NAME: &'static str = "pgp_ops::distance::rows";
}
register_block_op!(RowsOp);

impl RowsOp {
    fn distances(&self, g: &[u32]) -> (Vec<f32>, Moments) {
        let mut out = vec![DISTANCE_NODATA as f32; g.len()];
        let mut stats = Moments::default();
        let mut envelope = Envelope::with_capacity(self.cols);
        for (g, o) in g.chunks(self.cols).zip(out.chunks_mut(self.cols)) {
            if envelope.row(g, self.sampling, o) {
                stats.merge(&Moments::of(o));
            }
        }
        (out, stats)
    }
}

/// Scratch space for the lower envelope of parabolas of one row.
pub(crate) struct Envelope {
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Envelope {
    pub(crate) fn with_capacity(n: usize) -> Envelope {
        Envelope {
            v: Vec::with_capacity(n),
            z: Vec::with_capacity(n + 1),
        }
    }

    /// Distances for one row into `out`; false (and `out` untouched) when no column has a
    /// region pixel.
    pub(crate) fn row(&mut self, g: &[u32], (sx, sy): (f64, f64), out: &mut [f32]) -> bool {
        let dx2 = sx * sx;
        let f = |q: usize| {
            let h = sy * g[q] as f64;
            h * h
        };
        self.v.clear();
        self.z.clear();
        for q in (0..g.len()).filter(|&q| g[q] != NONE) {
            let fq = f(q) + dx2 * (q * q) as f64;
            let mut s = f64::NEG_INFINITY;
            while let Some(&p) = self.v.last() {
                let fp = f(p) + dx2 * (p * p) as f64;
                s = (fq - fp) / (2.0 * dx2 * (q - p) as f64);
                if s <= *self.z.last().unwrap_or(&f64::NEG_INFINITY) {
                    self.v.pop();
                    self.z.pop();
                    s = f64::NEG_INFINITY;
                } else {
                    break;
                }
            }
            self.v.push(q);
            self.z.push(s);
        }
        if self.v.is_empty() {
            return false;
        }
        let mut k = 0;
        for (u, o) in out.iter_mut().enumerate() {
            while k + 1 < self.v.len() && self.z[k + 1] < u as f64 {
                k += 1;
            }
            let p = self.v[k];
            let du = sx * (u as f64 - p as f64);
            *o = (du * du + f(p)).sqrt() as f32;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(g: &[u32], (sx, sy): (f64, f64)) -> Vec<f64> {
        (0..g.len())
            .map(|u| {
                g.iter()
                    .enumerate()
                    .filter(|(_, &v)| v != NONE)
                    .map(|(q, &v)| {
                        ((sx * (u as f64 - q as f64)).powi(2) + (sy * v as f64).powi(2)).sqrt()
                    })
                    .fold(f64::INFINITY, f64::min)
            })
            .collect()
    }

    proptest! {
        #[test]
        fn envelope_equals_brute_force(
            g in prop::collection::vec(prop_oneof![3 => 0u32..40, 1 => Just(NONE)], 1..60),
            sx in 0.1f64..10.0, sy in 0.1f64..10.0,
        ) {
            let mut out = vec![0f32; g.len()];
            let mut env = Envelope::with_capacity(g.len());
            let any = env.row(&g, (sx, sy), &mut out);
            let expected = brute(&g, (sx, sy));
            prop_assert_eq!(any, g.iter().any(|&v| v != NONE));
            if any {
                for (o, e) in out.iter().zip(&expected) {
                    prop_assert!((*o as f64 - e).abs() <= 1e-5 * e.max(1.0), "{} vs {}", o, e);
                }
            }
        }
    }

    #[test]
    fn moments_merge_like_one_pass() {
        let xs: Vec<f64> = (0..100).map(|i| ((i * 37) % 11) as f64 * 0.5).collect();
        let mut all = Moments::default();
        xs.iter().for_each(|&v| all.push(v));
        let mut a = Moments::default();
        let mut b = Moments::default();
        xs[..30].iter().for_each(|&v| a.push(v));
        xs[30..].iter().for_each(|&v| b.push(v));
        a.merge(&b);
        let f32s: Vec<f32> = xs.iter().map(|&v| v as f32).collect();
        let c = Moments::of(&f32s).statistics();
        assert!(
            (c.mean - all.statistics().mean).abs() < 1e-12
                && (c.std_dev - all.statistics().std_dev).abs() < 1e-12
        );
        let (s1, s2) = (all.statistics(), a.statistics());
        assert!((s1.mean - s2.mean).abs() < 1e-12 && (s1.std_dev - s2.std_dev).abs() < 1e-12);
        assert_eq!((s1.min, s1.max), (0.0, 5.0));
    }
}
