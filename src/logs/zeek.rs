//! Zeek's `conn.log`, `ssl.log` and `x509.log`, TSV or JSON, joined into flows.
//!
//! The join needs the certificates and the TLS sessions in memory: `x509.log` rows are kept
//! keyed by fingerprint (and by file id, for older Zeek whose `ssl.log` names certificates by
//! `cert_chain_fuids`), `ssl.log` rows keyed by connection `uid`. That is one small row per TLS
//! session and per distinct certificate, which a day of logs affords. `conn.log`, the large
//! one, is streamed: each row is written as soon as it is read, with its TLS session when there
//! is one; TLS sessions whose connection never appears are written at the end with what
//! `ssl.log` says (addresses, TLS columns, its start time, no counters).
//!
//! Zeek's client is `id.orig_h`. `orig_bytes`/`resp_bytes` are payload bytes (from TCP
//! sequence numbers) and `orig_ip_bytes`/`resp_ip_bytes` IP bytes, so they go to the record's
//! `payload_bytes_*` and `bytes_*` columns. Unset (`-`) and empty (`(empty)`) fields are null.

use super::{parse_time, Emit, LogFlow, LogSummary, ZeekLog};
use crate::error::Result;
use rustc_hash::FxHashMap;
use serde_json::Value;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The log a `#path` value names.
pub fn log_of_name(name: &str) -> ZeekLog {
    match name {
        "conn" => ZeekLog::Conn,
        "ssl" => ZeekLog::Ssl,
        "x509" => ZeekLog::X509,
        other => ZeekLog::Other(other.to_string()),
    }
}

/// The log its columns say a file is (JSON logs, and TSV logs without `#path`).
pub fn log_of_columns(cols: &[&str]) -> ZeekLog {
    let has = |c: &str| cols.contains(&c);
    if (has("fingerprint") || has("id")) && cols.iter().any(|c| c.starts_with("certificate.")) {
        ZeekLog::X509
    } else if has("id.orig_h")
        && (has("server_name") || has("cert_chain_fps") || has("cert_chain_fuids"))
    {
        ZeekLog::Ssl
    } else if has("id.orig_h") && (has("conn_state") || has("orig_ip_bytes")) {
        ZeekLog::Conn
    } else {
        ZeekLog::Other("unknown".into())
    }
}

/// The `#`-headers of a TSV log: separators, null markers and column names.
#[derive(Debug, Clone)]
pub struct Header {
    /// Field separator (`#separator \x09`).
    pub separator: String,
    /// Separator of set and vector elements.
    pub set_separator: String,
    /// The text of an empty field (`(empty)`).
    pub empty: String,
    /// The text of an unset field (`-`).
    pub unset: String,
    /// Column names (`#fields`); empty until that header comes.
    pub fields: Vec<String>,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            separator: "\t".into(),
            set_separator: ",".into(),
            empty: "(empty)".into(),
            unset: "-".into(),
            fields: Vec::new(),
        }
    }
}

/// Undoes Zeek's escapes in a TSV field (`\x09`, `\\`).
pub fn unescape(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') {
            if let Some(v) = s
                .get(i + 2..i + 4)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Header {
    /// Reads one `#` line into the header; false when it is no header (a comment).
    pub fn read(&mut self, line: &str) -> bool {
        let (key, value) = match line.split_once([' ', '\t']) {
            Some((k, v)) => (k, v),
            None => (line, ""),
        };
        match key {
            "#separator" => {
                let s = unescape(value.trim());
                if !s.is_empty() {
                    self.separator = s;
                }
            }
            "#set_separator" => self.set_separator = unescape(value),
            "#empty_field" => self.empty = unescape(value),
            "#unset_field" => self.unset = unescape(value),
            "#fields" => {
                self.fields = value
                    .split(self.separator.as_str())
                    .map(str::to_string)
                    .collect();
            }
            _ => return false,
        }
        true
    }
}

/// Named access to the fields of one row, whatever the log's format.
pub trait Row {
    /// The text of a field; None when absent, unset or empty.
    fn text(&self, name: &str) -> Option<String>;
    /// The elements of a set or vector field (empty when absent, unset or empty).
    fn list(&self, name: &str) -> Vec<String>;
}

/// A TSV row: its fields split by the header's separator.
pub struct TsvRow<'a> {
    header: &'a Header,
    values: Vec<&'a str>,
}

