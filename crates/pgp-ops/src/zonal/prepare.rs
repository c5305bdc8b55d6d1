//! The vector side of zonal statistics, done once per (vector, raster grid): features read,
//! reprojected into the raster's CRS, turned into polygon edges in pixel coordinates, and
//! bucketed by rows so each block finds its edges quickly.
//!
//! Pixel coordinates are taken in pygeoprocessing's rasterization frame (the raster grid clipped
//! to the vector's extent, see [`Frame`]) with GDAL's own arithmetic, so that pixel centres lying
//! exactly on an edge are decided as GDAL decides them.

use std::path::Path;

use pgp_core::gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use pgp_core::gdal::vector::{
    geometry_type_flatten, geometry_type_to_name, Geometry, LayerAccess, OGRwkbGeometryType,
};
use pgp_core::{layer, open_vector, BoundingBox, GeoTransform, LayerRef, RasterInfo};

use super::scan::{Edge, HSpan};
use crate::{Error, Result};

/// Rows per edge bucket (global raster rows).
pub(crate) const BUCKET_ROWS: usize = 256;

/// The rasterization frame: pygeoprocessing rasterizes on the raster grid clipped to the aligned
/// intersection of the raster's and the vector's bounding boxes. `col_off`/`row_off` place the
/// frame in the raster; `inv` is GDAL's inverse geotransform of the frame.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Frame {
    pub col_off: i64,
    pub row_off: i64,
    pub cols: i64,
    pub rows: i64,
    /// Frame geotransform (for the fallback windows, which pygeoprocessing computes on it).
    pub gt: [f64; 6],
    inv: [f64; 6],
}

impl Frame {
    /// pygeoprocessing's `align_bbox(raster_gt, intersection)` as a frame on the raster grid;
    /// `None` when the boxes do not intersect.
    pub(crate) fn new(
        gt: &GeoTransform,
        raster_bb: &BoundingBox,
        vector_bb: &BoundingBox,
    ) -> Option<Frame> {
        let bb = raster_bb.intersection(vector_bb);
        if bb.xmin > bb.xmax || bb.ymin > bb.ymax {
            return None;
        }
        let [x0, pw, _, y0, _, ph] = gt.0;
        let (sx, sy) = (pw.signum(), ph.signum());
        // Whole pixels from the origin to each aligned edge, as align_bbox computes them.
        let kx_min = ((bb.xmin - x0) / pw * sx).floor();
        let ky_min = ((bb.ymin - y0) / ph * sy).floor();
        let kx_max = ((bb.xmax - x0) / pw * sx).ceil();
        let ky_max = ((bb.ymax - y0) / ph * sy).ceil();
        let aligned = [
            x0 + pw.abs() * kx_min,
            y0 + ph.abs() * ky_min,
            x0 + pw.abs() * kx_max,
            y0 + ph.abs() * ky_max,
        ];
        // The frame's origin corner and its offset in pixels from the raster's origin.
        let (fx, col_off) = if pw > 0.0 {
            (aligned[0], kx_min)
        } else {
            (aligned[2], -kx_max)
        };
        let (fy, row_off) = if ph < 0.0 {
            (aligned[3], -ky_max)
        } else {
            (aligned[1], ky_min)
        };
        let cols = ((aligned[2] - aligned[0]) / pw.abs() + 0.5).floor() as i64;
        let rows = ((aligned[3] - aligned[1]) / ph.abs() + 0.5).floor() as i64;
        let fgt = [fx, pw, 0.0, fy, 0.0, ph];
        // GDALInvGeoTransform's no-rotation case.
        let inv = [-fx / pw, 1.0 / pw, 0.0, -fy / ph, 0.0, 1.0 / ph];
        Some(Frame {
            col_off: col_off as i64,
            row_off: row_off as i64,
            cols,
            rows,
            gt: fgt,
            inv,
        })
    }

