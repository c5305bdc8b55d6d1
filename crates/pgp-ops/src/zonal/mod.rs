//! Zonal statistics: min, max, sum, count and nodata count of raster pixels under each polygon
//! (pygeoprocessing's `zonal_statistics`).
//!
//! A pixel belongs to a feature when its centre is inside it, by GDAL's rasterization rule
//! (what pygeoprocessing's `gdal.Rasterize` gives). Overlapping polygons each count the pixels
//! they cover (pygeoprocessing gets the same by rasterizing disjoint subsets one after another).
//! A feature that covers no pixel centre (smaller than a pixel, or a sliver) falls back to every
//! pixel of its envelope's window, as pygeoprocessing's second pass does; features wholly
//! outside the raster keep `min = max = None`, `sum = 0`, `count = 0`. Holes and multipolygons
//! follow the even-odd rule over all rings of a feature. The vector is reprojected into the
//! raster's CRS when they differ. Results are keyed by the source layer's FIDs.
//!
//! How: the vector is prepared once ([`ZoneLayer`]: reprojected, edges in pixel coordinates,
//! bucketed by rows). Then each raster block that some feature reaches is one task: it scans the
//! edges of the features reaching the block into pixel spans and accumulates the block's values
//! under them, for every raster at once. Memory holds a few blocks, never a rasterized layer;
//! partial results are merged in block order, so results do not depend on the executor.
//! [`ZoneLayer::stats`] reuses the prepared vector for any rasters on the same grid
//! (pygeoprocessing #310).
//!
//! Differences from pygeoprocessing: sums are accumulated in float64 (pygeoprocessing sums each
//! block in the raster's type, float32 for float32 rasters); nodata is matched exactly (pgp's
//! rule) rather than with `isclose`; NaN data values (not nodata) make min and max NaN; FIDs are
//! not limited to 65534. Value counts (`include_value_counts`) count the values that enter the
//! statistics, as pygeoprocessing's do; equal values are one entry as `numpy.unique` makes them
//! (-0 is 0, every NaN is one NaN).

mod accumulate;
mod prepare;
mod scan;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pgp_core::{block_windows, LayerRef, Raster, RasterInfo, LARGEST_BLOCK};
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use crate::runtime::{self, register_block_op, BlockOp, Computed, Handles, RemoteBlockOp, Runner};
use crate::{Error, Result};
use accumulate::{
    fallback_window, window_stats, Acc, BandRef, BlockFeature, BlockOutput, BlockTask, Tally,
};
use prepare::{read_features, Feature, Frame};

/// Statistics of one feature over one raster band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureStats {
    /// Smallest valid value; `None` when the feature has no valid pixel.
    pub min: Option<f64>,
    /// Largest valid value; `None` when the feature has no valid pixel.
    pub max: Option<f64>,
    /// Sum of valid values (0 when none).
    pub sum: f64,
    /// Number of valid pixels.
    pub count: u64,
    /// Number of nodata pixels under the feature.
    pub nodata_count: u64,
    /// `(value, pixels)` for each value counted in `count`, ascending by value; only when
    /// [`ZonalOptions::include_value_counts`] asked for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_counts: Option<Vec<(f64, u64)>>,
}

impl FeatureStats {
    /// `sum / count`, `None` when `count` is 0.
    pub fn average(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

impl Default for FeatureStats {
    /// A feature that met no pixel.
    fn default() -> Self {
        FeatureStats {
            min: None,
            max: None,
            sum: 0.0,
            count: 0,
            nodata_count: 0,
            value_counts: None,
        }
    }
}

/// Per-feature statistics keyed by FID.
pub type ZonalStats = BTreeMap<u64, FeatureStats>;

/// Options of [`zonal_statistics`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZonalOptions {
    /// Which layer of the vector (default: the first).
    pub layer: LayerRef,
    /// Leave nodata pixels out of min, max, sum and count (default true). `nodata_count` always
    /// counts them.
    pub ignore_nodata: bool,
    /// Also count the pixels of each value under each feature ([`FeatureStats::value_counts`];
    /// default false). Memory grows with the number of distinct values.
    #[serde(default)]
    pub include_value_counts: bool,
}

impl Default for ZonalOptions {
    fn default() -> Self {
        ZonalOptions {
            layer: LayerRef::default(),
            ignore_nodata: true,
            include_value_counts: false,
        }
    }
}

/// Zonal statistics of band `band` of `raster` under the polygons of `vector`.
pub fn zonal_statistics(
    raster: impl AsRef<Path>,
    band: usize,
    vector: impl AsRef<Path>,
    options: &ZonalOptions,
    exec: &Executor,
) -> Result<ZonalStats> {
    let raster = raster.as_ref();
    let zones = ZoneLayer::prepare(vector, &options.layer, raster)?;
    let mut all = zones.stats(
        &[(raster, band)],
        options.ignore_nodata,
        options.include_value_counts,
        exec,
    )?;
    Ok(all.pop().unwrap_or_default())
}

/// Zonal statistics of several aligned raster bands under the same polygons, preparing the
/// vector and scanning its polygons once for all of them.
pub fn zonal_statistics_many<P: AsRef<Path>>(
    rasters: &[(P, usize)],
    vector: impl AsRef<Path>,
    options: &ZonalOptions,
    exec: &Executor,
) -> Result<Vec<ZonalStats>> {
    let Some((first, _)) = rasters.first() else {
        return Ok(Vec::new());
    };
    let zones = ZoneLayer::prepare(vector, &options.layer, first)?;
    zones.stats(
        rasters,
        options.ignore_nodata,
        options.include_value_counts,
        exec,
    )
}

/// A polygon layer prepared for one raster grid: reprojected, in pixel coordinates, indexed by
/// rows. Reuse it for every raster on that grid.
#[derive(Debug, Clone)]
pub struct ZoneLayer {
    vector: PathBuf,
    layer: LayerRef,
    grid: RasterInfo,
    features: Vec<Feature>,
    frame: Option<Frame>,
}

impl ZoneLayer {
    /// Prepare layer `layer` of `vector` for the grid (geotransform, size, projection) of
    /// `grid_raster`.
    pub fn prepare(
        vector: impl AsRef<Path>,
        layer: &LayerRef,
        grid_raster: impl AsRef<Path>,
    ) -> Result<ZoneLayer> {
        let vector = vector.as_ref().to_path_buf();
        let grid = Raster::open(grid_raster.as_ref())?.info()?;
        let (features, frame) = read_features(&vector, layer, &grid)?;
        Ok(ZoneLayer {
            vector,
            layer: layer.clone(),
            grid,
            features,
            frame,
        })
    }

