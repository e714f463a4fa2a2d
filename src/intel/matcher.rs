//! Exact matching of flows against the feeds: the step between a flow record and the scorer.
//! [`Matcher::new`] indexes a [`PoolFeed`] once; [`Matcher::match_flow`] then answers, for one
//! flow, which feed entries cover its server names (suffix match on label boundaries), its
//! server address (longest-prefix CIDR match, with or without the port), its certificate and
//! its TLS fingerprints, each as a [`Match`] with the entry's provenance and a [`Strength`]:
//! names, certificates and address+port are strong (`mining`); port-only, address-on-another-
//! port, crypto-related-site and fingerprint hits are weak (`suspect`). The allowlist is
//! consulted first and wins over every list on the value it names (see [`Matcher::match_flow`]).
//!
//! Indexes are hash tables: one entry per listed domain (a name is looked up once per label
//! suffix, longest first), one table per prefix length present for each address family, one
//! set per hash kind. A miss costs a handful of hash lookups and no allocation.

use super::age::{self, AgePolicy};
use super::feeds::{
    AllowEntry, AllowValue, DomainKind, EndpointAddr, FeedEntry, FeedFile, PoolEndpoint, PoolFeed,
};
use super::value::{
    canonical_ip, mask_v4, mask_v6, normalize_domain, subject_cn, FingerprintKind, IpNet,
};
use crate::dissect::tls::TlsInfo;
use crate::hash::FastMap;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

/// The fields of one flow the matcher looks at, borrowed from wherever the flow lives (a
/// [`crate::output::FlowRecord`], a CSV row, a NetFlow record). `server` is the
/// responder: the flow's destination.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowView<'a> {
    /// Server address.
    pub server_ip: Option<IpAddr>,
    /// Server port.
    pub server_port: Option<u16>,
    /// TLS server name indication.
    pub sni: Option<&'a str>,
    /// Names that resolved to the server address (from DNS answers seen in the capture).
    pub dns_names: &'a [String],
    /// Certificate subjectAltName entries (DNS names; IP entries are skipped).
    pub cert_san: &'a [String],
    /// Common name of the certificate subject.
    pub cert_subject_cn: Option<&'a str>,
    /// SHA-1 of the server certificate, hex.
    pub cert_sha1: Option<&'a str>,
    /// SHA-256 of the server certificate, hex.
    pub cert_sha256: Option<&'a str>,
    /// SHA-256 of the server certificate's SubjectPublicKeyInfo, hex.
    pub cert_spki_sha256: Option<&'a str>,
    /// Client JA3.
    pub ja3: Option<&'a str>,
    /// Client JA4.
    pub ja4: Option<&'a str>,
    /// Server JA3S.
    pub ja3s: Option<&'a str>,
    /// Server JA4S.
    pub ja4s: Option<&'a str>,
    /// When the flow was seen (its first packet, Unix seconds): feed rows are weighed by how
    /// far their date lies from it ([`super::age`]). `None` weighs them against today.
    pub at: Option<f64>,
}

impl<'a> FlowView<'a> {
    /// The view of a flow from its server address and port, the TLS handshake the dissector
    /// filled in and the DNS names seen for the server.
    pub fn from_tls(
        server_ip: IpAddr,
        server_port: u16,
        tls: &'a TlsInfo,
        dns_names: &'a [String],
    ) -> Self {
        FlowView {
            server_ip: Some(server_ip),
            server_port: Some(server_port),
            sni: tls.sni.as_deref(),
            dns_names,
            cert_san: &tls.cert_san,
            cert_subject_cn: tls.cert_subject.as_deref().and_then(subject_cn),
            cert_sha1: tls.cert_sha1.as_deref(),
            cert_sha256: tls.cert_sha256.as_deref(),
            cert_spki_sha256: None,
            ja3: tls.ja3.as_deref(),
            ja4: tls.ja4.as_deref(),
            ja3s: tls.ja3s.as_deref(),
            ja4s: tls.ja4s.as_deref(),
            at: None,
        }
    }

    /// The same view, weighed at time `at` (Unix seconds); a time that is not a number (a log
    /// that does not say when the flow started) weighs against today, as `None` does.
    pub fn at(self, at: f64) -> Self {
        FlowView {
            at: at.is_finite().then_some(at),
            ..self
        }
    }
}

/// Which feed list a match comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchKind {
    /// `pool-domains.tsv`.
    Domain,
    /// `browser-mining-domains.tsv`.
    BrowserDomain,
    /// `pool-endpoints.tsv` (address, address+port, or port-only).
    Endpoint,
    /// `pool-certs.tsv`.
    Cert,
    /// `miner-fingerprints.tsv`.
    Fingerprint,
    /// `allowlist.tsv`: the value is known to be good.
    Allowlist,
    /// No row names the host, but it lies under the registrable domain of several listed
    /// pool hosts (`rvn.2miners.com` when `eth.2miners.com` and `xmr.2miners.com` are
    /// listed): pool operators put every coin and region under one domain.
    Operator,
}

impl MatchKind {
    /// The name used in reasons and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Domain => "domain",
            Self::BrowserDomain => "browser_domain",
            Self::Endpoint => "endpoint",
            Self::Cert => "cert",
            Self::Fingerprint => "fingerprint",
            Self::Allowlist => "allowlist",
            Self::Operator => "operator",
        }
    }
}

/// The flow field (or checked value) a match was found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    /// TLS SNI.
    Sni,
    /// A DNS name of the server.
    DnsName,
    /// Certificate subject CN.
    CertSubjectCn,
    /// Certificate subjectAltName.
    CertSan,
    /// Server address.
    ServerIp,
    /// Server port (a port-only hint).
    ServerPort,
    /// Certificate SHA-1.
    CertSha1,
    /// Certificate SHA-256.
    CertSha256,
    /// Certificate SPKI SHA-256.
    CertSpkiSha256,
    /// Client JA3.
    Ja3,
    /// Client JA4.
    Ja4,
    /// Server JA3S.
    Ja3s,
    /// Server JA4S.
    Ja4s,
    /// A name given to [`Matcher::check`].
    Name,
}

