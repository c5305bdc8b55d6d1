//! `raster_band_percentile`: percentiles of a band's valid pixel values, exact and out of core.
//!
//! pygeoprocessing sorts blocks into heap files and merges them. pgp selects instead: a first
//! pass counts the valid values and finds their range; each later pass narrows every interval
//! that holds a wanted rank to one of [`BUCKETS`] sub-intervals by a histogram, until an
//! interval is a single value or holds few enough values ([`COLLECT_LIMIT`]) to be read into
//! memory and sorted. Values are compared by an order-preserving 64-bit key, so the answer is
//! the exact element pygeoprocessing's merge would reach; memory is a histogram per wanted
//! rank, and every pass is parallel over blocks on the executor.
//!
//! The ranks are pygeoprocessing's: with `n` valid values sorted ascending and
//! `step = 100 / n`, each percentile takes the first not yet used rank `i` with
//! `step * i >= p` (one rank per percentile, in list order); percentiles left when the ranks run
//! out all share one answer, the largest value (0 when no value is valid). Valid means finite and
//! not `numpy.isclose` to the band's nodata. Integer bands answer integers, float bands floats.

use std::path::{Path, PathBuf};

use pgp_core::{block_windows, with_pixel_type, Pixel, Raster, Window, LARGEST_BLOCK};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::runtime::{self, register_block_op, BlockOp, Computed, Handles, RemoteBlockOp, Runner};
use crate::{Error, Result};

/// Sub-intervals an interval is split into per pass.
const BUCKETS: u64 = 4096;
/// An interval with at most this many values is read into memory and sorted.
const COLLECT_LIMIT: u64 = 1 << 20;

/// A percentile as its band's type gives it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum PercentileValue {
    /// From an integer band.
    Int(i64),
    /// From a float band.
    Float(f64),
}

impl PercentileValue {
    /// The value as a float.
    pub fn as_f64(self) -> f64 {
        match self {
            PercentileValue::Int(v) => v as f64,
            PercentileValue::Float(v) => v,
        }
    }
}

/// pygeoprocessing's `raster_band_percentile`: the value at each percentile (0-100) of the valid
/// pixels of band `band` of `raster`, by pygeoprocessing's "higher" rule (see the module docs).
pub fn raster_band_percentile(
    raster: impl AsRef<Path>,
    band: usize,
    percentiles: &[f64],
    exec: &Executor,
) -> Result<Vec<PercentileValue>> {
    select_percentiles(raster.as_ref(), band, percentiles, exec, COLLECT_LIMIT)
}

/// [`raster_band_percentile`], reading an interval into memory once it holds at most
/// `collect_limit` values.
fn select_percentiles(
    path: &Path,
    band: usize,
    percentiles: &[f64],
    exec: &Executor,
    collect_limit: u64,
) -> Result<Vec<PercentileValue>> {
    if percentiles.is_empty() {
        return Err(Error::invalid("percentile_list", "no percentile given"));
    }
    if let Some(p) = percentiles.iter().find(|p| !p.is_finite()) {
        return Err(Error::invalid(
            "percentile_list",
            format!("{p} is not a number in [0, 100]"),
        ));
    }
    let info = Raster::open(path)?.info()?;
    if band == 0 || band > info.n_bands {
        return Err(pgp_core::Error::BandOutOfRange {
            path: path.to_path_buf(),
            band,
            count: info.n_bands,
        }
        .into());
    }
    let integer = !info.datatypes[band - 1].is_float();
    let windows: Vec<Window> =
        block_windows(info.raster_size, info.block_size, LARGEST_BLOCK).collect();
    let op = |intervals| PercentileOp {
        path: path.to_path_buf(),
        band,
        nodata: info.nodata[band - 1],
        integer,
        intervals,
    };
    // Pass 0: how many values, and their key range.
    let mut n = 0u64;
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    for part in run_pass(exec, op(Vec::new()), &windows)? {
        if let Some(PassPart::Range { count, min, max }) = part.into_iter().next() {
            n += count;
            lo = lo.min(min);
            hi = hi.max(max);
        }
    }
    let decode = |key: u64| {
        if integer {
            PercentileValue::Int(key_to_int(key))
        } else {
            PercentileValue::Float(key_to_float(key))
        }
    };
    let (ranks, leftover) = pygeoprocessing_ranks(percentiles, n);
    let mut found: Vec<Option<u64>> = vec![None; ranks.len()];
    let mut open = vec![Interval {
        lo,
        hi,
        below: 0,
        count: n,
        collect: n <= collect_limit,
    }];
    if n == 0 {
        open.clear();
    }
    while !open.is_empty() {
        let parts = run_pass(exec, op(open.clone()), &windows)?;
        let mut merged: Vec<PassPart> = open.iter().map(|iv| iv.empty_part()).collect();
        for block in parts {
            for (total, part) in merged.iter_mut().zip(block) {
                total.merge(part)?;
            }
        }
        let mut next = Vec::new();
        for (iv, part) in open.iter().zip(merged) {
            iv.resolve(part, &ranks, &mut found, &mut next, collect_limit);
        }
        next.dedup_by_key(|iv| iv.lo);
        open = next;
    }
    let mut out = Vec::with_capacity(percentiles.len());
    for key in found {
        let key = key.ok_or_else(|| Error::internal("a percentile rank was not resolved"))?;
        out.push(decode(key));
    }
    if leftover {
        // pygeoprocessing appends its last value read: the largest, or 0 with no value at all.
        out.push(if n == 0 {
            decode(if integer { int_key(0) } else { float_key(0.0) })
        } else {
            decode(hi)
        });
    }
    Ok(out)
}

