//! Bit-for-bit parity with pygeoprocessing.routing 2.4.11 on seeded DEMs (plateaus, exact ties,
//! pits, a nodata lake and edge, NaN nodata, no nodata, a striped file, one-pixel-wide rasters,
//! an entirely flat DEM; sizes that are not block multiples).
//!
//! `tests/data/peer_reference.json` holds the sha256 of every output pygeoprocessing made from
//! the same DEMs. To regenerate it: write the DEMs with
//! `PGP_ROUTING_WRITE_CASES=DIR cargo test -p pgp-routing --test peer_parity -- --ignored`,
//! then run `tests/data/make_peer_reference.py DIR` with pygeoprocessing 2.4.11 installed.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use pgp_exec::Executor;
use pgp_routing::*;

const THRESHOLD: f64 = 20.0;

/// Every step of the reference, in the order the peer script runs them.
fn run_steps(dem: &Path, weight: &Path, out: &Path, exec: &Executor) -> BTreeMap<String, String> {
    std::fs::create_dir_all(out).unwrap();
    let (cols, rows) = pgp_core::Raster::open(dem).unwrap().size();
    let o = |n: &str| out.join(format!("{n}.tif"));
    let b = |n: &str| RasterBand::first(o(n));
    let w = RasterBand::first(weight);
    let dem_band = RasterBand::first(dem);
    fill_pits(&dem_band, &o("filled"), &FillOptions::default(), exec).unwrap();
    let limited = FillOptions {
        max_pixel_fill_count: Some(5),
        ..Default::default()
    };
    fill_pits(&dem_band, &o("filled_limited"), &limited, exec).unwrap();
    let outlet = FillOptions {
        single_outlet: Some((cols / 2, rows - 1)),
        ..Default::default()
    };
    fill_pits(&dem_band, &o("filled_outlet"), &outlet, exec).unwrap();
    flow_dir_d8(&b("filled"), &o("d8"), exec).unwrap();
    flow_dir_mfd(&b("filled"), &o("mfd"), exec).unwrap();
    flow_dir_d8(&dem_band, &o("d8_raw"), exec).unwrap();
    flow_dir_mfd(&dem_band, &o("mfd_raw"), exec).unwrap();
    flow_accumulation_d8(&b("d8"), &o("acc_d8"), &Default::default(), exec).unwrap();
    let weighted = D8AccumulationOptions {
        weight: Some(w.clone()),
        ..Default::default()
    };
    flow_accumulation_d8(&b("d8"), &o("acc_d8_w"), &weighted, exec).unwrap();
    let decayed = D8AccumulationOptions {
        weight: Some(w.clone()),
        decay: Some(DecayFactor::Constant(0.9)),
        min_decay_proportion: 0.001,
    };
    flow_accumulation_d8(&b("d8"), &o("acc_d8_decay"), &decayed, exec).unwrap();
    let decay_raster = D8AccumulationOptions {
        weight: None,
        decay: Some(DecayFactor::Raster(w.clone())),
        min_decay_proportion: 0.01,
    };
    flow_accumulation_d8(&b("d8"), &o("acc_d8_decay_raster"), &decay_raster, exec).unwrap();
    flow_accumulation_d8(&b("d8_raw"), &o("acc_d8_raw"), &Default::default(), exec).unwrap();
    flow_accumulation_mfd(&b("mfd"), &o("acc_mfd"), None, exec).unwrap();
    flow_accumulation_mfd(&b("mfd"), &o("acc_mfd_w"), Some(&w), exec).unwrap();
    flow_accumulation_mfd(&b("mfd_raw"), &o("acc_mfd_raw"), None, exec).unwrap();
    extract_streams_d8(&b("acc_d8"), THRESHOLD, &o("streams_d8"), exec).unwrap();
    extract_streams_mfd(
        &b("acc_mfd"),
        &b("mfd"),
        THRESHOLD,
        &o("streams_mfd"),
        0.7,
        exec,
    )
    .unwrap();
    distance_to_channel_d8(&b("d8"), &b("streams_d8"), &o("dist_d8"), None, exec).unwrap();
    distance_to_channel_d8(&b("d8"), &b("streams_d8"), &o("dist_d8_w"), Some(&w), exec).unwrap();
    distance_to_channel_mfd(&b("mfd"), &b("streams_mfd"), &o("dist_mfd"), None, exec).unwrap();
    distance_to_channel_mfd(
        &b("mfd"),
        &b("streams_mfd"),
        &o("dist_mfd_w"),
        Some(&w),
        exec,
    )
    .unwrap();
    let names = [
        "filled",
        "filled_limited",
        "filled_outlet",
        "d8",
        "mfd",
        "d8_raw",
        "mfd_raw",
        "acc_d8",
        "acc_d8_w",
        "acc_d8_decay",
        "acc_d8_decay_raster",
        "acc_d8_raw",
        "acc_mfd",
        "acc_mfd_w",
        "acc_mfd_raw",
        "streams_d8",
        "streams_mfd",
        "dist_d8",
        "dist_d8_w",
        "dist_mfd",
        "dist_mfd_w",
    ];
    let mut digests: BTreeMap<String, String> = names
        .iter()
        .map(|n| (n.to_string(), common::digest(&o(n))))
        .collect();
    let v = |n: &str| out.join(format!("{n}.gpkg"));
    detect_outlets(&b("d8"), FlowDirType::D8, &v("outlets_d8"), exec).unwrap();
    detect_outlets(&b("mfd"), FlowDirType::Mfd, &v("outlets_mfd"), exec).unwrap();
    for n in ["outlets_d8", "outlets_mfd"] {
        digests.insert(n.to_string(), common::vector_digest(&v(n), n));
    }
    let features = dem.with_file_name("outlets.gpkg");
    let options = WatershedOptions::default();
    delineate_watersheds_d8(&b("d8"), &features, &v("watersheds"), &options, exec).unwrap();
    let from_outlets = v("outlets_d8");
    delineate_watersheds_d8(
        &b("d8"),
        &from_outlets,
        &v("watersheds_outlets"),
        &options,
        exec,
    )
    .unwrap();
    for (n, river_order, autotune) in [
        ("strahler", 5, false),
        ("strahler_rivers", 2, false),
        ("strahler_autotuned", 3, true),
    ] {
        let options = StrahlerOptions {
            min_flow_accum_threshold: THRESHOLD as i64,
            river_order,
            autotune_flow_accumulation: autotune,
            ..Default::default()
        };
        extract_strahler_streams_d8(&b("d8"), &b("acc_d8"), &b("filled"), &v(n), &options, exec)
            .unwrap();
        digests.insert(n.to_string(), common::vector_digest(&v(n), n));
    }
    for (n, outlet_at_confluence) in [("subwatersheds", false), ("subwatersheds_confluence", true)]
    {
        let options = SubwatershedOptions {
            outlet_at_confluence,
            ..Default::default()
        };
        calculate_subwatershed_boundary(&b("d8"), &v("strahler_rivers"), &v(n), &options, exec)
            .unwrap();
        digests.insert(n.to_string(), common::vector_digest(&v(n), n));
    }
    for n in ["watersheds", "watersheds_outlets"] {
        digests.insert(n.to_string(), common::vector_digest(&v(n), "watersheds"));
    }
    for (n, raster) in [
        ("drain_sink_dem", &dem_band),
        ("drain_sink_filled", &b("filled")),
    ] {
        let found = detect_lowest_drain_and_sink(raster, exec).unwrap();
        digests.insert(n.to_string(), common::drain_sink_text(&found));
    }
    digests
}

