//! `pgp.align`: [`align_and_resize_raster_stack`] as a request.

use std::path::PathBuf;

use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::Request;
use crate::{
    align_and_resize_raster_stack, AlignOptions, AlignReport, BoundingBoxMode, ResampleMethod,
    Result,
};

/// Put rasters on one common grid: pygeoprocessing's `align_and_resize_raster_stack`, its
/// fields named as that function's arguments and options are. The shorter names of earlier
/// pipeline files (`rasters`, `resample`, `pixel_size`, `bbox`, `align_to`) are still read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlignRequest {
    /// The rasters to align.
    #[serde(alias = "rasters")]
    pub base_rasters: Vec<PathBuf>,
    /// One output per raster.
    pub targets: Vec<PathBuf>,
    /// One method per raster, or one for all (`near`, `bilinear`, ...).
    #[serde(alias = "resample")]
    pub resample_methods: Vec<String>,
    /// Target pixel size `[x, y]` (y negative for north-up).
    #[serde(alias = "pixel_size")]
    pub target_pixel_size: [f64; 2],
    /// `union`, `intersection`, or `xmin,ymin,xmax,ymax`.
    #[serde(alias = "bbox")]
    pub bounding_box_mode: String,
    /// Snap the grid to this raster's (index into `base_rasters`).
    #[serde(default, alias = "align_to")]
    pub raster_align_index: Option<usize>,
    /// Target projection (WKT, `EPSG:n` or a PROJ string); default: the rasters' own.
    #[serde(default)]
    pub target_projection: Option<String>,
}

impl AlignRequest {
    /// The resampling method of every raster: one given for all is used for each.
    pub fn methods(&self) -> Result<Vec<ResampleMethod>> {
        let methods = ResampleMethod::parse_list(&self.resample_methods)?;
        Ok(match methods[..] {
            [one] if self.base_rasters.len() > 1 => vec![one; self.base_rasters.len()],
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
        let mode: BoundingBoxMode = self.bounding_box_mode.parse()?;
        let options = AlignOptions {
            raster_align_index: self.raster_align_index,
            target_projection: self.target_projection.clone(),
            ..AlignOptions::default()
        };
        align_and_resize_raster_stack(
            &self.base_rasters,
            &self.targets,
            &self.methods()?,
            (self.target_pixel_size[0], self.target_pixel_size[1]),
            mode,
            &options,
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.base_rasters.clone()
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

#[cfg(test)]
mod tests {
    use super::AlignRequest;

    /// Pipeline files written with the shorter names of earlier versions read as the same
    /// request as ones using the function's names (and so keep their cached results: the key
    /// is over the values, not the names).
    #[test]
    fn the_earlier_field_names_read_as_the_same_request() {
        let new: AlignRequest = serde_json::from_value(serde_json::json!({
            "base_rasters": ["a.tif"], "targets": ["b.tif"], "resample_methods": ["near"],
            "target_pixel_size": [30.0, -30.0], "bounding_box_mode": "union",
            "raster_align_index": 0,
        }))
        .unwrap();
        let old: AlignRequest = serde_json::from_value(serde_json::json!({
            "rasters": ["a.tif"], "targets": ["b.tif"], "resample": ["near"],
            "pixel_size": [30.0, -30.0], "bbox": "union", "align_to": 0,
        }))
        .unwrap();
        assert_eq!(new, old);
        assert_eq!(
            bincode::serialize(&new).unwrap(),
            bincode::serialize(&old).unwrap()
        );
        let misspelt = serde_json::from_value::<AlignRequest>(serde_json::json!({
            "base_rasters": ["a.tif"], "targets": ["b.tif"], "resample_methods": ["near"],
            "target_pixel_size": [30.0, -30.0], "bounding_box_mode": "union", "align_too": 0,
        }));
        assert!(misspelt.unwrap_err().to_string().contains("align_too"));
    }
}