    /// Number of features in the layer (with or without geometry).
    pub fn feature_count(&self) -> usize {
        self.features.len()
    }

    /// The FIDs of the layer, in layer order.
    pub fn fids(&self) -> impl Iterator<Item = u64> + '_ {
        self.features.iter().map(|f| f.fid)
    }

    /// Statistics for each `(raster, band)`, all on the grid this layer was prepared for
    /// (`ignore_nodata` and `value_counts` as [`ZonalOptions`]' fields).
    pub fn stats<P: AsRef<Path>>(
        &self,
        rasters: &[(P, usize)],
        ignore_nodata: bool,
        value_counts: bool,
        exec: &Executor,
    ) -> Result<Vec<ZonalStats>> {
        let tally = Tally {
            ignore_nodata,
            value_counts,
        };
        let bands = self.check_rasters(rasters)?;
        let n_features = self.features.len();
        let mut accs = vec![vec![Acc::new(tally); n_features]; bands.len()];
        if let Some(frame) = self.frame {
            let runner = Runner::new(ZonalOp {
                bands: bands.clone(),
            });
            let tasks = self.block_tasks(frame, tally);
            for result in runtime::map(exec, "zonal_statistics", &runner, tasks)? {
                let per_raster: BlockOutput = result?.side;
                for (acc, part) in accs.iter_mut().zip(per_raster) {
                    for (index, a) in part {
                        acc[index as usize].merge(&a);
                    }
                }
            }
        }
        let mut out: Vec<ZonalStats> = accs
            .iter()
            .map(|acc| {
                self.features
                    .iter()
                    .zip(acc)
                    .map(|(f, a)| (f.fid, a.stats()))
                    .collect()
            })
            .collect();
        // Second pass: features that covered no pixel centre use their envelope's window.
        let Some(frame) = self.frame else {
            self.warn_if_no_overlap(&out);
            return Ok(out);
        };
        let missed: Vec<(u64, pgp_core::Window)> = self
            .features
            .iter()
            .enumerate()
            .filter(|(i, _)| accs.first().map(|a| a[*i].pixels()).unwrap_or(0) == 0)
            .filter_map(|(_, f)| {
                Some((f.fid, fallback_window(f.shape.as_ref()?.envelope, &frame)?))
            })
            .collect();
        if !missed.is_empty() {
            for (band, stats) in bands.iter().zip(out.iter_mut()) {
                let raster = Raster::open(&band.path)?;
                for &(fid, window) in &missed {
                    stats.insert(fid, window_stats(&raster, band, window, tally)?);
                }
            }
        }
        self.warn_if_no_overlap(&out);
        Ok(out)
    }

    /// Statistics where no polygon met a single pixel are all zero and look like a result:
    /// say so, with both extents, and both CRSs when they differ (the usual cause).
    fn warn_if_no_overlap(&self, out: &[ZonalStats]) {
        let Some(first) = out.first() else { return };
        let met = first.values().any(|s| s.count + s.nodata_count > 0);
        if met || first.is_empty() {
            return;
        }
        crate::progress::warn("zonal_statistics", &self.no_overlap_message());
    }

