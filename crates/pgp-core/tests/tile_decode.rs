//! Tiles decoded without GDAL give GDAL's pixels, bit for bit, on files GDAL wrote with every
//! compression, predictor, pixel type, byte order, tile size and TIFF flavour the decoder takes;
//! everything else is read through GDAL, and corrupt files are errors naming the file.

use pgp_core::tiles::decode::TiffTiles;
use pgp_core::{
    create_raster, DataType, DynArray, Error, GeoTransform, Raster, RasterDriver, RasterSpec,
    Window,
};
use proptest::prelude::*;

/// Pseudo-random pixels of `dt` from raw bits (NaNs and extremes included), with runs so that
/// the codecs see repetition too.
fn pixels(dt: DataType, cols: usize, rows: usize, seed: u64) -> DynArray {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut bits = vec![0u64; cols * rows];
    for (i, b) in bits.iter_mut().enumerate() {
        let (r, c) = (i / cols, i % cols);
        *b = if (r / 3 + c / 7) % 3 == 0 {
            0x4049_0FDB_4049_0FDB // a run
        } else if c % 5 == 0 {
            (r * 3 + c) as u64 // smooth, for the predictors
        } else {
            next()
        };
    }
    let shape = (rows, cols);
    macro_rules! from_bits {
        ($t:ty, $f:expr) => {{
            let v: Vec<$t> = bits.iter().map($f).collect();
            ndarray::Array2::from_shape_vec(shape, v).unwrap().into()
        }};
    }
    match dt {
        DataType::U8 => from_bits!(u8, |&b| b as u8),
        DataType::I8 => from_bits!(i8, |&b| b as i8),
        DataType::U16 => from_bits!(u16, |&b| b as u16),
        DataType::I16 => from_bits!(i16, |&b| b as i16),
        DataType::U32 => from_bits!(u32, |&b| b as u32),
        DataType::I32 => from_bits!(i32, |&b| b as i32),
        DataType::F32 => from_bits!(f32, |&b| f32::from_bits(b as u32)),
        DataType::F64 => from_bits!(f64, |&b| f64::from_bits(b)),
    }
}

