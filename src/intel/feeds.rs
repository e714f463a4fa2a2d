//! The feed files and their in-memory form, [`PoolFeed`]. A feeds directory holds one TSV file
//! per kind of intelligence (see [`FeedFile`]); each file starts with a header line naming its
//! columns, `#` lines are comments, and every row carries its source and date. Loading is
//! strict: the first malformed row stops it with an error naming the file and line, because a
//! feed silently cut short would miss pools without anyone noticing. Exact duplicates (same
//! value from the same source) are merged; the same value from two sources is kept twice, so
//! each match can cite every source that vouches for it.

use super::error::FeedError;
use super::value::{parse_date, parse_domain, parse_hex, FingerprintKind, IpNet};
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// One of the six feed files of a feeds directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeedFile {
    /// `pool-domains.tsv`: mining-pool domains.
    PoolDomains,
    /// `browser-mining-domains.tsv`: browser-mining (cryptojacking) domains.
    BrowserDomains,
    /// `pool-endpoints.tsv`: pool addresses and ports.
    PoolEndpoints,
    /// `pool-certs.tsv`: pool server certificates.
    PoolCerts,
    /// `miner-fingerprints.tsv`: JA3/JA4/JA3S/JA4S of miners.
    MinerFingerprints,
    /// `allowlist.tsv`: known-good values (domain, host, ip, cidr, cert) that override every
    /// list.
    Allowlist,
}

impl FeedFile {
    /// All feed files, in load order.
    pub const ALL: [FeedFile; 6] = [
        Self::PoolDomains,
        Self::BrowserDomains,
        Self::PoolEndpoints,
        Self::PoolCerts,
        Self::MinerFingerprints,
        Self::Allowlist,
    ];

    /// The file name inside a feeds directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::PoolDomains => "pool-domains.tsv",
            Self::BrowserDomains => "browser-mining-domains.tsv",
            Self::PoolEndpoints => "pool-endpoints.tsv",
            Self::PoolCerts => "pool-certs.tsv",
            Self::MinerFingerprints => "miner-fingerprints.tsv",
            Self::Allowlist => "allowlist.tsv",
        }
    }

    /// The columns a new file is written with, in order.
    pub fn columns(self) -> &'static [&'static str] {
        match self {
            Self::PoolDomains => &["domain", "coin", "kind", "source", "date", "note"],
            Self::BrowserDomains => &["domain", "source", "date"],
            Self::PoolEndpoints => &[
                "ip", "port", "coin", "host", "kind", "source", "date", "note",
            ],
            Self::PoolCerts => &[
                "sha1",
                "sha256",
                "spki_sha256",
                "subject",
                "issuer",
                "first_seen",
                "last_seen",
                "source",
                "note",
            ],
            Self::MinerFingerprints => &["kind", "value", "client", "source", "date", "note"],
            Self::Allowlist => &["kind", "value", "reason", "source", "date"],
        }
    }

    /// The columns a file must have; the others may be absent from its header.
    fn required(self) -> &'static [&'static str] {
        match self {
            Self::PoolDomains | Self::BrowserDomains => &["domain", "source", "date"],
            Self::PoolEndpoints => &["ip", "source", "date"],
            Self::PoolCerts => &["source", "first_seen"],
            Self::MinerFingerprints => &["kind", "value", "source", "date"],
            Self::Allowlist => &["kind", "value", "source", "date"],
        }
    }

    /// Parses a file name or a short name (`pool-domains`, `browser`, `endpoints`, `certs`,
    /// `fingerprints`, `allowlist`), as the command line takes it.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().trim_end_matches(".tsv").to_ascii_lowercase();
        Some(match s.as_str() {
            "pool-domains" | "domains" | "pool" => Self::PoolDomains,
            "browser-mining-domains" | "browser" | "browser-domains" => Self::BrowserDomains,
            "pool-endpoints" | "endpoints" | "ips" => Self::PoolEndpoints,
            "pool-certs" | "certs" => Self::PoolCerts,
            "miner-fingerprints" | "fingerprints" => Self::MinerFingerprints,
            "allowlist" | "allow" => Self::Allowlist,
            _ => return None,
        })
    }
}

impl fmt::Display for FeedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// Where an entry came from: the source's name and the date the source vouched for it (its
/// snapshot or last-seen date), plus the feed line it was read from when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// Short source name (`coinblockerlists`, `smashed`, `learned`, …).
    pub source: String,
    /// `YYYY-MM-DD`, or `YYYY-MM` / `YYYY` when the source gives no finer date.
    pub date: String,
    /// 1-based line in the feed file the entry was loaded from; `None` for imported entries.
    pub line: Option<usize>,
}

impl Provenance {
    /// Provenance of an entry that is not (yet) in a file.
    pub fn new(source: impl Into<String>, date: impl Into<String>) -> Self {
        Provenance {
            source: source.into(),
            date: date.into(),
            line: None,
        }
    }
}

