//! The command line: `clap` arguments, validated into configurations, then handed to the
//! library. This is the only module that knows about terminals (progress bars, summaries).

mod extract;
mod feed;
mod report;
mod score;
mod stream;
mod train;
mod watch;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

pub use extract::{ExtractArgs, FlowArgs, OutputArgs, TableArgs};
pub use feed::{FeedArgs, FeedCommand};
pub use report::ReportArgs;
pub use score::{JudgeArgs, ScoreArgs};
pub use stream::StreamArgs;
pub use train::{DataArgs, EvalArgs, HyperArgs, TrainArgs};
pub use watch::WatchArgs;

/// poolscope: find cryptocurrency-mining traffic in packet captures.
#[derive(Debug, Parser)]
#[command(name = "poolscope", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read pcap/pcapng captures and write one record per flow with timing and size features.
    Extract(ExtractArgs),
    /// Like extract, plus a verdict per flow (mining, suspect, benign), its score and reasons.
    Score(ScoreArgs),
    /// Score live traffic on network interfaces, with alerts while flows are still open.
    Watch(WatchArgs),
    /// Score flow records from a Kafka topic as a member of a consumer group.
    Stream(StreamArgs),
    /// Train the flow-shape classifier on labelled flows; writes a model file with its
    /// grouped cross-validation metrics.
    Train(TrainArgs),
    /// Measure a model, or hyperparameters, on labelled flows: grouped cross-validation by
    /// pool, threshold table, feature importances.
    Eval(EvalArgs),
    /// Manage the pool intelligence feeds: import, stats, check, refresh, probe, learn.
    Feed(FeedArgs),
    /// Write one self-contained HTML page of scored flows (score's outputs, or captures and
    /// exports scored first): hosts along time, top pools, scores, flagged flows.
    Report(ReportArgs),
}

/// A flag SIGINT and SIGTERM set, for the commands that run until told to stop (`watch`,
/// `stream`): they finish what is open and close their outputs. A second signal while the
/// first is being handled ends the process at once.
fn stop_on_signals() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>, crate::Error> {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 1, stop.clone())
            .and_then(|_| signal_hook::flag::register(sig, stop.clone()))
            .map_err(|e| crate::Error::Usage(format!("cannot handle signal {sig}: {e}")))?;
    }
    Ok(stop)
}

/// Why a command stopped, from whichever layer; its kind gives the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Reading an input or writing the output.
    #[error(transparent)]
    Input(#[from] crate::Error),
    /// Training, evaluating or loading a model.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// Loading, importing or writing feeds.
    #[error(transparent)]
    Feed(#[from] crate::intel::FeedError),
    /// A name to probe did not resolve.
    #[error("{host}: {reason}")]
    Resolve {
        /// The name.
        host: String,
        /// What the resolver said.
        reason: String,
    },
    /// Options that cannot work; nothing was done.
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    /// Process exit code: 1 for damage inside an input (partial results were written), 2 for
    /// everything that stopped work before it began.
    pub fn exit_code(&self) -> u8 {
        let code = match self {
            CliError::Input(e) => e.exit_code(),
            CliError::Model(e) => e.exit_code(),
            _ => 2,
        };
        code.clamp(0, 255) as u8
    }

    /// True when the output's reader went away (`| head`): the command then ends quietly with
    /// success, as any Unix filter does.
    pub fn is_broken_pipe(&self) -> bool {
        match self {
            CliError::Input(e) | CliError::Model(crate::model::ModelError::Input(e)) => {
                e.is_broken_pipe()
            }
            _ => false,
        }
    }
}

/// A progress bar on stderr while stderr is a terminal and `quiet` is off; hidden otherwise, so
/// pipes and logs get no escape codes. `template` styles it (indicatif's default when None).
pub(crate) fn stderr_bar(quiet: bool, len: Option<u64>, template: Option<&str>) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr());
    if let Some(t) = template {
        bar.set_style(ProgressStyle::with_template(t).expect("valid template"));
    }
    bar
}

/// An output error on standard output.
pub(crate) fn stdout_error(e: std::io::Error) -> CliError {
    crate::Error::output("-", e).into()
}

/// Runs a parsed command line; returns the process exit code of a run that went to its end
/// (1 when an input was damaged), or why it stopped.
pub fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Extract(args) => extract::run(args),
        Command::Score(args) => score::run(args),
        Command::Watch(args) => watch::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Feed(args) => feed::run(args),
        Command::Report(args) => report::run(args),
        Command::Train(args) => train::run_train(args),
        Command::Eval(args) => train::run_eval(args),
    }
}
