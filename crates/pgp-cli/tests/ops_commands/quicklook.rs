//! `pgp quicklook`: the PNG it writes and the errors it names.

use crate::util::{json_of, one_line_error, pgp, sample_data};

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let info = reader.info();
    (info.width, info.height)
}

#[test]
fn quicklook_writes_the_same_png_for_the_same_input_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("dem.png");
    let args = |out: &std::path::Path| {
        let mut c = pgp();
        c.arg("quicklook").arg(&data.dem).arg(out).args([
            "--colormap",
            "terrain",
            "--hillshade",
            "--max-size",
            "48",
            "--json",
        ]);
        c
    };
    let v = json_of(&mut args(&out));
    assert_eq!(v["image_size"], serde_json::json!([48, 48]));
    assert_eq!(v["raster_size"], serde_json::json!([64, 64]));
    // 48 pixels and the 28-pixel legend, on the legend's 200-pixel minimum width.
    assert_eq!(png_size(&std::fs::read(&out).unwrap()), (200, 48 + 28));
    let again = dir.path().join("again.png");
    json_of(&mut args(&again));
    assert_eq!(std::fs::read(&out).unwrap(), std::fs::read(&again).unwrap());

    let plain = dir.path().join("plain.png");
    let line = pgp()
        .arg("quicklook")
        .arg(&data.landcover)
        .arg(&plain)
        .args(["--colormap", "categorical", "--no-legend"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&line.get_output().stdout).to_string();
    assert!(
        text.starts_with("wrote ") && text.contains("plain.png"),
        "{text}"
    );
    let (w, h) = png_size(&std::fs::read(&plain).unwrap());
    let info = pgp::core::raster_info(&data.landcover).unwrap();
    assert_eq!((w as usize, h as usize), info.raster_size);
}

#[test]
fn quicklook_errors_name_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("x.png");
    let err = one_line_error(
        pgp()
            .arg("quicklook")
            .arg(&data.dem)
            .arg(&out)
            .args(["--log", "--range", "-1,10"]),
    );
    assert!(err.contains("--range") && err.contains("above 0"), "{err}");
    let err = one_line_error(
        pgp()
            .arg("quicklook")
            .arg(&data.dem)
            .arg(&out)
            .args(["--band", "3"]),
    );
    assert!(err.contains("dem.tif") && err.contains('3'), "{err}");
    let err = one_line_error(
        pgp()
            .arg("quicklook")
            .arg(dir.path().join("nope.tif"))
            .arg(&out),
    );
    assert!(err.contains("nope.tif") && err.contains("RASTER"), "{err}");
    let usage = pgp()
        .arg("quicklook")
        .arg(&data.dem)
        .arg(&out)
        .args(["--colormap", "jet"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&usage.get_output().stderr).to_string();
    assert!(err.contains("jet") && err.contains("viridis"), "{err}");
    assert!(!out.exists(), "nothing written after an error");
}
