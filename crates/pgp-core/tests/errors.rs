//! Every error names the file, band or argument at fault.

use ndarray::Array2;
use pgp_core::tiles::{TileLayout, TiledTiffOutput};
use pgp_core::{
    check_output_path, vector_info, DataType, Error, GeoTransform, LayerRef, OutputRaster, Raster,
    RasterSpec, Window,
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
fn unwritable_outputs_name_the_path_given_not_a_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let raster = small_raster(dir.path());
    let spec = RasterSpec::new(
        64,
        64,
        DataType::F32,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    );
    assert!(
        TileLayout::for_spec(&spec).is_some(),
        "a spec for raw tiles"
    );
    let missing = dir.path().join("nodir/sub/out.tif");
    let file_as_dir = raster.join("out.tif");
    let cases = [
        (
            missing.clone(),
            format!(
                "directory {} does not exist",
                dir.path().join("nodir/sub").display()
            ),
        ),
        (
            file_as_dir.clone(),
            format!("{} is not a directory", raster.display()),
        ),
        (
            dir.path().to_path_buf(),
            "is a directory, not a file".to_string(),
        ),
    ];
    for (target, problem) in &cases {
        let expected = format!("{}: {problem}", target.display());
        let err = check_output_path(target).unwrap_err();
        assert!(matches!(err, Error::OutputPath { .. }), "{err:?}");
        assert_eq!(err.to_string(), expected);
        let err = OutputRaster::create(target, &spec).unwrap_err();
        assert_eq!(err.to_string(), expected);
        // The raw-tile writer (what the block operations use for tiled GeoTIFFs) says the same.
        let err = TiledTiffOutput::create(target, &spec).unwrap_err();
        assert_eq!(err.to_string(), expected);
    }
    assert!(check_output_path(&dir.path().join("fine.tif")).is_ok());
    assert!(check_output_path(std::path::Path::new("relative.tif")).is_ok());
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