/// What a listed domain or address is, and so how much a hit on it says (the `kind` column of
/// `pool-domains.tsv` and `pool-endpoints.tsv`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DomainKind {
    /// A pool's own name or address: strong evidence of mining (while the row is fresh, see
    /// [`crate::intel::age`]).
    Pool,
    /// A crypto-related site (exchange, wallet, miner download, ad network paying in coin):
    /// only a weak hint, never `mining`.
    CryptoRelated,
    /// Infrastructure of miner malware (a control server, a payload host, the endpoint a
    /// family was configured with): a compromise indicator, not proof that the flow mines, so
    /// a weak hint with the family named.
    MinerMalware,
}

impl DomainKind {
    /// Every kind, in `kind` column order.
    pub const ALL: [DomainKind; 3] = [Self::Pool, Self::CryptoRelated, Self::MinerMalware];

    /// The name used in the `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pool => "pool",
            Self::CryptoRelated => "crypto-related",
            Self::MinerMalware => "miner-malware",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "" | "pool" => Ok(Self::Pool),
            "crypto-related" => Ok(Self::CryptoRelated),
            "miner-malware" => Ok(Self::MinerMalware),
            other => Err(format!(
                "kind {other:?} is not pool, crypto-related or miner-malware"
            )),
        }
    }
}

impl fmt::Display for DomainKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A row of `pool-domains.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolDomain {
    /// Normalised domain; it and every name under it match.
    pub domain: String,
    /// Coin ticker(s), comma-separated, or empty when unknown.
    pub coin: String,
    /// Pool name, crypto-related site or miner-malware host.
    pub kind: DomainKind,
    /// Free-text remark: the malware family, the rule or list entry it came from.
    pub note: String,
    /// Source and date.
    pub provenance: Provenance,
}

/// A row of `browser-mining-domains.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserDomain {
    /// Normalised domain; it and every name under it match.
    pub domain: String,
    /// Source and date.
    pub provenance: Provenance,
}

/// The address side of an endpoint row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointAddr {
    /// `*`: any address, IPv4 or IPv6. Only allowed with a port: a port-only hint.
    Any,
    /// One address or a CIDR network.
    Net(IpNet),
}

impl fmt::Display for EndpointAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointAddr::Any => f.write_str("*"),
            EndpointAddr::Net(n) => n.fmt(f),
        }
    }
}

/// A row of `pool-endpoints.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEndpoint {
    /// Address or network; `*` (or a /0 network) with a port is a port-only hint.
    pub addr: EndpointAddr,
    /// Server port, or `None` for any port.
    pub port: Option<u16>,
    /// Coin ticker(s), comma-separated, or empty.
    pub coin: String,
    /// The pool host name(s) the address belonged to, comma-separated, or empty.
    pub host: String,
    /// Pool address (the default) or miner-malware address; `crypto-related` is weak too.
    pub kind: DomainKind,
    /// Free-text remark: the malware family, the rule or list entry it came from.
    pub note: String,
    /// Source and date.
    pub provenance: Provenance,
}

impl PoolEndpoint {
    /// Whether the row names no address at all, only a port (`*` or a /0 network).
    pub fn is_port_only(&self) -> bool {
        match self.addr {
            EndpointAddr::Any => true,
            EndpointAddr::Net(n) => n.prefix() == 0,
        }
    }

    /// `1.2.3.4:3333`, `[2001:db8::1]:3333`, `1.2.3.0/24`, `*:3333`: the row as reasons print it.
    pub fn display_value(&self) -> String {
        match (self.addr, self.port) {
            (EndpointAddr::Net(n), Some(p)) if n.addr().is_ipv6() && n.is_host() => {
                format!("[{}]:{p}", n.addr())
            }
            (a, Some(p)) => format!("{a}:{p}"),
            (a, None) => a.to_string(),
        }
    }
}

/// A row of `pool-certs.tsv`: at least one of the three hashes is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolCert {
    /// SHA-1 of the DER certificate, lowercase hex.
    pub sha1: Option<String>,
    /// SHA-256 of the DER certificate, lowercase hex.
    pub sha256: Option<String>,
    /// SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex (survives re-issuing with the
    /// same key).
    pub spki_sha256: Option<String>,
    /// Subject as printed by the tool that saw it.
    pub subject: String,
    /// Issuer as printed by the tool that saw it.
    pub issuer: String,
    /// First date the source saw the certificate.
    pub first_seen: String,
    /// Last date the source saw it, or empty.
    pub last_seen: String,
    /// Free-text remark (listing reason, capture name).
    pub note: String,
    /// Source; the date is `last_seen`, or `first_seen` when that is empty.
    pub provenance: Provenance,
}

/// A row of `miner-fingerprints.tsv`. Fingerprint matches are always weak hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MinerFingerprint {
    /// JA3, JA4, JA3S or JA4S.
    pub kind: FingerprintKind,
    /// The fingerprint, normalised.
    pub value: String,
    /// The client (or server) program it was seen from.
    pub client: String,
    /// Why it is weak, or what else shares it.
    pub note: String,
    /// Source and date.
    pub provenance: Provenance,
}

/// What an allowlist row covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AllowValue {
    /// A domain and every name under it.
    Domain(String),
    /// Exactly this name, not the names under it (CoinBlockerLists' whitelist means this).
    Host(String),
    /// An address (`kind` ip) or a network (`kind` cidr).
    Net(IpNet),
    /// A certificate SHA-1, SHA-256 or SPKI SHA-256, lowercase hex.
    Cert(String),
}