impl<'a> TsvRow<'a> {
    /// Splits a data line; Err with the reason when the field count is not the header's.
    pub fn parse(header: &'a Header, line: &'a str) -> std::result::Result<Self, String> {
        if header.fields.is_empty() {
            return Err("data before the #fields header".into());
        }
        let values: Vec<&str> = line.split(header.separator.as_str()).collect();
        if values.len() != header.fields.len() {
            return Err(format!(
                "bad field count ({} fields, the header has {})",
                values.len(),
                header.fields.len()
            ));
        }
        Ok(TsvRow { header, values })
    }

    fn raw(&self, name: &str) -> Option<&'a str> {
        let i = self.header.fields.iter().position(|f| f == name)?;
        let v = self.values[i];
        (v != self.header.unset && v != self.header.empty && !v.is_empty()).then_some(v)
    }
}

impl Row for TsvRow<'_> {
    fn text(&self, name: &str) -> Option<String> {
        self.raw(name).map(unescape)
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.raw(name)
            .map(|v| {
                v.split(self.header.set_separator.as_str())
                    .filter(|e| !e.is_empty() && *e != self.header.unset)
                    .map(unescape)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A JSON row (`LogAscii::use_json=T`): flat keys such as `id.orig_h`.
pub struct JsonRow(pub serde_json::Map<String, Value>);

fn json_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() && s != "-" && s != "(empty)" => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "T" } else { "F" }.to_string()),
        _ => None,
    }
}

impl Row for JsonRow {
    fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(json_text)
    }

    fn list(&self, name: &str) -> Vec<String> {
        match self.0.get(name) {
            Some(Value::Array(a)) => a.iter().filter_map(json_text).collect(),
            Some(v) => json_text(v).into_iter().collect(),
            None => Vec::new(),
        }
    }
}

/// What `x509.log` says of one certificate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cert {
    /// Subject as Zeek writes it (`CN=…,O=…`).
    pub subject: Option<String>,
    /// Issuer, same format.
    pub issuer: Option<String>,
    /// notBefore, ISO 8601 UTC.
    pub not_before: Option<String>,
    /// notAfter, ISO 8601 UTC.
    pub not_after: Option<String>,
    /// subjectAltName DNS names and addresses.
    pub san: Vec<String>,
}

/// One `ssl.log` row, kept until its connection comes.
#[derive(Debug, Clone)]
struct Session {
    flow: LogFlow,
    used: bool,
}

/// Reads the timestamp field `ts`, counting a masked one.
fn row_time(row: &dyn Row, summary: &mut LogSummary) -> f64 {
    match row.text("ts").map(|t| parse_time(&t)) {
        Some(Ok(Some(t))) => t,
        Some(Err(())) => {
            summary.masked_times += 1;
            f64::NAN
        }
        _ => f64::NAN,
    }
}

/// The client and server of a row (`id.orig_h:id.orig_p` is the client).
fn endpoints(row: &dyn Row) -> Option<((IpAddr, u16), (IpAddr, u16))> {
    let ip = |n: &str| row.text(n)?.parse::<IpAddr>().ok();
    let port = |n: &str| row.text(n)?.parse::<u16>().ok();
    Some((
        (ip("id.orig_h")?, port("id.orig_p")?),
        (ip("id.resp_h")?, port("id.resp_p")?),
    ))
}

fn count(row: &dyn Row, name: &str) -> Option<u64> {
    row.text(name)?.parse().ok()
}

fn pair(row: &dyn Row, a: &str, b: &str) -> Option<(u64, u64)> {
    match (count(row, a), count(row, b)) {
        (None, None) => None,
        (x, y) => Some((x.unwrap_or(0), y.unwrap_or(0))),
    }
}

/// TCP flags each way from Zeek's `history` letters: upper case for the originator, lower
/// case for the responder; S and H (SYN, SYN-ACK) → SYN, F → FIN, R → RST, D (data) → PSH,
/// which stacks set on data segments, as an exporter would have seen it.
pub fn history_flags(history: &str) -> (u8, u8) {
    use crate::decode::tcp_flags::{ACK, FIN, PSH, RST, SYN};
    let mut f = (0u8, 0u8);
    for c in history.chars() {
        let side = if c.is_ascii_uppercase() {
            &mut f.0
        } else {
            &mut f.1
        };
        *side |= match c.to_ascii_lowercase() {
            's' | 'h' => SYN,
            'f' => FIN,
            'r' => RST,
            'd' => PSH | ACK,
            'a' => ACK,
            _ => 0,
        };
    }
    f
}

