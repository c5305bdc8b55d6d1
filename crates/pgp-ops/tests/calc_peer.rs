//! pgp's calculator family against pygeoprocessing 2.4's outputs on the same inputs
//! (references made by tests/peer/make_refs.py), on the sync and thread executors.

mod common;

use std::path::Path;

use common::*;
use ndarray::{Array2, Zip};
use pgp_core::{DataType, DynArray, Raster};
use pgp_exec::Executor;
use pgp_ops::calc::{
    evaluate, raster_calculator, raster_map, raster_reduce, reclassify_raster, CalcInput,
    CalcOptions, CalcReport, ExprInput, ExprOptions, MapOptions, ReclassifyOptions, ReduceOptions,
};
use pgp_ops::expr::Expression;
use serde_json::Value;

const SIZES: [(usize, usize); 3] = [(256, 256), (300, 300), (517, 263)];

fn refs() -> Value {
    let text = include_str!("peer/calc_refs.json");
    serde_json::from_str(text).unwrap()
}

fn executors() -> Vec<Executor> {
    vec![
        Executor::sync(),
        Executor::threads(2).unwrap(),
        Executor::threads(3).unwrap(),
    ]
}

/// The output at `path` matches reference `case` exactly (pixels, type, nodata, grid) and its
/// statistics match to GDAL's text precision.
fn assert_matches(case: &str, path: &Path, report: &CalcReport) {
    assert_matches_with(case, path, report, true)
}

