//! Scanline polygon fill with GDAL's pixel-centre rule (`GDALdllImageFilledPolygon`, used by
//! `gdal.Rasterize` without ALL_TOUCHED), so a feature covers exactly the pixels pygeoprocessing's
//! rasterization gives it.
//!
//! Row `y` is scanned at `y + 0.5`. An edge from `(x1, y1)` to `(x2, y2)` with `y1 < y2` crosses
//! the scanline when `y1 <= y + 0.5 < y2`, at `x = (dy - y1) (x2 - x1) / (y2 - y1) + x1`, rounded
//! to `floor(x + 0.5)`. Sorted crossings pair up (even-odd, over all rings of the feature, so holes
//! and multipolygon parts work) into column spans `[a, b)`: pixel `c` is inside when
//! `a <= c < b`, i.e. when its centre lies in `(x_a, x_b]`. Horizontal edges never cross; the ones
//! lying exactly on a scanline and running right-to-left are filled as extra spans, as GDAL does.

use serde::{Deserialize, Serialize};

/// A non-horizontal polygon edge in frame pixel coordinates, lower end first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Edge {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
    /// First frame row whose scanline the edge crosses.
    pub row_start: i64,
    /// One past the last such row.
    pub row_end: i64,
    /// The polygon part (of a multipolygon) the edge belongs to.
    pub part: u32,
}

/// A span filled by a horizontal edge lying exactly on the scanline of `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HSpan {
    pub row: i64,
    pub start: i64,
    pub end: i64,
}

/// The smallest `row` with `row + 0.5 >= y`, by the same comparison GDAL makes.
fn first_row_at_or_after(y: f64) -> i64 {
    let mut r = (y - 0.5).ceil() as i64;
    while (r as f64 + 0.5) < y {
        r += 1;
    }
    while ((r - 1) as f64 + 0.5) >= y {
        r -= 1;
    }
    r
}

impl Edge {
    /// The edge from `a` to `b` of polygon part `part`, or `None` when it is horizontal (or
    /// degenerate).
    pub(crate) fn new(a: (f64, f64), b: (f64, f64), part: u32) -> Option<Edge> {
        let (lo, hi) = if a.1 < b.1 {
            (a, b)
        } else if a.1 > b.1 {
            (b, a)
        } else {
            return None;
        };
        if !(lo.0.is_finite() && lo.1.is_finite() && hi.0.is_finite() && hi.1.is_finite()) {
            return None;
        }
        Some(Edge {
            x1: lo.0,
            y1: lo.1,
            x2: hi.0,
            y2: hi.1,
            row_start: first_row_at_or_after(lo.1),
            row_end: first_row_at_or_after(hi.1),
            part,
        })
    }

    /// The rounded crossing with the scanline of `row` (which the caller knows it crosses).
    #[inline]
    fn crossing(&self, row: i64) -> i64 {
        let dy = row as f64 + 0.5;
        let x = (dy - self.y1) * (self.x2 - self.x1) / (self.y2 - self.y1) + self.x1;
        // GDAL clamps to int before the cast; far-off crossings only need to stay ordered.
        (x + 0.5)
            .floor()
            .clamp(-(1i64 << 52) as f64, (1i64 << 52) as f64) as i64
    }
}

impl HSpan {
    /// The extra span GDAL fills for a horizontal edge from `a` to `b` when it lies exactly on
    /// a scanline and runs right to left; `None` otherwise.
    pub(crate) fn new(a: (f64, f64), b: (f64, f64)) -> Option<HSpan> {
        let right_to_left = a.0.partial_cmp(&b.0) == Some(std::cmp::Ordering::Greater);
        if a.1 != b.1 || !right_to_left || !a.1.is_finite() {
            return None;
        }
        let row = (a.1 - 0.5).floor() as i64;
        if row as f64 + 0.5 != a.1 {
            return None;
        }
        let start = (b.0 + 0.5).floor() as i64;
        let end = (a.0 + 0.5).floor() as i64;
        (end > start).then_some(HSpan { row, start, end })
    }
}

/// Column spans of one feature, row by row, from a set of edges. Reuses its buffers.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    crossings: Vec<(u32, i64)>,
    spans: Vec<(i64, i64)>,
    active: Vec<usize>,
}

