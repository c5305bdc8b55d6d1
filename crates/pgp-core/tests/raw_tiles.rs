//! Rasters written as raw LZW tiles read back through GDAL exactly as written, with GDAL's
//! own tags, statistics and nodata; bad use leaves nothing behind.

use ndarray::Array2;
use pgp_core::tiles::{encode_window, Interleave, TileLayout, TiledTiffOutput};
use pgp_core::{
    block_windows, BandStatistics, DataType, DynArray, GeoTransform, OutputRaster, Pixel, Raster,
    RasterDriver, RasterSpec, Window, DEFAULT_GTIFF_OPTIONS,
};

fn spec(cols: usize, rows: usize, dt: DataType) -> RasterSpec {
    RasterSpec::new(
        cols,
        rows,
        dt,
        GeoTransform::north_up(500.0, 900.0, 30.0, -30.0),
    )
    .nodata(Some(7.0))
}

/// Pseudo-random values with runs, so LZW sees both noise and repetition.
fn pixels<T: Pixel>(cols: usize, rows: usize, seed: u64) -> Array2<T> {
    let mut x = seed | 1;
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (r / 3 + c / 5) % 4 == 0 {
            T::from_f64(7.0)
        } else {
            T::from_f64((x % 251) as f64 - 100.0 + 0.25)
        }
    })
}

fn write_raw(path: &std::path::Path, spec: &RasterSpec, data: &DynArray, largest: usize) {
    let mut out = TiledTiffOutput::create(path, spec)
        .unwrap()
        .expect("raw path");
    let layout = *out.layout();
    for w in block_windows(layout.size, layout.tile, largest) {
        let block = pgp_core::with_pixel_type!(layout.datatype, T => {
            let v = data.view::<T>().unwrap();
            DynArray::from(v.slice(ndarray::s![w.y_off..w.y_off + w.height, w.x_off..w.x_off + w.width]).to_owned())
        });
        for t in encode_window(&block, w, &layout).unwrap() {
            out.write(&t).unwrap();
        }
    }
    let stats = BandStatistics {
        min: 1.0,
        max: 2.0,
        mean: 1.5,
        std_dev: 0.5,
    };
    out.commit(Some(Box::new(move |r: &mut Raster| {
        r.set_statistics(1, stats)
    })))
    .unwrap();
}

fn read_all(path: &std::path::Path) -> DynArray {
    let r = Raster::open(path).unwrap();
    let (c, rws) = r.size();
    r.read_dyn(1, Window::full(c, rws)).unwrap()
}

#[test]
fn every_pixel_type_reads_back_exactly_like_gdals_own_file() {
    let dir = tempfile::tempdir().unwrap();
    for dt in DataType::ALL {
        // Not a multiple of the tile size: edge tiles are partial.
        let (cols, rows) = (600, 300);
        let s = spec(cols, rows, dt);
        let data: DynArray =
            pgp_core::with_pixel_type!(dt, T => DynArray::from(pixels::<T>(cols, rows, 9)));
        let raw = dir.path().join(format!("raw-{dt}.tif"));
        write_raw(&raw, &s, &data, 1 << 16);
        let gdal = dir.path().join(format!("gdal-{dt}.tif"));
        let mut out = OutputRaster::create(&gdal, &s).unwrap();
        out.raster().write_dyn(1, 0, 0, &data).unwrap();
        out.commit().unwrap();

        assert_eq!(read_all(&raw), data, "{dt}");
        let (a, b) = (
            pgp_core::raster_info(&raw).unwrap(),
            pgp_core::raster_info(&gdal).unwrap(),
        );
        assert_eq!(a.raster_size, b.raster_size);
        assert_eq!(a.geotransform, b.geotransform);
        assert_eq!(a.datatype, b.datatype);
        assert_eq!(a.nodata, b.nodata);
        assert_eq!(a.block_size, b.block_size);
        let r = Raster::open(&raw).unwrap();
        let stats = r.statistics(1).unwrap().expect("statistics written");
        assert_eq!((stats.min, stats.max), (1.0, 2.0));
    }
}

#[test]
fn nan_and_windows_of_several_tiles() {
    let dir = tempfile::tempdir().unwrap();
    let (cols, rows) = (1000, 530);
    let mut data = pixels::<f32>(cols, rows, 3);
    data[[0, 0]] = f32::NAN;
    data[[529, 999]] = f32::NEG_INFINITY;
    let data = DynArray::from(data);
    let raw = dir.path().join("raw.tif");
    // Windows of 512 x 512 (four tiles each), and the ragged edges.
    write_raw(&raw, &spec(cols, rows, DataType::F32), &data, 1 << 18);
    let back = read_all(&raw).into_typed::<f32>().unwrap();
    assert!(back[[0, 0]].is_nan());
    assert_eq!(back[[529, 999]], f32::NEG_INFINITY);
    let want = data.into_typed::<f32>().unwrap();
    for (a, b) in back.iter().zip(want.iter()) {
        assert!(a == b || (a.is_nan() && b.is_nan()));
    }
}

