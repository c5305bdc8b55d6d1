//! pygeoprocessing's own tests of outlets, drains and watersheds (tests/test_routing.py and
//! tests/test_watershed_delineation.py of 2.4.x), ported: inputs and expected results are theirs
//! (the 512x512 outlet rasters are 256x256 here, their far corner moving with them), plus the
//! errors pgp gives for bad input.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use ndarray::{arr2, Array2};
use pgp_core::gdal::spatial_ref::SpatialRef;
use pgp_core::gdal::vector::{
    FieldDefn, Geometry, LayerAccess, LayerOptions, OGRFieldType, OGRwkbGeometryType,
};
use pgp_core::{GeoTransform, OutputRaster, Pixel, RasterSpec};
use pgp_exec::Executor;
use pgp_routing::*;

fn exec() -> Executor {
    Executor::sync()
}

/// `(i, j)` and IDs of an outlet vector.
fn outlets(path: &Path) -> (BTreeSet<(i32, i32)>, Vec<i32>) {
    let ds = pgp_core::open_vector(path).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let mut ij = BTreeSet::new();
    let mut ids = Vec::new();
    for f in layer.features() {
        ij.insert((
            f.field_as_integer(0).unwrap().unwrap(),
            f.field_as_integer(1).unwrap().unwrap(),
        ));
        ids.push(f.field_as_integer(2).unwrap().unwrap());
    }
    (ij, ids)
}

fn outlet_corner() -> Array2<u8> {
    let mut d8 = Array2::from_elem((256, 256), 128u8);
    let corner = arr2(&[[2, 2, 2, 2], [2, 2, 2, 0], [4, 128, 2, 2], [2, 2, 6, 2]]);
    d8.slice_mut(ndarray::s![0..4, 0..4]).assign(&corner);
    d8[[255, 255]] = 0;
    d8
}

fn expected_corner_outlets() -> BTreeSet<(i32, i32)> {
    [
        (0, 0),
        (1, 0),
        (2, 0),
        (3, 0),
        (3, 1),
        (0, 2),
        (1, 3),
        (2, 3),
        (255, 255),
    ]
    .into_iter()
    .collect()
}

#[test]
fn detect_outlets_d8() {
    let dir = tempfile::tempdir().unwrap();
    let d8 = dir.path().join("d8.tif");
    common::write(&d8, &outlet_corner(), Some(128.0), None);
    let target = dir.path().join("outlets.gpkg");
    let n = detect_outlets(&RasterBand::first(&d8), FlowDirType::D8, &target, &exec()).unwrap();
    let (ij, mut ids) = outlets(&target);
    assert_eq!(ij, expected_corner_outlets());
    assert_eq!(n as usize, ij.len());
    ids.sort();
    assert_eq!(ids, (0..9).collect::<Vec<_>>());
}

#[test]
fn detect_outlets_mfd() {
    let dir = tempfile::tempdir().unwrap();
    let mfd = outlet_corner().mapv(|d| if d == 128 { 0i32 } else { 1 << (d * 4) });
    let path = dir.path().join("mfd.tif");
    common::write(&path, &mfd, Some(0.0), None);
    let target = dir.path().join("outlets.gpkg");
    detect_outlets(
        &RasterBand::first(&path),
        FlowDirType::Mfd,
        &target,
        &exec(),
    )
    .unwrap();
    assert_eq!(outlets(&target).0, expected_corner_outlets());
}

#[test]
fn detect_outlets_across_block_edges() {
    // pygeoprocessing mocks 4-pixel-wide blocks here; the answer is the same whatever the
    // blocks, so it holds for a tiled file and for one written in strips of single rows.
    let n = 128u8;
    let d8 = arr2(&[
        [0, 0, 0, 0, 7, 7, 7, 1, 6, 6],
        [2, 3, 4, 5, 6, 7, 0, 1, 1, 2],
        [2, 2, 2, 2, 0, n, n, 3, 3, n],
        [2, 1, 1, 1, 2, 6, 4, 1, n, n],
        [1, 1, 0, 0, 0, 0, n, n, n, n],
    ]);
    let expected: BTreeSet<(i32, i32)> = [(7, 0), (5, 1), (4, 2), (5, 4)].into_iter().collect();
    let dir = tempfile::tempdir().unwrap();
    for (name, driver) in [
        ("tiled", None),
        (
            "strips",
            Some(pgp_core::RasterDriver::new("GTiff", ["BLOCKYSIZE=1"])),
        ),
    ] {
        let path = dir.path().join(format!("{name}.tif"));
        common::write(&path, &d8, Some(128.0), driver);
        let target = dir.path().join(format!("{name}.gpkg"));
        detect_outlets(&RasterBand::first(&path), FlowDirType::D8, &target, &exec()).unwrap();
        assert_eq!(outlets(&target).0, expected, "{name}");
    }
}

