//! Every routing request's output on seeded sample data, against a checksum kept per output
//! version (as pgp-ops' `tests/golden.rs` does for its operations).
//!
//! A request's [`Request::VERSION`] is part of every cached task key, so a change in what a
//! routing step writes must come with a new version, or pipelines keep serving results of the
//! old code. This test holds one checksum per (operation, version): change an output and it
//! fails until the version is bumped and the new checksum added below; the old lines stay, as
//! the record of what each version wrote.

mod common;

use std::path::{Path, PathBuf};

use pgp_core::{raster_info, sample, Raster};
use pgp_exec::Executor;
use pgp_ops::request::Request;
use pgp_routing::*;
use sha2::{Digest, Sha256};

/// (operation, version, sha256 of its outputs on `sample::generate(dir, 64, 7)`).
const GOLDEN: &[(&str, u32, &str)] = &[
    (
        "pgp.routing.fill_pits",
        1,
        "ce5c4838f36ab04c0515486ff105159e57da6d2fd6f8fa9071cdfdf7877d6cb2",
    ),
    (
        "pgp.routing.flow_dir_d8",
        1,
        "393fec2b4a197141600bb4d04a63a185f8d0bf2d552d830f7424b893ff705f74",
    ),
    (
        "pgp.routing.flow_dir_mfd",
        1,
        "14e6182db3d33ab28aa6529dbcb69695de4710638af1fe1e5e61b73d12324f95",
    ),
    (
        "pgp.routing.flow_accumulation_d8",
        1,
        "cbdcf946e8501fb8c93567c3ffe7e277976a8fdf24a36655ee288ba563b6279a",
    ),
    (
        "pgp.routing.flow_accumulation_d8",
        2,
        "cbdcf946e8501fb8c93567c3ffe7e277976a8fdf24a36655ee288ba563b6279a",
    ),
    (
        "pgp.routing.flow_accumulation_mfd",
        1,
        "d25474809585efc19f87f3a2d9114f0b0c079a4cf98090e1811a38c10a6f90e5",
    ),
    (
        "pgp.routing.extract_streams_d8",
        1,
        "8c65f4dd2e5960fda4653a14277476c088d43287df9c6a42b0ec86e5a82b832c",
    ),
    (
        "pgp.routing.extract_streams_mfd",
        1,
        "9c249d5014641f89d0fcaaa1a1c6651fec08fd28c62b7da334d5b61b3a47166d",
    ),
    (
        "pgp.routing.distance_to_channel_d8",
        1,
        "56fd2d036d7e68317cf023bbc95683c4aeda6a95fab44999f53e6675d0b52760",
    ),
    (
        "pgp.routing.distance_to_channel_mfd",
        1,
        "da41ba40bb0295d8511431fe43ffdef8bb7e088c144e7c8ffd5de65342a7c0be",
    ),
    (
        "pgp.routing.detect_outlets",
        1,
        "f1d1c6dd89a50959ea71bb68515ff9c4a3df9c60364d5d992974b13d77a0bed3",
    ),
    (
        "pgp.routing.detect_lowest_drain_and_sink",
        1,
        "c729d3d37f1efb6847119b0e802119c7c3b4afc3a1c495b0fa7e7e15d0e04d89",
    ),
    (
        "pgp.routing.delineate_watersheds_d8",
        1,
        "da55efacd91c7bbcd1107864ac04ea8ee3db7a7897ee8aabb50ecc3cd2f5d015",
    ),
    (
        "pgp.routing.extract_strahler_streams_d8",
        1,
        "06bbf92df3aef5f123a023fc4d885b666b72bb975dc9812bcf6a860ff326752e",
    ),
    (
        "pgp.routing.calculate_subwatershed_boundary",
        1,
        "943f0df2cf85ef6f511d1b705ecc64b51a669a7311900a1a88ca0a04f031c90e",
    ),
];

