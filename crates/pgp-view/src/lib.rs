//! Quicklook pictures of rasters: what `pgp quicklook` and the run report's thumbnails draw.
//!
//! A band is read at reduced resolution through `pgp-core` (GDAL picks an overview when the
//! file has one, and otherwise samples the nearest pixel of each picture pixel), coloured with a
//! colormap ([`Colormap`]: viridis, terrain, gray, categorical), optionally shaded by a
//! hillshade or coloured on a log scale, given a legend with the value range and units, and
//! encoded as PNG. Nodata pixels are transparent. The same raster and [`Options`] always give
//! the same bytes.
//!
//! ```
//! use pgp_view::{encode_png, render, Colormap, Options};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let dem = dir.path().join("dem.tif");
//! pgp_core::sample::dem(&dem, 300, 1)?;
//! let options = Options { colormap: Colormap::Terrain, hillshade: true, max_size: 100, ..Options::default() };
//! let picture = render(&dem, &options)?;
//! assert_eq!(picture.image_size, (100, 100));
//! // The bottom rows of the sample DEM are nodata: transparent.
//! let last_row = (picture.image_size.1 - 1) * picture.width * 4;
//! assert_eq!(picture.rgba[last_row + 3], 0);
//! let png = encode_png(&picture)?;
//! assert_eq!(&png[1..4], b"PNG");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod colormap;
mod encode;
mod error;
pub mod legend;
mod render;
pub mod shade;

use std::path::Path;

pub use colormap::Colormap;
pub use encode::{encode_png, write_png};
pub use error::{Result, ViewError};
pub use render::{picture_size, render, suggest_colormap, Options, Picture, MAX_SUGGESTED_CLASSES};

/// Draw the raster at `raster` and write it as a PNG at `png` (atomically). Returns what was
/// drawn.
pub fn quicklook(raster: &Path, png: &Path, options: &Options) -> Result<Picture> {
    let picture = render(raster, options)?;
    write_png(&picture, png)?;
    Ok(picture)
}
