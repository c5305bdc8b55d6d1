//! The benchmark cases. Each runs one pgp operation on the sample data and names its outputs;
//! the Python peer of each case (same operation, same arguments) is in `bench/peer_cases.py`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use pgp::core::{block_windows, DataType, OutputRaster, Raster, RasterSpec, LARGEST_BLOCK};
use pgp::exec::Executor;
use pgp::ops::{
    BoundingBoxMode, ConvolveOptions, ExprInput, ExprOptions, Expression, ResampleMethod,
    WarpOptions, ZonalOptions,
};

use crate::AnyResult;

mod pipeline;

/// The sample data files.
pub struct Data {
    pub dem: PathBuf,
    pub weight: PathBuf,
    pub landcover: PathBuf,
    pub precip: PathBuf,
    pub zones: PathBuf,
}

impl Data {
    pub fn at(dir: &Path) -> Data {
        Data {
            dem: dir.join("dem.tif"),
            weight: dir.join("weight.tif"),
            landcover: dir.join("landcover.tif"),
            precip: dir.join("precip.tif"),
            zones: dir.join("zones.gpkg"),
        }
    }
}

/// How outputs are compared with the peer's. Raster outputs are compared pixel by pixel, JSON
/// outputs (file names ending in `.json`) as per-feature statistics.
pub struct Check {
    /// Pixels must agree within this tolerance (absolute, or relative above magnitude 1).
    pub raster_tolerance: f64,
    /// At most this fraction of pixels may differ (validity or value).
    pub max_mismatch_fraction: f64,
    /// Relative tolerance of zonal min, max and sum; counts must be equal.
    pub json_tolerance: f64,
}

/// Output of every case: output paths by name (matching the peer's names) and timings, with
/// `total` the time the table reports.
pub type Outputs = (BTreeMap<String, PathBuf>, BTreeMap<String, f64>);

/// A benchmark case.
pub struct Case {
    pub name: &'static str,
    /// Run on N workers too (else sync only).
    pub parallel: bool,
    /// Also run on a process pool of N workers.
    pub processes: bool,
    /// Peer cases (in bench/peer_cases.py); the first is the baseline for ratios and checks.
    pub peers: &'static [&'static str],
    /// `None`: nothing to compare (no peer equivalent).
    pub check: Option<Check>,
    pub run: fn(&Data, &Path, &Executor) -> AnyResult<Outputs>,
}

/// Both compute in float64 and write float32: equal up to the last float32 digit (libm and
/// numpy may differ by an ulp in float64 transcendental functions).
const CALC_CHECK: Check = Check {
    raster_tolerance: 1e-6,
    max_mismatch_fraction: 0.0,
    json_tolerance: 0.0,
};

/// Both run GDAL's warper with the same options: identical pixels expected.
const WARP_CHECK: Check = Check {
    raster_tolerance: 0.0,
    max_mismatch_fraction: 0.0,
    json_tolerance: 0.0,
};