impl Field {
    /// The name used in output (matches the flow record's column where there is one).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sni => "sni",
            Self::DnsName => "dns_names",
            Self::CertSubjectCn => "cert_subject",
            Self::CertSan => "cert_san",
            Self::ServerIp => "dst_ip",
            Self::ServerPort => "dst_port",
            Self::CertSha1 => "cert_sha1",
            Self::CertSha256 => "cert_sha256",
            Self::CertSpkiSha256 => "cert_spki_sha256",
            Self::Ja3 => "ja3",
            Self::Ja4 => "ja4",
            Self::Ja3s => "ja3s",
            Self::Ja4s => "ja4s",
            Self::Name => "name",
        }
    }

    fn of_fingerprint(kind: FingerprintKind) -> Self {
        match kind {
            FingerprintKind::Ja3 => Self::Ja3,
            FingerprintKind::Ja4 => Self::Ja4,
            FingerprintKind::Ja3s => Self::Ja3s,
            FingerprintKind::Ja4s => Self::Ja4s,
        }
    }

    /// Whether the value came out of the server certificate (and so is not evidence when the
    /// certificate itself is allowlisted).
    fn is_from_cert(self) -> bool {
        matches!(
            self,
            Self::CertSubjectCn
                | Self::CertSan
                | Self::CertSha1
                | Self::CertSha256
                | Self::CertSpkiSha256
        )
    }
}

/// How much a match says about the flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// Strong: the flow talks to a listed pool (name, certificate, address).
    Mining,
    /// Weak hint, never enough alone: port-only, address on another port, crypto-related
    /// site, TLS fingerprint.
    Suspect,
    /// An allowlist entry covers the value.
    Allowed,
}

impl Strength {
    /// `mining`, `suspect` or `allowed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mining => "mining",
            Self::Suspect => "suspect",
            Self::Allowed => "allowed",
        }
    }
}

/// The allowlist entry that cancelled a match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// `domain`, `ip`, `cidr` or `cert`.
    pub kind: &'static str,
    /// The allowlisted value.
    pub value: String,
    /// Why it is allowed.
    pub reason: String,
    /// Allowlist row's source.
    pub source: String,
    /// Allowlist row's date.
    pub date: String,
}

/// One feed entry covering one value of a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// Which list.
    pub kind: MatchKind,
    /// Which field of the flow.
    pub field: Field,
    /// The flow's value, normalised (`xmr.pool.example`).
    pub observed: String,
    /// The feed entry's value (`pool.example`, `1.2.3.0/24:3333`, a hash).
    pub value: String,
    /// What kind of value the entry holds: `domain`, `host`, `ip`, `cidr`, `port`, `sha1`,
    /// `sha256`, `spki_sha256`, `ja3`, `ja4`, `ja3s`, `ja4s`.
    pub value_kind: &'static str,
    /// Context from the entry: coin and host, fingerprint client, allowlist reason, or why a
    /// hit is only a hint.
    pub detail: String,
    /// The entry's source.
    pub source: String,
    /// The entry's date.
    pub date: String,
    /// Strong, weak or allowed.
    pub strength: Strength,
    /// Set when an allowlist entry cancels this match; the scorer then ignores it.
    pub suppressed_by: Option<Suppression>,
}

impl Match {
    /// Whether the scorer should count this match: a list hit that no allowlist entry cancels.
    pub fn is_effective(&self) -> bool {
        self.suppressed_by.is_none() && self.strength != Strength::Allowed
    }

    /// The reason string for the scorer and reports, e.g.
    /// `feed:domain:pool.example (coinblockerlists 2018-06-06)`,
    /// `feed:endpoint:1.2.3.4:3333 (smashed 2018-05-13)`,
    /// `hint:ja4:t13d311000_… (xmrig 6.26.0 tls+sni, lab 2026-11-26, weak)`,
    /// `allow:domain:example.org (coinblockerlists 2018-06-06: wrongly listed)`, or for a
    /// cancelled match `allow:ip:1.2.3.4 (…) suppresses feed:endpoint:1.2.3.4 (…)`.
    pub fn reason(&self) -> String {
        let Match {
            kind,
            field,
            observed: _,
            value,
            value_kind,
            detail,
            source,
            date,
            strength,
            suppressed_by,
        } = self;
        let label = match (kind, field) {
            (MatchKind::Endpoint, Field::ServerPort) => "port".to_string(),
            (MatchKind::Cert, Field::CertSha1) => "cert:sha1".to_string(),
            (MatchKind::Cert, Field::CertSha256) => "cert:sha256".to_string(),
            (MatchKind::Cert, Field::CertSpkiSha256) => "cert:spki_sha256".to_string(),
            (MatchKind::Fingerprint, f) => f.as_str().to_string(),
            (k, _) => k.as_str().to_string(),
        };
        let own = match strength {
            Strength::Mining if *kind == MatchKind::Operator => {
                format!("feed:{label}:{value} ({detail}, {source} {date})")
            }
            Strength::Mining => format!("feed:{label}:{value} ({source} {date})"),
            Strength::Suspect if detail.is_empty() => {
                format!("hint:{label}:{value} ({source} {date}, weak)")
            }
            Strength::Suspect => format!("hint:{label}:{value} ({detail}, {source} {date}, weak)"),
            Strength::Allowed => format!("allow:{value_kind}:{value} ({source} {date}: {detail})"),
        };
        match suppressed_by {
            None => own,
            Some(s) => format!(
                "allow:{}:{} ({} {}) suppresses {own}",
                s.kind, s.value, s.source, s.date
            ),
        }
    }
}

impl fmt::Display for Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason())
    }
}

/// Entry counts of a loaded feed, per file, per (file, source) and per (file, source, kind,
/// year): what an analyst asks of a feed before trusting it (how much of it is old, how much
/// is only a hint).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FeedStats {
    /// Entries per feed file name.
    pub per_file: BTreeMap<&'static str, usize>,
    /// Entries per feed file name, then per source.
    pub per_source: BTreeMap<&'static str, BTreeMap<String, usize>>,
    /// Entries per (file, source, kind, year of the row's date), sorted.
    pub per_kind_year: Vec<StatsRow>,
    /// Rows dropped as duplicates when loading.
    pub duplicates: usize,
}