/// What an output is, for the checksum: a raster's type, size, grid and pixels; a GeoPackage's
/// layer, fields, features and geometries (not its bytes, which hold the time of writing); any
/// other file's bytes.
fn fingerprint(path: &Path) -> String {
    match path.extension().and_then(|e| e.to_str()) {
        Some("tif") => {
            let info = raster_info(path).unwrap();
            let datatype = Raster::open(path).unwrap().data_type(1).unwrap();
            format!(
                "{datatype:?} {:?} {:?} {}",
                info.raster_size,
                info.geotransform,
                common::digest(path)
            )
        }
        Some("gpkg") => {
            let layer = path.file_stem().unwrap().to_str().unwrap();
            common::vector_digest(path, layer)
        }
        _ => format!("{:x}", Sha256::digest(std::fs::read(path).unwrap())),
    }
}

/// Runs `request`, records how its outputs differ from the table, if they do, and returns
/// what the run returned.
fn check<R: Request>(request: R, mismatches: &mut Vec<String>) -> R::Output {
    let returned = request
        .run(&Executor::sync())
        .unwrap_or_else(|e| panic!("{}: {e}", R::NAME));
    let mut hasher = Sha256::new();
    for output in request.outputs() {
        hasher.update(fingerprint(&output));
        hasher.update("\n");
    }
    let actual = format!("{:x}", hasher.finalize());
    let (name, version) = (R::NAME, R::VERSION);
    match GOLDEN.iter().find(|(n, v, _)| *n == name && *v == version) {
        Some((_, _, sha)) if *sha == actual => {}
        Some(_) => mismatches.push(format!(
            "{name}: the output changed but VERSION is still {version}: bump its \
             Request::VERSION and add (\"{name}\", {}, \"{actual}\")",
            version + 1
        )),
        None => mismatches.push(format!(
            "{name}: no checksum for version {version}: add (\"{name}\", {version}, \"{actual}\")"
        )),
    }
    returned
}

#[test]
fn outputs_change_only_with_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample::generate(dir.path(), 64, 7).unwrap();
    let out = |name: &str| -> PathBuf { dir.path().join(name) };
    let mut mismatches = Vec::new();

    check(
        FillPitsRequest {
            dem: data.dem.clone(),
            band: 1,
            target: out("filled.tif"),
            max_pixel_fill_count: None,
            single_outlet: None,
        },
        &mut mismatches,
    );
    check(
        FlowDirRequest::<D8>::new(out("filled.tif"), 1, out("d8.tif")),
        &mut mismatches,
    );
    check(
        FlowDirRequest::<Mfd>::new(out("filled.tif"), 1, out("mfd.tif")),
        &mut mismatches,
    );
    check(
        FlowAccumulationD8Request {
            weight: Some(data.weight.clone()),
            decay_factor: Some(0.9),
            ..FlowAccumulationD8Request::new(out("d8.tif"), 1, out("acc_d8.tif"))
        },
        &mut mismatches,
    );
    check(
        FlowAccumulationMfdRequest {
            flow_dir: out("mfd.tif"),
            band: 1,
            target: out("acc_mfd.tif"),
            weight: Some(data.weight.clone()),
        },
        &mut mismatches,
    );
    // Unweighted D8 accumulation, for the streams (the weighted one decays).
    FlowAccumulationD8Request::new(out("d8.tif"), 1, out("acc.tif"))
        .run(&Executor::sync())
        .unwrap();
    check(
        ExtractStreamsD8Request {
            flow_accum: out("acc.tif"),
            band: 1,
            threshold: 20.0,
            target: out("streams_d8.tif"),
        },
        &mut mismatches,
    );
    check(
        ExtractStreamsMfdRequest {
            flow_accum: out("acc_mfd.tif"),
            band: 1,
            flow_dir: out("mfd.tif"),
            threshold: 20.0,
            target: out("streams_mfd.tif"),
            trace_threshold_proportion: 0.5,
        },
        &mut mismatches,
    );
    check(
        DistanceToChannelRequest::<D8>::new(
            out("d8.tif"),
            1,
            out("streams_d8.tif"),
            out("dist_d8.tif"),
        ),
        &mut mismatches,
    );
    check(
        DistanceToChannelRequest::<Mfd>::new(
            out("mfd.tif"),
            1,
            out("streams_mfd.tif"),
            out("dist_mfd.tif"),
        )
        .weight(Some(data.weight.clone())),
        &mut mismatches,
    );
    let features = check(
        DetectOutletsRequest {
            flow_dir: out("d8.tif"),
            band: 1,
            flow_dir_type: FlowDirType::D8,
            target: out("outlets.gpkg"),
        },
        &mut mismatches,
    );
    assert!(features > 0, "DetectOutletsRequest wrote no features");
    check(
        DetectLowestDrainAndSinkRequest {
            dem: data.dem.clone(),
            band: 1,
            target: out("drain_and_sink.json"),
        },
        &mut mismatches,
    );
    let features = check(
        DelineateWatershedsD8Request {
            d8_flow_dir: out("d8.tif"),
            band: 1,
            outflow_vector: out("outlets.gpkg"),
            target: out("watersheds.gpkg"),
            target_layer_name: "watersheds".into(),
        },
        &mut mismatches,
    );
    assert!(
        features > 0,
        "DelineateWatershedsD8Request wrote no features"
    );
    let features = check(
        ExtractStrahlerStreamsD8Request {
            flow_dir: out("d8.tif"),
            band: 1,
            flow_accum: out("acc.tif"),
            dem: out("filled.tif"),
            target: out("strahler.gpkg"),
            min_flow_accum_threshold: 20,
            river_order: 2,
            autotune_flow_accumulation: false,
            min_p_val: 0.05,
        },
        &mut mismatches,
    );
    assert!(
        features > 0,
        "ExtractStrahlerStreamsD8Request wrote no features"
    );
    let features = check(
        CalculateSubwatershedBoundaryRequest {
            d8_flow_dir: out("d8.tif"),
            band: 1,
            strahler_streams: out("strahler.gpkg"),
            target: out("subwatersheds.gpkg"),
            max_steps_per_watershed: 1_000_000,
            outlet_at_confluence: false,
        },
        &mut mismatches,
    );
    assert!(
        features > 0,
        "CalculateSubwatershedBoundaryRequest wrote no features"
    );

    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

