//! One warp as data ([`WarpJob`]): what warp_raster runs, what align runs once per raster, and
//! what a process-pool worker receives ([`WarpOp`]).

use std::path::{Path, PathBuf};

use pgp_core::{
    raster_info, temporary_sibling, DataType, LayerRef, RasterDriver, RasterInfo, RasterSpec,
};
use serde::{Deserialize, Serialize};

use crate::geom::{projection_wkt, TargetGrid};
use crate::vector_ops::ScratchFile;
use crate::warp::aligned_copy::{aligned_copy, copy_offsets};
use crate::warp::file_copy::try_file_copy;
use crate::warp::gdal_warp::{gdal_warp, num, WarpArgs};
use crate::warp::mask::{apply_mask, rasterize_mask};
use crate::warp::recompress::{compress_scratch, takes_raw_tiles};
use crate::warp::resample::{OverviewLevel, ResampleMethod};
use crate::{Error, Result};

/// Where a warp's validity mask comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WarpMask {
    /// Polygons: pixels whose centre is inside a feature are kept.
    Vector {
        /// The vector.
        path: PathBuf,
        /// Its layer.
        layer: LayerRef,
        /// An OGR SQL `WHERE` filter on the features.
        where_clause: Option<String>,
    },
    /// A byte raster on the target grid: pixels where it is 1 are kept.
    Raster(PathBuf),
}

/// Everything one warp needs, resolved (grid computed, projections known), serialisable so it can
/// run in a worker process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WarpJob {
    /// Source raster.
    pub base: PathBuf,
    /// Output raster.
    pub target: PathBuf,
    /// Output grid.
    pub grid: TargetGrid,
    /// Resampling method.
    pub method: ResampleMethod,
    /// Projection to assume for the source instead of its own.
    pub base_projection: Option<String>,
    /// Output projection (`None`: the source's, or none if it has none).
    pub target_projection: Option<String>,
    /// Output nodata; `None`: each band's own, or [`default_target_nodata`] where it has none.
    pub target_nodata: Option<f64>,
    /// Keep only pixels inside this mask.
    pub mask: Option<WarpMask>,
    /// Extra `GDALWarpOptions` (`-wo KEY=VALUE`).
    pub gdal_warp_options: Vec<String>,
    /// Which source overview to read.
    pub overview_level: OverviewLevel,
    /// Output driver and creation options.
    pub driver: RasterDriver,
    /// Threads GDAL may use for this warp (warp kernel, tile decoding, compression).
    pub threads: usize,
    /// GDAL's warp memory limit in MB (`-wm`); `None`: GDAL's default (64 MB).
    pub warp_memory_mb: Option<u64>,
    /// Copy pixels instead of warping when the output grid is a whole-pixel shift of the source
    /// grid in the same projection (the result is the same as GDAL's; see `aligned_copy`).
    pub allow_aligned_copy: bool,
}

/// How a warp was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WarpPath {
    /// GDAL's warper.
    Warped,
    /// The output grid lines up with the source grid: pixels were copied.
    AlignedCopy,
    /// The output grid is the source grid and the source file already has the output's layout:
    /// the file was copied.
    FileCopy,
}

/// The nodata value given to an output whose source band has none (pygeoprocessing #476: GDAL
/// would otherwise pad with zeros that read as data): NaN for floating-point types, the type's
/// largest value for integer types (pygeoprocessing's `choose_nodata`). A source pixel that
/// happens to hold exactly that integer value reads as nodata afterwards; pass an explicit
/// `target_nodata` to avoid that.
pub fn default_target_nodata(datatype: DataType) -> f64 {
    if datatype.is_float() {
        f64::NAN
    } else {
        datatype.default_nodata()
    }
}

impl WarpJob {
    /// The nodata of every output band (see [`WarpJob::target_nodata`]).
    pub(crate) fn band_nodata(&self, info: &RasterInfo) -> Vec<f64> {
        (0..info.n_bands)
            .map(|i| {
                self.target_nodata
                    .or(info.nodata[i])
                    .unwrap_or_else(|| default_target_nodata(info.datatypes[0]))
            })
            .collect()
    }

    /// The output projection as WKT, if any.
    pub(crate) fn target_wkt(&self, info: &RasterInfo) -> Result<Option<String>> {
        match &self.target_projection {
            Some(p) => projection_wkt(p, "target_projection").map(Some),
            None => Ok(info.projection_wkt.clone()),
        }
    }

