//! Behaviour of raster_map, raster_reduce, reclassify_raster and expressions beyond
//! pygeoprocessing parity.

mod common;

use common::*;
use ndarray::{array, Array2};
use pgp_core::{DataType, DynArray, Raster, Window};
use pgp_exec::Executor;
use pgp_ops::calc::{
    evaluate, evaluate_expression, raster_map, raster_reduce, reclassify_raster, ExprInput,
    ExprOptions, MapOptions, ReclassifyOptions, ReduceOptions,
};
use pgp_ops::Error;

#[test]
fn reclassify_reports_every_unmapped_value_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (517, 263));
    let target = dir.path().join("out.tif");
    // Classes 4, 9 and 13 are missing, and they occur in different blocks.
    let map: Vec<(f64, f64)> = (1..=13)
        .filter(|k| ![4, 9, 13].contains(k))
        .map(|k| (f64::from(k), f64::from(k)))
        .collect();
    for exec in [Executor::sync(), Executor::threads(2).unwrap()] {
        let err = reclassify_raster(
            &i.lc,
            1,
            &map,
            &target,
            DataType::U8,
            Some(0.0),
            &ReclassifyOptions::default(),
            &exec,
        )
        .unwrap_err();
        let Error::UnmappedValues {
            path,
            values,
            truncated,
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!(
            (path, values.as_slice(), *truncated),
            (&i.lc, &[4.0, 9.0, 13.0][..], false)
        );
        assert!(
            err.to_string().contains("3 raster value(s)") && err.to_string().contains("4, 9, 13"),
            "{err}"
        );
        assert!(!target.exists());
        assert!(leftovers(dir.path()).is_empty());
    }
    // Not required: unmapped pixels become the target nodata; nodata pixels too.
    let opts = ReclassifyOptions {
        values_required: false,
        ..Default::default()
    };
    reclassify_raster(
        &i.lc,
        1,
        &map,
        &target,
        DataType::U8,
        Some(0.0),
        &opts,
        &Executor::sync(),
    )
    .unwrap();
    let DynArray::U8(out) = read_all(&target) else {
        panic!()
    };
    let DynArray::U8(lc) = read_all(&i.lc) else {
        panic!()
    };
    check_map(&lc, &out, |v| {
        if v == 255 || [4, 9, 13].contains(&v) {
            0
        } else {
            v
        }
    });
    // The raster's nodata as a key maps nodata pixels.
    let mut with_nodata = map.clone();
    with_nodata.push((255.0, 200.0));
    reclassify_raster(
        &i.lc,
        1,
        &with_nodata,
        &target,
        DataType::U8,
        Some(0.0),
        &opts,
        &Executor::sync(),
    )
    .unwrap();
    let DynArray::U8(out) = read_all(&target) else {
        panic!()
    };
    check_map(&lc, &out, |v| {
        if v == 255 {
            200
        } else if [4, 9, 13].contains(&v) {
            0
        } else {
            v
        }
    });
    // Without a target nodata the raster's nodata must be mapped.
    let err = reclassify_raster(
        &i.lc,
        1,
        &map,
        &target,
        DataType::U8,
        None,
        &ReclassifyOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("target nodata"), "{err}");
    let err = reclassify_raster(
        &i.lc,
        1,
        &[(1.0, 2.0), (1.0, 3.0)],
        &target,
        DataType::U8,
        Some(0.0),
        &opts,
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("more than once"), "{err}");
    let err = reclassify_raster(
        &i.lc,
        1,
        &[],
        &target,
        DataType::U8,
        Some(0.0),
        &opts,
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}

fn check_map(input: &Array2<u8>, output: &Array2<u8>, f: impl Fn(u8) -> u8) {
    for (i, o) in input.iter().zip(output) {
        assert_eq!(*o, f(*i), "input {i}");
    }
}

#[test]
fn reclassify_float_rasters_with_nan_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("f.tif");
    raster(
        &src,
        array![[0.5f32, f32::NAN, 2.25], [2.25, 0.5, f32::NAN]],
        Some(f64::NAN),
    );
    let target = dir.path().join("out.tif");
    let map = [(0.5, 1.0), (2.25, 2.0), (f64::NAN, 9.0)];
    reclassify_raster(
        &src,
        1,
        &map,
        &target,
        DataType::I16,
        Some(-1.0),
        &ReclassifyOptions::default(),
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!(
        read_all(&target),
        DynArray::I16(array![[1, 9, 2], [2, 1, 9]])
    );
    let err = reclassify_raster(
        &src,
        1,
        &[(0.5, 1.0)],
        &target,
        DataType::I16,
        Some(-1.0),
        &ReclassifyOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::UnmappedValues { values, .. } if values == &[2.25]),
        "{err}"
    );
}

