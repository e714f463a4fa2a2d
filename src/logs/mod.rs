//! Zeek and Suricata logs as input, for sites that keep logs rather than packets.
//!
//! Zeek's `conn.log`, `ssl.log` and `x509.log` (TSV with `#fields` headers, or JSON one object
//! a line) are joined by connection `uid` and by certificate fingerprint ([`zeek`]); Suricata's
//! EVE JSON `flow`, `tls` and `dns` events are joined by `flow_id` ([`eve`]). Each joined flow
//! becomes a [`FlowRecord`] shaped like a packet capture's, with the flow-only feature vector
//! (`netflow-v2`) as its model row when the log has the flow's counters, so the flow-only model
//! and the feeds judge it as they judge flow exports. What a log does not say stays empty:
//! text columns are null, timestamps the log lacks (or that are masked) are null (NaN), and
//! counters it lacks are 0, as for flow exports' payload bytes. Gzip-compressed (rotated) logs
//! are read as they are. A line that does not parse is counted and named in [`LogSummary`]
//! (`conn.log:57: bad field count`) and the run goes on.

pub mod eve;
pub mod zeek;

#[cfg(test)]
mod tests;

use crate::dissect::tls::TlsInfo;
use crate::error::{Error, Result};
use crate::features::netflow::{conversation_from_flow_record, netflow_features, NETFLOW_SCHEMA};
use crate::features::FEATURES;
use crate::output::{FlowRecord, UnknownCounters};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which Zeek log a file is, by its `#path` header or its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZeekLog {
    /// `conn.log`: one row per connection with its counters.
    Conn,
    /// `ssl.log`: one row per TLS session (SNI, version, certificate chain, JA3/JA4 columns).
    Ssl,
    /// `x509.log`: one row per certificate seen.
    X509,
    /// Any other Zeek log (`dns`, `http`, `notice`…): read for nothing, counted.
    Other(String),
}

/// What a log file is, by content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFormat {
    /// A Zeek log in TSV (`#separator`, `#fields` headers) or JSON (`json` true).
    Zeek {
        /// Which log.
        log: ZeekLog,
        /// One JSON object a line rather than TSV.
        json: bool,
    },
    /// Suricata EVE JSON (objects with an `event_type`).
    Eve,
}

/// Most distinct messages a summary keeps (the counters keep counting).
const MAX_MESSAGES: usize = 20;

/// What reading logs found, joined and skipped.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogSummary {
    /// Log files read.
    pub files: u64,
    /// Lines read (headers and comments included).
    pub lines: u64,
    /// Data lines that did not parse (bad field count, not JSON, missing addresses…).
    pub bad_lines: u64,
    /// Rows whose timestamp is masked (`XXXXXXXXXX.XXXXXX`, as Zeek's test canonifier
    /// writes it): read with a null time.
    pub masked_times: u64,
    /// Zeek rows read, by log (`conn`, `ssl`, `x509`).
    pub zeek_rows: BTreeMap<String, u64>,
    /// `ssl.log` rows joined to a `conn.log` row by uid.
    pub ssl_joined: u64,
    /// `ssl.log` rows whose certificate was found in `x509.log`.
    pub x509_joined: u64,
    /// EVE events read, by `event_type` (the ignored ones included).
    pub eve_events: BTreeMap<String, u64>,
    /// EVE `tls` events joined to their `flow` event.
    pub tls_joined: u64,
    /// Records of protocols other than TCP and UDP (not written).
    pub other_protocols: u64,
    /// Records written.
    pub records: u64,
    /// Files or events not read at all, by reason (other Zeek logs, unreadable files).
    pub skipped: BTreeMap<String, u64>,
    /// The first few messages (file:line: reason).
    pub messages: Vec<String>,
}

impl LogSummary {
    /// Counts a bad line and keeps its message, up to a small number.
    pub fn bad_line(&mut self, file: &str, line: u64, why: &str) {
        self.bad_lines += 1;
        self.note(format!("{file}:{line}: {why}"));
    }

    /// Keeps a message, up to a small number.
    pub fn note(&mut self, msg: String) {
        if self.messages.len() < MAX_MESSAGES {
            self.messages.push(msg);
        }
    }

