//! `poolscope train` and `poolscope eval`: labelled flows in, a model and its metrics out.

use super::extract::{render_summary, run_pipeline, FlowArgs};
use super::score::default_feeds_dir;
use crate::extract::ExtractConfig;
use crate::intel::{Matcher, PoolFeed};
use crate::model::data::{
    read_labels, read_window_table, write_window_table, FlowMeta, Labeller, TrainFlow,
};
use crate::model::forest::ForestParams;
use crate::model::metrics::{at_threshold, roc_auc, ThresholdRow};
use crate::model::train::{
    calibrate, cross_validate, report, train, CvReport, TrainOptions, Weighting,
};
use crate::model::{schema_features, ModelFile};
use crate::output::FlowRecord;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Which feature set a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FeatureSet {
    /// Window rows of application messages from packet captures (`shape-v1`).
    Shape,
    /// What flow exports have: durations, packets, bytes, flags (`netflow-v1`).
    Netflow,
}

impl FeatureSet {
    /// The schema name.
    pub fn schema(self) -> &'static str {
        match self {
            FeatureSet::Shape => crate::features::shape::SHAPE_SCHEMA,
            FeatureSet::Netflow => crate::model::NETFLOW_SCHEMA,
        }
    }
}

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
    #[arg(long, value_delimiter = ',')]
    pub label_from: Vec<String>,
    /// Feed directory for `--label-from feeds` (default as for `score`).
    #[arg(long)]
    pub feeds: Option<PathBuf>,
    /// Feature set: shape (packet captures) or netflow (flow records).
    #[arg(long, value_enum, default_value = "shape")]
    pub features: FeatureSet,
    /// No progress bar and no summary on stderr.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Forest and validation settings.
#[derive(Debug, Args)]
pub struct HyperArgs {
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
    /// How training rows weigh: time (the span a row covers), groups (every pool the same)
    /// or rows (every window the same).
    #[arg(long, value_enum, default_value = "time")]
    pub weighting: Weighting,
}

impl HyperArgs {
    fn options(&self) -> TrainOptions {
        TrainOptions {
            params: ForestParams {
                trees: self.trees,
                max_depth: self.max_depth,
                min_samples_leaf: self.min_leaf,
                mtry: self.mtry,
                seed: self.seed,
            },
            folds: self.folds,
            weighting: self.weighting,
            ..TrainOptions::default()
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
}

/// Captures found under a directory, sorted.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_capture_name(&p) {
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

/// Expands directories into the captures under them.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// The model rows of a flow record for a feature set.
fn rows_for(rec: &FlowRecord, set: FeatureSet) -> Vec<Vec<f32>> {
    match set {
        FeatureSet::Shape => rec.model_rows.clone(),
        FeatureSet::Netflow => crate::model::netflow_rows(rec),
    }
}

/// Reads and labels every input.
pub(super) fn load(args: &DataArgs) -> Result<(Vec<TrainFlow>, Vec<String>, i32)> {
    let set = args.features;
    let names = schema_features(set.schema()).ok_or_else(|| anyhow!("unknown schema"))?;
    let mut labeller = Labeller::default();
    if let Some(l) = &args.labels {
        labeller.rules = read_labels(l)?;
    }
    for rule in &args.label_from {
        match rule.as_str() {
            "stratum" => labeller.from_stratum = true,
            "feeds" => {
                let dir = args.feeds.clone().unwrap_or_else(default_feeds_dir);
                let feed = PoolFeed::load(&dir).map_err(|e| anyhow!("{e}"))?;
                labeller.feeds = Some(Matcher::new(&feed));
            }
            other => bail!("unknown --label-from {other:?} (stratum or feeds)"),
        }
    }
    let data = expand(&args.data)?;
    let benign = expand(&args.benign)?;
    let mining = expand(&args.mining)?;
    for (list, l) in [(&benign, false), (&mining, true)] {
        for p in list {
            labeller.captures.insert(p.display().to_string(), l);
        }
    }
    let mut all: Vec<PathBuf> = Vec::new();
    for p in data.iter().chain(&benign).chain(&mining) {
        if !all.contains(p) {
            all.push(p.clone());
        }
    }
    // Window tables of this schema are read as they are; everything else (captures, flow
    // exports, flow tables) goes through the pipeline.
    let mut tables = Vec::new();
    let mut others = Vec::new();
    for p in &all {
        if is_table_name(p) && crate::model::is_window_table(p, &names)? {
            tables.push(p.clone());
        } else {
            others.push(p.clone());
        }
    }
    let mut flows = Vec::new();
    let mut exit = 0;
    for t in &tables {
        for mut f in read_window_table(t, &names)? {
            let (label, source) = labeller.label(&f.meta);
            if label.is_some() {
                f.label = label;
                f.label_source = source;
            }
            flows.push(f);
        }
    }
    if !others.is_empty() {
        let fa = FlowArgs::defaults(others, args.quiet);
        let cfg: ExtractConfig = fa.config().map_err(|e| anyhow!("{e}"))?;
        let (code, summary) = run_pipeline(&fa, cfg, &mut |rec| {
            let meta = FlowMeta::from_record(&rec);
            let (label, source) = labeller.label(&meta);
            flows.push(TrainFlow {
                rows: rows_for(&rec, set),
                meta,
                label,
                label_source: source,
            });
            Ok(())
        })?;
        exit = code;
        if !args.quiet && summary.files > 0 {
            eprint!("{}", render_summary(&summary));
        }
    }
    let inputs = all
        .iter()
        .map(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        })
        .collect();
    Ok((flows, inputs, exit))
}

fn fold_progress(quiet: bool) -> impl FnMut(usize, usize) {
    let bar = if !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(0)
    } else {
        indicatif::ProgressBar::hidden()
    };
    move |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        if done == total {
            bar.finish_and_clear();
        }
    }
}