pub const ALL: &[Case] = &[
    Case {
        name: "calc_simple",
        parallel: true,
        processes: true,
        peers: &["calc_simple"],
        check: Some(CALC_CHECK),
        run: calc_simple,
    },
    Case {
        name: "calc_heavy",
        parallel: true,
        processes: true,
        peers: &["calc_heavy", "calc_heavy_mp"],
        check: Some(CALC_CHECK),
        run: calc_heavy,
    },
    Case {
        name: "align3",
        parallel: true,
        processes: false,
        peers: &["align3"],
        check: Some(WARP_CHECK),
        run: align3,
    },
    Case {
        name: "warp_4326",
        parallel: true,
        processes: false,
        peers: &["warp_4326", "warp_4326_threads"],
        check: Some(WARP_CHECK),
        run: warp_4326,
    },
    Case {
        name: "zonal",
        parallel: true,
        processes: false,
        peers: &["zonal"],
        // pgp sums in float64; pygeoprocessing sums each block's float32 pixels in float32
        // (`feature_data.sum()`), so sums agree to float32 precision; min, max and counts exactly.
        check: Some(Check {
            raster_tolerance: 0.0,
            max_mismatch_fraction: 0.0,
            json_tolerance: 1e-6,
        }),
        run: zonal,
    },
    Case {
        name: "convolve_gauss31",
        parallel: true,
        processes: false,
        peers: &["convolve_gauss31"],
        check: Some(CONVOLVE_CHECK),
        run: convolve_gauss31,
    },
    Case {
        name: "convolve_gauss31_ignore_nodata",
        parallel: true,
        processes: false,
        peers: &["convolve_gauss31_ignore_nodata"],
        check: Some(CONVOLVE_CHECK),
        run: convolve_gauss31_ignore_nodata,
    },
    Case {
        name: "pipeline",
        parallel: true,
        processes: false,
        peers: &["pipeline", "pipeline_tg2"],
        check: Some(pipeline::CHECK),
        run: pipeline::run,
    },
    Case {
        name: "io_floor",
        parallel: false,
        processes: false,
        peers: &[],
        check: None,
        run: io_floor,
    },
    Case {
        name: "calc_simple_gdal_reads",
        parallel: true,
        processes: false,
        peers: &[],
        check: None,
        run: calc_simple_gdal_reads,
    },
    Case {
        name: "pgp_io_floor",
        parallel: true,
        processes: false,
        peers: &[],
        check: None,
        run: pgp_io_floor,
    },
];

/// Both convolve with FFTs in float64, but pygeoprocessing 2.4 adds each block's contribution
/// to the output through a float32 array, so its float64 output holds float32 values rounded
/// once per overlapping block: agreement to a few float32 ulps (1e-6 relative, with an absolute
/// floor of 1e-6 below magnitude 1) is what a correct result can promise, while a wrong kernel,
/// offset or nodata handling is orders of magnitude above it.
const CONVOLVE_CHECK: Check = Check {
    raster_tolerance: 1e-6,
    max_mismatch_fraction: 0.0,
    json_tolerance: 0.0,
};

pub fn find(name: &str) -> Option<&'static Case> {
    ALL.iter().find(|c| c.name == name)
}

fn one(name: &str, path: PathBuf) -> BTreeMap<String, PathBuf> {
    BTreeMap::from([(name.to_string(), path)])
}

fn timed(t: Instant) -> BTreeMap<String, f64> {
    BTreeMap::from([("total".to_string(), t.elapsed().as_secs_f64())])
}

/// Nodata of the calculator outputs (as the peer's `OUT_NODATA`).
const OUT_NODATA: f64 = -9999.0;

fn f32_out() -> ExprOptions {
    ExprOptions {
        datatype: Some(DataType::F32),
        nodata: Some(OUT_NODATA),
        ..ExprOptions::default()
    }
}

/// `a*2+b` over the DEM and the weights: nodata where either is (the weights' nodata is NaN).
fn calc_simple(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    let target = out.join("simple.tif");
    let t = Instant::now();
    pgp::ops::evaluate_expression(
        "a * 2 + b",
        &[("a", &d.dem, 1), ("b", &d.weight, 1)],
        &target,
        &f32_out(),
        exec,
    )?;
    Ok((one("simple", target), timed(t)))
}

/// `calc_simple` with every input read through GDAL (libtiff decoding inside `RasterIO`), as
/// before pgp decoded whole tiles itself: the difference is what `tiles::decode` saves.
fn calc_simple_gdal_reads(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    pgp::core::tiles::decode::set_raw_tile_reads(false);
    calc_simple(d, out, exec)
}

/// Terms of the peer's `heavy_op`.
const HEAVY_ITERS: usize = 32;

