//! The flow-shape classifier: finds pools no feed knows from the shape of their flows.
//!
//! [`load`] reads the inputs of training and evaluation, [`data`] labels flows and reads and
//! writes window tables, [`forest`] fits a
//! probability forest with smartcore and compiles it into flat arrays, [`train`] runs grouped
//! cross-validation by pool, calibrates the forest's output into a probability and picks the
//! `suspect` and `mining` thresholds on held-out flows, and [`metrics`] has the measures. A
//! trained model is one JSON [`ModelFile`]: feature schema and names (checked on load), training
//! summary, hyperparameters, cross-validation metrics, calibration, thresholds and the forest.
//! [`Model`] puts it behind the scorer's [`FlowModel`] trait.

pub mod data;
mod error;
pub mod forest;
pub mod load;
pub mod metrics;
pub mod train;

use crate::features::shape::{SHAPE_CONTEXT, SHAPE_FEATURES, SHAPE_SCHEMA};
use crate::output::FlowRecord;
use crate::score::{FlowModel, ModelOutput, ModelSays, Verdict};
use error::invalid;
pub use error::{ModelError, Result};
use forest::FlatForest;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use train::{CvReport, TrainOptions};

pub use crate::features::netflow::NETFLOW_SCHEMA;
pub use load::{load_training, FeatureSet, LabelFrom, TrainingData, TrainingInputs};

/// Rows of the flow-only feature set for a record: its own when it came from a flow export,
/// else what an exporter would have reported for the capture's flow (one record each way).
pub fn netflow_rows(rec: &FlowRecord) -> Vec<Vec<f32>> {
    if rec.model_schema == NETFLOW_SCHEMA {
        return rec.model_rows.clone();
    }
    let c = crate::features::netflow::conversation_from_flow_record(rec);
    vec![crate::features::netflow::netflow_features(&c)]
}

/// The flow-export rows of a record by variant, for training the flow-only model: a flow
/// export's own row, or for a capture flow the conversations exporters would report for it.
pub fn netflow_variants(rec: &FlowRecord) -> Vec<(String, Vec<Vec<f32>>)> {
    if rec.model_schema == NETFLOW_SCHEMA || rec.export_variants.is_empty() {
        return vec![(String::new(), netflow_rows(rec))];
    }
    rec.export_variants
        .iter()
        .map(|(v, row)| (v.clone(), vec![row.clone()]))
        .collect()
}

/// True when a table has every feature column of `names` (a window table), false for other
/// tables (flow exports). Only the column names are read, so a large flow export is not loaded
/// to find out.
pub fn is_window_table(path: &Path, names: &[&str]) -> Result<bool> {
    let cols = data::table_columns(path)?;
    Ok(names.iter().all(|n| cols.iter().any(|c| c == n)))
}

/// Format tag of model files.
pub const MODEL_FORMAT: &str = "poolscope-model/1";

/// Features named in a verdict's reason.
const TOP_FEATURES: usize = 3;

/// The feature names (model inputs) of a schema this build computes, or None for an unknown
/// schema.
pub fn schema_features(schema: &str) -> Option<Vec<&'static str>> {
    match schema {
        SHAPE_SCHEMA => Some(SHAPE_FEATURES.to_vec()),
        NETFLOW_SCHEMA => Some(crate::features::netflow::NETFLOW_FEATURES.to_vec()),
        _ => None,
    }
}

/// Every column of a schema's rows: the features, then the context columns the gate and the
/// weighting read (window rows carry [`SHAPE_CONTEXT`], flow-export rows
/// [`crate::features::netflow::NETFLOW_CONTEXT`]). Window tables hold these columns.
pub fn schema_columns(schema: &str) -> Option<Vec<&'static str>> {
    let mut cols = schema_features(schema)?;
    if schema == SHAPE_SCHEMA {
        cols.extend_from_slice(SHAPE_CONTEXT);
    } else if schema == NETFLOW_SCHEMA {
        cols.extend_from_slice(crate::features::netflow::NETFLOW_CONTEXT);
    }
    Some(cols)
}

/// Decision thresholds on the forest's mean output (the raw score), chosen on held-out flows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// At or above: `suspect`.
    pub suspect: f64,
    /// At or above: `mining`.
    pub mining: f64,
}

impl Thresholds {
    /// The verdict of a raw score.
    pub fn verdict(&self, raw: f64) -> Verdict {
        if raw >= self.mining {
            Verdict::Mining
        } else if raw >= self.suspect {
            Verdict::Suspect
        } else {
            Verdict::Benign
        }
    }
}

/// Monotone map from raw score to probability, fitted on held-out flows (isotonic
/// regression). Empty: the raw score is used as is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Raw scores of the steps, increasing.
    pub raw: Vec<f32>,
    /// Probability at each step, non-decreasing.
    pub prob: Vec<f32>,
}

