//! pgp's TIFF-LZW tile encoder against libtiff's (GDAL writing the same tiles with
//! `COMPRESS=LZW`), on seeded sample rasters of three kinds: noisy float32 (a DEM), a land-cover
//! byte raster, and a smooth float32 surface (distances). Prints MB/s of input pixels and the
//! ratio, measured in one run. `PGP_BENCH_SIZE` sets the raster side (default 4096).
//!
//! Run: `cargo bench -p pgp-core --bench lzw`

use std::path::Path;
use std::time::Instant;

use ndarray::Array2;
use pgp_core::tiles::{encode_window, TileLayout};
use pgp_core::{
    block_windows, with_pixel_type, DynArray, GeoTransform, OutputRaster, Raster, RasterDriver,
    RasterSpec, Window,
};

mod common;

use common::AnyResult;

fn main() -> AnyResult<()> {
    let common::Inputs {
        size,
        dem,
        landcover,
        dir,
    } = common::inputs()?;
    let whole = |path: &Path| -> AnyResult<DynArray> {
        let r = Raster::open(path)?;
        let (cols, rows) = r.size();
        Ok(r.read_dyn(1, Window::new(0, 0, cols, rows))?)
    };
    let smooth: Array2<f32> = Array2::from_shape_fn((size, size), |(r, c)| {
        (((r as f32) - 0.4 * size as f32).hypot((c as f32) - 0.7 * size as f32)).floor()
    });
    let inputs: Vec<(&str, DynArray)> = vec![
        ("noisy float32 (DEM)", whole(&dem)?),
        ("land-cover byte", whole(&landcover)?),
        ("smooth float32 (distances)", smooth.into()),
    ];
    println!("rasters of about {size} x {size} pixels, 256 x 256 tiles");
    for (name, data) in &inputs {
        let (rows, cols) = data.shape();
        let mb = (rows * cols * data.data_type().size_bytes()) as f64 / 1e6;
        let ours = time(|| encode_all(data))?;
        let target = dir.path().join("libtiff.tif");
        let libtiff = time(|| write_with_gdal(data, &target))?;
        println!(
            "{name:28} pgp {:7.0} MB/s   libtiff (through GDAL) {:7.0} MB/s   ratio {:.2}x",
            mb / ours,
            mb / libtiff,
            libtiff / ours
        );
    }
    Ok(())
}

fn time(mut f: impl FnMut() -> AnyResult<()>) -> AnyResult<f64> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

fn spec(data: &DynArray) -> RasterSpec {
    let (rows, cols) = data.shape();
    RasterSpec::new(
        cols,
        rows,
        data.data_type(),
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    )
    .driver(RasterDriver::new(
        "GTiff",
        [
            "TILED=YES",
            "COMPRESS=LZW",
            "BLOCKXSIZE=256",
            "BLOCKYSIZE=256",
        ],
    ))
}

fn encode_all(data: &DynArray) -> AnyResult<()> {
    let layout = TileLayout::for_spec(&spec(data)).ok_or("no raw-tile layout")?;
    let (rows, cols) = data.shape();
    let mut bytes = 0usize;
    for w in block_windows((cols, rows), (256, 256), 0) {
        let tile = with_pixel_type!(data.data_type(), T => {
            let view = data.view::<T>().ok_or("type")?;
            let part = view.slice(ndarray::s![w.y_off..w.y_off + w.height, w.x_off..w.x_off + w.width]);
            DynArray::from(part.to_owned())
        });
        for t in encode_window(&tile, w, &layout)? {
            bytes += t.bytes.len();
        }
    }
    std::hint::black_box(bytes);
    Ok(())
}

fn write_with_gdal(data: &DynArray, target: &Path) -> AnyResult<()> {
    let mut out = OutputRaster::create(target, &spec(data))?;
    let (rows, cols) = data.shape();
    with_pixel_type!(data.data_type(), T => {
        let view = data.view::<T>().ok_or("type")?;
        for w in block_windows((cols, rows), (256, 256), 0) {
            let part = view.slice(ndarray::s![w.y_off..w.y_off + w.height, w.x_off..w.x_off + w.width]);
            out.raster().write(1, w.x_off, w.y_off, part)?;
        }
    });
    out.commit()?;
    Ok(())
}
