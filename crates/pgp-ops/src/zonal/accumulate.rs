//! Per-block accumulation of pixel values under features, and the envelope fallback.

use std::collections::HashMap;
use std::path::PathBuf;

use pgp_core::{with_pixel_type, Nodata, Pixel, Raster, Window, LARGEST_BLOCK};
use serde::{Deserialize, Serialize};

use super::prepare::Frame;
use super::scan::{Edge, HSpan, Scanner};
use super::FeatureStats;
use crate::runtime::Handles;
use crate::{Error, Result};

/// Which pixels count and what is tallied besides the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tally {
    /// Leave nodata pixels out of the statistics.
    pub ignore_nodata: bool,
    /// Count the pixels of each value.
    pub value_counts: bool,
}

/// Running statistics of one feature over one raster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Acc {
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub count: u64,
    pub nodata_count: u64,
    /// A NaN value was counted: min and max are NaN (as numpy's would be).
    pub nan: bool,
    /// Pixels per value (by the bits of its canonical float), when tallied.
    pub counts: Option<HashMap<u64, u64>>,
}

impl Default for Acc {
    fn default() -> Self {
        Acc {
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            sum: 0.0,
            count: 0,
            nodata_count: 0,
            nan: false,
            counts: None,
        }
    }
}

impl Acc {
    /// An empty accumulator that tallies values when `tally` asks for it.
    pub(crate) fn new(tally: Tally) -> Acc {
        Acc {
            counts: tally.value_counts.then(HashMap::new),
            ..Acc::default()
        }
    }

    #[inline]
    fn push(&mut self, v: f64) {
        if let Some(counts) = &mut self.counts {
            *counts.entry(value_key(v)).or_insert(0) += 1;
        }
        if v.is_nan() {
            self.nan = true;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.sum += v;
        self.count += 1;
    }

    /// Adds `o` (a later block) into `self`.
    pub(crate) fn merge(&mut self, o: &Acc) {
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
        self.sum += o.sum;
        self.count += o.count;
        self.nodata_count += o.nodata_count;
        self.nan |= o.nan;
        if let (Some(mine), Some(theirs)) = (&mut self.counts, &o.counts) {
            for (k, n) in theirs {
                *mine.entry(*k).or_insert(0) += n;
            }
        }
    }

    /// Pixels the feature covered (valid or not).
    pub(crate) fn pixels(&self) -> u64 {
        self.count + self.nodata_count
    }

    pub(crate) fn stats(&self) -> FeatureStats {
        let (min, max) = if self.count == 0 {
            (None, None)
        } else if self.nan {
            (Some(f64::NAN), Some(f64::NAN))
        } else {
            (Some(self.min), Some(self.max))
        };
        FeatureStats {
            min,
            max,
            sum: self.sum,
            count: self.count,
            nodata_count: self.nodata_count,
            value_counts: self.counts.as_ref().map(|counts| {
                let mut list: Vec<(f64, u64)> = counts
                    .iter()
                    .map(|(k, n)| (f64::from_bits(*k), *n))
                    .collect();
                list.sort_by(|a, b| a.0.total_cmp(&b.0));
                list
            }),
        }
    }
}

/// The key a value is counted under: numpy.unique's equality, so -0 is 0 and every NaN is one.
fn value_key(v: f64) -> u64 {
    if v.is_nan() {
        f64::NAN.to_bits()
    } else {
        (v + 0.0).to_bits()
    }
}

/// A raster band with its nodata value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BandRef {
    pub path: PathBuf,
    pub band: usize,
    pub nodata: Option<f64>,
}

/// One feature's edges for the rows of one block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BlockFeature {
    /// Index of the feature in the layer.
    pub index: u32,
    pub edges: Vec<Edge>,
    pub hspans: Vec<HSpan>,
}

/// The work of one block: every feature reaching it, over every raster (serialisable, so it can
/// run in a worker process).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct BlockTask {
    pub window: Window,
    pub tally: Tally,
    pub frame: Frame,
    pub features: Vec<BlockFeature>,
}

/// Per raster, the features the block touched and their partial statistics.
pub(crate) type BlockOutput = Vec<Vec<(u32, Acc)>>;

impl BlockTask {
    /// Runs the block on `bands`, open as `rasters` (same order).
    pub(crate) fn run(&self, bands: &[BandRef], rasters: &Handles<'_>) -> Result<BlockOutput> {
        let w = self.window;
        let f = &self.frame;
        // The block in frame coordinates, clipped to the frame.
        let rows = (
            (w.y_off as i64 - f.row_off).max(0),
            (w.y_off as i64 + w.height as i64 - f.row_off).min(f.rows),
        );
        let cols = (
            (w.x_off as i64 - f.col_off).max(0),
            (w.x_off as i64 + w.width as i64 - f.col_off).min(f.cols),
        );
        // Spans once, in block-local coordinates, shared by every raster: (feature slot, row, c0, c1).
        let mut spans: Vec<(u32, u32, u32, u32)> = Vec::new();
        let mut scanner = Scanner::default();
        for (slot, feat) in self.features.iter().enumerate() {
            scanner.scan(&feat.edges, &feat.hspans, rows, cols, |row, a, b| {
                let r = (row + f.row_off - w.y_off as i64) as u32;
                let c0 = (a + f.col_off - w.x_off as i64) as u32;
                let c1 = (b + f.col_off - w.x_off as i64) as u32;
                spans.push((slot as u32, r, c0, c1));
            });
        }
        let mut out = Vec::with_capacity(bands.len());
        for (i, band) in bands.iter().enumerate() {
            let mut accs = vec![Acc::new(self.tally); self.features.len()];
            let mut touched = vec![false; self.features.len()];
            let data = rasters.with(i, |raster| Ok(raster.read_dyn(band.band, w)?))?;
            with_pixel_type!(data.data_type(), T => {
                let nd = Nodata::<T>::new(band.nodata);
                let data = data
                    .into_typed::<T>()
                    .ok_or_else(|| Error::internal("pixel type changed between read and use"))?;
                for &(slot, r, c0, c1) in &spans {
                    let acc = &mut accs[slot as usize];
                    touched[slot as usize] = true;
                    let row = data.row(r as usize);
                    for &v in row.slice(ndarray::s![c0 as usize..c1 as usize]) {
                        if nd.is_nodata(v) {
                            acc.nodata_count += 1;
                            if self.tally.ignore_nodata {
                                continue;
                            }
                        }
                        acc.push(v.to_f64());
                    }
                }
            });
            out.push(
                accs.into_iter()
                    .zip(touched)
                    .zip(&self.features)
                    .filter(|((_, t), _)| *t)
                    .map(|((a, _), feat)| (feat.index, a))
                    .collect(),
            );
        }
        Ok(out)
    }
}

