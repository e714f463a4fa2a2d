//! `poolscope report`: one self-contained HTML page an analyst reads instead of grepping a
//! day of scored flows. [`ReportBuilder`] takes scored flows one at a time (from `score` as
//! they are judged, or read back from its NDJSON, CSV or Parquet output) and keeps what the
//! page needs: counts over every flow, the score distribution of the flows the model judged,
//! and the flagged (suspect or mining) flows themselves, up to [`MAX_FLAGGED`]. [`ReportData`]
//! is that summary as plain data: it is embedded in the page as JSON (and golden-tested),
//! and [`html::render`] draws the page from it: the run, a per-host timeline, the top pools
//! with the evidence that named them, the score histogram, and a table of flagged flows.

pub mod html;

use crate::output::FlowRecord;
use crate::score::{Scored, Verdict};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Flagged flows kept in full; beyond it the lowest-scored are dropped and counted, so the
/// page stays quick to load (sorting and filtering run in the browser).
pub const MAX_FLAGGED: usize = 100_000;
/// Hosts listed (and drawn on the timeline), most mining flows first.
pub const MAX_HOSTS: usize = 500;
/// Pools listed per host.
pub const HOST_POOLS: usize = 10;
/// Pools listed in the top-pools table.
pub const TOP_POOLS: usize = 50;
/// Bins of the score histogram over [0, 1].
pub const SCORE_BINS: usize = 20;

/// What the page says about the run that produced the flows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunInfo {
    /// Input files (names as given).
    pub inputs: Vec<String>,
    /// The feeds that judged the flows: where from, rows, newest row date; `None` when the
    /// flows were scored elsewhere (read back from a file) or without feeds.
    pub feeds: Option<FeedsInfo>,
    /// The models that judged the flows.
    pub models: Vec<ModelInfo>,
    /// How the flows were judged: `scored here` or `read from scored files`.
    pub scored: String,
}

/// The feeds of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedsInfo {
    /// Directory, or `built-in`.
    pub location: String,
    /// Rows loaded.
    pub rows: usize,
    /// Date of the newest row.
    pub newest: String,
}

/// One model of a run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelInfo {
    /// File, or `built-in`.
    pub location: String,
    /// Feature schema (`shape-v2`, `netflow-v1`).
    pub schema: String,
    /// poolscope version that trained it.
    pub version: String,
    /// Flows it was trained on.
    pub trained_flows: usize,
    /// Calibrated probability at the `suspect` threshold.
    pub suspect_at: f64,
    /// Calibrated probability at the `mining` threshold.
    pub mining_at: f64,
}

/// The facts of one scored flow the report uses, from a record and its verdict or from a
/// scored output row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowFacts {
    /// File name of the capture (or export) the flow came from.
    pub capture: String,
    /// Flow id within it.
    pub flow_id: u64,
    /// Client address.
    pub src_ip: String,
    /// Server address.
    pub dst_ip: String,
    /// Server port.
    pub dst_port: u16,
    /// `tcp` or `udp`.
    pub transport: String,
    /// The server's name: SNI, else the first DNS name, else the certificate's subject.
    pub name: Option<String>,
    /// Server certificate SHA-256.
    pub cert_sha256: Option<String>,
    /// First packet, Unix seconds.
    pub first_seen: f64,
    /// Last packet, Unix seconds.
    pub last_seen: f64,
    /// Packets both ways.
    pub packets: u64,
    /// Bytes both ways.
    pub bytes: u64,
    /// The verdict.
    pub verdict: Verdict,
    /// Its score.
    pub score: f64,
    /// Every reason, strongest first.
    pub reasons: Vec<String>,
    /// The model's calibrated probability, where it judged the flow.
    pub model_score: Option<f64>,
}

