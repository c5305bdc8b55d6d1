//! The calculator family on a process pool (part of the `processes` test binary, which is its
//! own worker program).

mod common;

use common::*;
use pgp_core::DataType;
use pgp_core::Raster;
use pgp_exec::{ExecError, Executor};
use pgp_ops::calc::{
    evaluate, raster_calculator, raster_map, reclassify_raster, CalcInput, CalcOptions, ExprInput,
    ExprOptions, ExpressionJob, MapOptions, ReclassifyOptions,
};
use pgp_ops::Error;

/// The checks of this file (run by `processes.rs`, whose `main()` is the workers' too).
pub fn checks() -> Vec<(&'static str, fn())> {
    vec![
        ("expressions_match_threads", expressions_match_threads),
        (
            "several_bands_are_exact_on_every_executor",
            several_bands_are_exact_on_every_executor,
        ),
        (
            "reclassify_reports_unmapped_values",
            reclassify_reports_unmapped_values,
        ),
        (
            "closures_are_refused_before_any_output",
            closures_are_refused_before_any_output,
        ),
        (
            "errors_are_the_same_variant_on_every_executor",
            errors_are_the_same_variant_on_every_executor,
        ),
    ]
}

fn expressions_match_threads() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (517, 263));
    let bindings = vec![
        (
            "a".to_string(),
            ExprInput::Raster {
                path: i.a.clone(),
                band: 1,
            },
        ),
        (
            "b".to_string(),
            ExprInput::Raster {
                path: i.b.clone(),
                band: 1,
            },
        ),
        ("k".to_string(), ExprInput::Scalar(0.5)),
    ];
    let expr = "where(isnodata(b), a, sin(a) * k + b)".parse().unwrap();
    let opts = ExprOptions {
        datatype: Some(DataType::F64),
        nodata: Some(-1.0),
        ..Default::default()
    };
    let threads = dir.path().join("threads.tif");
    let t = evaluate(
        &expr,
        &bindings,
        &threads,
        &opts,
        &Executor::threads(2).unwrap(),
    )
    .unwrap();
    let procs = dir.path().join("procs.tif");
    let small_blocks = ExprOptions {
        calc: CalcOptions {
            largest_block: 4096,
            ..Default::default()
        },
        ..opts.clone()
    };
    let pool = Executor::processes(2).unwrap();
    let p = evaluate(&expr, &bindings, &procs, &opts, &pool).unwrap();
    assert_eq!(pixel_sha256(&procs), pixel_sha256(&threads));
    assert_eq!(
        p,
        pgp_ops::calc::CalcReport {
            target: procs.clone(),
            ..t.clone()
        }
    );
    // Smaller blocks: many tasks, still the same pixels.
    let procs2 = dir.path().join("procs2.tif");
    evaluate(&expr, &bindings, &procs2, &small_blocks, &pool).unwrap();
    assert_eq!(pixel_sha256(&procs2), pixel_sha256(&threads));
    // An output pgp cannot write as raw tiles (DEFLATE strips): workers send pixels, not tiles.
    let procs3 = dir.path().join("procs3.tif");
    let deflate = ExprOptions {
        calc: CalcOptions {
            driver: pgp_core::RasterDriver::new("GTiff", ["COMPRESS=DEFLATE"]),
            ..Default::default()
        },
        ..opts.clone()
    };
    evaluate(&expr, &bindings, &procs3, &deflate, &pool).unwrap();
    assert_eq!(pixel_sha256(&procs3), pixel_sha256(&threads));
    // An error inside a worker reaches the caller and leaves no output.
    let gone = dir.path().join("gone.tif");
    std::fs::copy(&i.a, &gone).unwrap();
    let expr2 = "a + g".parse().unwrap();
    let mut b2 = bindings.clone();
    b2.push((
        "g".to_string(),
        ExprInput::Raster {
            path: gone.clone(),
            band: 1,
        },
    ));
    let target = dir.path().join("failed.tif");
    evaluate(
        &expr2,
        &b2,
        &target,
        &ExprOptions {
            datatype: Some(DataType::F32),
            ..Default::default()
        },
        &pool,
    )
    .unwrap();
    std::fs::write(&gone, b"not a raster any more").unwrap();
    let target = dir.path().join("failed2.tif");
    let err = evaluate(&expr2, &b2, &target, &ExprOptions::default(), &pool).unwrap_err();
    assert!(err.to_string().contains("gone.tif"), "{err}");
    assert!(!target.exists() && leftovers(dir.path()).is_empty());
}

