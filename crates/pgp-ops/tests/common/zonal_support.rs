//! Helpers for the zonal / convolution / distance / slope integration tests.

#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ndarray::Array2;
use pgp_core::{Raster, Window};
use serde_json::Value;

use super::zonal_inputs::{self, Inputs};

/// The seeded inputs of `size`, generated once per test binary under cargo's test scratch
/// directory (`tag` keeps test binaries apart).
pub fn inputs(tag: &str, size: usize) -> Inputs {
    static CACHE: OnceLock<Mutex<HashMap<(String, usize), Inputs>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    let mut map = cache.lock().unwrap_or_else(|p| p.into_inner());
    map.entry((tag.to_string(), size))
        .or_insert_with(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("pgp-ops-{tag}-inputs-v1"))
                .join(size.to_string());
            zonal_inputs::make(&dir, size)
        })
        .clone()
}

/// A fresh scratch directory for outputs.
pub fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("pgp-ops-test-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// A committed pygeoprocessing reference (tests/peer/zonal/<name>).
pub fn reference(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/peer/zonal")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// Band 1 of `path` as f64, whatever its type.
pub fn read_f64(path: &Path) -> Array2<f64> {
    let r = Raster::open(path).unwrap();
    let (c, rows) = r.size();
    r.read_as::<f64>(1, Window::full(c, rows)).unwrap()
}

/// Relative-or-absolute closeness.
pub fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a.is_nan() && b.is_nan()) || (a - b).abs() <= abs + rel * a.abs().max(b.abs())
}

/// Compares an output raster with a `raster_summary` reference of zonal_refs.py: nodata
/// count, min, max, sum, and the sampled pixels.
pub fn check_summary(path: &Path, reference: &Value, rel: f64, abs: f64) {
    let r = Raster::open(path).unwrap();
    let info = r.info().unwrap();
    let size = reference["size"].as_array().unwrap();
    assert_eq!(
        info.raster_size,
        (
            size[0].as_u64().unwrap() as usize,
            size[1].as_u64().unwrap() as usize
        )
    );
    let nodata = info.nodata[0];
    let expected_nodata = reference["nodata"].as_f64();
    match (nodata, expected_nodata) {
        (Some(a), Some(b)) => assert!(close(a, b, 1e-7, 0.0), "nodata {a} vs {b}"),
        (None, None) => {}
        (a, b) => panic!("nodata {a:?} vs {b:?}"),
    }
    let a = read_f64(path);
    let is_nd = |v: f64| match nodata {
        Some(n) if n.is_nan() => v.is_nan(),
        Some(n) => v == n,
        None => false,
    };
    let n_nodata = a.iter().filter(|&&v| is_nd(v)).count() as u64;
    assert_eq!(
        n_nodata,
        reference["nodata_count"].as_u64().unwrap(),
        "{}: nodata count",
        path.display()
    );
    let valid: Vec<f64> = a
        .iter()
        .copied()
        .filter(|&v| !is_nd(v) && v.is_finite())
        .collect();
    if let (Some(mn), Some(mx)) = (reference["min"].as_f64(), reference["max"].as_f64()) {
        let our_min = valid.iter().copied().fold(f64::INFINITY, f64::min);
        let our_max = valid.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        assert!(
            close(our_min, mn, rel, abs),
            "{}: min {our_min} vs {mn}",
            path.display()
        );
        assert!(
            close(our_max, mx, rel, abs),
            "{}: max {our_max} vs {mx}",
            path.display()
        );
    }
    let sum: f64 = valid.iter().sum();
    let ref_sum = reference["sum"].as_f64().unwrap();
    assert!(
        close(sum, ref_sum, rel * 10.0, abs * valid.len() as f64),
        "{}: sum {sum} vs {ref_sum}",
        path.display()
    );
    for s in reference["samples"].as_array().unwrap() {
        let s = s.as_array().unwrap();
        let (row, col) = (
            s[0].as_u64().unwrap() as usize,
            s[1].as_u64().unwrap() as usize,
        );
        let ours = a[[row, col]];
        match &s[2] {
            Value::String(t) if t == "nodata" => assert!(
                is_nd(ours),
                "{}: ({row}, {col}) is {ours}, expected nodata",
                path.display()
            ),
            Value::Null => assert!(
                ours.is_nan(),
                "{}: ({row}, {col}) is {ours}, expected NaN",
                path.display()
            ),
            v => {
                let v = v.as_f64().unwrap();
                assert!(
                    close(ours, v, rel, abs),
                    "{}: ({row}, {col}) is {ours}, pygeoprocessing has {v}",
                    path.display()
                );
            }
        }
    }
}

/// True when two rasters hold the same pixels (band 1), bit for bit.
pub fn same_pixels(a: &Path, b: &Path) -> bool {
    let (x, y) = (read_f64(a), read_f64(b));
    x.dim() == y.dim()
        && x.iter()
            .zip(y.iter())
            .all(|(p, q)| p.to_bits() == q.to_bits())
}
