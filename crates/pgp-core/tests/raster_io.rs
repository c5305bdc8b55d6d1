//! Real GeoTIFFs through real GDAL: typed round-trips, windows, creation, atomic outputs.

use std::path::Path;

use ndarray::{s, Array2};
use pgp_core::{
    block_windows, new_raster_from_base, BandStatistics, DataType, GeoTransform, OutputRaster,
    Pixel, Raster, RasterDriver, RasterPool, RasterSpec, Window, LARGEST_BLOCK,
};
use rand::{Rng, SeedableRng};

const COLS: usize = 300;
const ROWS: usize = 270;

fn grid() -> GeoTransform {
    GeoTransform::north_up(500_000.0, 4_000_000.0, 10.0, -10.0)
}

/// Random values covering the whole range of `T`, including its extremes.
fn random_array<T: Pixel>(seed: u64) -> Array2<T> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let (lo, hi) = T::DATA_TYPE.range();
    let mut a = Array2::from_shape_fn((ROWS, COLS), |_| {
        if T::DATA_TYPE.is_float() {
            T::from_f64(rng.gen_range(-1e6..1e6))
        } else {
            T::from_f64(rng.gen_range(lo..=hi).round())
        }
    });
    a[[0, 0]] = T::from_f64(lo);
    a[[ROWS - 1, COLS - 1]] = T::from_f64(hi);
    a
}

fn roundtrip<T: Pixel>(dir: &Path) {
    let path = dir.join(format!("rt_{}.tif", T::DATA_TYPE));
    let data = random_array::<T>(T::DATA_TYPE as u64 + 7);
    let spec = RasterSpec::new(COLS, ROWS, T::DATA_TYPE, grid()).nodata(Some(3.0));
    let mut out = OutputRaster::create(&path, &spec).unwrap();
    // Write in pygeoprocessing-style blocks, read back whole and by odd windows.
    for w in block_windows((COLS, ROWS), (256, 256), LARGEST_BLOCK) {
        let block = data.slice(s![w.y_off..w.y_off + w.height, w.x_off..w.x_off + w.width]);
        out.raster().write(1, w.x_off, w.y_off, block).unwrap();
    }
    out.commit().unwrap();

    let r = Raster::open(&path).unwrap();
    assert_eq!(r.data_type(1).unwrap(), T::DATA_TYPE);
    let back = r.read::<T>(1, Window::full(COLS, ROWS)).unwrap();
    assert!(
        back.iter().zip(data.iter()).all(|(a, b)| a == b),
        "{} round trip differs",
        T::DATA_TYPE
    );
    let w = Window::new(17, 250, 283, 20);
    let part = r.read::<T>(1, w).unwrap();
    assert_eq!(part, data.slice(s![250..270, 17..300]));
    let dynamic = r.read_dyn(1, w).unwrap();
    assert_eq!(dynamic.data_type(), T::DATA_TYPE);
    assert_eq!(dynamic.to_f64(), part.mapv(|v| v.to_f64()));
    // Converting reads agree with converting in Rust.
    let as_f64 = r.read_as::<f64>(1, w).unwrap();
    assert_eq!(as_f64, part.mapv(|v| v.to_f64()));
    assert_eq!(r.nodata(1).unwrap(), Some(3.0));
}

#[test]
fn every_type_round_trips_exactly() {
    let dir = tempfile::tempdir().unwrap();
    roundtrip::<u8>(dir.path());
    roundtrip::<i8>(dir.path());
    roundtrip::<u16>(dir.path());
    roundtrip::<i16>(dir.path());
    roundtrip::<u32>(dir.path());
    roundtrip::<i32>(dir.path());
    roundtrip::<f32>(dir.path());
    roundtrip::<f64>(dir.path());
}

#[test]
fn nan_and_infinities_survive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.tif");
    let spec = RasterSpec::new(3, 1, DataType::F32, grid()).nodata(Some(f64::NAN));
    let mut out = OutputRaster::create(&path, &spec).unwrap();
    let a = ndarray::array![[f32::NAN, f32::INFINITY, f32::NEG_INFINITY]];
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
    let r = Raster::open(&path).unwrap();
    let b = r.read::<f32>(1, Window::full(3, 1)).unwrap();
    assert!(b[[0, 0]].is_nan());
    assert_eq!(b[[0, 1]], f32::INFINITY);
    assert_eq!(b[[0, 2]], f32::NEG_INFINITY);
    assert!(r.nodata(1).unwrap().unwrap().is_nan());
}

#[test]
fn blocks_cover_a_real_file_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.tif");
    let data = random_array::<i32>(11);
    let spec = RasterSpec::new(COLS, ROWS, DataType::I32, grid());
    let mut out = OutputRaster::create(&path, &spec).unwrap();
    out.raster().write(1, 0, 0, data.view()).unwrap();
    out.commit().unwrap();
    let r = Raster::open(&path).unwrap();
    assert_eq!(r.block_size(1).unwrap(), (256, 256));
    let mut rebuilt = Array2::<i32>::zeros((ROWS, COLS));
    let mut n = 0;
    for w in block_windows(r.size(), r.block_size(1).unwrap(), LARGEST_BLOCK) {
        let mut buf = Array2::<i32>::zeros(w.shape());
        r.read_into(1, w, &mut buf).unwrap();
        rebuilt
            .slice_mut(s![w.y_off..w.y_off + w.height, w.x_off..w.x_off + w.width])
            .assign(&buf);
        n += 1;
    }
    assert_eq!(n, 4);
    assert_eq!(rebuilt, data);
}

