//! `pgp routing ...` and the `pgp.routing.*` pipeline ops, end to end through the binary.

use std::path::PathBuf;

use assert_cmd::Command;
use pgp::core::{sample, Raster, Window};

fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

/// `pgp routing STEP FILES... FLAGS...`.
fn routing(step: &str, files: &[PathBuf], flags: &[&str]) -> Command {
    let mut cmd = pgp();
    cmd.args(["routing", step]).args(files).args(flags);
    cmd
}

/// The JSON a command prints, once it has succeeded (else its error output).
fn json_of(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn routing_commands_write_pygeoprocessing_encodings_and_name_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    sample::dem(&dem, 200, 3).unwrap();
    let p = |n: &str| dir.path().join(n);
    let steps: [(&str, &[&str], &[&str]); 5] = [
        ("fill-pits", &["dem.tif", "filled.tif"], &[]),
        (
            "flow-dir",
            &["filled.tif", "d8.tif"],
            &["--method", "d8", "--executor", "threading:2"],
        ),
        ("flow-accum", &["d8.tif", "acc.tif"], &["--method", "d8"]),
        (
            "extract-streams",
            &["acc.tif", "streams.tif"],
            &["--method", "d8", "--threshold", "50"],
        ),
        (
            "distance-to-channel",
            &["d8.tif", "streams.tif", "dist.tif"],
            &["--method", "d8"],
        ),
    ];
    for (step, files, flags) in steps {
        let files: Vec<PathBuf> = files.iter().map(|f| p(f)).collect();
        routing(step, &files, flags).assert().success();
    }
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
    routing(
        "flow-dir",
        &[p("missing.tif"), p("x.tif")],
        &["--method", "mfd"],
    )
    .assert()
    .failure()
    .stderr(predicates::str::contains("missing.tif"));
    assert!(!p("x.tif").exists());
}

/// A copy of `examples/hydrology/pipeline.toml` in `dir`, with its sample data.
fn hydrology_project(dir: &std::path::Path) -> PathBuf {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    sample::dem(dir.join("data/dem.tif"), 160, 5).unwrap();
    sample::weight(dir.join("data/weight.tif"), 160, 5).unwrap();
    let toml = dir.join("pipeline.toml");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/hydrology/pipeline.toml"
        ),
        &toml,
    )
    .unwrap();
    toml
}

#[test]
fn the_hydrology_pipeline_runs_and_reruns_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let toml = hydrology_project(dir.path());
    pgp().arg("run").arg(&toml).assert().success();
    assert!(dir.path().join("work/distance_to_channel.tif").exists());
    let out = pgp().arg("run").arg(&toml).arg("--json").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("\"ran\":[]"),
        "an unchanged rerun runs nothing: {text}"
    );

    // The routing requests travel to worker processes as data and give the same pixels there.
    let procs = tempfile::tempdir().unwrap();
    let procs_toml = hydrology_project(procs.path());
    pgp()
        .arg("run")
        .arg(&procs_toml)
        .args(["--executor", "multiprocessing:2"])
        .assert()
        .success();
    for output in [
        "filled",
        "flow_dir_mfd",
        "flow_accum",
        "streams",
        "distance_to_channel",
    ] {
        let read = |root: &std::path::Path| {
            Raster::open(root.join(format!("work/{output}.tif")))
                .unwrap()
                .read_as::<f64>(1, Window::full(160, 160))
                .unwrap()
        };
        let (threads, processes) = (read(dir.path()), read(procs.path()));
        let same = threads
            .iter()
            .zip(processes.iter())
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(same, "{output}: processes and threads disagree");
    }
}

