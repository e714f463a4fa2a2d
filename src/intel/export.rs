//! Exporting the feeds to the tools and partners that consume threat intelligence: Suricata
//! rules, a Zeek Intel framework file, a MISP event and a STIX 2.1 bundle. This is what
//! `poolscope feed export --as FORMAT` runs. The feed rows are grouped by indicator (a domain,
//! an address with or without port, a certificate hash, a TLS fingerprint), and every
//! indicator carries the provenance of each row behind it (source, date, kind, note).
//!
//! Output is deterministic: the same feed gives the same bytes. Suricata sids are derived from
//! the indicator's text, MISP and STIX ids are UUIDv5 of it, and the dates written are the
//! rows' own dates, never the clock, so re-exporting updates the objects a partner already
//! holds instead of duplicating them. The MISP and STIX outputs also carry each row whole
//! (as JSON, see `row_json`) so that `feed import misp|stix` gives the rows back unchanged.
//!
//! Allowlist rows are never exported. Port-only endpoint rows (`*:3333`) name no server and are
//! skipped, as are values a format has no way to express (SHA-256-only certificates in
//! Suricata and Zeek, fingerprints in Zeek); the [`ExportReport`] counts them.

use super::age::{row_time, staleness, AgePolicy};
use super::error::FeedError;
use super::feeds::{parse_row, DomainKind, EndpointAddr, FeedEntry, FeedFile, PoolFeed};
use super::value::{FingerprintKind, IpNet};
use crate::hash::fnv1a;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// First sid of the range exported rules use. 1,000,000–1,999,999 is the range Snort and
/// Suricata leave to local rules; ET and vendor rulesets stay out of it.
pub const SID_BASE: u32 = 1_000_000;
/// Number of sids in the local range.
pub const SID_RANGE: u32 = 1_000_000;

/// The namespace of every UUIDv5 the exporters make (itself UUIDv5 of the URL
/// `poolscope:feed-export` in the RFC 4122 URL namespace).
const UUID_NAMESPACE: [u8; 16] = [
    91, 164, 193, 125, 2, 106, 83, 144, 156, 66, 135, 218, 1, 32, 224, 148,
];

/// The marker before the rows' JSON in a MISP attribute comment.
pub(crate) const MISP_ROWS_MARKER: &str = "poolscope-rows: ";
/// The name of the STIX extension definition whose property extension holds the rows' JSON
/// (its `rows` property).
const STIX_EXTENSION_NAME: &str = "poolscope feed rows";

/// The formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExportFormat {
    /// Suricata 7 rules (`tls.sni`, `dns.query`, `tls.cert_fingerprint`, `ja3.hash`, …).
    Suricata,
    /// Zeek Intel framework file (TSV with a `#fields` header).
    ZeekIntel,
    /// MISP event, JSON.
    Misp,
    /// STIX 2.1 bundle, JSON.
    Stix,
}

impl ExportFormat {
    /// Every format, in the order the help text lists them.
    pub const ALL: [ExportFormat; 4] = [Self::Suricata, Self::ZeekIntel, Self::Misp, Self::Stix];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suricata => "suricata",
            Self::ZeekIntel => "zeek-intel",
            Self::Misp => "misp",
            Self::Stix => "stix",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExportFormat {
    type Err = FeedError;

    fn from_str(s: &str) -> Result<Self, FeedError> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .or(match s.as_str() {
                "rules" | "suricata-rules" => Some(Self::Suricata),
                "zeek" | "intel" | "bro" => Some(Self::ZeekIntel),
                "misp-json" => Some(Self::Misp),
                "stix2" | "stix-2.1" | "stix21" => Some(Self::Stix),
                _ => None,
            })
            .ok_or_else(|| {
                FeedError::Usage(format!(
                    "unknown export format {s:?} (one of: {})",
                    Self::ALL.map(Self::as_str).join(", ")
                ))
            })
    }
}

/// What an exported row says about mining, the unit `--kind` selects by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndicatorClass {
    /// A pool's domain, address or certificate: proof of mining while fresh.
    Pool,
    /// A crypto-related site: a weak hint.
    CryptoRelated,
    /// Miner-malware infrastructure: a compromise indicator, weak as mining evidence.
    MinerMalware,
    /// A browser-mining (cryptojacking script) domain.
    BrowserMining,
    /// A miner's TLS fingerprint: always a weak hint.
    Fingerprint,
}

impl IndicatorClass {
    /// Every class, strongest first.
    pub const ALL: [IndicatorClass; 5] = [
        Self::Pool,
        Self::CryptoRelated,
        Self::MinerMalware,
        Self::BrowserMining,
        Self::Fingerprint,
    ];

