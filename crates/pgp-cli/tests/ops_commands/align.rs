//! `pgp align`.

use std::path::{Path, PathBuf};

use pgp::core::{raster_info, BoundingBox};
use pgp::exec::Executor;
use pgp::ops::{align_and_resize_raster_stack, AlignOptions, BoundingBoxMode, ResampleMethod};

use crate::util::{assert_same_raster, json_of, one_line_error, pgp, sample_data};

fn paths(dir: &Path, names: &[&str]) -> Vec<PathBuf> {
    names.iter().map(|n| dir.join(n)).collect()
}

#[test]
fn align_gives_the_library_result() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let outs = paths(dir.path(), &["dem_a.tif", "lc_a.tif"]);
    let v = json_of(
        pgp()
            .arg("align")
            .args([&data.dem, &data.landcover])
            .arg("--out")
            .args(&outs)
            .args(["--pixel-size", "30,-30", "--bbox", "intersection"])
            .args(["--resample", "bilinear,near", "--align-to", "0"])
            .args(["--executor", "threading:2", "--json"]),
    );
    let expected = paths(dir.path(), &["dem_lib.tif", "lc_lib.tif"]);
    let report = align_and_resize_raster_stack(
        &[&data.dem, &data.landcover],
        &expected,
        &[ResampleMethod::Bilinear, ResampleMethod::Near],
        (30.0, -30.0),
        BoundingBoxMode::Intersection,
        &AlignOptions {
            raster_align_index: Some(0),
            ..Default::default()
        },
        &Executor::sync(),
    )
    .unwrap();
    for (out, exp) in outs.iter().zip(&expected) {
        assert_same_raster(out, exp);
    }
    let outputs = v["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), 2);
    let names = ["bilinear", "near"];
    let inputs = [&data.dem, &data.landcover];
    for (i, o) in outputs.iter().enumerate() {
        assert_eq!(o["path"], outs[i].to_str().unwrap());
        assert_eq!(o["input"], inputs[i].to_str().unwrap());
        assert_eq!(o["resample"], names[i]);
        let (cols, rows) = report.grid.size();
        assert_eq!(o["size"], serde_json::json!([cols, rows]));
        assert_eq!(
            o["bounding_box"],
            serde_json::json!(report.grid.bounding_box.to_array())
        );
        let how = serde_json::to_value(report.paths[i]).unwrap();
        let how = how.as_str().unwrap();
        let snake = match how {
            "Warped" => "warped",
            "AlignedCopy" => "aligned_copy",
            "FileCopy" => "file_copy",
            other => panic!("unexpected {other}"),
        };
        assert_eq!(o["how"], snake);
    }
}

#[test]
fn align_one_method_serves_every_input_and_an_explicit_box_sets_the_grid() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let outs = paths(dir.path(), &["dem_a.tif", "precip_a.tif"]);
    pgp()
        .arg("align")
        .args([&data.dem, &data.precip])
        .arg("--out")
        .args(&outs)
        .args(["--pixel-size", "60,-60", "--resample", "near"])
        .args(["--bbox", "400300,4998500,401200,4999400"])
        .assert()
        .success();
    let bbox = BoundingBox::new(400300.0, 4998500.0, 401200.0, 4999400.0);
    let expected = paths(dir.path(), &["dem_lib.tif", "precip_lib.tif"]);
    align_and_resize_raster_stack(
        &[&data.dem, &data.precip],
        &expected,
        &[ResampleMethod::Near, ResampleMethod::Near],
        (60.0, -60.0),
        BoundingBoxMode::Explicit(bbox),
        &AlignOptions::default(),
        &Executor::sync(),
    )
    .unwrap();
    for (out, exp) in outs.iter().zip(&expected) {
        let info = raster_info(out).unwrap();
        assert_eq!(info.raster_size, (15, 15));
        assert_eq!(info.bounding_box, bbox);
        assert_same_raster(out, exp);
    }
}

