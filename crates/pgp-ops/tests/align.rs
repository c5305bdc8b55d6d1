//! align_and_resize_raster_stack: the common grid, executor independence, masks and errors.

mod grid_common;

use grid_common::{assert_same_pixels, read_f64};
use pgp_core::sample::{self, X0, Y0};
use pgp_core::{raster_info, BoundingBox, LayerRef};
use pgp_exec::Executor;
use pgp_ops::{
    align_and_resize_raster_stack, AlignOptions, BoundingBoxMode, Error, GridAnchor,
    ResampleMethod, StackMask, TargetGrid, WarpPath,
};
use ResampleMethod::{Bilinear, Near};

fn stack(dir: &std::path::Path, size: usize) -> (Vec<std::path::PathBuf>, Vec<std::path::PathBuf>) {
    let d = sample::generate(dir.join("in"), size, 11).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    (
        vec![d.dem, d.landcover, d.precip],
        vec![
            out.join("dem.tif"),
            out.join("landcover.tif"),
            out.join("precip.tif"),
        ],
    )
}

#[test]
fn intersection_snapped_to_the_dem_grid() {
    let dir = tempfile::tempdir().unwrap();
    let (bases, targets) = stack(dir.path(), 300);
    let options = AlignOptions {
        raster_align_index: Some(0),
        ..Default::default()
    };
    let report = align_and_resize_raster_stack(
        &bases,
        &targets,
        &[Bilinear, Near, Bilinear],
        (30.0, -30.0),
        BoundingBoxMode::Intersection,
        &options,
        &Executor::sync(),
    )
    .unwrap();

    // Independent computation of the grid from the three boxes.
    let infos: Vec<_> = bases.iter().map(|b| raster_info(b).unwrap()).collect();
    let mut bb = infos[0].bounding_box;
    for i in &infos[1..] {
        bb = bb.intersection(&i.bounding_box);
    }
    let grid =
        TargetGrid::new(&bb, (30.0, -30.0), Some(&GridAnchor::of_raster(&infos[0]))).unwrap();
    assert_eq!(report.grid, grid);
    for t in &targets {
        let info = raster_info(t).unwrap();
        assert_eq!(info.raster_size, grid.size(), "{}", t.display());
        assert_eq!(info.geotransform, grid.geotransform(), "{}", t.display());
    }
    // The grid is the DEM's own and the DEM has the output's layout: its file is copied; the
    // others are resampled.
    assert_eq!(
        report.paths,
        vec![WarpPath::FileCopy, WarpPath::Warped, WarpPath::Warped]
    );
    assert_eq!(
        std::fs::read(&bases[0]).unwrap(),
        std::fs::read(&targets[0]).unwrap()
    );
    let dem_in = read_f64(&bases[0], 1);
    let dem_out = read_f64(&targets[0], 1);
    let col0 = ((grid.bounding_box.xmin - infos[0].geotransform.0[0]) / 30.0).round() as usize;
    let row0 = ((infos[0].geotransform.0[3] - grid.bounding_box.ymax) / 30.0).round() as usize;
    assert_eq!(dem_out[[3, 4]], dem_in[[row0 + 3, col0 + 4]]);
    // Nodata values are kept per raster.
    assert_eq!(
        raster_info(&targets[1]).unwrap().nodata,
        vec![Some(sample::LULC_NODATA)]
    );
    assert_eq!(
        raster_info(&targets[2]).unwrap().nodata,
        vec![Some(sample::PRECIP_NODATA)]
    );
}

#[test]
fn threads_give_the_same_outputs_as_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (bases, targets) = stack(dir.path(), 257);
    let threaded: Vec<_> = targets
        .iter()
        .map(|t| t.with_extension("threads.tif"))
        .collect();
    for (exec, outs) in [
        (Executor::sync(), &targets),
        (Executor::threads(2).unwrap(), &threaded),
    ] {
        align_and_resize_raster_stack(
            &bases,
            outs,
            &[Bilinear, ResampleMethod::Mode, ResampleMethod::Cubic],
            (25.0, -25.0),
            BoundingBoxMode::Union,
            &AlignOptions::default(),
            &exec,
        )
        .unwrap();
    }
    for (a, b) in targets.iter().zip(&threaded) {
        assert_same_pixels(a, b);
    }
}

