//! `delineate_watersheds_d8`: for each outflow feature, every pixel whose D8 path reaches the
//! pixels the feature covers, as one multipolygon carrying the feature's attributes.
//!
//! As pygeoprocessing: a feature within one pixel seeds that pixel; a larger one seeds every
//! pixel it touches (GDAL's rasterize with `ALL_TOUCHED`). The watershed grows upstream from
//! the seeds with valid directions through the tile cache, then GDAL's 4-connected polygonize
//! turns the pixels of its bounding box (plus one pixel west and north, as pygeoprocessing's
//! window) into polygons, and the fragments of one watershed become one multipolygon. Features
//! are processed serially (each walk follows flow paths across the raster); the output's
//! features are ordered by the outflow features' FIDs.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::ptr;

use pgp_core::gdal::raster::Buffer;
use pgp_core::gdal::spatial_ref::SpatialRef;
use pgp_core::gdal::vector::{FieldDefn, Geometry, LayerAccess, LayerOptions};
use pgp_core::gdal::{DriverManager, GeoTransform};
use pgp_core::{open_vector, LayerRef};
use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::common::{neighbour, scratch_dir, RasterBand, Ticker, INFLOW_OFFSETS};
use crate::error::{Error, Result};
use crate::grid::{cache_budget, Grid};
use crate::outlets::{flow_dir_nodata, FlowDirType};
use crate::vectors::{self, write_gpkg};

/// Options of [`delineate_watersheds_d8`]; the defaults are pygeoprocessing's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WatershedOptions {
    /// The outflow layer (default: the first).
    pub layer: LayerRef,
    /// Name of the watersheds layer (default `watersheds`).
    pub target_layer_name: String,
}

impl Default for WatershedOptions {
    fn default() -> Self {
        WatershedOptions {
            layer: LayerRef::Index(0),
            target_layer_name: "watersheds".to_string(),
        }
    }
}

/// The pixel grid of the flow directions, in pygeoprocessing's variable names.
struct PixelGrid {
    gt: [f64; 6],
    cols: usize,
    rows: usize,
}

impl PixelGrid {
    /// The seed pixels of a geometry with bounds `env`, as `(x, y)` (possibly off the raster).
    fn seeds(&self, geometry: &Geometry, srs: Option<&SpatialRef>) -> Result<Vec<(i64, i64)>> {
        let [x_origin, pw, _, y_origin, _, ph] = self.gt;
        let env = geometry.envelope();
        // pygeoprocessing holds the bounds in C floats.
        let (minx, miny, maxx, maxy) = (
            f64::from(env.MinX as f32),
            f64::from(env.MinY as f32),
            f64::from(env.MaxX as f32),
            f64::from(env.MaxY as f32),
        );
        let minx_px = ((minx - x_origin) / pw).floor() as i32;
        let miny_px = ((miny - y_origin) / ph).floor() as i32;
        let maxx_px = ((maxx - x_origin) / pw).floor() as i32;
        let maxy_px = ((maxy - y_origin) / ph).floor() as i32;
        if minx_px == maxx_px && miny_px == maxy_px {
            return Ok(vec![(i64::from(minx_px), i64::from(miny_px))]);
        }
        let raster_maxx = x_origin + self.cols as f64 * pw;
        let raster_miny = y_origin + self.rows as f64 * ph;
        let minx_aligned = (x_origin + f64::from(minx_px) * pw).max(x_origin);
        let miny_aligned = (y_origin + f64::from(miny_px + 1) * ph).max(raster_miny);
        let maxx_aligned = (x_origin + f64::from(maxx_px + 1) * pw).min(raster_maxx);
        let maxy_aligned = (y_origin + f64::from(maxy_px) * ph).min(y_origin);
        let local_cols = ((maxx_aligned - minx_aligned).abs() / pw.abs())
            .floor()
            .max(1.0) as usize;
        let local_rows = ((maxy_aligned - miny_aligned).abs() / ph.abs())
            .floor()
            .max(1.0) as usize;
        let origin_x = minx_aligned.max(x_origin);
        let origin_y = maxy_aligned.min(y_origin);
        let mut gt = self.gt;
        gt[0] = origin_x;
        gt[3] = origin_y;
        let burnt = rasterize_all_touched(geometry, srs, gt, local_cols, local_rows)?;
        let col0 = i64::from(((origin_x - x_origin) / pw).floor() as i32);
        let row0 = i64::from(((origin_y - y_origin) / ph).floor() as i32);
        Ok(burnt
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0)
            .map(|(i, _)| {
                (
                    col0 + (i % local_cols) as i64,
                    row0 + (i / local_cols) as i64,
                )
            })
            .collect())
    }
}

