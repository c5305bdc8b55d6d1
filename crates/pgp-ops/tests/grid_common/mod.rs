//! Helpers shared by the warp and align tests.
#![allow(dead_code)]

use std::path::Path;

use ndarray::Array2;
use pgp_core::{raster_info, DataType, GeoTransform, OutputRaster, Raster, RasterSpec, Window};

/// Band `band` of a raster as f64, whatever its type.
pub fn read_f64(path: &Path, band: usize) -> Array2<f64> {
    let r = Raster::open(path).unwrap();
    let (c, rows) = r.size();
    r.read_as::<f64>(band, Window::full(c, rows)).unwrap()
}

/// Bitwise equality of two rasters' pixels (NaN equals NaN), with the first difference in the
/// message.
pub fn assert_same_pixels(a: &Path, b: &Path) {
    let ia = raster_info(a).unwrap();
    let ib = raster_info(b).unwrap();
    assert_eq!(
        ia.raster_size,
        ib.raster_size,
        "{} vs {}",
        a.display(),
        b.display()
    );
    assert_eq!(ia.geotransform, ib.geotransform);
    assert_eq!(ia.datatypes, ib.datatypes);
    let same = |x: &Option<f64>, y: &Option<f64>| match (x, y) {
        (Some(x), Some(y)) => x == y || (x.is_nan() && y.is_nan()),
        (None, None) => true,
        _ => false,
    };
    assert!(
        ia.nodata.iter().zip(&ib.nodata).all(|(x, y)| same(x, y)),
        "nodata {:?} vs {:?}",
        ia.nodata,
        ib.nodata
    );
    for band in 1..=ia.n_bands {
        let pa = read_f64(a, band);
        let pb = read_f64(b, band);
        for ((idx, x), y) in pa.indexed_iter().zip(pb.iter()) {
            let equal = x == y || (x.is_nan() && y.is_nan());
            assert!(equal, "band {band} pixel (row, col) {idx:?}: {x} vs {y}");
        }
    }
}

/// A raster of `datatype` on a 30 m grid at (x0, y0), pixels from `f(col, row)`.
pub fn raster_from_fn(
    path: &Path,
    size: (usize, usize),
    datatype: DataType,
    origin: (f64, f64),
    nodata: Option<f64>,
    f: impl Fn(usize, usize) -> f64,
) {
    let gt = GeoTransform::north_up(origin.0, origin.1, 30.0, -30.0);
    let mut spec = RasterSpec::new(size.0, size.1, datatype, gt)
        .projection(Some(pgp_core::sample::projection_wkt().unwrap()));
    spec.nodata = vec![nodata];
    let mut out = OutputRaster::create(path, &spec).unwrap();
    let values = Array2::from_shape_fn((size.1, size.0), |(r, c)| f(c, r));
    pgp_core::with_pixel_type!(datatype, T => {
        let typed = values.mapv(<T as pgp_core::Pixel>::from_f64);
        out.raster().write(1, 0, 0, typed.view()).unwrap();
    });
    out.commit().unwrap();
}

/// A cheap deterministic pseudo-random value in [0, 1) for pixel (c, r).
pub fn noise(c: usize, r: usize, seed: u64) -> f64 {
    let mut x = (c as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (r as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ seed.wrapping_mul(0x1656_67B1_9E37_79F9);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}