/// The flow of a `conn.log` row; Err names what is missing.
fn conn_flow(
    row: &dyn Row,
    capture: &Arc<str>,
    summary: &mut LogSummary,
) -> std::result::Result<Option<LogFlow>, &'static str> {
    let (client, server) = endpoints(row).ok_or("no connection addresses")?;
    let transport = match row.text("proto").as_deref() {
        Some("tcp") => "tcp",
        Some("udp") => "udp",
        Some(_) => {
            summary.other_protocols += 1;
            return Ok(None);
        }
        None => "",
    };
    let mut f = LogFlow::new(transport, client, server, capture.clone());
    f.first = row_time(row, summary);
    f.duration = match row.text("duration") {
        Some(d) => d.parse().unwrap_or(f64::NAN),
        // Zeek leaves the duration unset for a connection of one packet.
        None if row.text("orig_pkts").is_some() => 0.0,
        None => f64::NAN,
    };
    f.packets = pair(row, "orig_pkts", "resp_pkts");
    f.ip_bytes = pair(row, "orig_ip_bytes", "resp_ip_bytes");
    f.payload_bytes = pair(row, "orig_bytes", "resp_bytes");
    if transport == "tcp" {
        f.tcp_flags = row.text("history").map(|h| history_flags(&h));
    }
    Ok(Some(f))
}

/// The TLS session of an `ssl.log` row, with its certificate from `x509.log` when known.
fn ssl_flow(
    row: &dyn Row,
    capture: &Arc<str>,
    certs: &FxHashMap<String, Cert>,
    summary: &mut LogSummary,
) -> Option<LogFlow> {
    let (client, server) = endpoints(row)?;
    let mut f = LogFlow::new("", client, server, capture.clone());
    f.first = row_time(row, summary);
    let t = &mut f.tls;
    t.sni = row.text("server_name");
    t.tls_version = row.text("version").and_then(|v| super::tls_version(&v));
    t.cert_encrypted = t.tls_version.as_deref() == Some("1.3");
    t.ja3 = row.text("ja3");
    t.ja3s = row.text("ja3s");
    t.ja4 = row.text("ja4");
    t.ja4s = row.text("ja4s");
    let fps = row.list("cert_chain_fps");
    let fuids = row.list("cert_chain_fuids");
    if let Some(leaf) = fps.first().and_then(|h| super::plain_hex(h)) {
        match leaf.len() {
            64 => {
                t.cert_sha256 = Some(leaf);
                t.cert_chain_sha256 = fps.iter().filter_map(|h| super::plain_hex(h)).collect();
            }
            40 => t.cert_sha1 = Some(leaf),
            _ => {}
        }
    }
    let cert = fps
        .first()
        .and_then(|k| certs.get(&k.to_ascii_lowercase()))
        .or_else(|| fuids.first().and_then(|k| certs.get(k)));
    t.cert_subject = row.text("subject");
    t.cert_issuer = row.text("issuer");
    if let Some(c) = cert {
        summary.x509_joined += 1;
        t.cert_subject = t.cert_subject.take().or_else(|| c.subject.clone());
        t.cert_issuer = t.cert_issuer.take().or_else(|| c.issuer.clone());
        t.cert_not_before = c.not_before.clone();
        t.cert_not_after = c.not_after.clone();
        t.cert_san = c.san.clone();
    }
    Some(f)
}

fn x509_cert(row: &dyn Row) -> Cert {
    let date = |n: &str| {
        row.text(n)
            .and_then(|t| parse_time(&t).ok().flatten())
            .and_then(super::iso_utc)
    };
    let mut san = row.list("san.dns");
    san.extend(row.list("san.ip"));
    Cert {
        subject: row.text("certificate.subject"),
        issuer: row.text("certificate.issuer"),
        not_before: date("certificate.not_valid_before"),
        not_after: date("certificate.not_valid_after"),
        san,
    }
}

