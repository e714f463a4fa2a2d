//! Errors of the input layer (captures, flow exports, flow tables) and of writing the record
//! table. Each carries its context (file, byte offset, line, row), so a message alone tells the
//! user what went wrong and where, and keeps its source. The model, feed and probe layers have
//! their own enums ([`crate::model::ModelError`], [`crate::intel::FeedError`]); the command
//! line gathers them in [`crate::cli::CliError`], whose kind gives the exit code.

use std::path::PathBuf;

/// Everything that can stop or spoil reading an input or writing the output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// File name as given (or `-` for stdin).
        path: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The input is not a pcap or pcapng capture at all (nor any flow export poolscope reads).
    #[error("{path}: not a pcap or pcapng capture ({reason})")]
    NotCapture {
        /// File name as given.
        path: String,
        /// What the first bytes looked like.
        reason: String,
    },
    /// A record in the middle of a capture is corrupt and the format cannot resynchronise.
    #[error("{path}: corrupt record at byte offset {offset}: {reason}")]
    Corrupt {
        /// File name as given.
        path: String,
        /// Byte offset of the bad record from the start of the file.
        offset: u64,
        /// What was wrong with it.
        reason: String,
    },
    /// Rows of a flow table from `row` on cannot be decoded; the rows before were read.
    #[error("{path}: {what} {row}: {source}")]
    Table {
        /// File name as given.
        path: String,
        /// `line` (CSV, 1-based file line) or `row` (Parquet, 0-based row index).
        what: &'static str,
        /// Where the undecodable part starts.
        row: u64,
        /// What the table reader said.
        source: polars::prelude::PolarsError,
    },
    /// The input reads but cannot serve: a capture without export traffic, a table without
    /// the columns needed, an empty table.
    #[error("{path}: {reason}")]
    Unusable {
        /// File name as given.
        path: String,
        /// Why, and what to do about it.
        reason: String,
    },
    /// An output file could not be written (a closed pipe included: see
    /// [`Error::is_broken_pipe`]).
    #[error("{}: cannot write output: {source}", path.display())]
    Output {
        /// Output path (or `-`).
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A network interface cannot be captured from (missing, down, no permission).
    #[error("{interface}: {reason}")]
    Capture {
        /// Interface name as given.
        interface: String,
        /// Why, and what to do about it.
        reason: String,
    },
    /// A Kafka client failed (brokers, subscription, producing, committing).
    #[error("kafka: {0}")]
    Stream(String),
    /// An option or argument asks for something impossible; nothing was read.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Process exit code for this error: 1 for damage found inside an input (partial results
    /// were written), 2 for everything that stopped work on an input before it began.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Corrupt { .. } | Error::Table { .. } => 1,
            _ => 2,
        }
    }

    /// True when writing stopped because the reader of the output went away (`| head`): a
    /// filter then ends quietly with success.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// True for an error of the output rather than of one input: it stops the whole run,
    /// where an input's error only ends that input.
    pub fn stops_run(&self) -> bool {
        matches!(self, Error::Output { .. })
    }

    /// An [`Error::Output`] for an I/O failure writing `path`.
    pub fn output(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Output {
            path: path.into(),
            source,
        }
    }

    /// An [`Error::Output`] for a table writer's failure; an I/O error inside it (a closed
    /// pipe) keeps its kind.
    pub fn output_table(path: impl Into<PathBuf>, e: polars::prelude::PolarsError) -> Error {
        let source = match e {
            polars::prelude::PolarsError::IO { error, .. } => {
                std::io::Error::new(error.kind(), error.to_string())
            }
            other => std::io::Error::other(other),
        };
        Error::output(path, source)
    }
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    /// A closed pipe is recognised by its kind wherever it surfaces, a table writer included;
    /// other output failures are not taken for one.
    #[test]
    fn broken_pipe_by_kind() {
        let pipe = || std::io::Error::from(ErrorKind::BrokenPipe);
        assert!(Error::output("-", pipe()).is_broken_pipe());
        let polars = polars::prelude::PolarsError::IO {
            error: std::sync::Arc::new(pipe()),
            msg: None,
        };
        let e = Error::output_table("-", polars);
        assert!(e.is_broken_pipe() && e.stops_run(), "{e}");
        let full = Error::output("out.csv", std::io::Error::other("No space left on device"));
        assert!(!full.is_broken_pipe() && full.stops_run());
        let input = Error::Io {
            path: "a.pcap".into(),
            source: pipe(),
        };
        assert!(!input.is_broken_pipe() && !input.stops_run());
        assert_eq!(input.exit_code(), 2);
    }
}
