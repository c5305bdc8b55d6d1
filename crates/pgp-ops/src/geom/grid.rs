//! Target grids: how a bounding box and a pixel size become a raster's size and geotransform.
//!
//! Every operation that makes a new grid (warp, align, create-from-bounding-box, create-from-
//! vector-extents) goes through [`TargetGrid::new`], so they cannot disagree about the size or the
//! position of a grid (pygeoprocessing issues #321 and #348 were about two copies of this rule
//! drifting apart).

use pgp_core::{BoundingBox, GeoTransform};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// pygeoprocessing's `numpy.isclose(residual, 0.0)`: absolute tolerance 1e-8.
const RESIDUAL_TOLERANCE: f64 = 1e-8;

/// A grid to snap a bounding box to: the origin corner and signed pixel size of an existing
/// raster (pygeoprocessing's `raster_align_index`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GridAnchor {
    /// The raster's bounding box; its `xmin` and `ymin` are grid lines.
    pub bounding_box: BoundingBox,
    /// The raster's signed pixel size `(width, height)`; height is negative for north-up rasters.
    pub pixel_size: (f64, f64),
}

impl GridAnchor {
    /// The grid of a raster.
    pub fn of_raster(info: &pgp_core::RasterInfo) -> GridAnchor {
        GridAnchor {
            bounding_box: info.bounding_box,
            pixel_size: info.pixel_size,
        }
    }

    /// Move `bbox`'s west and south edges onto this grid by a whole number of pixels, counted
    /// from the anchor's `xmin` / `ymin` and truncated toward zero (pygeoprocessing's `int()`).
    /// East and north edges are kept; the size rule of [`TargetGrid::new`] then decides them.
    /// Returns a new box; `bbox` is never modified (pygeoprocessing #471).
    pub fn snap(&self, bbox: &BoundingBox) -> BoundingBox {
        let (px, py) = self.pixel_size;
        let a = &self.bounding_box;
        // Same float operations, in the same order, as pygeoprocessing, so grids match bit for bit.
        let nx = ((bbox.xmin - a.xmin) / px).trunc();
        let ny = ((bbox.ymin - a.ymin) / py).trunc();
        BoundingBox::new(nx * px + a.xmin, ny * py + a.ymin, bbox.xmax, bbox.ymax)
    }
}

/// A north-up raster grid: size, pixel size and bounds.
///
/// `bounding_box` is exactly what GDAL's warper is given as output bounds (`-te`) and
/// `pixel_size` its resolution (`-tr`); the geotransform GDAL then writes is
/// [`TargetGrid::geotransform`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetGrid {
    /// Number of columns.
    pub cols: usize,
    /// Number of rows.
    pub rows: usize,
    /// Pixel width and height, both positive.
    pub pixel_size: (f64, f64),
    /// The grid's bounds: `xmax = xmin + cols * width`, `ymax = ymin + rows * height`.
    pub bounding_box: BoundingBox,
}

