//! Calls that used to succeed quietly with an empty result: an explicit align box outside every
//! input, rasters in different CRSs aligned without a target projection, zonal statistics where
//! no polygon meets the raster (issue 23 item 12).

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use pgp_core::{sample, BoundingBox, DataType, GeoTransform, OutputRaster, RasterSpec};
use pgp_exec::Executor;
use pgp_ops::progress::{with_progress, Progress, ProgressTicker};
use pgp_ops::{
    align_and_resize_raster_stack, warp_raster, zonal_statistics, AlignOptions, BoundingBoxMode,
    ResampleMethod, WarpOptions, ZonalOptions,
};

/// Collects the warnings operations report.
#[derive(Default)]
struct Warnings(Mutex<Vec<String>>);
struct NoTicks;
impl ProgressTicker for NoTicks {
    fn advance(&mut self, _units: u64) {}
}
impl Progress for Warnings {
    fn start(&self, _operation: &str, _unit: &str, _total: u64) -> Box<dyn ProgressTicker> {
        Box::new(NoTicks)
    }
    fn warning(&self, operation: &str, message: &str) {
        self.0.lock().push(format!("{operation}: {message}"));
    }
}

fn align(inputs: &[&Path], dir: &Path, mode: BoundingBoxMode) -> pgp_ops::Result<()> {
    let targets: Vec<_> = (0..inputs.len())
        .map(|i| dir.join(format!("aligned_{i}.tif")))
        .collect();
    let result = align_and_resize_raster_stack(
        inputs,
        &targets,
        &vec![ResampleMethod::Near; inputs.len()],
        (30.0, -30.0),
        mode,
        &AlignOptions::default(),
        &Executor::sync(),
    );
    for t in &targets {
        assert_eq!(t.exists(), result.is_ok(), "{}", t.display());
    }
    result.map(|_| ())
}

#[test]
fn an_explicit_box_outside_every_input_is_refused_with_both_extents() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample::generate(dir.path(), 64, 1).unwrap();
    let far = BoundingBox::new(0.0, 0.0, 10.0, 10.0);
    let e = align(
        &[&d.dem, &d.landcover],
        dir.path(),
        BoundingBoxMode::Explicit(far),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("[0.0, 0.0, 10.0, 10.0]"), "{e}");
    assert!(e.contains("does not intersect any input"), "{e}");
    assert!(e.contains("dem.tif") && e.contains("landcover.tif"), "{e}");
    assert!(e.contains(&format!("{}", sample::X0)), "the input box: {e}");
    assert!(e.contains("EPSG:32631"), "the CRS: {e}");

    // A box that meets one input is fine.
    let dem = pgp_core::raster_info(&d.dem).unwrap().bounding_box;
    let part = BoundingBox::new(dem.xmin, dem.ymin, dem.xmin + 300.0, dem.ymin + 300.0);
    align(&[&d.dem], dir.path(), BoundingBoxMode::Explicit(part)).unwrap();
}

#[test]
fn rasters_in_different_crss_need_a_target_projection() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample::generate(dir.path(), 64, 1).unwrap();
    let geographic = dir.path().join("dem_4326.tif");
    let options = WarpOptions {
        target_projection: Some("EPSG:4326".into()),
        ..Default::default()
    };
    warp_raster(
        &d.dem,
        (0.0004, -0.0004),
        &geographic,
        ResampleMethod::Near,
        &options,
        &Executor::sync(),
    )
    .unwrap();
    for mode in [BoundingBoxMode::Intersection, BoundingBoxMode::Union] {
        let e = align(&[&d.dem, &geographic], dir.path(), mode)
            .unwrap_err()
            .to_string();
        assert!(e.contains("EPSG:32631") && e.contains("EPSG:4326"), "{e}");
        assert!(e.contains("different CRSs"), "{e}");
        assert!(e.contains("target projection"), "{e}");
    }
    // With one, they align.
    let targets = [dir.path().join("x.tif"), dir.path().join("y.tif")];
    align_and_resize_raster_stack(
        &[&d.dem, &geographic],
        &targets,
        &[ResampleMethod::Near, ResampleMethod::Near],
        (30.0, -30.0),
        BoundingBoxMode::Intersection,
        &AlignOptions {
            target_projection: Some("EPSG:32631".into()),
            ..Default::default()
        },
        &Executor::sync(),
    )
    .unwrap();
}

/// A 20 x 20 float32 raster of ones whose top-left corner is at `origin` in `epsg`.
fn ones(path: &Path, origin: (f64, f64), pixel: f64, epsg: u32) {
    let wkt = pgp_core::gdal::spatial_ref::SpatialRef::from_epsg(epsg)
        .unwrap()
        .to_wkt()
        .unwrap();
    let spec = RasterSpec::new(
        20,
        20,
        DataType::F32,
        GeoTransform::north_up(origin.0, origin.1, pixel, -pixel),
    )
    .projection(Some(wkt))
    .nodata(Some(-1.0))
    .fill(1.0);
    OutputRaster::create(path, &spec).unwrap().commit().unwrap();
}

fn zonal_warnings(raster: &Path, zones: &Path) -> (Vec<String>, pgp_ops::ZonalStats) {
    let warnings = Arc::new(Warnings::default());
    let stats = with_progress(warnings.clone(), || {
        zonal_statistics(
            raster,
            1,
            zones,
            &ZonalOptions::default(),
            &Executor::threads(2).unwrap(),
        )
    })
    .unwrap();
    let w = warnings.0.lock().clone();
    (w, stats)
}

#[test]
fn zonal_statistics_warns_when_no_polygon_meets_the_raster() {
    let dir = tempfile::tempdir().unwrap();
    let d = sample::generate(dir.path(), 64, 1).unwrap();

    // Same CRS, elsewhere.
    let far = dir.path().join("far.tif");
    ones(&far, (sample::X0 + 1e5, sample::Y0), 30.0, sample::EPSG);
    let (w, stats) = zonal_warnings(&far, &d.zones);
    assert!(!stats.is_empty() && stats.values().all(|s| s.count == 0));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("zonal_statistics: no polygon of"), "{w:?}");
    assert!(
        w[0].contains("zones.gpkg") && w[0].contains("far.tif"),
        "{w:?}"
    );
    assert!(!w[0].contains("CRSs differ"), "{w:?}");

    // Another CRS: both are named.
    let geographic = dir.path().join("geographic.tif");
    ones(&geographic, (10.0, 10.0), 0.001, 4326);
    let (w, _) = zonal_warnings(&geographic, &d.zones);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("EPSG:4326") && w[0].contains("EPSG:32631"),
        "{w:?}"
    );
    assert!(w[0].contains("CRSs differ"), "{w:?}");

    // Polygons that meet the raster: no warning.
    let (w, stats) = zonal_warnings(&d.dem, &d.zones);
    assert!(w.is_empty(), "{w:?}");
    assert!(stats.values().any(|s| s.count > 0));
}