pub(super) fn run_train(args: TrainArgs) -> Result<i32> {
    let (flows, inputs, exit) = load(&args.data)?;
    let set = args.data.features;
    let names = schema_features(set.schema()).ok_or_else(|| anyhow!("unknown schema"))?;
    if let Some(t) = &args.save_table {
        let labelled: Vec<TrainFlow> = flows
            .iter()
            .filter(|f| f.label.is_some())
            .cloned()
            .collect();
        write_window_table(t, &labelled, &names)?;
    }
    let opts = args.hyper.options();
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
            "poolscope: trained {} on {} mining flows ({} rows, {} pools) and {} benign flows ({} rows) in {:.1} s; {} unlabelled and {} ineligible flows left out",
            args.output.display(),
            t.mining_flows,
            t.mining_rows,
            t.mining_groups,
            t.benign_flows,
            t.benign_rows,
            started.elapsed().as_secs_f64(),
            t.unlabelled_flows,
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
    mining_flows: usize,
    benign_flows: usize,
    /// The given model applied to the data.
    holdout: Option<Holdout>,
    /// Grouped cross-validation on the data.
    cv: Option<CvReport>,
    importances: Vec<crate::model::Importance>,
}

#[derive(Debug, serde::Serialize)]
struct Holdout {
    model: String,
    roc_auc: f64,
    at_suspect: ThresholdRow,
    at_mining: ThresholdRow,
    threshold_table: Vec<ThresholdRow>,
}

pub(super) fn run_eval(args: EvalArgs) -> Result<i32> {
    let model = args.model.as_deref().map(ModelFile::load).transpose()?;
    let set = args.data.features;
    if let Some(m) = &model {
        if m.schema != set.schema() {
            bail!(
                "the model reads schema {:?}; pass --features {}",
                m.schema,
                if m.schema == crate::model::NETFLOW_SCHEMA {
                    "netflow"
                } else {
                    "shape"
                }
            );
        }
    }
    let (flows, inputs, exit) = load(&args.data)?;
    let names = schema_features(set.schema()).ok_or_else(|| anyhow!("unknown schema"))?;
    let usable: Vec<usize> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.label.is_some()
                && crate::model::data::eligible(&f.meta.transport, set.schema(), &f.rows)
        })
        .map(|(i, _)| i)
        .collect();
    let mut preds_rows: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
    let mut holdout = None;
    if let Some(m) = &model {
        let preds: Vec<(f64, bool)> = usable
            .iter()
            .map(|&i| (m.raw_score(&flows[i].rows), flows[i].label == Some(true)))
            .collect();
        holdout = Some(Holdout {
            model: args
                .model
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            roc_auc: roc_auc(&preds),
            at_suspect: at_threshold(&preds, m.thresholds.suspect),
            at_mining: at_threshold(&preds, m.thresholds.mining),
            threshold_table: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
                .iter()
                .map(|&t| at_threshold(&preds, t))
                .collect(),
        });
        for (&i, &(raw, _)) in usable.iter().zip(&preds) {
            preds_rows.push(pred_row(
                &flows[i],
                "holdout",
                None,
                raw,
                m.calibration.apply(raw),
                m.verdict(raw).as_str(),
            ));
        }
    }
    let mut opts = model
        .as_ref()
        .map(|m| m.options.clone())
        .unwrap_or_else(|| args.hyper.options());
    opts.folds = args.hyper.folds;
    let mut cv = None;
    let mut importances = Vec::new();
    if opts.folds >= 2 {
        let oof = cross_validate(
            &flows,
            set.schema(),
            &opts,
            &mut fold_progress(args.data.quiet),
        )?;
        let (rep, th) = report(&flows, &oof, &opts);
        let cal = calibrate(&oof);
        for p in &oof {
            let v = th.verdict(p.raw).as_str();
            let mut r = pred_row(
                &flows[p.flow],
                "cv",
                Some(p.fold),
                p.raw,
                cal.apply(p.raw),
                v,
            );
            r.insert("first_window_raw".into(), p.first_window.into());
            preds_rows.push(r);
        }
        cv = Some(rep);
    }
    if let Some(m) = &model {
        importances = m.importances.clone();
    } else if !usable.is_empty() && cv.is_some() {
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
    let rep = EvalReport {
        schema: set.schema().to_string(),
        flows: flows.len(),
        mining_flows: usable
            .iter()
            .filter(|&&i| flows[i].label == Some(true))
            .count(),
        benign_flows: usable
            .iter()
            .filter(|&&i| flows[i].label == Some(false))
            .count(),
        holdout,
        cv,
        importances,
    };
    print!("{}", render_eval(&rep));
    if let Some(p) = &args.report {
        std::fs::write(p, serde_json::to_string_pretty(&rep)?)
            .with_context(|| format!("{}: cannot write", p.display()))?;
    }
    if let Some(p) = &args.predictions {
        let format = crate::output::Format::from_path(p).unwrap_or(crate::output::Format::Csv);
        let file =
            std::fs::File::create(p).with_context(|| format!("{}: cannot create", p.display()))?;
        crate::output::write_table(Box::new(file), p, format, &preds_rows)?;
    }
    Ok(exit)
}