    /// The name `--kind` takes and the outputs print.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pool => "pool",
            Self::CryptoRelated => "crypto-related",
            Self::MinerMalware => "miner-malware",
            Self::BrowserMining => "browser-mining",
            Self::Fingerprint => "fingerprint",
        }
    }

    /// The class of a feed row; `None` for allowlist rows, which are never indicators.
    pub fn of(entry: &FeedEntry) -> Option<Self> {
        let of_kind = |k: DomainKind| match k {
            DomainKind::Pool => Self::Pool,
            DomainKind::CryptoRelated => Self::CryptoRelated,
            DomainKind::MinerMalware => Self::MinerMalware,
        };
        match entry {
            FeedEntry::PoolDomain(d) => Some(of_kind(d.kind)),
            FeedEntry::Endpoint(e) => Some(of_kind(e.kind)),
            FeedEntry::Cert(_) => Some(Self::Pool),
            FeedEntry::BrowserDomain(_) => Some(Self::BrowserMining),
            FeedEntry::Fingerprint(_) => Some(Self::Fingerprint),
            FeedEntry::Allow(_) => None,
        }
    }
}

/// Which rows an export takes.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// The classes exported. Default: pool only, the rows that are evidence of mining; hints
    /// are exported on request, since a detection built on them alerts on benign traffic.
    pub classes: BTreeSet<IndicatorClass>,
    /// How old a name or address row may be and still become a detection (Suricata rules,
    /// Zeek Intel), as `score` weighs rows: an address a list named years ago has long since
    /// changed hands. MISP and STIX carry every row with its dates, for the receiver to weigh.
    pub age: AgePolicy,
    /// The day the ages are measured to, in Unix seconds. None: the newest row of the feed,
    /// so that the same feed always gives the same rules.
    pub at: Option<f64>,
    /// Detections of stale rows too.
    pub include_stale: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            classes: BTreeSet::from([IndicatorClass::Pool]),
            age: AgePolicy::default(),
            at: None,
            include_stale: false,
        }
    }
}

impl ExportOptions {
    /// Parses a `--kind` value: `all`, or classes separated by commas (`pool,miner-malware`).
    pub fn parse_kinds(spec: &str) -> Result<Self, FeedError> {
        let mut classes = BTreeSet::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                classes.extend(IndicatorClass::ALL);
                continue;
            }
            let class = IndicatorClass::ALL
                .into_iter()
                .find(|c| c.as_str() == part)
                .ok_or_else(|| {
                    FeedError::Usage(format!(
                        "--kind {part:?}: one of all, {}",
                        IndicatorClass::ALL.map(IndicatorClass::as_str).join(", ")
                    ))
                })?;
            classes.insert(class);
        }
        if classes.is_empty() {
            return Err(FeedError::Usage("--kind names no kind".into()));
        }
        Ok(ExportOptions {
            classes,
            ..ExportOptions::default()
        })
    }
}

/// What an export took and left.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Feed rows of the selected classes.
    pub rows: usize,
    /// Indicators written (rules for Suricata, lines for Zeek, attributes for MISP,
    /// indicator objects for STIX).
    pub written: usize,
    /// Rows or values left out, by reason.
    pub skipped: BTreeMap<String, usize>,
}

impl ExportReport {
    fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_string()).or_default() += 1;
    }
}

impl fmt::Display for ExportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ExportReport {
            rows,
            written,
            skipped,
        } = self;
        writeln!(f, "{rows} rows: {written} indicators written")?;
        for (reason, n) in skipped {
            writeln!(f, "  skipped {n}: {reason}")?;
        }
        Ok(())
    }
}

/// The text of an export and its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The file's content.
    pub text: String,
    /// What was written and skipped.
    pub report: ExportReport,
}

/// One value a detection can match.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Ioc {
    Domain(String),
    Addr(IpNet, Option<u16>),
    Cert {
        sha1: Option<String>,
        sha256: Option<String>,
    },
    Fingerprint(FingerprintKind, String),
}

/// An indicator and the feed rows behind it.
#[derive(Debug, Clone)]
struct Indicator {
    value: Ioc,
    /// The strongest class among the rows.
    class: IndicatorClass,
    rows: Vec<FeedEntry>,
}

impl Ioc {
    /// The indicator's canonical text: what sids and UUIDs are derived from.
    fn canonical(&self) -> String {
        match self {
            Ioc::Domain(d) => format!("domain:{d}"),
            Ioc::Addr(net, None) => format!("addr:{net}"),
            Ioc::Addr(net, Some(p)) => format!("addr:{net}:{p}"),
            Ioc::Cert { sha1, sha256 } => format!(
                "cert:{}/{}",
                sha1.as_deref().unwrap_or(""),
                sha256.as_deref().unwrap_or("")
            ),
            Ioc::Fingerprint(k, v) => format!("{}:{v}", k.as_str()),
        }
    }