#[test]
fn raster_map_masks_nodata_and_picks_type_and_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.tif"), dir.path().join("b.tif"));
    raster(&a, array![[1u8, 255, 3]], Some(255.0));
    raster(&b, array![[-2i16, 5, -32768]], Some(-32768.0));
    let target = dir.path().join("out.tif");
    let rep = raster_map(
        |v| Ok(&v[0] + &v[1]),
        &[&a, &b],
        &target,
        &MapOptions::default(),
        &Executor::sync(),
    )
    .unwrap();
    // u8 + i16 -> i16; nodata i16::MAX.
    assert_eq!(read_all(&target), DynArray::I16(array![[-1, 32767, 32767]]));
    assert_eq!(
        Raster::open(&target).unwrap().nodata(1).unwrap(),
        Some(32767.0)
    );
    assert_eq!(rep.valid_pixels, Some(1));
    let bad = MapOptions {
        target_nodata: Some(-1.0),
        target_dtype: Some(DataType::U8),
        ..Default::default()
    };
    let err = raster_map(
        |v| Ok(v[0].to_owned()),
        &[&a],
        &target,
        &bad,
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("-1 does not fit"), "{err}");
    let err = raster_map(
        |v| Ok(v[0].slice(ndarray::s![..0]).to_owned()),
        &[&a],
        dir.path().join("x.tif"),
        &MapOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("returned 0 values for the 2 valid pixels"),
        "{err}"
    );
}

#[test]
fn raster_reduce_folds_in_block_order_with_or_without_masking() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (517, 263));
    let DynArray::F32(a) = read_all(&i.a) else {
        panic!()
    };
    let all: Vec<f64> = a.iter().map(|v| f64::from(*v)).collect();
    for exec in [Executor::sync(), Executor::threads(2).unwrap()] {
        let unmasked = ReduceOptions {
            mask_nodata: false,
            ..Default::default()
        };
        let count = raster_reduce(|n, b| n + b.len(), &i.a, 1, 0usize, &unmasked, &exec).unwrap();
        assert_eq!(count, all.len());
        let nodata = raster_reduce(
            |n, b| n + b.iter().filter(|v| **v == -9999.0).count(),
            &i.a,
            1,
            0usize,
            &ReduceOptions::default(),
            &exec,
        )
        .unwrap();
        assert_eq!(nodata, 0);
        // Blocks arrive in iterblocks order: the first values are the first tile's first row.
        let first = raster_reduce(
            |mut v: Vec<f64>, b| {
                if v.is_empty() {
                    v.extend_from_slice(&b[..3]);
                }
                v
            },
            &i.a,
            1,
            Vec::new(),
            &unmasked,
            &exec,
        )
        .unwrap();
        assert_eq!(first, all[..3].to_vec());
        // Percentiles from the collected valid values.
        let mut valid = raster_reduce(
            |mut v: Vec<f64>, b| {
                v.extend_from_slice(b);
                v
            },
            &i.a,
            1,
            Vec::new(),
            &ReduceOptions::default(),
            &exec,
        )
        .unwrap();
        valid.sort_by(f64::total_cmp);
        let mut expected: Vec<f64> = all.iter().copied().filter(|v| *v != -9999.0).collect();
        expected.sort_by(f64::total_cmp);
        assert_eq!(valid, expected);
    }
}

