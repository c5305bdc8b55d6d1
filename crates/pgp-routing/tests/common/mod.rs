//! Helpers shared by the routing tests: rasters from arrays, arrays from rasters, the seeded
//! parity DEMs, and pixel digests in the format of the peer benchmark.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::{
    DataType, GeoTransform, OutputRaster, Pixel, Raster, RasterDriver, RasterSpec, Window,
};
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};

/// Writes `a` as a one-band raster (tiled 256, LZW unless `driver` says otherwise).
pub fn write<T: Pixel + Copy>(
    path: &Path,
    a: &Array2<T>,
    nodata: Option<f64>,
    driver: Option<RasterDriver>,
) {
    let (rows, cols) = a.dim();
    let mut spec = RasterSpec::new(
        cols,
        rows,
        T::DATA_TYPE,
        GeoTransform::north_up(400000.0, 5000000.0, 30.0, -30.0),
    )
    .nodata(nodata);
    if let Some(d) = driver {
        spec = spec.driver(d);
    }
    let mut out = OutputRaster::create(path, &spec).unwrap();
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
}

/// Band 1 of `path` as `f64`.
pub fn read(path: &Path) -> Array2<f64> {
    let r = Raster::open(path).unwrap();
    let (c, rows) = r.size();
    r.read_as::<f64>(1, Window::full(c, rows)).unwrap()
}

/// sha256 of band 1's pixels, row-major little-endian (the peer benchmark's `sha256`).
pub fn digest(path: &Path) -> String {
    let r = Raster::open(path).unwrap();
    let (c, rows) = r.size();
    let w = Window::full(c, rows);
    let mut h = Sha256::new();
    match r.data_type(1).unwrap() {
        DataType::U8 => h.update(
            r.read::<u8>(1, w)
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<u8>>(),
        ),
        DataType::I16 => r
            .read::<i16>(1, w)
            .unwrap()
            .iter()
            .for_each(|v| h.update(v.to_le_bytes())),
        DataType::I32 => r
            .read::<i32>(1, w)
            .unwrap()
            .iter()
            .for_each(|v| h.update(v.to_le_bytes())),
        DataType::F32 => r
            .read::<f32>(1, w)
            .unwrap()
            .iter()
            .for_each(|v| h.update(v.to_le_bytes())),
        DataType::F64 => r
            .read::<f64>(1, w)
            .unwrap()
            .iter()
            .for_each(|v| h.update(v.to_le_bytes())),
        other => panic!("unexpected type {other:?}"),
    }
    format!("{:x}", h.finalize())
}

/// Seeded terrain: a tilted surface with ridges and valleys in half-metre steps (exact ties and
/// flats), scattered pits, a flat plateau, a nodata lake and a nodata strip on the west edge.
pub fn terrain(cols: usize, rows: usize, seed: u64, nodata: f32) -> Array2<f32> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let mut z = Array2::from_shape_fn((rows, cols), |(y, x)| {
        let (xf, yf) = (x as f64, y as f64);
        1000.0 - 0.05 * yf
            + 40.0 * (xf / 15.0).sin() * (yf / 21.0).cos()
            + 15.0 * (xf / 6.3 + yf / 9.7).sin().abs()
    });
    z.mapv_inplace(|v| v + rng.gen_range(-1.0..1.0));
    let mut z = z.mapv(|v| ((v * 2.0).round() / 2.0) as f32);
    for v in z.iter_mut() {
        if rng.gen_bool(0.01) {
            *v -= 15.0;
        }
    }
    let p = rows.min(cols) / 5;
    let plateau = z[[p, p]];
    for y in p..(p + rows / 12).min(rows) {
        for x in p..(p + cols / 10).min(cols) {
            z[[y, x]] = plateau;
        }
    }
    for y in 2 * p..(2 * p + rows / 10).min(rows) {
        for x in 3 * p..(3 * p + cols / 8).min(cols) {
            z[[y, x]] = nodata;
        }
    }
    for y in 0..rows {
        for x in 0..2.min(cols) {
            z[[y, x]] = nodata;
        }
    }
    z
}

/// The parity cases: name, DEM, nodata, driver override.
pub struct Case {
    pub name: &'static str,
    pub dem: Array2<f32>,
    pub nodata: Option<f64>,
    pub striped: bool,
}

