//! `poolscope train` and `poolscope eval`: labelled flows in, a model and its metrics out.

use super::extract::{render_summary, Bar};
use super::CliError;
use crate::model::data::{write_window_table, Eligibility, Gate, TrainFlow};
use crate::model::forest::{ForestKind, ForestParams};
use crate::model::load::{load_training, FeatureSet, LabelFrom, TrainingInputs};
use crate::model::metrics::{at_threshold, roc_auc, wilson_interval, ThresholdRow};
use crate::model::train::{
    calibrate, cross_validate, leave_one_source_out, rates, report, train, ClassCounts, CvReport,
    LosoReport, TrainOptions, Weighting, LONG_SESSION_S,
};
use crate::model::{schema_columns, schema_features, ModelError, ModelFile};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Where the labelled flows come from.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// Inputs: captures (pcap, pcapng), window tables (Parquet, CSV, NDJSON written by
    /// `extract --windows` or `train --save-table`), flow exports with `--features netflow`,
    /// or directories of them.
    #[arg(long, num_args = 1.., required = true)]
    pub data: Vec<PathBuf>,
    /// Inputs whose flows are all benign (also read as data).
    #[arg(long, num_args = 1..)]
    pub benign: Vec<PathBuf>,
    /// Inputs whose flows are all mining (also read as data).
    #[arg(long, num_args = 1..)]
    pub mining: Vec<PathBuf>,
    /// Labels CSV: a `label` column (mining/benign) and any of capture, src_ip, src_port,
    /// dst_ip, dst_port, transport, server (address, address:port, or name).
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// More labelling rules: `stratum` (confirmed plaintext mining protocols are mining),
    /// `feeds` (flows to listed pools are mining).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub label_from: Vec<LabelFrom>,
    /// Feed directory for `--label-from feeds` (default as for `score`).
    #[arg(long)]
    pub feeds: Option<PathBuf>,
    /// Feature set: shape (packet captures) or netflow (flow records).
    #[arg(long, value_enum, default_value = "shape")]
    pub features: FeatureSet,
    /// Leave out the flows of captures matching these patterns (`*` wildcards, matched against
    /// the capture's path or file name), e.g. to hold a session out of training.
    #[arg(long, num_args = 1..)]
    pub exclude: Vec<String>,
    /// No progress bar and no summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Forest and validation settings.
#[derive(Debug, Args)]
pub struct HyperArgs {
    /// Kind of forest: extra (extremely randomised trees) or random (bootstrap, best splits).
    #[arg(long, value_enum, default_value = "extra")]
    pub forest: ForestKind,
    /// Trees in the forest.
    #[arg(long, default_value_t = ForestParams::default().trees)]
    pub trees: usize,
    /// Depth limit of each tree.
    #[arg(long, default_value_t = ForestParams::default().max_depth)]
    pub max_depth: u16,
    /// Rows a leaf needs at least.
    #[arg(long, default_value_t = ForestParams::default().min_samples_leaf)]
    pub min_leaf: usize,
    /// Features tried per split (0: square root of the feature count).
    #[arg(long, default_value_t = 0)]
    pub mtry: usize,
    /// Seed: same data and seed give the same model.
    #[arg(long, default_value_t = ForestParams::default().seed)]
    pub seed: u64,
    /// Folds of the grouped cross-validation by pool (0: none).
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// How training rows weigh: sessions (every capture's flows to one pool the same), time
    /// (the span a row covers), groups (every pool the same) or rows (every window the same).
    #[arg(long, value_enum, default_value = "sessions")]
    pub weighting: Weighting,
    /// Messages (window rows) or packets (flow-export rows) a flow needs each way before the
    /// model judges it [default: 4 messages, or 8 packets].
    #[arg(long)]
    pub min_each_way: Option<f64>,
    /// Seconds a flow must cover before the model judges it [default: 30].
    #[arg(long)]
    pub min_seconds: Option<f64>,
    /// Benign flows per 10,000 (with data both ways) the `suspect` threshold may flag in
    /// cross-validation.
    #[arg(long, default_value_t = TrainOptions::default().suspect_fp_per_10k)]
    pub suspect_per_10k: f64,
    /// Benign flows per 10,000 the `mining` threshold may flag.
    #[arg(long, default_value_t = TrainOptions::default().mining_fp_per_10k)]
    pub mining_per_10k: f64,
}

