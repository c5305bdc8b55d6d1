//! Projections: parsing definitions and transforming bounding boxes between them.
//!
//! Coordinates are always in the traditional GIS order (x = easting / longitude, y = northing /
//! latitude), like pygeoprocessing's `OAMS_TRADITIONAL_GIS_ORDER`, whatever axis order the
//! projection's authority declares.

use pgp_core::gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use pgp_core::BoundingBox;

use crate::{Error, Result};

/// pygeoprocessing's default number of points sampled along each edge of a box.
pub const DEFAULT_EDGE_SAMPLES: usize = 11;

/// Parse a projection definition (WKT, `EPSG:n`, a PROJ string: anything GDAL's
/// `SetFromUserInput` takes) into a spatial reference in traditional GIS axis order.
/// `argument` names where the definition came from, for the error.
pub fn spatial_ref(definition: &str, argument: &str) -> Result<SpatialRef> {
    pgp_core::init();
    let mut srs =
        SpatialRef::from_definition(definition).map_err(|e| Error::UnknownProjection {
            argument: argument.to_string(),
            definition: shorten(definition),
            message: e.to_string(),
        })?;
    srs.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    Ok(srs)
}

/// The WKT of a projection definition (normalises `EPSG:n` and PROJ strings to WKT).
pub fn projection_wkt(definition: &str, argument: &str) -> Result<String> {
    spatial_ref(definition, argument)?
        .to_wkt()
        .map_err(|e| Error::UnknownProjection {
            argument: argument.to_string(),
            definition: shorten(definition),
            message: e.to_string(),
        })
}

/// True when both definitions describe the same projection (GDAL's `IsSame`).
pub fn same_projection(a: &str, b: &str) -> Result<bool> {
    if a == b {
        return Ok(true);
    }
    Ok(spatial_ref(a, "a")? == spatial_ref(b, "b")?)
}

/// A projection as people name it, for messages: `EPSG:32631 (WGS 84 / UTM zone 31N)`, the
/// CRS's name when it has no authority code, or the shortened definition when GDAL cannot read it.
pub(crate) fn crs_label(definition: &str) -> String {
    let Ok(srs) = spatial_ref(definition, "projection") else {
        return shorten(definition);
    };
    let name = srs.name();
    let code = match (srs.auth_name(), srs.auth_code()) {
        (Some(auth), Ok(code)) => Some(format!("{auth}:{code}")),
        _ => None,
    };
    match (code, name) {
        (Some(code), Some(name)) => format!("{code} ({name})"),
        (Some(code), None) => code,
        (None, Some(name)) => name,
        (None, None) => shorten(definition),
    }
}

/// A definition cut to a readable length for messages.
pub(crate) fn shorten(definition: &str) -> String {
    const MAX: usize = 96;
    if definition.chars().count() <= MAX {
        definition.to_string()
    } else {
        let head: String = definition.chars().take(MAX).collect();
        format!("{head}...")
    }
}

