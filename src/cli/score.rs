//! `poolscope score`: flows with verdicts, or one row per client host.

use super::extract::{render_summary, run_pipeline, FlowArgs, OutputArgs};
use crate::error::Error;
use crate::intel::{Matcher, PoolFeed};
use crate::output::{write_table, RecordWriter, VerdictColumns};
use crate::resources::Located;
use crate::score::{HostRollup, RunReport, Scorer, Verdict};
use clap::Args;
use std::collections::HashMap;
use std::net::IpAddr;
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
    /// Write only flows (or hosts) at least this bad: benign, suspect or mining.
    #[arg(long, default_value = "benign")]
    pub min_verdict: String,
    /// Write one row per client address (its mining flows, pools, first and last seen,
    /// bytes) instead of one row per flow.
    #[arg(long)]
    pub by_host: bool,
    /// Probe the server of every `suspect` flow (TLS, then a Stratum login/subscribe with a
    /// dummy worker) and call it mining if it answers like a pool. SENDS TRAFFIC to those
    /// servers; off by default.
    #[arg(long)]
    pub confirm: bool,
}

pub(super) fn run(args: ScoreArgs) -> anyhow::Result<i32> {
    let checked = (|| -> Result<_, Error> {
        let cfg = args.flows.config()?;
        let format = args.out.format()?;
        let min = Verdict::parse(&args.min_verdict).ok_or_else(|| {
            Error::Usage(format!(
                "unknown --min-verdict '{}' (benign, suspect or mining)",
                args.min_verdict
            ))
        })?;
        Ok((cfg, format, min))
    })();
    let (cfg, format, min) = match checked {
        Ok(c) => c,
        Err(e) => {
            eprintln!("poolscope: {e}");
            return Ok(2);
        }
    };
    let matcher = if args.no_feeds {
        None
    } else {
        let at = args
            .feeds
            .clone()
            .map_or_else(crate::resources::default_feeds, Located::Path);
        match PoolFeed::load_located(&at) {
            Ok(feed) => Some(Matcher::new(&feed)),
            Err(e) => {
                eprintln!("poolscope: {e}");
                return Ok(2);
            }
        }
    };
    let model: Option<Box<dyn crate::score::FlowModel>> = if args.no_model {
        None
    } else {
        let mut set = crate::model::ModelSet::default();
        let shape = args
            .model
            .clone()
            .map_or_else(crate::resources::default_model, Located::Path);
        // The shape model is needed; the flow-only one when given, or found beside it.
        let netflow = match &args.netflow_model {
            Some(p) => Some(Located::Path(p.clone())),
            None => crate::resources::netflow_model_beside(&shape),
        };
        let wanted = [
            Some((shape, crate::features::shape::SHAPE_SCHEMA)),
            netflow.map(|n| (n, crate::model::NETFLOW_SCHEMA)),
        ];
        for (at, schema) in wanted.into_iter().flatten() {
            match crate::model::ModelFile::load_located(&at, schema) {
                Ok(m) => set.add(crate::model::Model::new(m)),
                Err(e) => {
                    eprintln!("poolscope: {e:#}");
                    return Ok(2);
                }
            }
        }
        Some(Box::new(set))
    };
    let scorer = Scorer::new(matcher, model);
    let probe_opts = crate::probe::ProbeOptions::default();
    // One probe per server (and SNI), however many suspect flows reach it.
    let mut probed: HashMap<(IpAddr, u16, Option<String>), crate::probe::ProbeOutcome> =
        HashMap::new();
    let mut judge = |rec: &crate::output::FlowRecord| {
        let mut s = scorer.score(rec);
        if args.confirm && s.verdict == Verdict::Suspect {
            let o = probed
                .entry((rec.dst_ip, rec.dst_port, rec.tls.sni.clone()))
                .or_insert_with(|| {
                    crate::probe::confirm_endpoint(
                        rec.dst_ip,
                        rec.dst_port,
                        rec.tls.sni.as_deref(),
                        &probe_opts,
                    )
                });
            s.reasons.insert(0, o.reason());
            if o.answers_like_pool() {
                s.verdict = Verdict::Mining;
                s.score = s.score.max(crate::score::FEED_SCORE);
            }
        }
        s
    };
    let (out, out_path) = match args.out.open() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("poolscope: {e}");
            return Ok(2);
        }
    };
    let mut report = RunReport::default();
    let mut hosts = HostRollup::default();
    let (exit, summary) = if args.by_host {
        let r = run_pipeline(&args.flows, cfg, &mut |rec| {
            let s = judge(&rec);
            report.add(&rec, &s);
            hosts.add(&rec, &s);
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
        let r = run_pipeline(&args.flows, cfg, &mut |mut rec| {
            let s = judge(&rec);
            report.add(&rec, &s);
            if s.verdict < min {
                return Ok(());
            }
            rec.verdict = Some(VerdictColumns {
                verdict: s.verdict.as_str(),
                score: s.score,
                reasons: s.reasons,
                model_score: s.model.map(|m| m.0),
                model_verdict: s.model.map(|m| m.1.as_str()),
            });
            writer.write(rec)
        })?;
        writer.finish()?;
        r
    };
    if !args.flows.quiet {
        eprint!("{}", render_summary(&summary));
        eprint!("{}", render_report(&report));
    }
    Ok(exit)
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
