//! Flow accumulation autotuning of [`super::extract_strahler_streams_d8`], per river.

use std::collections::{BTreeMap, HashMap};

use super::ttest::student_t_test_p;
use super::{walk_upstream, Links, Rasters, Segment};

/// One river's flow accumulation autotuning: while the drops of consecutive orders (from the
/// lowest) differ significantly by Student's t-test, the threshold grows by 1.25 and the
/// segments of the orders tested are cut back to it, re-walked or deleted.
pub(super) struct Autotune<'a> {
    pub(super) r: &'a mut Rasters,
    pub(super) segments: &'a mut Vec<Segment>,
    pub(super) links: &'a mut Links,
    pub(super) junctions: &'a mut HashMap<(i64, i64), Vec<usize>>,
}

impl Autotune<'_> {
    pub(super) fn run(
        &mut self,
        threshold: i64,
        min_p_val: f64,
        by_order: &mut BTreeMap<i32, Vec<usize>>,
        drops: &mut BTreeMap<i32, Vec<f64>>,
    ) {
        let mut working = threshold as f64;
        // pygeoprocessing's collections are defaultdicts: reading an order creates it, which
        // matters below (an empty order still counts as present).
        while let (Some(&lowest), Some(_)) = (drops.keys().next(), drops.keys().last()) {
            let mut test_order = lowest;
            while drops.keys().last().is_some_and(|&top| test_order < top) {
                if drops.entry(test_order).or_default().len() < 3
                    || drops.entry(test_order + 1).or_default().len() < 3
                {
                    break;
                }
                let p = student_t_test_p(&drops[&test_order], &drops[&(test_order + 1)]);
                if p > min_p_val || p.is_nan() {
                    break;
                }
                test_order += 1;
            }
            if drops.keys().next() == Some(&test_order) {
                break;
            }
            working *= 1.25;
            // pygeoprocessing passes the float threshold to a C int parameter: truncated.
            let walk_threshold = working as i32 as i64;
            for order in 1..=test_order {
                drops.remove(&order);
                let mut pending = std::mem::take(by_order.entry(order).or_default());
                let mut kept = Vec::new();
                while let Some(id) = pending.pop() {
                    let s = &self.segments[id];
                    if (s.ds_fa.unwrap_or(0) as f64) < working {
                        self.links.delete(self.segments, id);
                        continue;
                    }
                    if s.us_fa.unwrap_or(0) as f64 >= working {
                        drops
                            .entry(order)
                            .or_default()
                            .push(s.drop_distance.unwrap_or(0.0));
                        kept.push(id);
                        continue;
                    }
                    let (dsx, dsy) = s.ds.map_or((0, 0), |(x, y)| (i64::from(x), i64::from(y)));
                    let Some(walk) = walk_upstream(
                        self.r,
                        (dsx, dsy),
                        s.upstream_dir,
                        walk_threshold,
                        self.junctions,
                    ) else {
                        self.links.delete(self.segments, id);
                        continue;
                    };
                    let (xu, yu) = walk.upstream;
                    let drop = self.r.dem.get(xu as usize, yu as usize)
                        - self.r.dem.get(dsx as usize, dsy as usize);
                    drops.entry(order).or_default().push(drop);
                    let us_fa = self.r.accum(xu, yu);
                    let s = &mut self.segments[id];
                    s.line = Some(walk.line);
                    s.drop_distance = Some(drop);
                    s.us_fa = Some(us_fa as i64);
                    s.thresh_fa = Some(working as i64);
                    s.ds_1 = Some((walk.first_step.0 as i32, walk.first_step.1 as i32));
                    s.us = Some((xu as i32, yu as i32));
                    kept.push(id);
                }
                by_order.insert(order, kept);
            }
        }
    }
}
