//! Tile-parallel pit filling (Barnes, Lehman & Mulla's parallel Priority-Flood, 2016).
//!
//! Without a fill-count limit or a single outlet, the filled DEM is unique: every valid pixel
//! rises to the lowest level at which water can leave through the raster's edge or nodata (the
//! smallest, over paths to such an outlet, of the highest height on the path). So it can be
//! computed in any order, and this module computes it in three steps:
//!
//! 1. In parallel, each tile is flooded on its own from its perimeter and from its outlets
//!    (pixels on the raster's edge or next to nodata inside the tile). Each perimeter pixel
//!    popped before any flood reached it starts a label; every pixel gets the label of the
//!    flood that reached it and a local height (its fill if the perimeter were an outlet).
//!    Where two labels meet, the lower meeting height is an edge of the label graph. The tile
//!    returns that graph and its perimeter's labels and heights.
//! 2. Serially, on the (small) label graph joined across tile borders (neighbouring perimeter
//!    pixels are joined at the higher of their heights; a perimeter pixel next to nodata across
//!    the border drains at its height), a minimax Dijkstra from the outlets gives each label
//!    the level at which its water leaves.
//! 3. In parallel, each tile is flooded again (the same, deterministic, labels) and every pixel
//!    becomes the higher of its local height and its label's level.
//!
//! Heights are only compared and copied, never computed, so the result is exactly the serial
//! definition's (and pygeoprocessing's), on every executor. Memory: one tile per worker, two
//! tile rows of perimeters, and the label graph (a few labels per tile).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use pgp_core::{Raster, RasterInfo, Window};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::common::{is_close, write_tiles, Ticker, COL_OFFSETS, ROW_OFFSETS};
use crate::error::Result;

/// The label of pixels that drain where they are (raster edge, next to nodata).
const OUTLET: u32 = 1;
/// The label of nodata pixels (and of pixels no flood reached, which cannot happen).
const NONE: u32 = 0;

/// One tile of the fill: which raster, where, and (for the final pass) its labels' levels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FloodJob {
    path: PathBuf,
    band: usize,
    window: Window,
    raster_size: (usize, usize),
    nodata: f64,
    /// The level of each local label (index = label); empty in the first pass.
    levels: Vec<f64>,
}

/// What the first pass learns about a tile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct TileGraph {
    /// Local labels used: `0..labels`.
    labels: u32,
    /// Edges between local labels: `(a, b, height)`, `a < b`.
    edges: Vec<(u32, u32, f64)>,
    /// Labels and heights along the top and bottom rows and the left and right columns
    /// (`NONE` for nodata).
    top: Vec<(u32, f64)>,
    bottom: Vec<(u32, f64)>,
    left: Vec<(u32, f64)>,
    right: Vec<(u32, f64)>,
}

/// The registered operation of both parallel passes: the first returns the tile's graph, the
/// final one (given levels) the filled tile as little-endian `f64`s, row-major.
pub(crate) struct FloodOp;

/// The result of a [`FloodOp`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) enum FloodOutput {
    Graph(TileGraph),
    Filled(Vec<u8>),
}

remote_tile_op!(FloodOp, "pgp.routing.fill_flood", FloodJob => FloodOutput, run_job);

#[derive(Clone, Copy, PartialEq)]
struct Queued {
    height: f64,
    index: u32,
}

impl Eq for Queued {}

