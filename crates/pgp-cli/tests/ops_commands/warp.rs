//! `pgp warp`.

use pgp::core::raster_info;
use pgp::exec::Executor;
use pgp::ops::geom::DEFAULT_EDGE_SAMPLES;
use pgp::ops::{transform_bounding_box, warp_raster, ResampleMethod, WarpOptions};

use crate::util::{assert_same_raster, json_of, one_line_error, pgp, read, sample_data};

#[test]
fn warp_resamples_as_the_library_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("dem60.tif");
    let v = json_of(
        pgp()
            .arg("warp")
            .args([&data.dem, &out])
            .args(["--pixel-size", "60,-60", "--resample", "average"])
            .args(["--executor", "sync", "--json"]),
    );
    let expected = dir.path().join("dem60_lib.tif");
    warp_raster(
        &data.dem,
        (60.0, -60.0),
        &expected,
        ResampleMethod::Average,
        &WarpOptions::default(),
        &Executor::sync(),
    )
    .unwrap();
    assert_same_raster(&out, &expected);
    let o = &v["outputs"][0];
    assert_eq!(o["pixel_size"], serde_json::json!([60.0, -60.0]));
    assert_eq!(o["size"], serde_json::json!([32, 32]));
    assert_eq!(o["resample"], "average");
    assert_eq!(o["how"], "warped");
    assert_eq!(o["input"], data.dem.to_str().unwrap());
}

#[test]
fn warp_reprojects_as_the_library_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("dem_wgs84.tif");
    pgp()
        .arg("warp")
        .args([&data.dem, &out])
        .args(["--t-srs", "EPSG:4326", "--pixel-size", "0.0005,-0.0005"])
        .args(["--resample", "bilinear", "--executor", "threading:2"])
        .assert()
        .success();
    let expected = dir.path().join("dem_wgs84_lib.tif");
    let options = WarpOptions {
        target_projection: Some("EPSG:4326".into()),
        ..Default::default()
    };
    warp_raster(
        &data.dem,
        (0.0005, -0.0005),
        &expected,
        ResampleMethod::Bilinear,
        &options,
        &Executor::threads(2).unwrap(),
    )
    .unwrap();
    assert_same_raster(&out, &expected);
}

#[test]
fn warp_without_pixel_size_keeps_the_diagonal_pixel_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("dem_wgs84.tif");
    pgp()
        .arg("warp")
        .args([&data.dem, &out])
        .args(["--t-srs", "EPSG:4326"])
        .assert()
        .success();
    let src = raster_info(&data.dem).unwrap();
    let from = src.projection_wkt.as_deref().unwrap();
    let bb =
        transform_bounding_box(&src.bounding_box, from, "EPSG:4326", DEFAULT_EDGE_SAMPLES).unwrap();
    let size = (bb.xmax - bb.xmin).hypot(bb.ymax - bb.ymin) / (64f64).hypot(64.0);
    let info = raster_info(&out).unwrap();
    assert_eq!(info.pixel_size, (size, -size));
    assert!(info.projection_wkt.unwrap().contains("WGS 84"));
}

#[test]
fn warp_with_no_options_reproduces_the_source() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("copy.tif");
    let v = json_of(pgp().arg("warp").args([&data.dem, &out]).arg("--json"));
    let (src_info, src) = read(&data.dem);
    let (info, pixels) = read(&out);
    assert_eq!(info.geotransform, src_info.geotransform);
    assert_eq!(info.nodata, src_info.nodata);
    assert_eq!(pixels, src);
    assert_eq!(v["outputs"][0]["resample"], "near");
    assert_ne!(
        v["outputs"][0]["how"], "warped",
        "the grids line up: a copy"
    );
}

#[test]
fn warp_errors_name_the_file_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("out.tif");
    let missing = dir.path().join("gone.tif");
    let err = one_line_error(pgp().arg("warp").args([&missing, &out]));
    assert!(
        err.contains("gone.tif") && err.contains("no such file"),
        "{err}"
    );

    let cases: [(&[&str], &[&str]); 4] = [
        (&["--t-srs", "EPSG:999999"], &["--t-srs", "EPSG:999999"]),
        (
            &["--resample", "nearest-ish"],
            &["--resample", "near, bilinear"],
        ),
        (&["--pixel-size", "60"], &["--pixel-size", "X,Y"]),
        (&["--executor", "threads:many"], &["--executor", "many"]),
    ];
    for (args, expected) in cases {
        let err = one_line_error(pgp().arg("warp").args([&data.dem, &out]).args(args));
        for e in expected {
            assert!(err.contains(e), "{args:?}: expected {e:?} in {err}");
        }
    }
    assert!(!out.exists());
}