#[test]
fn new_raster_from_base_keeps_grid_and_block_size() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.tif");
    let wkt = pgp_core::sample::projection_wkt().unwrap();
    let striped = RasterDriver::new("GTiff", ["BLOCKYSIZE=8"]);
    let spec = RasterSpec::new(COLS, ROWS, DataType::U8, grid())
        .projection(Some(wkt.clone()))
        .driver(striped);
    OutputRaster::create(&base, &spec)
        .unwrap()
        .commit()
        .unwrap();

    let target = dir.path().join("target.tif");
    new_raster_from_base(
        &base,
        &target,
        DataType::F64,
        &[Some(-1.0), Some(-1.0)],
        Some(&[5.0, 6.0]),
        &RasterDriver::new("GTiff", ["COMPRESS=LZW"]),
    )
    .unwrap();
    let t = Raster::open(&target).unwrap();
    let info = t.info().unwrap();
    assert_eq!(info.raster_size, (COLS, ROWS));
    assert_eq!(info.geotransform, grid());
    assert_eq!(info.projection_wkt.as_deref(), Some(wkt.as_str()));
    assert_eq!(info.n_bands, 2);
    assert_eq!(info.nodata, vec![Some(-1.0), Some(-1.0)]);
    assert_eq!(info.datatypes, vec![DataType::F64, DataType::F64]);
    assert_eq!(info.block_size, (COLS, 8), "base strip layout kept");
    let b2 = t.read::<f64>(2, Window::new(299, 269, 1, 1)).unwrap();
    assert_eq!(b2[[0, 0]], 6.0);
    let b1 = t.read::<f64>(1, Window::new(0, 0, 1, 1)).unwrap();
    assert_eq!(b1[[0, 0]], 5.0);

    // GeoTIFF keeps one nodata for all bands: different values are refused, not silently merged.
    let err = new_raster_from_base(
        &base,
        dir.path().join("t2.tif"),
        DataType::F64,
        &[Some(-1.0), None],
        None,
        &RasterDriver::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("one nodata value"), "{err}");
}

#[test]
fn uncommitted_output_leaves_nothing_and_commit_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.tif");
    let spec = RasterSpec::new(10, 10, DataType::U8, grid()).fill(9.0);
    {
        let mut out = OutputRaster::create(&path, &spec).unwrap();
        out.raster()
            .write(1, 0, 0, Array2::<u8>::ones((2, 2)).view())
            .unwrap();
        // dropped: a failure midway
    }
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");

    std::fs::write(&path, b"an older file").unwrap();
    let out = OutputRaster::create(&path, &spec).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"an older file",
        "old file untouched until commit"
    );
    out.commit().unwrap();
    let r = Raster::open(&path).unwrap();
    assert_eq!(r.read::<u8>(1, Window::new(9, 9, 1, 1)).unwrap()[[0, 0]], 9);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn statistics_are_stored_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stats.tif");
    let spec = RasterSpec::new(4, 4, DataType::F32, grid());
    let mut out = OutputRaster::create(&path, &spec).unwrap();
    let stats = BandStatistics {
        min: -1.5,
        max: 7.25,
        mean: 2.0,
        std_dev: 0.5,
    };
    out.raster().set_statistics(1, stats).unwrap();
    out.commit().unwrap();
    let r = Raster::open(&path).unwrap();
    assert_eq!(r.statistics(1).unwrap(), Some(stats));
}

#[test]
fn pool_hands_out_separate_handles_to_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool.tif");
    let data = random_array::<u16>(3);
    let spec = RasterSpec::new(COLS, ROWS, DataType::U16, grid());
    let mut out = OutputRaster::create(&path, &spec).unwrap();
    out.raster().write(1, 0, 0, data.view()).unwrap();
    out.commit().unwrap();
    let pool = std::sync::Arc::new(RasterPool::new([&path]));
    let windows: Vec<Window> = block_windows((COLS, ROWS), (64, 64), 4096).collect();
    let sums: Vec<u64> = std::thread::scope(|s| {
        let handles: Vec<_> = windows
            .chunks(windows.len().div_ceil(4))
            .map(|chunk| {
                let pool = pool.clone();
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|w| {
                            pool.with(|r| {
                                Ok(r[0]
                                    .read::<u16>(1, *w)?
                                    .iter()
                                    .map(|&v| v as u64)
                                    .sum::<u64>())
                            })
                            .unwrap()
                        })
                        .sum::<u64>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let expected: u64 = data.iter().map(|&v| v as u64).sum();
    assert_eq!(sums.iter().sum::<u64>(), expected);
}
