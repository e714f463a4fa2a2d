//! Training data: flows with their model rows, where they came from, and their labels.
//!
//! Flows come from captures (run through the extractor) or from window tables (written by
//! `poolscope extract --windows` or `poolscope train --save-table`). Labels come, strongest
//! first, from a labels file, from the Stratum dissector (a confirmed plaintext mining protocol
//! is mining), from the feeds (a flow to a listed pool is mining) and from whole captures
//! declared mining or benign. A flow with no label is left out of training and counted.

use super::error::{invalid, ModelError, Result};
use crate::features::shape::{SHAPE_CONTEXT, SHAPE_FEATURES, SHAPE_SCHEMA};
use crate::intel::{FlowView, Matcher, Strength};
use crate::output::{write_table, FlowRecord, Format};
use polars::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;

/// What identifies a flow and what labelling rules look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlowMeta {
    /// Input file the flow came from.
    pub capture: String,
    /// Flow id within that input.
    pub flow_id: u64,
    /// `tcp` or `udp`.
    pub transport: String,
    /// Client address.
    pub src_ip: Option<IpAddr>,
    /// Client port.
    pub src_port: u16,
    /// Server address.
    pub dst_ip: Option<IpAddr>,
    /// Server port.
    pub dst_port: u16,
    /// TLS server name.
    pub sni: Option<String>,
    /// DNS names of the server address.
    pub dns_names: Vec<String>,
    /// Server certificate SHA-1.
    pub cert_sha1: Option<String>,
    /// Server certificate SHA-256.
    pub cert_sha256: Option<String>,
    /// Client JA3.
    pub ja3: Option<String>,
    /// Client JA4.
    pub ja4: Option<String>,
    /// Stratum dialect when the dissector confirmed a mining protocol.
    pub stratum: Option<String>,
    /// The data set the flow came from (`cjsniffer`, `ndpi`, `lab`...), for evaluation that
    /// leaves a whole source out: see [`source_of_path`].
    pub source: String,
    /// Which rendering of the flow this is when one flow gives several (a flow-export row of a
    /// capture flow cut by an exporter's active timeout: `active_timeout=300`); empty otherwise.
    pub variant: String,
    /// The flow's first packet, Unix seconds: feed rows are weighed by their distance from it.
    pub first_seen: Option<f64>,
}

impl FlowMeta {
    /// The identity and labelling fields of a flow record.
    pub fn from_record(rec: &FlowRecord) -> FlowMeta {
        FlowMeta {
            capture: rec.capture.to_string(),
            flow_id: rec.flow_id,
            transport: rec.transport.to_string(),
            src_ip: Some(rec.src_ip),
            src_port: rec.src_port,
            dst_ip: Some(rec.dst_ip),
            dst_port: rec.dst_port,
            sni: rec.tls.sni.clone(),
            dns_names: rec.dns_names.clone(),
            cert_sha1: rec.tls.cert_sha1.clone(),
            cert_sha256: rec.tls.cert_sha256.clone(),
            ja3: rec.tls.ja3.clone(),
            ja4: rec.tls.ja4.clone(),
            stratum: rec.stratum.as_ref().map(|s| s.dialect.to_string()),
            source: String::new(),
            variant: String::new(),
            first_seen: Some(rec.first_seen),
        }
    }

    /// The session a flow belongs to: its capture and pool group. A miner's hours at one pool,
    /// cut into several records, or a scanner's hundred connections to one server, are one
    /// session; training weighs sessions, not flows.
    pub fn session(&self) -> (String, String) {
        (self.capture.clone(), self.group())
    }

    /// The pool a flow belongs to for grouped cross-validation: its TLS server name, else its
    /// server address. All flows to one pool stay in one fold, so the held-out numbers say how
    /// the model does on pools it never saw.
    pub fn group(&self) -> String {
        match (&self.sni, self.dst_ip) {
            (Some(s), _) if !s.is_empty() => s.to_ascii_lowercase(),
            (_, Some(ip)) => ip.to_string(),
            _ => format!("{}#{}", self.capture, self.flow_id),
        }
    }

