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
use crate::common::{is_close, neighbour, INFLOW_OFFSETS, SQRT2, SQRT2_INV};
use crate::flow_dir::{pack_mfd, D8_NODATA, D8_UNRESOLVED, MFD_NODATA, MFD_UNRESOLVED};
use crate::grid::Cell;
use crate::request::{Mfd, D8};

/// `marks` bit: searched as part of a flat region.
const SEARCHED: u8 = 1;
/// `marks` bit (MFD): a drain, or queued for directions.
const QUEUED: u8 = 2;

/// The rasters plateau resolution works on, in raster coordinates.
pub(crate) trait Store {
    /// The direction encoding.
    type Dir: Copy;
    /// The raster's `(cols, rows)`.
    fn size(&self) -> (usize, usize);
    /// The DEM's nodata (pygeoprocessing's improbable value when it has none).
    fn nodata(&self) -> f64;
    /// The distance of pixels no drain has reached yet.
    fn far(&self) -> f64;
    fn height(&mut self, x: usize, y: usize) -> f64;
    fn set_dir(&mut self, x: usize, y: usize, dir: Self::Dir);
    fn distance(&mut self, x: usize, y: usize) -> f64;
    fn set_distance(&mut self, x: usize, y: usize, distance: f64);
    fn marks(&mut self, x: usize, y: usize) -> u8;
    fn set_marks(&mut self, x: usize, y: usize, marks: u8);

    /// Whether the plateau being searched reaches beyond the pixels this store holds, so it
    /// must be left for another store to drain (the search is finished but nothing is drained).
    fn reaches_beyond(&self) -> bool {
        false
    }

    /// The height of the neighbour in direction `d`, nodata off the raster.
    fn height_towards(&mut self, x: usize, y: usize, d: usize) -> f64 {
        let (cols, rows) = self.size();
        match neighbour(x, y, d, cols, rows) {
            None => self.nodata(),
            Some((xn, yn)) => self.height(xn, yn),
        }
    }

    /// Queues the neighbour in direction `d` for the flat search unless it was searched.
    fn queue_flat(&mut self, x: usize, y: usize, d: usize, search: &mut VecDeque<(usize, usize)>) {
        let (cols, rows) = self.size();
        if let Some((xn, yn)) = neighbour(x, y, d, cols, rows) {
            let m = self.marks(xn, yn);
            if m & SEARCHED == 0 {
                search.push_back((xn, yn));
                self.set_marks(xn, yn, m | SEARCHED);
            }
        }
    }

    /// Sets `bit` in the marks of `(x, y)`; whether it was clear.
    fn mark(&mut self, x: usize, y: usize, bit: u8) -> bool {
        let m = self.marks(x, y);
        self.set_marks(x, y, m | bit);
        m & bit == 0
    }

    /// Breadth-first distances from `drains` over the plateau at height `root`, calling
    /// `stepped(self, x, y, d)` for every pixel given a shorter distance from direction `d`.
    fn relax(
        &mut self,
        drains: &mut VecDeque<(usize, usize)>,
        root: f64,
        mut stepped: impl FnMut(&mut Self, usize, usize, usize),
    ) {
        let (cols, rows) = self.size();
        while let Some((xq, yq)) = drains.pop_front() {
            let dist = self.distance(xq, yq);
            for d in 0..8 {
                let Some((xn, yn)) = neighbour(xq, yq, d, cols, rows) else {
                    continue;
                };
                let n_dist = dist + if d & 1 == 1 { SQRT2 } else { 1.0 };
                if self.height(xn, yn) == root && self.distance(xn, yn) > n_dist {
                    stepped(self, xn, yn, d);
                    self.set_distance(xn, yn, n_dist);
                    drains.push_back((xn, yn));
                }
            }
        }
    }
}

/// The queues of plateau resolution, kept between plateaus so they are allocated once.
pub(crate) struct Queues<T> {
    search: VecDeque<(usize, usize)>,
    drains: VecDeque<(usize, usize)>,
    nodata_drains: VecDeque<(usize, usize, T)>,
    directions: VecDeque<(usize, usize)>,
}

impl<T> Queues<T> {
    pub(crate) fn new() -> Queues<T> {
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
    /// Drains the plateau of height `root` whose root is `(x, y)`; whether it had any drain
    /// (false also when it [reaches beyond](Store::reaches_beyond) the store).
    fn drain<S: Store<Dir = Self::Dir>>(
        s: &mut S,
        q: &mut Queues<Self::Dir>,
        x: usize,
        y: usize,
        root: f64,
    ) -> bool;
}

impl Method for D8 {
    type Dir = u8;
    const UNRESOLVED: u8 = D8_UNRESOLVED;
    const NODATA: u8 = D8_NODATA;