/// The peer's `heavy_op` written out as one expression: with `x = a * 1e-3`,
/// `sum over i = 1..=32 of sin(x*i) * exp(-x/i) + sqrt(|cos(x+i)|)`, summed in the same order.
pub fn heavy_expression() -> String {
    let x = "(a * 0.001)";
    (1..=HEAVY_ITERS)
        .map(|i| format!("(sin({x} * {i}) * exp(-{x} / {i}) + sqrt(abs(cos({x} + {i}))))"))
        .collect::<Vec<_>>()
        .join(" + ")
}

fn calc_heavy(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    let target = out.join("heavy.tif");
    let expression = Expression::parse(&heavy_expression())?;
    let bindings = [(
        "a".to_string(),
        ExprInput::Raster {
            path: d.dem.clone(),
            band: 1,
        },
    )];
    let t = Instant::now();
    pgp::ops::evaluate(&expression, &bindings, &target, &f32_out(), exec)?;
    Ok((one("heavy", target), timed(t)))
}

/// The three aligned outputs' names, as the peer names them.
const ALIGNED: [&str; 3] = ["dem_aligned", "landcover_aligned", "precip_aligned"];

fn aligned_paths(out: &Path) -> [PathBuf; 3] {
    ALIGNED.map(|n| out.join(format!("{n}.tif")))
}

/// DEM, land cover and precipitation onto the DEM's 30 m grid, over their intersection.
fn align3(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    let targets = aligned_paths(out);
    let t = Instant::now();
    pgp::ops::align_and_resize_raster_stack(
        &[&d.dem, &d.landcover, &d.precip],
        &targets,
        &[
            ResampleMethod::Bilinear,
            ResampleMethod::Near,
            ResampleMethod::Bilinear,
        ],
        (30.0, -30.0),
        BoundingBoxMode::Intersection,
        &pgp::ops::AlignOptions {
            raster_align_index: Some(0),
            ..Default::default()
        },
        exec,
    )?;
    let outputs = ALIGNED
        .iter()
        .zip(targets)
        .map(|(n, p)| (n.to_string(), p))
        .collect();
    Ok((outputs, timed(t)))
}

/// The DEM reprojected to geographic coordinates, bilinear.
fn warp_4326(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    let target = out.join("dem_4326.tif");
    let t = Instant::now();
    pgp::ops::warp_raster(
        &d.dem,
        (0.0003, -0.0003),
        &target,
        ResampleMethod::Bilinear,
        &WarpOptions {
            target_projection: Some("EPSG:4326".into()),
            ..Default::default()
        },
        exec,
    )?;
    Ok((one("dem_4326", target), timed(t)))
}

/// Statistics of the DEM under the zone polygons, written as the peer writes them.
fn zonal(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    let target = out.join("zonal.json");
    let t = Instant::now();
    let stats = pgp::ops::zonal_statistics(&d.dem, 1, &d.zones, &ZonalOptions::default(), exec)?;
    let times = timed(t);
    std::fs::write(&target, pgp::nodes::zonal_json(&stats))?;
    Ok((one("zonal", target), times))
}

/// The DEM convolved with a normalised 31 x 31 Gaussian (sigma 5 pixels, 3 sigmas).
fn convolve(d: &Data, out: &Path, exec: &Executor, ignore_nodata: bool) -> AnyResult<Outputs> {
    let kernel = out.join("kernel.tif");
    pgp::ops::kernels::normal_distribution_kernel(&kernel, 5.0, 3.0, true)?;
    let target = out.join("convolved.tif");
    let t = Instant::now();
    pgp::ops::convolve_2d(
        &d.dem,
        1,
        &kernel,
        1,
        &target,
        &ConvolveOptions {
            ignore_nodata_and_edges: ignore_nodata,
            ..Default::default()
        },
        exec,
    )?;
    Ok((one("convolved", target), timed(t)))
}

fn convolve_gauss31(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    convolve(d, out, exec, false)
}

fn convolve_gauss31_ignore_nodata(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    convolve(d, out, exec, true)
}