impl Scanner {
    /// Calls `f(row, start, end)` for every span of frame rows `[r0, r1)`, spans clipped to
    /// frame columns `[c0, c1)`, disjoint and in increasing order within a row. `edges` must be
    /// sorted by `row_start`.
    pub(crate) fn scan(
        &mut self,
        edges: &[Edge],
        hspans: &[HSpan],
        (r0, r1): (i64, i64),
        (c0, c1): (i64, i64),
        mut f: impl FnMut(i64, i64, i64),
    ) {
        self.active.clear();
        let mut next = 0;
        for row in r0..r1 {
            while next < edges.len() && edges[next].row_start <= row {
                self.active.push(next);
                next += 1;
            }
            self.active.retain(|&i| edges[i].row_end > row);
            self.crossings.clear();
            for &i in &self.active {
                if edges[i].row_start <= row {
                    self.crossings.push((edges[i].part, edges[i].crossing(row)));
                }
            }
            // Crossings pair up within each polygon part (even-odd over its rings); parts and
            // horizontal-edge spans are unioned.
            self.crossings.sort_unstable();
            self.spans.clear();
            let mut several = false;
            for part in self.crossings.chunk_by(|a, b| a.0 == b.0) {
                several |= part[0].0 != self.crossings[0].0;
                for pair in part.chunks_exact(2) {
                    if pair[1].1 > pair[0].1 {
                        self.spans.push((pair[0].1, pair[1].1));
                    }
                }
            }
            let before = self.spans.len();
            self.spans.extend(
                hspans
                    .iter()
                    .filter(|h| h.row == row)
                    .map(|h| (h.start, h.end)),
            );
            if several || self.spans.len() > before {
                merge_spans(&mut self.spans);
            }
            for &(a, b) in &self.spans {
                let (a, b) = (a.max(c0), b.min(c1));
                if b > a {
                    f(row, a, b);
                }
            }
        }
    }
}

/// Sorts and merges overlapping or touching spans in place.
fn merge_spans(spans: &mut Vec<(i64, i64)>) {
    spans.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
    for &(a, b) in spans.iter() {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    *spans = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edges_of(rings: &[Vec<(f64, f64)>]) -> (Vec<Edge>, Vec<HSpan>) {
        let mut e = Vec::new();
        let mut h = Vec::new();
        for r in rings {
            let n = r.len();
            for i in 0..n {
                let a = r[if i == 0 { n - 1 } else { i - 1 }];
                if let Some(x) = Edge::new(a, r[i], 0) {
                    e.push(x);
                } else if let Some(x) = HSpan::new(a, r[i]) {
                    h.push(x);
                }
            }
        }
        e.sort_by_key(|x| x.row_start);
        (e, h)
    }

    fn cells(rings: &[Vec<(f64, f64)>], size: i64) -> Vec<(i64, i64)> {
        let (e, h) = edges_of(rings);
        let mut out = Vec::new();
        Scanner::default().scan(&e, &h, (0, size), (0, size), |r, a, b| {
            out.extend((a..b).map(|c| (r, c)));
        });
        out
    }

    #[test]
    fn square_with_hole_by_pixel_centres() {
        let outer = vec![(0.0, 0.0), (6.0, 0.0), (6.0, 6.0), (0.0, 6.0), (0.0, 0.0)];
        let hole = vec![(2.0, 2.0), (4.0, 2.0), (4.0, 4.0), (2.0, 4.0), (2.0, 2.0)];
        let got = cells(&[outer, hole], 10);
        assert_eq!(got.len(), 36 - 4);
        assert!(!got.contains(&(2, 2)) && !got.contains(&(3, 3)));
        assert!(got.contains(&(0, 0)) && got.contains(&(5, 5)));
    }

    #[test]
    fn centre_on_a_vertical_edge_belongs_to_the_left_polygon() {
        // Pixel centres at x = 2.5: the left square (1.5..2.5) takes column 2, the right one not.
        let left = vec![(1.5, 0.0), (2.5, 0.0), (2.5, 3.0), (1.5, 3.0), (1.5, 0.0)];
        let right = vec![(2.5, 0.0), (3.5, 0.0), (3.5, 3.0), (2.5, 3.0), (2.5, 0.0)];
        assert!(cells(&[left], 5).iter().all(|&(_, c)| c == 2));
        assert!(cells(&[right], 5).iter().all(|&(_, c)| c == 3));
    }

    #[test]
    fn tiny_polygon_between_centres_hits_nothing() {
        let sq = vec![(0.9, 0.9), (1.1, 0.9), (1.1, 1.1), (0.9, 1.1), (0.9, 0.9)];
        assert!(cells(&[sq], 4).is_empty());
    }

    #[test]
    fn horizontal_edge_on_a_scanline_counts_only_running_right_to_left() {
        // Rectangle from y = 1.5 to y = 3.5: rows 1 and 2 are inside by the crossing rule; the
        // bottom edge lies on row 3's scanline and is filled only when it runs right to left.
        let ccw = vec![(0.2, 1.5), (0.2, 3.5), (3.0, 3.5), (3.0, 1.5), (0.2, 1.5)];
        let cw: Vec<_> = ccw.iter().rev().copied().collect();
        let a = cells(&[ccw], 5);
        let b = cells(&[cw], 5);
        assert_eq!(a.iter().filter(|p| p.0 == 1).count(), 3);
        assert_eq!(a.iter().filter(|p| p.0 == 2).count(), 3);
        assert_eq!(a.iter().filter(|p| p.0 == 3).count(), 0);
        assert_eq!(b.iter().filter(|p| p.0 == 3).count(), 3);
        assert_eq!(b.len(), 9);
    }

    #[test]
    fn row_start_matches_the_scanline_comparison() {
        for y in [0.5, 0.4999999999, 1.0, 1.5000000001, -0.5, -3.2] {
            let r = first_row_at_or_after(y);
            assert!(
                r as f64 + 0.5 >= y && (r - 1) as f64 + 0.5 < y,
                "{y} -> {r}"
            );
        }
    }
}
