//! `pgp zonal-stats`.

use std::path::Path;

use pgp::exec::Executor;
use pgp::ops::{zonal_statistics, ZonalOptions};
use serde_json::{json, Value};

use crate::util::{one_line_error, pgp, sample_data};

/// The number after `"key":` in one line of JSON, parsed with Rust's correctly rounded parser
/// (serde_json's default float parsing may be off in the last bit); `None` for `null`.
fn number_in(line: &str, key: &str) -> Option<f64> {
    let pattern = format!("\"{key}\":");
    let start = line.find(&pattern).expect("key present") + pattern.len();
    let token: String = line[start..]
        .chars()
        .take_while(|c| *c != ',' && *c != '}')
        .collect();
    let token = token.trim();
    (token != "null").then(|| token.parse().expect("a number"))
}

/// The command's JSON is the library's result: same FIDs, same numbers, bit for bit.
fn assert_matches_library(raster: &Path, vector: &Path, executor: &str) {
    let out = pgp()
        .arg("zonal-stats")
        .args([raster, vector])
        .args(["--executor", executor])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    let v: Value = serde_json::from_str(&text).unwrap();
    let expected = zonal_statistics(
        raster,
        1,
        vector,
        &ZonalOptions::default(),
        &Executor::sync(),
    )
    .unwrap();
    let object = v.as_object().unwrap();
    assert_eq!(object.len(), expected.len());
    for (fid, s) in &expected {
        let got = &v[fid.to_string()];
        assert_eq!(got["count"], json!(s.count), "fid {fid}");
        assert_eq!(got["nodata_count"], json!(s.nodata_count), "fid {fid}");
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("\"{fid}\":")))
            .expect("one line per feature");
        assert_eq!(number_in(line, "min"), s.min, "fid {fid}");
        assert_eq!(number_in(line, "max"), s.max, "fid {fid}");
        assert_eq!(number_in(line, "sum"), Some(s.sum), "fid {fid}");
    }
    // The sample has features wholly outside the raster and features with pixels.
    assert!(object
        .values()
        .any(|s| s["min"] == Value::Null && s["count"] == 0));
    assert!(object.values().any(|s| s["count"].as_u64().unwrap() > 0));
}

#[test]
fn zonal_stats_prints_the_library_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    assert_matches_library(&data.dem, &data.zones, "threading:2");
    // NaN nodata, and a process pool.
    assert_matches_library(&data.weight, &data.zones, "multiprocessing:2");
}

#[test]
fn zonal_stats_errors_name_the_file_or_argument() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let missing = dir.path().join("zones_missing.gpkg");
    let err = one_line_error(pgp().arg("zonal-stats").args([&data.dem, &missing]));
    assert!(
        err.contains("zones_missing.gpkg") && err.contains("no such file"),
        "{err}"
    );

    let err = one_line_error(
        pgp()
            .arg("zonal-stats")
            .args([&data.dem, &data.zones])
            .args(["--band", "2"]),
    );
    assert!(err.contains("dem.tif") && err.contains('2'), "{err}");

    let err = one_line_error(
        pgp()
            .arg("zonal-stats")
            .args([&data.dem, &data.zones])
            .args(["--band", "0"]),
    );
    assert!(err.contains("--band") && err.contains("from 1"), "{err}");

    let err = one_line_error(
        pgp()
            .arg("zonal-stats")
            .args([&data.dem, &data.zones])
            .args(["--layer", "no_such_layer"]),
    );
    assert!(err.contains("no_such_layer"), "{err}");
}
