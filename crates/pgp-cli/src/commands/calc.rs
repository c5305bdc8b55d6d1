//! `pgp calc EXPR --in NAME=PATH[:BAND] ... --out PATH`: raster algebra; with
//! `--out-band EXPR` given once per band instead of `EXPR`, a several-band output.

use std::collections::HashSet;
use std::path::PathBuf;

use pgp::core::DataType;
use pgp::ops::expr::ExprError;
use pgp::ops::{evaluate_bands, ExprInput, ExprOptions, Expression};
use serde_json::json;

use super::common::{
    output_json, parse_datatype, parse_number, print_outputs, require_file, require_output,
    ExecutorArg, Stopwatch,
};
use super::{CaretError, CmdResult, ERROR_PREFIX};

/// Arguments of `pgp calc`.
#[derive(Debug, clap::Args)]
pub struct CalcArgs {
    /// The expression, e.g. `where(lc == 3, dem * 2.5, -9999)`: a one-band output. For several
    /// bands leave it out and give `--out-band` once per band.
    #[arg(allow_hyphen_values = true)]
    expr: Option<String>,
    /// One output band's expression; repeat for each band, band 1 first (e.g.
    /// `--out-band 'r*2' --out-band 'g+1'` writes 2 bands). All bands share the `--in`
    /// bindings, `--type` (default: one that holds every band's results) and `--nodata`, and
    /// are computed in one pass. Not with `EXPR`.
    #[arg(long = "out-band", value_name = "EXPR", allow_hyphen_values = true)]
    out_bands: Vec<String>,
    /// Bind a name to a raster band: NAME=PATH, or NAME=PATH:BAND (band from 1; default 1).
    #[arg(long = "in", value_name = "NAME=PATH[:BAND]", value_parser = parse_binding, required = true)]
    inputs: Vec<Binding>,
    /// The output raster (on the first input's grid).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Output pixel type (default: from the inputs and the expression).
    #[arg(long = "type", value_name = "DTYPE", value_parser = parse_datatype)]
    datatype: Option<DataType>,
    /// Output nodata (default: the type's maximum).
    #[arg(long, value_name = "V", value_parser = parse_number, allow_hyphen_values = true)]
    nodata: Option<f64>,
    #[command(flatten)]
    executor: ExecutorArg,
    /// Print a JSON summary of the output.
    #[arg(long)]
    json: bool,
}

/// One `--in NAME=PATH[:BAND]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    name: String,
    path: PathBuf,
    band: usize,
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `NAME=PATH[:BAND]`. The band is taken from the last `:` only when digits follow it, so paths
/// that contain `:` still work.
fn parse_binding(s: &str) -> Result<Binding, String> {
    let (name, rest) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PATH[:BAND], got {s:?}"))?;
    let name = name.trim();
    if !is_identifier(name) {
        return Err(format!(
            "{name:?} is not a name (letters, digits and _, not starting with a digit)"
        ));
    }
    let (path, band) = match rest.rsplit_once(':') {
        Some((path, band)) if !band.is_empty() && band.bytes().all(|b| b.is_ascii_digit()) => {
            let band: usize = band
                .parse()
                .map_err(|_| format!("band {band:?} is too large in {s:?}"))?;
            if band == 0 {
                return Err(format!("bands are numbered from 1, got 0 in {s:?}"));
            }
            (path, band)
        }
        _ => (rest, 1),
    };
    if path.is_empty() {
        return Err(format!("no path after `=` in {s:?}"));
    }
    Ok(Binding {
        name: name.to_string(),
        path: PathBuf::from(path),
        band,
    })
}

/// The expression error as two lines: the message with the expression, then a caret under the
/// column at fault. `main` prints [`ERROR_PREFIX`] first, so the caret is placed past it.
fn expression_error(e: &ExprError) -> String {
    // A newline in the expression would break the alignment; it is one character, as a space.
    let source = e.source_text().replace(['\n', '\r', '\t'], " ");
    let head = "in expression `";
    let line = format!("{head}{source}`, column {}: {}", e.column(), e.message());
    let indent = ERROR_PREFIX.chars().count() + head.chars().count() + e.column().saturating_sub(1);
    format!("{line}\n{}^", " ".repeat(indent))
}