#[test]
fn only_plain_tiled_lzw_geotiffs_take_the_raw_path() {
    let base = spec(100, 100, DataType::F32);
    assert!(TileLayout::for_spec(&base).is_some());
    let with = |opts: &[&str]| {
        let mut s = base.clone();
        s.driver = RasterDriver::new("GTiff", opts.iter().copied());
        TileLayout::for_spec(&s)
    };
    assert_eq!(
        with(&[
            "TILED=YES",
            "COMPRESS=LZW",
            "BLOCKXSIZE=512",
            "BLOCKYSIZE=128"
        ])
        .map(|l| l.tile),
        Some((512, 128))
    );
    assert!(with(&["TILED=YES", "COMPRESS=LZW", "PREDICTOR=2"]).is_none());
    assert!(with(&["TILED=YES", "COMPRESS=DEFLATE"]).is_none());
    assert!(with(&["COMPRESS=LZW"]).is_none(), "striped");
    assert!(with(&["TILED=YES", "COMPRESS=LZW", "SPARSE_OK=TRUE"]).is_none());
    assert!(with(&["TILED=YES", "COMPRESS=LZW", "INTERLEAVE=TILE"]).is_none());
    let interleave = |opt: &str| with(&["TILED=YES", "COMPRESS=LZW", opt]).map(|l| l.interleave);
    assert_eq!(interleave("INTERLEAVE=band"), Some(Interleave::Band));
    assert_eq!(interleave("INTERLEAVE=PIXEL"), Some(Interleave::Pixel));
    let mut two = base.clone();
    two.bands = 2;
    let two = TileLayout::for_spec(&two).expect("several bands take raw tiles too");
    assert_eq!((two.bands, two.interleave), (2, Interleave::Pixel));
    let mut mem = base;
    mem.driver = RasterDriver::new("MEM", DEFAULT_GTIFF_OPTIONS);
    assert!(TileLayout::for_spec(&mem).is_none());
}

#[test]
fn a_missing_tile_or_a_drop_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("out.tif");
    let s = spec(300, 300, DataType::U8);
    let mut out = TiledTiffOutput::create(&target, &s).unwrap().unwrap();
    let layout = *out.layout();
    let block = DynArray::from(Array2::<u8>::zeros((256, 256)));
    for t in encode_window(&block, Window::new(0, 0, 256, 256), &layout).unwrap() {
        out.write(&t).unwrap();
        assert!(out.write(&t).is_err(), "a tile written twice is refused");
    }
    let err = out.commit(None).unwrap_err().to_string();
    assert!(err.contains("never written"), "{err}");
    assert!(!target.exists());

    let out = TiledTiffOutput::create(&target, &s).unwrap().unwrap();
    drop(out);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");

    // Windows that are not whole tiles are refused.
    let layout = TileLayout::for_spec(&s).unwrap();
    let odd = DynArray::from(Array2::<u8>::zeros((100, 100)));
    assert!(encode_window(&odd, Window::new(10, 0, 100, 100), &layout).is_err());
    let f = DynArray::from(Array2::<f32>::zeros((256, 256)));
    assert!(encode_window(&f, Window::new(0, 0, 256, 256), &layout).is_err());
}

/// A `bands`-band spec interleaved as `interleave` says, with pygeoprocessing's tiles and LZW.
fn multi_band_spec(dt: DataType, bands: usize, interleave: &str) -> RasterSpec {
    let mut s = spec(600, 300, dt).bands(bands);
    s.driver = RasterDriver::new(
        "GTiff",
        [
            "TILED=YES",
            "BLOCKXSIZE=128",
            "BLOCKYSIZE=64",
            "COMPRESS=LZW",
            &format!("INTERLEAVE={interleave}"),
        ],
    );
    s
}