fn reference() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = include_str!("data/peer_reference.json");
    serde_json_lite(text)
}

/// The reference file is `{"case": {"output": "sha256", ...}, ...}`; parsed by hand to keep
/// serde_json out of this crate's dependencies.
fn serde_json_lite(text: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut case = None;
    for line in text.lines().map(str::trim) {
        let parts: Vec<&str> = line.split('"').collect();
        if line.ends_with('{') && parts.len() >= 3 {
            case = Some(parts[1].to_string());
            out.insert(parts[1].to_string(), BTreeMap::new());
        } else if parts.len() >= 5 {
            if let Some(c) = &case {
                out.get_mut(c)
                    .unwrap()
                    .insert(parts[1].to_string(), parts[3].to_string());
            }
        }
    }
    out
}

#[test]
fn every_output_matches_pygeoprocessing_bit_for_bit() {
    let reference = reference();
    let exec = Executor::threads(2).unwrap();
    let mut mismatches = Vec::new();
    for case in common::cases() {
        let dir = tempfile::tempdir().unwrap();
        let (dem, weight) = common::write_case(&case, dir.path());
        let got = run_steps(&dem, &weight, dir.path(), &exec);
        let want = reference
            .get(case.name)
            .unwrap_or_else(|| panic!("no reference for {}", case.name));
        assert_eq!(
            want.len(),
            got.len(),
            "{}: reference lists other outputs",
            case.name
        );
        for (name, sha) in &got {
            // pygeoprocessing refused this input (see make_peer_reference.py): pgp's result
            // is still computed, there is nothing to compare it with.
            if want.get(name).map(String::as_str) == Some("peer-error") {
                continue;
            }
            if want.get(name) != Some(sha) {
                mismatches.push(format!("{}/{name}", case.name));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "outputs differing from pygeoprocessing: {mismatches:?}"
    );
}

#[test]
fn outputs_are_identical_on_sync_and_threads_and_with_a_tiny_cache() {
    let case = &common::cases()[0];
    let dir = tempfile::tempdir().unwrap();
    let (dem, weight) = common::write_case(case, dir.path());
    let a = run_steps(&dem, &weight, &dir.path().join("sync"), &Executor::sync());
    // A cache of 1 MiB (the floor of 8 tiles per grid) makes every step spill and reload tiles.
    std::env::set_var("PGP_ROUTING_CACHE_MB", "1");
    let b = run_steps(
        &dem,
        &weight,
        &dir.path().join("threads"),
        &Executor::threads(2).unwrap(),
    );
    std::env::remove_var("PGP_ROUTING_CACHE_MB");
    assert_eq!(a, b);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("threads"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .filter(|n| {
            let n = n.to_string_lossy();
            !n.ends_with(".tif") && !n.ends_with(".gpkg")
        })
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporaries left behind: {leftovers:?}"
    );
}

#[test]
#[ignore = "writes the parity DEMs for the peer script; see the module docs"]
fn write_cases_for_the_peer() {
    let dir = std::env::var("PGP_ROUTING_WRITE_CASES").expect("set PGP_ROUTING_WRITE_CASES");
    for case in common::cases() {
        let d = Path::new(&dir).join(case.name);
        common::write_case(&case, &d);
    }
}