#[test]
fn detect_lowest_drain_and_sink_finds_the_first_lowest() {
    let dir = tempfile::tempdir().unwrap();
    let mut dem = Array2::<f32>::zeros((11, 11));
    dem.slice_mut(ndarray::s![3..8, 3..8]).fill(-1.0);
    dem[[0, 0]] = -1.0;
    dem[[10, 10]] = -1.0;
    let path = dir.path().join("dem.tif");
    common::write(&path, &dem, None, None);
    let found = detect_lowest_drain_and_sink(&RasterBand::first(&path), &exec()).unwrap();
    assert_eq!(
        found,
        DrainAndSink {
            drain: Some((0, 0)),
            drain_height: -1.0,
            sink: Some((3, 3)),
            sink_height: -1.0,
        }
    );
}

fn write_projected<T: Pixel + Copy>(path: &Path, a: &Array2<T>, nodata: f64, wkt: Option<String>) {
    let (rows, cols) = a.dim();
    let spec = RasterSpec::new(
        cols,
        rows,
        T::DATA_TYPE,
        GeoTransform::north_up(2.0, -2.0, 2.0, -2.0),
    )
    .nodata(Some(nodata))
    .projection(wkt);
    let mut out = OutputRaster::create(path, &spec).unwrap();
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
}

#[test]
fn watersheds_trivial() {
    let mut d8 = Array2::from_elem((10, 10), 6u8);
    d8.row_mut(4).fill(0);
    d8.slice_mut(ndarray::s![5.., ..]).fill(2);
    d8[[3, 9]] = 255;
    d8[[5, 9]] = 255;
    let utm = SpatialRef::from_epsg(32731).unwrap().to_wkt().unwrap();
    let dir = tempfile::tempdir().unwrap();
    for wkt in [Some(utm.clone()), None] {
        let flow_dir = dir.path().join("flow_dir.tif");
        write_projected(&flow_dir, &d8, 255.0, wkt.clone());
        // A line, a line across nodata, a square and a point, all reaching column 9.
        let outflow = dir.path().join("outflow.gpkg");
        let _ = std::fs::remove_file(&outflow);
        {
            let mut ds = pgp_core::gdal::DriverManager::get_driver_by_name("GPKG")
                .unwrap()
                .create_vector_only(&outflow)
                .unwrap();
            let srs = SpatialRef::from_wkt(&utm).unwrap();
            let layer = ds
                .create_layer(LayerOptions {
                    name: "outflow",
                    srs: Some(&srs),
                    ty: OGRwkbGeometryType::wkbUnknown,
                    ..Default::default()
                })
                .unwrap();
            for (name, ty) in [
                ("polygon_id", OGRFieldType::OFTInteger),
                ("field_string", OGRFieldType::OFTString),
                ("other", OGRFieldType::OFTReal),
                ("ws_id", OGRFieldType::OFTInteger),
            ] {
                FieldDefn::new(name, ty)
                    .unwrap()
                    .add_to_layer(&layer)
                    .unwrap();
            }
            let geoms = [
                "LINESTRING (19 -11, 25 -11)",
                "LINESTRING (21 -9, 21 -13)",
                "POLYGON ((21 -13, 21 -9, 17 -9, 17 -13, 21 -13))",
                "POINT (21 -11)",
            ];
            for (i, (wkt, s)) in geoms
                .iter()
                .zip(["hello world", "hello foo", "hello bar", "hello baz"])
                .enumerate()
            {
                let mut f = pgp_core::gdal::vector::Feature::new(layer.defn()).unwrap();
                f.set_geometry(Geometry::from_wkt(wkt).unwrap()).unwrap();
                f.set_field_integer(0, i as i32 + 1).unwrap();
                f.set_field_string(1, s).unwrap();
                f.set_field_double(2, 1.111 * (i + 1) as f64).unwrap();
                f.set_field_integer(3, i as i32 + 1).unwrap();
                f.create(&layer).unwrap();
            }
        }
        let target = dir.path().join("watersheds.gpkg");
        let options = WatershedOptions {
            target_layer_name: "watersheds_something".to_string(),
            ..Default::default()
        };
        let n = delineate_watersheds_d8(
            &RasterBand::first(&flow_dir),
            &outflow,
            &target,
            &options,
            &exec(),
        )
        .unwrap();
        assert_eq!(n, 4);
        let ds = pgp_core::open_vector(&target).unwrap();
        let mut layer = ds.layer_by_name("watersheds_something").unwrap();
        assert_eq!(
            layer.defn().geometry_type(),
            OGRwkbGeometryType::wkbMultiPolygon
        );
        let expected = Geometry::bbox(2.0, -22.0, 22.0, -2.0)
            .unwrap()
            .difference(&Geometry::bbox(20.0, -10.0, 22.0, -2.0).unwrap())
            .unwrap()
            .difference(&Geometry::bbox(20.0, -22.0, 22.0, -12.0).unwrap())
            .unwrap();
        let mut ws_ids = BTreeSet::new();
        for f in layer.features() {
            let g = f.geometry().unwrap();
            assert_eq!(g.geometry_type(), OGRwkbGeometryType::wkbMultiPolygon);
            assert_eq!(g.area(), expected.area());
            assert_eq!(g.difference(&expected).unwrap().area(), 0.0);
            let polygon_id = f.field_as_integer(0).unwrap().unwrap();
            assert_eq!(
                f.field_as_string(1).unwrap().unwrap(),
                ["hello world", "hello foo", "hello bar", "hello baz"][polygon_id as usize - 1]
            );
            assert_eq!(
                f.field_as_double(2).unwrap().unwrap(),
                1.111 * polygon_id as f64
            );
            ws_ids.insert(f.field_as_integer(3).unwrap().unwrap());
        }
        // The outflow's own ws_id field is copied, not clobbered by the delineation's ids.
        assert_eq!(ws_ids, [1, 2, 3, 4].into_iter().collect());
    }
}

