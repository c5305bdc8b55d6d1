//! `align_and_resize_raster_stack`: warp several rasters onto one common grid, in parallel.
//!
//! The grid is computed once ([`TargetGrid::new`]) and every raster is warped onto exactly that
//! grid by its own [`WarpJob`]. The jobs are independent (each opens its own source and writes its
//! own output under a temporary name), so they run concurrently on the executor: on threads in
//! this process, or as [`WarpOp`]s in worker processes, which are started fresh rather than forked
//! from a process holding GDAL state (the cause of the deadlocks that made pygeoprocessing drop
//! its process-parallel version, its issue #18). The outputs are the same whatever the executor.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use pgp_core::{raster_info, vector_info, LayerRef, RasterDriver, RasterInfo};
use pgp_exec::{wait_all_notify, Executor};

use crate::progress::Tracker;
use serde::{Deserialize, Serialize};

use crate::geom::{
    check_pixel_size, crs_label, merge_labelled, same_projection, transform_bounding_box,
    BoundingBoxMode, GridAnchor, MergeMode, TargetGrid, DEFAULT_EDGE_SAMPLES,
};
use crate::vector_ops::ScratchFile;
use crate::warp::{
    rasterize_mask, OverviewLevel, ResampleMethod, WarpJob, WarpMask, WarpOp, WarpPath,
};
use crate::{Error, Result};

/// A vector mask for every raster of the stack (pygeoprocessing's `mask_options`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackMask {
    /// The mask polygons; reprojected on the fly when needed.
    pub vector: PathBuf,
    /// Their layer.
    pub layer: LayerRef,
    /// An OGR SQL `WHERE` filter on the features.
    pub where_clause: Option<String>,
    /// Where to keep the rasterized mask (a byte raster on the target grid); `None`: a scratch
    /// file removed at the end.
    pub mask_raster: Option<PathBuf>,
}

/// Options of [`align_and_resize_raster_stack`]; the defaults are pygeoprocessing's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignOptions {
    /// Vectors whose bounding boxes join the union / intersection.
    pub base_vectors: Vec<PathBuf>,
    /// Snap the box's west and south edges to the grid of this raster (by index).
    pub raster_align_index: Option<usize>,
    /// Projections to assume for the rasters: empty, or one entry per raster (`None` entries use
    /// the raster's own).
    pub base_projections: Vec<Option<String>>,
    /// Target projection; `None`: each raster keeps its own (they should share one).
    pub target_projection: Option<String>,
    /// Keep only pixels inside these polygons.
    pub mask: Option<StackMask>,
    /// Extra GDAL warp options for every warp.
    pub gdal_warp_options: Vec<String>,
    /// Output driver and creation options.
    pub driver: RasterDriver,
    /// GDAL threads per warp; `None`: the executor's worker count.
    pub threads_per_warp: Option<usize>,
    /// GDAL's warp memory limit in MB (see [`WarpOptions`](crate::WarpOptions)).
    pub warp_memory_mb: Option<u64>,
    /// Copy instead of warping where a raster's grid already lines up (default true).
    pub aligned_copy: bool,
}

impl Default for AlignOptions {
    fn default() -> Self {
        AlignOptions {
            base_vectors: Vec::new(),
            raster_align_index: None,
            base_projections: Vec::new(),
            target_projection: None,
            mask: None,
            gdal_warp_options: Vec::new(),
            driver: RasterDriver::default(),
            threads_per_warp: None,
            warp_memory_mb: None,
            aligned_copy: true,
        }
    }
}

/// What [`align_and_resize_raster_stack`] made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlignReport {
    /// The grid every output is on.
    pub grid: TargetGrid,
    /// How each raster was processed, in input order.
    pub paths: Vec<WarpPath>,
}