impl HyperArgs {
    fn options(&self, schema: &str) -> TrainOptions {
        let gate = Gate::for_schema(schema);
        TrainOptions {
            params: ForestParams {
                kind: self.forest,
                trees: self.trees,
                max_depth: self.max_depth,
                min_samples_leaf: self.min_leaf,
                mtry: self.mtry,
                seed: self.seed,
            },
            folds: self.folds,
            weighting: self.weighting,
            suspect_fp_per_10k: self.suspect_per_10k,
            mining_fp_per_10k: self.mining_per_10k,
            gate: Gate {
                min_each_way: self.min_each_way.unwrap_or(gate.min_each_way),
                min_seconds: self.min_seconds.unwrap_or(gate.min_seconds),
            },
        }
    }
}

/// Arguments of `poolscope train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Data and labels.
    #[command(flatten)]
    pub data: DataArgs,
    /// Hyperparameters.
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Where to write the model.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the labelled rows as a window table (Parquet, CSV or NDJSON by extension),
    /// which `train --data` reads back to reproduce the model without the captures.
    #[arg(long)]
    pub save_table: Option<PathBuf>,
}

/// Arguments of `poolscope eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Data and labels.
    #[command(flatten)]
    pub data: DataArgs,
    /// Model to apply to the data as held-out data; its hyperparameters are also used for the
    /// cross-validation.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Hyperparameters for the cross-validation when no model is given.
    #[command(flatten)]
    pub hyper: HyperArgs,
    /// Write the report as JSON.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write one row per evaluated flow (capture, flow, group, fold, label, scores) as CSV,
    /// Parquet or NDJSON, for plots.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
    /// Skip the leave-one-source-out evaluation (one forest per source).
    #[arg(long)]
    pub no_loso: bool,
}

impl DataArgs {
    /// The training inputs these arguments name.
    fn training_inputs(&self) -> TrainingInputs {
        TrainingInputs {
            data: self.data.clone(),
            benign: self.benign.clone(),
            mining: self.mining.clone(),
            labels: self.labels.clone(),
            label_from: self.label_from.clone(),
            feeds: self.feeds.clone(),
            features: self.features,
            exclude: self.exclude.clone(),
        }
    }
}

/// Reads and labels every input ([`load_training`]) with a progress bar, and shows the
/// extraction summary; returns the flows, the input names and the exit code of the reading.
pub(super) fn load(args: &DataArgs) -> Result<(Vec<TrainFlow>, Vec<String>, i32), CliError> {
    let data = load_training(&args.training_inputs(), &Bar::new(args.quiet))?;
    let exit = data.extraction.as_ref().map_or(0, |o| o.exit_code());
    if let Some(o) = &data.extraction {
        if !args.quiet && o.summary.files > 0 {
            eprint!("{}", render_summary(&o.summary));
        }
    }
    Ok((data.flows, data.inputs, exit))
}

fn unknown_schema(set: FeatureSet) -> CliError {
    CliError::Usage(format!(
        "schema {} is unknown to this poolscope",
        set.schema()
    ))
}

fn fold_progress(quiet: bool) -> impl FnMut(usize, usize) {
    let bar = super::stderr_bar(quiet, Some(0), None);
    move |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if done == total {
            bar.finish_and_clear();
        }
    }
}

pub(super) fn run_train(args: TrainArgs) -> Result<i32, CliError> {
    let (flows, inputs, exit) = load(&args.data)?;
    let set = args.data.features;
    let names = schema_features(set.schema()).ok_or_else(|| unknown_schema(set))?;
    let columns = schema_columns(set.schema()).ok_or_else(|| unknown_schema(set))?;
    if let Some(t) = &args.save_table {
        // Every labelled flow, those the gate keeps from the model included: `eval` counts them
        // in its false-positive rates.
        let labelled: Vec<TrainFlow> = flows
            .iter()
            .filter(|f| f.label.is_some())
            .cloned()
            .collect();
        write_window_table(t, &labelled, &columns)?;
    }
    let opts = args.hyper.options(set.schema());
    let started = std::time::Instant::now();
    let model = train(
        &flows,
        set.schema(),
        &names,
        &opts,
        inputs,
        &mut fold_progress(args.data.quiet),
    )?;
    model.save(&args.output)?;
    if !args.data.quiet {
        let t = &model.training;
        eprintln!(
            "poolscope: trained {} on {} mining flows ({} rows, {} pools) and {} benign flows ({} rows) from {} sessions of {} sources in {:.1} s; left out: {} unlabelled flows, {} with too little data for the gate, {} the model does not apply to",
            args.output.display(),
            t.mining_flows,
            t.mining_rows,
            t.mining_groups,
            t.benign_flows,
            t.benign_rows,
            t.sessions,
            t.sources.len(),
            started.elapsed().as_secs_f64(),
            t.unlabelled_flows,
            t.insufficient_flows,
            t.ineligible_flows
        );
        if let Some(cv) = &model.cv {
            eprint!("{}", render_cv(cv, &model));
        }
    }
    Ok(exit)
}

