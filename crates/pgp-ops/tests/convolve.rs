//! convolve_2d: equal to a direct (non-FFT) convolution, to pygeoprocessing on the seeded
//! sample data, and the same on every executor.

#[path = "common/zonal_inputs.rs"]
mod zonal_inputs;
#[path = "common/zonal_support.rs"]
mod zonal_support;

use std::path::Path;

use ndarray::Array2;
use pgp_core::{DataType, GeoTransform, OutputRaster, Pixel, RasterDriver, RasterSpec};
use pgp_exec::Executor;
use pgp_ops::{convolve_2d, ConvolveOptions, Error};
use zonal_support::{check_summary, close, inputs, read_f64, reference, same_pixels, scratch};

const TAG: &str = "convolve";

fn write<T: Pixel>(path: &Path, a: &Array2<T>, nodata: Option<f64>, driver: RasterDriver) {
    let (rows, cols) = a.dim();
    let spec = RasterSpec::new(
        cols,
        rows,
        T::DATA_TYPE,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    )
    .nodata(nodata)
    .driver(driver);
    let mut out = OutputRaster::create(path, &spec).unwrap();
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
}

/// The definition, summed directly: pygeoprocessing's semantics without transforms.
fn direct(
    signal: &Array2<f64>,
    valid: &Array2<bool>,
    kernel: &Array2<f64>,
    o: &ConvolveOptions,
    nodata_out: f64,
) -> Array2<f64> {
    let (rows, cols) = signal.dim();
    let (kr, kc) = kernel.dim();
    let ksum = kernel.sum();
    let k = if o.normalize_kernel {
        kernel / ksum
    } else {
        kernel.clone()
    };
    let mut out = Array2::zeros((rows, cols));
    for r in 0..rows {
        for c in 0..cols {
            let (mut acc, mut macc) = (0.0, 0.0);
            for i in 0..kr {
                for j in 0..kc {
                    let sr = r as isize - i as isize + (kr / 2) as isize;
                    let sc = c as isize - j as isize + (kc / 2) as isize;
                    if sr < 0 || sc < 0 || sr >= rows as isize || sc >= cols as isize {
                        continue;
                    }
                    let (sr, sc) = (sr as usize, sc as usize);
                    if valid[[sr, sc]] {
                        acc += k[[i, j]] * signal[[sr, sc]];
                        macc += k[[i, j]];
                    }
                }
            }
            if o.mask_nodata && !valid[[r, c]] {
                out[[r, c]] = nodata_out;
                continue;
            }
            // numpy.isclose(acc, 1e-8), pygeoprocessing's round-off clean-up.
            if (acc - 1e-8).abs() <= 1e-8 + 1e-5 * 1e-8 {
                acc = 0.0;
            }
            if o.ignore_nodata_and_edges && macc > 1e-9 {
                acc = acc / macc * if o.normalize_kernel { 1.0 } else { ksum };
            }
            out[[r, c]] = acc;
        }
    }
    out
}

/// A signal with a nodata hole, scattered nodata and varied values, larger than one 256 tile.
fn signal(rows: usize, cols: usize, nodata: f32) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let (x, y) = (c as f32, r as f32);
        if (x - 100.0).powi(2) + (y - 140.0).powi(2) < 400.0 || (r * 31 + c * 17) % 97 == 0 {
            nodata
        } else {
            100.0 + 50.0 * (x * 0.05).sin() + 0.3 * y - ((r * c) % 13) as f32
        }
    })
}

