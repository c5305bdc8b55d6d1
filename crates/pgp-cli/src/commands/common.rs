//! What the operation subcommands share: argument parsers (used as clap value parsers, so a bad
//! value is reported with the flag it was given to), the executor default, a stopwatch and
//! the JSON summary of an output raster.

use std::path::Path;
use std::time::Instant;

use pgp::core::{raster_info, BoundingBox, DataType};
use pgp::exec::{Executor, ExecutorSpec};
use pgp::ops::{BoundingBoxMode, ResampleMethod};
use serde_json::{json, Value};

use super::info::nodata_json;
use crate::output::outln;

/// `--executor SPEC`, shared by every operation subcommand.
#[derive(Debug, clap::Args)]
pub struct ExecutorArg {
    /// Executor: sync, threading[:N], multiprocessing[:N] or slurm:workers=N,... (default:
    /// threading, all cores).
    #[arg(long, value_name = "SPEC", value_parser = parse_executor_spec)]
    executor: Option<ExecutorSpec>,
}

impl ExecutorArg {
    /// Build the executor (a thread pool on every core when no spec was given).
    pub fn build(&self) -> Result<Executor, String> {
        let spec = self.executor.clone().unwrap_or(ExecutorSpec::Threads(None));
        Executor::from_spec(&spec).map_err(|e| format!("--executor {spec}: {e}"))
    }
}

fn parse_executor_spec(s: &str) -> Result<ExecutorSpec, String> {
    s.parse().map_err(|e: pgp::exec::ExecError| e.to_string())
}

/// `X,Y`: two finite, non-zero numbers (the sign of Y says whether rows go south, as GDAL's).
pub fn parse_pixel_size(s: &str) -> Result<(f64, f64), String> {
    let numbers =
        parse_numbers(s).ok_or_else(|| format!("expected X,Y (two numbers), got {s:?}"))?;
    match numbers[..] {
        [x, y] if x.is_finite() && y.is_finite() && x != 0.0 && y != 0.0 => Ok((x, y)),
        [_, _] => Err(format!("expected two finite, non-zero numbers, got {s:?}")),
        _ => Err(format!(
            "expected X,Y (two numbers), got {} number(s) in {s:?}",
            numbers.len()
        )),
    }
}

/// `union`, `intersection` or `MINX,MINY,MAXX,MAXY` (a box with area).
pub fn parse_bbox(s: &str) -> Result<BoundingBoxMode, String> {
    match s.trim() {
        "union" => return Ok(BoundingBoxMode::Union),
        "intersection" => return Ok(BoundingBoxMode::Intersection),
        _ => {}
    }
    let expected = "expected union, intersection or MINX,MINY,MAXX,MAXY";
    let numbers = parse_numbers(s).ok_or_else(|| format!("{expected}, got {s:?}"))?;
    let [xmin, ymin, xmax, ymax] = numbers[..] else {
        return Err(format!(
            "{expected}, got {} number(s) in {s:?}",
            numbers.len()
        ));
    };
    if !numbers.iter().all(|v| v.is_finite()) {
        return Err(format!("the box's numbers must be finite, got {s:?}"));
    }
    if xmin >= xmax || ymin >= ymax {
        return Err(format!(
            "the box must have MINX < MAXX and MINY < MAXY, got {s:?}"
        ));
    }
    Ok(BoundingBoxMode::Explicit(BoundingBox::new(
        xmin, ymin, xmax, ymax,
    )))
}

/// One resampling method by GDAL's name.
pub fn parse_resample(s: &str) -> Result<ResampleMethod, String> {
    s.parse::<ResampleMethod>().map_err(|_| {
        let valid: Vec<&str> = ResampleMethod::ALL.iter().map(|m| m.gdal_name()).collect();
        format!(
            "unknown resampling method; expected one of {}",
            valid.join(", ")
        )
    })
}

/// A pixel type by GDAL name (`Float32`) or short name (`f32`).
pub fn parse_datatype(s: &str) -> Result<DataType, String> {
    s.parse::<DataType>().map_err(|_| {
        "not a pixel type; expected one of Byte, Int8, UInt16, Int16, UInt32, Int32, Float32, \
         Float64"
            .to_string()
    })
}

/// A band number, from 1.
pub fn parse_band(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(0) => Err("bands are numbered from 1, got 0".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a band number (from 1), got {s:?}")),
    }
}

/// A number, `nan` or `inf` included (nodata values may be NaN).
pub fn parse_number(s: &str) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .map_err(|_| format!("expected a number, got {s:?}"))
}

