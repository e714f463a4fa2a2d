//! The certificate history a refresh keeps in `pool-certs.tsv`.
//!
//! Each leaf certificate a refresh sees becomes (or updates) one row with source `refresh`:
//! `first_seen` and `last_seen` are the dates of the first and latest refresh that saw it, and
//! the `note` says which endpoints serve it now and which served it before, as
//! `served=host:port@address,…; formerly=…` (keys from [`super::Endpoint::key`]). That is how
//! the next refresh tells a rotation (the same endpoint now serving another certificate) from a
//! first sighting. The columns stay those every reader knows, so older poolscope versions,
//! `feeds/build.py` and `poolscope feed import` keep working on the file.
//!
//! Only rows of source `refresh` are rewritten; every other line (comments, other sources,
//! unknown columns) is written back byte for byte. The new file is loaded once before it
//! replaces the old one, and replaces it atomically (temporary file, fsync, rename), so a crash
//! leaves either the old feed or the new one, never half of one.

use super::refresh::{CertChange, CertStatus, EndpointStatus, ReportRow};
use crate::intel::feeds::split_header;
use crate::intel::value::parse_hex;
use crate::intel::{FeedError, FeedFile, PoolFeed};
use serde::Serialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The source name of rows a refresh writes.
pub const REFRESH_SOURCE: &str = "refresh";

/// A rotation: the endpoint and its old and new certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rotation {
    /// The endpoint key (`host:port@address`).
    pub key: String,
    /// SHA-256 it served before.
    pub previous_sha256: String,
    /// SHA-256 it serves now.
    pub sha256: String,
}

/// What a history update did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HistoryReport {
    /// The file updated.
    pub path: PathBuf,
    /// Certificates no row of the feed had.
    pub new_certs: usize,
    /// Endpoints that served another certificate last time.
    pub rotations: Vec<Rotation>,
    /// Endpoints seen with the same certificate as last time.
    pub unchanged: usize,
    /// Endpoints the history had not seen before.
    pub first_seen: usize,
    /// Rows appended.
    pub rows_added: usize,
    /// Existing rows whose dates or endpoints changed.
    pub rows_updated: usize,
    /// Whether the file was written (false on a dry run or when nothing changed).
    pub written: bool,
}

/// One `refresh` row being updated.
#[derive(Debug, Clone, Default)]
struct CertRow {
    /// The row's cells, by header position (kept for columns this module does not know).
    cells: Vec<String>,
    sha1: String,
    sha256: String,
    spki: String,
    subject: String,
    issuer: String,
    first_seen: String,
    last_seen: String,
    served: Vec<String>,
    formerly: Vec<String>,
    /// Note parts other than `served=` / `formerly=`, kept as they are.
    other_note: Vec<String>,
    dirty: bool,
}

impl CertRow {
    fn note(&self) -> String {
        let mut parts = Vec::new();
        if !self.served.is_empty() {
            parts.push(format!("served={}", self.served.join(",")));
        }
        if !self.formerly.is_empty() {
            parts.push(format!("formerly={}", self.formerly.join(",")));
        }
        parts.extend(self.other_note.iter().cloned());
        parts.join("; ")
    }

    fn render(&self, columns: &[String]) -> String {
        columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let v = match c.as_str() {
                    "sha1" => self.sha1.clone(),
                    "sha256" => self.sha256.clone(),
                    "spki_sha256" => self.spki.clone(),
                    "subject" => self.subject.clone(),
                    "issuer" => self.issuer.clone(),
                    "first_seen" => self.first_seen.clone(),
                    "last_seen" => self.last_seen.clone(),
                    "source" => REFRESH_SOURCE.to_string(),
                    "note" => self.note(),
                    _ => self.cells.get(i).cloned().unwrap_or_default(),
                };
                v.replace(['\t', '\n', '\r'], " ")
            })
            .collect::<Vec<_>>()
            .join("\t")
    }
}

