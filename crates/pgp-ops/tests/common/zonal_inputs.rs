//! Seeded inputs shared by the zonal / convolution / distance / slope tests and by the script
//! that makes the pygeoprocessing references (`tests/peer/zonal_refs.py`, fed by
//! `cargo run -p pgp-ops --example zonal_peer_inputs -- DIR`). Same size, same bytes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ndarray::Array2;
use pgp_core::gdal::spatial_ref::{AxisMappingStrategy, CoordTransform, SpatialRef};
use pgp_core::gdal::vector::{Feature, LayerAccess, LayerOptions, OGRwkbGeometryType};
use pgp_core::gdal::DriverManager;
use pgp_core::{sample, DataType, OutputRaster, Raster, RasterSpec, Window};

/// Seed of every generated input.
pub const SEED: u64 = 7;

/// Paths of one input set.
#[derive(Debug, Clone)]
pub struct Inputs {
    pub dir: PathBuf,
    pub size: usize,
    pub sample: sample::SampleData,
    /// The DEM with its nodata value removed (-9999 pixels become data).
    pub dem_nonodata: PathBuf,
    /// The zones reprojected to EPSG:4326.
    pub zones_4326: PathBuf,
    /// A GeoPackage whose layer has no feature.
    pub empty_zones: PathBuf,
    /// Byte raster on the DEM grid: sparse region pixels (1..3), zeros, some nodata (255).
    pub mask: PathBuf,
    /// Normal kernel, sigma 2, 13 x 13, normalised (written by pgp's kernels module).
    pub gauss13: PathBuf,
    /// An asymmetric 5 x 7 float32 kernel with negative values, no nodata.
    pub asym: PathBuf,
}

/// Writes (or reuses, when already complete) the inputs for `size` under `dir`.
pub fn make(dir: &Path, size: usize) -> Inputs {
    std::fs::create_dir_all(dir).unwrap();
    let inputs = Inputs {
        dir: dir.to_path_buf(),
        size,
        sample: sample::SampleData {
            dem: dir.join("dem.tif"),
            weight: dir.join("weight.tif"),
            landcover: dir.join("landcover.tif"),
            precip: dir.join("precip.tif"),
            zones: dir.join("zones.gpkg"),
        },
        dem_nonodata: dir.join("dem_nonodata.tif"),
        zones_4326: dir.join("zones_4326.gpkg"),
        empty_zones: dir.join("empty.gpkg"),
        mask: dir.join("mask.tif"),
        gauss13: dir.join("gauss13.tif"),
        asym: dir.join("asym.tif"),
    };
    let done = dir.join("complete");
    if done.exists() {
        return inputs;
    }
    sample::generate(dir, size, SEED).unwrap();
    copy_without_nodata(&inputs.sample.dem, &inputs.dem_nonodata);
    reproject_zones(&inputs.sample.zones, &inputs.zones_4326, 4326);
    sample::write_polygons(&inputs.empty_zones, &[]).unwrap();
    write_mask(&inputs.sample.dem, &inputs.mask, size);
    pgp_ops::kernels::normal_distribution_kernel(&inputs.gauss13, 2.0, 3.0, true).unwrap();
    let asym = Array2::from_shape_fn((5, 7), |(r, c)| {
        ((r * 7 + c) as f32 * 0.37).sin() + 0.2 * c as f32
    });
    pgp_ops::kernels::kernel_from_array(asym.view(), &inputs.asym).unwrap();
    std::fs::write(&done, b"").unwrap();
    inputs
}

fn copy_without_nodata(src: &Path, dst: &Path) {
    let r = Raster::open(src).unwrap();
    let info = r.info().unwrap();
    let spec = RasterSpec::like(&info, info.datatype).nodata(None);
    let mut out = OutputRaster::create(dst, &spec).unwrap();
    let (c, rows) = info.raster_size;
    let a = r.read::<f32>(1, Window::full(c, rows)).unwrap();
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
}

/// A byte raster on `grid`'s grid: 0 mostly, region pixels (1..=3) at ~0.2 % of pixels plus a
/// small square, nodata 255 in a band of rows.
fn write_mask(grid: &Path, dst: &Path, size: usize) {
    let info = Raster::open(grid).unwrap().info().unwrap();
    let spec = RasterSpec::like(&info, DataType::U8).nodata(Some(255.0));
    let mut out = OutputRaster::create(dst, &spec).unwrap();
    let mut state = SEED
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let a = Array2::from_shape_fn((size, size), |(r, c)| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (state >> 33) as f64 / (1u64 << 31) as f64;
        if (size / 3..size / 3 + 4).contains(&r) {
            255
        } else if (r / 5 == size / 10) && (c / 5 == size / 7) {
            2
        } else if u < 0.002 {
            1 + (state % 3) as u8
        } else {
            0
        }
    });
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
}

/// Copies layer `zones` of `src` into `dst`, reprojected to `epsg` (longitude/latitude order).
pub fn reproject_zones(src: &Path, dst: &Path, epsg: u32) {
    pgp_core::init();
    let ds = pgp_core::open_vector(src).unwrap();
    let mut layer = ds.layer(0).unwrap();
    let mut from = layer.spatial_ref().unwrap();
    let mut to = SpatialRef::from_epsg(epsg).unwrap();
    from.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    to.set_axis_mapping_strategy(AxisMappingStrategy::TraditionalGisOrder);
    let t = CoordTransform::new(&from, &to).unwrap();
    if dst.exists() {
        std::fs::remove_file(dst).unwrap();
    }
    let driver = DriverManager::get_driver_by_name("GPKG").unwrap();
    let mut out = driver.create_vector_only(dst).unwrap();
    let out_layer = out
        .create_layer(LayerOptions {
            name: "zones",
            srs: Some(&to),
            ty: OGRwkbGeometryType::wkbUnknown,
            options: None,
        })
        .unwrap();
    for f in layer.features() {
        let g = f.geometry().unwrap().transform(&t).unwrap();
        let mut nf = Feature::new(out_layer.defn()).unwrap();
        nf.set_geometry(g).unwrap();
        nf.create(&out_layer).unwrap();
    }
}
