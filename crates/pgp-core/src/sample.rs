//! Seeded sample data, shared by tests, examples and benchmarks.
//!
//! The same design as the Python peers' benchmark data: a DEM-like float32 raster with nodata
//! holes, a float32 weight raster with NaN nodata on the same grid, a categorical byte raster on a
//! shifted 40 m grid, an int16 precipitation raster on a shifted 90 m grid, and polygons in a
//! GeoPackage (overlapping stars, some crossing the edge, sub-pixel squares, two wholly outside,
//! one with a hole, one multipolygon). All in UTM zone 31N (EPSG:32631), written tiled 256 x 256
//! with LZW like pygeoprocessing's defaults. The same `(size, seed)` always gives the same bytes.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use gdal::spatial_ref::SpatialRef;
use gdal::vector::{
    Feature, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use gdal::DriverManager;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

use crate::{Error, GeoTransform, OutputRaster, Pixel, RasterSpec, Result};

/// EPSG code of every sample dataset (WGS 84 / UTM zone 31N).
pub const EPSG: u32 = 32631;
/// West edge of the DEM.
pub const X0: f64 = 400_000.0;
/// North edge of the DEM.
pub const Y0: f64 = 5_000_000.0;
/// DEM (and weight) pixel size in metres.
pub const DEM_PIXEL: f64 = 30.0;
/// Land-cover pixel size in metres.
pub const LULC_PIXEL: f64 = 40.0;
/// Precipitation pixel size in metres.
pub const PRECIP_PIXEL: f64 = 90.0;
/// DEM nodata.
pub const DEM_NODATA: f64 = -9999.0;
/// Land-cover nodata.
pub const LULC_NODATA: f64 = 255.0;
/// Precipitation nodata.
pub const PRECIP_NODATA: f64 = -32768.0;

const STRIP: usize = 256;

/// WKT of [`EPSG`].
pub fn projection_wkt() -> Result<String> {
    crate::init();
    SpatialRef::from_epsg(EPSG)
        .and_then(|s| s.to_wkt())
        .map_err(|e| Error::gdal(Path::new("EPSG:32631"), "building the sample projection", e))
}

/// Paths of a generated sample set.
#[derive(Debug, Clone)]
pub struct SampleData {
    /// float32 DEM, `size` x `size`, 30 m, nodata -9999.
    pub dem: PathBuf,
    /// float32 weights on the DEM grid, nodata NaN.
    pub weight: PathBuf,
    /// byte land cover, classes 1..=12, 40 m, shifted origin, nodata 255.
    pub landcover: PathBuf,
    /// int16 precipitation, 90 m, shifted origin, nodata -32768.
    pub precip: PathBuf,
    /// polygons, layer `zones`, field `zone_id`.
    pub zones: PathBuf,
}

/// Write the whole sample set into `dir` (created if missing).
pub fn generate(dir: impl AsRef<Path>, size: usize, seed: u64) -> Result<SampleData> {
    let dir = dir.as_ref();
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let data = SampleData {
        dem: dir.join("dem.tif"),
        weight: dir.join("weight.tif"),
        landcover: dir.join("landcover.tif"),
        precip: dir.join("precip.tif"),
        zones: dir.join("zones.gpkg"),
    };
    dem(&data.dem, size, seed)?;
    weight(&data.weight, size, seed)?;
    landcover(&data.landcover, size, seed)?;
    precip(&data.precip, size, seed)?;
    zones(&data.zones, size, seed)?;
    Ok(data)
}

fn rng(seed: u64, stream: u64) -> Pcg64 {
    Pcg64::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ stream)
}

