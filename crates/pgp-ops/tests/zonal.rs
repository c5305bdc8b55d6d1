//! Zonal statistics: parity with pygeoprocessing on the seeded sample data, an independent check
//! of pixel membership against GDAL's own rasterizer, executors, several rasters, edge cases.

#[path = "common/zonal_inputs.rs"]
mod zonal_inputs;
#[path = "common/zonal_support.rs"]
mod zonal_support;

use std::path::Path;

use ndarray::Array2;
use pgp_core::gdal::raster::{rasterize, RasterizeOptions};
use pgp_core::gdal::vector::Geometry;
use pgp_core::gdal::DriverManager;
use pgp_core::{sample, DataType, GeoTransform, LayerRef, OutputRaster, RasterSpec};
use pgp_exec::Executor;
use pgp_ops::zonal::{
    zonal_statistics, zonal_statistics_many, FeatureStats, ZonalOptions, ZonalStats, ZoneLayer,
};
use pgp_ops::Error;
use serde_json::Value;
use zonal_support::{close, inputs, reference, scratch};

const TAG: &str = "zonal";

fn zonal(raster: &Path, vector: &Path, ignore_nodata: bool) -> ZonalStats {
    let opts = ZonalOptions {
        ignore_nodata,
        ..Default::default()
    };
    zonal_statistics(raster, 1, vector, &opts, &Executor::sync()).unwrap()
}

/// Every feature equal to pygeoprocessing's: counts exactly, min/max exactly (they are raster
/// values), sums within float32 summation error (pygeoprocessing sums blocks in float32).
fn assert_matches(ours: &ZonalStats, reference: &Value, what: &str) {
    let reference = reference.as_object().unwrap();
    assert_eq!(ours.len(), reference.len(), "{what}: feature count");
    for (fid, expected) in reference {
        let e = expected.as_array().unwrap();
        let s = ours
            .get(&fid.parse::<u64>().unwrap())
            .unwrap_or_else(|| panic!("{what}: fid {fid} missing"));
        let ctx = format!("{what} fid {fid}: ours {s:?}, pygeoprocessing {e:?}");
        assert_eq!(s.count, e[3].as_u64().unwrap(), "{ctx}");
        assert_eq!(s.nodata_count, e[4].as_u64().unwrap(), "{ctx}");
        assert_eq!(s.min, e[0].as_f64(), "{ctx}");
        assert_eq!(s.max, e[1].as_f64(), "{ctx}");
        assert!(close(s.sum, e[2].as_f64().unwrap(), 2e-6, 1e-3), "{ctx}");
    }
}

#[test]
fn dem_and_nan_nodata_match_pygeoprocessing_at_300_and_513() {
    for size in [300, 513] {
        let inp = inputs(TAG, size);
        let refs = reference(&format!("zonal_{size}.json"));
        assert_matches(
            &zonal(&inp.sample.dem, &inp.sample.zones, true),
            &refs["dem"],
            &format!("dem {size}"),
        );
        assert_matches(
            &zonal(&inp.sample.weight, &inp.sample.zones, true),
            &refs["weight_nan_nodata"],
            &format!("weight {size}"),
        );
    }
}

#[test]
fn nodata_variants_match_pygeoprocessing() {
    let inp = inputs(TAG, 513);
    let refs = reference("zonal_513.json");
    assert_matches(
        &zonal(&inp.sample.dem, &inp.sample.zones, false),
        &refs["dem_keep_nodata"],
        "keep nodata",
    );
    assert_matches(
        &zonal(&inp.dem_nonodata, &inp.sample.zones, true),
        &refs["dem_no_nodata"],
        "no nodata",
    );
}

#[test]
fn other_grid_and_other_projection_match_pygeoprocessing() {
    let inp = inputs(TAG, 513);
    let refs = reference("zonal_513.json");
    assert_matches(
        &zonal(&inp.sample.landcover, &inp.sample.zones, true),
        &refs["landcover_other_grid"],
        "landcover (40 m shifted grid)",
    );
    // The vector in EPSG:4326 is reprojected to the raster's UTM zone first.
    assert_matches(
        &zonal(&inp.sample.dem, &inp.zones_4326, true),
        &refs["dem_zones_4326"],
        "zones in EPSG:4326",
    );
}

