//! Window functions on the sync and thread executors: exact pixels against whole-array
//! computations, halos and their edges, folds, the output's layout, and failures that leave
//! nothing behind.

#[path = "common/window_inputs.rs"]
mod window_inputs;

use ndarray::{s, Array3};
use pgp_core::gdal::Metadata;
use pgp_core::{DataType, OutputRaster, Raster, RasterDriver, RasterSpec, Window};
use pgp_exec::Executor;
use pgp_ops::windows::{fold_windows, map_windows, Edge, WindowData, WindowFold, WindowMap};
use pgp_ops::Error;
use window_inputs::*;

fn executors() -> Vec<Executor> {
    vec![Executor::sync(), Executor::threads(2).unwrap()]
}

#[test]
fn rasterio_example_gives_exact_pixels_and_the_inputs_layout_with_128_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rgb.tif");
    let pixels = rgb(&input, 300, 200, 3);
    let want = burned(&pixels);
    let mut digests = Vec::new();
    for exec in executors() {
        let target = dir.path().join(format!("out-{}.tif", exec.workers()));
        let request = WindowMap::new([&input], &target).block_size(128, 128);
        let report = map_windows(&request, burn, &exec).unwrap();
        assert_eq!(
            (report.size, report.bands, report.windows),
            ((300, 200), 3, 6)
        );
        assert_eq!(read_all::<u8>(&target), want, "{}", exec.spec());
        let out = Raster::open(&target).unwrap();
        let source = Raster::open(&input).unwrap();
        assert_eq!(out.block_size(1).unwrap(), (128, 128));
        assert_eq!(out.nodata(3).unwrap(), Some(0.0));
        assert_eq!(out.data_type(2).unwrap(), DataType::U8);
        assert_eq!(out.geotransform(), source.geotransform());
        assert_eq!(out.projection_wkt(), source.projection_wkt());
        let structure = |r: &Raster, key| r.dataset().metadata_item(key, "IMAGE_STRUCTURE");
        for key in ["COMPRESSION", "INTERLEAVE"] {
            assert_eq!(structure(&out, key), structure(&source, key), "{key}");
        }
        digests.push(file_sha256(&target));
    }
    assert_eq!(
        digests[0], digests[1],
        "sync and threading:2 wrote other bytes"
    );
    // Workers compress the output's pixel-interleaved tiles themselves, and the file is byte
    // for byte the one GDAL writes from the same pixels with the same settings.
    let source = Raster::open(&input).unwrap();
    let spec = RasterSpec::new(300, 200, DataType::U8, source.geotransform())
        .bands(3)
        .nodata(Some(0.0))
        .projection(source.projection_wkt())
        .driver(RasterDriver::new(
            "GTiff",
            [
                "TILED=YES",
                "BLOCKXSIZE=128",
                "BLOCKYSIZE=128",
                "COMPRESS=LZW",
                "INTERLEAVE=PIXEL",
            ],
        ));
    let by_gdal = dir.path().join("by-gdal.tif");
    let mut out = OutputRaster::create(&by_gdal, &spec).unwrap();
    out.raster()
        .write_bands(&[1, 2, 3], 0, 0, want.view())
        .unwrap();
    out.commit().unwrap();
    assert_eq!(file_sha256(&by_gdal), digests[0], "GDAL writes other bytes");
}

#[test]
fn band_interleaved_outputs_are_exact_and_the_same_on_every_executor() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rgb.tif");
    let pixels = rgb(&input, 300, 200, 3);
    let want = burned(&pixels);
    let mut digests = Vec::new();
    for exec in executors() {
        let target = dir.path().join(format!("band-{}.tif", exec.workers()));
        let driver = RasterDriver::new("GTiff", ["COMPRESS=LZW", "INTERLEAVE=BAND"]);
        let request = WindowMap::new([&input], &target)
            .block_size(128, 64)
            .driver(driver);
        map_windows(&request, burn, &exec).unwrap();
        assert_eq!(read_all::<u8>(&target), want, "{}", exec.spec());
        let out = Raster::open(&target).unwrap();
        let interleave = out.dataset().metadata_item("INTERLEAVE", "IMAGE_STRUCTURE");
        assert_eq!(interleave.as_deref(), Some("BAND"));
        assert_eq!(out.block_size(2).unwrap(), (128, 64));
        digests.push(file_sha256(&target));
    }
    assert_eq!(digests[0], digests[1], "sync and threading:2 differ");
}