    fn view(&self) -> FlowView<'_> {
        FlowView {
            server_ip: self.dst_ip,
            server_port: Some(self.dst_port),
            sni: self.sni.as_deref(),
            dns_names: &self.dns_names,
            cert_sha1: self.cert_sha1.as_deref(),
            cert_sha256: self.cert_sha256.as_deref(),
            ja3: self.ja3.as_deref(),
            ja4: self.ja4.as_deref(),
            at: self.first_seen,
            ..FlowView::default()
        }
    }
}

/// One flow of a data set: identity, model rows, label.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainFlow {
    /// Identity and labelling fields.
    pub meta: FlowMeta,
    /// Model rows (windows or conversations).
    pub rows: Vec<Vec<f32>>,
    /// True = mining, false = benign, None = unlabelled.
    pub label: Option<bool>,
    /// Which rule gave the label (`labels`, `stratum`, `feeds`, `capture`).
    pub label_source: &'static str,
}

/// What a flow offers the model: how much it said each way and over how long. For window
/// rows these are application messages; for flow-export rows, packets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evidence {
    /// Client → server messages (or packets).
    pub c2s: f64,
    /// Server → client messages (or packets).
    pub s2c: f64,
    /// Seconds of the flow the rows cover.
    pub seconds: f64,
}

/// How much a flow must say before the model may judge it. A DNS query over TCP, an agent
/// poll or a pool scan (one request, one answer) cannot be told from a pool connection by its
/// shape, so the model says `insufficient` there and leaves such flows to the protocol
/// dissectors and the feeds. The same gate applies in training, evaluation and scoring.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    /// Messages (window rows) or packets (flow-export rows) needed each way.
    pub min_each_way: f64,
    /// Seconds the flow must cover.
    pub min_seconds: f64,
}

impl Default for Gate {
    fn default() -> Self {
        Gate::for_schema(SHAPE_SCHEMA)
    }
}

impl Gate {
    /// The default gate of a feature schema.
    pub fn for_schema(schema: &str) -> Gate {
        if schema == crate::features::netflow::NETFLOW_SCHEMA {
            Gate {
                min_each_way: NETFLOW_MIN_PACKETS,
                min_seconds: MIN_SECONDS,
            }
        } else {
            Gate {
                min_each_way: MIN_MESSAGES,
                min_seconds: MIN_SECONDS,
            }
        }
    }

    /// Whether the model may speak for a flow with this evidence.
    pub fn allows(&self, e: &Evidence) -> bool {
        e.c2s >= self.min_each_way && e.s2c >= self.min_each_way && e.seconds >= self.min_seconds
    }

    /// What the model says about a flow's rows: not its kind of flow, too little to judge, or
    /// judged.
    pub fn eligibility(&self, transport: &str, schema: &str, rows: &[Vec<f32>]) -> Eligibility {
        match evidence(transport, schema, rows) {
            None => Eligibility::NotApplicable,
            Some(e) if self.allows(&e) => Eligibility::Speaks(e),
            Some(e) => Eligibility::Insufficient(e),
        }
    }
}

/// Application messages each way a flow needs before the shape model speaks (default).
pub const MIN_MESSAGES: f64 = 4.0;
/// Packets each way a flow-export conversation needs before the flow-only model speaks.
pub const NETFLOW_MIN_PACKETS: f64 = 8.0;
/// Seconds a flow must cover before a model speaks (default).
pub const MIN_SECONDS: f64 = 30.0;

/// Whether the model may judge a flow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Eligibility {
    /// Not the kind of flow the model reads: not TCP, or no data in one direction.
    NotApplicable,
    /// TCP with data both ways, but less than the gate asks for.
    Insufficient(Evidence),
    /// The model judges it.
    Speaks(Evidence),
}

