//! Merging bounding boxes (union, intersection) and the bounding-box mode of align.

use std::fmt;
use std::str::FromStr;

use pgp_core::BoundingBox;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// How to combine several bounding boxes into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum MergeMode {
    /// The smallest box holding every input.
    Union,
    /// The area common to every input; an error when there is none.
    Intersection,
}

impl fmt::Display for MergeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MergeMode::Union => "union",
            MergeMode::Intersection => "intersection",
        })
    }
}

impl FromStr for MergeMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<MergeMode> {
        match s {
            "union" => Ok(MergeMode::Union),
            "intersection" => Ok(MergeMode::Intersection),
            other => Err(Error::invalid(
                "bounding_box_mode",
                format!("expected \"union\" or \"intersection\", got {other:?}"),
            )),
        }
    }
}

/// The target extent of [`align_and_resize_raster_stack`](crate::align_and_resize_raster_stack).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum BoundingBoxMode {
    /// Union of every input's box (in the target projection).
    Union,
    /// Intersection of every input's box (in the target projection).
    Intersection,
    /// This box, in the target projection.
    Explicit(BoundingBox),
}

impl fmt::Display for BoundingBoxMode {
    /// What [`FromStr`] reads back to the same mode: `union`, `intersection` or
    /// `xmin,ymin,xmax,ymax` (each number in the shortest form that parses to the same value).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundingBoxMode::Union => f.write_str("union"),
            BoundingBoxMode::Intersection => f.write_str("intersection"),
            BoundingBoxMode::Explicit(b) => {
                write!(f, "{},{},{},{}", b.xmin, b.ymin, b.xmax, b.ymax)
            }
        }
    }
}

impl FromStr for BoundingBoxMode {
    type Err = Error;
    /// `union`, `intersection`, or four comma-separated numbers `xmin,ymin,xmax,ymax`.
    fn from_str(s: &str) -> Result<BoundingBoxMode> {
        let s = s.trim();
        match s {
            "union" => return Ok(BoundingBoxMode::Union),
            "intersection" => return Ok(BoundingBoxMode::Intersection),
            _ => {}
        }
        let values: Vec<f64> = s
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|v| v.trim().parse::<f64>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad_mode(s))?;
        match values[..] {
            [xmin, ymin, xmax, ymax] => Ok(BoundingBoxMode::Explicit(BoundingBox::new(
                xmin, ymin, xmax, ymax,
            ))),
            _ => Err(bad_mode(s)),
        }
    }
}

fn bad_mode(s: &str) -> Error {
    Error::invalid(
        "bounding_box_mode",
        format!("expected \"union\", \"intersection\" or \"xmin,ymin,xmax,ymax\", got {s:?}"),
    )
}

/// pygeoprocessing's `merge_bounding_box_list`: the union or intersection of `boxes`.
///
/// Errors when the list is empty, and for an intersection without area (boxes that only touch
/// along an edge count as not intersecting, unlike pygeoprocessing, which would go on to make a
/// one-pixel sliver).
pub fn merge_bounding_boxes(boxes: &[BoundingBox], mode: MergeMode) -> Result<BoundingBox> {
    let labelled: Vec<(String, BoundingBox)> = boxes
        .iter()
        .enumerate()
        .map(|(i, b)| (format!("box {i}"), *b))
        .collect();
    merge_labelled(&labelled, mode)
}

/// [`merge_bounding_boxes`] with a label per box (a file path, an argument name) used in the
/// error message.
pub(crate) fn merge_labelled(
    boxes: &[(String, BoundingBox)],
    mode: MergeMode,
) -> Result<BoundingBox> {
    let Some((_, first)) = boxes.first() else {
        return Err(Error::invalid(
            "bounding_box_list",
            format!("cannot take the {mode} of no bounding boxes"),
        ));
    };
    let merged = boxes.iter().skip(1).fold(*first, |acc, (_, b)| match mode {
        MergeMode::Union => acc.union(b),
        MergeMode::Intersection => acc.intersection(b),
    });
    let empty = merged.xmin >= merged.xmax || merged.ymin >= merged.ymax;
    if mode == MergeMode::Intersection && empty {
        let listed: Vec<String> = boxes
            .iter()
            .map(|(label, b)| format!("{label}: {:?}", b.to_array()))
            .collect();
        return Err(Error::EmptyIntersection {
            boxes: format!(
                "{}; intersection {:?} has no area",
                listed.join(", "),
                merged.to_array()
            ),
        });
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn union_and_intersection_of_three() {
        let boxes = [
            BoundingBox::new(0.0, 0.0, 10.0, 10.0),
            BoundingBox::new(2.0, -5.0, 12.0, 8.0),
            BoundingBox::new(-1.0, 1.0, 9.0, 20.0),
        ];
        let u = merge_bounding_boxes(&boxes, MergeMode::Union).unwrap();
        assert_eq!(u.to_array(), [-1.0, -5.0, 12.0, 20.0]);
        let i = merge_bounding_boxes(&boxes, MergeMode::Intersection).unwrap();
        assert_eq!(i.to_array(), [2.0, 1.0, 9.0, 8.0]);
    }

    #[test]
    fn disjoint_intersection_names_the_boxes() {
        let boxes = [
            ("a.tif".to_string(), BoundingBox::new(0.0, 0.0, 1.0, 1.0)),
            ("b.tif".to_string(), BoundingBox::new(5.0, 5.0, 6.0, 6.0)),
        ];
        let e = merge_labelled(&boxes, MergeMode::Intersection).unwrap_err();
        assert!(matches!(e, Error::EmptyIntersection { .. }));
        let msg = e.to_string();
        assert!(msg.contains("a.tif") && msg.contains("b.tif"), "{msg}");
        // Touching boxes have no common area either.
        let touching = [
            BoundingBox::new(0.0, 0.0, 1.0, 1.0),
            BoundingBox::new(1.0, 0.0, 2.0, 1.0),
        ];
        assert!(merge_bounding_boxes(&touching, MergeMode::Intersection).is_err());
        assert!(merge_bounding_boxes(&[], MergeMode::Union).is_err());
    }

    #[test]
    fn modes_parse() {
        assert_eq!(
            "union".parse::<BoundingBoxMode>().unwrap(),
            BoundingBoxMode::Union
        );
        assert_eq!(
            "[1, 2, 3, 4]".parse::<BoundingBoxMode>().unwrap(),
            BoundingBoxMode::Explicit(BoundingBox::new(1.0, 2.0, 3.0, 4.0))
        );
        let e = "1,2,3".parse::<BoundingBoxMode>().unwrap_err();
        assert!(e.to_string().contains("bounding_box_mode"));
        assert!("onion".parse::<MergeMode>().is_err());
    }
}
