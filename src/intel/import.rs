//! Importing the lists analysts already have into feed entries, and merging those entries into
//! a feeds directory. This is what `poolscope feed import FORMAT FILE` runs. Every entry gets
//! the provenance the analyst gives (source name, snapshot date); every input line is counted
//! as accepted, a duplicate, a comment or skipped, and skipped lines are counted per reason,
//! so an import that silently took nothing cannot happen. Lines an importer cannot use
//! (cosmetic Adblock rules, URL patterns, malformed names) are skipped, not fatal: real lists
//! are messy. A merge, by contrast, refuses to touch a feed file that does not load cleanly.
//!
//! Besides lists, three detection formats are read for the names and addresses they hold:
//! Maltrail static trails, Sigma rules (the host fields of their `detection:` section, with a
//! small line-based reader, there being no YAML crate among the dependencies) and
//! Suricata/Snort rules (the contents of their DNS-query, SNI, HTTP-host and certificate
//! buffers). Each counts its lines like the lists do. MISP events and STIX 2.1 bundles, the
//! formats `feed export` writes for sharing, are read back by the `exchange` module (one
//! attribute or indicator counted as one line).

use super::error::FeedError;
use super::feeds::{
    parse_endpoint, parse_row, split_header, AllowEntry, AllowValue, BrowserDomain, DedupKey,
    DomainKind, FeedEntry, FeedFile, MinerFingerprint, PoolCert, PoolDomain, PoolFeed, Provenance,
};
use super::value::{parse_date, parse_domain, parse_hex, subject_cn, FingerprintKind, IpNet};
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

/// How many skipped lines an [`ImportReport`] quotes by line number.
const SKIP_EXAMPLES: usize = 10;

/// The input formats `import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportFormat {
    /// Hosts file: `0.0.0.0 name [name …]`, `#` comments.
    Hosts,
    /// Plain list: one name per line (first whitespace-separated field; the rest, such as
    /// nDPI's category id, is ignored), `#`, `;`, `!` comments.
    Domains,
    /// Adblock Plus / uBlock filter list: `||name^` rules (options after `$` allowed) are
    /// taken; exception, cosmetic and URL-pattern rules are skipped and counted.
    Adblock,
    /// abuse.ch SSLBL certificate list: `Listingdate,SHA1,Listingreason`.
    SslblSha1,
    /// abuse.ch SSLBL JA3 list: `ja3_md5,Firstseen,Lastseen,Listingreason`.
    SslblJa3,
    /// IP list: one address, network, `ip:port` or `[ipv6]:port` per line.
    Ips,
    /// CSV or TSV with a header line, its columns mapped onto a feed file's columns.
    Csv,
    /// Maltrail static trail file: one domain, address, `ip:port` or URL per line, `#`
    /// comments. A URL gives its host; a bare URL path (`/panel/x.php`) is skipped.
    Maltrail,
    /// Sigma rule (YAML): the host-name values of its `detection:` section (`QueryName`,
    /// `DestinationHostname`, `query`, `dns.question.name`, … fields). Read by a line-based
    /// reader for the subset Sigma rules use, not a YAML parser.
    Sigma,
    /// Suricata / Snort rules: the `content` of a rule's DNS-query, TLS-SNI, HTTP-host or
    /// certificate-subject (CN) buffer, one entry per name, noted with the rule's sid and msg.
    Suricata,
    /// MISP event (JSON): domain, hostname, ip-dst, ip-dst|port, x509 fingerprint and JA3
    /// attributes, each to its own feed file. Attributes `feed export --as misp` wrote give
    /// back their rows unchanged; others take the event's organisation and dates.
    Misp,
    /// STIX 2.1 bundle (JSON): indicators whose pattern compares domain names, addresses, a
    /// server address and port, or certificate hashes. Indicators `feed export --as stix`
    /// wrote give back their rows unchanged; others take their creator's name and
    /// `valid_from`.
    Stix,
}

impl ImportFormat {
    /// Every format, in the order the help text lists them.
    pub const ALL: [ImportFormat; 12] = [
        Self::Hosts,
        Self::Domains,
        Self::Adblock,
        Self::SslblSha1,
        Self::SslblJa3,
        Self::Ips,
        Self::Csv,
        Self::Maltrail,
        Self::Sigma,
        Self::Suricata,
        Self::Misp,
        Self::Stix,
    ];

    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hosts => "hosts",
            Self::Domains => "domains",
            Self::Adblock => "adblock",
            Self::SslblSha1 => "sslbl-sha1",
            Self::SslblJa3 => "sslbl-ja3",
            Self::Ips => "ips",
            Self::Csv => "csv",
            Self::Maltrail => "maltrail",
            Self::Sigma => "sigma",
            Self::Suricata => "suricata",
            Self::Misp => "misp",
            Self::Stix => "stix",
        }
    }

    /// The feed file entries go to when no target is given.
    pub fn default_target(self) -> FeedFile {
        match self {
            Self::Hosts
            | Self::Domains
            | Self::Adblock
            | Self::Csv
            | Self::Maltrail
            | Self::Sigma
            | Self::Suricata
            | Self::Misp
            | Self::Stix => FeedFile::PoolDomains,
            Self::SslblSha1 => FeedFile::PoolCerts,
            Self::SslblJa3 => FeedFile::MinerFingerprints,
            Self::Ips => FeedFile::PoolEndpoints,
        }
    }

    /// The feed files this format can fill.
    pub fn targets(self) -> &'static [FeedFile] {
        match self {
            Self::Hosts | Self::Domains | Self::Adblock => &[
                FeedFile::PoolDomains,
                FeedFile::BrowserDomains,
                FeedFile::Allowlist,
            ],
            Self::SslblSha1 => &[FeedFile::PoolCerts, FeedFile::Allowlist],
            Self::SslblJa3 => &[FeedFile::MinerFingerprints],
            Self::Ips => &[FeedFile::PoolEndpoints, FeedFile::Allowlist],
            Self::Csv => &FeedFile::ALL,
            // Addresses always go to the endpoint file; an endpoint target keeps only them.
            Self::Maltrail | Self::Sigma => &[FeedFile::PoolDomains, FeedFile::PoolEndpoints],
            // Browser-mining rules go to the browser file even with the pool-domain target.
            Self::Suricata => &[FeedFile::PoolDomains, FeedFile::BrowserDomains],
            // Every value goes to the file of its type; there is nothing to choose.
            Self::Misp | Self::Stix => &[FeedFile::PoolDomains],
        }
    }
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ImportFormat {
    type Err = FeedError;

    fn from_str(s: &str) -> Result<Self, FeedError> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .or(match s.as_str() {
                "hostsfile" => Some(Self::Hosts),
                "abp" | "ublock" => Some(Self::Adblock),
                "ip" | "ip-list" | "cidr" => Some(Self::Ips),
                "tsv" => Some(Self::Csv),
                "trails" | "maltrail-trails" => Some(Self::Maltrail),
                "sigma-rule" | "sigma-rules" => Some(Self::Sigma),
                "et" | "et-open" | "snort" | "rules" => Some(Self::Suricata),
                "misp-json" | "misp-event" => Some(Self::Misp),
                "stix2" | "stix-2.1" | "stix21" => Some(Self::Stix),
                _ => None,
            })
            .ok_or_else(|| {
                FeedError::Usage(format!(
                    "unknown import format {s:?} (one of: {})",
                    Self::ALL.map(Self::as_str).join(", ")
                ))
            })
    }
}

