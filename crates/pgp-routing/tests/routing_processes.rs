//! The parallel passes (block-local first passes, the tile-parallel fill and distances) give the
//! same pixels on a process pool and on threads as on the synchronous executor, whatever the
//! raster's shape (this binary is its own worker program, hence its own `main`).

mod common;

use pgp_exec::Executor;
use pgp_routing::*;

fn outputs(
    exec: &Executor,
    dir: &std::path::Path,
    dem: &std::path::Path,
    weight: &std::path::Path,
) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    let dem = RasterBand::first(dem);
    let filled = dir.join("filled.tif");
    fill_pits(&dem, &filled, &FillOptions::default(), exec).unwrap();
    let d8 = dir.join("d8.tif");
    flow_dir_d8(&RasterBand::first(&filled), &d8, exec).unwrap();
    let mfd = dir.join("mfd.tif");
    flow_dir_mfd(&RasterBand::first(&filled), &mfd, exec).unwrap();
    let acc = dir.join("acc.tif");
    flow_accumulation_d8(&RasterBand::first(&d8), &acc, &Default::default(), exec).unwrap();
    // Weighted sums are added in the tiles' order, which must not depend on the executor.
    let acc_weighted = dir.join("acc_weighted.tif");
    let weighted = D8AccumulationOptions {
        weight: Some(RasterBand::first(weight)),
        ..Default::default()
    };
    flow_accumulation_d8(&RasterBand::first(&d8), &acc_weighted, &weighted, exec).unwrap();
    // MFD accumulation decodes its inputs on the executor before its serial walk.
    let acc_mfd = dir.join("acc_mfd.tif");
    flow_accumulation_mfd(
        &RasterBand::first(&mfd),
        &acc_mfd,
        Some(&RasterBand::first(weight)),
        exec,
    )
    .unwrap();
    let streams = dir.join("streams.tif");
    extract_streams_d8(&RasterBand::first(&acc), 20.0, &streams, exec).unwrap();
    let dist = dir.join("dist.tif");
    let d8_band = RasterBand::first(&d8);
    let streams_band = RasterBand::first(&streams);
    distance_to_channel_d8(&d8_band, &streams_band, &dist, None, exec).unwrap();
    // Weighted by the filled DEM: any float raster will do.
    let dist_w = dir.join("dist_w.tif");
    let weight = RasterBand::first(&filled);
    distance_to_channel_d8(&d8_band, &streams_band, &dist_w, Some(&weight), exec).unwrap();
    let acc_mfd_unweighted = dir.join("acc_mfd_unweighted.tif");
    flow_accumulation_mfd(&RasterBand::first(&mfd), &acc_mfd_unweighted, None, exec).unwrap();
    let streams_mfd = dir.join("streams_mfd.tif");
    let acc_mfd_band = RasterBand::first(&acc_mfd_unweighted);
    let mfd_band = RasterBand::first(&mfd);
    extract_streams_mfd(&acc_mfd_band, &mfd_band, 20.0, &streams_mfd, 0.7, exec).unwrap();
    let dist_mfd = dir.join("dist_mfd.tif");
    distance_to_channel_mfd(
        &mfd_band,
        &RasterBand::first(&streams_mfd),
        &dist_mfd,
        Some(&weight),
        exec,
    )
    .unwrap();
    let mut digests: Vec<String> = [
        filled.clone(),
        d8.clone(),
        mfd,
        acc,
        acc_weighted,
        acc_mfd,
        acc_mfd_unweighted,
        streams,
        dist,
        dist_w,
        streams_mfd,
        dist_mfd,
    ]
    .iter()
    .map(|p| common::digest(p))
    .collect();
    let outlets = dir.join("outlets.gpkg");
    detect_outlets(&RasterBand::first(&d8), FlowDirType::D8, &outlets, exec).unwrap();
    digests.push(common::vector_digest(&outlets, "outlets"));
    let found = detect_lowest_drain_and_sink(&RasterBand::first(&filled), exec).unwrap();
    digests.push(common::drain_sink_text(&found));
    digests
}

/// Float64 weights (thirds and sevenths) whose sums round differently in different orders, so
/// an executor-dependent summation order would show.
fn write_inexact_weights(dem: &std::path::Path, target: &std::path::Path) {
    let (cols, rows) = pgp_core::Raster::open(dem).unwrap().size();
    let weights = ndarray::Array2::from_shape_fn((rows, cols), |(y, x)| {
        1.0 / (3.0 + ((x * 7 + y * 13) % 5) as f64) + ((x + y) % 7) as f64 / 7.0
    });
    common::write(target, &weights, None, None);
}

fn main() {
    pgp_exec::worker::run_if_worker();
    // libtest-mimic keeps libtest's command line (`--list`, filters), so `cargo nextest` can
    // list and run this binary like any other.
    let args = libtest_mimic::Arguments::from_args();
    let trials = vec![libtest_mimic::Trial::test(
        "a_process_pool_gives_the_same_pixels_as_sync",
        || {
            a_process_pool_gives_the_same_pixels_as_sync();
            Ok(())
        },
    )];
    libtest_mimic::run(&args, trials).exit();
}

fn a_process_pool_gives_the_same_pixels_as_sync() {
    let dir = tempfile::tempdir().unwrap();
    let procs = Executor::processes(2).unwrap();
    let threads = Executor::threads(2).unwrap();
    // 300x270 (2x2 tiles, ragged), one pixel wide and one high, and 700x530 (3x3 tiles, so a
    // tile with neighbours on every side and corners where four tiles meet).
    let wide = common::Case {
        name: "wide",
        dem: common::terrain(700, 530, 3, -9999.0),
        nodata: Some(-9999.0),
        striped: false,
    };
    let mut cases: Vec<common::Case> = common::cases()
        .into_iter()
        .filter(|c| ["terrain", "one_column", "one_row"].contains(&c.name))
        .collect();
    cases.push(wide);
    for case in &cases {
        let base = dir.path().join(case.name);
        let (dem, _) = common::write_case(case, &base.join("in"));
        let weight = base.join("in").join("weight_f64.tif");
        write_inexact_weights(&dem, &weight);
        let sync = outputs(&Executor::sync(), &base.join("sync"), &dem, &weight);
        let on_procs = outputs(&procs, &base.join("procs"), &dem, &weight);
        assert_eq!(
            sync, on_procs,
            "{}: process pool and sync disagree",
            case.name
        );
        let on_threads = outputs(&threads, &base.join("threads"), &dem, &weight);
        assert_eq!(sync, on_threads, "{}: threads and sync disagree", case.name);
    }
}