/// GDAL's last error message (the C API calls report failures only through it).
fn last_gdal_message() -> String {
    // SAFETY: CPLGetLastErrorMsg returns a NUL-terminated string owned by GDAL, or NULL.
    unsafe {
        let p = gdal_sys::CPLGetLastErrorMsg();
        if p.is_null() {
            String::new()
        } else {
            std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
        }
    }
}

fn gdal_error(what: &str, e: pgp_core::gdal::errors::GdalError) -> Error {
    Error::invalid(what.to_string(), e.to_string())
}

/// `geometry` burnt as 1 into a `cols` x `rows` Byte grid on `gt` with GDAL's
/// `RasterizeLayer(..., ALL_TOUCHED=True)`, as pygeoprocessing burns it; row-major.
fn rasterize_all_touched(
    geometry: &Geometry,
    srs: Option<&SpatialRef>,
    gt: [f64; 6],
    cols: usize,
    rows: usize,
) -> Result<Vec<u8>> {
    let what = "rasterizing an outflow geometry";
    let mut raster = DriverManager::get_driver_by_name("MEM")
        .and_then(|d| d.create_with_band_type::<u8, _>("", cols, rows, 1))
        .map_err(|e| gdal_error(what, e))?;
    raster
        .set_geo_transform(&gt as &GeoTransform)
        .map_err(|e| gdal_error(what, e))?;
    if let Some(srs) = srs {
        raster
            .set_spatial_ref(srs)
            .map_err(|e| gdal_error(what, e))?;
    }
    let mut vector = DriverManager::get_driver_by_name("Memory")
        .and_then(|d| d.create_vector_only(""))
        .map_err(|e| gdal_error(what, e))?;
    // An empty reference when the raster has none, as pygeoprocessing's: GDAL then assumes
    // matching systems without warning.
    let empty = SpatialRef::new().map_err(|e| gdal_error(what, e))?;
    let layer = vector
        .create_layer(LayerOptions {
            name: "user_geometry",
            srs: Some(srs.unwrap_or(&empty)),
            ty: gdal_sys::OGRwkbGeometryType::wkbUnknown,
            options: None,
        })
        .map_err(|e| gdal_error(what, e))?;
    let mut feature =
        pgp_core::gdal::vector::Feature::new(layer.defn()).map_err(|e| gdal_error(what, e))?;
    feature
        .set_geometry(geometry.clone())
        .and_then(|_| feature.create(&layer))
        .map_err(|e| gdal_error(what, e))?;
    let all_touched =
        CString::new("ALL_TOUCHED=True").map_err(|e| Error::invalid(what, e.to_string()))?;
    let mut options = [
        all_touched.as_ptr() as *mut std::ffi::c_char,
        ptr::null_mut(),
    ];
    let mut bands = [1i32];
    let mut burn = [1.0f64];
    let mut layers = [unsafe { layer.c_layer() }];
    // SAFETY: every handle outlives the call; the arrays hold the counts given.
    let rv = unsafe {
        gdal_sys::GDALRasterizeLayers(
            raster.c_dataset(),
            1,
            bands.as_mut_ptr(),
            1,
            layers.as_mut_ptr(),
            None,
            ptr::null_mut(),
            burn.as_mut_ptr(),
            options.as_mut_ptr(),
            None,
            ptr::null_mut(),
        )
    };
    if rv != gdal_sys::CPLErr::CE_None {
        return Err(Error::invalid(what, last_gdal_message()));
    }
    let band = raster.rasterband(1).map_err(|e| gdal_error(what, e))?;
    let buffer = band
        .read_as::<u8>((0, 0), (cols, rows), (cols, rows), None)
        .map_err(|e| gdal_error(what, e))?;
    Ok(buffer.data().to_vec())
}