/// What the analyst says about the list being imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// Source name written on every entry (`nocoin`, `sslbl`, `team-intel`, …).
    pub source: String,
    /// The list's snapshot date, `YYYY-MM-DD` (or `YYYY-MM`, `YYYY`).
    pub date: String,
    /// The feed file to fill; `None` = the format's [`ImportFormat::default_target`].
    pub target: Option<FeedFile>,
    /// CSV only: `(feed column, input column)` pairs, as `--map domain=host,coin=currency`
    /// gives them. Feed columns not mapped are looked up under their own name.
    pub map: Vec<(String, String)>,
    /// SSLBL only: keep rows whose listing reason contains this text (case-insensitive).
    /// `None` keeps only `CoinMiner` rows: SSLBL is malware C2 intelligence and its other rows
    /// say nothing about mining. `Some("*")` keeps every row.
    pub listing_reason: Option<String>,
    /// The `kind` of pool-domain and endpoint rows: strong `pool` (default), weak
    /// `crypto-related`, or `miner-malware` (a compromise indicator, weak as mining evidence).
    pub domain_kind: DomainKind,
    /// The `note` of every pool-domain and endpoint row (a malware family, a list's scope);
    /// what a format notes itself (a rule's sid and msg, the URL a host came from) follows it.
    /// `None`: only the format's own note, except that a Maltrail file imported as
    /// `miner-malware` is noted with its family, the file name without extension
    /// (`elf_coinminer.txt` → `elf_coinminer`).
    pub note: Option<String>,
    /// Allowlist rows only: write names as `host` rows (exactly that name) instead of
    /// `domain` rows (the name and everything under it).
    pub exact_hosts: bool,
}

impl ImportOptions {
    /// Options with a source and date and everything else at its default.
    pub fn new(source: impl Into<String>, date: impl Into<String>) -> Self {
        ImportOptions {
            source: source.into(),
            date: date.into(),
            target: None,
            map: Vec::new(),
            listing_reason: None,
            domain_kind: DomainKind::Pool,
            exact_hosts: false,
            note: None,
        }
    }

    /// Parses a `--map` value: `feedcol=inputcol` pairs separated by commas.
    pub fn parse_map(spec: &str) -> Result<Vec<(String, String)>, FeedError> {
        spec.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|pair| {
                let (a, b) = pair.split_once('=').ok_or_else(|| {
                    FeedError::Usage(format!(
                        "--map entry {pair:?} is not FEEDCOLUMN=INPUTCOLUMN"
                    ))
                })?;
                Ok((a.trim().to_string(), b.trim().to_string()))
            })
            .collect()
    }
}

/// Line counts of one import.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Lines (CSV: records) read, header included.
    pub lines: usize,
    /// Entries produced.
    pub accepted: usize,
    /// Lines that produced an entry already produced by an earlier line.
    pub duplicates: usize,
    /// Blank, comment and header lines.
    pub comments: usize,
    /// Lines that produced nothing, for a reason other than being a comment.
    pub skipped: usize,
    /// `skipped`, split by reason.
    pub skipped_by_reason: BTreeMap<String, usize>,
    /// The first few skipped lines: (line number, reason).
    pub first_skipped: Vec<(usize, String)>,
}

impl ImportReport {
    fn skip(&mut self, line: usize, reason: impl Into<String>) {
        let reason = reason.into();
        self.skipped += 1;
        if self.first_skipped.len() < SKIP_EXAMPLES {
            self.first_skipped.push((line, reason.clone()));
        }
        // Group by the reason's kind (the text before the first colon), not its exact text,
        // which quotes the value.
        let key = reason.split(':').next().unwrap_or(&reason).to_string();
        *self.skipped_by_reason.entry(key).or_default() += 1;
    }
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ImportReport {
            lines,
            accepted,
            duplicates,
            comments,
            skipped,
            skipped_by_reason,
            first_skipped,
        } = self;
        writeln!(
            f,
            "{lines} lines: {accepted} accepted, {duplicates} duplicates, {comments} comments, \
             {skipped} skipped"
        )?;
        for (reason, n) in skipped_by_reason {
            writeln!(f, "  skipped {n}: {reason}")?;
        }
        for (line, reason) in first_skipped {
            writeln!(f, "  line {line}: {reason}")?;
        }
        Ok(())
    }
}

/// The result of an import: entries with provenance, and the line counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    /// De-duplicated entries, in input order. Most go to the target file; an address found in
    /// a host list becomes an endpoint (or allowlist) entry.
    pub entries: Vec<FeedEntry>,
    /// What happened to each line.
    pub report: ImportReport,
}

/// Reads `path` in `format` into feed entries carrying `opts`' provenance.
pub fn import(
    format: ImportFormat,
    path: &Path,
    opts: &ImportOptions,
) -> Result<Imported, FeedError> {
    let bytes = std::fs::read(path).map_err(|e| FeedError::io(path, e))?;
    // Lists in the wild are not always UTF-8; a stray byte must not stop the import.
    let text = String::from_utf8_lossy(&bytes);
    import_str(format, &path.display().to_string(), &text, opts)
}