    /// Frame pixel coordinates of a map point, with GDAL's arithmetic.
    #[inline]
    pub(crate) fn pixel_coords(&self, x: f64, y: f64) -> (f64, f64) {
        let g = &self.inv;
        (g[0] + x * g[1] + y * g[2], g[3] + x * g[4] + y * g[5])
    }
}

/// One feature of the layer.
#[derive(Debug, Clone)]
pub(crate) struct Feature {
    /// The source layer's FID.
    pub fid: u64,
    /// Rasterization data; `None` for features without (or with empty) geometry.
    pub shape: Option<Shape>,
}

/// A feature's geometry, ready for scanning.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// Envelope in map coordinates of the raster's CRS: `[xmin, ymin, xmax, ymax]`.
    pub envelope: [f64; 4],
    /// Non-horizontal edges in frame pixel coordinates, sorted by first row.
    pub edges: Vec<Edge>,
    /// Horizontal edges lying exactly on a scanline that GDAL fills separately.
    pub hspans: Vec<HSpan>,
    /// Raster rows (global) the edges can touch: `[first, last)`.
    pub rows: (i64, i64),
    /// Raster columns (global) spans can reach: `[first, last)`.
    pub cols: (i64, i64),
    /// For each bucket of [`BUCKET_ROWS`] global rows from `bucket0`: indices into `edges`
    /// active in it.
    pub bucket0: i64,
    pub buckets: Vec<Vec<u32>>,
}

/// A ring in map coordinates and the polygon part it belongs to.
type Ring = (u32, Vec<(f64, f64)>);

/// Raw rings of a feature in map coordinates, before the frame is known.
struct RawFeature {
    fid: u64,
    rings: Vec<Ring>,
}

/// Read every feature of `layer_ref` of `vector`, reproject into `grid`'s CRS, and prepare edges
/// in the frame. Returns the features (layer order) and the frame (`None`: no overlap).
pub(crate) fn read_features(
    vector: &Path,
    layer_ref: &LayerRef,
    grid: &RasterInfo,
) -> Result<(Vec<Feature>, Option<Frame>)> {
    let ds = open_vector(vector)?;
    let mut lyr = layer(&ds, vector, layer_ref)?;
    let layer_type = geometry_type_flatten(lyr.defn().geometry_type());
    if !matches!(
        layer_type,
        OGRwkbGeometryType::wkbPolygon
            | OGRwkbGeometryType::wkbMultiPolygon
            | OGRwkbGeometryType::wkbUnknown
            | OGRwkbGeometryType::wkbGeometryCollection
    ) {
        return Err(Error::invalid(
            "vector",
            format!(
                "{}: layer geometry type is {}, zonal statistics needs polygons",
                vector.display(),
                geometry_type_to_name(layer_type)
            ),
        ));
    }
    let transform =
        coordinate_transform(vector, lyr.spatial_ref(), grid.projection_wkt.as_deref())?;
    let mut raw = Vec::new();
    for feature in lyr.features() {
        let Some(fid) = feature.fid() else {
            return Err(Error::invalid(
                "vector",
                format!("{}: a feature has no FID", vector.display()),
            ));
        };
        let mut rings = Vec::new();
        if let Some(geom) = feature.geometry() {
            if !geom.is_empty() {
                let owned;
                let g = match &transform {
                    Some(t) => {
                        owned = geom.transform(t).map_err(|e| {
                            Error::invalid(
                                "vector",
                                format!("{}: feature {fid} cannot be reprojected to the raster's CRS: {e}", vector.display()),
                            )
                        })?;
                        &owned
                    }
                    None => geom,
                };
                collect_rings(g, &mut rings, &mut 0).map_err(|kind| {
                    Error::invalid(
                        "vector",
                        format!(
                            "{}: feature {fid} is a {kind}, zonal statistics needs polygons",
                            vector.display()
                        ),
                    )
                })?;
            }
        }
        raw.push(RawFeature { fid, rings });
    }
    // The vector's extent: union of the envelopes of features with geometry.
    let mut vbb: Option<BoundingBox> = None;
    let envelopes: Vec<Option<[f64; 4]>> = raw.iter().map(|f| envelope(&f.rings)).collect();
    for e in envelopes.iter().flatten() {
        let b = BoundingBox::new(e[0], e[1], e[2], e[3]);
        vbb = Some(vbb.map_or(b, |v| v.union(&b)));
    }
    let gt = grid.geotransform;
    if gt.0[2] != 0.0 || gt.0[4] != 0.0 {
        return Err(Error::invalid(
            "raster",
            format!(
                "{}: rotated rasters are not supported by zonal statistics",
                grid.path.display()
            ),
        ));
    }
    let frame = vbb.and_then(|vbb| Frame::new(&gt, &grid.bounding_box, &vbb));
    let features = raw
        .into_iter()
        .zip(envelopes)
        .map(|(f, env)| Feature {
            fid: f.fid,
            shape: match (env, frame) {
                (Some(envelope), Some(frame)) => Some(Shape::new(&f.rings, envelope, &frame)),
                (Some(envelope), None) => Some(Shape::outside(envelope)),
                _ => None,
            },
        })
        .collect();
    Ok((features, frame))
}