/// The polygons GDAL's 4-connected polygonize makes of the pixels of `window` (columns
/// `x0..x1`, rows `y0..y1`) whose `stamps` equal `ws_id`, in the order it makes them.
fn polygonize(
    grid: &PixelGrid,
    stamps: &mut Grid<u32>,
    ws_id: u32,
    (x0, y0, x1, y1): (usize, usize, usize, usize),
    srs: Option<&SpatialRef>,
) -> Result<Vec<Geometry>> {
    let what = "polygonizing a watershed";
    let (w, h) = (x1 - x0, y1 - y0);
    let [x_origin, pw, _, y_origin, _, ph] = grid.gt;
    let mut values = vec![0u32; w * h];
    for y in y0..y1 {
        for x in x0..x1 {
            if stamps.get(x, y) == ws_id {
                values[(y - y0) * w + (x - x0)] = ws_id;
            }
        }
    }
    let mut raster = DriverManager::get_driver_by_name("MEM")
        .and_then(|d| d.create_with_band_type::<u32, _>("", w, h, 1))
        .map_err(|e| gdal_error(what, e))?;
    // The window pygeoprocessing's VRT gets from its output bounds.
    let mut gt = grid.gt;
    gt[0] = x_origin + x0 as f64 * pw;
    gt[3] = y_origin + y0 as f64 * ph;
    raster
        .set_geo_transform(&gt)
        .map_err(|e| gdal_error(what, e))?;
    if let Some(srs) = srs {
        raster
            .set_spatial_ref(srs)
            .map_err(|e| gdal_error(what, e))?;
    }
    let mut band = raster.rasterband(1).map_err(|e| gdal_error(what, e))?;
    band.write((0, 0), (w, h), &mut Buffer::new((w, h), values))
        .map_err(|e| gdal_error(what, e))?;
    let mut vector = DriverManager::get_driver_by_name("Memory")
        .and_then(|d| d.create_vector_only(""))
        .map_err(|e| gdal_error(what, e))?;
    let layer = vector
        .create_layer(LayerOptions {
            name: "polygonized_watersheds",
            srs,
            ty: gdal_sys::OGRwkbGeometryType::wkbPolygon,
            options: None,
        })
        .map_err(|e| gdal_error(what, e))?;
    let field = FieldDefn::new("ws_id", gdal_sys::OGRFieldType::OFTInteger)
        .map_err(|e| gdal_error(what, e))?;
    field.set_width(24);
    field
        .add_to_layer(&layer)
        .map_err(|e| gdal_error(what, e))?;
    // SAFETY: the band and layer outlive the call; the band is its own mask (0 is outside).
    let rv = unsafe {
        let b = band.c_rasterband();
        gdal_sys::GDALPolygonize(
            b,
            b,
            layer.c_layer(),
            0,
            ptr::null_mut(),
            None,
            ptr::null_mut(),
        )
    };
    if rv != gdal_sys::CPLErr::CE_None {
        return Err(Error::invalid(what, last_gdal_message()));
    }
    let mut layer = layer;
    Ok(layer
        .features()
        .filter_map(|f| f.geometry().cloned())
        .collect())
}

