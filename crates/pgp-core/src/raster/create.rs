//! Creating rasters: driver and creation options, and `new_raster_from_base`.

use std::path::Path;

use gdal::raster::RasterCreationOptions;
use gdal::DriverManager;
use serde::{Deserialize, Serialize};

use crate::gdal_env::{init, last_error_message, reset_error};
use crate::raster::dataset::Raster;
use crate::{DataType, Error, GeoTransform, RasterInfo, Result};

/// pygeoprocessing's `DEFAULT_GTIFF_CREATION_TUPLE_OPTIONS`: tiled 256 x 256, LZW, BigTIFF.
pub const DEFAULT_GTIFF_OPTIONS: [&str; 5] = [
    "TILED=YES",
    "BIGTIFF=YES",
    "COMPRESS=LZW",
    "BLOCKXSIZE=256",
    "BLOCKYSIZE=256",
];

/// A GDAL driver and its creation options (pygeoprocessing's `raster_driver_creation_tuple`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RasterDriver {
    /// GDAL driver short name, e.g. `GTiff`.
    pub driver: String,
    /// `KEY=VALUE` creation options.
    pub options: Vec<String>,
}

impl Default for RasterDriver {
    /// GTiff with [`DEFAULT_GTIFF_OPTIONS`].
    fn default() -> Self {
        RasterDriver::new("GTiff", DEFAULT_GTIFF_OPTIONS)
    }
}

impl RasterDriver {
    /// A driver with options.
    pub fn new<S: Into<String>>(
        driver: &str,
        options: impl IntoIterator<Item = S>,
    ) -> RasterDriver {
        RasterDriver {
            driver: driver.to_string(),
            options: options.into_iter().map(Into::into).collect(),
        }
    }

    /// The value of option `key` (case-insensitive), if set.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.iter().find_map(|o| {
            let (k, v) = o.split_once('=')?;
            k.trim().eq_ignore_ascii_case(key).then_some(v.trim())
        })
    }

    /// These options with `key` set to `value` (replacing an earlier value).
    pub fn with_option(mut self, key: &str, value: &str) -> RasterDriver {
        self.options.retain(|o| {
            !o.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case(key))
        });
        self.options.push(format!("{key}={value}"));
        self
    }
}

/// Everything needed to create a raster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RasterSpec {
    /// Width in pixels.
    pub cols: usize,
    /// Height in pixels.
    pub rows: usize,
    /// Number of bands.
    pub bands: usize,
    /// Pixel type of every band.
    pub datatype: DataType,
    /// Geotransform.
    pub geotransform: GeoTransform,
    /// Projection WKT (`None` for none).
    pub projection_wkt: Option<String>,
    /// Nodata per band; a single entry applies to every band; empty means none. GeoTIFF stores one
    /// nodata value for the whole file, so different values per band are refused for GTiff.
    pub nodata: Vec<Option<f64>>,
    /// Fill value per band (single entry applies to all); `None` leaves the driver's default (0).
    pub fill: Option<Vec<f64>>,
    /// Driver and creation options.
    pub driver: RasterDriver,
}

impl RasterSpec {
    /// A one-band spec on the grid of `base`, in `datatype`, with the default driver. Like
    /// pygeoprocessing's `new_raster_from_base`, when the creation options do not set a block
    /// layout (`TILED` / `BLOCKXSIZE` / `BLOCKYSIZE`), the base raster's block size is kept.
    pub fn like(base: &RasterInfo, datatype: DataType) -> RasterSpec {
        RasterSpec {
            cols: base.raster_size.0,
            rows: base.raster_size.1,
            bands: 1,
            datatype,
            geotransform: base.geotransform,
            projection_wkt: base.projection_wkt.clone(),
            nodata: Vec::new(),
            fill: None,
            driver: RasterDriver::default(),
        }
        .base_block_size(base.block_size)
    }

