//! pgp's TIFF-LZW tile encoder against its previous version (kept in the tests'
//! support code as the byte-for-byte reference) and against libtiff's (GDAL writing the same
//! tiles with `COMPRESS=LZW`), on seeded rasters of the kinds pgp writes: the simple
//! calculator's float32 output, noisy and integer-valued float64 (routing accumulations), a
//! smooth float32 surface (distances), land-cover bytes, and the window example's noisy 3-band
//! bytes in 128 x 128 tiles. Prints MB/s of input pixels and the ratios, measured in one run:
//! the two pgp encoders alternate on the same tile buffers, best of `ROUNDS`.
//! `PGP_BENCH_SIZE` sets the raster side (default 4096).
//!
//! Run: `cargo bench -p pgp-core --bench lzw`

use std::path::Path;

use ndarray::Array2;
use pgp_core::tiles::{encode_bands, LzwEncoder, TileLayout};
use pgp_core::{
    block_windows, with_pixel_type, DynArray, GeoTransform, OutputRaster, Pixel, Raster,
    RasterDriver, RasterSpec, Window,
};

mod common;
#[path = "../tests/support/lzw_dense.rs"]
mod lzw_dense;

use common::AnyResult;
use lzw_dense::DenseLzwEncoder;

const ROUNDS: usize = 5;

/// One bench input: its bands and tile side.
struct Case {
    name: &'static str,
    bands: Vec<DynArray>,
    tile: usize,
}

fn main() -> AnyResult<()> {
    let common::Inputs {
        size,
        dem,
        landcover,
        dir,
    } = common::inputs()?;
    let weight = dir.path().join("weight.tif");
    pgp_core::sample::weight(&weight, size, 11)?;
    let read = |path: &Path| -> AnyResult<DynArray> {
        let r = Raster::open(path)?;
        let (cols, rows) = r.size();
        Ok(r.read_dyn(1, Window::new(0, 0, cols, rows))?)
    };
    let f32s = |a: &DynArray| -> AnyResult<Array2<f32>> {
        Ok(a.view::<f32>().ok_or("float32 input")?.to_owned())
    };
    let (dem, weight) = (f32s(&read(&dem)?)?, f32s(&read(&weight)?)?);
    let calculator = &dem * 2.0 + &weight;
    let accumulation = ndarray::Zip::from(&dem)
        .and(&weight)
        .map_collect(|&z, &w| f64::from(z) * 1.000_000_1 + f64::from(w) / 3.0);
    let counts = Array2::from_shape_fn((size, size), |(r, c)| {
        let d = ((r as f64) - 0.4 * size as f64).hypot((c as f64) - 0.7 * size as f64);
        ((d * 0.37).floor() * ((r % 7) as f64 + 1.0)).floor()
    });
    let smooth = Array2::from_shape_fn((size, size), |(r, c)| {
        (((r as f32) - 0.4 * size as f32).hypot((c as f32) - 0.7 * size as f32)).floor()
    });
    let cases = vec![
        Case {
            name: "calculator float32 (a*2+b)",
            bands: vec![calculator.into()],
            tile: 256,
        },
        Case {
            name: "noisy float64 (accumulation)",
            bands: vec![accumulation.into()],
            tile: 256,
        },
        Case {
            name: "integer float64 (counts)",
            bands: vec![counts.into()],
            tile: 256,
        },
        Case {
            name: "smooth float32 (distances)",
            bands: vec![smooth.into()],
            tile: 256,
        },
        Case {
            name: "land-cover byte",
            bands: vec![read(&landcover)?],
            tile: 256,
        },
        Case {
            name: "3-band byte, 128² (windows)",
            bands: (0..3).map(|b| noisy_bytes(size, b).into()).collect(),
            tile: 128,
        },
    ];
    println!(
        "rasters of about {size} x {size} pixels; MB/s of input pixels, best of {ROUNDS} alternated rounds"
    );
    println!(
        "{:30} {:>9} {:>9} {:>7} {:>9} {:>8}",
        "input", "pgp", "previous", "ratio", "libtiff", "ratio"
    );
    let mut new = LzwEncoder::new();
    let mut old = DenseLzwEncoder::new();
    for case in &cases {
        let tiles = tile_buffers(&case.bands, case.tile)?;
        let mb = tiles.iter().map(Vec::len).sum::<usize>() as f64 / 1e6;
        for t in &tiles {
            if new.encode(t) != old.encode(t) {
                return Err(format!("{}: the encoders disagree", case.name).into());
            }
        }
        let (mut t_new, mut t_old) = (f64::MAX, f64::MAX);
        for _ in 0..ROUNDS {
            t_old = t_old.min(time(|| encode_each(&tiles, |t| old.encode(t).len())));
            t_new = t_new.min(time(|| encode_each(&tiles, |t| new.encode(t).len())));
        }
        let target = dir.path().join("libtiff.tif");
        let t_lib = time(|| write_with_gdal(&case.bands, case.tile, &target).map(|_| 0));
        println!(
            "{:30} {:9.0} {:9.0} {:6.2}x {:9.0} {:7.2}x",
            case.name,
            mb / t_new,
            mb / t_old,
            t_old / t_new,
            mb / t_lib,
            t_lib / t_new
        );
        let t_window = time(|| encode_whole(&case.bands, case.tile).map(|_| 0));
        println!(
            "{:30} {:9.0}  (encode_bands: tile assembly and encoding)",
            "",
            mb / t_window
        );
    }
    Ok(())
}