/// [`import`] over text already in memory; `name` is used in messages, and for a Maltrail
/// file imported as `miner-malware` its file stem is the family noted on every row.
pub fn import_str(
    format: ImportFormat,
    name: &str,
    text: &str,
    opts: &ImportOptions,
) -> Result<Imported, FeedError> {
    if opts.source.trim().is_empty() {
        return Err(FeedError::Usage("an import needs a source name".into()));
    }
    parse_date(&opts.date).map_err(|e| FeedError::Usage(format!("import date: {e}")))?;
    let target = opts.target.unwrap_or(format.default_target());
    if !format.targets().contains(&target) {
        return Err(FeedError::Usage(format!(
            "format {format} cannot fill {target} (it can fill: {})",
            format
                .targets()
                .iter()
                .map(|t| t.file_name())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut sink = Sink {
        out: Imported::default(),
        seen: HashSet::new(),
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let note = match &opts.note {
        Some(n) => n.trim().to_string(),
        None if format == ImportFormat::Maltrail
            && opts.domain_kind == DomainKind::MinerMalware =>
        {
            Path::new(name)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        }
        None => String::new(),
    };
    let ctx = Ctx { opts, target, note };
    match format {
        ImportFormat::Hosts | ImportFormat::Domains | ImportFormat::Adblock | ImportFormat::Ips => {
            for (i, raw) in text.lines().enumerate() {
                let line = i + 1;
                sink.out.report.lines += 1;
                let raw = raw.strip_suffix('\r').unwrap_or(raw).trim();
                let got = match format {
                    ImportFormat::Hosts => hosts_line(raw),
                    ImportFormat::Domains => domains_line(raw),
                    ImportFormat::Adblock => adblock_line(raw),
                    _ => ips_line(raw),
                };
                match got {
                    Line::Comment => sink.out.report.comments += 1,
                    Line::Skip(reason) => sink.out.report.skip(line, reason),
                    Line::Values(values) => {
                        for v in values {
                            match ctx.entry(v) {
                                Ok(e) => sink.add(e),
                                Err(reason) => sink.out.report.skip(line, reason),
                            }
                        }
                    }
                }
            }
        }
        ImportFormat::SslblSha1 | ImportFormat::SslblJa3 => sslbl(format, text, &ctx, &mut sink),
        ImportFormat::Csv => csv_import(name, text, &ctx, &mut sink)?,
        ImportFormat::Maltrail => maltrail(text, &ctx, &mut sink),
        ImportFormat::Sigma => sigma(text, &ctx, &mut sink),
        ImportFormat::Suricata => suricata(text, &ctx, &mut sink),
        ImportFormat::Misp => exchange::misp(name, text, &ctx, &mut sink)?,
        ImportFormat::Stix => exchange::stix(name, text, &ctx, &mut sink)?,
    }
    Ok(sink.out)
}

/// Collects entries, dropping repeats.
struct Sink {
    out: Imported,
    seen: HashSet<DedupKey>,
}

impl Sink {
    fn add(&mut self, e: FeedEntry) {
        if self.seen.insert(e.dedup_key()) {
            self.out.entries.push(e);
            self.out.report.accepted += 1;
        } else {
            self.out.report.duplicates += 1;
        }
    }
}

/// What one line of a line-oriented list holds.
enum Line<'a> {
    Comment,
    Skip(String),
    Values(Vec<&'a str>),
}

fn strip_comment(raw: &str) -> &str {
    raw.split('#').next().unwrap_or("").trim()
}

/// Names a hosts file maps to the null address but that are not list entries.
fn is_local_name(n: &str) -> bool {
    matches!(
        n,
        "localhost"
            | "localhost.localdomain"
            | "local"
            | "broadcasthost"
            | "ip6-localhost"
            | "ip6-loopback"
            | "ip6-localnet"
            | "ip6-mcastprefix"
            | "ip6-allnodes"
            | "ip6-allrouters"
            | "ip6-allhosts"
            | "0.0.0.0"
    )
}

fn hosts_line(raw: &str) -> Line<'_> {
    let s = strip_comment(raw);
    if s.is_empty() {
        return Line::Comment;
    }
    let mut parts = s.split_whitespace();
    let addr = parts.next().unwrap_or("");
    if addr.parse::<IpAddr>().is_err() {
        return Line::Skip(format!("not a hosts line (no address first): {s:?}"));
    }
    let names: Vec<&str> = parts
        .filter(|n| !is_local_name(&n.to_ascii_lowercase()))
        .collect();
    if names.is_empty() {
        // `127.0.0.1 localhost` and the like: housekeeping, not an entry.
        return Line::Comment;
    }
    Line::Values(names)
}

fn domains_line(raw: &str) -> Line<'_> {
    if raw.is_empty() || raw.starts_with(['#', ';', '!']) {
        return Line::Comment;
    }
    let s = strip_comment(raw);
    match s.split_whitespace().next() {
        None => Line::Comment,
        Some(v) => Line::Values(vec![v]),
    }
}

fn adblock_line(raw: &str) -> Line<'_> {
    let s = raw;
    if s.is_empty() || s.starts_with('!') || (s.starts_with('[') && s.ends_with(']')) {
        return Line::Comment;
    }
    if s.starts_with("@@") {
        return Line::Skip("exception rule".into());
    }
    if ["##", "#@#", "#?#", "#$#", "#%#"]
        .iter()
        .any(|m| s.contains(m))
    {
        return Line::Skip("cosmetic rule".into());
    }
    if s.starts_with('#') {
        // uBlock accepts `# comment` lines.
        return Line::Comment;
    }
    let Some(body) = s.strip_prefix("||") else {
        return Line::Skip("URL pattern".into());
    };
    let host = body.split('$').next().unwrap_or("");
    let host = host.strip_suffix('^').unwrap_or(host);
    if host.is_empty() || host.contains(['/', '*', '^', '?', '=', '|', ':']) {
        return Line::Skip("URL pattern".into());
    }
    Line::Values(vec![host])
}

fn ips_line(raw: &str) -> Line<'_> {
    if raw.is_empty() || raw.starts_with(['#', ';']) {
        return Line::Comment;
    }
    let s = strip_comment(raw);
    match s.split_whitespace().next() {
        None => Line::Comment,
        Some(v) => Line::Values(vec![v]),
    }
}

/// The import's options, resolved target and note.
#[derive(Clone)]
struct Ctx<'o> {
    opts: &'o ImportOptions,
    target: FeedFile,
    /// [`ImportOptions::note`], or the format's default for it.
    note: String,
}

