//! `pgp zonal-stats RASTER VECTOR [--band N]`: per-polygon statistics as JSON.

use std::path::PathBuf;

use pgp::core::LayerRef;
use pgp::ops::{zonal_statistics, FeatureStats, ZonalOptions, ZonalStats};
use serde_json::{json, Value};

use super::common::{parse_band, require_file, ExecutorArg};
use super::CmdResult;
use crate::output::outln;

/// Arguments of `pgp zonal-stats`.
#[derive(Debug, clap::Args)]
pub struct ZonalArgs {
    /// The raster whose values are summarised.
    raster: PathBuf,
    /// The polygons (reprojected to the raster's projection when they differ).
    vector: PathBuf,
    /// The raster band, from 1.
    #[arg(long, default_value_t = 1, value_parser = parse_band)]
    band: usize,
    /// The vector layer, by index or name.
    #[arg(long, default_value = "0")]
    layer: String,
    #[command(flatten)]
    executor: ExecutorArg,
}

/// One feature's statistics; `min` and `max` are null when no pixel was valid (and JSON has no
/// NaN, so a NaN min or max is null too).
pub fn stats_json(s: &FeatureStats) -> Value {
    json!({
        "min": s.min,
        "max": s.max,
        "sum": s.sum,
        "count": s.count,
        "nodata_count": s.nodata_count,
    })
}

/// `{"<fid>": {...}, ...}` in FID order, one feature per line.
fn render(stats: &ZonalStats) -> Result<String, serde_json::Error> {
    let mut text = String::from("{");
    for (i, (fid, s)) in stats.iter().enumerate() {
        text.push_str(if i == 0 { "\n" } else { ",\n" });
        text.push_str(&format!(
            "  \"{fid}\": {}",
            serde_json::to_string(&stats_json(s))?
        ));
    }
    text.push_str(if stats.is_empty() { "}" } else { "\n}" });
    Ok(text)
}

/// Run `pgp zonal-stats`.
pub fn run(args: ZonalArgs) -> CmdResult {
    require_file(&args.raster, "RASTER")?;
    require_file(&args.vector, "VECTOR")?;
    let exec = args.executor.build()?;
    let layer = match args.layer.parse::<usize>() {
        Ok(i) => LayerRef::Index(i),
        Err(_) => LayerRef::Name(args.layer.clone()),
    };
    let options = ZonalOptions {
        layer,
        ..Default::default()
    };
    let stats = zonal_statistics(&args.raster, args.band, &args.vector, &options, &exec)?;
    outln!("{}", render(&stats)?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_json_in_fid_order() {
        let mut stats = ZonalStats::new();
        stats.insert(10, FeatureStats::default());
        stats.insert(
            2,
            FeatureStats {
                min: Some(1.0),
                max: Some(f64::NAN),
                sum: 3.5,
                count: 2,
                nodata_count: 1,
            },
        );
        let text = render(&stats).unwrap();
        assert!(text.find("\"2\"").unwrap() < text.find("\"10\"").unwrap());
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["2"],
            json!({"min": 1.0, "max": null, "sum": 3.5, "count": 2, "nodata_count": 1})
        );
        assert_eq!(v["10"]["min"], Value::Null);
        assert_eq!(render(&ZonalStats::new()).unwrap(), "{}");
    }
}