/// The report `eval` writes.
#[derive(Debug, serde::Serialize)]
struct EvalReport {
    schema: String,
    flows: usize,
    /// Labelled mining flows with data both ways.
    mining_flows: usize,
    /// Labelled benign flows with data both ways.
    benign_flows: usize,
    /// The gate the evaluation used.
    gate: Gate,
    /// The given model applied to the data.
    holdout: Option<Holdout>,
    /// Grouped cross-validation on the data.
    cv: Option<CvReport>,
    /// Why grouped cross-validation was skipped, when it was.
    cv_skipped: Option<String>,
    /// Leave-one-source-out.
    loso: Option<LosoReport>,
    importances: Vec<crate::model::Importance>,
}

#[derive(Debug, serde::Serialize)]
struct Holdout {
    model: String,
    roc_auc: f64,
    judged: usize,
    insufficient: usize,
    at_suspect: ThresholdRow,
    at_mining: ThresholdRow,
    long_sessions: ClassCounts,
    threshold_table: Vec<ThresholdRow>,
}

pub(super) fn run_eval(args: EvalArgs) -> Result<i32, CliError> {
    let model = args.model.as_deref().map(ModelFile::load).transpose()?;
    let set = args.data.features;
    if let Some(m) = &model {
        if m.schema != set.schema() {
            return Err(CliError::Usage(format!(
                "the model reads schema {:?}; pass --features {}",
                m.schema,
                if m.schema == crate::model::NETFLOW_SCHEMA {
                    "netflow"
                } else {
                    "shape"
                }
            )));
        }
    }
    let (flows, inputs, exit) = load(&args.data)?;
    let names = schema_features(set.schema()).ok_or_else(|| unknown_schema(set))?;
    // The model's own options (gate included) when a model is given, else the flags'.
    let mut opts = model
        .as_ref()
        .map(|m| m.options.clone())
        .unwrap_or_else(|| args.hyper.options(set.schema()));
    opts.folds = args.hyper.folds;
    let population: Vec<(usize, Eligibility)> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| f.label.is_some())
        .map(|(i, f)| {
            (
                i,
                opts.gate
                    .eligibility(&f.meta.transport, set.schema(), &f.rows),
            )
        })
        .filter(|(_, e)| !matches!(e, Eligibility::NotApplicable))
        .collect();
    let mut preds_rows: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
    let mut holdout = None;
    if let Some(m) = &model {
        let mut all = Vec::new();
        let mut judged = Vec::new();
        let mut long = ClassCounts::default();
        for &(i, e) in &population {
            let f = &flows[i];
            let mining = f.label == Some(true);
            let (raw, seconds) = match e {
                Eligibility::Speaks(ev) => (Some(m.raw_score(&f.rows)), ev.seconds),
                Eligibility::Insufficient(ev) => (None, ev.seconds),
                Eligibility::NotApplicable => continue,
            };
            all.push((raw.unwrap_or(-1.0), mining));
            if let Some(r) = raw {
                judged.push((r, mining));
            }
            if mining && seconds >= LONG_SESSION_S {
                long.flows += 1;
                if let Some(r) = raw {
                    long.judged += 1;
                    long.suspect += (r >= m.thresholds.suspect) as usize;
                    long.mining += (r >= m.thresholds.mining) as usize;
                }
            }
            preds_rows.push(pred_row(
                f,
                "holdout",
                None,
                raw,
                raw.map(|r| m.calibration.apply(r)),
                raw.map_or("insufficient", |r| m.verdict(r).as_str()),
            ));
        }
        holdout = Some(Holdout {
            model: args
                .model
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            roc_auc: roc_auc(&judged),
            judged: judged.len(),
            insufficient: all.len() - judged.len(),
            at_suspect: at_threshold(&all, m.thresholds.suspect),
            at_mining: at_threshold(&all, m.thresholds.mining),
            long_sessions: long,
            threshold_table: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
                .iter()
                .map(|&t| at_threshold(&all, t))
                .collect(),
        });
    }
    let mut cv = None;
    let mut cv_skipped = None;
    let mut importances = Vec::new();
    if opts.folds >= 2 {
        match cross_validate(
            &flows,
            set.schema(),
            &opts,
            &mut fold_progress(args.data.quiet),
        ) {
            Ok(oof) => {
                let (rep, th) = report(&flows, &oof, &opts);
                let cal = calibrate(&oof);
                for p in &oof {
                    let mut r = pred_row(
                        &flows[p.flow],
                        "cv",
                        Some(p.fold),
                        p.judged.then_some(p.raw),
                        p.judged.then(|| cal.apply(p.raw)),
                        if p.judged {
                            th.verdict(p.raw).as_str()
                        } else {
                            "insufficient"
                        },
                    );
                    r.insert(
                        "first_window_raw".into(),
                        if p.judged {
                            p.first_window.into()
                        } else {
                            serde_json::Value::Null
                        },
                    );
                    preds_rows.push(r);
                }
                cv = Some(rep);
            }
            Err(e @ ModelError::TooFewPools(_)) if model.is_some() => {
                // Too few pools to cross-validate: the given model alone is evaluated.
                cv_skipped = Some(e.to_string());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let mut loso = None;
    if !args.no_loso {
        let (rep, preds) = leave_one_source_out(
            &flows,
            set.schema(),
            &opts,
            &mut fold_progress(args.data.quiet),
        )?;
        for p in &preds {
            let th = rep.sources[p.fold].thresholds;
            preds_rows.push(pred_row(
                &flows[p.flow],
                "loso",
                Some(p.fold),
                p.judged.then_some(p.raw),
                None,
                if p.judged {
                    th.verdict(p.raw).as_str()
                } else {
                    "insufficient"
                },
            ));
        }
        if rep.sources.iter().any(|s| s.evaluated) {
            loso = Some(rep);
        }
    }
    if let Some(m) = &model {
        importances = m.importances.clone();
    } else if population
        .iter()
        .any(|p| matches!(p.1, Eligibility::Speaks(_)))
        && cv.is_some()
    {
        // Importances of a forest fitted on all the data, as `train` would.
        let fitted = train(
            &flows,
            set.schema(),
            &names,
            &TrainOptions {
                folds: 0,
                ..opts.clone()
            },
            inputs.clone(),
            &mut |_, _| {},
        )?;
        importances = fitted.importances;
    }
    let count = |mining: bool| {
        population
            .iter()
            .filter(|&&(i, _)| (flows[i].label == Some(true)) == mining)
            .count()
    };
    let rep = EvalReport {
        schema: set.schema().to_string(),
        flows: flows.len(),
        mining_flows: count(true),
        benign_flows: count(false),
        gate: opts.gate,
        holdout,
        cv,
        cv_skipped,
        loso,
        importances,
    };
    print!("{}", render_eval(&rep));
    if let Some(p) = &args.report {
        let text = serde_json::to_string_pretty(&rep).map_err(std::io::Error::from);
        text.and_then(|t| std::fs::write(p, t))
            .map_err(|e| crate::Error::output(p, e))?;
    }
    if let Some(p) = &args.predictions {
        let format = crate::output::Format::from_path(p).unwrap_or(crate::output::Format::Csv);
        let file = std::fs::File::create(p).map_err(|e| crate::Error::output(p, e))?;
        crate::output::write_table(Box::new(file), p, format, &preds_rows)?;
    }
    Ok(exit)
}

fn pred_row(
    f: &TrainFlow,
    kind: &str,
    fold: Option<usize>,
    raw: Option<f64>,
    prob: Option<f64>,
    verdict: &str,
) -> serde_json::Map<String, serde_json::Value> {
    let num = |v: Option<f64>| v.map_or(serde_json::Value::Null, serde_json::Value::from);
    let mut r = serde_json::Map::new();
    r.insert("evaluation".into(), kind.into());
    r.insert("capture".into(), f.meta.capture.clone().into());
    r.insert("flow_id".into(), f.meta.flow_id.into());
    r.insert("group".into(), f.meta.group().into());
    r.insert(
        "fold".into(),
        fold.map_or(serde_json::Value::Null, |x| (x as u64).into()),
    );
    r.insert(
        "label".into(),
        if f.label == Some(true) {
            "mining"
        } else {
            "benign"
        }
        .into(),
    );
    r.insert("label_source".into(), f.label_source.into());
    r.insert("windows".into(), (f.rows.len() as u64).into());
    r.insert("source".into(), f.meta.source.clone().into());
    r.insert("variant".into(), f.meta.variant.clone().into());
    r.insert("raw".into(), num(raw));
    r.insert("probability".into(), num(prob));
    r.insert("verdict".into(), verdict.into());
    r.insert("first_window_raw".into(), serde_json::Value::Null);
    r
}

fn fmt_row(r: &ThresholdRow) -> String {
    let c = &r.confusion;
    format!(
        "threshold {:.3}: precision {:.4}, recall {:.4}, F1 {:.4}, FP per 10k benign {:.1} (TP {}, FP {}, TN {}, FN {})",
        r.threshold, r.precision, r.recall, r.f1, r.fp_per_10k, c.tp, c.fp, c.tn, c.r#fn
    )
}

fn render_cv(cv: &CvReport, model: &ModelFile) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "poolscope: grouped {}-fold cross-validation by pool: {} groups ({} with mining), {} mining and {} benign flows judged, {} and {} with too little data",
        cv.folds,
        cv.groups,
        cv.mining_groups,
        cv.mining_flows,
        cv.benign_flows,
        cv.mining_insufficient,
        cv.benign_insufficient
    );
    let _ = writeln!(
        o,
        "poolscope: ROC-AUC {:.4}, average precision {:.4}, first window alone ROC-AUC {:.4}",
        cv.roc_auc, cv.average_precision, cv.first_window_roc_auc
    );
    let _ = writeln!(o, "poolscope: suspect {}", fmt_row(&cv.at_suspect));
    let _ = writeln!(o, "poolscope: mining  {}", fmt_row(&cv.at_mining));
    let top: Vec<String> = model
        .importances
        .iter()
        .take(8)
        .map(|i| format!("{} {:.3}", i.feature, i.importance))
        .collect();
    let _ = writeln!(o, "poolscope: top features: {}", top.join(", "));
    o
}