/// pygeoprocessing takes statistics of what the local op returned, before GDAL converts it to
/// the band's type; pgp takes them of the pixels written. They differ when the op's type is
/// not the band's, so such cases check statistics against the written pixels instead.
fn assert_matches_with(case: &str, path: &Path, report: &CalcReport, peer_stats: bool) {
    let refs = refs();
    let r = &refs["cases"][case];
    assert!(r.is_object(), "no reference for {case}");
    assert_eq!(
        pixel_sha256(path),
        r["sha256"].as_str().unwrap(),
        "{case}: pixels differ"
    );
    assert_eq!(
        datatype_name(path),
        r["datatype"].as_str().unwrap(),
        "{case}"
    );
    let raster = Raster::open(path).unwrap();
    let info = raster.info().unwrap();
    let size = [info.raster_size.0 as u64, info.raster_size.1 as u64];
    assert_eq!(serde_json::json!(size), r["size"], "{case}");
    let gt: Vec<f64> = r["geotransform"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_eq!(info.geotransform.0.to_vec(), gt, "{case}");
    match (&r["nodata"], info.nodata[0]) {
        (Value::Null, None) => {}
        (Value::String(s), Some(v)) if s == "nan" => assert!(v.is_nan(), "{case}"),
        (Value::Number(n), Some(v)) => assert_eq!(n.as_f64().unwrap(), v, "{case}"),
        (want, got) => panic!("{case}: nodata {got:?}, reference {want}"),
    }
    assert_eq!(
        report.valid_pixels,
        Some(r["valid_count"].as_u64().unwrap()),
        "{case}"
    );
    let want: Vec<f64> = if peer_stats {
        r["statistics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    } else {
        stats_of_file(path)
    };
    let s = report.statistics.unwrap();
    let got = [s.min, s.max, s.mean, s.std_dev];
    for (g, w) in got.iter().zip(&want) {
        assert!(close(*g, *w), "{case}: statistics {got:?} vs {want:?}");
    }
    // What the file says equals what was reported.
    let stored = raster.statistics(1).unwrap().unwrap();
    for (g, w) in [stored.min, stored.max, stored.mean, stored.std_dev]
        .iter()
        .zip(&got)
    {
        assert!(close(*g, *w), "{case}: stored {g} vs reported {w}");
    }
}

/// min, max, mean, population std of the valid pixels, computed directly.
fn stats_of_file(path: &Path) -> Vec<f64> {
    let nodata = Raster::open(path).unwrap().nodata(1).unwrap();
    let values: Vec<f64> = read_all(path)
        .to_f64()
        .iter()
        .copied()
        .filter(|v| !v.is_nan() && Some(*v) != nodata)
        .collect();
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    vec![min, max, mean, var.sqrt()]
}

fn simple_op(b: &pgp_ops::calc::Block<'_>) -> pgp_ops::Result<Array2<f32>> {
    let a = b.array::<f32>(0)?;
    let w = b.array::<f32>(1)?;
    Ok(Zip::from(&a).and(&w).map_collect(|&a, &w| {
        if a != -9999.0 && !w.is_nan() {
            a * 2.0 + w
        } else {
            -9999.0
        }
    }))
}

#[test]
fn raster_calculator_matches_pygeoprocessing() {
    let dir = tempfile::tempdir().unwrap();
    let opts = CalcOptions::default();
    for size in SIZES {
        let i = inputs(dir.path(), size);
        let tag = format!("{}x{}", size.0, size.1);
        for (k, exec) in executors().iter().enumerate() {
            let out = dir.path().join(format!("simple_{tag}_{k}.tif"));
            let rep = raster_calculator(
                &[CalcInput::raster(&i.a, 1), CalcInput::raster(&i.b, 1)],
                simple_op,
                &out,
                DataType::F32,
                Some(-9999.0),
                &opts,
                exec,
            )
            .unwrap();
            assert_matches(&format!("simple_{tag}"), &out, &rep);

            let out = dir.path().join(format!("no_nodata_{tag}_{k}.tif"));
            let rep = raster_calculator(
                &[CalcInput::raster(&i.c, 1)],
                |b| Ok(b.array::<f32>(0)?.mapv(|c| c * 3.0 + 1.0)),
                &out,
                DataType::F32,
                None,
                &opts,
                exec,
            )
            .unwrap();
            assert_matches(&format!("no_nodata_{tag}"), &out, &rep);

            let out = dir.path().join(format!("nan_nodata_{tag}_{k}.tif"));
            let rep = raster_calculator(
                &[CalcInput::raster(&i.b, 1)],
                |b| Ok(b.array::<f32>(0)?.mapv(|v| v * 2.0)),
                &out,
                DataType::F32,
                Some(f64::NAN),
                &opts,
                exec,
            )
            .unwrap();
            assert_matches(&format!("nan_nodata_{tag}"), &out, &rep);

            let (cols, rows) = size;
            let row = Array2::from_shape_fn((1, cols), |(_, c)| c as f64 * 0.5);
            let col = Array2::from_shape_fn((rows, 1), |(r, _)| (r % 7) as f64);
            let out = dir.path().join(format!("broadcast_{tag}_{k}.tif"));
            let rep = raster_calculator(
                &[
                    CalcInput::raster(&i.a, 1),
                    CalcInput::Array(row.into()),
                    CalcInput::Array(col.into()),
                ],
                |b| {
                    let a = b.array::<f32>(0)?;
                    let (row, col) = (b.array::<f64>(1)?, b.array::<f64>(2)?);
                    Ok(Zip::from(&a)
                        .and(&row)
                        .and(&col)
                        .map_collect(|&a, &r, &c| (f64::from(a) + r * c) as f32))
                },
                &out,
                DataType::F32,
                Some(-9999.0),
                &opts,
                exec,
            )
            .unwrap();
            assert_matches(&format!("broadcast_{tag}"), &out, &rep);

            let out = dir.path().join(format!("to_byte_{tag}_{k}.tif"));
            let rep = raster_calculator(
                &[CalcInput::raster(&i.a, 1)],
                |b| Ok(b.array::<f32>(0)?.mapv(|a| f64::from(a) / 10.0)),
                &out,
                DataType::U8,
                Some(0.0),
                &opts,
                exec,
            )
            .unwrap();
            assert_matches_with(&format!("to_byte_{tag}"), &out, &rep, false);
        }
    }
}

#[test]
fn reclassify_map_and_reduce_match_pygeoprocessing() {
    let dir = tempfile::tempdir().unwrap();
    let refs = refs();
    for size in SIZES {
        let i = inputs(dir.path(), size);
        let tag = format!("{}x{}", size.0, size.1);
        for (k, exec) in executors().iter().enumerate() {
            let out = dir.path().join(format!("reclassify_{tag}_{k}.tif"));
            let map: Vec<(f64, f64)> = (1..=13)
                .map(|v| (f64::from(v), f64::from(v) * 1.5))
                .collect();
            let rep = reclassify_raster(
                &i.lc,
                1,
                &map,
                &out,
                DataType::F32,
                Some(-1.0),
                &ReclassifyOptions::default(),
                exec,
            )
            .unwrap();
            assert_matches(&format!("reclassify_{tag}"), &out, &rep);

            let out = dir.path().join(format!("raster_map_{tag}_{k}.tif"));
            let rep = raster_map(
                |v| Ok(&v[0] * 2.0 + v[1]),
                &[&i.a, &i.b],
                &out,
                &MapOptions::default(),
                exec,
            )
            .unwrap();
            assert_matches(&format!("raster_map_{tag}"), &out, &rep);

            let sum = raster_reduce(
                |t, b| t + b.iter().sum::<f64>(),
                &i.a,
                1,
                0.0,
                &ReduceOptions::default(),
                exec,
            )
            .unwrap();
            assert_eq!(
                sum,
                refs["cases"][format!("reduce_sum_{tag}")]["value"]
                    .as_f64()
                    .unwrap()
            );
            let hist = raster_reduce(
                |mut h: Vec<u64>, b| {
                    for &v in b {
                        if (-100.0..=400.0).contains(&v) {
                            let bin = (((v + 100.0) / 50.0) as usize).min(9);
                            h[bin] += 1;
                        }
                    }
                    h
                },
                &i.a,
                1,
                vec![0u64; 10],
                &ReduceOptions::default(),
                exec,
            )
            .unwrap();
            let want: Vec<u64> = refs["cases"][format!("reduce_histogram_{tag}")]["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(hist, want);
        }
    }
}

fn decode_base64(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("bad base64 {c}"),
        }
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::new();
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (k, c) in chunk.iter().enumerate() {
            acc |= val(*c) << (18 - 6 * k);
        }
        for k in 0..chunk.len() - 1 {
            out.push((acc >> (16 - 8 * k)) as u8);
        }
    }
    out
}

fn heavy_closure(b: &pgp_ops::calc::Block<'_>) -> pgp_ops::Result<Array2<f32>> {
    Ok(b.array::<f32>(0)?.mapv(|a| {
        if f64::from(a) == -9999.0 {
            return -9999.0;
        }
        let x = f64::from(a) * 1e-3;
        let mut acc = 0.0f64;
        for i in 1..=32 {
            let i = f64::from(i);
            acc += (x * i).sin() * (-x / i).exp() + (x + i).cos().abs().sqrt();
        }
        acc as f32
    }))
}

/// The heavy op written in the expression language (32 terms, summed in numpy's order).
pub fn heavy_expression() -> Expression {
    let x = "(a * 1e-3)";
    let terms: Vec<String> = (1..=32)
        .map(|i| format!("(sin({x} * {i}) * exp(-{x} / {i}) + sqrt(abs(cos({x} + {i}))))"))
        .collect();
    Expression::parse(&format!("0 + {}", terms.join(" + "))).unwrap()
}

#[test]
fn heavy_op_is_within_one_float32_ulp_of_numpy() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (64, 48));
    let refs = refs();
    let r = &refs["cases"]["heavy_64x48"];
    let want: Vec<f32> = decode_base64(r["pixels_le_base64"].as_str().unwrap())
        .chunks(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let out = dir.path().join("heavy.tif");
    let exec = Executor::threads(2).unwrap();
    raster_calculator(
        &[CalcInput::raster(&i.a, 1)],
        heavy_closure,
        &out,
        DataType::F32,
        Some(-9999.0),
        &CalcOptions::default(),
        &exec,
    )
    .unwrap();
    let DynArray::F32(got) = read_all(&out) else {
        panic!("not f32")
    };
    assert_eq!(got.len(), want.len());
    let mut differ = 0;
    for (g, w) in got.iter().zip(&want) {
        let ulps = (g.to_bits() as i64 - w.to_bits() as i64).abs();
        assert!(ulps <= 1, "{g} vs {w}");
        differ += usize::from(ulps != 0);
    }
    // numpy's float64 exp (AVX-512) differs from glibc's by 1 ulp now and then; after the sum
    // and the float32 cast almost every pixel is identical.
    assert!(
        differ * 50 <= got.len(),
        "{differ} of {} pixels differ",
        got.len()
    );

    // The expression language computes exactly what the closure computes.
    let expr_out = dir.path().join("heavy_expr.tif");
    let opts = ExprOptions {
        datatype: Some(DataType::F32),
        nodata: Some(-9999.0),
        ..Default::default()
    };
    evaluate(
        &heavy_expression(),
        &[(
            "a".into(),
            ExprInput::Raster {
                path: i.a.clone(),
                band: 1,
            },
        )],
        &expr_out,
        &opts,
        &exec,
    )
    .unwrap();
    assert_eq!(pixel_sha256(&expr_out), pixel_sha256(&out));
}

