//! Pictures of small, known rasters checked pixel by pixel against colours computed here.

use std::path::{Path, PathBuf};

use ndarray::{array, Array2};
use pgp_core::{DataType, GeoTransform, OutputRaster, Pixel, Raster, RasterSpec};
use pgp_view::legend::{LEGEND_HEIGHT, LEGEND_MIN_WIDTH};
use pgp_view::{encode_png, quicklook, render, Colormap, Options, ViewError};

fn write<T: Pixel>(path: &Path, data: &Array2<T>, nodata: Option<f64>) -> PathBuf {
    let (rows, cols) = data.dim();
    let spec = RasterSpec::new(
        cols,
        rows,
        T::DATA_TYPE,
        GeoTransform::north_up(0.0, 0.0, 10.0, -10.0),
    )
    .nodata(nodata);
    let mut out = OutputRaster::create(path, &spec).unwrap();
    out.raster().write(1, 0, 0, data.view()).unwrap();
    out.commit().unwrap();
    path.to_path_buf()
}

fn pixel(p: &pgp_view::Picture, col: usize, row: usize) -> [u8; 4] {
    let i = (row * p.width + col) * 4;
    [p.rgba[i], p.rgba[i + 1], p.rgba[i + 2], p.rgba[i + 3]]
}

fn decode(bytes: &[u8]) -> (png::OutputInfo, Vec<u8>, Vec<(String, String)>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    let texts = reader
        .info()
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect();
    (info, buf, texts)
}

fn no_legend() -> Options {
    Options {
        legend: false,
        ..Options::default()
    }
}

#[test]
fn a_known_raster_gets_viridis_colours_and_transparent_nodata() {
    let dir = tempfile::tempdir().unwrap();
    let data: Array2<f32> = array![[0.0, 25.0, 50.0], [75.0, 100.0, -1.0]];
    let path = write(&dir.path().join("known.tif"), &data, Some(-1.0));
    let p = render(&path, &no_legend()).unwrap();
    assert_eq!((p.width, p.height), (3, 2));
    assert_eq!(p.range, Some((0.0, 100.0)));
    assert_eq!(p.valid_pixels, 5);
    // Viridis' ends as matplotlib defines them.
    assert_eq!(pixel(&p, 0, 0), [0x44, 0x01, 0x54, 255]);
    assert_eq!(pixel(&p, 1, 1), [0xfd, 0xe7, 0x25, 255]);
    for ((r, c), &v) in data.indexed_iter() {
        let got = pixel(&p, c, r);
        if v == -1.0 {
            assert_eq!(got[3], 0, "nodata at row {r} col {c} must be transparent");
        } else {
            let want = colorous::VIRIDIS.eval_continuous(f64::from(v) / 100.0);
            assert_eq!(got, [want.r, want.g, want.b, 255], "row {r} col {c}");
        }
    }
}

#[test]
fn gray_with_a_range_is_linear_and_clamps() {
    let dir = tempfile::tempdir().unwrap();
    let data: Array2<i16> = array![[-50, 0, 51], [102, 204, 400]];
    let path = write(&dir.path().join("gray.tif"), &data, None);
    let options = Options {
        colormap: Colormap::Gray,
        range: Some((0.0, 204.0)),
        ..no_legend()
    };
    let p = render(&path, &options).unwrap();
    let grays: Vec<u8> = (0..6).map(|k| pixel(&p, k % 3, k / 3)[0]).collect();
    // 51/204 of 255 is 63.75, 102/204 is 127.5: rounded half away from zero.
    assert_eq!(grays, vec![0, 0, 64, 128, 255, 255]);
    assert!((0..6).all(|k| pixel(&p, k % 3, k / 3)[3] == 255));
}

#[test]
fn log_scale_spaces_decades_evenly() {
    let dir = tempfile::tempdir().unwrap();
    let data: Array2<f64> = array![[1.0, 10.0, 100.0, 1000.0, 0.0]];
    let path = write(&dir.path().join("flow.tif"), &data, None);
    let options = Options {
        colormap: Colormap::Gray,
        log: true,
        ..no_legend()
    };
    let p = render(&path, &options).unwrap();
    assert_eq!(p.range, Some((1.0, 1000.0)));
    let grays: Vec<u8> = (0..5).map(|c| pixel(&p, c, 0)[0]).collect();
    // log10: 0, 1, 2, 3 of 3 → 0, 85, 170, 255; zero has no log and takes the low end.
    assert_eq!(grays, vec![0, 85, 170, 255, 0]);
}

