//! pygeoprocessing's own routing tests (tests/test_routing.py of 2.4.11), ported: the input
//! arrays and expected results are theirs.

mod common;

use ndarray::{arr2, Array2};
use pgp_exec::Executor;
use pgp_routing::*;

fn exec() -> Executor {
    Executor::sync()
}

const FLAT_D8: [[u8; 11]; 11] = [
    [2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0],
    [4, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0],
    [4, 4, 2, 2, 2, 2, 2, 2, 2, 0, 0],
    [4, 4, 4, 2, 2, 2, 2, 2, 0, 0, 0],
    [4, 4, 4, 4, 2, 2, 2, 0, 0, 0, 0],
    [4, 4, 4, 4, 4, 2, 0, 0, 0, 0, 0],
    [4, 4, 4, 4, 4, 6, 0, 0, 0, 0, 0],
    [4, 4, 4, 4, 6, 6, 6, 0, 0, 0, 0],
    [4, 4, 4, 6, 6, 6, 6, 6, 0, 0, 0],
    [4, 4, 6, 6, 6, 6, 6, 6, 6, 0, 0],
    [4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 0],
];

#[test]
fn pit_filling() {
    let dir = tempfile::tempdir().unwrap();
    let mut dem = Array2::<f32>::zeros((11, 11));
    dem.slice_mut(ndarray::s![3..8, 3..8]).fill(-1.0);
    dem[[0, 0]] = -1.0;
    let base = dir.path().join("base.tif");
    common::write(&base, &dem, None, None);
    let filled = dir.path().join("filled.tif");
    fill_pits(
        &RasterBand::first(&base),
        &filled,
        &FillOptions::default(),
        &exec(),
    )
    .unwrap();
    dem.slice_mut(ndarray::s![3..8, 3..8]).fill(0.0);
    assert_eq!(common::read(&filled), dem.mapv(f64::from));
}

#[test]
fn pit_filling_small_delta() {
    let dir = tempfile::tempdir().unwrap();
    // The exact f32 values of pygeoprocessing's own test, written out in full.
    #[allow(clippy::excessive_precision)]
    let (lower, higher) = (272.532_287_597_656_25f32, 272.532_501_220_703_1f32);
    let mut dem = Array2::from_elem((4, 4), higher);
    dem[[2, 2]] = lower;
    let base = dir.path().join("base.tif");
    common::write(&base, &dem, None, None);
    let filled = dir.path().join("filled.tif");
    fill_pits(
        &RasterBand::first(&base),
        &filled,
        &FillOptions::default(),
        &exec(),
    )
    .unwrap();
    assert_eq!(
        common::read(&filled),
        Array2::from_elem((4, 4), f64::from(higher))
    );
}

#[test]
fn pit_filling_nodata_int_and_nan() {
    let dir = tempfile::tempdir().unwrap();
    let mut dem = Array2::<i32>::zeros((11, 11));
    dem.slice_mut(ndarray::s![3..8, 3..8]).fill(-1);
    dem[[0, 0]] = -1;
    dem[[1, 1]] = 9999;
    let base = dir.path().join("int.tif");
    common::write(&base, &dem, Some(9999.0), None);
    let filled = dir.path().join("int_filled.tif");
    fill_pits(
        &RasterBand::first(&base),
        &filled,
        &FillOptions::default(),
        &exec(),
    )
    .unwrap();
    assert_eq!(
        pgp_core::Raster::open(&filled)
            .unwrap()
            .data_type(1)
            .unwrap(),
        pgp_core::DataType::I32
    );
    dem.slice_mut(ndarray::s![3..8, 3..8]).fill(0);
    assert_eq!(common::read(&filled), dem.mapv(f64::from));

    let mut dem = Array2::<f32>::zeros((11, 11));
    dem.slice_mut(ndarray::s![3..8, 3..8]).fill(-1.0);
    dem[[0, 0]] = -1.0;
    dem[[1, 1]] = f32::NAN;
    let base = dir.path().join("nan.tif");
    common::write(&base, &dem, Some(f64::NAN), None);
    let filled = dir.path().join("nan_filled.tif");
    fill_pits(
        &RasterBand::first(&base),
        &filled,
        &FillOptions::default(),
        &exec(),
    )
    .unwrap();
    let got = common::read(&filled);
    assert!(got[[1, 1]].is_nan());
    dem.slice_mut(ndarray::s![3..8, 3..8]).fill(0.0);
    for ((y, x), v) in got.indexed_iter() {
        if (y, x) != (1, 1) {
            assert_eq!(*v, f64::from(dem[[y, x]]), "at ({x}, {y})");
        }
    }
}