impl TargetGrid {
    /// The grid that covers `bbox` with pixels of `pixel_size` (signs ignored, the grid is
    /// north-up), optionally after snapping `bbox` to `anchor` (see [`GridAnchor::snap`]).
    ///
    /// The rule, pygeoprocessing's: `cols = trunc(|width / pixel_width|)`, plus one when the
    /// remainder `cols * pixel_width - width` is not within 1e-8 of zero, and at least one (the
    /// same for rows). The grid keeps `bbox`'s west and south edges and moves the east and north
    /// edges to whole pixels, so it covers `bbox` (to within 1e-8) and is anchored at the
    /// south-west corner.
    pub fn new(
        bbox: &BoundingBox,
        pixel_size: (f64, f64),
        anchor: Option<&GridAnchor>,
    ) -> Result<TargetGrid> {
        check_pixel_size(pixel_size)?;
        let bbox = match anchor {
            Some(a) => {
                check_pixel_size(a.pixel_size)?;
                a.snap(bbox)
            }
            None => *bbox,
        };
        let finite = bbox.to_array().iter().all(|v| v.is_finite());
        if !finite || bbox.xmax < bbox.xmin || bbox.ymax < bbox.ymin {
            return Err(Error::invalid(
                "bounding_box",
                format!(
                    "expected finite [xmin, ymin, xmax, ymax] with xmin <= xmax and ymin <= ymax, \
                     got {:?}",
                    bbox.to_array()
                ),
            ));
        }
        let cols = cells(bbox.xmax - bbox.xmin, pixel_size.0)?;
        let rows = cells(bbox.ymax - bbox.ymin, pixel_size.1)?;
        // pygeoprocessing: `xmax = xmin + abs(pixel_width * cols)`.
        let xmax = bbox.xmin + (pixel_size.0 * cols as f64).abs();
        let ymax = bbox.ymin + (pixel_size.1 * rows as f64).abs();
        Ok(TargetGrid {
            cols,
            rows,
            pixel_size: (pixel_size.0.abs(), pixel_size.1.abs()),
            bounding_box: BoundingBox::new(bbox.xmin, bbox.ymin, xmax, ymax),
        })
    }

    /// The geotransform of the grid: top-left corner at `(xmin, ymax)`, north-up.
    pub fn geotransform(&self) -> GeoTransform {
        GeoTransform::north_up(
            self.bounding_box.xmin,
            self.bounding_box.ymax,
            self.pixel_size.0,
            -self.pixel_size.1,
        )
    }

    /// `(cols, rows)`.
    pub fn size(&self) -> (usize, usize) {
        (self.cols, self.rows)
    }
}

/// The largest raster side GDAL accepts (its sizes are C `int`s).
const MAX_SIDE: f64 = i32::MAX as f64;

fn cells(extent: f64, pixel: f64) -> Result<usize> {
    let n = (extent / pixel).abs().trunc();
    if n >= MAX_SIDE {
        return Err(Error::invalid(
            "target_pixel_size",
            format!("pixel size {pixel} makes {n} pixels over {extent} map units, too many"),
        ));
    }
    let residual = (n * pixel).abs() - extent;
    let n = if residual.abs() <= RESIDUAL_TOLERANCE {
        n
    } else {
        n + 1.0
    };
    Ok((n as usize).max(1))
}

/// Refuse pixel sizes that are zero, infinite or NaN, naming the value.
pub(crate) fn check_pixel_size(pixel_size: (f64, f64)) -> Result<()> {
    let ok = |v: f64| v.is_finite() && v != 0.0;
    if ok(pixel_size.0) && ok(pixel_size.1) {
        Ok(())
    } else {
        Err(Error::invalid(
            "target_pixel_size",
            format!(
                "expected two finite, non-zero numbers, got ({}, {})",
                pixel_size.0, pixel_size.1
            ),
        ))
    }
}