fn normal(rng: &mut Pcg64, sd: f64) -> f64 {
    // Box-Muller; u1 in (0, 1] so ln is finite.
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    sd * (-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos()
}

fn write_strips<T: Pixel>(
    path: &Path,
    cols: usize,
    rows: usize,
    gt: GeoTransform,
    nodata: f64,
    mut strip: impl FnMut(usize, usize) -> Array2<T>,
) -> Result<()> {
    let spec = RasterSpec::new(cols, rows, T::DATA_TYPE, gt)
        .nodata(Some(nodata))
        .projection(Some(projection_wkt()?));
    let mut out = OutputRaster::create(path, &spec)?;
    let mut r0 = 0;
    while r0 < rows {
        let r1 = (r0 + STRIP).min(rows);
        let a = strip(r0, r1);
        out.raster().write(1, 0, r0, a.view())?;
        r0 = r1;
    }
    out.commit()?;
    Ok(())
}

/// A DEM-like float32 raster: smooth waves plus noise, with nodata in a "lake" disk, the bottom
/// five rows and about 0.2 % scattered pixels.
pub fn dem(path: impl AsRef<Path>, size: usize, seed: u64) -> Result<()> {
    let n = size;
    let mut terrain = rng(seed, 1);
    let waves: Vec<(f64, f64, f64, f64)> = (0..6)
        .map(|_| {
            (
                terrain.gen_range(20.0..200.0),
                terrain.gen_range(-6..7) as f64,
                terrain.gen_range(1..7) as f64,
                terrain.gen_range(0.0..2.0 * PI),
            )
        })
        .collect();
    let mut noise = rng(seed, 2);
    let nf = n as f64;
    write_strips::<f32>(
        path.as_ref(),
        n,
        n,
        GeoTransform::north_up(X0, Y0, DEM_PIXEL, -DEM_PIXEL),
        DEM_NODATA,
        |r0, r1| {
            Array2::from_shape_fn((r1 - r0, n), |(dr, c)| {
                let r = r0 + dr;
                let u = (c as f64 + 0.5) / nf;
                let v = (r as f64 + 0.5) / nf;
                let mut z = 500.0;
                for &(amp, fx, fy, phase) in &waves {
                    z += amp * (2.0 * PI * (fx * u + fy * v) + phase).sin();
                }
                z += normal(&mut noise, 2.0);
                let lake = (c as f64 - 0.3 * nf).powi(2) + (r as f64 - 0.6 * nf).powi(2)
                    < (0.05 * nf).powi(2);
                let scattered = noise.gen::<f64>() < 0.002;
                if lake || scattered || r + 5 >= n {
                    DEM_NODATA as f32
                } else {
                    z as f32
                }
            })
        },
    )
}

/// float32 weights in `[0, 1.1)` on the DEM grid, with NaN nodata in a rectangle and ~0.1 % of pixels.
pub fn weight(path: impl AsRef<Path>, size: usize, seed: u64) -> Result<()> {
    let n = size;
    let nf = n as f64;
    let mut g = rng(seed, 3);
    write_strips::<f32>(
        path.as_ref(),
        n,
        n,
        GeoTransform::north_up(X0, Y0, DEM_PIXEL, -DEM_PIXEL),
        f64::NAN,
        |r0, r1| {
            Array2::from_shape_fn((r1 - r0, n), |(dr, c)| {
                let r = r0 + dr;
                let u = (c as f64 + 0.5) / nf;
                let v = (r as f64 + 0.5) / nf;
                let w = 0.5 + 0.5 * (2.0 * PI * (3.0 * u - 2.0 * v)).cos() + g.gen_range(0.0..0.1);
                let rect = (c as f64) >= 0.7 * nf
                    && (c as f64) < 0.8 * nf
                    && (r as f64) >= 0.1 * nf
                    && (r as f64) < 0.15 * nf;
                if rect || g.gen::<f64>() < 0.001 {
                    f32::NAN
                } else {
                    w as f32
                }
            })
        },
    )
}

/// Byte land cover: classes 1..=12 in 32-pixel cells with 1 % speckle and 3 % nodata cells, on a
/// 40 m grid whose origin is shifted by (+17 m, -23 m) from the DEM's.
pub fn landcover(path: impl AsRef<Path>, size: usize, seed: u64) -> Result<()> {
    let extent = size as f64 * DEM_PIXEL;
    let m = (extent / LULC_PIXEL).ceil() as usize;
    let cell = 32;
    let n_cells = m.div_ceil(cell);
    let mut g = rng(seed, 4);
    let classes: Vec<u8> = (0..n_cells * n_cells)
        .map(|_| {
            if g.gen::<f64>() < 0.03 {
                LULC_NODATA as u8
            } else {
                g.gen_range(1..=12)
            }
        })
        .collect();
    write_strips::<u8>(
        path.as_ref(),
        m,
        m,
        GeoTransform::north_up(X0 + 17.0, Y0 - 23.0, LULC_PIXEL, -LULC_PIXEL),
        LULC_NODATA,
        |r0, r1| {
            Array2::from_shape_fn((r1 - r0, m), |(dr, c)| {
                let r = r0 + dr;
                if g.gen::<f64>() < 0.01 {
                    g.gen_range(1..=12)
                } else {
                    classes[(r / cell) * n_cells + c / cell]
                }
            })
        },
    )
}

/// int16 precipitation around 1000 with a north-south gradient, on a 90 m grid shifted by
/// (-45 m, +45 m) that covers the DEM; ~0.5 % nodata.
pub fn precip(path: impl AsRef<Path>, size: usize, seed: u64) -> Result<()> {
    let extent = size as f64 * DEM_PIXEL;
    let q = (extent / PRECIP_PIXEL).ceil() as usize + 1;
    let qf = q as f64;
    let mut g = rng(seed, 5);
    write_strips::<i16>(
        path.as_ref(),
        q,
        q,
        GeoTransform::north_up(X0 - 45.0, Y0 + 45.0, PRECIP_PIXEL, -PRECIP_PIXEL),
        PRECIP_NODATA,
        |r0, r1| {
            Array2::from_shape_fn((r1 - r0, q), |(dr, c)| {
                let v = ((r0 + dr) as f64 + 0.5) / qf;
                let u = (c as f64 + 0.5) / qf;
                let a = 800.0 + 400.0 * v + 100.0 * (4.0 * PI * u).sin() + normal(&mut g, 15.0);
                if g.gen::<f64>() < 0.005 {
                    PRECIP_NODATA as i16
                } else {
                    a.round() as i16
                }
            })
        },
    )
}

fn ring_wkt(points: &[(f64, f64)]) -> String {
    let mut s = String::from("(");
    for (i, (x, y)) in points.iter().chain(points.first()).enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("{x} {y}"));
    }
    s.push(')');
    s
}

