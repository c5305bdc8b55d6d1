//! `pgp calc`.

use pgp::core::sample::DEM_NODATA;

use crate::util::{error_of, json_of, one_line_error, pgp, read, sample_data};

#[test]
fn calc_doubles_each_pixel_and_keeps_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("double.tif");
    pgp()
        .args(["calc", "a*2", "--in"])
        .arg(format!("a={}", data.dem.display()))
        .arg("--out")
        .arg(&out)
        .args(["--executor", "sync"])
        .assert()
        .success();
    let (dem_info, dem) = read(&data.dem);
    let (info, pixels) = read(&out);
    assert_eq!(info.raster_size, dem_info.raster_size);
    assert_eq!(info.geotransform, dem_info.geotransform);
    // Float32 input and an integer constant: Float32 out, nodata the type's maximum.
    assert_eq!(info.datatype.gdal_name(), "Float32");
    let nodata = f32::MAX as f64;
    assert_eq!(info.nodata, vec![Some(nodata)]);
    let mut holes = 0;
    for (d, o) in dem.iter().zip(pixels.iter()) {
        if *d == DEM_NODATA {
            holes += 1;
            assert_eq!(*o, nodata);
        } else {
            assert_eq!(*o, d * 2.0);
        }
    }
    assert!(holes > 0, "the sample DEM has nodata holes");
}

#[test]
fn calc_binds_bands_sets_type_and_nodata_and_runs_on_processes() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("diff.tif");
    let v = json_of(
        pgp()
            .args(["calc", "d - w", "--in"])
            .arg(format!("d={}:1", data.dem.display()))
            .arg("--in")
            .arg(format!("w={}", data.weight.display()))
            .arg("--out")
            .arg(&out)
            .args(["--type", "float64", "--nodata", "-1"])
            .args(["--executor", "multiprocessing:2", "--json"]),
    );
    let (_, dem) = read(&data.dem);
    let (_, weight) = read(&data.weight);
    let (info, pixels) = read(&out);
    assert_eq!(info.datatype.gdal_name(), "Float64");
    assert_eq!(info.nodata, vec![Some(-1.0)]);
    let mut valid = 0u64;
    for ((d, w), o) in dem.iter().zip(weight.iter()).zip(pixels.iter()) {
        if *d == DEM_NODATA || w.is_nan() {
            assert_eq!(*o, -1.0);
        } else {
            valid += 1;
            assert_eq!(*o, d - w);
        }
    }
    let o = &v["outputs"][0];
    assert_eq!(o["path"], out.to_str().unwrap());
    assert_eq!(o["size"], serde_json::json!([64, 64]));
    assert_eq!(o["datatype"], "Float64");
    assert_eq!(o["nodata"], serde_json::json!([-1.0]));
    assert_eq!(o["valid_pixels"], valid);
    assert!(o["blocks"].as_u64().unwrap() >= 1);
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
}

#[test]
fn calc_prints_one_line_per_output_without_json() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("plus.tif");
    let assert = pgp()
        .args(["calc", "a + 1", "--in"])
        .arg(format!("a={}", data.dem.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert_eq!(
        stdout.trim(),
        format!("wrote {} (64 x 64 pixels, Float32)", out.display())
    );
}

/// The caret on the error's second line sits under column `column` of the expression.
fn assert_caret(err: &str, expr: &str, column: usize, under: char) {
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(lines.len(), 2, "message and caret: {err}");
    assert!(lines[0].contains(&format!("column {column}")), "{err}");
    let start = lines[0]
        .find(&format!("`{expr}`"))
        .expect("expression shown")
        + 1;
    let caret = lines[1].find('^').expect("a caret");
    assert_eq!(lines[1].trim(), "^", "{err}");
    assert_eq!(caret, start + column - 1, "{err}");
    assert_eq!(lines[0][caret..].chars().next(), Some(under), "{err}");
}

#[test]
fn calc_bad_expression_marks_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("never.tif");
    let bind = format!("a={}", data.dem.display());

    let err = error_of(
        pgp()
            .args(["calc", "a * * 2", "--in", &bind, "--out"])
            .arg(&out),
    );
    assert_caret(&err, "a * * 2", 5, '*');

    // An unbound name is found at its column too.
    let err = error_of(
        pgp()
            .args(["calc", "a + zz", "--in", &bind, "--out"])
            .arg(&out),
    );
    assert_caret(&err, "a + zz", 5, 'z');
    assert!(err.contains("zz"), "{err}");
    assert!(!out.exists());
}