    fn skip(&mut self, reason: String) {
        *self.skipped.entry(reason).or_insert(0) += 1;
    }

    /// A few human lines.
    pub fn render(&self) -> String {
        let join = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut s = format!(
            "log files: {}, lines {} ({} bad, {} with masked times); records: {} ({} not TCP/UDP)\n",
            self.files,
            self.lines,
            self.bad_lines,
            self.masked_times,
            self.records,
            self.other_protocols
        );
        if !self.zeek_rows.is_empty() {
            s += &format!(
                "zeek rows: {}; ssl joined to conn {}, to x509 {}\n",
                join(&self.zeek_rows),
                self.ssl_joined,
                self.x509_joined
            );
        }
        if !self.eve_events.is_empty() {
            s += &format!(
                "eve events: {}; tls joined to flow {}\n",
                join(&self.eve_events),
                self.tls_joined
            );
        }
        for (reason, n) in &self.skipped {
            s += &format!("skipped: {reason} ({n}×)\n");
        }
        for m in &self.messages {
            s += &format!("note: {m}\n");
        }
        s
    }
}

/// Opens a log, through a gzip decoder when it starts with the gzip magic `1f 8b` (rotated
/// logs), so that everything after sees the text.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>> {
    let io = |source| Error::Io {
        path: path.display().to_string(),
        source,
    };
    let mut f = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let gz = f.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b]);
    Ok(if gz {
        Box::new(flate2::read::MultiGzDecoder::new(f))
    } else {
        Box::new(f)
    })
}

/// Longest line read; a longer one is skipped as a bad line (bounded memory on any input).
const MAX_LINE: u64 = 1 << 20;

/// Calls `f` with each line of a log (1-based number, text without its line end; invalid
/// UTF-8 replaced). A read error (a cut gzip stream) ends the file with a note, not the run.
pub fn for_each_line(
    path: &Path,
    summary: &mut LogSummary,
    f: &mut dyn FnMut(u64, &str, &mut LogSummary) -> Result<()>,
) -> Result<()> {
    let label = path.display().to_string();
    let mut r = BufReader::new(open(path)?);
    let mut buf = Vec::new();
    let mut n = 0u64;
    loop {
        buf.clear();
        match (&mut r).take(MAX_LINE).read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                summary.bad_line(&label, n + 1, &format!("unreadable from here on ({e})"));
                break;
            }
        }
        n += 1;
        summary.lines += 1;
        if buf.len() as u64 == MAX_LINE && buf.last() != Some(&b'\n') {
            // Skip the rest of an overlong line without holding it.
            let mut rest = Vec::new();
            loop {
                rest.clear();
                match (&mut r).take(MAX_LINE).read_until(b'\n', &mut rest) {
                    Ok(k) if k as u64 == MAX_LINE && rest.last() != Some(&b'\n') => continue,
                    _ => break,
                }
            }
            summary.bad_line(&label, n, "line longer than 1 MiB");
            continue;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let line = String::from_utf8_lossy(&buf);
        f(n, &line, summary)?;
    }
    Ok(())
}