#[test]
fn expressions_match_the_reference_closures() {
    let dir = tempfile::tempdir().unwrap();
    let size = (517, 263);
    let i = inputs(dir.path(), size);
    let exec = Executor::threads(2).unwrap();
    let bind = |name: &str, p: &Path| {
        (
            name.to_string(),
            ExprInput::Raster {
                path: p.to_path_buf(),
                band: 1,
            },
        )
    };
    let opts = ExprOptions {
        datatype: Some(DataType::F32),
        nodata: Some(-9999.0),
        ..Default::default()
    };
    let out = dir.path().join("simple_expr.tif");
    let rep = evaluate(
        &"a * 2 + b".parse().unwrap(),
        &[bind("a", &i.a), bind("b", &i.b)],
        &out,
        &opts,
        &exec,
    )
    .unwrap();
    assert_matches("simple_517x263", &out, &rep);
    let out = dir.path().join("map_expr.tif");
    let opts = ExprOptions::default();
    let rep = evaluate(
        &"a * 2 + b".parse().unwrap(),
        &[bind("a", &i.a), bind("b", &i.b)],
        &out,
        &opts,
        &exec,
    )
    .unwrap();
    assert_matches("raster_map_517x263", &out, &rep);
}

/// Into an integer type pygeoprocessing's raster_map truncates (numpy's cast); `a / 7` has many
/// halves, where rounding would differ by one. A value the type cannot hold is refused.
#[test]
fn raster_map_into_integers_truncates_like_pygeoprocessing() {
    let dir = tempfile::tempdir().unwrap();
    for size in SIZES {
        let i = inputs(dir.path(), size);
        let tag = format!("{}x{}", size.0, size.1);
        for (k, exec) in executors().iter().enumerate() {
            let out = dir.path().join(format!("raster_map_int16_{tag}_{k}.tif"));
            let options = MapOptions {
                target_dtype: Some(DataType::I16),
                ..Default::default()
            };
            let rep = raster_map(|v| Ok(&v[0] / 7.0), &[&i.a], &out, &options, exec).unwrap();
            assert_matches(&format!("raster_map_int16_{tag}"), &out, &rep);
        }
    }
    let i = inputs(dir.path(), SIZES[0]);
    let out = dir.path().join("lc30.tif");
    let options = MapOptions {
        target_dtype: Some(DataType::U8),
        ..Default::default()
    };
    let err = raster_map(
        |v| Ok(&v[0] * 30.0),
        &[&i.lc],
        &out,
        &options,
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(
        matches!(err, pgp_ops::Error::ValueDoesNotFit { value, datatype: DataType::U8, .. } if value > 255.0),
        "{err}"
    );
    assert!(err.to_string().contains("target_dtype"), "{err}");
    assert!(!out.exists());
}
