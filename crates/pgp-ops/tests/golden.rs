//! Every request's output on seeded sample data, against a checksum kept per output version.
//!
//! An operation's [`Request::VERSION`] is part of every cached task key, so a change in what an
//! operation writes must come with a new version, or pipelines keep serving results of the old
//! code. This test holds one checksum per (operation, version): change an output and it fails
//! until the version is bumped and the new checksum added below; the old lines stay, as the
//! record of what each version wrote.

use std::path::{Path, PathBuf};

use pgp_core::{raster_info, sample, DataType};
use pgp_exec::Executor;
use pgp_ops::calc::ExpressionJob;
use pgp_ops::request::{
    AlignRequest, ConvolveRequest, ReclassifyRequest, Request, WarpRequest, ZonalRequest,
};
use sha2::{Digest, Sha256};

mod common;

/// The entries of [`GOLDEN`] whose outputs use `sin`, `cos` or `exp`, as a machine without pgp's
/// vectorised kernels (no AVX2 and FMA) computes them, with libm; the rest are [`GOLDEN`]'s.
const GOLDEN_WITHOUT_KERNELS: &[(&str, u32, &str)] = &[(
    "pgp.calc",
    2,
    "0cb9aa80fe3c0e22ca11f542dcf744d2dc98295947ed90853aec9fef44c3ea7b",
)];

/// (operation, version, sha256 of its outputs on `sample::generate(dir, 64, 7)`).
const GOLDEN: &[(&str, u32, &str)] = &[
    (
        "pgp.calc",
        1,
        "deffa5d7b1113742f539d472f10d064a45ddab292d8abaf90b4577df31b7b354",
    ),
    (
        "pgp.calc",
        2,
        "1874dba665aab4667145f4292288ea36fecf0b4bd03d49c3f20bb0070565d12e",
    ),
    (
        "pgp.align",
        1,
        "a622fb85eaa1be62e4deb79046a2795cbd9dfc6232a6e82978cb09413a5df696",
    ),
    (
        "pgp.warp",
        1,
        "f37cf95dfee5115c489a5eef7ee66c378d42d847ef75d24ce0143f60fc55555d",
    ),
    (
        "pgp.reclassify",
        1,
        "d032b9fc81280590761c58c6d8793b769f5773413e6b93877794f5cfbc34b105",
    ),
    (
        "pgp.zonal_stats",
        2,
        "93ba2577ae1360f619e948cbb4fb51b8670e70256b265be7ceefe51199c93781",
    ),
    (
        "pgp.convolve",
        1,
        "d8dda4eac68030e0e392a72912f0f04e115755de620b57b00b39db062b92e664",
    ),
];

/// What an output is, for the checksum: a raster's type, size, grid and pixels; any other
/// file's bytes.
fn fingerprint(path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "tif") {
        let info = raster_info(path).unwrap();
        format!(
            "{} {:?} {:?} {}",
            common::datatype_name(path),
            info.raster_size,
            info.geotransform,
            common::pixel_sha256(path)
        )
    } else {
        let digest = Sha256::digest(std::fs::read(path).unwrap());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

fn check<R: Request>(request: R, mismatches: &mut Vec<String>) {
    request
        .run(&Executor::sync())
        .unwrap_or_else(|e| panic!("{}: {e}", R::NAME));
    let mut hasher = Sha256::new();
    for output in request.outputs() {
        hasher.update(fingerprint(&output));
        hasher.update("\n");
    }
    let actual: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    // Where the CPU lacks AVX2 and FMA, sin, cos and exp are libm's (see `pgp_expr::math`), so
    // the checksums of outputs that use them are libm's.
    let lookup = |table: &'static [(&'static str, u32, &'static str)]| {
        table
            .iter()
            .find(|(name, version, _)| *name == R::NAME && *version == R::VERSION)
    };
    let known = match pgp_expr::math::kernels_active() {
        true => lookup(GOLDEN),
        false => lookup(GOLDEN_WITHOUT_KERNELS).or_else(|| lookup(GOLDEN)),
    };
    match known {
        Some((_, _, sha)) if *sha == actual => {}
        Some(_) => mismatches.push(format!(
            "{}: the output changed but VERSION is still {}: bump its Request::VERSION and add \
             (\"{}\", {}, \"{actual}\")",
            R::NAME,
            R::VERSION,
            R::NAME,
            R::VERSION + 1
        )),
        None => mismatches.push(format!(
            "{}: no checksum for version {}: add (\"{}\", {}, \"{actual}\")",
            R::NAME,
            R::VERSION,
            R::NAME,
            R::VERSION
        )),
    }
}

#[test]
fn outputs_change_only_with_their_version() {
    let dir = tempfile::tempdir().unwrap();
    let data = sample::generate(dir.path(), 64, 7).unwrap();
    let out = |name: &str| -> PathBuf { dir.path().join(name) };
    let mut mismatches = Vec::new();

    let calc: ExpressionJob = serde_json::from_value(serde_json::json!({
        // pgp's own sin, cos and exp in float64, so a change in their last bit shows here.
        "expression": "where(dem > 100, dem * w, -1) + sin(dem * 0.01) * exp(-w) + cos(w * 3)",
        "inputs": { "dem": data.dem, "w": data.weight },
        "target": out("calc.tif"),
        "options": { "datatype": "F64" },
    }))
    .unwrap();
    check(calc, &mut mismatches);

    check(
        AlignRequest {
            base_rasters: vec![
                data.dem.clone(),
                data.landcover.clone(),
                data.precip.clone(),
            ],
            targets: vec![out("a_dem.tif"), out("a_lc.tif"), out("a_precip.tif")],
            resample_methods: vec!["bilinear".into(), "mode".into(), "near".into()],
            target_pixel_size: [45.0, -45.0],
            bounding_box_mode: "intersection".into(),
            raster_align_index: None,
            target_projection: None,
        },
        &mut mismatches,
    );

    check(
        WarpRequest::new(&data.dem, out("warped.tif"))
            .resample("cubic")
            .target_projection("EPSG:4326"),
        &mut mismatches,
    );

    let table = out("table.csv");
    let rows: String = (1..=12).map(|c| format!("{c},{}\n", c * 10)).collect();
    std::fs::write(&table, format!("lucode,value\n{rows}")).unwrap();
    check(
        ReclassifyRequest {
            raster: data.landcover.clone(),
            band: 1,
            table,
            key_field: "lucode".into(),
            value_field: "value".into(),
            target: out("reclass.tif"),
            datatype: DataType::I16,
            nodata: Some(-1.0),
            values_required: true,
        },
        &mut mismatches,
    );

    check(
        ZonalRequest {
            raster: data.dem.clone(),
            band: 1,
            vector: data.zones.clone(),
            layer: None,
            ignore_nodata: true,
            include_value_counts: false,
            target: out("zonal.json"),
        },
        &mut mismatches,
    );

    let kernel = out("kernel.tif");
    pgp_ops::kernels::normal_distribution_kernel(&kernel, 2.0, 3.0, true).unwrap();
    check(
        ConvolveRequest {
            signal: data.dem.clone(),
            signal_band: 1,
            kernel,
            kernel_band: 1,
            target: out("convolved.tif"),
            normalize_kernel: false,
            ignore_nodata_and_edges: true,
            mask_nodata: None,
        },
        &mut mismatches,
    );

    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}
