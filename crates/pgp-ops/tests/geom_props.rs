//! Property tests of the grid and bounding-box math.

use pgp_core::{BoundingBox, GeoTransform};
use pgp_ops::{
    align_bbox, merge_bounding_boxes, BoundingBoxMode, GridAnchor, MergeMode, TargetGrid,
};
use proptest::prelude::*;

fn bbox() -> impl Strategy<Value = BoundingBox> {
    (
        -1.0e6..1.0e6f64,
        -1.0e6..1.0e6f64,
        0.0..5.0e4f64,
        0.0..5.0e4f64,
    )
        .prop_map(|(x, y, w, h)| BoundingBox::new(x, y, x + w, y + h))
}

fn pixel() -> impl Strategy<Value = f64> {
    prop_oneof![0.5..500.0f64, Just(30.0), Just(90.0), 1e-4..1e-2f64]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// A bounding-box mode printed reads back as the same mode (the CLI hands the parsed
    /// `--bbox` to an `AlignRequest` as text), whatever the box's numbers.
    #[test]
    fn bbox_mode_text_reads_back(bb in bbox(), any_bits in any::<[u64; 4]>(), which in 0..4u8) {
        let odd = any_bits.map(f64::from_bits);
        let mode = match which {
            0 => BoundingBoxMode::Union,
            1 => BoundingBoxMode::Intersection,
            2 => BoundingBoxMode::Explicit(bb),
            _ => BoundingBoxMode::Explicit(BoundingBox::new(odd[0], odd[1], odd[2], odd[3])),
        };
        let back: BoundingBoxMode = mode.to_string().parse().unwrap();
        // Compared by bits: NaN edges read back as the same NaN only by value class.
        match (mode, back) {
            (BoundingBoxMode::Explicit(a), BoundingBoxMode::Explicit(b)) => {
                for (x, y) in a.to_array().iter().zip(b.to_array()) {
                    prop_assert!(x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()));
                }
            }
            (a, b) => prop_assert_eq!(a, b),
        }
    }

    /// The grid starts at the box's south-west corner and covers it, overshooting by less than one
    /// pixel; its geotransform describes the same rectangle.
    #[test]
    fn grid_covers_the_box(bb in bbox(), px in pixel(), py in pixel(), flip in any::<bool>()) {
        let size = if flip { (px, -py) } else { (-px, py) };
        let g = TargetGrid::new(&bb, size, None).unwrap();
        prop_assert!(g.cols >= 1 && g.rows >= 1);
        prop_assert_eq!(g.bounding_box.xmin, bb.xmin);
        prop_assert_eq!(g.bounding_box.ymin, bb.ymin);
        let tol = 1e-8 + 1e-9 * bb.xmax.abs().max(bb.ymax.abs());
        prop_assert!(g.bounding_box.xmax >= bb.xmax - tol);
        prop_assert!(g.bounding_box.ymax >= bb.ymax - tol);
        prop_assert!(g.bounding_box.xmax - bb.xmax < px + tol || g.cols == 1);
        prop_assert!(g.bounding_box.ymax - bb.ymax < py + tol || g.rows == 1);
        prop_assert_eq!(g.pixel_size, (px, py));
        let gt = g.geotransform();
        prop_assert_eq!(gt.0, [bb.xmin, px, 0.0, g.bounding_box.ymax, 0.0, -py]);
        let (x_end, y_end) = gt.apply(g.cols as f64, g.rows as f64);
        prop_assert!((x_end - g.bounding_box.xmax).abs() <= tol.max(1e-6 * px));
        prop_assert!((y_end - g.bounding_box.ymin).abs() <= tol.max(1e-6 * py));
    }

    /// Making a grid from a grid's own box gives the same grid.
    #[test]
    fn grid_is_idempotent(bb in bbox(), px in pixel()) {
        let g = TargetGrid::new(&bb, (px, -px), None).unwrap();
        let again = TargetGrid::new(&g.bounding_box, (px, -px), None).unwrap();
        prop_assert_eq!(g, again);
    }

    /// Snapping moves the west and south edges by less than one anchor pixel, onto the anchor's
    /// grid lines, and keeps the east and north edges.
    #[test]
    fn snapping_lands_on_the_anchor_grid(bb in bbox(), anchor_bb in bbox(), apx in pixel(), apy in pixel()) {
        let anchor = GridAnchor { bounding_box: anchor_bb, pixel_size: (apx, -apy) };
        let s = anchor.snap(&bb);
        prop_assert_eq!((s.xmax, s.ymax), (bb.xmax, bb.ymax));
        prop_assert!((s.xmin - bb.xmin).abs() < apx * (1.0 + 1e-9));
        prop_assert!((s.ymin - bb.ymin).abs() < apy * (1.0 + 1e-9));
        let steps = (s.xmin - anchor_bb.xmin) / apx;
        prop_assert!((steps - steps.round()).abs() < 1e-6 * steps.abs().max(1.0));
        let steps = (s.ymin - anchor_bb.ymin) / apy;
        prop_assert!((steps - steps.round()).abs() < 1e-6 * steps.abs().max(1.0));
        // Snapping first and then gridding is what `TargetGrid::new` does with an anchor.
        let g = TargetGrid::new(&bb, (30.0, -30.0), Some(&anchor));
        if s.xmin <= s.xmax && s.ymin <= s.ymax {
            prop_assert_eq!(g.unwrap(), TargetGrid::new(&s, (30.0, -30.0), None).unwrap());
        }
    }

    /// A union holds every box; an intersection (when it exists) is inside every box.
    #[test]
    fn merge_bounds(boxes in proptest::collection::vec(bbox(), 1..6)) {
        let u = merge_bounding_boxes(&boxes, MergeMode::Union).unwrap();
        for b in &boxes {
            prop_assert!(u.xmin <= b.xmin && u.ymin <= b.ymin && u.xmax >= b.xmax && u.ymax >= b.ymax);
        }
        if let Ok(i) = merge_bounding_boxes(&boxes, MergeMode::Intersection) {
            for b in &boxes {
                prop_assert!(i.xmin >= b.xmin && i.ymin >= b.ymin && i.xmax <= b.xmax && i.ymax <= b.ymax);
            }
            prop_assert!(i.xmin < i.xmax && i.ymin < i.ymax);
        }
    }

    /// align_bbox grows the box to grid lines by less than a pixel on each side.
    #[test]
    fn align_bbox_grows_onto_grid_lines(
        x0 in -1.0e5..1.0e5f64, y0 in -1.0e5..1.0e5f64, px in pixel(),
        dx in 0.0..1.0e4f64, dy in 0.0..1.0e4f64, w in 0.0..1.0e4f64, h in 0.0..1.0e4f64,
    ) {
        // North-up grid with origin (x0, y0 + 2e4): boxes east of and below the origin.
        let top = y0 + 2.0e4;
        let gt = GeoTransform::north_up(x0, top, px, -px);
        let bb = BoundingBox::new(x0 + dx, top - dy - h, x0 + dx + w, top - dy);
        let a = align_bbox(&gt, &bb).unwrap();
        let tol = 1e-6 * px.max(1.0);
        prop_assert!(a.xmin <= bb.xmin + tol && a.xmax >= bb.xmax - tol);
        prop_assert!(a.ymin <= bb.ymin + tol && a.ymax >= bb.ymax - tol);
        prop_assert!(bb.xmin - a.xmin < px + tol && a.xmax - bb.xmax < px + tol);
        for (v, origin) in [(a.xmin, x0), (a.xmax, x0), (a.ymin, top), (a.ymax, top)] {
            let steps = (v - origin) / px;
            prop_assert!((steps - steps.round()).abs() < 1e-6 * steps.abs().max(1.0));
        }
    }
}