impl FlowFacts {
    /// The facts of a record as `score` judged it.
    pub fn from_record(rec: &FlowRecord, s: &Scored) -> FlowFacts {
        let name = rec
            .tls
            .sni
            .clone()
            .or_else(|| rec.dns_names.first().cloned())
            .or_else(|| rec.tls.cert_subject.clone());
        FlowFacts {
            capture: file_name(&rec.capture),
            flow_id: rec.flow_id,
            src_ip: rec.src_ip.to_string(),
            dst_ip: rec.dst_ip.to_string(),
            dst_port: rec.dst_port,
            transport: rec.transport.to_string(),
            name,
            cert_sha256: rec.tls.cert_sha256.clone(),
            first_seen: rec.first_seen,
            last_seen: rec.last_seen,
            packets: rec.packets_c2s + rec.packets_s2c,
            bytes: rec.bytes_c2s + rec.bytes_s2c,
            verdict: s.verdict,
            score: s.score,
            reasons: s.reasons.clone(),
            model_score: s.model.map(|m| m.0),
        }
    }

    /// The facts of a row of `score`'s output (NDJSON object, or a CSV/Parquet row read as
    /// one). `Err` says which needed column is missing or malformed.
    pub fn from_json(row: &Map<String, Value>) -> Result<FlowFacts, String> {
        let s = |k: &str| row.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
        let f = |k: &str| {
            row.get(k).and_then(|v| match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            })
        };
        let verdict = s("verdict")
            .and_then(Verdict::parse)
            .ok_or("no verdict column: not an output of `poolscope score`")?;
        let reasons = match row.get("reasons") {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            // CSV and Parquet hold the list as one JSON text.
            Some(Value::String(t)) if t.starts_with('[') => {
                serde_json::from_str(t).map_err(|e| format!("reasons: {e}"))?
            }
            Some(Value::String(t)) if !t.is_empty() => split_reasons(t),
            _ => Vec::new(),
        };
        let dns_first = match row.get("dns_names") {
            Some(Value::Array(a)) => a.first().and_then(Value::as_str).map(str::to_string),
            Some(Value::String(t)) if t.starts_with('[') => serde_json::from_str::<Vec<String>>(t)
                .ok()
                .and_then(|v| v.into_iter().next()),
            Some(Value::String(t)) => t
                .split(crate::output::LIST_SEPARATOR)
                .find(|s| !s.is_empty())
                .map(str::to_string),
            _ => None,
        };
        let name = s("sni")
            .map(str::to_string)
            .or(dns_first)
            .or_else(|| s("cert_subject").map(str::to_string));
        let num = |a: &str, b: &str| f(a).unwrap_or(0.0) + f(b).unwrap_or(0.0);
        Ok(FlowFacts {
            capture: file_name(s("capture").unwrap_or("")),
            flow_id: f("flow_id").unwrap_or(0.0) as u64,
            src_ip: s("src_ip").ok_or("no src_ip")?.to_string(),
            dst_ip: s("dst_ip").ok_or("no dst_ip")?.to_string(),
            dst_port: f("dst_port").unwrap_or(0.0) as u16,
            transport: s("transport").unwrap_or("tcp").to_string(),
            name,
            cert_sha256: s("cert_sha256").map(str::to_string),
            first_seen: f("first_seen").unwrap_or(0.0),
            last_seen: f("last_seen").unwrap_or(0.0),
            packets: num("packets_c2s", "packets_s2c") as u64,
            bytes: num("bytes_c2s", "bytes_s2c") as u64,
            verdict,
            score: f("score").unwrap_or(0.0),
            reasons,
            model_score: f("model_score"),
        })
    }

    /// The pool a flagged flow went to, as the report groups them: its server name, else its
    /// address and port.
    pub fn pool_key(&self) -> String {
        match &self.name {
            Some(n) => n.to_ascii_lowercase(),
            None => self.server(),
        }
    }

    /// The server as `address:port` (`[address]:port` for IPv6).
    pub fn server(&self) -> String {
        if self.dst_ip.contains(':') {
            format!("[{}]:{}", self.dst_ip, self.dst_port)
        } else {
            format!("{}:{}", self.dst_ip, self.dst_port)
        }
    }
}