pub fn cases() -> Vec<Case> {
    let base = terrain(300, 270, 7, -9999.0);
    let nan = base.mapv(|v| if v == -9999.0 { f32::NAN } else { v });
    let filled_in = terrain(300, 270, 7, 1234.5);
    let column = terrain(1, 200, 11, -9999.0);
    let column = Array2::from_shape_fn((200, 1), |(y, _)| {
        if y % 37 == 5 {
            -9999.0
        } else {
            column[[y, 0]].max(0.0) + (y % 7) as f32
        }
    });
    let row = Array2::from_shape_fn((1, 300), |(_, x)| ((x * 7919) % 23) as f32);
    vec![
        Case {
            name: "terrain",
            dem: base.clone(),
            nodata: Some(-9999.0),
            striped: false,
        },
        Case {
            name: "nan_nodata",
            dem: nan,
            nodata: Some(f64::NAN),
            striped: false,
        },
        Case {
            name: "no_nodata",
            dem: filled_in,
            nodata: None,
            striped: false,
        },
        Case {
            name: "striped",
            dem: base,
            nodata: Some(-9999.0),
            striped: true,
        },
        Case {
            name: "one_column",
            dem: column,
            nodata: Some(-9999.0),
            striped: false,
        },
        Case {
            name: "one_row",
            dem: row,
            nodata: None,
            striped: false,
        },
        // One column past a block: pygeoprocessing's outlet scan treats that column as nodata
        // for the block before it (see outlets.rs), which pgp keeps.
        Case {
            name: "ragged",
            dem: terrain(257, 40, 5, -9999.0),
            nodata: Some(-9999.0),
            striped: false,
        },
        Case {
            name: "flat",
            dem: Array2::from_elem((90, 70), 10.0),
            nodata: Some(-1.0),
            striped: false,
        },
    ]
}

/// Writes the case's DEM and a seeded weight raster (nodata -1, some nodata) into `dir`.
pub fn write_case(case: &Case, dir: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let dem = dir.join("dem.tif");
    let driver = case
        .striped
        .then(|| RasterDriver::new("GTiff", ["COMPRESS=LZW"]));
    write(&dem, &case.dem, case.nodata, driver);
    let mut rng = rand_pcg::Pcg64::seed_from_u64(99);
    let weight = case.dem.mapv(|_| {
        if rng.gen_bool(0.02) {
            -1.0f32
        } else {
            1.0 + rng.gen_range(0.0f32..1.0)
        }
    });
    let weight_path = dir.join("weight.tif");
    write(&weight_path, &weight, Some(-1.0), None);
    let (rows, cols) = case.dem.dim();
    let outlets = dir.join("outlets.gpkg");
    if !outlets.exists() {
        write_outlet_features(&outlets, cols, rows);
    }
    (dem, weight_path)
}

/// sha256 of a vector layer as `make_peer_reference.py` computes it: the layer's name and
/// geometry type, its fields' names and types, then per feature in reading order its FID, its
/// field values (integers in decimal, reals as the hex of their bits, strings as they are,
/// `null` when unset) and its geometry as little-endian ISO WKB in hex.
pub fn vector_digest(path: &Path, layer_name: &str) -> String {
    use pgp_core::gdal::vector::LayerAccess;
    use pgp_core::gdal::vector::{field_type_to_name, geometry_type_to_name, FieldValue};
    let ds = pgp_core::open_vector(path).unwrap();
    let mut layer = ds.layer_by_name(layer_name).unwrap();
    let mut h = Sha256::new();
    h.update(format!(
        "{}|{}\n",
        layer.name(),
        geometry_type_to_name(layer.defn().geometry_type())
    ));
    let fields: Vec<String> = layer.defn().fields().map(|f| f.name()).collect();
    for f in layer.defn().fields() {
        h.update(format!(
            "{}:{}\n",
            f.name(),
            field_type_to_name(f.field_type())
        ));
    }
    for feature in layer.features() {
        let mut parts = vec![feature.fid().unwrap().to_string()];
        for (i, name) in fields.iter().enumerate() {
            let v = match feature.field(i).unwrap() {
                None => "null".to_string(),
                Some(FieldValue::IntegerValue(v)) => v.to_string(),
                Some(FieldValue::Integer64Value(v)) => v.to_string(),
                Some(FieldValue::RealValue(v)) => format!("{:016x}", v.to_bits()),
                Some(FieldValue::StringValue(v)) => v,
                Some(other) => panic!("unexpected field value {other:?}"),
            };
            parts.push(format!("{name}={v}"));
        }
        parts.push(match feature.geometry() {
            Some(g) => g
                .iso_wkb()
                .unwrap()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
            None => "none".to_string(),
        });
        h.update(parts.join("|") + "\n");
    }
    format!("{:x}", h.finalize())
}