/// One line of [`FeedStats::per_kind_year`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StatsRow {
    /// Feed file name.
    pub file: &'static str,
    /// The rows' source.
    pub source: String,
    /// The row's `kind` column where the file has one (`pool`, `crypto-related`,
    /// `miner-malware`, `ja3`, `domain`…), `port-only` for an endpoint row without an
    /// address, else the file's one kind (`browser`, `cert`).
    pub kind: &'static str,
    /// Year of the rows' date.
    pub year: String,
    /// Row count.
    pub rows: usize,
}

impl fmt::Display for FeedStats {
    /// A `file source kind year rows` table (TAB-separated, with a header): one line per
    /// (source, kind, year), then per file a `file * * * total` line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "file\tsource\tkind\tyear\trows")?;
        for (file, total) in &self.per_file {
            for r in self.per_kind_year.iter().filter(|r| r.file == *file) {
                let StatsRow {
                    source,
                    kind,
                    year,
                    rows,
                    ..
                } = r;
                writeln!(f, "{file}\t{source}\t{kind}\t{year}\t{rows}")?;
            }
            writeln!(f, "{file}\t*\t*\t*\t{total}")?;
        }
        if self.duplicates > 0 {
            writeln!(f, "duplicates dropped\t*\t*\t*\t{}", self.duplicates)?;
        }
        Ok(())
    }
}

/// What one listed name stands for in each name list: ranges into [`NameIndex::ids`] for the
/// pool and browser lists, and an allowlist row for `domain` (suffix) and `host` (exact).
#[derive(Debug, Clone, Copy)]
struct NameSlots {
    pool: (u32, u32),
    browser: (u32, u32),
    allow_domain: Option<u32>,
    allow_host: Option<u32>,
}

/// Every name of the pool, browser and allowlist lists in one hash table, so a flow name costs
/// one probe per label suffix whatever the number of lists. A name matches an entry when the
/// entry's domain is the name or one of its parents on a label boundary.
#[derive(Debug, Default)]
struct NameIndex {
    map: FastMap<Box<str>, NameSlots>,
    ids: Vec<u32>,
}

/// The most specific hit of one name in each list.
#[derive(Debug, Default, Clone, Copy)]
struct NameHits<'m> {
    pool: &'m [u32],
    browser: &'m [u32],
    allow: Option<u32>,
}

impl NameHits<'_> {
    fn is_empty(&self) -> bool {
        self.pool.is_empty() && self.browser.is_empty() && self.allow.is_none()
    }
}

impl NameIndex {
    fn build(
        pool: &[super::feeds::PoolDomain],
        browser: &[super::feeds::BrowserDomain],
        allow: &[AllowEntry],
    ) -> Self {
        #[derive(Default)]
        struct Lists {
            pool: Vec<u32>,
            browser: Vec<u32>,
            allow_domain: Option<u32>,
            allow_host: Option<u32>,
        }
        let mut tmp: FastMap<&str, Lists> = FastMap::default();
        for (i, e) in pool.iter().enumerate() {
            tmp.entry(&e.domain).or_default().pool.push(i as u32);
        }
        for (i, e) in browser.iter().enumerate() {
            tmp.entry(&e.domain).or_default().browser.push(i as u32);
        }
        // The first allowlist row for a name is the one reported.
        for (i, e) in allow.iter().enumerate() {
            match &e.value {
                AllowValue::Domain(d) => {
                    tmp.entry(d)
                        .or_default()
                        .allow_domain
                        .get_or_insert(i as u32);
                }
                AllowValue::Host(h) => {
                    tmp.entry(h).or_default().allow_host.get_or_insert(i as u32);
                }
                AllowValue::Net(_) | AllowValue::Cert(_) => {}
            }
        }
        let mut index = NameIndex::default();
        for (name, lists) in tmp {
            let mut range = |v: &[u32]| {
                let start = index.ids.len() as u32;
                index.ids.extend_from_slice(v);
                (start, v.len() as u32)
            };
            let slots = NameSlots {
                pool: range(&lists.pool),
                browser: range(&lists.browser),
                allow_domain: lists.allow_domain,
                allow_host: lists.allow_host,
            };
            index.map.insert(name.into(), slots);
        }
        index
    }

    fn slice(&self, (start, len): (u32, u32)) -> &[u32] {
        &self.ids[start as usize..(start + len) as usize]
    }

    /// One walk over the suffixes of `name` (already normalised), longest first:
    /// `xmr.pool.example` tries `xmr.pool.example`, `pool.example`, `example`, never
    /// `l.example` nor anything that is not a whole label sequence. For each list the first
    /// (most specific) hit is kept; an exact `host` allowlist row beats a `domain` one.
    #[inline]
    fn lookup(&self, name: &str) -> NameHits<'_> {
        let mut hits = NameHits::default();
        if self.map.is_empty() {
            return hits;
        }
        let mut rest = name;
        let mut exact = true;
        loop {
            if let Some(s) = self.map.get(rest) {
                if hits.pool.is_empty() {
                    hits.pool = self.slice(s.pool);
                }
                if hits.browser.is_empty() {
                    hits.browser = self.slice(s.browser);
                }
                if hits.allow.is_none() {
                    hits.allow = if exact {
                        s.allow_host.or(s.allow_domain)
                    } else {
                        s.allow_domain
                    };
                }
            }
            exact = false;
            match rest.find('.') {
                Some(i) => rest = &rest[i + 1..],
                None => return hits,
            }
        }
    }
}

/// Longest-prefix lookup over IPv4 and IPv6 networks: for each family one hash table per prefix
/// length that occurs, longest first. Real feeds use few distinct lengths (mostly /32), so a
/// lookup is a few hash probes.
#[derive(Debug, Default)]
struct NetIndex {
    v4: Vec<(u8, FastMap<u32, Vec<u32>>)>,
    v6: Vec<(u8, FastMap<u128, Vec<u32>>)>,
}