    /// Creation options for the output: the driver's, plus signed-byte and compression threads.
    pub(crate) fn creation_options(&self, info: &RasterInfo, compress: bool) -> RasterDriver {
        let mut driver = self.driver.clone();
        if !compress {
            driver
                .options
                .retain(|o| !o.to_ascii_uppercase().starts_with("COMPRESS="));
        }
        if info.datatypes[0] == DataType::I8 && driver.option("PIXELTYPE").is_none() {
            driver = driver.with_option("PIXELTYPE", "SIGNEDBYTE");
        }
        let gtiff = driver.driver.eq_ignore_ascii_case("GTiff");
        if gtiff && self.threads > 1 && driver.option("NUM_THREADS").is_none() {
            // Compress several blocks at once; the pixels written are the same.
            driver = driver.with_option("NUM_THREADS", &self.threads.to_string());
        }
        driver
    }

    /// An uncompressed GTiff with the output's tiling, for the warper to write into first.
    fn scratch_driver(&self, info: &RasterInfo) -> RasterDriver {
        if !self.driver.driver.eq_ignore_ascii_case("GTiff") {
            return RasterDriver::new("GTiff", ["TILED=YES", "BIGTIFF=YES"]);
        }
        RasterDriver {
            driver: "GTiff".to_string(),
            options: without_threads(self.creation_options(info, false).options),
        }
    }

    /// The output's layout, as the warper would create it (without GDAL's compression threads).
    fn output_spec(&self, info: &RasterInfo) -> Result<RasterSpec> {
        let grid = &self.grid;
        let driver = self.creation_options(info, true);
        let mut spec =
            RasterSpec::new(grid.cols, grid.rows, info.datatypes[0], grid.geotransform())
                .bands(info.n_bands)
                .projection(self.target_wkt(info)?)
                .driver(RasterDriver {
                    driver: driver.driver,
                    options: without_threads(driver.options),
                });
        spec.nodata = self.band_nodata(info).into_iter().map(Some).collect();
        Ok(spec)
    }

    /// gdalwarp's arguments, as pygeoprocessing's `warp_raster` builds them.
    fn args(&self, info: &RasterInfo, output_driver: &RasterDriver) -> WarpArgs {
        let mut a = WarpArgs::default();
        let bb = &self.grid.bounding_box;
        a.opt("-of", &[&output_driver.driver]);
        a.opt(
            "-te",
            &[&num(bb.xmin), &num(bb.ymin), &num(bb.xmax), &num(bb.ymax)],
        );
        let target_srs = self
            .target_projection
            .clone()
            .or_else(|| info.projection_wkt.clone());
        if let Some(t) = &target_srs {
            a.opt("-te_srs", &[t]);
        }
        a.opt(
            "-tr",
            &[&num(self.grid.pixel_size.0), &num(self.grid.pixel_size.1)],
        );
        if let Some(s) = &self.base_projection {
            a.opt("-s_srs", &[s]);
        }
        if let Some(t) = &target_srs {
            a.opt("-t_srs", &[t]);
        }
        let mut warp_options = self.gdal_warp_options.clone();
        let user_threads = warp_options
            .iter()
            .any(|o| o.to_ascii_uppercase().starts_with("NUM_THREADS="));
        if self.threads > 1 && !user_threads {
            warp_options.push(format!("NUM_THREADS={}", self.threads));
        }
        for o in &warp_options {
            a.opt("-wo", &[o]);
        }
        a.opt("-r", &[self.method.gdal_name()]);
        if let Some(mb) = self.warp_memory_mb {
            a.opt("-wm", &[&mb.to_string()]);
        }
        for o in &output_driver.options {
            a.opt("-co", &[o]);
        }
        let nodata = self.band_nodata(info);
        let needs_nodata = self.target_nodata.is_some() || info.nodata.iter().any(|n| n.is_none());
        if needs_nodata {
            let values: Vec<String> = nodata.iter().map(|&v| num(v)).collect();
            a.opt("-dstnodata", &[&values.join(" ")]);
        }
        // pygeoprocessing turns on -multi whenever warp options are given.
        if !warp_options.is_empty() {
            a.flag("-multi");
        }
        a.opt("-ovr", &[&self.overview_level.gdal_value()]);
        a
    }
}