#[test]
fn expressions_choose_types_and_report_binding_errors() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (300, 200));
    let exec = Executor::threads(2).unwrap();
    let t = |expr: &str| {
        let target = dir.path().join("t.tif");
        evaluate_expression(
            expr,
            &[("lc", &i.lc, 1), ("a", &i.a, 1)],
            &target,
            &ExprOptions::default(),
            &exec,
        )
        .unwrap();
        let r = Raster::open(&target).unwrap();
        (r.data_type(1).unwrap(), r.nodata(1).unwrap())
    };
    assert_eq!(t("lc == 3"), (DataType::U8, Some(255.0)));
    // Byte values up to 254 (255 is lc's nodata) give up to 761: widened, not saturated.
    assert_eq!(t("max(lc, 2) * 3 - 1"), (DataType::U16, Some(65535.0)));
    assert_eq!(t("lc - 100"), (DataType::I16, Some(32767.0)));
    assert_eq!(t("lc / 2"), (DataType::F32, Some(f64::from(f32::MAX))));
    assert_eq!(t("floor(lc / 2)"), (DataType::U8, Some(255.0)));
    assert_eq!(
        t("where(lc == 3, a * 2.5, -9999)"),
        (DataType::F32, Some(f64::from(f32::MAX)))
    );

    let target = dir.path().join("e.tif");
    let err = evaluate_expression(
        "a + lcc",
        &[("lc", &i.lc, 1), ("a", &i.a, 1)],
        &target,
        &ExprOptions::default(),
        &exec,
    )
    .unwrap_err();
    let Error::Expression(e) = &err else {
        panic!("{err}")
    };
    assert_eq!(e.column(), 5);
    assert!(e.message().contains("`lcc` is not an input"), "{err}");
    let err = evaluate_expression(
        "sqrt(a",
        &[("a", &i.a, 1)],
        &target,
        &ExprOptions::default(),
        &exec,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::Expression(e) if e.column() == 7),
        "{err}"
    );
    let err = evaluate(
        &"k * 2".parse().unwrap(),
        &[("k".into(), ExprInput::Scalar(2.0))],
        &target,
        &ExprOptions::default(),
        &exec,
    )
    .unwrap_err();
    assert!(err.to_string().contains("uses no raster"), "{err}");
    // A nodata value chosen by the user is held by the type chosen...
    let with_nodata = ExprOptions {
        nodata: Some(-9999.0),
        ..Default::default()
    };
    let chosen = dir.path().join("chosen.tif");
    evaluate_expression("lc == 3", &[("lc", &i.lc, 1)], &chosen, &with_nodata, &exec).unwrap();
    let r = Raster::open(&chosen).unwrap();
    assert_eq!(r.data_type(1).unwrap(), DataType::I16);
    assert_eq!(r.nodata(1).unwrap(), Some(-9999.0));
    // ... and refused by a type given that cannot hold it.
    let err = evaluate_expression(
        "lc == 3",
        &[("lc", &i.lc, 1)],
        &target,
        &ExprOptions {
            datatype: Some(DataType::U8),
            ..with_nodata
        },
        &exec,
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("-9999 does not fit the target type Byte"),
        "{err}"
    );
    let dup = [
        ("a".to_string(), ExprInput::Scalar(1.0)),
        ("a".to_string(), ExprInput::Scalar(2.0)),
    ];
    let err = evaluate(
        &"a".parse().unwrap(),
        &dup,
        &target,
        &ExprOptions::default(),
        &exec,
    )
    .unwrap_err();
    assert!(err.to_string().contains("bound more than once"), "{err}");
    assert!(!target.exists());
}