    /// The value as people read it.
    fn display(&self) -> String {
        match self {
            Ioc::Domain(d) => d.clone(),
            Ioc::Addr(net, None) => net.to_string(),
            Ioc::Addr(net, Some(p)) if net.addr().is_ipv6() => format!("[{net}]:{p}"),
            Ioc::Addr(net, Some(p)) => format!("{net}:{p}"),
            Ioc::Cert { sha1, sha256 } => sha1.clone().or(sha256.clone()).unwrap_or_default(),
            Ioc::Fingerprint(_, v) => v.clone(),
        }
    }

    /// What kind of value it is, for messages.
    fn noun(&self) -> &'static str {
        match self {
            Ioc::Domain(_) => "domain",
            Ioc::Addr(..) => "server",
            Ioc::Cert { .. } => "certificate",
            Ioc::Fingerprint(FingerprintKind::Ja3, _) => "JA3",
            Ioc::Fingerprint(FingerprintKind::Ja4, _) => "JA4",
            Ioc::Fingerprint(FingerprintKind::Ja3s, _) => "JA3S",
            Ioc::Fingerprint(FingerprintKind::Ja4s, _) => "JA4S",
        }
    }
}

/// Writes the rows of `feed` that `opts` selects in `format`.
pub fn export(
    feed: &PoolFeed,
    format: ExportFormat,
    opts: &ExportOptions,
) -> Result<Exported, FeedError> {
    let mut report = ExportReport::default();
    let mut indicators = collect(feed, opts, &mut report);
    if matches!(format, ExportFormat::Suricata | ExportFormat::ZeekIntel) && !opts.include_stale {
        indicators = drop_stale(indicators, feed, opts, &mut report);
    }
    let text = match format {
        ExportFormat::Suricata => suricata(&indicators, &mut report),
        ExportFormat::ZeekIntel => zeek(&indicators, &mut report),
        ExportFormat::Misp => misp(&indicators, opts, &mut report),
        ExportFormat::Stix => stix(&indicators, opts, &mut report),
    };
    Ok(Exported { text, report })
}

/// Keeps the rows of each indicator that `opts.age` still counts as proof on the reference
/// day, and the indicators left with any; the rest are counted as skipped.
fn drop_stale(
    indicators: Vec<Indicator>,
    feed: &PoolFeed,
    opts: &ExportOptions,
    report: &mut ExportReport,
) -> Vec<Indicator> {
    let at = opts.at.or_else(|| {
        feed.entries()
            .filter_map(|e| row_time(&e.provenance().date))
            .reduce(f64::max)
    });
    let Some(at) = at else {
        return indicators;
    };
    let limit = |row: &FeedEntry| match row {
        FeedEntry::PoolDomain(_) | FeedEntry::BrowserDomain(_) => Some(opts.age.domain_years),
        FeedEntry::Endpoint(_) => Some(opts.age.address_years),
        _ => None,
    };
    let mut kept = Vec::with_capacity(indicators.len());
    for mut ind in indicators {
        ind.rows.retain(|row| {
            limit(row).is_none_or(|years| staleness(&row.provenance().date, at, years).is_none())
        });
        if ind.rows.is_empty() {
            report.skip(
                "indicators whose rows are older than the age policy (--include-stale keeps them)",
            );
        } else {
            kept.push(ind);
        }
    }
    kept
}

/// Groups the selected rows by indicator, in canonical order.
fn collect(feed: &PoolFeed, opts: &ExportOptions, report: &mut ExportReport) -> Vec<Indicator> {
    let mut by_value: BTreeMap<Ioc, Indicator> = BTreeMap::new();
    for entry in feed.entries() {
        // The row as an import of the export will read it (cells trimmed, tabs and line
        // breaks as spaces), so that exporting that import gives the same bytes.
        let entry = row_from_json(&row_json(&entry)).unwrap_or(entry);
        let Some(class) = IndicatorClass::of(&entry) else {
            continue;
        };
        if !opts.classes.contains(&class) {
            continue;
        }
        report.rows += 1;
        let value = match &entry {
            FeedEntry::PoolDomain(d) => Ioc::Domain(d.domain.clone()),
            FeedEntry::BrowserDomain(d) => Ioc::Domain(d.domain.clone()),
            FeedEntry::Endpoint(e) => match e.addr {
                EndpointAddr::Net(n) if !e.is_port_only() => Ioc::Addr(n, e.port),
                _ => {
                    report.skip("port-only endpoint rows (no server to name)");
                    continue;
                }
            },
            FeedEntry::Cert(c) => {
                if c.sha1.is_none() && c.sha256.is_none() {
                    report.skip("certificate rows with only an SPKI hash");
                    continue;
                }
                Ioc::Cert {
                    sha1: c.sha1.clone(),
                    sha256: c.sha256.clone(),
                }
            }
            FeedEntry::Fingerprint(f) => Ioc::Fingerprint(f.kind, f.value.clone()),
            FeedEntry::Allow(_) => continue,
        };
        let ind = by_value.entry(value.clone()).or_insert_with(|| Indicator {
            value,
            class,
            rows: Vec::new(),
        });
        ind.class = ind.class.min(class);
        ind.rows.push(entry);
    }
    by_value.into_values().collect()
}

