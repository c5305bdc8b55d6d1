//! Runs every routing step on a DEM and prints, per step, one JSON line with the seconds taken
//! and the sha256 of the output's pixels (band 1, row-major, little-endian), the same record
//! the peer benchmark of pygeoprocessing prints, so outputs can be compared bit for bit.
//!
//! `cargo run --release -p pgp-routing --example routing_steps -- DEM WEIGHT OUT_DIR [EXECUTOR] [STEPS]`

use std::path::{Path, PathBuf};
use std::time::Instant;

use pgp_core::{DataType, Raster, Window};
use pgp_exec::{Executor, ExecutorSpec};
use pgp_routing::*;
use sha2::{Digest, Sha256};

/// The sha256 of band 1's pixels, row-major little-endian, read in strips of 256 rows through
/// the capped GDAL cache so the check does not weigh on the memory measured around the steps.
fn digest(path: &Path) -> Result<String, Box<dyn std::error::Error>> {
    // GDAL would otherwise keep every block read here (up to 5% of the machine's memory).
    let _cap = pgp_routing::grid::GdalCacheCap::hold();
    let r = Raster::open(path)?;
    let (c, rows) = r.size();
    let mut h = Sha256::new();
    let datatype = r.data_type(1)?;
    for y in (0..rows).step_by(256) {
        let w = Window::new(0, y, c, 256.min(rows - y));
        match datatype {
            DataType::U8 => r.read::<u8>(1, w)?.iter().for_each(|v| h.update([*v])),
            DataType::I32 => r
                .read::<i32>(1, w)?
                .iter()
                .for_each(|v| h.update(v.to_le_bytes())),
            DataType::F32 => r
                .read::<f32>(1, w)?
                .iter()
                .for_each(|v| h.update(v.to_le_bytes())),
            DataType::F64 => r
                .read::<f64>(1, w)?
                .iter()
                .for_each(|v| h.update(v.to_le_bytes())),
            other => return Err(format!("unexpected type {other:?}").into()),
        }
    }
    Ok(format!("{:x}", h.finalize()))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    pgp_exec::worker::run_if_worker();
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        return Err("usage: routing_steps DEM WEIGHT OUT_DIR [EXECUTOR] [STEPS]".into());
    }
    let dem = RasterBand::first(&args[1]);
    let weight = RasterBand::first(&args[2]);
    let out = PathBuf::from(&args[3]);
    std::fs::create_dir_all(&out)?;
    let spec: ExecutorSpec = args.get(4).map_or("sync", String::as_str).parse()?;
    let wanted: Option<Vec<String>> = args
        .get(5)
        .map(|s| s.split(',').map(str::to_string).collect());
    let exec = Executor::from_spec(&spec)?;
    let o = |n: &str| out.join(format!("{n}.tif"));
    let b = |n: &str| RasterBand::first(o(n));
    type Step<'a> = (
        &'a str,
        Box<dyn Fn() -> pgp_routing::Result<()> + 'a>,
        &'a str,
    );
    let steps: Vec<Step> = vec![
        (
            "fill_pits",
            Box::new(|| fill_pits(&dem, &o("filled"), &FillOptions::default(), &exec)),
            "filled",
        ),
        (
            "flow_dir_d8",
            Box::new(|| flow_dir_d8(&b("filled"), &o("d8"), &exec)),
            "d8",
        ),
        (
            "flow_dir_mfd",
            Box::new(|| flow_dir_mfd(&b("filled"), &o("mfd"), &exec)),
            "mfd",
        ),
        (
            "flow_accumulation_d8",
            Box::new(|| flow_accumulation_d8(&b("d8"), &o("acc_d8"), &Default::default(), &exec)),
            "acc_d8",
        ),
        (
            "flow_accumulation_d8_weighted",
            Box::new(|| {
                let opts = D8AccumulationOptions {
                    weight: Some(weight.clone()),
                    ..Default::default()
                };
                flow_accumulation_d8(&b("d8"), &o("acc_d8_w"), &opts, &exec)
            }),
            "acc_d8_w",
        ),
        (
            "flow_accumulation_mfd",
            Box::new(|| flow_accumulation_mfd(&b("mfd"), &o("acc_mfd"), None, &exec)),
            "acc_mfd",
        ),
        (
            "flow_accumulation_mfd_weighted",
            Box::new(|| flow_accumulation_mfd(&b("mfd"), &o("acc_mfd_w"), Some(&weight), &exec)),
            "acc_mfd_w",
        ),
        (
            "extract_streams_d8",
            Box::new(|| extract_streams_d8(&b("acc_d8"), 100.0, &o("streams_d8"), &exec)),
            "streams_d8",
        ),
        (
            "extract_streams_mfd",
            Box::new(|| {
                extract_streams_mfd(
                    &b("acc_mfd"),
                    &b("mfd"),
                    100.0,
                    &o("streams_mfd"),
                    0.7,
                    &exec,
                )
            }),
            "streams_mfd",
        ),
        (
            "distance_to_channel_d8",
            Box::new(|| {
                distance_to_channel_d8(&b("d8"), &b("streams_d8"), &o("dist_d8"), None, &exec)
            }),
            "dist_d8",
        ),
        (
            "distance_to_channel_mfd",
            Box::new(|| {
                distance_to_channel_mfd(&b("mfd"), &b("streams_mfd"), &o("dist_mfd"), None, &exec)
            }),
            "dist_mfd",
        ),
    ];
    for (name, run, output) in steps {
        if wanted
            .as_ref()
            .is_some_and(|w| !w.iter().any(|s| s == name))
        {
            continue;
        }
        let t = Instant::now();
        run()?;
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{{\"case\": \"{name}\", \"executor\": \"{spec}\", \"seconds\": {secs:.3}, \"sha256\": \"{}\"}}",
            digest(&o(output))?
        );
    }
    Ok(())
}