/// Decides from the first lines (decompressed) whether a file is a Zeek log or an EVE file;
/// None for anything else (or a file that cannot be read: the caller's reader will say why).
pub fn detect(path: &Path) -> Option<LogFormat> {
    const LOOK: u64 = 1 << 16;
    // At most 4 MiB looked at, 40 lines of at most 64 KiB each; longer lines are passed over.
    let mut r = BufReader::new(open(path).ok()?.take(4 << 20));
    let mut zeek_tsv = false;
    let mut buf = Vec::new();
    for _ in 0..40 {
        buf.clear();
        if (&mut r).take(LOOK).read_until(b'\n', &mut buf).ok()? == 0 {
            break;
        }
        if buf.len() as u64 == LOOK && buf.last() != Some(&b'\n') {
            let mut rest = Vec::new();
            loop {
                rest.clear();
                match (&mut r).take(LOOK).read_until(b'\n', &mut rest) {
                    Ok(k) if k as u64 == LOOK && rest.last() != Some(&b'\n') => continue,
                    _ => break,
                }
            }
            continue;
        }
        // Binary content (a capture) ends the look.
        let Ok(line) = std::str::from_utf8(&buf) else {
            break;
        };
        let line = line.trim_end_matches(['\n', '\r']);
        if let Some(rest) = line.strip_prefix("#path") {
            return Some(LogFormat::Zeek {
                log: zeek::log_of_name(rest.trim()),
                json: false,
            });
        }
        if line.starts_with("#separator") {
            zeek_tsv = true;
        }
        if let Some(rest) = line.strip_prefix("#fields") {
            let cols: Vec<&str> = rest.split(['\t', ' ']).filter(|c| !c.is_empty()).collect();
            return Some(LogFormat::Zeek {
                log: zeek::log_of_columns(&cols),
                json: false,
            });
        }
        if line.trim_start().starts_with('{') {
            let Ok(serde_json::Value::Object(o)) = serde_json::from_str(line) else {
                continue;
            };
            if o.contains_key("event_type") {
                return Some(LogFormat::Eve);
            }
            let cols: Vec<&str> = o.keys().map(String::as_str).collect();
            return match zeek::log_of_columns(&cols) {
                ZeekLog::Other(_) if !o.contains_key("uid") && !o.contains_key("ts") => None,
                log => Some(LogFormat::Zeek { log, json: true }),
            };
        }
    }
    zeek_tsv.then_some(LogFormat::Zeek {
        log: ZeekLog::Other("unknown".into()),
        json: false,
    })
}

