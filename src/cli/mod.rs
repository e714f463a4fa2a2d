//! The command line: `clap` arguments, validated into configurations, then handed to the
//! library. This is the only module that knows about terminals (progress bars, summaries).

mod extract;
mod feed;
mod score;
mod train;

use clap::{Parser, Subcommand};

pub use extract::{ExtractArgs, FlowArgs, OutputArgs};
pub use feed::{FeedArgs, FeedCommand};
pub use score::ScoreArgs;
pub use train::{DataArgs, EvalArgs, FeatureSet, HyperArgs, TrainArgs};

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
    /// Train the flow-shape classifier on labelled flows; writes a model file with its
    /// grouped cross-validation metrics.
    Train(TrainArgs),
    /// Measure a model, or hyperparameters, on labelled flows: grouped cross-validation by
    /// pool, threshold table, feature importances.
    Eval(EvalArgs),
    /// Manage the pool intelligence feeds: import, stats, check, refresh, probe, learn.
    Feed(FeedArgs),
}

/// Runs a parsed command line; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Extract(args) => extract::run(args),
        Command::Score(args) => score::run(args),
        Command::Feed(args) => feed::run(args),
        Command::Train(args) => train::run_train(args),
        Command::Eval(args) => train::run_eval(args),
    }
}
