//! Where the shipped feeds and models come from, so that an installed binary works from any
//! directory.
//!
//! A copy of `feeds/*.tsv` and `models/{default,netflow}.model` is built into the binary. A
//! command that needs them looks, in order, at: the environment (`POOLSCOPE_FEEDS`,
//! `POOLSCOPE_MODEL`), the working directory (`./feeds`, `./models/default.model`, as in a
//! checkout), an install prefix beside the executable (`<prefix>/share/poolscope/…` for
//! `<prefix>/bin/poolscope`, or `feeds/` and `models/` next to the executable), and last the
//! built-in copy. Commands that write feeds need a directory: they never fall back to the
//! built-in copy.

use crate::intel::FeedFile;
use std::path::{Path, PathBuf};

/// Where a feed set or a model is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// A directory (feeds) or file (model) on disk.
    Path(PathBuf),
    /// The copy built into the binary.
    BuiltIn,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Located::Path(p) => write!(f, "{}", p.display()),
            Located::BuiltIn => f.write_str("the copy built into poolscope"),
        }
    }
}

/// The built-in text of a feed file.
pub fn builtin_feed(file: FeedFile) -> &'static str {
    match file {
        FeedFile::PoolDomains => include_str!("../feeds/pool-domains.tsv"),
        FeedFile::BrowserDomains => include_str!("../feeds/browser-mining-domains.tsv"),
        FeedFile::PoolEndpoints => include_str!("../feeds/pool-endpoints.tsv"),
        FeedFile::PoolCerts => include_str!("../feeds/pool-certs.tsv"),
        FeedFile::MinerFingerprints => include_str!("../feeds/miner-fingerprints.tsv"),
        FeedFile::Allowlist => include_str!("../feeds/allowlist.tsv"),
    }
}

/// The built-in flow-shape model (`models/default.model`).
pub const BUILTIN_MODEL: &str = include_str!("../models/default.model");
/// The built-in flow-only model (`models/netflow.model`).
pub const BUILTIN_NETFLOW_MODEL: &str = include_str!("../models/netflow.model");

/// Install locations beside the running executable: `<prefix>/share/poolscope` for a binary in
/// `<prefix>/bin`, then the executable's own directory.
fn install_dirs() -> Vec<PathBuf> {
    let Some(exe) = std::env::current_exe()
        .ok()
        .and_then(|e| e.canonicalize().ok())
    else {
        return Vec::new();
    };
    let Some(dir) = exe.parent() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(prefix) = dir.parent() {
        out.push(prefix.join("share/poolscope"));
    }
    out.push(dir.to_path_buf());
    out
}

/// Whether a directory holds at least one feed file.
fn is_feed_dir(dir: &Path) -> bool {
    FeedFile::ALL
        .iter()
        .any(|f| dir.join(f.file_name()).is_file())
}

/// The feeds to read when none is given: `$POOLSCOPE_FEEDS`, `./feeds`, an install prefix, or
/// the built-in copy.
pub fn default_feeds() -> Located {
    if let Some(d) = std::env::var_os("POOLSCOPE_FEEDS") {
        return Located::Path(PathBuf::from(d));
    }
    let local = PathBuf::from("feeds");
    if is_feed_dir(&local) {
        return Located::Path(local);
    }
    install_dirs()
        .into_iter()
        .map(|d| d.join("feeds"))
        .find(|d| is_feed_dir(d))
        .map_or(Located::BuiltIn, Located::Path)
}

/// The feed directory commands that write feeds use when none is given: `$POOLSCOPE_FEEDS`,
/// `./feeds`, or an install prefix's; None when there is none (the built-in copy cannot be
/// written).
pub fn default_feeds_dir() -> Option<PathBuf> {
    match default_feeds() {
        Located::Path(p) => Some(p),
        Located::BuiltIn => None,
    }
}

/// The flow-shape model to use when none is given: `$POOLSCOPE_MODEL`,
/// `./models/default.model`, an install prefix's, or the built-in copy.
pub fn default_model() -> Located {
    if let Some(d) = std::env::var_os("POOLSCOPE_MODEL") {
        return Located::Path(PathBuf::from(d));
    }
    let local = PathBuf::from("models/default.model");
    if local.is_file() {
        return Located::Path(local);
    }
    install_dirs()
        .into_iter()
        .map(|d| d.join("models/default.model"))
        .find(|p| p.is_file())
        .map_or(Located::BuiltIn, Located::Path)
}

/// The flow-only model that goes with a flow-shape model: `netflow.model` beside a model file
/// (None when there is none), the built-in one beside the built-in model.
pub fn netflow_model_beside(shape: &Located) -> Option<Located> {
    match shape {
        Located::BuiltIn => Some(Located::BuiltIn),
        Located::Path(p) => {
            let beside = p
                .parent()
                .map(|d| d.join("netflow.model"))
                .unwrap_or_else(|| PathBuf::from("netflow.model"));
            beside.is_file().then_some(Located::Path(beside))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in copies are the files of the source tree, so a release and a checkout read
    /// the same feeds and models.
    #[test]
    fn builtin_copies_are_the_shipped_files() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for f in FeedFile::ALL {
            let disk = std::fs::read_to_string(root.join("feeds").join(f.file_name())).unwrap();
            assert_eq!(builtin_feed(f), disk, "{}", f.file_name());
        }
        let disk = std::fs::read_to_string(root.join("models/default.model")).unwrap();
        assert_eq!(BUILTIN_MODEL, disk);
        assert_eq!(
            netflow_model_beside(&Located::BuiltIn),
            Some(Located::BuiltIn)
        );
    }
}