/// The pixels' bytes, so that NaNs compare by their bits.
fn bytes(d: &DynArray) -> Vec<u8> {
    match d {
        DynArray::U8(a) => a.iter().copied().collect(),
        DynArray::I8(a) => a.iter().map(|v| *v as u8).collect(),
        DynArray::U16(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
        DynArray::I16(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
        DynArray::U32(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
        DynArray::I32(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
        DynArray::F32(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
        DynArray::F64(a) => a.iter().flat_map(|v| v.to_ne_bytes()).collect(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Flavour {
    dt: DataType,
    compress: &'static str,
    predictor: u8,
    big_endian: bool,
    big_tiff: bool,
    tile: (usize, usize),
    bands: usize,
}

/// Write a file with GDAL: `flavour`'s options, band `b` filled with `pixels(.., seed + b)`.
fn write(dir: &std::path::Path, f: Flavour, size: (usize, usize), seed: u64) -> std::path::PathBuf {
    let path = dir.join(format!(
        "{seed}-{:?}-{}-{}.tif",
        f.dt, f.compress, f.predictor
    ));
    let driver = RasterDriver::new(
        "GTiff",
        [
            "TILED=YES".to_string(),
            format!("BLOCKXSIZE={}", f.tile.0),
            format!("BLOCKYSIZE={}", f.tile.1),
            format!("COMPRESS={}", f.compress),
            format!("PREDICTOR={}", f.predictor),
            format!("ENDIANNESS={}", if f.big_endian { "BIG" } else { "LITTLE" }),
            format!("BIGTIFF={}", if f.big_tiff { "YES" } else { "NO" }),
            "INTERLEAVE=BAND".to_string(),
        ],
    );
    let spec = RasterSpec::new(
        size.0,
        size.1,
        f.dt,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    )
    .bands(f.bands)
    .driver(driver);
    let mut r = create_raster(&path, &spec).unwrap();
    for b in 1..=f.bands {
        r.write_dyn(b, 0, 0, &pixels(f.dt, size.0, size.1, seed + b as u64))
            .unwrap();
    }
    r.close().unwrap();
    path
}

/// Every whole-tile window of band `band` (single tiles, rows of tiles, the whole raster) read
/// by the decoder equals GDAL's read and what was written.
fn check_file(path: &std::path::Path, f: Flavour, size: (usize, usize), seed: u64) {
    let fast = Raster::open(path).unwrap();
    let direct = TiffTiles::open(path)
        .unwrap()
        .expect("a layout the decoder takes");
    assert_eq!(fast.reads_raw_tiles(), direct.beats_gdal(), "{f:?}");
    let mut gdal = Raster::open(path).unwrap();
    gdal.read_through_gdal();
    assert!(!gdal.reads_raw_tiles());
    let (tw, th) = f.tile;
    let mut windows = vec![Window::new(0, 0, size.0, size.1)];
    for y in (0..size.1).step_by(th) {
        let h = th.min(size.1 - y);
        windows.push(Window::new(0, y, size.0, h));
        for x in (0..size.0).step_by(tw) {
            windows.push(Window::new(x, y, tw.min(size.0 - x), h));
        }
    }
    for band in 1..=f.bands {
        for &w in &windows {
            let ours = fast.read_dyn(band, w).unwrap();
            let theirs = gdal.read_dyn(band, w).unwrap();
            same_bytes(&ours, &theirs, &format!("{f:?} band {band} window {w}"));
            let decoded = direct.read_window(band, w).unwrap().expect("whole tiles");
            same_bytes(
                &decoded,
                &theirs,
                &format!("{f:?} band {band} window {w}, direct"),
            );
        }
        // GDAL 3.6 does not read back what it wrote with ENDIANNESS=BIG and PREDICTOR=3 (its
        // libtiff swaps the bytes once too often); the decoder follows GDAL's reading.
        if !(f.big_endian && f.predictor == 3) {
            let written = pixels(f.dt, size.0, size.1, seed + band as u64);
            let all = fast.read_dyn(band, windows[0]).unwrap();
            same_bytes(&all, &written, &format!("{f:?} band {band}: as written"));
        }
    }
}

/// Equal bit for bit; on failure, says where the first difference is (not the whole array).
fn same_bytes(a: &DynArray, b: &DynArray, what: &str) {
    let (a, b) = (bytes(a), bytes(b));
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    if let Some(i) = a.iter().zip(&b).position(|(x, y)| x != y) {
        panic!("{what}: first difference at byte {i}: {} vs {}", a[i], b[i]);
    }
}

const TYPES: [DataType; 8] = DataType::ALL;

#[test]
fn every_combination_reads_as_gdal_does() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = [(16, 16), (32, 16), (64, 48), (256, 256)];
    let mut n = 0u64;
    for dt in TYPES {
        let float = matches!(dt, DataType::F32 | DataType::F64);
        let mut codings = vec![("NONE", 1)];
        for c in ["LZW", "DEFLATE"] {
            codings.push((c, 1));
            codings.push((c, 2));
            if float {
                codings.push((c, 3));
            }
        }
        for (compress, predictor) in codings {
            for big_endian in [false, true] {
                n += 1;
                let f = Flavour {
                    dt,
                    compress,
                    predictor,
                    big_endian,
                    big_tiff: n.is_multiple_of(3),
                    tile: tiles[n as usize % tiles.len()],
                    bands: 1 + (n % 4 == 1) as usize,
                };
                // Sizes that leave partial tiles on the right and bottom (and one that does not).
                let size = if n.is_multiple_of(5) {
                    (128, 96)
                } else {
                    (100 + n as usize % 7, 71)
                };
                let path = write(dir.path(), f, size, n);
                check_file(&path, f, size, n);
            }
        }
    }
    assert!(n > 80, "{n} combinations");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_tile_aligned_windows_read_as_gdal_does(
        dt in prop::sample::select(TYPES.to_vec()),
        coding in prop::sample::select(vec![("NONE", 1u8), ("LZW", 1), ("LZW", 2), ("DEFLATE", 1), ("DEFLATE", 2), ("LZW", 3), ("DEFLATE", 3)]),
        big_endian in any::<bool>(),
        tile in (1usize..5, 1usize..5),
        size in (1usize..200, 1usize..150),
        picks in prop::collection::vec((0usize..100, 0usize..100, 1usize..6, 1usize..6), 1..8),
        seed in 0u64..1000,
    ) {
        let float = matches!(dt, DataType::F32 | DataType::F64);
        let predictor = if coding.1 == 3 && !float { 2 } else { coding.1 };
        let f = Flavour { dt, compress: coding.0, predictor, big_endian, big_tiff: seed.is_multiple_of(2),
            tile: (tile.0 * 16, tile.1 * 16), bands: 1 };
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), f, size, seed);
        let fast = Raster::open(&path).unwrap();
        let mut gdal = Raster::open(&path).unwrap();
        gdal.read_through_gdal();
        let tiles = TiffTiles::open(&path).unwrap().unwrap();
        prop_assert_eq!(fast.reads_raw_tiles(), tiles.beats_gdal());
        let grid = (size.0.div_ceil(f.tile.0), size.1.div_ceil(f.tile.1));
        for (x, y, w, h) in picks {
            let (x, y) = (x % grid.0, y % grid.1);
            let (w, h) = (w.min(grid.0 - x), h.min(grid.1 - y));
            let x0 = x * f.tile.0;
            let y0 = y * f.tile.1;
            let win = Window::new(x0, y0, (w * f.tile.0).min(size.0 - x0), (h * f.tile.1).min(size.1 - y0));
            prop_assert!(tiles.is_aligned(win));
            let direct = tiles.read_window(1, win).unwrap().unwrap();
            let theirs = gdal.read_dyn(1, win).unwrap();
            prop_assert!(bytes(&direct) == bytes(&theirs), "{:?} window {}", f, win);
            prop_assert!(bytes(&fast.read_dyn(1, win).unwrap()) == bytes(&theirs), "{:?} window {}", f, win);
        }
    }
}

#[test]
fn windows_not_made_of_tiles_are_read_through_gdal() {
    let dir = tempfile::tempdir().unwrap();
    let f = Flavour {
        dt: DataType::I16,
        compress: "LZW",
        predictor: 2,
        big_endian: false,
        big_tiff: false,
        tile: (32, 32),
        bands: 1,
    };
    let path = write(dir.path(), f, (90, 70), 3);
    let tiles = TiffTiles::open(&path).unwrap().unwrap();
    let fast = Raster::open(&path).unwrap();
    let mut gdal = Raster::open(&path).unwrap();
    gdal.read_through_gdal();
    for w in [
        Window::new(1, 0, 32, 32),
        Window::new(0, 0, 33, 32),
        Window::new(32, 32, 32, 30),
        Window::new(64, 0, 25, 32),
    ] {
        assert!(!tiles.is_aligned(w), "{w}");
        assert_eq!(tiles.read_window(1, w).unwrap(), None);
        assert_eq!(fast.read_dyn(1, w).unwrap(), gdal.read_dyn(1, w).unwrap());
    }
    // Converted reads go through GDAL, which converts.
    let w = Window::new(0, 0, 32, 32);
    assert_eq!(
        fast.read_as::<f64>(1, w).unwrap(),
        gdal.read_as::<f64>(1, w).unwrap()
    );
}

#[test]
fn layouts_the_decoder_does_not_take_stay_with_gdal() {
    let dir = tempfile::tempdir().unwrap();
    let make = |name: &str, options: &[&str], bands: usize| {
        let path = dir.path().join(name);
        let driver = RasterDriver::new("GTiff", options.iter().map(|s| s.to_string()));
        let spec = RasterSpec::new(
            40,
            30,
            DataType::U8,
            GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
        )
        .bands(bands)
        .driver(driver);
        let mut r = create_raster(&path, &spec).unwrap();
        for b in 1..=bands {
            r.write_dyn(b, 0, 0, &pixels(DataType::U8, 40, 30, b as u64))
                .unwrap();
        }
        r.close().unwrap();
        path
    };
    let strips = make("strips.tif", &["COMPRESS=LZW"], 1);
    let interleaved = make(
        "pixel.tif",
        &["TILED=YES", "COMPRESS=LZW", "INTERLEAVE=PIXEL"],
        3,
    );
    let packbits = make("packbits.tif", &["TILED=YES", "COMPRESS=PACKBITS"], 1);
    for path in [&strips, &interleaved, &packbits] {
        assert!(
            TiffTiles::open(path).unwrap().is_none(),
            "{}",
            path.display()
        );
        let r = Raster::open(path).unwrap();
        assert!(!r.reads_raw_tiles());
        let got = r.read_dyn(1, Window::new(0, 0, 40, 30)).unwrap();
        assert_eq!(got, pixels(DataType::U8, 40, 30, 1));
    }
    // Bytes in LZW without predictor are decoded by pgp, wider samples by GDAL (faster there).
    let lzw = make("lzw.tif", &["TILED=YES", "COMPRESS=LZW"], 1);
    assert!(TiffTiles::open(&lzw).unwrap().unwrap().beats_gdal());
    // Open for update: GDAL may hold unwritten blocks, so reads stay with it.
    let tiled = make(
        "tiled.tif",
        &["TILED=YES", "BLOCKXSIZE=16", "BLOCKYSIZE=16"],
        1,
    );
    assert!(Raster::open(&tiled).unwrap().reads_raw_tiles());
    assert!(!Raster::open_update(&tiled).unwrap().reads_raw_tiles());
}

#[test]
fn missing_tiles_of_sparse_files_get_gdals_fill() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.tif");
    let driver = RasterDriver::new(
        "GTiff",
        [
            "TILED=YES",
            "BLOCKXSIZE=16",
            "BLOCKYSIZE=16",
            "COMPRESS=DEFLATE",
            "SPARSE_OK=TRUE",
        ]
        .map(String::from),
    );
    let spec = RasterSpec::new(
        48,
        32,
        DataType::F32,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    )
    .nodata(Some(-5.0))
    .driver(driver);
    let mut r = create_raster(&path, &spec).unwrap();
    let block = ndarray::Array2::from_elem((16, 16), 3.5f32);
    r.write(1, 16, 16, block.view()).unwrap();
    r.close().unwrap();
    let fast = Raster::open(&path).unwrap();
    assert!(fast.reads_raw_tiles());
    let all = fast.read::<f32>(1, Window::new(0, 0, 48, 32)).unwrap();
    assert_eq!(all[[20, 20]], 3.5);
    assert_eq!(all[[0, 0]], -5.0, "GDAL fills absent tiles with nodata");
    let tiles = TiffTiles::open(&path).unwrap().unwrap();
    assert_eq!(
        tiles.read_window(1, Window::new(0, 0, 16, 16)).unwrap(),
        None
    );
    let stored = tiles
        .read_window(1, Window::new(16, 16, 16, 16))
        .unwrap()
        .unwrap();
    assert_eq!(stored.cast::<f32>(), block);
}

/// Byte offset and length of tile `index`, read with GDAL's GTiff metadata.
fn tile_extent(path: &std::path::Path, index: usize, across: usize) -> (u64, u64) {
    use pgp_core::gdal::Metadata;
    let ds = pgp_core::gdal::Dataset::open(path).unwrap();
    let band = ds.rasterband(1).unwrap();
    let (x, y) = (index % across, index / across);
    let item = |k: &str| {
        band.metadata_item(&format!("{k}_{x}_{y}"), "TIFF")
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    (item("BLOCK_OFFSET"), item("BLOCK_SIZE"))
}

#[test]
fn corrupt_tiles_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    for compress in ["LZW", "DEFLATE"] {
        let f = Flavour {
            dt: DataType::U16,
            compress,
            predictor: 2,
            big_endian: false,
            big_tiff: false,
            tile: (16, 16),
            bands: 1,
        };
        let path = write(dir.path(), f, (32, 16), 9);
        let (at, len) = tile_extent(&path, 1, 2);
        let mut file = std::fs::read(&path).unwrap();
        // Garble the second tile's stream from its middle on.
        for b in &mut file[(at + len / 2) as usize..(at + len) as usize] {
            *b = 0xFF;
        }
        let bad = dir.path().join(format!("bad-{compress}.tif"));
        std::fs::write(&bad, &file).unwrap();
        let tiles = TiffTiles::open(&bad).unwrap().unwrap();
        assert!(tiles
            .read_window(1, Window::new(0, 0, 16, 16))
            .unwrap()
            .is_some());
        match tiles.read_window(1, Window::new(16, 0, 16, 16)) {
            Err(Error::CorruptTiff { path, message }) => {
                assert_eq!(path, bad);
                assert!(message.contains("tile 1"), "{message}");
            }
            other => panic!("{compress}: {other:?}"),
        }
        // Through a Raster the read falls back to GDAL, whose error names the file too.
        let r = Raster::open(&bad).unwrap();
        if let Err(e) = r.read_dyn(1, Window::new(16, 0, 16, 16)) {
            assert!(e.to_string().contains("bad-"), "{e}");
        }
    }
    // A directory pointing past the end of the file.
    let f = Flavour {
        dt: DataType::U8,
        compress: "LZW",
        predictor: 1,
        big_endian: true,
        big_tiff: false,
        tile: (16, 16),
        bands: 1,
    };
    let path = write(dir.path(), f, (16, 16), 4);
    let mut file = std::fs::read(&path).unwrap();
    file[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
    let bad = dir.path().join("bad-ifd.tif");
    std::fs::write(&bad, &file).unwrap();
    match TiffTiles::open(&bad) {
        Err(e @ Error::CorruptTiff { .. }) => assert!(e.to_string().contains("bad-ifd.tif"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(TiffTiles::open(dir.path().join("missing.tif")).is_err());
}