/// The sorted-order index each percentile takes, as pygeoprocessing's merge loop gives them,
/// and whether percentiles are left over when the indexes run out (they then get one answer).
fn pygeoprocessing_ranks(percentiles: &[f64], n: u64) -> (Vec<u64>, bool) {
    let step = if n > 0 { 100.0 / n as f64 } else { 0.0 };
    let mut ranks = Vec::new();
    let mut start = 0u64;
    for &p in percentiles {
        // The first i in [start, n) with step * i >= p (monotone in i): binary search.
        let (mut a, mut b) = (start, n);
        while a < b {
            let mid = a + (b - a) / 2;
            if step * mid as f64 >= p {
                b = mid;
            } else {
                a = mid + 1;
            }
        }
        if a >= n {
            return (ranks, true);
        }
        ranks.push(a);
        start = a + 1;
    }
    (ranks, false)
}

/// Keys `lo..=hi`, holding `count` values, with `below` values under `lo`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Interval {
    lo: u64,
    hi: u64,
    below: u64,
    count: u64,
    /// Read its values (else: a histogram).
    collect: bool,
}

impl Interval {
    /// Width of one histogram bucket (the span divided into [`BUCKETS`], rounded up).
    fn width(&self) -> u64 {
        let span = u128::from(self.hi - self.lo) + 1;
        span.div_ceil(u128::from(BUCKETS)) as u64
    }

    fn empty_part(&self) -> PassPart {
        if self.collect {
            PassPart::Values(Vec::new())
        } else {
            PassPart::Histogram(vec![0; BUCKETS as usize])
        }
    }

    /// Settles the ranks inside this interval from its pass result, or narrows them to buckets
    /// for the next pass.
    fn resolve(
        &self,
        part: PassPart,
        ranks: &[u64],
        found: &mut [Option<u64>],
        next: &mut Vec<Interval>,
        collect_limit: u64,
    ) {
        let inside = |r: u64| r >= self.below && r < self.below + self.count;
        match part {
            PassPart::Values(mut keys) => {
                keys.sort_unstable();
                for (slot, &r) in found.iter_mut().zip(ranks) {
                    if slot.is_none() && inside(r) {
                        *slot = keys.get((r - self.below) as usize).copied();
                    }
                }
            }
            PassPart::Histogram(hist) => {
                let width = self.width();
                let mut below = self.below;
                for (b, &count) in hist.iter().enumerate() {
                    let lo = self.lo + b as u64 * width;
                    let bucket = Interval {
                        lo,
                        hi: lo.saturating_add(width - 1).min(self.hi),
                        below,
                        count,
                        collect: count <= collect_limit,
                    };
                    for (slot, &r) in found.iter_mut().zip(ranks) {
                        if slot.is_none() && count > 0 && r >= below && r < below + count {
                            if bucket.lo == bucket.hi {
                                *slot = Some(bucket.lo);
                            } else if next.last() != Some(&bucket) {
                                next.push(bucket);
                            }
                        }
                    }
                    below += count;
                }
            }
            PassPart::Range { .. } => {}
        }
    }
}

/// What one block gives for one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) enum PassPart {
    /// Pass 0: count and key range of the valid values.
    Range { count: u64, min: u64, max: u64 },
    /// Counts per bucket.
    Histogram(Vec<u64>),
    /// The keys themselves.
    Values(Vec<u64>),
}

