//! Fitting, grouped cross-validation, calibration and thresholds.

use super::data::{eligible, TrainFlow};
use super::forest::{FlatForest, ForestParams};
use super::metrics::{
    at_threshold, average_precision, roc_auc, threshold_for_fp_rate, ThresholdRow,
};
use super::{Calibration, Importance, ModelFile, Thresholds, TrainingSummary, MODEL_FORMAT};
use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

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
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            params: ForestParams::default(),
            folds: 5,
            suspect_fp_per_10k: 100.0,
            mining_fp_per_10k: 1.0,
            weighting: Weighting::default(),
        }
    }
}

/// The held-out prediction of one flow in cross-validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OofPrediction {
    /// Index into the flows given to [`cross_validate`].
    pub flow: usize,
    /// The flow's pool group.
    pub group: String,
    /// Fold the flow was held out in.
    pub fold: usize,
    /// Mean forest output over the flow's rows.
    pub raw: f64,
    /// Forest output of the flow's first row alone (early detection).
    pub first_window: f64,
    /// True = mining.
    pub mining: bool,
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
    /// Mining flows evaluated.
    pub mining_flows: usize,
    /// Benign flows evaluated.
    pub benign_flows: usize,
    /// ROC-AUC over flows (held-out scores).
    pub roc_auc: f64,
    /// Average precision over flows.
    pub average_precision: f64,
    /// ROC-AUC when each flow is judged on its first window only.
    pub first_window_roc_auc: f64,
    /// Metrics at the `suspect` threshold.
    pub at_suspect: ThresholdRow,
    /// Metrics at the `mining` threshold.
    pub at_mining: ThresholdRow,
    /// Metrics at fixed thresholds of the raw forest output.
    pub threshold_table: Vec<ThresholdRow>,
    /// Recall at the suspect threshold per mining source (label rule and capture directory).
    pub recall_by_source: BTreeMap<String, (usize, usize)>,
    /// Benign flows above the suspect threshold per capture directory.
    pub false_positives_by_source: BTreeMap<String, (usize, usize)>,
}

/// Labelled flows the model can speak for, with their row counts.
fn usable(flows: &[TrainFlow], schema: &str) -> Vec<usize> {
    flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.label.is_some() && eligible(&f.meta.transport, schema, &f.rows))
        .map(|(i, _)| i)
        .collect()
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
    /// By the time a row covers (a full window weighs 1, a flow of a few seconds a tenth):
    /// a scan of one pool gives hundreds of connections of a second or two, a real miner one
    /// connection of hours, and the model should learn what a miner looks like over time.
    #[default]
    Time,
}