#[test]
fn outlets_watersheds_and_drains_through_the_binary_and_a_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let p = |n: &str| dir.path().join(n);
    sample::dem(p("dem.tif"), 120, 4).unwrap();
    routing("fill-pits", &[p("dem.tif"), p("filled.tif")], &[])
        .assert()
        .success();
    for method in ["d8", "mfd"] {
        routing(
            "flow-dir",
            &[p("filled.tif"), p(&format!("{method}.tif"))],
            &["--method", method],
        )
        .assert()
        .success();
    }
    let doc = json_of(&mut routing(
        "detect-outlets",
        &[p("d8.tif"), p("outlets.gpkg")],
        &["--method", "d8", "--json", "--executor", "threading:2"],
    ));
    let outlets = doc["outputs"][0]["features"].as_u64().unwrap();
    assert!(outlets > 0);
    let info = pgp::core::vector_info(p("outlets.gpkg"), &Default::default()).unwrap();
    assert_eq!(
        (info.layer_name.as_str(), info.feature_count),
        ("outlets", outlets)
    );

    // One watershed per outlet, and together they cover every valid pixel of a filled DEM
    // (each pixel drains to exactly one outlet).
    routing(
        "watersheds",
        &[p("d8.tif"), p("outlets.gpkg"), p("watersheds.gpkg")],
        &[],
    )
    .assert()
    .success();
    let ws = pgp::core::open_vector(p("watersheds.gpkg")).unwrap();
    let mut layer = ws.layer_by_name("watersheds").unwrap();
    use pgp::core::gdal::vector::LayerAccess;
    assert_eq!(layer.feature_count(), outlets);
    let area: f64 = layer.features().map(|f| f.geometry().unwrap().area()).sum();
    let d8 = Raster::open(p("d8.tif")).unwrap();
    let codes = d8.read::<u8>(1, Window::full(120, 120)).unwrap();
    let valid = codes.iter().filter(|c| **c != 128).count() as f64;
    let pixel = d8.info().unwrap().pixel_size;
    assert_eq!(area, valid * (pixel.0 * pixel.1).abs());

    let doc = json_of(&mut routing("lowest-drain-and-sink", &[p("dem.tif")], &[]));
    assert!(doc["drain"].is_array(), "{doc}");

    // Bad inputs: a missing outlet vector, an MFD raster given as D8.
    routing(
        "watersheds",
        &[p("d8.tif"), p("no_outlets.gpkg"), p("w2.gpkg")],
        &[],
    )
    .assert()
    .failure()
    .stderr(predicates::str::contains("no_outlets.gpkg"));
    routing(
        "detect-outlets",
        &[p("mfd.tif"), p("o2.gpkg")],
        &["--method", "d8"],
    )
    .assert()
    .failure()
    .stderr(predicates::str::contains("mfd.tif"));
    assert!(!p("w2.gpkg").exists() && !p("o2.gpkg").exists());

    routing(
        "flow-accum",
        &[p("d8.tif"), p("acc.tif")],
        &["--method", "d8"],
    )
    .assert()
    .success();
    let streams = json_of(&mut routing(
        "strahler-streams",
        &[
            p("d8.tif"),
            p("acc.tif"),
            p("filled.tif"),
            p("streams.gpkg"),
        ],
        &[
            "--threshold",
            "30",
            "--river-order",
            "3",
            "--autotune",
            "--json",
        ],
    ));
    assert!(streams["outputs"][0]["features"].as_u64().unwrap() > 0);
    routing(
        "subwatersheds",
        &[p("d8.tif"), p("streams.gpkg"), p("subwatersheds.gpkg")],
        &[],
    )
    .assert()
    .success();
    let info = pgp::core::vector_info(p("subwatersheds.gpkg"), &Default::default()).unwrap();
    assert_eq!(info.layer_name, "subwatersheds");
    assert!(info.feature_count > 0);
    // Streams that are not Strahler streams: the file and the missing field are named.
    routing(
        "subwatersheds",
        &[p("d8.tif"), p("outlets.gpkg"), p("sw2.gpkg")],
        &[],
    )
    .assert()
    .failure()
    .stderr(predicates::str::contains("outlets.gpkg"))
    .stderr(predicates::str::contains("order"));
    assert!(!p("sw2.gpkg").exists());

    // The same steps as pipeline ops.
    let toml = p("pipeline.toml");
    std::fs::write(
        &toml,
        r#"
[[task]]
name = "outlets"
op = "pgp.routing.detect_outlets"
[task.args]
flow_dir = "mfd.tif"
flow_dir_type = "mfd"
target = "work/outlets_mfd.gpkg"

[[task]]
name = "watersheds"
op = "pgp.routing.delineate_watersheds_d8"
[task.args]
d8_flow_dir = "d8.tif"
outflow_vector = "@outlets"
target = "work/watersheds.gpkg"

[[task]]
name = "strahler"
op = "pgp.routing.extract_strahler_streams_d8"
[task.args]
flow_dir = "d8.tif"
flow_accum = "acc.tif"
dem = "filled.tif"
target = "work/strahler.gpkg"
min_flow_accum_threshold = 30

[[task]]
name = "subwatersheds"
op = "pgp.routing.calculate_subwatershed_boundary"
[task.args]
d8_flow_dir = "d8.tif"
strahler_streams = "@strahler"
target = "work/subwatersheds.gpkg"

[[task]]
name = "drain"
op = "pgp.routing.detect_lowest_drain_and_sink"
[task.args]
dem = "dem.tif"
target = "work/drain.json"
"#,
    )
    .unwrap();
    pgp().arg("run").arg(&toml).assert().success();
    assert!(p("work/watersheds.gpkg").exists());
    let info = pgp::core::vector_info(p("work/subwatersheds.gpkg"), &Default::default()).unwrap();
    assert_eq!(
        info.layer_name, "subwatersheds",
        "layers are named after the target, not a temporary"
    );
    let drain: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(p("work/drain.json")).unwrap()).unwrap();
    assert_eq!(drain["drain"], doc["drain"]);
}