/// The band expressions: `EXPR` alone, or the `--out-band`s.
fn band_texts(args: &CalcArgs) -> Result<Vec<&str>, String> {
    match (&args.expr, args.out_bands.as_slice()) {
        (Some(expr), []) => Ok(vec![expr.as_str()]),
        (None, []) => {
            Err("give the expression (EXPR), or one --out-band EXPR per output band".to_string())
        }
        (None, bands) => Ok(bands.iter().map(String::as_str).collect()),
        (Some(expr), _) => Err(format!(
            "--out-band cannot be combined with the expression `{expr}` given as EXPR: give \
             every band, band 1 first, as --out-band EXPR"
        )),
    }
}

/// Run `pgp calc`.
pub fn run(args: CalcArgs) -> CmdResult {
    // Parse first: a bad expression is reported before any file is looked at.
    let mut bands = Vec::new();
    for text in band_texts(&args)? {
        match text.parse::<Expression>() {
            Ok(e) => bands.push(e),
            Err(e) => return Err(CaretError(expression_error(&e)).into()),
        }
    }
    let mut seen = HashSet::new();
    for b in &args.inputs {
        if !seen.insert(b.name.as_str()) {
            return Err(format!("--in: `{}` is bound more than once", b.name).into());
        }
        require_file(&b.path, &format!("--in {}", b.name))?;
    }
    require_output(&args.out, "--out")?;
    let exec = args.executor.build()?;
    // In the order given: the output takes the first input's grid.
    let bindings: Vec<(String, ExprInput)> = args
        .inputs
        .iter()
        .map(|b| {
            let input = ExprInput::Raster {
                path: b.path.clone(),
                band: b.band,
            };
            (b.name.clone(), input)
        })
        .collect();
    let options = ExprOptions {
        datatype: args.datatype,
        nodata: args.nodata,
        ..Default::default()
    };
    let stopwatch = Stopwatch::start();
    let report = match evaluate_bands(&bands, &bindings, &args.out, &options, &exec) {
        Ok(r) => r,
        Err(pgp::ops::Error::Expression(e)) => return Err(CaretError(expression_error(&e)).into()),
        Err(e) => return Err(e.into()),
    };
    let seconds = stopwatch.seconds();
    let mut output = output_json(&args.out)?;
    output["blocks"] = json!(report.blocks);
    output["valid_pixels"] = json!(report.valid_pixels);
    output["statistics"] = statistics_json(report.statistics);
    let per_band: Vec<_> = (report.band_statistics.iter().enumerate())
        .map(|(i, s)| {
            let mut entry = statistics_json(*s);
            if let Some(fields) = entry.as_object_mut() {
                fields.insert("band".into(), json!(i + 1));
            }
            entry
        })
        .collect();
    output["band_statistics"] = json!(per_band);
    print_outputs(vec![output], seconds, args.json)?;
    Ok(())
}

/// A band's statistics as `--json` prints them (`null` when the band has none).
fn statistics_json(stats: Option<pgp::core::BandStatistics>) -> serde_json::Value {
    match stats {
        Some(s) => json!({"min": s.min, "max": s.max, "mean": s.mean, "std_dev": s.std_dev}),
        None => json!(null),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_take_an_optional_band_after_the_last_colon() {
        let b = parse_binding("dem=data/dem.tif").unwrap();
        assert_eq!((b.name.as_str(), b.band), ("dem", 1));
        assert_eq!(b.path, PathBuf::from("data/dem.tif"));
        let b = parse_binding("x_1=a:b.tif:3").unwrap();
        assert_eq!((b.path, b.band), (PathBuf::from("a:b.tif"), 3));
        let b = parse_binding("x=/vsizip/a.zip/b.tif").unwrap();
        assert_eq!(b.band, 1);
        assert!(parse_binding("dem.tif").unwrap_err().contains("NAME=PATH"));
        assert!(parse_binding("1a=x.tif")
            .unwrap_err()
            .contains("not a name"));
        assert!(parse_binding("a=x.tif:0").unwrap_err().contains("from 1"));
        assert!(parse_binding("a=").unwrap_err().contains("no path"));
    }

    #[test]
    fn the_caret_sits_under_the_column() {
        let e = "a + * 2".parse::<pgp::ops::Expression>().unwrap_err();
        let text = format!("{ERROR_PREFIX}{}", expression_error(&e));
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let expr_start = lines[0].find("`a + * 2`").unwrap() + 1;
        let caret = lines[1].find('^').unwrap();
        assert_eq!(caret, expr_start + e.column() - 1);
        assert_eq!(&lines[0][caret..caret + 1], "*");
    }
}