impl NetIndex {
    fn insert(&mut self, net: IpNet, idx: usize) {
        let p = net.prefix();
        match net.addr() {
            IpAddr::V4(a) => level(&mut self.v4, p)
                .entry(u32::from(a))
                .or_default()
                .push(idx as u32),
            IpAddr::V6(a) => level(&mut self.v6, p)
                .entry(u128::from(a))
                .or_default()
                .push(idx as u32),
        }
    }

    /// Every level holding `ip`, longest prefix first, as (prefix, entries).
    fn walk(&self, ip: IpAddr) -> impl Iterator<Item = (u8, &[u32])> + '_ {
        let (v4, v6) = match canonical_ip(ip) {
            IpAddr::V4(a) => (Some(u32::from(a)), None),
            IpAddr::V6(a) => (None, Some(u128::from(a))),
        };
        let a = self.v4.iter().filter_map(move |(p, m)| {
            let v = v4?;
            m.get(&mask_v4(v, *p)).map(|e| (*p, e.as_slice()))
        });
        let b = self.v6.iter().filter_map(move |(p, m)| {
            let v = v6?;
            m.get(&mask_v6(v, *p)).map(|e| (*p, e.as_slice()))
        });
        a.chain(b)
    }

    fn longest(&self, ip: IpAddr) -> Option<(u8, &[u32])> {
        self.walk(ip).next()
    }
}

/// The table for prefix length `p`, created in longest-first order if missing.
fn level<K>(levels: &mut Vec<(u8, FastMap<K, Vec<u32>>)>, p: u8) -> &mut FastMap<K, Vec<u32>> {
    let i = match levels.iter().position(|(q, _)| *q <= p) {
        Some(i) if levels[i].0 == p => i,
        Some(i) => {
            levels.insert(i, (p, FastMap::default()));
            i
        }
        None => {
            levels.push((p, FastMap::default()));
            levels.len() - 1
        }
    };
    &mut levels[i].1
}

type HashIndex = FastMap<Box<str>, Vec<u32>>;

fn add_hash(map: &mut HashIndex, value: &str, idx: usize) {
    map.entry(value.into()).or_default().push(idx as u32);
}

/// ASCII-lowercased, trimmed, colons removed (hashes as openssl prints them); borrowed when
/// already in that form.
fn normalize_token(raw: &str) -> Cow<'_, str> {
    let s = raw.trim();
    if s.bytes().any(|b| b.is_ascii_uppercase() || b == b':') {
        Cow::Owned(
            s.chars()
                .filter(|c| *c != ':')
                .map(|c| c.to_ascii_lowercase())
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

/// The feeds, indexed for lookups. Built once per run; shared read-only.
#[derive(Debug)]
pub struct Matcher {
    feed: PoolFeed,
    names: NameIndex,
    endpoints: NetIndex,
    port_only: FastMap<u16, Vec<u32>>,
    cert_sha1: HashIndex,
    cert_sha256: HashIndex,
    cert_spki: HashIndex,
    fingerprints: [HashIndex; 4],
    allow_nets: NetIndex,
    allow_certs: HashIndex,
    policy: AgePolicy,
    /// Registrable domains with at least [`OPERATOR_MIN_HOSTS`] listed pool hosts under them,
    /// each with those `pool-domains` rows.
    operators: FastMap<Box<str>, Vec<u32>>,
}

/// How many distinct pool hosts the feeds must list under one registrable domain before its
/// other names count as the same operator's.
pub const OPERATOR_MIN_HOSTS: usize = 2;

/// The registrable domain of a normalised name by the Public Suffix List (`xmr.2miners.com`
/// → `2miners.com`, `x.ddns.net` → `x.ddns.net`), or `None` for a bare suffix.
fn registrable(name: &str) -> Option<&str> {
    psl::domain_str(name)
}

/// The allowlist entries that cover a flow's identities, looked up once per flow.
struct Allowed<'m> {
    ip: Option<&'m AllowEntry>,
    cert: Option<&'m AllowEntry>,
    /// The first allowlisted name of the flow.
    name: Option<&'m AllowEntry>,
}

impl<'m> Allowed<'m> {
    /// The entry that cancels weak hints: any allowlisted identity of the server.
    fn any(&self) -> Option<&'m AllowEntry> {
        self.ip.or(self.cert).or(self.name)
    }
}

impl Matcher {
    /// Indexes `feed` (a copy is kept, so the matcher owns everything it reports).
    pub fn new(feed: &PoolFeed) -> Matcher {
        let feed = feed.clone();
        let mut m = Matcher {
            names: NameIndex::build(&feed.pool_domains, &feed.browser_domains, &feed.allowlist),
            endpoints: NetIndex::default(),
            port_only: FastMap::default(),
            cert_sha1: HashIndex::default(),
            cert_sha256: HashIndex::default(),
            cert_spki: HashIndex::default(),
            fingerprints: Default::default(),
            allow_nets: NetIndex::default(),
            allow_certs: HashIndex::default(),
            feed: PoolFeed::default(),
            policy: AgePolicy::default(),
            operators: FastMap::default(),
        };
        let mut under: FastMap<&str, Vec<u32>> = FastMap::default();
        for (i, e) in feed.pool_domains.iter().enumerate() {
            if e.kind != DomainKind::Pool {
                continue;
            }
            if let Some(r) = registrable(&e.domain).filter(|r| *r != e.domain) {
                under.entry(r).or_default().push(i as u32);
            }
        }
        for (r, rows) in under {
            let mut hosts: Vec<&str> = rows
                .iter()
                .map(|&i| feed.pool_domains[i as usize].domain.as_str())
                .collect();
            hosts.sort_unstable();
            hosts.dedup();
            if hosts.len() >= OPERATOR_MIN_HOSTS {
                m.operators.insert(r.into(), rows);
            }
        }
        for (i, e) in feed.endpoints.iter().enumerate() {
            match (e.addr, e.port) {
                (_, Some(port)) if e.is_port_only() => {
                    m.port_only.entry(port).or_default().push(i as u32)
                }
                (EndpointAddr::Net(n), _) => m.endpoints.insert(n, i),
                // The loader refuses `*` without a port, and `*` with one is port-only.
                (EndpointAddr::Any, _) => {}
            }
        }
        for (i, e) in feed.certs.iter().enumerate() {
            if let Some(h) = &e.sha1 {
                add_hash(&mut m.cert_sha1, h, i);
            }
            if let Some(h) = &e.sha256 {
                add_hash(&mut m.cert_sha256, h, i);
            }
            if let Some(h) = &e.spki_sha256 {
                add_hash(&mut m.cert_spki, h, i);
            }
        }
        for (i, e) in feed.fingerprints.iter().enumerate() {
            add_hash(&mut m.fingerprints[e.kind as usize], &e.value, i);
        }
        for (i, e) in feed.allowlist.iter().enumerate() {
            match &e.value {
                // Names are in the name index.
                AllowValue::Domain(_) | AllowValue::Host(_) => {}
                AllowValue::Net(n) => m.allow_nets.insert(*n, i),
                AllowValue::Cert(h) => add_hash(&mut m.allow_certs, h, i),
            }
        }
        m.feed = feed;
        m
    }