fn parse_numbers(s: &str) -> Option<Vec<f64>> {
    s.split(',').map(|v| v.trim().parse::<f64>().ok()).collect()
}

/// Fail with "PATH: no such file or directory" before any work when an input is missing, so
/// the message names the file and the flag it came from.
/// GDAL virtual paths (`/vsizip/...`, `/vsicurl/...`) are left to GDAL.
pub fn require_file(path: &Path, what: &str) -> Result<(), String> {
    if path.exists() || path.to_string_lossy().starts_with("/vsi") {
        Ok(())
    } else {
        Err(format!(
            "{}: no such file or directory ({what})",
            path.display()
        ))
    }
}

/// Fail before any work when an output cannot be created (its directory is missing or is a
/// file, or the path is a directory), naming the flag and the path as the user typed them:
/// `--out nodir/sub/out.tif: directory nodir/sub does not exist`.
pub fn require_output(path: &Path, flag: &str) -> Result<(), String> {
    pgp::core::check_output_path(path).map_err(|e| format!("{flag} {e}"))
}

/// How long a command's operation took (progress itself is drawn by [`crate::progress`]).
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Start timing.
    pub fn start() -> Stopwatch {
        Stopwatch(Instant::now())
    }

    /// Seconds since the start.
    pub fn seconds(&self) -> f64 {
        self.0.elapsed().as_secs_f64()
    }
}

/// The JSON summary of an output raster: what a script needs to find and use it.
pub fn output_json(path: &Path) -> Result<Value, String> {
    let info = raster_info(path).map_err(|e| e.to_string())?;
    Ok(json!({
        "path": path,
        "size": [info.raster_size.0, info.raster_size.1],
        "pixel_size": [info.pixel_size.0, info.pixel_size.1],
        "bounding_box": info.bounding_box.to_array(),
        "datatype": info.datatype.gdal_name(),
        "nodata": info.nodata.iter().map(|n| nodata_json(*n)).collect::<Vec<_>>(),
    }))
}

/// The one-line human summary of an output raster.
pub fn output_line(output: &Value) -> String {
    format!(
        "wrote {} ({} x {} pixels, {})",
        output["path"].as_str().unwrap_or("?"),
        output["size"][0],
        output["size"][1],
        output["datatype"].as_str().unwrap_or("?"),
    )
}

/// Print the outputs: a JSON document with `--json`, else one line per output.
pub fn print_outputs(outputs: Vec<Value>, seconds: f64, as_json: bool) -> super::CmdResult {
    if as_json {
        let doc = json!({ "outputs": outputs, "seconds": seconds });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        outln!("{text}")?;
    } else {
        for o in &outputs {
            outln!("{}", output_line(o))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixel_size_needs_two_finite_non_zero_numbers() {
        assert_eq!(parse_pixel_size("30,-30"), Ok((30.0, -30.0)));
        assert_eq!(parse_pixel_size(" 0.5 , 2"), Ok((0.5, 2.0)));
        assert!(parse_pixel_size("30").unwrap_err().contains("1 number"));
        assert!(parse_pixel_size("0,30").unwrap_err().contains("non-zero"));
        assert!(parse_pixel_size("nan,30").unwrap_err().contains("finite"));
        assert!(parse_pixel_size("a,b").unwrap_err().contains("X,Y"));
    }

    #[test]
    fn bbox_takes_modes_or_a_box_with_area() {
        assert_eq!(parse_bbox("union"), Ok(BoundingBoxMode::Union));
        assert_eq!(
            parse_bbox("intersection"),
            Ok(BoundingBoxMode::Intersection)
        );
        assert_eq!(
            parse_bbox("1,2,3,4"),
            Ok(BoundingBoxMode::Explicit(BoundingBox::new(
                1.0, 2.0, 3.0, 4.0
            )))
        );
        assert!(parse_bbox("1,2,3").unwrap_err().contains("3 number"));
        assert!(parse_bbox("3,2,1,4").unwrap_err().contains("MINX < MAXX"));
        assert!(parse_bbox("unoin")
            .unwrap_err()
            .contains("union, intersection"));
    }

    #[test]
    fn resample_errors_list_every_method() {
        assert_eq!(parse_resample("Bilinear"), Ok(ResampleMethod::Bilinear));
        let err = parse_resample("bilinaer").unwrap_err();
        for m in ResampleMethod::ALL {
            assert!(err.contains(m.gdal_name()), "{err}");
        }
    }
}