#[test]
fn classes_get_tableau_colours() {
    let dir = tempfile::tempdir().unwrap();
    let data: Array2<u8> = array![[1, 2, 3], [12, 255, 1]];
    let path = write(&dir.path().join("lulc.tif"), &data, Some(255.0));
    let options = Options {
        colormap: Colormap::Categorical,
        ..no_legend()
    };
    let p = render(&path, &options).unwrap();
    assert_eq!(p.range, Some((1.0, 12.0)));
    for ((r, c), &v) in data.indexed_iter() {
        let got = pixel(&p, c, r);
        if v == 255 {
            assert_eq!(got[3], 0);
        } else {
            let want = colorous::TABLEAU10[usize::from(v) % 10];
            assert_eq!(got, [want.r, want.g, want.b, 255], "class {v}");
        }
    }
}

#[test]
fn the_png_decodes_at_the_expected_size_with_its_legend() {
    let dir = tempfile::tempdir().unwrap();
    let data = Array2::from_shape_fn((200, 300), |(r, c)| (r * 300 + c) as f32);
    let path = write(&dir.path().join("ramp.tif"), &data, None);
    let out = dir.path().join("ramp.png");
    let options = Options {
        max_size: 150,
        ..Options::default()
    };
    let p = quicklook(&path, &out, &options).unwrap();
    assert_eq!(p.image_size, (150, 100));
    let (info, rgba, texts) = decode(&std::fs::read(&out).unwrap());
    assert_eq!(
        (info.width as usize, info.height as usize),
        (LEGEND_MIN_WIDTH, 100 + LEGEND_HEIGHT)
    );
    assert_eq!(info.color_type, png::ColorType::Rgba);
    assert_eq!(rgba, p.rgba);
    // Nearest sampling takes the source pixel under each picture pixel's centre: picture pixel
    // (i, j) shows source (floor(2i + 1), floor(2j + 1)), so the range is that of those pixels.
    let sampled = |c: usize, r: usize| (2 * r + 1) * 300 + 2 * c + 1;
    let range = format!("{} {}", sampled(0, 0), sampled(149, 99));
    assert!(texts.contains(&("pgp:range".into(), range)), "{texts:?}");
    // Beside the narrow picture the canvas is transparent; the legend strip is opaque, and its
    // colour bar starts with the low end of the map.
    assert_eq!(pixel(&p, 170, 50)[3], 0);
    assert!((100..100 + LEGEND_HEIGHT).all(|r| pixel(&p, 0, r)[3] == 255));
    let low = colorous::VIRIDIS.eval_continuous(0.0);
    assert_eq!(pixel(&p, 4, 100 + 4), [low.r, low.g, low.b, 255]);
    // The top-left picture pixel holds the smallest sampled value: the low end.
    assert_eq!(pixel(&p, 0, 0), [low.r, low.g, low.b, 255]);
    assert!(!dir.path().read_dir().unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .contains("pgp-tmp")));
}

#[test]
fn same_input_and_options_give_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let dem = dir.path().join("dem.tif");
    pgp_core::sample::dem(&dem, 256, 3).unwrap();
    let options = Options {
        colormap: Colormap::Terrain,
        hillshade: true,
        max_size: 97,
        ..Options::default()
    };
    let a = encode_png(&render(&dem, &options).unwrap()).unwrap();
    let b = encode_png(&render(&dem, &options).unwrap()).unwrap();
    assert_eq!(a, b);
    let plain = encode_png(
        &render(
            &dem,
            &Options {
                hillshade: false,
                ..options
            },
        )
        .unwrap(),
    );
    assert_ne!(a, plain.unwrap(), "hillshade must change the picture");
}