    /// The same matcher weighing rows' ages by `policy` instead of the default.
    pub fn with_policy(mut self, policy: AgePolicy) -> Matcher {
        self.policy = policy;
        self
    }

    /// How rows' ages are weighed.
    pub fn policy(&self) -> AgePolicy {
        self.policy
    }

    /// The feed this matcher was built from.
    pub fn feed(&self) -> &PoolFeed {
        &self.feed
    }

    /// Every feed entry covering a value of `flow`, allowlist decisions included.
    ///
    /// Precedence: the allowlist wins over every list *on the value it names*. An allowlisted
    /// domain cancels domain and browser-domain hits on that name and the names under it; an
    /// allowlisted address or network cancels endpoint hits on the server address; an
    /// allowlisted certificate cancels the certificate hit and hits on names taken from that
    /// certificate (SAN, CN: a shared CDN certificate lists many names). Weak hints
    /// (port-only, fingerprints, address on another port) are cancelled when *any* identity
    /// of the server is allowlisted. A strong hit on a value that is not allowlisted stays:
    /// an allowlisted SNI does not excuse a listed pool address, because SNI is chosen by the
    /// client. Cancelled hits stay in the result with [`Match::suppressed_by`] set, and each
    /// allowlist hit is reported as a [`MatchKind::Allowlist`] match.
    pub fn match_flow(&self, flow: &FlowView<'_>) -> Vec<Match> {
        // Nothing below allocates unless something matches: a miss is hash probes only.
        let mut out = Vec::new();
        let mut name_allows = Vec::new();
        let at = flow.at;
        let ip = flow.server_ip.map(canonical_ip);
        let certs = [
            (Field::CertSha1, flow.cert_sha1.map(normalize_token)),
            (Field::CertSha256, flow.cert_sha256.map(normalize_token)),
            (
                Field::CertSpkiSha256,
                flow.cert_spki_sha256.map(normalize_token),
            ),
        ];
        let mut allowed = Allowed {
            ip: ip
                .and_then(|ip| self.allow_nets.longest(ip))
                .map(|(_, e)| self.allow_entry(e[0])),
            cert: None,
            name: None,
        };
        let mut allowed_cert_hash = None;
        for (field, hash) in &certs {
            if let Some(e) = hash.as_deref().and_then(|h| self.allow_certs.get(h)) {
                allowed.cert = Some(self.allow_entry(e[0]));
                allowed_cert_hash = hash.as_deref().map(|h| (*field, h));
                break;
            }
        }

        // Names, each once (the first field wins: SNI, DNS, CN, SAN). Only names that hit are
        // remembered: a repeat of a name that missed misses again.
        let mut seen: Vec<String> = Vec::new();
        let names = (flow.sni.into_iter().map(|n| (Field::Sni, n)))
            .chain(flow.dns_names.iter().map(|n| (Field::DnsName, n.as_str())))
            .chain(
                flow.cert_subject_cn
                    .into_iter()
                    .map(|n| (Field::CertSubjectCn, n)),
            )
            .chain(flow.cert_san.iter().map(|n| (Field::CertSan, n.as_str())));
        for (field, raw) in names {
            let name = normalize_domain(raw);
            if name.is_empty() || is_ip_literal(&name) {
                continue;
            }
            let hits = self.names.lookup(&name);
            let operator = self.operator_of(&name, &hits);
            if (hits.is_empty() && operator.is_none()) || seen.iter().any(|s| **s == *name) {
                continue;
            }
            seen.push(name.to_string());
            let allow = hits.allow.map(|i| self.allow_entry(i));
            if let Some(e) = allow {
                allowed.name.get_or_insert(e);
                name_allows.push(allow_match(field, name.to_string(), e));
            }
            let from_allowed_cert = if field.is_from_cert() {
                allowed.cert
            } else {
                None
            };
            self.domain_matches(
                field,
                &name,
                &hits,
                allow.or(from_allowed_cert),
                at,
                &mut out,
            );
            if let Some((r, rows)) = operator {
                let cancel = allow.or(from_allowed_cert);
                let port = flow.server_port;
                out.push(self.operator_match(field, &name, r, rows, port, cancel, at));
            }
        }

        if let Some(ip) = ip {
            self.endpoint_matches(ip, flow.server_port, &allowed, at, &mut out);
        }
        for (field, hash) in &certs {
            if let Some(hash) = hash {
                self.cert_matches(*field, hash, allowed.cert, &mut out);
            }
        }
        for (kind, v) in [
            (FingerprintKind::Ja3, flow.ja3),
            (FingerprintKind::Ja4, flow.ja4),
            (FingerprintKind::Ja3s, flow.ja3s),
            (FingerprintKind::Ja4s, flow.ja4s),
        ] {
            if let Some(v) = v {
                self.fingerprint_matches(kind, &normalize_token(v), allowed.any(), &mut out);
            }
        }

        // The allowlist hits themselves: address, certificate, names.
        if let (Some(ip), Some(e)) = (ip, allowed.ip) {
            out.push(allow_match(Field::ServerIp, ip.to_string(), e));
        }
        if let (Some((field, hash)), Some(e)) = (allowed_cert_hash, allowed.cert) {
            out.push(allow_match(field, hash.to_string(), e));
        }
        out.append(&mut name_allows);
        out
    }