#[test]
fn flow_dir_d8_on_a_flat_dem() {
    let dir = tempfile::tempdir().unwrap();
    let dem_path = dir.path().join("dem.tif");
    common::write(&dem_path, &Array2::<f32>::zeros((11, 11)), None, None);
    let out = dir.path().join("d8.tif");
    flow_dir_d8(&RasterBand::first(&dem_path), &out, &exec()).unwrap();
    assert_eq!(common::read(&out), arr2(&FLAT_D8).mapv(f64::from));
}

#[test]
fn flow_accumulation_d8_of_a_plateau_drain() {
    let dir = tempfile::tempdir().unwrap();
    let d8 = dir.path().join("d8.tif");
    common::write(&d8, &arr2(&FLAT_D8), None, None);
    let out = dir.path().join("acc.tif");
    flow_accumulation_d8(&RasterBand::first(&d8), &out, &Default::default(), &exec()).unwrap();
    let expected = arr2(&[
        [1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1],
        [1, 1, 2, 3, 4, 5, 4, 3, 2, 1, 1],
        [2, 1, 1, 2, 3, 4, 3, 2, 1, 1, 2],
        [3, 2, 1, 1, 2, 3, 2, 1, 1, 2, 3],
        [4, 3, 2, 1, 1, 2, 1, 1, 2, 3, 4],
        [5, 4, 3, 2, 1, 1, 1, 2, 3, 4, 5],
        [5, 4, 3, 2, 1, 1, 1, 2, 3, 4, 5],
        [4, 3, 2, 1, 1, 2, 1, 1, 2, 3, 4],
        [3, 2, 1, 1, 2, 3, 2, 1, 1, 2, 3],
        [2, 1, 1, 2, 3, 4, 3, 2, 1, 1, 2],
        [1, 1, 2, 3, 4, 5, 4, 3, 2, 1, 1],
    ]);
    assert_eq!(common::read(&out), expected.mapv(f64::from));
}

fn channel_dem(dir: &std::path::Path) -> std::path::PathBuf {
    let mut dem = Array2::<f32>::zeros((11, 11));
    dem.row_mut(5).fill(-1.0);
    let path = dir.join("dem.tif");
    common::write(&path, &dem, None, None);
    path
}

#[test]
fn flow_dir_mfd_and_accumulation_on_a_central_channel() {
    let dir = tempfile::tempdir().unwrap();
    let dem = channel_dem(dir.path());
    let mfd = dir.path().join("mfd.tif");
    flow_dir_mfd(&RasterBand::first(&dem), &mfd, &exec()).unwrap();
    let top = [
        1761607680i64,
        1178599424,
        1178599424,
        1178599424,
        1178599424,
        1178599424,
        1178599424,
        1178599424,
        1178599424,
        1178599424,
        157286400,
    ];
    let middle = [
        4603904i64, 983040, 983040, 983040, 983040, 524296, 15, 15, 15, 15, 1073741894,
    ];
    let bottom = [
        2400i64, 17984, 17984, 17984, 17984, 17984, 17984, 17984, 17984, 17984, 26880,
    ];
    let got = common::read(&mfd);
    for y in 0..11 {
        let want = if y < 5 {
            top
        } else if y == 5 {
            middle
        } else {
            bottom
        };
        for x in 0..11 {
            assert_eq!(got[[y, x]], want[x] as f64, "MFD at ({x}, {y})");
        }
    }
    let acc = dir.path().join("acc.tif");
    flow_accumulation_mfd(&RasterBand::first(&mfd), &acc, None, &exec()).unwrap();
    let half = [
        [1., 1., 1., 1., 1., 1., 1., 1., 1., 1., 1.],
        [
            1.88571429, 2.11428571, 2., 2., 2., 2., 2., 2., 2., 2.11428571, 1.88571429,
        ],
        [
            2.7355102, 3.23183673, 3.03265306, 3., 3., 3., 3., 3., 3.03265306, 3.23183673,
            2.7355102,
        ],
        [
            3.56468805, 4.34574927, 4.08023324, 4.00932945, 4., 4., 4., 4.00932945, 4.08023324,
            4.34574927, 3.56468805,
        ],
        [
            4.38045548, 5.45412012, 5.13583673, 5.02692212, 5.00266556, 5., 5.00266556, 5.02692212,
            5.13583673, 5.45412012, 4.38045548,
        ],
        [
            60.5,
            51.12681336,
            39.01272503,
            27.62141227,
            16.519192,
            11.00304635,
            16.519192,
            27.62141227,
            39.01272503,
            51.12681336,
            60.5,
        ],
    ];
    let got = common::read(&acc);
    for y in 0..11 {
        let row = half[if y <= 5 { y } else { 10 - y }];
        for x in 0..11 {
            assert!(
                (got[[y, x]] - row[x]).abs() < 1.5e-7,
                "accumulation at ({x}, {y}): {}",
                got[[y, x]]
            );
        }
    }
    let streams = dir.path().join("streams.tif");
    extract_streams_mfd(
        &RasterBand::first(&acc),
        &RasterBand::first(&mfd),
        30.0,
        &streams,
        0.5,
        &exec(),
    )
    .unwrap();
    let mut expected = Array2::<f64>::zeros((11, 11));
    for x in [0, 1, 2, 8, 9, 10] {
        expected[[5, x]] = 1.0;
    }
    assert_eq!(common::read(&streams), expected);
}