#[test]
fn bad_inputs_name_the_file_at_fault() {
    let dir = tempfile::tempdir().unwrap();
    let d8 = dir.path().join("d8.tif");
    common::write(&d8, &outlet_corner(), Some(128.0), None);
    let d8 = RasterBand::first(&d8);
    let target = dir.path().join("w.gpkg");
    let missing = dir.path().join("no_such_outlets.gpkg");
    let err = delineate_watersheds_d8(&d8, &missing, &target, &Default::default(), &exec())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no_such_outlets.gpkg"), "{err}");
    assert!(!target.exists());

    // A float raster is no flow direction raster; an MFD raster read as D8 holds no D8 codes.
    let dem = dir.path().join("dem.tif");
    common::write(&dem, &Array2::<f32>::zeros((5, 5)), Some(-1.0), None);
    let outlets = dir.path().join("o.gpkg");
    let err = detect_outlets(
        &RasterBand::first(&dem),
        FlowDirType::Mfd,
        &outlets,
        &exec(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Invalid { ref argument, .. } if argument.ends_with("dem.tif")));
    let mfd = dir.path().join("mfd.tif");
    common::write(
        &mfd,
        &Array2::from_elem((5, 5), 0x00F0_0000i32),
        Some(0.0),
        None,
    );
    let err = detect_outlets(&RasterBand::first(&mfd), FlowDirType::D8, &outlets, &exec())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("mfd.tif") && err.contains("no D8 direction"),
        "{err}"
    );
    // Without nodata, outlets cannot be told.
    let bare = dir.path().join("bare.tif");
    common::write(&bare, &outlet_corner(), None, None);
    let err = detect_outlets(
        &RasterBand::first(&bare),
        FlowDirType::D8,
        &outlets,
        &exec(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("bare.tif") && err.contains("no nodata"),
        "{err}"
    );
    assert!(!outlets.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".tif"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
    assert!("bad_mode".parse::<FlowDirType>().is_err());
}
