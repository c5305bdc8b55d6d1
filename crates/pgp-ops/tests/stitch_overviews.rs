//! stitch_rasters (overlap rules, clipping, warping, skipping) and build_overviews.

mod grid_common;

use grid_common::{raster_from_fn, read_f64};
use pgp_core::gdal::Dataset;
use pgp_core::sample::{X0, Y0};
use pgp_core::{BoundingBox, DataType};
use pgp_exec::Executor;
use pgp_ops::{
    build_overviews, create_raster_from_bounding_box, stitch_rasters, CreateRasterOptions,
    OverlapRule, OverviewOptions, ResampleMethod, StitchOptions,
};

/// A 20 x 10 float target at (X0, Y0), 30 m pixels, all nodata (-1).
fn target(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("mosaic.tif");
    let options = CreateRasterOptions {
        nodata: Some(-1.0),
        fill: Some(-1.0),
        ..Default::default()
    };
    let bbox = BoundingBox::new(X0, Y0 - 300.0, X0 + 600.0, Y0);
    create_raster_from_bounding_box(
        &bbox,
        &path,
        (30.0, -30.0),
        DataType::F32,
        Some("EPSG:32631"),
        &options,
    )
    .unwrap();
    path
}

#[test]
fn overlap_rules_combine_in_list_order() {
    let dir = tempfile::tempdir().unwrap();
    // A: 8 x 6 starting 3 columns west of the target (clipped), value 1, one nodata pixel.
    let a = dir.path().join("a.tif");
    raster_from_fn(
        &a,
        (8, 6),
        DataType::F32,
        (X0 - 90.0, Y0),
        Some(-9.0),
        |c, r| {
            if (c, r) == (4, 0) {
                -9.0
            } else {
                1.0
            }
        },
    );
    // B: 6 x 4 at column 2, row 2, value 2 (overlaps A on columns 2..5, rows 2..6).
    let b = dir.path().join("b.tif");
    raster_from_fn(
        &b,
        (6, 4),
        DataType::F32,
        (X0 + 60.0, Y0 - 60.0),
        Some(-9.0),
        |_, _| 2.0,
    );
    // C: far away, skipped.
    let c = dir.path().join("c.tif");
    raster_from_fn(
        &c,
        (2, 2),
        DataType::F32,
        (X0 + 90_000.0, Y0),
        None,
        |_, _| 5.0,
    );

    let bases = [(a.clone(), 1), (b.clone(), 1), (c.clone(), 1)];
    let methods = [ResampleMethod::Near; 3];
    for (rule, overlap_value) in [
        (OverlapRule::Etch, 1.0),
        (OverlapRule::Replace, 2.0),
        (OverlapRule::Add, 3.0),
    ] {
        let sub = dir.path().join(format!("{rule:?}"));
        std::fs::create_dir_all(&sub).unwrap();
        let t = target(&sub);
        let options = StitchOptions {
            overlap: rule,
            ..Default::default()
        };
        let report = stitch_rasters(
            &bases,
            &methods,
            (&t, 1),
            &options,
            &Executor::threads(2).unwrap(),
        )
        .unwrap();
        assert_eq!(report.stitched, vec![a.clone(), b.clone()]);
        assert_eq!(report.skipped, vec![c.clone()]);
        let px = read_f64(&t, 1);
        for ((row, col), &v) in px.indexed_iter() {
            let in_a = col < 5 && row < 6 && (col, row) != (1, 0);
            let in_b = (2..8).contains(&col) && (2..6).contains(&row);
            let expected = match (in_a, in_b) {
                (true, true) => overlap_value,
                (true, false) => 1.0,
                (false, true) => 2.0,
                (false, false) => -1.0,
            };
            assert_eq!(v, expected, "{rule:?} pixel ({col}, {row})");
        }
    }
}

#[test]
fn bases_on_other_grids_are_warped_first() {
    let dir = tempfile::tempdir().unwrap();
    let t = target(dir.path());
    // 15 m pixels: warped (nearest) onto the 30 m target grid.
    let fine = dir.path().join("fine.tif");
    raster_from_fn(
        &fine,
        (40, 20),
        DataType::I16,
        (X0, Y0),
        Some(-1.0),
        |c, _| c as f64,
    );
    // `raster_from_fn` makes 30 m pixels; rewrite the geotransform to 15 m.
    {
        let mut ds = Dataset::open_ex(
            &fine,
            pgp_core::gdal::DatasetOptions {
                open_flags: pgp_core::gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        ds.set_geo_transform(&[X0, 15.0, 0.0, Y0, 0.0, -15.0])
            .unwrap();
    }
    let report = stitch_rasters(
        &[(fine, 1)],
        &[ResampleMethod::Near],
        (&t, 1),
        &StitchOptions::default(),
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!(report.stitched.len(), 1);
    let px = read_f64(&t, 1);
    // 40 x 20 fine pixels cover 20 x 10 target pixels; target column c holds a fine column
    // 2c or 2c + 1.
    for col in 0..20 {
        let v = px[[4, col]];
        assert!(
            v == (2 * col) as f64 || v == (2 * col + 1) as f64,
            "col {col}: {v}"
        );
    }
    let leftovers = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("pgp-tmp")
        })
        .count();
    assert_eq!(leftovers, 0);
}

#[test]
fn stitch_errors() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.tif");
    raster_from_fn(&plain, (4, 4), DataType::F32, (X0, Y0), None, |_, _| 0.0);
    let e = stitch_rasters(
        &[(plain.clone(), 1)],
        &[ResampleMethod::Near],
        (&plain, 1),
        &StitchOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("nodata"), "{e}");
    let t = target(dir.path());
    let e = stitch_rasters(
        &[(plain, 1)],
        &[],
        (&t, 1),
        &StitchOptions::default(),
        &Executor::sync(),
    )
    .unwrap_err();
    assert!(matches!(e, pgp_ops::Error::LengthMismatch { .. }), "{e:?}");
}

#[test]
fn overviews_external_internal_and_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("r.tif");
    raster_from_fn(&r, (600, 300), DataType::F32, (X0, Y0), None, |c, r| {
        (c * r) as f64
    });
    let exec = Executor::sync();
    let levels = build_overviews(&r, &OverviewOptions::default(), &exec).unwrap();
    assert_eq!(levels, vec![2]);
    assert!(dir.path().join("r.tif.ovr").exists());
    let count = |p: &std::path::Path| {
        Dataset::open(p)
            .unwrap()
            .rasterband(1)
            .unwrap()
            .overview_count()
            .unwrap()
    };
    assert_eq!(count(&r), 1);
    let e = build_overviews(&r, &OverviewOptions::default(), &exec).unwrap_err();
    assert!(e.to_string().contains("already has overviews"), "{e}");

    let internal = dir.path().join("i.tif");
    raster_from_fn(
        &internal,
        (600, 600),
        DataType::U8,
        (X0, Y0),
        None,
        |c, _| (c % 7) as f64,
    );
    let options = OverviewOptions {
        internal: true,
        resample_method: ResampleMethod::Average,
        levels: Some(vec![2, 4]),
        ..Default::default()
    };
    build_overviews(&internal, &options, &Executor::threads(2).unwrap()).unwrap();
    assert!(!dir.path().join("i.tif.ovr").exists());
    assert_eq!(count(&internal), 2);
    let overwrite = OverviewOptions {
        overwrite: true,
        levels: Some(vec![2]),
        ..options
    };
    build_overviews(&internal, &overwrite, &exec).unwrap();
    assert_eq!(count(&internal), 1);
}
