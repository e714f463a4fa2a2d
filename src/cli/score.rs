//! `poolscope score`: flows with verdicts, or one row per client host.

use super::extract::{render_summary, run_pipeline, FlowArgs, OutputArgs};
use super::CliError;
use crate::intel::age::AgePolicy;
use crate::intel::{Matcher, PoolFeed};
use crate::output::{write_table, RecordWriter};
use crate::report::{FeedsInfo, FlowFacts, ModelInfo, ReportBuilder, RunInfo};
use crate::resources::Located;
use crate::score::{AlertLog, Confirmer, HostRollup, RunReport, Scored, Scorer, Verdict};
use clap::Args;
use std::path::PathBuf;

/// Arguments of `poolscope score`.
#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Inputs and flow-table settings.
    #[command(flatten)]
    pub flows: FlowArgs,
    /// Where and how to write.
    #[command(flatten)]
    pub out: OutputArgs,
    /// Feeds and models.
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// Write only flows (or hosts) at least this bad: benign, suspect or mining.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Verdict::Benign)]
    pub min_verdict: Verdict,
    /// Write one row per client address (its mining flows, pools, first and last seen,
    /// bytes) instead of one row per flow.
    #[arg(long)]
    pub by_host: bool,
    /// Also write alerts (NDJSON) to FILE (`-`: standard output): a flow's record so far, with
    /// `alert_time` and `previous_verdict`, the moment its verdict first reaches suspect or
    /// mining and each time it rises, while the flow is still open (at each completed model
    /// window, a confirmed Stratum session, a finished TLS handshake) or when it ends.
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Also produce the flow records written, and the alerts, to a Kafka topic
    /// (`host:port[,host:port…]/topic`), keyed by client address; alerts are the messages
    /// with an `alert_time`.
    #[arg(long, value_name = "BROKERS/TOPIC")]
    pub kafka_out: Option<String>,
    /// Probe the server of every `suspect` flow (TLS, then a Stratum login/subscribe with a
    /// dummy worker) and call it mining if it answers like a pool. SENDS TRAFFIC to those
    /// servers; off by default.
    #[arg(long)]
    pub confirm: bool,
    /// Also write a report of the run to FILE: one self-contained HTML page (per-host
    /// timeline, top pools, score distribution, a sortable table of flagged flows).
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
}

/// The feeds and models a verdict is made with (`score` and `watch`).
#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// Feed directory (pool domains, endpoints, certificates, fingerprints, allowlist).
    /// Default: $POOLSCOPE_FEEDS, else ./feeds, else an install prefix's
    /// (share/poolscope/feeds), else the feeds built into poolscope.
    #[arg(long, conflicts_with = "no_feeds")]
    pub feeds: Option<PathBuf>,
    /// Score without any feed (protocol evidence and the model only).
    #[arg(long)]
    pub no_feeds: bool,
    /// Flow-shape model. Default: $POOLSCOPE_MODEL, else ./models/default.model, else an
    /// install prefix's (share/poolscope/models), else the model built into poolscope.
    #[arg(long, conflicts_with = "no_model")]
    pub model: Option<PathBuf>,
    /// Flow-only model for flow-export inputs (NetFlow, IPFIX, flow tables). Default:
    /// netflow.model beside the flow-shape model (the built-in one beside the built-in model).
    #[arg(long, conflicts_with = "no_model")]
    pub netflow_model: Option<PathBuf>,
    /// Score without the models (protocol evidence and feeds only).
    #[arg(long)]
    pub no_model: bool,
    /// How feed rows are weighed by their age.
    #[command(flatten)]
    pub age: AgeArgs,
}

/// How long feed rows keep their strength, measured from each flow's own time.
#[derive(Debug, Clone, Args)]
pub struct AgeArgs {
    /// Years a pool-domain row (or browser-mining domain) stays proof either side of its
    /// date; beyond, a hit is a weak hint saying how far apart they are. `inf` never weakens.
    #[arg(long, default_value_t = AgePolicy::default().domain_years, value_name = "YEARS")]
    pub domain_max_age: f64,
    /// Years a pool-address row stays proof either side of its date (addresses change hands:
    /// hosting providers and CDNs reuse them); beyond, a weak hint.
    #[arg(long, default_value_t = AgePolicy::default().address_years, value_name = "YEARS")]
    pub address_max_age: f64,
}

