//! Behaviour of raster_calculator beyond pygeoprocessing parity: errors that name their inputs,
//! outputs that never look complete after a failure, executor independence, options.

mod common;

use common::*;
use ndarray::{array, Array2};
use pgp_core::{DataType, DynArray, Raster};
use pgp_exec::Executor;
use pgp_ops::calc::{raster_calculator, CalcInput, CalcOptions};
use pgp_ops::Error;
use proptest::prelude::*;

#[test]
fn size_mismatch_names_both_rasters_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.tif"), dir.path().join("b.tif"));
    raster(&a, Array2::<f32>::zeros((20, 30)), None);
    raster(&b, Array2::<f32>::zeros((21, 30)), None);
    let target = dir.path().join("out.tif");
    let err = raster_calculator(
        &[CalcInput::raster(&a, 1), CalcInput::raster(&b, 1)],
        |blk| Ok(blk.array::<f32>(0)?.to_owned()),
        &target,
        DataType::F32,
        None,
        &CalcOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    let Error::SizeMismatch {
        path,
        size,
        reference,
        reference_size,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(
        (path, *size, reference, *reference_size),
        (&b, (30, 21), &a, (30, 20))
    );
    let msg = err.to_string();
    assert!(
        msg.contains("b.tif is 30 x 21") && msg.contains("a.tif is 30 x 20"),
        "{msg}"
    );
    assert!(!target.exists());
    // The target may not be an input.
    let err = raster_calculator(
        &[CalcInput::raster(&a, 1)],
        |blk| blk.to_f64(0),
        &a,
        DataType::F32,
        None,
        &CalcOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("both an input and the target"),
        "{err}"
    );
    let err = raster_calculator(
        &[CalcInput::raster(&a, 2)],
        |blk| blk.to_f64(0),
        &target,
        DataType::F32,
        None,
        &CalcOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Core(pgp_core::Error::BandOutOfRange { band: 2, .. })
        ),
        "{err}"
    );
}

#[test]
fn a_failure_midway_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (600, 600));
    let target = dir.path().join("out.tif");
    std::fs::write(&target, b"an older file").unwrap();
    for exec in [Executor::sync(), Executor::threads(2).unwrap()] {
        let err = raster_calculator(
            &[CalcInput::raster(&i.a, 1)],
            |blk| {
                if blk.window().y_off >= 256 && blk.window().x_off >= 256 {
                    return Err(Error::invalid("local_op", "boom in the middle"));
                }
                Ok(blk.array::<f32>(0)?.to_owned())
            },
            &target,
            DataType::F32,
            Some(-9999.0),
            &CalcOptions::default(),
            &exec,
        )
        .unwrap_err();
        assert!(err.to_string().contains("boom in the middle"), "{err}");
        // The older file is untouched and no partial file is left.
        assert_eq!(std::fs::read(&target).unwrap(), b"an older file");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }
    // A wrong block shape is an error naming the window and both shapes.
    let err = raster_calculator(
        &[CalcInput::raster(&i.a, 1)],
        |_| Ok(Array2::<f32>::zeros((3, 4))),
        dir.path().join("shape.tif"),
        DataType::F32,
        None,
        &CalcOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::BlockShape {
                expected: (256, 256),
                actual: (3, 4),
                ..
            }
        ),
        "{err}"
    );
    assert!(!dir.path().join("shape.tif").exists());
}

#[test]
fn arrays_and_scalars_without_rasters_set_the_size() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.tif");
    let row: DynArray = array![[1i16, 2, 3]].into();
    let col: DynArray = array![[10.0f64], [20.0]].into();
    let rep = raster_calculator(
        &[
            CalcInput::Array(row),
            CalcInput::Array(col),
            CalcInput::Scalar(0.5),
        ],
        |b| Ok(b.to_f64(0)? * b.to_f64(1)? * b.scalar(2)?),
        &target,
        DataType::F64,
        None,
        &CalcOptions::default(),
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!(rep.size, (3, 2));
    assert_eq!(
        read_all(&target),
        DynArray::F64(array![[5.0, 10.0, 15.0], [10.0, 20.0, 30.0]])
    );
    let s = rep.statistics.unwrap();
    assert_eq!((s.min, s.max, s.mean), (5.0, 30.0, 15.0));
    let err = raster_calculator(
        &[
            CalcInput::Array(array![[1.0f64, 2.0]].into()),
            CalcInput::Array(array![[1.0f64, 2.0, 3.0]].into()),
        ],
        |b| b.to_f64(0),
        dir.path().join("bad.tif"),
        DataType::F64,
        None,
        &CalcOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("array input 0 has shape (1, 2)"),
        "{err}"
    );
    let err = raster_calculator(
        &[CalcInput::Scalar(1.0)],
        |b| b.to_f64(0),
        dir.path().join("s.tif"),
        DataType::F64,
        None,
        &CalcOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("only scalars"), "{err}");
}

#[test]
fn statistics_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let i = inputs(dir.path(), (300, 200));
    let target = dir.path().join("out.tif");
    let opts = CalcOptions {
        calc_raster_stats: false,
        ..Default::default()
    };
    let rep = raster_calculator(
        &[CalcInput::raster(&i.c, 1)],
        |b| b.to_f64(0),
        &target,
        DataType::F64,
        None,
        &opts,
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!((rep.statistics, rep.valid_pixels), (None, None));
    assert_eq!(Raster::open(&target).unwrap().statistics(1).unwrap(), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]
    /// Any size and block budget, any executor: the pixels are the op applied to every pixel.
    #[test]
    fn every_pixel_is_computed_once(cols in 1usize..700, rows in 1usize..400,
                                    largest in prop::sample::select(vec![0usize, 1000, 65536, 1 << 20]),
                                    workers in 0usize..3) {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.tif");
        let data = Array2::from_shape_fn((rows, cols), |(r, c)| (r * 1000 + c) as i32);
        raster(&a, data.clone(), None);
        let exec = if workers == 0 { Executor::sync() } else { Executor::threads(workers).unwrap() };
        let target = dir.path().join("out.tif");
        let opts = CalcOptions { largest_block: largest, ..Default::default() };
        let rep = raster_calculator(&[CalcInput::raster(&a, 1)], |b| Ok(b.array::<i32>(0)?.mapv(|v| v * 2 + 1)), &target, DataType::I32, None, &opts, &exec).unwrap();
        prop_assert_eq!(read_all(&target), DynArray::I32(data.mapv(|v| v * 2 + 1)));
        prop_assert_eq!(rep.valid_pixels, Some((rows * cols) as u64));
        prop_assert_eq!(rep.statistics.unwrap().max, ((rows - 1) * 1000 + cols - 1) as f64 * 2.0 + 1.0);
    }
}