/// GDAL's I/O floor of the raster calculator: read both inputs of `a*2+b` block by block and
/// write one float32 output with the default creation options, computing nothing, all through
/// GDAL on one thread.
fn io_floor(d: &Data, out: &Path, _exec: &Executor) -> AnyResult<Outputs> {
    pgp::core::tiles::decode::set_raw_tile_reads(false);
    let t = Instant::now();
    let a = Raster::open(&d.dem)?;
    let b = Raster::open(&d.weight)?;
    let info = a.info()?;
    let target = out.join("floor.tif");
    let spec = RasterSpec::like(&info, DataType::F32).nodata(Some(OUT_NODATA));
    let mut o = OutputRaster::create(&target, &spec)?;
    for w in block_windows(info.raster_size, info.block_size, LARGEST_BLOCK) {
        let x = a.read::<f32>(1, w)?;
        let _y = b.read::<f32>(1, w)?;
        o.raster().write(1, w.x_off, w.y_off, x.view())?;
    }
    o.commit()?;
    Ok((one("floor", target), timed(t)))
}

/// pgp's own I/O floor of `a*2+b`: on the executor's workers, decode both inputs' tiles
/// (`tiles::decode`) and LZW-encode the output's tiles from `a` (`tiles::encode_window`),
/// computing nothing; the calling thread only appends tiles, as the calculator's does.
fn pgp_io_floor(d: &Data, out: &Path, exec: &Executor) -> AnyResult<Outputs> {
    use pgp::core::tiles::{encode_window, RawTile, TiledTiffOutput};
    use pgp::core::{DynArray, RasterPool};
    let t = Instant::now();
    let info = Raster::open(&d.dem)?.info()?;
    let target = out.join("floor.tif");
    let spec = RasterSpec::like(&info, DataType::F32).nodata(Some(OUT_NODATA));
    let mut o = TiledTiffOutput::create(&target, &spec)?.ok_or("no raw-tile output")?;
    let layout = *o.layout();
    let pool = std::sync::Arc::new(RasterPool::new([&d.dem, &d.weight]));
    let windows: Vec<_> = block_windows(info.raster_size, layout.tile, LARGEST_BLOCK).collect();
    let blocks = exec.map_ordered(windows, move |w| {
        pool.with(|r| {
            let a = r[0].read::<f32>(1, w)?;
            std::hint::black_box(r[1].read_dyn(1, w)?);
            encode_window(&DynArray::from(a), w, &layout)
        })
    });
    for tiles in blocks {
        let tiles: Vec<RawTile> = tiles??;
        for tile in &tiles {
            o.write(tile)?;
        }
    }
    o.commit(None)?;
    Ok((one("floor", target), timed(t)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The written-out expression equals the peer's loop, evaluated independently here.
    #[test]
    fn heavy_expression_is_the_peers_sum() {
        let e = Expression::parse(&heavy_expression()).unwrap();
        assert_eq!(e.variables(), ["a".to_string()]);
        let a = ndarray::arr2(&[[0.0f64, 123.5, 2871.25, -40.0]]);
        let got = e
            .evaluate(&[(
                "a",
                pgp::ops::expr::Value::Array {
                    values: a.view(),
                    nodata: None,
                },
            )])
            .unwrap();
        for (&a, &got) in a.iter().zip(got.values.iter()) {
            let x = a * 1e-3;
            let mut acc = 0.0;
            for i in 1..=HEAVY_ITERS {
                let i = i as f64;
                acc += (x * i).sin() * (-x / i).exp() + (x + i).cos().abs().sqrt();
            }
            assert!(
                (got - acc).abs() <= 1e-12 * acc.abs(),
                "{a}: {got} vs {acc}"
            );
        }
    }

    #[test]
    fn every_case_has_a_unique_name_and_is_found() {
        let names: std::collections::BTreeSet<&str> = ALL.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), ALL.len());
        for c in ALL {
            assert_eq!(find(c.name).map(|f| f.peers), Some(c.peers));
        }
        assert!(find("nope").is_none());
    }
}
