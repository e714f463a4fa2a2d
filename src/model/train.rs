//! Fitting, grouped cross-validation, leave-one-source-out evaluation, calibration and
//! thresholds.
//!
//! Every evaluation here scores flows with forests that never saw them: grouped k-fold
//! cross-validation keeps every pool (server name or address) in one fold, and
//! leave-one-source-out trains without a whole data set (a capture family, a lab, a tool's test
//! captures) and scores it. Flows the gate keeps the model from judging count in the
//! denominators as not flagged: the false-positive rates are per benign TCP flow with data both
//! ways, as an analyst would meet them.

use super::data::{scored_rows, Eligibility, Gate, TrainFlow};
use super::error::{invalid, ModelError, Result};
use super::forest::{FlatForest, ForestParams};
use super::metrics::{
    at_threshold, average_precision, roc_auc, threshold_for_fp_rate, wilson_interval, ThresholdRow,
};
use super::MODEL_FORMAT;
use super::{schema_features, Calibration, Importance, ModelFile, Thresholds, TrainingSummary};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A mining flow at least this long (seconds of rows) counts as a long session in the reports.
pub const LONG_SESSION_S: f64 = 300.0;

/// How to train and validate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Forest hyperparameters.
    pub params: ForestParams,
    /// Folds of the grouped cross-validation (0 or 1: none).
    pub folds: usize,
    /// Benign flows per 10,000 the `suspect` threshold may flag in cross-validation.
    pub suspect_fp_per_10k: f64,
    /// Benign flows per 10,000 the `mining` threshold may flag in cross-validation.
    pub mining_fp_per_10k: f64,
    /// How rows are weighted.
    #[serde(default)]
    pub weighting: Weighting,
    /// How much a flow must say before the model judges it.
    #[serde(default)]
    pub gate: Gate,
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            params: ForestParams::default(),
            folds: 5,
            suspect_fp_per_10k: 10.0,
            mining_fp_per_10k: 1.0,
            weighting: Weighting::default(),
            gate: Gate::default(),
        }
    }
}

/// The held-out prediction of one flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OofPrediction {
    /// Index into the flows given to the evaluation.
    pub flow: usize,
    /// The flow's pool group.
    pub group: String,
    /// The flow's source (data set).
    pub source: String,
    /// Fold the flow was held out in (for leave-one-source-out, the source's index).
    pub fold: usize,
    /// False when the gate kept the model from judging the flow (too little evidence): it is
    /// never flagged, and `raw` is 0.
    pub judged: bool,
    /// Mean forest output over the flow's scored rows.
    pub raw: f64,
    /// Forest output of the flow's first scored row alone (early detection).
    pub first_window: f64,
    /// True = mining.
    pub mining: bool,
    /// Seconds of the flow its rows cover.
    pub seconds: f64,
}

impl OofPrediction {
    /// The score thresholds compare: the raw score, or -1 (never flagged) when not judged.
    pub fn flag_score(&self) -> f64 {
        if self.judged {
            self.raw
        } else {
            -1.0
        }
    }
}

/// What grouped cross-validation measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CvReport {
    /// Number of folds.
    pub folds: usize,
    /// Pool groups (server name or address); each lies in exactly one fold.
    pub groups: usize,
    /// Groups with at least one mining flow.
    pub mining_groups: usize,
    /// Mining flows the model judged.
    pub mining_flows: usize,
    /// Benign flows the model judged.
    pub benign_flows: usize,
    /// Mining flows with data both ways the gate kept from the model.
    #[serde(default)]
    pub mining_insufficient: usize,
    /// Benign flows with data both ways the gate kept from the model (never flagged; they
    /// count in the false-positive rates).
    #[serde(default)]
    pub benign_insufficient: usize,
    /// ROC-AUC over the judged flows (held-out scores).
    #[serde(deserialize_with = "super::metrics::null_as_nan")]
    pub roc_auc: f64,
    /// Average precision over the judged flows.
    #[serde(deserialize_with = "super::metrics::null_as_nan")]
    pub average_precision: f64,
    /// ROC-AUC when each judged flow is scored on its first window only.
    #[serde(deserialize_with = "super::metrics::null_as_nan")]
    pub first_window_roc_auc: f64,
    /// Metrics at the `suspect` threshold, over every flow with data both ways.
    pub at_suspect: ThresholdRow,
    /// Metrics at the `mining` threshold, over every flow with data both ways.
    pub at_mining: ThresholdRow,
    /// Metrics at fixed thresholds of the raw forest output, over every flow with data both
    /// ways.
    pub threshold_table: Vec<ThresholdRow>,
    /// Long mining sessions (at least [`LONG_SESSION_S`]): (flagged suspect, flagged mining,
    /// all).
    #[serde(default)]
    pub long_sessions: (usize, usize, usize),
    /// Recall at the suspect threshold per mining source (label rule and capture).
    pub recall_by_source: BTreeMap<String, (usize, usize)>,
    /// Benign flows above the suspect threshold per source (of the flows with data both ways).
    pub false_positives_by_source: BTreeMap<String, (usize, usize)>,
}

