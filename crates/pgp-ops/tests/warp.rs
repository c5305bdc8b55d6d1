//! warp_raster: grids, the nodata rule, masks, thread-count independence, and the aligned-copy
//! path checked against GDAL's own warper for every resampling method.

mod grid_common;

use grid_common::{assert_same_pixels, noise, raster_from_fn, read_f64};
use pgp_core::sample::{self, X0, Y0};
use pgp_core::{raster_info, BoundingBox, DataType, LayerRef};
use pgp_exec::Executor;
use pgp_ops::{
    transform_bounding_box, warp_raster, Error, ResampleMethod, TargetGrid, WarpMask, WarpOptions,
    WarpPath,
};

const W: usize = 300;
const H: usize = 213;

/// Sources on a 30 m grid at (X0, Y0), 300 x 213 (not a multiple of the 256 block size).
fn sources(dir: &std::path::Path) -> Vec<(std::path::PathBuf, &'static str)> {
    let f32_nd = dir.join("f32_nodata.tif");
    raster_from_fn(
        &f32_nd,
        (W, H),
        DataType::F32,
        (X0, Y0),
        Some(-9999.0),
        |c, r| {
            let v = noise(c, r, 1);
            if v < 0.1 {
                -9999.0
            } else {
                100.0 * v + c as f64
            }
        },
    );
    let f32_nan = dir.join("f32_nan.tif");
    raster_from_fn(
        &f32_nan,
        (W, H),
        DataType::F32,
        (X0, Y0),
        Some(f64::NAN),
        |c, r| {
            let v = noise(c, r, 2);
            if v < 0.1 {
                f64::NAN
            } else {
                v * 10.0
            }
        },
    );
    let i16_nd = dir.join("i16.tif");
    raster_from_fn(
        &i16_nd,
        (W, H),
        DataType::I16,
        (X0, Y0),
        Some(-32768.0),
        |c, r| {
            let v = noise(c, r, 3);
            if v < 0.05 {
                -32768.0
            } else {
                (v * 2000.0).floor() - 500.0
            }
        },
    );
    let u8_plain = dir.join("u8_no_nodata.tif");
    raster_from_fn(&u8_plain, (W, H), DataType::U8, (X0, Y0), None, |c, r| {
        (noise(c, r, 4) * 12.0).floor() + 1.0
    });
    vec![
        (f32_nd, "f32 nodata"),
        (f32_nan, "f32 NaN nodata"),
        (i16_nd, "i16 nodata"),
        (u8_plain, "u8 without nodata"),
    ]
}

/// A box shifted by whole pixels from the sources' grid: starts 7 columns in, ends 5 columns
/// past the east edge, 5 rows below the top and 4 rows past the bottom.
fn shifted_box() -> BoundingBox {
    BoundingBox::new(
        X0 + 7.0 * 30.0,
        Y0 - (H as f64 + 4.0) * 30.0,
        X0 + (W as f64 + 5.0) * 30.0,
        Y0 - 5.0 * 30.0,
    )
}

#[test]
fn aligned_copy_matches_gdal_for_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let exec = Executor::sync();
    for (src, label) in sources(dir.path()) {
        for method in ResampleMethod::ALL {
            let copied = dir.path().join("copied.tif");
            let warped = dir.path().join("warped.tif");
            let mut options = WarpOptions {
                target_bbox: Some(shifted_box()),
                ..Default::default()
            };
            let how = warp_raster(&src, (30.0, -30.0), &copied, method, &options, &exec).unwrap();
            assert_eq!(how, WarpPath::AlignedCopy, "{label} {method}");
            options.aligned_copy = false;
            let how = warp_raster(&src, (30.0, -30.0), &warped, method, &options, &exec).unwrap();
            assert_eq!(how, WarpPath::Warped);
            assert_same_pixels(&copied, &warped);
        }
    }
}