/// Splits a refresh row's note into its served and former endpoints and the rest.
fn parse_note(note: &str) -> (Vec<String>, Vec<String>, Vec<String>) {
    let (mut served, mut formerly, mut other) = (Vec::new(), Vec::new(), Vec::new());
    let list = |v: &str| -> Vec<String> {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    for part in note.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some(v) = part.strip_prefix("served=") {
            served = list(v);
        } else if let Some(v) = part.strip_prefix("formerly=") {
            formerly = list(v);
        } else {
            other.push(part.to_string());
        }
    }
    (served, formerly, other)
}

/// A line of the file as it will be written back.
enum Item {
    Verbatim(String),
    Header,
    Row(usize),
}

/// The certificate feed in a form that can be updated and written back.
struct CertFile {
    items: Vec<Item>,
    columns: Vec<String>,
    rows: Vec<CertRow>,
    /// Hashes (SHA-1, SHA-256) of rows of every other source.
    known: HashSet<String>,
}

impl CertFile {
    fn new_file() -> Self {
        CertFile {
            items: vec![
                Item::Verbatim(
                    "# Certificates of pool servers (hex, lowercase), written by poolscope feed \
                     refresh / learn / import."
                        .into(),
                ),
                Item::Header,
            ],
            columns: FeedFile::PoolCerts
                .columns()
                .iter()
                .map(|c| c.to_string())
                .collect(),
            rows: Vec::new(),
            known: HashSet::new(),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<Self, FeedError> {
        // Refuse to rewrite a feed that does not load: the error names the bad line.
        PoolFeed::default().parse_file(FeedFile::PoolCerts, path, text)?;
        let (header, _) = split_header(FeedFile::PoolCerts, path, text)?;
        let mut columns = header.columns;
        let mut header_changed = false;
        for c in FeedFile::PoolCerts.columns() {
            if !columns.iter().any(|h| h == c) {
                columns.push(c.to_string());
                header_changed = true;
            }
        }
        let col = |name: &str| columns.iter().position(|c| c == name);
        let mut file = CertFile {
            items: Vec::new(),
            columns: columns.clone(),
            rows: Vec::new(),
            known: HashSet::new(),
        };
        let mut seen_header = false;
        for (i, raw) in text.lines().enumerate() {
            let line = if i == 0 {
                raw.strip_prefix('\u{feff}').unwrap_or(raw)
            } else {
                raw
            };
            let content = line.strip_suffix('\r').unwrap_or(line);
            if content.trim().is_empty() || content.starts_with('#') {
                file.items.push(Item::Verbatim(raw.to_string()));
                continue;
            }
            if !seen_header {
                seen_header = true;
                file.items.push(if header_changed {
                    Item::Header
                } else {
                    Item::Verbatim(raw.to_string())
                });
                continue;
            }
            let cells: Vec<String> = content.split('\t').map(|c| c.trim().to_string()).collect();
            let get = |name: &str| {
                col(name)
                    .and_then(|i| cells.get(i))
                    .cloned()
                    .unwrap_or_default()
            };
            let hex = |name: &str, len: usize| {
                let v = get(name);
                if v.is_empty() {
                    String::new()
                } else {
                    parse_hex(&v, len, name).unwrap_or(v)
                }
            };
            let (sha1, sha256) = (hex("sha1", 40), hex("sha256", 64));
            if get("source") != REFRESH_SOURCE || sha256.is_empty() {
                file.known
                    .extend([sha1, sha256].into_iter().filter(|h| !h.is_empty()));
                file.items.push(Item::Verbatim(raw.to_string()));
                continue;
            }
            let (served, formerly, other_note) = parse_note(&get("note"));
            file.rows.push(CertRow {
                sha1,
                sha256,
                spki: hex("spki_sha256", 64),
                subject: get("subject"),
                issuer: get("issuer"),
                first_seen: get("first_seen"),
                last_seen: get("last_seen"),
                served,
                formerly,
                other_note,
                cells,
                dirty: header_changed,
            });
            file.items.push(Item::Row(file.rows.len() - 1));
        }
        Ok(file)
    }

    fn render(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            match item {
                Item::Verbatim(l) => out.push_str(l),
                Item::Header => out.push_str(&self.columns.join("\t")),
                Item::Row(i) => out.push_str(&self.rows[*i].render(&self.columns)),
            }
            out.push('\n');
        }
        out
    }
}

/// Folds the successful probes of `rows` into `dir/pool-certs.tsv` as of `date`
/// (`YYYY-MM-DD`), filling each row's [`ReportRow::feed`]. With `write` false nothing is
/// written (a dry run); the report says what would have changed.
pub fn apply(
    dir: &Path,
    rows: &mut [ReportRow],
    date: &str,
    write: bool,
) -> Result<HistoryReport, FeedError> {
    let path = dir.join(FeedFile::PoolCerts.file_name());
    let mut file = match std::fs::read_to_string(&path) {
        Ok(text) => CertFile::parse(&path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CertFile::new_file(),
        Err(e) => return Err(FeedError::io(&path, e)),
    };
    let mut report = HistoryReport {
        path: path.clone(),
        ..Default::default()
    };
    let added_before = file.rows.len();
    for row in rows.iter_mut() {
        let (Some(key), Some(leaf)) = (row.key.clone(), row.tls.as_ref().and_then(|t| t.leaf()))
        else {
            continue;
        };
        if row.status != "ok" || !row.tls.as_ref().is_some_and(|t| t.complete) {
            continue;
        }
        let sha256 = leaf.summary.sha256.clone();
        let cert_known = file.known.contains(&sha256)
            || file.known.contains(&leaf.summary.sha1)
            || file.rows.iter().any(|r| r.sha256 == sha256);
        // Whoever served this endpoint before gives it up.
        let mut previous = None;
        for r in file.rows.iter_mut().filter(|r| r.sha256 != sha256) {
            if let Some(at) = r.served.iter().position(|k| *k == key) {
                r.served.remove(at);
                if !r.formerly.contains(&key) {
                    r.formerly.push(key.clone());
                }
                r.dirty = true;
                previous.get_or_insert_with(|| r.sha256.clone());
            }
        }
        let at = match file.rows.iter().position(|r| r.sha256 == sha256) {
            Some(at) => at,
            None => {
                file.rows.push(CertRow {
                    sha1: leaf.summary.sha1.clone(),
                    sha256: sha256.clone(),
                    spki: leaf.spki_sha256.clone().unwrap_or_default(),
                    subject: leaf.summary.subject.clone().unwrap_or_default(),
                    issuer: leaf.summary.issuer.clone().unwrap_or_default(),
                    first_seen: date.to_string(),
                    last_seen: date.to_string(),
                    dirty: true,
                    ..Default::default()
                });
                file.items.push(Item::Row(file.rows.len() - 1));
                file.rows.len() - 1
            }
        };
        let target = &mut file.rows[at];
        let already = target.served.contains(&key);
        if !already {
            target.served.push(key.clone());
            target.formerly.retain(|k| *k != key);
            target.dirty = true;
        }
        if date > target.last_seen.as_str() {
            target.last_seen = date.to_string();
            target.dirty = true;
        }
        if target.first_seen.is_empty() || date < target.first_seen.as_str() {
            target.first_seen = date.to_string();
            target.dirty = true;
        }
        if target.spki.is_empty() {
            if let Some(s) = &leaf.spki_sha256 {
                target.spki = s.clone();
                target.dirty = true;
            }
        }
        let endpoint = match (&previous, already) {
            (Some(_), _) => EndpointStatus::Rotated,
            (None, true) => EndpointStatus::Same,
            (None, false) => EndpointStatus::First,
        };
        match endpoint {
            EndpointStatus::Rotated => report.rotations.push(Rotation {
                key: key.clone(),
                previous_sha256: previous.clone().unwrap_or_default(),
                sha256: sha256.clone(),
            }),
            EndpointStatus::Same => report.unchanged += 1,
            EndpointStatus::First => report.first_seen += 1,
        }
        if !cert_known {
            report.new_certs += 1;
        }
        row.feed = Some(CertChange {
            sha256,
            cert: if cert_known {
                CertStatus::Known
            } else {
                CertStatus::New
            },
            endpoint,
            previous_sha256: previous,
        });
    }
    report.rows_added = file.rows.len() - added_before;
    report.rows_updated = file.rows[..added_before].iter().filter(|r| r.dirty).count();
    let changed = report.rows_added > 0 || report.rows_updated > 0;
    if write && changed {
        let text = file.render();
        // The new file must load before it may replace the old one.
        PoolFeed::default().parse_file(FeedFile::PoolCerts, &path, &text)?;
        std::fs::create_dir_all(dir).map_err(|e| FeedError::io(dir, e))?;
        write_atomic(&path, text.as_bytes()).map_err(|e| FeedError::io(&path, e))?;
        report.written = true;
    }
    Ok(report)
}

pub use crate::output::write_atomic;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::CertSummary;
    use crate::probe::{ChainCert, TlsObservation};

    fn cert(n: u8) -> ChainCert {
        ChainCert {
            summary: CertSummary {
                sha1: format!("{n:02x}").repeat(20),
                sha256: format!("{n:02x}").repeat(32),
                parsed: true,
                subject: Some(format!("CN=pool{n}.test")),
                issuer: Some(format!("CN=pool{n}.test")),
                ..Default::default()
            },
            spki_sha256: Some("ee".repeat(32)),
            ..Default::default()
        }
    }

    fn row(key: &str, leaf: Option<ChainCert>) -> ReportRow {
        ReportRow {
            endpoint: key.split('@').next().unwrap().to_string(),
            host: None,
            port: 3333,
            address: None,
            address_from: Some("feed"),
            key: Some(key.to_string()),
            sni: None,
            coin: String::new(),
            status: if leaf.is_some() { "ok" } else { "timeout" },
            error: None,
            attempts: 1,
            elapsed_ms: 1,
            tls: leaf.map(|l| TlsObservation {
                complete: true,
                chain: vec![l],
                ..Default::default()
            }),
            stratum: None,
            feed: None,
        }
    }

    const FOREIGN: &str = "# my comment\n\
        sha1\tsha256\tspki_sha256\tsubject\tissuer\tfirst_seen\tlast_seen\tsource\tnote\textra\n\
        \t0303030303030303030303030303030303030303030303030303030303030303\t\tCN=x\tCN=x\t2025-01-01\t\tlearned\tfrom a capture\tkeep me\n";

    #[test]
    fn history_over_three_refreshes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool-certs.tsv");
        std::fs::write(&path, FOREIGN).unwrap();
        let a = "pool.test:3333@127.0.0.1";
        let b = "pool.test:3333@127.0.0.2";

        // First refresh: two endpoints, one certificate; a failed row changes nothing.
        let mut rows = vec![
            row(a, Some(cert(1))),
            row(b, Some(cert(1))),
            row("x:1", None),
        ];
        let r = apply(dir.path(), &mut rows, "2026-01-01", true).unwrap();
        assert_eq!((r.new_certs, r.first_seen, r.rows_added), (1, 2, 1));
        assert!(r.written);
        assert_eq!(rows[0].feed.as_ref().unwrap().cert, CertStatus::New);
        assert_eq!(
            rows[1].feed.as_ref().unwrap().cert,
            CertStatus::Known,
            "after the first row"
        );
        assert!(rows[2].feed.is_none());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with(FOREIGN),
            "other rows kept byte for byte:\n{text}"
        );
        assert!(text.contains(&format!(
            "\t2026-01-01\t2026-01-01\trefresh\tserved={a},{b}\t\n"
        )));