/// The row's date as the start of that day in UTC (`2024-05` is read as `2024-05-01`).
fn day_start(date: &str) -> String {
    let mut parts = date.split('-');
    let y = parts.next().unwrap_or("1970");
    let m = parts.next().unwrap_or("01");
    let d = parts.next().unwrap_or("01");
    format!("{y}-{m}-{d}T00:00:00Z")
}

/// Earliest and latest row dates of an indicator, as days.
fn seen_range(rows: &[FeedEntry]) -> (String, String) {
    let days: BTreeSet<String> = rows
        .iter()
        .flat_map(|r| match r {
            FeedEntry::Cert(c) => vec![c.first_seen.clone(), c.provenance.date.clone()],
            _ => vec![r.provenance().date.clone()],
        })
        .filter(|d| !d.is_empty())
        .map(|d| day_start(&d)[..10].to_string())
        .collect();
    let first = days.first().cloned().unwrap_or_else(|| "1970-01-01".into());
    let last = days.last().cloned().unwrap_or_else(|| first.clone());
    (first, last)
}

/// One row in words: its kind, coin, source, date and note.
fn describe_row(row: &FeedEntry) -> String {
    let p = row.provenance();
    let (what, extra) = match row {
        FeedEntry::PoolDomain(d) => (d.kind.as_str().to_string(), vec![&d.coin, &d.note]),
        FeedEntry::Endpoint(e) => (e.kind.as_str().to_string(), vec![&e.coin, &e.host, &e.note]),
        FeedEntry::BrowserDomain(_) => ("browser-mining".to_string(), vec![]),
        FeedEntry::Cert(c) => ("pool certificate".to_string(), vec![&c.subject, &c.note]),
        FeedEntry::Fingerprint(f) => (
            format!("{} fingerprint", f.kind.as_str()),
            vec![&f.client, &f.note],
        ),
        FeedEntry::Allow(_) => ("allowlist".to_string(), vec![]),
    };
    let extra: Vec<&str> = extra
        .into_iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    let mut s = format!("{what} from {} {}", p.source, p.date);
    if !extra.is_empty() {
        s.push_str(" (");
        s.push_str(&extra.join("; "));
        s.push(')');
    }
    s
}

/// A feed row as a JSON object: `file` plus every column of its file. What the MISP and STIX
/// outputs carry so that importing them gives the row back.
pub(crate) fn row_json(row: &FeedEntry) -> Value {
    let file = row.file();
    let mut obj = Map::new();
    obj.insert(
        "file".into(),
        Value::String(file.file_name().trim_end_matches(".tsv").to_string()),
    );
    for col in file.columns() {
        obj.insert(
            col.to_string(),
            Value::String(row.cell(col).unwrap_or_default()),
        );
    }
    Value::Object(obj)
}

/// The row a [`row_json`] object describes, checked by the feed files' own row parser.
pub(crate) fn row_from_json(v: &Value) -> Result<FeedEntry, String> {
    let obj = v.as_object().ok_or("a row is not a JSON object")?;
    let name = obj.get("file").and_then(Value::as_str).unwrap_or("");
    let file = FeedFile::parse(name).ok_or_else(|| format!("row of unknown file {name:?}"))?;
    if file == FeedFile::Allowlist {
        return Err("an allowlist row is not an indicator".into());
    }
    if let Some((k, _)) = obj.iter().find(|(_, v)| !v.is_string()) {
        return Err(format!("row column {k:?} is not a string"));
    }
    let get = |c: &str| obj.get(c).and_then(Value::as_str).map_or("", str::trim);
    parse_row(file, &get)
}

/// UUIDv5 (RFC 4122, SHA-1 name-based) of `name` in the exporters' namespace.
pub(crate) fn uuid5(name: &str) -> String {
    name_uuid(name, 5)
}

/// The UUID of a STIX object: the UUIDv5 bits with the version set to 4. STIX 2.1 asks for
/// UUIDv4 in the ids of domain and meta objects (stix2-validator's strict mode refuses
/// others); derived from the name, the id is still the same in every export.
pub(crate) fn stix_uuid(name: &str) -> String {
    name_uuid(name, 4)
}