impl Ctx<'_> {
    fn provenance(&self) -> Provenance {
        Provenance::new(self.opts.source.trim(), self.opts.date.trim())
    }

    /// One value of a line-oriented list as an entry of the target (or, for an address in a
    /// host list, of the matching address file). Pool-domain and endpoint rows get the
    /// import's kind and note.
    fn entry(&self, raw: &str) -> Result<FeedEntry, String> {
        self.entry_with(raw, "", None)
    }

    /// [`Ctx::entry`] with `detail` appended to the note (a rule's sid, a URL) and, when given,
    /// the date the value's own source vouched for it instead of the import's date.
    fn entry_with(&self, raw: &str, detail: &str, date: Option<&str>) -> Result<FeedEntry, String> {
        let mut e = self.bare_entry(raw)?;
        let note = match (self.note.as_str(), detail) {
            (n, "") => n.to_string(),
            ("", d) => d.to_string(),
            (n, d) => format!("{n}; {d}"),
        };
        let provenance = match &mut e {
            FeedEntry::PoolDomain(d) => {
                d.note = note;
                &mut d.provenance
            }
            FeedEntry::Endpoint(p) => {
                p.kind = self.opts.domain_kind;
                p.note = note;
                &mut p.provenance
            }
            FeedEntry::BrowserDomain(d) => &mut d.provenance,
            FeedEntry::Allow(a) => &mut a.provenance,
            FeedEntry::Cert(c) => &mut c.provenance,
            FeedEntry::Fingerprint(f) => &mut f.provenance,
        };
        if let Some(date) = date {
            provenance.date = date.to_string();
        }
        Ok(e)
    }

    fn bare_entry(&self, raw: &str) -> Result<FeedEntry, String> {
        let raw = raw.trim();
        if let Some(ep) = parse_addr_token(raw) {
            let (net, port) = ep.map_err(|e| format!("bad address: {e}"))?;
            return match self.target {
                FeedFile::PoolDomains | FeedFile::PoolEndpoints => {
                    let addr = net.to_string();
                    let port = port.map(|p| p.to_string()).unwrap_or_default();
                    parse_endpoint(&addr, &port, "", "", self.provenance())
                        .map(FeedEntry::Endpoint)
                        .map_err(|e| format!("bad address: {e}"))
                }
                FeedFile::Allowlist if port.is_none() => Ok(FeedEntry::Allow(AllowEntry {
                    value: AllowValue::Net(net),
                    reason: String::new(),
                    provenance: self.provenance(),
                })),
                FeedFile::Allowlist => Err(format!("address with port in an allowlist: {raw}")),
                _ => Err(format!(
                    "address in a list for {} (no address feed of that meaning): {raw}",
                    self.target
                )),
            };
        }
        if self.target == FeedFile::PoolEndpoints {
            return Err(format!("not an address: {raw:?}"));
        }
        if raw.contains(':') {
            return Err(format!("host and port, not a domain: {raw:?}"));
        }
        let min_labels = if self.target == FeedFile::Allowlist {
            1
        } else {
            2
        };
        let domain = parse_domain(raw, min_labels).map_err(|e| format!("bad domain: {e}"))?;
        Ok(match self.target {
            FeedFile::BrowserDomains => FeedEntry::BrowserDomain(BrowserDomain {
                domain,
                provenance: self.provenance(),
            }),
            FeedFile::Allowlist => FeedEntry::Allow(AllowEntry {
                value: if self.opts.exact_hosts {
                    AllowValue::Host(domain)
                } else {
                    AllowValue::Domain(domain)
                },
                reason: String::new(),
                provenance: self.provenance(),
            }),
            _ => FeedEntry::PoolDomain(PoolDomain {
                domain,
                coin: String::new(),
                kind: self.opts.domain_kind,
                note: String::new(),
                provenance: self.provenance(),
            }),
        })
    }

    /// Whether an SSLBL listing reason passes the filter.
    fn reason_selected(&self, reason: &str) -> bool {
        let want = self.opts.listing_reason.as_deref().unwrap_or("coinminer");
        want == "*"
            || reason
                .to_ascii_lowercase()
                .contains(&want.to_ascii_lowercase())
    }
}

/// `Some` when the token is address-shaped (IP, CIDR, `ip:port`, `[v6]:port`): the parsed
/// network and port, or why it is malformed. `None` for anything else (a name).
fn parse_addr_token(raw: &str) -> Option<Result<(IpNet, Option<u16>), String>> {
    if let Ok(ip) = raw.parse::<IpAddr>() {
        return Some(Ok((IpNet::host(ip), None)));
    }
    if let Ok(sa) = raw.parse::<std::net::SocketAddr>() {
        if sa.port() == 0 {
            return Some(Err(format!("port 0 in {raw:?}")));
        }
        return Some(Ok((IpNet::host(sa.ip()), Some(sa.port()))));
    }
    if let Some((a, _)) = raw.split_once('/') {
        if a.parse::<IpAddr>().is_ok() {
            return Some(raw.parse::<IpNet>().map(|n| (n, None)));
        }
    }
    None
}

fn sslbl(format: ImportFormat, text: &str, ctx: &Ctx<'_>, sink: &mut Sink) {
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        sink.out.report.lines += 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            sink.out.report.comments += 1;
            continue;
        }
        let f: Vec<&str> = raw.split(',').map(str::trim).collect();
        let got = match format {
            ImportFormat::SslblSha1 => sslbl_sha1_row(&f, ctx),
            _ => sslbl_ja3_row(&f, ctx),
        };
        match got {
            Ok(Some(e)) => sink.add(e),
            Ok(None) => sink.out.report.skip(line, "listing reason not selected"),
            Err(reason) => sink.out.report.skip(line, reason),
        }
    }
}

/// `Listingdate,SHA1,Listingreason`.
fn sslbl_sha1_row(f: &[&str], ctx: &Ctx<'_>) -> Result<Option<FeedEntry>, String> {
    let [date, sha1, reason] = f else {
        return Err(format!(
            "not Listingdate,SHA1,Listingreason ({} fields)",
            f.len()
        ));
    };
    if !ctx.reason_selected(reason) {
        return Ok(None);
    }
    let sha1 = parse_hex(sha1, 40, "sha1").map_err(|e| format!("bad sha1: {e}"))?;
    let first_seen =
        parse_date(date.get(..10).unwrap_or(date)).map_err(|e| format!("bad date: {e}"))?;
    if ctx.target == FeedFile::Allowlist {
        return Ok(Some(FeedEntry::Allow(AllowEntry {
            value: AllowValue::Cert(sha1),
            reason: reason.to_string(),
            provenance: ctx.provenance(),
        })));
    }
    Ok(Some(FeedEntry::Cert(PoolCert {
        sha1: Some(sha1),
        sha256: None,
        spki_sha256: None,
        subject: String::new(),
        issuer: String::new(),
        first_seen,
        last_seen: ctx.opts.date.trim().to_string(),
        note: format!("SSLBL listing reason: {reason}"),
        provenance: ctx.provenance(),
    })))
}

/// `ja3_md5,Firstseen,Lastseen,Listingreason`. The date is the row's Lastseen.
fn sslbl_ja3_row(f: &[&str], ctx: &Ctx<'_>) -> Result<Option<FeedEntry>, String> {
    let [ja3, first, last, reason] = f else {
        return Err(format!(
            "not ja3_md5,Firstseen,Lastseen,Listingreason ({} fields)",
            f.len()
        ));
    };
    if !ctx.reason_selected(reason) {
        return Ok(None);
    }
    let value = FingerprintKind::Ja3
        .parse_value(ja3)
        .map_err(|e| format!("bad ja3: {e}"))?;
    let date = parse_date(last.get(..10).unwrap_or(last)).unwrap_or_else(|_| ctx.opts.date.clone());
    Ok(Some(FeedEntry::Fingerprint(MinerFingerprint {
        kind: FingerprintKind::Ja3,
        value,
        client: reason.to_string(),
        note: format!(
            "weak: abuse.ch SSLBL label, first seen {}",
            first.get(..10).unwrap_or(first)
        ),
        provenance: Provenance::new(ctx.opts.source.trim(), date),
    })))
}

/// Strips what may surround a host name in a rule (a leading `*` wildcard, then a leading dot:
/// `*.pool.example`, `.pool.example`) and refuses what is not a whole name: blanks, a URL or
/// path, a wildcard left inside, and (when `trailing_dot_is_partial`) a trailing dot, which
/// in a substring or prefix match means "the start of a name", not a name.
fn clean_host_value(raw: &str, trailing_dot_is_partial: bool) -> Result<&str, String> {
    let v = raw.trim();
    let v = v.trim_start_matches('*');
    let v = v.strip_prefix('.').unwrap_or(v);
    if v.is_empty() {
        return Err(format!("empty name: {raw:?}"));
    }
    if v.contains(char::is_whitespace) {
        return Err(format!("not a host name (has blanks): {raw:?}"));
    }
    if v.contains('/') {
        return Err(format!("not a host name (URL or path): {raw:?}"));
    }
    if v.contains(['*', '?']) {
        return Err(format!("wildcard inside a name: {raw:?}"));
    }
    if trailing_dot_is_partial && v.ends_with('.') {
        return Err(format!("partial name (ends with a dot): {raw:?}"));
    }
    Ok(v)
}