impl Calibration {
    /// The calibrated probability of a raw score: linear between steps, flat beyond the ends.
    pub fn apply(&self, x: f64) -> f64 {
        let (r, p) = (&self.raw, &self.prob);
        if r.is_empty() || r.len() != p.len() {
            return x.clamp(0.0, 1.0);
        }
        let x = x as f32;
        if x <= r[0] {
            return p[0] as f64;
        }
        let last = r.len() - 1;
        if x >= r[last] {
            return p[last] as f64;
        }
        let i = r.partition_point(|&v| v <= x);
        let (x0, x1, y0, y1) = (r[i - 1], r[i], p[i - 1], p[i]);
        let t = if x1 > x0 { (x - x0) / (x1 - x0) } else { 1.0 };
        (y0 + t * (y1 - y0)) as f64
    }
}

/// What the model was trained on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingSummary {
    /// Flows read.
    pub flows: usize,
    /// Flows with no label (left out).
    pub unlabelled_flows: usize,
    /// Labelled flows the model does not apply to (UDP, no data both ways).
    pub ineligible_flows: usize,
    /// Labelled flows with data both ways but too little for the gate (left out of training).
    #[serde(default)]
    pub insufficient_flows: usize,
    /// Mining flows trained on.
    pub mining_flows: usize,
    /// Benign flows trained on.
    pub benign_flows: usize,
    /// Rows (windows) of the mining flows.
    pub mining_rows: usize,
    /// Rows of the benign flows.
    pub benign_rows: usize,
    /// Pool groups (server name or address).
    pub groups: usize,
    /// Groups with mining flows.
    pub mining_groups: usize,
    /// Sessions (a capture's flows to one pool group).
    #[serde(default)]
    pub sessions: usize,
    /// Sources (data sets) of the judged flows.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Flows per class and labelling rule (`mining:stratum`, `benign:capture`...).
    pub label_sources: BTreeMap<String, usize>,
    /// The inputs read (file names).
    pub inputs: Vec<String>,
}

/// One feature's importance in the final forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Importance {
    /// Feature name.
    pub feature: String,
    /// Share of the impurity decrease (sums to 1).
    pub importance: f64,
}

/// A trained model as stored on disk (JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelFile {
    /// [`MODEL_FORMAT`].
    pub format: String,
    /// Feature schema of the rows the model reads (`shape-v1`, `netflow-v1`).
    pub schema: String,
    /// Feature names in row order.
    pub features: Vec<String>,
    /// Version of poolscope that trained it.
    pub poolscope_version: String,
    /// Hyperparameters, validation and threshold options.
    pub options: TrainOptions,
    /// Decision thresholds on the raw score.
    pub thresholds: Thresholds,
    /// Raw score → probability.
    pub calibration: Calibration,
    /// Training data.
    pub training: TrainingSummary,
    /// Grouped cross-validation on the training data (None when it was skipped).
    pub cv: Option<CvReport>,
    /// Feature importances, largest first.
    pub importances: Vec<Importance>,
    /// The forest.
    pub forest: FlatForest,
}

impl ModelFile {
    /// Reads and checks a model file: format, a feature schema this build computes with the
    /// same feature names in the same order, and a forest whose indices are all in range.
    pub fn load(path: &Path) -> Result<ModelFile> {
        let text =
            std::fs::read_to_string(path).map_err(|e| ModelError::io(path, "read model", e))?;
        ModelFile::parse(&text, &path.display().to_string())
    }

    /// Reads a model from disk, or the built-in copy of the shipped model of that schema
    /// (`shape-v2`: `default.model`; `netflow-v2`: `netflow.model`).
    pub fn load_located(at: &crate::resources::Located, schema: &str) -> Result<ModelFile> {
        use crate::resources::{Located, BUILTIN_MODEL, BUILTIN_NETFLOW_MODEL};
        match at {
            Located::Path(p) => ModelFile::load(p),
            Located::BuiltIn if schema == NETFLOW_SCHEMA => {
                ModelFile::parse(BUILTIN_NETFLOW_MODEL, "built-in netflow.model")
            }
            Located::BuiltIn => ModelFile::parse(BUILTIN_MODEL, "built-in default.model"),
        }
    }

    /// Parses and checks the JSON text of a model; `origin` names it in messages.
    pub fn parse(text: &str, origin: &str) -> Result<ModelFile> {
        let m: ModelFile = serde_json::from_str(text).map_err(|e| {
            invalid!(
                "{origin}: not a poolscope model (line {}, column {}: {e})",
                e.line(),
                e.column()
            )
        })?;
        if m.format != MODEL_FORMAT {
            return Err(invalid!(
                "{origin}: model format {:?}, this poolscope reads {MODEL_FORMAT:?}",
                m.format
            ));
        }
        let Some(expected) = extra_schema_features(&m.schema) else {
            return Err(invalid!(
                "{origin}: feature schema {:?} is unknown to this poolscope; retrain the model with `poolscope train`",
                m.schema
            ));
        };
        if m.features != expected {
            return Err(invalid!(
                "{origin}: the model was trained on {} features of schema {:?} that differ from the {} this poolscope computes; retrain it with `poolscope train`",
                m.features.len(),
                m.schema,
                expected.len()
            ));
        }
        if m.forest.n_features != m.features.len() {
            return Err(invalid!("{origin}: forest and feature list disagree"));
        }
        m.forest
            .check()
            .map_err(|e| invalid!("{origin}: damaged forest: {e}"))?;
        Ok(m)
    }

