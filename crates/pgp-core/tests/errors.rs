//! Every error names the file, band or argument at fault.

use ndarray::Array2;
use pgp_core::{
    vector_info, DataType, Error, GeoTransform, LayerRef, OutputRaster, Raster, RasterSpec, Window,
};

fn small_raster(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("small.tif");
    let spec = RasterSpec::new(
        5,
        4,
        DataType::I16,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    );
    OutputRaster::create(&path, &spec)
        .unwrap()
        .commit()
        .unwrap();
    path
}

#[test]
fn missing_file() {
    let err = Raster::open("no/such/dem.tif").unwrap_err();
    assert!(matches!(err, Error::FileNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/dem.tif"), "{err}");
}

#[test]
fn not_a_raster_carries_gdals_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.tif");
    std::fs::write(&path, "this is not a tiff").unwrap();
    let err = Raster::open(&path).unwrap_err();
    match &err {
        Error::NotARaster { path: p, message } => {
            assert_eq!(p, &path);
            assert!(!message.trim().is_empty(), "GDAL's message is empty");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("notes.tif"));
}

#[test]
fn band_out_of_range() {
    let dir = tempfile::tempdir().unwrap();
    let r = Raster::open(small_raster(dir.path())).unwrap();
    for band in [0, 2] {
        let err = r.read::<i16>(band, Window::full(5, 4)).unwrap_err();
        assert!(
            matches!(err, Error::BandOutOfRange { band: b, count: 1, .. } if b == band),
            "{err:?}"
        );
        assert!(err.to_string().contains("small.tif"));
    }
}

#[test]
fn type_mismatch_names_both_types() {
    let dir = tempfile::tempdir().unwrap();
    let r = Raster::open(small_raster(dir.path())).unwrap();
    let err = r.read::<f32>(1, Window::full(5, 4)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::TypeMismatch {
                expected: DataType::F32,
                actual: DataType::I16,
                band: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("Int16") && msg.contains("Float32"), "{msg}");
}

#[test]
fn window_outside_and_read_only_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut r = Raster::open(small_raster(dir.path())).unwrap();
    let err = r.read::<i16>(1, Window::new(3, 0, 3, 1)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WindowOutOfBounds {
                cols: 5,
                rows: 4,
                ..
            }
        ),
        "{err:?}"
    );
    let err = r
        .write(1, 0, 0, Array2::<i16>::zeros((1, 1)).view())
        .unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(err.to_string().contains("read-only"));
}

#[test]
fn bad_creation_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let spec = RasterSpec::new(
        0,
        4,
        DataType::U8,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    );
    let err = OutputRaster::create(dir.path().join("x.tif"), &spec).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    let spec = RasterSpec::new(
        4,
        4,
        DataType::U8,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    );
    let err = OutputRaster::create(dir.path().join("missing-dir/x.tif"), &spec).unwrap_err();
    assert!(err.to_string().contains("missing-dir"), "{err}");
    let err = "complex".parse::<DataType>().unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { ref name, .. } if name == "datatype"));
}

#[test]
fn vector_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = vector_info(dir.path().join("none.gpkg"), &LayerRef::default()).unwrap_err();
    assert!(matches!(err, Error::FileNotFound { .. }));
    let raster = small_raster(dir.path());
    let err = vector_info(&raster, &LayerRef::default()).unwrap_err();
    assert!(matches!(err, Error::NotAVector { .. }), "{err:?}");
    let gpkg = dir.path().join("z.gpkg");
    pgp_core::sample::write_polygons(&gpkg, &["POLYGON((0 0,1 0,1 1,0 0))".to_string()]).unwrap();
    let err = vector_info(&gpkg, &LayerRef::Name("roads".into())).unwrap_err();
    assert!(
        matches!(err, Error::LayerNotFound { count: 1, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("roads"));
}