/// Counts of one class of one source at its thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClassCounts {
    /// Flows with data both ways.
    pub flows: usize,
    /// Of which the model judged.
    pub judged: usize,
    /// Flagged at `suspect` or above.
    pub suspect: usize,
    /// Flagged `mining`.
    pub mining: usize,
}

impl ClassCounts {
    fn add(&mut self, p: &OofPrediction, th: &Thresholds) {
        self.flows += 1;
        if p.judged {
            self.judged += 1;
            if p.raw >= th.suspect {
                self.suspect += 1;
            }
            if p.raw >= th.mining {
                self.mining += 1;
            }
        }
    }

    fn merge(&mut self, o: &ClassCounts) {
        self.flows += o.flows;
        self.judged += o.judged;
        self.suspect += o.suspect;
        self.mining += o.mining;
    }
}

/// One source held out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceResult {
    /// The source.
    pub source: String,
    /// False when the other sources lack a class, so no forest could be trained without it.
    pub evaluated: bool,
    /// Thresholds chosen on the held-out scores of every *other* source, so nothing of this
    /// source decides how it is judged.
    pub thresholds: Thresholds,
    /// Its mining flows.
    pub mining: ClassCounts,
    /// Its mining flows of at least [`LONG_SESSION_S`].
    pub long_mining: ClassCounts,
    /// Its benign flows.
    pub benign: ClassCounts,
}

/// Leave-one-source-out: for each source, a forest trained on every other source scores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LosoReport {
    /// One row per source, sorted by name.
    pub sources: Vec<SourceResult>,
    /// Sums over the evaluated sources.
    pub mining: ClassCounts,
    /// Sums of the long sessions.
    pub long_mining: ClassCounts,
    /// Sums of the benign flows.
    pub benign: ClassCounts,
    /// The same sums by variant (flow-export rows of capture flows: by the exporter's active
    /// timeout, `active_timeout=300`), each at its source's thresholds: (mining, long mining,
    /// benign). Empty when the flows have no variants.
    #[serde(default)]
    pub by_variant: BTreeMap<String, (ClassCounts, ClassCounts, ClassCounts)>,
}

impl LosoReport {
    /// Benign flows flagged per 10,000 at (`suspect`, `mining`), with the 95% Wilson upper
    /// bounds: (suspect rate, its bound, mining rate, its bound).
    pub fn benign_rates(&self) -> (f64, f64, f64, f64) {
        rates(&self.benign)
    }
}

/// Flag rates per 10,000 of a class at both thresholds, with their 95% upper bounds.
pub fn rates(c: &ClassCounts) -> (f64, f64, f64, f64) {
    let n = c.flows as u64;
    let per = |k: usize| {
        if n == 0 {
            f64::NAN
        } else {
            k as f64 / n as f64 * 10_000.0
        }
    };
    (
        per(c.suspect),
        wilson_interval(c.suspect as u64, n).1 * 10_000.0,
        per(c.mining),
        wilson_interval(c.mining as u64, n).1 * 10_000.0,
    )
}

/// How training rows are weighted within their class (the two classes always weigh the same
/// in total).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// Every row (window) the same.
    Rows,
    /// Every pool group the same, however many flows and windows it has.
    Groups,
    /// By the time a row covers (a full window weighs 1, a flow of a few seconds a tenth).
    Time,
    /// Every session the same: a session is one capture's flows to one pool group (a miner's
    /// hours at a pool, cut into hourly records, or a scanner's hundred connections to one
    /// server), and each flow's rows share its part. So a few long sessions are not outvoted
    /// by thousands of scan connections, nor a long flow's sixteen windows by one short flow.
    #[default]
    Sessions,
}

/// Labelled flows with data both ways (the population every rate is over), and whether the
/// model judges each.
fn population(flows: &[TrainFlow], schema: &str, gate: &Gate) -> Vec<(usize, bool, f64)> {
    flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.label.is_some())
        .filter_map(
            |(i, f)| match gate.eligibility(&f.meta.transport, schema, &f.rows) {
                Eligibility::NotApplicable => None,
                Eligibility::Insufficient(e) => Some((i, false, e.seconds)),
                Eligibility::Speaks(e) => Some((i, true, e.seconds)),
            },
        )
        .collect()
}

/// The flows the model judges (and trains on).
fn judged(flows: &[TrainFlow], schema: &str, gate: &Gate) -> Vec<usize> {
    population(flows, schema, gate)
        .into_iter()
        .filter(|p| p.1)
        .map(|p| p.0)
        .collect()
}