#[test]
fn expressions_propagate_and_handle_nodata_on_rasters() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.tif"), dir.path().join("b.tif"));
    raster(&a, array![[1.0f32, -9999.0, 4.0, 9.0]], Some(-9999.0));
    raster(&b, array![[2u8, 3, 255, 0]], Some(255.0));
    let target = dir.path().join("out.tif");
    let run = |expr: &str, opts: &ExprOptions| {
        evaluate_expression(
            expr,
            &[("a", &a, 1), ("b", &b, 1)],
            &target,
            opts,
            &Executor::sync(),
        )
        .unwrap();
        read_all(&target)
    };
    let opts = ExprOptions {
        datatype: Some(DataType::F32),
        nodata: Some(-1.0),
        ..Default::default()
    };
    assert_eq!(
        run("sqrt(a) + b", &opts),
        DynArray::F32(array![[3.0, -1.0, -1.0, 3.0]])
    );
    assert_eq!(
        run(
            "where(isnodata(a), 100, a) + where(isnodata(b), 0, b)",
            &opts
        ),
        DynArray::F32(array![[3.0, 103.0, 4.0, 9.0]])
    );
    // Division by zero: infinity, or a replacement.
    assert_eq!(
        run("a / b", &opts),
        DynArray::F32(array![[0.5, -1.0, -1.0, f32::INFINITY]])
    );
    let inf = ExprOptions {
        default_inf: Some(7.0),
        ..opts.clone()
    };
    assert_eq!(
        run("a / b", &inf),
        DynArray::F32(array![[0.5, -1.0, -1.0, 7.0]])
    );
    let scalars = [
        (
            "a".to_string(),
            ExprInput::Raster {
                path: a.clone(),
                band: 1,
            },
        ),
        ("k".to_string(), ExprInput::Scalar(10.0)),
    ];
    evaluate(
        &"a * k".parse().unwrap(),
        &scalars,
        &target,
        &opts,
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!(
        read_all(&target),
        DynArray::F32(array![[10.0, -1.0, 40.0, 90.0]])
    );
    let r = Raster::open(&target).unwrap();
    let w = r.read::<f32>(1, Window::new(0, 0, 4, 1)).unwrap();
    assert_eq!(w[[0, 3]], 90.0);
}

#[test]
fn expression_jobs_round_trip_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (300, 200));
    let target = dir.path().join("job.tif");
    let json = serde_json::json!({
        "expression": "where(lc == 3, a * k, -9999)",
        "inputs": { "a": i.a, "lc": { "path": i.lc, "band": 1 }, "k": 2.5, "unused": "nowhere.tif" },
        "target": target,
        "options": { "nodata": -9999.0, "datatype": "F32", "calc": { "calc_raster_stats": false } }
    });
    let job: pgp_ops::ExpressionJob = serde_json::from_value(json).unwrap();
    assert_eq!(job.inputs_paths(), vec![i.a.clone(), i.lc.clone()]);
    let back: pgp_ops::ExpressionJob =
        serde_json::from_str(&serde_json::to_string(&job).unwrap()).unwrap();
    assert_eq!(back, job);
    // Worker processes and the task graph carry jobs as bincode.
    let back: pgp_ops::ExpressionJob =
        bincode::deserialize(&bincode::serialize(&job).unwrap()).unwrap();
    assert_eq!(back, job);
    let rep = job.run(&Executor::threads(2).unwrap()).unwrap();
    assert_eq!(rep.statistics, None);
    let (DynArray::F32(out), DynArray::F32(a), DynArray::U8(lc)) =
        (read_all(&target), read_all(&i.a), read_all(&i.lc))
    else {
        panic!()
    };
    for ((o, a), lc) in out.iter().zip(&a).zip(&lc) {
        let want = if *lc == 255 || *a == -9999.0 && *lc == 3 {
            -9999.0
        } else if *lc == 3 {
            a * 2.5
        } else {
            -9999.0
        };
        assert_eq!(*o, want);
    }
    let bad = serde_json::json!({ "expression": "a +", "inputs": {}, "target": "x.tif" });
    let err = serde_json::from_value::<pgp_ops::ExpressionJob>(bad).unwrap_err();
    assert!(err.to_string().contains("column 4"), "{err}");
}
