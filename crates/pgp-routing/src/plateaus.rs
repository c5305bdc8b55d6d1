//! Plateau resolution of `flow_dir_d8` and `flow_dir_mfd`, pygeoprocessing's rules written once
//! over a [`Store`], so the same code drains a plateau inside one job's window (plain arrays
//! around the window, on the executor) and a plateau crossing windows (the serial pass, through
//! the tile caches).
//!
//! A plateau is an 8-connected region of pixels of exactly one height. Its directions depend
//! only on its pixels, the heights around it and its root, the first of its pixels without a
//! downhill neighbour in pygeoprocessing's scan order (the DEM's blocks, row-major): from the
//! root a breadth-first search finds its drains (downhill pixels; only when there is none,
//! pixels next to nodata or the raster's edge), then a breadth-first relaxation of distances
//! from the drains points every plateau pixel along the shortest path, ties to the first found.
//! The queues run in pygeoprocessing's order, and a plateau reads and writes no pixel of
//! another plateau, so plateaus may be drained in any order, in parallel, with the serial
//! result.

use std::collections::VecDeque;

use pgp_core::Window;

use crate::blocks::Halo;
use crate::common::{is_close, COL_OFFSETS, INFLOW_OFFSETS, ROW_OFFSETS, SQRT2, SQRT2_INV};
use crate::flow_dir::{pack_mfd, D8_NODATA, D8_UNRESOLVED, MFD_NODATA, MFD_UNRESOLVED};
use crate::grid::Cell;
use crate::request::{Mfd, D8};

/// `marks` bit: searched as part of a flat region.
const SEARCHED: u8 = 1;
/// `marks` bit (MFD): a drain, or queued for directions.
const QUEUED: u8 = 2;
/// `marks` bit of a job window's halo: outside the window.
const HALO: u8 = 4;

/// The rasters plateau resolution works on, pixels named by [`Store::Pixel`].
pub(crate) trait Store {
    /// A pixel's name: raster coordinates, or an index into arrays.
    type Pixel: Copy;
    /// The direction encoding.
    type Dir: Copy;
    /// The DEM's nodata (pygeoprocessing's improbable value when it has none).
    fn nodata(&self) -> f64;
    /// The distance of pixels no drain has reached yet.
    fn far(&self) -> f64;
    /// The neighbour of `p` in direction `d`, `None` off the raster. A store may instead give
    /// a pixel holding nodata there: every rule below treats the two alike.
    fn neighbour(&self, p: Self::Pixel, d: usize) -> Option<Self::Pixel>;
    fn height(&mut self, p: Self::Pixel) -> f64;
    fn set_dir(&mut self, p: Self::Pixel, dir: Self::Dir);
    fn distance(&mut self, p: Self::Pixel) -> f64;
    fn set_distance(&mut self, p: Self::Pixel, distance: f64);
    fn marks(&mut self, p: Self::Pixel) -> u8;
    fn set_marks(&mut self, p: Self::Pixel, marks: u8);

    /// Whether the plateau being searched reaches beyond the pixels this store holds, so it
    /// must be left for another store to drain (the search is finished but nothing is drained).
    fn reaches_beyond(&self) -> bool {
        false
    }

    /// The height of the neighbour in direction `d`, nodata off the raster.
    #[inline]
    fn height_towards(&mut self, p: Self::Pixel, d: usize) -> f64 {
        match self.neighbour(p, d) {
            None => self.nodata(),
            Some(n) => self.height(n),
        }
    }

    /// Queues the neighbour in direction `d` for the flat search unless it was searched.
    #[inline]
    fn queue_flat(&mut self, p: Self::Pixel, d: usize, search: &mut VecDeque<Self::Pixel>) {
        if let Some(n) = self.neighbour(p, d) {
            if self.mark(n, SEARCHED) {
                search.push_back(n);
            }
        }
    }

    /// Sets `bit` in the marks of `p`; whether it was clear.
    #[inline]
    fn mark(&mut self, p: Self::Pixel, bit: u8) -> bool {
        let m = self.marks(p);
        self.set_marks(p, m | bit);
        m & bit == 0
    }

    /// Breadth-first distances from `drains` over the plateau at height `root`, calling
    /// `stepped(self, p, d)` for every pixel given a shorter distance from direction `d`.
    #[inline]
    fn relax(
        &mut self,
        drains: &mut VecDeque<Self::Pixel>,
        root: f64,
        mut stepped: impl FnMut(&mut Self, Self::Pixel, usize),
    ) {
        while let Some(q) = drains.pop_front() {
            let dist = self.distance(q);
            for d in 0..8 {
                let Some(n) = self.neighbour(q, d) else {
                    continue;
                };
                let n_dist = dist + if d & 1 == 1 { SQRT2 } else { 1.0 };
                if self.height(n) == root && self.distance(n) > n_dist {
                    stepped(self, n, d);
                    self.set_distance(n, n_dist);
                    drains.push_back(n);
                }
            }
        }
    }
}