#[test]
fn grid_follows_the_shared_rule_and_pads_with_a_chosen_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let srcs = sources(dir.path());
    let (u8_src, _) = &srcs[3];
    let (f32_src, _) = &srcs[0];
    // A box not on the 30 m grid and not a whole number of 45 m pixels.
    let bbox = BoundingBox::new(X0 - 100.0, Y0 - 3000.0, X0 + 2000.0, Y0 + 77.0);
    let options = WarpOptions {
        target_bbox: Some(bbox),
        ..Default::default()
    };
    let out = dir.path().join("u8_45.tif");
    let how = warp_raster(
        u8_src,
        (45.0, -45.0),
        &out,
        ResampleMethod::Near,
        &options,
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!(how, WarpPath::Warped);
    let info = raster_info(&out).unwrap();
    let grid = TargetGrid::new(&bbox, (45.0, -45.0), None).unwrap();
    assert_eq!(info.raster_size, grid.size());
    assert_eq!(info.geotransform, grid.geotransform());
    // 2100 / 45 = 46.67 -> 47 columns; 3077 / 45 = 68.4 -> 69 rows; north edge moved up.
    assert_eq!(info.raster_size, (47, 69));
    assert_eq!(info.geotransform.0[3], Y0 - 3000.0 + 69.0 * 45.0);

    // No nodata in the source: the output gets 255, and the strip west of the source is 255,
    // not 0 (pygeoprocessing #476).
    assert_eq!(info.nodata, vec![Some(255.0)]);
    let px = read_f64(&out, 1);
    assert!(
        px.column(0).iter().all(|&v| v == 255.0),
        "west strip is nodata"
    );
    assert!(px
        .column(10)
        .iter()
        .skip(5)
        .all(|&v| (1.0..=12.0).contains(&v)));

    // Float source with its own nodata keeps it.
    let out = dir.path().join("f32_45.tif");
    warp_raster(
        f32_src,
        (45.0, -45.0),
        &out,
        ResampleMethod::Bilinear,
        &options,
        &Executor::sync(),
    )
    .unwrap();
    assert_eq!(raster_info(&out).unwrap().nodata, vec![Some(-9999.0)]);
}

#[test]
fn float_source_without_nodata_is_padded_with_nan() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("plain.tif");
    raster_from_fn(&src, (20, 10), DataType::F32, (X0, Y0), None, |c, r| {
        (c + r) as f64
    });
    let out = dir.path().join("out.tif");
    let options = WarpOptions {
        target_bbox: Some(BoundingBox::new(X0 - 60.0, Y0 - 300.0, X0 + 600.0, Y0)),
        ..Default::default()
    };
    warp_raster(
        &src,
        (30.0, -30.0),
        &out,
        ResampleMethod::Near,
        &options,
        &Executor::sync(),
    )
    .unwrap();
    let info = raster_info(&out).unwrap();
    assert!(info.nodata[0].unwrap().is_nan());
    let px = read_f64(&out, 1);
    assert!(px[[0, 0]].is_nan() && px[[0, 1]].is_nan());
    assert_eq!(px[[0, 2]], 0.0, "the source's own zero is data");
    assert_eq!(px[[3, 7]], 8.0);
}

#[test]
fn default_box_is_the_transformed_source_box() {
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    sample::dem(&dem, 64, 5).unwrap();
    let out = dir.path().join("dem_4326.tif");
    let options = WarpOptions {
        target_projection: Some("EPSG:4326".into()),
        ..Default::default()
    };
    warp_raster(
        &dem,
        (0.0003, -0.0003),
        &out,
        ResampleMethod::Bilinear,
        &options,
        &Executor::sync(),
    )
    .unwrap();
    let src = raster_info(&dem).unwrap();
    let expected = transform_bounding_box(
        &src.bounding_box,
        src.projection_wkt.as_deref().unwrap(),
        "EPSG:4326",
        11,
    )
    .unwrap();
    let grid = TargetGrid::new(&expected, (0.0003, -0.0003), None).unwrap();
    let info = raster_info(&out).unwrap();
    assert_eq!(info.raster_size, grid.size());
    assert_eq!(info.geotransform, grid.geotransform());
    assert!(info.projection_wkt.unwrap().contains("4326"));
}