    /// [`RasterSpec::like`] with another driver: pygeoprocessing's `new_raster_from_base` rule
    /// (keep the base's block size unless the options set a block layout) applied to `driver`.
    pub fn like_with_driver(
        base: &RasterInfo,
        datatype: DataType,
        driver: &RasterDriver,
    ) -> RasterSpec {
        let mut spec = RasterSpec::like(base, datatype);
        spec.driver = driver.clone();
        spec.apply_base_block(base.block_size);
        spec
    }

    /// A one-band spec for a new grid.
    pub fn new(
        cols: usize,
        rows: usize,
        datatype: DataType,
        geotransform: GeoTransform,
    ) -> RasterSpec {
        RasterSpec {
            cols,
            rows,
            bands: 1,
            datatype,
            geotransform,
            projection_wkt: None,
            nodata: Vec::new(),
            fill: None,
            driver: RasterDriver::default(),
        }
    }

    fn base_block_size(mut self, block: (usize, usize)) -> RasterSpec {
        self.apply_base_block(block);
        self
    }

    fn apply_base_block(&mut self, block: (usize, usize)) {
        let d = &self.driver;
        let sets_layout = d.option("TILED").is_some()
            || d.option("BLOCKXSIZE").is_some()
            || d.option("BLOCKYSIZE").is_some();
        if d.driver.eq_ignore_ascii_case("GTiff") && !sets_layout && block.0 > 0 {
            let striped = block.0 == self.cols && block.0 != block.1;
            let mut drv = self.driver.clone();
            if !striped {
                drv = drv
                    .with_option("TILED", "YES")
                    .with_option("BLOCKXSIZE", &block.0.to_string());
            }
            drv = drv.with_option("BLOCKYSIZE", &block.1.to_string());
            self.driver = drv;
        }
    }

    /// Set the number of bands.
    pub fn bands(mut self, bands: usize) -> RasterSpec {
        self.bands = bands;
        self
    }

    /// Set one nodata value for every band (`None`: no nodata).
    pub fn nodata(mut self, nodata: Option<f64>) -> RasterSpec {
        self.nodata = vec![nodata];
        self
    }

    /// Fill every band with `value` on creation.
    pub fn fill(mut self, value: f64) -> RasterSpec {
        self.fill = Some(vec![value]);
        self
    }

    /// Set the projection.
    pub fn projection(mut self, wkt: Option<String>) -> RasterSpec {
        self.projection_wkt = wkt;
        self
    }

    /// Use another driver / creation options.
    pub fn driver(mut self, driver: RasterDriver) -> RasterSpec {
        self.driver = driver;
        self
    }

    fn per_band<T: Copy>(values: &[T], band: usize) -> Option<T> {
        match values.len() {
            0 => None,
            1 => Some(values[0]),
            _ => values.get(band - 1).copied(),
        }
    }
}

