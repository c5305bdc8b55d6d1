//! `calculate_disjoint_polygon_set`: the features of a layer grouped into sets whose members do
//! not overlap, greedily, as pygeoprocessing groups them.
//!
//! Which features meet which is decided by GEOS (through OGR) on candidate pairs whose envelopes
//! meet, in chunks of features on the executor; the grouping then follows pygeoprocessing's
//! rule exactly: repeatedly take the features in order of (number of features they meet, FID)
//! and keep each one that meets none kept so far in this round. A feature meets itself; a
//! feature outside the bounding box is never a candidate, but is grouped when it meets one (as
//! pygeoprocessing's R-tree of the bounding box's features gives).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use pgp_core::gdal::vector::{Geometry, LayerAccess};
use pgp_core::{BoundingBox, LayerRef};
use pgp_exec::{Executor, RemoteOp};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Features a task checks.
const CHUNK: usize = 256;

/// Sets of FIDs of `layer` of `vector` whose members do not intersect (with
/// `geometries_may_touch`: whose interiors do not intersect), considering the features that
/// intersect `bounding_box` (default: the layer's extent). Features without a geometry or with
/// an empty one are left out.
pub fn calculate_disjoint_polygon_set(
    vector: impl AsRef<Path>,
    layer: &LayerRef,
    bounding_box: Option<BoundingBox>,
    geometries_may_touch: bool,
    exec: &Executor,
) -> Result<Vec<BTreeSet<u64>>> {
    let path = vector.as_ref();
    let features = read_features(path, layer, bounding_box)?;
    let candidates: Vec<usize> = (0..features.len())
        .filter(|&i| features[i].in_box)
        .collect();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    // In-box features by west edge, so each feature's envelope candidates are a prefix.
    let mut by_west = candidates;
    by_west.sort_by(|&a, &b| features[a].env[0].total_cmp(&features[b].env[0]));
    let jobs = features.chunks(CHUNK).map(|chunk| {
        let mut cands: Vec<usize> = Vec::new();
        let mut index: BTreeMap<usize, usize> = BTreeMap::new();
        let checks = chunk
            .iter()
            .map(|f| {
                let east = f.env[2];
                let end = by_west.partition_point(|&c| features[c].env[0] <= east);
                let near = by_west[..end]
                    .iter()
                    .filter(|&&c| envelopes_meet(&features[c].env, &f.env))
                    .map(|&c| {
                        *index.entry(c).or_insert_with(|| {
                            cands.push(c);
                            cands.len() - 1
                        })
                    })
                    .collect();
                (f.fid, f.wkb.clone(), near)
            })
            .collect();
        MeetsJob {
            touch_allowed: geometries_may_touch,
            checks,
            candidates: cands
                .iter()
                .map(|&c| (features[c].fid, features[c].wkb.clone()))
                .collect(),
        }
    });
    let mut meets: Vec<(u64, BTreeSet<u64>)> = Vec::new();
    for result in exec.map_ordered_op::<MeetsOp>(jobs) {
        meets.extend(
            result?
                .into_iter()
                .filter(|(_, met)| !met.is_empty())
                .map(|(fid, met)| (fid, met.into_iter().collect())),
        );
    }
    Ok(greedy_sets(meets))
}

/// pygeoprocessing's maximal subsets: each round takes the features in order of (how many they
/// meet, FID), keeps those meeting none kept this round, and removes the kept from the rest.
fn greedy_sets(meets: Vec<(u64, BTreeSet<u64>)>) -> Vec<BTreeSet<u64>> {
    let mut left: BTreeMap<u64, BTreeSet<u64>> = meets.into_iter().collect();
    let mut sets = Vec::new();
    while !left.is_empty() {
        let mut order: Vec<(usize, u64)> = left.iter().map(|(f, m)| (m.len(), *f)).collect();
        order.sort_unstable();
        let mut kept = BTreeSet::new();
        for (_, fid) in order {
            if left[&fid].is_disjoint(&kept) {
                kept.insert(fid);
                left.remove(&fid);
            }
        }
        for met in left.values_mut() {
            met.retain(|f| !kept.contains(f));
        }
        sets.push(kept);
    }
    sets
}