#[test]
fn calc_missing_input_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.tif");
    let err = one_line_error(
        pgp()
            .args(["calc", "a + 1", "--in"])
            .arg(format!("a={}", missing.display()))
            .arg("--out")
            .arg(dir.path().join("out.tif")),
    );
    assert!(
        err.contains("nope.tif") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn calc_rejects_bad_arguments_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("out.tif");
    let bind = format!("a={}", data.dem.display());
    let cases: [(&[&str], &[&str]); 6] = [
        (&["--in", "a_path_without_name.tif"], &["--in", "NAME=PATH"]),
        (
            &["--in", &bind, "--type", "float16"],
            &["--type", "Float32"],
        ),
        (&["--in", &bind, "--nodata", "lots"], &["--nodata", "lots"]),
        (
            &["--in", &bind, "--executor", "gpu:2"],
            &["--executor", "gpu"],
        ),
        (
            &["--in", &bind, "--executor", "threading:0"],
            &["--executor", "at least 1"],
        ),
        (
            &["--in", &bind, "--in", &bind],
            &["--in", "`a`", "more than once"],
        ),
    ];
    for (args, expected) in cases {
        let err = one_line_error(
            pgp()
                .args(["calc", "a + 1"])
                .args(args)
                .arg("--out")
                .arg(&out),
        );
        for e in expected {
            assert!(err.contains(e), "{args:?}: expected {e:?} in {err}");
        }
    }
    assert!(!out.exists());
}

#[test]
fn calc_inputs_of_different_sizes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let err = one_line_error(
        pgp()
            .args(["calc", "a + b", "--in"])
            .arg(format!("a={}", data.dem.display()))
            .arg("--in")
            .arg(format!("b={}", data.landcover.display()))
            .arg("--out")
            .arg(dir.path().join("out.tif")),
    );
    assert!(
        err.contains("landcover.tif") && err.contains("dem.tif"),
        "{err}"
    );
}

#[test]
fn calc_progress_lines_count_blocks_and_auto_is_quiet_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    // 300 x 300 pixels in 256 x 256 tiles: four blocks.
    let data = pgp::core::sample::generate(dir.path(), 300, 7).unwrap();
    let run = |progress: Option<&str>| {
        let mut cmd = pgp();
        if let Some(p) = progress {
            cmd.args(["--progress", p]);
        }
        let out = cmd
            .args(["calc", "a*2", "--in"])
            .arg(format!("a={}", data.dem.display()))
            .arg("--out")
            .arg(dir.path().join("double.tif"))
            .args(["--executor", "threading:2"])
            .assert()
            .success();
        String::from_utf8_lossy(&out.get_output().stderr).to_string()
    };
    let lines = run(Some("lines"));
    assert!(lines.contains("pgp: evaluate: 4/4 blocks"), "{lines}");
    assert_eq!(run(None), "", "no terminal: no progress");
    assert_eq!(run(Some("off")), "");
}