/// pygeoprocessing's `delineate_watersheds_d8`: writes to the GeoPackage `target` one
/// multipolygon per feature of `outflow_vector` that overlaps valid directions of
/// `d8_flow_dir`, covering every pixel that drains to the pixels the feature touches, with the
/// feature's attributes (its fields, copied). Features without geometry, empty, off the raster
/// or only over nodata directions give no watershed. Returns the number of watersheds.
pub fn delineate_watersheds_d8(
    d8_flow_dir: &RasterBand,
    outflow_vector: &Path,
    target: &Path,
    options: &WatershedOptions,
    _exec: &Executor,
) -> Result<u64> {
    let (raster, info) = d8_flow_dir.open()?;
    let nodata = flow_dir_nodata(d8_flow_dir, &info, FlowDirType::D8)?;
    if options.target_layer_name == "polygonized_watersheds" || options.target_layer_name.is_empty()
    {
        return Err(Error::invalid(
            "target_layer_name",
            format!("{:?} is not a usable layer name", options.target_layer_name),
        ));
    }
    let (cols, rows) = info.raster_size;
    let grid = PixelGrid {
        gt: info.geotransform.0,
        cols,
        rows,
    };
    let srs = vectors::projection(&info)?;
    let source = open_vector(outflow_vector)?;
    let mut source_layer = pgp_core::layer(&source, outflow_vector, &options.layer)?;
    let scratch = scratch_dir(target);
    let budget = cache_budget();
    let mut dirs = Grid::<i32>::from_raster(raster, d8_flow_dir.band, nodata, budget / 2, &scratch);
    let mut stamps = Grid::<u32>::new(cols, rows, 0, budget / 2, &scratch);
    let bbox = info.bounding_box;
    let total = source_layer.feature_count() as usize;
    let mut ticker = Ticker::start("delineate_watersheds_d8", "features", total);
    let mut watersheds: Vec<(u64, Geometry)> = Vec::new();
    let mut queue = std::collections::VecDeque::new();
    for feature in source_layer.features() {
        ticker.advance(1);
        let fid = feature.fid().ok_or_else(|| {
            Error::invalid(
                outflow_vector.display().to_string(),
                "a feature has no FID, so its watershed cannot be named",
            )
        })?;
        let ws_id = u32::try_from(fid + 1).map_err(|_| {
            Error::invalid(
                outflow_vector.display().to_string(),
                format!("feature FID {fid} is too large for a watershed id"),
            )
        })?;
        let Some(geometry) = feature.geometry() else {
            continue;
        };
        if geometry.is_empty() {
            continue;
        }
        let env = geometry.envelope();
        if env.MaxX < bbox.xmin
            || env.MinX > bbox.xmax
            || env.MaxY < bbox.ymin
            || env.MinY > bbox.ymax
        {
            continue;
        }
        let (mut x_min, mut y_min, mut x_max, mut y_max) = (cols, rows, 0, 0);
        for (x, y) in grid.seeds(geometry, srs.as_ref())? {
            if x < 0 || y < 0 || x as usize >= cols || y as usize >= rows {
                continue;
            }
            let (x, y) = (x as usize, y as usize);
            if dirs.get(x, y) == nodata || stamps.get(x, y) == ws_id {
                continue;
            }
            stamps.set(x, y, ws_id);
            queue.push_back((x, y));
        }
        if queue.is_empty() {
            continue;
        }
        while let Some((x, y)) = queue.pop_front() {
            x_min = x_min.min(x);
            y_min = y_min.min(y);
            x_max = x_max.max(x);
            y_max = y_max.max(y);
            for d in 0..8 {
                let Some((xn, yn)) = neighbour(x, y, d, cols, rows) else {
                    continue;
                };
                if stamps.get(xn, yn) != ws_id && dirs.get(xn, yn) == i32::from(INFLOW_OFFSETS[d]) {
                    stamps.set(xn, yn, ws_id);
                    queue.push_back((xn, yn));
                }
            }
        }
        dirs.status()?;
        stamps.status()?;
        let window = (
            x_min.saturating_sub(1),
            y_min.saturating_sub(1),
            (x_max + 1).min(cols),
            (y_max + 1).min(rows),
        );
        let fragments = polygonize(&grid, &mut stamps, ws_id, window, srs.as_ref())?;
        let mut multi = Geometry::empty(gdal_sys::OGRwkbGeometryType::wkbMultiPolygon)
            .map_err(|e| gdal_error("building a watershed", e))?;
        for f in fragments {
            multi
                .add_geometry(f)
                .map_err(|e| gdal_error("building a watershed", e))?;
        }
        watersheds.push((fid, multi));
    }
    drop(ticker);
    watersheds.sort_by_key(|(fid, _)| *fid);
    write_watersheds(
        &mut source_layer,
        watersheds,
        target,
        &options.target_layer_name,
        srs.as_ref(),
    )
}

