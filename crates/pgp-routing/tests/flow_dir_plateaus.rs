//! Plateau resolution of `flow_dir_d8` and `flow_dir_mfd`, bit for bit against
//! pygeoprocessing.routing 2.4.11, on DEMs made of plateaus: plateaus crossing tile edges and
//! the corner where four tiles meet, many small ones inside one tile, plateaus touching the
//! raster's edge that drain only through it, plateaus around a nodata lake, plateaus without
//! any drain (in the unfilled DEM), a plateau spanning two tiles inside one job's window whose
//! root in the DEM's block order is not its first pixel row by row, and a striped file (the
//! scan runs in rows, not tiles). On sync, on threads and with a cache that spills.
//!
//! `tests/data/plateau_reference.json` holds the sha256 of pygeoprocessing's directions for
//! these DEMs (of the DEM itself and of its pit-filled copy). To regenerate it: write the DEMs
//! with `PGP_ROUTING_WRITE_CASES=DIR cargo test -p pgp-routing --test flow_dir_plateaus --
//! --ignored`, then run `tests/data/make_plateau_reference.py DIR` with pygeoprocessing 2.4.11.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::Array2;
use pgp_core::RasterDriver;
use pgp_exec::Executor;
use pgp_routing::*;
use rand::{Rng, SeedableRng};

const NODATA: f32 = -9999.0;

/// Terraced terrain: a wavy tilted surface rounded to `step` metres, so flats are wide and
/// many cross tile edges, with scattered single-pixel pits.
fn terraces(cols: usize, rows: usize, seed: u64, step: f64) -> Array2<f32> {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    Array2::from_shape_fn((rows, cols), |(y, x)| {
        let (xf, yf) = (x as f64, y as f64);
        let z = 100.0 + 0.02 * xf + 0.015 * yf + 12.0 * (xf / 47.0).sin() * (yf / 61.0).cos();
        let mut z = (z / step).round() * step;
        if rng.gen_bool(0.002) {
            z -= 3.0 * step;
        }
        z as f32
    })
}

/// Sets the rectangle `rows` x `cols` (clipped to the raster) to `value`.
fn flat(z: &mut Array2<f32>, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>, v: f32) {
    let (h, w) = z.dim();
    for y in rows.start..rows.end.min(h) {
        for x in cols.start..cols.end.min(w) {
            z[[y, x]] = v;
        }
    }
}

/// The lowest value around the rectangle (its one-pixel ring inside the raster).
fn ring_min(z: &Array2<f32>, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) -> f32 {
    let (h, w) = z.dim();
    let mut low = f32::INFINITY;
    for y in rows.start.saturating_sub(1)..(rows.end + 1).min(h) {
        for x in cols.start.saturating_sub(1)..(cols.end + 1).min(w) {
            if !rows.contains(&y) || !cols.contains(&x) {
                low = low.min(z[[y, x]]);
            }
        }
    }
    low
}

/// 530x520 (3x3 tiles): terraces plus plateaus on the tile edges, a pit plateau on the east
/// edge (draining only through it), a plateau round a nodata lake, a drainless pit plateau
/// across a tile edge, and a tile full of small plateaus.
fn tiles_dem() -> Array2<f32> {
    let mut z = terraces(530, 520, 17, 2.0);
    let v = z[[100, 236]];
    flat(&mut z, 100..140, 236..276, v);
    let v = z[[240, 240]];
    flat(&mut z, 240..272, 240..272, v);
    let low = ring_min(&z, 300..340, 500..530) - 5.0;
    flat(&mut z, 300..340, 500..530, low);
    let low = ring_min(&z, 395..435, 95..145) - 5.0;
    flat(&mut z, 395..435, 95..145, low);
    flat(&mut z, 405..425, 105..135, NODATA);
    let low = ring_min(&z, 246..266, 400..420) - 4.0;
    flat(&mut z, 246..266, 400..420, low);
    // Small plateaus of seeded heights, two pixels apart, in tile (1, 1).
    let mut rng = rand_pcg::Pcg64::seed_from_u64(5);
    for y in (300..500).step_by(5) {
        for x in (280..500).step_by(5) {
            let v = z[[y, x]] + rng.gen_range(-2i32..=2) as f32;
            flat(&mut z, y..y + 3, x..x + 3, v);
        }
    }
    flat(&mut z, 0..520, 0..2, NODATA);
    z
}

