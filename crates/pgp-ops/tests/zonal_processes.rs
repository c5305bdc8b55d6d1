//! Zonal statistics, convolution, slope and distance transform on a process pool give the same
//! results as on the synchronous executor (part of the `processes` test binary, which is its own
//! worker program).

#[path = "common/zonal_inputs.rs"]
mod zonal_inputs;
#[path = "common/zonal_support.rs"]
mod zonal_support;

use pgp_exec::Executor;
use pgp_ops::zonal::{zonal_statistics_many, ZonalOptions};
use pgp_ops::{
    calculate_slope, convolve_2d, distance_transform_edt, ConvolveOptions, DistanceOptions,
    SlopeOptions,
};
use zonal_support::{inputs, same_pixels, scratch};

fn process_pool_matches_sync() {
    let inp = inputs("processes", 300);
    let procs = Executor::processes(2).unwrap();
    let sync = Executor::sync();
    let dir = scratch();

    let opts = ZonalOptions::default();
    let rasters = [(&inp.sample.dem, 1), (&inp.sample.weight, 1)];
    let a = zonal_statistics_many(&rasters, &inp.sample.zones, &opts, &sync).unwrap();
    let b = zonal_statistics_many(&rasters, &inp.sample.zones, &opts, &procs).unwrap();
    assert_eq!(a, b, "zonal statistics");

    let copts = ConvolveOptions {
        ignore_nodata_and_edges: true,
        ..Default::default()
    };
    let (c1, c2) = (dir.path().join("c1.tif"), dir.path().join("c2.tif"));
    convolve_2d(&inp.sample.dem, 1, &inp.gauss13, 1, &c1, &copts, &sync).unwrap();
    convolve_2d(&inp.sample.dem, 1, &inp.gauss13, 1, &c2, &copts, &procs).unwrap();
    assert!(same_pixels(&c1, &c2), "convolve_2d");

    let (s1, s2) = (dir.path().join("s1.tif"), dir.path().join("s2.tif"));
    calculate_slope(&inp.sample.dem, 1, &s1, &SlopeOptions::default(), &sync).unwrap();
    calculate_slope(&inp.sample.dem, 1, &s2, &SlopeOptions::default(), &procs).unwrap();
    assert!(same_pixels(&s1, &s2), "slope");

    let (d1, d2) = (dir.path().join("d1.tif"), dir.path().join("d2.tif"));
    distance_transform_edt(&inp.mask, 1, &d1, &DistanceOptions::default(), &sync).unwrap();
    distance_transform_edt(&inp.mask, 1, &d2, &DistanceOptions::default(), &procs).unwrap();
    assert!(same_pixels(&d1, &d2), "distance");
}

fn errors_in_workers_come_back() {
    // A VRT whose source file is missing opens fine (the coordinator reads its description) but
    // every block read fails, in the worker processes.
    let dir = scratch();
    let vrt = dir.path().join("broken.vrt");
    std::fs::write(
        &vrt,
        r#"<VRTDataset rasterXSize="300" rasterYSize="200">
  <GeoTransform>0, 1, 0, 0, 0, -1</GeoTransform>
  <VRTRasterBand dataType="Float32" band="1">
    <SimpleSource>
      <SourceFilename relativeToVRT="1">missing_source.tif</SourceFilename>
      <SourceBand>1</SourceBand>
    </SimpleSource>
  </VRTRasterBand>
</VRTDataset>"#,
    )
    .unwrap();
    let procs = Executor::processes(1).unwrap();
    let target = dir.path().join("slope.tif");
    let err = calculate_slope(&vrt, 1, &target, &SlopeOptions::default(), &procs).unwrap_err();
    assert!(err.to_string().contains("broken.vrt"), "{err}");
    assert!(!target.exists());
}

/// The checks of this file (run by `processes.rs`, whose `main()` is the workers' too).
pub fn checks() -> Vec<(&'static str, fn())> {
    vec![
        ("process_pool_matches_sync", process_pool_matches_sync),
        ("errors_in_workers_come_back", errors_in_workers_come_back),
    ]
}
