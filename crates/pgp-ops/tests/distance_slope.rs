//! Distance transform, slope and kernels: parity with pygeoprocessing on the seeded sample
//! data, independent checks, and executors.

#[path = "common/zonal_inputs.rs"]
mod zonal_inputs;
#[path = "common/zonal_support.rs"]
mod zonal_support;

use ndarray::Array2;
use pgp_core::{DataType, GeoTransform, OutputRaster, Raster, RasterSpec, Window};
use pgp_exec::Executor;
use pgp_ops::distance::DISTANCE_NODATA;
use pgp_ops::{calculate_slope, distance_transform_edt, DistanceOptions, Error, SlopeOptions};
use zonal_support::{check_summary, close, inputs, read_f64, reference, same_pixels, scratch};

const TAG: &str = "distance";

#[test]
fn distance_matches_pygeoprocessing() {
    let exec = Executor::threads(2).unwrap();
    for size in [300, 513] {
        let inp = inputs(TAG, size);
        let refs = reference(&format!("distance_slope_{size}.json"));
        let dir = scratch();
        for (name, sampling) in [
            ("distance_1.0_1.0", (1.0, 1.0)),
            ("distance_1.5_3.0", (1.5, 3.0)),
        ] {
            let target = dir.path().join(format!("{name}.tif"));
            let opts = DistanceOptions {
                sampling_distance: sampling,
                ..Default::default()
            };
            distance_transform_edt(&inp.mask, 1, &target, &opts, &exec).unwrap();
            // pygeoprocessing works in float32.
            check_summary(&target, &refs[name], 1e-5, 1e-4);
            let stats = Raster::open(&target)
                .unwrap()
                .statistics(1)
                .unwrap()
                .unwrap();
            let expected = &refs[name]["band_statistics"];
            assert!(close(
                stats.mean,
                expected["mean"].as_f64().unwrap(),
                1e-5,
                0.0
            ));
            assert!(close(
                stats.max,
                expected["maximum"].as_f64().unwrap(),
                1e-5,
                0.0
            ));
            assert!(close(
                stats.std_dev,
                expected["stddev"].as_f64().unwrap(),
                1e-4,
                0.0
            ));
        }
    }
}

#[test]
fn distance_equals_brute_force_and_ignores_nodata() {
    // 300 rows (two strips), anisotropic sampling, region pixels of several values, nodata.
    let dir = scratch();
    let (rows, cols) = (300, 41);
    let mut state = 3u64;
    let a = Array2::from_shape_fn((rows, cols), |(r, c)| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        if r == 150 {
            9 // nodata row: not region
        } else if (state >> 40) % 211 == 7 || (r, c) == (299, 0) {
            1 + ((state >> 20) % 3) as i16
        } else {
            0
        }
    });
    let src = dir.path().join("mask.tif");
    let spec = RasterSpec::new(
        cols,
        rows,
        DataType::I16,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    )
    .nodata(Some(9.0));
    let mut out = OutputRaster::create(&src, &spec).unwrap();
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
    let (sx, sy) = (0.7, 2.5);
    let target = dir.path().join("d.tif");
    let opts = DistanceOptions {
        sampling_distance: (sx, sy),
        ..Default::default()
    };
    distance_transform_edt(&src, 1, &target, &opts, &Executor::threads(2).unwrap()).unwrap();
    let d = read_f64(&target);
    let region: Vec<(usize, usize)> = a
        .indexed_iter()
        .filter(|(_, &v)| v != 0 && v != 9)
        .map(|(p, _)| p)
        .collect();
    assert!(region.len() > 20);
    for ((r, c), &v) in d.indexed_iter() {
        let e = region
            .iter()
            .map(|&(pr, pc)| {
                ((sx * (c as f64 - pc as f64)).powi(2) + (sy * (r as f64 - pr as f64)).powi(2))
                    .sqrt()
            })
            .fold(f64::INFINITY, f64::min);
        assert!(close(v, e, 1e-6, 1e-6), "({r}, {c}): {v} vs {e}");
    }
    // Same on the synchronous executor.
    let t2 = dir.path().join("d2.tif");
    distance_transform_edt(&src, 1, &t2, &opts, &Executor::sync()).unwrap();
    assert!(same_pixels(&target, &t2));
    // No region pixel at all: every pixel is nodata.
    let zeros = dir.path().join("zeros.tif");
    let mut out = OutputRaster::create(&zeros, &spec).unwrap();
    out.raster()
        .write(1, 0, 0, Array2::<i16>::zeros((rows, cols)).view())
        .unwrap();
    out.commit().unwrap();
    let t3 = dir.path().join("none.tif");
    distance_transform_edt(&zeros, 1, &t3, &opts, &Executor::sync()).unwrap();
    assert!(read_f64(&t3).iter().all(|&v| v == DISTANCE_NODATA));
    // Bad sampling distances are refused.
    let bad = DistanceOptions {
        sampling_distance: (0.0, 1.0),
        ..Default::default()
    };
    let err = distance_transform_edt(&src, 1, dir.path().join("x.tif"), &bad, &Executor::sync())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { ref name, .. } if name == "sampling_distance"));
    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().contains("pgp-tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn slope_matches_pygeoprocessing_and_executors_agree() {
    for size in [300, 513] {
        let inp = inputs(TAG, size);
        let refs = reference(&format!("distance_slope_{size}.json"));
        let dir = scratch();
        let a = dir.path().join("slope.tif");
        calculate_slope(
            &inp.sample.dem,
            1,
            &a,
            &SlopeOptions::default(),
            &Executor::threads(2).unwrap(),
        )
        .unwrap();
        check_summary(&a, &refs["slope_dem"], 1e-6, 1e-6);
        let b = dir.path().join("slope_sync.tif");
        calculate_slope(
            &inp.sample.dem,
            1,
            &b,
            &SlopeOptions::default(),
            &Executor::sync(),
        )
        .unwrap();
        assert!(same_pixels(&a, &b));
    }
}

