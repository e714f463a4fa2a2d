//! Importing the lists analysts already have into feed entries, and merging those entries into
//! a feeds directory. This is what `poolscope feed import FORMAT FILE` runs. Every entry gets
//! the provenance the analyst gives (source name, snapshot date); every input line is counted
//! as accepted, a duplicate, a comment or skipped, and skipped lines are counted per reason,
//! so an import that silently took nothing cannot happen. Lines an importer cannot use
//! (cosmetic Adblock rules, URL patterns, malformed names) are skipped, not fatal: real lists
//! are messy. A merge, by contrast, refuses to touch a feed file that does not load cleanly.

use super::error::FeedError;
use super::feeds::{
    parse_endpoint, parse_row, split_header, AllowEntry, AllowValue, BrowserDomain, DedupKey,
    DomainKind, FeedEntry, FeedFile, MinerFingerprint, PoolCert, PoolDomain, PoolFeed, Provenance,
};
use super::value::{parse_date, parse_domain, parse_hex, FingerprintKind, IpNet};
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
}

impl ImportFormat {
    /// Every format, in the order the help text lists them.
    pub const ALL: [ImportFormat; 7] = [
        Self::Hosts,
        Self::Domains,
        Self::Adblock,
        Self::SslblSha1,
        Self::SslblJa3,
        Self::Ips,
        Self::Csv,
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
        }
    }

    /// The feed file entries go to when no target is given.
    pub fn default_target(self) -> FeedFile {
        match self {
            Self::Hosts | Self::Domains | Self::Adblock | Self::Csv => FeedFile::PoolDomains,
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
    /// Pool-domain rows only: strong `pool` (default) or weak `crypto-related`.
    pub domain_kind: DomainKind,
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

/// [`import`] over text already in memory; `name` is used in messages only.
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
    let ctx = Ctx { opts, target };
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

/// The import's options and resolved target.
struct Ctx<'o> {
    opts: &'o ImportOptions,
    target: FeedFile,
}

impl Ctx<'_> {
    fn provenance(&self) -> Provenance {
        Provenance::new(self.opts.source.trim(), self.opts.date.trim())
    }

    /// One value of a line-oriented list as an entry of the target (or, for an address in a
    /// host list, of the matching address file).
    fn entry(&self, raw: &str) -> Result<FeedEntry, String> {
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
                    "kind" if target == FeedFile::PoolDomains && cell(col).is_empty() => fixed_kind,
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
