//! The inputs checked once, and the output made like the first input.

use std::path::PathBuf;

use pgp_core::gdal::Metadata;
use pgp_core::{DataType, Raster, RasterDriver, RasterInfo, RasterSpec};
use pgp_exec::Executor;

use super::halo::{Edge, Halo};
use super::op::Plan;
use super::OutputOptions;
use crate::{Error, Result};

/// Open every input once: all must exist and share the first one's size. Returns the first's
/// description.
pub(crate) fn check_inputs(inputs: &[PathBuf]) -> Result<RasterInfo> {
    let mut infos = inputs.iter().map(|p| Raster::open(p)?.info());
    let first = infos
        .next()
        .ok_or_else(|| Error::invalid("inputs", "no input rasters given"))??;
    for info in infos {
        let info = info?;
        if info.raster_size != first.raster_size {
            return Err(Error::SizeMismatch {
                path: info.path,
                size: info.raster_size,
                reference: first.path,
                reference_size: first.raster_size,
            });
        }
    }
    Ok(first)
}

/// A block size users gave: both sides at least one pixel.
pub(crate) fn checked_block(block: (usize, usize)) -> Result<(usize, usize)> {
    if block.0 == 0 || block.1 == 0 {
        return Err(Error::invalid(
            "block_size",
            format!(
                "{} x {} pixels: windows need at least one",
                block.0, block.1
            ),
        ));
    }
    Ok(block)
}

/// The output: the first input's grid, projection, band count, nodata, blocks, compression and
/// interleaving, unless `options` say otherwise; pixels of `datatype`.
pub(crate) fn output_spec(
    first: &RasterInfo,
    options: &OutputOptions,
    datatype: DataType,
    exec: &Executor,
) -> Result<RasterSpec> {
    let bands = options.bands.unwrap_or(first.n_bands);
    if bands == 0 {
        return Err(Error::invalid("bands", "an output needs at least one band"));
    }
    let nodata = match options.nodata {
        Some(nodata) => nodata,
        None => first.nodata.first().copied().flatten(),
    };
    if let Some(v) = nodata {
        crate::calc::check_nodata_fits(v, datatype)?;
    }
    let block = options.block_size.map(checked_block).transpose()?;
    let driver = match &options.driver {
        Some(driver) => with_blocks(driver.clone(), block),
        None => like_input(first, block)?,
    };
    let driver = crate::runtime::with_compression_threads(&driver, exec);
    let mut spec = RasterSpec::new(
        first.raster_size.0,
        first.raster_size.1,
        datatype,
        first.geotransform,
    )
    .bands(bands)
    .nodata(nodata)
    .projection(first.projection_wkt.clone())
    .driver(driver);
    if nodata.is_none() {
        spec.nodata = Vec::new();
    }
    Ok(spec)
}

/// `driver` with `block` as its tiles, when given.
fn with_blocks(driver: RasterDriver, block: Option<(usize, usize)>) -> RasterDriver {
    match block {
        Some((x, y)) => driver
            .with_option("TILED", "YES")
            .with_option("BLOCKXSIZE", &x.to_string())
            .with_option("BLOCKYSIZE", &y.to_string()),
        None => driver,
    }
}

/// The creation options that reproduce the first input's layout (what rasterio's `profile`
/// carries: driver, tiles or strips, compression, interleaving), or pgp's default GeoTIFF
/// options for an input of another driver.
fn like_input(first: &RasterInfo, block: Option<(usize, usize)>) -> Result<RasterDriver> {
    if !first.driver.eq_ignore_ascii_case("GTiff") {
        return Ok(with_blocks(RasterDriver::default(), block));
    }
    let raster = Raster::open(&first.path)?;
    let structure = |key: &str| raster.dataset().metadata_item(key, "IMAGE_STRUCTURE");
    let mut options = Vec::new();
    if let Some(compression) = structure("COMPRESSION") {
        options.push(format!("COMPRESS={compression}"));
    }
    if let Some(interleave) = structure("INTERLEAVE") {
        options.push(format!("INTERLEAVE={interleave}"));
    }
    let driver = RasterDriver::new("GTiff", options);
    let (bx, by) = first.block_size;
    let striped = bx == first.raster_size.0 && bx != by;
    Ok(match block {
        Some(_) => with_blocks(driver, block),
        None if striped => driver.with_option("BLOCKYSIZE", &by.to_string()),
        None => with_blocks(driver, Some((bx, by))),
    })
}