impl AllowValue {
    /// The `kind` column for this value.
    pub fn kind(&self) -> &'static str {
        match self {
            AllowValue::Domain(_) => "domain",
            AllowValue::Host(_) => "host",
            AllowValue::Net(n) if n.is_host() => "ip",
            AllowValue::Net(_) => "cidr",
            AllowValue::Cert(_) => "cert",
        }
    }
}

impl fmt::Display for AllowValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AllowValue::Domain(d) | AllowValue::Host(d) | AllowValue::Cert(d) => f.write_str(d),
            AllowValue::Net(n) => n.fmt(f),
        }
    }
}

/// A row of `allowlist.tsv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    /// The value allowed.
    pub value: AllowValue,
    /// Why it is known to be good.
    pub reason: String,
    /// Source and date.
    pub provenance: Provenance,
}

/// One feed row of any kind: what an import produces and a merge writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEntry {
    /// A `pool-domains.tsv` row.
    PoolDomain(PoolDomain),
    /// A `browser-mining-domains.tsv` row.
    BrowserDomain(BrowserDomain),
    /// A `pool-endpoints.tsv` row.
    Endpoint(PoolEndpoint),
    /// A `pool-certs.tsv` row.
    Cert(PoolCert),
    /// A `miner-fingerprints.tsv` row.
    Fingerprint(MinerFingerprint),
    /// An `allowlist.tsv` row.
    Allow(AllowEntry),
}

/// The identity of a row for de-duplication: kind-specific value plus source.
pub(crate) type DedupKey = (FeedFile, String, String);

impl FeedEntry {
    /// The file this entry belongs in.
    pub fn file(&self) -> FeedFile {
        match self {
            FeedEntry::PoolDomain(_) => FeedFile::PoolDomains,
            FeedEntry::BrowserDomain(_) => FeedFile::BrowserDomains,
            FeedEntry::Endpoint(_) => FeedFile::PoolEndpoints,
            FeedEntry::Cert(_) => FeedFile::PoolCerts,
            FeedEntry::Fingerprint(_) => FeedFile::MinerFingerprints,
            FeedEntry::Allow(_) => FeedFile::Allowlist,
        }
    }

    /// Source and date of the entry.
    pub fn provenance(&self) -> &Provenance {
        match self {
            FeedEntry::PoolDomain(e) => &e.provenance,
            FeedEntry::BrowserDomain(e) => &e.provenance,
            FeedEntry::Endpoint(e) => &e.provenance,
            FeedEntry::Cert(e) => &e.provenance,
            FeedEntry::Fingerprint(e) => &e.provenance,
            FeedEntry::Allow(e) => &e.provenance,
        }
    }

    /// The key two rows are duplicates on: the same value from the same source.
    pub(crate) fn dedup_key(&self) -> DedupKey {
        let value = match self {
            FeedEntry::PoolDomain(e) => e.domain.clone(),
            FeedEntry::BrowserDomain(e) => e.domain.clone(),
            FeedEntry::Endpoint(e) => e.display_value(),
            FeedEntry::Cert(e) => format!(
                "{}/{}/{}",
                e.sha1.as_deref().unwrap_or(""),
                e.sha256.as_deref().unwrap_or(""),
                e.spki_sha256.as_deref().unwrap_or("")
            ),
            FeedEntry::Fingerprint(e) => format!("{}:{}", e.kind, e.value),
            FeedEntry::Allow(e) => format!("{}:{}", e.value.kind(), e.value),
        };
        (self.file(), value, self.provenance().source.clone())
    }

    /// The entry's cell for a column of its file; `None` for a column the kind does not have.
    pub(crate) fn cell(&self, column: &str) -> Option<String> {
        let p = self.provenance();
        let s = |v: &str| Some(clean_cell(v));
        match (self, column) {
            (_, "source") => s(&p.source),
            (FeedEntry::Cert(_), "date") => None,
            (_, "date") => s(&p.date),
            (FeedEntry::PoolDomain(e), "domain") => s(&e.domain),
            (FeedEntry::PoolDomain(e), "coin") => s(&e.coin),
            (FeedEntry::PoolDomain(e), "kind") => s(e.kind.as_str()),
            (FeedEntry::PoolDomain(e), "note") => s(&e.note),
            (FeedEntry::BrowserDomain(e), "domain") => s(&e.domain),
            (FeedEntry::Endpoint(e), "ip") => s(&e.addr.to_string()),
            (FeedEntry::Endpoint(e), "port") => {
                Some(e.port.map(|p| p.to_string()).unwrap_or_default())
            }
            (FeedEntry::Endpoint(e), "coin") => s(&e.coin),
            (FeedEntry::Endpoint(e), "host") => s(&e.host),
            (FeedEntry::Endpoint(e), "kind") => s(e.kind.as_str()),
            (FeedEntry::Endpoint(e), "note") => s(&e.note),
            (FeedEntry::Cert(e), "sha1") => s(e.sha1.as_deref().unwrap_or("")),
            (FeedEntry::Cert(e), "sha256") => s(e.sha256.as_deref().unwrap_or("")),
            (FeedEntry::Cert(e), "spki_sha256") => s(e.spki_sha256.as_deref().unwrap_or("")),
            (FeedEntry::Cert(e), "subject") => s(&e.subject),
            (FeedEntry::Cert(e), "issuer") => s(&e.issuer),
            (FeedEntry::Cert(e), "first_seen") => s(&e.first_seen),
            (FeedEntry::Cert(e), "last_seen") => s(&e.last_seen),
            (FeedEntry::Cert(e), "note") => s(&e.note),
            (FeedEntry::Fingerprint(e), "kind") => s(e.kind.as_str()),
            (FeedEntry::Fingerprint(e), "value") => s(&e.value),
            (FeedEntry::Fingerprint(e), "client") => s(&e.client),
            (FeedEntry::Fingerprint(e), "note") => s(&e.note),
            (FeedEntry::Allow(e), "kind") => s(e.value.kind()),
            (FeedEntry::Allow(e), "value") => s(&e.value.to_string()),
            (FeedEntry::Allow(e), "reason") => s(&e.reason),
            _ => None,
        }
    }