/// Writes `outlets.gpkg` for a `cols` x `rows` case on [`write`]'s grid: polygons, a line, points
/// inside, on nodata and outside the raster, and an empty geometry, with string, integer and
/// real attributes (watersheds copy them).
pub fn write_outlet_features(path: &Path, cols: usize, rows: usize) {
    use pgp_core::gdal::vector::OGRFieldType;
    use pgp_core::gdal::vector::{FieldDefn, Geometry, LayerAccess, LayerOptions};
    let (x0, y0, px) = (400000.0f64, 5000000.0f64, 30.0f64);
    let at = |c: f64, r: f64| (x0 + c * px, y0 - r * px);
    let (cf, rf) = (cols as f64, rows as f64);
    let wkts = [
        // A polygon over a fifth of the raster, off pixel edges.
        {
            let (a, b) = at(cf * 0.3 + 0.25, rf * 0.4 + 0.5);
            let (c, d) = at(cf * 0.5 + 0.75, rf * 0.6 + 0.25);
            format!("POLYGON (({a} {b}, {c} {b}, {c} {d}, {a} {d}, {a} {b}))")
        },
        // A diagonal line.
        {
            let (a, b) = at(cf * 0.6, rf * 0.1);
            let (c, d) = at(cf * 0.9, rf * 0.3);
            format!("LINESTRING ({a} {b}, {c} {d})")
        },
        // A point at a pixel centre and one on a pixel corner.
        {
            let (a, b) = at((cf * 0.7).floor() + 0.5, (rf * 0.8).floor() + 0.5);
            format!("POINT ({a} {b})")
        },
        {
            let (a, b) = at((cf * 0.2).floor(), (rf * 0.5).floor());
            format!("POINT ({a} {b})")
        },
        // Outside the raster.
        {
            let (a, b) = at(cf + 10.5, rf + 3.5);
            format!("POINT ({a} {b})")
        },
        // A triangle overlapping the raster's west edge (nodata there).
        {
            let (a, b) = at(-3.2, rf * 0.7);
            let (c, d) = at(4.6, rf * 0.75);
            let (e, f) = at(1.3, rf * 0.95);
            format!("POLYGON (({a} {b}, {c} {d}, {e} {f}, {a} {b}))")
        },
        "POINT EMPTY".to_string(),
    ];
    let ds = pgp_core::gdal::DriverManager::get_driver_by_name("GPKG")
        .unwrap()
        .create_vector_only(path)
        .unwrap();
    let mut ds = ds;
    let layer = ds
        .create_layer(LayerOptions {
            name: "outlets",
            ty: pgp_core::gdal::vector::OGRwkbGeometryType::wkbUnknown,
            ..Default::default()
        })
        .unwrap();
    for (name, ty) in [
        ("name", OGRFieldType::OFTString),
        ("rank", OGRFieldType::OFTInteger),
        ("share", OGRFieldType::OFTReal),
    ] {
        FieldDefn::new(name, ty)
            .unwrap()
            .add_to_layer(&layer)
            .unwrap();
    }
    for (i, wkt) in wkts.iter().enumerate() {
        let mut f = pgp_core::gdal::vector::Feature::new(layer.defn()).unwrap();
        f.set_geometry(Geometry::from_wkt(wkt).unwrap()).unwrap();
        f.set_field_string(0, &format!("outlet {i}")).unwrap();
        f.set_field_integer(1, 10 - i as i32).unwrap();
        f.set_field_double(2, 0.1 * i as f64).unwrap();
        f.create(&layer).unwrap();
    }
}

/// `(drain, sink)` of [`pgp_routing::detect_lowest_drain_and_sink`] in the reference's format.
pub fn drain_sink_text(r: &pgp_routing::DrainAndSink) -> String {
    let one = |p: Option<(usize, usize)>, h: f64| match p {
        Some((x, y)) => format!("{x},{y}@{:016x}", h.to_bits()),
        None => format!("none@{:016x}", h.to_bits()),
    };
    format!(
        "drain={};sink={}",
        one(r.drain, r.drain_height),
        one(r.sink, r.sink_height)
    )
}