fn envelopes_meet(a: &[f64; 4], b: &[f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

struct FeatureGeometry {
    fid: u64,
    wkb: Vec<u8>,
    /// `[xmin, ymin, xmax, ymax]`.
    env: [f64; 4],
    in_box: bool,
}

fn read_features(
    path: &Path,
    which: &LayerRef,
    bounding_box: Option<BoundingBox>,
) -> Result<Vec<FeatureGeometry>> {
    let ds = pgp_core::open_vector(path)?;
    let mut layer = pgp_core::layer(&ds, path, which)?;
    let gdal_err = |what: &str, e| Error::from(pgp_core::Error::gdal(path, what.to_string(), e));
    if layer.feature_count() == 0 {
        return Err(Error::invalid(
            "vector_path",
            format!("{} has no features: nothing to group", path.display()),
        ));
    }
    let bbox = match bounding_box {
        Some(b) => b,
        None => {
            let e = layer
                .get_extent()
                .map_err(|e| gdal_err("computing the layer extent", e))?;
            BoundingBox::new(e.MinX, e.MinY, e.MaxX, e.MaxY)
        }
    };
    let bbox_geometry = Geometry::bbox(bbox.xmin, bbox.ymin, bbox.xmax, bbox.ymax)
        .map_err(|e| gdal_err("making the bounding box polygon", e))?;
    let mut out = Vec::new();
    for feature in layer.features() {
        let Some(fid) = feature.fid() else { continue };
        let Some(geometry) = feature.geometry() else {
            crate::progress::warn(
                "calculate_disjoint_polygon_set",
                &format!("no geometry in {} FID: {fid}, skipping", path.display()),
            );
            continue;
        };
        if geometry.is_empty() {
            crate::progress::warn(
                "calculate_disjoint_polygon_set",
                &format!("empty geometry in {} FID: {fid}, skipping", path.display()),
            );
            continue;
        }
        let e = geometry.envelope();
        out.push(FeatureGeometry {
            fid,
            wkb: geometry
                .wkb()
                .map_err(|e| gdal_err("encoding a geometry", e))?,
            env: [e.MinX, e.MinY, e.MaxX, e.MaxY],
            in_box: bbox_geometry.intersects(geometry),
        });
    }
    Ok(out)
}

/// Which candidates each of some features meets.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct MeetsJob {
    touch_allowed: bool,
    /// `(fid, wkb, indexes into candidates)`.
    checks: Vec<(u64, Vec<u8>, Vec<usize>)>,
    candidates: Vec<(u64, Vec<u8>)>,
}

pub(crate) struct MeetsOp;

impl RemoteOp for MeetsOp {
    const NAME: &'static str = "pgp_ops::vector_ops::disjoint_meets";
    type Args = MeetsJob;
    type Output = Vec<(u64, Vec<u64>)>;

    fn run(job: MeetsJob) -> std::result::Result<Self::Output, String> {
        let parse = |wkb: &[u8]| Geometry::from_wkb(wkb).map_err(|e| e.to_string());
        let candidates = job
            .candidates
            .iter()
            .map(|(fid, wkb)| Ok((*fid, parse(wkb)?)))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        job.checks
            .iter()
            .map(|(fid, wkb, near)| {
                let geometry = parse(wkb)?;
                let met = near
                    .iter()
                    .map(|&c| &candidates[c])
                    .filter(|(other_fid, other)| {
                        if job.touch_allowed && geometry.touches(other) {
                            return false;
                        }
                        other_fid == fid || geometry.intersects(other)
                    })
                    .map(|(other_fid, _)| *other_fid)
                    .collect();
                Ok((*fid, met))
            })
            .collect()
    }
}

pgp_exec::register_op!(MeetsOp);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_sets_follow_pygeoprocessings_rounds() {
        let set = |v: &[u64]| v.iter().copied().collect::<BTreeSet<u64>>();
        // A chain 1-2-3 and a lone 4: 4 and 1 (fewest meets) first, then 3 (2 meets 1), then 2.
        let meets = vec![
            (1, set(&[1, 2])),
            (2, set(&[1, 2, 3])),
            (3, set(&[2, 3])),
            (4, set(&[4])),
        ];
        assert_eq!(greedy_sets(meets), vec![set(&[1, 3, 4]), set(&[2])]);
    }
}