/// The evidence of a flow's rows: None when the model does not apply at all (not TCP, no rows,
/// or nothing in one direction).
pub fn evidence(transport: &str, schema: &str, rows: &[Vec<f32>]) -> Option<Evidence> {
    if transport != "tcp" || rows.is_empty() {
        return None;
    }
    let e = if schema == crate::features::netflow::NETFLOW_SCHEMA {
        let col = |name: &str| {
            use crate::features::netflow::{NETFLOW_CONTEXT, NETFLOW_FEATURES};
            NETFLOW_FEATURES
                .iter()
                .chain(NETFLOW_CONTEXT)
                .position(|c| *c == name)
                .expect("netflow column")
        };
        let (d, c, s) = (col("duration"), col("packets_c2s"), col("packets_s2c"));
        let get =
            |r: &[f32], i: usize| r.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0) as f64;
        rows.iter().fold(
            Evidence {
                c2s: 0.0,
                s2c: 0.0,
                seconds: 0.0,
            },
            |a, r| Evidence {
                c2s: a.c2s + get(r, c),
                s2c: a.s2c + get(r, s),
                seconds: a.seconds.max(get(r, d)),
            },
        )
    } else if schema == SHAPE_SCHEMA {
        let (age, c, s) = (
            shape_col("flow_age_s"),
            shape_col("msgs_c2s"),
            shape_col("msgs_s2c"),
        );
        let get =
            |r: &[f32], i: usize| r.get(i).copied().filter(|v| v.is_finite()).unwrap_or(0.0) as f64;
        rows.iter().fold(
            Evidence {
                c2s: 0.0,
                s2c: 0.0,
                seconds: 0.0,
            },
            |a, r| Evidence {
                c2s: a.c2s + get(r, c),
                s2c: a.s2c + get(r, s),
                seconds: a.seconds.max(get(r, age)),
            },
        )
    } else {
        return None;
    };
    (e.c2s > 0.0 && e.s2c > 0.0).then_some(e)
}

/// The rows of a flow the model scores: for window rows, the windows with messages both ways
/// (a quiet window says nothing), or every window when none has; flow-export rows all.
pub fn scored_rows<'a>(schema: &str, rows: &'a [Vec<f32>]) -> Vec<&'a [f32]> {
    if schema == SHAPE_SCHEMA {
        let (c, s) = (shape_col("msgs_c2s"), shape_col("msgs_s2c"));
        let talking: Vec<&[f32]> = rows
            .iter()
            .filter(|r| r.get(c).is_some_and(|&v| v > 0.0) && r.get(s).is_some_and(|&v| v > 0.0))
            .map(|r| r.as_slice())
            .collect();
        if !talking.is_empty() {
            return talking;
        }
    }
    rows.iter().map(|r| r.as_slice()).collect()
}

/// Index of a column (feature or context) of a window row.
fn shape_col(name: &str) -> usize {
    SHAPE_FEATURES
        .iter()
        .chain(SHAPE_CONTEXT)
        .position(|c| *c == name)
        .expect("shape column")
}

/// The data set a capture belongs to, for leave-one-source-out evaluation: the directory
/// given on the command line that it was found under, or for a capture given by name its own
/// directory. A directory named `pcap`, `pcaps` or `captures` stands for its parent
/// (`ndpi/pcap` is `ndpi`).
pub fn source_of_path(path: &Path, given: Option<&Path>) -> String {
    let mut d = match given.filter(|g| g.is_dir()) {
        Some(g) => g,
        None => path.parent().unwrap_or(Path::new("")),
    };
    loop {
        let name = d.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let generic = matches!(
            name.to_ascii_lowercase().as_str(),
            "pcap" | "pcaps" | "captures"
        );
        match d.parent() {
            Some(p) if generic => d = p,
            _ if name.is_empty() => return ".".to_string(),
            _ => return name.to_string(),
        }
    }
}

/// One rule of a labels file: every given field must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelRule {
    /// Capture path or file name; `*` matches any run of characters.
    pub capture: Option<String>,
    /// Client address.
    pub src_ip: Option<IpAddr>,
    /// Client port.
    pub src_port: Option<u16>,
    /// Server address.
    pub dst_ip: Option<IpAddr>,
    /// Server port.
    pub dst_port: Option<u16>,
    /// `tcp` or `udp`.
    pub transport: Option<String>,
    /// Server: an address, `address:port`, or a name matched against the SNI and DNS names
    /// (equal, or a subdomain of it).
    pub server: Option<String>,
    /// True = mining.
    pub mining: bool,
}

