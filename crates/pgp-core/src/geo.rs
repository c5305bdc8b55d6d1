//! Geotransforms and bounding boxes.

use serde::{Deserialize, Serialize};

/// GDAL's affine geotransform: `[x0, pixel_width, row_rotation, y0, col_rotation, pixel_height]`.
///
/// The pixel at column `c`, row `r` has its top-left corner at
/// `(x0 + c*gt[1] + r*gt[2], y0 + c*gt[4] + r*gt[5])`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    /// A north-up transform with its top-left corner at `(x0, y0)`.
    pub fn north_up(x0: f64, y0: f64, pixel_width: f64, pixel_height: f64) -> GeoTransform {
        GeoTransform([x0, pixel_width, 0.0, y0, 0.0, pixel_height])
    }

    /// Map coordinates of a (fractional) pixel position.
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        let g = &self.0;
        (
            g[0] + col * g[1] + row * g[2],
            g[3] + col * g[4] + row * g[5],
        )
    }

    /// `(pixel_width, pixel_height)`; the height is negative for north-up rasters.
    pub fn pixel_size(&self) -> (f64, f64) {
        (self.0[1], self.0[5])
    }

    /// The bounding box of a `cols` x `rows` raster on this transform (all four corners, so rotated
    /// rasters are covered).
    pub fn bounding_box(&self, cols: usize, rows: usize) -> BoundingBox {
        let corners = [
            self.apply(0.0, 0.0),
            self.apply(cols as f64, 0.0),
            self.apply(0.0, rows as f64),
            self.apply(cols as f64, rows as f64),
        ];
        let mut bb = BoundingBox::new(corners[0].0, corners[0].1, corners[0].0, corners[0].1);
        for (x, y) in corners {
            bb.xmin = bb.xmin.min(x);
            bb.ymin = bb.ymin.min(y);
            bb.xmax = bb.xmax.max(x);
            bb.ymax = bb.ymax.max(y);
        }
        bb
    }
}

/// An axis-aligned box `[xmin, ymin, xmax, ymax]` (pygeoprocessing's order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoundingBox {
    /// West edge.
    pub xmin: f64,
    /// South edge.
    pub ymin: f64,
    /// East edge.
    pub xmax: f64,
    /// North edge.
    pub ymax: f64,
}

impl BoundingBox {
    /// A box from its edges.
    pub fn new(xmin: f64, ymin: f64, xmax: f64, ymax: f64) -> BoundingBox {
        BoundingBox {
            xmin,
            ymin,
            xmax,
            ymax,
        }
    }

    /// `[xmin, ymin, xmax, ymax]`.
    pub fn to_array(&self) -> [f64; 4] {
        [self.xmin, self.ymin, self.xmax, self.ymax]
    }

    /// From `[xmin, ymin, xmax, ymax]`.
    pub fn from_array(a: [f64; 4]) -> BoundingBox {
        BoundingBox::new(a[0], a[1], a[2], a[3])
    }

    /// Width (`xmax - xmin`).
    pub fn width(&self) -> f64 {
        self.xmax - self.xmin
    }

    /// Height (`ymax - ymin`).
    pub fn height(&self) -> f64 {
        self.ymax - self.ymin
    }

    /// True when the box has no area (or is inverted).
    pub fn is_empty(&self) -> bool {
        !(self.xmax > self.xmin && self.ymax > self.ymin)
    }

    /// The smallest box holding both.
    pub fn union(&self, other: &BoundingBox) -> BoundingBox {
        BoundingBox::new(
            self.xmin.min(other.xmin),
            self.ymin.min(other.ymin),
            self.xmax.max(other.xmax),
            self.ymax.max(other.ymax),
        )
    }

    /// The overlap of both; may be empty (see [`BoundingBox::is_empty`]).
    pub fn intersection(&self, other: &BoundingBox) -> BoundingBox {
        BoundingBox::new(
            self.xmin.max(other.xmin),
            self.ymin.max(other.ymin),
            self.xmax.min(other.xmax),
            self.ymax.min(other.ymax),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn north_up_bbox() {
        let gt = GeoTransform::north_up(100.0, 500.0, 30.0, -30.0);
        let bb = gt.bounding_box(10, 4);
        assert_eq!(bb.to_array(), [100.0, 380.0, 400.0, 500.0]);
    }

    #[test]
    fn rotated_bbox_covers_corners() {
        let gt = GeoTransform([0.0, 1.0, 0.5, 0.0, 0.5, -1.0]);
        let bb = gt.bounding_box(2, 2);
        assert_eq!(bb.to_array(), [0.0, -2.0, 3.0, 1.0]);
    }

    #[test]
    fn union_and_intersection() {
        let a = BoundingBox::new(0.0, 0.0, 10.0, 10.0);
        let b = BoundingBox::new(5.0, -5.0, 15.0, 5.0);
        assert_eq!(a.union(&b).to_array(), [0.0, -5.0, 15.0, 10.0]);
        assert_eq!(a.intersection(&b).to_array(), [5.0, 0.0, 10.0, 5.0]);
        let c = BoundingBox::new(20.0, 20.0, 30.0, 30.0);
        assert!(a.intersection(&c).is_empty());
    }
}