#[test]
fn equals_direct_convolution_across_tiles_and_options() {
    let dir = scratch();
    let (rows, cols) = (290, 300);
    let s = signal(rows, cols, -9999.0);
    let sig_path = dir.path().join("signal.tif");
    // 64 x 64 tiles so the raster spans several FFT tiles (tile = 256 x 256 here).
    let small_tiles = RasterDriver::new("GTiff", ["TILED=YES", "BLOCKXSIZE=64", "BLOCKYSIZE=64"]);
    write(&sig_path, &s, Some(-9999.0), small_tiles.clone());
    // Asymmetric and even-sized in one direction: catches flips and offsets. Positive, so the
    // mask convolution of `ignore_nodata_and_edges` is never a near-zero difference.
    let kernel = Array2::from_shape_fn((6, 9), |(i, j)| {
        ((i * 9 + j) as f64 * 0.7).cos() + 1.2 + 0.1 * i as f64
    });
    let k_path = dir.path().join("kernel.tif");
    pgp_ops::kernels::kernel_from_array(kernel.view(), &k_path).unwrap();
    let s64 = s.mapv(|v| v as f64);
    let valid = s.mapv(|v| v != -9999.0);
    let exec = Executor::threads(2).unwrap();
    let cases = [
        ConvolveOptions::default(),
        ConvolveOptions {
            ignore_nodata_and_edges: true,
            ..Default::default()
        },
        ConvolveOptions {
            mask_nodata: false,
            ..Default::default()
        },
        ConvolveOptions {
            normalize_kernel: true,
            ..Default::default()
        },
        ConvolveOptions {
            ignore_nodata_and_edges: true,
            normalize_kernel: true,
            mask_nodata: false,
            ..Default::default()
        },
    ];
    for (n, o) in cases.iter().enumerate() {
        let target = dir.path().join(format!("out{n}.tif"));
        convolve_2d(&sig_path, 1, &k_path, 1, &target, o, &exec).unwrap();
        let ours = read_f64(&target);
        let expected = direct(&s64, &valid, &kernel, o, f32::MIN as f64);
        let scale = s64.iter().map(|v| v.abs()).fold(0.0, f64::max)
            * kernel.iter().map(|v| v.abs()).sum::<f64>();
        for ((r, c), &e) in expected.indexed_iter() {
            let v = ours[[r, c]];
            assert!(
                close(v, e, 1e-9, 1e-10 * scale),
                "case {n} {o:?} at ({r}, {c}): fft {v} direct {e}"
            );
        }
    }
}

#[test]
fn nan_nodata_integer_targets_and_nan_data() {
    let dir = scratch();
    let (rows, cols) = (120, 140);
    let mut s = signal(rows, cols, f32::NAN);
    let kernel = Array2::from_shape_fn((5, 5), |(i, j)| 1.0 + ((i + 2 * j) % 3) as f64);
    let k_path = dir.path().join("k.tif");
    pgp_ops::kernels::kernel_from_array(kernel.view(), &k_path).unwrap();
    let exec = Executor::sync();
    // NaN nodata (pygeoprocessing #473): NaN pixels are nodata, zero in the sum.
    let nan_path = dir.path().join("nan.tif");
    write(&nan_path, &s, Some(f64::NAN), RasterDriver::default());
    let target = dir.path().join("nan_out.tif");
    convolve_2d(
        &nan_path,
        1,
        &k_path,
        1,
        &target,
        &ConvolveOptions::default(),
        &exec,
    )
    .unwrap();
    let valid = s.mapv(|v| !v.is_nan());
    let expected = direct(
        &s.mapv(|v| v as f64),
        &valid,
        &kernel,
        &ConvolveOptions::default(),
        f32::MIN as f64,
    );
    let ours = read_f64(&target);
    for ((r, c), &e) in expected.indexed_iter() {
        assert!(
            close(ours[[r, c]], e, 1e-9, 1e-6),
            "({r}, {c}): {} vs {e}",
            ours[[r, c]]
        );
    }
    // Int16 output: target nodata is required, values are rounded once.
    let opts = ConvolveOptions {
        target_datatype: DataType::I16,
        ..Default::default()
    };
    let err = convolve_2d(
        &nan_path,
        1,
        &k_path,
        1,
        dir.path().join("x.tif"),
        &opts,
        &exec,
    )
    .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { ref name, .. } if name == "target_nodata"));
    let opts = ConvolveOptions {
        target_datatype: DataType::I32,
        target_nodata: Some(-1.0),
        ..Default::default()
    };
    let t32 = dir.path().join("i32.tif");
    convolve_2d(&nan_path, 1, &k_path, 1, &t32, &opts, &exec).unwrap();
    let ints = read_f64(&t32);
    for ((r, c), &e) in expected.indexed_iter() {
        let want = if valid[[r, c]] { e.round() } else { -1.0 };
        assert_eq!(ints[[r, c]], want, "({r}, {c})");
    }
    // NaN as data (no nodata set): only the pixels whose kernel window covers it turn NaN.
    s.mapv_inplace(|v| if v.is_nan() { 1.0 } else { v });
    s[[60, 70]] = f32::NAN;
    let data_path = dir.path().join("nan_data.tif");
    write(&data_path, &s, None, RasterDriver::default());
    let t = dir.path().join("nan_data_out.tif");
    convolve_2d(
        &data_path,
        1,
        &k_path,
        1,
        &t,
        &ConvolveOptions::default(),
        &exec,
    )
    .unwrap();
    let out = read_f64(&t);
    let n_nan = out.iter().filter(|v| v.is_nan()).count();
    assert_eq!(n_nan, 25);
    assert!(out[[58, 68]].is_nan() && out[[62, 72]].is_nan() && !out[[57, 70]].is_nan());
}