/// What one Maltrail trail line holds.
enum Trail<'a> {
    Comment,
    Skip(&'static str),
    /// A domain, address or `ip:port`, and the URL it was taken from when it was one.
    Host(&'a str, Option<&'a str>),
}

/// One line of a Maltrail static trail file. Trails are domains (covering the names under
/// them, as a domain row does), addresses, `ip:port`, URLs (`http://host/path`, `host/path`,
/// whose host is taken) and bare URL paths (no host: skipped). `#` lines, commented-out trails
/// included, are comments.
fn maltrail_line(raw: &str) -> Trail<'_> {
    if raw.starts_with('#') {
        return Trail::Comment;
    }
    // Some trails carry trailing blanks; no trail contains one.
    let Some(s) = raw.split_whitespace().next() else {
        return Trail::Comment;
    };
    if s.starts_with('/') {
        return Trail::Skip("URL path without a host");
    }
    let cidr = s.split_once('/').is_some_and(|(a, b)| {
        a.parse::<IpAddr>().is_ok() && !b.is_empty() && b.bytes().all(|c| c.is_ascii_digit())
    });
    let scheme = s.split_once("://");
    if scheme.is_none() && (cidr || !s.contains(['/', '?'])) {
        return Trail::Host(s, None);
    }
    let rest = scheme.map_or(s, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    // A URL's port belongs to the URL; a domain row covers every port of the name.
    let host = match host.rsplit_once(':') {
        Some((h, p))
            if parse_addr_token(host).is_none()
                && !h.contains(':')
                && !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => host,
    };
    if host.is_empty() {
        return Trail::Skip("URL without a host");
    }
    Trail::Host(host, Some(s))
}

fn maltrail(text: &str, ctx: &Ctx<'_>, sink: &mut Sink) {
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        sink.out.report.lines += 1;
        match maltrail_line(raw.trim()) {
            Trail::Comment => sink.out.report.comments += 1,
            Trail::Skip(reason) => sink.out.report.skip(line, reason),
            Trail::Host(host, url) => {
                let detail = url.map(|u| format!("from URL {u}")).unwrap_or_default();
                match ctx.entry_with(host, &detail, None) {
                    Ok(e) => sink.add(e),
                    Err(reason) => sink.out.report.skip(line, reason),
                }
            }
        }
    }
}

/// Substrings of a Sigma field name (the part before `|`, lowercased) that make its values
/// host names: `QueryName`, `DestinationHostname`, `query`, `dns.question.name`, `r_dns`,
/// `tls.server_name`, `Domain`, …
const SIGMA_HOST_FIELDS: [&str; 8] = [
    "host",
    "hostname",
    "query",
    "domain",
    "dns",
    "sni",
    "server_name",
    "r_dns",
];

/// A field of a Sigma detection map: `Name|mod1|mod2`.
struct SigmaField {
    /// Whether the values are host names (see [`SIGMA_HOST_FIELDS`]); the source side of a
    /// connection (`SourceHostname`, `src_host`) is the client's name, never a pool's.
    host: bool,
    /// Lowercased value modifiers (`endswith`, `contains`, `re`, `cidr`, …).
    mods: Vec<String>,
}

impl SigmaField {
    fn parse(key: &str) -> Self {
        let key = unquote_yaml(key).to_ascii_lowercase();
        let mut parts = key.split('|');
        let name = parts.next().unwrap_or("").trim();
        let source_side = name.starts_with("src") || name.starts_with("source");
        SigmaField {
            host: !source_side && SIGMA_HOST_FIELDS.iter().any(|f| name.contains(f)),
            mods: parts.map(|m| m.trim().to_string()).collect(),
        }
    }

    /// One value of this field as the name or address to import, or why it is not one.
    fn host_value<'v>(&self, v: &'v str) -> Result<&'v str, String> {
        let has = |m: &str| self.mods.iter().any(|x| x == m);
        if v.is_empty() || v == "null" || v == "~" {
            return Err("empty value".into());
        }
        if has("re") {
            return Err(format!("regular expression, not a name: {v:?}"));
        }
        if self
            .mods
            .iter()
            .any(|m| m.starts_with("base64") || m.starts_with("utf16") || m == "wide")
        {
            return Err(format!("encoded value, not a name: {v:?}"));
        }
        if has("cidr") {
            return Ok(v.trim());
        }
        clean_host_value(v, has("contains") || has("startswith"))
    }
}

/// A YAML scalar without its quotes: `'it''s'` → `it's`, `"a\"b"` → `a"b`; plain scalars
/// are trimmed.
fn unquote_yaml(s: &str) -> String {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('\'') && s.ends_with('\'') {
        s[1..s.len() - 1].replace("''", "'")
    } else if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        s[1..s.len() - 1]
            .replace("\\\"", "\"")
            .replace("\\\\", "\\")
    } else {
        s.to_string()
    }
}

/// Splits `s` at `sep` where it is outside single and double quotes.
fn split_unquoted(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quote, mut start) = (None, 0);
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, c) if c == sep => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// A YAML line without its `#` comment (a `#` at the start or after a blank, outside quotes).
fn strip_yaml_comment(s: &str) -> &str {
    let mut quote = None;
    let mut prev_blank = true;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '#') if prev_blank => return &s[..i],
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
        prev_blank = c.is_whitespace();
    }
    s
}

/// `key: value` (or `key:`) split at the first `:` outside quotes that ends the line or is
/// followed by a blank; `None` for a line that is not a mapping entry.
fn yaml_key_value(s: &str) -> Option<(&str, &str)> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ':') => {
                let rest = &s[i + 1..];
                if rest.is_empty() || rest.starts_with([' ', '\t']) {
                    return Some((s[..i].trim(), rest.trim()));
                }
            }
            _ => {}
        }
    }
    None
}

/// The scalars of a YAML value: one plain or quoted scalar, or a flow list `[a, 'b']`.
fn yaml_scalars(v: &str) -> Vec<String> {
    match v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
        Some(inner) => split_unquoted(inner, ',')
            .into_iter()
            .map(unquote_yaml)
            .filter(|s| !s.is_empty())
            .collect(),
        None => vec![unquote_yaml(v)],
    }
}

