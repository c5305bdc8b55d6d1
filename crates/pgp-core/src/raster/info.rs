//! `RasterInfo`: what pygeoprocessing's `get_raster_info` gives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{BoundingBox, DataType, GeoTransform};

/// Everything about a raster that operations need before reading a pixel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RasterInfo {
    /// The raster's path.
    pub path: PathBuf,
    /// `(cols, rows)`.
    pub raster_size: (usize, usize),
    /// `(pixel_width, pixel_height)`; height is negative for north-up rasters.
    pub pixel_size: (f64, f64),
    /// GDAL's geotransform (identity `[0, 1, 0, 0, 0, 1]` when the file has none).
    pub geotransform: GeoTransform,
    /// Number of bands.
    pub n_bands: usize,
    /// Nodata value per band, `None` where unset.
    pub nodata: Vec<Option<f64>>,
    /// Pixel type per band.
    pub datatypes: Vec<DataType>,
    /// Pixel type of band 1 (pygeoprocessing's `datatype`).
    pub datatype: DataType,
    /// Bounding box of the raster in its own coordinates.
    pub bounding_box: BoundingBox,
    /// Projection as WKT, `None` when the file has none.
    pub projection_wkt: Option<String>,
    /// Block size of band 1, `(cols, rows)`.
    pub block_size: (usize, usize),
    /// Every file GDAL reads for this raster (the raster, sidecars such as `.aux.xml`, `.ovr`).
    pub file_list: Vec<PathBuf>,
    /// GDAL driver short name (`GTiff`).
    pub driver: String,
}

impl RasterInfo {
    /// Number of pixels in one band.
    pub fn n_pixels(&self) -> usize {
        self.raster_size.0 * self.raster_size.1
    }

    /// The nodata value of `band` (numbered from 1), `None` if unset or out of range.
    pub fn band_nodata(&self, band: usize) -> Option<f64> {
        band.checked_sub(1)
            .and_then(|i| self.nodata.get(i).copied().flatten())
    }
}
