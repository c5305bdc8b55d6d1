//! `pgp.convolve`: [`convolve_2d`] as a request.

use std::path::PathBuf;

use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::{one_band, one_target, Request};
use crate::{convolve_2d, ConvolveOptions, Result};

/// Convolve a raster band with a kernel raster band: pygeoprocessing's `convolve_2d`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvolveRequest {
    /// The signal raster.
    pub signal: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub signal_band: usize,
    /// The kernel raster.
    pub kernel: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub kernel_band: usize,
    /// The output.
    pub target: PathBuf,
    /// Divide the kernel by its sum first.
    #[serde(default)]
    pub normalize_kernel: bool,
    /// Normalise by the convolution of the valid-pixel mask.
    #[serde(default)]
    pub ignore_nodata_and_edges: bool,
    /// Set nodata pixels of the signal to nodata in the output too.
    #[serde(default)]
    pub mask_nodata: Option<bool>,
}

impl ConvolveRequest {
    /// The options of [`convolve_2d`] this request stands for.
    pub fn options(&self) -> ConvolveOptions {
        let defaults = ConvolveOptions::default();
        ConvolveOptions {
            normalize_kernel: self.normalize_kernel,
            ignore_nodata_and_edges: self.ignore_nodata_and_edges,
            mask_nodata: self.mask_nodata.unwrap_or(defaults.mask_nodata),
            ..defaults
        }
    }
}

impl Request for ConvolveRequest {
    const NAME: &'static str = "pgp.convolve";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = crate::Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        convolve_2d(
            &self.signal,
            self.signal_band,
            &self.kernel,
            self.kernel_band,
            &self.target,
            &self.options(),
            exec,
        )
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.signal.clone(), self.kernel.clone()]
    }
    one_target!();
}
