//! Does pgp's output match the peer's? Checked before any time is reported.

use std::path::Path;

use pgp::core::{block_windows, Nodata, Raster, LARGEST_BLOCK};

use crate::cases::Case;
use crate::Measurement;

/// A short verdict: `ok (...)` or `MISMATCH ...`.
pub fn check(case: &Case, ours: &Measurement, peer: &Measurement) -> String {
    let Some(c) = &case.check else {
        return "not compared".into();
    };
    let mut notes = Vec::new();
    for (name, path) in &ours.outputs {
        let Some(peer_path) = peer.outputs.get(name) else {
            continue;
        };
        let verdict = if path.extension().is_some_and(|e| e == "json") {
            compare_json(path, peer_path, c.json_tolerance)
        } else {
            compare_rasters(path, peer_path, c.raster_tolerance, c.max_mismatch_fraction)
        };
        match verdict {
            Ok(s) => notes.push(format!("{name}: {s}")),
            Err(e) => return format!("MISMATCH {name}: {e}"),
        }
    }
    if notes.is_empty() {
        "not compared".into()
    } else {
        format!("ok ({})", notes.join("; "))
    }
}

/// Pixel by pixel: both nodata, or both valid and within `tolerance` (absolute, or relative to
/// the magnitude above 1). Grids must be identical.
pub fn compare_rasters(
    a: &Path,
    b: &Path,
    tolerance: f64,
    max_mismatch_fraction: f64,
) -> Result<String, String> {
    let ra = Raster::open(a).map_err(|e| e.to_string())?;
    let rb = Raster::open(b).map_err(|e| e.to_string())?;
    let ia = ra.info().map_err(|e| e.to_string())?;
    let ib = rb.info().map_err(|e| e.to_string())?;
    if ia.raster_size != ib.raster_size {
        return Err(format!("size {:?} vs {:?}", ia.raster_size, ib.raster_size));
    }
    let gt_close = ia
        .geotransform
        .0
        .iter()
        .zip(ib.geotransform.0.iter())
        .all(|(x, y)| (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0));
    if !gt_close {
        return Err(format!(
            "geotransform {:?} vs {:?}",
            ia.geotransform.0, ib.geotransform.0
        ));
    }
    let nda = Nodata::<f64>::new(ia.nodata[0]);
    let ndb = Nodata::<f64>::new(ib.nodata[0]);
    let (mut n, mut bad, mut max_diff) = (0usize, 0usize, 0f64);
    for w in block_windows(ia.raster_size, ia.block_size, LARGEST_BLOCK.max(1 << 20)) {
        let xa = ra.read_as::<f64>(1, w).map_err(|e| e.to_string())?;
        let xb = rb.read_as::<f64>(1, w).map_err(|e| e.to_string())?;
        for (&va, &vb) in xa.iter().zip(xb.iter()) {
            n += 1;
            let (na, nb) = (
                nda.is_nodata(va) || va.is_nan(),
                ndb.is_nodata(vb) || vb.is_nan(),
            );
            if na || nb {
                bad += usize::from(na != nb);
                continue;
            }
            let d = (va - vb).abs();
            max_diff = max_diff.max(d);
            if d > tolerance * va.abs().max(1.0) {
                bad += 1;
            }
        }
    }
    let frac = bad as f64 / n.max(1) as f64;
    if frac > max_mismatch_fraction {
        return Err(format!(
            "{bad} of {n} pixels differ (max |diff| {max_diff:.3e}, tolerance {tolerance:e})"
        ));
    }
    Ok(if bad == 0 {
        format!("max |diff| {max_diff:.1e}")
    } else {
        format!("{bad} px differ, max |diff| {max_diff:.1e}")
    })
}

/// Per-feature zonal statistics: same feature ids, equal counts, min/max/sum within `tolerance`
/// (relative; a sum's relative to count x the largest |min|, |max|).
pub fn compare_json(a: &Path, b: &Path, tolerance: f64) -> Result<String, String> {
    let read = |p: &Path| -> Result<serde_json::Value, String> {
        let s = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        serde_json::from_str(&s).map_err(|e| format!("{}: {e}", p.display()))
    };
    let (ja, jb) = (read(a)?, read(b)?);
    let (oa, ob) = (
        ja.as_object().ok_or("not an object")?,
        jb.as_object().ok_or("not an object")?,
    );
    if oa.len() != ob.len() {
        return Err(format!("{} features vs {}", oa.len(), ob.len()));
    }
    let mut worst = 0f64;
    for (fid, sa) in oa {
        let sb = ob
            .get(fid)
            .ok_or_else(|| format!("feature {fid} missing from the peer's"))?;
        for key in ["count", "nodata_count"] {
            if sa[key].as_f64() != sb[key].as_f64() {
                return Err(format!("feature {fid} {key}: {} vs {}", sa[key], sb[key]));
            }
        }
        // A sum's round-off scales with the magnitudes summed, not with the (possibly
        // cancelling) result: count x the largest magnitude bounds them.
        let magnitude = ["min", "max"]
            .iter()
            .filter_map(|k| sa[*k].as_f64())
            .fold(0f64, |m, v| m.max(v.abs()));
        let summed = sa["count"].as_f64().unwrap_or(0.0) * magnitude;
        for key in ["min", "max", "sum"] {
            match (sa[key].as_f64(), sb[key].as_f64()) {
                (Some(x), Some(y)) => {
                    let scale = if key == "sum" { summed } else { 0.0 };
                    let rel = (x - y).abs() / x.abs().max(y.abs()).max(scale).max(1.0);
                    worst = worst.max(rel);
                    if rel > tolerance {
                        return Err(format!("feature {fid} {key}: {x} vs {y}"));
                    }
                }
                (None, None) => {}
                (x, y) => return Err(format!("feature {fid} {key}: {x:?} vs {y:?}")),
            }
        }
    }
    Ok(format!("{} features, max rel diff {worst:.1e}", oa.len()))
}