    /// The entry as one TSV row in the order of `columns` (a file's header).
    pub(crate) fn render(&self, columns: &[String]) -> String {
        columns
            .iter()
            .map(|c| self.cell(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\t")
    }
}

/// Tabs and line breaks would split a row: free text gets spaces instead.
fn clean_cell(v: &str) -> String {
    v.replace(['\t', '\n', '\r'], " ")
}

/// Everything a feeds directory says, one vector per file, each entry with its provenance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolFeed {
    /// `pool-domains.tsv`.
    pub pool_domains: Vec<PoolDomain>,
    /// `browser-mining-domains.tsv`.
    pub browser_domains: Vec<BrowserDomain>,
    /// `pool-endpoints.tsv`.
    pub endpoints: Vec<PoolEndpoint>,
    /// `pool-certs.tsv`.
    pub certs: Vec<PoolCert>,
    /// `miner-fingerprints.tsv`.
    pub fingerprints: Vec<MinerFingerprint>,
    /// `allowlist.tsv`.
    pub allowlist: Vec<AllowEntry>,
    /// Rows dropped on loading because the same value from the same source came earlier.
    pub duplicates: usize,
}

impl PoolFeed {
    /// Loads every feed file present in `dir`. A missing file is an empty list (a directory
    /// may carry only an allowlist, say), but a directory with none of them is an error, and
    /// so is the first bad line of any file.
    pub fn load(dir: &Path) -> Result<PoolFeed, FeedError> {
        let mut feed = PoolFeed::default();
        let mut found = 0;
        for file in FeedFile::ALL {
            let path = dir.join(file.file_name());
            let text = match std::fs::read_to_string(&path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(FeedError::io(path, e)),
            };
            found += 1;
            feed.parse_file(file, &path, &text)?;
        }
        if found == 0 {
            return Err(FeedError::EmptyDir {
                path: dir.to_path_buf(),
                expected: FeedFile::ALL.map(FeedFile::file_name).join(", "),
            });
        }
        Ok(feed)
    }

    /// The feeds built into poolscope (a copy of the shipped `feeds/` directory).
    pub fn builtin() -> Result<PoolFeed, FeedError> {
        let mut feed = PoolFeed::default();
        for file in FeedFile::ALL {
            let name = Path::new("built-in").join(file.file_name());
            feed.parse_file(file, &name, crate::resources::builtin_feed(file))?;
        }
        Ok(feed)
    }

    /// Loads a feed directory, or the built-in feeds.
    pub fn load_located(at: &crate::resources::Located) -> Result<PoolFeed, FeedError> {
        match at {
            crate::resources::Located::Path(p) => PoolFeed::load(p),
            crate::resources::Located::BuiltIn => PoolFeed::builtin(),
        }
    }

    /// Parses the text of one feed file into this feed; `path` is used in error messages only.
    pub fn parse_file(&mut self, file: FeedFile, path: &Path, text: &str) -> Result<(), FeedError> {
        let mut seen: HashSet<DedupKey> = self.keys_of(file);
        for row in read_rows(file, path, text)? {
            let entry = row.map_err(|(line, reason)| FeedError::line(path, line, reason))?;
            if seen.insert(entry.dedup_key()) {
                self.push(entry);
            } else {
                self.duplicates += 1;
            }
        }
        Ok(())
    }

    /// Adds one entry to the vector of its kind (no de-duplication).
    pub fn push(&mut self, entry: FeedEntry) {
        match entry {
            FeedEntry::PoolDomain(e) => self.pool_domains.push(e),
            FeedEntry::BrowserDomain(e) => self.browser_domains.push(e),
            FeedEntry::Endpoint(e) => self.endpoints.push(e),
            FeedEntry::Cert(e) => self.certs.push(e),
            FeedEntry::Fingerprint(e) => self.fingerprints.push(e),
            FeedEntry::Allow(e) => self.allowlist.push(e),
        }
    }

