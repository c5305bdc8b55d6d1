//! `warp_raster`: resample and reproject a raster onto a new grid with GDAL's warper.
//!
//! The target grid comes from [`TargetGrid::new`], the rule shared with align and
//! create-from-bounding-box. The warper gets the arguments pygeoprocessing's `warp_raster` gives
//! `gdal.Warp` (`-te`, `-te_srs`, `-tr`, `-r`, `-t_srs`, creation options), so grids are the same
//! and pixels are the same for the same options.
//!
//! # Nodata
//! The output keeps each source band's nodata value. A band without one gets
//! [`default_target_nodata`] (NaN for floats, the type's maximum for integers), so pixels that
//! fall outside the source are marked as nodata instead of being padded with zeros that look like
//! data (pygeoprocessing #476). [`WarpOptions::target_nodata`] overrides both.
//!
//! # Threads
//! One warp runs in the calling thread (in a worker process on a process pool) and lets GDAL use
//! `n_threads` threads (default: the executor's worker count) for the warp kernel and for decoding
//! source tiles. An output pgp can write as raw LZW tiles (the default layout) is warped into an
//! uncompressed scratch file first and compressed by pgp on `n_threads` threads. None of these
//! change the pixels. On the synchronous executor it is single-threaded, like pygeoprocessing.
//!
//! # Warp memory changes interpolated pixels
//! GDAL's warper cuts the target into chunks that fit its working memory (`warp_memory_mb`,
//! gdalwarp's `-wm`) and sizes the interpolation kernel per chunk from that chunk's scale, so
//! for every method but `near` the pixels depend on the chunking: on an 8192² DEM warped to
//! EPSG:4326 with bilinear, `-wm 512` instead of the default changed 96% of the pixels. Leave
//! `warp_memory_mb` unset to get pygeoprocessing's pixels exactly; thread counts never matter.

mod aligned_copy;
mod file_copy;
mod gdal_warp;
mod job;
mod mask;
pub(crate) mod recompress;
mod resample;

use std::path::Path;

use pgp_core::{raster_info, BoundingBox, RasterDriver};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::geom::{transform_bounding_box, TargetGrid, DEFAULT_EDGE_SAMPLES};
use crate::{Error, Result};

pub use job::{default_target_nodata, WarpJob, WarpMask, WarpOp, WarpPath};
pub(crate) use mask::rasterize_mask;
pub use resample::{OverviewLevel, ResampleMethod};

/// Options of [`warp_raster`]; the defaults are pygeoprocessing's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarpOptions {
    /// Target bounding box `[xmin, ymin, xmax, ymax]` in the target projection; `None`: the
    /// source's box (transformed to the target projection with densified edges).
    pub target_bbox: Option<BoundingBox>,
    /// Projection to assume for the source instead of its own (WKT, `EPSG:n`, ...).
    pub base_projection: Option<String>,
    /// Target projection; `None`: the source's.
    pub target_projection: Option<String>,
    /// Output nodata; `None`: see the module docs.
    pub target_nodata: Option<f64>,
    /// Threads GDAL may use; `None`: the executor's worker count.
    pub n_threads: Option<usize>,
    /// Keep only the pixels inside this mask (set the rest to nodata).
    pub mask: Option<WarpMask>,
    /// Extra GDAL warp options (`KEY=VALUE`, gdalwarp's `-wo`).
    pub gdal_warp_options: Vec<String>,
    /// Which source overview to read (default: the full-resolution raster).
    pub overview_level: OverviewLevel,
    /// Output driver and creation options.
    pub driver: RasterDriver,
    /// GDAL's warp memory limit in MB; `None` keeps GDAL's default. A larger value warps in fewer
    /// chunks, which changes interpolated pixels (see the module docs), so it is not the default.
    pub warp_memory_mb: Option<u64>,
    /// Copy pixels instead of warping when the target grid is the source grid shifted by whole
    /// pixels in the same projection (same result, much faster). Default true.
    pub aligned_copy: bool,
}

