//! The aligned-copy path: when the output grid is the source grid shifted by whole pixels (same
//! projection, same pixel size, no rotation), every output pixel centre falls exactly on a source
//! pixel centre, and GDAL's warper returns the source pixel itself for every resampling method
//! (each kernel then weighs the centre pixel 1 and its neighbours 0). Copying the pixels gives
//! that result without running the warp kernel, which is the common case in
//! `align_and_resize_raster_stack` for the raster the stack is aligned to. Pixels outside the
//! source get the output nodata, as the warper's would. Tests compare both paths per method.

use pgp_core::{
    block_windows, with_pixel_type, OutputRaster, Pixel, Raster, RasterInfo, RasterSpec, Window,
};

use crate::geom::same_projection;
use crate::warp::job::WarpJob;
use crate::warp::resample::OverviewLevel;
use crate::Result;

/// A whole-pixel offset: output pixel (c, r) is source pixel (c + cols, r + rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offsets {
    cols: i64,
    rows: i64,
}

impl Offsets {
    /// True when the output starts at the source's first pixel.
    pub(crate) fn is_zero(&self) -> bool {
        self.cols == 0 && self.rows == 0
    }
}

/// How far from a whole number an offset (in pixels) may be and still count as whole: far below
/// anything that moves a pixel centre noticeably, above the rounding of coordinate arithmetic.
const WHOLE_PIXEL_TOLERANCE: f64 = 1e-9;

/// The offsets when `job` may be done by copying, `None` when it needs the warper.
pub(crate) fn copy_offsets(job: &WarpJob, info: &RasterInfo) -> Result<Option<Offsets>> {
    let gt = info.geotransform.0;
    let uniform_type = info.datatypes.iter().all(|&d| d == info.datatypes[0]);
    let user_options = job
        .gdal_warp_options
        .iter()
        .any(|o| !o.to_ascii_uppercase().starts_with("NUM_THREADS="));
    // An explicit target nodata that differs from a band's own would turn that band's nodata
    // pixels into the new value in GDAL's output; a copy would not.
    let same_nodata = |n: &Option<f64>| match (n, job.target_nodata) {
        (Some(a), Some(b)) => a == &b || (a.is_nan() && b.is_nan()),
        _ => true,
    };
    let plain = job.driver.driver.eq_ignore_ascii_case("GTiff")
        && info.nodata.iter().all(same_nodata)
        && job.overview_level == OverviewLevel::Base
        && !user_options
        && uniform_type
        && gt[2] == 0.0
        && gt[4] == 0.0
        && gt[1] == job.grid.pixel_size.0
        && gt[5] == -job.grid.pixel_size.1;
    if !plain {
        return Ok(None);
    }
    let cols = (job.grid.bounding_box.xmin - gt[0]) / gt[1];
    let rows = (gt[3] - job.grid.bounding_box.ymax) / job.grid.pixel_size.1;
    let whole = |v: f64| (v - v.round()).abs() <= WHOLE_PIXEL_TOLERANCE;
    if !whole(cols) || !whole(rows) {
        return Ok(None);
    }
    let source_srs = job
        .base_projection
        .clone()
        .or_else(|| info.projection_wkt.clone());
    let same = match (&source_srs, &job.target_projection) {
        (_, None) => true,
        (None, Some(_)) => false,
        (Some(a), Some(b)) => same_projection(a, b)?,
    };
    Ok(same.then_some(Offsets {
        cols: cols.round() as i64,
        rows: rows.round() as i64,
    }))
}

/// The part of output window `w` that lies on the source, as (window in the output block,
/// window in the source); `None` when it lies wholly outside.
fn overlap(w: &Window, off: Offsets, src: (usize, usize)) -> Option<(Window, Window)> {
    let x0 = (w.x_off as i64 + off.cols).max(0);
    let y0 = (w.y_off as i64 + off.rows).max(0);
    let x1 = (w.x_off as i64 + w.width as i64 + off.cols).min(src.0 as i64);
    let y1 = (w.y_off as i64 + w.height as i64 + off.rows).min(src.1 as i64);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let in_block = Window::new(
        (x0 - off.cols - w.x_off as i64) as usize,
        (y0 - off.rows - w.y_off as i64) as usize,
        (x1 - x0) as usize,
        (y1 - y0) as usize,
    );
    let in_source = Window::new(x0 as usize, y0 as usize, in_block.width, in_block.height);
    Some((in_block, in_source))
}

/// Write the output of `job` by copying source pixels (see the module docs).
pub(crate) fn aligned_copy(job: &WarpJob, info: &RasterInfo, off: Offsets) -> Result<()> {
    let grid = &job.grid;
    let datatype = info.datatypes[0];
    let nodata = job.band_nodata(info);
    let mut spec = RasterSpec::new(grid.cols, grid.rows, datatype, grid.geotransform())
        .bands(info.n_bands)
        .projection(job.target_wkt(info)?)
        .driver(job.creation_options(info, true));
    spec.nodata = nodata.iter().map(|&v| Some(v)).collect();
    let block = (
        spec.driver
            .option("BLOCKXSIZE")
            .and_then(|v| v.parse().ok())
            .unwrap_or(256usize),
        spec.driver
            .option("BLOCKYSIZE")
            .and_then(|v| v.parse().ok())
            .unwrap_or(256usize),
    );
    let mut out = OutputRaster::create(&job.target, &spec)?;
    let source = Raster::open(&job.base)?;
    for w in block_windows(grid.size(), block, 0) {
        let part = overlap(&w, off, info.raster_size);
        for band in 1..=info.n_bands {
            with_pixel_type!(datatype, T => {
                let values = match part {
                    Some((in_block, in_source)) if in_block == Window::new(0, 0, w.width, w.height) => {
                        source.read::<T>(band, in_source)?
                    }
                    Some((in_block, in_source)) => {
                        let mut a = ndarray::Array2::<T>::from_elem(w.shape(), T::from_f64(nodata[band - 1]));
                        let src = source.read::<T>(band, in_source)?;
                        a.slice_mut(ndarray::s![
                            in_block.y_off..in_block.y_off + in_block.height,
                            in_block.x_off..in_block.x_off + in_block.width
                        ])
                        .assign(&src);
                        a
                    }
                    None => ndarray::Array2::<T>::from_elem(w.shape(), T::from_f64(nodata[band - 1])),
                };
                out.raster().write(band, w.x_off, w.y_off, values.view())?;
            });
        }
    }
    out.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_clips_to_the_source() {
        let off = Offsets { cols: -2, rows: 3 };
        // Output block at (0, 0) 4 x 4 maps to source columns -2..2, rows 3..7 of a 10 x 5 source.
        let (b, s) = overlap(&Window::new(0, 0, 4, 4), off, (10, 5)).unwrap();
        assert_eq!(b, Window::new(2, 0, 2, 2));
        assert_eq!(s, Window::new(0, 3, 2, 2));
        assert!(overlap(&Window::new(20, 0, 4, 4), off, (10, 5)).is_none());
    }
}