/// 1100x300 (jobs of 2x2 tiles): an L-shaped plateau spanning tiles 0 and 1 inside the first
/// job's window, lower ground only at three notches, so its drains' order (and so its ties)
/// depends on its root; the right arm starts higher up, so the root in tile order is not the
/// plateau's first pixel row by row.
fn wide_dem() -> Array2<f32> {
    let mut z = terraces(1100, 300, 23, 0.5);
    let top = 400.0;
    flat(&mut z, 90..160, 190..310, top + 10.0);
    flat(&mut z, 120..150, 200..256, top);
    flat(&mut z, 100..150, 256..300, top);
    for (y, x) in [(150, 210), (99, 280), (135, 300)] {
        z[[y, x]] = top - 1.0;
    }
    z
}

/// The cases: name, DEM, whether the file is striped (rows as blocks).
fn cases() -> Vec<(&'static str, Array2<f32>, bool)> {
    let striped = {
        let mut z = terraces(512, 300, 31, 2.0);
        let v = z[[40, 250]];
        flat(&mut z, 40..90, 250..270, v);
        z
    };
    vec![
        ("tiles", tiles_dem(), false),
        ("wide", wide_dem(), false),
        ("striped", striped, true),
    ]
}

fn write_dem(dir: &Path, dem: &Array2<f32>, striped: bool) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("dem.tif");
    let driver = striped.then(|| RasterDriver::new("GTiff", ["COMPRESS=LZW"]));
    common::write(&path, dem, Some(NODATA as f64), driver);
    path
}

/// The directions of the DEM and of its filled copy, as digests by output name.
fn directions(dem: &Path, out: &Path, exec: &Executor) -> BTreeMap<String, String> {
    std::fs::create_dir_all(out).unwrap();
    let o = |n: &str| out.join(format!("{n}.tif"));
    let filled = RasterBand::first(o("filled"));
    let dem = RasterBand::first(dem);
    fill_pits(&dem, &o("filled"), &FillOptions::default(), exec).unwrap();
    flow_dir_d8(&filled, &o("d8"), exec).unwrap();
    flow_dir_mfd(&filled, &o("mfd"), exec).unwrap();
    flow_dir_d8(&dem, &o("d8_raw"), exec).unwrap();
    flow_dir_mfd(&dem, &o("mfd_raw"), exec).unwrap();
    ["d8", "mfd", "d8_raw", "mfd_raw"]
        .iter()
        .map(|n| (n.to_string(), common::digest(&o(n))))
        .collect()
}

fn reference() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = include_str!("data/plateau_reference.json");
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut case = None;
    for line in text.lines().map(str::trim) {
        let parts: Vec<&str> = line.split('"').collect();
        if line.ends_with('{') && parts.len() >= 3 {
            case = Some(parts[1].to_string());
        } else if let (Some(c), true) = (&case, parts.len() >= 5) {
            let entry = out.entry(c.clone()).or_default();
            entry.insert(parts[1].to_string(), parts[3].to_string());
        }
    }
    out
}

#[test]
fn plateaus_drain_as_pygeoprocessing_drains_them() {
    let reference = reference();
    let dir = tempfile::tempdir().unwrap();
    let sync = Executor::sync();
    let threads = Executor::threads(2).unwrap();
    let mut mismatches = Vec::new();
    for (name, dem, striped) in cases() {
        let dem = write_dem(&dir.path().join(name), &dem, striped);
        let expected = &reference[name];
        let on_sync = directions(&dem, &dir.path().join(name).join("sync"), &sync);
        for (output, digest) in &on_sync {
            if expected.get(output) != Some(digest) {
                mismatches.push(format!("{name}/{output}"));
            }
        }
        let on_threads = directions(&dem, &dir.path().join(name).join("threads"), &threads);
        assert_eq!(on_sync, on_threads, "{name}: threads differ from sync");
    }
    assert!(
        mismatches.is_empty(),
        "directions differing from pygeoprocessing: {mismatches:?}"
    );
}

#[test]
fn plateaus_drain_the_same_through_a_cache_that_spills() {
    let dir = tempfile::tempdir().unwrap();
    let (name, dem, striped) = cases().swap_remove(0);
    let dem = write_dem(&dir.path().join(name), &dem, striped);
    let exec = Executor::threads(2).unwrap();
    let roomy = directions(&dem, &dir.path().join("roomy"), &exec);
    // 1 MiB: every grid is at its floor of 8 tiles, fewer than the raster's 9.
    std::env::set_var("PGP_ROUTING_CACHE_MB", "1");
    let tight = directions(&dem, &dir.path().join("tight"), &exec);
    std::env::remove_var("PGP_ROUTING_CACHE_MB");
    assert_eq!(roomy, tight);
}

#[test]
#[ignore = "writes the plateau DEMs for the peer script; see the module docs"]
fn write_cases_for_the_peer() {
    let dir = std::env::var("PGP_ROUTING_WRITE_CASES").expect("PGP_ROUTING_WRITE_CASES=DIR");
    for (name, dem, striped) in cases() {
        write_dem(&Path::new(&dir).join(name), &dem, striped);
    }
}