    /// Every feed entry covering one value, as `poolscope feed check VALUE` asks: a domain
    /// name, an IP address (`1.2.3.4`, `2001:db8::1`), an endpoint (`1.2.3.4:3333`,
    /// `[2001:db8::1]:3333`), a certificate SHA-1 (40 hex) or SHA-256 / SPKI SHA-256 (64 hex),
    /// a JA3/JA3S (32 hex) or a JA4/JA4S. An address alone matches address rows whatever their
    /// port; with a port the flow rules apply (port-only hints included). Empty when nothing
    /// covers the value (or it is not one of these forms).
    pub fn check(&self, value: &str) -> Vec<Match> {
        self.check_at(value, None)
    }

    /// [`Matcher::check`] with rows weighed at time `at` (Unix seconds) instead of today.
    pub fn check_at(&self, value: &str, at: Option<f64>) -> Vec<Match> {
        let v = value.trim();
        if v.is_empty() {
            return Vec::new();
        }
        if let Some((ip, port)) = parse_endpoint_arg(v) {
            let mut out = Vec::new();
            let allowed = Allowed {
                ip: self
                    .allow_nets
                    .longest(ip)
                    .map(|(_, e)| self.allow_entry(e[0])),
                cert: None,
                name: None,
            };
            self.endpoint_matches(ip, port, &allowed, at, &mut out);
            if let Some(e) = allowed.ip {
                out.push(allow_match(
                    Field::ServerIp,
                    canonical_ip(ip).to_string(),
                    e,
                ));
            }
            return out;
        }
        let token = normalize_token(v);
        let is_hex = token.bytes().all(|b| b.is_ascii_hexdigit());
        let mut out = Vec::new();
        if is_hex && matches!(token.len(), 40 | 64) {
            let field = if token.len() == 40 {
                Field::CertSha1
            } else {
                Field::CertSha256
            };
            let allow = self
                .allow_certs
                .get(token.as_ref())
                .map(|e| &self.feed.allowlist[e[0] as usize]);
            self.cert_matches(field, &token, allow, &mut out);
            if token.len() == 64 {
                self.cert_matches(Field::CertSpkiSha256, &token, allow, &mut out);
            }
            if let Some(e) = allow {
                out.push(allow_match(field, token.to_string(), e));
            }
            return out;
        }
        let is_ja4 = FingerprintKind::Ja4.parse_value(&token).is_ok()
            || FingerprintKind::Ja4s.parse_value(&token).is_ok();
        if (is_hex && token.len() == 32) || is_ja4 {
            for kind in FingerprintKind::ALL {
                self.fingerprint_matches(kind, &token, None, &mut out);
            }
            return out;
        }
        let name = normalize_domain(v);
        let hits = self.names.lookup(&name);
        let allow = hits.allow.map(|i| self.allow_entry(i));
        self.domain_matches(Field::Name, &name, &hits, allow, at, &mut out);
        if let Some((r, rows)) = self.operator_of(&name, &hits) {
            out.push(self.operator_match(Field::Name, &name, r, rows, None, allow, at));
        }
        if let Some(e) = allow {
            out.push(allow_match(Field::Name, name.to_string(), e));
        }
        out
    }

    /// Entry counts per file and per source.
    pub fn stats(&self) -> FeedStats {
        let mut s = FeedStats {
            duplicates: self.feed.duplicates,
            ..FeedStats::default()
        };
        for file in FeedFile::ALL {
            s.per_file.insert(file.file_name(), 0);
        }
        let mut groups: BTreeMap<(&'static str, String, &'static str, String), usize> =
            BTreeMap::new();
        for e in self.feed.entries() {
            let file = e.file().file_name();
            let p = e.provenance();
            *s.per_file.entry(file).or_default() += 1;
            *s.per_source
                .entry(file)
                .or_default()
                .entry(p.source.clone())
                .or_default() += 1;
            let kind = match &e {
                FeedEntry::PoolDomain(d) => d.kind.as_str(),
                FeedEntry::BrowserDomain(_) => "browser",
                FeedEntry::Endpoint(d) if d.is_port_only() => "port-only",
                FeedEntry::Endpoint(d) => d.kind.as_str(),
                FeedEntry::Cert(_) => "cert",
                FeedEntry::Fingerprint(d) => d.kind.as_str(),
                FeedEntry::Allow(d) => d.value.kind(),
            };
            let year = p.date.get(..4).unwrap_or("?").to_string();
            *groups
                .entry((file, p.source.clone(), kind, year))
                .or_default() += 1;
        }
        s.per_kind_year = groups
            .into_iter()
            .map(|((file, source, kind, year), rows)| StatsRow {
                file,
                source,
                kind,
                year,
                rows,
            })
            .collect();
        s
    }

