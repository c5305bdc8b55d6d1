//! `pgp routing ...` and the `pgp.routing.*` pipeline ops, end to end through the binary.

use assert_cmd::Command;
use pgp::core::{sample, Raster, Window};

fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

#[test]
fn routing_commands_write_pygeoprocessing_encodings_and_name_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    sample::dem(&dem, 200, 3).unwrap();
    let p = |n: &str| dir.path().join(n);
    pgp()
        .args(["routing", "fill-pits"])
        .arg(&dem)
        .arg(p("filled.tif"))
        .assert()
        .success();
    pgp()
        .args(["routing", "flow-dir"])
        .arg(p("filled.tif"))
        .arg(p("d8.tif"))
        .args(["--method", "d8", "--executor", "threading:2"])
        .assert()
        .success();
    pgp()
        .args(["routing", "flow-accum"])
        .arg(p("d8.tif"))
        .arg(p("acc.tif"))
        .args(["--method", "d8"])
        .assert()
        .success();
    pgp()
        .args(["routing", "extract-streams"])
        .arg(p("acc.tif"))
        .arg(p("streams.tif"))
        .args(["--method", "d8", "--threshold", "50"])
        .assert()
        .success();
    pgp()
        .args(["routing", "distance-to-channel"])
        .arg(p("d8.tif"))
        .arg(p("streams.tif"))
        .arg(p("dist.tif"))
        .args(["--method", "d8"])
        .assert()
        .success();
    let d8 = Raster::open(p("d8.tif")).unwrap();
    assert_eq!(d8.nodata(1).unwrap(), Some(128.0));
    let codes = d8.read::<u8>(1, Window::full(200, 200)).unwrap();
    assert!(codes.iter().all(|c| *c < 8 || *c == 128));
    // Every valid pixel's accumulation is at least 1 (itself): checked against the D8 codes.
    let acc = Raster::open(p("acc.tif"))
        .unwrap()
        .read::<f64>(1, Window::full(200, 200))
        .unwrap();
    for (c, a) in codes.iter().zip(acc.iter()) {
        assert_eq!(*c == 128, *a == pgp::routing::IMPROBABLE_FLOAT_NODATA);
    }
    pgp()
        .args(["routing", "flow-dir"])
        .arg(p("missing.tif"))
        .arg(p("x.tif"))
        .args(["--method", "mfd"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("missing.tif"));
    assert!(!p("x.tif").exists());
}

#[test]
fn the_hydrology_pipeline_runs_and_reruns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("data")).unwrap();
    sample::dem(dir.path().join("data/dem.tif"), 160, 5).unwrap();
    sample::weight(dir.path().join("data/weight.tif"), 160, 5).unwrap();
    let toml = dir.path().join("pipeline.toml");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/hydrology/pipeline.toml"
        ),
        &toml,
    )
    .unwrap();
    pgp().arg("run").arg(&toml).assert().success();
    assert!(dir.path().join("work/distance_to_channel.tif").exists());
    let out = pgp().arg("run").arg(&toml).arg("--json").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"ran\":[]"),
        "an unchanged rerun runs nothing: {text}"
    );
}
