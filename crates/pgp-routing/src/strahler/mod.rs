//! `extract_strahler_streams_d8`: stream segments between confluences as lines, with Strahler
//! orders, river ids and drops, as pygeoprocessing builds them.
//!
//! Seeds are found in the flow directions' block order (columns first inside a block, as
//! pygeoprocessing loops): a pixel at or above the threshold starts one segment per upstream
//! neighbour at or above it when it has two or more, or when it drains off the raster or into
//! nodata. Segments are walked upstream in stack order, ordered from the sources down, given a
//! river id per outlet tree whose order reaches `river_order`, and finally segments with a
//! single upstream segment are joined to it. Feature ids are pygeoprocessing's (creation order
//! from 1; joined-away segments leave gaps). Serial: each walk follows flow paths.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use pgp_core::gdal::vector::{Feature, LayerAccess, OGRwkbGeometryType};
use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::common::{
    is_close, same_size, scratch_dir, RasterBand, Ticker, COL_OFFSETS, IMPROBABLE_FLOAT_NODATA,
    INFLOW_OFFSETS, ROW_OFFSETS,
};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, Grid};
use crate::outlets::{flow_dir_nodata, FlowDirType};
use crate::vectors;

mod autotune;
mod ttest;

use autotune::Autotune;

/// Options of [`extract_strahler_streams_d8`]; the defaults are pygeoprocessing's.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StrahlerOptions {
    /// Flow accumulation at which a pixel is stream (100).
    pub min_flow_accum_threshold: i64,
    /// The order that makes a river: river ids are given to trees below it (5).
    pub river_order: i32,
    /// Raise the threshold per river (by 1.25 at a time) while the drops of its first- and
    /// second-order segments differ significantly (false).
    pub autotune_flow_accumulation: bool,
    /// The p-value below which the drops differ significantly (0.05).
    pub min_p_val: f64,
}

impl Default for StrahlerOptions {
    fn default() -> Self {
        StrahlerOptions {
            min_flow_accum_threshold: 100,
            river_order: 5,
            autotune_flow_accumulation: false,
            min_p_val: 0.05,
        }
    }
}

/// One stream segment, as its feature's fields.
#[derive(Debug, Clone, Default)]
struct Segment {
    order: Option<i32>,
    drop_distance: Option<f64>,
    outlet: i32,
    river_id: Option<i32>,
    us_fa: Option<i64>,
    ds_fa: Option<i64>,
    thresh_fa: Option<i64>,
    ds: Option<(i32, i32)>,
    ds_1: Option<(i32, i32)>,
    us: Option<(i32, i32)>,
    line: Option<Vec<(f64, f64)>>,
    upstream_dir: usize,
    deleted: bool,
}

struct Rasters {
    dirs: Grid<i32>,
    accum: Grid<f64>,
    dem: Grid<f64>,
    dir_nodata: i32,
    gt: [f64; 6],
    cols: usize,
    rows: usize,
}

impl Rasters {
    /// The D8 code at `(x, y)`, `None` off the raster.
    fn dir(&mut self, x: i64, y: i64) -> Option<i32> {
        if x < 0 || y < 0 || x as usize >= self.cols || y as usize >= self.rows {
            None
        } else {
            Some(self.dirs.get(x as usize, y as usize))
        }
    }

    fn accum(&mut self, x: i64, y: i64) -> f64 {
        self.accum.get(x as usize, y as usize)
    }

    fn centre(&self, x: i64, y: i64) -> (f64, f64) {
        vectors::pixel_centre(&self.gt, x as f64, y as f64)
    }
}

/// What a walk upstream from a seed found: pygeoprocessing's `_calculate_stream_geometry`.
struct Walk {
    upstream: (i64, i64),
    first_step: (i64, i64),
    upstream_ids: Vec<usize>,
    line: Vec<(f64, f64)>,
}