    /// Every entry, as [`FeedEntry`] values, in file order.
    pub fn entries(&self) -> impl Iterator<Item = FeedEntry> + '_ {
        let PoolFeed {
            pool_domains,
            browser_domains,
            endpoints,
            certs,
            fingerprints,
            allowlist,
            duplicates: _,
        } = self;
        (pool_domains.iter().cloned().map(FeedEntry::PoolDomain))
            .chain(
                browser_domains
                    .iter()
                    .cloned()
                    .map(FeedEntry::BrowserDomain),
            )
            .chain(endpoints.iter().cloned().map(FeedEntry::Endpoint))
            .chain(certs.iter().cloned().map(FeedEntry::Cert))
            .chain(fingerprints.iter().cloned().map(FeedEntry::Fingerprint))
            .chain(allowlist.iter().cloned().map(FeedEntry::Allow))
    }

    /// Number of entries of all kinds.
    pub fn len(&self) -> usize {
        self.pool_domains.len()
            + self.browser_domains.len()
            + self.endpoints.len()
            + self.certs.len()
            + self.fingerprints.len()
            + self.allowlist.len()
    }

    /// Whether the feed holds no entries at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn keys_of(&self, file: FeedFile) -> HashSet<DedupKey> {
        // Only the vector of `file` is walked (and cloned into entries for their keys).
        let keys = |it: &mut dyn Iterator<Item = FeedEntry>| it.map(|e| e.dedup_key()).collect();
        match file {
            FeedFile::PoolDomains => {
                keys(&mut self.pool_domains.iter().cloned().map(FeedEntry::PoolDomain))
            }
            FeedFile::BrowserDomains => keys(
                &mut self
                    .browser_domains
                    .iter()
                    .cloned()
                    .map(FeedEntry::BrowserDomain),
            ),
            FeedFile::PoolEndpoints => {
                keys(&mut self.endpoints.iter().cloned().map(FeedEntry::Endpoint))
            }
            FeedFile::PoolCerts => keys(&mut self.certs.iter().cloned().map(FeedEntry::Cert)),
            FeedFile::MinerFingerprints => keys(
                &mut self
                    .fingerprints
                    .iter()
                    .cloned()
                    .map(FeedEntry::Fingerprint),
            ),
            FeedFile::Allowlist => keys(&mut self.allowlist.iter().cloned().map(FeedEntry::Allow)),
        }
    }
}

/// A parsed row, or the line number and reason it was refused.
pub(crate) type RowResult = Result<FeedEntry, (usize, String)>;

/// The header of a feed file: its column names, in order.
pub(crate) struct Header {
    pub(crate) columns: Vec<String>,
}

/// Splits a feed file into its header and rows. Errors in the header are returned at once;
/// row errors are yielded in place so the caller decides (loading stops at the first one).
pub(crate) fn read_rows<'a>(
    file: FeedFile,
    path: &Path,
    text: &'a str,
) -> Result<impl Iterator<Item = RowResult> + 'a, FeedError> {
    let (header, body) = split_header(file, path, text)?;
    let columns = header.columns;
    Ok(body.map(move |(line, raw)| {
        let fields: Vec<&str> = raw.split('\t').collect();
        if fields.len() > columns.len() {
            return Err((
                line,
                format!(
                    "{} fields but the header names {} columns",
                    fields.len(),
                    columns.len()
                ),
            ));
        }
        let get = |name: &str| cell(&columns, &fields, name);
        parse_row(file, &get).map_err(|e| (line, e)).map(|mut e| {
            set_line(&mut e, line);
            e
        })
    }))
}

/// Finds the header (first line that is neither blank nor a `#` comment) and checks it names
/// the file's required columns. Returns it with the numbered data lines after it.
pub(crate) fn split_header<'a>(
    file: FeedFile,
    path: &Path,
    text: &'a str,
) -> Result<(Header, impl Iterator<Item = (usize, &'a str)> + 'a), FeedError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((line, raw)) = lines.next() else {
        return Err(FeedError::line(
            path,
            1,
            format!(
                "no header line (expected: {})",
                file.columns().join(" <TAB> ")
            ),
        ));
    };
    let columns: Vec<String> = raw.split('\t').map(|c| c.trim().to_string()).collect();
    for req in file.required() {
        if !columns.iter().any(|c| c == req) {
            return Err(FeedError::line(
                path,
                line,
                format!(
                    "header lacks column {req:?} (a {} header is: {})",
                    file.file_name(),
                    file.columns().join(" <TAB> ")
                ),
            ));
        }
    }
    if let Some(dup) = columns
        .iter()
        .enumerate()
        .find(|(i, c)| !c.is_empty() && columns[..*i].contains(c))
    {
        return Err(FeedError::line(
            path,
            line,
            format!("column {:?} twice in header", dup.1),
        ));
    }
    Ok((Header { columns }, lines))
}

/// The trimmed cell of column `name` in a row, "" when the header or the row lacks it.
pub(crate) fn cell<'r>(columns: &[String], fields: &[&'r str], name: &str) -> &'r str {
    columns
        .iter()
        .position(|c| c == name)
        .and_then(|i| fields.get(i))
        .map(|s| s.trim())
        .unwrap_or("")
}