/// pygeoprocessing's `transform_bounding_box`: the box, in the target projection, around
/// `edge_samples` points sampled along each edge of `bbox` (so curved edges are covered, not just
/// the corners).
///
/// Errors when a projection is unknown, `edge_samples < 2`, or a point cannot be transformed or
/// lands on a non-finite coordinate (the box does not fit the target projection).
pub fn transform_bounding_box(
    bbox: &BoundingBox,
    base_projection: &str,
    target_projection: &str,
    edge_samples: usize,
) -> Result<BoundingBox> {
    if edge_samples < 2 {
        return Err(Error::invalid(
            "edge_samples",
            format!("need at least 2 points per edge (the corners), got {edge_samples}"),
        ));
    }
    let base = spatial_ref(base_projection, "base_projection")?;
    let target = spatial_ref(target_projection, "target_projection")?;
    let transform_error = |message: String| Error::Transform {
        what: format!("bounding box {:?}", bbox.to_array()),
        from: shorten(base_projection),
        to: shorten(target_projection),
        message,
    };
    let ct = CoordTransform::new(&base, &target).map_err(|e| transform_error(e.to_string()))?;

    // Corners numbered as pygeoprocessing does: 0 top-left, 1 bottom-left, 2 bottom-right,
    // 3 top-right; each edge runs from its first corner to its second.
    let corners = [
        (bbox.xmin, bbox.ymax),
        (bbox.xmin, bbox.ymin),
        (bbox.xmax, bbox.ymin),
        (bbox.xmax, bbox.ymax),
    ];
    let weights = linspace01(edge_samples);
    let mut edge_extremes = [0.0f64; 4];
    for (edge, extreme) in edge_extremes.iter_mut().enumerate() {
        let (ax, ay) = corners[edge];
        let (bx, by) = corners[(edge + 1) % 4];
        let mut xs: Vec<f64> = weights.iter().map(|&v| ax * v + bx * (1.0 - v)).collect();
        let mut ys: Vec<f64> = weights.iter().map(|&v| ay * v + by * (1.0 - v)).collect();
        ct.transform_coords(&mut xs, &mut ys, &mut [])
            .map_err(|e| transform_error(e.to_string()))?;
        // Left edge: smallest x; bottom: smallest y; right: largest x; top: largest y.
        let values = if edge % 2 == 0 { &xs } else { &ys };
        *extreme = if edge < 2 {
            values.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        };
        if values.iter().any(|v| !v.is_finite()) {
            *extreme = f64::NAN;
        }
    }
    // A very tight transform can flip an axis; sort each pair back (as pygeoprocessing).
    let (xmin, xmax) = ordered(edge_extremes[0], edge_extremes[2]);
    let (ymin, ymax) = ordered(edge_extremes[1], edge_extremes[3]);
    let out = BoundingBox::new(xmin, ymin, xmax, ymax);
    if !out.to_array().iter().all(|v| v.is_finite()) {
        return Err(transform_error(format!(
            "some transformed coordinates are not finite ({:?}); the box may not fit the target \
             projection",
            out.to_array()
        )));
    }
    Ok(out)
}

fn ordered(a: f64, b: f64) -> (f64, f64) {
    if b < a {
        (b, a)
    } else {
        (a, b)
    }
}

/// `numpy.linspace(0, 1, n)` bit for bit: `i * (1 / (n - 1))`, last value exactly 1.
fn linspace01(n: usize) -> Vec<f64> {
    let step = 1.0 / (n - 1) as f64;
    let mut v: Vec<f64> = (0..n).map(|i| i as f64 * step).collect();
    if let Some(last) = v.last_mut() {
        *last = 1.0;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linspace_matches_numpy_values() {
        let v = linspace01(11);
        assert_eq!(v.len(), 11);
        assert_eq!(v[0], 0.0);
        assert_eq!(v[3], 3.0 * 0.1);
        assert_eq!(v[10], 1.0);
    }

    #[test]
    fn identity_transform_keeps_the_box() {
        let bb = BoundingBox::new(400000.0, 4990000.0, 410000.0, 5000000.0);
        let out = transform_bounding_box(&bb, "EPSG:32631", "EPSG:32631", 11).unwrap();
        for (a, b) in out.to_array().iter().zip(bb.to_array()) {
            assert!((a - b).abs() < 1e-6, "{out:?}");
        }
    }

    #[test]
    fn utm_to_lonlat_is_in_traditional_order() {
        // UTM 31N is centred on 3 degrees east; 500 km easting is the central meridian.
        let bb = BoundingBox::new(499000.0, 5000000.0, 501000.0, 5002000.0);
        let out = transform_bounding_box(&bb, "EPSG:32631", "EPSG:4326", 11).unwrap();
        assert!(out.xmin < 3.0 && out.xmax > 3.0, "x is longitude: {out:?}");
        assert!(out.ymin > 45.0 && out.ymax < 45.3, "y is latitude: {out:?}");
    }

    #[test]
    fn bad_projection_is_named() {
        let bb = BoundingBox::new(0.0, 0.0, 1.0, 1.0);
        let e = transform_bounding_box(&bb, "EPSG:32631", "not a projection", 11).unwrap_err();
        match e {
            Error::UnknownProjection {
                argument,
                definition,
                ..
            } => {
                assert_eq!(argument, "target_projection");
                assert_eq!(definition, "not a projection");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(transform_bounding_box(&bb, "EPSG:4326", "EPSG:4326", 1).is_err());
    }
}