/// Walks upstream from `(x, y)` in direction `dir`, ending at a seeded junction or where no
/// inflow exceeds `threshold` (accumulations compared as C ints, as pygeoprocessing casts them).
fn walk_upstream(
    r: &mut Rasters,
    (mut x, mut y): (i64, i64),
    dir: usize,
    threshold: i64,
    junctions: &mut HashMap<(i64, i64), Vec<usize>>,
) -> Option<Walk> {
    if r.accum(x, y) < threshold as f64 {
        return None;
    }
    let as_int = |v: f64| i64::from(v as i32);
    let mut line = vec![r.centre(x, y)];
    let mut next_dir = dir;
    let mut last_dir = dir;
    let mut length = 0i64;
    let mut first_step = (-1, -1);
    let mut upstream_ids = Vec::new();
    let mut end = false;
    while !end {
        x += COL_OFFSETS[next_dir] as i64;
        y += ROW_OFFSETS[next_dir] as i64;
        end = true;
        length += 1;
        if length <= 1 {
            first_step = (x, y);
        }
        if let Some(ids) = junctions.remove(&(x, y)) {
            upstream_ids = ids;
        } else if as_int(r.accum(x, y)) >= threshold {
            for d in 0..8 {
                let (xn, yn) = (x + COL_OFFSETS[d] as i64, y + ROW_OFFSETS[d] as i64);
                let Some(code) = r.dir(xn, yn) else { continue };
                if code == r.dir_nodata {
                    continue;
                }
                if i32::from(INFLOW_OFFSETS[d]) == code && as_int(r.accum(xn, yn)) > threshold {
                    end = false;
                    next_dir = d;
                    break;
                }
            }
        } else {
            // Stopped by a small accumulation: the segment ends one pixel back.
            length -= 1;
        }
        if last_dir != next_dir || end {
            line.push(r.centre(x, y));
            last_dir = next_dir;
        }
    }
    if length == 0 {
        return None;
    }
    Some(Walk {
        upstream: (x, y),
        first_step,
        upstream_ids,
        line,
    })
}

/// The links between segments: pygeoprocessing's `upstream_to_downstream_id` and
/// `downstream_to_upstream_ids`.
struct Links {
    downstream_of: HashMap<usize, usize>,
    upstream_map: HashMap<usize, Vec<usize>>,
}

impl Links {
    fn upstream(&self, id: usize) -> Vec<usize> {
        self.upstream_map.get(&id).cloned().unwrap_or_default()
    }

    /// pygeoprocessing's `_delete_feature`: unlinks `id` everywhere.
    fn delete(&mut self, segments: &mut [Segment], id: usize) {
        if let Some(down) = self.downstream_of.remove(&id) {
            if let Some(ups) = self.upstream_map.get_mut(&down) {
                if let Some(i) = ups.iter().position(|u| *u == id) {
                    ups.remove(i);
                }
            }
        }
        self.upstream_map.remove(&id);
        segments[id].deleted = true;
    }
}

/// Strahler order of a segment fed by segments of `orders`: their highest, one more when the
/// highest comes at least twice.
fn strahler(orders: &[i32]) -> i32 {
    let top = orders.iter().copied().max().unwrap_or(1);
    if orders.iter().filter(|o| **o == top).count() > 1 {
        top + 1
    } else {
        top
    }
}

