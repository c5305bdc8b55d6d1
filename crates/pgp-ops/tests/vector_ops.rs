//! reproject_vector, rasterize, mask_raster and the create-raster helpers on small inputs whose
//! answers can be worked out by hand.

use pgp_core::gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use pgp_core::gdal::vector::LayerAccess;
use pgp_core::sample::{self, write_polygons, X0, Y0};
use pgp_core::{open_vector, vector_info, BoundingBox, DataType, LayerRef, Raster, Window};
use pgp_ops::{
    create_raster_from_bounding_box, create_raster_from_vector_extents, mask_raster, rasterize,
    reproject_vector, Burn, CopyFields, CreateRasterOptions, Error, MaskOptions, MergeAlg,
    RasterizeOptions, ReprojectVectorOptions, TargetGrid,
};

fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> String {
    format!("POLYGON(({x0} {y0},{x1} {y0},{x1} {y1},{x0} {y1},{x0} {y0}))")
}

/// A 10 x 8 byte raster of 10 m pixels with its top-left corner at (X0, Y0), filled with 0.
fn blank_raster(dir: &std::path::Path, name: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let bbox = BoundingBox::new(X0, Y0 - 80.0, X0 + 100.0, Y0);
    let options = CreateRasterOptions {
        nodata: Some(255.0),
        fill: Some(0.0),
        ..Default::default()
    };
    create_raster_from_bounding_box(
        &bbox,
        &path,
        (10.0, -10.0),
        DataType::U8,
        Some("EPSG:32631"),
        &options,
    )
    .unwrap();
    path
}

fn read_u8(path: &std::path::Path) -> ndarray::Array2<u8> {
    let r = Raster::open(path).unwrap();
    let (c, rows) = r.size();
    r.read::<u8>(1, Window::full(c, rows)).unwrap()
}

#[test]
fn rasterize_burns_pixel_centres_or_everything_touched() {
    let dir = tempfile::tempdir().unwrap();
    let vector = dir.path().join("squares.gpkg");
    // Square 1 covers columns 2..5 and rows 1..3 exactly; square 2 covers only a corner region
    // of pixel (col 7, row 5) that does not hold its centre.
    write_polygons(
        &vector,
        &[
            square(X0 + 20.0, Y0 - 30.0, X0 + 50.0, Y0 - 10.0),
            square(X0 + 71.0, Y0 - 59.0, X0 + 74.0, Y0 - 56.0),
        ],
    )
    .unwrap();

    let centres = blank_raster(dir.path(), "centres.tif");
    rasterize(
        &vector,
        &centres,
        &Burn::Values(vec![7.0]),
        &RasterizeOptions::default(),
    )
    .unwrap();
    let a = read_u8(&centres);
    for ((row, col), &v) in a.indexed_iter() {
        let inside = (2..5).contains(&col) && (1..3).contains(&row);
        assert_eq!(v, if inside { 7 } else { 0 }, "pixel ({col}, {row})");
    }

    let touched = blank_raster(dir.path(), "touched.tif");
    let options = RasterizeOptions {
        all_touched: true,
        ..Default::default()
    };
    rasterize(
        &vector,
        &touched,
        &Burn::Attribute("zone_id".into()),
        &options,
    )
    .unwrap();
    let a = read_u8(&touched);
    assert_eq!(a[[5, 7]], 2, "the small square touches pixel (7, 5)");
    assert_eq!(a[[1, 2]], 1);
    assert_eq!(a.iter().filter(|&&v| v == 2).count(), 1);

    // A WHERE clause keeps only the first feature; ADD accumulates over two passes. (Not with
    // all_touched: GDAL may then burn edge pixels twice in one pass.)
    let filtered = blank_raster(dir.path(), "filtered.tif");
    let options = RasterizeOptions {
        where_clause: Some("zone_id = 1".into()),
        merge: MergeAlg::Add,
        ..Default::default()
    };
    rasterize(&vector, &filtered, &Burn::Values(vec![3.0]), &options).unwrap();
    rasterize(&vector, &filtered, &Burn::Values(vec![3.0]), &options).unwrap();
    let a = read_u8(&filtered);
    assert_eq!(a[[1, 2]], 6);
    assert_eq!(a.iter().map(|&v| v as u32).sum::<u32>(), 6 * 6);
}