/// The queues of plateau resolution, kept between plateaus so they are allocated once.
pub(crate) struct Queues<P, T> {
    search: VecDeque<P>,
    drains: VecDeque<P>,
    nodata_drains: VecDeque<(P, T)>,
    directions: VecDeque<P>,
}

impl<P, T> Queues<P, T> {
    pub(crate) fn new() -> Queues<P, T> {
        Queues {
            search: VecDeque::new(),
            drains: VecDeque::new(),
            nodata_drains: VecDeque::new(),
            directions: VecDeque::new(),
        }
    }

    /// After the search: whether the plateau reaches beyond `s`, in which case the drains
    /// found are dropped (the directions the search set are the block-local pass's anyway).
    fn left_for_later<S: Store>(&mut self, s: &S) -> bool {
        if !s.reaches_beyond() {
            return false;
        }
        self.drains.clear();
        self.nodata_drains.clear();
        true
    }
}

/// A flow direction method as plateau resolution sees it.
pub(crate) trait Method {
    /// The direction encoding.
    type Dir: Cell;
    /// The working value of a pixel the block-local pass could not resolve.
    const UNRESOLVED: Self::Dir;
    /// The output's nodata, which a plateau without any drain keeps.
    const NODATA: Self::Dir;
    /// Drains the plateau of height `root` whose root is `p`; whether it had any drain
    /// (false also when it [reaches beyond](Store::reaches_beyond) the store).
    fn drain<S: Store<Dir = Self::Dir>>(
        s: &mut S,
        q: &mut Queues<S::Pixel, Self::Dir>,
        p: S::Pixel,
        root: f64,
    ) -> bool;
}

impl Method for D8 {
    type Dir = u8;
    const UNRESOLVED: u8 = D8_UNRESOLVED;
    const NODATA: u8 = D8_NODATA;

    fn drain<S: Store<Dir = u8>>(
        s: &mut S,
        q: &mut Queues<S::Pixel, u8>,
        p: S::Pixel,
        root: f64,
    ) -> bool {
        let nodata = s.nodata();
        q.search.push_back(p);
        s.mark(p, SEARCHED);
        while let Some(pq) = q.search.pop_front() {
            let mut best_dir: Option<usize> = None;
            let mut best = 0.0f64;
            let mut diagonal_nodata = true;
            for d in 0..8 {
                let n = s.height_towards(pq, d);
                if is_close(n, nodata) {
                    if diagonal_nodata && best == 0.0 {
                        best_dir = Some(d);
                        diagonal_nodata = d & 1 == 1;
                    }
                    continue;
                }
                let mut slope = root - n;
                if slope < 0.0 {
                    continue;
                }
                if slope == 0.0 {
                    s.queue_flat(pq, d, &mut q.search);
                    continue;
                }
                if d & 1 == 1 {
                    slope *= SQRT2_INV;
                }
                if slope > best {
                    best = slope;
                    best_dir = Some(d);
                }
            }
            if let Some(d) = best_dir {
                if best > 0.0 {
                    s.set_dir(pq, d as u8);
                    s.set_distance(pq, 0.0);
                    q.drains.push_back(pq);
                } else {
                    q.nodata_drains.push_back((pq, d as u8));
                }
            }
        }
        if q.left_for_later(s) {
            return false;
        }
        if q.drains.is_empty() {
            for (pq, d) in q.nodata_drains.drain(..) {
                s.set_dir(pq, d);
                s.set_distance(pq, 0.0);
                q.drains.push_back(pq);
            }
        } else {
            q.nodata_drains.clear();
        }
        let drained = !q.drains.is_empty();
        s.relax(&mut q.drains, root, |s, n, d| {
            s.set_dir(n, INFLOW_OFFSETS[d]);
        });
        drained
    }
}

impl Method for Mfd {
    type Dir = i32;
    const UNRESOLVED: i32 = MFD_UNRESOLVED;
    const NODATA: i32 = MFD_NODATA;