/// A job with one expression per band (the request pipeline files and graph nodes run): every
/// band's pixels against the same arithmetic done here on the inputs' pixels, the same file on
/// every executor, and each band's statistics written.
fn several_bands_are_exact_on_every_executor() {
    let dir = tempfile::tempdir().unwrap();
    let size = (517, 263);
    let i = inputs(dir.path(), size);
    let job = |target: &str| -> ExpressionJob {
        serde_json::from_value(serde_json::json!({
            "expression": ["lc * 2", "a + lc", "where(isnodata(a), 7, a * k)"],
            "inputs": { "a": i.a, "lc": i.lc, "k": 0.5 },
            "target": dir.path().join(target),
            "options": { "datatype": "F64", "nodata": -1.0 },
        }))
        .unwrap()
    };
    let whole = pgp_core::Window::new(0, 0, size.0, size.1);
    let a = Raster::open(&i.a).unwrap().read::<f32>(1, whole).unwrap();
    let lc = Raster::open(&i.lc).unwrap().read::<u8>(1, whole).unwrap();
    let a_nodata = |v: f32| f64::from(v) == A_NODATA;
    let lc_nodata = |v: u8| f64::from(v) == LC_NODATA;
    let expected: Vec<Vec<f64>> = vec![
        lc.iter()
            .map(|&l| {
                if lc_nodata(l) {
                    -1.0
                } else {
                    f64::from(l) * 2.0
                }
            })
            .collect(),
        a.iter()
            .zip(lc.iter())
            .map(|(&a, &l)| {
                if a_nodata(a) || lc_nodata(l) {
                    -1.0
                } else {
                    f64::from(a) + f64::from(l)
                }
            })
            .collect(),
        a.iter()
            .map(|&a| if a_nodata(a) { 7.0 } else { f64::from(a) * 0.5 })
            .collect(),
    ];
    assert!(expected[0].contains(&-1.0) && expected[1].contains(&-1.0));
    let executors = [
        Executor::sync(),
        Executor::threads(2).unwrap(),
        Executor::processes(2).unwrap(),
    ];
    let mut sums = Vec::new();
    for (n, exec) in executors.iter().enumerate() {
        let job = job(&format!("out{n}.tif"));
        let report = job.run(exec).unwrap();
        let out = Raster::open(&job.target).unwrap();
        assert_eq!(out.band_count(), 3, "{}", exec.spec());
        for (band, want) in expected.iter().enumerate() {
            assert_eq!(out.nodata(band + 1).unwrap(), Some(-1.0));
            let got = out.read::<f64>(band + 1, whole).unwrap();
            assert_eq!(
                got.iter().copied().collect::<Vec<f64>>(),
                *want,
                "band {}",
                band + 1
            );
            let valid: Vec<f64> = want.iter().copied().filter(|&v| v != -1.0).collect();
            let stats = out
                .statistics(band + 1)
                .unwrap()
                .expect("statistics written");
            let max = valid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            assert_eq!(stats.max, max, "band {}", band + 1);
        }
        assert_eq!(
            report.valid_pixels,
            Some(expected[0].iter().filter(|&&v| v != -1.0).count() as u64)
        );
        sums.push(pixel_sha256(&job.target));
    }
    assert!(sums.windows(2).all(|w| w[0] == w[1]), "{sums:?}");
}

fn reclassify_reports_unmapped_values() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (517, 263));
    let pool = Executor::processes(2).unwrap();
    let map: Vec<(f64, f64)> = (1..=12)
        .map(|k| (f64::from(k), f64::from(k) * 2.0))
        .collect();
    let target = dir.path().join("out.tif");
    let err = reclassify_raster(
        &i.lc,
        1,
        &map,
        &target,
        DataType::U8,
        Some(0.0),
        &ReclassifyOptions::default(),
        &pool,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::UnmappedValues { values, .. } if values == &[13.0]),
        "{err}"
    );
    assert!(!target.exists());
    let full: Vec<(f64, f64)> = (1..=13)
        .map(|k| (f64::from(k), f64::from(k) * 2.0))
        .collect();
    reclassify_raster(
        &i.lc,
        1,
        &full,
        &target,
        DataType::U8,
        Some(0.0),
        &ReclassifyOptions::default(),
        &pool,
    )
    .unwrap();
    let threads = dir.path().join("threads.tif");
    reclassify_raster(
        &i.lc,
        1,
        &full,
        &threads,
        DataType::U8,
        Some(0.0),
        &ReclassifyOptions::default(),
        &Executor::threads(2).unwrap(),
    )
    .unwrap();
    assert_eq!(pixel_sha256(&target), pixel_sha256(&threads));
}

