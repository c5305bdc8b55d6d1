//! Inputs and reference computations shared by the window-function tests (`windows`,
//! `windows_processes`).

#![allow(dead_code)]

use std::path::Path;

use ndarray::{s, Array3, Axis};
use pgp_core::{DataType, GeoTransform, OutputRaster, Raster, RasterDriver, RasterSpec, Window};
use sha2::{Digest, Sha256};

/// A seeded `bands`-band Byte raster of `cols` x `rows`, pixel interleaved, LZW, 64 x 64 tiles,
/// nodata 0, projected: what rasterio's example reads, small.
pub fn rgb(path: &Path, cols: usize, rows: usize, bands: usize) -> Array3<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ (cols * 31 + rows) as u64;
    let pixels = Array3::from_shape_fn((bands, rows, cols), |_| {
        // xorshift64*: seeded, fast, every byte value.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
    });
    let spec = RasterSpec::new(
        cols,
        rows,
        DataType::U8,
        GeoTransform::north_up(400_000.0, 5_000_000.0, 30.0, -30.0),
    )
    .bands(bands)
    .nodata(Some(0.0))
    .projection(Some(pgp_core::sample::projection_wkt().unwrap()))
    .driver(RasterDriver::new(
        "GTiff",
        [
            "TILED=YES",
            "BLOCKXSIZE=64",
            "BLOCKYSIZE=64",
            "COMPRESS=LZW",
            "INTERLEAVE=PIXEL",
        ],
    ));
    let mut out = OutputRaster::create(path, &spec).unwrap();
    let all: Vec<usize> = (1..=bands).collect();
    out.raster().write_bands(&all, 0, 0, pixels.view()).unwrap();
    out.commit().unwrap();
    pixels
}

/// Every band of a raster, whole, as `T`.
pub fn read_all<T: pgp_core::Pixel>(path: &Path) -> Array3<T> {
    let r = Raster::open(path).unwrap();
    let (cols, rows) = r.size();
    r.read_bands_as::<T>(&r.all_bands(), Window::full(cols, rows))
        .unwrap()
}

/// rasterio's example on a whole array: each value plus 1.0 two thousand times, less 2000, cast
/// back, bands reversed.
pub fn burned(input: &Array3<u8>) -> Array3<u8> {
    let mut out = input.slice(s![..;-1, .., ..]).to_owned();
    out.mapv_inplace(|v| {
        let mut x = f64::from(v);
        for _ in 0..2000 {
            x += 1.0;
        }
        (x - 2000.0) as u8
    });
    out
}

/// The window function of the process tests, as a plain function: rasterio's compute, with a
/// panic on one window so failures can be provoked by the input's size.
pub fn burn(w: &pgp_ops::WindowData<'_, u8>) -> pgp_ops::Result<Array3<u8>> {
    if w.window.x_off == 64 && w.window.y_off == 64 && w.inputs[0].dim().0 == 2 {
        panic!("two bands at (64, 64)");
    }
    Ok(burned(&w.inputs[0]))
}

/// Per-band histograms of a window's first input.
pub fn histogram(w: &pgp_ops::WindowData<'_, u8>) -> pgp_ops::Result<Vec<Vec<u64>>> {
    Ok(w.inputs[0]
        .axis_iter(Axis(0))
        .map(|band| {
            let mut counts = vec![0u64; 256];
            band.iter().for_each(|&v| counts[usize::from(v)] += 1);
            counts
        })
        .collect())
}

/// `total` plus `counts`, band by band.
pub fn add_histograms(
    mut total: Vec<Vec<u64>>,
    counts: Vec<Vec<u64>>,
) -> pgp_ops::Result<Vec<Vec<u64>>> {
    if total.is_empty() {
        return Ok(counts);
    }
    for (t, c) in total.iter_mut().zip(counts) {
        t.iter_mut().zip(c).for_each(|(t, c)| *t += c);
    }
    Ok(total)
}

/// Histograms of a whole array, counted directly.
pub fn full_histograms(a: &Array3<u8>) -> Vec<Vec<u64>> {
    a.axis_iter(Axis(0))
        .map(|band| {
            let mut counts = vec![0u64; 256];
            for &v in band {
                counts[usize::from(v)] += 1;
            }
            counts
        })
        .collect()
}

/// sha256 of a file's bytes.
pub fn file_sha256(path: &Path) -> String {
    let digest = Sha256::digest(std::fs::read(path).unwrap());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Everything in `dir` but `keep`.
pub fn others(dir: &Path, keep: &[&str]) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !keep.contains(&n.as_str()))
        .collect()
}