/// Create a raster as `spec` says, open for update. Overwrites an existing file.
pub fn create_raster(path: impl AsRef<Path>, spec: &RasterSpec) -> Result<Raster> {
    let path = path.as_ref();
    init();
    if spec.cols == 0 || spec.rows == 0 || spec.bands == 0 {
        return Err(Error::invalid(
            "spec",
            format!(
                "cannot create {} with {} x {} pixels and {} band(s)",
                path.display(),
                spec.cols,
                spec.rows,
                spec.bands
            ),
        ));
    }
    if spec.nodata.len() > 1 && spec.nodata.len() != spec.bands {
        return Err(Error::invalid(
            "nodata",
            format!("{} values for {} bands", spec.nodata.len(), spec.bands),
        ));
    }
    if spec.driver.driver.eq_ignore_ascii_case("GTiff") && spec.nodata.len() > 1 {
        let first = spec.nodata[0];
        let same = |v: &Option<f64>| match (v, first) {
            (Some(a), Some(b)) => a == &b || (a.is_nan() && b.is_nan()),
            (None, None) => true,
            _ => false,
        };
        if !spec.nodata.iter().all(same) {
            return Err(Error::invalid(
                "nodata",
                format!(
                    "{}: a GeoTIFF holds one nodata value for all bands, got {:?}",
                    path.display(),
                    spec.nodata
                ),
            ));
        }
    }
    let driver = DriverManager::get_driver_by_name(&spec.driver.driver)
        .map_err(|e| Error::gdal(path, format!("finding driver {}", spec.driver.driver), e))?;
    let mut options = spec.driver.options.clone();
    if spec.datatype == DataType::I8 {
        options.retain(|o| !o.to_ascii_uppercase().starts_with("PIXELTYPE="));
        options.push("PIXELTYPE=SIGNEDBYTE".to_string());
    }
    let mut csl = RasterCreationOptions::new();
    for o in &options {
        csl.add_string(o)
            .map_err(|e| Error::gdal(path, format!("creation option {o:?}"), e))?;
    }
    reset_error();
    let mut ds = create_typed(&driver, path, spec, &csl).map_err(|e| {
        let msg = last_error_message();
        Error::Gdal {
            path: path.to_path_buf(),
            operation: format!("creating a {} raster", spec.driver.driver),
            message: if msg.is_empty() { e.to_string() } else { msg },
        }
    })?;
    ds.set_geo_transform(&spec.geotransform.0)
        .map_err(|e| Error::gdal(path, "setting the geotransform", e))?;
    if let Some(wkt) = &spec.projection_wkt {
        ds.set_projection(wkt)
            .map_err(|e| Error::gdal(path, "setting the projection", e))?;
    }
    let mut raster = Raster::from_created(path, ds);
    for band in 1..=spec.bands {
        if let Some(nd) = RasterSpec::per_band(&spec.nodata, band).flatten() {
            raster.set_nodata(band, Some(nd))?;
        }
        if let Some(fill) = spec
            .fill
            .as_deref()
            .and_then(|f| RasterSpec::per_band(f, band))
        {
            raster.fill(band, fill)?;
        }
    }
    Ok(raster)
}

fn create_typed(
    driver: &gdal::Driver,
    path: &Path,
    spec: &RasterSpec,
    csl: &RasterCreationOptions,
) -> gdal::errors::Result<gdal::Dataset> {
    match spec.datatype.to_gdal() {
        gdal::raster::GdalDataType::UInt8 => driver.create_with_band_type_with_options::<u8, _>(
            path, spec.cols, spec.rows, spec.bands, csl,
        ),
        gdal::raster::GdalDataType::UInt16 => driver.create_with_band_type_with_options::<u16, _>(
            path, spec.cols, spec.rows, spec.bands, csl,
        ),
        gdal::raster::GdalDataType::Int16 => driver.create_with_band_type_with_options::<i16, _>(
            path, spec.cols, spec.rows, spec.bands, csl,
        ),
        gdal::raster::GdalDataType::UInt32 => driver.create_with_band_type_with_options::<u32, _>(
            path, spec.cols, spec.rows, spec.bands, csl,
        ),
        gdal::raster::GdalDataType::Int32 => driver.create_with_band_type_with_options::<i32, _>(
            path, spec.cols, spec.rows, spec.bands, csl,
        ),
        gdal::raster::GdalDataType::Float32 => driver.create_with_band_type_with_options::<f32, _>(
            path, spec.cols, spec.rows, spec.bands, csl,
        ),
        _ => driver.create_with_band_type_with_options::<f64, _>(
            path, spec.cols, spec.rows, spec.bands, csl,
        ),
    }
}

/// pygeoprocessing's `new_raster_from_base`: a raster on the grid and projection of `base`, with
/// `datatype`, one band per `nodata` entry (at least one), optional fill values, and `driver`.
pub fn new_raster_from_base(
    base: impl AsRef<Path>,
    target: impl AsRef<Path>,
    datatype: DataType,
    nodata: &[Option<f64>],
    fill: Option<&[f64]>,
    driver: &RasterDriver,
) -> Result<()> {
    let info = Raster::open(base)?.info()?;
    let mut spec = RasterSpec::like(&info, datatype);
    spec.driver = driver.clone();
    spec.apply_base_block(info.block_size);
    spec.bands = nodata.len().max(1);
    spec.nodata = nodata.to_vec();
    spec.fill = fill.map(<[f64]>::to_vec);
    create_raster(target, &spec)?.close()
}