/// pygeoprocessing's `align_and_resize_raster_stack`: warp every raster of `base_rasters` to the
/// same grid (pixel size `target_pixel_size`, extent from `bounding_box_mode`, optionally snapped
/// to one raster's grid) with its own resampling method, writing `targets` (one per raster).
/// The warps run concurrently on `executor`.
///
/// Errors, each naming what is wrong: lists of different lengths, duplicate targets, a target that
/// is also an input, an align index out of range, a bad pixel size, an unknown projection, boxes
/// without a common area, a mask that misses the target box, a failed warp.
///
/// ```
/// use pgp_exec::Executor;
/// use pgp_ops::{align_and_resize_raster_stack, AlignOptions, BoundingBoxMode, ResampleMethod};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let data = pgp_core::sample::generate(dir.path(), 64, 1)?;
/// let targets = [dir.path().join("dem_aligned.tif"), dir.path().join("lulc_aligned.tif")];
/// let options = AlignOptions { raster_align_index: Some(0), ..Default::default() };
/// let report = align_and_resize_raster_stack(
///     &[&data.dem, &data.landcover],
///     &targets,
///     &[ResampleMethod::Bilinear, ResampleMethod::Near],
///     (30.0, -30.0),
///     BoundingBoxMode::Intersection,
///     &options,
///     &Executor::threads(2)?,
/// )?;
/// for t in &targets {
///     let info = pgp_core::raster_info(t)?;
///     assert_eq!(info.raster_size, report.grid.size());
///     assert_eq!(info.geotransform, report.grid.geotransform());
/// }
/// # Ok(())
/// # }
/// ```
pub fn align_and_resize_raster_stack<P: AsRef<Path>, Q: AsRef<Path>>(
    base_rasters: &[P],
    targets: &[Q],
    resample_methods: &[ResampleMethod],
    target_pixel_size: (f64, f64),
    bounding_box_mode: BoundingBoxMode,
    options: &AlignOptions,
    executor: &Executor,
) -> Result<AlignReport> {
    let bases: Vec<PathBuf> = base_rasters
        .iter()
        .map(|p| p.as_ref().to_path_buf())
        .collect();
    let targets: Vec<PathBuf> = targets.iter().map(|p| p.as_ref().to_path_buf()).collect();
    check_lists(&bases, &targets, resample_methods, options)?;
    check_pixel_size(target_pixel_size)?;
    // Every output's directory before any work, so no output is written when another cannot be.
    for target in &targets {
        pgp_core::check_output_path(target)?;
    }
    let infos = bases
        .iter()
        .map(raster_info)
        .collect::<pgp_core::Result<Vec<_>>>()?;

    check_common_crs(&infos, options)?;
    let bbox = match bounding_box_mode {
        BoundingBoxMode::Explicit(bb) => {
            check_explicit_bbox(&bb, &infos, options)?;
            bb
        }
        BoundingBoxMode::Union => merged_bbox(&infos, options, MergeMode::Union)?,
        BoundingBoxMode::Intersection => merged_bbox(&infos, options, MergeMode::Intersection)?,
    };
    if let Some(mask) = &options.mask {
        check_mask_overlap(mask, &bbox, options)?;
    }
    let anchor = options
        .raster_align_index
        .map(|i| GridAnchor::of_raster(&infos[i]));
    let grid = TargetGrid::new(&bbox, target_pixel_size, anchor.as_ref())?;

    let mask_scratch;
    let job_mask = match &options.mask {
        None => None,
        Some(mask) => {
            let path = match &mask.mask_raster {
                Some(p) => p.clone(),
                None => {
                    mask_scratch = ScratchFile::beside(&targets[0], "tif");
                    mask_scratch.0.clone()
                }
            };
            make_stack_mask(&grid, mask, &infos[0], options, &path)?;
            Some(WarpMask::Raster(path))
        }
    };

    let threads = options
        .threads_per_warp
        .unwrap_or(executor.workers())
        .max(1);
    let jobs: Vec<WarpJob> = bases
        .iter()
        .zip(&targets)
        .zip(resample_methods)
        .enumerate()
        .map(|(i, ((base, target), &method))| WarpJob {
            base: base.clone(),
            target: target.clone(),
            grid,
            method,
            base_projection: options.base_projections.get(i).cloned().flatten(),
            target_projection: options.target_projection.clone(),
            target_nodata: None,
            mask: job_mask.clone(),
            gdal_warp_options: options.gdal_warp_options.clone(),
            overview_level: OverviewLevel::Base,
            driver: options.driver.clone(),
            threads,
            warp_memory_mb: options.warp_memory_mb,
            allow_aligned_copy: options.aligned_copy,
        })
        .collect();
    let paths = run_jobs(jobs, &infos, executor)?;
    Ok(AlignReport { grid, paths })
}