/// The window example's input bands: smooth waves plus uniform noise of ±20, as bytes.
fn noisy_bytes(size: usize, band: usize) -> Array2<u8> {
    let mut x = 0x2545_F491_u32.wrapping_add(band as u32);
    Array2::from_shape_fn((size, size), |(r, c)| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let smooth = ((r as f64 / (40.0 + 13.0 * band as f64)).sin()
            + (c as f64 / (55.0 + 7.0 * band as f64)).cos())
            * 60.0
            + 128.0;
        (smooth + f64::from(x % 41) - 20.0).clamp(0.0, 255.0) as u8
    })
}

/// CPU seconds of this thread spent in `f`: on a shared, loaded machine wall-clock time mostly
/// measures the other processes, while the thread's CPU time is what the encoder costs.
fn time<R>(f: impl FnOnce() -> AnyResult<R>) -> f64 {
    let start = common::cpu_seconds(libc::CLOCK_THREAD_CPUTIME_ID);
    let r = f();
    let elapsed = common::cpu_seconds(libc::CLOCK_THREAD_CPUTIME_ID) - start;
    std::hint::black_box(r.is_ok());
    elapsed
}

fn encode_each(tiles: &[Vec<u8>], mut encode: impl FnMut(&[u8]) -> usize) -> AnyResult<usize> {
    Ok(tiles.iter().map(|t| encode(t)).sum())
}

/// Each tile's bytes as the TIFF holds them: padded to whole tiles, samples pixel-interleaved.
fn tile_buffers(bands: &[DynArray], tile: usize) -> AnyResult<Vec<Vec<u8>>> {
    let (rows, cols) = bands[0].shape();
    let mut tiles = Vec::new();
    with_pixel_type!(bands[0].data_type(), T => {
        let views = bands.iter().map(|b| b.view::<T>().ok_or("type")).collect::<Result<Vec<_>, _>>()?;
        for w in block_windows((cols, rows), (tile, tile), 0) {
            let mut buf = Vec::new();
            for r in 0..tile {
                for c in 0..tile {
                    for v in &views {
                        let value = if r < w.height && c < w.width { v[(w.y_off + r, w.x_off + c)] } else { T::default() };
                        buf.extend_from_slice(le_bytes(&value));
                    }
                }
            }
            tiles.push(buf);
        }
    });
    Ok(tiles)
}

fn le_bytes<T: Pixel>(v: &T) -> &[u8] {
    // SAFETY: pixels are plain numbers; the slice borrows `v` for its size exactly. The raw-tile
    // path (and so this bench's comparison) only exists on little-endian machines.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

fn spec(bands: &[DynArray], tile: usize) -> RasterSpec {
    let (rows, cols) = bands[0].shape();
    let block = tile.to_string();
    RasterSpec::new(
        cols,
        rows,
        bands[0].data_type(),
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    )
    .bands(bands.len())
    .driver(RasterDriver::new(
        "GTiff",
        [
            "TILED=YES",
            "COMPRESS=LZW",
            &format!("BLOCKXSIZE={block}"),
            &format!("BLOCKYSIZE={block}"),
        ],
    ))
}

/// The whole raster through `encode_bands`, window by window as an operation hands them over.
fn encode_whole(bands: &[DynArray], tile: usize) -> AnyResult<usize> {
    let layout = TileLayout::for_spec(&spec(bands, tile)).ok_or("no raw-tile layout")?;
    let (rows, cols) = bands[0].shape();
    let mut bytes = 0usize;
    for w in block_windows((cols, rows), (tile, tile), 0) {
        let parts = with_pixel_type!(bands[0].data_type(), T => {
            bands.iter().map(|b| {
                let view = b.view::<T>().ok_or("type")?;
                let part = view.slice(ndarray::s![w.y_off..w.y_off + w.height, w.x_off..w.x_off + w.width]);
                Ok(DynArray::from(part.to_owned()))
            }).collect::<AnyResult<Vec<_>>>()?
        });
        for t in encode_bands(&parts, w, &layout)? {
            bytes += t.bytes.len();
        }
    }
    Ok(bytes)
}

fn write_with_gdal(bands: &[DynArray], tile: usize, target: &Path) -> AnyResult<()> {
    let mut out = OutputRaster::create(target, &spec(bands, tile))?;
    let (rows, cols) = bands[0].shape();
    with_pixel_type!(bands[0].data_type(), T => {
        for (b, band) in bands.iter().enumerate() {
            let view = band.view::<T>().ok_or("type")?;
            for w in block_windows((cols, rows), (tile, tile), 0) {
                let part = view.slice(ndarray::s![w.y_off..w.y_off + w.height, w.x_off..w.x_off + w.width]);
                out.raster().write(b + 1, w.x_off, w.y_off, part)?;
            }
        }
    });
    out.commit()?;
    Ok(())
}
