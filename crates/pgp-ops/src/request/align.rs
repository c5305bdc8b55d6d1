//! `pgp.align`: [`align_and_resize_raster_stack`] as a request.

use std::path::PathBuf;

use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::Request;
use crate::{
    align_and_resize_raster_stack, AlignOptions, AlignReport, BoundingBoxMode, ResampleMethod,
    Result,
};

/// Put rasters on one common grid: pygeoprocessing's `align_and_resize_raster_stack`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignRequest {
    /// The rasters to align.
    pub rasters: Vec<PathBuf>,
    /// One output per raster.
    pub targets: Vec<PathBuf>,
    /// One method per raster, or one for all (`near`, `bilinear`, ...).
    pub resample: Vec<String>,
    /// Target pixel size `[x, y]` (y negative for north-up).
    pub pixel_size: [f64; 2],
    /// `union`, `intersection`, or `xmin,ymin,xmax,ymax`.
    pub bbox: String,
    /// Snap the grid to this raster's (index into `rasters`).
    #[serde(default)]
    pub align_to: Option<usize>,
    /// Target projection (WKT, `EPSG:n` or a PROJ string); default: the rasters' own.
    #[serde(default)]
    pub target_projection: Option<String>,
}

impl AlignRequest {
    /// The resampling method of every raster: one given for all is used for each.
    pub fn methods(&self) -> Result<Vec<ResampleMethod>> {
        let methods = ResampleMethod::parse_list(&self.resample)?;
        Ok(match methods[..] {
            [one] if self.rasters.len() > 1 => vec![one; self.rasters.len()],
            _ => methods,
        })
    }
}

impl Request for AlignRequest {
    const NAME: &'static str = "pgp.align";
    const VERSION: u32 = 1;
    type Output = AlignReport;
    type Error = crate::Error;

    fn run(&self, exec: &Executor) -> Result<AlignReport> {
        let mode: BoundingBoxMode = self.bbox.parse()?;
        let options = AlignOptions {
            raster_align_index: self.align_to,
            target_projection: self.target_projection.clone(),
            ..AlignOptions::default()
        };
        align_and_resize_raster_stack(
            &self.rasters,
            &self.targets,
            &self.methods()?,
            (self.pixel_size[0], self.pixel_size[1]),
            mode,
            &options,
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.rasters.clone()
    }
    fn outputs(&self) -> Vec<PathBuf> {
        self.targets.clone()
    }
    fn with_outputs(&self, outputs: &[PathBuf]) -> Self {
        let mut targets = self.targets.clone();
        for (slot, new) in targets.iter_mut().zip(outputs) {
            *slot = new.clone();
        }
        AlignRequest {
            targets,
            ..self.clone()
        }
    }
}