/// The top-level `title`, and `modified` or else `date` (as a feed date), of each YAML
/// document of `lines` (documents split at `---`).
fn sigma_documents(lines: &[&str]) -> Vec<(String, Option<String>)> {
    let mut docs = vec![(String::new(), None, None)];
    for raw in lines {
        let raw = raw.trim_end();
        if raw == "---" {
            docs.push((String::new(), None, None));
            continue;
        }
        if raw.starts_with([' ', '\t', '-', '#']) {
            continue;
        }
        let Some((k, v)) = yaml_key_value(strip_yaml_comment(raw)) else {
            continue;
        };
        let doc = docs.last_mut().expect("one document at least");
        // Sigma dates are `2021-10-24` now, `2021/10/24` in older rules.
        let date = || parse_date(&unquote_yaml(v).replace('/', "-")).ok();
        match k {
            "title" => doc.0 = unquote_yaml(v),
            "date" => doc.1 = date(),
            "modified" => doc.2 = date(),
            _ => {}
        }
    }
    docs.into_iter().map(|(t, d, m)| (t, m.or(d))).collect()
}

/// A Sigma rule's host names. This is a line-based reader for the YAML subset Sigma rules are
/// written in, not a YAML parser: block mappings by indentation, a key line `Field|mod:`
/// followed by `- value` items, `Field|mod: value`, flow lists `[a, b]` on one line, quoted
/// and plain scalars, `#` comments, and several documents separated by `---`. Multi-line flow
/// lists and block scalars (`|`, `>`) inside `detection:` are not read (skipped, counted).
/// Outside `detection:` every line is a comment; inside it, structure lines (selection names,
/// `condition`) are comments, the values of host fields are entries, and other values are
/// skipped as "not a host field". Every entry is noted with the rule's title and dated with
/// its `modified` (else `date`) field when that is a valid date.
fn sigma(text: &str, ctx: &Ctx<'_>, sink: &mut Sink) {
    let lines: Vec<&str> = text.lines().collect();
    let docs = sigma_documents(&lines);
    let mut doc = 0;
    let mut in_detection = false;
    // Indentation of the detection section's own keys (selections, `condition`).
    let mut child_indent: Option<usize> = None;
    // The last key line with an empty value: list items below it are its values.
    let mut open: Option<SigmaField> = None;
    for (i, raw) in lines.iter().enumerate() {
        let line = i + 1;
        sink.out.report.lines += 1;
        let raw = raw.trim_end();
        if raw == "---" {
            doc += 1;
            in_detection = false;
            sink.out.report.comments += 1;
            continue;
        }
        let content = strip_yaml_comment(raw).trim_end();
        let body = content.trim_start();
        if body.is_empty() || body == "..." {
            sink.out.report.comments += 1;
            continue;
        }
        let indent = content.len() - body.len();
        if indent == 0 && !body.starts_with('-') {
            in_detection = yaml_key_value(body).is_some_and(|(k, _)| k == "detection");
            child_indent = None;
            open = None;
            sink.out.report.comments += 1;
            continue;
        }
        if !in_detection {
            sink.out.report.comments += 1;
            continue;
        }
        let child = *child_indent.get_or_insert(indent);
        let (title, date) = docs.get(doc).cloned().unwrap_or_default();
        let take = |v: &str, field: &SigmaField, sink: &mut Sink| match field
            .host_value(v)
            .and_then(|h| ctx.entry_with(h, &title, date.as_deref()))
        {
            Ok(e) => sink.add(e),
            Err(reason) => sink.out.report.skip(line, reason),
        };
        // `- value`, or `- Field: value` (a list of maps).
        let (item, body, indent) = match body.strip_prefix('-') {
            Some(rest) if rest.is_empty() || rest.starts_with([' ', '\t']) => {
                let r = rest.trim_start();
                (true, r, indent + body.len() - r.len())
            }
            _ => (false, body, indent),
        };
        match yaml_key_value(body) {
            Some((key, value)) => {
                let field = SigmaField::parse(key);
                if value.is_empty() {
                    open = Some(field);
                    sink.out.report.comments += 1;
                    continue;
                }
                open = None;
                if value.starts_with(['|', '>']) {
                    sink.out.report.skip(line, "block scalar (not read)");
                } else if value.starts_with('[') && !value.ends_with(']') {
                    sink.out
                        .report
                        .skip(line, "multi-line flow list (not read)");
                } else if field.host {
                    for v in yaml_scalars(value) {
                        take(&v, &field, sink);
                    }
                } else if !item && indent == child {
                    // `condition: selection`, `timeframe: 5m`.
                    sink.out.report.comments += 1;
                } else {
                    sink.out.report.skip(line, "not a host field");
                }
            }
            None if item => match &open {
                Some(field) if field.host => {
                    for v in yaml_scalars(body) {
                        take(&v, field, sink);
                    }
                }
                _ => sink.out.report.skip(line, "not a host field"),
            },
            None => sink
                .out
                .report
                .skip(line, "not a YAML mapping or list line"),
        }
    }
}

/// The buffer a Suricata/Snort content is matched in, as far as the import cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RuleBuffer {
    /// DNS query name, TLS SNI or HTTP Host: the content is a host name (or its end).
    Host,
    /// TLS certificate subject: its `CN=` is a host name.
    CertSubject,
    /// Any other buffer (URI, user agent, issuer, file data, …).
    Other,
}

/// The buffer a keyword without a value selects (a sticky buffer such as `dns.query;`) or
/// puts the content before it in (a legacy modifier such as `http_host;`); `None` for
/// keywords that are neither (`nocase`, `endswith`, `dotprefix`, …).
fn rule_buffer(keyword: &str) -> Option<RuleBuffer> {
    match keyword {
        "dns.query" | "dns_query" | "tls.sni" | "tls_sni" | "http.host" | "http_host"
        | "http.host.raw" | "http_raw_host" => Some(RuleBuffer::Host),
        "tls.cert_subject" | "tls_cert_subject" => Some(RuleBuffer::CertSubject),
        // Dotted keywords without a value are buffers, except these conditions.
        "tls.cert_expired" | "tls.cert_valid" | "tls.store" => None,
        k if k.contains('.')
            || ["http_", "tls_", "dns_", "file_", "ssh_", "krb5_", "smb_"]
                .iter()
                .any(|p| k.starts_with(p))
            || matches!(k, "pkt_data" | "base64_data" | "dce_stub_data") =>
        {
            Some(RuleBuffer::Other)
        }
        _ => None,
    }
}

/// The options of a rule, `(keyword, value)`, split at `;` outside quotes. Values keep their
/// quotes and escapes.
fn rule_options(body: &str) -> Vec<(&str, Option<&str>)> {
    let mut parts = Vec::new();
    let (mut quoted, mut escaped, mut start) = (false, false, 0);
    for (i, c) in body.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ';' if !quoted => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    // The last option may lack its `;`.
    parts.push(&body[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|opt| match opt.split_once(':') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (opt, None),
        })
        .collect()
}