/// The file name of a capture path: a page travels, the analyst's directories need not.
fn file_name(path: &str) -> String {
    std::path::Path::new(path)
        .file_name()
        .map_or_else(|| path.to_string(), |n| n.to_string_lossy().into_owned())
}

/// The reasons of a CSV cell, joined there with `;`. A miner's agent string may hold a `;`
/// itself (`Mozilla/5.0 (Windows NT 10.0; Win64)`), so a piece that does not begin like a
/// reason (`stratum:`, `feed:`, `hint:`, `allow:`, `model:`, `probe:`) belongs to the one
/// before it.
fn split_reasons(cell: &str) -> Vec<String> {
    const KINDS: [&str; 6] = ["stratum:", "feed:", "hint:", "allow:", "model:", "probe:"];
    let mut out: Vec<String> = Vec::new();
    for piece in cell.split(crate::output::LIST_SEPARATOR) {
        match out.last_mut() {
            Some(last) if !KINDS.iter().any(|k| piece.starts_with(k)) => {
                last.push_str(crate::output::LIST_SEPARATOR);
                last.push_str(piece);
            }
            _ => out.push(piece.to_string()),
        }
    }
    out
}

/// The flagged flows as the page's table reads them: one array per column, every text column
/// an index into `strings` (host, pool and reason texts repeat across thousands of flows, and
/// a page of 100,000 flows must stay quick to parse). Row `i` is `verdict[i]`, `score[i]`, …
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlaggedTable {
    /// The distinct texts the columns point into.
    pub strings: Vec<String>,
    /// `mining` or `suspect`.
    pub verdict: Vec<Verdict>,
    /// Score.
    pub score: Vec<f64>,
    /// Client (string index).
    pub host: Vec<u32>,
    /// Pool key, [`FlowFacts::pool_key`] (string index).
    pub pool: Vec<u32>,
    /// Server `address:port` (string index).
    pub server: Vec<u32>,
    /// First packet, Unix seconds.
    pub first_seen: Vec<f64>,
    /// Last packet, Unix seconds.
    pub last_seen: Vec<f64>,
    /// Packets both ways.
    pub packets: Vec<u64>,
    /// Bytes both ways.
    pub bytes: Vec<u64>,
    /// Capture (string index).
    pub capture: Vec<u32>,
    /// Flow id within the capture.
    pub flow_id: Vec<u64>,
    /// Every reason (string indexes).
    pub reasons: Vec<Vec<u32>>,
    #[serde(skip)]
    index: std::collections::HashMap<String, u32>,
}

impl FlaggedTable {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.verdict.len()
    }

    /// Whether it has no row.
    pub fn is_empty(&self) -> bool {
        self.verdict.is_empty()
    }

    /// The text at a string index.
    pub fn text(&self, i: u32) -> &str {
        &self.strings[i as usize]
    }

    fn intern(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.strings.len() as u32;
        self.strings.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }

    fn push(&mut self, f: FlowFacts) {
        let server = f.server();
        let pool = f.pool_key();
        let row = (
            self.intern(&f.src_ip),
            self.intern(&pool),
            self.intern(&server),
            self.intern(&f.capture),
        );
        let reasons = f.reasons.iter().map(|r| self.intern(r)).collect();
        self.verdict.push(f.verdict);
        self.score.push(f.score);
        self.host.push(row.0);
        self.pool.push(row.1);
        self.server.push(row.2);
        self.capture.push(row.3);
        self.first_seen.push(f.first_seen);
        self.last_seen.push(f.last_seen);
        self.packets.push(f.packets);
        self.bytes.push(f.bytes);
        self.flow_id.push(f.flow_id);
        self.reasons.push(reasons);
    }
}