/// Reads every line of one Zeek log, TSV or JSON, handing each data row to `f`. Lines that
/// do not parse are counted and named.
fn each_row(
    path: &Path,
    json: bool,
    summary: &mut LogSummary,
    f: &mut dyn FnMut(&dyn Row, u64, &mut LogSummary) -> Result<()>,
) -> Result<()> {
    let label = path.display().to_string();
    let mut header = Header::default();
    super::for_each_line(path, summary, &mut |n, line, summary| {
        if line.is_empty() {
            return Ok(());
        }
        if line.starts_with('#') {
            header.read(line);
            return Ok(());
        }
        if json || line.starts_with('{') {
            match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(o)) => f(&JsonRow(o), n, summary),
                _ => {
                    summary.bad_line(&label, n, "not a JSON object");
                    Ok(())
                }
            }
        } else {
            match TsvRow::parse(&header, line) {
                Ok(row) => f(&row, n, summary),
                Err(why) => {
                    summary.bad_line(&label, n, &why);
                    Ok(())
                }
            }
        }
    })
}

/// Reads the Zeek logs of one run (x509, then ssl, then conn streamed) and writes the joined
/// flows.
pub(crate) fn read_run(
    files: &[(PathBuf, ZeekLog, bool)],
    summary: &mut LogSummary,
    out: &mut Emit<'_>,
) -> Result<()> {
    let of = |want: ZeekLog| -> Vec<(&PathBuf, bool)> {
        files
            .iter()
            .filter(|(_, l, _)| *l == want)
            .map(|(p, _, j)| (p, *j))
            .collect()
    };
    let rows = |summary: &mut LogSummary, log: &str| {
        *summary.zeek_rows.entry(log.to_string()).or_insert(0) += 1;
    };
    for (p, l, _) in files {
        summary.files += 1;
        if let ZeekLog::Other(name) = l {
            summary.skip(format!("zeek {name} log"));
            summary.note(format!("{}: a Zeek {name} log, not read", p.display()));
        }
    }
    let mut certs: FxHashMap<String, Cert> = FxHashMap::default();
    for (path, json) in of(ZeekLog::X509) {
        each_row(path, json, summary, &mut |row, _, summary| {
            rows(summary, "x509");
            let c = x509_cert(row);
            if let Some(fp) = row.text("fingerprint") {
                certs.insert(fp.to_ascii_lowercase(), c.clone());
            }
            if let Some(id) = row.text("id") {
                certs.insert(id, c);
            }
            Ok(())
        })?;
    }
    let mut sessions: Vec<Session> = Vec::new();
    let mut by_uid: FxHashMap<String, usize> = FxHashMap::default();
    for (path, json) in of(ZeekLog::Ssl) {
        let label = path.display().to_string();
        let capture: Arc<str> = Arc::from(label.as_str());
        each_row(path, json, summary, &mut |row, n, summary| {
            rows(summary, "ssl");
            let Some(flow) = ssl_flow(row, &capture, &certs, summary) else {
                summary.bad_line(&label, n, "no connection addresses");
                return Ok(());
            };
            if let Some(uid) = row.text("uid") {
                // A second session on one connection (STARTTLS renegotiation is rare): the
                // first is joined, the others come out on their own.
                by_uid.entry(uid).or_insert(sessions.len());
            }
            sessions.push(Session { flow, used: false });
            Ok(())
        })?;
    }
    for (path, json) in of(ZeekLog::Conn) {
        let label = path.display().to_string();
        let capture: Arc<str> = Arc::from(label.as_str());
        each_row(path, json, summary, &mut |row, n, summary| {
            rows(summary, "conn");
            let mut flow = match conn_flow(row, &capture, summary) {
                Ok(Some(f)) => f,
                Ok(None) => return Ok(()),
                Err(why) => {
                    summary.bad_line(&label, n, why);
                    return Ok(());
                }
            };
            if let Some(i) = row.text("uid").and_then(|u| by_uid.get(&u).copied()) {
                let s = &mut sessions[i];
                if !s.used {
                    s.used = true;
                    summary.ssl_joined += 1;
                    flow.tls = std::mem::take(&mut s.flow.tls);
                }
            }
            out.emit(flow, summary)
        })?;
    }
    for s in sessions.into_iter().filter(|s| !s.used) {
        out.emit(s.flow, summary)?;
    }
    Ok(())
}
