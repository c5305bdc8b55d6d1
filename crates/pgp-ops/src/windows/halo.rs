//! Windows grown by a halo: how pixels beyond the raster's edge are made up.

use ndarray::Array3;
use pgp_core::{Pixel, Window};
use serde::{Deserialize, Serialize};

/// What a window function sees beyond the raster's edges when its windows are grown by a halo
/// (numpy's `np.pad` names, so `Reflect` and `Symmetric` mean what they mean there).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum Edge {
    /// Each input band's nodata value (an input band without one is refused up front).
    #[default]
    Nodata,
    /// This value, in every band of every input.
    Constant(f64),
    /// The edge pixel repeated: `a a | a b c` (numpy `edge`).
    Replicate,
    /// Mirrored about the edge pixel, which is not repeated: `c b | a b c` (numpy `reflect`).
    Reflect,
    /// Mirrored about the edge itself, the edge pixel repeated: `b a | a b c` (numpy
    /// `symmetric`, scipy.ndimage `reflect`).
    Symmetric,
}

/// Overlap of a window function's input windows: `pixels` on every side of the output window,
/// made up beyond the raster's edges as `edge` says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Halo {
    /// Pixels added on each side.
    pub pixels: usize,
    /// Pixels beyond the raster's edges.
    pub edge: Edge,
}

impl Halo {
    /// `pixels` of overlap, padded at the raster's edges as `edge` says.
    pub fn new(pixels: usize, edge: Edge) -> Halo {
        Halo { pixels, edge }
    }
}

/// The raster index that padded index `g` (which may lie outside `0..n`) takes its value from,
/// or `None` when it takes the fill value. `n > 0`.
pub(crate) fn source_index(g: isize, n: usize, edge: Edge) -> Option<usize> {
    let len = n as isize;
    if (0..len).contains(&g) {
        return Some(g as usize);
    }
    let m = match edge {
        Edge::Nodata | Edge::Constant(_) => return None,
        Edge::Replicate => g.clamp(0, len - 1),
        Edge::Reflect if n == 1 => 0,
        Edge::Reflect => {
            let period = 2 * (len - 1);
            let m = g.rem_euclid(period);
            if m >= len {
                period - m
            } else {
                m
            }
        }
        Edge::Symmetric => {
            let period = 2 * len;
            let m = g.rem_euclid(period);
            if m >= len {
                period - 1 - m
            } else {
                m
            }
        }
    };
    Some(m as usize)
}

/// `block` (the bands of `read`, which is `window` grown by `halo` and clipped to a
/// `cols` x `rows` raster) as the full `window` grown by `halo`, made up beyond the raster's
/// edges as `edge` says; `fill` holds each band's fill value.
pub(crate) fn pad<T: Pixel>(
    block: &Array3<T>,
    read: Window,
    window: Window,
    halo: usize,
    raster: (usize, usize),
    edge: Edge,
    fill: &[T],
) -> Array3<T> {
    let axis = |start: usize, len: usize, read_off: usize, n: usize| -> Vec<Option<usize>> {
        (0..len + 2 * halo)
            .map(|i| {
                let g = start as isize - halo as isize + i as isize;
                // Every source index lies in the read window: it is within the raster and within
                // `halo` of the window, or the window's grown span was clipped to the raster.
                source_index(g, n, edge).map(|s| s - read_off)
            })
            .collect()
    };
    let rows = axis(window.y_off, window.height, read.y_off, raster.1);
    let cols = axis(window.x_off, window.width, read.x_off, raster.0);
    let bands = block.dim().0;
    Array3::from_shape_fn((bands, rows.len(), cols.len()), |(b, r, c)| {
        match (rows[r], cols[c]) {
            (Some(r), Some(c)) => block[[b, r, c]],
            _ => fill[b],
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Folding by repeated mirroring, one edge at a time: an independent statement of numpy's
    /// `reflect` and `symmetric`.
    fn mirrored(mut g: isize, n: usize, repeat_edge: bool) -> usize {
        let len = n as isize;
        if n == 1 {
            return 0;
        }
        while !(0..len).contains(&g) {
            g = match (g < 0, repeat_edge) {
                (true, false) => -g,
                (true, true) => -g - 1,
                (false, false) => 2 * (len - 1) - g,
                (false, true) => 2 * len - 1 - g,
            };
        }
        g as usize
    }

    #[test]
    fn numpy_pad_modes_on_a_short_row() {
        // np.pad([1, 2, 3], 4, mode) as numpy 1.26 gives it for each mode.
        let row = [1, 2, 3];
        let padded = |edge| -> Vec<i32> {
            (-4..7)
                .map(|g| source_index(g, 3, edge).map_or(0, |i| row[i]))
                .collect()
        };
        assert_eq!(padded(Edge::Replicate), [1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3]);
        assert_eq!(padded(Edge::Reflect), [1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3]);
        assert_eq!(padded(Edge::Symmetric), [3, 3, 2, 1, 1, 2, 3, 3, 2, 1, 1]);
        assert_eq!(
            padded(Edge::Constant(9.0)),
            [0, 0, 0, 0, 1, 2, 3, 0, 0, 0, 0]
        );
    }

    proptest! {
        #[test]
        fn mirror_modes_fold_like_repeated_mirroring(g in -50isize..60, n in 1usize..12) {
            prop_assert_eq!(source_index(g, n, Edge::Reflect), Some(mirrored(g, n, false)));
            prop_assert_eq!(source_index(g, n, Edge::Symmetric), Some(mirrored(g, n, true)));
            let clamped = g.clamp(0, n as isize - 1) as usize;
            prop_assert_eq!(source_index(g, n, Edge::Replicate), Some(clamped));
        }

        #[test]
        fn padded_windows_match_padding_the_whole_raster(
            cols in 1usize..9, rows in 1usize..9, halo in 0usize..5,
            x in 0usize..9, y in 0usize..9, w in 1usize..9, h in 1usize..9, mode in 0usize..4,
        ) {
            let (x, y) = (x % cols, y % rows);
            let window = Window::new(x, y, w.min(cols - x), h.min(rows - y));
            let edge = [Edge::Constant(-1.0), Edge::Replicate, Edge::Reflect, Edge::Symmetric][mode];
            let raster = Array3::from_shape_fn((2, rows, cols), |(b, r, c)| (b * 100 + r * 10 + c) as i32);
            let read = window.expand(halo, cols, rows);
            let block = raster
                .slice(ndarray::s![.., read.y_off..read.y_off + read.height, read.x_off..read.x_off + read.width])
                .to_owned();
            let got = pad(&block, read, window, halo, (cols, rows), edge, &[-1, -2]);
            prop_assert_eq!(got.dim(), (2, window.height + 2 * halo, window.width + 2 * halo));
            for ((b, r, c), v) in got.indexed_iter() {
                let gr = window.y_off as isize - halo as isize + r as isize;
                let gc = window.x_off as isize - halo as isize + c as isize;
                let want = match (source_index(gr, rows, edge), source_index(gc, cols, edge)) {
                    (Some(r), Some(c)) => raster[[b, r, c]],
                    _ => [-1, -2][b],
                };
                prop_assert_eq!(*v, want);
            }
        }
    }
}
