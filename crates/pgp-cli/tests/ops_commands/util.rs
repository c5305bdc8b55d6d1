//! Helpers shared by the command tests.

use std::path::Path;

use assert_cmd::Command;
use ndarray::Array2;
use pgp::core::{raster_info, sample, Raster, RasterInfo, Window};
use serde_json::Value;

/// The `pgp` binary.
pub fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

/// A small sample set (64 x 64 DEM) in `dir`.
pub fn sample_data(dir: &Path) -> sample::SampleData {
    sample::generate(dir, 64, 7).unwrap()
}

/// Band 1 of a raster as float64, with its description.
pub fn read(path: &Path) -> (RasterInfo, Array2<f64>) {
    let info = raster_info(path).unwrap();
    let (cols, rows) = info.raster_size;
    let pixels = Raster::open(path)
        .unwrap()
        .read_as::<f64>(1, Window::full(cols, rows))
        .unwrap();
    (info, pixels)
}

/// Run successfully and parse stdout as JSON.
pub fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.assert().success();
    serde_json::from_slice(&out.get_output().stdout).unwrap()
}

/// Run, expect failure, return stderr (checked to be `pgp: error: ...`).
pub fn error_of(cmd: &mut Command) -> String {
    let out = cmd.assert().failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.starts_with("pgp: error: "), "{err}");
    err
}

/// Like [`error_of`], and the message is one line.
pub fn one_line_error(cmd: &mut Command) -> String {
    let err = error_of(cmd);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// Two rasters have the same grid, type, nodata and pixels (NaN equal to NaN).
pub fn assert_same_raster(a: &Path, b: &Path) {
    let (ia, pa) = read(a);
    let (ib, pb) = read(b);
    assert_eq!(ia.raster_size, ib.raster_size);
    assert_eq!(ia.geotransform, ib.geotransform);
    assert_eq!(ia.datatype, ib.datatype);
    assert_eq!(format!("{:?}", ia.nodata), format!("{:?}", ib.nodata));
    assert_eq!(ia.projection_wkt, ib.projection_wkt);
    for ((idx, x), y) in pa.indexed_iter().zip(pb.iter()) {
        assert!(
            x == y || (x.is_nan() && y.is_nan()),
            "pixel {idx:?}: {x} != {y} ({} vs {})",
            a.display(),
            b.display()
        );
    }
}