#[test]
fn thread_count_does_not_change_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    sample::dem(&dem, 300, 9).unwrap();
    let mut options = WarpOptions {
        target_projection: Some("EPSG:4326".into()),
        n_threads: Some(1),
        ..Default::default()
    };
    let one = dir.path().join("one.tif");
    warp_raster(
        &dem,
        (0.0004, -0.0004),
        &one,
        ResampleMethod::Cubic,
        &options,
        &Executor::sync(),
    )
    .unwrap();
    options.n_threads = None;
    let two = dir.path().join("two.tif");
    let exec = Executor::threads(2).unwrap();
    warp_raster(
        &dem,
        (0.0004, -0.0004),
        &two,
        ResampleMethod::Cubic,
        &options,
        &exec,
    )
    .unwrap();
    assert_same_pixels(&one, &two);
}

#[test]
fn vector_mask_keeps_pixels_inside() {
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    sample::dem(&dem, 40, 2).unwrap();
    let vector = dir.path().join("mask.gpkg");
    let (x0, y0, x1, y1) = (X0 + 150.0, Y0 - 600.0, X0 + 450.0, Y0 - 300.0);
    sample::write_polygons(
        &vector,
        &[format!(
            "POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))"
        )],
    )
    .unwrap();
    let options = WarpOptions {
        mask: Some(WarpMask::Vector {
            path: vector,
            layer: LayerRef::default(),
            where_clause: None,
        }),
        ..Default::default()
    };
    let out = dir.path().join("masked.tif");
    warp_raster(
        &dem,
        (30.0, -30.0),
        &out,
        ResampleMethod::Near,
        &options,
        &Executor::sync(),
    )
    .unwrap();
    let base = read_f64(&dem, 1);
    let masked = read_f64(&out, 1);
    assert_eq!(masked.dim(), base.dim());
    for ((row, col), &v) in masked.indexed_iter() {
        let inside = (5..15).contains(&col) && (10..20).contains(&row);
        let expected = if inside {
            base[[row, col]]
        } else {
            sample::DEM_NODATA
        };
        assert_eq!(v, expected, "pixel ({col}, {row})");
    }
    // An output GDAL writes (DEFLATE): masked by the other path, to the same pixels, and on
    // threads the raw-tile path gives them too.
    let deflate = dir.path().join("masked_deflate.tif");
    let threads = dir.path().join("masked_threads.tif");
    for (target, driver, exec) in [
        (
            &deflate,
            pgp_core::RasterDriver::new("GTiff", ["TILED=YES", "COMPRESS=DEFLATE"]),
            Executor::sync(),
        ),
        (
            &threads,
            WarpOptions::default().driver,
            Executor::threads(2).unwrap(),
        ),
    ] {
        let with_driver = WarpOptions {
            driver,
            ..options.clone()
        };
        warp_raster(
            &dem,
            (30.0, -30.0),
            target,
            ResampleMethod::Near,
            &with_driver,
            &exec,
        )
        .unwrap();
        assert_same_pixels(&out, target);
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
    assert_eq!(leftovers, 0, "scratch files are removed");
}

#[test]
fn errors_name_the_input_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let srcs = sources(dir.path());
    let src = &srcs[0].0;
    let out = dir.path().join("o.tif");
    let exec = Executor::sync();
    let bad_srs = WarpOptions {
        target_projection: Some("EPSG:0".into()),
        ..Default::default()
    };
    let e = warp_raster(
        src,
        (30.0, -30.0),
        &out,
        ResampleMethod::Near,
        &bad_srs,
        &exec,
    )
    .unwrap_err();
    assert!(matches!(e, Error::UnknownProjection { .. }), "{e:?}");

    let e = warp_raster(
        src,
        (0.0, -30.0),
        &out,
        ResampleMethod::Near,
        &Default::default(),
        &exec,
    )
    .unwrap_err();
    assert!(e.to_string().contains("target_pixel_size"), "{e}");

    let missing = dir.path().join("missing.tif");
    let e = warp_raster(
        &missing,
        (30.0, -30.0),
        &out,
        ResampleMethod::Near,
        &Default::default(),
        &exec,
    )
    .unwrap_err();
    assert!(e.to_string().contains("missing.tif"), "{e}");
    assert!(!out.exists(), "no partial output");
}