impl Ord for Queued {
    // A min-heap on height, then index, so pops are deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .height
            .total_cmp(&self.height)
            .then(other.index.cmp(&self.index))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A tile flooded from its perimeter and outlets.
struct Flooded {
    width: usize,
    height: usize,
    /// The tile's heights, raised to their local fill (nodata untouched).
    heights: Vec<f64>,
    labels: Vec<u32>,
    graph: TileGraph,
}

/// Floods a `width` x `height` tile at `(x0, y0)` of a `cols` x `rows` raster.
fn flood(
    heights: Vec<f64>,
    window: Window,
    raster_size: (usize, usize),
    nodata: f64,
    with_edges: bool,
) -> Flooded {
    let (w, h) = (window.width, window.height);
    let (cols, rows) = raster_size;
    let mut heights = heights;
    let valid: Vec<bool> = heights.iter().map(|v| !is_close(*v, nodata)).collect();
    let mut labels = vec![NONE; w * h];
    let mut closed = vec![false; w * h];
    let mut heap = BinaryHeap::new();
    let mut level_queue: VecDeque<u32> = VecDeque::new();
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            if !valid[i] {
                continue;
            }
            let (gx, gy) = (window.x_off + x, window.y_off + y);
            let on_raster_edge = gx == 0 || gy == 0 || gx + 1 == cols || gy + 1 == rows;
            let on_perimeter = x == 0 || y == 0 || x + 1 == w || y + 1 == h;
            let next_to_nodata = (0..8).any(|d| {
                let xn = x as isize + COL_OFFSETS[d];
                let yn = y as isize + ROW_OFFSETS[d];
                xn >= 0
                    && yn >= 0
                    && (xn as usize) < w
                    && (yn as usize) < h
                    && !valid[yn as usize * w + xn as usize]
            });
            if on_raster_edge || next_to_nodata {
                labels[i] = OUTLET;
            }
            if on_raster_edge || next_to_nodata || on_perimeter {
                heap.push(Queued {
                    height: heights[i],
                    index: i as u32,
                });
            }
        }
    }
    let mut next_label = OUTLET + 1;
    let mut meetings: HashMap<(u32, u32), f64> = HashMap::new();
    loop {
        // Pixels raised to the current level are finished before the heap moves on.
        let (level, i) = if let Some(i) = level_queue.pop_front() {
            (heights[i as usize], i as usize)
        } else if let Some(q) = heap.pop() {
            (q.height, q.index as usize)
        } else {
            break;
        };
        if closed[i] {
            continue;
        }
        closed[i] = true;
        if labels[i] == NONE {
            labels[i] = next_label;
            next_label += 1;
        }
        let label = labels[i];
        let (x, y) = (i % w, i / w);
        for d in 0..8 {
            let xn = x as isize + COL_OFFSETS[d];
            let yn = y as isize + ROW_OFFSETS[d];
            if xn < 0 || yn < 0 || xn as usize >= w || yn as usize >= h {
                continue;
            }
            let n = yn as usize * w + xn as usize;
            if !valid[n] {
                continue;
            }
            if labels[n] == NONE {
                labels[n] = label;
                if heights[n] <= level {
                    heights[n] = level;
                    level_queue.push_back(n as u32);
                } else {
                    heap.push(Queued {
                        height: heights[n],
                        index: n as u32,
                    });
                }
            } else if with_edges && labels[n] != label {
                let key = (label.min(labels[n]), label.max(labels[n]));
                let at = level.max(heights[n]);
                meetings
                    .entry(key)
                    .and_modify(|e| *e = e.min(at))
                    .or_insert(at);
            }
        }
    }
    let side = |cells: &mut dyn Iterator<Item = usize>| -> Vec<(u32, f64)> {
        cells.map(|i| (labels[i], heights[i])).collect()
    };
    let graph = if with_edges {
        let mut edges: Vec<(u32, u32, f64)> =
            meetings.into_iter().map(|((a, b), e)| (a, b, e)).collect();
        edges.sort_by_key(|e| (e.0, e.1));
        TileGraph {
            labels: next_label,
            edges,
            top: side(&mut (0..w)),
            bottom: side(&mut ((h - 1) * w..h * w)),
            left: side(&mut (0..h).map(|y| y * w)),
            right: side(&mut (0..h).map(|y| y * w + w - 1)),
        }
    } else {
        TileGraph::default()
    };
    Flooded {
        width: w,
        height: h,
        heights,
        labels,
        graph,
    }
}