fn set_line(entry: &mut FeedEntry, line: usize) {
    let p = match entry {
        FeedEntry::PoolDomain(e) => &mut e.provenance,
        FeedEntry::BrowserDomain(e) => &mut e.provenance,
        FeedEntry::Endpoint(e) => &mut e.provenance,
        FeedEntry::Cert(e) => &mut e.provenance,
        FeedEntry::Fingerprint(e) => &mut e.provenance,
        FeedEntry::Allow(e) => &mut e.provenance,
    };
    p.line = Some(line);
}

/// Builds one entry of `file` from its cells (`get` returns "" for an absent column).
pub(crate) fn parse_row<'r>(
    file: FeedFile,
    get: &dyn Fn(&str) -> &'r str,
) -> Result<FeedEntry, String> {
    let source = get("source");
    if source.is_empty() {
        return Err("empty source".into());
    }
    if file == FeedFile::PoolCerts {
        return parse_cert(get, source).map(FeedEntry::Cert);
    }
    let provenance = Provenance::new(source, parse_date(get("date"))?);
    Ok(match file {
        FeedFile::PoolDomains => FeedEntry::PoolDomain(PoolDomain {
            domain: parse_domain(get("domain"), 2)?,
            coin: get("coin").to_string(),
            kind: DomainKind::parse(get("kind"))?,
            note: get("note").to_string(),
            provenance,
        }),
        FeedFile::BrowserDomains => FeedEntry::BrowserDomain(BrowserDomain {
            domain: parse_domain(get("domain"), 2)?,
            provenance,
        }),
        FeedFile::PoolEndpoints => {
            let mut e =
                parse_endpoint(get("ip"), get("port"), get("coin"), get("host"), provenance)?;
            e.kind = DomainKind::parse(get("kind"))?;
            e.note = get("note").to_string();
            FeedEntry::Endpoint(e)
        }
        FeedFile::MinerFingerprints => {
            let kind = FingerprintKind::parse(get("kind"))?;
            FeedEntry::Fingerprint(MinerFingerprint {
                kind,
                value: kind.parse_value(get("value"))?,
                client: get("client").to_string(),
                note: get("note").to_string(),
                provenance,
            })
        }
        FeedFile::Allowlist => FeedEntry::Allow(AllowEntry {
            value: parse_allow_value(get("kind"), get("value"))?,
            reason: get("reason").to_string(),
            provenance,
        }),
        FeedFile::PoolCerts => unreachable!("handled above"),
    })
}

/// Builds an endpoint row from its cells.
pub(crate) fn parse_endpoint(
    ip: &str,
    port: &str,
    coin: &str,
    host: &str,
    provenance: Provenance,
) -> Result<PoolEndpoint, String> {
    let addr = if ip == "*" {
        EndpointAddr::Any
    } else {
        EndpointAddr::Net(ip.parse::<IpNet>()?)
    };
    let port = if port.is_empty() {
        None
    } else {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => Some(p),
            _ => return Err(format!("port {port:?} is not 1-65535")),
        }
    };
    let e = PoolEndpoint {
        addr,
        port,
        coin: coin.to_string(),
        host: host.to_string(),
        kind: DomainKind::Pool,
        note: String::new(),
        provenance,
    };
    if e.is_port_only() && e.port.is_none() {
        return Err(format!(
            "address {ip} without a port would match every flow (give a port for a port-only hint)"
        ));
    }
    Ok(e)
}

fn parse_cert<'r>(get: &dyn Fn(&str) -> &'r str, source: &str) -> Result<PoolCert, String> {
    let hash = |col: &str, len: usize| -> Result<Option<String>, String> {
        let v = get(col);
        if v.is_empty() {
            Ok(None)
        } else {
            parse_hex(v, len, col).map(Some)
        }
    };
    let sha1 = hash("sha1", 40)?;
    let sha256 = hash("sha256", 64)?;
    let spki_sha256 = hash("spki_sha256", 64)?;
    if sha1.is_none() && sha256.is_none() && spki_sha256.is_none() {
        return Err("no hash: give sha1, sha256 or spki_sha256".into());
    }
    let first_seen = parse_date(get("first_seen"))?;
    let last_seen = match get("last_seen") {
        "" => String::new(),
        d => parse_date(d)?,
    };
    let date = if last_seen.is_empty() {
        first_seen.clone()
    } else {
        last_seen.clone()
    };
    Ok(PoolCert {
        sha1,
        sha256,
        spki_sha256,
        subject: get("subject").to_string(),
        issuer: get("issuer").to_string(),
        first_seen,
        last_seen,
        note: get("note").to_string(),
        provenance: Provenance::new(source, date),
    })
}