#[test]
fn same_grid_and_layout_copies_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let srcs = sources(dir.path());
    let exec = Executor::sync();
    for (src, label) in &srcs {
        let info = raster_info(src).unwrap();
        let mut options = WarpOptions {
            target_bbox: Some(info.bounding_box),
            ..Default::default()
        };
        let copied = dir.path().join("copied.tif");
        let how = warp_raster(
            src,
            (30.0, -30.0),
            &copied,
            ResampleMethod::Bilinear,
            &options,
            &exec,
        )
        .unwrap();
        let warped = dir.path().join("warped.tif");
        options.aligned_copy = false;
        warp_raster(
            src,
            (30.0, -30.0),
            &warped,
            ResampleMethod::Bilinear,
            &options,
            &exec,
        )
        .unwrap();
        assert_same_pixels(&copied, &warped);
        if info.nodata[0].is_some() {
            assert_eq!(how, WarpPath::FileCopy, "{label}");
        } else {
            // Without nodata the output gets one, so the file cannot be reused as is.
            assert_eq!(how, WarpPath::AlignedCopy, "{label}");
        }
    }

    // Other creation options: the pixels are copied into a new layout instead.
    let (src, _) = &srcs[0];
    let info = raster_info(src).unwrap();
    let options = WarpOptions {
        target_bbox: Some(info.bounding_box),
        driver: pgp_core::RasterDriver::default().with_option("COMPRESS", "DEFLATE"),
        ..Default::default()
    };
    let out = dir.path().join("deflate.tif");
    let how = warp_raster(
        src,
        (30.0, -30.0),
        &out,
        ResampleMethod::Near,
        &options,
        &exec,
    )
    .unwrap();
    assert_eq!(how, WarpPath::AlignedCopy);
    assert_same_pixels(src, &out);
}

#[test]
fn output_compressed_by_pgp_equals_gdals_and_keeps_metadata() {
    use pgp_core::gdal::{Dataset, DatasetOptions, GdalOpenFlags, Metadata};
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    sample::dem(&dem, 300, 4).unwrap();
    {
        let mut ds = Dataset::open_ex(
            &dem,
            DatasetOptions {
                open_flags: GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .unwrap();
        ds.set_metadata_item("SOURCE", "survey 7", "").unwrap();
        let mut band = ds.rasterband(1).unwrap();
        band.set_description("elevation").unwrap();
        band.set_metadata_item("UNITS_NOTE", "metres", "").unwrap();
        band.set_scale(0.5).unwrap();
    }
    let warp = |target: &std::path::Path, options: Vec<&str>| {
        let mut driver = pgp_core::RasterDriver::default();
        for o in options {
            let (k, v) = o.split_once('=').unwrap();
            driver = driver.with_option(k, v);
        }
        let options = WarpOptions {
            target_projection: Some("EPSG:4326".into()),
            driver,
            ..Default::default()
        };
        let exec = Executor::threads(2).unwrap();
        warp_raster(
            &dem,
            (0.0004, -0.0004),
            target,
            ResampleMethod::Bilinear,
            &options,
            &exec,
        )
        .unwrap();
    };
    let ours = dir.path().join("ours.tif");
    warp(&ours, vec![]);
    // An option the raw-tile writer does not handle: GDAL compresses this one.
    let gdals = dir.path().join("gdals.tif");
    warp(&gdals, vec!["SPARSE_OK=FALSE"]);
    assert_same_pixels(&ours, &gdals);

    let ds = Dataset::open(&ours).unwrap();
    assert_eq!(
        ds.metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
            .as_deref(),
        Some("LZW")
    );
    assert_eq!(ds.metadata_item("SOURCE", "").as_deref(), Some("survey 7"));
    let band = ds.rasterband(1).unwrap();
    assert_eq!(band.description().unwrap(), "elevation");
    assert_eq!(
        band.metadata_item("UNITS_NOTE", "").as_deref(),
        Some("metres")
    );
    assert_eq!(band.scale(), Some(0.5));
    let gdal_band = Dataset::open(&gdals).unwrap();
    assert_eq!(
        gdal_band.rasterband(1).unwrap().no_data_value(),
        band.no_data_value()
    );
    // Only the inputs and the two outputs: no scratch file left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["dem.tif", "gdals.tif", "ours.tif"]);
}
