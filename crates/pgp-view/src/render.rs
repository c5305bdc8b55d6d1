//! From a raster band to RGBA pixels: reduced read, value range, colours, hillshade, legend.

use std::collections::BTreeSet;
use std::path::Path;

use ndarray::Array2;
use pgp_core::nodata::valid_mask;
use pgp_core::{with_pixel_type, DynArray, Raster, Window};

use crate::legend::{self, format_value, Canvas, Key, LEGEND_HEIGHT, LEGEND_MIN_WIDTH};
use crate::shade::hillshade;
use crate::{Colormap, Result, ViewError};

/// Metres per degree along a meridian: the cell size of a geographic raster for hillshading.
const METRES_PER_DEGREE: f64 = 111_320.0;
/// Most distinct classes a categorical legend lists as swatches.
const MAX_LEGEND_CLASSES: usize = 64;

/// How to draw a raster (the options of `pgp quicklook`).
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Band, from 1.
    pub band: usize,
    /// Colormap.
    pub colormap: Colormap,
    /// Shade the colours by a hillshade of the values (for DEMs).
    pub hillshade: bool,
    /// Colour by `log10` of the values (for flow accumulation); values `<= 0` get the low end.
    pub log: bool,
    /// The values at the two ends of the colormap; default: the minimum and maximum of the
    /// pixels read (positive ones with `log`).
    pub range: Option<(f64, f64)>,
    /// Longest side of the picture in pixels (the raster is never enlarged).
    pub max_size: usize,
    /// Draw the legend strip (colour bar, range, units) under the picture.
    pub legend: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            band: 1,
            colormap: Colormap::Viridis,
            hillshade: false,
            log: false,
            range: None,
            max_size: 1024,
            legend: true,
        }
    }
}

/// A rendered picture and what it shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// Width of the whole PNG in pixels.
    pub width: usize,
    /// Height of the whole PNG in pixels (picture and legend).
    pub height: usize,
    /// RGBA pixels, row-major; nodata pixels are fully transparent.
    pub rgba: Vec<u8>,
    /// `(cols, rows)` of the raster part (without the legend).
    pub image_size: (usize, usize),
    /// `(cols, rows)` of the raster.
    pub raster_size: (usize, usize),
    /// The values at the ends of the colormap (`None` when no pixel is valid); for a
    /// categorical map, the smallest and largest class present.
    pub range: Option<(f64, f64)>,
    /// The band's unit, when the file says.
    pub unit: Option<String>,
    /// Whether the file has overviews GDAL could read from instead of the full resolution.
    pub has_overviews: bool,
    /// Valid (coloured) pixels in the picture.
    pub valid_pixels: usize,
}

/// The picture's `(cols, rows)` for a raster of `size` and a longest side of `max_size`.
pub fn picture_size(size: (usize, usize), max_size: usize) -> (usize, usize) {
    let (cols, rows) = size;
    let long = cols.max(rows).max(1);
    if long <= max_size {
        return (cols.max(1), rows.max(1));
    }
    let scale = max_size as f64 / long as f64;
    let side = |n: usize| ((n as f64 * scale).round() as usize).clamp(1, max_size);
    (side(cols), side(rows))
}

fn check(options: &Options) -> Result<()> {
    let bad = |name, reason: &str| {
        Err(ViewError::Option {
            name,
            reason: reason.to_string(),
        })
    };
    if options.max_size == 0 {
        return bad("max-size", "must be at least 1 pixel");
    }
    if options.band == 0 {
        return bad("band", "bands count from 1");
    }
    if let Some((lo, hi)) = options.range {
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(ViewError::Option {
                name: "range",
                reason: format!("needs finite MIN < MAX, got {lo},{hi}"),
            });
        }
        if options.log && lo <= 0.0 {
            return Err(ViewError::Option {
                name: "range",
                reason: format!("with --log MIN must be above 0, got {lo}"),
            });
        }
    }
    if options.colormap.is_categorical() && (options.log || options.range.is_some()) {
        let name = if options.log { "log" } else { "range" };
        return bad(
            name,
            "has no meaning with --colormap categorical (classes have no range)",
        );
    }
    Ok(())
}