impl LabelRule {
    /// True when every field the rule sets matches the flow.
    pub fn matches(&self, m: &FlowMeta) -> bool {
        if let Some(c) = &self.capture {
            if !capture_matches(c, &m.capture) {
                return false;
            }
        }
        if self.src_ip.is_some() && self.src_ip != m.src_ip {
            return false;
        }
        if self.dst_ip.is_some() && self.dst_ip != m.dst_ip {
            return false;
        }
        if self.src_port.is_some_and(|p| p != m.src_port)
            || self.dst_port.is_some_and(|p| p != m.dst_port)
        {
            return false;
        }
        if self
            .transport
            .as_ref()
            .is_some_and(|t| !t.eq_ignore_ascii_case(&m.transport))
        {
            return false;
        }
        if let Some(s) = &self.server {
            return server_matches(s, m);
        }
        true
    }
}

fn server_matches(s: &str, m: &FlowMeta) -> bool {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return m.dst_ip == Some(ip);
    }
    if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        return m.dst_ip == Some(sa.ip()) && m.dst_port == sa.port();
    }
    let s = s.to_ascii_lowercase();
    let under = |n: &str| {
        let n = n.to_ascii_lowercase();
        n == s || n.ends_with(&format!(".{s}"))
    };
    m.sni.as_deref().is_some_and(under) || m.dns_names.iter().any(|n| under(n))
}

/// Whether a capture path matches a `*` pattern, as a whole path or by its file name.
pub fn capture_matches(pattern: &str, capture: &str) -> bool {
    let name = Path::new(capture)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    glob(pattern, capture) || glob(pattern, name)
}

/// `*`-wildcard match of a whole string.
fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            let Some(r) = rest.strip_prefix(p) else {
                return false;
            };
            rest = r;
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            let Some(at) = rest.find(p) else {
                return false;
            };
            rest = &rest[at + p.len()..];
        }
    }
    true
}

/// Reads a labels CSV: a `label` column (`mining`/`benign`, also `1`/`0`) and any of
/// `capture`, `src_ip`, `src_port`, `dst_ip`, `dst_port`, `transport`, `server`. Errors name the
/// file and line.
pub fn read_labels(path: &Path) -> Result<Vec<LabelRule>> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, "read labels", e))?;
    // RFC 4180 CSV (a server name or capture pattern may be quoted); `#` lines are comments.
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            invalid!("{}:{line}: {e}", path.display())
        })?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        records.push((line, rec));
    }
    let mut lines = records.into_iter();
    let Some((header_line, header)) = lines.next() else {
        return Err(invalid!("{}: empty labels file", path.display()));
    };
    let cols: Vec<String> = header.iter().map(|c| c.to_ascii_lowercase()).collect();
    const KNOWN: &[&str] = &[
        "label",
        "capture",
        "src_ip",
        "src_port",
        "dst_ip",
        "dst_port",
        "transport",
        "server",
    ];
    if let Some(c) = cols.iter().find(|c| !KNOWN.contains(&c.as_str())) {
        return Err(invalid!(
            "{}:{header_line}: unknown column {c:?} (known: {})",
            path.display(),
            KNOWN.join(", ")
        ));
    }
    if !cols.iter().any(|c| c == "label") {
        return Err(invalid!(
            "{}:{header_line}: no `label` column",
            path.display()
        ));
    }
    let mut rules = Vec::new();
    for (i, rec) in lines {
        let at = || format!("{}:{i}", path.display());
        let vals: Vec<&str> = rec.iter().collect();
        if vals.len() != cols.len() {
            return Err(invalid!(
                "{}: {} fields, header has {}",
                at(),
                vals.len(),
                cols.len()
            ));
        }
        let mut r = LabelRule::default();
        let mut label = None;
        for (c, v) in cols.iter().zip(&vals) {
            if v.is_empty() {
                continue;
            }
            let ip = |v: &str| {
                v.parse::<IpAddr>()
                    .map_err(|_| invalid!("{}: {c} {v:?} is not an IP address", at()))
            };
            let port = |v: &str| {
                v.parse::<u16>()
                    .map_err(|_| invalid!("{}: {c} {v:?} is not a port", at()))
            };
            match c.as_str() {
                "label" => {
                    label = Some(match v.to_ascii_lowercase().as_str() {
                        "mining" | "1" | "true" => true,
                        "benign" | "0" | "false" => false,
                        other => {
                            return Err(invalid!(
                                "{}: label {other:?} is not mining or benign",
                                at()
                            ))
                        }
                    })
                }
                "capture" => r.capture = Some(v.to_string()),
                "src_ip" => r.src_ip = Some(ip(v)?),
                "dst_ip" => r.dst_ip = Some(ip(v)?),
                "src_port" => r.src_port = Some(port(v)?),
                "dst_port" => r.dst_port = Some(port(v)?),
                "transport" => r.transport = Some(v.to_string()),
                _ => r.server = Some(v.to_string()),
            }
        }
        r.mining = label.ok_or_else(|| invalid!("{}: no label", at()))?;
        rules.push(r);
    }
    Ok(rules)
}