fn coordinate_transform(
    vector: &Path,
    layer_srs: Option<SpatialRef>,
    raster_wkt: Option<&str>,
) -> Result<Option<CoordTransform>> {
    let (Some(mut from), Some(wkt)) = (layer_srs, raster_wkt) else {
        return Ok(None);
    };
    let gerr = |what: &str| {
        let what = what.to_string();
        move |e| Error::Core(pgp_core::Error::gdal(vector, what, e))
    };
    let mut to = SpatialRef::from_wkt(wkt).map_err(gerr("reading the raster's projection"))?;
    if from == to {
        return Ok(None);
    }
    from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    CoordTransform::new(&from, &to).map(Some).map_err(gerr(
        "building the transformation to the raster's projection",
    ))
}

/// Every ring of a polygon, multipolygon or collection of them, in stored vertex order, tagged
/// with its polygon part: GDAL fills the rings of one polygon together (even-odd) and the parts
/// of a multipolygon one after another (union). Err: the offending geometry type's name.
fn collect_rings(
    g: &Geometry,
    rings: &mut Vec<Ring>,
    next_part: &mut u32,
) -> std::result::Result<(), String> {
    match geometry_type_flatten(g.geometry_type()) {
        OGRwkbGeometryType::wkbPolygon => {
            let part = *next_part;
            *next_part += 1;
            for i in 0..g.geometry_count() {
                let mut pts = Vec::new();
                g.get_geometry(i).get_points(&mut pts);
                rings.push((part, pts.into_iter().map(|(x, y, _)| (x, y)).collect()));
            }
            Ok(())
        }
        OGRwkbGeometryType::wkbMultiPolygon | OGRwkbGeometryType::wkbGeometryCollection => {
            for i in 0..g.geometry_count() {
                collect_rings(&g.get_geometry(i), rings, next_part)?;
            }
            Ok(())
        }
        other => Err(geometry_type_to_name(other)),
    }
}

/// OGR's `OGRLinearRing::isClockwise` (which GDAL's rasterizer uses to orient rings): the turn at
/// the lowest, then rightmost vertex decides; ties and near-duplicate neighbours fall back to the
/// sign of the shoelace sum. `ring` is closed (last point = first).
pub(crate) fn is_clockwise(ring: &[(f64, f64)]) -> bool {
    const EPSILON: f64 = 1e-5;
    let n = ring.len();
    if n < 2 {
        return true;
    }
    let mut fallback = false;
    let mut v = 0;
    for i in 1..n - 1 {
        let (p, q) = (ring[i], ring[v]);
        if p.1 < q.1 || (p.1 == q.1 && p.0 > q.0) {
            v = i;
            fallback = false;
        } else if p == q {
            fallback = true;
        }
    }
    let near =
        |a: (f64, f64), b: (f64, f64)| (a.0 - b.0).abs() < EPSILON && (a.1 - b.1).abs() < EPSILON;
    let prev = if v == 0 { n - 2 } else { v - 1 };
    fallback |= near(ring[prev], ring[v]);
    let (dx0, dy0) = (ring[prev].0 - ring[v].0, ring[prev].1 - ring[v].1);
    let next = if v + 1 >= n - 1 { 0 } else { v + 1 };
    fallback |= near(ring[next], ring[v]);
    let (dx1, dy1) = (ring[next].0 - ring[v].0, ring[next].1 - ring[v].1);
    let cross = dx1 * dy0 - dx0 * dy1;
    if !fallback {
        if cross > 0.0 {
            return false;
        } else if cross < 0.0 {
            return true;
        }
    }
    let mut sum = ring[0].0 * (ring[1].1 - ring[n - 1].1);
    for i in 1..n - 1 {
        sum += ring[i].0 * (ring[i + 1].1 - ring[i - 1].1);
    }
    sum += ring[n - 1].0 * (ring[0].1 - ring[n - 2].1);
    sum < 0.0
}

