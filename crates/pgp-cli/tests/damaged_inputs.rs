//! A truncated LZW GeoTIFF (an interrupted download) given to `pgp warp` or to a pipeline's
//! align task: an error naming it, no output, and no record that a rerun would accept.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use pgp::core::{raster_info, sample};

fn pgp() -> Command {
    Command::cargo_bin("pgp").unwrap()
}

/// Cut `path` to half its bytes, in place.
fn truncate_half(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

fn stderr_of_failure(cmd: &mut Command) -> String {
    let out = cmd.assert().failure();
    String::from_utf8_lossy(&out.get_output().stderr).to_string()
}

#[test]
fn warp_onto_the_source_grid_refuses_a_truncated_source() {
    let dir = tempfile::tempdir().unwrap();
    let dem: PathBuf = dir.path().join("dem.tif");
    sample::dem(&dem, 512, 9).unwrap();
    truncate_half(&dem);
    raster_info(&dem).expect("the truncated file still opens");
    let out = dir.path().join("out.tif");
    let err = stderr_of_failure(pgp().arg("warp").args([&dem, &out]).args([
        "--resample",
        "bilinear",
        "--executor",
        "sync",
    ]));
    assert!(
        err.starts_with("pgp: error: ") && err.contains("dem.tif"),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn a_pipeline_does_not_record_a_damaged_align_output_as_done() {
    let dir = tempfile::tempdir().unwrap();
    sample::generate(dir.path().join("data"), 300, 5).unwrap();
    let mut table = String::from("lucode,coef\n");
    for k in 1..=12 {
        table.push_str(&format!("{k},{}\n", 0.1 * k as f64));
    }
    std::fs::write(dir.path().join("biophysical.csv"), table).unwrap();
    std::fs::create_dir(dir.path().join("work")).unwrap();
    let example =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/pipeline/pipeline.toml");
    let file = dir.path().join("pipeline.toml");
    std::fs::copy(example, &file).unwrap();
    truncate_half(&dir.path().join("data/dem.tif"));

    let err = stderr_of_failure(pgp().arg("run").arg(&file));
    assert!(err.contains("align") && err.contains("dem.tif"), "{err}");
    assert!(!dir.path().join("work/dem_aligned.tif").exists());
    // Nothing claims completion: a rerun would run align again.
    let out = pgp()
        .arg("run")
        .arg("--dry-run")
        .arg(&file)
        .assert()
        .success();
    let plan = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(plan.starts_with("run   align"), "{plan}");
}
