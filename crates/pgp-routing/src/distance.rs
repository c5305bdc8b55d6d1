//! `distance_to_channel_d8` and `distance_to_channel_mfd`: the length of the flow path from
//! each pixel down to the first stream pixel (diagonal steps sqrt(2), or the weight of each
//! pixel stepped from when a weight raster is given). MFD distances are the flow-weighted mean
//! over downstream neighbours. D8 distances are tile-parallel (`distance_tiles`);  MFD
//! ones too (`distance_mfd_tiles`).

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::common::{same_size, RasterBand, IMPROBABLE_FLOAT_NODATA};
use crate::distance_mfd_tiles::mfd_distance_tiled;
use crate::distance_tiles::{distance_tiled, DistanceInputs};
use crate::error::{Error, Result};
use crate::grid::TILE;
use crate::request::{Mfd, D8};

/// Distance rasters' nodata.
pub const DISTANCE_NODATA: f64 = -1.0;

/// D8 distance from each pixel to the stream pixels (value 1) of `channels` along the D8
/// directions of `flow_dir`, into `target` (Float64, nodata -1). Tile-parallel on `exec`
/// (see `distance_tiles`), with pygeoprocessing's pixels.
pub fn distance_to_channel_d8(
    flow_dir: &RasterBand,
    channels: &RasterBand,
    target: &Path,
    weight: Option<&RasterBand>,
    exec: &Executor,
) -> Result<()> {
    let (inputs, info) = distance_inputs(flow_dir, channels, weight)?;
    distance_tiled(&inputs, &info, target, TILE, exec)
}

/// MFD distance from each pixel to the stream pixels (value 1) of `channels`: the mean of the
/// downstream neighbours' distances plus the step, weighted by the flow proportions of
/// `flow_dir`, into `target` (Float64, nodata -1). Tile-parallel on `exec` (see
/// `distance_mfd_tiles`), with pygeoprocessing's pixels.
pub fn distance_to_channel_mfd(
    flow_dir: &RasterBand,
    channels: &RasterBand,
    target: &Path,
    weight: Option<&RasterBand>,
    exec: &Executor,
) -> Result<()> {
    let (inputs, info) = distance_inputs(flow_dir, channels, weight)?;
    mfd_distance_tiled(&inputs, &info, target, TILE, exec)
}

/// The rasters of a distance, checked to be on one grid.
fn distance_inputs(
    flow_dir: &RasterBand,
    channels: &RasterBand,
    weight: Option<&RasterBand>,
) -> Result<(DistanceInputs, pgp_core::RasterInfo)> {
    let (_, info) = flow_dir.open()?;
    let (_, channel_info) = channels.open()?;
    same_size(flow_dir, &info, channels, &channel_info)?;
    let weight = match weight {
        None => None,
        Some(w) => {
            let (_, i) = w.open()?;
            same_size(flow_dir, &info, w, &i)?;
            let nodata = w.nodata(&i).unwrap_or(IMPROBABLE_FLOAT_NODATA);
            Some((w.path.clone(), w.band, nodata))
        }
    };
    let inputs = DistanceInputs {
        flow_dir: flow_dir.path.clone(),
        dir_band: flow_dir.band,
        channels: channels.path.clone(),
        channel_band: channels.band,
        weight,
    };
    Ok((inputs, info))
}

/// `pgp.routing.distance_to_channel_d8` and `pgp.routing.distance_to_channel_mfd`:
/// [`distance_to_channel_d8`] or [`distance_to_channel_mfd`] as one serialisable value, the
/// method ([`D8`] or [`Mfd`]) being part of its type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "")]
pub struct DistanceToChannelRequest<M> {
    /// Flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// Streams (band 1; 1 is stream).
    pub streams: PathBuf,
    /// The distances.
    pub target: PathBuf,
    /// Per-step weights (band 1).
    #[serde(default)]
    pub weight: Option<PathBuf>,
    #[serde(skip)]
    method: PhantomData<M>,
}

impl<M> DistanceToChannelRequest<M> {
    /// Distances along band `band` of `flow_dir` to `streams`, into `target`, unweighted.
    pub fn new(
        flow_dir: impl Into<PathBuf>,
        band: usize,
        streams: impl Into<PathBuf>,
        target: impl Into<PathBuf>,
    ) -> Self {
        DistanceToChannelRequest {
            flow_dir: flow_dir.into(),
            band,
            streams: streams.into(),
            target: target.into(),
            weight: None,
            method: PhantomData,
        }
    }

    /// The same request, each step weighted by band 1 of `weight`.
    pub fn weight(self, weight: Option<PathBuf>) -> Self {
        DistanceToChannelRequest { weight, ..self }
    }

    fn run_with(
        &self,
        distance: fn(&RasterBand, &RasterBand, &Path, Option<&RasterBand>, &Executor) -> Result<()>,
        exec: &Executor,
    ) -> Result<()> {
        let weight = self.weight.as_ref().map(RasterBand::first);
        distance(
            &RasterBand::new(&self.flow_dir, self.band),
            &RasterBand::first(&self.streams),
            &self.target,
            weight.as_ref(),
            exec,
        )
    }

    fn files_read(&self) -> Vec<PathBuf> {
        let mut inputs = vec![self.flow_dir.clone(), self.streams.clone()];
        inputs.extend(self.weight.iter().cloned());
        inputs
    }
}

impl Request for DistanceToChannelRequest<D8> {
    const NAME: &'static str = "pgp.routing.distance_to_channel_d8";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        self.run_with(distance_to_channel_d8, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.files_read()
    }
    pgp_ops::one_target!();
}

impl Request for DistanceToChannelRequest<Mfd> {
    const NAME: &'static str = "pgp.routing.distance_to_channel_mfd";
    const VERSION: u32 = 1;
    type Output = ();
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<()> {
        self.run_with(distance_to_channel_mfd, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        self.files_read()
    }
    pgp_ops::one_target!();
}