#[test]
fn multi_band_tiles_read_back_exactly_like_gdals_own_file_either_interleaving() {
    let dir = tempfile::tempdir().unwrap();
    let structure = |path: &std::path::Path, key: &str| {
        use pgp_core::gdal::Metadata;
        Raster::open(path)
            .unwrap()
            .dataset()
            .metadata_item(key, "IMAGE_STRUCTURE")
    };
    for (dt, interleave) in [
        (DataType::U8, "PIXEL"),
        (DataType::U8, "BAND"),
        (DataType::I16, "PIXEL"),
        (DataType::F64, "BAND"),
    ] {
        let s = multi_band_spec(dt, 3, interleave);
        let layout = TileLayout::for_spec(&s).expect("raw path");
        // 5 x 5 tile positions; by band, three tiles each.
        assert_eq!(layout.count(), 25);
        let per_band = if interleave == "BAND" { 3 } else { 1 };
        assert_eq!(layout.tiles(), 25 * per_band, "{dt} {interleave}");
        let bands: Vec<DynArray> = (0..3u64)
            .map(|b| pgp_core::with_pixel_type!(dt, T => DynArray::from(pixels::<T>(600, 300, 11 + b))))
            .collect();

        let raw = dir.path().join(format!("raw-{dt}-{interleave}.tif"));
        let mut out = TiledTiffOutput::create(&raw, &s)
            .unwrap()
            .expect("raw path");
        // Windows of two tile columns by one tile row, ragged at the right and bottom edges.
        for w in block_windows(layout.size, (256, 64), 0) {
            let blocks: Vec<DynArray> = bands
                .iter()
                .map(|b| {
                    pgp_core::with_pixel_type!(dt, T => {
                        let v = b.view::<T>().unwrap();
                        DynArray::from(v.slice(ndarray::s![w.y_off..w.y_off + w.height, w.x_off..w.x_off + w.width]).to_owned())
                    })
                })
                .collect();
            for t in pgp_core::tiles::encode_bands(&blocks, w, &layout).unwrap() {
                out.write(&t).unwrap();
            }
        }
        out.commit(None).unwrap();

        let gdal = dir.path().join(format!("gdal-{dt}-{interleave}.tif"));
        let mut out = OutputRaster::create(&gdal, &s).unwrap();
        for (i, b) in bands.iter().enumerate() {
            out.raster().write_dyn(i + 1, 0, 0, b).unwrap();
        }
        out.commit().unwrap();

        let (r, g) = (Raster::open(&raw).unwrap(), Raster::open(&gdal).unwrap());
        for band in 1..=3 {
            let whole = Window::full(600, 300);
            let got = r.read_dyn(band, whole).unwrap();
            assert_eq!(got, bands[band - 1], "{dt} {interleave} band {band}");
            assert_eq!(got, g.read_dyn(band, whole).unwrap());
            assert_eq!(r.nodata(band).unwrap(), g.nodata(band).unwrap());
            assert_eq!(r.block_size(band).unwrap(), (128, 64));
        }
        for key in ["COMPRESSION", "INTERLEAVE"] {
            assert_eq!(structure(&raw, key), structure(&gdal, key), "{key}");
        }
        assert_eq!(structure(&raw, "INTERLEAVE").as_deref(), Some(interleave));
        // Same tags, same compressed tiles (libtiff's LZW code for code, edges padded alike):
        // pixel-interleaved tiles, appended in the order GDAL flushes them, give GDAL's file
        // byte for byte; by band, GDAL stores band 1's tiles first, so only the size agrees.
        let (a, b) = (std::fs::read(&raw).unwrap(), std::fs::read(&gdal).unwrap());
        assert_eq!(a.len(), b.len(), "{dt} {interleave}: file sizes");
        if interleave == "PIXEL" {
            assert!(a == b, "{dt}: the bytes differ from GDAL's");
        }
    }
}

#[test]
fn bands_must_match_the_layout() {
    let s = multi_band_spec(DataType::U8, 3, "PIXEL");
    let layout = TileLayout::for_spec(&s).unwrap();
    let w = Window::new(0, 0, 128, 64);
    let band = DynArray::from(Array2::<u8>::zeros((64, 128)));
    let two = [band.clone(), band.clone()];
    let err = pgp_core::tiles::encode_bands(&two, w, &layout).unwrap_err();
    assert!(
        err.to_string().contains("2 band(s) for a 3-band output"),
        "{err}"
    );
    let wrong = [
        band.clone(),
        band.clone(),
        DynArray::from(Array2::<u8>::zeros((64, 100))),
    ];
    assert!(pgp_core::tiles::encode_bands(&wrong, w, &layout).is_err());
    // A one-band call on a three-band output is refused too.
    assert!(encode_window(&band, w, &layout).is_err());
}

#[test]
fn column_major_blocks_encode_like_row_major_ones() {
    let s = multi_band_spec(DataType::U16, 2, "PIXEL");
    let layout = TileLayout::for_spec(&s).unwrap();
    let w = Window::new(128, 64, 256, 64);
    let rows: Vec<Array2<u16>> = (0..2).map(|b| pixels::<u16>(256, 64, 5 + b)).collect();
    // The same values stored column by column (a transposed array's layout).
    let cols: Vec<DynArray> = rows
        .iter()
        .map(|a| {
            let mut f = Array2::<u16>::zeros((256, 64)).reversed_axes();
            f.assign(a);
            assert!(f.as_slice().is_none(), "column-major");
            DynArray::from(f)
        })
        .collect();
    let rows: Vec<DynArray> = rows.into_iter().map(DynArray::from).collect();
    let a = pgp_core::tiles::encode_bands(&rows, w, &layout).unwrap();
    let b = pgp_core::tiles::encode_bands(&cols, w, &layout).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.len(), 2);
}