#[test]
fn edge_cases_of_the_sample_layer() {
    let inp = inputs(TAG, 300);
    let s = zonal(&inp.sample.dem, &inp.sample.zones, true);
    assert_eq!(s.len(), 202);
    // FIDs start at 1 in a GeoPackage.
    assert_eq!(s.keys().next(), Some(&1));
    // 199 and 200 are wholly outside the raster.
    for fid in [199, 200] {
        assert_eq!(s[&fid], FeatureStats::default());
        assert_eq!(s[&fid].average(), None);
    }
    // 191..=198 are sub-pixel squares around a pixel corner: the envelope fallback covers the
    // four pixels around the corner.
    for fid in 191..=198 {
        assert_eq!(
            s[&fid].count + s[&fid].nodata_count,
            4,
            "fid {fid}: {:?}",
            s[&fid]
        );
    }
    // The square with a hole (201): the hole's pixels are not counted. Side 0.2 * extent = 60 px
    // outer, 30 px hole: 3600 - 900 pixels.
    assert_eq!(s[&201].count + s[&201].nodata_count, 3600 - 900);
    // The multipolygon (202): two squares of 0.06 * extent = 18 px.
    assert_eq!(s[&202].count + s[&202].nodata_count, 2 * 18 * 18);
    let avg = s[&202].average().unwrap();
    assert!((avg - s[&202].sum / s[&202].count as f64).abs() < 1e-12);
}

#[test]
fn results_do_not_depend_on_the_executor() {
    let inp = inputs(TAG, 513);
    let opts = ZonalOptions::default();
    let sync = zonal_statistics(
        &inp.sample.dem,
        1,
        &inp.sample.zones,
        &opts,
        &Executor::sync(),
    )
    .unwrap();
    let threads = zonal_statistics(
        &inp.sample.dem,
        1,
        &inp.sample.zones,
        &opts,
        &Executor::threads(2).unwrap(),
    )
    .unwrap();
    assert_eq!(sync, threads);
    // Bitwise, sums included (merged in block order).
    for (a, b) in sync.values().zip(threads.values()) {
        assert_eq!(a.sum.to_bits(), b.sum.to_bits());
    }
}

#[test]
fn several_rasters_share_one_vector_pass() {
    let inp = inputs(TAG, 300);
    let opts = ZonalOptions::default();
    let exec = Executor::threads(2).unwrap();
    let rasters = [
        (&inp.sample.dem, 1),
        (&inp.sample.weight, 1),
        (&inp.dem_nonodata, 1),
    ];
    let many = zonal_statistics_many(&rasters, &inp.sample.zones, &opts, &exec).unwrap();
    assert_eq!(many.len(), 3);
    for ((path, band), stats) in rasters.iter().zip(&many) {
        let one = zonal_statistics(path, *band, &inp.sample.zones, &opts, &exec).unwrap();
        assert_eq!(&one, stats, "{}", path.display());
    }
    // A prepared layer is reusable, and refuses a raster on another grid.
    let layer =
        ZoneLayer::prepare(&inp.sample.zones, &LayerRef::default(), &inp.sample.dem).unwrap();
    assert_eq!(layer.feature_count(), 202);
    let again = layer
        .stats(&[(&inp.sample.weight, 1)], true, false, &exec)
        .unwrap();
    assert_eq!(again[0], many[1]);
    let err = layer
        .stats(&[(&inp.sample.landcover, 1)], true, false, &exec)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidArgument { ref name, ref reason } if name == "rasters" && reason.contains("landcover.tif")),
        "{err}"
    );
}

