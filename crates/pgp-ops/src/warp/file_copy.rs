//! The file-copy path: when the output grid *is* the source grid (same size, same geotransform,
//! same projection, see `aligned_copy`) and the source GeoTIFF is already laid out exactly as the
//! output's creation options ask (tiling, block size, compression, predictor, BigTIFF, pixel type,
//! nodata, no overviews or masks or sidecars), the output is the source file itself: copying the
//! bytes gives the same pixels, grid, nodata and layout as decoding, warping and re-encoding
//! every tile, for a fraction of the time. The common case is the raster an aligned stack is
//! snapped to when its extent is the stack's.
//!
//! A byte copy would also copy damage (a truncated download, a tile that does not decompress)
//! that a warp would have stopped at, so every block of the source is decoded first, on the
//! job's threads: a damaged source is an error naming it, as it is on the other paths. Decoding
//! still skips the warp kernel and the re-encoding, the costly parts.

use std::io::Read;
use std::path::Path;

use pgp_core::gdal::{Dataset, Metadata};
use pgp_core::{block_windows, temporary_sibling, DataType, Raster, RasterInfo, Window};

use crate::warp::job::WarpJob;
use crate::{Error, Result};

/// Pixels per decoding step: whole rows of tiles, so each thread reads a strip of the file.
const DECODE_STEP_PIXELS: usize = 1 << 20;

/// Creation options this path understands; any other option makes it step aside.
const UNDERSTOOD: [&str; 8] = [
    "TILED",
    "BLOCKXSIZE",
    "BLOCKYSIZE",
    "COMPRESS",
    "PREDICTOR",
    "BIGTIFF",
    "NUM_THREADS",
    "PIXELTYPE",
];

/// Copy the source file to the target when that gives the output the warp would (see the module
/// docs). Returns false, having written nothing, when it does not apply.
pub(crate) fn try_file_copy(job: &WarpJob, info: &RasterInfo) -> Result<bool> {
    if !layout_matches(job, info)? {
        return Ok(false);
    }
    check_decodes(&job.base, info, job.threads)?;
    let tmp = temporary_sibling(&job.target);
    let copied = std::fs::copy(&job.base, &tmp)
        .and_then(|_| std::fs::rename(&tmp, &job.target))
        .map_err(|e| pgp_core::Error::io(&job.target, e));
    if copied.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    copied?;
    let mut aux = job.target.clone().into_os_string();
    aux.push(".aux.xml");
    // A sidecar of an older file at the target would describe the wrong file.
    let _ = std::fs::remove_file(aux);
    Ok(true)
}

/// Decode every block of every band of `path` on up to `threads` threads (one handle each):
/// `Ok` only when GDAL reads the whole raster without an error.
fn check_decodes(path: &Path, info: &RasterInfo, threads: usize) -> Result<()> {
    let windows: Vec<Window> =
        block_windows(info.raster_size, info.block_size, DECODE_STEP_PIXELS).collect();
    let threads = threads.clamp(1, windows.len().max(1));
    let windows = &windows;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|first| {
                scope.spawn(move || -> Result<()> {
                    let raster = Raster::open(path)?;
                    for w in windows.iter().skip(first).step_by(threads) {
                        for band in 1..=info.n_bands {
                            raster.read_dyn(band, *w)?;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join().unwrap_or_else(|_| {
                Err(Error::invalid(
                    "base_raster_path",
                    format!("decoding {} panicked", path.display()),
                ))
            })
        })
    })
}

fn option_is(driver: &pgp_core::RasterDriver, key: &str, default: &str, expected: &str) -> bool {
    driver
        .option(key)
        .unwrap_or(default)
        .eq_ignore_ascii_case(expected)
}

fn layout_matches(job: &WarpJob, info: &RasterInfo) -> Result<bool> {
    let driver = job.creation_options(info, true);
    let grid_is_source = info.raster_size == job.grid.size()
        && info.geotransform == job.grid.geotransform()
        && info.driver.eq_ignore_ascii_case("GTiff")
        && info.file_list.len() == 1
        && driver.driver.eq_ignore_ascii_case("GTiff");
    if !grid_is_source {
        return Ok(false);
    }
    let understood = driver.options.iter().all(|o| {
        let key = o.split('=').next().unwrap_or("").trim();
        UNDERSTOOD.iter().any(|k| k.eq_ignore_ascii_case(key))
    });
    // The source nodata must be what the output gets (the warp would write that value).
    let nodata = job.band_nodata(info);
    let nodata_kept = info.nodata.iter().zip(&nodata).all(|(src, out)| match src {
        Some(s) => s == out || (s.is_nan() && out.is_nan()),
        None => false,
    });
    if !understood || !nodata_kept {
        return Ok(false);
    }
    let ds = Dataset::open(&job.base)
        .map_err(|e| pgp_core::Error::gdal(&job.base, "opening for a file copy", e))?;
    let compression = ds
        .metadata_item("COMPRESSION", "IMAGE_STRUCTURE")
        .unwrap_or_else(|| "NONE".to_string());
    let predictor = ds
        .metadata_item("PREDICTOR", "IMAGE_STRUCTURE")
        .unwrap_or_else(|| "1".to_string());
    let interleave = ds
        .metadata_item("INTERLEAVE", "IMAGE_STRUCTURE")
        .unwrap_or_else(|| "BAND".to_string());
    let block_x = driver.option("BLOCKXSIZE").unwrap_or("256");
    let block_y = driver.option("BLOCKYSIZE").unwrap_or("256");
    let same_structure = option_is(&driver, "TILED", "NO", "YES")
        && info.block_size == (block_x.parse().unwrap_or(0), block_y.parse().unwrap_or(0))
        && option_is(&driver, "COMPRESS", "NONE", &compression)
        && option_is(&driver, "PREDICTOR", "1", &predictor)
        // GTiff writes multi-band files pixel-interleaved unless told otherwise.
        && (info.n_bands == 1 || interleave.eq_ignore_ascii_case("PIXEL"))
        && (info.datatypes[0] != DataType::I8 || option_is(&driver, "PIXELTYPE", "", "SIGNEDBYTE"));
    if !same_structure {
        return Ok(false);
    }
    for b in 1..=info.n_bands {
        let band = ds
            .rasterband(b)
            .map_err(|e| pgp_core::Error::gdal(&job.base, "opening a band", e))?;
        let flags = band
            .mask_flags()
            .map_err(|e| pgp_core::Error::gdal(&job.base, "mask flags", e))?;
        let plain_mask = flags.is_nodata() || flags.is_all_valid();
        if band.overview_count().unwrap_or(1) != 0 || !plain_mask || flags.is_per_dataset() {
            return Ok(false);
        }
    }
    let big = match driver
        .option("BIGTIFF")
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some("YES") => true,
        Some("NO") => false,
        // IF_NEEDED / IF_SAFER decide from sizes; do not guess.
        _ => return Ok(false),
    };
    Ok(is_bigtiff(&job.base)? == Some(big))
}

/// `Some(true)` for a BigTIFF, `Some(false)` for a classic TIFF, `None` for anything else.
fn is_bigtiff(path: &Path) -> Result<Option<bool>> {
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map_err(|e| pgp_core::Error::io(path, e))?;
    Ok(match head {
        [b'I', b'I', 42, 0] | [b'M', b'M', 0, 42] => Some(false),
        [b'I', b'I', 43, 0] | [b'M', b'M', 0, 43] => Some(true),
        _ => None,
    })
}
