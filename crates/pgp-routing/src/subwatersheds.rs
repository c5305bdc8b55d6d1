//! `calculate_subwatershed_boundary`: the outline of every subwatershed of a Strahler stream
//! network, traced along pixel edges as pygeoprocessing traces it.
//!
//! A depth-first walk up the D8 tree from every drain (in the directions' block order, columns
//! first inside a block) numbers the pixels: a pixel's upstream area is exactly the pixels whose
//! discovery time lies between its own and its finish time, so "is this pixel in the watershed"
//! is two comparisons. Subwatersheds are then traced from the highest-order outlets' sources
//! down, each boundary walk keeping the watershed on one side; the pixels along a finished
//! boundary are removed from later watersheds. Serial: the walks follow flow paths.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use pgp_core::gdal::vector::OGRwkbGeometryType::{wkbLinearRing, wkbPolygon};
use pgp_core::gdal::vector::{Feature, Geometry, LayerAccess};
use pgp_core::{open_vector, LayerRef};
use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::common::{scratch_dir, RasterBand, Ticker, COL_OFFSETS, INFLOW_OFFSETS, ROW_OFFSETS};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, Grid};
use crate::outlets::{flow_dir_nodata, FlowDirType};
use crate::vectors;

/// Options of [`calculate_subwatershed_boundary`]; the defaults are pygeoprocessing's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SubwatershedOptions {
    /// Boundary steps after which a watershed is cut short (`terminated_early` = 1).
    pub max_steps_per_watershed: i64,
    /// Start subwatersheds at the confluence (true) or one pixel upstream of it (false).
    pub outlet_at_confluence: bool,
}

impl Default for SubwatershedOptions {
    fn default() -> Self {
        SubwatershedOptions {
            max_steps_per_watershed: 1_000_000,
            outlet_at_confluence: false,
        }
    }
}

const NO_TIME: f64 = -1.0;

/// Discovery and finish times of the depth-first walk up from every drain
/// (pygeoprocessing's `_build_discovery_finish_rasters`).
fn discovery_finish(
    dirs: &mut Grid<i32>,
    nodata: i32,
    info: &pgp_core::RasterInfo,
    scratch: &Path,
    budget: usize,
) -> Result<(Grid<f64>, Grid<f64>)> {
    let (cols, rows) = info.raster_size;
    let mut discovery = Grid::<f64>::new(cols, rows, NO_TIME, budget, scratch);
    let mut finish = Grid::<f64>::new(cols, rows, NO_TIME, budget, scratch);
    let code = |dirs: &mut Grid<i32>, x: i64, y: i64| -> Option<i32> {
        if x < 0 || y < 0 || x as usize >= cols || y as usize >= rows {
            None
        } else {
            Some(dirs.get(x as usize, y as usize))
        }
    };
    let mut discovery_stack: Vec<(i64, i64)> = Vec::new();
    // (x, y, branches left before its finish time is known)
    let mut finish_stack: Vec<(i64, i64, i32)> = Vec::new();
    let mut count: i64 = 0;
    let windows: Vec<_> =
        pgp_core::block_windows(info.raster_size, info.block_size, pgp_core::LARGEST_BLOCK)
            .collect();
    let mut ticker = Ticker::start(
        "calculate_subwatershed_boundary: discovery",
        "blocks",
        windows.len(),
    );
    for w in windows {
        for x in w.x_off as i64..(w.x_off + w.width) as i64 {
            for y in w.y_off as i64..(w.y_off + w.height) as i64 {
                let Some(d) = code(dirs, x, y).filter(|d| *d != nodata && (0..8).contains(d))
                else {
                    continue;
                };
                let d = d as usize;
                let downstream = code(dirs, x + COL_OFFSETS[d] as i64, y + ROW_OFFSETS[d] as i64);
                if downstream.is_none_or(|c| c == nodata) {
                    discovery_stack.push((x, y));
                    finish_stack.push((x, y, 1));
                }
                while let Some((xc, yc)) = discovery_stack.pop() {
                    discovery.set(xc as usize, yc as usize, count as f64);
                    count += 1;
                    let mut pushed = 0;
                    for t in 0..8 {
                        let (xn, yn) = (xc + COL_OFFSETS[t] as i64, yc + ROW_OFFSETS[t] as i64);
                        let Some(n) = code(dirs, xn, yn) else {
                            continue;
                        };
                        if n == nodata {
                            continue;
                        }
                        if i32::from(INFLOW_OFFSETS[t]) == n {
                            discovery_stack.push((xn, yn));
                            pushed += 1;
                        }
                    }
                    finish_stack.push((xc, yc, pushed));
                    if pushed == 0 {
                        while let Some(&(xf, yf, left)) = finish_stack.last() {
                            if left > 1 {
                                break;
                            }
                            finish_stack.pop();
                            finish.set(xf as usize, yf as usize, (count - 1) as f64);
                        }
                        if let Some(top) = finish_stack.last_mut() {
                            top.2 -= 1;
                        }
                    }
                }
            }
        }
        ticker.advance(1);
        dirs.status()?;
    }
    Ok((discovery, finish))
}