        // Second: endpoint a rotated to certificate 2, b is the same; an old certificate
        // from another source counts as known.
        let mut rows = vec![
            row(a, Some(cert(2))),
            row(b, Some(cert(1))),
            row("y:1", Some(cert(3))),
        ];
        let r = apply(dir.path(), &mut rows, "2026-02-01", true).unwrap();
        assert_eq!(r.rotations.len(), 1);
        assert_eq!(r.rotations[0].previous_sha256, "01".repeat(32));
        assert_eq!(r.unchanged, 1);
        assert_eq!(r.new_certs, 1, "cert 3 is known from the learned row");
        let fa = rows[0].feed.as_ref().unwrap();
        assert_eq!(
            (fa.cert, fa.endpoint),
            (CertStatus::New, EndpointStatus::Rotated)
        );
        assert_eq!(rows[2].feed.as_ref().unwrap().cert, CertStatus::Known);
        let feed = PoolFeed::load(dir.path()).unwrap();
        let c1 = feed
            .certs
            .iter()
            .find(|c| c.sha256.as_deref() == Some(&"01".repeat(32)[..]));
        let c1 = c1.unwrap();
        assert_eq!(
            (c1.first_seen.as_str(), c1.last_seen.as_str()),
            ("2026-01-01", "2026-02-01")
        );
        assert_eq!(c1.note, format!("served={b}; formerly={a}"));
        let c2 = feed
            .certs
            .iter()
            .find(|c| c.sha256.as_deref() == Some(&"02".repeat(32)[..]));
        assert_eq!(c2.unwrap().note, format!("served={a}"));