/// How to label flows.
#[derive(Default)]
pub struct Labeller {
    /// Rules of a labels file (the last matching rule wins).
    pub rules: Vec<LabelRule>,
    /// Confirmed plaintext mining protocols are mining.
    pub from_stratum: bool,
    /// Strong feed matches are mining.
    pub feeds: Option<Matcher>,
    /// Whole captures: path → mining (true) or benign (false).
    pub captures: BTreeMap<String, bool>,
}

impl Labeller {
    /// The label of a flow and the rule that gave it.
    pub fn label(&self, m: &FlowMeta) -> (Option<bool>, &'static str) {
        if let Some(r) = self.rules.iter().rev().find(|r| r.matches(m)) {
            return (Some(r.mining), "labels");
        }
        if self.from_stratum && m.stratum.is_some() {
            return (Some(true), "stratum");
        }
        if let Some(f) = &self.feeds {
            let hits = f.match_flow(&m.view());
            if hits
                .iter()
                .any(|h| h.is_effective() && h.strength == Strength::Mining)
            {
                return (Some(true), "feeds");
            }
        }
        if let Some(&l) = self.captures.get(&m.capture) {
            return (Some(l), "capture");
        }
        (None, "")
    }
}

/// Fixed columns of a window table, before the feature columns.
pub const TABLE_ID_COLUMNS: &[&str] = &[
    "capture",
    "flow_id",
    "window",
    "transport",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "sni",
    "dns_names",
    "cert_sha1",
    "cert_sha256",
    "ja3",
    "ja4",
    "stratum",
    "source",
    "variant",
    "first_seen",
    "label",
    "label_source",
];

/// The window-table rows of one flow: identity columns first, then the features.
pub fn window_rows(f: &TrainFlow, feature_names: &[&str]) -> Vec<Map<String, Value>> {
    let m = &f.meta;
    let opt = |s: &Option<String>| s.clone().map_or(Value::Null, Value::String);
    f.rows
        .iter()
        .enumerate()
        .map(|(w, r)| {
            let mut o = Map::new();
            o.insert("capture".into(), m.capture.clone().into());
            o.insert("flow_id".into(), m.flow_id.into());
            o.insert("window".into(), (w as u64).into());
            o.insert("transport".into(), m.transport.clone().into());
            o.insert(
                "src_ip".into(),
                m.src_ip.map_or(Value::Null, |i| i.to_string().into()),
            );
            o.insert("src_port".into(), m.src_port.into());
            o.insert(
                "dst_ip".into(),
                m.dst_ip.map_or(Value::Null, |i| i.to_string().into()),
            );
            o.insert("dst_port".into(), m.dst_port.into());
            o.insert("sni".into(), opt(&m.sni));
            o.insert("dns_names".into(), m.dns_names.join(";").into());
            o.insert("cert_sha1".into(), opt(&m.cert_sha1));
            o.insert("cert_sha256".into(), opt(&m.cert_sha256));
            o.insert("ja3".into(), opt(&m.ja3));
            o.insert("ja4".into(), opt(&m.ja4));
            o.insert("stratum".into(), opt(&m.stratum));
            o.insert("source".into(), m.source.clone().into());
            o.insert(
                "first_seen".into(),
                m.first_seen
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number),
            );
            o.insert("variant".into(), m.variant.clone().into());
            o.insert(
                "label".into(),
                match f.label {
                    Some(true) => "mining".into(),
                    Some(false) => "benign".into(),
                    None => Value::Null,
                },
            );
            o.insert("label_source".into(), f.label_source.into());
            for (name, v) in feature_names.iter().zip(r) {
                // Always a float (1.0, not 1) so every format keeps the column's type.
                let v = serde_json::Number::from_f64(*v as f64).map_or(Value::Null, Value::Number);
                o.insert((*name).into(), v);
            }
            o
        })
        .collect()
}

