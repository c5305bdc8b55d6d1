//! `detect_outlets` and `detect_lowest_drain_and_sink`: block-local scans, parallel over the
//! input's blocks, merged in block order so the result is the serial one.

use std::path::{Path, PathBuf};

use gdal_sys::OGRFieldType::OFTInteger;
use pgp_core::gdal::vector::{Feature, LayerAccess, OGRwkbGeometryType};
use pgp_core::{DataType, Raster, Window};
use pgp_exec::Executor;
use pgp_ops::request::{one_band, Request};
use serde::{Deserialize, Serialize};

use crate::blocks::Halo;
use crate::common::{
    is_close, RasterBand, Ticker, COL_OFFSETS, IMPROBABLE_FLOAT_NODATA, ROW_OFFSETS,
};
use crate::error::{Error, Result};
use crate::vectors::{gdal_error, geometry_z0, layer_name, pixel_centre, projection, write_gpkg};

/// How a flow direction raster is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FlowDirType {
    /// D8: one code 0-7 per pixel ([`crate::flow_dir_d8`]).
    D8,
    /// MFD: eight 4-bit proportions per pixel ([`crate::flow_dir_mfd`]).
    Mfd,
}

impl std::str::FromStr for FlowDirType {
    type Err = Error;
    fn from_str(s: &str) -> Result<FlowDirType> {
        match s.to_ascii_lowercase().as_str() {
            "d8" => Ok(FlowDirType::D8),
            "mfd" => Ok(FlowDirType::Mfd),
            _ => Err(Error::invalid(
                "flow_dir_type",
                format!("expected d8 or mfd, got {s:?}"),
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct OutletJob {
    path: PathBuf,
    band: usize,
    window: Window,
    size: (usize, usize),
    nodata: i32,
    kind: FlowDirType,
}

/// The outlets of one block, row-major, or the first pixel whose D8 code is not a direction.
type OutletResult = std::result::Result<Vec<(u32, u32)>, (u32, u32, i32)>;

struct OutletOp;

remote_tile_op!(OutletOp, "pgp.routing.detect_outlets_block", OutletJob => OutletResult, outlets_in_block);

/// The block with pygeoprocessing's one-pixel margin. Its margin rule is kept as it is: a
/// right (bottom) neighbour column (row) is read only when the block ends before the raster's
/// last column (row), so when exactly one column (row) is left beyond a block, that column
/// counts as nodata for the block's pixels next to it.
fn outlets_in_block(job: &OutletJob) -> pgp_core::Result<OutletResult> {
    let raster = Raster::open(&job.path)?;
    let w = job.window;
    let (cols, rows) = job.size;
    let left = usize::from(w.x_off > 0);
    let top = usize::from(w.y_off > 0);
    let right = usize::from(w.x_off + w.width < cols.saturating_sub(1));
    let bottom = usize::from(w.y_off + w.height < rows.saturating_sub(1));
    let read = Window::new(
        w.x_off - left,
        w.y_off - top,
        w.width + left + right,
        w.height + top + bottom,
    );
    let block = raster.read_as::<i32>(job.band, read)?;
    let stride = w.width + 2;
    let mut codes = vec![job.nodata; stride * (w.height + 2)];
    for (r, row) in block.rows().into_iter().enumerate() {
        let base = (r + 1 - top) * stride + 1 - left;
        for (c, v) in row.iter().enumerate() {
            codes[base + c] = *v;
        }
    }
    let at = |x: usize, y: usize, d: usize| -> i32 {
        let xx = (x as isize + COL_OFFSETS[d]) as usize;
        let yy = (y as isize + ROW_OFFSETS[d]) as usize;
        codes[yy * stride + xx]
    };
    let mut outlets = Vec::new();
    for y in 1..=w.height {
        for x in 1..=w.width {
            let code = codes[y * stride + x];
            if code == job.nodata {
                continue;
            }
            let is_outlet = match job.kind {
                FlowDirType::D8 => {
                    if !(0..8).contains(&code) {
                        let (gx, gy) = (x - 1 + w.x_off, y - 1 + w.y_off);
                        return Ok(Err((gx as u32, gy as u32, code)));
                    }
                    at(x, y, code as usize) == job.nodata
                }
                FlowDirType::Mfd => (0..8)
                    .filter(|d| (code as u32 >> (d * 4)) & 0xF != 0)
                    .all(|d| at(x, y, d) == job.nodata),
            };
            if is_outlet {
                outlets.push(((x - 1 + w.x_off) as u32, (y - 1 + w.y_off) as u32));
            }
        }
    }
    Ok(Ok(outlets))
}

/// The flow direction band's nodata as pygeoprocessing reads it (an `int`), checking the band
/// holds integer codes of the expected width.
pub(crate) fn flow_dir_nodata(
    flow_dir: &RasterBand,
    info: &pgp_core::RasterInfo,
    kind: FlowDirType,
) -> Result<i32> {
    let file = flow_dir.path.display().to_string();
    let datatype = info.datatypes[flow_dir.band - 1];
    let fits = match kind {
        FlowDirType::D8 => !matches!(datatype, DataType::F32 | DataType::F64),
        FlowDirType::Mfd => datatype == DataType::I32,
    };
    if !fits {
        let name = match kind {
            FlowDirType::D8 => "a D8",
            FlowDirType::Mfd => "an MFD",
        };
        let expected = match kind {
            FlowDirType::D8 => "integer D8 codes (flow_dir_d8 writes Byte)",
            FlowDirType::Mfd => "Int32 MFD directions (as flow_dir_mfd writes them)",
        };
        return Err(Error::invalid(
            file,
            format!(
                "band {} is {datatype:?}, not {name} flow direction raster: expected {expected}",
                flow_dir.band
            ),
        ));
    }
    let nodata = flow_dir.nodata(info).ok_or_else(|| {
        Error::invalid(
            file,
            format!(
                "band {} has no nodata value; outlets are found by flow into nodata, so the \
                 flow direction raster needs one (flow_dir_d8 writes 128, flow_dir_mfd 0)",
                flow_dir.band
            ),
        )
    })?;
    Ok(nodata as i32)
}

/// Writes a point at the centre of every outlet pixel of `flow_dir` to the GeoPackage
/// `target`: a pixel whose flow (D8: its one direction; MFD: every direction with flow) goes off
/// the raster or into a nodata pixel. Fields `i` (column), `j` (row) and `ID` (from 0, in the
/// raster's block order), points in the raster's projection, the layer named after the file.
/// Returns the number of outlets.
pub fn detect_outlets(
    flow_dir: &RasterBand,
    flow_dir_type: FlowDirType,
    target: &Path,
    exec: &Executor,
) -> Result<u64> {
    let (_, info) = flow_dir.open()?;
    let nodata = flow_dir_nodata(flow_dir, &info, flow_dir_type)?;
    let windows: Vec<Window> =
        pgp_core::block_windows(info.raster_size, info.block_size, pgp_core::LARGEST_BLOCK)
            .collect();
    let jobs = windows.iter().map(|w| OutletJob {
        path: flow_dir.path.clone(),
        band: flow_dir.band,
        window: *w,
        size: info.raster_size,
        nodata,
        kind: flow_dir_type,
    });
    let srs = projection(&info)?;
    let gt = info.geotransform.0;
    let mut ticker = Ticker::start("detect_outlets", "blocks", windows.len());
    let fields = [("i", OFTInteger), ("j", OFTInteger), ("ID", OFTInteger)];
    let point = OGRwkbGeometryType::wkbPoint;
    write_gpkg(
        target,
        &layer_name(target),
        srs.as_ref(),
        point,
        &fields,
        |layer| {
            let mut count = 0u64;
            for result in exec.map_ordered_op::<OutletOp>(jobs) {
                let outlets = result?.map_err(|(x, y, code)| {
                    Error::invalid(
                        flow_dir.path.display().to_string(),
                        format!(
                            "pixel ({x}, {y}) of band {} holds {code}, which is no D8 direction \
                         (0-7) nor nodata {nodata}: is it an MFD raster?",
                            flow_dir.band
                        ),
                    )
                })?;
                for (x, y) in outlets {
                    let centre = pixel_centre(&gt, f64::from(x), f64::from(y));
                    let mut feature = Feature::new(layer.defn())
                        .map_err(|e| gdal_error(target, "creating a feature", e))?;
                    geometry_z0(point, [centre])
                        .and_then(|g| feature.set_geometry(g))
                        .and_then(|_| feature.set_field_integer(0, x as i32))
                        .and_then(|_| feature.set_field_integer(1, y as i32))
                        .and_then(|_| feature.set_field_integer(2, count as i32))
                        .and_then(|_| feature.create(layer))
                        .map_err(|e| gdal_error(target, "writing an outlet", e))?;
                    count += 1;
                }
                ticker.advance(1);
            }
            Ok(count)
        },
    )
}

/// The lowest pixel that drains off the raster (or into nodata) and the lowest pit, as
/// [`detect_lowest_drain_and_sink`] finds them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DrainAndSink {
    /// `(x, y)` of the first lowest edge drain, if any.
    pub drain: Option<(usize, usize)>,
    /// Its height (infinity when there is none).
    pub drain_height: f64,
    /// `(x, y)` of the first lowest pit, if any.
    pub sink: Option<(usize, usize)>,
    /// Its height (infinity when there is none).
    pub sink_height: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DrainSinkJob {
    path: PathBuf,
    band: usize,
    window: Window,
    nodata: f64,
}

type Lowest = Option<(usize, usize, f64)>;

struct DrainSinkOp;

remote_tile_op!(DrainSinkOp, "pgp.routing.lowest_drain_and_sink_block", DrainSinkJob => (Lowest, Lowest), lowest_in_block);

/// Keeps `candidate` when it is strictly lower than `best` (so the first lowest one stays).
fn lower(best: &mut Lowest, candidate: (usize, usize, f64)) {
    if best.is_none_or(|b| candidate.2 < b.2) {
        *best = Some(candidate);
    }
}

fn lowest_in_block(job: &DrainSinkJob) -> pgp_core::Result<(Lowest, Lowest)> {
    let raster = Raster::open(&job.path)?;
    let w = job.window;
    // Beyond the raster's edge reads as nodata: both drain the pixel.
    let halo = Halo::read::<f64>(&raster, job.band, w, job.nodata)?;
    let (mut drain, mut sink): (Lowest, Lowest) = (None, None);
    for y in 0..w.height {
        for x in 0..w.width {
            let center = halo.at(x, y, None);
            if is_close(center, job.nodata) {
                continue;
            }
            // The first neighbour that is nodata, off the raster or lower decides.
            let mut drains = false;
            let mut decided = false;
            for d in 0..8 {
                let n = halo.at(x, y, Some(d));
                if is_close(n, job.nodata) {
                    drains = true;
                    decided = true;
                    break;
                }
                if n < center {
                    decided = true;
                    break;
                }
            }
            let here = (x + w.x_off, y + w.y_off, center);
            if drains {
                lower(&mut drain, here);
            } else if !decided {
                lower(&mut sink, here);
            }
        }
    }
    Ok((drain, sink))
}

/// pygeoprocessing's `detect_lowest_drain_and_sink`: the first lowest pixel (in the DEM's
/// block order) that drains off the raster's edge or into nodata, and the first lowest pixel
/// with no lower, nodata or off-raster neighbour. A pixel drains when, among its neighbours in
/// direction order, an off-raster or nodata one comes before any lower one.
pub fn detect_lowest_drain_and_sink(dem: &RasterBand, exec: &Executor) -> Result<DrainAndSink> {
    let (_, info) = dem.open()?;
    let nodata = dem.nodata(&info).unwrap_or(IMPROBABLE_FLOAT_NODATA);
    let windows: Vec<Window> =
        pgp_core::block_windows(info.raster_size, info.block_size, 0).collect();
    let mut ticker = Ticker::start("detect_lowest_drain_and_sink", "blocks", windows.len());
    let jobs = windows.iter().map(|w| DrainSinkJob {
        path: dem.path.clone(),
        band: dem.band,
        window: *w,
        nodata,
    });
    let (mut drain, mut sink): (Lowest, Lowest) = (None, None);
    for result in exec.map_ordered_op::<DrainSinkOp>(jobs) {
        let (d, s) = result?;
        if let Some(d) = d {
            lower(&mut drain, d);
        }
        if let Some(s) = s {
            lower(&mut sink, s);
        }
        ticker.advance(1);
    }
    Ok(DrainAndSink {
        drain: drain.map(|(x, y, _)| (x, y)),
        drain_height: drain.map_or(f64::INFINITY, |d| d.2),
        sink: sink.map(|(x, y, _)| (x, y)),
        sink_height: sink.map_or(f64::INFINITY, |s| s.2),
    })
}

/// `pgp.routing.detect_outlets`: [`detect_outlets`] as one serialisable value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectOutletsRequest {
    /// Flow directions.
    pub flow_dir: PathBuf,
    /// Their band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// `d8` or `mfd`.
    pub flow_dir_type: FlowDirType,
    /// The outlet points (GeoPackage).
    pub target: PathBuf,
}

impl Request for DetectOutletsRequest {
    const NAME: &'static str = "pgp.routing.detect_outlets";
    const VERSION: u32 = 1;
    /// The number of outlets.
    type Output = u64;
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<u64> {
        let dirs = RasterBand::new(&self.flow_dir, self.band);
        detect_outlets(&dirs, self.flow_dir_type, &self.target, exec)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.flow_dir.clone()]
    }
    pgp_ops::one_target!();
}

impl DrainAndSink {
    /// `{"drain": [x, y] | null, "drain_height", "sink", "sink_height"}`: JSON has no infinity,
    /// so a missing drain or sink is null with a null height.
    pub fn to_json(&self) -> serde_json::Value {
        let height = |p: Option<(usize, usize)>, h: f64| p.map(|_| h);
        serde_json::json!({
            "drain": self.drain,
            "drain_height": height(self.drain, self.drain_height),
            "sink": self.sink,
            "sink_height": height(self.sink, self.sink_height),
        })
    }
}

/// `pgp.routing.detect_lowest_drain_and_sink`: [`detect_lowest_drain_and_sink`] as one
/// serialisable value, its finding written as JSON ([`DrainAndSink::to_json`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectLowestDrainAndSinkRequest {
    /// The DEM.
    pub dem: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// A JSON file receiving [`DrainAndSink::to_json`].
    pub target: PathBuf,
}

impl DetectLowestDrainAndSinkRequest {
    /// What [`Request::run`] writes, without writing it.
    pub fn find(&self, exec: &Executor) -> Result<DrainAndSink> {
        detect_lowest_drain_and_sink(&RasterBand::new(&self.dem, self.band), exec)
    }
}

impl Request for DetectLowestDrainAndSinkRequest {
    const NAME: &'static str = "pgp.routing.detect_lowest_drain_and_sink";
    const VERSION: u32 = 1;
    type Output = DrainAndSink;
    type Error = Error;

    fn run(&self, exec: &Executor) -> Result<DrainAndSink> {
        let found = self.find(exec)?;
        let text = format!("{:#}", found.to_json());
        std::fs::write(&self.target, text).map_err(|e| pgp_core::Error::io(&self.target, e))?;
        Ok(found)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.dem.clone()]
    }
    pgp_ops::one_target!();
}