impl AgeArgs {
    /// The policy, refusing negative or NaN years.
    pub(super) fn policy(&self) -> Result<AgePolicy, CliError> {
        for (v, name) in [
            (self.domain_max_age, "domain-max-age"),
            (self.address_max_age, "address-max-age"),
        ] {
            if v.is_nan() || v < 0.0 {
                return Err(CliError::Usage(format!(
                    "--{name} {v}: give a number of years, 0 or more (inf for no limit)"
                )));
            }
        }
        Ok(AgePolicy {
            domain_years: self.domain_max_age,
            address_years: self.address_max_age,
        })
    }
}

impl JudgeArgs {
    /// The scorer these options ask for: feeds and models loaded and checked.
    pub(super) fn scorer(&self) -> Result<Scorer, CliError> {
        self.scorer_and_run().map(|(s, _)| s)
    }

    /// The scorer, and what a report says of its feeds and models.
    pub(super) fn scorer_and_run(&self) -> Result<(Scorer, RunInfo), CliError> {
        let mut run = RunInfo {
            scored: "scored here".into(),
            ..RunInfo::default()
        };
        let matcher = if self.no_feeds {
            None
        } else {
            let at = self
                .feeds
                .clone()
                .map_or_else(crate::resources::default_feeds, Located::Path);
            let feed = PoolFeed::load_located(&at)?;
            run.feeds = Some(FeedsInfo {
                location: located_name(&at),
                rows: feed.len(),
                newest: feed
                    .entries()
                    .map(|e| e.provenance().date.clone())
                    .max()
                    .unwrap_or_default(),
            });
            Some(Matcher::new(&feed).with_policy(self.age.policy()?))
        };
        let model: Option<Box<dyn crate::score::FlowModel>> = if self.no_model {
            None
        } else {
            let mut set = crate::model::ModelSet::default();
            let shape = self
                .model
                .clone()
                .map_or_else(crate::resources::default_model, Located::Path);
            // The shape model is needed; the flow-only one when given, or found beside it.
            let netflow = match &self.netflow_model {
                Some(p) => Some(Located::Path(p.clone())),
                None => crate::resources::netflow_model_beside(&shape),
            };
            let wanted = [
                Some((shape, crate::features::shape::SHAPE_SCHEMA)),
                netflow.map(|n| (n, crate::model::NETFLOW_SCHEMA)),
            ];
            for (at, schema) in wanted.into_iter().flatten() {
                let m = crate::model::ModelFile::load_located(&at, schema)?;
                run.models.push(ModelInfo {
                    location: located_name(&at),
                    schema: m.schema.clone(),
                    version: m.poolscope_version.clone(),
                    trained_flows: m.training.flows,
                    suspect_at: m.calibration.apply(m.thresholds.suspect),
                    mining_at: m.calibration.apply(m.thresholds.mining),
                });
                set.add(crate::model::Model::new(m));
            }
            Some(Box::new(set))
        };
        Ok((Scorer::new(matcher, model), run))
    }
}

/// A feeds directory or model file as a report names it: its path, or `built-in`.
fn located_name(at: &Located) -> String {
    match at {
        Located::Path(p) => p.display().to_string(),
        Located::BuiltIn => "built-in".into(),
    }
}

/// Where alerts go: `--alerts FILE`, or nowhere but a Kafka topic (the tracker is still
/// needed), or no alerts at all.
pub(super) fn alert_log(
    path: Option<&std::path::Path>,
    kafka: bool,
) -> Result<Option<AlertLog>, crate::Error> {
    Ok(match path {
        Some(p) => Some(AlertLog::create(p)?),
        None if kafka => Some(AlertLog::new(
            Box::new(std::io::sink()),
            PathBuf::from("(kafka)"),
        )),
        None => None,
    })
}

