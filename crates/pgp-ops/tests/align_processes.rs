//! align_and_resize_raster_stack and warp_raster on a process pool: every warp runs as a
//! `WarpOp` in a worker process, and the outputs are those of the synchronous run.
//!
//! This binary is also the pool's worker program, hence no libtest harness and
//! `run_if_worker()` first in `main`.

mod grid_common;

use grid_common::assert_same_pixels;
use pgp_core::sample;
use pgp_exec::Executor;
use pgp_ops::{
    align_and_resize_raster_stack, warp_raster, AlignOptions, BoundingBoxMode, ResampleMethod,
    WarpOptions, WarpPath,
};

fn align_on_processes_matches_sync() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample::generate(dir.path().join("in"), 200, 4).unwrap();
    let bases = [d.dem, d.landcover, d.precip];
    let methods = [
        ResampleMethod::Bilinear,
        ResampleMethod::Near,
        ResampleMethod::Average,
    ];
    let options = AlignOptions {
        raster_align_index: Some(1),
        ..Default::default()
    };
    let outs = |tag: &str| -> Vec<_> {
        ["dem", "lc", "precip"]
            .iter()
            .map(|n| dir.path().join(format!("{n}_{tag}.tif")))
            .collect()
    };
    let (sync_out, proc_out) = (outs("sync"), outs("proc"));
    let pool = Executor::processes(2).unwrap();
    for (exec, targets) in [(Executor::sync(), &sync_out), (pool.clone(), &proc_out)] {
        align_and_resize_raster_stack(
            &bases,
            targets,
            &methods,
            (35.0, -35.0),
            BoundingBoxMode::Intersection,
            &options,
            &exec,
        )
        .unwrap();
    }
    for (a, b) in sync_out.iter().zip(&proc_out) {
        assert_same_pixels(a, b);
    }

    // A single warp goes to a worker too.
    let one = dir.path().join("one.tif");
    let opts = WarpOptions {
        target_projection: Some("EPSG:4326".into()),
        ..Default::default()
    };
    let how = warp_raster(
        &bases[0],
        (0.0004, -0.0004),
        &one,
        ResampleMethod::Near,
        &opts,
        &pool,
    )
    .unwrap();
    assert_eq!(how, WarpPath::Warped);
    let two = dir.path().join("two.tif");
    warp_raster(
        &bases[0],
        (0.0004, -0.0004),
        &two,
        ResampleMethod::Near,
        &opts,
        &Executor::sync(),
    )
    .unwrap();
    assert_same_pixels(&one, &two);

    // An output directory that does not exist is an error naming it, before any worker runs.
    let e = align_and_resize_raster_stack(
        &bases[..1],
        &[dir.path().join("nope").join("x.tif")],
        &[ResampleMethod::Bilinear],
        (31.0, -31.0),
        BoundingBoxMode::Union,
        &AlignOptions::default(),
        &pool,
    )
    .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("nope") && msg.contains("does not exist"),
        "{msg}"
    );
}

fn main() {
    pgp_exec::worker::run_if_worker();
    align_on_processes_matches_sync();
    println!("align_processes: ok");
}