    fn drain<S: Store<Dir = u8>>(
        s: &mut S,
        q: &mut Queues<u8>,
        x: usize,
        y: usize,
        root: f64,
    ) -> bool {
        let nodata = s.nodata();
        q.search.push_back((x, y));
        s.mark(x, y, SEARCHED);
        while let Some((xq, yq)) = q.search.pop_front() {
            let mut best_dir: Option<usize> = None;
            let mut best = 0.0f64;
            let mut diagonal_nodata = true;
            for d in 0..8 {
                let n = s.height_towards(xq, yq, d);
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
                    s.queue_flat(xq, yq, d, &mut q.search);
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
                    s.set_dir(xq, yq, d as u8);
                    s.set_distance(xq, yq, 0.0);
                    q.drains.push_back((xq, yq));
                } else {
                    q.nodata_drains.push_back((xq, yq, d as u8));
                }
            }
        }
        if q.left_for_later(s) {
            return false;
        }
        if q.drains.is_empty() {
            for (xq, yq, d) in q.nodata_drains.drain(..) {
                s.set_dir(xq, yq, d);
                s.set_distance(xq, yq, 0.0);
                q.drains.push_back((xq, yq));
            }
        } else {
            q.nodata_drains.clear();
        }
        let drained = !q.drains.is_empty();
        s.relax(&mut q.drains, root, |s, xn, yn, d| {
            s.set_dir(xn, yn, INFLOW_OFFSETS[d]);
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
        q: &mut Queues<i32>,
        x: usize,
        y: usize,
        root: f64,
    ) -> bool {
        let (nodata, far) = (s.nodata(), s.far());
        let (cols, rows) = s.size();
        q.search.push_back((x, y));
        s.mark(x, y, SEARCHED);
        while let Some((xq, yq)) = q.search.pop_front() {
            let mut slopes = [0.0f64; 8];
            let mut nodata_slopes = [0.0f64; 8];
            let mut sum = 0.0;
            let mut nodata_sum = 0.0;
            for d in 0..8 {
                let n = s.height_towards(xq, yq, d);
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
                    s.queue_flat(xq, yq, d, &mut q.search);
                    continue;
                }
                if d & 1 == 1 {
                    slope *= SQRT2_INV;
                }
                slopes[d] = slope;
                sum += slope;
            }
            if sum > 0.0 {
                s.set_dir(xq, yq, pack_mfd(&slopes, sum));
                s.set_distance(xq, yq, 0.0);
                s.mark(xq, yq, QUEUED);
                q.drains.push_back((xq, yq));
            } else if nodata_sum > 0.0 {
                let code = pack_mfd(&nodata_slopes, nodata_sum);
                q.nodata_drains.push_back((xq, yq, code));
            }
        }
        if q.left_for_later(s) {
            return false;
        }
        if q.drains.is_empty() {
            for (xq, yq, code) in q.nodata_drains.drain(..) {
                s.set_dir(xq, yq, code);
                s.set_distance(xq, yq, 0.0);
                s.mark(xq, yq, QUEUED);
                q.drains.push_back((xq, yq));
            }
        } else {
            q.nodata_drains.clear();
        }
        let drained = !q.drains.is_empty();
        q.directions.extend(q.drains.iter().copied());
        s.relax(&mut q.drains, root, |_, _, _, _| {});
        while let Some((xq, yq)) = q.directions.pop_front() {
            let dist = s.distance(xq, yq);
            let mut weights = [0.0f64; 8];
            let mut sum = 0.0;
            for d in 0..8 {
                let Some((xn, yn)) = neighbour(xq, yq, d, cols, rows) else {
                    continue;
                };
                if s.height(xn, yn) != root {
                    continue;
                }
                let n_dist = s.distance(xn, yn);
                if n_dist == far {
                    continue;
                }
                if n_dist < dist {
                    let w = if d & 1 == 1 { SQRT2_INV } else { 1.0 };
                    weights[d] = w;
                    sum += w;
                } else if s.mark(xn, yn, QUEUED) {
                    q.directions.push_back((xn, yn));
                }
            }
            if sum != 0.0 {
                s.set_dir(xq, yq, pack_mfd(&weights, sum));
            }
        }
        drained
    }
}

/// One job's window as a [`Store`]: heights from its halo, directions in place, distances and
/// marks over the window and its halo.
struct WindowStore<'a, T> {
    size: (usize, usize),
    nodata: f64,
    far: f64,
    window: Window,
    halo: &'a Halo,
    dirs: &'a mut [T],
    distance: Vec<f64>,
    marks: Vec<u8>,
    /// Whether the current plateau's search met a pixel of its height outside the window.
    beyond: bool,
}