#[test]
fn empty_layer_and_bad_inputs() {
    let inp = inputs(TAG, 300);
    let opts = ZonalOptions::default();
    let exec = Executor::sync();
    assert!(
        zonal_statistics(&inp.sample.dem, 1, &inp.empty_zones, &opts, &exec)
            .unwrap()
            .is_empty()
    );
    let err = zonal_statistics(&inp.sample.dem, 2, &inp.sample.zones, &opts, &exec).unwrap_err();
    assert!(err.to_string().contains("band 2"), "{err}");
    let bad_layer = ZonalOptions {
        layer: LayerRef::Name("nope".into()),
        ..Default::default()
    };
    let err =
        zonal_statistics(&inp.sample.dem, 1, &inp.sample.zones, &bad_layer, &exec).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    // Lines are not zones.
    let dir = scratch();
    let lines = dir.path().join("lines.gpkg");
    sample::write_polygons(
        &lines,
        &["LINESTRING(400000 5000000, 401000 4999000)".to_string()],
    )
    .unwrap();
    let err = zonal_statistics(&inp.sample.dem, 1, &lines, &opts, &exec).unwrap_err();
    assert!(
        err.to_string().contains("LineString") || err.to_string().contains("Line String"),
        "{err}"
    );
}

/// A tiny deterministic generator for the random polygons.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn pixel_membership_equals_gdal_rasterize() {
    // A raster whose pixel values are their own index, so count, sum, min and max of a feature
    // identify its pixel set; the same polygons burnt with GDAL's rasterizer give the expected
    // sets. Polygons mix random vertices with vertices on half-pixel positions (pixel centres and
    // edges) and rectangles with edges on scanlines, in both orientations, holes and two-part
    // multipolygons, so the tie-breaking rules are exercised.
    let dir = scratch();
    let (cols, rows) = (97usize, 83usize);
    let (x0, y0, px) = (400_000.0, 5_000_000.0, 30.0);
    let gt = GeoTransform::north_up(x0, y0, px, -px);
    let raster = dir.path().join("index.tif");
    let spec = RasterSpec::new(cols, rows, DataType::F64, gt)
        .projection(Some(sample::projection_wkt().unwrap()));
    let mut out = OutputRaster::create(&raster, &spec).unwrap();
    let index = Array2::from_shape_fn((rows, cols), |(r, c)| (r * cols + c) as f64);
    out.raster().write(1, 0, 0, index.view()).unwrap();
    out.commit().unwrap();

    let mut rng = Lcg(11);
    let at = |c: f64, r: f64| (x0 + c * px, y0 - r * px);
    let ring = |pts: &[(f64, f64)]| {
        let mut s: Vec<String> = pts.iter().map(|(x, y)| format!("{x} {y}")).collect();
        s.push(s[0].clone());
        format!("({})", s.join(","))
    };
    // First a polygon covering the raster exactly, so the rasterization frame is the raster grid.
    let mut wkts = vec![format!(
        "POLYGON({})",
        ring(&[
            at(0.0, 0.0),
            at(cols as f64, 0.0),
            at(cols as f64, rows as f64),
            at(0.0, rows as f64)
        ])
    )];
    for k in 0..120 {
        let snap = k % 3 == 0;
        let pt = |rng: &mut Lcg| {
            let (mut c, mut r) = (rng.next() * cols as f64, rng.next() * rows as f64);
            if snap {
                c = (c * 2.0).round() / 2.0;
                r = (r * 2.0).round() / 2.0;
            }
            at(c, r)
        };
        let wkt = match k % 6 {
            0..=2 => {
                let n = 3 + (rng.next() * 8.0) as usize;
                let pts: Vec<_> = (0..n).map(|_| pt(&mut rng)).collect();
                format!("POLYGON({})", ring(&pts))
            }
            3 => {
                // Rectangle with edges on pixel centres (scanlines), random orientation.
                let (c0, r0) = (
                    (rng.next() * 80.0).floor() + 0.5,
                    (rng.next() * 70.0).floor() + 0.5,
                );
                let (w, h) = (
                    1.0 + (rng.next() * 15.0).floor(),
                    1.0 + (rng.next() * 12.0).floor(),
                );
                let mut pts = vec![
                    at(c0, r0),
                    at(c0 + w, r0),
                    at(c0 + w, r0 + h),
                    at(c0, r0 + h),
                ];
                if rng.next() < 0.5 {
                    pts.reverse();
                }
                format!("POLYGON({})", ring(&pts))
            }
            4 => {
                let (c, r, h) = (
                    10.0 + rng.next() * 70.0,
                    10.0 + rng.next() * 60.0,
                    3.0 + rng.next() * 6.0,
                );
                let outer = [
                    at(c - h, r - h),
                    at(c + h, r - h),
                    at(c + h, r + h),
                    at(c - h, r + h),
                ];
                let g = h / 2.0;
                let hole = [
                    at(c - g, r - g),
                    at(c + g, r - g),
                    at(c + g, r + g),
                    at(c - g, r + g),
                ];
                format!("POLYGON({},{})", ring(&outer), ring(&hole))
            }
            _ => {
                let a: Vec<_> = (0..4).map(|_| pt(&mut rng)).collect();
                let b: Vec<_> = (0..5).map(|_| pt(&mut rng)).collect();
                format!("MULTIPOLYGON(({}),({}))", ring(&a), ring(&b))
            }
        };
        wkts.push(wkt);
    }
    let vector = dir.path().join("random.gpkg");
    sample::write_polygons(&vector, &wkts).unwrap();
    let ours = zonal(&raster, &vector, true);

    let mem = DriverManager::get_driver_by_name("MEM").unwrap();
    let mut checked = 0;
    for (i, wkt) in wkts.iter().enumerate() {
        let mut ds = mem
            .create_with_band_type::<u8, _>("", cols, rows, 1)
            .unwrap();
        ds.set_geo_transform(&gt.0).unwrap();
        let g = Geometry::from_wkt(wkt).unwrap();
        rasterize(
            &mut ds,
            &[1],
            &[g],
            &[1.0],
            Some(RasterizeOptions {
                all_touched: false,
                ..Default::default()
            }),
        )
        .unwrap();
        let mask = ds
            .rasterband(1)
            .unwrap()
            .read_as::<u8>((0, 0), (cols, rows), (cols, rows), None)
            .unwrap();
        let mask = mask.data();
        let hits: Vec<f64> = (0..cols * rows)
            .filter(|&k| mask[k] == 1)
            .map(|k| k as f64)
            .collect();
        if hits.is_empty() {
            continue; // covered by the envelope fallback, checked elsewhere
        }
        let s = &ours[&(i as u64 + 1)];
        let expected = FeatureStats {
            min: hits.first().copied(),
            max: hits.last().copied(),
            sum: hits.iter().sum(),
            count: hits.len() as u64,
            nodata_count: 0,
            value_counts: None,
        };
        assert_eq!(s, &expected, "feature {} {wkt}", i + 1);
        checked += 1;
    }
    assert!(checked > 100, "only {checked} polygons hit a pixel centre");
}