/// The sample polygons as WKT, in order of their `zone_id` (from 1).
pub fn zone_wkts(size: usize, seed: u64) -> Vec<String> {
    let extent = size as f64 * DEM_PIXEL;
    let mut g = rng(seed, 6);
    let mut out = Vec::new();
    for _ in 0..190 {
        let cx = X0 + g.gen_range(-0.02..1.02) * extent;
        let cy = Y0 - g.gen_range(-0.02..1.02) * extent;
        let r = g.gen_range(0.01..0.08) * extent;
        let nv = g.gen_range(6..17);
        let mut angles: Vec<f64> = (0..nv).map(|_| g.gen_range(0.0..2.0 * PI)).collect();
        angles.sort_by(f64::total_cmp);
        let pts: Vec<(f64, f64)> = angles
            .iter()
            .map(|&t| {
                let rr = r * g.gen_range(0.6..1.0);
                (cx + rr * t.cos(), cy + rr * t.sin())
            })
            .collect();
        out.push(format!("POLYGON({})", ring_wkt(&pts)));
    }
    let n = size.max(24);
    for _ in 0..8 {
        // Squares around a pixel corner: no pixel centre falls inside.
        let i = g.gen_range(10..n - 10) as f64;
        let j = g.gen_range(10..n - 10) as f64;
        let (cx, cy, h) = (X0 + i * DEM_PIXEL, Y0 - j * DEM_PIXEL, 0.15 * DEM_PIXEL);
        out.push(format!(
            "POLYGON({})",
            ring_wkt(&[
                (cx - h, cy - h),
                (cx + h, cy - h),
                (cx + h, cy + h),
                (cx - h, cy + h)
            ])
        ));
    }
    for (cx, cy) in [
        (X0 - 0.3 * extent, Y0 + 0.3 * extent),
        (X0 + 1.3 * extent, Y0 - 0.5 * extent),
    ] {
        let r = 0.05 * extent;
        let pts: Vec<(f64, f64)> = (0..8)
            .map(|k| {
                let t = k as f64 * PI / 4.0;
                (cx + r * t.cos(), cy + r * t.sin())
            })
            .collect();
        out.push(format!("POLYGON({})", ring_wkt(&pts)));
    }
    // A square with a square hole, and a two-part multipolygon, both inside the raster.
    let sq = |cx: f64, cy: f64, h: f64| {
        [
            (cx - h, cy - h),
            (cx + h, cy - h),
            (cx + h, cy + h),
            (cx - h, cy + h),
        ]
    };
    let (cx, cy) = (X0 + 0.5 * extent, Y0 - 0.5 * extent);
    out.push(format!(
        "POLYGON({},{})",
        ring_wkt(&sq(cx, cy, 0.1 * extent)),
        ring_wkt(&sq(cx, cy, 0.05 * extent))
    ));
    out.push(format!(
        "MULTIPOLYGON(({}),({}))",
        ring_wkt(&sq(X0 + 0.2 * extent, Y0 - 0.2 * extent, 0.03 * extent)),
        ring_wkt(&sq(X0 + 0.8 * extent, Y0 - 0.8 * extent, 0.03 * extent))
    ));
    out
}

