//! Suricata EVE JSON: `flow`, `tls` and `dns` events joined into flows.
//!
//! Suricata writes a flow's `flow` event when the flow ends, after the `tls` event of its
//! handshake, so `tls` events wait in memory keyed by `flow_id` (one small entry per TLS
//! session not yet ended) and are joined when their `flow` event comes; those still waiting at
//! the end of the run come out on their own, with what the `tls` event says. `dns` answers
//! fill a table of address → names (bounded), from which a flow's `dns_names` are the names
//! that resolved to its server, as for packet captures. The `flow` event's `src_ip` is the
//! client. `bytes_toserver`/`bytes_toclient` count whole packets as captured, so they go to
//! the record's frame (`wire_bytes_*`) columns. Other event types (`alert`, `http`, `stats`…)
//! are counted and not read further.

use super::{parse_time, Emit, LogFlow, LogSummary};
use crate::dissect::tls::TlsInfo;
use crate::error::Result;
use rustc_hash::FxHashMap;
use serde_json::{Map, Value};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

/// Most addresses the DNS table keeps; past it the table starts over (a bound on memory; a
/// name is looked up by flows that start soon after its answer).
const MAX_DNS_ADDRESSES: usize = 1 << 20;
/// Most names kept per address.
const MAX_NAMES: usize = 8;

fn text(o: &Map<String, Value>, key: &str) -> Option<String> {
    match o.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn num(o: &Map<String, Value>, key: &str) -> Option<u64> {
    o.get(key)?.as_u64()
}

fn time(o: &Map<String, Value>, key: &str, summary: &mut LogSummary) -> f64 {
    let t = match o.get(key) {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => match parse_time(s) {
            Ok(t) => t,
            Err(()) => {
                summary.masked_times += 1;
                None
            }
        },
        _ => None,
    };
    t.unwrap_or(f64::NAN)
}

/// The transport and endpoints of an event (`src_ip` is the client).
fn endpoints(
    o: &Map<String, Value>,
    capture: &Arc<str>,
    summary: &mut LogSummary,
) -> std::result::Result<Option<LogFlow>, &'static str> {
    let ip = |k: &str| text(o, k)?.parse::<IpAddr>().ok();
    let port = |k: &str| num(o, k).and_then(|p| u16::try_from(p).ok());
    let (Some(src), Some(dst)) = (ip("src_ip"), ip("dest_ip")) else {
        return Err("no addresses");
    };
    let transport = match o.get("proto") {
        Some(Value::String(p)) if p.eq_ignore_ascii_case("tcp") || p == "6" => "tcp",
        Some(Value::String(p)) if p.eq_ignore_ascii_case("udp") || p == "17" => "udp",
        Some(Value::Number(n)) if n.as_u64() == Some(6) => "tcp",
        Some(Value::Number(n)) if n.as_u64() == Some(17) => "udp",
        _ => {
            summary.other_protocols += 1;
            return Ok(None);
        }
    };
    Ok(Some(LogFlow::new(
        transport,
        (src, port("src_port").unwrap_or(0)),
        (dst, port("dest_port").unwrap_or(0)),
        capture.clone(),
    )))
}

/// A hash given as a string, or as an object with a `hash` member (`ja3`, and `ja4` in
/// Suricata 7).
fn hash_of(v: Option<&Value>) -> (Option<String>, Option<String>) {
    match v {
        Some(Value::String(s)) if !s.is_empty() => (Some(s.clone()), None),
        Some(Value::Object(o)) => (text(o, "hash"), text(o, "string")),
        _ => (None, None),
    }
}

/// What a `tls` event's `tls` object says, in the record's terms.
pub fn tls_info(t: &Map<String, Value>) -> TlsInfo {
    let mut i = TlsInfo {
        sni: text(t, "sni"),
        tls_version: text(t, "version").and_then(|v| super::tls_version(&v)),
        cert_sha1: text(t, "fingerprint").and_then(|f| super::plain_hex(&f)),
        cert_subject: text(t, "subject"),
        cert_issuer: text(t, "issuerdn"),
        // Suricata writes certificate dates in UTC without a zone.
        cert_not_before: text(t, "notbefore").map(|d| format!("{d}Z")),
        cert_not_after: text(t, "notafter").map(|d| format!("{d}Z")),
        ..TlsInfo::default()
    };
    (i.ja3, i.ja3_string) = hash_of(t.get("ja3"));
    (i.ja3s, i.ja3s_string) = hash_of(t.get("ja3s"));
    i.ja4 = hash_of(t.get("ja4")).0;
    i.ja4s = hash_of(t.get("ja4s")).0;
    // The client's offered protocols: `alpn_ts` (to server) in 7.x, `client_alpns` in 8.
    for key in ["alpn_ts", "client_alpns"] {
        if let Some(Value::Array(a)) = t.get(key) {
            i.alpn = a
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
        }
    }
    i.cert_encrypted = i.tls_version.as_deref() == Some("1.3");
    i
}