/// pygeoprocessing's fallback for a feature that covers no pixel centre: every pixel of its
/// envelope's window on the frame grid. `None` when that window is empty (feature outside).
pub(crate) fn fallback_window(envelope: [f64; 4], frame: &Frame) -> Option<Window> {
    let [x_origin, pw, _, y_origin, _, ph] = frame.gt;
    let [mut gx0, mut gy0, mut gx1, mut gy1] = envelope;
    if pw < 0.0 {
        std::mem::swap(&mut gx0, &mut gx1);
    }
    if ph < 0.0 {
        std::mem::swap(&mut gy0, &mut gy1);
    }
    // Python's int() truncates toward zero.
    let mut xoff = ((gx0 - x_origin) / pw).trunc() as i64;
    let mut yoff = ((gy0 - y_origin) / ph).trunc() as i64;
    let mut wx = ((gx1 - x_origin) / pw).ceil() as i64 - xoff;
    let mut wy = ((gy1 - y_origin) / ph).ceil() as i64 - yoff;
    if xoff < 0 {
        wx += xoff;
        xoff = 0;
    }
    if yoff < 0 {
        wy += yoff;
        yoff = 0;
    }
    wx = wx.min(frame.cols - xoff);
    wy = wy.min(frame.rows - yoff);
    if wx <= 0 || wy <= 0 {
        return None;
    }
    Some(Window::new(
        (xoff + frame.col_off) as usize,
        (yoff + frame.row_off) as usize,
        wx as usize,
        wy as usize,
    ))
}

/// Statistics of every pixel of `window` (read in row chunks), as pygeoprocessing's fallback
/// computes them: with no valid pixel, min = max = sum = 0 and count = 0.
pub(crate) fn window_stats(
    raster: &Raster,
    band: &BandRef,
    window: Window,
    tally: Tally,
) -> Result<FeatureStats> {
    let mut acc = Acc::new(tally);
    let dt = raster.data_type(band.band)?;
    let chunk_rows = (LARGEST_BLOCK * 16 / window.width.max(1)).max(1);
    let mut y = 0;
    while y < window.height {
        let h = chunk_rows.min(window.height - y);
        let part = Window::new(window.x_off, window.y_off + y, window.width, h);
        with_pixel_type!(dt, T => {
            let nd = Nodata::<T>::new(band.nodata);
            for &v in raster.read::<T>(band.band, part)?.iter() {
                if nd.is_nodata(v) {
                    acc.nodata_count += 1;
                    if tally.ignore_nodata {
                        continue;
                    }
                }
                acc.push(v.to_f64());
            }
        });
        y += h;
    }
    let mut stats = acc.stats();
    if acc.count == 0 {
        stats.min = Some(0.0);
        stats.max = Some(0.0);
        stats.sum = 0.0;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pgp_core::GeoTransform;

    #[test]
    fn fallback_window_of_a_sub_pixel_square() {
        let gt = GeoTransform::north_up(0.0, 300.0, 30.0, -30.0);
        let bb = gt.bounding_box(10, 10);
        let frame = Frame::new(&gt, &bb, &bb).unwrap();
        // A 9 m square around the corner (60, 240): touches 4 pixels.
        let w = fallback_window([55.5, 235.5, 64.5, 244.5], &frame).unwrap();
        assert_eq!(w, Window::new(1, 1, 2, 2));
        // Wholly outside: nothing.
        assert!(fallback_window([400.0, 0.0, 410.0, 10.0], &frame).is_none());
        // Partly outside to the west: clamped.
        let w = fallback_window([-20.0, 235.5, 10.0, 244.5], &frame).unwrap();
        assert_eq!((w.x_off, w.width), (0, 1));
    }

    #[test]
    fn acc_merge_equals_one_pass() {
        let mut a = Acc::default();
        let mut b = Acc::default();
        let mut all = Acc::default();
        for (i, v) in [3.0, -1.0, 7.5, 2.0].iter().enumerate() {
            all.push(*v);
            if i < 2 {
                a.push(*v)
            } else {
                b.push(*v)
            }
        }
        a.merge(&b);
        assert_eq!(a, all);
        assert_eq!(a.stats().min, Some(-1.0));
        assert_eq!(a.stats().max, Some(7.5));
        assert_eq!(Acc::default().stats().min, None);
    }
}