/// Requests read from pipeline-file arguments: left-out fields take the functions' defaults,
/// a misspelt field or the method of a two-method request is refused, and contradictory
/// arguments are an error naming them, before anything is written.
#[test]
fn requests_take_the_functions_defaults_and_refuse_what_they_do_not_know() {
    let accumulation: FlowAccumulationD8Request =
        serde_json::from_value(serde_json::json!({"flow_dir": "d8.tif", "target": "acc.tif"}))
            .unwrap();
    assert_eq!(
        accumulation,
        FlowAccumulationD8Request::new("d8.tif", 1, "acc.tif")
    );
    assert_eq!(
        accumulation.options().unwrap(),
        D8AccumulationOptions::default()
    );
    let strahler: ExtractStrahlerStreamsD8Request = serde_json::from_value(serde_json::json!({
        "flow_dir": "d8.tif", "flow_accum": "acc.tif", "dem": "dem.tif", "target": "s.gpkg",
    }))
    .unwrap();
    let defaults = StrahlerOptions::default();
    assert_eq!(
        (
            strahler.min_flow_accum_threshold,
            strahler.river_order,
            strahler.min_p_val
        ),
        (
            defaults.min_flow_accum_threshold,
            defaults.river_order,
            defaults.min_p_val
        )
    );

    let misspelt = serde_json::from_value::<FlowDirRequest<D8>>(
        serde_json::json!({"dem": "dem.tif", "target": "d8.tif", "bnad": 2}),
    );
    assert!(misspelt.unwrap_err().to_string().contains("bnad"));
    let method = serde_json::from_value::<FlowDirRequest<D8>>(
        serde_json::json!({"dem": "dem.tif", "target": "d8.tif", "method": "mfd"}),
    );
    assert!(method.unwrap_err().to_string().contains("method"));

    let dir = tempfile::tempdir().unwrap();
    let data = sample::generate(dir.path(), 16, 1).unwrap();
    let both = FlowAccumulationD8Request {
        decay_factor: Some(0.5),
        decay_raster: Some(data.weight.clone()),
        ..FlowAccumulationD8Request::new(&data.dem, 1, dir.path().join("acc.tif"))
    };
    match both.run(&Executor::sync()) {
        Err(Error::Invalid { argument, reason }) => {
            assert_eq!(argument, "decay_factor");
            assert!(reason.contains("decay_raster"), "{reason}");
        }
        other => panic!("expected an invalid-argument error, got {other:?}"),
    }
    assert!(!dir.path().join("acc.tif").exists());
}