/// The raster index padded index `g` reads, by mirroring (or clamping) until it is inside:
/// stated independently of the library's folding.
fn padded_source(mut g: isize, n: usize, edge: Edge) -> Option<usize> {
    let len = n as isize;
    loop {
        if (0..len).contains(&g) {
            return Some(g as usize);
        }
        g = match edge {
            Edge::Nodata | Edge::Constant(_) => return None,
            Edge::Replicate => g.clamp(0, len - 1),
            Edge::Reflect if n == 1 => 0,
            Edge::Reflect if g < 0 => -g,
            Edge::Reflect => 2 * (len - 1) - g,
            Edge::Symmetric if g < 0 => -g - 1,
            Edge::Symmetric => 2 * len - 1 - g,
        };
    }
}

#[test]
fn halos_show_neighbours_across_windows_and_the_chosen_edge_beyond_the_raster() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.tif"), dir.path().join("b.tif"));
    let (cols, rows) = (150, 130);
    let pa = rgb(&a, cols, rows, 3).mapv(f64::from);
    let pb = rgb(&b, cols, rows, 1).mapv(f64::from);
    let halo = 2usize;
    for edge in [
        Edge::Nodata,
        Edge::Constant(7.0),
        Edge::Replicate,
        Edge::Reflect,
        Edge::Symmetric,
    ] {
        // 5 x 5 sum of band 2 of `a` plus band 1 of `b` at the centre, as float64.
        let value = |input: &Array3<f64>, band: usize, r: isize, c: isize| {
            match (padded_source(r, rows, edge), padded_source(c, cols, edge)) {
                (Some(r), Some(c)) => input[[band, r, c]],
                _ => match edge {
                    Edge::Constant(v) => v,
                    _ => 0.0, // the inputs' nodata
                },
            }
        };
        let want = Array3::from_shape_fn((1, rows, cols), |(_, r, c)| {
            let (r, c) = (r as isize, c as isize);
            let mut sum = 0.0;
            for dr in -2..=2 {
                for dc in -2..=2 {
                    sum += value(&pa, 1, r + dr, c + dc);
                }
            }
            sum + value(&pb, 0, r, c)
        });
        for exec in executors() {
            let target = dir.path().join("sum.tif");
            let request = WindowMap::new([&a, &b], &target)
                .block_size(64, 48)
                .bands(1)
                .nodata(None)
                .halo(halo, edge);
            let f = move |w: &WindowData<'_, f64>| {
                let (h, wd) = w.window.shape();
                assert_eq!(w.halo, halo);
                assert_eq!(w.inputs[0].dim(), (3, h + 2 * halo, wd + 2 * halo));
                assert_eq!(w.core(1).unwrap().dim(), (1, h, wd));
                Ok(Array3::from_shape_fn((1, h, wd), |(_, r, c)| {
                    w.inputs[0].slice(s![1, r..r + 5, c..c + 5]).sum()
                        + w.inputs[1][[0, r + 2, c + 2]]
                }))
            };
            map_windows(&request, f, &exec).unwrap();
            assert_eq!(
                read_all::<f64>(&target),
                want,
                "{edge:?} on {}",
                exec.spec()
            );
            assert_eq!(Raster::open(&target).unwrap().nodata(1).unwrap(), None);
        }
    }
}

#[test]
fn windows_know_their_position_number_and_geotransform() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rgb.tif");
    rgb(&input, 100, 70, 1);
    let target = dir.path().join("where.tif");
    let request = WindowMap::new([&input], &target).block_size(32, 32);
    let gt = Raster::open(&input).unwrap().geotransform();
    let f = move |w: &WindowData<'_, u8>| {
        let (x, y) = gt.apply(w.window.x_off as f64, w.window.y_off as f64);
        assert_eq!((w.geotransform.0[0], w.geotransform.0[3]), (x, y));
        assert_eq!(w.index, (w.window.y_off / 32) * 4 + w.window.x_off / 32);
        Ok(Array3::from_elem(
            (1, w.window.height, w.window.width),
            w.index as u32,
        ))
    };
    let report = map_windows(&request, f, &Executor::threads(2).unwrap()).unwrap();
    assert_eq!(report.windows, 12);
    let r = Raster::open(&target).unwrap();
    assert_eq!(
        r.data_type(1).unwrap(),
        DataType::U32,
        "the function's type"
    );
    let index = r.read::<u32>(1, Window::full(100, 70)).unwrap();
    assert_eq!(index[[69, 99]], 11);
    assert_eq!(index[[33, 5]], 4);
}