/// A quoted option value without its quotes and escapes (`\"`, `\\`, `\;`, `\:`).
fn rule_string(v: &str) -> String {
    let v = v.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .unwrap_or(v);
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A content string with its `|2e 63|` hex runs decoded; `None` when the hex is malformed.
fn decode_content(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    for (i, part) in s.split('|').enumerate() {
        if i % 2 == 0 {
            bytes.extend_from_slice(part.as_bytes());
        } else {
            for h in part.split_whitespace() {
                bytes.push(u8::from_str_radix(h, 16).ok().filter(|_| h.len() == 2)?);
            }
        }
    }
    // An odd number of pipes leaves a hex run open.
    if s.matches('|').count() % 2 != 0 {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Whether a rule's msg is about mining in the browser (Coinhive and its kind).
fn browser_mining_msg(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    [
        "in browser",
        "in-browser",
        "browser coinminer",
        "browser miner",
        "browser monero miner",
        "browser mining",
        "coinhive",
        "coin-hive",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// A rule's date from its metadata: `updated_at YYYY_MM_DD`, else `created_at`.
fn rule_date(metadata: &[&str]) -> Option<String> {
    let field = |name: &str| {
        metadata
            .iter()
            .flat_map(|m| m.split(','))
            .find_map(|kv| {
                let mut p = kv.split_whitespace();
                (p.next() == Some(name)).then(|| p.next()).flatten()
            })
            .and_then(|d| parse_date(&d.replace('_', "-")).ok())
    };
    field("updated_at").or_else(|| field("created_at"))
}

/// What one rule line gives: its sid, msg and date, and the host names it matches.
struct RuleHosts {
    sid: String,
    msg: String,
    date: Option<String>,
    hosts: Vec<String>,
}

/// The host contents of one rule. A content is a host when it is matched in a host buffer:
/// after a sticky buffer (`dns.query; content:"x"`, also the legacy sticky `dns_query;` and
/// `tls_sni;`) or before a legacy modifier (`content:"x"; http_host;`). Negated contents are
/// exclusions, not hosts; a certificate subject gives its `CN=` value only.
fn rule_hosts(line: &str) -> Option<RuleHosts> {
    let open = line.find('(')?;
    let close = line.rfind(')').filter(|&c| c > open)?;
    let mut out = RuleHosts {
        sid: String::new(),
        msg: String::new(),
        date: None,
        hosts: Vec::new(),
    };
    // (value, buffer) of every non-negated content.
    let mut contents: Vec<(String, Option<RuleBuffer>)> = Vec::new();
    let mut sticky: Option<RuleBuffer> = None;
    // The content a legacy modifier right after it would apply to.
    let mut last: Option<usize> = None;
    let mut metadata = Vec::new();
    for (keyword, value) in rule_options(&line[open + 1..close]) {
        match (keyword, value) {
            ("content", Some(v)) => {
                last = None;
                if v.starts_with('!') {
                    continue;
                }
                // Malformed hex: kept as a content that cannot be a name.
                let decoded = decode_content(&rule_string(v)).unwrap_or_else(|| "|".into());
                contents.push((decoded, sticky));
                last = Some(contents.len() - 1);
            }
            ("msg", Some(v)) => out.msg = rule_string(v),
            ("sid", Some(v)) => out.sid = v.trim().to_string(),
            ("metadata", Some(v)) => metadata.push(v),
            (k, None) => {
                let Some(buf) = rule_buffer(k) else { continue };
                let legacy = !k.contains('.');
                match last {
                    Some(i) if legacy && sticky.is_none() && contents[i].1.is_none() => {
                        contents[i].1 = Some(buf);
                    }
                    _ => sticky = Some(buf),
                }
                last = None;
            }
            _ => {}
        }
    }
    out.date = rule_date(&metadata);
    for (value, buf) in contents {
        let host = match buf {
            Some(RuleBuffer::Host) => value,
            Some(RuleBuffer::CertSubject) => match subject_cn(&value) {
                Some(cn) => cn.to_string(),
                None => continue,
            },
            _ => continue,
        };
        out.hosts.push(host);
    }
    Some(out)
}

/// Suricata / Snort rules, one per line: `#` lines (commented-out rules included) and blank
/// lines are comments; a rule gives one pool-domain row per host content (see
/// [`rule_hosts`]), with a leading `.` (`.nanopool.org`, an `endswith` match) stripped, noted
/// `sid:NNN msg` and dated with the rule's `updated_at` (else `created_at`, else the import's
/// date). A rule with no host content (payload-only Stratum rules, URI rules) is skipped as
/// "no host match". Rules whose msg is about browser mining (Coinhive and its kind) give
/// browser-mining-domain rows instead when the target is the pool-domain file: a script host
/// is not a pool. Those rows have no note column, so their sid is not kept.
fn suricata(text: &str, ctx: &Ctx<'_>, sink: &mut Sink) {
    let browser = Ctx {
        target: FeedFile::BrowserDomains,
        ..ctx.clone()
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        sink.out.report.lines += 1;
        let raw = raw.trim();
        if raw.is_empty() || raw.starts_with('#') {
            sink.out.report.comments += 1;
            continue;
        }
        let Some(rule) = rule_hosts(raw) else {
            sink.out.report.skip(line, "not a rule");
            continue;
        };
        if rule.hosts.is_empty() {
            sink.out.report.skip(line, "no host match");
            continue;
        }
        let to = if ctx.target == FeedFile::PoolDomains && browser_mining_msg(&rule.msg) {
            &browser
        } else {
            ctx
        };
        let detail = if rule.sid.is_empty() {
            rule.msg.clone()
        } else {
            format!("sid:{} {}", rule.sid, rule.msg)
        };
        for host in &rule.hosts {
            match clean_host_value(host, true)
                .and_then(|h| to.entry_with(h, detail.trim(), rule.date.as_deref()))
            {
                Ok(e) => sink.add(e),
                Err(reason) => sink.out.report.skip(line, reason),
            }
        }
    }
}

/// Splits CSV text into records with the `csv` crate: RFC 4180 quoting (`"a,b"`, `""` for a
/// quote, line breaks inside quotes), rows of any length. Each record comes with the 1-based
/// line it starts on; blank lines are records of one empty field, so line counts stay true.
fn csv_records(text: &str, delim: char) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    // The csv crate skips blank lines; they are kept here (they count as skipped lines). Line
    // numbers come from the byte offset where each record starts.
    let (mut counted, mut line, mut expected) = (0usize, 1usize, 1usize);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim as u8)
        .from_reader(text.as_bytes());
    for rec in r.records() {
        let Ok(rec) = rec else { continue };
        // The reader may place a record at the line break before it (the LF of a CRLF, the
        // blank lines it skipped): its first byte is past those.
        let mut at = rec
            .position()
            .map_or(counted, |p| p.byte() as usize)
            .clamp(counted, text.len());
        while matches!(text.as_bytes().get(at), Some(b'\r' | b'\n')) {
            at += 1;
        }
        line += bytecount_newlines(&text.as_bytes()[counted..at]);
        counted = at;
        for blank in expected..line {
            out.push((blank, vec![String::new()]));
        }
        expected = line + rec.iter().map(|c| c.matches('\n').count()).sum::<usize>() + 1;
        // A CRLF inside a quoted cell reads as one line break (the salesforce JA3 list has one).
        out.push((line, rec.iter().map(|c| c.replace("\r\n", "\n")).collect()));
    }
    out
}

fn bytecount_newlines(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c == b'\n').count()
}

fn csv_import(name: &str, text: &str, ctx: &Ctx<'_>, sink: &mut Sink) -> Result<(), FeedError> {
    // `#` lines before the header are comments (abuse.ch and many exports start with some).
    let first_data = text
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    let delim = if first_data.contains('\t') { '\t' } else { ',' };
    let mut records = csv_records(text, delim).into_iter();
    let mut header: Option<Vec<String>> = None;
    for (_, rec) in records.by_ref() {
        sink.out.report.lines += 1;
        sink.out.report.comments += 1;
        let first = rec.first().map(|s| s.trim()).unwrap_or("");
        if (rec.len() == 1 && first.is_empty()) || first.starts_with('#') {
            continue;
        }
        header = Some(rec.iter().map(|c| c.trim().to_string()).collect());
        break;
    }
    let Some(header) = header else {
        return Err(FeedError::line(name, 1, "no header line"));
    };
    let target = ctx.target;
    let mapped: BTreeMap<&str, &str> = ctx
        .opts
        .map
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    for feed_col in mapped.keys() {
        if !target.columns().contains(feed_col) {
            return Err(FeedError::Usage(format!(
                "--map: {target} has no column {feed_col:?} (it has: {})",
                target.columns().join(", ")
            )));
        }
    }
    // Feed column -> index of the input column holding it.
    let mut index: BTreeMap<&'static str, usize> = BTreeMap::new();
    for &col in target.columns() {
        let input = mapped.get(col).copied().unwrap_or(col);
        match header.iter().position(|h| h.eq_ignore_ascii_case(input)) {
            Some(i) => {
                index.insert(col, i);
            }
            None if mapped.contains_key(col) => {
                return Err(FeedError::Usage(format!(
                    "{name}: --map {col}={input}: no column {input:?} in the header ({})",
                    header.join(", ")
                )));
            }
            None => {}
        }
    }
    let key_col = match target {
        FeedFile::PoolDomains | FeedFile::BrowserDomains => "domain",
        FeedFile::PoolEndpoints => "ip",
        FeedFile::PoolCerts => "sha1",
        FeedFile::MinerFingerprints | FeedFile::Allowlist => "value",
    };
    let has_cert_hash = ["sha1", "sha256", "spki_sha256"]
        .iter()
        .any(|c| index.contains_key(c));
    if !(index.contains_key(key_col) || (target == FeedFile::PoolCerts && has_cert_hash)) {
        return Err(FeedError::Usage(format!(
            "{name}: no column for {key_col:?} (map one: --map {key_col}=COLUMN; header: {})",
            header.join(", ")
        )));
    }
    let fixed_kind = ctx.opts.domain_kind.as_str();
    // The rows whose empty `kind` and `note` cells the options fill.
    let pool_rows = matches!(target, FeedFile::PoolDomains | FeedFile::PoolEndpoints);
    for (line, rec) in records {
        sink.out.report.lines += 1;
        if rec.iter().all(|c| c.trim().is_empty()) || rec[0].starts_with('#') {
            sink.out.report.comments += 1;
            continue;
        }
        let cell = |col: &str| -> &str {
            index
                .get(col)
                .and_then(|&i| rec.get(i))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        // A key cell may hold several values (`resolved_ips` = "1.2.3.4 5.6.7.8").
        let keys: Vec<&str> = cell(key_col).split_whitespace().collect();
        let keys = if keys.is_empty() { vec![""] } else { keys };
        for key in keys {
            let get = |col: &str| -> &str {
                match col {
                    "source" => ctx.opts.source.trim(),
                    "date" | "first_seen" if cell(col).is_empty() => ctx.opts.date.trim(),
                    "kind" | "note" if !pool_rows || !cell(col).is_empty() => cell(col),
                    "kind" => fixed_kind,
                    "note" => ctx.note.as_str(),
                    c if c == key_col => key,
                    c => cell(c),
                }
            };
            match parse_row(target, &get) {
                Ok(e) => sink.add(e),
                Err(reason) => sink.out.report.skip(line, format!("bad row: {reason}")),
            }
        }
    }
    Ok(())
}

/// What a merge did to each feed file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Rows appended, per file.
    pub added: BTreeMap<FeedFile, usize>,
    /// Entries not written because the file already had the same value from the same source.
    pub already_present: BTreeMap<FeedFile, usize>,
}

impl fmt::Display for MergeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let files: std::collections::BTreeSet<&FeedFile> = self
            .added
            .keys()
            .chain(self.already_present.keys())
            .collect();
        for file in files {
            writeln!(
                f,
                "{file}: {} added, {} already present",
                self.added.get(file).copied().unwrap_or(0),
                self.already_present.get(file).copied().unwrap_or(0)
            )?;
        }
        Ok(())
    }
}