        // Third: a rotates back to certificate 1.
        let mut rows = vec![row(a, Some(cert(1)))];
        let r = apply(dir.path(), &mut rows, "2026-03-01", true).unwrap();
        assert_eq!(r.rotations[0].previous_sha256, "02".repeat(32));
        let feed = PoolFeed::load(dir.path()).unwrap();
        let notes: Vec<&str> = feed
            .certs
            .iter()
            .filter(|c| c.provenance.source == REFRESH_SOURCE)
            .map(|c| c.note.as_str())
            .collect();
        assert_eq!(
            notes,
            [
                format!("served={b},{a}"),
                format!("formerly={a}"),
                "served=y:1".to_string()
            ]
        );
        assert_eq!(feed.duplicates, 0);
        assert!(std::fs::read_to_string(&path).unwrap().contains("keep me"));
    }

    #[test]
    fn dry_run_and_no_change_write_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut rows = vec![row("a:1", Some(cert(1)))];
        let r = apply(dir.path(), &mut rows, "2026-01-01", false).unwrap();
        assert_eq!(r.rows_added, 1);
        assert!(!r.written);
        assert!(!dir.path().join("pool-certs.tsv").exists());
        apply(dir.path(), &mut rows, "2026-01-01", true).unwrap();
        let before = std::fs::read_to_string(dir.path().join("pool-certs.tsv")).unwrap();
        assert!(before.contains("sha1\tsha256"), "{before}");
        let r = apply(dir.path(), &mut rows, "2026-01-01", true).unwrap();
        assert!(!r.written, "same day, same certificate: nothing to write");
        assert_eq!(r.unchanged, 1);
    }

    #[test]
    fn a_broken_feed_is_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool-certs.tsv");
        let bad = "sha1\tsource\tfirst_seen\nnothex\tx\t2026\n";
        std::fs::write(&path, bad).unwrap();
        let mut rows = vec![row("a:1", Some(cert(1)))];
        let e = apply(dir.path(), &mut rows, "2026-01-01", true).unwrap_err();
        assert!(e.to_string().contains("pool-certs.tsv:2:"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
    }

    #[test]
    fn missing_columns_are_added_to_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool-certs.tsv");
        std::fs::write(&path, "sha1\tsource\tfirst_seen\n").unwrap();
        let mut rows = vec![row("a:1", Some(cert(1)))];
        apply(dir.path(), &mut rows, "2026-01-01", true).unwrap();
        let feed = PoolFeed::load(dir.path()).unwrap();
        assert_eq!(feed.certs[0].note, "served=a:1");
        assert_eq!(
            feed.certs[0].spki_sha256.as_deref(),
            Some(&"ee".repeat(32)[..])
        );
    }

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.tsv");
        std::fs::write(&p, "old").unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // A target in a missing directory fails and leaves nothing behind.
        assert!(write_atomic(&dir.path().join("no/such/f"), b"x").is_err());
    }

    #[test]
    fn notes_round_trip() {
        let (s, f, o) = parse_note("served=a:1,b:2; formerly=c:3; checked by hand");
        assert_eq!(s, ["a:1", "b:2"]);
        assert_eq!(f, ["c:3"]);
        assert_eq!(o, ["checked by hand"]);
        let r = CertRow {
            served: s,
            formerly: f,
            other_note: o,
            ..Default::default()
        };
        assert_eq!(r.note(), "served=a:1,b:2; formerly=c:3; checked by hand");
    }
}
