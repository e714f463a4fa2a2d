//! Errors of the model layer: reading labels, window tables and model files, fitting and
//! evaluating forests. Each names the file (and line) it concerns and keeps its source; errors
//! of the layers below (reading captures, loading feeds) are carried whole.

use std::path::PathBuf;

/// What can go wrong while gathering training data, training, evaluating or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("{}: cannot {doing}: {source}", path.display())]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// `read`, `open`, `create`, `write`, `list`.
        doing: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A table (window table, flow table) could not be read or written.
    #[error("{}: {source}", path.display())]
    Table {
        /// The table file.
        path: PathBuf,
        /// What the table library said.
        source: polars::prelude::PolarsError,
    },
    /// A model file, window table or labels file is readable but wrong; the message names the
    /// file and, where there is one, the line.
    #[error("{0}")]
    Invalid(String),
    /// Fitting a forest failed.
    #[error("{0}")]
    Fit(String),
    /// An evaluation could not run: some fold's training part lacks a class.
    #[error("{0}")]
    TooFewPools(String),
    /// Reading the captures or flow exports of the training data failed.
    #[error(transparent)]
    Input(#[from] crate::Error),
    /// The feeds used for labelling could not be loaded.
    #[error(transparent)]
    Feed(#[from] crate::intel::FeedError),
}

impl ModelError {
    /// An [`ModelError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, doing: &'static str, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            doing,
            source,
        }
    }

    /// A [`ModelError::Table`] for `path`.
    pub fn table(path: impl Into<PathBuf>, source: polars::prelude::PolarsError) -> Self {
        ModelError::Table {
            path: path.into(),
            source,
        }
    }

    /// Process exit code: that of the input error it carries, else 2.
    pub fn exit_code(&self) -> i32 {
        match self {
            ModelError::Input(e) => e.exit_code(),
            _ => 2,
        }
    }
}

/// Result alias of the model layer.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// A [`ModelError::Invalid`] from a format string.
macro_rules! invalid {
    ($($t:tt)*) => { $crate::model::ModelError::Invalid(format!($($t)*)) };
}
pub(crate) use invalid;

/// A [`ModelError::Fit`] from a format string.
macro_rules! fit_error {
    ($($t:tt)*) => { $crate::model::ModelError::Fit(format!($($t)*)) };
}
pub(crate) use fit_error;
