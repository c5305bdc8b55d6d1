//! An expression evaluation as one serialisable value: what a pipeline file or a task graph
//! stores and runs.

use std::collections::BTreeMap;
use std::path::PathBuf;

use pgp_exec::Executor;
use serde::{Deserialize, Serialize};

use super::expression::{evaluate_bands, ExprInput, ExprOptions};
use super::CalcReport;
use crate::expr::Expression;
use crate::Result;

/// Everything [`evaluate`](super::evaluate) needs, as data: one expression per output band.
///
/// In a pipeline file (TOML), inputs are paths (band 1), `{ path = "...", band = 2 }`, or
/// numbers; `expression` is one expression (a one-band output) or a list of them, one per
/// output band, all over the same inputs and computed in one pass over the windows:
///
/// ```
/// use pgp_ops::calc::ExpressionJob;
/// let job: ExpressionJob = serde_json::from_str(r#"{
///     "expression": "where(lc == 3, dem * k, -9999)",
///     "inputs": { "dem": "dem.tif", "lc": { "path": "lc.tif", "band": 1 }, "k": 2.5 },
///     "target": "out.tif",
///     "options": { "nodata": -9999.0 }
/// }"#).unwrap();
/// assert_eq!(job.inputs_paths(), vec![std::path::PathBuf::from("dem.tif"), "lc.tif".into()]);
///
/// let two_bands: ExpressionJob = serde_json::from_str(r#"{
///     "expression": ["dem * 2", "dem + k"],
///     "inputs": { "dem": "dem.tif", "k": 1 },
///     "target": "out.tif"
/// }"#).unwrap();
/// assert_eq!(two_bands.bands().len(), 2);
/// ```
///
/// A one-band job is stored exactly as before multi-band jobs existed (in pipeline files and in
/// the binary form task keys are computed from), so its cached results keep their keys.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpressionJob {
    /// The expression of band 1 (parsed, and so checked, when the job is read).
    pub expression: Expression,
    /// The expressions of bands 2, 3, ... (empty: a one-band output).
    pub more_bands: Vec<Expression>,
    /// Variable name to raster band or number.
    pub inputs: BTreeMap<String, ExprInput>,
    /// The output raster.
    pub target: PathBuf,
    /// Output type, nodata, statistics, driver (shared by every band).
    pub options: ExprOptions,
}

impl ExpressionJob {
    /// A one-band job.
    pub fn new(
        expression: Expression,
        inputs: BTreeMap<String, ExprInput>,
        target: impl Into<PathBuf>,
        options: ExprOptions,
    ) -> ExpressionJob {
        ExpressionJob {
            expression,
            more_bands: Vec::new(),
            inputs,
            target: target.into(),
            options,
        }
    }

    /// Every band's expression, band 1 first.
    pub fn bands(&self) -> Vec<&Expression> {
        std::iter::once(&self.expression)
            .chain(&self.more_bands)
            .collect()
    }

    /// Evaluate on `exec` (any executor, process pools included).
    pub fn run(&self, exec: &Executor) -> Result<CalcReport> {
        let bindings: Vec<(String, ExprInput)> = self
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let bands: Vec<Expression> = self.bands().into_iter().cloned().collect();
        evaluate_bands(&bands, &bindings, &self.target, &self.options, exec)
    }

    /// The rasters it reads (variables some band uses), in name order.
    pub fn inputs_paths(&self) -> Vec<PathBuf> {
        let bands = self.bands();
        self.inputs
            .iter()
            .filter(|(name, _)| bands.iter().any(|e| e.variables().contains(name)))
            .filter_map(|(_, v)| match v {
                ExprInput::Raster { path, .. } => Some(path.clone()),
                ExprInput::Scalar(_) => None,
            })
            .collect()
    }
}

/// The human-readable form: `expression` is one text or a list of them.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobText {
    expression: BandsText,
    inputs: BTreeMap<String, ExprInput>,
    target: PathBuf,
    #[serde(default)]
    options: ExprOptions,
}

#[derive(Serialize)]
#[serde(untagged)]
enum BandsText {
    One(Expression),
    Several(Vec<Expression>),
}

/// Texts are parsed after the shape is known, so a parse error keeps its message (an untagged
/// enum of expressions would only say that no variant matched).
#[derive(Deserialize)]
#[serde(untagged)]
enum BandsSource {
    One(String),
    Several(Vec<String>),
}

impl<'de> Deserialize<'de> for BandsText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let parse = |t: &str| Expression::parse(t).map_err(D::Error::custom);
        match BandsSource::deserialize(d).map_err(|_| {
            D::Error::custom("`expression` must be an expression or a list of them, one per band")
        })? {
            BandsSource::One(t) => parse(&t).map(BandsText::One),
            BandsSource::Several(ts) => ts
                .iter()
                .map(|t| parse(t))
                .collect::<std::result::Result<_, _>>()
                .map(BandsText::Several),
        }
    }
}