    /// The operator domain of a name no pool row names: its registrable domain, when the
    /// feeds list enough pool hosts under it.
    fn operator_of<'m>(&'m self, name: &str, hits: &NameHits<'_>) -> Option<(&'m str, &'m [u32])> {
        let named = hits
            .pool
            .iter()
            .any(|&i| self.feed.pool_domains[i as usize].kind == DomainKind::Pool);
        if named || self.operators.is_empty() {
            return None;
        }
        let r = registrable(name)?;
        self.operators
            .get_key_value(r)
            .map(|(k, rows)| (&**k, rows.as_slice()))
    }

    /// A host under a pool operator's domain. Strong only on a port the feeds list as a pool
    /// port (two independent signs: the operator's domain and the Stratum port) and while the
    /// freshest listed host is within the domain age limit; otherwise a weak hint. The match
    /// cites the freshest row's source and date and names a few of the listed hosts.
    #[allow(clippy::too_many_arguments)]
    fn operator_match(
        &self,
        field: Field,
        name: &str,
        operator: &str,
        rows: &[u32],
        port: Option<u16>,
        cancel: Option<&AllowEntry>,
        at: Option<f64>,
    ) -> Match {
        let rows: Vec<&super::feeds::PoolDomain> = rows
            .iter()
            .map(|&i| &self.feed.pool_domains[i as usize])
            .collect();
        let freshest = rows
            .iter()
            .max_by(|a, b| a.provenance.date.cmp(&b.provenance.date))
            .expect("an operator has rows");
        let mut hosts: Vec<&str> = rows.iter().map(|e| e.domain.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        let n = hosts.len();
        hosts.truncate(3);
        let mut listed = format!("{n} listed pool hosts under it: {}", hosts.join(", "));
        if n > 3 {
            listed.push_str(", …");
        }
        let at = at.unwrap_or_else(age::now);
        let stale = age::staleness(&freshest.provenance.date, at, self.policy.domain_years);
        let pool_port = port.filter(|p| self.port_only.contains_key(p));
        // The qualifier first, then the hosts: reasons hold no `;` (CSV joins lists with it).
        let (strength, detail) = match (&stale, pool_port, port) {
            (None, Some(p), _) => (Strength::Mining, format!("pool port {p}, {listed}")),
            (Some(why), _, _) => (Strength::Suspect, format!("{why}, {listed}")),
            (None, None, Some(p)) => (
                Strength::Suspect,
                format!("port {p} is not a pool port, {listed}"),
            ),
            (None, None, None) => (Strength::Suspect, listed),
        };
        Match {
            kind: MatchKind::Operator,
            field,
            observed: name.to_string(),
            value: operator.to_string(),
            value_kind: "domain",
            detail,
            source: freshest.provenance.source.clone(),
            date: freshest.provenance.date.clone(),
            strength,
            suppressed_by: cancel.map(suppression),
        }
    }

    fn allow_entry(&self, i: u32) -> &AllowEntry {
        &self.feed.allowlist[i as usize]
    }

    /// How strong a hit on a row of `kind` dated `date` is at time `at`, with the words that
    /// say why when it is only a hint: crypto-related and miner-malware rows are weak, and a
    /// pool row weakens when its date is more than `limit` years from the flow.
    fn weigh(
        &self,
        kind: DomainKind,
        note: &str,
        date: &str,
        at: Option<f64>,
        limit: f64,
    ) -> (Strength, Option<String>) {
        match kind {
            DomainKind::CryptoRelated => (Strength::Suspect, Some("crypto-related site".into())),
            DomainKind::MinerMalware if note.is_empty() => (
                Strength::Suspect,
                Some("miner-malware infrastructure".into()),
            ),
            DomainKind::MinerMalware => (
                Strength::Suspect,
                Some(format!("miner-malware infrastructure: {note}")),
            ),
            DomainKind::Pool => {
                let at = at.unwrap_or_else(age::now);
                match age::staleness(date, at, limit) {
                    Some(why) => (Strength::Suspect, Some(why)),
                    None => (Strength::Mining, None),
                }
            }
        }
    }

    fn domain_matches(
        &self,
        field: Field,
        name: &str,
        hits: &NameHits<'_>,
        cancel: Option<&AllowEntry>,
        at: Option<f64>,
        out: &mut Vec<Match>,
    ) {
        let limit = self.policy.domain_years;
        for &i in hits.pool {
            let e = &self.feed.pool_domains[i as usize];
            let (strength, why) = self.weigh(e.kind, &e.note, &e.provenance.date, at, limit);
            let detail = join_detail([why.as_deref().unwrap_or(""), e.coin.as_str()]);
            out.push(Match {
                kind: MatchKind::Domain,
                field,
                observed: name.to_string(),
                value: e.domain.clone(),
                value_kind: "domain",
                detail,
                source: e.provenance.source.clone(),
                date: e.provenance.date.clone(),
                strength,
                suppressed_by: cancel.map(suppression),
            });
        }
        for &i in hits.browser {
            let e = &self.feed.browser_domains[i as usize];
            let (strength, why) = self.weigh(DomainKind::Pool, "", &e.provenance.date, at, limit);
            out.push(Match {
                kind: MatchKind::BrowserDomain,
                field,
                observed: name.to_string(),
                value: e.domain.clone(),
                value_kind: "domain",
                detail: why.unwrap_or_default(),
                source: e.provenance.source.clone(),
                date: e.provenance.date.clone(),
                strength,
                suppressed_by: cancel.map(suppression),
            });
        }
    }

    /// Endpoint rows for a server address: at the longest prefix holding a row whose port fits
    /// (same port, or no port on either side) the hits are strong, unless the row is not a
    /// pool's or is too far in time from the flow ([`Matcher::weigh`]). If the address is
    /// listed only for other ports, that is a weak hint. Port-only rows are consulted when
    /// there is no hit with a fitting port.
    fn endpoint_matches(
        &self,
        ip: IpAddr,
        port: Option<u16>,
        allowed: &Allowed<'_>,
        at: Option<f64>,
        out: &mut Vec<Match>,
    ) {
        let weak_cancel = allowed.any();
        let ip = canonical_ip(ip);
        let fits = |e: &PoolEndpoint| port.is_none() || e.port.is_none() || e.port == port;
        let mut other_ports: Option<&[u32]> = None;
        let mut strong = false;
        for (_, idxs) in self.endpoints.walk(ip) {
            let before = out.len();
            for &i in idxs {
                let e = &self.feed.endpoints[i as usize];
                if fits(e) {
                    let limit = self.policy.address_years;
                    let (strength, why) =
                        self.weigh(e.kind, &e.note, &e.provenance.date, at, limit);
                    let cancel = match strength {
                        Strength::Mining => allowed.ip,
                        _ => weak_cancel,
                    };
                    out.push(self.endpoint_match(
                        Field::ServerIp,
                        ip,
                        e,
                        strength,
                        why.unwrap_or_default(),
                        cancel,
                    ));
                }
            }
            if out.len() > before {
                strong = true;
                break;
            }
            other_ports.get_or_insert(idxs);
        }
        if strong {
            return;
        }
        if let (Some(idxs), Some(p)) = (other_ports, port) {
            for &i in idxs {
                let e = &self.feed.endpoints[i as usize];
                let detail = format!("address listed for another port, seen on {p}");
                out.push(self.endpoint_match(
                    Field::ServerIp,
                    ip,
                    e,
                    Strength::Suspect,
                    detail,
                    weak_cancel,
                ));
            }
        }
        if let Some(idxs) = port.and_then(|p| self.port_only.get(&p)) {
            for &i in idxs {
                let e = &self.feed.endpoints[i as usize];
                let family_fits = match e.addr {
                    EndpointAddr::Any => true,
                    EndpointAddr::Net(n) => n.addr().is_ipv4() == ip.is_ipv4(),
                };
                if family_fits {
                    let mut m = self.endpoint_match(
                        Field::ServerPort,
                        ip,
                        e,
                        Strength::Suspect,
                        "port only".into(),
                        weak_cancel,
                    );
                    m.observed = port.unwrap_or_default().to_string();
                    m.value = e.port.unwrap_or_default().to_string();
                    out.push(m);
                }
            }
        }
    }

    fn endpoint_match(
        &self,
        field: Field,
        ip: IpAddr,
        e: &PoolEndpoint,
        strength: Strength,
        hint: String,
        cancel: Option<&AllowEntry>,
    ) -> Match {
        let mut detail: Vec<&str> = Vec::new();
        if !hint.is_empty() {
            detail.push(&hint);
        }
        if !e.coin.is_empty() {
            detail.push(&e.coin);
        }
        if !e.host.is_empty() {
            detail.push(&e.host);
        }
        let value_kind = match e.addr {
            _ if field == Field::ServerPort => "port",
            EndpointAddr::Net(n) if n.is_host() => "ip",
            _ => "cidr",
        };
        Match {
            kind: MatchKind::Endpoint,
            field,
            observed: ip.to_string(),
            value: e.display_value(),
            value_kind,
            detail: detail.join(", "),
            source: e.provenance.source.clone(),
            date: e.provenance.date.clone(),
            strength,
            suppressed_by: cancel.map(suppression),
        }
    }

    fn cert_matches(
        &self,
        field: Field,
        hash: &str,
        cancel: Option<&AllowEntry>,
        out: &mut Vec<Match>,
    ) {
        let index = match field {
            Field::CertSha1 => &self.cert_sha1,
            Field::CertSha256 => &self.cert_sha256,
            _ => &self.cert_spki,
        };
        if let Some(idxs) = index.get(hash) {
            for &i in idxs {
                let e = &self.feed.certs[i as usize];
                let detail = [e.subject.as_str(), e.note.as_str()]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(", ");
                out.push(Match {
                    kind: MatchKind::Cert,
                    field,
                    observed: hash.to_string(),
                    value: hash.to_string(),
                    value_kind: match field {
                        Field::CertSha1 => "sha1",
                        Field::CertSha256 => "sha256",
                        _ => "spki_sha256",
                    },
                    detail,
                    source: e.provenance.source.clone(),
                    date: e.provenance.date.clone(),
                    strength: Strength::Mining,
                    suppressed_by: cancel.map(suppression),
                });
            }
        }
    }

    fn fingerprint_matches(
        &self,
        kind: FingerprintKind,
        value: &str,
        cancel: Option<&AllowEntry>,
        out: &mut Vec<Match>,
    ) {
        if let Some(idxs) = self.fingerprints[kind as usize].get(value) {
            for &i in idxs {
                let e = &self.feed.fingerprints[i as usize];
                out.push(Match {
                    kind: MatchKind::Fingerprint,
                    field: Field::of_fingerprint(kind),
                    observed: value.to_string(),
                    value: e.value.clone(),
                    value_kind: kind.as_str(),
                    detail: e.client.clone(),
                    source: e.provenance.source.clone(),
                    date: e.provenance.date.clone(),
                    strength: Strength::Suspect,
                    suppressed_by: cancel.map(suppression),
                });
            }
        }
    }
}

