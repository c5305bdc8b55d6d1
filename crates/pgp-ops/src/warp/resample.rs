//! Resampling methods (GDAL's names) and overview levels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A GDAL resampling method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResampleMethod {
    /// Nearest neighbour.
    Near,
    /// Bilinear interpolation (2 x 2 kernel).
    Bilinear,
    /// Cubic convolution (4 x 4 kernel).
    Cubic,
    /// Cubic B-spline (4 x 4 kernel).
    CubicSpline,
    /// Lanczos windowed sinc (6 x 6 kernel).
    Lanczos,
    /// Weighted average of every contributing pixel.
    Average,
    /// Root mean square of every contributing pixel.
    Rms,
    /// Most frequent value.
    Mode,
    /// Minimum.
    Min,
    /// Maximum.
    Max,
    /// Median.
    Med,
    /// First quartile.
    Q1,
    /// Third quartile.
    Q3,
    /// Weighted sum.
    Sum,
}

impl ResampleMethod {
    /// Every method.
    pub const ALL: [ResampleMethod; 14] = [
        ResampleMethod::Near,
        ResampleMethod::Bilinear,
        ResampleMethod::Cubic,
        ResampleMethod::CubicSpline,
        ResampleMethod::Lanczos,
        ResampleMethod::Average,
        ResampleMethod::Rms,
        ResampleMethod::Mode,
        ResampleMethod::Min,
        ResampleMethod::Max,
        ResampleMethod::Med,
        ResampleMethod::Q1,
        ResampleMethod::Q3,
        ResampleMethod::Sum,
    ];

    /// GDAL's name (`-r` value of gdalwarp).
    pub fn gdal_name(self) -> &'static str {
        match self {
            ResampleMethod::Near => "near",
            ResampleMethod::Bilinear => "bilinear",
            ResampleMethod::Cubic => "cubic",
            ResampleMethod::CubicSpline => "cubicspline",
            ResampleMethod::Lanczos => "lanczos",
            ResampleMethod::Average => "average",
            ResampleMethod::Rms => "rms",
            ResampleMethod::Mode => "mode",
            ResampleMethod::Min => "min",
            ResampleMethod::Max => "max",
            ResampleMethod::Med => "med",
            ResampleMethod::Q1 => "q1",
            ResampleMethod::Q3 => "q3",
            ResampleMethod::Sum => "sum",
        }
    }

    /// Parse a name, naming `argument` in the error (e.g. `resample_methods[2]`).
    pub fn parse_for(name: &str, argument: &str) -> Result<ResampleMethod> {
        let lower = name.trim().to_ascii_lowercase();
        let found = ResampleMethod::ALL
            .into_iter()
            .find(|m| m.gdal_name() == lower)
            // GDAL also accepts `nearest`.
            .or_else(|| (lower == "nearest").then_some(ResampleMethod::Near));
        found.ok_or_else(|| Error::UnknownResampleMethod {
            name: name.to_string(),
            argument: argument.to_string(),
            valid: ResampleMethod::ALL
                .iter()
                .map(|m| m.gdal_name())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

impl ResampleMethod {
    /// Parse one name per raster (as pygeoprocessing's `resample_method_list`); an unknown name
    /// is reported with its position, e.g. `resample_methods[2]`.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<ResampleMethod>> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| ResampleMethod::parse_for(n.as_ref(), &format!("resample_methods[{i}]")))
            .collect()
    }
}

impl fmt::Display for ResampleMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.gdal_name())
    }
}

impl FromStr for ResampleMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<ResampleMethod> {
        ResampleMethod::parse_for(s, "resample_method")
    }
}

/// Which pixels of the source the warper reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum OverviewLevel {
    /// The full-resolution raster, never an overview (pygeoprocessing's documented meaning of its
    /// default `use_overview_level=-1`; gdalwarp `-ovr NONE`).
    #[default]
    Base,
    /// The overview closest to the target resolution (`-ovr AUTO`).
    Auto,
    /// `n` levels finer than [`OverviewLevel::Auto`] would pick (`-ovr AUTO-n`). Note:
    /// pygeoprocessing 2.4.11 on GDAL 3.6's Python bindings actually passes `AUTO-1` for its
    /// default, which only differs from `Base` for rasters that have overviews.
    AutoMinus(u32),
    /// Overview number `n`, from 0 (the finest overview).
    Level(u32),
}

impl OverviewLevel {
    /// The value of gdalwarp's `-ovr`.
    pub fn gdal_value(self) -> String {
        match self {
            OverviewLevel::Base => "NONE".to_string(),
            OverviewLevel::Auto => "AUTO".to_string(),
            OverviewLevel::AutoMinus(n) => format!("AUTO-{n}"),
            OverviewLevel::Level(n) => n.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in ResampleMethod::ALL {
            assert_eq!(m.gdal_name().parse::<ResampleMethod>().unwrap(), m);
            assert_eq!(m.to_string(), m.gdal_name());
        }
        assert_eq!(
            "Nearest".parse::<ResampleMethod>().unwrap(),
            ResampleMethod::Near
        );
    }

    #[test]
    fn lists_name_the_bad_position() {
        let ok = ResampleMethod::parse_list(&["near", "bilinear"]).unwrap();
        assert_eq!(ok, vec![ResampleMethod::Near, ResampleMethod::Bilinear]);
        let e = ResampleMethod::parse_list(&["near", "mode", "gaussian"]).unwrap_err();
        assert!(e.to_string().contains("resample_methods[2]"), "{e}");
    }

    #[test]
    fn unknown_name_is_reported_with_the_argument() {
        let e = ResampleMethod::parse_for("bicubic", "resample_methods[1]").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("bicubic") && msg.contains("resample_methods[1]"),
            "{msg}"
        );
        assert!(msg.contains("cubicspline"), "lists the valid names: {msg}");
    }
}
