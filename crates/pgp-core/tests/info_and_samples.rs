//! `RasterInfo` against `gdalinfo -json` of the same file, `VectorInfo`, and the sample data.

use std::process::Command;

use pgp_core::sample;
use pgp_core::{raster_info, vector_info, DataType, LayerRef, Raster, Window};

#[test]
fn raster_info_matches_gdalinfo() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample::generate(dir.path(), 300, 42).unwrap();
    for (path, dtype) in [
        (&data.dem, DataType::F32),
        (&data.landcover, DataType::U8),
        (&data.precip, DataType::I16),
        (&data.weight, DataType::F32),
    ] {
        let info = raster_info(path).unwrap();
        assert_eq!(info.datatype, dtype);
        let out = Command::new("gdalinfo")
            .arg("-json")
            .arg(path)
            .output()
            .expect("gdalinfo (Debian package gdal-bin) must be installed");
        assert!(out.status.success());
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let size = &j["size"];
        assert_eq!(info.raster_size.0 as u64, size[0].as_u64().unwrap());
        assert_eq!(info.raster_size.1 as u64, size[1].as_u64().unwrap());
        let gt: Vec<f64> = j["geoTransform"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(info.geotransform.0.to_vec(), gt);
        let bands = j["bands"].as_array().unwrap();
        assert_eq!(info.n_bands, bands.len());
        let b1 = &bands[0];
        assert_eq!(b1["type"].as_str().unwrap(), info.datatype.gdal_name());
        let block: Vec<usize> = b1["block"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(vec![info.block_size.0, info.block_size.1], block);
        match &b1["noDataValue"] {
            serde_json::Value::String(s) if s == "NaN" => {
                assert!(info.nodata[0].unwrap().is_nan())
            }
            v => assert_eq!(info.nodata[0], v.as_f64()),
        }
        // cornerCoordinates give the bounding box.
        let cc = &j["cornerCoordinates"];
        let ul = cc["upperLeft"].as_array().unwrap();
        let lr = cc["lowerRight"].as_array().unwrap();
        let bb = info.bounding_box;
        assert!((bb.xmin - ul[0].as_f64().unwrap()).abs() < 1e-6);
        assert!((bb.ymax - ul[1].as_f64().unwrap()).abs() < 1e-6);
        assert!((bb.xmax - lr[0].as_f64().unwrap()).abs() < 1e-6);
        assert!((bb.ymin - lr[1].as_f64().unwrap()).abs() < 1e-6);
        let wkt = info.projection_wkt.as_deref().unwrap();
        assert!(wkt.contains("UTM zone 31N"), "{wkt}");
        let files = j["files"].as_array().unwrap();
        assert_eq!(info.file_list.len(), files.len());
    }
}

#[test]
fn samples_are_deterministic_and_shaped_as_documented() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let da = sample::generate(a.path(), 200, 7).unwrap();
    let db = sample::generate(b.path(), 200, 7).unwrap();
    for (x, y) in [
        (&da.dem, &db.dem),
        (&da.landcover, &db.landcover),
        (&da.precip, &db.precip),
    ] {
        let rx = Raster::open(x).unwrap();
        let ry = Raster::open(y).unwrap();
        let w = Window::full(rx.size().0, rx.size().1);
        assert_eq!(rx.read_dyn(1, w).unwrap(), ry.read_dyn(1, w).unwrap());
    }
    let other = tempfile::tempdir().unwrap();
    let dc = sample::generate(other.path(), 200, 8).unwrap();
    let dem_a = Raster::open(&da.dem)
        .unwrap()
        .read::<f32>(1, Window::full(200, 200))
        .unwrap();
    let dem_c = Raster::open(&dc.dem)
        .unwrap()
        .read::<f32>(1, Window::full(200, 200))
        .unwrap();
    assert_ne!(dem_a, dem_c, "the seed matters");

    // DEM: nodata in the bottom five rows and the lake, plausible elevations elsewhere.
    assert!(dem_a.row(199).iter().all(|&v| v == -9999.0));
    assert_eq!(dem_a[[120, 60]], -9999.0, "lake centre");
    let valid: Vec<f32> = dem_a.iter().copied().filter(|&v| v != -9999.0).collect();
    assert!(valid.len() > 190 * 200 - 400);
    assert!(valid.iter().all(|&v| v > -1000.0 && v < 2000.0));

    // Land cover: classes 1..=12 and nodata only, on a 40 m grid shifted from the DEM's.
    let lc = Raster::open(&da.landcover).unwrap();
    let info = lc.info().unwrap();
    assert_eq!(info.pixel_size, (40.0, -40.0));
    assert_eq!(info.geotransform.0[0], sample::X0 + 17.0);
    let values = lc.read::<u8>(1, Window::full(150, 150)).unwrap();
    assert!(values.iter().all(|&v| (1..=12).contains(&v) || v == 255));

    // Zones: 190 stars + 8 sub-pixel squares + 2 outside + 1 with a hole + 1 multipolygon.
    let vi = vector_info(&da.zones, &LayerRef::default()).unwrap();
    assert_eq!(vi.feature_count, 202);
    assert_eq!(vi.layer_name, "zones");
    assert_eq!(vi.fields.len(), 1);
    assert_eq!(vi.fields[0].name, "zone_id");
    assert_eq!(vi.fields[0].field_type, "Integer");
    assert!(vi.projection_wkt.unwrap().contains("UTM zone 31N"));
    let bb = vi.bounding_box.unwrap();
    assert!(bb.xmin < sample::X0, "some zones lie west of the rasters");
}