fn run_job(job: &FloodJob) -> Result<FloodOutput> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let raster = Raster::open(&job.path)?;
    let block = raster.read_as::<f64>(job.band, job.window)?;
    let values: Vec<f64> = block.iter().copied().collect();
    let final_pass = !job.levels.is_empty();
    let mut tile = flood(values, job.window, job.raster_size, job.nodata, !final_pass);
    if !final_pass {
        return Ok(FloodOutput::Graph(tile.graph));
    }
    for (v, label) in tile.heights.iter_mut().zip(&tile.labels) {
        if *label != NONE {
            let level = job.levels.get(*label as usize).copied().unwrap_or(f64::MIN);
            if level > *v {
                *v = level;
            }
        }
    }
    debug_assert_eq!(tile.heights.len(), tile.width * tile.height);
    let mut bytes = Vec::with_capacity(tile.heights.len() * 8);
    for v in &tile.heights {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    Ok(FloodOutput::Filled(bytes))
}

/// The label graph of the whole raster, joined as tile graphs arrive in row-major order.
struct Joiner {
    tiles_x: usize,
    /// The first global label of each tile's local labels (local `l` is `base + l`; the
    /// shared `OUTLET` and `NONE` stay themselves).
    bases: Vec<u32>,
    next_base: u32,
    edges: HashMap<(u32, u32), f64>,
    /// The perimeters of the previous and current tile rows.
    above: Vec<Option<TileGraph>>,
    current: Vec<Option<TileGraph>>,
}

impl Joiner {
    fn new(tiles_x: usize) -> Joiner {
        Joiner {
            tiles_x,
            bases: Vec::new(),
            next_base: OUTLET + 1,
            edges: HashMap::new(),
            above: vec![None; tiles_x],
            current: vec![None; tiles_x],
        }
    }

    fn global(base: u32, local: u32) -> u32 {
        if local <= OUTLET {
            local
        } else {
            base + local - (OUTLET + 1)
        }
    }

    fn link(&mut self, a: u32, b: u32, at: f64) {
        if a == NONE || b == NONE || a == b {
            return;
        }
        self.edges
            .entry((a.min(b), a.max(b)))
            .and_modify(|e| *e = e.min(at))
            .or_insert(at);
    }

    /// Joins two facing perimeter runs: pixels `i` of `a` and `j` of `b` touch when
    /// `|i - j| <= 1`.
    fn join_sides(&mut self, a: &[(u32, f64)], b: &[(u32, f64)]) {
        for (i, (la, ha)) in a.iter().enumerate() {
            for j in i.saturating_sub(1)..(i + 2).min(b.len()) {
                let (lb, hb) = b[j];
                self.join_pixels((*la, *ha), (lb, hb));
            }
        }
    }

    fn join_pixels(&mut self, (la, ha): (u32, f64), (lb, hb): (u32, f64)) {
        match (la == NONE, lb == NONE) {
            (false, false) => self.link(la, lb, ha.max(hb)),
            // Next to nodata across the border: drains at its own height.
            (false, true) => self.link(la, OUTLET, ha),
            (true, false) => self.link(lb, OUTLET, hb),
            (true, true) => {}
        }
    }

    fn add(&mut self, tile: usize, mut graph: TileGraph) {
        let base = self.next_base;
        self.bases.push(base);
        self.next_base += graph.labels.saturating_sub(OUTLET + 1);
        for (a, b, at) in std::mem::take(&mut graph.edges) {
            self.link(Self::global(base, a), Self::global(base, b), at);
        }
        for side in [
            &mut graph.top,
            &mut graph.bottom,
            &mut graph.left,
            &mut graph.right,
        ] {
            for (l, _) in side.iter_mut() {
                *l = Self::global(base, *l);
            }
        }
        let tx = tile % self.tiles_x;
        if tx == 0 {
            self.above = std::mem::replace(&mut self.current, vec![None; self.tiles_x]);
        }
        if tx > 0 {
            if let Some(west) = self.current[tx - 1].take() {
                self.join_sides(&west.right, &graph.left);
                self.current[tx - 1] = Some(west);
            }
        }
        if let Some(north) = self.above[tx].take() {
            self.join_sides(&north.bottom, &graph.top);
            self.above[tx] = Some(north);
        }
        if tx > 0 {
            if let Some(nw) = &self.above[tx - 1] {
                let corner = nw.bottom[nw.bottom.len() - 1];
                self.join_pixels(corner, graph.top[0]);
            }
        }
        if tx + 1 < self.tiles_x {
            if let Some(ne) = &self.above[tx + 1] {
                let corner = ne.bottom[0];
                self.join_pixels(corner, graph.top[graph.top.len() - 1]);
            }
        }
        self.current[tx] = Some(graph);
    }