/// Writes flows as a window table: one row per model row, identity columns first.
pub fn write_window_table(path: &Path, flows: &[TrainFlow], feature_names: &[&str]) -> Result<()> {
    let format = Format::from_path(path).unwrap_or(Format::Parquet);
    let rows: Vec<Map<String, Value>> = flows
        .iter()
        .flat_map(|f| window_rows(f, feature_names))
        .collect();
    let file = std::fs::File::create(path).map_err(|e| ModelError::io(path, "create", e))?;
    write_table(Box::new(file), path, format, &rows)?;
    Ok(())
}

/// The format of a table: Parquet or NDJSON by their first bytes, else by the extension, else
/// CSV.
fn table_format(path: &Path) -> Result<Format> {
    use std::io::Read;
    let mut b = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(|e| ModelError::io(path, "open", e))?;
    let n = f.read(&mut b).unwrap_or(0);
    let head = &b[..n];
    Ok(if head.starts_with(b"PAR1") {
        Format::Parquet
    } else if head.first() == Some(&b'{') {
        Format::Ndjson
    } else {
        Format::from_path(path).unwrap_or(Format::Csv)
    })
}

/// The column names of a table, read from its header (CSV), schema (Parquet) or first object
/// (NDJSON) without loading the rows.
pub fn table_columns(path: &Path) -> Result<Vec<String>> {
    use std::io::BufRead;
    let open = || std::fs::File::open(path).map_err(|e| ModelError::io(path, "open", e));
    match table_format(path)? {
        Format::Parquet => {
            let schema = ParquetReader::new(open()?)
                .schema()
                .map_err(|e| invalid!("{}: {e}", path.display()))?;
            Ok(schema.iter_names().map(|n| n.to_string()).collect())
        }
        format => {
            let mut first = String::new();
            std::io::BufReader::new(open()?)
                .read_line(&mut first)
                .map_err(|e| ModelError::io(path, "read", e))?;
            if format == Format::Ndjson {
                let obj: Map<String, Value> = serde_json::from_str(first.trim())
                    .map_err(|e| invalid!("{}:1: {e}", path.display()))?;
                Ok(obj.keys().cloned().collect())
            } else {
                Ok(first
                    .trim_end_matches(['\r', '\n'])
                    .split(',')
                    .map(|c| c.trim().trim_matches('"').to_string())
                    .collect())
            }
        }
    }
}

/// Reads a CSV, Parquet or NDJSON table with polars (format from the first bytes, else from
/// the extension).
pub fn read_frame(path: &Path) -> Result<DataFrame> {
    let format = table_format(path)?;
    let file = std::fs::File::open(path).map_err(|e| ModelError::io(path, "open", e))?;
    let df = match format {
        Format::Parquet => ParquetReader::new(file).finish(),
        Format::Ndjson => JsonReader::new(file)
            .with_json_format(JsonFormat::JsonLines)
            .finish(),
        Format::Csv => CsvReadOptions::default()
            .with_has_header(true)
            .with_infer_schema_length(Some(10_000))
            .try_into_reader_with_file_path(Some(path.to_path_buf()))
            .and_then(|r| r.finish()),
    };
    df.map_err(|e| invalid!("{}: {e}", path.display()))
}