/// One client host that mined or was suspect.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRow {
    /// Client address.
    pub host: String,
    /// Its worst verdict.
    pub verdict: Verdict,
    /// Mining flows.
    pub mining_flows: usize,
    /// Suspect flows.
    pub suspect_flows: usize,
    /// First flagged packet.
    pub first_seen: f64,
    /// Last flagged packet.
    pub last_seen: f64,
    /// Pools it talked to, most flows first (at most [`HOST_POOLS`]).
    pub pools: Vec<String>,
    /// Its flagged flows as time spans per verdict, merged where they overlap:
    /// `(start, end, verdict)`.
    pub spans: Vec<(f64, f64, Verdict)>,
}

/// One pool of the top-pools table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolRow {
    /// Pool key: server name, or `address:port`.
    pub pool: String,
    /// Its worst verdict.
    pub verdict: Verdict,
    /// Flagged flows to it.
    pub flows: usize,
    /// Distinct client hosts.
    pub hosts: usize,
    /// Server addresses and ports seen.
    pub servers: Vec<String>,
    /// Certificate SHA-256 hashes seen.
    pub certs: Vec<String>,
    /// What named it: the distinct feed, hint and protocol reasons, and the model's highest
    /// probability as `model:P`.
    pub named_by: Vec<String>,
    /// First flagged packet.
    pub first_seen: f64,
    /// Last flagged packet.
    pub last_seen: f64,
}

/// Histogram of the model's calibrated probability over the flows it judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoreHistogram {
    /// Flow counts per bin of width 1/[`SCORE_BINS`], from 0.
    pub bins: Vec<usize>,
    /// Flows the model judged.
    pub judged: usize,
    /// The thresholds marked on the chart (probabilities), by name.
    pub thresholds: BTreeMap<String, f64>,
}

/// Everything the page shows, as data (embedded in it as JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportData {
    /// The run.
    pub run: RunInfo,
    /// Flows read.
    pub flows: usize,
    /// Packets in them.
    pub packets: u64,
    /// First and last packet of all flows (Unix seconds).
    pub span: Option<(f64, f64)>,
    /// Flows per verdict.
    pub verdicts: BTreeMap<String, usize>,
    /// Flagged hosts, most mining flows first, at most [`MAX_HOSTS`].
    pub hosts: Vec<HostRow>,
    /// Flagged hosts beyond [`MAX_HOSTS`], not listed (the fewest flagged flows).
    pub hosts_not_listed: usize,
    /// Top pools by flagged flows.
    pub pools: Vec<PoolRow>,
    /// Pools beyond the top ones, not listed.
    pub pools_not_listed: usize,
    /// The model's score distribution.
    pub histogram: ScoreHistogram,
    /// The flagged flows kept, highest verdict and score first, then time.
    pub flagged: FlaggedTable,
    /// Flagged flows beyond [`MAX_FLAGGED`], not listed (the lowest scores).
    pub flagged_not_listed: usize,
}

/// Collects scored flows into a [`ReportData`], in bounded memory apart from the flagged
/// flows (at most [`MAX_FLAGGED`] kept).
#[derive(Debug, Default)]
pub struct ReportBuilder {
    flows: usize,
    packets: u64,
    span: Option<(f64, f64)>,
    verdicts: BTreeMap<String, usize>,
    bins: Vec<usize>,
    judged: usize,
    flagged: Vec<FlowFacts>,
    dropped: usize,
    max_flagged: usize,
}

impl ReportBuilder {
    /// An empty builder keeping up to [`MAX_FLAGGED`] flagged flows.
    pub fn new() -> Self {
        Self::with_limit(MAX_FLAGGED)
    }

    /// An empty builder keeping up to `max_flagged` flagged flows.
    pub fn with_limit(max_flagged: usize) -> Self {
        ReportBuilder {
            bins: vec![0; SCORE_BINS],
            max_flagged: max_flagged.max(1),
            ..Default::default()
        }
    }