/// The fields of a Strahler stream feature the tracing needs.
struct Stream {
    fid: u64,
    order: i32,
    outlet: bool,
    ds: (i64, i64),
    ds_1: (i64, i64),
    us: (i64, i64),
}

fn read_streams(path: &Path) -> Result<Vec<Stream>> {
    let ds = open_vector(path)?;
    let mut layer = pgp_core::layer(&ds, path, &LayerRef::Index(0))?;
    let file = path.display().to_string();
    let names = [
        "order", "outlet", "ds_x", "ds_y", "ds_x_1", "ds_y_1", "us_x", "us_y",
    ];
    let mut index = [0usize; 8];
    for (i, name) in names.iter().enumerate() {
        index[i] = layer.defn().field_index(name).map_err(|_| {
            Error::invalid(
                file.clone(),
                format!(
                    "has no field {name:?}; the streams must come from \
                     extract_strahler_streams_d8"
                ),
            )
        })?;
    }
    let mut streams = Vec::new();
    for f in layer.features() {
        let fid = f.fid().unwrap_or_default();
        let mut v = [0i64; 8];
        for (i, slot) in v.iter_mut().enumerate() {
            *slot = f
                .field_as_integer64(index[i])
                .ok()
                .flatten()
                .ok_or_else(|| {
                    Error::invalid(
                        file.clone(),
                        format!("feature {fid} has no value in field {:?}", names[i]),
                    )
                })?;
        }
        streams.push(Stream {
            fid,
            order: v[0] as i32,
            outlet: v[1] == 1,
            ds: (v[2], v[3]),
            ds_1: (v[4], v[5]),
            us: (v[6], v[7]),
        });
    }
    Ok(streams)
}

/// The subwatershed outlets in tracing order: `(stream fid, x, y)`.
fn visit_order(streams: &[Stream], outlet_at_confluence: bool) -> Vec<(u64, i64, i64)> {
    let by_fid: HashMap<u64, &Stream> = streams.iter().map(|s| (s.fid, s)).collect();
    let mut upstream_of: HashMap<(i64, i64), Vec<u64>> = HashMap::new();
    for s in streams {
        upstream_of.entry(s.ds).or_default().push(s.fid);
    }
    let mut outlets: Vec<(i32, u64)> = streams
        .iter()
        .filter(|s| s.outlet)
        .map(|s| (s.order, s.fid))
        .collect();
    outlets.sort();
    outlets.reverse();
    let mut order = Vec::new();
    for (_, outlet) in outlets {
        let mut working = vec![outlet];
        let mut processed = HashSet::new();
        while let Some(&fid) = working.last() {
            processed.insert(fid);
            let s = by_fid[&fid];
            let upstream: Vec<u64> = upstream_of
                .get(&s.us)
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|f| !processed.contains(f))
                        .collect()
                })
                .unwrap_or_default();
            if !upstream.is_empty() {
                working.extend(upstream);
                continue;
            }
            working.pop();
            if s.order > 1 || !outlet_at_confluence {
                if outlet_at_confluence {
                    order.push((fid, s.us.0, s.us.1));
                } else {
                    order.push((fid, s.ds_1.0, s.ds_1.1));
                }
            }
            if s.outlet {
                if !outlet_at_confluence {
                    order.pop();
                }
                order.push((fid, s.ds.0, s.ds.1));
            }
        }
    }
    order
}

