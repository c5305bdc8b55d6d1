//! Parity with pygeoprocessing 2.4.11: the same calls on the same inputs give the same grids,
//! the same pixels for nearest-neighbour and copied outputs, and pixels within a small tolerance
//! for interpolating methods. References: `tests/peer/refs.json`, made by
//! `tests/peer/make_refs_grid.py` (see its header) from the inputs `tests/peer/inputs.rs` writes.

#[path = "peer/inputs.rs"]
mod inputs;

use std::path::{Path, PathBuf};

use pgp_core::{raster_info, DynArray, Raster, Window};
use pgp_exec::Executor;
use pgp_ops::geom::projection_wkt;
use pgp_ops::{
    align_and_resize_raster_stack, transform_bounding_box, warp_raster, AlignOptions,
    BoundingBoxMode, ResampleMethod, WarpOptions,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn refs() -> Value {
    let text = include_str!("peer/refs.json");
    serde_json::from_str(text).expect("refs.json parses")
}

/// sha256 of band 1's pixels as raw little-endian bytes, row-major (as make_refs_grid.py).
fn pixel_sha256(path: &Path, map: impl Fn(f64) -> f64) -> String {
    let r = Raster::open(path).unwrap();
    let (c, rows) = r.size();
    let mut h = Sha256::new();
    match r.read_dyn(1, Window::full(c, rows)).unwrap() {
        DynArray::U8(a) => a.iter().for_each(|&v| h.update([map(v as f64) as u8])),
        DynArray::I16(a) => a.iter().for_each(|&v| h.update(v.to_le_bytes())),
        DynArray::F32(a) => a.iter().for_each(|&v| h.update(v.to_le_bytes())),
        DynArray::F64(a) => a.iter().for_each(|&v| h.update(v.to_le_bytes())),
        other => panic!(
            "unexpected pixel type in {}: {:?}",
            path.display(),
            other.data_type()
        ),
    }
    format!("{:x}", h.finalize())
}

fn as_f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// Compare one output with its reference. `exact`: pixels must be identical.
fn check_output(case: &str, ours: &Path, reference: &Value, exact: bool) {
    let info = raster_info(ours).unwrap();
    let size = as_f64s(&reference["size"]);
    assert_eq!(
        (info.raster_size.0 as f64, info.raster_size.1 as f64),
        (size[0], size[1]),
        "{case}: size"
    );
    assert_eq!(
        info.geotransform.0.to_vec(),
        as_f64s(&reference["geotransform"]),
        "{case}: geotransform"
    );
    assert_eq!(
        info.datatype.gdal_name(),
        reference["dtype"].as_str().unwrap(),
        "{case}: type"
    );
    match &reference["nodata"] {
        Value::String(s) if s == "nan" => assert!(info.nodata[0].unwrap().is_nan(), "{case}"),
        Value::Null => {}
        v => assert_eq!(info.nodata[0], v.as_f64(), "{case}: nodata"),
    }
    let sha = pixel_sha256(ours, |v| v);
    if sha == reference["sha256"].as_str().unwrap() {
        return;
    }
    assert!(!exact, "{case}: pixels differ from pygeoprocessing's");
    // Interpolated values: same valid pixels, values within a small tolerance.
    let r = Raster::open(ours).unwrap();
    let (c, rows) = r.size();
    let px = r.read_as::<f64>(1, Window::full(c, rows)).unwrap();
    let nodata = info.nodata[0];
    let is_valid = |v: f64| !v.is_nan() && nodata.is_none_or(|n| v != n);
    let valid: Vec<f64> = px.iter().copied().filter(|&v| is_valid(v)).collect();
    assert_eq!(
        valid.len() as u64,
        reference["valid_count"].as_u64().unwrap(),
        "{case}: valid count"
    );
    let sum: f64 = valid.iter().sum();
    let ref_sum = reference["sum"].as_f64().unwrap();
    assert!(
        (sum - ref_sum).abs() <= 1e-6 * ref_sum.abs().max(1.0),
        "{case}: sum {sum} vs {ref_sum}"
    );
    let stride = reference["sample_stride"]
        .as_u64()
        .expect("interpolated outputs have a sample") as usize;
    let ours_sample: Vec<f64> = px.iter().step_by(stride).copied().collect();
    let tolerance = if info.datatype.is_float() { 1e-3 } else { 1.0 };
    for (i, (a, b)) in ours_sample
        .iter()
        .zip(as_f64s(&reference["sample"]))
        .enumerate()
    {
        let close = (a.is_nan() && b.is_nan()) || (a - b).abs() <= tolerance * b.abs().max(1.0);
        assert!(close, "{case}: sample {i}: {a} vs {b}");
    }
}

/// An align reference case: name, methods, pixel size, box mode, align index.
type AlignCase = (
    &'static str,
    [ResampleMethod; 3],
    f64,
    BoundingBoxMode,
    Option<usize>,
);

struct Inputs {
    dem: PathBuf,
    landcover: PathBuf,
    precip: PathBuf,
    weight: PathBuf,
    landcover_plain: PathBuf,
}

fn check_size(size: usize, refs: &Value, exec: &Executor) {
    let dir = tempfile::tempdir().unwrap();
    let d = inputs::write_inputs(dir.path(), size);
    let i = Inputs {
        dem: d.join("dem.tif"),
        landcover: d.join("landcover.tif"),
        precip: d.join("precip.tif"),
        weight: d.join("weight.tif"),
        landcover_plain: d.join("landcover_plain.tif"),
    };
    let entry = &refs["sizes"][size.to_string()];
    for (name, path) in [
        ("dem", &i.dem),
        ("landcover", &i.landcover),
        ("precip", &i.precip),
        ("weight", &i.weight),
        ("landcover_plain", &i.landcover_plain),
    ] {
        assert_eq!(
            pixel_sha256(path, |v| v),
            entry["inputs"][name].as_str().unwrap(),
            "input {name} ({size}) is not what the references were made from: rerun make_refs_grid.py"
        );
    }

    // make_refs_grid.py passes EPSG:4326 as GDAL's WKT export; so does this test.
    let wgs84 = projection_wkt("EPSG:4326", "test").unwrap();
    // transform_bounding_box gives the same numbers.
    let dem_info = raster_info(&i.dem).unwrap();
    let bb = transform_bounding_box(
        &dem_info.bounding_box,
        dem_info.projection_wkt.as_deref().unwrap(),
        &wgs84,
        11,
    )
    .unwrap();
    assert_eq!(
        bb.to_array().to_vec(),
        as_f64s(&entry["transform_bbox_dem_4326"])
    );

    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let stack = [i.dem.clone(), i.landcover.clone(), i.precip.clone()];
    use ResampleMethod::*;
    let aligns: [AlignCase; 3] = [
        (
            "align_intersection_idx0",
            [Bilinear, Near, Bilinear],
            30.0,
            BoundingBoxMode::Intersection,
            Some(0),
        ),
        (
            "align_intersection_noidx",
            [Bilinear, Near, Bilinear],
            30.0,
            BoundingBoxMode::Intersection,
            None,
        ),
        (
            "align_union_45",
            [Near, Mode, Cubic],
            45.0,
            BoundingBoxMode::Union,
            None,
        ),
    ];
    for (case, methods, px, mode, idx) in aligns {
        let targets: Vec<PathBuf> = ["dem", "landcover", "precip"]
            .iter()
            .map(|n| out.join(format!("{case}_{n}.tif")))
            .collect();
        let options = AlignOptions {
            raster_align_index: idx,
            ..Default::default()
        };
        align_and_resize_raster_stack(&stack, &targets, &methods, (px, -px), mode, &options, exec)
            .unwrap();
        for ((n, t), m) in ["dem", "landcover", "precip"]
            .iter()
            .zip(&targets)
            .zip(methods)
        {
            let exact = matches!(m, Near | Mode);
            check_output(
                &format!("{size} {case} {n}"),
                t,
                &entry["cases"][case][n],
                exact,
            );
        }
    }

    let to_4326 = WarpOptions {
        target_projection: Some(wgs84.clone()),
        ..Default::default()
    };
    let warps: [(&str, &PathBuf, f64, ResampleMethod, WarpOptions); 4] = [
        (
            "warp_dem_4326_bilinear",
            &i.dem,
            0.0003,
            Bilinear,
            to_4326.clone(),
        ),
        ("warp_dem_4326_near", &i.dem, 0.0003, Near, to_4326),
        (
            "warp_weight_45_cubic",
            &i.weight,
            45.0,
            Cubic,
            WarpOptions::default(),
        ),
        (
            "warp_landcover_plain_to_dem_box",
            &i.landcover_plain,
            30.0,
            Near,
            WarpOptions {
                target_bbox: Some(dem_info.bounding_box),
                ..Default::default()
            },
        ),
    ];
    for (case, base, px, method, options) in warps {
        let target = out.join(format!("{case}.tif"));
        warp_raster(base, (px, -px), &target, method, &options, exec).unwrap();
        let reference = &entry["cases"][case]["out"];
        let label = format!("{size} {case}");
        if case == "warp_landcover_plain_to_dem_box" {
            // The source has no nodata: pygeoprocessing pads with 0 and sets no nodata; pgp pads
            // with 255 and sets it as nodata (#476). Same pixels once the padding is mapped back.
            assert_eq!(
                raster_info(&target).unwrap().nodata,
                vec![Some(255.0)],
                "{label}"
            );
            let mapped = pixel_sha256(&target, |v| if v == 255.0 { 0.0 } else { v });
            assert_eq!(mapped, reference["sha256"].as_str().unwrap(), "{label}");
            let info = raster_info(&target).unwrap();
            assert_eq!(
                info.geotransform.0.to_vec(),
                as_f64s(&reference["geotransform"])
            );
        } else {
            check_output(&label, &target, reference, method == Near);
        }
    }
}

#[test]
fn grids_and_pixels_match_pygeoprocessing_on_sync() {
    let refs = refs();
    assert_eq!(refs["pygeoprocessing"], "2.4.11");
    check_size(inputs::SIZES[0], &refs, &Executor::sync());
}

#[test]
fn grids_and_pixels_match_pygeoprocessing_on_threads() {
    let refs = refs();
    check_size(inputs::SIZES[1], &refs, &Executor::threads(2).unwrap());
}
