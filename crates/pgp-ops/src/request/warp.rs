//! `pgp.warp`: [`warp_raster`] as a request.

use std::path::{Path, PathBuf};

use pgp_core::{raster_info, BoundingBox, RasterInfo};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::{one_target, Request};
use crate::geom::DEFAULT_EDGE_SAMPLES;
use crate::{
    transform_bounding_box, warp_raster, Error, ResampleMethod, Result, WarpOptions, WarpPath,
};

fn near() -> String {
    "near".to_string()
}

/// Resample and reproject one raster: pygeoprocessing's `warp_raster`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarpRequest {
    /// The source raster.
    pub raster: PathBuf,
    /// The output.
    pub target: PathBuf,
    /// Target pixel size `[x, y]` in target units; default [`default_pixel_size`].
    #[serde(default)]
    pub pixel_size: Option<[f64; 2]>,
    /// Resampling method name (default `near`).
    #[serde(default = "near")]
    pub resample: String,
    /// Target projection (WKT, `EPSG:n` or a PROJ string); default: the source's.
    #[serde(default)]
    pub target_projection: Option<String>,
    /// Target bounding box `[xmin, ymin, xmax, ymax]`; default: the source's, transformed.
    #[serde(default)]
    pub target_bbox: Option<[f64; 4]>,
}

impl WarpRequest {
    /// Warp `raster` to `target` with every default: nearest neighbour, the source's
    /// projection and extent, and [`default_pixel_size`].
    pub fn new(raster: impl Into<PathBuf>, target: impl Into<PathBuf>) -> WarpRequest {
        WarpRequest {
            raster: raster.into(),
            target: target.into(),
            pixel_size: None,
            resample: near(),
            target_projection: None,
            target_bbox: None,
        }
    }

    /// With this target pixel size `[x, y]`.
    pub fn pixel_size(mut self, size: [f64; 2]) -> WarpRequest {
        self.pixel_size = Some(size);
        self
    }

    /// With this resampling method (GDAL's name: `near`, `bilinear`, ...).
    pub fn resample(mut self, method: impl Into<String>) -> WarpRequest {
        self.resample = method.into();
        self
    }

    /// Into this projection (WKT, `EPSG:n` or a PROJ string).
    pub fn target_projection(mut self, srs: impl Into<String>) -> WarpRequest {
        self.target_projection = Some(srs.into());
        self
    }

    /// The resampling method, parsed.
    pub fn method(&self) -> Result<ResampleMethod> {
        self.resample.parse()
    }
}

impl Request for WarpRequest {
    const NAME: &'static str = "pgp.warp";
    const VERSION: u32 = 1;
    type Output = WarpPath;
    type Error = crate::Error;

    fn run(&self, exec: &Executor) -> Result<WarpPath> {
        let method = self.method()?;
        let pixel_size = match self.pixel_size {
            Some([x, y]) => (x, y),
            None => default_pixel_size(
                &raster_info(&self.raster)?,
                self.target_projection.as_deref(),
            )?,
        };
        let options = WarpOptions {
            target_projection: self.target_projection.clone(),
            target_bbox: self.target_bbox.map(BoundingBox::from_array),
            ..WarpOptions::default()
        };
        warp_raster(
            &self.raster,
            pixel_size,
            &self.target,
            method,
            &options,
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.raster.clone()]
    }
    one_target!();
}

/// The pixel size of a warp when none is given: the source's in its own projection; into
/// another one, a square pixel that keeps the number of pixels along the diagonal of the
/// transformed extent (as gdalwarp suggests).
pub fn default_pixel_size(
    info: &RasterInfo,
    target_projection: Option<&str>,
) -> Result<(f64, f64)> {
    let Some(to) = target_projection else {
        return Ok(info.pixel_size);
    };
    let from = info.projection_wkt.as_deref().ok_or_else(|| {
        no_pixel_size(
            &info.path,
            to,
            "the raster has no projection, so it cannot be reprojected",
        )
    })?;
    let bb = transform_bounding_box(&info.bounding_box, from, to, DEFAULT_EDGE_SAMPLES)?;
    let (cols, rows) = info.raster_size;
    let diagonal_pixels = (cols as f64).hypot(rows as f64);
    let size = (bb.xmax - bb.xmin).hypot(bb.ymax - bb.ymin) / diagonal_pixels;
    if !(size.is_finite() && size > 0.0) {
        return Err(no_pixel_size(
            &info.path,
            to,
            "cannot derive a pixel size from the transformed extent; give one",
        ));
    }
    Ok((size, -size))
}

fn no_pixel_size(path: &Path, to: &str, why: &str) -> Error {
    Error::InvalidArgument {
        name: "target_projection".to_string(),
        reason: format!("{}: into {to}: {why}", path.display()),
    }
}