fn check_lists(
    bases: &[PathBuf],
    targets: &[PathBuf],
    methods: &[ResampleMethod],
    options: &AlignOptions,
) -> Result<()> {
    if bases.len() != targets.len() || bases.len() != methods.len() {
        return Err(Error::LengthMismatch {
            names: "base_rasters, targets, resample_methods".to_string(),
            lengths: vec![bases.len(), targets.len(), methods.len()],
        });
    }
    if bases.is_empty() {
        return Err(Error::invalid("base_rasters", "no raster to align"));
    }
    if !options.base_projections.is_empty() && options.base_projections.len() != bases.len() {
        return Err(Error::LengthMismatch {
            names: "base_rasters, base_projections".to_string(),
            lengths: vec![bases.len(), options.base_projections.len()],
        });
    }
    let mut seen = HashSet::new();
    for t in targets {
        if !seen.insert(t) {
            return Err(Error::invalid(
                "targets",
                format!("{} appears more than once", t.display()),
            ));
        }
        if bases.contains(t) {
            return Err(Error::invalid(
                "targets",
                format!("{} is also an input raster", t.display()),
            ));
        }
    }
    if let Some(i) = options.raster_align_index {
        if i >= bases.len() {
            return Err(Error::invalid(
                "raster_align_index",
                format!("{i} is out of range for {} rasters", bases.len()),
            ));
        }
    }
    Ok(())
}

/// The projection to read raster `i` in.
fn base_projection(i: usize, info: &RasterInfo, options: &AlignOptions) -> Result<String> {
    options
        .base_projections
        .get(i)
        .cloned()
        .flatten()
        .or_else(|| info.projection_wkt.clone())
        .ok_or_else(|| Error::UnknownProjection {
            argument: format!("base_projections[{i}] ({})", info.path.display()),
            definition: String::new(),
            message: "the raster has no projection and none was given".to_string(),
        })
}

/// The projection of raster `i`'s pixels as given or as it declares, `None` when unknown.
fn declared_projection(i: usize, info: &RasterInfo, options: &AlignOptions) -> Option<String> {
    options
        .base_projections
        .get(i)
        .cloned()
        .flatten()
        .or_else(|| info.projection_wkt.clone())
}

