//! Gathering training data: the inputs given to `train` and `eval` (captures, flow exports,
//! window tables, or directories of them) read, turned into model rows of one feature set and
//! labelled by the rules given.

use super::data::{
    capture_matches, read_labels, read_window_table, source_of_path, FlowMeta, Labeller, TrainFlow,
};
use super::error::{invalid, ModelError, Result};
use crate::extract::{run_inputs, ExtractConfig, Inputs, Progress, RunOutcome};
use crate::intel::{Matcher, PoolFeed};
use crate::output::FlowRecord;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Which feature set a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeatureSet {
    /// Window rows of application messages from packet captures (`shape-v2`).
    Shape,
    /// What flow exports have: durations, packets, bytes (`netflow-v2`).
    Netflow,
}

impl FeatureSet {
    /// The schema name.
    pub fn schema(self) -> &'static str {
        match self {
            FeatureSet::Shape => crate::features::shape::SHAPE_SCHEMA,
            FeatureSet::Netflow => super::NETFLOW_SCHEMA,
        }
    }

    /// The feature set of a schema name.
    pub fn of_schema(schema: &str) -> Option<FeatureSet> {
        [FeatureSet::Shape, FeatureSet::Netflow]
            .into_iter()
            .find(|s| s.schema() == schema)
    }
}

/// A labelling rule beyond explicit labels and all-benign/all-mining inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LabelFrom {
    /// Flows where a plaintext mining protocol was confirmed are mining.
    Stratum,
    /// Flows to pools the feeds list are mining.
    Feeds,
}

/// The extractor's active timeout when it reads captures to train the flow-only model: a week,
/// so a miner's session reaches the exporter simulation whole.
const NETFLOW_TRAINING_ACTIVE_TIMEOUT: f64 = 7.0 * 86_400.0;

/// Where labelled flows come from and how they are labelled.
#[derive(Debug, Clone)]
pub struct TrainingInputs {
    /// Inputs of any label (captures, flow exports, window tables, directories of them).
    pub data: Vec<PathBuf>,
    /// Inputs whose flows are all benign.
    pub benign: Vec<PathBuf>,
    /// Inputs whose flows are all mining.
    pub mining: Vec<PathBuf>,
    /// A labels CSV ([`read_labels`]).
    pub labels: Option<PathBuf>,
    /// More labelling rules.
    pub label_from: Vec<LabelFrom>,
    /// Feeds for [`LabelFrom::Feeds`] (the default feeds when None).
    pub feeds: Option<PathBuf>,
    /// The feature set to read.
    pub features: FeatureSet,
    /// Captures left out (`*` wildcards against path or file name).
    pub exclude: Vec<String>,
}

/// The labelled flows of a [`TrainingInputs`].
#[derive(Debug, Default)]
pub struct TrainingData {
    /// Every flow read, labelled or not.
    pub flows: Vec<TrainFlow>,
    /// File names of the inputs (recorded in the model).
    pub inputs: Vec<String>,
    /// How reading the captures and flow exports went, when any were read.
    pub extraction: Option<RunOutcome>,
}

/// Captures found under a directory, sorted.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ModelError::io(dir, "list", e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_capture_name(&p)
            || (crate::logs::is_log_name(&p) && crate::logs::detect(&p).is_some())
        {
            out.push(p);
        }
    }
    Ok(())
}

fn is_capture_name(p: &Path) -> bool {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    [".pcap", ".pcapng", ".cap", ".pcap.gz"]
        .iter()
        .any(|e| name.ends_with(e))
}

fn is_table_name(p: &Path) -> bool {
    matches!(
        p.extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref(),
        Some("parquet" | "csv" | "ndjson" | "jsonl")
    )
}

/// Expands directories into the captures under them, each with the source it belongs to
/// ([`source_of_path`]).
fn expand(paths: &[PathBuf]) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found)?;
            out.extend(found.into_iter().map(|f| {
                let s = source_of_path(&f, Some(p));
                (f, s)
            }));
        } else {
            out.push((p.clone(), source_of_path(p, None)));
        }
    }
    Ok(out)
}

