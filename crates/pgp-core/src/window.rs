//! Pixel windows and block iteration (`iterblocks`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// pygeoprocessing's `_LARGEST_ITERBLOCK`: the default budget, in pixels, of one block window.
pub const LARGEST_BLOCK: usize = 1 << 16;

/// A rectangle of pixels: offset from the top-left of the raster, and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    /// First column.
    pub x_off: usize,
    /// First row.
    pub y_off: usize,
    /// Number of columns.
    pub width: usize,
    /// Number of rows.
    pub height: usize,
}

impl Window {
    /// A window from offsets and size.
    pub fn new(x_off: usize, y_off: usize, width: usize, height: usize) -> Window {
        Window {
            x_off,
            y_off,
            width,
            height,
        }
    }

    /// The whole of a `cols` x `rows` raster.
    pub fn full(cols: usize, rows: usize) -> Window {
        Window::new(0, 0, cols, rows)
    }

    /// Number of pixels.
    pub fn area(&self) -> usize {
        self.width * self.height
    }

    /// `(rows, cols)`: the shape of the `ndarray` that holds this window.
    pub fn shape(&self) -> (usize, usize) {
        (self.height, self.width)
    }

    /// True when the window lies inside a `cols` x `rows` raster.
    pub fn fits_in(&self, cols: usize, rows: usize) -> bool {
        self.x_off
            .checked_add(self.width)
            .is_some_and(|end| end <= cols)
            && self
                .y_off
                .checked_add(self.height)
                .is_some_and(|end| end <= rows)
    }

    /// This window grown by `margin` pixels on each side, clipped to a `cols` x `rows` raster.
    pub fn expand(&self, margin: usize, cols: usize, rows: usize) -> Window {
        let x0 = self.x_off.saturating_sub(margin);
        let y0 = self.y_off.saturating_sub(margin);
        let x1 = (self.x_off + self.width + margin).min(cols);
        let y1 = (self.y_off + self.height + margin).min(rows);
        Window::new(x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "(x {}, y {}, {} x {})",
            self.x_off, self.y_off, self.width, self.height
        )
    }
}

/// The windows pygeoprocessing's `iterblocks` yields, in the same row-major order.
///
/// Starts from the file's own block size and, while the window is smaller than `largest_block`
/// pixels, widens it by a whole factor (clamped to the raster width), then heightens it the same
/// way. So windows line up with the file's blocks (no block is read twice), every pixel is covered
/// exactly once, and the last row and column of windows are ragged where the raster size is not a
/// multiple of the window size. `largest_block = 0` keeps the file's block size.
pub fn block_windows(
    raster_size: (usize, usize),
    block_size: (usize, usize),
    largest_block: usize,
) -> BlockWindows {
    let (cols, rows) = raster_size;
    let mut bx = block_size.0.max(1);
    let mut by = block_size.1.max(1);
    let area = bx * by;
    let width_factor = largest_block / area;
    if width_factor > 0 {
        bx = (bx * width_factor).min(cols.max(1));
    }
    let height_factor = largest_block / (bx * by);
    if height_factor > 0 {
        by = (by * height_factor).min(rows.max(1));
    }
    BlockWindows {
        cols,
        rows,
        bx,
        by,
        next: 0,
        n_x: cols.div_ceil(bx),
        n_y: rows.div_ceil(by),
    }
}

/// Iterator over block windows; see [`block_windows`]. Knows its length up front.
#[derive(Debug, Clone)]
pub struct BlockWindows {
    cols: usize,
    rows: usize,
    bx: usize,
    by: usize,
    next: usize,
    n_x: usize,
    n_y: usize,
}

impl BlockWindows {
    /// The (unclipped) window size the iterator steps by: `(cols, rows)`.
    pub fn step(&self) -> (usize, usize) {
        (self.bx, self.by)
    }
}

impl Iterator for BlockWindows {
    type Item = Window;

    fn next(&mut self) -> Option<Window> {
        if self.next >= self.n_x * self.n_y {
            return None;
        }
        let iy = self.next / self.n_x;
        let ix = self.next % self.n_x;
        self.next += 1;
        let x_off = ix * self.bx;
        let y_off = iy * self.by;
        Some(Window::new(
            x_off,
            y_off,
            self.bx.min(self.cols - x_off),
            self.by.min(self.rows - y_off),
        ))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.n_x * self.n_y - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for BlockWindows {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tiled_256_gives_one_tile_per_window() {
        let w: Vec<_> = block_windows((600, 300), (256, 256), LARGEST_BLOCK).collect();
        assert_eq!(w.len(), 6);
        assert_eq!(w[0], Window::new(0, 0, 256, 256));
        assert_eq!(w[2], Window::new(512, 0, 88, 256));
        assert_eq!(w[5], Window::new(512, 256, 88, 44));
    }

    #[test]
    fn strips_merge_like_pygeoprocessing() {
        // A strip raster 8192 wide with 1-row blocks: 8 rows per window.
        let it = block_windows((8192, 100), (8192, 1), LARGEST_BLOCK);
        assert_eq!(it.step(), (8192, 8));
        assert_eq!(it.len(), 13);
        // Narrow strips widen to the raster width, then grow in height.
        let it = block_windows((100, 1000), (100, 1), LARGEST_BLOCK);
        assert_eq!(it.step(), (100, 655));
    }

    proptest! {
        #[test]
        fn every_pixel_exactly_once(cols in 1usize..700, rows in 1usize..700,
                                    bx in 1usize..300, by in 1usize..300,
                                    largest in prop::sample::select(vec![0usize, 1, 100, 4096, 65536, 1 << 20])) {
            let it = block_windows((cols, rows), (bx, by), largest);
            let (sx, sy) = it.step();
            prop_assert!(sx % bx == 0 || sx == cols, "window width {sx} does not follow blocks of {bx}");
            prop_assert!(sy % by == 0 || sy == rows);
            let expected = it.len();
            let mut seen = vec![0u8; cols * rows];
            let mut n = 0;
            for w in it {
                n += 1;
                prop_assert!(w.width > 0 && w.height > 0);
                prop_assert!(w.fits_in(cols, rows));
                if largest >= bx * by {
                    prop_assert!(w.area() <= largest.max(bx * by));
                }
                for r in w.y_off..w.y_off + w.height {
                    for c in w.x_off..w.x_off + w.width {
                        seen[r * cols + c] += 1;
                    }
                }
            }
            prop_assert_eq!(n, expected);
            prop_assert!(seen.iter().all(|&s| s == 1));
        }
    }
}