/// The stderr of a `-v` run, each line parsed as JSON.
fn log_lines(stderr: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| !l.starts_with("pgp: error: "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn verbose_logs_each_operation_and_the_command_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("double.tif");
    let run = pgp()
        .args(["-v", "calc", "a*2", "--in"])
        .arg(format!("a={}", data.dem.display()))
        .arg("--out")
        .arg(&out)
        .args(["--executor", "threading:2", "--progress", "off"])
        .assert()
        .success();
    let logs = log_lines(&run.get_output().stderr);
    let events: Vec<&str> = logs.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(
        events,
        [
            "note",
            "operation_started",
            "operation_finished",
            "command_finished"
        ],
        "{logs:?}"
    );
    // The output type chosen, and why.
    assert_eq!(logs[0]["operation"], "evaluate");
    assert!(
        logs[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("output type Float32"),
        "{logs:?}"
    );
    let logs = &logs[1..];
    let (started, finished) = (&logs[0], &logs[1]);
    assert_eq!(started["operation"], finished["operation"]);
    assert_eq!(finished["unit"], "blocks");
    assert!(finished["total"].as_u64().unwrap() > 0);
    assert_eq!(finished["done"], finished["total"], "{finished}");
    assert_eq!(logs[2]["command"], "calc");
    assert_eq!(logs[2]["ok"], true);
    let times: Vec<f64> = logs.iter().map(|l| l["t"].as_f64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    // A failure is logged too, with the message that names the file.
    let run = pgp()
        .args(["calc", "a*2", "--in", "a=missing.tif", "--out"])
        .arg(dir.path().join("never.tif"))
        .arg("--verbose")
        .assert()
        .failure();
    let logs = log_lines(&run.get_output().stderr);
    let last = logs.last().unwrap();
    assert_eq!(last["event"], "command_finished");
    assert_eq!(last["ok"], false);
    assert!(
        last["error"].as_str().unwrap().contains("missing.tif"),
        "{last}"
    );
}

#[test]
fn calc_power_chain_is_an_error_not_an_abort() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("never.tif");
    // Python's '**'.join(['a'] * 25000): used to overflow the stack (SIGABRT, exit 134).
    let chain = vec!["a"; 25_000].join("**");
    let run = pgp()
        .args(["calc", &chain, "--in"])
        .arg(format!("a={}", data.dem.display()))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&run.get_output().stderr).to_string();
    assert!(err.starts_with("pgp: error: in expression"), "{err:.200}");
    assert!(err.contains("nested deeper than 256 levels"), "{err:.200}");
    assert!(!out.exists());
}

/// Band `band` of `path`, all pixels as f64.
fn band_pixels(path: &std::path::Path, band: usize) -> Vec<f64> {
    let r = pgp::core::Raster::open(path).unwrap();
    let (cols, rows) = r.size();
    r.read_as::<f64>(band, pgp::core::Window::new(0, 0, cols, rows))
        .unwrap()
        .iter()
        .copied()
        .collect()
}

#[test]
fn calc_out_bands_write_one_band_per_expression_on_every_executor() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let (_, dem) = read(&data.dem);
    let (_, weight) = read(&data.weight);
    let nodata = -1.0;
    // Independent of pgp's evaluation: the same arithmetic on the pixels read back here.
    let band1: Vec<f64> = dem
        .iter()
        .map(|&d| if d == DEM_NODATA { nodata } else { d * 2.0 })
        .collect();
    let band2: Vec<f64> = dem
        .iter()
        .zip(weight.iter())
        .map(|(&d, &w)| {
            if d == DEM_NODATA || w.is_nan() {
                nodata
            } else {
                d - w
            }
        })
        .collect();
    assert!(band2.contains(&nodata));
    for executor in ["sync", "threading:2", "multiprocessing:2"] {
        let out = dir
            .path()
            .join(format!("bands_{}.tif", executor.replace(':', "_")));
        let v = json_of(
            pgp()
                .args(["calc", "--out-band", "d*2", "--out-band", "d - w", "--in"])
                .arg(format!("d={}", data.dem.display()))
                .arg("--in")
                .arg(format!("w={}", data.weight.display()))
                .arg("--out")
                .arg(&out)
                .args(["--type", "float64", "--nodata", "-1"])
                .args(["--executor", executor, "--json"]),
        );
        assert_eq!(v["outputs"][0]["nodata"], serde_json::json!([-1.0, -1.0]));
        assert_eq!(band_pixels(&out, 1), band1, "{executor}");
        assert_eq!(band_pixels(&out, 2), band2, "{executor}");
        // `--json` reports every band's statistics, not band 1's for all.
        let stats = &v["outputs"][0]["band_statistics"];
        assert_eq!(stats.as_array().map(Vec::len), Some(2), "{v}");
        for (i, pixels) in [&band1, &band2].into_iter().enumerate() {
            let (min, max, mean) = valid_min_max_mean(pixels, nodata);
            let s = &stats[i];
            assert_eq!(s["band"], serde_json::json!(i + 1), "{s}");
            assert_eq!(s["min"].as_f64(), Some(min), "band {} {executor}", i + 1);
            assert_eq!(s["max"].as_f64(), Some(max), "band {} {executor}", i + 1);
            let got = s["mean"].as_f64().unwrap();
            assert!((got - mean).abs() <= 1e-9 * mean.abs(), "{got} {mean}");
        }
        assert_eq!(v["outputs"][0]["statistics"]["mean"], stats[0]["mean"]);
    }
}

/// Min, max and mean of the pixels that are not `nodata`.
fn valid_min_max_mean(pixels: &[f64], nodata: f64) -> (f64, f64, f64) {
    let valid: Vec<f64> = pixels.iter().copied().filter(|&p| p != nodata).collect();
    let min = valid.iter().copied().fold(f64::INFINITY, f64::min);
    let max = valid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max, valid.iter().sum::<f64>() / valid.len() as f64)
}

#[test]
fn calc_out_band_and_expr_together_are_refused_naming_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(dir.path());
    let out = dir.path().join("never.tif");
    let bind = format!("a={}", data.dem.display());
    let err = one_line_error(
        pgp()
            .args([
                "calc",
                "a + 1",
                "--out-band",
                "a * 2",
                "--in",
                &bind,
                "--out",
            ])
            .arg(&out),
    );
    assert!(err.contains("--out-band") && err.contains("EXPR"), "{err}");
    let err = one_line_error(pgp().args(["calc", "--in", &bind, "--out"]).arg(&out));
    assert!(err.contains("--out-band") && err.contains("EXPR"), "{err}");
    // A bad band expression is marked at its column, like EXPR.
    let err = error_of(
        pgp()
            .args([
                "calc",
                "--out-band",
                "a",
                "--out-band",
                "a * * 2",
                "--in",
                &bind,
            ])
            .arg("--out")
            .arg(&out),
    );
    assert_caret(&err, "a * * 2", 5, '*');
    assert!(!out.exists());
}