/// The model rows of a flow record for a feature set, by variant: a capture's window rows as
/// they are; for the flow-only model, the conversations exporters would report for the flow
/// (see [`super::netflow_variants`]).
fn rows_for(rec: &FlowRecord, set: FeatureSet) -> Vec<(String, Vec<Vec<f32>>)> {
    match set {
        FeatureSet::Shape => vec![(String::new(), rec.model_rows.clone())],
        FeatureSet::Netflow => super::netflow_variants(rec),
    }
}

/// Reads and labels every input. Window tables of the feature set are read as they are;
/// everything else goes through the extraction pipeline ([`run_inputs`], reporting to
/// `progress`), whose problems with single inputs are kept in
/// [`TrainingData::extraction`].
pub fn load_training(spec: &TrainingInputs, progress: &dyn Progress) -> Result<TrainingData> {
    let set = spec.features;
    let columns = super::schema_columns(set.schema())
        .ok_or_else(|| invalid!("unknown schema {}", set.schema()))?;
    let mut labeller = Labeller::default();
    if let Some(l) = &spec.labels {
        labeller.rules = read_labels(l)?;
    }
    for rule in &spec.label_from {
        match rule {
            LabelFrom::Stratum => labeller.from_stratum = true,
            LabelFrom::Feeds => {
                let at = spec.feeds.clone().map_or_else(
                    crate::resources::default_feeds,
                    crate::resources::Located::Path,
                );
                let feed = PoolFeed::load_located(&at)?;
                labeller.feeds = Some(Matcher::new(&feed));
            }
        }
    }
    let data = expand(&spec.data)?;
    let benign = expand(&spec.benign)?;
    let mining = expand(&spec.mining)?;
    for (list, l) in [(&benign, false), (&mining, true)] {
        for (p, _) in list {
            labeller.captures.insert(p.display().to_string(), l);
        }
    }
    let mut all: Vec<(PathBuf, String)> = Vec::new();
    for (p, s) in data.iter().chain(&benign).chain(&mining) {
        if !all.iter().any(|(q, _)| q == p) {
            all.push((p.clone(), s.clone()));
        }
    }
    let excluded = |capture: &str| spec.exclude.iter().any(|e| capture_matches(e, capture));
    let mut tables = Vec::new();
    let mut others = Vec::new();
    for (p, s) in &all {
        if is_table_name(p) && super::is_window_table(p, &columns)? {
            tables.push(p.clone());
        } else if !excluded(&p.display().to_string()) {
            others.push((p.clone(), s.clone()));
        }
    }
    let mut out = TrainingData::default();
    for t in &tables {
        for mut f in read_window_table(t, &columns)? {
            if excluded(&f.meta.capture) {
                continue;
            }
            let (label, source) = labeller.label(&f.meta);
            if label.is_some() {
                f.label = label;
                f.label_source = source;
            }
            out.flows.push(f);
        }
    }
    if !others.is_empty() {
        let sources: HashMap<String, String> = others
            .iter()
            .map(|(p, s)| (p.display().to_string(), s.clone()))
            .collect();
        let inputs = Inputs::detect(others.into_iter().map(|(p, _)| p).collect());
        let mut cfg = ExtractConfig::default();
        if set == FeatureSet::Netflow {
            // Whole sessions: the exporter cuts are simulated per timeout, from 1 minute to
            // none, so the extractor's own active timeout must not cut first.
            cfg.exporter_cuts = true;
            cfg.flow.active_timeout = NETFLOW_TRAINING_ACTIVE_TIMEOUT;
        }
        let flows = &mut out.flows;
        let outcome = run_inputs(
            &inputs,
            cfg,
            &mut |rec| {
                let mut meta = FlowMeta::from_record(&rec);
                meta.source = sources
                    .get(&meta.capture)
                    .cloned()
                    .unwrap_or_else(|| source_of_path(Path::new(&meta.capture), None));
                for (variant, rows) in rows_for(&rec, set) {
                    let mut meta = meta.clone();
                    meta.variant = variant;
                    let (label, source) = labeller.label(&meta);
                    flows.push(TrainFlow {
                        rows,
                        meta,
                        label,
                        label_source: source,
                    });
                }
                Ok(())
            },
            progress,
        )?;
        out.extraction = Some(outcome);
    }
    out.inputs = all
        .iter()
        .map(|(p, _)| {
            p.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        })
        .collect();
    Ok(out)
}