/// pygeoprocessing's `extract_strahler_streams_d8` (without flow accumulation autotuning):
/// writes the stream segments of `flow_dir_d8` (with `flow_accum` its D8 accumulation and
/// `dem` the heights) as a GeoPackage line layer named after `target`, fields `order`,
/// `drop_distance`, `outlet`, `river_id`, `us_fa`, `ds_fa`, `thresh_fa`, `ds_x`, `ds_y`,
/// `ds_x_1`, `ds_y_1`, `us_x`, `us_y`. Returns the number of segments written.
pub fn extract_strahler_streams_d8(
    flow_dir_d8: &RasterBand,
    flow_accum: &RasterBand,
    dem: &RasterBand,
    target: &Path,
    options: &StrahlerOptions,
    _exec: &Executor,
) -> Result<u64> {
    let (dir_raster, info) = flow_dir_d8.open()?;
    let dir_nodata = flow_dir_nodata(flow_dir_d8, &info, FlowDirType::D8)?;
    let (accum_raster, accum_info) = flow_accum.open()?;
    same_size(flow_dir_d8, &info, flow_accum, &accum_info)?;
    let (dem_raster, dem_info) = dem.open()?;
    same_size(flow_dir_d8, &info, dem, &dem_info)?;
    let accum_nodata = flow_accum
        .nodata(&accum_info)
        .unwrap_or(IMPROBABLE_FLOAT_NODATA);
    let threshold = options.min_flow_accum_threshold;
    let (cols, rows) = info.raster_size;
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let mut r = Rasters {
        dirs: Grid::from_raster(
            dir_raster,
            flow_dir_d8.band,
            dir_nodata,
            budget / 4,
            &scratch,
        ),
        accum: Grid::from_raster(
            accum_raster,
            flow_accum.band,
            accum_nodata,
            budget * 3 / 8,
            &scratch,
        ),
        dem: Grid::from_raster(dem_raster, dem.band, 0.0, budget * 3 / 8, &scratch),
        dir_nodata,
        gt: info.geotransform.0,
        cols,
        rows,
    };

    // Seeds: segments get ids from 1 in creation order (the GeoPackage's FIDs).
    let mut segments: Vec<Segment> = vec![Segment::default()];
    let mut seeds: Vec<(i64, i64, usize, usize)> = Vec::new();
    let mut junctions: HashMap<(i64, i64), Vec<usize>> = HashMap::new();
    let windows: Vec<_> =
        pgp_core::block_windows(info.raster_size, info.block_size, pgp_core::LARGEST_BLOCK)
            .collect();
    let mut ticker = Ticker::start(
        "extract_strahler_streams_d8: seeds",
        "blocks",
        windows.len(),
    );
    for w in windows {
        for x in w.x_off as i64..(w.x_off + w.width) as i64 {
            for y in w.y_off as i64..(w.y_off + w.height) as i64 {
                let local = r.accum(x, y);
                if local < threshold as f64 || is_close(local, accum_nodata) {
                    continue;
                }
                let Some(code) = r.dir(x, y).filter(|c| (0..8).contains(c)) else {
                    continue;
                };
                let d = code as usize;
                let downstream = r.dir(x + COL_OFFSETS[d] as i64, y + ROW_OFFSETS[d] as i64);
                let is_drain = downstream.is_none_or(|c| c == dir_nodata);
                if !is_drain && local < 2.0 * threshold as f64 {
                    continue;
                }
                let mut upstream = Vec::new();
                for d in 0..8 {
                    let (xn, yn) = (x + COL_OFFSETS[d] as i64, y + ROW_OFFSETS[d] as i64);
                    let Some(c) = r.dir(xn, yn) else { continue };
                    if c == dir_nodata {
                        continue;
                    }
                    if i32::from(INFLOW_OFFSETS[d]) == c && r.accum(xn, yn) >= threshold as f64 {
                        upstream.push(d);
                    }
                }
                if upstream.len() <= 1 && !is_drain {
                    continue;
                }
                for d in upstream {
                    let id = segments.len();
                    segments.push(Segment {
                        upstream_dir: d,
                        ..Default::default()
                    });
                    seeds.push((x, y, d, id));
                    junctions.entry((x, y)).or_default().push(id);
                }
            }
        }
        ticker.advance(1);
        r.dirs.status()?;
        r.accum.status()?;
    }
    drop(ticker);

    // Walk every seed upstream, last seeded first (pygeoprocessing's stack).
    let mut downstream_of: HashMap<usize, usize> = HashMap::new();
    let mut upstream_of: Vec<(usize, Vec<usize>)> = Vec::new();
    let mut ticker = Ticker::start(
        "extract_strahler_streams_d8: segments",
        "segments",
        seeds.len(),
    );
    while let Some((x, y, d, id)) = seeds.pop() {
        ticker.advance(1);
        let Some(walk) = walk_upstream(&mut r, (x, y), d, threshold, &mut junctions) else {
            continue;
        };
        let ds_fa = r.accum(x, y);
        let ds_height = r.dem.get(x as usize, y as usize);
        let (xu, yu) = walk.upstream;
        let us_height = r.dem.get(xu as usize, yu as usize);
        let us_fa = r.accum(xu, yu);
        for up in &walk.upstream_ids {
            downstream_of.insert(*up, id);
        }
        let s = &mut segments[id];
        s.ds_fa = Some(ds_fa as i64);
        s.ds = Some((x as i32, y as i32));
        s.ds_1 = Some((walk.first_step.0 as i32, walk.first_step.1 as i32));
        s.us = Some((xu as i32, yu as i32));
        if walk.upstream_ids.is_empty() {
            s.order = Some(1);
        }
        s.line = Some(walk.line);
        s.drop_distance = Some(us_height - ds_height);
        s.us_fa = Some(us_fa as i64);
        s.thresh_fa = Some(threshold);
        upstream_of.push((id, walk.upstream_ids));
    }
    drop(ticker);
    r.dem.status()?;
    r.accum.status()?;
    let upstream_map: HashMap<usize, Vec<usize>> = upstream_of.iter().cloned().collect();

    // Orders from the sources down; outlets are the segments with nothing downstream.
    let mut queue: std::collections::VecDeque<usize> = (1..segments.len())
        .filter(|i| segments[*i].order == Some(1))
        .collect();
    let mut outlets = Vec::new();
    while let Some(id) = queue.pop_front() {
        let Some(&down) = downstream_of.get(&id) else {
            segments[id].outlet = 1;
            outlets.push(id);
            continue;
        };
        if segments[down].order.is_some() {
            continue;
        }
        let mut orders = Vec::new();
        for up in upstream_map.get(&down).map(Vec::as_slice).unwrap_or(&[]) {
            match segments[*up].order {
                Some(o) => orders.push(o),
                None => break,
            }
        }
        if orders.len() != upstream_map.get(&down).map_or(0, Vec::len) {
            continue;
        }
        segments[down].order = Some(strahler(&orders));
        queue.push_back(down);
    }

    // River ids: per outlet, each highest tree whose order is at most `river_order`, its
    // threshold autotuned if asked.
    let mut links = Links {
        downstream_of,
        upstream_map,
    };
    let mut river_id = 0;
    for outlet in outlets {
        let mut search = vec![outlet];
        while let Some(id) = search.pop() {
            let order = segments[id].order.unwrap_or(i32::MIN);
            if order > options.river_order || segments[id].river_id.is_some() {
                search.extend(links.upstream(id));
                continue;
            }
            let mut stack = vec![id];
            let mut by_order: BTreeMap<i32, Vec<usize>> = BTreeMap::new();
            let mut drops: BTreeMap<i32, Vec<f64>> = BTreeMap::new();
            while let Some(up) = stack.pop() {
                segments[up].river_id = Some(river_id);
                let order = segments[up].order.unwrap_or(0);
                by_order.entry(order).or_default().push(up);
                drops
                    .entry(order)
                    .or_default()
                    .push(segments[up].drop_distance.unwrap_or(0.0));
                stack.extend(links.upstream(up));
            }
            if options.autotune_flow_accumulation {
                let mut tune = Autotune {
                    r: &mut r,
                    segments: &mut segments,
                    links: &mut links,
                    junctions: &mut junctions,
                };
                tune.run(threshold, options.min_p_val, &mut by_order, &mut drops);
            }
            river_id += 1;
        }
    }
    r.accum.status()?;
    r.dem.status()?;
    let Links {
        mut downstream_of,
        mut upstream_map,
    } = links;

    // Final pass: orders again, joining a segment into its downstream one when it is the only
    // one feeding it.
    let mut working: Vec<usize> = upstream_of
        .iter()
        .filter(|(id, _)| upstream_map.get(id).is_some_and(Vec::is_empty))
        .map(|(id, _)| *id)
        .collect();
    let mut orders: HashMap<usize, i32> = HashMap::new();
    while let Some(id) = working.pop() {
        let ups = upstream_map.get(&id).cloned().unwrap_or_default();
        let order = if ups.is_empty() {
            1
        } else {
            let fed: Vec<i32> = ups.iter().filter_map(|u| orders.get(u).copied()).collect();
            strahler(&fed)
        };
        orders.insert(id, order);
        segments[id].order = Some(order);
        let Some(&down) = downstream_of.get(&id) else {
            continue;
        };
        let connected = upstream_map.get(&down).cloned().unwrap_or_default();
        if connected.len() == 1 {
            orders.insert(down, order);
            orders.remove(&id);
            let ups = upstream_map.remove(&id).unwrap_or_default();
            for u in &ups {
                downstream_of.insert(*u, down);
            }
            upstream_map.insert(down, ups);
            downstream_of.remove(&id);
            join_into_downstream(&mut segments, id, down);
            working.push(down);
            continue;
        }
        if connected.iter().all(|c| *c == id || orders.contains_key(c)) {
            working.push(down);
        }
    }
    write_segments(&segments, &info, target)
}

