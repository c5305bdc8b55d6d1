//! `pgp info` on generated data, and its errors.

use assert_cmd::Command;
use pgp::core::sample;
use serde_json::Value;

fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

#[test]
fn info_prints_the_documented_keys() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample::generate(dir.path(), 100, 3).unwrap();
    let out = pgp().arg("info").arg(&data.weight).assert().success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["raster_size"], serde_json::json!([100, 100]));
    assert_eq!(v["pixel_size"], serde_json::json!([30.0, -30.0]));
    assert_eq!(v["geotransform"][0], serde_json::json!(400000.0));
    assert_eq!(v["n_bands"], 1);
    assert_eq!(v["nodata"], serde_json::json!(["NaN"]));
    assert_eq!(v["datatype"], "Float32");
    assert_eq!(
        v["bounding_box"],
        serde_json::json!([400000.0, 4997000.0, 403000.0, 5000000.0])
    );
    assert!(v["projection_wkt"]
        .as_str()
        .unwrap()
        .contains("UTM zone 31N"));
    assert_eq!(v["block_size"], serde_json::json!([256, 256]));

    let out = pgp().arg("info").arg(&data.landcover).assert().success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["nodata"], serde_json::json!([255.0]));
    assert_eq!(v["datatype"], "Byte");

    let out = pgp().arg("info").arg(&data.zones).assert().success();
    let v: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["feature_count"], 202);
}

#[test]
fn info_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tif");
    let out = pgp().arg("info").arg(&missing).assert().failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("missing.tif") && err.contains("no such file"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    let out = pgp().arg("info").arg(&junk).assert().failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("junk.txt"), "{err}");
}