/// Without a target projection every raster keeps its own, so they must share one: boxes in
/// different CRSs cannot be merged, and outputs in different CRSs would not be aligned.
fn check_common_crs(infos: &[RasterInfo], options: &AlignOptions) -> Result<()> {
    if options.target_projection.is_some() {
        return Ok(());
    }
    let mut first: Option<(usize, String)> = None;
    for (i, info) in infos.iter().enumerate() {
        let Some(p) = declared_projection(i, info, options) else {
            continue;
        };
        match &first {
            None => first = Some((i, p)),
            Some((j, q)) if !same_projection(q, &p)? => {
                return Err(Error::invalid(
                    "target_projection",
                    format!(
                        "{} is in {} but {} is in {}: rasters in different CRSs need a target \
                         projection to share a grid",
                        infos[*j].path.display(),
                        crs_label(q),
                        info.path.display(),
                        crs_label(&p)
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// An explicit box that misses every input would give outputs holding only nodata.
fn check_explicit_bbox(
    bbox: &pgp_core::BoundingBox,
    infos: &[RasterInfo],
    options: &AlignOptions,
) -> Result<()> {
    let mut listed = Vec::new();
    for (i, info) in infos.iter().enumerate() {
        let own = declared_projection(i, info, options);
        let (bb, crs) = match (&options.target_projection, &own) {
            (Some(to), Some(from)) => (
                transform_bounding_box(&info.bounding_box, from, to, DEFAULT_EDGE_SAMPLES)?,
                Some(to.clone()),
            ),
            _ => (info.bounding_box, own.clone()),
        };
        let common = bb.intersection(bbox);
        if common.xmin < common.xmax && common.ymin < common.ymax {
            return Ok(());
        }
        listed.push(format!(
            "{} {:?} in {}",
            info.path.display(),
            bb.to_array(),
            crs.as_deref().map_or("no CRS".to_string(), crs_label)
        ));
    }
    let box_crs = options
        .target_projection
        .clone()
        .or_else(|| declared_projection(0, &infos[0], options));
    Err(Error::invalid(
        "bounding_box_mode",
        format!(
            "the box {:?} (in {}) does not intersect any input: {}",
            bbox.to_array(),
            box_crs.as_deref().map_or("no CRS".to_string(), crs_label),
            listed.join(", ")
        ),
    ))
}

fn merged_bbox(
    infos: &[RasterInfo],
    options: &AlignOptions,
    mode: MergeMode,
) -> Result<pgp_core::BoundingBox> {
    let mut boxes = Vec::new();
    for v in &options.base_vectors {
        let info = vector_info(v, &LayerRef::default())?;
        let Some(bb) = info.bounding_box else {
            continue;
        };
        let bb = match (&options.target_projection, &info.projection_wkt) {
            (Some(to), Some(from)) => transform_bounding_box(&bb, from, to, DEFAULT_EDGE_SAMPLES)?,
            _ => bb,
        };
        boxes.push((v.display().to_string(), bb));
    }
    for (i, info) in infos.iter().enumerate() {
        let bb = match &options.target_projection {
            Some(to) => {
                let from = base_projection(i, info, options)?;
                transform_bounding_box(&info.bounding_box, &from, to, DEFAULT_EDGE_SAMPLES)?
            }
            None => info.bounding_box,
        };
        boxes.push((info.path.display().to_string(), bb));
    }
    merge_labelled(&boxes, mode)
}

/// As pygeoprocessing: a mask whose box misses the target box is an error.
fn check_mask_overlap(
    mask: &StackMask,
    bbox: &pgp_core::BoundingBox,
    options: &AlignOptions,
) -> Result<()> {
    let info = vector_info(&mask.vector, &mask.layer)?;
    let Some(mask_bb) = info.bounding_box else {
        return Err(Error::invalid(
            "mask",
            format!("{} has no features", mask.vector.display()),
        ));
    };
    let mask_bb = match (&info.projection_wkt, &options.target_projection) {
        (Some(from), Some(to)) => transform_bounding_box(&mask_bb, from, to, DEFAULT_EDGE_SAMPLES)?,
        _ => mask_bb,
    };
    merge_labelled(
        &[
            ("target bounding box".to_string(), *bbox),
            (mask.vector.display().to_string(), mask_bb),
        ],
        MergeMode::Intersection,
    )
    .map(|_| ())
}

/// Rasterize the stack mask onto the target grid.
fn make_stack_mask(
    grid: &TargetGrid,
    mask: &StackMask,
    first: &RasterInfo,
    options: &AlignOptions,
    path: &Path,
) -> Result<()> {
    let wkt = match &options.target_projection {
        Some(p) => Some(crate::geom::projection_wkt(p, "target_projection")?),
        None => first.projection_wkt.clone(),
    };
    // A grid template, then the polygons burned onto it.
    let template = ScratchFile::beside(path, "tif");
    let spec = pgp_core::RasterSpec::new(
        grid.cols,
        grid.rows,
        pgp_core::DataType::U8,
        grid.geotransform(),
    )
    .projection(wkt)
    .driver(RasterDriver::new(
        "GTiff",
        ["TILED=YES", "BIGTIFF=YES", "SPARSE_OK=TRUE"],
    ));
    pgp_core::create_raster(&template.0, &spec)?.close()?;
    rasterize_mask(
        &template.0,
        &mask.vector,
        &mask.layer,
        mask.where_clause.as_deref(),
        path,
    )
}

/// Run the warps concurrently, the most expensive first (so the last one to start is short), and
/// return how each was done, in input order.
fn run_jobs(
    jobs: Vec<WarpJob>,
    infos: &[RasterInfo],
    executor: &Executor,
) -> Result<Vec<WarpPath>> {
    let cost = |i: usize| {
        let s = &infos[i];
        let g = &jobs[i].grid;
        s.n_pixels() * s.datatype.size_bytes() + g.cols * g.rows * s.datatype.size_bytes()
    };
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(cost(i)));
    let mut results: Vec<Option<WarpPath>> = vec![None; jobs.len()];
    let mut progress = Tracker::start("align_and_resize_raster_stack", "rasters", jobs.len());
    let mut finished = |_| progress.tick();
    let handles = order
        .iter()
        .map(|&i| executor.submit::<WarpOp>(jobs[i].clone()))
        .collect::<pgp_exec::Result<Vec<_>>>()?;
    for (&i, r) in order.iter().zip(wait_all_notify(handles, &mut finished)?) {
        results[i] = Some(r?);
    }
    Ok(results.into_iter().flatten().collect())
}