    /// Writes the model atomically, so a failed write leaves the old one.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string(self).map_err(|e| invalid!("serialising the model: {e}"))?;
        crate::output::write_atomic(path, text.as_bytes())
            .map_err(|e| ModelError::io(path, "write", e))?;
        Ok(())
    }

    /// Raw score of a flow: the forest's mean output over its scored rows
    /// ([`data::scored_rows`]).
    pub fn raw_score(&self, rows: &[Vec<f32>]) -> f64 {
        let scored = data::scored_rows(&self.schema, rows);
        if scored.is_empty() {
            return 0.0;
        }
        scored
            .iter()
            .map(|r| self.forest.predict(r) as f64)
            .sum::<f64>()
            / scored.len() as f64
    }

    /// Whether the model may judge a flow of this transport and rows (its gate).
    pub fn eligibility(&self, transport: &str, rows: &[Vec<f32>]) -> data::Eligibility {
        self.options.gate.eligibility(transport, &self.schema, rows)
    }

    /// Verdict of a raw score by the model's thresholds.
    pub fn verdict(&self, raw: f64) -> Verdict {
        self.thresholds.verdict(raw)
    }
}

/// Feature names for a schema, including schemas other modules define.
fn extra_schema_features(schema: &str) -> Option<Vec<String>> {
    schema_features(schema).map(|v| v.iter().map(|s| s.to_string()).collect())
}

/// A loaded model, usable by the scorer.
pub struct Model {
    file: ModelFile,
}

impl Model {
    /// Loads and checks a model file.
    pub fn load(path: &Path) -> Result<Model> {
        Ok(Model {
            file: ModelFile::load(path)?,
        })
    }

    /// Wraps a model already in memory.
    pub fn new(file: ModelFile) -> Model {
        Model { file }
    }

    /// The model file.
    pub fn file(&self) -> &ModelFile {
        &self.file
    }
}

impl FlowModel for Model {
    fn predict(&self, rec: &FlowRecord) -> ModelSays {
        let m = &self.file;
        if rec.model_schema != m.schema {
            return ModelSays::NotApplicable;
        }
        let rows = &rec.model_rows;
        match m.eligibility(rec.transport, rows) {
            data::Eligibility::NotApplicable => return ModelSays::NotApplicable,
            data::Eligibility::Insufficient(e) => {
                let unit = if m.schema == NETFLOW_SCHEMA {
                    "packets"
                } else {
                    "messages"
                };
                return ModelSays::Insufficient(format!(
                    "{} client and {} server {unit} in {} s; needs {} each way over {} s",
                    e.c2s,
                    e.s2c,
                    short(e.seconds),
                    m.options.gate.min_each_way,
                    short(m.options.gate.min_seconds)
                ));
            }
            data::Eligibility::Speaks(_) => {}
        }
        let scored = data::scored_rows(&m.schema, rows);
        let raw = m.raw_score(rows);
        let verdict = m.verdict(raw);
        let mut contrib = vec![0f32; m.features.len()];
        for r in &scored {
            for (c, x) in contrib.iter_mut().zip(m.forest.contributions(r)) {
                *c += x;
            }
        }
        let mut order: Vec<usize> = (0..contrib.len()).collect();
        // Toward mining for a flagged flow, toward benign otherwise.
        let sign = if verdict > Verdict::Benign { 1.0 } else { -1.0 };
        order.sort_by(|&a, &b| (sign * contrib[b]).total_cmp(&(sign * contrib[a])));
        let top_features = order
            .into_iter()
            .take(TOP_FEATURES)
            .filter(|&i| sign * contrib[i] > 0.0)
            .map(|i| {
                let v = scored.iter().map(|r| r[i] as f64).sum::<f64>() / scored.len() as f64;
                format!("{}={}", m.features[i], short(v))
            })
            .collect();
        ModelSays::Speaks(ModelOutput {
            probability: m.calibration.apply(raw),
            verdict,
            top_features,
        })
    }
}

/// Several models, one per feature schema: each record goes to the model of its schema
/// (window rows of captures to the shape model, flow-export rows to the NetFlow model).
#[derive(Default)]
pub struct ModelSet {
    models: Vec<Model>,
}

impl ModelSet {
    /// Adds a model; a later model of the same schema replaces the earlier one.
    pub fn add(&mut self, m: Model) {
        self.models.retain(|x| x.file.schema != m.file.schema);
        self.models.push(m);
    }

    /// True when no model was added.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

impl FlowModel for ModelSet {
    fn predict(&self, rec: &FlowRecord) -> ModelSays {
        self.models
            .iter()
            .find(|m| m.file.schema == rec.model_schema)
            .map_or(ModelSays::NotApplicable, |m| m.predict(rec))
    }
}

/// A feature value with three significant digits.
fn short(v: f64) -> String {
    if !v.is_finite() {
        return "NA".into();
    }
    let a = v.abs();
    if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