    /// Counts one scored flow, and keeps it when it is flagged.
    pub fn add(&mut self, f: FlowFacts) {
        self.flows += 1;
        self.packets += f.packets;
        if f.first_seen > 0.0 {
            self.span = Some(match self.span {
                None => (f.first_seen, f.last_seen.max(f.first_seen)),
                Some((a, b)) => (a.min(f.first_seen), b.max(f.last_seen)),
            });
        }
        *self
            .verdicts
            .entry(f.verdict.as_str().to_string())
            .or_default() += 1;
        if let Some(p) = f.model_score.filter(|p| p.is_finite()) {
            let bin = ((p.clamp(0.0, 1.0) * SCORE_BINS as f64) as usize).min(SCORE_BINS - 1);
            self.bins[bin] += 1;
            self.judged += 1;
        }
        if f.verdict == Verdict::Benign {
            return;
        }
        self.flagged.push(f);
        // Over the limit by half: keep the highest scores, count the rest.
        if self.flagged.len() > self.max_flagged + self.max_flagged / 2 {
            self.trim();
        }
    }

    fn trim(&mut self) {
        if self.flagged.len() <= self.max_flagged {
            return;
        }
        self.flagged.sort_by(order);
        self.dropped += self.flagged.len() - self.max_flagged;
        self.flagged.truncate(self.max_flagged);
    }

    /// The report's data, with `run` describing the run.
    pub fn finish(mut self, run: RunInfo) -> ReportData {
        self.trim();
        self.flagged.sort_by(order);
        let thresholds = run
            .models
            .iter()
            .find(|m| m.schema == crate::features::shape::SHAPE_SCHEMA)
            .or(run.models.first())
            .map(|m| {
                BTreeMap::from([
                    ("suspect".to_string(), m.suspect_at),
                    ("mining".to_string(), m.mining_at),
                ])
            })
            .unwrap_or_default();
        let (pools, pools_not_listed) = pools(&self.flagged);
        let mut hosts = hosts(&self.flagged);
        let hosts_not_listed = hosts.len().saturating_sub(MAX_HOSTS);
        hosts.truncate(MAX_HOSTS);
        ReportData {
            hosts,
            hosts_not_listed,
            pools,
            pools_not_listed,
            flows: self.flows,
            packets: self.packets,
            span: self.span,
            verdicts: self.verdicts,
            histogram: ScoreHistogram {
                bins: self.bins,
                judged: self.judged,
                thresholds,
            },
            flagged: {
                let mut t = FlaggedTable::default();
                for f in self.flagged {
                    t.push(f);
                }
                t
            },
            flagged_not_listed: self.dropped,
            run,
        }
    }
}

/// Highest verdict, then score, first; then time, capture and flow id (a total order, so the
/// page is the same on every run).
fn order(a: &FlowFacts, b: &FlowFacts) -> std::cmp::Ordering {
    b.verdict
        .cmp(&a.verdict)
        .then(b.score.total_cmp(&a.score))
        .then(a.first_seen.total_cmp(&b.first_seen))
        .then_with(|| a.capture.cmp(&b.capture))
        .then(a.flow_id.cmp(&b.flow_id))
}

