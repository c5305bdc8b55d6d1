//! Shared helpers of pgp-ops' calculator tests: the formula inputs that tests/peer/make_refs.py
//! also builds, and pixel hashing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::{DataType, DynArray, GeoTransform, OutputRaster, Pixel, Raster, RasterSpec, Window};
use sha2::{Digest, Sha256};

pub const A_NODATA: f64 = -9999.0;
pub const LC_NODATA: f64 = 255.0;

/// Input rasters of one size, built from the formulas of make_refs.py.
pub struct Inputs {
    /// float32, nodata -9999.
    pub a: PathBuf,
    /// float32, NaN nodata.
    pub b: PathBuf,
    /// float32, no nodata.
    pub c: PathBuf,
    /// byte classes 1..=13, nodata 255.
    pub lc: PathBuf,
}

fn pixel_a(r: i64, c: i64) -> f64 {
    if (r * 13 + c * 7) % 29 == 0 {
        A_NODATA
    } else {
        ((r * 37 + c * 91) % 2003) as f64 * 0.25 - 100.0
    }
}

fn pixel_b(r: i64, c: i64) -> f64 {
    if (r + 2 * c) % 31 == 0 {
        f64::NAN
    } else {
        ((r * 53 + c * 17) % 977) as f64 * 0.125
    }
}

fn pixel_c(r: i64, c: i64) -> f64 {
    ((r * 3 + c * 5) % 101) as f64 - 50.0
}

fn pixel_lc(r: i64, c: i64) -> f64 {
    if (r * c) % 23 == 5 {
        LC_NODATA
    } else {
        ((r * 7 + c * 3) % 13 + 1) as f64
    }
}

fn write<T: Pixel>(path: &Path, size: (usize, usize), nodata: Option<f64>, f: fn(i64, i64) -> f64)
where
    Array2<T>: Into<DynArray>,
{
    let (cols, rows) = size;
    let spec = RasterSpec::new(
        cols,
        rows,
        T::DATA_TYPE,
        GeoTransform::north_up(400_000.0, 5_000_000.0, 30.0, -30.0),
    )
    .projection(Some(pgp_core::sample::projection_wkt().unwrap()))
    .nodata(nodata);
    let data: Array2<T> =
        Array2::from_shape_fn((rows, cols), |(r, c)| T::from_f64(f(r as i64, c as i64)));
    let mut out = OutputRaster::create(path, &spec).unwrap();
    out.raster().write(1, 0, 0, data.view()).unwrap();
    out.commit().unwrap();
}

/// Write the four formula inputs of `size` = (cols, rows) into `dir`.
pub fn inputs(dir: &Path, size: (usize, usize)) -> Inputs {
    let tag = format!("{}x{}", size.0, size.1);
    let p = |k: &str| dir.join(format!("{k}_{tag}.tif"));
    let i = Inputs {
        a: p("a"),
        b: p("b"),
        c: p("c"),
        lc: p("lc"),
    };
    write::<f32>(&i.a, size, Some(A_NODATA), pixel_a);
    write::<f32>(&i.b, size, Some(f64::NAN), pixel_b);
    write::<f32>(&i.c, size, None, pixel_c);
    write::<u8>(&i.lc, size, Some(LC_NODATA), pixel_lc);
    i
}

/// The whole band 1 in its own type.
pub fn read_all(path: &Path) -> DynArray {
    let r = Raster::open(path).unwrap();
    let (cols, rows) = r.size();
    r.read_dyn(1, Window::new(0, 0, cols, rows)).unwrap()
}

/// Little-endian bytes of a pixel array, row-major.
pub fn le_bytes(d: &DynArray) -> Vec<u8> {
    fn go<T: Copy, const N: usize>(a: &Array2<T>, f: fn(T) -> [u8; N]) -> Vec<u8> {
        a.iter().flat_map(|v| f(*v)).collect()
    }
    match d {
        DynArray::U8(a) => go(a, u8::to_le_bytes),
        DynArray::I8(a) => go(a, i8::to_le_bytes),
        DynArray::U16(a) => go(a, u16::to_le_bytes),
        DynArray::I16(a) => go(a, i16::to_le_bytes),
        DynArray::U32(a) => go(a, u32::to_le_bytes),
        DynArray::I32(a) => go(a, i32::to_le_bytes),
        DynArray::F32(a) => go(a, f32::to_le_bytes),
        DynArray::F64(a) => go(a, f64::to_le_bytes),
    }
}

/// sha256 of band 1's pixels, as the peer scripts compute it.
pub fn pixel_sha256(path: &Path) -> String {
    let digest = Sha256::digest(le_bytes(&read_all(path)));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The output's type name as GDAL spells it.
pub fn datatype_name(path: &Path) -> String {
    let r = Raster::open(path).unwrap();
    r.data_type(1).unwrap().gdal_name().to_string()
}

/// Directory entries whose name contains `pgp-tmp` (leftover temporary outputs).
pub fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("pgp-tmp"))
        .collect()
}

/// Relative closeness for statistics that went through GDAL's text metadata.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

pub fn f32_type() -> DataType {
    DataType::F32
}

/// A one-band raster holding `data`, on a 10 m grid at the origin.
pub fn raster<T: pgp_core::Pixel>(path: &Path, data: Array2<T>, nodata: Option<f64>)
where
    Array2<T>: Into<DynArray>,
{
    let spec = RasterSpec::new(
        data.ncols(),
        data.nrows(),
        T::DATA_TYPE,
        GeoTransform::north_up(0.0, 0.0, 10.0, -10.0),
    )
    .nodata(nodata);
    let mut out = OutputRaster::create(path, &spec).unwrap();
    out.raster().write(1, 0, 0, data.view()).unwrap();
    out.commit().unwrap();
}