impl Default for WarpOptions {
    fn default() -> Self {
        WarpOptions {
            target_bbox: None,
            base_projection: None,
            target_projection: None,
            target_nodata: None,
            n_threads: None,
            mask: None,
            gdal_warp_options: Vec::new(),
            overview_level: OverviewLevel::Base,
            driver: RasterDriver::default(),
            warp_memory_mb: None,
            aligned_copy: true,
        }
    }
}

/// pygeoprocessing's `warp_raster`: resample `base` onto a grid of `target_pixel_size` pixels
/// covering `options.target_bbox` (or the source's extent) in `options.target_projection` (or the
/// source's), with `method`, and write it to `target`. Returns how it was done.
///
/// Errors name what is wrong: a missing or unreadable source, a bad pixel size or box, an
/// unknown projection, a box that cannot be transformed, a missing mask vector.
///
/// ```
/// use pgp_exec::Executor;
/// use pgp_ops::{warp_raster, ResampleMethod, WarpOptions};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let dem = dir.path().join("dem.tif");
/// pgp_core::sample::dem(&dem, 100, 7)?;
/// let target = dir.path().join("dem_wgs84.tif");
/// let options = WarpOptions { target_projection: Some("EPSG:4326".into()), ..Default::default() };
/// warp_raster(&dem, (0.0004, -0.0004), &target, ResampleMethod::Bilinear, &options, &Executor::sync())?;
/// let info = pgp_core::raster_info(&target)?;
/// assert_eq!(info.pixel_size, (0.0004, -0.0004));
/// assert_eq!(info.nodata, vec![Some(pgp_core::sample::DEM_NODATA)]);
/// # Ok(())
/// # }
/// ```
pub fn warp_raster(
    base: impl AsRef<Path>,
    target_pixel_size: (f64, f64),
    target: impl AsRef<Path>,
    method: ResampleMethod,
    options: &WarpOptions,
    executor: &Executor,
) -> Result<WarpPath> {
    let base = base.as_ref();
    let info = raster_info(base)?;
    // As pygeoprocessing: with no target projection, the source's own is the target.
    let target_projection = options
        .target_projection
        .clone()
        .or_else(|| info.projection_wkt.clone());
    let working_bbox = match (&options.target_bbox, &target_projection) {
        (Some(bb), _) => *bb,
        (None, Some(to)) => {
            let from = options
                .base_projection
                .clone()
                .or_else(|| info.projection_wkt.clone())
                .ok_or_else(|| Error::UnknownProjection {
                    argument: format!("{} (base_projection)", base.display()),
                    definition: String::new(),
                    message: "the raster has no projection; pass base_projection".to_string(),
                })?;
            transform_bounding_box(&info.bounding_box, &from, to, DEFAULT_EDGE_SAMPLES)?
        }
        (None, None) => info.bounding_box,
    };
    let grid = TargetGrid::new(&working_bbox, target_pixel_size, None)?;
    if let Some(WarpMask::Vector { path, .. } | WarpMask::Raster(path)) = &options.mask {
        if !path.exists() {
            return Err(pgp_core::Error::FileNotFound { path: path.clone() }.into());
        }
    }
    let job = WarpJob {
        base: base.to_path_buf(),
        target: target.as_ref().to_path_buf(),
        grid,
        method,
        base_projection: options.base_projection.clone(),
        target_projection,
        target_nodata: options.target_nodata,
        mask: options.mask.clone(),
        gdal_warp_options: options.gdal_warp_options.clone(),
        overview_level: options.overview_level,
        driver: options.driver.clone(),
        threads: options.n_threads.unwrap_or(executor.workers()).max(1),
        warp_memory_mb: options.warp_memory_mb,
        allow_aligned_copy: options.aligned_copy,
    };
    executor.submit::<WarpOp>(job)?.wait()?
}