/// The `(cols, rows)` of the windows an output of `spec` is written in, when its tiles say
/// (`None` for strips, whose size GDAL chooses).
pub(crate) fn tile_size(spec: &RasterSpec) -> Option<(usize, usize)> {
    let d = &spec.driver;
    if !d
        .option("TILED")
        .is_some_and(|v| v.eq_ignore_ascii_case("YES"))
    {
        return None;
    }
    let side = |key: &str| d.option(key).map_or(Some(256), |v| v.trim().parse().ok());
    Some((side("BLOCKXSIZE")?, side("BLOCKYSIZE")?))
}

/// Whether windows of `window` pixels, laid from the raster's top-left corner, split blocks of
/// `block` pixels (so several windows read each block) in a raster of `size`.
fn splits_blocks(window: (usize, usize), block: (usize, usize), size: (usize, usize)) -> bool {
    let whole = |w: usize, b: usize, n: usize| w >= n || (b > 0 && w.is_multiple_of(b));
    !(whole(window.0, block.0, size.0) && whole(window.1, block.1, size.1))
}

/// What every window of the call needs: the inputs' bands and fill values, the halo, the grid.
/// `window` is the windows' size, when known.
pub(crate) fn plan(
    operation: &str,
    inputs: &[PathBuf],
    halo: &Halo,
    first: &RasterInfo,
    output: Option<(usize, DataType)>,
    window: Option<(usize, usize)>,
) -> Result<Plan> {
    let mut bands = Vec::with_capacity(inputs.len());
    let mut fill = Vec::with_capacity(inputs.len());
    let mut shares_blocks = false;
    for path in inputs {
        let raster = Raster::open(path)?;
        if let Some(window) = window {
            shares_blocks |= splits_blocks(window, raster.block_size(1)?, first.raster_size);
        }
        let numbers = raster.all_bands();
        let mut values = Vec::with_capacity(numbers.len());
        for &band in &numbers {
            values.push(match halo.edge {
                Edge::Constant(v) => v,
                Edge::Nodata if halo.pixels > 0 => raster.nodata(band)?.ok_or_else(|| {
                    Error::invalid(
                        "halo",
                        format!(
                            "edges padded with nodata, but band {band} of {} has none: \
                             choose Edge::Constant, Replicate, Reflect or Symmetric",
                            path.display()
                        ),
                    )
                })?,
                _ => 0.0,
            });
        }
        bands.push(numbers);
        fill.push(values);
    }
    Ok(Plan {
        operation: operation.to_string(),
        inputs: inputs.to_vec(),
        bands,
        fill,
        halo: halo.pixels,
        edge: halo.edge,
        size: first.raster_size,
        geotransform: first.geotransform,
        output,
        shares_blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::splits_blocks;

    #[test]
    fn windows_split_blocks_unless_they_hold_whole_ones() {
        let size = (3000, 3000);
        assert!(splits_blocks((128, 128), (256, 256), size));
        assert!(!splits_blocks((256, 256), (256, 256), size));
        assert!(!splits_blocks((512, 256), (256, 256), size));
        assert!(splits_blocks((256, 128), (256, 256), size));
        // Strips: windows narrower than the raster split every strip.
        assert!(splits_blocks((128, 128), (3000, 1), size));
        assert!(!splits_blocks((3000, 128), (3000, 1), size));
        // A window as large as the raster holds every block whole.
        assert!(!splits_blocks((4000, 4000), (256, 256), size));
    }
}
