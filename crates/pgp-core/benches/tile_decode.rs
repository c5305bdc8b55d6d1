//! pgp's tile decoder (`tiles::decode`, used by `Raster` reads of whole tiles) against GDAL
//! reading the same windows of the same file (libtiff's decoders), on the seeded sample DEM
//! (noisy float32) and land cover (byte) rewritten with each compression and predictor. One
//! thread; prints MB/s of decoded pixels and the ratio, best of three interleaved rounds.
//! `PGP_BENCH_SIZE` sets the raster side (default 4096), `PGP_BENCH_CODING` (`LZW-1`) one
//! coding only.
//!
//! Run: `cargo bench -p pgp-core --bench tile_decode`

use std::path::Path;
use std::time::Instant;

use pgp_core::{block_windows, Raster, RasterDriver, RasterSpec, Window};

mod common;

use common::AnyResult;

fn main() -> AnyResult<()> {
    let common::Inputs {
        size,
        dem,
        landcover,
        dir,
    } = common::inputs()?;
    println!("rasters of {size} x {size} pixels, 256 x 256 tiles, read in rows of tiles");
    let codings = [
        ("LZW", "1"),
        ("LZW", "2"),
        ("LZW", "3"),
        ("DEFLATE", "1"),
        ("DEFLATE", "2"),
        ("DEFLATE", "3"),
        ("NONE", "1"),
    ];
    for (name, source) in [("float32 DEM", &dem), ("byte land cover", &landcover)] {
        for (compress, predictor) in codings {
            if predictor == "3" && name.starts_with("byte") {
                continue;
            }
            // `PGP_BENCH_CODING=LZW-1` measures one coding only (for profiling).
            if std::env::var("PGP_BENCH_CODING")
                .is_ok_and(|c| c != format!("{compress}-{predictor}"))
            {
                continue;
            }
            let path = dir.path().join(format!("{compress}-{predictor}.tif"));
            rewrite(source, &path, compress, predictor)?;
            if !Raster::open(&path)?.reads_raw_tiles() {
                println!("{name:16} {compress:7} predictor {predictor}: left to GDAL (libtiff decodes it faster)");
                continue;
            }
            let (mut ours, mut gdal) = ((f64::MAX, f64::MAX), (f64::MAX, f64::MAX));
            for _ in 0..3 {
                let (cpu, wall) = read_all(&path, true)?;
                ours = (ours.0.min(cpu), ours.1.min(wall));
                let (cpu, wall) = read_all(&path, false)?;
                gdal = (gdal.0.min(cpu), gdal.1.min(wall));
            }
            let r = Raster::open(&path)?;
            let mb = (size * size * r.data_type(1)?.size_bytes()) as f64 / 1e6;
            println!(
                "{name:16} {compress:7} predictor {predictor}: pgp {:6.0} MB/s   GDAL {:6.0} MB/s   ratio {:.2}x (wall clock {:.2}x)",
                mb / ours.0,
                mb / gdal.0,
                gdal.0 / ours.0,
                gdal.1 / ours.1
            );
        }
    }
    Ok(())
}

/// `source` rewritten by GDAL with `COMPRESS` and `PREDICTOR`.
fn rewrite(source: &Path, target: &Path, compress: &str, predictor: &str) -> AnyResult<()> {
    let r = Raster::open(source)?;
    let info = r.info()?;
    let spec = RasterSpec::like(&info, info.datatype).driver(RasterDriver::new(
        "GTiff",
        [
            "TILED=YES".to_string(),
            "BLOCKXSIZE=256".to_string(),
            "BLOCKYSIZE=256".to_string(),
            format!("COMPRESS={compress}"),
            format!("PREDICTOR={predictor}"),
        ],
    ));
    let mut out = pgp_core::create_raster(target, &spec)?;
    for w in block_windows(info.raster_size, (256, 256), 0) {
        out.write_dyn(1, w.x_off, w.y_off, &r.read_dyn(1, w)?)?;
    }
    out.close()?;
    Ok(())
}

/// CPU and wall-clock seconds to read every row of tiles of `path`, decoding raw tiles or
/// through GDAL.
fn read_all(path: &Path, raw: bool) -> AnyResult<(f64, f64)> {
    let mut r = Raster::open(path)?;
    if !raw {
        r.read_through_gdal();
    }
    if r.reads_raw_tiles() != raw {
        return Err(format!("{}: raw tile reads {}", path.display(), !raw).into());
    }
    let (cols, rows) = r.size();
    let (t, cpu) = (
        Instant::now(),
        common::cpu_seconds(libc::CLOCK_PROCESS_CPUTIME_ID),
    );
    for y in (0..rows).step_by(256) {
        let w = Window::new(0, y, cols, 256.min(rows - y));
        std::hint::black_box(r.read_dyn(1, w)?);
        r.forget_rows_above(y + 256);
    }
    Ok((
        common::cpu_seconds(libc::CLOCK_PROCESS_CPUTIME_ID) - cpu,
        t.elapsed().as_secs_f64(),
    ))
}