#[test]
fn rasterize_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let vector = dir.path().join("one.gpkg");
    write_polygons(&vector, &[square(X0, Y0 - 10.0, X0 + 10.0, Y0)]).unwrap();
    let raster = blank_raster(dir.path(), "r.tif");

    let e = rasterize(
        &vector,
        &raster,
        &Burn::Attribute("height".into()),
        &Default::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("height"), "{e}");

    let options = RasterizeOptions {
        bands: vec![2],
        ..Default::default()
    };
    let e = rasterize(&vector, &raster, &Burn::Values(vec![1.0]), &options).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Core(pgp_core::Error::BandOutOfRange { band: 2, .. })
        ),
        "{e:?}"
    );

    let e = rasterize(
        dir.path().join("missing.gpkg"),
        &raster,
        &Burn::Values(vec![1.0]),
        &Default::default(),
    )
    .unwrap_err();
    assert!(
        matches!(e, Error::Core(pgp_core::Error::FileNotFound { .. })),
        "{e:?}"
    );
}

#[test]
fn reproject_vector_transforms_every_feature_and_copies_fields() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("zones.gpkg");
    sample::zones(&base, 64, 3).unwrap();
    let target = dir.path().join("zones_4326.gpkg");
    let report = reproject_vector(
        &base,
        "EPSG:4326",
        &target,
        &ReprojectVectorOptions::default(),
    )
    .unwrap();
    let base_info = vector_info(&base, &LayerRef::default()).unwrap();
    assert_eq!(report.written, base_info.feature_count);
    assert_eq!(report.skipped, 0);

    // Independent check: transform each source envelope's corners and compare with the target
    // feature's envelope (the same points, so the same extremes up to rounding).
    let mut utm = SpatialRef::from_epsg(32631).unwrap();
    let mut wgs = SpatialRef::from_epsg(4326).unwrap();
    utm.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    wgs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let ct = CoordTransform::new(&utm, &wgs).unwrap();
    let bds = open_vector(&base).unwrap();
    let tds = open_vector(&target).unwrap();
    let mut bl = bds.layer(0).unwrap();
    let mut tl = tds.layer(0).unwrap();
    assert_eq!(tl.name(), "zones");
    let base_feats: Vec<_> = bl
        .features()
        .map(|f| {
            let g = f.geometry().unwrap().transform(&ct).unwrap();
            (f.field_as_integer(0).unwrap(), g.envelope())
        })
        .collect();
    let target_feats: Vec<_> = tl
        .features()
        .map(|f| {
            let idx = f.field_index("zone_id").unwrap();
            (
                f.field_as_integer(idx).unwrap(),
                f.geometry().unwrap().envelope(),
            )
        })
        .collect();
    assert_eq!(base_feats.len(), target_feats.len());
    for ((bid, be), (tid, te)) in base_feats.iter().zip(&target_feats) {
        assert_eq!(bid, tid);
        assert!((be.MinX - te.MinX).abs() < 1e-9 && (be.MaxY - te.MaxY).abs() < 1e-9);
        assert!(te.MinX > 0.0 && te.MinX < 6.0, "longitude first: {te:?}");
    }
}

#[test]
fn reproject_vector_to_shapefile_with_selected_fields() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("zones.gpkg");
    write_polygons(&base, &[square(X0, Y0 - 10.0, X0 + 10.0, Y0)]).unwrap();
    let target = dir.path().join("out.shp");
    let options = ReprojectVectorOptions {
        copy_fields: CopyFields::Only(vec!["not_a_field".into()]),
        ..Default::default()
    };
    let report = reproject_vector(&base, "EPSG:3857", &target, &options).unwrap();
    assert_eq!(report.written, 1);
    assert!(target.exists() && dir.path().join("out.dbf").exists());
    let info = vector_info(&target, &LayerRef::default()).unwrap();
    // (The shapefile driver adds an `FID` field to a table without fields.)
    assert!(
        info.fields.iter().all(|f| f.name != "zone_id"),
        "{:?}",
        info.fields
    );
    assert_eq!(info.layer_name, "out");
    // Nothing temporary is left behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("pgp-tmp"))
        .collect();
    assert!(leftovers.is_empty());

    let e =
        reproject_vector(&base, "EPSG:999999", dir.path().join("x.gpkg"), &options).unwrap_err();
    assert!(matches!(e, Error::UnknownProjection { .. }), "{e:?}");
}

