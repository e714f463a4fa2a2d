//! `poolscope stream`: score flow records from a Kafka topic as a member of a consumer group.

use super::score::JudgeArgs;
use super::CliError;
use crate::error::Error;
use crate::score::Verdict;
use crate::stream::{run_stream, StreamFormat, StreamOptions};
use clap::Args;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `poolscope stream`.
#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Bootstrap brokers, `host:port[,host:port…]`.
    #[arg(long, required = true)]
    pub brokers: String,
    /// Topic of flow records.
    #[arg(long, required = true)]
    pub topic: String,
    /// Consumer group: instances with the same group share the topic's partitions.
    #[arg(long, default_value = "poolscope")]
    pub group: String,
    /// Topic to produce verdicts to (NDJSON, keyed by client address).
    #[arg(long)]
    pub out_topic: Option<String>,
    /// What the messages carry.
    #[arg(long, value_enum, default_value_t = StreamFormat::Goflow2)]
    pub format: StreamFormat,
    /// Also write verdicts to this file (`-`: standard output, the default without
    /// --out-topic).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Produce and write only verdicts at least this bad (all are scored and committed).
    #[arg(long, value_enum, ignore_case = true, default_value_t = Verdict::Benign)]
    pub min_verdict: Verdict,
    /// Seconds between offset commits.
    #[arg(long, default_value_t = 5.0)]
    pub commit_interval: f64,
    /// End after this many seconds without a message (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    pub idle_exit: Option<f64>,
    /// A librdkafka property for both clients, `key=value` (repeat): security, SASL, tuning.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Feeds and models (flow records are judged by the flow-only model).
    #[command(flatten)]
    pub judge: JudgeArgs,
    /// No summary on standard error at the end.
    #[arg(short, long)]
    pub quiet: bool,
}

pub(super) fn run(args: StreamArgs) -> Result<i32, CliError> {
    let seconds = |name: &str, v: f64| -> Result<Duration, Error> {
        if v > 0.0 && v.is_finite() {
            Ok(Duration::from_secs_f64(v))
        } else {
            Err(Error::Usage(format!(
                "{name} must be a number of seconds > 0"
            )))
        }
    };
    let properties = args
        .properties
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| Error::Usage(format!("-X {p}: expected KEY=VALUE")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let opts = StreamOptions {
        brokers: args.brokers.clone(),
        topic: args.topic.clone(),
        group: args.group.clone(),
        out_topic: args.out_topic.clone(),
        format: args.format,
        stitch: Default::default(),
        min_verdict: args.min_verdict,
        commit_interval: seconds("--commit-interval", args.commit_interval)?,
        idle_exit: args
            .idle_exit
            .map(|v| seconds("--idle-exit", v))
            .transpose()?,
        properties,
    };
    let local: Option<Box<dyn std::io::Write + Send>> = match &args.output {
        Some(p) if p.as_os_str() != "-" => Some(Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| Error::output(p, e))?,
        ))),
        Some(_) => Some(Box::new(std::io::stdout())),
        None if args.out_topic.is_none() => Some(Box::new(std::io::stdout())),
        None => None,
    };
    let scorer = args.judge.scorer()?;
    let stop = super::stop_on_signals()?;
    let quiet = args.quiet;
    let s = run_stream(&opts, scorer, local, stop, &mut |p| {
        if !quiet {
            eprintln!("poolscope: {p}");
        }
    })?;
    if !quiet {
        eprintln!(
            "poolscope: {} messages, {} flow records ({} malformed messages skipped), {} conversations scored: mining {}, suspect {}; {} verdicts written, {} commits ({} failed: records read again), {} partitions revoked",
            s.messages, s.records, s.malformed, s.conversations, s.mining, s.suspect, s.written, s.commits, s.commit_failures, s.revoked
        );
    }
    Ok(0)
}