#[test]
fn slope_of_a_plane_with_holes_and_edges() {
    // z = 2x - 3y on 10 m pixels (x east, y south = row): exactly 100 * sqrt(0.04 + 0.09) %
    // everywhere, raster edges and the ring around single-pixel holes included (those fallbacks
    // use inline neighbours, which are exact on a plane; the diagonal fallback is not).
    let dir = scratch();
    let (rows, cols) = (70, 300);
    let a = Array2::from_shape_fn((rows, cols), |(r, c)| {
        if (r, c) == (30, 40) || (r, c) == (50, 200) {
            -9999.0
        } else {
            2.0 * c as f64 - 3.0 * r as f64
        }
    });
    let src = dir.path().join("plane.tif");
    let spec = RasterSpec::new(
        cols,
        rows,
        DataType::F64,
        GeoTransform::north_up(0.0, 0.0, 10.0, -10.0),
    )
    .nodata(Some(-9999.0));
    let mut out = OutputRaster::create(&src, &spec).unwrap();
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
    let target = dir.path().join("s.tif");
    calculate_slope(
        &src,
        1,
        &target,
        &SlopeOptions::default(),
        &Executor::sync(),
    )
    .unwrap();
    let s = Raster::open(&target)
        .unwrap()
        .read::<f32>(1, Window::full(cols, rows))
        .unwrap();
    let expected = (100.0 * (0.04f64 + 0.09).sqrt()) as f32;
    for ((r, c), &v) in s.indexed_iter() {
        if a[[r, c]] == -9999.0 {
            assert_eq!(v, f32::MIN);
        } else {
            assert!((v - expected).abs() < 1e-4, "({r}, {c}): {v}");
        }
    }
}

#[test]
fn kernels_match_pygeoprocessing() {
    let refs = reference("kernels.json");
    let dir = scratch();
    type Maker = Box<dyn Fn(&std::path::Path) -> pgp_ops::Result<()>>;
    let makers: Vec<(&str, Maker)> = vec![
        (
            "normal_5_3",
            Box::new(|p| pgp_ops::kernels::normal_distribution_kernel(p, 5.0, 3.0, true)),
        ),
        (
            "normal_2_3_raw",
            Box::new(|p| pgp_ops::kernels::normal_distribution_kernel(p, 2.0, 3.0, false)),
        ),
        (
            "dichotomous_3.5",
            Box::new(|p| pgp_ops::kernels::dichotomous_kernel(p, 3.5, true)),
        ),
        (
            "exponential_5_2",
            Box::new(|p| pgp_ops::kernels::exponential_decay_kernel(p, 5.0, 2.0, true)),
        ),
        (
            "linear_4_raw",
            Box::new(|p| pgp_ops::kernels::linear_decay_kernel(p, 4.0, false)),
        ),
    ];
    for (name, make) in makers {
        let path = dir.path().join(format!("{name}.tif"));
        make(&path).unwrap();
        let expected = &refs[name];
        let r = Raster::open(&path).unwrap();
        let info = r.info().unwrap();
        let size = expected["size"].as_array().unwrap();
        assert_eq!(info.raster_size.0 as u64, size[0].as_u64().unwrap());
        match (info.nodata[0], expected["nodata"].as_f64()) {
            (Some(a), Some(b)) => assert!(close(a, b, 1e-15, 0.0)),
            (a, b) => assert_eq!(a, b),
        }
        assert_eq!(
            r.dataset().geo_transform().is_ok(),
            expected["has_geotransform"].as_bool().unwrap()
        );
        let ours = read_f64(&path);
        for (i, row) in expected["values"].as_array().unwrap().iter().enumerate() {
            for (j, v) in row.as_array().unwrap().iter().enumerate() {
                let v = v.as_f64().unwrap();
                // float32 values; the normalising sum is accumulated differently.
                assert!(
                    close(ours[[i, j]], v, 3e-7, 1e-12),
                    "{name} ({i}, {j}): {} vs {v}",
                    ours[[i, j]]
                );
            }
        }
    }
}
