//! Errors of the intelligence layer. Every error names the file it concerns and, for a bad row,
//! the line number, so an analyst can open the feed at the right place; nothing is dropped
//! silently. The crate-level [`crate::Error`] can wrap these as it wraps capture errors.

use std::path::PathBuf;

/// What can go wrong while loading, importing or merging feed files.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// One line of a feed file is malformed. Loading stops here: a feed that is half read would
    /// miss entries without anyone noticing.
    #[error("{}:{line}: {reason}", path.display())]
    Line {
        /// The feed file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// The directory holds none of the feed files.
    #[error("{}: no feed files (expected one of {expected})", path.display())]
    EmptyDir {
        /// The directory given.
        path: PathBuf,
        /// The file names looked for, comma-separated.
        expected: String,
    },
    /// An import was asked for something impossible (unknown format, bad column map, a target
    /// file the format cannot fill).
    #[error("{0}")]
    Usage(String),
}

impl FeedError {
    /// A [`FeedError::Line`] for `path:line`.
    pub(crate) fn line(path: impl Into<PathBuf>, line: usize, reason: impl Into<String>) -> Self {
        FeedError::Line {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }

    /// A [`FeedError::Io`] for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FeedError::Io {
            path: path.into(),
            source,
        }
    }
}