    fn drain<S: Store<Dir = i32>>(
        s: &mut S,
        q: &mut Queues<S::Pixel, i32>,
        p: S::Pixel,
        root: f64,
    ) -> bool {
        let (nodata, far) = (s.nodata(), s.far());
        q.search.push_back(p);
        s.mark(p, SEARCHED);
        while let Some(pq) = q.search.pop_front() {
            let mut slopes = [0.0f64; 8];
            let mut nodata_slopes = [0.0f64; 8];
            let mut sum = 0.0;
            let mut nodata_sum = 0.0;
            for d in 0..8 {
                let n = s.height_towards(pq, d);
                if is_close(n, nodata) {
                    let w = if d & 1 == 1 { SQRT2_INV } else { 1.0 };
                    nodata_sum += w;
                    nodata_slopes[d] = w;
                    continue;
                }
                let mut slope = root - n;
                if slope < 0.0 {
                    continue;
                }
                if slope == 0.0 {
                    s.queue_flat(pq, d, &mut q.search);
                    continue;
                }
                if d & 1 == 1 {
                    slope *= SQRT2_INV;
                }
                slopes[d] = slope;
                sum += slope;
            }
            if sum > 0.0 {
                s.set_dir(pq, pack_mfd(&slopes, sum));
                s.set_distance(pq, 0.0);
                s.mark(pq, QUEUED);
                q.drains.push_back(pq);
            } else if nodata_sum > 0.0 {
                let code = pack_mfd(&nodata_slopes, nodata_sum);
                q.nodata_drains.push_back((pq, code));
            }
        }
        if q.left_for_later(s) {
            return false;
        }
        if q.drains.is_empty() {
            for (pq, code) in q.nodata_drains.drain(..) {
                s.set_dir(pq, code);
                s.set_distance(pq, 0.0);
                s.mark(pq, QUEUED);
                q.drains.push_back(pq);
            }
        } else {
            q.nodata_drains.clear();
        }
        let drained = !q.drains.is_empty();
        q.directions.extend(q.drains.iter().copied());
        s.relax(&mut q.drains, root, |_, _, _| {});
        while let Some(pq) = q.directions.pop_front() {
            let dist = s.distance(pq);
            let mut weights = [0.0f64; 8];
            let mut sum = 0.0;
            for d in 0..8 {
                let Some(n) = s.neighbour(pq, d) else {
                    continue;
                };
                if s.height(n) != root {
                    continue;
                }
                let n_dist = s.distance(n);
                if n_dist == far {
                    continue;
                }
                if n_dist < dist {
                    let w = if d & 1 == 1 { SQRT2_INV } else { 1.0 };
                    weights[d] = w;
                    sum += w;
                } else if s.mark(n, QUEUED) {
                    q.directions.push_back(n);
                }
            }
            if sum != 0.0 {
                s.set_dir(pq, pack_mfd(&weights, sum));
            }
        }
        drained
    }
}

/// One job's window as a [`Store`], pixels named by their index in the window's halo (whose
/// cells beyond the raster hold nodata, which every rule treats as it treats the raster's
/// edge): heights from the halo, and directions, distances and marks over the same cells.
struct WindowStore<'a, T> {
    nodata: f64,
    far: f64,
    /// Index offsets of the eight neighbours.
    offsets: [isize; 8],
    heights: &'a [f64],
    dirs: Vec<T>,
    distance: Vec<f64>,
    marks: Vec<u8>,
    /// Whether the current plateau's search met a pixel of its height outside the window.
    beyond: bool,
}

impl<T: Copy> Store for WindowStore<'_, T> {
    type Pixel = usize;
    type Dir = T;
    fn nodata(&self) -> f64 {
        self.nodata
    }
    fn far(&self) -> f64 {
        self.far
    }
    /// Plateau pixels are inside the window, so their neighbours are in the halo.
    #[inline]
    fn neighbour(&self, p: usize, d: usize) -> Option<usize> {
        Some(p.wrapping_add_signed(self.offsets[d]))
    }
    #[inline]
    fn height(&mut self, p: usize) -> f64 {
        self.heights[p]
    }
    #[inline]
    fn set_dir(&mut self, p: usize, dir: T) {
        self.dirs[p] = dir;
    }
    #[inline]
    fn distance(&mut self, p: usize) -> f64 {
        self.distance[p]
    }
    #[inline]
    fn set_distance(&mut self, p: usize, distance: f64) {
        self.distance[p] = distance;
    }
    #[inline]
    fn marks(&mut self, p: usize) -> u8 {
        self.marks[p]
    }
    #[inline]
    fn set_marks(&mut self, p: usize, marks: u8) {
        self.marks[p] = marks;
    }
    fn reaches_beyond(&self) -> bool {
        self.beyond
    }

    /// The search stays inside the window: a flat neighbour in the halo means the plateau
    /// crosses the window's edge.
    #[inline]
    fn queue_flat(&mut self, p: usize, d: usize, search: &mut VecDeque<usize>) {
        let n = p.wrapping_add_signed(self.offsets[d]);
        let m = self.marks[n];
        if m & HALO != 0 {
            self.beyond = true;
        } else if m & SEARCHED == 0 {
            self.marks[n] = m | SEARCHED;
            search.push_back(n);
        }
    }
}

