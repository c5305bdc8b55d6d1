//! Commands that used to succeed silently with a wrong or empty result (issue 23 items 12, 13):
//! `pgp calc "r + g"` on Byte bands, `pgp align` with a box outside the inputs or inputs in
//! different CRSs, `pgp zonal-stats` where no polygon meets the raster.

use std::path::Path;

use assert_cmd::Command;
use ndarray::Array2;
use pgp::core::{sample, DataType, GeoTransform, OutputRaster, Raster, RasterSpec, Window};

fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

fn stderr_of_failure(cmd: &mut Command) -> String {
    let out = cmd.assert().failure();
    String::from_utf8_lossy(&out.get_output().stderr).to_string()
}

/// A 100 x 80 Byte band without nodata, like one band of an RGB photo.
fn byte_band(path: &Path, f: impl Fn(usize, usize) -> u8) {
    let spec = RasterSpec::new(
        100,
        80,
        DataType::U8,
        GeoTransform::north_up(sample::X0, sample::Y0, 30.0, -30.0),
    )
    .projection(Some(sample::projection_wkt().unwrap()));
    let mut out = OutputRaster::create(path, &spec).unwrap();
    let a = Array2::from_shape_fn((80, 100), |(r, c)| f(c, r));
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
}

fn read_u16(path: &Path) -> Array2<u16> {
    Raster::open(path)
        .unwrap()
        .read::<u16>(1, Window::full(100, 80))
        .unwrap()
}

#[test]
fn calc_widens_byte_sums_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (r, g) = (dir.path().join("r.tif"), dir.path().join("g.tif"));
    let red = |c: usize, row: usize| ((c * 7 + row * 3) % 256) as u8;
    let green = |c: usize, row: usize| ((c * 5 + row * 11 + 100) % 256) as u8;
    byte_band(&r, red);
    byte_band(&g, green);
    let out = dir.path().join("sum.tif");
    let done = pgp()
        .args(["-v", "calc", "r + g", "--executor", "sync"])
        .arg("--in")
        .arg(format!("r={}", r.display()))
        .arg("--in")
        .arg(format!("g={}", g.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
    let note = stderr
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["event"] == "note" && v["operation"] == "evaluate")
        .unwrap_or_else(|| panic!("no note in {stderr}"));
    let message = note["message"].as_str().unwrap();
    assert!(
        message.contains("UInt16") && message.contains("510"),
        "{message}"
    );

    let info = pgp::core::raster_info(&out).unwrap();
    assert_eq!(info.datatype, DataType::U16);
    assert_eq!(info.nodata, vec![Some(65535.0)]);
    let sums = read_u16(&out);
    let mut over = 0;
    for ((row, c), &v) in sums.indexed_iter() {
        let want = u16::from(red(c, row)) + u16::from(green(c, row));
        assert_eq!(v, want, "pixel ({row}, {c})");
        over += usize::from(want >= 255);
    }
    assert!(over > 1000, "the case needs sums past 255: {over}");

    // Asking for Byte: refused, not saturated into nodata.
    let byte_out = dir.path().join("byte.tif");
    let err = stderr_of_failure(
        pgp()
            .args(["calc", "r + g", "--type", "Byte", "--executor", "sync"])
            .arg("--in")
            .arg(format!("r={}", r.display()))
            .arg("--in")
            .arg(format!("g={}", g.display()))
            .arg("--out")
            .arg(&byte_out),
    );
    assert!(
        err.contains("Byte cannot hold") && err.contains("0 to 255"),
        "{err}"
    );
    assert!(!byte_out.exists());
}

#[test]
fn align_refuses_a_box_outside_the_inputs_and_inputs_in_two_crss() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample::generate(dir.path(), 64, 2).unwrap();
    let out = dir.path().join("out.tif");
    let err = stderr_of_failure(
        pgp()
            .arg("align")
            .arg(&d.dem)
            .arg("--out")
            .arg(&out)
            .args(["--pixel-size", "30,-30", "--bbox", "0,0,10,10"])
            .args(["--resample", "near"]),
    );
    assert!(err.contains("does not intersect any input"), "{err}");
    assert!(
        err.contains("[0.0, 0.0, 10.0, 10.0]") && err.contains("EPSG:32631"),
        "{err}"
    );
    assert!(!out.exists());

    let geographic = dir.path().join("dem_4326.tif");
    pgp()
        .arg("warp")
        .args([&d.dem, &geographic])
        .args(["--t-srs", "EPSG:4326"])
        .assert()
        .success();
    let outs = [dir.path().join("a.tif"), dir.path().join("b.tif")];
    let align = || {
        let mut c = pgp();
        c.arg("align")
            .args([&d.dem, &geographic])
            .arg("--out")
            .args(&outs)
            .args(["--pixel-size", "30,-30", "--bbox", "intersection"])
            .args(["--resample", "near"]);
        c
    };
    let err = stderr_of_failure(&mut align());
    assert!(err.contains("different CRSs"), "{err}");
    assert!(
        err.contains("EPSG:32631") && err.contains("EPSG:4326"),
        "{err}"
    );
    align().args(["--t-srs", "EPSG:32631"]).assert().success();
    assert!(outs.iter().all(|o| o.exists()));
}

#[test]
fn zonal_stats_warns_when_no_polygon_meets_the_raster() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample::generate(dir.path(), 64, 2).unwrap();
    let far = dir.path().join("far.tif");
    let spec = RasterSpec::new(
        10,
        10,
        DataType::F32,
        GeoTransform::north_up(sample::X0 + 1e5, sample::Y0, 30.0, -30.0),
    )
    .projection(Some(sample::projection_wkt().unwrap()))
    .fill(1.0);
    OutputRaster::create(&far, &spec).unwrap().commit().unwrap();
    let done = pgp()
        .arg("zonal-stats")
        .args([&far, &d.zones])
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&done.get_output().stderr).to_string();
    assert!(
        stderr.starts_with("pgp: warning: zonal_statistics: no polygon of"),
        "{stderr}"
    );
    assert!(
        stderr.contains("far.tif") && stderr.contains("zones.gpkg"),
        "{stderr}"
    );

    let done = pgp()
        .arg("zonal-stats")
        .args([&d.dem, &d.zones])
        .assert()
        .success();
    assert!(done.get_output().stderr.is_empty());
}