/// Joins segment `up` to the upstream end of `down` and deletes it: the downstream line's
/// vertices then the upstream line's past the shared junction (what shapely's `linemerge`
/// makes of the two lines' union), and `down` takes `up`'s upstream end.
fn join_into_downstream(segments: &mut [Segment], up: usize, down: usize) {
    let up_line = segments[up].line.clone().unwrap_or_default();
    let up_end = segments[up].us;
    let d = &mut segments[down];
    let mut line = d.line.clone().unwrap_or_default();
    line.extend(up_line.into_iter().skip(1));
    d.line = Some(line);
    d.us = up_end;
    segments[up].deleted = true;
}

fn write_segments(segments: &[Segment], info: &pgp_core::RasterInfo, target: &Path) -> Result<u64> {
    use gdal_sys::OGRFieldType::{OFTInteger, OFTInteger64, OFTReal};
    let fields = [
        ("order", OFTInteger),
        ("drop_distance", OFTReal),
        ("outlet", OFTInteger),
        ("river_id", OFTInteger),
        ("us_fa", OFTInteger64),
        ("ds_fa", OFTInteger64),
        ("thresh_fa", OFTInteger64),
        ("ds_x", OFTInteger),
        ("ds_y", OFTInteger),
        ("ds_x_1", OFTInteger),
        ("ds_y_1", OFTInteger),
        ("us_x", OFTInteger),
        ("us_y", OFTInteger),
    ];
    let srs = vectors::projection(info)?;
    let line = OGRwkbGeometryType::wkbLineString;
    let name = vectors::layer_name(target);
    vectors::write_gpkg(target, &name, srs.as_ref(), line, &fields, |layer| {
        let mut count = 0;
        for (fid, s) in segments.iter().enumerate().skip(1) {
            if s.deleted {
                continue;
            }
            let mut f = Feature::new(layer.defn())
                .map_err(|e| vectors::gdal_error(target, "creating a segment", e))?;
            let ints = [
                (0, s.order),
                (2, Some(s.outlet)),
                (3, s.river_id),
                (7, s.ds.map(|p| p.0)),
                (8, s.ds.map(|p| p.1)),
                (9, s.ds_1.map(|p| p.0)),
                (10, s.ds_1.map(|p| p.1)),
                (11, s.us.map(|p| p.0)),
                (12, s.us.map(|p| p.1)),
            ];
            let mut result = Ok(());
            for (i, v) in ints {
                if let Some(v) = v {
                    result = result.and_then(|_| f.set_field_integer(i, v));
                }
            }
            for (i, v) in [(4, s.us_fa), (5, s.ds_fa), (6, s.thresh_fa)] {
                if let Some(v) = v {
                    result = result.and_then(|_| f.set_field_integer64(i, v));
                }
            }
            if let Some(v) = s.drop_distance {
                result = result.and_then(|_| f.set_field_double(1, v));
            }
            if let Some(points) = &s.line {
                result = result
                    .and_then(|_| vectors::geometry_z0(line, points.iter().copied()))
                    .and_then(|g| f.set_geometry(g));
            }
            // SAFETY: the feature is alive; GeoPackages keep a FID set before creation.
            unsafe { gdal_sys::OGR_F_SetFID(f.c_feature(), fid as i64) };
            result
                .and_then(|_| f.create(layer))
                .map_err(|e| vectors::gdal_error(target, "writing a segment", e))?;
            count += 1;
        }
        Ok(count)
    })
}

