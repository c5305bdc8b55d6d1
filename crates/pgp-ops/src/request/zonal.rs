//! `pgp.zonal_stats`: [`zonal_statistics`] as a request, written as JSON.

use std::path::PathBuf;

use pgp_core::LayerRef;
use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::{one_band, one_target, yes, Request};
use crate::{zonal_statistics, FeatureStats, Result, ZonalOptions, ZonalStats};

/// Per-polygon statistics of a raster band, written to a JSON file
/// `{"<fid>": {"min", "max", "sum", "count", "nodata_count"}, ...}` ([`zonal_json`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZonalRequest {
    /// The raster whose values are summarised.
    pub raster: PathBuf,
    /// Its band.
    #[serde(default = "one_band")]
    pub band: usize,
    /// The polygons (reprojected to the raster's projection when they differ).
    pub vector: PathBuf,
    /// The vector layer, by index (`"0"`, the default) or name.
    #[serde(default)]
    pub layer: Option<String>,
    /// Leave nodata pixels out of min, max, sum and count (default true).
    #[serde(default = "yes")]
    pub ignore_nodata: bool,
    /// Where to write the statistics as JSON.
    pub target: PathBuf,
}

impl ZonalRequest {
    /// The options of [`zonal_statistics`] this request stands for.
    pub fn options(&self) -> ZonalOptions {
        let layer = match self.layer.as_deref().map(|l| (l, l.parse::<usize>())) {
            None => LayerRef::default(),
            Some((_, Ok(i))) => LayerRef::Index(i),
            Some((name, Err(_))) => LayerRef::Name(name.to_string()),
        };
        ZonalOptions {
            layer,
            ignore_nodata: self.ignore_nodata,
        }
    }
}

impl Request for ZonalRequest {
    const NAME: &'static str = "pgp.zonal_stats";
    // 2: the JSON is one feature per line (as `pgp zonal-stats` prints it), no longer indented.
    const VERSION: u32 = 2;
    type Output = ZonalStats;
    type Error = crate::Error;

    fn run(&self, exec: &Executor) -> Result<ZonalStats> {
        let stats = zonal_statistics(&self.raster, self.band, &self.vector, &self.options(), exec)?;
        write_atomically(&self.target, zonal_json(&stats).as_bytes())?;
        Ok(stats)
    }
    fn inputs(&self) -> Vec<PathBuf> {
        vec![self.raster.clone(), self.vector.clone()]
    }
    one_target!();
}

/// Writes `bytes` under a temporary sibling name and renames it to `path`, so a failure never
/// leaves a partial file that looks complete.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".pgp-tmp-{}", std::process::id()));
    let temp = path.with_file_name(name);
    let written = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        pgp_core::Error::io(path, e).into()
    })
}

/// One feature's statistics as a JSON object; `min` and `max` are null when no pixel was valid
/// (JSON has no NaN, so a NaN min or max is null too).
fn feature_json(s: &FeatureStats) -> String {
    let number = |v: Option<f64>| match v {
        Some(v) if v.is_finite() => format_f64(v),
        _ => "null".to_string(),
    };
    format!(
        "{{\"min\":{},\"max\":{},\"sum\":{},\"count\":{},\"nodata_count\":{}}}",
        number(s.min),
        number(s.max),
        number(Some(s.sum)),
        s.count,
        s.nodata_count
    )
}

/// A float as JSON: the shortest text that reads back as the same `f64`, always with a decimal
/// point or exponent so it reads back as a float.
fn format_f64(v: f64) -> String {
    let text = format!("{v:?}");
    if text.contains(['.', 'e', 'E']) {
        text
    } else {
        format!("{text}.0")
    }
}

/// Statistics as JSON text, `{"<fid>": {...}, ...}` in FID order, one feature per line: what
/// `pgp zonal-stats` prints and a `pgp.zonal_stats` task writes.
pub fn zonal_json(stats: &ZonalStats) -> String {
    let mut text = String::from("{");
    for (i, (fid, s)) in stats.iter().enumerate() {
        text.push_str(if i == 0 { "\n" } else { ",\n" });
        text.push_str(&format!("  \"{fid}\": {}", feature_json(s)));
    }
    text.push_str(if stats.is_empty() { "}" } else { "\n}" });
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_valid_in_fid_order_with_null_for_missing_and_nan() {
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
        let text = zonal_json(&stats);
        assert!(text.find("\"2\"").unwrap() < text.find("\"10\"").unwrap());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v["2"],
            serde_json::json!({"min": 1.0, "max": null, "sum": 3.5, "count": 2, "nodata_count": 1})
        );
        assert_eq!(v["10"]["min"], serde_json::Value::Null);
        assert_eq!(zonal_json(&ZonalStats::new()), "{}");
    }

    #[test]
    fn floats_read_back_exactly() {
        for v in [0.1, 1e300, -2.5e-8, 3.0, f64::MAX] {
            let back: f64 = serde_json::from_str(&format_f64(v)).unwrap();
            assert_eq!(back, v);
        }
    }
}
