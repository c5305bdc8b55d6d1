//! `pgp convolve`.

use ndarray::Array2;
use pgp::core::sample::DEM_NODATA;
use pgp::exec::Executor;
use pgp::ops::kernels::kernel_from_array;
use pgp::ops::{convolve_2d, ConvolveOptions};

use crate::util::{assert_same_raster, json_of, one_line_error, pgp, read, sample_data};

#[test]
fn convolve_gives_the_library_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let kernel = dir.path().join("kernel.tif");
    let k = Array2::from_shape_vec((3, 3), vec![1f32, 2., 1., 2., 4., 2., 1., 2., 1.]).unwrap();
    kernel_from_array(k.view(), &kernel).unwrap();
    let out = dir.path().join("smooth.tif");
    let v = json_of(
        pgp()
            .arg("convolve")
            .args([&data.dem, &kernel, &out])
            .args(["--normalize", "--ignore-nodata", "--json"])
            .args(["--executor", "multiprocessing:2"]),
    );
    let expected = dir.path().join("smooth_lib.tif");
    let options = ConvolveOptions {
        normalize_kernel: true,
        ignore_nodata_and_edges: true,
        ..Default::default()
    };
    convolve_2d(
        &data.dem,
        1,
        &kernel,
        1,
        &expected,
        &options,
        &Executor::sync(),
    )
    .unwrap();
    assert_same_raster(&out, &expected);
    assert_eq!(v["outputs"][0]["datatype"], "Float64");
    assert_eq!(v["outputs"][0]["path"], out.to_str().unwrap());
}

#[test]
fn convolve_sums_the_neighbourhood() {
    // A 3 x 3 kernel of ones: each output pixel is the sum of its 3 x 3 neighbourhood, with
    // nodata and the area beyond the edges counting as 0, and nodata where the signal is.
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let kernel = dir.path().join("ones.tif");
    kernel_from_array(Array2::<f32>::ones((3, 3)).view(), &kernel).unwrap();
    let out = dir.path().join("sum.tif");
    pgp()
        .arg("convolve")
        .args([&data.dem, &kernel, &out])
        .assert()
        .success();
    let (_, dem) = read(&data.dem);
    let (info, pixels) = read(&out);
    let nodata = info.nodata[0].unwrap();
    assert_eq!(nodata, f32::MIN as f64);
    let (rows, cols) = dem.dim();
    for r in 0..rows {
        for c in 0..cols {
            if dem[[r, c]] == DEM_NODATA {
                assert_eq!(pixels[[r, c]], nodata, "({r}, {c})");
                continue;
            }
            let mut sum = 0.0;
            for rr in r.saturating_sub(1)..(r + 2).min(rows) {
                for cc in c.saturating_sub(1)..(c + 2).min(cols) {
                    if dem[[rr, cc]] != DEM_NODATA {
                        sum += dem[[rr, cc]];
                    }
                }
            }
            assert!(
                (pixels[[r, c]] - sum).abs() <= 1e-9 * sum.abs().max(1.0),
                "({r}, {c}): {} vs {sum}",
                pixels[[r, c]]
            );
        }
    }
}

#[test]
fn convolve_missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("out.tif");
    let err = one_line_error(pgp().arg("convolve").args([
        &data.dem,
        &dir.path().join("no_kernel.tif"),
        &out,
    ]));
    assert!(
        err.contains("no_kernel.tif") && err.contains("no such file"),
        "{err}"
    );
    let err = one_line_error(pgp().arg("convolve").args([
        &dir.path().join("no_signal.tif"),
        &data.dem,
        &out,
    ]));
    assert!(
        err.contains("no_signal.tif") && err.contains("no such file"),
        "{err}"
    );
    assert!(!out.exists());
}