fn closures_are_refused_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (64, 64));
    let pool = Executor::processes(1).unwrap();
    let target = dir.path().join("out.tif");
    let err = raster_calculator(
        &[CalcInput::raster(&i.a, 1)],
        |b| b.to_f64(0),
        &target,
        DataType::F64,
        None,
        &CalcOptions::default(),
        &pool,
    )
    .unwrap_err();
    let Error::Exec(ExecError::NotSendable { reason }) = &err else {
        panic!("{err}")
    };
    assert!(
        reason.contains("raster_calculator") && reason.contains("expression"),
        "{reason}"
    );
    let err = raster_map(
        |v| Ok(v[0].to_owned()),
        &[&i.a],
        &target,
        &MapOptions::default(),
        &pool,
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::Exec(ExecError::NotSendable { .. })),
        "{err}"
    );
    assert!(!target.exists());
}

/// A VRT whose source file is missing: it opens (the caller reads its description), but every
/// block read fails, so the error arises where blocks are read: in the workers on a pool.
fn broken_vrt(dir: &std::path::Path) -> std::path::PathBuf {
    let vrt = dir.join("broken.vrt");
    std::fs::write(
        &vrt,
        r#"<VRTDataset rasterXSize="64" rasterYSize="64">
  <GeoTransform>0, 1, 0, 0, 0, -1</GeoTransform>
  <VRTRasterBand dataType="Float32" band="1">
    <SimpleSource>
      <SourceFilename relativeToVRT="1">missing_source.tif</SourceFilename>
      <SourceBand>1</SourceBand>
    </SimpleSource>
  </VRTRasterBand>
</VRTDataset>"#,
    )
    .unwrap();
    vrt
}

/// A caller matches one variant whatever the executor, also when the error arises in a worker
/// process (which used to arrive as `ExecError::TaskFailed` with the message as text).
fn errors_are_the_same_variant_on_every_executor() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (64, 64));
    let small_dir = dir.path().join("small");
    std::fs::create_dir_all(&small_dir).unwrap();
    let small = inputs(&small_dir, (32, 64));
    let vrt = broken_vrt(dir.path());
    let missing = dir.path().join("no_such.tif");
    let target = dir.path().join("out.tif");
    let run = |exec: &Executor, bindings: &[(&str, &std::path::Path, usize)], expr: &str| {
        let bindings: Vec<(String, ExprInput)> = bindings
            .iter()
            .map(|(n, p, band)| {
                (
                    n.to_string(),
                    ExprInput::Raster {
                        path: p.to_path_buf(),
                        band: *band,
                    },
                )
            })
            .collect();
        let expr = pgp_ops::Expression::parse(expr).unwrap();
        let err = evaluate(&expr, &bindings, &target, &ExprOptions::default(), exec).unwrap_err();
        assert!(!target.exists(), "{err}");
        err
    };
    let warp_with_mask = |exec: &Executor, mask: &std::path::Path| {
        let options = pgp_ops::WarpOptions {
            mask: Some(pgp_ops::WarpMask::Raster(mask.to_path_buf())),
            ..Default::default()
        };
        let err = pgp_ops::warp_raster(
            &i.a,
            (2.0, -2.0),
            &target,
            pgp_ops::ResampleMethod::Near,
            &options,
            exec,
        )
        .unwrap_err();
        assert!(!target.exists(), "{err}");
        err
    };
    for exec in [
        Executor::sync(),
        Executor::threads(2).unwrap(),
        Executor::processes(2).unwrap(),
    ] {
        let on = exec.spec();
        // Missing input: a file that is not there, and a source that fails while blocks are read.
        let err = run(&exec, &[("a", &missing, 1)], "a * 2");
        assert!(
            matches!(&err, Error::Core(pgp_core::Error::FileNotFound { path }) if *path == missing),
            "{on}: {err:?}"
        );
        let err = run(&exec, &[("a", &vrt, 1)], "a * 2");
        assert!(
            matches!(&err, Error::Core(pgp_core::Error::Gdal { path, .. }) if *path == vrt),
            "{on}: {err:?}"
        );
        // Size mismatch: between inputs, and of a warp's mask (checked in the worker).
        let err = run(&exec, &[("a", &i.a, 1), ("b", &small.b, 1)], "a + b");
        assert!(
            matches!(&err, Error::SizeMismatch { path, size: (32, 64), .. } if *path == small.b),
            "{on}: {err:?}"
        );
        let err = warp_with_mask(&exec, &small.lc);
        assert!(
            matches!(&err, Error::InvalidArgument { name, .. } if name == "mask_raster_path"),
            "{on}: {err:?}"
        );
        // Bad band.
        let err = run(&exec, &[("a", &i.a, 3)], "a * 2");
        assert!(
            matches!(
                &err,
                Error::Core(pgp_core::Error::BandOutOfRange {
                    band: 3,
                    count: 1,
                    ..
                })
            ),
            "{on}: {err:?}"
        );
    }
}