/// Parses an allowlist `kind` and `value`.
pub(crate) fn parse_allow_value(kind: &str, value: &str) -> Result<AllowValue, String> {
    match kind.trim().to_ascii_lowercase().as_str() {
        "domain" => Ok(AllowValue::Domain(parse_domain(value, 1)?)),
        "host" => Ok(AllowValue::Host(parse_domain(value, 1)?)),
        "ip" => {
            let net: IpNet = value.parse()?;
            if !net.is_host() {
                return Err(format!("{value} is a network: use kind cidr"));
            }
            Ok(AllowValue::Net(net))
        }
        "cidr" => Ok(AllowValue::Net(value.parse()?)),
        "cert" => {
            let hex: String = value.trim().chars().filter(|c| *c != ':').collect();
            let len = if hex.len() == 40 { 40 } else { 64 };
            Ok(AllowValue::Cert(parse_hex(value, len, "cert hash")?))
        }
        other => Err(format!(
            "allowlist kind {other:?} is not one of domain, host, ip, cidr, cert"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(file: FeedFile, text: &str) -> Result<PoolFeed, FeedError> {
        let mut f = PoolFeed::default();
        f.parse_file(file, Path::new(file.file_name()), text)?;
        Ok(f)
    }

    fn err_of(file: FeedFile, text: &str) -> String {
        parse(file, text).unwrap_err().to_string()
    }

    #[test]
    fn loads_rows_with_provenance_and_dedupes() {
        let text = "# comment\n\ndomain\tcoin\tkind\tsource\tdate\n\
                    Pool.Example.\tXMR\tpool\tcoinblockerlists\t2018-06-06\n\
                    # another comment\n\
                    pool.example\t\tpool\tcoinblockerlists\t2018-06-06\n\
                    pool.example\tXMR\tpool\tsmashed\t2018-05-13\n\
                    *.binance.com\t\tcrypto-related\tcoinblockerlists\t2018-06-06\n";
        let f = parse(FeedFile::PoolDomains, text).unwrap();
        assert_eq!(f.pool_domains.len(), 3);
        assert_eq!(f.duplicates, 1);
        let first = &f.pool_domains[0];
        assert_eq!(first.domain, "pool.example");
        assert_eq!(first.coin, "XMR");
        assert_eq!(first.provenance.source, "coinblockerlists");
        assert_eq!(first.provenance.date, "2018-06-06");
        assert_eq!(first.provenance.line, Some(4));
        assert_eq!(f.pool_domains[1].provenance.source, "smashed");
        assert_eq!(f.pool_domains[2].domain, "binance.com");
        assert_eq!(f.pool_domains[2].kind, DomainKind::CryptoRelated);
    }

    #[test]
    fn columns_are_found_by_name_and_trailing_empty_cells_may_be_cut() {
        let text = "date\tsource\tdomain\n2018-04-24\tndpi\tcoinhive.com\n";
        let f = parse(FeedFile::BrowserDomains, text).unwrap();
        assert_eq!(f.browser_domains[0].domain, "coinhive.com");
        let text = "ip\tport\tcoin\thost\tsource\tdate\n1.2.3.4\t3333\n";
        // Cut short: source and date are empty, which is an error, not a silent default.
        assert!(err_of(FeedFile::PoolEndpoints, text).contains(":2: empty source"));
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let text = "domain\tcoin\tkind\tsource\tdate\n\
                    ok.example\t\tpool\ts\t2018-06-06\n\
                    # comment\n\
                    bad..example\t\tpool\ts\t2018-06-06\n\
                    never.read.example\t\tpool\ts\t2018-06-06\n";
        let e = err_of(FeedFile::PoolDomains, text);
        assert!(e.starts_with("pool-domains.tsv:4: "), "{e}");
        assert!(e.contains("empty label"), "{e}");

        let cases: &[(FeedFile, &str, &str)] = &[
            (
                FeedFile::PoolDomains,
                "domain\tsource\tdate\ncom\ts\t2018\n",
                ":2: ",
            ),
            (
                FeedFile::PoolDomains,
                "domain\tsource\tdate\nx.example\ts\t06/06/2018\n",
                "date",
            ),
            (
                FeedFile::PoolDomains,
                "domain\tsource\n",
                ":1: header lacks column \"date\"",
            ),
            (
                FeedFile::PoolDomains,
                "# only a comment\n",
                ":1: no header line",
            ),
            (
                FeedFile::PoolDomains,
                "domain\tsource\tdate\na.b\ts\t2018\textra\n",
                "4 fields",
            ),
            (
                FeedFile::PoolEndpoints,
                "ip\tport\tsource\tdate\n1.2.3.4/24\t\ts\t2018\n",
                "did you mean 1.2.3.0/24",
            ),
            (
                FeedFile::PoolEndpoints,
                "ip\tport\tsource\tdate\n1.2.3.4\t70000\ts\t2018\n",
                "port",
            ),
            (
                FeedFile::PoolEndpoints,
                "ip\tport\tsource\tdate\n*\t\ts\t2018\n",
                "every flow",
            ),
            (
                FeedFile::PoolEndpoints,
                "ip\tport\tsource\tdate\n0.0.0.0/0\t\ts\t2018\n",
                "every flow",
            ),
            (
                FeedFile::PoolCerts,
                "sha1\tsource\tfirst_seen\nabc\ts\t2018\n",
                "40 hex",
            ),
            (
                FeedFile::PoolCerts,
                "sha1\tsource\tfirst_seen\n\ts\t2018\n",
                "no hash",
            ),
            (
                FeedFile::MinerFingerprints,
                "kind\tvalue\tsource\tdate\nja5\tx\ts\t2018\n",
                "ja5",
            ),
            (
                FeedFile::MinerFingerprints,
                "kind\tvalue\tsource\tdate\nja4\tx\ts\t2018\n",
                "JA4",
            ),
            (
                FeedFile::Allowlist,
                "kind\tvalue\tsource\tdate\nip\t10.0.0.0/8\ts\t2018\n",
                "cidr",
            ),
            (
                FeedFile::Allowlist,
                "kind\tvalue\tsource\tdate\nurl\tx\ts\t2018\n",
                "url",
            ),
        ];
        for (file, text, want) in cases {
            let e = err_of(*file, text);
            assert!(
                e.contains(want),
                "{file}: {text:?} gave {e:?}, wanted {want:?}"
            );
            assert!(e.starts_with(file.file_name()), "{e}");
        }
    }

    #[test]
    fn endpoint_rows() {
        let text = "ip\tport\tcoin\thost\tsource\tdate\n\
                    1.2.3.4\t3333\tXMR\tpool.example\tsmashed\t2018-05-13\n\
                    10.0.0.0/8\t\t\t\tlocal\t2026-01-01\n\
                    *\t14444\t\t\tsmashed-ports\t2018-05-13\n\
                    2001:db8::1\t443\t\t\tlocal\t2026\n\
                    ::ffff:5.6.7.8\t\t\t\tlocal\t2026\n";
        let f = parse(FeedFile::PoolEndpoints, text).unwrap();
        let shown: Vec<String> = f.endpoints.iter().map(|e| e.display_value()).collect();
        assert_eq!(
            shown,
            [
                "1.2.3.4:3333",
                "10.0.0.0/8",
                "*:14444",
                "[2001:db8::1]:443",
                "5.6.7.8"
            ]
        );
        assert!(f.endpoints[2].is_port_only());
    }

    #[test]
    fn cert_and_allow_rows() {
        let sha1 = "AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01";
        let text = format!(
            "sha1\tsha256\tspki_sha256\tsubject\tissuer\tfirst_seen\tlast_seen\tsource\tnote\n\
             {sha1}\t\t\tCN=pool.example\tCN=pool.example\t2026-11-26\t\tlearned\tlab\n"
        );
        let f = parse(FeedFile::PoolCerts, &text).unwrap();
        assert_eq!(
            f.certs[0].sha1.as_deref(),
            Some("abcdef0123456789abcdef0123456789abcdef01")
        );
        assert_eq!(f.certs[0].provenance.date, "2026-11-26");

        let text = "kind\tvalue\treason\tsource\tdate\n\
                    domain\tLocal\tlab names\tsite\t2026\n\
                    host\tm.pr0gramm.com\twrongly listed\tcoinblockerlists\t2018-06-06\n\
                    cidr\t192.168.0.0/16\tlan\tsite\t2026\n\
                    cert\tabcdef0123456789abcdef0123456789abcdef01\tours\tsite\t2026\n";
        let f = parse(FeedFile::Allowlist, text).unwrap();
        assert_eq!(f.allowlist[0].value, AllowValue::Domain("local".into()));
        assert_eq!(
            f.allowlist[1].value,
            AllowValue::Host("m.pr0gramm.com".into())
        );
        assert_eq!(f.allowlist[2].value.kind(), "cidr");
        assert_eq!(f.allowlist[3].value.kind(), "cert");
    }

    #[test]
    fn render_follows_the_file_header() {
        let e = FeedEntry::Endpoint(PoolEndpoint {
            addr: EndpointAddr::Net("1.2.3.4".parse().unwrap()),
            port: Some(3333),
            coin: "XMR".into(),
            host: "a\tb".into(),
            kind: DomainKind::Pool,
            note: String::new(),
            provenance: Provenance::new("x", "2018"),
        });
        let cols: Vec<String> = ["date", "ip", "port", "host", "source", "extra"]
            .map(String::from)
            .to_vec();
        assert_eq!(e.render(&cols), "2018\t1.2.3.4\t3333\ta b\tx\t");
    }

    #[test]
    fn load_dir_needs_at_least_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = PoolFeed::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no feed files"), "{e}");
        std::fs::write(
            dir.path().join("allowlist.tsv"),
            "kind\tvalue\treason\tsource\tdate\ndomain\tgood.example\tx\ts\t2026\n",
        )
        .unwrap();
        let f = PoolFeed::load(dir.path()).unwrap();
        assert_eq!(f.allowlist.len(), 1);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn shipped_feeds_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds");
        let f = PoolFeed::load(&dir).unwrap();
        assert!(f.pool_domains.len() > 4000, "{}", f.pool_domains.len());
        assert!(f.browser_domains.len() > 2000);
        assert!(f.endpoints.len() > 2000);
        assert!(!f.fingerprints.is_empty());
        assert!(!f.allowlist.is_empty());
        assert_eq!(f.duplicates, 0, "build.py writes no duplicates");
        for d in &f.pool_domains {
            assert!(!d.provenance.source.is_empty() && !d.provenance.date.is_empty());
        }
    }
}