/// Flagged hosts, most mining flows first, with their flows' time spans merged per verdict.
fn hosts(flagged: &[FlowFacts]) -> Vec<HostRow> {
    let mut by: BTreeMap<&str, Vec<&FlowFacts>> = BTreeMap::new();
    for f in flagged {
        by.entry(&f.src_ip).or_default().push(f);
    }
    let mut rows: Vec<HostRow> = by
        .into_iter()
        .map(|(host, flows)| {
            let mut pools: BTreeMap<String, usize> = BTreeMap::new();
            for f in &flows {
                *pools.entry(f.pool_key()).or_default() += 1;
            }
            let mut pools: Vec<(String, usize)> = pools.into_iter().collect();
            pools.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let mut spans: Vec<(f64, f64, Verdict)> = flows
                .iter()
                .map(|f| (f.first_seen, f.last_seen.max(f.first_seen), f.verdict))
                .collect();
            spans.sort_by(|a, b| a.2.cmp(&b.2).then(a.0.total_cmp(&b.0)));
            let mut merged: Vec<(f64, f64, Verdict)> = Vec::new();
            for s in spans {
                match merged.last_mut() {
                    Some(m) if m.2 == s.2 && s.0 <= m.1 => m.1 = m.1.max(s.1),
                    _ => merged.push(s),
                }
            }
            HostRow {
                host: host.to_string(),
                verdict: flows.iter().map(|f| f.verdict).max().unwrap_or_default(),
                mining_flows: flows
                    .iter()
                    .filter(|f| f.verdict == Verdict::Mining)
                    .count(),
                suspect_flows: flows
                    .iter()
                    .filter(|f| f.verdict == Verdict::Suspect)
                    .count(),
                first_seen: flows.iter().map(|f| f.first_seen).fold(f64::MAX, f64::min),
                last_seen: flows.iter().map(|f| f.last_seen).fold(f64::MIN, f64::max),
                pools: pools.into_iter().take(HOST_POOLS).map(|p| p.0).collect(),
                spans: merged,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.mining_flows
            .cmp(&a.mining_flows)
            .then(b.suspect_flows.cmp(&a.suspect_flows))
            .then(a.host.cmp(&b.host))
    });
    rows
}

/// The top pools by flagged flows, with what named them, and how many pools are not listed.
fn pools(flagged: &[FlowFacts]) -> (Vec<PoolRow>, usize) {
    #[derive(Default)]
    struct Acc<'a> {
        verdict: Verdict,
        flows: usize,
        hosts: BTreeSet<&'a str>,
        servers: BTreeSet<String>,
        certs: BTreeSet<&'a str>,
        named_by: BTreeSet<String>,
        model_max: Option<f64>,
        first: f64,
        last: f64,
    }
    let mut by: BTreeMap<String, Acc<'_>> = BTreeMap::new();
    for f in flagged {
        let a = by.entry(f.pool_key()).or_insert_with(|| Acc {
            first: f64::MAX,
            last: f64::MIN,
            ..Default::default()
        });
        a.verdict = a.verdict.max(f.verdict);
        a.flows += 1;
        a.hosts.insert(&f.src_ip);
        a.servers.insert(f.server());
        if let Some(c) = &f.cert_sha256 {
            a.certs.insert(c);
        }
        for r in &f.reasons {
            if r.starts_with("model:") {
                continue;
            }
            // `hint:port:3333 (…)`, `feed:domain:x (src date)`, `stratum:xmr:login`: the
            // protocol's agent string varies per miner and is left out.
            if !r.starts_with("stratum:agent:") && a.named_by.len() < 12 {
                a.named_by.insert(r.clone());
            }
        }
        if let Some(p) = f.model_score {
            a.model_max = Some(a.model_max.map_or(p, |m: f64| m.max(p)));
        }
        a.first = a.first.min(f.first_seen);
        a.last = a.last.max(f.last_seen);
    }
    let mut rows: Vec<PoolRow> = by
        .into_iter()
        .map(|(pool, a)| {
            let mut named_by: Vec<String> = a.named_by.into_iter().collect();
            if let Some(p) = a.model_max {
                named_by.push(format!("model:{p:.2} (highest)"));
            }
            PoolRow {
                pool,
                verdict: a.verdict,
                flows: a.flows,
                hosts: a.hosts.len(),
                servers: a.servers.into_iter().take(8).collect(),
                certs: a.certs.into_iter().take(4).map(str::to_string).collect(),
                named_by,
                first_seen: a.first,
                last_seen: a.last,
            }
        })
        .collect();
    rows.sort_by(|a, b| {
        b.verdict
            .cmp(&a.verdict)
            .then(b.flows.cmp(&a.flows))
            .then(a.pool.cmp(&b.pool))
    });
    let rest = rows.len().saturating_sub(TOP_POOLS);
    rows.truncate(TOP_POOLS);
    (rows, rest)
}

#[cfg(test)]
mod tests;