    /// The level of every global label: minimax distance from `OUTLET`.
    fn levels(self) -> (Vec<u32>, Vec<f64>) {
        let n = self.next_base as usize;
        let mut degree = vec![0u32; n + 1];
        for (a, b) in self.edges.keys() {
            degree[*a as usize + 1] += 1;
            degree[*b as usize + 1] += 1;
        }
        for i in 1..=n {
            degree[i] += degree[i - 1];
        }
        let mut fill = degree.clone();
        let mut adjacent = vec![(0u32, 0f64); degree[n] as usize];
        for ((a, b), at) in &self.edges {
            adjacent[fill[*a as usize] as usize] = (*b, *at);
            fill[*a as usize] += 1;
            adjacent[fill[*b as usize] as usize] = (*a, *at);
            fill[*b as usize] += 1;
        }
        drop(self.edges);
        let mut level = vec![f64::INFINITY; n];
        let mut done = vec![false; n];
        let mut heap = BinaryHeap::new();
        level[OUTLET as usize] = f64::NEG_INFINITY;
        heap.push(Queued {
            height: f64::NEG_INFINITY,
            index: OUTLET,
        });
        while let Some(Queued { height, index }) = heap.pop() {
            let i = index as usize;
            if done[i] {
                continue;
            }
            done[i] = true;
            for &(m, at) in &adjacent[degree[i] as usize..degree[i + 1] as usize] {
                let through = height.max(at);
                if through < level[m as usize] {
                    level[m as usize] = through;
                    heap.push(Queued {
                        height: through,
                        index: m,
                    });
                }
            }
        }
        (self.bases, level)
    }
}