impl<T> WindowStore<'_, T> {
    /// Index into the halo-sized arrays of raster pixel `(x, y)` (the window or its halo).
    #[inline]
    fn at(&self, x: usize, y: usize) -> usize {
        (y + 1 - self.window.y_off) * self.halo.stride + (x + 1 - self.window.x_off)
    }

    /// Index into the window's directions of `(x, y)`, which must be inside the window.
    #[inline]
    fn dir_at(&self, x: usize, y: usize) -> usize {
        (y - self.window.y_off) * self.window.width + (x - self.window.x_off)
    }

    #[inline]
    fn inside(&self, x: usize, y: usize) -> bool {
        let w = self.window;
        x >= w.x_off && y >= w.y_off && x < w.x_off + w.width && y < w.y_off + w.height
    }
}

impl<T: Copy> Store for WindowStore<'_, T> {
    type Dir = T;
    fn size(&self) -> (usize, usize) {
        self.size
    }
    fn nodata(&self) -> f64 {
        self.nodata
    }
    fn far(&self) -> f64 {
        self.far
    }
    #[inline]
    fn height(&mut self, x: usize, y: usize) -> f64 {
        self.halo.values[self.at(x, y)]
    }
    #[inline]
    fn set_dir(&mut self, x: usize, y: usize, dir: T) {
        let i = self.dir_at(x, y);
        self.dirs[i] = dir;
    }
    #[inline]
    fn distance(&mut self, x: usize, y: usize) -> f64 {
        self.distance[self.at(x, y)]
    }
    #[inline]
    fn set_distance(&mut self, x: usize, y: usize, distance: f64) {
        let i = self.at(x, y);
        self.distance[i] = distance;
    }
    #[inline]
    fn marks(&mut self, x: usize, y: usize) -> u8 {
        self.marks[self.at(x, y)]
    }
    #[inline]
    fn set_marks(&mut self, x: usize, y: usize, marks: u8) {
        let i = self.at(x, y);
        self.marks[i] = marks;
    }
    fn reaches_beyond(&self) -> bool {
        self.beyond
    }

    /// The search stays inside the window: a flat neighbour outside it means the plateau
    /// crosses the window's edge.
    #[inline]
    fn queue_flat(&mut self, x: usize, y: usize, d: usize, search: &mut VecDeque<(usize, usize)>) {
        let (cols, rows) = self.size;
        if let Some((xn, yn)) = neighbour(x, y, d, cols, rows) {
            if !self.inside(xn, yn) {
                self.beyond = true;
            } else if self.mark(xn, yn, SEARCHED) {
                search.push_back((xn, yn));
            }
        }
    }
}

/// Calls `visit(x, y)` for the pixels of `w` in pygeoprocessing's scan order, the raster's
/// blocks of `block` row-major, each row-major.
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
                    visit(x, y);
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
    let area = halo.values.len();
    let mut s = WindowStore {
        size,
        nodata,
        far,
        window: w,
        halo,
        dirs,
        distance: vec![far; area],
        marks: vec![0u8; area],
        beyond: false,
    };
    let mut q = Queues::new();
    let mut drainless: Vec<(usize, usize)> = Vec::new();
    scan_window(w, scan_block, |x, y| {
        if s.dirs[s.dir_at(x, y)] != M::UNRESOLVED || s.marks(x, y) & SEARCHED != 0 {
            return;
        }
        let height = s.height(x, y);
        if !height.is_finite() {
            return;
        }
        s.beyond = false;
        if M::drain(&mut s, &mut q, x, y, height) || s.beyond {
            return;
        }
        // No drain: every pixel of the plateau is unresolved; they keep nodata.
        let i = s.dir_at(x, y);
        s.dirs[i] = M::NODATA;
        drainless.push((x, y));
        while let Some((xq, yq)) = drainless.pop() {
            for d in 0..8 {
                let Some((xn, yn)) = neighbour(xq, yq, d, size.0, size.1) else {
                    continue;
                };
                // Pixels of this height are all inside the window (the search said so).
                if s.height(xn, yn) == height {
                    let i = s.dir_at(xn, yn);
                    if s.dirs[i] == M::UNRESOLVED {
                        s.dirs[i] = M::NODATA;
                        drainless.push((xn, yn));
                    }
                }
            }
        }
    });
}