/// Model inputs (the first `n` columns), 0/1 targets and weights of some flows' scored rows.
fn matrix(
    flows: &[TrainFlow],
    idx: &[usize],
    schema: &str,
    weighting: Weighting,
) -> (Vec<Vec<f32>>, Vec<f64>, Vec<f64>) {
    let n = schema_features(schema).map_or(0, |f| f.len());
    let span_col = crate::features::shape::SHAPE_FEATURES.len() + 1;
    let mut rows = Vec::new();
    let mut y = Vec::new();
    let mut raw_w = Vec::new();
    let mut group_rows: BTreeMap<(String, bool), usize> = BTreeMap::new();
    let mut session_flows: BTreeMap<((String, String), bool), usize> = BTreeMap::new();
    for &i in idx {
        let f = &flows[i];
        let mining = f.label == Some(true);
        *group_rows.entry((f.meta.group(), mining)).or_default() +=
            scored_rows(schema, &f.rows).len();
        *session_flows.entry((f.meta.session(), mining)).or_default() += 1;
    }
    for &i in idx {
        let f = &flows[i];
        let mining = f.label == Some(true);
        let scored = scored_rows(schema, &f.rows);
        let in_group = group_rows[&(f.meta.group(), mining)] as f64;
        let in_session = session_flows[&(f.meta.session(), mining)] as f64;
        for r in &scored {
            let w = match weighting {
                Weighting::Rows => 1.0,
                Weighting::Groups => 1.0 / in_group,
                Weighting::Sessions => 1.0 / (in_session * scored.len() as f64),
                Weighting::Time => {
                    // Window rows: the span covered; flow-export rows: the duration.
                    let t = if schema == crate::features::shape::SHAPE_SCHEMA {
                        r.get(span_col)
                    } else {
                        r.get(crate::features::netflow::NETFLOW_FEATURES.len())
                    };
                    t.filter(|t| t.is_finite()).map_or(1.0, |&t| {
                        (t as f64 / crate::features::shape::WINDOW_S).clamp(0.1, 1.0)
                    })
                }
            };
            rows.push(r[..n.min(r.len())].to_vec());
            y.push(if mining { 1.0 } else { 0.0 });
            raw_w.push(w);
        }
    }
    let total = |m: bool| -> f64 {
        y.iter()
            .zip(&raw_w)
            .filter(|(t, _)| (**t > 0.5) == m)
            .map(|(_, w)| w)
            .sum::<f64>()
            .max(f64::MIN_POSITIVE)
    };
    let (tp, tn) = (total(true), total(false));
    let count = y.len() as f64;
    let w = y
        .iter()
        .zip(&raw_w)
        .map(|(&t, &w)| w * count / (2.0 * if t > 0.5 { tp } else { tn }))
        .collect();
    (rows, y, w)
}

/// A forest fitted on some flows.
fn fit(
    flows: &[TrainFlow],
    idx: &[usize],
    schema: &str,
    opts: &TrainOptions,
) -> Result<FlatForest> {
    let (rows, y, w) = matrix(flows, idx, schema, opts.weighting);
    let (forest, _) = FlatForest::fit(&rows, &y, &w, &opts.params)?;
    Ok(forest)
}

/// The held-out prediction of flow `i` by `forest` (None = not judged).
fn predict(
    flows: &[TrainFlow],
    i: usize,
    judged: bool,
    seconds: f64,
    fold: usize,
    schema: &str,
    forest: Option<&FlatForest>,
) -> OofPrediction {
    let f = &flows[i];
    let (raw, first) = match forest.filter(|_| judged) {
        Some(forest) => {
            let scored = scored_rows(schema, &f.rows);
            (
                mean(scored.iter().map(|r| forest.predict(r) as f64)),
                forest.predict(scored[0]) as f64,
            )
        }
        None => (0.0, 0.0),
    };
    OofPrediction {
        flow: i,
        group: f.meta.group(),
        source: f.meta.source.clone(),
        fold,
        judged,
        raw,
        first_window: first,
        mining: f.label == Some(true),
        seconds,
    }
}

/// A stable hash of a string with a seed, for fold assignment.
fn hash(s: &str, seed: u64) -> u64 {
    crate::hash::fnv1a_seeded(seed, s.as_bytes())
}