/// Calls `visit(x, y)` for the pixels of `w` (window coordinates) in pygeoprocessing's scan
/// order: the raster's blocks of `block` row-major, each row-major.
fn scan_window(w: Window, block: (usize, usize), mut visit: impl FnMut(usize, usize)) {
    let (bx, by) = (block.0.max(1), block.1.max(1));
    let (x_end, y_end) = (w.x_off + w.width, w.y_off + w.height);
    for block_row in w.y_off / by..y_end.div_ceil(by) {
        let (y0, y1) = (
            (block_row * by).max(w.y_off),
            ((block_row + 1) * by).min(y_end),
        );
        for block_col in w.x_off / bx..x_end.div_ceil(bx) {
            let (x0, x1) = (
                (block_col * bx).max(w.x_off),
                ((block_col + 1) * bx).min(x_end),
            );
            for y in y0..y1 {
                for x in x0..x1 {
                    visit(x - w.x_off, y - w.y_off);
                }
            }
        }
    }
}

/// Drains, in `dirs` (the window `w` of a `size` raster, row-major), every plateau with a
/// pixel the block-local pass left unresolved that lies wholly inside `w`; a plateau without
/// any drain gets nodata, as pygeoprocessing leaves it. The window is scanned in the DEM's
/// order (blocks of `scan_block`), so the first unresolved pixel met of a plateau is its
/// root. Plateaus reaching beyond `w` (or of a height that is not finite, where
/// pygeoprocessing's search and relaxation disagree on what the plateau is) stay unresolved
/// for the serial pass.
pub(crate) fn drain_enclosed<M: Method>(
    halo: &Halo,
    w: Window,
    size: (usize, usize),
    nodata: f64,
    scan_block: (usize, usize),
    dirs: &mut [M::Dir],
) {
    if !dirs.contains(&M::UNRESOLVED) {
        return;
    }
    let far = (size.0 as u64 * size.1 as u64) as f64;
    let stride = halo.stride;
    let area = halo.values.len();
    let halo_rows = area / stride;
    // The window's directions laid out like the halo, the ring holding nodata (never read).
    let mut halo_dirs = vec![M::NODATA; area];
    for (r, row) in dirs.chunks_exact(w.width).enumerate() {
        let start = (r + 1) * stride + 1;
        halo_dirs[start..start + w.width].copy_from_slice(row);
    }
    let mut marks = vec![0u8; area];
    for (i, m) in marks.iter_mut().enumerate() {
        let (r, c) = (i / stride, i % stride);
        if r == 0 || c == 0 || r == halo_rows - 1 || c == stride - 1 {
            *m = HALO;
        }
    }
    let mut offsets = [0isize; 8];
    for d in 0..8 {
        offsets[d] = ROW_OFFSETS[d] * stride as isize + COL_OFFSETS[d];
    }
    let mut s = WindowStore {
        nodata,
        far,
        offsets,
        heights: &halo.values,
        dirs: halo_dirs,
        distance: vec![far; area],
        marks,
        beyond: false,
    };
    let mut q = Queues::new();
    let mut drainless: Vec<usize> = Vec::new();
    scan_window(w, scan_block, |x, y| {
        let p = (y + 1) * stride + x + 1;
        if s.dirs[p] != M::UNRESOLVED || s.marks[p] & SEARCHED != 0 {
            return;
        }
        let height = s.heights[p];
        if !height.is_finite() {
            return;
        }
        s.beyond = false;
        if M::drain(&mut s, &mut q, p, height) || s.beyond {
            return;
        }
        // No drain: every pixel of the plateau is unresolved, and keeps nodata. Pixels of
        // its height are all inside the window (the search said so).
        s.dirs[p] = M::NODATA;
        drainless.push(p);
        while let Some(pq) = drainless.pop() {
            for offset in offsets {
                let n = pq.wrapping_add_signed(offset);
                if s.heights[n] == height && s.dirs[n] == M::UNRESOLVED {
                    s.dirs[n] = M::NODATA;
                    drainless.push(n);
                }
            }
        }
    });
    for (r, row) in dirs.chunks_exact_mut(w.width).enumerate() {
        let start = (r + 1) * stride + 1;
        row.copy_from_slice(&s.dirs[start..start + w.width]);
    }
}