fn pred_row(
    f: &TrainFlow,
    kind: &str,
    fold: Option<usize>,
    raw: f64,
    prob: f64,
    verdict: &str,
) -> serde_json::Map<String, serde_json::Value> {
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
    r.insert("raw".into(), raw.into());
    r.insert("probability".into(), prob.into());
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
        "poolscope: grouped {}-fold cross-validation by pool: {} groups ({} with mining), {} mining and {} benign flows held out",
        cv.folds, cv.groups, cv.mining_groups, cv.mining_flows, cv.benign_flows
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

fn render_eval(r: &EvalReport) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "schema {}: {} flows read, {} mining and {} benign flows evaluated",
        r.schema, r.flows, r.mining_flows, r.benign_flows
    );
    if let Some(h) = &r.holdout {
        let _ = writeln!(
            o,
            "\nmodel {} applied to the data (held out only if it was not trained on it):",
            h.model
        );
        let _ = writeln!(o, "  ROC-AUC {:.4}", h.roc_auc);
        let _ = writeln!(o, "  suspect {}", fmt_row(&h.at_suspect));
        let _ = writeln!(o, "  mining  {}", fmt_row(&h.at_mining));
    }
    if let Some(cv) = &r.cv {
        let _ = writeln!(
            o,
            "\ngrouped {}-fold cross-validation by pool (server name or address): {} groups, {} with mining flows",
            cv.folds, cv.groups, cv.mining_groups
        );
        let _ = writeln!(
            o,
            "  ROC-AUC {:.4}, average precision {:.4}; judged on the first window only: ROC-AUC {:.4}",
            cv.roc_auc, cv.average_precision, cv.first_window_roc_auc
        );
        let _ = writeln!(o, "  suspect {}", fmt_row(&cv.at_suspect));
        let _ = writeln!(o, "  mining  {}", fmt_row(&cv.at_mining));
        let _ = writeln!(o, "  threshold table (raw score):");
        for t in &cv.threshold_table {
            let _ = writeln!(o, "    {}", fmt_row(t));
        }
        let _ = writeln!(
            o,
            "  recall at the suspect threshold by source (label rule:directory):"
        );
        for (s, (hit, n)) in &cv.recall_by_source {
            let _ = writeln!(o, "    {s}: {hit}/{n}");
        }
        let _ = writeln!(o, "  benign flows flagged suspect by source:");
        for (s, (hit, n)) in &cv.false_positives_by_source {
            let _ = writeln!(o, "    {s}: {hit}/{n}");
        }
    }
    if !r.importances.is_empty() {
        let _ = writeln!(o, "\nfeature importances:");
        for i in &r.importances {
            let _ = writeln!(o, "  {:<18} {:.4}", i.feature, i.importance);
        }
    }
    o
}