fn name_uuid(name: &str, version: u8) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(UUID_NAMESPACE);
    h.update(name.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | (version << 4);
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

// ---------------------------------------------------------------- Suricata

/// One rule before its sid is known.
struct RuleDraft {
    /// The rule's identity (buffer and value), what its sid is derived from.
    key: String,
    header: String,
    /// Options between `msg` and `classtype`.
    matches: String,
    msg: String,
    metadata: String,
    reference: Option<String>,
}

/// Assigns each key a sid in the local range: FNV-1a of the key, probing upwards on a
/// collision. Keys are taken in sorted order, so the assignment depends only on the set.
pub(crate) fn assign_sids<'k>(keys: impl IntoIterator<Item = &'k str>) -> BTreeMap<String, u32> {
    let keys: BTreeSet<&str> = keys.into_iter().collect();
    let mut taken = BTreeSet::new();
    let mut out = BTreeMap::new();
    for key in keys {
        let mut slot = (fnv1a(key.as_bytes()) % u64::from(SID_RANGE)) as u32;
        while !taken.insert(slot) {
            slot = (slot + 1) % SID_RANGE;
        }
        out.insert(key.to_string(), SID_BASE + slot);
    }
    out
}

/// Content bytes as a rule writes them: `"`, `;`, `\`, `|` and non-printable bytes as `|hex|`.
pub(crate) fn rule_content(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if (b.is_ascii_graphic() && !matches!(b, b'"' | b';' | b'\\' | b'|')) || b == b' ' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("|{b:02X}|"));
        }
    }
    out
}