struct Times {
    discovery: Grid<f64>,
    finish: Grid<f64>,
    cols: i64,
    rows: i64,
}

impl Times {
    /// Whether the neighbour of `(x, y)` in direction `d` is in the watershed `[lo, hi]`.
    fn inside(&mut self, x: i64, y: i64, d: usize, lo: i64, hi: i64) -> bool {
        let (xn, yn) = (x + COL_OFFSETS[d] as i64, y + ROW_OFFSETS[d] as i64);
        if xn < 0 || yn < 0 || xn >= self.cols || yn >= self.rows {
            return false;
        }
        self.at(xn, yn, lo, hi)
    }

    fn at(&mut self, x: i64, y: i64, lo: i64, hi: i64) -> bool {
        if x < 0 || y < 0 || x >= self.cols || y >= self.rows {
            return false;
        }
        let t = self.discovery.get(x as usize, y as usize) as i64;
        t != NO_TIME as i64 && t >= lo && t <= hi
    }
}

/// pygeoprocessing's `_diagonal_fill_step`: the pixel stepped to and the diagonal behind it
/// that is in the watershed (or the first candidate when neither is).
fn diagonal_fill(
    times: &mut Times,
    (x, y): (i64, i64),
    dir: usize,
    (lo, hi): (i64, i64),
    boundary: &mut Vec<(i64, i64)>,
) {
    boundary.push((x, y));
    let candidates = [
        (x - COL_OFFSETS[dir] as i64, y),
        (x, y - ROW_OFFSETS[dir] as i64),
    ];
    for (xt, yt) in candidates {
        if times.at(xt, yt, lo, hi) {
            boundary.push((xt, yt));
            return;
        }
    }
    boundary.push(candidates[0]);
}

fn m8(v: i64) -> usize {
    v.rem_euclid(8) as usize
}