#[test]
fn distance_to_channel_d8_of_a_plateau_drain() {
    let dir = tempfile::tempdir().unwrap();
    let d8 = dir.path().join("d8.tif");
    common::write(&d8, &arr2(&FLAT_D8), None, None);
    let channels = arr2(&[
        [1u8, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1],
        [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1],
        [1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1],
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ]);
    let channel_path = dir.path().join("channels.tif");
    common::write(&channel_path, &channels, None, None);
    let out = dir.path().join("dist.tif");
    distance_to_channel_d8(
        &RasterBand::first(&d8),
        &RasterBand::first(&channel_path),
        &out,
        None,
        &exec(),
    )
    .unwrap();
    let expected = arr2(&[
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        [0, 1, 2, 2, 2, 2, 2, 2, 2, 1, 0],
        [0, 1, 2, 3, 3, 3, 3, 3, 2, 1, 0],
        [0, 0, 1, 2, 4, 4, 4, 2, 1, 0, 0],
        [0, 0, 1, 2, 3, 5, 3, 2, 1, 0, 0],
        [0, 0, 1, 2, 3, 4, 3, 2, 1, 0, 0],
        [0, 1, 2, 3, 3, 3, 3, 3, 2, 1, 0],
        [0, 1, 2, 2, 2, 2, 2, 2, 2, 1, 0],
        [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]);
    assert_eq!(common::read(&out), expected.mapv(f64::from));
}

#[test]
fn bad_inputs_are_errors_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.tif");
    let e = fill_pits(
        &RasterBand::first(&missing),
        &dir.path().join("o.tif"),
        &FillOptions::default(),
        &exec(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("missing.tif"), "{e}");
    let dem = channel_dem(dir.path());
    let e = flow_dir_d8(
        &RasterBand::new(&dem, 2),
        &dir.path().join("o.tif"),
        &exec(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("band 2"), "{e}");
    assert!(!dir.path().join("o.tif").exists());
    let e = extract_streams_mfd(
        &RasterBand::first(&dem),
        &RasterBand::first(&dem),
        1.0,
        &dir.path().join("s.tif"),
        1.5,
        &exec(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("trace_threshold_proportion"), "{e}");
    let e = flow_accumulation_mfd(
        &RasterBand::first(&dem),
        &dir.path().join("a.tif"),
        None,
        &exec(),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("dem.tif") && e.to_string().contains("floats"),
        "{e}"
    );
    let mfd = dir.path().join("mfd.tif");
    common::write(&mfd, &Array2::<i32>::zeros((11, 11)), Some(0.0), None);
    let small = dir.path().join("small.tif");
    common::write(&small, &Array2::<f32>::zeros((3, 4)), None, None);
    let e = flow_accumulation_mfd(
        &RasterBand::first(&mfd),
        &dir.path().join("a.tif"),
        Some(&RasterBand::first(&small)),
        &exec(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("small.tif"), "{e}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 3, "only the inputs remain: {leftovers:?}");
}