/// Write [`zone_wkts`] to a GeoPackage: layer `zones`, integer field `zone_id` (from 1).
pub fn zones(path: impl AsRef<Path>, size: usize, seed: u64) -> Result<()> {
    write_polygons(path.as_ref(), &zone_wkts(size, seed))
}

/// Write polygons (WKT) into a new GeoPackage with layer `zones` and field `zone_id` = 1, 2, ...
/// in the sample projection. Replaces an existing file.
pub fn write_polygons(path: &Path, wkts: &[String]) -> Result<()> {
    crate::init();
    let gerr = |what: &str| {
        let what = what.to_string();
        move |e| Error::gdal(path, what, e)
    };
    if path.exists() {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
    }
    let driver =
        DriverManager::get_driver_by_name("GPKG").map_err(gerr("finding the GPKG driver"))?;
    let mut ds = driver
        .create_vector_only(path)
        .map_err(gerr("creating the GeoPackage"))?;
    let srs = SpatialRef::from_epsg(EPSG).map_err(gerr("building the projection"))?;
    let mut txn = ds
        .start_transaction()
        .map_err(gerr("starting a transaction"))?;
    {
        let layer = txn
            .create_layer(LayerOptions {
                name: "zones",
                srs: Some(&srs),
                ty: OGRwkbGeometryType::wkbUnknown,
                options: None,
            })
            .map_err(gerr("creating layer zones"))?;
        layer
            .create_defn_fields(&[("zone_id", OGRFieldType::OFTInteger)])
            .map_err(gerr("creating field zone_id"))?;
        for (i, wkt) in wkts.iter().enumerate() {
            let geom = Geometry::from_wkt(wkt).map_err(gerr("parsing a sample polygon"))?;
            let mut f = Feature::new(layer.defn()).map_err(gerr("creating a feature"))?;
            f.set_geometry(geom).map_err(gerr("setting a geometry"))?;
            f.set_field_integer(0, i as i32 + 1)
                .map_err(gerr("setting zone_id"))?;
            f.create(&layer).map_err(gerr("writing a feature"))?;
        }
    }
    txn.commit().map_err(gerr("committing"))?;
    Ok(())
}