#[test]
fn align_rejects_bad_lists_and_values_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let dem = data.dem.to_str().unwrap();
    let lc = data.landcover.to_str().unwrap();
    let pr = data.precip.to_str().unwrap();
    let o1 = dir.path().join("o1.tif");
    let o2 = dir.path().join("o2.tif");
    let o3 = dir.path().join("o3.tif");
    let (o1, o2, o3) = (
        o1.to_str().unwrap(),
        o2.to_str().unwrap(),
        o3.to_str().unwrap(),
    );
    let good = ["--pixel-size", "30,-30", "--bbox", "union"];
    let missing = dir.path().join("absent.tif");
    let missing = missing.to_str().unwrap();
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        // Two inputs, one output.
        (
            vec![dem, lc, "--out", o1, "--resample", "near"],
            vec!["--out", "1 output(s) for 2 input(s)"],
        ),
        // Three inputs, two methods.
        (
            vec![
                dem,
                lc,
                pr,
                "--out",
                o1,
                o2,
                o3,
                "--resample",
                "near,bilinear",
            ],
            vec!["--resample", "2 methods for 3 inputs"],
        ),
        (
            vec![dem, "--out", o1, "--resample", "bilinaer"],
            vec![
                "--resample",
                "bilinaer",
                "near",
                "bilinear",
                "cubicspline",
                "q3",
                "sum",
            ],
        ),
        (
            vec![
                dem,
                lc,
                "--out",
                o1,
                o2,
                "--resample",
                "near",
                "--align-to",
                "2",
            ],
            vec!["--align-to", "2 is out of range for 2 input(s)"],
        ),
        (
            vec![dem, lc, "--out", o1, o1, "--resample", "near"],
            vec!["--out", "o1.tif", "more than once"],
        ),
        (
            vec![dem, missing, "--out", o1, o2, "--resample", "near"],
            vec!["absent.tif", "no such file"],
        ),
    ];
    for (args, expected) in cases {
        let err = one_line_error(pgp().arg("align").args(&args).args(good));
        for e in expected {
            assert!(err.contains(e), "{args:?}: expected {e:?} in {err}");
        }
    }
    // Bad --bbox, --pixel-size and --executor values.
    let value_cases: [(&[&str], &[&str]); 6] = [
        (
            &["--pixel-size", "30,-30", "--bbox", "1,2,3"],
            &["--bbox", "3 number"],
        ),
        (
            &["--pixel-size", "30,-30", "--bbox", "5,2,3,4"],
            &["--bbox", "MINX < MAXX"],
        ),
        (
            &["--pixel-size", "30,-30", "--bbox", "everything"],
            &["--bbox", "union, intersection"],
        ),
        (
            &["--pixel-size", "abc", "--bbox", "union"],
            &["--pixel-size", "X,Y"],
        ),
        (
            &["--pixel-size", "0,-30", "--bbox", "union"],
            &["--pixel-size", "non-zero"],
        ),
        (
            &[
                "--pixel-size",
                "30,-30",
                "--bbox",
                "union",
                "--executor",
                "multiprocessing:x",
            ],
            &["--executor", "multiprocessing:x"],
        ),
    ];
    for (args, expected) in value_cases {
        let err = one_line_error(
            pgp()
                .args(["align", dem, "--out", o1, "--resample", "near"])
                .args(args),
        );
        for e in expected {
            assert!(err.contains(e), "{args:?}: expected {e:?} in {err}");
        }
    }
    for o in [o1, o2, o3] {
        assert!(!Path::new(o).exists());
    }
}

/// `pgp align` and a `pgp.align` pipeline task given the same values (a box off the pixel
/// edges, one method for all inputs, a target projection) write the same rasters: the flags
/// are read into the request the task runs, whose fields are named as
/// `align_and_resize_raster_stack`'s arguments.
#[test]
fn align_writes_what_a_pipeline_task_with_the_same_values_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let bbox = "400310.5,4998520.25,401190,4999380.75";
    let cli = paths(dir.path(), &["cli_dem.tif", "cli_lc.tif"]);
    pgp()
        .arg("align")
        .args([&data.dem, &data.landcover])
        .arg("--out")
        .args(&cli)
        .args([
            "--pixel-size",
            "25,-25",
            "--bbox",
            bbox,
            "--resample",
            "bilinear",
        ])
        .args([
            "--align-to",
            "1",
            "--t-srs",
            "EPSG:32631",
            "--executor",
            "sync",
        ])
        .assert()
        .success();
    let toml = dir.path().join("pipeline.toml");
    let task = format!(
        "[[task]]\nname = \"align\"\nop = \"pgp.align\"\n[task.args]\n\
         base_rasters = [{:?}, {:?}]\ntargets = [\"task_dem.tif\", \"task_lc.tif\"]\n\
         resample_methods = [\"bilinear\"]\ntarget_pixel_size = [25.0, -25.0]\n\
         bounding_box_mode = \"{bbox}\"\nraster_align_index = 1\n\
         target_projection = \"EPSG:32631\"\n",
        data.dem, data.landcover
    );
    std::fs::write(&toml, task).unwrap();
    pgp()
        .arg("run")
        .arg(&toml)
        .args(["--executor", "sync"])
        .assert()
        .success();
    let task = paths(dir.path(), &["task_dem.tif", "task_lc.tif"]);
    for (a, b) in cli.iter().zip(&task) {
        assert_same_raster(a, b);
    }
    let info = raster_info(&cli[0]).unwrap();
    assert_eq!(info.geotransform.pixel_size(), (25.0, -25.0));
}