fn write_watersheds(
    source_layer: &mut pgp_core::gdal::vector::Layer<'_>,
    watersheds: Vec<(u64, Geometry)>,
    target: &Path,
    layer_name: &str,
    srs: Option<&SpatialRef>,
) -> Result<u64> {
    let count = watersheds.len() as u64;
    let multi = gdal_sys::OGRwkbGeometryType::wkbMultiPolygon;
    write_gpkg(target, layer_name, srs, multi, &[], |layer| {
        // The source's field definitions as they are (type, subtype, width, precision).
        // SAFETY: both layers are alive for the calls.
        unsafe {
            let source_defn = gdal_sys::OGR_L_GetLayerDefn(source_layer.c_layer());
            for i in 0..gdal_sys::OGR_FD_GetFieldCount(source_defn) {
                let field = gdal_sys::OGR_FD_GetFieldDefn(source_defn, i);
                if gdal_sys::OGR_L_CreateField(layer.c_layer(), field, 1)
                    != gdal_sys::OGRErr::OGRERR_NONE
                {
                    return Err(Error::invalid(
                        target.display().to_string(),
                        format!("copying the outflow fields: {}", last_gdal_message()),
                    ));
                }
            }
        }
        for (fid, geometry) in watersheds {
            let source_feature = source_layer.feature(fid).ok_or_else(|| {
                Error::invalid(
                    target.display().to_string(),
                    format!("outflow feature {fid} vanished"),
                )
            })?;
            let mut feature = pgp_core::gdal::vector::Feature::new(layer.defn())
                .map_err(|e| vectors::gdal_error(target, "creating a watershed", e))?;
            // SAFETY: both features are alive; fields are matched by name, as pygeoprocessing
            // sets them; the FID is left for the GeoPackage to assign.
            let rv = unsafe {
                let rv =
                    gdal_sys::OGR_F_SetFrom(feature.c_feature(), source_feature.c_feature(), 1);
                gdal_sys::OGR_F_SetFID(feature.c_feature(), -1);
                rv
            };
            if rv != gdal_sys::OGRErr::OGRERR_NONE {
                return Err(Error::invalid(
                    target.display().to_string(),
                    format!("copying the attributes of outflow feature {fid}"),
                ));
            }
            feature
                .set_geometry(geometry)
                .and_then(|_| feature.create(layer))
                .map_err(|e| vectors::gdal_error(target, "writing a watershed", e))?;
        }
        Ok(count)
    })
}

fn watersheds_layer_name() -> String {
    WatershedOptions::default().target_layer_name
}

/// `pgp.routing.delineate_watersheds_d8`: [`delineate_watersheds_d8`] as one serialisable
/// value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelineateWatershedsD8Request {
    /// D8 flow directions.
    pub d8_flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The outflow features (first layer).
    pub outflow_vector: PathBuf,
    /// The watersheds (GeoPackage).
    pub target: PathBuf,
    /// Name of the watersheds layer (`watersheds`).
    #[serde(default = "watersheds_layer_name")]
    pub target_layer_name: String,
}

impl Request for DelineateWatershedsD8Request {
    const NAME: &'static str = "pgp.routing.delineate_watersheds_d8";
    const VERSION: u32 = 1;
    /// The number of watersheds.
    type Output = u64;
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<u64> {
        let options = WatershedOptions {
            target_layer_name: self.target_layer_name.clone(),
            ..Default::default()
        };
        delineate_watersheds_d8(
            &RasterBand::new(&self.d8_flow_dir, self.band),
            &self.outflow_vector,
            &self.target,
            &options,
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.d8_flow_dir.clone(), self.outflow_vector.clone()]
    }
    pgp_ops::one_target!();
}

#[cfg(test)]
mod tests {
    use super::*;

    // pygeoprocessing's test_split_geometry_into_seeds: seeds include pixels over nodata
    // (they are dropped later, against the directions).
    #[test]
    fn seeds_of_points_lines_and_polygons() {
        let grid = PixelGrid {
            gt: [2.0, 2.0, 0.0, -2.0, 0.0, -2.0],
            cols: 7,
            rows: 6,
        };
        for (wkt, expected) in [
            ("POINT (2.5 -2.5)", vec![(0, 0)]),
            (
                "LINESTRING (10 -2, 10 -9.9)",
                vec![(4, 0), (4, 1), (4, 2), (4, 3)],
            ),
            (
                "POLYGON ((4.1 -7.9, 7.9 -7.9, 7.9 -4.1, 4.1 -4.1, 4.1 -7.9))",
                vec![(1, 1), (1, 2), (2, 1), (2, 2)],
            ),
        ] {
            let geometry = Geometry::from_wkt(wkt).unwrap();
            let mut seeds = grid.seeds(&geometry, None).unwrap();
            seeds.sort();
            assert_eq!(seeds, expected, "{wkt}");
        }
    }
}