fn envelope(rings: &[Ring]) -> Option<[f64; 4]> {
    let mut pts = rings.iter().flat_map(|(_, r)| r);
    let &(x, y) = pts.next()?;
    Some(pts.fold([x, y, x, y], |e, &(x, y)| {
        [e[0].min(x), e[1].min(y), e[2].max(x), e[3].max(y)]
    }))
}

impl Shape {
    /// A feature that cannot reach any pixel (no frame: the vector misses the raster).
    fn outside(envelope: [f64; 4]) -> Shape {
        Shape {
            envelope,
            edges: Vec::new(),
            hspans: Vec::new(),
            rows: (0, 0),
            cols: (0, 0),
            bucket0: 0,
            buckets: Vec::new(),
        }
    }

    fn new(rings: &[Ring], envelope: [f64; 4], frame: &Frame) -> Shape {
        let mut edges = Vec::new();
        let mut hspans = Vec::new();
        let (mut xmin, mut xmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for (part, ring) in rings.iter().filter(|(_, r)| !r.is_empty()) {
            // GDAL scans every ring clockwise (in map coordinates): that decides which horizontal
            // edges lying on a scanline get filled.
            let mut px: Vec<(f64, f64)> = ring
                .iter()
                .map(|&(x, y)| frame.pixel_coords(x, y))
                .collect();
            if !is_clockwise(ring) {
                px.reverse();
            }
            for &(x, _) in &px {
                xmin = xmin.min(x);
                xmax = xmax.max(x);
            }
            // GDAL's edge order: last -> first, then each vertex from the previous one.
            let n = px.len();
            for i in 0..n {
                let a = px[if i == 0 { n - 1 } else { i - 1 }];
                let b = px[i];
                if let Some(e) = Edge::new(a, b, *part) {
                    edges.push(e);
                } else if let Some(h) = HSpan::new(a, b) {
                    hspans.push(h);
                }
            }
        }
        edges.sort_by_key(|e| e.row_start);
        // Global rows and columns the feature can fill, clipped to the frame.
        let first = edges
            .iter()
            .map(|e| e.row_start)
            .chain(hspans.iter().map(|h| h.row))
            .min()
            .unwrap_or(0);
        let last = edges
            .iter()
            .map(|e| e.row_end)
            .chain(hspans.iter().map(|h| h.row + 1))
            .max()
            .unwrap_or(0);
        let (r0, r1) = (first.max(0), last.min(frame.rows));
        let c0 = ((xmin + 0.5).floor() as i64 - 1).max(0);
        let c1 = ((xmax + 0.5).floor() as i64 + 1).min(frame.cols);
        let rows = (r0 + frame.row_off, r1.max(r0) + frame.row_off);
        let cols = (c0 + frame.col_off, c1.max(c0) + frame.col_off);
        let bucket0 = rows.0.div_euclid(BUCKET_ROWS as i64);
        let n_buckets = if rows.1 > rows.0 {
            (rows.1 - 1).div_euclid(BUCKET_ROWS as i64) - bucket0 + 1
        } else {
            0
        };
        let mut buckets = vec![Vec::new(); n_buckets as usize];
        for (i, e) in edges.iter().enumerate() {
            let (g0, g1) = (
                e.row_start.max(r0) + frame.row_off,
                e.row_end.min(r1) + frame.row_off,
            );
            if g1 <= g0 {
                continue;
            }
            for b in g0.div_euclid(BUCKET_ROWS as i64)..=(g1 - 1).div_euclid(BUCKET_ROWS as i64) {
                buckets[(b - bucket0) as usize].push(i as u32);
            }
        }
        Shape {
            envelope,
            edges,
            hspans,
            rows,
            cols,
            bucket0,
            buckets,
        }
    }

    /// Edges (and horizontal spans) that matter for raster rows `[r0, r1)`.
    pub(crate) fn edges_for_rows(
        &self,
        r0: i64,
        r1: i64,
        frame: &Frame,
    ) -> (Vec<Edge>, Vec<HSpan>) {
        let (r0, r1) = (r0.max(self.rows.0), r1.min(self.rows.1));
        if r1 <= r0 {
            return (Vec::new(), Vec::new());
        }
        let b0 = r0.div_euclid(BUCKET_ROWS as i64) - self.bucket0;
        let b1 = (r1 - 1).div_euclid(BUCKET_ROWS as i64) - self.bucket0;
        let mut ids: Vec<u32> = (b0..=b1)
            .filter_map(|b| self.buckets.get(b as usize))
            .flatten()
            .copied()
            .collect();
        if b1 > b0 {
            ids.sort_unstable();
            ids.dedup();
        }
        let (f0, f1) = (r0 - frame.row_off, r1 - frame.row_off);
        let edges = ids
            .into_iter()
            .map(|i| self.edges[i as usize])
            .filter(|e| e.row_start < f1 && e.row_end > f0)
            .collect();
        let hspans = self
            .hspans
            .iter()
            .filter(|h| h.row >= f0 && h.row < f1)
            .copied()
            .collect();
        (edges, hspans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_orientation() {
        let cw = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.0, 0.0), (0.0, 0.0)];
        let ccw: Vec<_> = cw.iter().rev().copied().collect();
        assert!(is_clockwise(&cw));
        assert!(!is_clockwise(&ccw));
        // A repeated lowest-rightmost vertex falls back to the shoelace sum.
        let dup = [
            (0.0, 0.0),
            (0.0, 1.0),
            (1.0, 1.0),
            (1.0, 0.0),
            (1.0, 0.0),
            (0.0, 0.0),
        ];
        assert!(is_clockwise(&dup));
    }

    #[test]
    fn frame_follows_align_bbox() {
        // Raster 100 x 100 of 30 m at (1000, 5000); vector box inside, off-grid.
        let gt = GeoTransform::north_up(1000.0, 5000.0, 30.0, -30.0);
        let rbb = gt.bounding_box(100, 100);
        let vbb = BoundingBox::new(1100.0, 3000.0, 1700.0, 4950.0);
        let f = Frame::new(&gt, &rbb, &vbb).unwrap();
        // xmin 1100 -> floor(100/30)=3 -> 1090; ymax 4950 -> ceil(-50/30)=-1 -> 4970.
        assert_eq!((f.col_off, f.row_off), (3, 1));
        assert_eq!(f.gt[0], 1090.0);
        assert_eq!(f.gt[3], 4970.0);
        // xmax 1700 -> ceil(700/30) = 24 -> 1720: 21 columns; ymin 3000 -> floor(-2000/30) = -67.
        assert_eq!((f.cols, f.rows), (21, 66));
        let (px, py) = f.pixel_coords(1090.0 + 45.0, 4970.0 - 15.0);
        assert!((px - 1.5).abs() < 1e-12 && (py - 0.5).abs() < 1e-12);
        // Disjoint boxes: no frame.
        assert!(Frame::new(&gt, &rbb, &BoundingBox::new(0.0, 0.0, 10.0, 10.0)).is_none());
    }
}
