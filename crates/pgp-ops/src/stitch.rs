//! `stitch_rasters`: mosaic many rasters into one existing target raster.
//!
//! Every base raster not already on the target's pixel size and projection is first warped to
//! them (these warps are independent and run concurrently on the executor); then the bases are
//! written into the target one after the other, in list order, so the overlap rule sees them in
//! a fixed order and the result does not depend on the executor.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use ndarray::{Array2, Zip};
use pgp_core::{
    block_windows, raster_info, with_pixel_type, Nodata, Pixel, Raster, RasterInfo, Window,
    LARGEST_BLOCK,
};
use pgp_exec::{wait_all, Executor};
use serde::{Deserialize, Serialize};

use crate::geom::{merge_bounding_boxes, transform_bounding_box, MergeMode, DEFAULT_EDGE_SAMPLES};
use crate::vector_ops::ScratchFile;
use crate::warp::{warp_raster, ResampleMethod, WarpOptions};
use crate::{Error, Result};

/// How a base pixel combines with the target pixel under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum OverlapRule {
    /// Write only where the target is nodata: the first raster to reach a pixel keeps it.
    #[default]
    Etch,
    /// Write every valid base pixel: the last raster wins.
    Replace,
    /// Add valid base pixels to the target, counting target nodata as 0.
    Add,
}

impl FromStr for OverlapRule {
    type Err = Error;
    fn from_str(s: &str) -> Result<OverlapRule> {
        match s {
            "etch" => Ok(OverlapRule::Etch),
            "replace" => Ok(OverlapRule::Replace),
            "add" => Ok(OverlapRule::Add),
            other => Err(Error::invalid(
                "overlap_algorithm",
                format!("{other:?} is not one of etch, replace, add"),
            )),
        }
    }
}

/// Options of [`stitch_rasters`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StitchOptions {
    /// How overlapping pixels combine (default etch).
    pub overlap: OverlapRule,
    /// For rasters that must be warped to a WGS84 target: treat their values as totals per pixel
    /// (not densities) and rescale them by the area of the WGS84 pixel over the area of the
    /// source pixel (the source must be in metres).
    pub area_weight_m2_to_wgs84: bool,
}

/// What [`stitch_rasters`] did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StitchReport {
    /// Bases written into the target, in order.
    pub stitched: Vec<PathBuf>,
    /// Bases that do not overlap the target and were skipped.
    pub skipped: Vec<PathBuf>,
}

/// pygeoprocessing's `stitch_rasters`: write the band of every `(path, band)` in `bases` into
/// band `target.1` of the existing raster `target.0` (modified in place), warping bases that are
/// not on the target's pixel size and projection with their `resample_methods` entry first.
/// Base nodata pixels are never written. The target band must have a nodata value.
///
/// Differences from pygeoprocessing: nodata is matched exactly (pgp's rule) rather than with
/// `isclose`; with [`OverlapRule::Add`], a base that starts west of or above the target is not
/// added twice along the first block's edge.
pub fn stitch_rasters<P: AsRef<Path>>(
    bases: &[(P, usize)],
    resample_methods: &[ResampleMethod],
    target: (&Path, usize),
    options: &StitchOptions,
    executor: &Executor,
) -> Result<StitchReport> {
    if bases.len() != resample_methods.len() {
        return Err(Error::LengthMismatch {
            names: "base_raster_path_band_list, resample_method_list".to_string(),
            lengths: vec![bases.len(), resample_methods.len()],
        });
    }
    let (target_path, target_band) = target;
    let tinfo = raster_info(target_path)?;
    if target_band == 0 || target_band > tinfo.n_bands {
        return Err(pgp_core::Error::BandOutOfRange {
            path: target_path.to_path_buf(),
            band: target_band,
            count: tinfo.n_bands,
        }
        .into());
    }
    let target_nodata = tinfo.nodata[target_band - 1].ok_or_else(|| {
        Error::invalid(
            "target_stitch_raster_path_band",
            format!(
                "{} band {target_band} has no nodata value; stitching needs one",
                target_path.display()
            ),
        )
    })?;
    let twkt = tinfo
        .projection_wkt
        .clone()
        .ok_or_else(|| Error::UnknownProjection {
            argument: target_path.display().to_string(),
            definition: String::new(),
            message: "the target raster has no projection".to_string(),
        })?;

    // Decide, per base, whether it overlaps and whether it needs a warp; start the warps.
    let mut report = StitchReport::default();
    let mut plan = Vec::new();
    let mut warps = Vec::new();
    for ((path, band), &method) in bases.iter().zip(resample_methods) {
        let path = path.as_ref();
        let info = raster_info(path)?;
        let wkt = info
            .projection_wkt
            .clone()
            .ok_or_else(|| Error::UnknownProjection {
                argument: path.display().to_string(),
                definition: String::new(),
                message: "the raster has no projection".to_string(),
            })?;
        let projected =
            transform_bounding_box(&info.bounding_box, &wkt, &twkt, DEFAULT_EDGE_SAMPLES)?;
        if merge_bounding_boxes(&[projected, tinfo.bounding_box], MergeMode::Intersection).is_err()
        {
            report.skipped.push(path.to_path_buf());
            continue;
        }
        let on_target_grid = wkt == twkt && info.pixel_size == tinfo.pixel_size;
        let warped = if on_target_grid {
            None
        } else {
            let scratch = ScratchFile::beside(target_path, "tif");
            let (base, out) = (path.to_path_buf(), scratch.0.clone());
            let opts = WarpOptions {
                target_projection: Some(twkt.clone()),
                n_threads: Some(1),
                ..Default::default()
            };
            let pixel = tinfo.pixel_size;
            let inner = pgp_exec::Executor::sync();
            warps.push(
                executor.spawn(move || warp_raster(&base, pixel, &out, method, &opts, &inner))?,
            );
            Some(scratch)
        };
        plan.push((path.to_path_buf(), *band, info, warped));
    }
    for r in wait_all(warps)? {
        r?;
    }

    let mut target_raster = Raster::open_update(target_path)?;
    for (path, band, base_info, warped) in plan {
        let source_path = warped.as_ref().map_or(path.as_path(), |s| s.0.as_path());
        let scale = if warped.is_some() && options.area_weight_m2_to_wgs84 {
            Some(AreaScale::new(source_path, &base_info)?)
        } else {
            None
        };
        stitch_one(
            source_path,
            band,
            &mut target_raster,
            target_band,
            &tinfo,
            target_nodata,
            options.overlap,
            scale.as_ref(),
        )?;
        report.stitched.push(path);
    }
    target_raster.close()?;
    Ok(report)
}