/// Assigns pool groups to folds: groups with mining flows are spread first, then benign ones,
/// each to the fold that has the fewest flows of that class so far (largest groups first,
/// ties by a seeded hash), so every fold holds mining pools the others never saw.
fn assign_folds(
    flows: &[TrainFlow],
    idx: &[usize],
    k: usize,
    seed: u64,
) -> BTreeMap<String, usize> {
    let mut groups: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for &i in idx {
        let g = groups.entry(flows[i].meta.group()).or_default();
        if flows[i].label == Some(true) {
            g.0 += 1;
        } else {
            g.1 += 1;
        }
    }
    let mut order: Vec<(&String, &(usize, usize))> = groups.iter().collect();
    order.sort_by_key(|(g, (m, b))| (*m == 0, std::cmp::Reverse(m + b), hash(g, seed)));
    let mut load = vec![(0usize, 0usize); k];
    let mut out = BTreeMap::new();
    for (g, &(m, b)) in order {
        let f = (0..k)
            .min_by_key(|&f| {
                if m > 0 {
                    (load[f].0, load[f].1)
                } else {
                    (load[f].1, load[f].0)
                }
            })
            .unwrap_or(0);
        load[f].0 += m;
        load[f].1 += b;
        out.insert(g.clone(), f);
    }
    out
}