/// Appends `entries` to the feed files of `dir`, each to its own file, skipping any value the
/// file already has from the same source. Existing rows, comments and order are left as they
/// are, so the change reviews as a plain diff of added lines; a missing file is created with
/// its header. A file that does not load cleanly is not touched (the error names its bad
/// line). Each file is rewritten through a temporary file and a rename, so an interrupted
/// merge leaves the old file whole.
pub fn merge_into_dir(dir: &Path, entries: &[FeedEntry]) -> Result<MergeReport, FeedError> {
    let mut report = MergeReport::default();
    for file in FeedFile::ALL {
        let todo: Vec<&FeedEntry> = entries.iter().filter(|e| e.file() == file).collect();
        if todo.is_empty() {
            continue;
        }
        let path = dir.join(file.file_name());
        let existing = match std::fs::read_to_string(&path) {
            Ok(t) => Some(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(FeedError::io(&path, e)),
        };
        let mut text = String::new();
        let columns: Vec<String>;
        let mut seen: HashSet<DedupKey> = HashSet::new();
        match &existing {
            Some(t) => {
                let mut current = PoolFeed::default();
                current.parse_file(file, &path, t)?;
                seen.extend(current.entries().map(|e| e.dedup_key()));
                let (header, _) = split_header(file, &path, t)?;
                columns = header.columns;
                text.push_str(t);
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
            }
            None => {
                columns = file.columns().iter().map(|c| c.to_string()).collect();
                text.push_str(&format!(
                    "# {} (created by poolscope feed import)\n{}\n",
                    file.file_name(),
                    columns.join("\t")
                ));
            }
        }
        let mut added = 0;
        let mut present = 0;
        for e in todo {
            if seen.insert(e.dedup_key()) {
                text.push_str(&e.render(&columns));
                text.push('\n');
                added += 1;
            } else {
                present += 1;
            }
        }
        if added > 0 {
            std::fs::create_dir_all(dir).map_err(|e| FeedError::io(dir, e))?;
            crate::output::write_atomic(&path, text.as_bytes())
                .map_err(|e| FeedError::io(&path, e))?;
        }
        report.added.insert(file, added);
        report.already_present.insert(file, present);
    }
    Ok(report)
}

#[cfg(test)]
mod tests;

mod exchange;