#[test]
fn create_from_bbox_uses_the_shared_grid_rule() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bb.tif");
    // 95 x 61 map units in 30-unit pixels: 4 x 3 pixels, anchored at the south-west corner.
    let bbox = BoundingBox::new(1000.0, 2000.0, 1095.0, 2061.0);
    let options = CreateRasterOptions {
        nodata: Some(-1.0),
        fill: Some(5.0),
        ..Default::default()
    };
    let grid =
        create_raster_from_bounding_box(&bbox, &path, (30.0, -30.0), DataType::F32, None, &options)
            .unwrap();
    assert_eq!(grid, TargetGrid::new(&bbox, (30.0, -30.0), None).unwrap());
    let info = pgp_core::raster_info(&path).unwrap();
    assert_eq!(info.raster_size, (4, 3));
    assert_eq!(info.geotransform.0, [1000.0, 30.0, 0.0, 2090.0, 0.0, -30.0]);
    assert_eq!(info.nodata, vec![Some(-1.0)]);
    let r = Raster::open(&path).unwrap();
    assert!(r
        .read::<f32>(1, Window::full(4, 3))
        .unwrap()
        .iter()
        .all(|&v| v == 5.0));
}

#[test]
fn create_from_vector_extents_covers_every_feature() {
    let dir = tempfile::tempdir().unwrap();
    let vector = dir.path().join("v.gpkg");
    write_polygons(
        &vector,
        &[
            square(X0, Y0 - 10.0, X0 + 10.0, Y0),
            square(X0 + 40.0, Y0 - 100.0, X0 + 55.0, Y0 - 90.0),
        ],
    )
    .unwrap();
    let path = dir.path().join("ext.tif");
    create_raster_from_vector_extents(
        &vector,
        &path,
        (10.0, -10.0),
        DataType::I16,
        &Default::default(),
    )
    .unwrap();
    let info = pgp_core::raster_info(&path).unwrap();
    // 55 x 100 map units: 6 x 10 pixels from (X0, Y0 - 100), so the top is Y0.
    assert_eq!(info.raster_size, (6, 10));
    assert_eq!(info.geotransform.0, [X0, 10.0, 0.0, Y0, 0.0, -10.0]);
    assert!(info.projection_wkt.unwrap().contains("31N"));

    let empty = dir.path().join("empty.gpkg");
    write_polygons(&empty, &[]).unwrap();
    let e = create_raster_from_vector_extents(
        &empty,
        dir.path().join("e.tif"),
        (1.0, -1.0),
        DataType::U8,
        &Default::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("empty.gpkg"), "{e}");
}

#[test]
fn mask_raster_keeps_inside_and_sets_outside_to_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    sample::dem(&dem, 40, 1).unwrap();
    let vector = dir.path().join("mask.gpkg");
    // Columns 5..15, rows 10..20 of the 30 m DEM.
    write_polygons(
        &vector,
        &[square(X0 + 150.0, Y0 - 600.0, X0 + 450.0, Y0 - 300.0)],
    )
    .unwrap();
    let target = dir.path().join("masked.tif");
    mask_raster(&dem, 1, &vector, &target, &MaskOptions::default()).unwrap();

    let base = Raster::open(&dem)
        .unwrap()
        .read::<f32>(1, Window::full(40, 40))
        .unwrap();
    let out = Raster::open(&target).unwrap();
    assert_eq!(out.nodata(1).unwrap(), Some(sample::DEM_NODATA));
    let masked = out.read::<f32>(1, Window::full(40, 40)).unwrap();
    for ((row, col), &v) in masked.indexed_iter() {
        let inside = (5..15).contains(&col) && (10..20).contains(&row);
        let expected = if inside {
            base[[row, col]]
        } else {
            sample::DEM_NODATA as f32
        };
        assert_eq!(v, expected, "pixel ({col}, {row})");
    }

    let options = MaskOptions {
        target_mask_value: Some(0.0),
        ..Default::default()
    };
    let zeroed = dir.path().join("zeroed.tif");
    mask_raster(&dem, 1, &vector, &zeroed, &options).unwrap();
    let z = Raster::open(&zeroed)
        .unwrap()
        .read::<f32>(1, Window::full(40, 40))
        .unwrap();
    assert_eq!(z[[0, 0]], 0.0);
    assert_eq!(z[[12, 7]], base[[12, 7]]);
}