/// Free text for `msg`: `"`, `;` and `\` escaped with a backslash, control characters dropped.
fn rule_text(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars().filter(|c| !c.is_control()) {
        if matches!(c, '"' | ';' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A `metadata` value: one token of letters, digits and `._:/+-`.
fn meta_token(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._:/+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The first `http(s)://` URL in a row's note, as a `reference:url,` value (no scheme).
fn note_url(rows: &[FeedEntry]) -> Option<String> {
    rows.iter().find_map(|r| {
        let note = match r {
            FeedEntry::PoolDomain(d) => &d.note,
            FeedEntry::Endpoint(e) => &e.note,
            FeedEntry::Cert(c) => &c.note,
            FeedEntry::Fingerprint(f) => &f.note,
            _ => return None,
        };
        note.split_whitespace().find_map(|w| {
            let rest = w
                .strip_prefix("https://")
                .or_else(|| w.strip_prefix("http://"))?;
            let ok = !rest.is_empty()
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b';' | b'\\' | b','));
            ok.then(|| rest.to_string())
        })
    })
}

fn suricata(indicators: &[Indicator], report: &mut ExportReport) -> String {
    let mut drafts = Vec::new();
    for ind in indicators {
        let rows = &ind.rows;
        let sources: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {}", r.provenance().source, r.provenance().date))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let shown = match sources.len() {
            0..=2 => sources.join(", "),
            n => format!("{}, {} and {} more", sources[0], sources[1], n - 2),
        };
        let coin = rows
            .iter()
            .find_map(|r| match r {
                FeedEntry::PoolDomain(d) if !d.coin.is_empty() => Some(d.coin.clone()),
                FeedEntry::Endpoint(e) if !e.coin.is_empty() => Some(e.coin.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let mut meta = vec![format!("poolscope_kind {}", ind.class.as_str())];
        for r in rows {
            let p = r.provenance();
            meta.push(format!("source {}", meta_token(&p.source)));
            meta.push(format!("date {}", meta_token(&p.date)));
        }
        if !coin.is_empty() {
            meta.push(format!("coin {}", meta_token(&coin)));
        }
        meta.dedup();
        let metadata = meta.join(", ");
        let reference = note_url(rows);
        let class = ind.class.as_str();
        let mut draft = |key: String, header: &str, what: &str, matches: String| {
            drafts.push(RuleDraft {
                key,
                header: header.to_string(),
                matches,
                msg: rule_text(&format!(
                    "poolscope {class} {what} {} ({shown})",
                    ind.value.display()
                )),
                metadata: metadata.clone(),
                reference: reference.clone(),
            });
        };
        match &ind.value {
            Ioc::Domain(d) => {
                let c = rule_content(&format!(".{d}"));
                draft(
                    format!("tls.sni:{d}"),
                    "alert tls any any -> any any",
                    "TLS SNI",
                    format!("tls.sni; dotprefix; content:\"{c}\"; endswith;"),
                );
                draft(
                    format!("dns.query:{d}"),
                    "alert dns any any -> any any",
                    "DNS query",
                    format!("dns.query; dotprefix; content:\"{c}\"; endswith;"),
                );
            }
            Ioc::Addr(net, port) => {
                let header = match port {
                    Some(p) => format!("alert tcp any any -> {net} {p}"),
                    None => format!("alert ip any any -> {net} any"),
                };
                let flow = if port.is_some() {
                    "flow:to_server;"
                } else {
                    ""
                };
                draft(ind.value.canonical(), &header, "server", flow.to_string());
            }
            Ioc::Cert { sha1: Some(s), .. } => {
                let colon = s
                    .as_bytes()
                    .chunks(2)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(":");
                draft(
                    format!("tls.cert_fingerprint:{s}"),
                    "alert tls any any -> any any",
                    "certificate",
                    format!(
                        "tls.cert_fingerprint; content:\"{}\";",
                        rule_content(&colon)
                    ),
                );
            }
            Ioc::Cert { sha1: None, .. } => {
                report.skip("certificates without SHA-1 (Suricata matches the SHA-1)");
            }
            Ioc::Fingerprint(kind, v) => {
                let Some(buffer) = fingerprint_buffer(*kind) else {
                    report.skip("JA4S fingerprints (no Suricata keyword)");
                    continue;
                };
                draft(
                    format!("{buffer}:{v}"),
                    "alert tls any any -> any any",
                    ind.value.noun(),
                    format!("{buffer}; content:\"{}\";", rule_content(v)),
                );
            }
        }
    }
    let sids = assign_sids(drafts.iter().map(|d| d.key.as_str()));
    let mut out = String::new();
    out.push_str(&format!(
        "# poolscope feed export: {} rules. sids {}-{} (the local range) are derived from each\n\
         # rule's indicator, so a re-export keeps them. classtype coin-mining is in Suricata's\n\
         # classification.config.\n",
        drafts.len(),
        SID_BASE,
        SID_BASE + SID_RANGE - 1
    ));
    for d in &drafts {
        let RuleDraft {
            key,
            header,
            matches,
            msg,
            metadata,
            reference,
        } = d;
        let mut opts = format!("msg:\"{msg}\"; ");
        if !matches.is_empty() {
            opts.push_str(matches);
            opts.push(' ');
        }
        opts.push_str("classtype:coin-mining; ");
        if let Some(r) = reference {
            opts.push_str(&format!("reference:url,{r}; "));
        }
        opts.push_str(&format!("metadata:{metadata}; sid:{}; rev:1;", sids[key]));
        out.push_str(&format!("{header} ({opts})\n"));
    }
    report.written += drafts.len();
    out
}

// ---------------------------------------------------------------- Zeek

/// A Zeek Intel cell: tabs and line breaks become spaces, an empty cell is `-` (unset).
fn zeek_cell(s: &str) -> String {
    let s = s.replace(['\t', '\n', '\r'], " ");
    let s = s.trim();
    if s.is_empty() {
        "-".into()
    } else {
        s.to_string()
    }
}

fn zeek(indicators: &[Indicator], report: &mut ExportReport) -> String {
    // One line per (indicator, type, source): Zeek keeps one meta record per source.
    let mut lines: BTreeMap<(String, &str, String), Vec<String>> = BTreeMap::new();
    for ind in indicators {
        let (indicator, ty) = match &ind.value {
            Ioc::Domain(d) => (d.clone(), "Intel::DOMAIN"),
            Ioc::Addr(net, _) if net.is_host() => (net.addr().to_string(), "Intel::ADDR"),
            Ioc::Addr(net, _) => (net.to_string(), "Intel::SUBNET"),
            Ioc::Cert { sha1: Some(s), .. } => (s.clone(), "Intel::CERT_HASH"),
            Ioc::Cert { sha1: None, .. } => {
                report.skip("certificates without SHA-1 (Zeek's CERT_HASH is the SHA-1)");
                continue;
            }
            Ioc::Fingerprint(..) => {
                report.skip("fingerprints (no Zeek Intel type)");
                continue;
            }
        };
        for r in &ind.rows {
            let mut desc = format!("poolscope {} {}: ", ind.value.noun(), ind.value.display());
            desc.push_str(&describe_row(r));
            lines
                .entry((indicator.clone(), ty, r.provenance().source.clone()))
                .or_default()
                .push(desc);
        }
    }
    let mut out =
        String::from("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n");
    for ((indicator, ty, source), descs) in &lines {
        let desc: Vec<&str> = descs
            .iter()
            .map(String::as_str)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        out.push_str(&format!(
            "{}\t{ty}\t{}\t{}\t-\n",
            zeek_cell(indicator),
            zeek_cell(source),
            zeek_cell(&desc.join(" | "))
        ));
    }
    report.written += lines.len();
    out
}

// ---------------------------------------------------------------- MISP

/// The name an export is known by, from its classes (what its event or bundle id derives from).
fn export_name(opts: &ExportOptions) -> String {
    let classes: Vec<&str> = opts.classes.iter().map(|c| c.as_str()).collect();
    format!("poolscope feed export: {}", classes.join(","))
}

/// The latest row date of all indicators.
fn latest_day(indicators: &[Indicator]) -> String {
    indicators
        .iter()
        .map(|i| seen_range(&i.rows).1)
        .max()
        .unwrap_or_else(|| "1970-01-01".into())
}

/// Human description of an indicator's rows, one per line.
fn describe_rows(ind: &Indicator) -> String {
    ind.rows
        .iter()
        .map(describe_row)
        .collect::<Vec<_>>()
        .join("\n")
}

fn misp(indicators: &[Indicator], opts: &ExportOptions, report: &mut ExportReport) -> String {
    let mut attributes = Vec::new();
    for ind in indicators {
        let rows: Vec<Value> = ind.rows.iter().map(row_json).collect();
        let comment = format!(
            "{}\n{MISP_ROWS_MARKER}{}",
            describe_rows(ind),
            Value::Array(rows)
        );
        let (first, last) = seen_range(&ind.rows);
        let ids = ind.class == IndicatorClass::Pool;
        let mut values: Vec<(&str, String, bool)> = Vec::new();
        match &ind.value {
            Ioc::Domain(d) => values.push(("domain", d.clone(), ids)),
            Ioc::Addr(net, None) => values.push(("ip-dst", net.to_string(), ids)),
            Ioc::Addr(net, Some(p)) => values.push(("ip-dst|port", format!("{net}|{p}"), ids)),
            Ioc::Cert { sha1, sha256 } => {
                if let Some(s) = sha1 {
                    values.push(("x509-fingerprint-sha1", s.clone(), ids));
                }
                if let Some(s) = sha256 {
                    values.push(("x509-fingerprint-sha256", s.clone(), ids));
                }
            }
            Ioc::Fingerprint(FingerprintKind::Ja3, v) => {
                values.push(("ja3-fingerprint-md5", v.clone(), false));
            }
            // MISP has no JA4, JA3S or JA4S type: free text, not for detection.
            Ioc::Fingerprint(_, v) => values.push(("text", v.clone(), false)),
        }
        for (ty, value, to_ids) in values {
            let uuid = uuid5(&format!("misp-attribute:{ty}:{}", ind.value.canonical()));
            let mut tags =
                vec![json!({"name": format!("poolscope:kind=\"{}\"", ind.class.as_str())})];
            if let Ioc::Fingerprint(k, _) = &ind.value {
                tags.push(json!({"name": format!("poolscope:fingerprint=\"{}\"", k.as_str())}));
            }
            attributes.push(json!({
                "uuid": uuid,
                "type": ty,
                "category": "Network activity",
                "value": value,
                "to_ids": to_ids,
                "comment": comment,
                "first_seen": format!("{first}T00:00:00+00:00"),
                "last_seen": format!("{last}T00:00:00+00:00"),
                "Tag": tags,
            }));
        }
    }
    report.written += attributes.len();
    let name = export_name(opts);
    let event = json!({
        "Event": {
            "uuid": uuid5(&format!("misp-event:{name}")),
            "info": name,
            "date": latest_day(indicators),
            // Low threat, analysis completed, this community only.
            "threat_level_id": "3",
            "analysis": "2",
            "distribution": "1",
            "published": false,
            "Tag": [
                {"name": "tlp:green"},
                {"name": "poolscope"},
            ],
            "Attribute": attributes,
        }
    });
    let mut text = serde_json::to_string_pretty(&event).unwrap_or_default();
    text.push('\n');
    text
}

// ---------------------------------------------------------------- STIX

/// A string literal inside a STIX pattern: `\` and `'` escaped.
fn stix_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A timestamp in the form STIX requires (UTC, millisecond precision).
fn stix_time(day: &str) -> String {
    format!("{day}T00:00:00.000Z")
}

/// The identity every exported object is created by.
fn stix_identity_id() -> String {
    format!("identity--{}", stix_uuid("stix-identity:poolscope"))
}

/// The id of the extension definition that carries the feed rows on each indicator.
pub(crate) fn stix_extension_id() -> String {
    format!(
        "extension-definition--{}",
        stix_uuid(&format!("stix-extension:{STIX_EXTENSION_NAME}"))
    )
}

fn stix(indicators: &[Indicator], opts: &ExportOptions, report: &mut ExportReport) -> String {
    let identity = stix_identity_id();
    let mut objects = vec![json!({
        "type": "identity",
        "spec_version": "2.1",
        "id": identity,
        // A fixed date: the identity never changes.
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": "poolscope",
        "identity_class": "system",
        "description": "Mining-pool intelligence exported by poolscope from its feed files.",
    })];
    let extension = stix_extension_id();
    objects.push(json!({
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": extension,
        "created_by_ref": identity,
        "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z",
        "name": STIX_EXTENSION_NAME,
        "description": "The poolscope feed rows behind an indicator, each whole (file and \
                        columns), so that importing the bundle gives the rows back.",
        "schema": "A list `rows` of objects: `file` (pool-domains, browser-mining-domains, \
                   pool-endpoints, pool-certs, miner-fingerprints) and that file's columns, \
                   as strings.",
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }));
    for ind in indicators {
        let (pattern_type, pattern) = match &ind.value {
            Ioc::Domain(d) => ("stix", format!("[domain-name:value = {}]", stix_str(d))),
            Ioc::Addr(net, port) => {
                let ty = if net.addr().is_ipv6() {
                    "ipv6-addr"
                } else {
                    "ipv4-addr"
                };
                let v = stix_str(&net.to_string());
                match port {
                    None => ("stix", format!("[{ty}:value = {v}]")),
                    Some(p) => (
                        "stix",
                        format!(
                            "[network-traffic:dst_ref.type = '{ty}' AND \
                             network-traffic:dst_ref.value = {v} AND \
                             network-traffic:dst_port = {p}]"
                        ),
                    ),
                }
            }
            Ioc::Cert { sha1, sha256 } => {
                let mut parts = Vec::new();
                if let Some(s) = sha1 {
                    parts.push(format!("x509-certificate:hashes.'SHA-1' = {}", stix_str(s)));
                }
                if let Some(s) = sha256 {
                    parts.push(format!(
                        "x509-certificate:hashes.'SHA-256' = {}",
                        stix_str(s)
                    ));
                }
                ("stix", format!("[{}]", parts.join(" OR ")))
            }
            // STIX observables have no TLS fingerprint: the Suricata rule is the pattern.
            Ioc::Fingerprint(kind, v) => {
                let Some(buffer) = fingerprint_buffer(*kind) else {
                    report.skip("JA4S fingerprints (no STIX or Suricata pattern)");
                    continue;
                };
                let sid = assign_sids([format!("{buffer}:{v}").as_str()])
                    .into_values()
                    .next()
                    .unwrap_or(SID_BASE);
                (
                    "suricata",
                    format!(
                        "alert tls any any -> any any (msg:\"poolscope {} {v}\"; {buffer}; \
                         content:\"{}\"; classtype:coin-mining; sid:{sid}; rev:1;)",
                        ind.value.noun(),
                        rule_content(v)
                    ),
                )
            }
        };
        let (first, last) = seen_range(&ind.rows);
        let indicator_type = match ind.class {
            IndicatorClass::Pool => "malicious-activity",
            IndicatorClass::MinerMalware => "compromised",
            _ => "anomalous-activity",
        };
        let refs: Vec<Value> = ind
            .rows
            .iter()
            .map(|r| {
                json!({
                    "source_name": r.provenance().source,
                    "description": describe_row(r),
                })
            })
            .collect();
        let rows: Vec<Value> = ind.rows.iter().map(row_json).collect();
        let mut labels = vec!["poolscope".to_string(), ind.class.as_str().to_string()];
        labels.dedup();
        objects.push(json!({
            "type": "indicator",
            "spec_version": "2.1",
            "id": format!("indicator--{}", stix_uuid(&format!("stix-indicator:{}", ind.value.canonical()))),
            "created_by_ref": identity,
            "created": stix_time(&first),
            "modified": stix_time(&last),
            "name": format!("poolscope {} {} {}", ind.class.as_str(), ind.value.noun(), ind.value.display()),
            "description": describe_rows(ind),
            "indicator_types": [indicator_type],
            "pattern": pattern,
            "pattern_type": pattern_type,
            "valid_from": stix_time(&first),
            "labels": labels,
            "external_references": refs,
            "extensions": {
                extension.clone(): {"extension_type": "property-extension", "rows": rows},
            },
        }));
        report.written += 1;
    }
    let bundle = json!({
        "type": "bundle",
        "id": format!("bundle--{}", stix_uuid(&format!("stix-bundle:{}", export_name(opts)))),
        "objects": objects,
    });
    let mut text = serde_json::to_string_pretty(&bundle).unwrap_or_default();
    text.push('\n');
    text
}

/// The Suricata sticky buffer that matches a fingerprint kind (None for JA4S, which Suricata
/// does not compute).
fn fingerprint_buffer(kind: FingerprintKind) -> Option<&'static str> {
    match kind {
        FingerprintKind::Ja3 => Some("ja3.hash"),
        FingerprintKind::Ja3s => Some("ja3s.hash"),
        FingerprintKind::Ja4 => Some("ja4.hash"),
        FingerprintKind::Ja4s => None,
    }
}

#[cfg(test)]
mod tests;
