//! Errors that carry their context (file, byte offset, line), so a message alone tells the user
//! what went wrong and where. `anyhow` is used only in `main.rs`.

use std::path::PathBuf;

/// Everything that can stop or spoil a run, with enough context to act on it.
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
    /// The input is not a pcap or pcapng capture at all.
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
    /// An output file could not be written.
    #[error("{path}: cannot write output: {reason}")]
    Output {
        /// Output path (or `-`).
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),
}

impl Error {
    /// Process exit code for this error: 1 for damage found inside an input (partial results
    /// were written), 2 for everything that stopped work on an input before it began.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Corrupt { .. } => 1,
            _ => 2,
        }
    }
}

/// Result alias for the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;