/// Fills the pits of `dem` (band `band`, `nodata` matched with `is_close`) into `target`
/// with tiles of `chunk` pixels, on `exec`.
pub(crate) fn fill_tiled(
    path: &Path,
    band: usize,
    info: &RasterInfo,
    nodata: f64,
    target: &Path,
    chunk: usize,
    exec: &Executor,
) -> Result<()> {
    let _cap = crate::grid::GdalCacheCap::hold();
    let (cols, rows) = info.raster_size;
    let windows: Vec<Window> = pgp_core::block_windows((cols, rows), (chunk, chunk), 0).collect();
    let tiles_x = cols.div_ceil(chunk).max(1);
    let job = |window: Window, levels: Vec<f64>| FloodJob {
        path: path.to_path_buf(),
        band,
        window,
        raster_size: (cols, rows),
        nodata,
        levels,
    };
    let mut joiner = Joiner::new(tiles_x);
    let mut local_labels = Vec::with_capacity(windows.len());
    let mut ticker = Ticker::start("fill_pits: flooding tiles", "tiles", windows.len());
    let jobs = windows.iter().map(|w| job(*w, Vec::new()));
    for (tile, result) in exec.map_ordered_op::<FloodOp>(jobs).enumerate() {
        let FloodOutput::Graph(graph) = result? else {
            return Err(crate::error::Error::internal(
                path,
                "the first fill pass returned pixels",
            ));
        };
        local_labels.push(graph.labels);
        joiner.add(tile, graph);
        ticker.advance(1);
    }
    drop(ticker);
    let (bases, levels) = joiner.levels();
    let levels_of = |tile: usize| -> Vec<f64> {
        let n = local_labels[tile] as usize;
        (0..n as u32)
            .map(|l| {
                let g = Joiner::global(bases[tile], l) as usize;
                if l == NONE {
                    f64::NEG_INFINITY
                } else {
                    levels.get(g).copied().unwrap_or(f64::NEG_INFINITY)
                }
            })
            .collect()
    };
    let jobs = windows
        .iter()
        .enumerate()
        .map(|(t, w)| job(*w, levels_of(t)));
    let results = exec.map_ordered_op::<FloodOp>(jobs);
    let tiles = windows
        .iter()
        .zip(results)
        .map(|(w, result)| match result? {
            FloodOutput::Filled(bytes) => Ok((
                *w,
                bytes
                    .chunks_exact(8)
                    .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .collect(),
            )),
            FloodOutput::Graph(_) => Err(crate::error::Error::internal(
                path,
                "the final fill pass returned no pixels",
            )),
        });
    write_tiles(
        "fill_pits: raising tiles",
        tiles,
        info,
        target,
        info.datatypes[band - 1],
        Some(nodata),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FillOptions, RasterBand};
    use pgp_core::{DataType, GeoTransform, OutputRaster, RasterSpec};
    use proptest::prelude::*;

    fn write_dem(path: &Path, cols: usize, rows: usize, values: &[f32], nodata: f64) {
        let spec = RasterSpec::new(
            cols,
            rows,
            DataType::F32,
            GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
        )
        .nodata(Some(nodata));
        let mut out = OutputRaster::create(path, &spec).unwrap();
        let a = ndarray::Array2::from_shape_vec((rows, cols), values.to_vec()).unwrap();
        out.raster().write(1, 0, 0, a.view()).unwrap();
        out.commit().unwrap();
    }

    fn read(path: &Path) -> Vec<f32> {
        let r = Raster::open(path).unwrap();
        let (c, rows) = r.size();
        r.read::<f32>(1, Window::full(c, rows))
            .unwrap()
            .iter()
            .copied()
            .collect()
    }

    fn both(cols: usize, rows: usize, values: &[f32], chunk: usize, nodata: f64) {
        let dir = tempfile::tempdir().unwrap();
        let dem = dir.path().join("dem.tif");
        write_dem(&dem, cols, rows, values, nodata);
        let band = RasterBand::first(&dem);
        let (raster, info) = band.open().unwrap();
        let exec = Executor::sync();
        let serial = dir.path().join("serial.tif");
        let options = FillOptions::default();
        crate::fill::fill_serial(&band, raster, &info, nodata, &serial, &options, &exec).unwrap();
        let tiled = dir.path().join("tiled.tif");
        fill_tiled(&dem, 1, &info, nodata, &tiled, chunk, &exec).unwrap();
        let (a, b) = (read(&serial), read(&tiled));
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(
                x == y || (x.is_nan() && y.is_nan()),
                "pixel ({}, {}): serial {x}, tiles of {chunk} {y}",
                i % cols,
                i / cols
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        // Any DEM (few distinct heights, so plateaus and ties abound; nodata scattered) and any
        // tile size, including tiles of one pixel and rasters one pixel wide: the tiles' fill
        // is the serial fill.
        #[test]
        fn tiles_fill_as_the_serial_definition(
            cols in 1usize..30, rows in 1usize..30, chunk in 1usize..12,
            cells in proptest::collection::vec(0u8..8, 900),
            nan in any::<bool>(),
        ) {
            let nodata = if nan { f64::NAN } else { -1.0 };
            let values: Vec<f32> = cells[..cols * rows]
                .iter()
                .map(|c| if *c == 7 { nodata as f32 } else { f32::from(*c) })
                .collect();
            both(cols, rows, &values, chunk, nodata);
        }
    }

    #[test]
    fn a_deep_bowl_spanning_many_tiles_fills_to_its_rim() {
        // A bowl whose rim is lowest at one point far from its pit: the spill level crosses
        // several tile borders and a tile corner.
        let n = 41;
        let values: Vec<f32> = (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n) as f32 - 20.0, (i / n) as f32 - 20.0);
                let r = (x * x + y * y).sqrt();
                if i == 3 {
                    5.0
                } else if r > 18.0 {
                    30.0 + (i % 5) as f32
                } else {
                    r
                }
            })
            .collect();
        for chunk in [1, 3, 7, 16, 40, 64] {
            both(n, n, &values, chunk, -1.0);
        }
    }
}