/// pygeoprocessing's `align_bbox`: grow `bbox` outward to the nearest grid lines of
/// `geotransform` (rotation terms are ignored). Used to clip a raster to a region without
/// resampling.
///
/// Errors when the pixel size is zero, the box is inverted, or the box starts before the grid's
/// origin on its side of the origin (as pygeoprocessing).
pub fn align_bbox(geotransform: &GeoTransform, bbox: &BoundingBox) -> Result<BoundingBox> {
    let [x0, pw, _, y0, _, ph] = geotransform.0;
    if pw == 0.0 || ph == 0.0 || !pw.is_finite() || !ph.is_finite() {
        return Err(Error::invalid(
            "geotransform",
            format!("pixel width and height must be finite and non-zero, got {pw}, {ph}"),
        ));
    }
    if bbox.xmax < bbox.xmin || bbox.ymax < bbox.ymin {
        return Err(Error::invalid(
            "bbox",
            format!(
                "must be [xmin, ymin, xmax, ymax], got {:?}",
                bbox.to_array()
            ),
        ));
    }
    let outside = (pw > 0.0 && bbox.xmin < x0)
        || (ph > 0.0 && bbox.ymin < y0)
        || (pw < 0.0 && bbox.xmin > x0)
        || (ph < 0.0 && bbox.ymin > y0);
    if outside {
        return Err(Error::invalid(
            "bbox",
            format!(
                "{:?} does not fall within the grid of geotransform {:?}",
                bbox.to_array(),
                geotransform.0
            ),
        ));
    }
    // (v - origin) / size * sign(size) is the distance in whole pixels on the grid's own axis.
    let steps = |v: f64, origin: f64, size: f64| (v - origin) / size * size.signum();
    Ok(BoundingBox::new(
        x0 + pw.abs() * steps(bbox.xmin, x0, pw).floor(),
        y0 + ph.abs() * steps(bbox.ymin, y0, ph).floor(),
        x0 + pw.abs() * steps(bbox.xmax, x0, pw).ceil(),
        y0 + ph.abs() * steps(bbox.ymax, y0, ph).ceil(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_multiple_keeps_the_box() {
        let bb = BoundingBox::new(100.0, 200.0, 400.0, 350.0);
        let g = TargetGrid::new(&bb, (30.0, -30.0), None).unwrap();
        assert_eq!((g.cols, g.rows), (10, 5));
        assert_eq!(g.bounding_box, bb);
        assert_eq!(g.geotransform().0, [100.0, 30.0, 0.0, 350.0, 0.0, -30.0]);
    }

    #[test]
    fn remainder_adds_a_pixel_and_moves_the_north_edge() {
        let bb = BoundingBox::new(0.0, 0.0, 95.0, 61.0);
        let g = TargetGrid::new(&bb, (30.0, -30.0), None).unwrap();
        assert_eq!((g.cols, g.rows), (4, 3));
        assert_eq!(g.bounding_box.to_array(), [0.0, 0.0, 120.0, 90.0]);
        assert_eq!(g.geotransform().0[3], 90.0);
    }

    #[test]
    fn tiny_box_clamps_to_one_pixel() {
        let bb = BoundingBox::new(5.0, 5.0, 5.0, 5.0);
        let g = TargetGrid::new(&bb, (1.0, 1.0), None).unwrap();
        assert_eq!((g.cols, g.rows), (1, 1));
    }

    #[test]
    fn snapping_truncates_toward_zero() {
        let anchor = GridAnchor {
            bounding_box: BoundingBox::new(0.0, 0.0, 300.0, 300.0),
            pixel_size: (30.0, -30.0),
        };
        // Inside the anchor raster: moves outward (west / south) to a grid line.
        let s = anchor.snap(&BoundingBox::new(45.0, 45.0, 200.0, 200.0));
        assert_eq!(s.to_array(), [30.0, 30.0, 200.0, 200.0]);
        // West of / below the anchor origin: truncation toward zero moves it east / north.
        let s = anchor.snap(&BoundingBox::new(-45.0, -45.0, 200.0, 200.0));
        assert_eq!(s.to_array(), [-30.0, -30.0, 200.0, 200.0]);
    }

    #[test]
    fn bad_arguments_are_named() {
        let bb = BoundingBox::new(0.0, 0.0, 1.0, 1.0);
        let e = TargetGrid::new(&bb, (0.0, 1.0), None).unwrap_err();
        assert!(e.to_string().contains("target_pixel_size"), "{e}");
        let inverted = BoundingBox::new(1.0, 0.0, 0.0, 1.0);
        let e = TargetGrid::new(&inverted, (1.0, 1.0), None).unwrap_err();
        assert!(e.to_string().contains("bounding_box"), "{e}");
    }

    #[test]
    fn align_bbox_pads_outward() {
        let gt = GeoTransform::north_up(0.0, 100.0, 10.0, -10.0);
        let out = align_bbox(&gt, &BoundingBox::new(12.0, 3.0, 27.0, 18.0)).unwrap();
        assert_eq!(out.to_array(), [10.0, 0.0, 30.0, 20.0]);
        assert!(align_bbox(&gt, &BoundingBox::new(-5.0, 3.0, 27.0, 18.0)).is_err());
    }
}