/// The (address, name) pairs of a `dns` event's answers: `answers` items and `grouped`
/// records (version 2), or a version 1 `answer` event's own `rdata`. The name is the one
/// asked for (the event's `rrname` or first query), so a CNAME chain leads back to it.
pub fn dns_answers(d: &Map<String, Value>) -> Vec<(IpAddr, String)> {
    let asked = text(d, "rrname").or_else(|| match d.get("queries") {
        Some(Value::Array(q)) => q
            .first()
            .and_then(Value::as_object)
            .and_then(|q| text(q, "rrname")),
        _ => None,
    });
    let mut out = Vec::new();
    let mut add = |addr: Option<&str>, owner: Option<String>| {
        if let (Some(a), Some(name)) = (
            addr.and_then(|a| a.parse::<IpAddr>().ok()),
            asked.clone().or(owner),
        ) {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if !out.iter().any(|(x, n)| *x == a && *n == name) {
                out.push((a, name));
            }
        }
    };
    let is_addr =
        |o: &Map<String, Value>| matches!(text(o, "rrtype").as_deref(), Some("A" | "AAAA"));
    if let Some(Value::Array(answers)) = d.get("answers") {
        for a in answers.iter().filter_map(Value::as_object) {
            if is_addr(a) {
                add(a.get("rdata").and_then(Value::as_str), text(a, "rrname"));
            }
        }
    }
    if let Some(Value::Object(g)) = d.get("grouped") {
        for key in ["A", "AAAA"] {
            if let Some(Value::Array(v)) = g.get(key) {
                for a in v {
                    add(a.as_str(), None);
                }
            }
        }
    }
    if text(d, "type").as_deref() == Some("answer") && is_addr(d) {
        add(d.get("rdata").and_then(Value::as_str), None);
    }
    out
}

/// What a run keeps between events.
#[derive(Default)]
struct State {
    /// TLS sessions waiting for their flow event, with their arrival order.
    pending: FxHashMap<u64, (u64, LogFlow)>,
    /// TLS sessions without a flow id (come out at the end).
    orphans: Vec<(u64, LogFlow)>,
    arrivals: u64,
    names: FxHashMap<IpAddr, Vec<String>>,
}

impl State {
    fn learn(&mut self, pairs: Vec<(IpAddr, String)>) {
        if self.names.len() >= MAX_DNS_ADDRESSES {
            self.names.clear();
        }
        for (a, n) in pairs {
            let v = self.names.entry(a).or_default();
            v.retain(|x| *x != n);
            v.insert(0, n);
            v.truncate(MAX_NAMES);
        }
    }
}

/// Reads the EVE files of one run and writes the joined flows.
pub(crate) fn read_run(
    files: &[PathBuf],
    summary: &mut LogSummary,
    out: &mut Emit<'_>,
) -> Result<()> {
    let mut st = State::default();
    for path in files {
        summary.files += 1;
        let label = path.display().to_string();
        let capture: Arc<str> = Arc::from(label.as_str());
        super::for_each_line(path, summary, &mut |n, line, summary| {
            if line.trim().is_empty() {
                return Ok(());
            }
            let Ok(Value::Object(o)) = serde_json::from_str::<Value>(line) else {
                summary.bad_line(&label, n, "not a JSON object");
                return Ok(());
            };
            let Some(kind) = text(&o, "event_type") else {
                summary.bad_line(&label, n, "no event_type");
                return Ok(());
            };
            *summary.eve_events.entry(kind.clone()).or_insert(0) += 1;
            // The event's two ends, or None (the line named as bad when they do not parse).
            let flow_of = |summary: &mut LogSummary| match endpoints(&o, &capture, summary) {
                Ok(f) => f,
                Err(why) => {
                    summary.bad_line(&label, n, why);
                    None
                }
            };
            match kind.as_str() {
                "dns" => {
                    if let Some(Value::Object(d)) = o.get("dns") {
                        st.learn(dns_answers(d));
                    }
                    Ok(())
                }
                "tls" => {
                    let Some(mut f) = flow_of(summary) else {
                        return Ok(());
                    };
                    if let Some(Value::Object(t)) = o.get("tls") {
                        f.tls = tls_info(t);
                    }
                    st.arrivals += 1;
                    match num(&o, "flow_id") {
                        Some(id) => {
                            st.pending.insert(id, (st.arrivals, f));
                        }
                        None => st.orphans.push((st.arrivals, f)),
                    }
                    Ok(())
                }
                "flow" => {
                    let Some(mut f) = flow_of(summary) else {
                        return Ok(());
                    };
                    let Some(Value::Object(fl)) = o.get("flow") else {
                        summary.bad_line(&label, n, "flow event without a flow object");
                        return Ok(());
                    };
                    f.first = time(fl, "start", summary);
                    f.duration = time(fl, "end", summary) - f.first;
                    let two = |a: &str, b: &str| match (num(fl, a), num(fl, b)) {
                        (None, None) => None,
                        (x, y) => Some((x.unwrap_or(0), y.unwrap_or(0))),
                    };
                    f.packets = two("pkts_toserver", "pkts_toclient");
                    f.wire_bytes = two("bytes_toserver", "bytes_toclient");
                    if let Some(Value::Object(tcp)) = o.get("tcp") {
                        let hex =
                            |k: &str| text(tcp, k).and_then(|h| u8::from_str_radix(&h, 16).ok());
                        if let (Some(c), Some(s)) = (hex("tcp_flags_ts"), hex("tcp_flags_tc")) {
                            f.tcp_flags = Some((c, s));
                        }
                    }
                    if let Some((_, t)) = num(&o, "flow_id").and_then(|id| st.pending.remove(&id)) {
                        summary.tls_joined += 1;
                        f.tls = t.tls;
                    }
                    if let Some(names) = st.names.get(&f.server.0) {
                        f.dns_names = names.clone();
                    }
                    out.emit(f, summary)
                }
                _ => Ok(()),
            }
        })?;
    }
    let mut left: Vec<(u64, LogFlow)> = st.pending.into_values().collect();
    left.append(&mut st.orphans);
    left.sort_by_key(|(seq, _)| *seq);
    for (_, mut f) in left {
        if let Some(names) = st.names.get(&f.server.0) {
            f.dns_names = names.clone();
        }
        out.emit(f, summary)?;
    }
    Ok(())
}