/// `k/n (lo–hi%)`: a count, its share and the 95% Wilson interval.
fn share(k: usize, n: usize) -> String {
    if n == 0 {
        return "0/0".to_string();
    }
    let (lo, hi) = wilson_interval(k as u64, n as u64);
    format!(
        "{k}/{n} ({:.1}%, 95% {:.1}–{:.1}%)",
        k as f64 / n as f64 * 100.0,
        lo * 100.0,
        hi * 100.0
    )
}

/// Benign flags per 10,000 with the 95% upper bound.
fn per_10k(c: &ClassCounts) -> String {
    let (s, sb, m, mb) = rates(c);
    format!(
        "suspect {} of {} ({s:.1} per 10k, 95% bound {sb:.1}), mining {} ({m:.1} per 10k, bound {mb:.1})",
        c.suspect, c.flows, c.mining
    )
}

fn render_loso(o: &mut String, l: &LosoReport) {
    let _ = writeln!(
        o,
        "\nleave-one-source-out: each source scored by a forest trained on the others, at thresholds chosen on the others' held-out scores"
    );
    let _ = writeln!(
        o,
        "  {:<26} {:>16} {:>34} {:>34} {:>22}",
        "source",
        "thresholds",
        "mining flagged (suspect)",
        "long sessions flagged (suspect)",
        "benign flagged (s/m)"
    );
    for s in &l.sources {
        if !s.evaluated {
            let _ = writeln!(
                o,
                "  {:<26} not evaluated: the other sources lack a class",
                s.source
            );
            continue;
        }
        let cell = |c: &ClassCounts, k: usize| {
            if c.flows == 0 {
                "-".to_string()
            } else {
                format!("{k}/{} ({} judged)", c.flows, c.judged)
            }
        };
        let _ = writeln!(
            o,
            "  {:<26} {:>16} {:>34} {:>34} {:>22}",
            s.source,
            format!("{:.3}/{:.3}", s.thresholds.suspect, s.thresholds.mining),
            cell(&s.mining, s.mining.suspect),
            cell(&s.long_mining, s.long_mining.suspect),
            if s.benign.flows == 0 {
                "-".to_string()
            } else {
                format!(
                    "{}/{} of {}",
                    s.benign.suspect, s.benign.mining, s.benign.flows
                )
            }
        );
    }
    let _ = writeln!(
        o,
        "  mining flows flagged suspect: {}; mining: {}",
        share(l.mining.suspect, l.mining.flows),
        share(l.mining.mining, l.mining.flows)
    );
    let _ = writeln!(
        o,
        "  long sessions (>= {LONG_SESSION_S} s) flagged suspect: {}; mining: {}",
        share(l.long_mining.suspect, l.long_mining.flows),
        share(l.long_mining.mining, l.long_mining.flows)
    );
    let _ = writeln!(
        o,
        "  benign flows with data both ways: {} ({} judged by the model): {}",
        l.benign.flows,
        l.benign.judged,
        per_10k(&l.benign)
    );
    if !l.by_variant.is_empty() {
        let _ = writeln!(o, "  by variant (the exporter's active timeout):");
        for (v, (m, long, b)) in &l.by_variant {
            let _ = writeln!(
                o,
                "    {v:<22} mining conversations flagged suspect {}; long (>= {LONG_SESSION_S} s) {}; benign {}",
                share(m.suspect, m.flows),
                share(long.suspect, long.flows),
                per_10k(b)
            );
        }
    }
}