#[test]
fn bad_kernels_are_refused() {
    let dir = scratch();
    let inp = inputs(TAG, 300);
    let k = dir.path().join("nan_kernel.tif");
    pgp_ops::kernels::kernel_from_array(ndarray::array![[1.0f32, f32::NAN]].view(), &k).unwrap();
    let err = convolve_2d(
        &inp.sample.dem,
        1,
        &k,
        1,
        dir.path().join("o.tif"),
        &ConvolveOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("finite"), "{err}");
    let z = dir.path().join("zero_kernel.tif");
    pgp_ops::kernels::kernel_from_array(ndarray::array![[1.0f32, -1.0]].view(), &z).unwrap();
    let opts = ConvolveOptions {
        normalize_kernel: true,
        ..Default::default()
    };
    let err = convolve_2d(
        &inp.sample.dem,
        1,
        &z,
        1,
        dir.path().join("o.tif"),
        &opts,
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { ref name, .. } if name == "normalize_kernel"),
        "{err}"
    );
    assert!(!dir.path().join("o.tif").exists());
}

fn peer_case(
    inp: &zonal_inputs::Inputs,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, ConvolveOptions) {
    let d = ConvolveOptions::default();
    match name {
        "dem_gauss13" => (inp.sample.dem.clone(), inp.gauss13.clone(), d),
        "dem_gauss13_ignore_nodata" => (
            inp.sample.dem.clone(),
            inp.gauss13.clone(),
            ConvolveOptions {
                ignore_nodata_and_edges: true,
                ..d
            },
        ),
        "weight_asym" => (inp.sample.weight.clone(), inp.asym.clone(), d),
        "nonodata_asym_f32" => (
            inp.dem_nonodata.clone(),
            inp.asym.clone(),
            ConvolveOptions {
                target_datatype: DataType::F32,
                target_nodata: Some(-1.0),
                ..d
            },
        ),
        "weight_gauss13_fill_holes" => (
            inp.sample.weight.clone(),
            inp.gauss13.clone(),
            ConvolveOptions {
                ignore_nodata_and_edges: true,
                mask_nodata: false,
                normalize_kernel: true,
                ..d
            },
        ),
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn matches_pygeoprocessing_on_sample_data() {
    let exec = Executor::threads(2).unwrap();
    for size in [300, 513] {
        let inp = inputs(TAG, size);
        let refs = reference(&format!("convolve_{size}.json"));
        let dir = scratch();
        for (name, expected) in refs.as_object().unwrap() {
            let (signal, kernel, opts) = peer_case(&inp, name);
            let target = dir.path().join(format!("{name}.tif"));
            convolve_2d(&signal, 1, &kernel, 1, &target, &opts, &exec).unwrap();
            // pygeoprocessing accumulates through float32: compare at float32 precision.
            check_summary(&target, expected, 2e-6, 1e-5);
        }
    }
}

#[test]
fn output_does_not_depend_on_the_executor() {
    let inp = inputs(TAG, 513);
    let dir = scratch();
    let opts = ConvolveOptions {
        ignore_nodata_and_edges: true,
        ..Default::default()
    };
    let a = dir.path().join("sync.tif");
    let b = dir.path().join("threads.tif");
    convolve_2d(
        &inp.sample.dem,
        1,
        &inp.gauss13,
        1,
        &a,
        &opts,
        &Executor::sync(),
    )
    .unwrap();
    convolve_2d(
        &inp.sample.dem,
        1,
        &inp.gauss13,
        1,
        &b,
        &opts,
        &Executor::threads(2).unwrap(),
    )
    .unwrap();
    assert!(same_pixels(&a, &b));
}