/// Run one warp: the output appears at `job.target` only when complete.
pub fn run_warp_job(job: &WarpJob) -> Result<WarpPath> {
    pgp_core::check_output_path(&job.target)?;
    let info = raster_info(&job.base)?;
    if info.n_bands == 0 {
        return Err(Error::invalid(
            "base_raster_path",
            format!("{} has no bands", job.base.display()),
        ));
    }
    if job.allow_aligned_copy && job.mask.is_none() {
        if let Some(offsets) = copy_offsets(job, &info)? {
            if offsets.is_zero() && try_file_copy(job, &info)? {
                return Ok(WarpPath::FileCopy);
            }
            aligned_copy(job, &info, offsets)?;
            return Ok(WarpPath::AlignedCopy);
        }
    }
    let output_spec = job.output_spec(&info)?;
    let raw_tiles = takes_raw_tiles(&output_spec);
    if job.mask.is_none() && !raw_tiles {
        // Nothing for pgp to do after the warper: it writes the output itself.
        let driver = job.creation_options(&info, true);
        let tmp = TempOutput::new(temporary_sibling(&job.target));
        gdal_warp(&job.base, &tmp.0, &job.target, &job.args(&info, &driver))?;
        check_grid(&tmp.0, job)?;
        tmp.commit(&job.target)?;
        return Ok(WarpPath::Warped);
    }
    // Warp uncompressed into a scratch file, then write the (masked) compressed output.
    let scratch = ScratchFile::beside(&job.target, "tif");
    gdal_warp(
        &job.base,
        &scratch.0,
        &job.target,
        &job.args(&info, &job.scratch_driver(&info)),
    )?;
    check_grid(&scratch.0, job)?;
    let (mask_path, _mask_scratch) = match &job.mask {
        None => (None, None),
        Some(WarpMask::Raster(p)) => (Some(p.clone()), None),
        Some(WarpMask::Vector {
            path,
            layer,
            where_clause,
        }) => {
            let m = ScratchFile::beside(&job.target, "tif");
            rasterize_mask(&scratch.0, path, layer, where_clause.as_deref(), &m.0)?;
            (Some(m.0.clone()), Some(m))
        }
    };
    match mask_path {
        Some(mask) if !raw_tiles => apply_mask(
            &scratch.0,
            &mask,
            &job.target,
            &job.creation_options(&info, true),
        )?,
        mask => compress_scratch(
            &scratch.0,
            &job.target,
            &output_spec,
            job.threads,
            mask.as_deref(),
        )?,
    }
    Ok(WarpPath::Warped)
}

/// Creation options without GDAL's `NUM_THREADS` (compression threads).
fn without_threads(options: Vec<String>) -> Vec<String> {
    options
        .into_iter()
        .filter(|o| !o.to_ascii_uppercase().starts_with("NUM_THREADS="))
        .collect()
}

/// The warper sizes its output from the bounds and resolution; make sure it made our grid.
fn check_grid(path: &Path, job: &WarpJob) -> Result<()> {
    let out = raster_info(path)?;
    if out.raster_size != job.grid.size() {
        return Err(pgp_core::Error::Gdal {
            path: job.target.clone(),
            operation: "warping".to_string(),
            message: format!(
                "GDAL made a {:?} raster where the target grid is {:?}",
                out.raster_size,
                job.grid.size()
            ),
        }
        .into());
    }
    Ok(())
}

/// A file written under a temporary name: renamed into place by `commit`, deleted otherwise.
struct TempOutput(PathBuf, bool);

impl TempOutput {
    fn new(path: PathBuf) -> TempOutput {
        TempOutput(path, false)
    }

    fn commit(mut self, target: &Path) -> Result<()> {
        std::fs::rename(&self.0, target).map_err(|e| pgp_core::Error::io(target, e))?;
        let mut tmp_aux = self.0.clone().into_os_string();
        tmp_aux.push(".aux.xml");
        let mut target_aux = target.to_path_buf().into_os_string();
        target_aux.push(".aux.xml");
        if Path::new(&tmp_aux).exists() {
            std::fs::rename(&tmp_aux, &target_aux).map_err(|e| pgp_core::Error::io(target, e))?;
        } else {
            // An old sidecar would describe the old file.
            let _ = std::fs::remove_file(&target_aux);
        }
        self.1 = true;
        Ok(())
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        if self.1 {
            return;
        }
        let _ = std::fs::remove_file(&self.0);
        let mut aux = self.0.clone().into_os_string();
        aux.push(".aux.xml");
        let _ = std::fs::remove_file(aux);
    }
}

/// The warp job (`run_warp_job`) as a registered operation, on any executor. Its error travels back typed
/// (the same [`crate::Error`] variant a thread would give).
pub struct WarpOp;

impl pgp_exec::RemoteOp for WarpOp {
    const NAME: &'static str = "pgp_ops::warp";
    type Args = WarpJob;
    type Output = Result<WarpPath>;
    fn run(job: WarpJob) -> std::result::Result<Result<WarpPath>, String> {
        Ok(run_warp_job(&job))
    }
}

pgp_exec::register_op!(WarpOp);