pub(super) fn run(args: ScoreArgs) -> Result<i32, CliError> {
    let mut cfg = args.flows.config()?;
    cfg.updates = args.alerts.is_some() || args.kafka_out.is_some();
    let kafka = args
        .kafka_out
        .as_deref()
        .map(crate::stream::KafkaOut::open)
        .transpose()?;
    let format = args.out.format()?;
    let min = args.min_verdict;
    let (scorer, mut run_info) = args.judge.scorer_and_run()?;
    let mut page = args.report.as_ref().map(|_| ReportBuilder::new());
    let mut confirmer = args
        .confirm
        .then(|| Confirmer::new(crate::probe::ProbeOptions::default()));
    let mut judge = |rec: &crate::output::FlowRecord| {
        let mut s = scorer.score(rec);
        if let Some(c) = confirmer.as_mut() {
            c.confirm(rec, &mut s);
        }
        s
    };
    let mut alerts = alert_log(args.alerts.as_deref(), kafka.is_some())?;
    let kafka = &kafka;
    // Every scored record (an open flow's update too) may raise an alert; updates go no
    // further.
    let mut judge = |rec: &mut crate::output::FlowRecord| -> crate::error::Result<Option<Scored>> {
        let s = judge(rec);
        if let Some(log) = alerts.as_mut() {
            rec.verdict = Some(s.columns());
            if log.observe(rec, s.verdict)?.is_some() {
                if let Some(k) = kafka {
                    k.send(&rec.src_ip.to_string(), log.last_line())?;
                }
            }
        }
        Ok((!rec.is_open()).then_some(s))
    };
    let (out, out_path) = args.out.open()?;
    let mut report = RunReport::default();
    let mut hosts = HostRollup::default();
    let outcome = if args.by_host {
        let r = run_pipeline(&args.flows, cfg, &mut |mut rec| {
            let Some(s) = judge(&mut rec)? else {
                return Ok(());
            };
            report.add(&rec, &s);
            hosts.add(&rec, &s);
            if let Some(p) = page.as_mut() {
                p.add(FlowFacts::from_record(&rec, &s));
            }
            Ok(())
        })?;
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = hosts
            .rows(min)
            .into_iter()
            .map(|h| match serde_json::to_value(h) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => serde_json::Map::new(),
            })
            .collect();
        write_table(out, &out_path, format, &rows)?;
        r
    } else {
        let mut writer = RecordWriter::new(out, out_path, format, true)?;
        let mut line = Vec::new();
        let r = run_pipeline(&args.flows, cfg, &mut |mut rec| {
            let Some(s) = judge(&mut rec)? else {
                return Ok(());
            };
            report.add(&rec, &s);
            if let Some(p) = page.as_mut() {
                p.add(FlowFacts::from_record(&rec, &s));
            }
            if s.verdict < min {
                return Ok(());
            }
            rec.verdict = Some(s.columns());
            if let Some(k) = kafka {
                line.clear();
                rec.write_ndjson(&mut line);
                k.send(&rec.src_ip.to_string(), &line)?;
            }
            writer.write(rec)
        })?;
        writer.finish()?;
        if let Some(k) = kafka {
            k.finish()?;
        }
        r
    };
    if let (Some(path), Some(page)) = (&args.report, page) {
        run_info.inputs = input_names(&args.flows.inputs);
        super::report::write_page(path, page.finish(run_info))?;
    }
    if !args.flows.quiet {
        if outcome.has_capture_summary() {
            eprint!("{}", render_summary(&outcome.summary));
        }
        eprint!("{}", render_report(&report));
        if let Some(log) = &alerts {
            eprintln!(
                "poolscope: alerts: {} ({} while the flow was open)",
                log.tracker.alerts, log.tracker.while_open
            );
        }
    }
    Ok(outcome.exit_code())
}

/// Input paths as a report lists them: their file names (a page travels; the analyst's
/// directories need not).
pub(super) fn input_names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// Verdict counts, top pools and top hosts by mining flows.
fn render_report(r: &RunReport) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let count = |v| r.verdicts.get(&v).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "poolscope: verdicts: mining {}, suspect {}, benign {}",
        count(Verdict::Mining),
        count(Verdict::Suspect),
        count(Verdict::Benign)
    );
    for (label, rows) in [("pools", r.top_pools(10)), ("hosts", r.top_hosts(10))] {
        if rows.is_empty() {
            continue;
        }
        let list: Vec<String> = rows.iter().map(|(k, n)| format!("{k} ({n})")).collect();
        let _ = writeln!(
            out,
            "poolscope: top {label} by mining flows: {}",
            list.join(", ")
        );
    }
    out
}