fn render_eval(r: &EvalReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "schema {}: {} flows read; {} mining and {} benign labelled TCP flows with data both ways; the model judges flows with at least {} each way over {} s",
        r.schema, r.flows, r.mining_flows, r.benign_flows, r.gate.min_each_way, r.gate.min_seconds
    );
    if let Some(h) = &r.holdout {
        let _ = writeln!(
            o,
            "\nmodel {} applied to the data (held out only if it was not trained on it): {} flows judged, {} with too little data",
            h.model, h.judged, h.insufficient
        );
        let _ = writeln!(o, "  ROC-AUC {:.4} (judged flows)", h.roc_auc);
        let _ = writeln!(o, "  suspect {}", fmt_row(&h.at_suspect));
        let _ = writeln!(o, "  mining  {}", fmt_row(&h.at_mining));
        let l = &h.long_sessions;
        let _ = writeln!(
            o,
            "  long sessions (>= {LONG_SESSION_S} s) flagged suspect: {}; mining: {}",
            share(l.suspect, l.flows),
            share(l.mining, l.flows)
        );
    }
    if let Some(why) = &r.cv_skipped {
        let _ = writeln!(o, "\ngrouped cross-validation skipped: {why}");
    }
    if let Some(cv) = &r.cv {
        let _ = writeln!(
            o,
            "\ngrouped {}-fold cross-validation by pool (server name or address): {} groups, {} with mining flows; {} mining and {} benign flows judged, {} and {} with too little data (never flagged)",
            cv.folds, cv.groups, cv.mining_groups, cv.mining_flows, cv.benign_flows, cv.mining_insufficient, cv.benign_insufficient
        );
        let _ = writeln!(
            o,
            "  ROC-AUC {:.4}, average precision {:.4}; judged on the first window only: ROC-AUC {:.4}",
            cv.roc_auc, cv.average_precision, cv.first_window_roc_auc
        );
        let _ = writeln!(o, "  suspect {}", fmt_row(&cv.at_suspect));
        let _ = writeln!(o, "  mining  {}", fmt_row(&cv.at_mining));
        let (ls, lm, ln) = cv.long_sessions;
        let _ = writeln!(
            o,
            "  long sessions (>= {LONG_SESSION_S} s) flagged suspect: {}; mining: {}",
            share(ls, ln),
            share(lm, ln)
        );
        let _ = writeln!(
            o,
            "  threshold table (raw score, every flow with data both ways):"
        );
        for t in &cv.threshold_table {
            let _ = writeln!(o, "    {}", fmt_row(t));
        }
        let _ = writeln!(
            o,
            "  recall at the suspect threshold by source (label rule:source/capture):"
        );
        for (s, (hit, n)) in &cv.recall_by_source {
            let _ = writeln!(o, "    {s}: {hit}/{n}");
        }
        let _ = writeln!(o, "  benign flows flagged suspect by source:");
        for (s, (hit, n)) in &cv.false_positives_by_source {
            let _ = writeln!(o, "    {s}: {hit}/{n}");
        }
    }
    if let Some(l) = &r.loso {
        render_loso(&mut o, l);
    }
    if !r.importances.is_empty() {
        let _ = writeln!(o, "\nfeature importances:");
        for i in &r.importances {
            let _ = writeln!(o, "  {:<18} {:.4}", i.feature, i.importance);
        }
    }
    o
}