/// The binary form (worker processes, task keys): the fields of the one-band job, the bands'
/// texts in the expression's place: band 1's text alone for one band (the form one-band jobs
/// always had), else [`SEVERAL`] followed by every band's text, each ended by a zero byte. No
/// expression text holds a zero byte (the parser refuses it), so neither form reads as the other.
#[derive(Serialize, Deserialize)]
struct JobBinary {
    expression: String,
    inputs: BTreeMap<String, ExprInput>,
    target: PathBuf,
    options: ExprOptions,
}

/// What opens the binary text of several bands.
const SEVERAL: &str = "\0bands\0";

impl Serialize for ExpressionJob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let expression = if self.more_bands.is_empty() {
                BandsText::One(self.expression.clone())
            } else {
                BandsText::Several(self.bands().into_iter().cloned().collect())
            };
            JobText {
                expression,
                inputs: self.inputs.clone(),
                target: self.target.clone(),
                options: self.options.clone(),
            }
            .serialize(s)
        } else {
            let expression = if self.more_bands.is_empty() {
                self.expression.source().to_string()
            } else {
                let mut text = SEVERAL.to_string();
                for band in self.bands() {
                    text.push_str(band.source());
                    text.push('\0');
                }
                text
            };
            JobBinary {
                expression,
                inputs: self.inputs.clone(),
                target: self.target.clone(),
                options: self.options.clone(),
            }
            .serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for ExpressionJob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let (bands, inputs, target, options) = if d.is_human_readable() {
            let job = JobText::deserialize(d)?;
            let bands = match job.expression {
                BandsText::One(e) => vec![e],
                BandsText::Several(list) => list,
            };
            (bands, job.inputs, job.target, job.options)
        } else {
            let job = JobBinary::deserialize(d)?;
            let bands = match job.expression.strip_prefix(SEVERAL) {
                None => vec![Expression::parse(&job.expression).map_err(D::Error::custom)?],
                Some(texts) => texts
                    .split_terminator('\0')
                    .map(Expression::parse)
                    .collect::<std::result::Result<_, _>>()
                    .map_err(D::Error::custom)?,
            };
            (bands, job.inputs, job.target, job.options)
        };
        let mut bands = bands.into_iter();
        let expression = bands
            .next()
            .ok_or_else(|| D::Error::custom("`expression` lists no band"))?;
        Ok(ExpressionJob {
            expression,
            more_bands: bands.collect(),
            inputs,
            target,
            options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(bands: &[&str]) -> ExpressionJob {
        let mut bands = bands.iter().map(|t| Expression::parse(t).unwrap());
        let inputs = BTreeMap::from([
            ("a".to_string(), ExprInput::Scalar(1.0)),
            (
                "b".to_string(),
                ExprInput::Raster {
                    path: "b.tif".into(),
                    band: 2,
                },
            ),
        ]);
        let mut job = ExpressionJob::new(
            bands.next().unwrap(),
            inputs,
            "out.tif",
            ExprOptions::default(),
        );
        job.more_bands = bands.collect();
        job
    }

    /// What a one-band job was stored as before multi-band jobs existed (the derived form of
    /// its four fields): its task keys are computed from these bytes.
    #[derive(Serialize)]
    struct OneBandBefore<'a> {
        expression: &'a Expression,
        inputs: &'a BTreeMap<String, ExprInput>,
        target: &'a PathBuf,
        options: &'a ExprOptions,
    }

    #[test]
    fn a_one_band_job_is_stored_as_before() {
        let j = job(&["a * b + 1"]);
        let before = OneBandBefore {
            expression: &j.expression,
            inputs: &j.inputs,
            target: &j.target,
            options: &j.options,
        };
        assert_eq!(
            bincode::serialize(&j).unwrap(),
            bincode::serialize(&before).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&j).unwrap(),
            serde_json::to_value(&before).unwrap()
        );
    }

    #[test]
    fn several_bands_round_trip_in_both_forms_and_differ_from_one() {
        for bands in [vec!["a * b"], vec!["a * b", "b + 1"], vec!["b", "b", "-b"]] {
            let j = job(&bands);
            let bytes = bincode::serialize(&j).unwrap();
            assert_eq!(bincode::deserialize::<ExpressionJob>(&bytes).unwrap(), j);
            let text = serde_json::to_string(&j).unwrap();
            assert_eq!(serde_json::from_str::<ExpressionJob>(&text).unwrap(), j);
        }
        let one = bincode::serialize(&job(&["a * b"])).unwrap();
        let two = bincode::serialize(&job(&["a * b", "a * b"])).unwrap();
        assert_ne!(one, two);
    }

    #[test]
    fn an_empty_band_list_is_refused() {
        let err = serde_json::from_str::<ExpressionJob>(
            r#"{"expression": [], "inputs": {}, "target": "o.tif"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no band"), "{err}");
        // The binary form's marker can never be one expression's text.
        assert!(Expression::parse(SEVERAL).is_err());
        let err = serde_json::from_str::<ExpressionJob>(
            r#"{"expression": ["a", "a +"], "inputs": {}, "target": "o.tif"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("a +"), "{err}");
    }
}