/// Value counts: the landcover classes under each zone add up to its count, agree with its
/// min, max and sum, are the same on every executor, and leave the other statistics unchanged.
#[test]
fn value_counts_add_up_and_do_not_depend_on_the_executor() {
    let inp = inputs(TAG, 300);
    let with = ZonalOptions {
        include_value_counts: true,
        ..Default::default()
    };
    let run = |exec: &Executor, opts: &ZonalOptions| {
        zonal_statistics(&inp.sample.landcover, 1, &inp.sample.zones, opts, exec).unwrap()
    };
    let sync = run(&Executor::sync(), &with);
    let plain = run(&Executor::sync(), &ZonalOptions::default());
    let mut counted = 0;
    for (fid, s) in &sync {
        let counts = s
            .value_counts
            .as_ref()
            .expect("value counts were asked for");
        assert_eq!(
            counts.iter().map(|(_, n)| n).sum::<u64>(),
            s.count,
            "fid {fid}"
        );
        let sum: f64 = counts.iter().map(|(v, n)| v * *n as f64).sum();
        assert_eq!(sum, s.sum, "fid {fid}");
        assert!(
            counts.windows(2).all(|w| w[0].0 < w[1].0),
            "fid {fid}: sorted, distinct"
        );
        if let Some((first, last)) = counts.first().zip(counts.last()) {
            assert_eq!((Some(first.0), Some(last.0)), (s.min, s.max), "fid {fid}");
            counted += 1;
        }
        let without = FeatureStats {
            value_counts: None,
            ..s.clone()
        };
        assert_eq!(without, plain[fid], "fid {fid}");
    }
    assert!(counted > 100, "only {counted} zones had pixels");
    assert_eq!(run(&Executor::threads(2).unwrap(), &with), sync);
}