fn default_threshold() -> i64 {
    StrahlerOptions::default().min_flow_accum_threshold
}

fn default_river_order() -> i32 {
    StrahlerOptions::default().river_order
}

fn default_min_p_val() -> f64 {
    StrahlerOptions::default().min_p_val
}

/// `pgp.routing.extract_strahler_streams_d8`: [`extract_strahler_streams_d8`] as one
/// serialisable value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractStrahlerStreamsD8Request {
    /// D8 flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// Their D8 flow accumulation (band 1).
    pub flow_accum: PathBuf,
    /// The DEM (band 1).
    pub dem: PathBuf,
    /// The stream segments (GeoPackage).
    pub target: PathBuf,
    /// Flow accumulation at which a pixel is stream (100).
    #[serde(default = "default_threshold")]
    pub min_flow_accum_threshold: i64,
    /// The order that makes a river (5).
    #[serde(default = "default_river_order")]
    pub river_order: i32,
    /// Autotune the threshold per river (false).
    #[serde(default)]
    pub autotune_flow_accumulation: bool,
    /// The p-value of the autotuning test (0.05).
    #[serde(default = "default_min_p_val")]
    pub min_p_val: f64,
}

impl Request for ExtractStrahlerStreamsD8Request {
    const NAME: &'static str = "pgp.routing.extract_strahler_streams_d8";
    const VERSION: u32 = 1;
    /// The number of segments.
    type Output = u64;
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<u64> {
        let options = StrahlerOptions {
            min_flow_accum_threshold: self.min_flow_accum_threshold,
            river_order: self.river_order,
            autotune_flow_accumulation: self.autotune_flow_accumulation,
            min_p_val: self.min_p_val,
        };
        extract_strahler_streams_d8(
            &RasterBand::new(&self.flow_dir, self.band),
            &RasterBand::first(&self.flow_accum),
            &RasterBand::first(&self.dem),
            &self.target,
            &options,
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![
            self.flow_dir.clone(),
            self.flow_accum.clone(),
            self.dem.clone(),
        ]
    }
    pgp_ops::one_target!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strahler_orders() {
        assert_eq!(strahler(&[1, 1]), 2);
        assert_eq!(strahler(&[2, 1]), 2);
        assert_eq!(strahler(&[3, 3, 2]), 4);
    }
}