/// Per-row factors turning a per-pixel total into the total over a WGS84 pixel.
struct AreaScale {
    per_row: Vec<f64>,
}

impl AreaScale {
    fn new(warped: &Path, base: &RasterInfo) -> Result<AreaScale> {
        let info = raster_info(warped)?;
        let base_area = (base.pixel_size.0 * base.pixel_size.1).abs();
        let bb = info.bounding_box;
        let rows = info.raster_size.1;
        let pixel = (bb.ymax - bb.ymin) / rows as f64;
        // Row 0 is the northernmost.
        let per_row = (0..rows)
            .map(|r| {
                let centre = bb.ymax - pixel / 2.0 - r as f64 * pixel;
                wgs84_pixel_area_m2(pixel, centre) / base_area
            })
            .collect();
        Ok(AreaScale { per_row })
    }
}

/// Area in m² of a square WGS84 pixel of side `pixel_size` degrees centred at latitude
/// `centre_lat` (the area of the ellipsoid zone between the pixel's edges, times its share of
/// the full circle of longitude).
pub fn wgs84_pixel_area_m2(pixel_size: f64, centre_lat: f64) -> f64 {
    let a: f64 = 6_378_137.0;
    let b: f64 = 6_356_752.314_2;
    let e = (1.0 - (b / a).powi(2)).sqrt();
    let zone = |lat: f64| {
        let s = lat.to_radians().sin();
        let (zm, zp) = (1.0 - e * s, 1.0 + e * s);
        std::f64::consts::PI * b * b * ((zp / zm).ln() / (2.0 * e) + s / (zp * zm))
    };
    let north = zone(centre_lat + pixel_size / 2.0);
    let south = zone(centre_lat - pixel_size / 2.0);
    (pixel_size / 360.0 * (north - south)).abs()
}

/// The target window a base block lands on, clipped to the target: (window in the block,
/// window in the target).
fn placement(
    block: &Window,
    offset: (i64, i64),
    target: (usize, usize),
) -> Option<(Window, Window)> {
    let x0 = (block.x_off as i64 + offset.0).max(0);
    let y0 = (block.y_off as i64 + offset.1).max(0);
    let x1 = (block.x_off as i64 + block.width as i64 + offset.0).min(target.0 as i64);
    let y1 = (block.y_off as i64 + block.height as i64 + offset.1).min(target.1 as i64);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let in_target = Window::new(
        x0 as usize,
        y0 as usize,
        (x1 - x0) as usize,
        (y1 - y0) as usize,
    );
    let in_block = Window::new(
        (x0 - offset.0) as usize - block.x_off,
        (y0 - offset.1) as usize - block.y_off,
        in_target.width,
        in_target.height,
    );
    Some((in_block, in_target))
}