/// Values as f64 and where they are valid (not nodata, and finite: NaN and infinities cannot
/// be coloured).
fn values_and_mask(a: &DynArray, nodata: Option<f64>) -> (Array2<f64>, Array2<bool>) {
    let values = a.to_f64();
    let dt = a.data_type();
    let typed = with_pixel_type!(dt, T => a.view::<T>().map(|v| valid_mask(v, nodata)));
    let mut mask = typed.unwrap_or_else(|| Array2::from_elem(values.dim(), true));
    ndarray::Zip::from(&mut mask)
        .and(&values)
        .for_each(|m, v| *m = *m && v.is_finite());
    (values, mask)
}

fn data_range(values: &Array2<f64>, valid: &Array2<bool>, log: bool) -> Option<(f64, f64)> {
    let mut range: Option<(f64, f64)> = None;
    for (&v, _) in values
        .iter()
        .zip(valid.iter())
        .filter(|(v, m)| **m && (!log || **v > 0.0))
    {
        range = Some(match range {
            None => (v, v),
            Some((lo, hi)) => (lo.min(v), hi.max(v)),
        });
    }
    range
}

/// Where `v` falls between the ends of the colormap, in `[0, 1]`.
fn position(v: f64, (lo, hi): (f64, f64), log: bool) -> f64 {
    let (v, lo, hi) = if log {
        (v.max(lo).log10(), lo.log10(), hi.log10())
    } else {
        (v, lo, hi)
    };
    if hi > lo {
        ((v - lo) / (hi - lo)).clamp(0.0, 1.0)
    } else {
        0.5
    }
}

fn cell_size(raster: &Raster, picture: (usize, usize)) -> (f64, f64) {
    let (cols, rows) = raster.size();
    let (px, py) = raster.geotransform().pixel_size();
    let degrees = raster
        .projection_wkt()
        .is_some_and(|w| w.starts_with("GEOGCS") || w.starts_with("GEOGCRS"));
    let unit = if degrees { METRES_PER_DEGREE } else { 1.0 };
    (
        px.abs() * unit * cols as f64 / picture.0 as f64,
        py.abs() * unit * rows as f64 / picture.1 as f64,
    )
}

/// Most distinct values an integer band may hold to be drawn as classes by
/// [`suggest_colormap`].
pub const MAX_SUGGESTED_CLASSES: usize = 16;
/// Side of the sample [`suggest_colormap`] looks at.
const SUGGEST_SAMPLE: usize = 64;

/// The colormap for a picture of `band` when nobody chose one: categorical for an integer band
/// holding at most [`MAX_SUGGESTED_CLASSES`] distinct values in a small sample (land cover,
/// masks), else viridis.
pub fn suggest_colormap(path: &Path, band: usize) -> Result<Colormap> {
    let raster = Raster::open(path)?;
    if raster.data_type(band)?.is_float() {
        return Ok(Colormap::Viridis);
    }
    let size = raster.size();
    let sample = picture_size(size, SUGGEST_SAMPLE);
    let whole = Window::new(0, 0, size.0, size.1);
    let (values, valid) = values_and_mask(
        &raster.read_reduced(band, whole, sample)?,
        raster.nodata(band)?,
    );
    let mut seen = BTreeSet::new();
    for (v, _) in values.iter().zip(valid.iter()).filter(|(_, m)| **m) {
        seen.insert(*v as i64);
        if seen.len() > MAX_SUGGESTED_CLASSES {
            return Ok(Colormap::Viridis);
        }
    }
    Ok(if seen.is_empty() {
        Colormap::Viridis
    } else {
        Colormap::Categorical
    })
}