    fn no_overlap_message(&self) -> String {
        let raster_crs = self.grid.projection_wkt.clone();
        let vector = pgp_core::vector_info(&self.vector, &self.layer).ok();
        let vector_crs = vector.as_ref().and_then(|v| v.projection_wkt.clone());
        let label = |crs: &Option<String>| {
            crs.as_deref()
                .map_or_else(|| "no CRS".to_string(), crate::geom::crs_label)
        };
        let differ = match (&raster_crs, &vector_crs) {
            (Some(a), Some(b)) => !crate::geom::same_projection(a, b).unwrap_or(false),
            (None, None) => false,
            _ => true,
        };
        let vector_box = vector
            .and_then(|v| v.bounding_box)
            .map_or_else(|| "none".to_string(), |b| format!("{:?}", b.to_array()));
        let mut message = format!(
            "no polygon of {} overlaps a pixel of {}: every count is 0 (polygons {} in {}, \
             raster {:?} in {})",
            self.vector.display(),
            self.grid.path.display(),
            vector_box,
            label(&vector_crs),
            self.grid.bounding_box.to_array(),
            label(&raster_crs),
        );
        if differ {
            message.push_str(
                "; the CRSs differ (the polygons were reprojected): check that each file \
                 declares the CRS its coordinates are in",
            );
        }
        message
    }

    /// Opens each raster, checks it is on this layer's grid and has the band, and returns the
    /// bands with their nodata values.
    fn check_rasters<P: AsRef<Path>>(&self, rasters: &[(P, usize)]) -> Result<Vec<BandRef>> {
        rasters
            .iter()
            .map(|(path, band)| {
                let path = path.as_ref();
                let info = Raster::open(path)?.info()?;
                if *band == 0 || *band > info.n_bands {
                    return Err(pgp_core::Error::BandOutOfRange { path: path.to_path_buf(), band: *band, count: info.n_bands }.into());
                }
                let same_grid = info.geotransform == self.grid.geotransform
                    && info.raster_size == self.grid.raster_size
                    && info.projection_wkt == self.grid.projection_wkt;
                if !same_grid {
                    return Err(Error::invalid(
                        "rasters",
                        format!(
                            "{} is not on the grid {} was prepared for ({}): zonal statistics needs aligned rasters",
                            path.display(),
                            self.vector.display(),
                            self.grid.path.display()
                        ),
                    ));
                }
                Ok(BandRef { path: path.to_path_buf(), band: *band, nodata: info.nodata[*band - 1] })
            })
            .collect()
    }

    /// One task per block that some feature reaches, in block order.
    fn block_tasks(&self, frame: Frame, tally: Tally) -> impl Iterator<Item = BlockTask> + '_ {
        let windows = block_windows(self.grid.raster_size, self.grid.block_size, LARGEST_BLOCK);
        let (bx, by) = windows.step();
        let (cols, rows) = self.grid.raster_size;
        let n_x = cols.div_ceil(bx);
        let n_y = rows.div_ceil(by);
        // Which features reach which block, from their pixel row and column ranges.
        let mut reach: Vec<Vec<u32>> = vec![Vec::new(); n_x * n_y];
        for (i, f) in self.features.iter().enumerate() {
            let Some(s) = &f.shape else { continue };
            let (c0, c1) = (s.cols.0.max(0), s.cols.1.min(cols as i64));
            let (r0, r1) = (s.rows.0.max(0), s.rows.1.min(rows as i64));
            if c1 <= c0 || r1 <= r0 {
                continue;
            }
            for iy in (r0 as usize / by)..=((r1 - 1) as usize / by) {
                for ix in (c0 as usize / bx)..=((c1 - 1) as usize / bx) {
                    reach[iy * n_x + ix].push(i as u32);
                }
            }
        }
        windows.enumerate().filter_map(move |(k, window)| {
            let reaching = &reach[k];
            if reaching.is_empty() {
                return None;
            }
            let (r0, r1) = (window.y_off as i64, (window.y_off + window.height) as i64);
            let features = reaching
                .iter()
                .filter_map(|&i| {
                    let shape = self.features[i as usize].shape.as_ref()?;
                    let (edges, hspans) = shape.edges_for_rows(r0, r1, &frame);
                    (!edges.is_empty() || !hspans.is_empty()).then_some(BlockFeature {
                        index: i,
                        edges,
                        hspans,
                    })
                })
                .collect::<Vec<_>>();
            (!features.is_empty()).then_some(BlockTask {
                window,
                tally,
                frame,
                features,
            })
        })
    }
}

/// Zonal statistics over some bands, block by block.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ZonalOp {
    bands: Vec<BandRef>,
}

impl BlockOp for ZonalOp {
    type Item = BlockTask;
    type Side = BlockOutput;
    type Prepared = ();

    fn inputs(&self) -> Vec<PathBuf> {
        self.bands.iter().map(|b| b.path.clone()).collect()
    }

    fn prepare(&self) -> Result<()> {
        Ok(())
    }

    fn compute(
        &self,
        _: &(),
        inputs: &Handles<'_>,
        task: BlockTask,
    ) -> Result<Computed<BlockOutput>> {
        Ok(Computed::side(task.window, task.run(&self.bands, inputs)?))
    }
}

impl RemoteBlockOp for ZonalOp {
    const NAME: &'static str = "pgp_ops::zonal::block";
}
register_block_op!(ZonalOp);