/// Rows, 0/1 targets and weights of some flows.
fn matrix(
    flows: &[TrainFlow],
    idx: &[usize],
    weighting: Weighting,
) -> (Vec<Vec<f32>>, Vec<f64>, Vec<f64>) {
    let span_col = crate::features::shape::SHAPE_FEATURES
        .iter()
        .position(|c| *c == "span_s")
        .expect("span column");
    let mut rows = Vec::new();
    let mut y = Vec::new();
    let mut raw_w = Vec::new();
    let mut group_rows: BTreeMap<(String, bool), usize> = BTreeMap::new();
    for &i in idx {
        let f = &flows[i];
        *group_rows
            .entry((f.meta.group(), f.label == Some(true)))
            .or_default() += f.rows.len();
    }
    for &i in idx {
        let f = &flows[i];
        let mining = f.label == Some(true);
        let in_group = group_rows[&(f.meta.group(), mining)] as f64;
        for r in &f.rows {
            let w = match weighting {
                Weighting::Rows => 1.0,
                Weighting::Groups => 1.0 / in_group,
                Weighting::Time => {
                    // Window rows: the span covered; flow-export rows: the duration.
                    let t = if r.len() == crate::features::shape::SHAPE_FEATURES.len() {
                        r.get(span_col)
                    } else if r.len() == crate::netflow::features::NETFLOW_FEATURES.len() {
                        r.first()
                    } else {
                        None
                    };
                    t.filter(|t| t.is_finite()).map_or(1.0, |&t| {
                        (t as f64 / crate::features::shape::WINDOW_S).clamp(0.1, 1.0)
                    })
                }
            };
            rows.push(r.clone());
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
    let n = y.len() as f64;
    let w = y
        .iter()
        .zip(&raw_w)
        .map(|(&t, &w)| w * n / (2.0 * if t > 0.5 { tp } else { tn }))
        .collect();
    (rows, y, w)
}

/// A stable hash of a string with a seed (FNV-1a), for fold assignment.
fn hash(s: &str, seed: u64) -> u64 {
    let mut h = 0xcbf29ce484222325u64 ^ seed.wrapping_mul(0x100000001b3);
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
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
/// other folds, so no pool is ever scored by a model that saw it.
pub fn cross_validate(
    flows: &[TrainFlow],
    schema: &str,
    opts: &TrainOptions,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<OofPrediction>> {
    let idx = usable(flows, schema);
    let folds = assign_folds(flows, &idx, opts.folds, opts.params.seed);
    let mut out = Vec::new();
    for fold in 0..opts.folds {
        progress(fold, opts.folds);
        let (test, train): (Vec<usize>, Vec<usize>) = idx
            .iter()
            .partition(|&&i| folds[&flows[i].meta.group()] == fold);
        if test.is_empty() {
            continue;
        }
        let (rows, y, w) = matrix(flows, &train, opts.weighting);
        if !y.iter().any(|&t| t > 0.5) || !y.iter().any(|&t| t < 0.5) {
            bail!("fold {fold} has training rows of one class only: too few pools to cross-validate with {} folds", opts.folds);
        }
        let (forest, _) = FlatForest::fit(&rows, &y, &w, &opts.params)?;
        for i in test {
            let f = &flows[i];
            let raw = mean(f.rows.iter().map(|r| forest.predict(r) as f64));
            out.push(OofPrediction {
                flow: i,
                group: f.meta.group(),
                fold,
                raw,
                first_window: forest.predict(&f.rows[0]) as f64,
                mining: f.label == Some(true),
            });
        }
    }
    progress(opts.folds, opts.folds);
    out.sort_by_key(|p| p.flow);
    Ok(out)
}

fn mean(it: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = it.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// Where a flow came from, for per-source breakdowns: its label rule and capture directory
/// and file stem family (`lab/xmrig-rx-tls`, `ndpi/pcap`...).
fn source_of(f: &TrainFlow) -> String {
    let p = std::path::Path::new(&f.meta.capture);
    let dir = p
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|d| d.to_str())
        .unwrap_or("");
    let name = p.file_name().and_then(|d| d.to_str()).unwrap_or("");
    if f.label == Some(true) {
        format!("{}:{dir}/{name}", f.label_source)
    } else {
        format!("{}:{dir}", f.label_source)
    }
}

/// The report of held-out predictions, with thresholds chosen on them.
pub fn report(
    flows: &[TrainFlow],
    oof: &[OofPrediction],
    opts: &TrainOptions,
) -> (CvReport, Thresholds) {
    let preds: Vec<(f64, bool)> = oof.iter().map(|p| (p.raw, p.mining)).collect();
    let suspect = threshold_for_fp_rate(&preds, opts.suspect_fp_per_10k);
    let mining = threshold_for_fp_rate(&preds, opts.mining_fp_per_10k).max(suspect);
    let first: Vec<(f64, bool)> = oof.iter().map(|p| (p.first_window, p.mining)).collect();
    let mut recall_by_source: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut fp_by_source: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for p in oof {
        let f = &flows[p.flow];
        let e = if p.mining {
            recall_by_source.entry(source_of(f)).or_default()
        } else {
            fp_by_source.entry(source_of(f)).or_default()
        };
        e.1 += 1;
        if p.raw >= suspect {
            e.0 += 1;
        }
    }
    let groups: BTreeSet<&str> = oof.iter().map(|p| p.group.as_str()).collect();
    let mining_groups: BTreeSet<&str> = oof
        .iter()
        .filter(|p| p.mining)
        .map(|p| p.group.as_str())
        .collect();
    let table = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
        .iter()
        .map(|&t| at_threshold(&preds, t))
        .collect();
    let r = CvReport {
        folds: oof.iter().map(|p| p.fold).max().map_or(0, |f| f + 1),
        groups: groups.len(),
        mining_groups: mining_groups.len(),
        mining_flows: preds.iter().filter(|p| p.1).count(),
        benign_flows: preds.iter().filter(|p| !p.1).count(),
        roc_auc: roc_auc(&preds),
        average_precision: average_precision(&preds),
        first_window_roc_auc: roc_auc(&first),
        at_suspect: at_threshold(&preds, suspect),
        at_mining: at_threshold(&preds, mining),
        threshold_table: table,
        recall_by_source,
        false_positives_by_source: fp_by_source,
    };
    (r, Thresholds { suspect, mining })
}

/// Isotonic (pool-adjacent-violators) map from mean forest output to the share of mining
/// flows among held-out flows with that output, with the two classes weighted equally: the
/// probability of mining for a flow from a population with as many mining as benign flows.
/// (The training data's own mix, mostly scan connections to pools, says nothing about a real
/// network's; an analyst who knows the base rate can rescale the odds.)
pub fn calibrate(oof: &[OofPrediction]) -> Calibration {
    let pos = oof.iter().filter(|p| p.mining).count().max(1) as f64;
    let neg = oof.iter().filter(|p| !p.mining).count().max(1) as f64;
    let mut v: Vec<(f64, f64, f64)> = oof
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
/// thresholds), then the final forest on every labelled row.
pub fn train(
    flows: &[TrainFlow],
    schema: &str,
    features: &[&str],
    opts: &TrainOptions,
    inputs: Vec<String>,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<ModelFile> {
    let idx = usable(flows, schema);
    let summary = summarise(flows, schema, &idx, inputs);
    if summary.mining_flows == 0 || summary.benign_flows == 0 {
        bail!(
            "training needs mining and benign flows; labelled: {} mining, {} benign (of {} flows, {} unlabelled, {} the model does not apply to)",
            summary.mining_flows,
            summary.benign_flows,
            summary.flows,
            summary.unlabelled_flows,
            summary.ineligible_flows
        );
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
    let (rows, y, w) = matrix(flows, &idx, opts.weighting);
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
        } else if !eligible(&f.meta.transport, schema, &f.rows) {
            s.ineligible_flows += 1;
        }
    }
    let mut groups = BTreeSet::new();
    let mut mining_groups = BTreeSet::new();
    for &i in idx {
        let f = &flows[i];
        groups.insert(f.meta.group());
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
        if f.label == Some(true) {
            s.mining_flows += 1;
            s.mining_rows += f.rows.len();
            mining_groups.insert(f.meta.group());
        } else {
            s.benign_flows += 1;
            s.benign_rows += f.rows.len();
        }
    }
    s.groups = groups.len();
    s.mining_groups = mining_groups.len();
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::shape::{SHAPE_FEATURES, SHAPE_SCHEMA};
    use crate::model::data::FlowMeta;

    fn flow(group: &str, mining: bool, v: f32) -> TrainFlow {
        let mut r = vec![1.0f32; SHAPE_FEATURES.len()];
        r[0] = v;
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
            fold: 0,
            raw,
            first_window: raw,
            mining,
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
}