/// Where pixel (0, 0) of `source` falls in the target grid, truncated toward zero like
/// pygeoprocessing (GDAL's inverse geotransform, then `int()`).
fn target_offset(source: &RasterInfo, target: &RasterInfo) -> Result<(i64, i64)> {
    let mut inv = [0.0f64; 6];
    let mut gt = target.geotransform.0;
    // SAFETY: both arrays have the six elements GDAL reads and writes.
    let ok = unsafe { gdal_sys::GDALInvGeoTransform(gt.as_mut_ptr(), inv.as_mut_ptr()) };
    if ok == 0 {
        return Err(Error::invalid(
            "target_stitch_raster_path_band",
            format!(
                "{}: the geotransform cannot be inverted",
                target.path.display()
            ),
        ));
    }
    let (x, y) = source.geotransform.apply(0.0, 0.0);
    let (mut col, mut row) = (0.0, 0.0);
    // SAFETY: `inv` holds six elements; the outputs are plain doubles.
    unsafe { gdal_sys::GDALApplyGeoTransform(inv.as_mut_ptr(), x, y, &mut col, &mut row) };
    Ok((col.trunc() as i64, row.trunc() as i64))
}

#[allow(clippy::too_many_arguments)]
fn stitch_one(
    source_path: &Path,
    band: usize,
    target: &mut Raster,
    target_band: usize,
    tinfo: &RasterInfo,
    target_nodata: f64,
    rule: OverlapRule,
    scale: Option<&AreaScale>,
) -> Result<()> {
    let source = Raster::open(source_path)?;
    let sinfo = source.info()?;
    let base_nodata = source.nodata(band)?;
    let offset = target_offset(&sinfo, tinfo)?;
    let tdt = tinfo.datatypes[target_band - 1];
    for block in block_windows(sinfo.raster_size, sinfo.block_size, LARGEST_BLOCK) {
        let Some((in_block, in_target)) = placement(&block, offset, tinfo.raster_size) else {
            continue;
        };
        let src_window = Window::new(
            block.x_off + in_block.x_off,
            block.y_off + in_block.y_off,
            in_block.width,
            in_block.height,
        );
        let mut values: Array2<f64> = source.read_as::<f64>(band, src_window)?;
        let base_nd = Nodata::<f64>::new(base_nodata);
        if let Some(scale) = scale {
            for (r, mut row) in values.rows_mut().into_iter().enumerate() {
                let factor = scale.per_row[src_window.y_off + r];
                row.mapv_inplace(|v| if base_nd.is_nodata(v) { v } else { v * factor });
            }
        }
        with_pixel_type!(tdt, T => {
            let mut current = target.read::<T>(target_band, in_target)?;
            let target_nd = Nodata::<T>::new(Some(target_nodata));
            Zip::from(&mut current).and(&values).for_each(|t, &b| {
                if base_nd.is_nodata(b) {
                    return;
                }
                match rule {
                    OverlapRule::Etch => {
                        if target_nd.is_nodata(*t) {
                            *t = T::from_f64(b);
                        }
                    }
                    OverlapRule::Replace => *t = T::from_f64(b),
                    OverlapRule::Add => {
                        let base = if target_nd.is_nodata(*t) { 0.0 } else { t.to_f64() };
                        *t = T::from_f64(base + b);
                    }
                }
            });
            target.write(target_band, in_target.x_off, in_target.y_off, current.view())?;
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_clips_both_sides() {
        // A 10 x 10 block whose origin lands at (-3, 8) in a 12 x 12 target.
        let (b, t) = placement(&Window::new(0, 0, 10, 10), (-3, 8), (12, 12)).unwrap();
        assert_eq!(t, Window::new(0, 8, 7, 4));
        assert_eq!(b, Window::new(3, 0, 7, 4));
        assert!(placement(&Window::new(0, 0, 10, 10), (20, 0), (12, 12)).is_none());
    }

    #[test]
    fn wgs84_pixel_area_is_about_right() {
        // A one-degree cell at the equator is about 111.3 km x 110.6 km.
        let a = wgs84_pixel_area_m2(1.0, 0.0);
        assert!((a / 1e6 - 12_308.0).abs() < 20.0, "{a}");
        // Smaller towards the poles, by about cos(latitude).
        let ratio = wgs84_pixel_area_m2(1.0, 60.0) / a;
        assert!((ratio - 0.5).abs() < 0.01, "{ratio}");
    }

    #[test]
    fn overlap_rule_parses() {
        assert_eq!("add".parse::<OverlapRule>().unwrap(), OverlapRule::Add);
        assert!("blend".parse::<OverlapRule>().is_err());
    }
}