#[test]
fn folds_equal_a_histogram_of_the_whole_raster_in_window_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rgb.tif");
    let pixels = rgb(&input, 257, 190, 3);
    let want = full_histograms(&pixels);
    for exec in executors() {
        for block in [None, Some((50, 40))] {
            let mut request = WindowFold::new([&input]);
            request.block_size = block;
            let got = fold_windows(&request, histogram, Vec::new(), add_histograms, &exec).unwrap();
            assert_eq!(got, want, "{block:?} on {}", exec.spec());
        }
        // The fold sees the windows in order, whatever finishes first.
        let order = fold_windows(
            &WindowFold::new([&input]).block_size(64, 64),
            |w: &WindowData<'_, u8>| Ok(w.index),
            Vec::new(),
            |mut seen: Vec<usize>, i| {
                seen.push(i);
                Ok(seen)
            },
            &exec,
        )
        .unwrap();
        assert_eq!(order, (0..15).collect::<Vec<_>>());
    }
}

#[test]
fn a_panic_names_its_window_and_leaves_no_output_nor_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("rgb.tif");
    rgb(&input, 200, 200, 3);
    for exec in executors() {
        let target = dir.path().join("out.tif");
        let request = WindowMap::new([&input], &target).block_size(64, 64);
        let f = |w: &WindowData<'_, u8>| {
            if w.index == 5 {
                panic!("bad window");
            }
            Ok(w.inputs[0].clone())
        };
        match map_windows(&request, f, &exec) {
            Err(Error::WindowPanicked {
                index,
                window,
                message,
                ..
            }) => {
                assert_eq!((index, window), (5, Window::new(64, 64, 64, 64)));
                assert_eq!(message, "bad window");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(others(dir.path(), &["rgb.tif"]), Vec::<String>::new());
        let err = map_windows(
            &request,
            |_: &WindowData<'_, u8>| Err::<Array3<u8>, _>(Error::invalid("mine", "no")),
            &exec,
        )
        .unwrap_err();
        assert!(
            matches!(err, Error::InvalidArgument { ref name, .. } if name == "mine"),
            "{err}"
        );
        assert_eq!(others(dir.path(), &["rgb.tif"]), Vec::<String>::new());
    }
}

#[test]
fn bad_requests_are_clear_errors_before_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let (a, small) = (dir.path().join("a.tif"), dir.path().join("small.tif"));
    rgb(&a, 100, 80, 3);
    rgb(&small, 90, 80, 1);
    let target = dir.path().join("out.tif");
    let exec = Executor::sync();
    let copy = |w: &WindowData<'_, u8>| Ok(w.inputs[0].clone());

    let err = map_windows(&WindowMap::new([&a, &small], &target), copy, &exec).unwrap_err();
    assert!(
        matches!(err, Error::SizeMismatch { ref path, .. } if *path == small),
        "{err}"
    );

    let err = map_windows(&WindowMap::new([&a], &target).bands(2), copy, &exec).unwrap_err();
    assert!(
        matches!(
            err,
            Error::WindowShape {
                expected: (2, 64, 64),
                actual: (3, 64, 64),
                ..
            }
        ),
        "{err}"
    );

    let missing = dir.path().join("missing.tif");
    let err = map_windows(&WindowMap::new([&missing], &target), copy, &exec).unwrap_err();
    assert!(err.to_string().contains("missing.tif"), "{err}");

    let sum = dir.path().join("sum.tif");
    let f32_out = |w: &WindowData<'_, u8>| Ok(w.inputs[0].mapv(f32::from));
    map_windows(&WindowMap::new([&a], &sum).nodata(None), f32_out, &exec).unwrap();
    let err = map_windows(
        &WindowMap::new([&sum], &target).halo(1, Edge::Nodata),
        copy,
        &exec,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("band 1 of") && err.to_string().contains("sum.tif"),
        "{err}"
    );

    let err = map_windows(
        &WindowMap::new([&a], &target).nodata(Some(300.0)),
        copy,
        &exec,
    )
    .unwrap_err();
    assert!(err.to_string().contains("300"), "{err}");
    let err = map_windows(
        &WindowMap::new([&a], &target).block_size(0, 64),
        copy,
        &exec,
    )
    .unwrap_err();
    assert!(err.to_string().contains("block_size"), "{err}");
    assert_eq!(
        others(dir.path(), &["a.tif", "small.tif", "sum.tif"]),
        Vec::<String>::new()
    );
}