/// True for a file name a log directory may hold: `*.log`, `*.log.gz`, rotated
/// `conn.2024-01-01-00-00-00.log.gz`, `*.json`, `*.json.gz` (EVE).
pub fn is_log_name(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    [".log", ".log.gz", ".json", ".json.gz"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// The log files of a directory (not recursive), sorted by name so a run is reproducible.
pub fn dir_logs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && is_log_name(p))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// True when an input is a log (or a directory holding logs) rather than a capture or export.
pub fn is_log_input(path: &Path) -> bool {
    if path.as_os_str() == "-" {
        return false;
    }
    if path.is_dir() {
        return dir_logs(path).iter().any(|p| detect(p).is_some());
    }
    detect(path).is_some()
}

/// One flow as a log describes it, before it becomes a record.
#[derive(Debug, Clone)]
pub(crate) struct LogFlow {
    pub transport: &'static str,
    pub client: (IpAddr, u16),
    pub server: (IpAddr, u16),
    /// Start, epoch seconds (NaN when unknown).
    pub first: f64,
    /// Duration in seconds (NaN when unknown).
    pub duration: f64,
    /// Packets each way, when the log counts them.
    pub packets: Option<(u64, u64)>,
    /// IP bytes each way (Zeek `orig_ip_bytes`).
    pub ip_bytes: Option<(u64, u64)>,
    /// Transport payload bytes each way (Zeek `orig_bytes`).
    pub payload_bytes: Option<(u64, u64)>,
    /// Frame bytes each way (Suricata `bytes_toserver`, which counts whole packets).
    pub wire_bytes: Option<(u64, u64)>,
    /// OR of the TCP flags each way, when the log has them.
    pub tcp_flags: Option<(u8, u8)>,
    pub tls: TlsInfo,
    pub dns_names: Vec<String>,
    pub capture: Arc<str>,
}

impl LogFlow {
    pub(crate) fn new(
        transport: &'static str,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
        capture: Arc<str>,
    ) -> LogFlow {
        LogFlow {
            transport,
            client,
            server,
            first: f64::NAN,
            duration: f64::NAN,
            packets: None,
            ip_bytes: None,
            payload_bytes: None,
            wire_bytes: None,
            tcp_flags: None,
            tls: TlsInfo::default(),
            dns_names: Vec::new(),
            capture,
        }
    }

    /// The record. Counters the log lacks are null when written; the model row is the `netflow-v2` row of the
    /// conversation (IP bytes, or frame bytes where only those are known), and there is none
    /// when the log has no packet counts (an `ssl.log` row alone), so the model does not judge
    /// a flow it knows nothing of.
    pub(crate) fn into_record(self, flow_id: u64) -> FlowRecord {
        let two = |v: Option<(u64, u64)>| v.unwrap_or((0, 0));
        let (pc, ps) = two(self.packets);
        let (bc, bs) = two(self.ip_bytes);
        let (yc, ys) = two(self.payload_bytes);
        let (wc, ws) = two(self.wire_bytes);
        let mut unknown = UnknownCounters::NONE;
        for (counts, which) in [
            (self.packets, UnknownCounters::PACKETS),
            (self.ip_bytes, UnknownCounters::BYTES),
            (self.payload_bytes, UnknownCounters::PAYLOAD),
            (self.wire_bytes, UnknownCounters::WIRE),
        ] {
            if counts.is_none() {
                unknown |= which;
            }
        }
        let mut features = vec![f64::NAN; FEATURES.len()];
        if let Some((fc, fs)) = self.tcp_flags {
            for (name, v) in [("tcp_flags_c2s", fc), ("tcp_flags_s2c", fs)] {
                if let Some(i) = FEATURES.iter().position(|f| f.name == name) {
                    features[i] = f64::from(v);
                }
            }
        }
        let mut rec = FlowRecord {
            flow_id,
            transport: self.transport,
            src_ip: self.client.0,
            src_port: self.client.1,
            dst_ip: self.server.0,
            dst_port: self.server.1,
            first_seen: self.first,
            last_seen: self.first + self.duration,
            duration: self.duration,
            packets_c2s: pc,
            packets_s2c: ps,
            bytes_c2s: bc,
            bytes_s2c: bs,
            payload_bytes_c2s: yc,
            payload_bytes_s2c: ys,
            wire_bytes_c2s: wc,
            wire_bytes_s2c: ws,
            unknown_counters: unknown,
            reassembly_gaps: 0,
            end_reason: "log",
            capture: self.capture,
            verdict: None,
            tls: self.tls,
            dns_names: self.dns_names,
            stratum: None,
            features,
            model_rows: Vec::new(),
            model_schema: NETFLOW_SCHEMA,
            export_variants: Vec::new(),
        };
        if self.packets.is_some() && rec.duration.is_finite() {
            let mut c = conversation_from_flow_record(&rec);
            if self.ip_bytes.is_none() {
                c.c2s.bytes = wc;
                c.s2c.bytes = ws;
            }
            rec.model_rows = vec![netflow_features(&c)];
        }
        rec
    }
}

/// Epoch seconds of a log timestamp: a number (`1258535653.087137`) or ISO 8601 with an
/// optional fraction and offset (`2024-04-17T19:36:46.152278+0000`, `…Z`, `…+02:00`).
/// `Err(())` for a masked time (`XXXXXXXXXX.XXXXXX`), `Ok(None)` for text that is no time.
#[allow(clippy::result_unit_err)] // the only failure is "masked"; the caller counts it
pub fn parse_time(s: &str) -> std::result::Result<Option<f64>, ()> {
    let s = s.trim();
    if s.starts_with("XXXX") {
        return Err(());
    }
    if let Ok(v) = s.parse::<f64>() {
        return Ok(v.is_finite().then_some(v));
    }
    Ok(parse_iso(s))
}

fn parse_iso(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let month = time::Month::try_from(u8::try_from(mo).ok()?).ok()?;
    let date = time::Date::from_calendar_date(i32::try_from(y).ok()?, month, u8::try_from(d).ok()?)
        .ok()?;
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = i64::from(date.to_julian_day()) - 2_440_588;
    let mut t = (days * 86_400 + h * 3600 + mi * 60 + se) as f64;
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        t += format!("0.{}", &frac[..digits]).parse::<f64>().ok()?;
        rest = &frac[digits..];
    }
    match rest {
        "" | "Z" => Some(t),
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = rest[1..].chars().filter(|c| *c != ':').collect();
            if digits.len() != 4 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let oh: i64 = digits[..2].parse().ok()?;
            let om: i64 = digits[2..].parse().ok()?;
            Some(t - (sign * (oh * 3600 + om * 60)) as f64)
        }
    }
}