/// Draw band `options.band` of the raster at `path`. Reads at most the picture's pixels (from
/// overviews when present); never reads the full resolution of a large raster.
pub fn render(path: &Path, options: &Options) -> Result<Picture> {
    check(options)?;
    let raster = Raster::open(path)?;
    let band = options.band;
    let nodata = raster.nodata(band)?;
    let unit = raster.unit(band)?;
    let has_overviews = raster.overview_count(band)? > 0;
    let raster_size = raster.size();
    let (w, h) = picture_size(raster_size, options.max_size);
    let whole = Window::new(0, 0, raster_size.0, raster_size.1);
    let pixels = raster.read_reduced(band, whole, (w, h))?;
    let (values, valid) = values_and_mask(&pixels, nodata);

    let categorical = options.colormap.is_categorical();
    let range = match options.range {
        Some(r) => Some(r),
        None => data_range(&values, &valid, options.log && !categorical),
    };
    let shade = options
        .hillshade
        .then(|| hillshade(&values, &valid, cell_size(&raster, (w, h))));

    let legend_on = options.legend;
    let width = if legend_on {
        w.max(LEGEND_MIN_WIDTH)
    } else {
        w
    };
    let height = if legend_on { h + LEGEND_HEIGHT } else { h };
    let mut canvas = Canvas::new(width, height);
    let mut valid_pixels = 0;
    let mut classes = BTreeSet::new();
    for ((r, c), &v) in values.indexed_iter() {
        if !valid[[r, c]] {
            continue;
        }
        valid_pixels += 1;
        let rgb = if categorical {
            let class = v.round() as i64;
            if classes.len() < MAX_LEGEND_CLASSES {
                classes.insert(class);
            }
            Colormap::class(class)
        } else {
            let t = range.map_or(0.5, |rg| position(v, rg, options.log));
            options.colormap.at(t)
        };
        let rgb = match &shade {
            // Keep a quarter of the colour in full shadow so hues stay readable.
            Some(s) => rgb.map(|x| (x as f64 * (0.25 + 0.75 * s[[r, c]])).round() as u8),
            None => rgb,
        };
        canvas.put(c, r, [rgb[0], rgb[1], rgb[2], 255]);
    }
    if legend_on {
        let key = match (range, categorical) {
            (None, _) => Key::Empty,
            (Some(_), true) => Key::Classes {
                colours: classes.iter().map(|&k| Colormap::class(k)).collect(),
                label: match (classes.first(), classes.last()) {
                    (Some(a), Some(b)) if a != b => format!("classes {a}..{b}"),
                    (Some(a), _) => format!("class {a}"),
                    _ => String::new(),
                },
            },
            (Some((lo, hi)), false) => {
                let map = options.colormap;
                Key::Bar {
                    colour: Box::new(move |t| map.at(t)),
                    low: format_value(lo),
                    high: format_value(hi),
                }
            }
        };
        let mut note = unit.clone().unwrap_or_default();
        if options.log && !categorical {
            note = if note.is_empty() {
                "log10".into()
            } else {
                format!("{note} log10")
            };
        }
        legend::draw(&mut canvas, &key, &note);
    }
    let range = if categorical {
        classes
            .first()
            .zip(classes.last())
            .map(|(a, b)| (*a as f64, *b as f64))
    } else {
        range
    };
    Ok(Picture {
        width,
        height,
        rgba: canvas.rgba,
        image_size: (w, h),
        raster_size,
        range,
        unit,
        has_overviews,
        valid_pixels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_keep_the_aspect_and_never_enlarge() {
        assert_eq!(picture_size((8192, 8192), 1024), (1024, 1024));
        assert_eq!(picture_size((3000, 1000), 300), (300, 100));
        assert_eq!(picture_size((100, 50), 1024), (100, 50));
        assert_eq!(picture_size((100_000, 10), 100), (100, 1));
    }

    #[test]
    fn log_positions_are_even_per_decade() {
        let r = (1.0, 1000.0);
        assert!((position(10.0, r, true) - 1.0 / 3.0).abs() < 1e-12);
        assert!((position(100.0, r, true) - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(position(0.0, r, true), 0.0);
        assert_eq!(position(5.0, (5.0, 5.0), false), 0.5);
    }
}