/// pygeoprocessing's `calculate_subwatershed_boundary`: writes to the GeoPackage `target` (layer
/// named after the file) one polygon per subwatershed of the streams of `strahler_streams`
/// (made by [`crate::extract_strahler_streams_d8`] from `d8_flow_dir`), with fields
/// `stream_fid`, `terminated_early`, `outlet_x`, `outlet_y`. Returns the number written.
pub fn calculate_subwatershed_boundary(
    d8_flow_dir: &RasterBand,
    strahler_streams: &Path,
    target: &Path,
    options: &SubwatershedOptions,
    _exec: &Executor,
) -> Result<u64> {
    let (raster, info) = d8_flow_dir.open()?;
    let nodata = flow_dir_nodata(d8_flow_dir, &info, FlowDirType::D8)?;
    let streams = read_streams(strahler_streams)?;
    let (cols, rows) = info.raster_size;
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let mut dirs = Grid::<i32>::from_raster(raster, d8_flow_dir.band, nodata, budget / 5, &scratch);
    let (discovery, finish) = discovery_finish(&mut dirs, nodata, &info, &scratch, budget * 2 / 5)?;
    let mut times = Times {
        discovery,
        finish,
        cols: cols as i64,
        rows: rows as i64,
    };
    let visits = visit_order(&streams, options.outlet_at_confluence);
    let g = info.geotransform.0;
    let mut polygons = Vec::new();
    let mut ticker = Ticker::start(
        "calculate_subwatershed_boundary",
        "subwatersheds",
        visits.len(),
    );
    for (stream_fid, x0, y0) in visits {
        ticker.advance(1);
        if x0 < 0 || y0 < 0 || x0 >= times.cols || y0 >= times.rows {
            continue;
        }
        let lo = times.discovery.get(x0 as usize, y0 as usize) as i64;
        if lo == NO_TIME as i64 {
            continue;
        }
        let hi = times.finish.get(x0 as usize, y0 as usize) as i64;
        let (mut x, mut y) = (x0, y0);
        let mut boundary = vec![(x, y)];
        let outflow = dirs.get(x as usize, y as usize);
        if !(0..8).contains(&outflow) {
            return Err(Error::invalid(
                d8_flow_dir.path.display().to_string(),
                format!("subwatershed outlet ({x}, {y}) has no D8 direction"),
            ));
        }
        let outflow = outflow as usize;
        let mut xf = x as f64 + 0.5 + COL_OFFSETS[outflow] as f64 * 0.5;
        let mut yf = y as f64 + 0.5 + ROW_OFFSETS[outflow] as f64 * 0.5;
        if outflow.is_multiple_of(2) {
            xf -= ROW_OFFSETS[outflow] as f64 * 0.5;
            yf += COL_OFFSETS[outflow] as f64 * 0.5;
        }
        let project =
            |xf: f64, yf: f64| (g[0] + g[1] * xf + g[2] * yf, g[3] + g[4] * xf + g[5] * yf);
        let mut ring = vec![project(xf, yf)];
        let (mut dx, mut dy) = (0i64, 0i64);
        let (mut edge_side, mut edge_dir);
        if outflow.is_multiple_of(2) {
            edge_side = outflow;
            edge_dir = (2 + edge_side) % 8;
        } else {
            let cell = (outflow + 1) % 8;
            edge_side = cell;
            edge_dir = (cell + 2) % 8;
            if times.inside(x, y, cell, lo, hi) {
                edge_side = m8(edge_side as i64 - 2);
                edge_dir = m8(edge_dir as i64 - 2);
                x += COL_OFFSETS[edge_dir] as i64;
                y += ROW_OFFSETS[edge_dir] as i64;
                boundary.push((x, y));
            }
        }
        let mut steps: i64 = 0;
        let mut terminated_early = 0;
        loop {
            xf += COL_OFFSETS[edge_dir] as f64;
            yf += ROW_OFFSETS[edge_dir] as f64;
            dx += COL_OFFSETS[edge_dir] as i64;
            dy += ROW_OFFSETS[edge_dir] as i64;
            ring.push(project(xf, yf));
            steps += 1;
            if steps > options.max_steps_per_watershed {
                terminated_early = 1;
                break;
            }
            if x < 0 || y < 0 || x >= times.cols || y >= times.rows {
                return Err(Error::invalid(
                    strahler_streams.display().to_string(),
                    format!("the boundary of stream {stream_fid}'s subwatershed left the raster at ({x}, {y})"),
                ));
            }
            let (left, right, turn) = if edge_side == m8(edge_dir as i64 - 2) {
                (edge_dir, m8(edge_dir as i64 - 1), 2i64)
            } else {
                (edge_side + 1, edge_dir, -2i64)
            };
            let left_in = times.inside(x, y, left, lo, hi);
            let right_in = times.inside(x, y, right, lo, hi);
            if right_in {
                let out_dir = edge_side;
                edge_side = m8(edge_side as i64 - turn);
                edge_dir = out_dir;
                x += COL_OFFSETS[right] as i64;
                y += ROW_OFFSETS[right] as i64;
                diagonal_fill(&mut times, (x, y), right, (lo, hi), &mut boundary);
            } else if left_in {
                x += COL_OFFSETS[edge_dir] as i64;
                y += ROW_OFFSETS[edge_dir] as i64;
                boundary.push((x, y));
            } else {
                edge_side = edge_dir;
                edge_dir = m8(edge_side as i64 + turn);
            }
            if dx == 0 && dy == 0 {
                break;
            }
        }
        polygons.push((stream_fid, terminated_early, (x0, y0), ring));
        for (bx, by) in boundary {
            if bx >= 0 && by >= 0 && bx < times.cols && by < times.rows {
                times.discovery.set(bx as usize, by as usize, NO_TIME);
            }
        }
        times.discovery.status()?;
        times.finish.status()?;
    }
    drop(ticker);
    write_polygons(polygons, &info, target)
}

