//! Small rasters for the unit tests of the tile-parallel passes: written in one call, read back
//! whole as f64.

use std::path::Path;

use pgp_core::{GeoTransform, OutputRaster, Pixel, Raster, RasterSpec, Window};

/// Writes `values` (row-major) as a one-band raster of `cols` x `rows` with `nodata`.
pub(crate) fn write<T: Pixel + Copy>(
    path: &Path,
    cols: usize,
    rows: usize,
    nodata: f64,
    values: Vec<T>,
) {
    let spec = RasterSpec::new(
        cols,
        rows,
        T::DATA_TYPE,
        GeoTransform::north_up(0.0, 0.0, 1.0, -1.0),
    )
    .nodata(Some(nodata));
    let mut out = OutputRaster::create(path, &spec).unwrap();
    let a = ndarray::Array2::from_shape_vec((rows, cols), values).unwrap();
    out.raster().write(1, 0, 0, a.view()).unwrap();
    out.commit().unwrap();
}

/// Band 1 of `path`, row-major, as f64.
pub(crate) fn read(path: &Path) -> Vec<f64> {
    let r = Raster::open(path).unwrap();
    let (cols, rows) = r.size();
    r.read::<f64>(1, Window::full(cols, rows))
        .unwrap()
        .iter()
        .copied()
        .collect()
}