impl PassPart {
    fn merge(&mut self, other: PassPart) -> Result<()> {
        match (self, other) {
            (PassPart::Histogram(a), PassPart::Histogram(b)) => {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
            }
            (PassPart::Values(a), PassPart::Values(b)) => a.extend(b),
            _ => {
                return Err(Error::internal(
                    "percentile pass results of different kinds",
                ))
            }
        }
        Ok(())
    }
}

fn run_pass(exec: &Executor, op: PercentileOp, windows: &[Window]) -> Result<Vec<Vec<PassPart>>> {
    let runner = Runner::new(op);
    let mut parts = Vec::with_capacity(windows.len());
    for result in runtime::map(
        exec,
        "raster_band_percentile",
        &runner,
        windows.iter().copied(),
    )? {
        parts.push(result?.side);
    }
    Ok(parts)
}

/// One pass over the blocks: the range (no intervals) or each interval's histogram or values.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PercentileOp {
    path: PathBuf,
    band: usize,
    nodata: Option<f64>,
    integer: bool,
    intervals: Vec<Interval>,
}

impl PercentileOp {
    /// The key of a valid value, `None` for nodata and non-finite values.
    fn key(&self, v: f64) -> Option<u64> {
        if !v.is_finite() || self.nodata.is_some_and(|nd| numpy_isclose(v, nd)) {
            return None;
        }
        Some(if self.integer {
            int_key(v as i64)
        } else {
            float_key(v)
        })
    }
}

impl BlockOp for PercentileOp {
    type Item = Window;
    type Side = Vec<PassPart>;
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(&self, _: &(), inputs: &Handles<'_>, w: Window) -> Result<Computed<Vec<PassPart>>> {
        let data = inputs.with(0, |raster| Ok(raster.read_dyn(self.band, w)?))?;
        let mut values = Vec::with_capacity(w.width * w.height);
        with_pixel_type!(data.data_type(), T => {
            let typed = data
                .into_typed::<T>()
                .ok_or_else(|| Error::internal("pixel type changed between read and use"))?;
            values.extend(typed.iter().map(|v| v.to_f64()));
        });
        let keys = values.into_iter().filter_map(|v| self.key(v));
        if self.intervals.is_empty() {
            let (mut count, mut min, mut max) = (0u64, u64::MAX, 0u64);
            for k in keys {
                count += 1;
                min = min.min(k);
                max = max.max(k);
            }
            return Ok(Computed::side(w, vec![PassPart::Range { count, min, max }]));
        }
        let mut parts: Vec<PassPart> = self.intervals.iter().map(|iv| iv.empty_part()).collect();
        let widths: Vec<u64> = self.intervals.iter().map(|iv| iv.width()).collect();
        for k in keys {
            // Intervals are disjoint and sorted by `lo`.
            let i = self.intervals.partition_point(|iv| iv.hi < k);
            let Some(iv) = self.intervals.get(i).filter(|iv| iv.lo <= k) else {
                continue;
            };
            match &mut parts[i] {
                PassPart::Histogram(h) => h[((k - iv.lo) / widths[i]) as usize] += 1,
                PassPart::Values(v) => v.push(k),
                PassPart::Range { .. } => {}
            }
        }
        Ok(Computed::side(w, parts))
    }
}

impl RemoteBlockOp for PercentileOp {
    const NAME: &'static str = "pgp_ops::percentile::pass";
}
register_block_op!(PercentileOp);

/// numpy's `isclose(a, b)` with its default tolerances (what pygeoprocessing masks nodata by).
fn numpy_isclose(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-8 + 1e-5 * b.abs()
}

const SIGN: u64 = 1 << 63;

/// Keys that sort as the integers do.
fn int_key(v: i64) -> u64 {
    (v as u64) ^ SIGN
}

fn key_to_int(k: u64) -> i64 {
    (k ^ SIGN) as i64
}

/// Keys that sort as the (non-NaN) floats do.
fn float_key(v: f64) -> u64 {
    let bits = v.to_bits();
    if bits & SIGN != 0 {
        !bits
    } else {
        bits | SIGN
    }
}