type Traced = (u64, i32, (i64, i64), Vec<(f64, f64)>);

fn write_polygons(
    polygons: Vec<Traced>,
    info: &pgp_core::RasterInfo,
    target: &Path,
) -> Result<u64> {
    use gdal_sys::OGRFieldType::OFTInteger;
    let fields = [
        ("stream_fid", OFTInteger),
        ("terminated_early", OFTInteger),
        ("outlet_x", OFTInteger),
        ("outlet_y", OFTInteger),
    ];
    let srs = vectors::projection(info)?;
    let name = vectors::layer_name(target);
    let count = polygons.len() as u64;
    vectors::write_gpkg(target, &name, srs.as_ref(), wkbPolygon, &fields, |layer| {
        for (stream_fid, terminated_early, (ox, oy), ring) in polygons {
            let mut f = Feature::new(layer.defn())
                .map_err(|e| vectors::gdal_error(target, "creating a subwatershed", e))?;
            vectors::geometry_z0(wkbLinearRing, ring)
                .and_then(|ring| {
                    let mut polygon = Geometry::empty(wkbPolygon)?;
                    polygon.add_geometry(ring)?;
                    f.set_geometry(polygon)
                })
                .and_then(|_| f.set_field_integer(0, stream_fid as i32))
                .and_then(|_| f.set_field_integer(1, terminated_early))
                .and_then(|_| f.set_field_integer(2, ox as i32))
                .and_then(|_| f.set_field_integer(3, oy as i32))
                .and_then(|_| f.create(layer))
                .map_err(|e| vectors::gdal_error(target, "writing a subwatershed", e))?;
        }
        Ok(count)
    })
}

fn default_max_steps() -> i64 {
    SubwatershedOptions::default().max_steps_per_watershed
}

/// `pgp.routing.calculate_subwatershed_boundary`: [`calculate_subwatershed_boundary`] as one
/// serialisable value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalculateSubwatershedBoundaryRequest {
    /// D8 flow directions.
    pub d8_flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// Streams made by `pgp.routing.extract_strahler_streams_d8`.
    pub strahler_streams: PathBuf,
    /// The subwatersheds (GeoPackage).
    pub target: PathBuf,
    /// Boundary steps after which a subwatershed is cut short (1000000).
    #[serde(default = "default_max_steps")]
    pub max_steps_per_watershed: i64,
    /// Start subwatersheds at confluences (false: one pixel upstream).
    #[serde(default)]
    pub outlet_at_confluence: bool,
}

impl Request for CalculateSubwatershedBoundaryRequest {
    const NAME: &'static str = "pgp.routing.calculate_subwatershed_boundary";
    const VERSION: u32 = 1;
    /// The number of subwatersheds.
    type Output = u64;
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<u64> {
        let options = SubwatershedOptions {
            max_steps_per_watershed: self.max_steps_per_watershed,
            outlet_at_confluence: self.outlet_at_confluence,
        };
        calculate_subwatershed_boundary(
            &RasterBand::new(&self.d8_flow_dir, self.band),
            &self.strahler_streams,
            &self.target,
            &options,
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.d8_flow_dir.clone(), self.strahler_streams.clone()]
    }
    pgp_ops::one_target!();
}