/// An ISO 8601 UTC text (`2019-01-02T03:04:05Z`) of epoch seconds, as the record writes
/// certificate dates.
pub(crate) fn iso_utc(secs: f64) -> Option<String> {
    crate::fingerprint::cert::iso8601_utc(secs.floor() as i64)
}

/// The record's TLS version (`1.2`, `1.3`, `ssl3`) of a log's version text (Zeek `TLSv12`,
/// Suricata `TLS 1.2`, `TLSv1`); None for anything else (DTLS, `UNDETERMINED`).
pub(crate) fn tls_version(v: &str) -> Option<String> {
    let t: String = v
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '.')
        .collect::<String>()
        .to_ascii_uppercase();
    let t = t.replace("TLSV", "TLS");
    Some(
        match t.as_str() {
            "TLS1" | "TLS10" => "1.0",
            "TLS11" => "1.1",
            "TLS12" => "1.2",
            "TLS13" => "1.3",
            "SSLV3" | "SSL3" => "ssl3",
            "SSLV2" | "SSL2" => "ssl2",
            _ => return None,
        }
        .to_string(),
    )
}

/// Lowercase hex without separators (`90:86:A4` → `9086a4`); None unless it is hex.
pub(crate) fn plain_hex(s: &str) -> Option<String> {
    let h: String = s
        .chars()
        .filter(|c| *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    (!h.is_empty() && h.bytes().all(|c| c.is_ascii_hexdigit())).then_some(h)
}

/// Where records go and how they are numbered.
pub(crate) struct Emit<'a> {
    pub next_id: u64,
    pub sink: &'a mut dyn FnMut(FlowRecord) -> Result<()>,
}

impl Emit<'_> {
    pub(crate) fn emit(&mut self, f: LogFlow, summary: &mut LogSummary) -> Result<()> {
        let rec = f.into_record(self.next_id);
        self.next_id += 1;
        summary.records += 1;
        (self.sink)(rec)
    }
}

/// Reads the logs of one run and writes one record per flow to `sink`: the Zeek logs among
/// `paths` as one Zeek run (joined across files), the EVE files as one Suricata run.
/// Directories are read for the logs inside them. `force` makes every file of that family
/// (files that detection does not recognise are still skipped with a note). A bad line is
/// counted and named; an `Err` means the sink failed or no file could be opened.
pub fn read_logs(
    paths: &[PathBuf],
    force: Option<LogFamily>,
    sink: &mut dyn FnMut(FlowRecord) -> Result<()>,
) -> Result<LogSummary> {
    let mut summary = LogSummary::default();
    let mut zeek_files: Vec<(PathBuf, ZeekLog, bool)> = Vec::new();
    let mut eve_files: Vec<PathBuf> = Vec::new();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            files.extend(dir_logs(p));
        } else {
            files.push(p.clone());
        }
    }
    for p in files {
        if let Err(e) = std::fs::File::open(&p) {
            summary.skip("unreadable file".into());
            summary.note(format!("{}: {e}", p.display()));
            continue;
        }
        match (detect(&p), force) {
            (Some(LogFormat::Eve), None | Some(LogFamily::Eve)) => eve_files.push(p),
            (Some(LogFormat::Zeek { log, json }), None | Some(LogFamily::Zeek)) => {
                zeek_files.push((p, log, json))
            }
            (None, Some(LogFamily::Eve)) => eve_files.push(p),
            (_, _) => {
                summary.skip("not a Zeek or EVE log of the kind asked for".into());
                summary.note(format!(
                    "{}: not read (not a log of the kind asked for)",
                    p.display()
                ));
            }
        }
    }
    let mut out = Emit { next_id: 1, sink };
    if !zeek_files.is_empty() {
        zeek::read_run(&zeek_files, &mut summary, &mut out)?;
    }
    if !eve_files.is_empty() {
        eve::read_run(&eve_files, &mut summary, &mut out)?;
    }
    Ok(summary)
}

/// The log families an input kind may force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFamily {
    /// Zeek logs.
    Zeek,
    /// Suricata EVE JSON.
    Eve,
}