#[test]
fn units_reach_the_picture_and_the_png() {
    let dir = tempfile::tempdir().unwrap();
    let data: Array2<f32> = array![[1.0, 2.0], [3.0, 4.0]];
    let path = write(&dir.path().join("m.tif"), &data, None);
    let bare = render(&path, &Options::default()).unwrap();
    let mut r = Raster::open_update(&path).unwrap();
    r.set_unit(1, "metre").unwrap();
    r.close().unwrap();
    let p = render(&path, &Options::default()).unwrap();
    assert_eq!(p.unit.as_deref(), Some("metre"));
    let (_, _, texts) = decode(&encode_png(&p).unwrap());
    assert!(texts.contains(&("pgp:unit".into(), "metre".into())));
    let ink = |p: &pgp_view::Picture| p.rgba.chunks(4).filter(|x| *x == [0, 0, 0, 255]).count();
    assert!(
        ink(&p) > ink(&bare) + 5 * 10,
        "the unit is printed in the legend"
    );
}

#[test]
fn overviews_are_read_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir.path().join("ov.tif"),
        &Array2::from_elem((64, 64), 10u8),
        None,
    );
    let mut ds = pgp_core::gdal::Dataset::open(&path).unwrap();
    ds.build_overviews("NEAREST", &[4], &[]).unwrap();
    drop(ds);
    // Change the full resolution after the overview was made: a picture read from the overview
    // still shows the old value, one read from the full resolution the new one.
    let mut r = Raster::open_update(&path).unwrap();
    r.write(1, 0, 0, Array2::from_elem((64, 64), 200u8).view())
        .unwrap();
    r.close().unwrap();
    let gray = |max_size| Options {
        colormap: Colormap::Gray,
        range: Some((0.0, 255.0)),
        max_size,
        ..no_legend()
    };
    let small = render(&path, &gray(16)).unwrap();
    assert!(small.has_overviews);
    assert_eq!(pixel(&small, 3, 3)[0], 10);
    let full = render(&path, &gray(64)).unwrap();
    assert_eq!(pixel(&full, 3, 3)[0], 200);
}

#[test]
fn bad_options_and_bands_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir.path().join("one.tif"),
        &Array2::from_elem((4, 4), 1.0f32),
        None,
    );
    let err = render(
        &path,
        &Options {
            band: 2,
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ViewError::Raster(pgp_core::Error::BandOutOfRange { band: 2, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("one.tif"), "{err}");
    let err = render(
        &path,
        &Options {
            log: true,
            range: Some((0.0, 10.0)),
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(err, ViewError::Option { name: "range", .. }),
        "{err}"
    );
    let err = render(
        &path,
        &Options {
            max_size: 0,
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(err.to_string().starts_with("--max-size"), "{err}");
    let err = render(&dir.path().join("missing.tif"), &Options::default()).unwrap_err();
    assert!(err.to_string().contains("missing.tif"), "{err}");
    assert_eq!(
        DataType::F32,
        Raster::open(&path).unwrap().data_type(1).unwrap()
    );
}

#[test]
fn an_all_nodata_raster_is_transparent_with_a_legend_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir.path().join("empty.tif"),
        &Array2::from_elem((10, 10), -9999.0f32),
        Some(-9999.0),
    );
    let p = render(&path, &Options::default()).unwrap();
    assert_eq!(p.range, None);
    assert_eq!(p.valid_pixels, 0);
    assert!((0..10).all(|r| (0..10).all(|c| pixel(&p, c, r)[3] == 0)));
}

#[test]
fn integer_bands_with_few_values_are_suggested_as_classes() {
    let dir = tempfile::tempdir().unwrap();
    let classes = write(
        &dir.path().join("classes.tif"),
        &Array2::from_shape_fn((40, 40), |(r, c)| ((r / 10 + c / 10) % 5) as u8),
        None,
    );
    let ramp = write(
        &dir.path().join("ramp.tif"),
        &Array2::from_shape_fn((40, 40), |(r, c)| (r * 40 + c) as i16),
        None,
    );
    let floats = write(
        &dir.path().join("floats.tif"),
        &Array2::from_elem((4, 4), 1.0f32),
        None,
    );
    assert_eq!(
        pgp_view::suggest_colormap(&classes, 1).unwrap(),
        Colormap::Categorical
    );
    assert_eq!(
        pgp_view::suggest_colormap(&ramp, 1).unwrap(),
        Colormap::Viridis
    );
    assert_eq!(
        pgp_view::suggest_colormap(&floats, 1).unwrap(),
        Colormap::Viridis
    );
}