/// Grouped k-fold cross-validation: each fold's flows are scored by a forest fitted on the
/// other folds, so no pool is ever scored by a model that saw it. Every labelled flow with data
/// both ways gets a prediction; those the gate keeps from the model are marked not judged.
/// Fails with [`ModelError::TooFewPools`] when a fold's training part lacks a class.
pub fn cross_validate(
    flows: &[TrainFlow],
    schema: &str,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<OofPrediction>> {
    let pop = population(flows, schema, &opts.gate);
    let idx: Vec<usize> = pop.iter().map(|p| p.0).collect();
    let folds = assign_folds(flows, &idx, opts.folds, opts.params.seed);
    let mut out = Vec::new();
    for fold in 0..opts.folds {
        progress(fold, opts.folds);
        let in_fold = |i: usize| folds[&flows[i].meta.group()] == fold;
        let test: Vec<&(usize, bool, f64)> = pop.iter().filter(|p| in_fold(p.0)).collect();
        if test.is_empty() {
            continue;
        }
        let train: Vec<usize> = pop
            .iter()
            .filter(|p| p.1 && !in_fold(p.0))
            .map(|p| p.0)
            .collect();
        let classes: BTreeSet<bool> = train
            .iter()
            .map(|&i| flows[i].label == Some(true))
            .collect();
        if classes.len() < 2 {
            return Err(ModelError::TooFewPools(format!(
                "fold {fold} has training flows of one class only: too few pools to cross-validate with {} folds",
                opts.folds
            )));
        }
        let forest = if test.iter().any(|p| p.1) {
            Some(fit(flows, &train, schema, opts)?)
        } else {
            None
        };
        for &&(i, j, secs) in &test {
            out.push(predict(flows, i, j, secs, fold, schema, forest.as_ref()));
        }
    }
    progress(opts.folds, opts.folds);
    out.sort_by_key(|p| p.flow);
    Ok(out)
}

/// Leave-one-source-out: for each source, a forest trained on every other source's flows
/// scores that source's flows. Each source is then judged at thresholds chosen (with the
/// options' false-positive budgets) on the held-out scores of the *other* sources.
pub fn leave_one_source_out(
    flows: &[TrainFlow],
    schema: &str,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(LosoReport, Vec<OofPrediction>)> {
    let pop = population(flows, schema, &opts.gate);
    let sources: Vec<String> = pop
        .iter()
        .map(|p| flows[p.0].meta.source.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut preds = Vec::new();
    let mut evaluated = Vec::new();
    for (k, s) in sources.iter().enumerate() {
        progress(k, sources.len());
        let train: Vec<usize> = pop
            .iter()
            .filter(|p| p.1 && flows[p.0].meta.source != *s)
            .map(|p| p.0)
            .collect();
        let classes: BTreeSet<bool> = train
            .iter()
            .map(|&i| flows[i].label == Some(true))
            .collect();
        let ok = classes.len() == 2;
        evaluated.push(ok);
        if !ok {
            continue;
        }
        let test: Vec<&(usize, bool, f64)> = pop
            .iter()
            .filter(|p| flows[p.0].meta.source == *s)
            .collect();
        let forest = if test.iter().any(|p| p.1) {
            Some(fit(flows, &train, schema, opts)?)
        } else {
            None
        };
        for &&(i, j, secs) in &test {
            preds.push(predict(flows, i, j, secs, k, schema, forest.as_ref()));
        }
    }
    progress(sources.len(), sources.len());
    let mut report = LosoReport {
        sources: Vec::new(),
        mining: ClassCounts::default(),
        long_mining: ClassCounts::default(),
        benign: ClassCounts::default(),
        by_variant: BTreeMap::new(),
    };
    for (k, s) in sources.iter().enumerate() {
        let others: Vec<(f64, bool)> = preds
            .iter()
            .filter(|p| p.fold != k)
            .map(|p| (p.flag_score(), p.mining))
            .collect();
        let thresholds = choose_thresholds(&others, opts);
        let mut r = SourceResult {
            source: s.clone(),
            evaluated: evaluated[k],
            thresholds,
            mining: ClassCounts::default(),
            long_mining: ClassCounts::default(),
            benign: ClassCounts::default(),
        };
        for p in preds.iter().filter(|p| p.fold == k) {
            let variant = &flows[p.flow].meta.variant;
            let mut by_variant = (!variant.is_empty()).then(|| {
                let base = variant.split('#').next().unwrap_or("").to_string();
                report.by_variant.entry(base).or_default()
            });
            if p.mining {
                r.mining.add(p, &thresholds);
                if let Some(v) = by_variant.as_mut() {
                    v.0.add(p, &thresholds);
                }
                if p.seconds >= LONG_SESSION_S {
                    r.long_mining.add(p, &thresholds);
                    if let Some(v) = by_variant.as_mut() {
                        v.1.add(p, &thresholds);
                    }
                }
            } else {
                r.benign.add(p, &thresholds);
                if let Some(v) = by_variant.as_mut() {
                    v.2.add(p, &thresholds);
                }
            }
        }
        report.mining.merge(&r.mining);
        report.long_mining.merge(&r.long_mining);
        report.benign.merge(&r.benign);
        report.sources.push(r);
    }
    preds.sort_by_key(|p| p.flow);
    Ok((report, preds))
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// The thresholds of held-out `(flag score, is mining)` pairs: the lowest scores that keep the
/// benign flag rates within the options' budgets.
pub fn choose_thresholds(preds: &[(f64, bool)], opts: &TrainOptions) -> Thresholds {
    let suspect = threshold_for_fp_rate(preds, opts.suspect_fp_per_10k);
    let mining = threshold_for_fp_rate(preds, opts.mining_fp_per_10k).max(suspect);
    Thresholds { suspect, mining }
}

/// Where a flow came from, for per-source breakdowns: its label rule, source, and for mining
/// flows its capture (`stratum:cjsniffer/1618213677_i8KJi.pcap`, `capture:ndpi`).
fn source_of(f: &TrainFlow) -> String {
    let name = std::path::Path::new(&f.meta.capture)
        .file_name()
        .and_then(|d| d.to_str())
        .unwrap_or("");
    if f.label == Some(true) {
        format!("{}:{}/{name}", f.label_source, f.meta.source)
    } else {
        format!("{}:{}", f.label_source, f.meta.source)
    }
}

/// The report of held-out predictions, with thresholds chosen on them.
pub fn report(
    flows: &[TrainFlow],
    oof: &[OofPrediction],
    opts: &TrainOptions,
) -> (CvReport, Thresholds) {
    let all: Vec<(f64, bool)> = oof.iter().map(|p| (p.flag_score(), p.mining)).collect();
    let judged: Vec<(f64, bool)> = oof
        .iter()
        .filter(|p| p.judged)
        .map(|p| (p.raw, p.mining))
        .collect();
    let th = choose_thresholds(&all, opts);
    let first: Vec<(f64, bool)> = oof
        .iter()
        .filter(|p| p.judged)
        .map(|p| (p.first_window, p.mining))
        .collect();
    let mut recall_by_source: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fp_by_source: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut long = (0, 0, 0);
    for p in oof {
        let f = &flows[p.flow];
        let e = if p.mining {
            recall_by_source.entry(source_of(f)).or_default()
        } else {
            fp_by_source.entry(source_of(f)).or_default()
        };
        e.1 += 1;
        if p.flag_score() >= th.suspect {
            e.0 += 1;
        }
        if p.mining && p.seconds >= LONG_SESSION_S {
            long.2 += 1;
            long.0 += (p.flag_score() >= th.suspect) as usize;
            long.1 += (p.flag_score() >= th.mining) as usize;
        }
    }
    let groups: BTreeSet<&str> = oof
        .iter()
        .filter(|p| p.judged)
        .map(|p| p.group.as_str())
        .collect();
    let mining_groups: BTreeSet<&str> = oof
        .iter()
        .filter(|p| p.judged && p.mining)
        .map(|p| p.group.as_str())
        .collect();
    let table = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
        .iter()
        .map(|&t| at_threshold(&all, t))
        .collect();
    let r = CvReport {
        folds: oof.iter().map(|p| p.fold).max().map_or(0, |f| f + 1),
        groups: groups.len(),
        mining_groups: mining_groups.len(),
        mining_flows: judged.iter().filter(|p| p.1).count(),
        benign_flows: judged.iter().filter(|p| !p.1).count(),
        mining_insufficient: oof.iter().filter(|p| !p.judged && p.mining).count(),
        benign_insufficient: oof.iter().filter(|p| !p.judged && !p.mining).count(),
        roc_auc: roc_auc(&judged),
        average_precision: average_precision(&judged),
        first_window_roc_auc: roc_auc(&first),
        at_suspect: at_threshold(&all, th.suspect),
        at_mining: at_threshold(&all, th.mining),
        threshold_table: table,
        long_sessions: long,
        recall_by_source,
        false_positives_by_source: fp_by_source,
    };
    (r, th)
}

/// Isotonic (pool-adjacent-violators) map from mean forest output to the share of mining
/// flows among held-out judged flows with that output, with the two classes weighted equally:
/// the probability of mining for a flow from a population with as many mining as benign flows.
/// (The training data's own mix says nothing about a real network's; an analyst who knows the
/// base rate can rescale the odds.)
pub fn calibrate(oof: &[OofPrediction]) -> Calibration {
    let judged: Vec<&OofPrediction> = oof.iter().filter(|p| p.judged).collect();
    let pos = judged.iter().filter(|p| p.mining).count().max(1) as f64;
    let neg = judged.iter().filter(|p| !p.mining).count().max(1) as f64;
    let mut v: Vec<(f64, f64, f64)> = judged
        .iter()
        .map(|p| {
            if p.mining {
                (p.raw, 1.0 / pos, 1.0 / pos)
            } else {
                (p.raw, 0.0, 1.0 / neg)
            }
        })
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Blocks: (weighted sum of raw, weighted sum of labels, weight).
    let mut blocks: Vec<(f64, f64, f64)> = Vec::new();
    for (x, yw, w) in v {
        blocks.push((x * w, yw, w));
        while blocks.len() >= 2 {
            let n = blocks.len();
            let (a, b) = (blocks[n - 2], blocks[n - 1]);
            if a.1 / a.2 >= b.1 / b.2 {
                blocks.pop();
                blocks[n - 2] = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
            } else {
                break;
            }
        }
    }
    Calibration {
        raw: blocks.iter().map(|b| (b.0 / b.2) as f32).collect(),
        prob: blocks.iter().map(|b| (b.1 / b.2) as f32).collect(),
    }
}

/// Trains the model: grouped cross-validation (for the metrics, the calibration and the
/// thresholds), then the final forest on every judged flow.
pub fn train(
    flows: &[TrainFlow],
    schema: &str,
    features: &[&str],
    opts: &TrainOptions,
    inputs: Vec<String>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ModelFile> {
    let idx = judged(flows, schema, &opts.gate);
    let summary = summarise(flows, schema, opts, &idx, inputs);
    if summary.mining_flows == 0 || summary.benign_flows == 0 {
        return Err(invalid!(
            "training needs mining and benign flows the model can judge; labelled: {} mining, {} benign (of {} flows, {} unlabelled, {} the model does not apply to, {} with too little data)",
            summary.mining_flows,
            summary.benign_flows,
            summary.flows,
            summary.unlabelled_flows,
            summary.ineligible_flows,
            summary.insufficient_flows
        ));
    }
    let (cv, thresholds, calibration) = if opts.folds >= 2 {
        let oof = cross_validate(flows, schema, opts, progress)?;
        let (rep, th) = report(flows, &oof, opts);
        (Some(rep), th, calibrate(&oof))
    } else {
        (
            None,
            Thresholds {
                suspect: 0.5,
                mining: 0.9,
            },
            Calibration::default(),
        )
    };
    let (rows, y, w) = matrix(flows, &idx, schema, opts.weighting);
    let (forest, imp) = FlatForest::fit(&rows, &y, &w, &opts.params)?;
    let mut importances: Vec<Importance> = features
        .iter()
        .zip(imp)
        .map(|(f, v)| Importance {
            feature: f.to_string(),
            importance: v,
        })
        .collect();
    importances.sort_by(|a, b| b.importance.total_cmp(&a.importance));
    Ok(ModelFile {
        format: MODEL_FORMAT.to_string(),
        schema: schema.to_string(),
        features: features.iter().map(|s| s.to_string()).collect(),
        poolscope_version: env!("CARGO_PKG_VERSION").to_string(),
        options: opts.clone(),
        thresholds,
        calibration,
        training: summary,
        cv,
        importances,
        forest,
    })
}

fn summarise(
    flows: &[TrainFlow],
    schema: &str,
    opts: &TrainOptions,
    idx: &[usize],
    inputs: Vec<String>,
) -> TrainingSummary {
    let mut s = TrainingSummary {
        flows: flows.len(),
        inputs,
        ..Default::default()
    };
    for f in flows {
        if f.label.is_none() {
            s.unlabelled_flows += 1;
            continue;
        }
        match opts.gate.eligibility(&f.meta.transport, schema, &f.rows) {
            Eligibility::NotApplicable => s.ineligible_flows += 1,
            Eligibility::Insufficient(_) => s.insufficient_flows += 1,
            Eligibility::Speaks(_) => {}
        }
    }
    let mut groups = BTreeSet::new();
    let mut mining_groups = BTreeSet::new();
    let mut sources = BTreeSet::new();
    let mut sessions = BTreeSet::new();
    for &i in idx {
        let f = &flows[i];
        groups.insert(f.meta.group());
        sources.insert(f.meta.source.clone());
        sessions.insert(f.meta.session());
        *s.label_sources
            .entry(format!(
                "{}:{}",
                if f.label == Some(true) {
                    "mining"
                } else {
                    "benign"
                },
                f.label_source
            ))
            .or_default() += 1;
        let rows = scored_rows(schema, &f.rows).len();
        if f.label == Some(true) {
            s.mining_flows += 1;
            s.mining_rows += rows;
            mining_groups.insert(f.meta.group());
        } else {
            s.benign_flows += 1;
            s.benign_rows += rows;
        }
    }
    s.groups = groups.len();
    s.mining_groups = mining_groups.len();
    s.sources = sources.into_iter().collect();
    s.sessions = sessions.len();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::shape::{SHAPE_CONTEXT, SHAPE_FEATURES, SHAPE_SCHEMA};
    use crate::model::data::FlowMeta;

    /// A flow of one window row: feature 0 is `v`, the others 1; 300 s, 10 messages each way.
    fn flow(group: &str, mining: bool, v: f32) -> TrainFlow {
        let mut r = vec![1.0f32; SHAPE_FEATURES.len()];
        r[0] = v;
        r.extend([300.0, 120.0, 10.0, 10.0]);
        TrainFlow {
            meta: FlowMeta {
                transport: "tcp".into(),
                sni: Some(group.into()),
                ..Default::default()
            },
            rows: vec![r],
            label: Some(mining),
            label_source: "labels",
        }
    }

    #[test]
    fn folds_keep_groups_together_and_spread_mining() {
        let mut flows = Vec::new();
        for g in 0..10 {
            for _ in 0..3 {
                flows.push(flow(&format!("pool{g}"), true, 5.0));
            }
            flows.push(flow(&format!("web{g}"), false, 1.0));
        }
        let idx: Vec<usize> = (0..flows.len()).collect();
        let folds = assign_folds(&flows, &idx, 5, 1);
        assert_eq!(folds.len(), 20);
        for f in 0..5 {
            let pools = folds
                .iter()
                .filter(|(g, &x)| x == f && g.starts_with("pool"))
                .count();
            assert_eq!(pools, 2, "fold {f}");
        }
    }

    #[test]
    fn isotonic_calibration_is_monotone() {
        let oof: Vec<OofPrediction> = [
            (0.1, false),
            (0.2, true),
            (0.3, false),
            (0.8, true),
            (0.9, true),
        ]
        .iter()
        .enumerate()
        .map(|(i, &(raw, mining))| OofPrediction {
            flow: i,
            group: String::new(),
            source: String::new(),
            fold: 0,
            judged: true,
            raw,
            first_window: raw,
            mining,
            seconds: 300.0,
        })
        .collect();
        let c = calibrate(&oof);
        // Classes weigh the same: each mining flow 1/3, each benign one 1/2. The middle block
        // (0.2 mining, 0.3 benign) has 1/3 mining weight of 5/6 in all: 0.4.
        assert_eq!(c.prob.len(), 3);
        assert_eq!((c.prob[0], c.prob[2]), (0.0, 1.0));
        assert!((c.prob[1] - 0.4).abs() < 1e-6, "{:?}", c.prob);
        assert_eq!(c.apply(0.05), 0.0);
        assert_eq!(c.apply(0.95), 1.0);
        assert!(c.apply(0.5) > c.prob[1] as f64 && c.apply(0.5) < 1.0);
    }

    #[test]
    fn separable_data_is_learned() {
        let mut flows = Vec::new();
        for g in 0..12 {
            flows.push(flow(&format!("pool{g}"), true, 10.0 + g as f32));
            flows.push(flow(&format!("web{g}"), false, g as f32 * 0.5));
        }
        let opts = TrainOptions {
            params: ForestParams {
                trees: 10,
                min_samples_leaf: 1,
                // Every feature at every split: only one of them separates.
                mtry: SHAPE_FEATURES.len(),
                ..Default::default()
            },
            folds: 3,
            ..Default::default()
        };
        let m = train(
            &flows,
            SHAPE_SCHEMA,
            SHAPE_FEATURES,
            &opts,
            vec![],
            &mut |_, _| {},
        )
        .unwrap();
        let cv = m.cv.unwrap();
        assert_eq!(cv.roc_auc, 1.0);
        assert_eq!(cv.groups, 24);
        assert_eq!(m.importances[0].feature, SHAPE_FEATURES[0]);
    }

    fn with_source(mut f: TrainFlow, source: &str, capture: &str) -> TrainFlow {
        f.meta.source = source.into();
        f.meta.capture = capture.into();
        f
    }

    #[test]
    fn the_gate_keeps_short_exchanges_out_and_counts_them() {
        let mut flows = Vec::new();
        for g in 0..6 {
            flows.push(flow(&format!("pool{g}"), true, 10.0));
            flows.push(flow(&format!("web{g}"), false, 1.0));
        }
        // A DNS-over-TCP-like exchange: one message each way, a tenth of a second.
        let mut short = flow("dns", false, 10.0);
        let n = SHAPE_FEATURES.len();
        short.rows[0][n..].copy_from_slice(&[0.1, 0.1, 1.0, 1.0]);
        flows.push(short);
        let opts = TrainOptions {
            params: ForestParams {
                trees: 5,
                min_samples_leaf: 1,
                ..Default::default()
            },
            folds: 3,
            ..Default::default()
        };
        let oof = cross_validate(&flows, SHAPE_SCHEMA, &opts, &mut |_, _| {}).unwrap();
        assert_eq!(oof.len(), 13);
        let p = oof.iter().find(|p| p.group == "dns").unwrap();
        assert!(!p.judged);
        assert_eq!(p.flag_score(), -1.0);
        let (rep, _) = report(&flows, &oof, &opts);
        assert_eq!((rep.benign_flows, rep.benign_insufficient), (6, 1));
        // It counts in the false-positive denominator: 7 benign flows.
        let c = rep.at_suspect.confusion;
        assert_eq!(c.fp + c.tn, 7);
        assert_eq!(judged(&flows, SHAPE_SCHEMA, &opts.gate).len(), 12);
    }

    #[test]
    fn leave_one_source_out_never_trains_on_the_held_out_source() {
        let mut flows = Vec::new();
        for g in 0..8 {
            let src = if g % 2 == 0 { "a" } else { "b" };
            flows.push(with_source(flow(&format!("pool{g}"), true, 10.0), src, src));
            flows.push(with_source(flow(&format!("web{g}"), false, 1.0), src, src));
        }
        // Source c: miners that look like the other sources' benign flows. Only a forest that
        // saw c could call them mining.
        for g in 0..4 {
            flows.push(with_source(flow(&format!("odd{g}"), true, 1.0), "c", "c"));
            flows.push(with_source(flow(&format!("cweb{g}"), false, 5.0), "c", "c"));
        }
        let opts = TrainOptions {
            params: ForestParams {
                trees: 10,
                min_samples_leaf: 1,
                ..Default::default()
            },
            folds: 3,
            ..Default::default()
        };
        let (rep, preds) =
            leave_one_source_out(&flows, SHAPE_SCHEMA, &opts, &mut |_, _| {}).unwrap();
        assert_eq!(preds.len(), flows.len());
        let names: Vec<&str> = rep.sources.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let c = &rep.sources[2];
        assert!(c.evaluated);
        assert_eq!((c.mining.flows, c.mining.suspect), (4, 0), "{c:?}");
        for s in &rep.sources[..2] {
            assert_eq!(s.mining.suspect, 4, "{s:?}");
        }
        assert_eq!(rep.mining.flows, 12);
        assert_eq!(rep.long_mining.flows, 12);
    }

    #[test]
    fn sessions_weigh_the_same_however_many_flows() {
        let mut flows = Vec::new();
        // One scanner session of 100 connections to one pool, one miner of one flow.
        for _ in 0..100 {
            flows.push(with_source(flow("scanned", true, 1.0), "s", "scan.pcap"));
        }
        flows.push(with_source(flow("pool", true, 2.0), "m", "miner.pcap"));
        flows.push(with_source(flow("web", false, 3.0), "w", "web.pcap"));
        let idx: Vec<usize> = (0..flows.len()).collect();
        let (_, y, w) = matrix(&flows, &idx, SHAPE_SCHEMA, Weighting::Sessions);
        let scan: f64 = w[..100].iter().sum();
        assert!((scan - w[100]).abs() < 1e-9, "{scan} vs {}", w[100]);
        // The classes weigh the same in total.
        let (pos, neg): (f64, f64) =
            y.iter().zip(&w).fold(
                (0.0, 0.0),
                |(p, n), (&t, &w)| {
                    if t > 0.5 {
                        (p + w, n)
                    } else {
                        (p, n + w)
                    }
                },
            );
        assert!((pos - neg).abs() < 1e-9);
        assert_eq!(SHAPE_CONTEXT.len(), 4);
    }
}