#[test]
fn explicit_box_and_reprojection() {
    let dir = tempfile::tempdir().unwrap();
    let (bases, targets) = stack(dir.path(), 64);
    let bbox = BoundingBox::new(1.7345, 45.12, 1.75, 45.13);
    let options = AlignOptions {
        target_projection: Some("EPSG:4326".into()),
        ..Default::default()
    };
    let report = align_and_resize_raster_stack(
        &bases[..2],
        &targets[..2],
        &[Bilinear, Near],
        (0.0005, -0.0005),
        BoundingBoxMode::Explicit(bbox),
        &options,
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!(
        report.grid,
        TargetGrid::new(&bbox, (0.0005, 0.0005), None).unwrap()
    );
    let info = raster_info(&targets[1]).unwrap();
    // 0.0155 / 0.0005 = 31 columns, 0.01 / 0.0005 = 20 rows.
    assert_eq!(info.raster_size, (31, 20));
    assert!(info.projection_wkt.unwrap().contains("4326"));
}

#[test]
fn stack_mask_sets_outside_pixels_to_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let (bases, targets) = stack(dir.path(), 50);
    let vector = dir.path().join("mask.gpkg");
    let (x0, y0, x1, y1) = (X0 + 300.0, Y0 - 900.0, X0 + 600.0, Y0 - 450.0);
    sample::write_polygons(
        &vector,
        &[format!(
            "POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"
        )],
    )
    .unwrap();
    let mask_raster = dir.path().join("mask.tif");
    let options = AlignOptions {
        raster_align_index: Some(0),
        mask: Some(StackMask {
            vector,
            layer: LayerRef::default(),
            where_clause: None,
            mask_raster: Some(mask_raster.clone()),
        }),
        ..Default::default()
    };
    let report = align_and_resize_raster_stack(
        &bases[..2],
        &targets[..2],
        &[Near, Near],
        (30.0, -30.0),
        BoundingBoxMode::Intersection,
        &options,
        &Executor::threads(2).unwrap(),
    )
    .unwrap();
    let gt = report.grid.geotransform().0;
    let dem = read_f64(&targets[0], 1);
    let base = read_f64(&bases[0], 1);
    for ((row, col), &v) in dem.indexed_iter() {
        let x = gt[0] + (col as f64 + 0.5) * 30.0;
        let y = gt[3] - (row as f64 + 0.5) * 30.0;
        let inside = x > x0 && x < x1 && y > y0 && y < y1;
        if inside {
            let (sc, sr) = (((x - X0) / 30.0) as usize, ((Y0 - y) / 30.0) as usize);
            assert_eq!(v, base[[sr, sc]], "pixel ({col}, {row})");
        } else {
            assert_eq!(v, sample::DEM_NODATA, "pixel ({col}, {row})");
        }
    }
    let lc = read_f64(&targets[1], 1);
    assert!(lc[[0, 0]] == sample::LULC_NODATA);
    assert_eq!(
        raster_info(&mask_raster).unwrap().raster_size,
        report.grid.size()
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (bases, targets) = stack(dir.path(), 32);
    let exec = Executor::sync();
    let run = |targets: &[std::path::PathBuf],
               methods: &[ResampleMethod],
               mode,
               options: &AlignOptions| {
        align_and_resize_raster_stack(
            &bases,
            targets,
            methods,
            (30.0, -30.0),
            mode,
            options,
            &exec,
        )
    };
    let e = run(
        &targets,
        &[Near, Near],
        BoundingBoxMode::Union,
        &Default::default(),
    )
    .unwrap_err();
    match e {
        Error::LengthMismatch { names, lengths } => {
            assert!(names.contains("resample_methods"));
            assert_eq!(lengths, vec![3, 3, 2]);
        }
        other => panic!("{other:?}"),
    }
    let dup = vec![targets[0].clone(), targets[1].clone(), targets[0].clone()];
    let e = run(
        &dup,
        &[Near; 3],
        BoundingBoxMode::Union,
        &Default::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("more than once"), "{e}");

    let options = AlignOptions {
        raster_align_index: Some(3),
        ..Default::default()
    };
    let e = run(&targets, &[Near; 3], BoundingBoxMode::Union, &options).unwrap_err();
    assert!(e.to_string().contains("raster_align_index"), "{e}");

    let options = AlignOptions {
        target_projection: Some("EPSG:123456789".into()),
        ..Default::default()
    };
    let e = run(&targets, &[Near; 3], BoundingBoxMode::Union, &options).unwrap_err();
    assert!(matches!(e, Error::UnknownProjection { .. }), "{e:?}");

    // A raster far away: no common area; the message names the files.
    let far = dir.path().join("far.tif");
    grid_common::raster_from_fn(
        &far,
        (4, 4),
        pgp_core::DataType::U8,
        (0.0, 0.0),
        None,
        |_, _| 1.0,
    );
    let e = align_and_resize_raster_stack(
        &[bases[0].clone(), far.clone()],
        &targets[..2],
        &[Near, Near],
        (30.0, -30.0),
        BoundingBoxMode::Intersection,
        &AlignOptions::default(),
        &exec,
    )
    .unwrap_err();
    assert!(matches!(e, Error::EmptyIntersection { .. }), "{e:?}");
    assert!(
        e.to_string().contains("far.tif") && e.to_string().contains("dem.tif"),
        "{e}"
    );
    assert!(!targets[0].exists(), "nothing written on error");
}