/// The non-empty parts of a match's detail, comma-separated.
fn join_detail<'s>(parts: impl IntoIterator<Item = &'s str>) -> String {
    parts
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a (normalised) name is an address literal, as certificate SANs may hold. No
/// top-level domain is all digits, so only a name ending in a digit or holding a colon is
/// parsed.
fn is_ip_literal(name: &str) -> bool {
    (name.ends_with(|c: char| c.is_ascii_digit()) || name.contains(':'))
        && name.parse::<IpAddr>().is_ok()
}

fn suppression(e: &AllowEntry) -> Suppression {
    Suppression {
        kind: e.value.kind(),
        value: e.value.to_string(),
        reason: e.reason.clone(),
        source: e.provenance.source.clone(),
        date: e.provenance.date.clone(),
    }
}

fn allow_match(field: Field, observed: String, e: &AllowEntry) -> Match {
    Match {
        kind: MatchKind::Allowlist,
        field,
        observed,
        value: e.value.to_string(),
        value_kind: e.value.kind(),
        detail: e.reason.clone(),
        source: e.provenance.source.clone(),
        date: e.provenance.date.clone(),
        strength: Strength::Allowed,
        suppressed_by: None,
    }
}

/// `1.2.3.4`, `1.2.3.4:3333`, `2001:db8::1`, `[2001:db8::1]:3333` → address and optional port.
fn parse_endpoint_arg(v: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some((ip, None));
    }
    if let Ok(sa) = v.parse::<std::net::SocketAddr>() {
        return Some((sa.ip(), Some(sa.port())));
    }
    None
}

#[cfg(test)]
mod tests;