fn key_to_float(k: u64) -> f64 {
    f64::from_bits(if k & SIGN != 0 { k & !SIGN } else { !k })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// pygeoprocessing's loop, literally, over sorted values.
    fn reference(sorted: &[f64], percentiles: &[f64]) -> Vec<f64> {
        let n = sorted.len();
        let step = if n > 0 { 100.0 / n as f64 } else { 0.0 };
        let (mut out, mut k, mut next) = (Vec::new(), 0, 0.0);
        for (i, &v) in sorted.iter().enumerate() {
            next = v;
            if step * i as f64 >= percentiles[k] {
                out.push(v);
                k += 1;
                if k >= percentiles.len() {
                    break;
                }
            }
        }
        if k < percentiles.len() {
            out.push(next);
        }
        out
    }

    fn select(sorted: &[f64], percentiles: &[f64]) -> Vec<f64> {
        let (ranks, leftover) = pygeoprocessing_ranks(percentiles, sorted.len() as u64);
        let mut out: Vec<f64> = ranks.iter().map(|&r| sorted[r as usize]).collect();
        if leftover {
            out.push(sorted.last().copied().unwrap_or(0.0));
        }
        out
    }

    proptest! {
        #[test]
        fn ranks_follow_pygeoprocessings_loop(
            mut values in proptest::collection::vec(-1e6f64..1e6, 0..300),
            mut ps in proptest::collection::vec(0.0f64..=100.0, 1..6),
            dup in any::<bool>(),
        ) {
            values.sort_by(f64::total_cmp);
            ps.sort_by(f64::total_cmp);
            if dup { let p = ps[0]; ps.insert(0, p); }
            prop_assert_eq!(select(&values, &ps), reference(&values, &ps));
        }

        #[test]
        fn keys_sort_as_values(a in any::<f64>(), b in any::<f64>(), i in any::<i64>(), j in any::<i64>()) {
            prop_assume!(!a.is_nan() && !b.is_nan());
            if a < b { prop_assert!(float_key(a) < float_key(b)); }
            prop_assert_eq!(key_to_float(float_key(a)).to_bits(), a.to_bits());
            prop_assert_eq!(i.cmp(&j), int_key(i).cmp(&int_key(j)));
            prop_assert_eq!(key_to_int(int_key(i)), i);
        }
    }

    /// Every path (histograms to single keys, collected intervals) against a sort of the
    /// pixels, on a real GeoTIFF with nodata, NaN and negative values.
    #[test]
    fn selection_equals_sorting_at_any_collect_limit() {
        use pgp_core::{DataType, GeoTransform, OutputRaster, RasterSpec};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.tif");
        let (cols, rows) = (300usize, 200usize);
        let mut spec = RasterSpec::new(
            cols,
            rows,
            DataType::F32,
            GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
        );
        spec.nodata = vec![Some(-9999.0)];
        let mut state = 7u64;
        let values = ndarray::Array2::from_shape_fn((rows, cols), |_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match state >> 58 {
                0 => -9999.0f32,
                1 => f32::NAN,
                2 => 3.5, // many equal values
                _ => ((state >> 20) % 100_000) as f32 / 7.0 - 5000.0,
            }
        });
        let mut out = OutputRaster::create(&path, &spec).unwrap();
        out.raster().write(1, 0, 0, values.view()).unwrap();
        out.commit().unwrap();
        let mut sorted: Vec<f64> = values
            .iter()
            .filter(|v| v.is_finite() && **v != -9999.0)
            .map(|&v| f64::from(v))
            .collect();
        sorted.sort_by(f64::total_cmp);
        let ps = [0.0, 1.0, 25.0, 50.0, 50.0, 99.9, 100.0];
        let expected = select(&sorted, &ps);
        let exec = Executor::threads(2).unwrap();
        for limit in [0, 16, 5000, COLLECT_LIMIT] {
            let got: Vec<f64> = select_percentiles(&path, 1, &ps, &exec, limit)
                .unwrap()
                .into_iter()
                .map(PercentileValue::as_f64)
                .collect();
            assert_eq!(got, expected, "collect limit {limit}");
        }
        let err = raster_band_percentile(&path, 2, &ps, &exec).unwrap_err();
        assert!(err.to_string().contains("band 2"), "{err}");
    }

    #[test]
    fn percentile_100_and_empty_input() {
        assert_eq!(select(&[1.0, 2.0, 3.0], &[0.0, 100.0]), vec![1.0, 3.0]);
        assert_eq!(select(&[], &[50.0, 90.0]), vec![0.0]);
        assert_eq!(reference(&[], &[50.0, 90.0]), vec![0.0]);
    }
}