/// Reads a window table back into flows (rows of one flow grouped by capture, flow id and
/// variant, in window order). The row columns must be exactly those of `feature_names`
/// (features, then context columns).
pub fn read_window_table(path: &Path, feature_names: &[&str]) -> Result<Vec<TrainFlow>> {
    let df = read_frame(path)?;
    let missing: Vec<&str> = feature_names
        .iter()
        .copied()
        .filter(|c| df.column(c).is_err())
        .collect();
    if !missing.is_empty() {
        return Err(invalid!(
            "{}: not a window table of this feature schema; missing columns: {}",
            path.display(),
            missing.join(", ")
        ));
    }
    let n = df.height();
    let strs = |name: &str| -> Result<Vec<Option<String>>> {
        match df.column(name) {
            Ok(c) => {
                let c = c
                    .cast(&DataType::String)
                    .map_err(|e| invalid!("{}: column {name}: {e}", path.display()))?;
                Ok(c.str()
                    .map_err(|e| ModelError::table(path, e))?
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect())
            }
            Err(_) => Ok(vec![None; n]),
        }
    };
    let nums = |name: &str| -> Result<Vec<Option<f64>>> {
        match df.column(name) {
            Ok(c) => {
                let c = c
                    .cast(&DataType::Float64)
                    .map_err(|e| invalid!("{}: column {name}: {e}", path.display()))?;
                Ok(c.f64()
                    .map_err(|e| ModelError::table(path, e))?
                    .iter()
                    .collect())
            }
            Err(_) => Ok(vec![None; n]),
        }
    };
    let capture = strs("capture")?;
    let flow_id = nums("flow_id")?;
    let transport = strs("transport")?;
    let src_ip = strs("src_ip")?;
    let src_port = nums("src_port")?;
    let dst_ip = strs("dst_ip")?;
    let dst_port = nums("dst_port")?;
    let sni = strs("sni")?;
    let dns = strs("dns_names")?;
    let sha1 = strs("cert_sha1")?;
    let sha256 = strs("cert_sha256")?;
    let ja3 = strs("ja3")?;
    let ja4 = strs("ja4")?;
    let stratum = strs("stratum")?;
    let source = strs("source")?;
    let variant = strs("variant")?;
    let first_seen = nums("first_seen")?;
    let label = strs("label")?;
    let label_source = strs("label_source")?;
    let feats: Vec<Vec<Option<f64>>> = feature_names
        .iter()
        .map(|c| nums(c))
        .collect::<Result<_>>()?;
    let mut flows: Vec<TrainFlow> = Vec::new();
    let mut index: BTreeMap<(String, u64, String), usize> = BTreeMap::new();
    for i in 0..n {
        let line = i + 2;
        let cap = capture[i].clone().unwrap_or_default();
        let id = flow_id[i].unwrap_or(i as f64) as u64;
        let row: Vec<f32> = feats
            .iter()
            .map(|c| c[i].map_or(f32::NAN, |v| v as f32))
            .collect();
        let parse_ip = |v: &Option<String>, what: &str| -> Result<Option<IpAddr>> {
            match v.as_deref() {
                None | Some("") => Ok(None),
                Some(s) => s.parse().map(Some).map_err(|_| {
                    invalid!(
                        "{} row {line}: {what} {s:?} is not an address",
                        path.display()
                    )
                }),
            }
        };
        let var = variant[i].clone().unwrap_or_default();
        let key = (cap.clone(), id, var.clone());
        if let Some(&at) = index.get(&key) {
            flows[at].rows.push(row);
            continue;
        }
        let lab = match label[i].as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("mining") => Some(true),
            Some("benign") => Some(false),
            None | Some("") => None,
            Some(other) => {
                return Err(invalid!(
                    "{} row {line}: label {other:?} is not mining or benign",
                    path.display()
                ))
            }
        };
        let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let meta = FlowMeta {
            source: nonempty(&source[i]).unwrap_or_else(|| source_of_path(Path::new(&cap), None)),
            variant: var,
            capture: cap,
            flow_id: id,
            transport: transport[i].clone().unwrap_or_else(|| "tcp".into()),
            src_ip: parse_ip(&src_ip[i], "src_ip")?,
            src_port: src_port[i].unwrap_or(0.0) as u16,
            dst_ip: parse_ip(&dst_ip[i], "dst_ip")?,
            dst_port: dst_port[i].unwrap_or(0.0) as u16,
            sni: nonempty(&sni[i]),
            dns_names: dns[i]
                .as_deref()
                .unwrap_or("")
                .split(';')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            cert_sha1: nonempty(&sha1[i]),
            cert_sha256: nonempty(&sha256[i]),
            ja3: nonempty(&ja3[i]),
            ja4: nonempty(&ja4[i]),
            stratum: nonempty(&stratum[i]),
            first_seen: first_seen[i],
        };
        index.insert(key, flows.len());
        flows.push(TrainFlow {
            meta,
            rows: vec![row],
            label: lab,
            label_source: match label_source[i].as_deref() {
                _ if lab.is_none() => "",
                Some("labels") => "labels",
                Some("stratum") => "stratum",
                Some("feeds") => "feeds",
                Some("capture") => "capture",
                _ => "table",
            },
        });
    }
    Ok(flows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> FlowMeta {
        FlowMeta {
            capture: "/data/lab/xmrig-rx-tls.pcap".into(),
            flow_id: 3,
            transport: "tcp".into(),
            src_ip: "10.0.0.5".parse().ok(),
            src_port: 40000,
            dst_ip: "192.0.2.7".parse().ok(),
            dst_port: 3334,
            sni: Some("Pool.Example.org".into()),
            source: "lab".into(),
            ..Default::default()
        }
    }

    #[test]
    fn sources_of_paths() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for d in ["cjsniffer/pcap", "lab"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        let cj = root.join("cjsniffer/pcap/a.pcap");
        // The data set's own capture folder given: `pcap` stands for its parent.
        assert_eq!(
            source_of_path(&cj, Some(&root.join("cjsniffer/pcap"))),
            "cjsniffer"
        );
        assert_eq!(
            source_of_path(&cj, Some(&root.join("cjsniffer"))),
            "cjsniffer"
        );
        // A file given by name: its directory.
        assert_eq!(source_of_path(&root.join("lab/x.pcap"), None), "lab");
        assert_eq!(source_of_path(Path::new("x.pcap"), None), ".");
    }

    #[test]
    fn rules_match_on_every_given_field() {
        let m = meta();
        let r = |capture: Option<&str>, server: Option<&str>, port: Option<u16>| LabelRule {
            capture: capture.map(str::to_string),
            server: server.map(str::to_string),
            dst_port: port,
            mining: true,
            ..Default::default()
        };
        assert!(r(Some("xmrig-*-tls.pcap"), None, None).matches(&m));
        assert!(r(Some("*/lab/*"), None, None).matches(&m));
        assert!(!r(Some("benign-*"), None, None).matches(&m));
        assert!(r(None, Some("example.org"), Some(3334)).matches(&m));
        assert!(!r(None, Some("ample.org"), None).matches(&m));
        assert!(r(None, Some("192.0.2.7:3334"), None).matches(&m));
        assert!(!r(None, Some("192.0.2.7:3333"), None).matches(&m));
        assert_eq!(m.group(), "pool.example.org");
    }

    #[test]
    fn labels_file_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l.csv");
        std::fs::write(&p, "capture,label\na.pcap,mining\nb.pcap,maybe\n").unwrap();
        let e = read_labels(&p).unwrap_err().to_string();
        assert!(e.contains("l.csv:3") && e.contains("maybe"), "{e}");
        std::fs::write(
            &p,
            "capture,label,dst_ip\na.pcap,mining,\n,benign,10.1.1.1\n",
        )
        .unwrap();
        let rules = read_labels(&p).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[1].dst_ip, "10.1.1.1".parse().ok());
        assert!(!rules[1].mining);
    }

    #[test]
    fn window_table_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut row = vec![1.5f32; SHAPE_FEATURES.len()];
        row[3] = f32::NAN;
        let flows = vec![TrainFlow {
            meta: meta(),
            rows: vec![row.clone(), vec![2.0; SHAPE_FEATURES.len()]],
            label: Some(true),
            label_source: "stratum",
        }];
        for ext in ["parquet", "csv", "ndjson"] {
            let p = dir.path().join(format!("t.{ext}"));
            write_window_table(&p, &flows, SHAPE_FEATURES).unwrap();
            let mut cols = table_columns(&p).unwrap();
            let mut expected: Vec<&str> = TABLE_ID_COLUMNS
                .iter()
                .chain(SHAPE_FEATURES)
                .copied()
                .collect();
            cols.sort();
            expected.sort();
            assert_eq!(cols, expected, "{ext}");
            let back = read_window_table(&p, SHAPE_FEATURES).unwrap();
            assert_eq!(back.len(), 1, "{ext}");
            assert_eq!(back[0].meta, flows[0].meta, "{ext}");
            assert_eq!(back[0].rows.len(), 2);
            assert!(back[0].rows[0][3].is_nan());
            assert_eq!(back[0].rows[1], flows[0].rows[1]);
            assert_eq!(back[0].label, Some(true));
        }
    }
}
