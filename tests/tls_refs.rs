//! End-to-end checks of the TLS fields of `poolscope extract` (`ja3`, `ja3_string`, `ja3s`,
//! `ja3s_string`, `ja4`, `ja4_r`, `ja4s`, `sni`, `alpn`, `cert_sha1`, `cert_sha256`,
//! `cert_chain_sha256`) against the outputs of other tools:
//!
//! * Wireshark: `<folder>/tshark-ref/<capture>.tls.tsv`, one row per frame carrying a
//!   ClientHello (1), ServerHello (2) or Certificate (11), for the folders `ndpi`, `foxio-ja4`,
//!   `suricata-verify` and `nesfit-cryptomining`;
//! * FoxIO's python JA4+ reference: `foxio-ja4/expected/python/<capture>.json`;
//! * nDPI: `ndpi/result/<capture>.out`;
//! * Suricata: `suricata-verify/expected/<test>.test.yaml`, mapped to its capture by
//!   `suricata-verify/MANIFEST.tsv`;
//! * the lab captures' `lab/MANIFEST.tsv` (JA3/JA4/SNI/ALPN of every ClientHello, with counts).
//!
//! Every check runs twice: over the small copies in `tests/data/tls-ref-e2e/` (same folder
//! layout as the corpus, provenance in its `PROVENANCE.tsv`), always; and over the whole corpus
//! named by `POOLSCOPE_CORPUS` (e.g. `/work/shared/data`) when that variable is set.
//!
//! Rules shared by all references:
//! * TCP only. UDP rows and flows (QUIC, DTLS) are out of scope and skipped (and counted).
//! * A reference row is matched to our flow by its 5-tuple in either orientation. Several of our
//!   flows can share a tuple when a port is reused; Wireshark rows then pick the flow whose
//!   `first_seen..=last_seen` contains the row's `time_epoch`, FoxIO streams borrow that time
//!   from the Wireshark row of the same `tcp.stream`, and nDPI/Suricata (which give no time)
//!   accept any of the candidate flows. Tunnelled frames: tshark lists every IP layer
//!   (`outer;inner`), the innermost is used; where it shows only the outer pair (6in4), a row
//!   with no flow of that tuple falls back to the one TCP flow with its ports alive at its time
//!   (listed as a note).
//! * The sender of a ClientHello row must be our flow's client (`src_ip`/`src_port`).
//! * poolscope reports the FIRST ClientHello, the FIRST ServerHello and the FIRST server
//!   Certificate message of a flow (a renegotiation, a duplicate hello, or the second
//!   ClientHello after a HelloRetryRequest is not reported), so the first one of each is
//!   compared; later ones are counted and listed in the output.
//! * Client certificates (a Certificate message sent by the client) are not compared: the
//!   `cert_*` fields describe the server's chain.
//! * A Certificate row that tshark could only read by decrypting TLS 1.3 with secrets embedded in
//!   the capture (the row also carries EncryptedExtensions, type 8) is out of scope: poolscope
//!   does not decrypt.
//! * A field the reference leaves empty is not compared, except Wireshark's SNI: a ClientHello
//!   without SNI must give `sni: null`. (Wireshark gives no JA3 for an SSLv2-format hello.)
//! * nDPI: JA3C → `ja3`, JA3S → `ja3s`, certificate SHA-1 → `cert_sha1`, Hostname/SNI → `sni`
//!   (only when the master protocol is TLS: for mail STARTTLS flows it is the greeting's server
//!   name). Its JA4 has known bugs (always `d`, ALPN `ht` for http/1.1, …): it is compared only
//!   where FoxIO has no expectation for that capture and flow, and a difference is listed, never
//!   a failure.
//! * Suricata: `tls.ja3.hash`/`.string`, `tls.ja3s.hash`/`.string`, `tls.ja4`, `tls.sni` and
//!   `tls.fingerprint` of one filter must all be carried by one TCP flow of the test's capture
//!   (restricted to the filter's `src_ip`/`src_port`/`dest_ip`/`dest_port` when it gives them).
//! * Disagreements are collected, all printed, and must be empty at the end, except those in
//!   [`EXCEPTIONS`] (reference, capture, field, reason), which are printed with their reason. An
//!   exception that no longer matches anything for a capture that was checked is itself a
//!   failure, so the list stays true.
//! * Each reference prints how many captures, flows and fields it checked, and asserts those
//!   counts are not zero.
//!
//! Reference formats (as read by the parsers below; see `reference_parsers_*`):
//! * tshark `.tls.tsv`: header line, then tab-separated `frame, time_epoch, transport, stream,
//!   src, sport, dst, dport, handshake_types (';'-joined), sni, ja3_full, ja3, ja3s_full, ja3s,
//!   cert_count, cert_sha1, cert_sha256` — the last two ';'-joined over the chain, leaf first.
//! * FoxIO python JSON: an array of objects, possibly several per TCP stream (one per JA4H
//!   request, etc.). Each has `stream` (tshark's tcp.stream or udp.stream number), `src`,
//!   `dst`, `srcport`, `dstport` (strings; src = client for TLS objects), and optionally
//!   `domain`, `JA4.1`, `JA4_r.1`, `JA4_o.1`, `JA4_ro.1` (`.2` … for later ClientHellos of the
//!   same stream), `JA4S`, `JA4S_r`, `JA4X.n`, `JA4H`, `JA4L-C`, `JA4L-S`, `JA4SSH.n`. The
//!   transport is the first letter of JA4/JA4S: `t` TCP, `q` QUIC, `d` DTLS.
//! * nDPI `.out`: flow lines `\t<n>\tTCP <a>:<port> <-> <b>:<port> [..][JA3C: md5][JA4: ..]
//!   [JA3S: md5][Certificate SHA-1: AA:BB:..][Hostname/SNI: name]..` (IPv6 in brackets; `->`
//!   for one-way flows; the first endpoint is the client).
//! * Suricata test.yaml: `checks:` is a list of `- filter:` items with `count:`, optional
//!   `requires:` (`min-version`/`lt-version`) and a `match:` map of dotted EVE keys. Filters
//!   with `count: 0` (asserting Suricata did NOT log something under an exception policy) and
//!   filters or whole files that require `lt-version` (behaviour of old Suricata releases) are
//!   skipped. `tls.fingerprint` is the leaf certificate SHA-1 with colons.
//! * lab MANIFEST.tsv: `client_hellos`, `client_ja3`, `client_ja4_ja4plus`, `sni`, `alpn`
//!   columns, values written `value(xN)` joined with commas, `(none)` for absent.

mod common;

use common::{corpus, data, poolscope};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

// ------------------------------------------------------------------------------------------
// Exceptions
// ------------------------------------------------------------------------------------------

/// A disagreement we understand and accept: the reference is demonstrably wrong there, or the
/// case is out of scope. Matched on (reference, capture, field, flow); `capture` is
/// `<folder>/<capture file>`; `flow` is an endpoint `ip:port` the disagreement names, or "" for
/// every flow of the capture; `field` is an output field, or "flow" when no flow of ours
/// matches the reference's.
struct Exception {
    reference: &'static str,
    capture: &'static str,
    field: &'static str,
    flow: &'static str,
    reason: &'static str,
}

const EXCEPTIONS: &[Exception] = &[
    Exception {
        reference: "foxio",
        capture: "foxio-ja4/tls-non-ascii-alpn.pcapng",
        field: "ja4",
        flow: "",
        reason: "the first ALPN value is the two bytes 0xba 0xad. FoxIO's tools (python and Rust, \
                 which maps each non-ASCII character to '9') write \"99\"; the JA4 specification \
                 (technical_details/JA4.md, \"ALPN Extension Value\": if the first or last byte is \
                 not alphanumeric, print the first and last characters of the hex form) gives \
                 \"bd\", which we write",
    },
    Exception {
        reference: "foxio",
        capture: "foxio-ja4/tls-non-ascii-alpn.pcapng",
        field: "ja4_r",
        flow: "",
        reason: "the same ALPN characters as ja4 (\"99\" in FoxIO's tools, \"bd\" by the \
                 specification)",
    },
    Exception {
        reference: "suricata",
        capture: "suricata-verify/bug-5713-01__TLSv1-Extracted-MaliciousC2.pcap",
        field: "ja4",
        flow: "",
        reason: "the ClientHello has no signature_algorithms extension. Suricata hashes \
                 \"0005,000a,000b,0017,0023,ff01_\" (a trailing underscore: ce66f3b797c1); the JA4 \
                 specification (\"if there are no signature algorithms in the hello packet, then \
                 the string ends without an underscore\") and FoxIO's Rust tool hash \
                 \"0005,000a,000b,0017,0023,ff01\" = c39ab67fec8e, which we write",
    },
    Exception {
        reference: "wireshark",
        capture: "suricata-verify/tls__tls13-draft14__tls13_draft14.pcap",
        field: "ja3s",
        flow: "",
        reason: "draft-14 TLS 1.3 ServerHello (version 0x0304, no session_id and no compression \
                 method): Wireshark 4.0 reads it with the TLS 1.2 layout, takes a random byte \
                 as the session_id length and reports cipher 44205 (0xacad) and no extensions \
                 (\"772,44205,\"); the bytes parse exactly in the draft layout as cipher 0xc02b \
                 and one key_share (40) extension, \"772,49195,40\", which we write",
    },
    Exception {
        reference: "wireshark",
        capture: "suricata-verify/tls__tls13-draft14__tls13_draft14.pcap",
        field: "ja3s_string",
        flow: "",
        reason: "same ServerHello misread as for ja3s",
    },
    Exception {
        reference: "wireshark",
        capture: "ndpi/tls_cipher_lens.pcap",
        field: "ja3",
        flow: "192.168.11.11:51591",
        reason: "malformed ClientHello (frame 5: cipher-suite and compression vectors of length \
                 0, extensions length 65472 beyond the message); Wireshark marks it Malformed and \
                 still prints a JA3 of the pieces (\"769,,\"); we reject the message (nDPI gives \
                 no JA3C for it either)",
    },
    Exception {
        reference: "wireshark",
        capture: "ndpi/tls_cipher_lens.pcap",
        field: "ja3_string",
        flow: "192.168.11.11:51591",
        reason: "same malformed ClientHello as for ja3",
    },
    Exception {
        reference: "wireshark",
        capture: "ndpi/capwap_data.pcapng",
        field: "flow",
        flow: "",
        reason: "the TLS flow is inside a CAPWAP data tunnel (UDP 5247), which Wireshark and nDPI \
                 open and poolscope does not (out of scope; also listed in extract_refs.rs)",
    },
    Exception {
        reference: "ndpi",
        capture: "ndpi/capwap_data.pcapng",
        field: "flow",
        flow: "",
        reason: "CAPWAP tunnel, as for Wireshark",
    },
    Exception {
        reference: "ndpi",
        capture: "ndpi/pinterest.pcap",
        field: "flow",
        flow: "",
        reason: "nDPI prints the server address in an invalid IPv6 form (2600:1901::7a0b::), so \
                 the flow cannot be matched (also listed in extract_refs.rs)",
    },
    Exception {
        reference: "ndpi",
        capture: "ndpi/heuristic_tcp_ack_payload.pcap",
        field: "ja3",
        flow: "",
        reason: "nDPI's test of its TCP-ACK-payload heuristic: every client and server ACK \
                 carries 2 zero bytes at the sequence number where the next real segment starts \
                 (e.g. frames 3/4: 2 bytes \"0000\" then 517 bytes at the same sequence number). \
                 We keep the first copy of overlapping bytes, as Wireshark does (its reference \
                 has no TLS row for this capture at all); nDPI drops such ACK payloads by a \
                 dedicated heuristic. A reassembly-policy choice on conflicting overlaps, not \
                 a fingerprint difference",
    },
    Exception {
        reference: "ndpi",
        capture: "ndpi/heuristic_tcp_ack_payload.pcap",
        field: "ja3s",
        flow: "",
        reason: "conflicting overlapping segments, as for ja3",
    },
    Exception {
        reference: "ndpi",
        capture: "ndpi/heuristic_tcp_ack_payload.pcap",
        field: "cert_sha1",
        flow: "",
        reason: "conflicting overlapping segments, as for ja3",
    },
    Exception {
        reference: "ndpi",
        capture: "ndpi/heuristic_tcp_ack_payload.pcap",
        field: "sni",
        flow: "",
        reason: "conflicting overlapping segments, as for ja3",
    },
];

// ------------------------------------------------------------------------------------------
// Endpoints
// ------------------------------------------------------------------------------------------

type Endpoint = (String, u16);

fn canon_ip(s: &str) -> String {
    let s = s.trim().trim_start_matches('[').trim_end_matches(']');
    s.parse::<IpAddr>()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| s.to_string())
}

fn endpoint(ip: &str, port: &str) -> Option<Endpoint> {
    Some((canon_ip(ip), port.trim().parse().ok()?))
}

/// `1.2.3.4:80` or `[::1]:80`.
fn split_hostport(s: &str) -> Option<Endpoint> {
    let (h, p) = s.trim().rsplit_once(':')?;
    endpoint(h, p)
}

fn fmt_ep(e: &Endpoint) -> String {
    if e.0.contains(':') {
        format!("[{}]:{}", e.0, e.1)
    } else {
        format!("{}:{}", e.0, e.1)
    }
}

// ------------------------------------------------------------------------------------------
// Reference parsers
// ------------------------------------------------------------------------------------------

/// Header-keyed rows of a tab-separated file.
fn parse_tsv(text: &str) -> Vec<HashMap<String, String>> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let cols: Vec<&str> = header.split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            cols.iter()
                .zip(l.split('\t').chain(std::iter::repeat("")))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// One row of a tshark `.tls.tsv` reference.
#[derive(Debug, Clone)]
struct TsharkRow {
    frame: u64,
    time: f64,
    transport: String,
    stream: u64,
    src: Endpoint,
    dst: Endpoint,
    types: Vec<u8>,
    sni: String,
    ja3_full: String,
    ja3: String,
    ja3s_full: String,
    ja3s: String,
    cert_count: usize,
    cert_sha1: Vec<String>,
    cert_sha256: Vec<String>,
}

fn split_list(s: &str, sep: char) -> Vec<String> {
    s.split(sep)
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn last_of(s: &str) -> &str {
    s.rsplit([';', ',']).next().unwrap_or(s)
}

fn parse_tshark_tls(text: &str) -> Vec<TsharkRow> {
    let mut rows: Vec<TsharkRow> = parse_tsv(text)
        .into_iter()
        .map(|r| {
            let g = |k: &str| {
                r.get(k)
                    .unwrap_or_else(|| panic!("tls.tsv column {k}"))
                    .clone()
            };
            TsharkRow {
                frame: g("frame").parse().expect("frame"),
                time: g("time_epoch").parse().expect("time_epoch"),
                transport: g("transport"),
                stream: g("stream").parse().unwrap_or(u64::MAX),
                // Tunnelled packets list every IP layer, outer first: keep the innermost.
                src: endpoint(last_of(&g("src")), last_of(&g("sport"))).expect("src"),
                dst: endpoint(last_of(&g("dst")), last_of(&g("dport"))).expect("dst"),
                types: g("handshake_types")
                    .split([';', ','])
                    .filter_map(|t| t.trim().parse().ok())
                    .collect(),
                sni: g("sni"),
                ja3_full: g("ja3_full"),
                ja3: g("ja3"),
                ja3s_full: g("ja3s_full"),
                ja3s: g("ja3s"),
                cert_count: g("cert_count").parse().unwrap_or(0),
                cert_sha1: split_list(&g("cert_sha1"), ';'),
                cert_sha256: split_list(&g("cert_sha256"), ';'),
            }
        })
        .collect();
    rows.sort_by_key(|r| r.frame);
    rows
}

/// The TLS part of one object of FoxIO's python `ja4.py` JSON output.
#[derive(Debug, Clone, PartialEq)]
struct FoxioStream {
    stream: u64,
    client: Endpoint,
    server: Endpoint,
    /// `JA4.1` (the first ClientHello of the stream).
    ja4: Option<String>,
    ja4_r: Option<String>,
    ja4s: Option<String>,
    /// `JA4.2`, `JA4.3`…: later ClientHellos of the same stream.
    later_ja4: Vec<String>,
}

impl FoxioStream {
    /// `t` TCP, `q` QUIC, `d` DTLS: the first letter of the fingerprints.
    fn is_tcp(&self) -> bool {
        [&self.ja4, &self.ja4s]
            .into_iter()
            .flatten()
            .all(|v| v.starts_with('t'))
    }
}

/// Objects of a FoxIO python JSON file that carry JA4 or JA4S (JA4H/JA4L/JA4SSH-only objects
/// are dropped).
fn parse_foxio_python(text: &str) -> Vec<FoxioStream> {
    let v: Value = serde_json::from_str(text).expect("FoxIO JSON");
    let mut out = Vec::new();
    for o in v.as_array().expect("FoxIO JSON is an array") {
        let s = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        // Older outputs write `JA4` without the `.1` suffix.
        let ja4 = s("JA4.1").or_else(|| s("JA4"));
        let ja4s = s("JA4S");
        if ja4.is_none() && ja4s.is_none() {
            continue;
        }
        let port = |k: &str| match o.get(k) {
            Some(Value::String(p)) => p.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => panic!("FoxIO object without {k}: {o}"),
        };
        let mut later = Vec::new();
        for n in 2.. {
            match s(&format!("JA4.{n}")) {
                Some(x) => later.push(x),
                None => break,
            }
        }
        out.push(FoxioStream {
            stream: o.get("stream").and_then(Value::as_u64).unwrap_or(u64::MAX),
            client: endpoint(&s("src").expect("src"), &port("srcport")).expect("src"),
            server: endpoint(&s("dst").expect("dst"), &port("dstport")).expect("dst"),
            ja4,
            ja4_r: s("JA4_r.1").or_else(|| s("JA4_r")),
            ja4s,
            later_ja4: later,
        });
    }
    out
}

/// The TLS fields of one nDPI flow line.
#[derive(Debug, Clone, PartialEq, Default)]
struct NdpiTls {
    transport: String,
    client: Endpoint,
    server: Endpoint,
    ja3c: Option<String>,
    ja4: Option<String>,
    ja3s: Option<String>,
    /// Lowercase hex, no colons.
    cert_sha1: Option<String>,
    /// `Hostname/SNI`, kept only when the flow has a ClientHello (JA3C) and nDPI's master
    /// protocol is TLS: for other protocols it is an HTTP host, a DNS name, or the server name
    /// of a mail greeting before STARTTLS.
    sni: Option<String>,
}

fn bracket_value(line: &str, key: &str) -> Option<String> {
    let start = line.find(&format!("[{key}: "))? + key.len() + 3;
    let end = start + line[start..].find(']')?;
    Some(line[start..end].trim().to_string()).filter(|v| !v.is_empty())
}

/// A fingerprint value without nDPI's annotation (`[JA3S: 4192c0… (WEAK)]`).
fn bracket_token(line: &str, key: &str) -> Option<String> {
    bracket_value(line, key).and_then(|v| v.split_whitespace().next().map(str::to_string))
}

/// nDPI's protocol name, `TLS` for `[proto: 91.26/TLS.ntop]` (the master protocol) and
/// `SMTPS` for `[proto: 29.126/SMTPS.Google]`.
fn ndpi_master(line: &str) -> Option<String> {
    let p = bracket_value(line, "proto")?;
    let name = p.split_once('/')?.1;
    Some(name.split('.').next().unwrap_or(name).to_string())
}

/// nDPI flow lines that carry JA3C, JA3S, JA4 or a certificate SHA-1.
fn parse_ndpi_tls(text: &str) -> Vec<NdpiTls> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut toks = line.split_whitespace();
        let (Some(idx), Some(proto), Some(a), Some(_arrow), Some(b)) = (
            toks.next(),
            toks.next(),
            toks.next(),
            toks.next(),
            toks.next(),
        ) else {
            continue;
        };
        if idx.parse::<u64>().is_err() || !(proto == "TCP" || proto == "UDP") {
            continue;
        }
        let (Some(client), Some(server)) = (split_hostport(a), split_hostport(b)) else {
            continue;
        };
        let ja3c = bracket_token(line, "JA3C");
        // For mail STARTTLS flows (SMTPS, POPS, IMAPS) nDPI's Hostname/SNI is the name from
        // the plaintext greeting, not the ClientHello's SNI.
        let tls_master = ndpi_master(line).as_deref() == Some("TLS");
        let e = NdpiTls {
            transport: proto.to_ascii_lowercase(),
            client,
            server,
            sni: ja3c
                .as_ref()
                .filter(|_| tls_master)
                .and_then(|_| bracket_value(line, "Hostname/SNI")),
            ja3c,
            ja4: bracket_token(line, "JA4"),
            ja3s: bracket_token(line, "JA3S"),
            cert_sha1: bracket_value(line, "Certificate SHA-1")
                .map(|h| h.replace(':', "").to_ascii_lowercase()),
        };
        if e.ja3c.is_some() || e.ja3s.is_some() || e.ja4.is_some() || e.cert_sha1.is_some() {
            out.push(e);
        }
    }
    out
}

/// One `- filter:` item of a suricata-verify test.
#[derive(Debug, Clone, Default, PartialEq)]
struct SuriFilter {
    count: Option<u64>,
    /// `requires: lt-version: …` — the check describes an older Suricata release.
    lt_version: bool,
    /// The `match:` map, values unquoted (folded continuation lines joined by a space).
    fields: Vec<(String, String)>,
}

#[derive(Debug, Clone, Default)]
struct SuriSpec {
    pcap: Option<String>,
    lt_version: bool,
    filters: Vec<SuriFilter>,
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Reads the subset of YAML that suricata-verify's test.yaml files use: top-level keys,
/// `requires:` maps, and the `checks:` list of `- filter:` maps with a nested `match:` map.
fn parse_suricata_yaml(text: &str) -> SuriSpec {
    #[derive(PartialEq)]
    enum Sec {
        None,
        TopRequires,
        Requires(usize),
        Match(usize),
    }
    let mut spec = SuriSpec::default();
    let mut cur: Option<(usize, SuriFilter)> = None;
    let mut sec = Sec::None;
    for raw in text.lines() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if let Sec::Match(mi) | Sec::Requires(mi) = sec {
            if indent <= mi {
                sec = Sec::None;
            }
        }
        let (key, val) = match t.split_once(':') {
            Some((k, v)) if !k.contains(' ') => (k.trim(), Some(v.trim())),
            _ => (t, None),
        };
        if indent == 0 && !t.starts_with("- ") {
            if let Some((_, f)) = cur.take() {
                spec.filters.push(f);
            }
            sec = if t == "requires:" {
                Sec::TopRequires
            } else {
                Sec::None
            };
            if key == "pcap" {
                spec.pcap = val.map(unquote);
            }
            continue;
        }
        if sec == Sec::TopRequires {
            if key == "lt-version" {
                spec.lt_version = true;
            }
            continue;
        }
        if let Some(item) = t.strip_prefix("- ") {
            // A list item at (or left of) the current filter's level ends that filter.
            if cur.as_ref().is_none_or(|(fi, _)| indent <= *fi) {
                if let Some((_, f)) = cur.take() {
                    spec.filters.push(f);
                }
                sec = Sec::None;
                if item.trim() == "filter:" {
                    cur = Some((indent, SuriFilter::default()));
                }
                continue;
            }
        }
        let Some((fi, f)) = cur.as_mut() else {
            continue;
        };
        if indent <= *fi {
            continue;
        }
        match sec {
            Sec::Match(_) => match val {
                Some(v) => f.fields.push((key.to_string(), unquote(v))),
                None => {
                    // Folded continuation of the previous plain scalar.
                    if let Some(last) = f.fields.last_mut() {
                        last.1.push(' ');
                        last.1.push_str(t);
                    }
                }
            },
            Sec::Requires(_) => {
                if key == "lt-version" {
                    f.lt_version = true;
                }
            }
            _ => match (key, val) {
                ("match", Some("")) => sec = Sec::Match(indent),
                ("requires", Some("")) => sec = Sec::Requires(indent),
                ("count", Some(v)) => f.count = v.parse().ok(),
                _ => {}
            },
        }
    }
    if let Some((_, f)) = cur.take() {
        spec.filters.push(f);
    }
    spec
}

/// suricata-verify MANIFEST: `expected/<test>.test.yaml` → the capture file in `pcap/`.
fn suricata_yaml_pcaps(manifest: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for r in parse_tsv(manifest) {
        let file = &r["file"];
        let Some(yaml) = file.strip_prefix("expected/") else {
            continue;
        };
        if let Some(i) = r["contents"].rfind("for pcap/") {
            let pcap = r["contents"][i + "for pcap/".len()..]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            out.insert(yaml.to_string(), pcap);
        }
    }
    out
}

/// `a(x1),b,c(x17),d(x25)` → [("a",1),("b,c",17),("d",25)]; `-` or empty → [].
fn parse_counted_list(s: &str) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    if rest == "-" {
        return out;
    }
    while !rest.is_empty() {
        // The value ends at the first "(x<digits>)" followed by "," or the end.
        let mut found = None;
        let mut from = 0;
        while let Some(i) = rest[from..].find("(x") {
            let i = from + i;
            let tail = &rest[i + 2..];
            let digits: String = tail.chars().take_while(char::is_ascii_digit).collect();
            let after = &tail[digits.len()..];
            if !digits.is_empty() && (after == ")" || after.starts_with("),")) {
                found = Some((i, digits.parse::<u64>().unwrap(), i + 2 + digits.len() + 1));
                break;
            }
            from = i + 2;
        }
        let (i, n, end) = found.unwrap_or_else(|| panic!("counted list {s:?}"));
        out.push((rest[..i].to_string(), n));
        rest = rest[end..].trim_start_matches(',');
    }
    out
}

/// One capture of the lab MANIFEST with the client TLS fingerprints it lists.
#[derive(Debug, Clone, PartialEq)]
struct LabRow {
    file: String,
    client_hellos: u64,
    ja3: Vec<(String, u64)>,
    ja4: Vec<(String, u64)>,
    /// `None` for `(none)`.
    sni: Vec<(Option<String>, u64)>,
    /// Empty list for `(none)`.
    alpn: Vec<(Vec<String>, u64)>,
}

fn parse_lab_manifest(text: &str) -> Vec<LabRow> {
    parse_tsv(text)
        .into_iter()
        .filter_map(|r| {
            let hellos: u64 = r.get("client_hellos")?.trim().parse().ok()?;
            let none = |v: String| (v != "(none)").then_some(v);
            Some(LabRow {
                file: r["file"].clone(),
                client_hellos: hellos,
                ja3: parse_counted_list(&r["client_ja3"]),
                ja4: parse_counted_list(&r["client_ja4_ja4plus"]),
                sni: parse_counted_list(&r["sni"])
                    .into_iter()
                    .map(|(v, n)| (none(v), n))
                    .collect(),
                alpn: parse_counted_list(&r["alpn"])
                    .into_iter()
                    .map(|(v, n)| (none(v).map(|v| split_list(&v, ',')).unwrap_or_default(), n))
                    .collect(),
            })
        })
        .collect()
}

// ------------------------------------------------------------------------------------------
// Our flows
// ------------------------------------------------------------------------------------------

struct Flow {
    rec: Value,
    transport: String,
    client: Endpoint,
    server: Endpoint,
    first: f64,
    last: f64,
}

impl Flow {
    fn key(&self) -> String {
        format!(
            "{} {}->{} @{:.6}",
            self.transport,
            fmt_ep(&self.client),
            fmt_ep(&self.server),
            self.first
        )
    }
    fn get(&self, field: &str) -> Option<&Value> {
        self.rec.get(field)
    }
    fn has(&self, field: &str, want: &Value) -> bool {
        self.get(field) == Some(want)
    }
}

type Flows = Arc<Result<Vec<Flow>, String>>;

/// Runs `poolscope extract --quiet` once per capture (tests run in threads of one process and
/// several references share captures).
fn flows(capture: &Path) -> Flows {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Flows>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(f) = cache.lock().unwrap().get(capture) {
        return f.clone();
    }
    let out = poolscope(&["extract", "--quiet", capture.to_str().unwrap()]);
    let res = if !out.status.success() {
        Err(format!(
            "extract failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    } else {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let rec: Value =
                    serde_json::from_str(l).map_err(|e| format!("bad NDJSON line: {e}"))?;
                let s = |k: &str| rec[k].as_str().unwrap_or("").to_string();
                let p = |k: &str| rec[k].as_u64().unwrap_or(0) as u16;
                Ok(Flow {
                    transport: s("transport"),
                    client: (canon_ip(&s("src_ip")), p("src_port")),
                    server: (canon_ip(&s("dst_ip")), p("dst_port")),
                    first: rec["first_seen"].as_f64().unwrap_or(f64::NAN),
                    last: rec["last_seen"].as_f64().unwrap_or(f64::NAN),
                    rec,
                })
            })
            .collect()
    };
    let res = Arc::new(res);
    cache
        .lock()
        .unwrap()
        .insert(capture.to_path_buf(), res.clone());
    res
}

/// Indices of our TCP flows between `a` and `b`, either orientation.
fn tcp_candidates(flows: &[Flow], a: &Endpoint, b: &Endpoint) -> Vec<usize> {
    (0..flows.len())
        .filter(|&i| {
            let f = &flows[i];
            f.transport == "tcp"
                && ((&f.client == a && &f.server == b) || (&f.client == b && &f.server == a))
        })
        .collect()
}

/// Our TCP flows between ports `a` and `b` (either orientation) alive at `t`.
fn tcp_by_ports(flows: &[Flow], a: u16, b: u16, t: f64) -> Vec<usize> {
    let ports: Vec<usize> = (0..flows.len())
        .filter(|&i| {
            let f = &flows[i];
            f.transport == "tcp"
                && ((f.client.1 == a && f.server.1 == b) || (f.client.1 == b && f.server.1 == a))
        })
        .collect();
    flow_at(flows, &ports, t).into_iter().collect()
}

/// Of `cands`, the flow whose lifetime contains `t` (the latest-starting one if several do).
fn flow_at(flows: &[Flow], cands: &[usize], t: f64) -> Option<usize> {
    const EPS: f64 = 1e-5;
    cands
        .iter()
        .copied()
        .filter(|&i| flows[i].first - EPS <= t && t <= flows[i].last + EPS)
        .max_by(|&i, &j| flows[i].first.total_cmp(&flows[j].first))
}

fn show(v: Option<&Value>) -> String {
    match v {
        None => "<field missing>".to_string(),
        Some(v) => v.to_string(),
    }
}

fn opt_str(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::from(s)
    }
}

// ------------------------------------------------------------------------------------------
// Report
// ------------------------------------------------------------------------------------------

struct Report {
    reference: &'static str,
    captures: BTreeSet<String>,
    flows: BTreeSet<String>,
    fields: BTreeMap<&'static str, usize>,
    skipped: BTreeMap<String, usize>,
    bad: Vec<String>,
    excused: Vec<String>,
    used: HashSet<usize>,
    /// Printed, never failing (nDPI's JA4, and notes such as later hellos).
    notes: Vec<String>,
}

impl Report {
    fn new(reference: &'static str) -> Self {
        Report {
            reference,
            captures: BTreeSet::new(),
            flows: BTreeSet::new(),
            fields: BTreeMap::new(),
            skipped: BTreeMap::new(),
            bad: Vec::new(),
            excused: Vec::new(),
            used: HashSet::new(),
            notes: Vec::new(),
        }
    }

    fn skip(&mut self, why: &str) {
        *self.skipped.entry(why.to_string()).or_default() += 1;
    }

    fn disagree(&mut self, capture: &str, field: &str, msg: String) {
        let found = EXCEPTIONS.iter().position(|e| {
            e.reference == self.reference
                && e.capture == capture
                && e.field == field
                && (e.flow.is_empty() || msg.contains(e.flow))
        });
        match found {
            Some(i) => {
                self.used.insert(i);
                self.excused
                    .push(format!("{msg}\n      excused: {}", EXCEPTIONS[i].reason));
            }
            None => self.bad.push(msg),
        }
    }

    /// Compares one field of one flow with the reference value.
    fn compare(&mut self, capture: &str, flow: &Flow, ctx: &str, field: &'static str, want: Value) {
        self.flows.insert(format!("{capture} {}", flow.key()));
        *self.fields.entry(field).or_default() += 1;
        let got = flow.get(field);
        if got != Some(&want) {
            let msg = format!(
                "{capture} {} ({ctx}): {field}: ours {} reference {}",
                flow.key(),
                show(got),
                want
            );
            self.disagree(capture, field, msg);
        }
    }

    /// Like `compare`, but any of several candidate flows may carry the value (references that
    /// give no time when a tuple was reused).
    fn compare_any(
        &mut self,
        capture: &str,
        flows: &[&Flow],
        ctx: &str,
        field: &'static str,
        want: Value,
    ) {
        *self.fields.entry(field).or_default() += 1;
        if let Some(f) = flows.iter().find(|f| f.has(field, &want)) {
            self.flows.insert(format!("{capture} {}", f.key()));
            return;
        }
        for f in flows {
            self.flows.insert(format!("{capture} {}", f.key()));
        }
        let ours: Vec<String> = flows
            .iter()
            .map(|f| format!("{} {}", f.key(), show(f.get(field))))
            .collect();
        let msg = format!(
            "{capture} ({ctx}): {field}: reference {want}; ours: {}",
            ours.join(" | ")
        );
        self.disagree(capture, field, msg);
    }

    /// Prints everything and asserts: no unexcused disagreement, no stale exception, and
    /// something was checked for each of `required` fields.
    fn finish(mut self, required: &[&str]) {
        for (i, e) in EXCEPTIONS.iter().enumerate() {
            if e.reference == self.reference
                && self.captures.contains(e.capture)
                && !self.used.contains(&i)
            {
                self.bad.push(format!(
                    "stale exception: {} {} {} {} no longer disagrees ({})",
                    e.reference, e.capture, e.field, e.flow, e.reason
                ));
            }
        }
        let total: usize = self.fields.values().sum();
        eprintln!(
            "[{}] checked {} captures, {} flows, {} fields: {:?}",
            self.reference,
            self.captures.len(),
            self.flows.len(),
            total,
            self.fields
        );
        if !self.skipped.is_empty() {
            eprintln!("[{}] not compared: {:?}", self.reference, self.skipped);
        }
        for n in &self.notes {
            eprintln!("[{}] note: {n}", self.reference);
        }
        for x in &self.excused {
            eprintln!("[{}] EXCUSED {x}", self.reference);
        }
        for b in &self.bad {
            eprintln!("[{}] DISAGREE {b}", self.reference);
        }
        assert!(
            !self.captures.is_empty() && !self.flows.is_empty() && total > 0,
            "[{}] nothing was checked",
            self.reference
        );
        for f in required {
            assert!(
                self.fields.get(f).copied().unwrap_or(0) > 0,
                "[{}] no {f} was checked",
                self.reference
            );
        }
        assert!(
            self.bad.is_empty(),
            "[{}] {} disagreements (all printed above)",
            self.reference,
            self.bad.len()
        );
    }
}

/// Sorted files of `dir` whose names end with `suffix`, as (capture name, path).
fn listed(dir: &Path, suffix: &str) -> Vec<(String, PathBuf)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<(String, PathBuf)> = rd
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.strip_suffix(suffix)?.to_string();
            Some((name, p))
        })
        .collect();
    v.sort();
    v
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// Loads our flows for `<root>/<folder>/pcap/<capture>`, reporting a missing capture or a
/// failed extraction as a disagreement.
fn load(rep: &mut Report, root: &Path, folder: &str, capture: &str) -> Option<Flows> {
    let name = format!("{folder}/{capture}");
    let pcap = root.join(folder).join("pcap").join(capture);
    if !pcap.is_file() {
        rep.bad.push(format!(
            "{name}: reference without its capture {}",
            pcap.display()
        ));
        return None;
    }
    let f = flows(&pcap);
    if let Err(e) = f.as_ref() {
        rep.bad.push(format!("{name}: {e}"));
        return None;
    }
    rep.captures.insert(name);
    Some(f)
}

// ------------------------------------------------------------------------------------------
// 1. Wireshark
// ------------------------------------------------------------------------------------------

const TSHARK_FOLDERS: &[&str] = &[
    "ndpi",
    "foxio-ja4",
    "suricata-verify",
    "nesfit-cryptomining",
];

fn check_wireshark(root: &Path) -> Report {
    let mut rep = Report::new("wireshark");
    // Rows whose tuple several of our flows share (port reuse), resolved by time.
    let mut reused = 0;
    for folder in TSHARK_FOLDERS {
        for (capture, tsv) in listed(&root.join(folder).join("tshark-ref"), ".tls.tsv") {
            let rows = parse_tshark_tls(&read(&tsv));
            if rows.iter().all(|r| r.transport != "tcp") {
                for _ in &rows {
                    rep.skip("udp row (QUIC/DTLS)");
                }
                continue;
            }
            let Some(flows) = load(&mut rep, root, folder, &capture) else {
                continue;
            };
            let flows = flows.as_ref().as_ref().unwrap();
            let name = format!("{folder}/{capture}");
            // Which handshake messages of each flow were already compared.
            let mut seen: HashMap<usize, [bool; 3]> = HashMap::new();
            for row in &rows {
                if row.transport != "tcp" {
                    rep.skip("udp row (QUIC/DTLS)");
                    continue;
                }
                let mut cands = tcp_candidates(flows, &row.src, &row.dst);
                let by_ports = cands.is_empty();
                if by_ports {
                    // A tunnel whose inner addresses the reference does not show (6in4: it
                    // prints the outer IPv4 pair): fall back to the ports and the time.
                    cands = tcp_by_ports(flows, row.src.1, row.dst.1, row.time);
                    if cands.len() == 1 {
                        rep.notes.push(format!(
                            "{name} frame {}: {}->{} matched by ports and time to {}",
                            row.frame,
                            fmt_ep(&row.src),
                            fmt_ep(&row.dst),
                            flows[cands[0]].key()
                        ));
                    } else {
                        cands.clear();
                    }
                }
                if cands.len() > 1 {
                    reused += 1;
                }
                let Some(i) = flow_at(flows, &cands, row.time) else {
                    let spans: Vec<String> = cands
                        .iter()
                        .map(|&i| format!("{:.6}..{:.6}", flows[i].first, flows[i].last))
                        .collect();
                    let msg = format!(
                        "{name} frame {} {}->{} at {:.6}: no tcp flow (same tuple: {:?})",
                        row.frame,
                        fmt_ep(&row.src),
                        fmt_ep(&row.dst),
                        row.time,
                        spans
                    );
                    rep.disagree(&name, "flow", msg);
                    continue;
                };
                let f = &flows[i];
                let ctx = format!("frame {}", row.frame);
                let seen = seen.entry(i).or_default();
                if row.types.contains(&1) {
                    if std::mem::replace(&mut seen[0], true) {
                        rep.skip("later ClientHello of a flow (we report the first)");
                        rep.notes.push(format!(
                            "{name} {} frame {}: later ClientHello (ja3 {}) not compared",
                            f.key(),
                            row.frame,
                            row.ja3
                        ));
                    } else {
                        // The ClientHello's sender is our flow's client (src_ip/src_port).
                        *rep.fields.entry("src (client side)").or_default() += 1;
                        let same = if by_ports {
                            row.src.1 == f.client.1
                        } else {
                            row.src == f.client
                        };
                        if !same {
                            let msg = format!(
                                "{name} {} ({ctx}): the ClientHello comes from {}, our src is {}",
                                f.key(),
                                fmt_ep(&row.src),
                                fmt_ep(&f.client)
                            );
                            rep.disagree(&name, "src", msg);
                        }
                        if row.ja3.is_empty() {
                            rep.skip("ClientHello without a Wireshark JA3");
                        } else {
                            rep.compare(&name, f, &ctx, "ja3", Value::from(row.ja3.as_str()));
                            rep.compare(
                                &name,
                                f,
                                &ctx,
                                "ja3_string",
                                Value::from(row.ja3_full.as_str()),
                            );
                        }
                        rep.compare(&name, f, &ctx, "sni", opt_str(&row.sni));
                    }
                }
                if row.types.contains(&2) {
                    if std::mem::replace(&mut seen[1], true) {
                        rep.skip("later ServerHello of a flow (we report the first)");
                    } else if row.ja3s.is_empty() {
                        rep.skip("ServerHello without a Wireshark JA3S");
                    } else {
                        rep.compare(&name, f, &ctx, "ja3s", Value::from(row.ja3s.as_str()));
                        rep.compare(
                            &name,
                            f,
                            &ctx,
                            "ja3s_string",
                            Value::from(row.ja3s_full.as_str()),
                        );
                    }
                }
                if row.types.contains(&11) {
                    if row.cert_count == 0 || row.cert_sha256.is_empty() {
                        rep.skip("empty Certificate message");
                    } else if row.src == f.client {
                        rep.skip("client Certificate (we report the server's)");
                    } else if row.types.contains(&8) {
                        rep.skip("TLS 1.3 Certificate tshark decrypted with embedded secrets");
                    } else if std::mem::replace(&mut seen[2], true) {
                        rep.skip("later server Certificate of a flow (we report the first)");
                    } else {
                        let chain: Vec<Value> = row
                            .cert_sha256
                            .iter()
                            .map(|h| Value::from(h.as_str()))
                            .collect();
                        rep.compare(
                            &name,
                            f,
                            &ctx,
                            "cert_sha1",
                            row.cert_sha1
                                .first()
                                .map(|h| Value::from(h.as_str()))
                                .into(),
                        );
                        rep.compare(&name, f, &ctx, "cert_sha256", chain[0].clone());
                        rep.compare(&name, f, &ctx, "cert_chain_sha256", Value::from(chain));
                    }
                }
            }
        }
    }
    rep.notes.push(format!(
        "{reused} rows matched by time among several flows sharing their tuple"
    ));
    rep
}

// ------------------------------------------------------------------------------------------
// 2. FoxIO
// ------------------------------------------------------------------------------------------

/// (capture, client, server) of every TCP stream FoxIO gives a JA4 for.
fn foxio_expectations(root: &Path) -> HashSet<(String, Endpoint, Endpoint)> {
    let mut out = HashSet::new();
    for (capture, p) in listed(&root.join("foxio-ja4/expected/python"), ".json") {
        for s in parse_foxio_python(&read(&p)) {
            if s.ja4.is_some() && s.is_tcp() {
                out.insert((capture.clone(), s.client.clone(), s.server.clone()));
                out.insert((capture.clone(), s.server, s.client));
            }
        }
    }
    out
}

fn check_foxio(root: &Path) -> Report {
    let mut rep = Report::new("foxio");
    let folder = "foxio-ja4";
    for (capture, json) in listed(&root.join(folder).join("expected/python"), ".json") {
        let streams = parse_foxio_python(&read(&json));
        let (tcp, other): (Vec<_>, Vec<_>) = streams.into_iter().partition(|s| s.is_tcp());
        for _ in &other {
            rep.skip("QUIC/DTLS stream");
        }
        if tcp.is_empty() {
            continue;
        }
        let Some(flows) = load(&mut rep, root, folder, &capture) else {
            continue;
        };
        let flows = flows.as_ref().as_ref().unwrap();
        let name = format!("{folder}/{capture}");
        let tsv = root
            .join(folder)
            .join("tshark-ref")
            .join(format!("{capture}.tls.tsv"));
        let rows = if tsv.is_file() {
            parse_tshark_tls(&read(&tsv))
        } else {
            Vec::new()
        };
        for s in &tcp {
            let cands = tcp_candidates(flows, &s.client, &s.server);
            let pick = if cands.len() == 1 {
                Some(cands[0])
            } else {
                // Port reuse: the Wireshark row of the same tcp.stream gives the time.
                rows.iter()
                    .filter(|r| {
                        r.transport == "tcp"
                            && r.stream == s.stream
                            && ((r.src == s.client && r.dst == s.server)
                                || (r.src == s.server && r.dst == s.client))
                    })
                    .find_map(|r| flow_at(flows, &cands, r.time))
            };
            let ctx = format!("stream {}", s.stream);
            let Some(i) = pick else {
                let msg = format!(
                    "{name} {ctx} {}->{}: {} tcp flows with this tuple, none chosen",
                    fmt_ep(&s.client),
                    fmt_ep(&s.server),
                    cands.len()
                );
                rep.disagree(&name, "flow", msg);
                continue;
            };
            let f = &flows[i];
            if let Some(v) = &s.ja4 {
                rep.compare(&name, f, &ctx, "ja4", Value::from(v.as_str()));
            }
            if let Some(v) = &s.ja4_r {
                rep.compare(&name, f, &ctx, "ja4_r", Value::from(v.as_str()));
            }
            if let Some(v) = &s.ja4s {
                rep.compare(&name, f, &ctx, "ja4s", Value::from(v.as_str()));
            }
            for later in &s.later_ja4 {
                rep.skip("later ClientHello of a stream (we report the first)");
                rep.notes.push(format!(
                    "{name} {ctx} {}: later ClientHello JA4 {later} not compared",
                    f.key()
                ));
            }
        }
    }
    rep
}

// ------------------------------------------------------------------------------------------
// 3. nDPI
// ------------------------------------------------------------------------------------------

fn check_ndpi(root: &Path) -> Report {
    let mut rep = Report::new("ndpi");
    let folder = "ndpi";
    let foxio = foxio_expectations(root);
    let (mut ja4_same, mut ja4_diff, mut ja4_foxio) = (0, 0, 0);
    for (capture, out) in listed(&root.join(folder).join("result"), ".out") {
        let entries = parse_ndpi_tls(&read(&out));
        let (tcp, udp): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.transport == "tcp");
        for _ in &udp {
            rep.skip("udp flow (QUIC/DTLS)");
        }
        if tcp.is_empty() {
            continue;
        }
        let Some(flows) = load(&mut rep, root, folder, &capture) else {
            continue;
        };
        let flows = flows.as_ref().as_ref().unwrap();
        let name = format!("{folder}/{capture}");
        for e in &tcp {
            let cands: Vec<&Flow> = tcp_candidates(flows, &e.client, &e.server)
                .into_iter()
                .map(|i| &flows[i])
                .collect();
            let ctx = format!("{} -> {}", fmt_ep(&e.client), fmt_ep(&e.server));
            if cands.is_empty() {
                rep.disagree(&name, "flow", format!("{name} ({ctx}): no tcp flow"));
                continue;
            }
            let checks: [(&'static str, &Option<String>); 4] = [
                ("ja3", &e.ja3c),
                ("ja3s", &e.ja3s),
                ("cert_sha1", &e.cert_sha1),
                ("sni", &e.sni),
            ];
            for (field, want) in checks {
                if let Some(w) = want {
                    rep.compare_any(&name, &cands, &ctx, field, Value::from(w.as_str()));
                }
            }
            // nDPI's JA4 has known bugs: compared only where FoxIO has no expectation, and a
            // disagreement is listed, never a failure.
            if let Some(w) = &e.ja4 {
                if foxio.contains(&(capture.clone(), e.client.clone(), e.server.clone())) {
                    ja4_foxio += 1;
                } else if cands.iter().any(|f| f.has("ja4", &Value::from(w.as_str()))) {
                    ja4_same += 1;
                } else {
                    ja4_diff += 1;
                    let ours: Vec<String> = cands.iter().map(|f| show(f.get("ja4"))).collect();
                    rep.notes.push(format!(
                        "JA4 differs from nDPI (not a failure): {name} ({ctx}): nDPI {w}, ours {}",
                        ours.join(" | ")
                    ));
                }
            }
        }
    }
    rep.notes.push(format!(
        "nDPI JA4 (informational): {ja4_same} agree, {ja4_diff} differ, {ja4_foxio} left to FoxIO"
    ));
    rep
}

// ------------------------------------------------------------------------------------------
// 4. Suricata
// ------------------------------------------------------------------------------------------

/// Suricata EVE key → (our field, value transform).
fn suricata_field(key: &str, v: &str) -> Option<(&'static str, Value)> {
    Some(match key {
        "tls.ja3.hash" => ("ja3", Value::from(v)),
        "tls.ja3.string" => ("ja3_string", Value::from(v)),
        "tls.ja3s.hash" => ("ja3s", Value::from(v)),
        "tls.ja3s.string" => ("ja3s_string", Value::from(v)),
        "tls.ja4" => ("ja4", Value::from(v)),
        "tls.sni" => ("sni", Value::from(v)),
        "tls.fingerprint" => ("cert_sha1", Value::from(v.replace(':', "").to_lowercase())),
        _ => return None,
    })
}

fn check_suricata(root: &Path) -> Report {
    let mut rep = Report::new("suricata");
    let folder = "suricata-verify";
    let manifest = root.join(folder).join("MANIFEST.tsv");
    let pcaps = if manifest.is_file() {
        suricata_yaml_pcaps(&read(&manifest))
    } else {
        HashMap::new()
    };
    let mut done: HashSet<String> = HashSet::new();
    for (test, yaml) in listed(&root.join(folder).join("expected"), ".test.yaml") {
        let spec = parse_suricata_yaml(&read(&yaml));
        let yaml_name = format!("{test}.test.yaml");
        let wanted: Vec<(&SuriFilter, Vec<(&'static str, Value)>)> = spec
            .filters
            .iter()
            .map(|f| {
                let fs = f
                    .fields
                    .iter()
                    .filter_map(|(k, v)| suricata_field(k, v))
                    .collect::<Vec<_>>();
                (f, fs)
            })
            .filter(|(_, fs)| !fs.is_empty())
            .collect();
        if wanted.is_empty() {
            continue;
        }
        if spec.lt_version {
            rep.skip("test for old Suricata releases (requires lt-version)");
            continue;
        }
        let Some(capture) = pcaps.get(&yaml_name) else {
            rep.bad.push(format!(
                "{folder}/expected/{yaml_name}: no capture in MANIFEST.tsv"
            ));
            continue;
        };
        let Some(flows) = load(&mut rep, root, folder, capture) else {
            continue;
        };
        let flows = flows.as_ref().as_ref().unwrap();
        let name = format!("{folder}/{capture}");
        for (f, fields) in wanted {
            if f.count == Some(0) {
                rep.skip("count: 0 filter (Suricata must NOT log it under that policy)");
                continue;
            }
            if f.lt_version {
                rep.skip("filter for old Suricata releases (requires lt-version)");
                continue;
            }
            let get = |k: &str| {
                f.fields
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
            };
            let eps: Vec<Endpoint> = [("src_ip", "src_port"), ("dest_ip", "dest_port")]
                .iter()
                .filter_map(|(ip, port)| endpoint(get(ip)?, get(port)?))
                .collect();
            let key = format!("{name} {eps:?} {fields:?}");
            if !done.insert(key) {
                rep.skip("same expectation in another test");
                continue;
            }
            let cands: Vec<&Flow> = flows
                .iter()
                .filter(|fl| {
                    fl.transport == "tcp" && eps.iter().all(|e| &fl.client == e || &fl.server == e)
                })
                .collect();
            let ctx = format!("{yaml_name}{}", if eps.is_empty() { "" } else { " tuple" });
            if let Some(fl) = cands
                .iter()
                .find(|fl| fields.iter().all(|(k, v)| fl.has(k, v)))
            {
                for (k, v) in &fields {
                    rep.compare(&name, fl, &ctx, k, v.clone());
                }
            } else {
                // No single flow carries them all: report field by field.
                let before = rep.bad.len() + rep.excused.len();
                for (k, v) in &fields {
                    rep.compare_any(&name, &cands, &ctx, k, v.clone());
                }
                if rep.bad.len() + rep.excused.len() == before {
                    let msg = format!("{name} ({ctx}): no one flow carries all of {fields:?}");
                    rep.disagree(&name, "flow", msg);
                }
            }
        }
    }
    rep
}

// ------------------------------------------------------------------------------------------
// 5. Lab MANIFEST
// ------------------------------------------------------------------------------------------

fn multiset<T: Ord + Clone>(v: &[(T, u64)]) -> BTreeMap<T, u64> {
    let mut m = BTreeMap::new();
    for (k, n) in v {
        *m.entry(k.clone()).or_default() += n;
    }
    m
}

fn check_lab(root: &Path) -> Report {
    let mut rep = Report::new("lab");
    let manifest = root.join("lab/MANIFEST.tsv");
    if !manifest.is_file() {
        return rep;
    }
    for row in parse_lab_manifest(&read(&manifest)) {
        if row.client_hellos == 0 {
            continue;
        }
        let name = format!("lab/{}", row.file);
        let pcap = root.join("lab").join(&row.file);
        if !pcap.is_file() {
            rep.bad.push(format!("{name}: capture missing"));
            continue;
        }
        let all = flows(&pcap);
        let all = match all.as_ref() {
            Ok(all) => all,
            Err(e) => {
                rep.bad.push(format!("{name}: {e}"));
                continue;
            }
        };
        rep.captures.insert(name.clone());
        let tls: Vec<&Flow> = all
            .iter()
            .filter(|f| f.transport == "tcp" && f.get("ja3").is_some_and(|v| !v.is_null()))
            .collect();
        for f in &tls {
            rep.flows.insert(format!("{name} {}", f.key()));
        }
        // Multisets of JSON-serialised values (serde_json::Value is not Ord).
        let mut check = |field: &'static str, want: Vec<(Value, u64)>| {
            *rep.fields.entry(field).or_default() += tls.len();
            let mut got: BTreeMap<String, u64> = BTreeMap::new();
            for f in &tls {
                *got.entry(show(f.get(field))).or_default() += 1;
            }
            let want = multiset(
                &want
                    .into_iter()
                    .map(|(k, n)| (k.to_string(), n))
                    .collect::<Vec<_>>(),
            );
            if got != want {
                let msg = format!("{name}: {field}: ours {got:?} reference {want:?}");
                rep.disagree(&name, field, msg);
            }
        };
        let strs = |v: &[(String, u64)]| -> Vec<(Value, u64)> {
            v.iter()
                .map(|(k, n)| (Value::from(k.as_str()), *n))
                .collect()
        };
        check("ja3", strs(&row.ja3));
        check("ja4", strs(&row.ja4));
        check(
            "sni",
            row.sni
                .iter()
                .map(|(k, n)| (k.as_deref().map(Value::from).unwrap_or(Value::Null), *n))
                .collect(),
        );
        check(
            "alpn",
            row.alpn
                .iter()
                .map(|(k, n)| (Value::from(k.clone()), *n))
                .collect(),
        );
        if tls.len() as u64 != row.client_hellos {
            rep.bad.push(format!(
                "{name}: {} tcp flows with a ClientHello, reference {}",
                tls.len(),
                row.client_hellos
            ));
        }
    }
    rep
}

// ------------------------------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------------------------------

fn fixtures() -> PathBuf {
    data("tls-ref-e2e")
}

/// The reference parsers, on hand-checked values of the fixture references (and a few inline
/// snippets for the cases the fixtures lack). Values were read off the files by eye and, where
/// two tools describe the same flow, cross-checked between them.
#[test]
fn reference_parsers_read_hand_checked_values() {
    let root = fixtures();
    let s = |x: &str| x.to_string();

    // --- tshark .tls.tsv: ClientHello, ServerHello, then Certificate with a 2-cert chain.
    let rows = parse_tshark_tls(&read(
        &root.join("suricata-verify/tshark-ref/bug-2646-01__input.pcap.tls.tsv"),
    ));
    assert_eq!(rows.len(), 3);
    let (ch, sh, cert) = (&rows[0], &rows[1], &rows[2]);
    assert_eq!((ch.frame, ch.stream, ch.transport.as_str()), (4, 0, "tcp"));
    assert!((ch.time - 1537728271.159846).abs() < 1e-6);
    assert_eq!(ch.src, (s("192.168.0.253"), 49584));
    assert_eq!(ch.dst, (s("151.101.36.133"), 443));
    assert_eq!(ch.types, vec![1]);
    assert_eq!(ch.sni, "raw.githubusercontent.com");
    assert!(ch
        .ja3_full
        .starts_with("771,49196-49200-49195-49199-52393-"));
    assert_eq!(ch.ja3.len(), 32);
    assert_eq!(sh.types, vec![2]);
    assert_eq!(sh.ja3s, "098e26e2609212ac1bfac552fbe04127");
    assert_eq!(sh.ja3s_full, "771,49199,65281-0-11-35-23");
    assert!(sh.ja3.is_empty() && sh.cert_sha1.is_empty());
    assert_eq!(cert.types, vec![11, 12, 14]);
    assert_eq!(cert.src, (s("151.101.36.133"), 443));
    assert_eq!(cert.cert_count, 2);
    assert_eq!(
        cert.cert_sha1,
        vec![
            s("ccaa484866460e91532c9c7c232ab1744d299d33"),
            s("a031c46782e6e6c662c2c87c76da9aa62ccabd8e")
        ]
    );
    assert_eq!(
        cert.cert_sha256,
        vec![
            s("d25d74b6e9af00715a4e5db82670492a0a6b910dc2febaf6bfa860c71437548f"),
            s("19400be5b7a31fb733917700789d2f0a2471c0c9d506c0e504c06c16d7cb17c0")
        ]
    );
    // A second ClientHello of one stream (HelloRetryRequest), same tuple.
    let rows = parse_tshark_tls(&read(
        &root.join("foxio-ja4/tshark-ref/tls-handshake.pcapng.tls.tsv"),
    ));
    let s38: Vec<&TsharkRow> = rows.iter().filter(|r| r.stream == 38).collect();
    assert_eq!(
        s38.iter().map(|r| r.frame).collect::<Vec<_>>(),
        vec![119, 124, 125, 133]
    );
    assert_eq!(s38[0].ja3, "9e7fd085859af4550bd92586d02652e2");
    assert_eq!(s38[2].ja3, "989457eb4c148cbbe80b7799ac9aef59");
    assert_eq!(s38[1].ja3s, "15af977ce25de452b96affa2addb1036");
    assert_eq!(s38[1].ja3s_full, "771,4866,43-51");
    // Tunnelled frames list every IP layer, outer first (ndpi/capwap_data.pcapng frame 9).
    let rows = parse_tshark_tls(
        "frame\ttime_epoch\ttransport\tstream\tsrc\tsport\tdst\tdport\thandshake_types\tsni\t\
         ja3_full\tja3\tja3s_full\tja3s\tcert_count\tcert_sha1\tcert_sha256\n\
         9\t1517901568.892856000\ttcp\t0\t172.50.100.155;10.1.3.68\t47025\t\
         172.16.100.87;74.125.130.188\t443\t1\t\t\t\t\t\t0\t\t\n",
    );
    assert_eq!(rows[0].src, (s("10.1.3.68"), 47025));
    assert_eq!(rows[0].dst, (s("74.125.130.188"), 443));
    assert!(rows[0].sni.is_empty() && rows[0].cert_sha256.is_empty());

    // --- FoxIO python JSON.
    let fx = parse_foxio_python(&read(
        &root.join("foxio-ja4/expected/python/tls12.pcap.json"),
    ));
    assert_eq!(
        fx,
        vec![FoxioStream {
            stream: 0,
            client: (s("192.168.133.129"), 36372),
            server: (s("34.117.237.239"), 443),
            ja4: Some(s("t13d1715h2_5b57614c22b0_3d5424432f57")),
            ja4_r: Some(s(
                "t13d1715h2_002f,0035,009c,009d,1301,1302,1303,c009,c00a,c013,c014,\
                c02b,c02c,c02f,c030,cca8,cca9_0005,000a,000b,000d,0015,0017,001c,0022,0023,002b,\
                002d,0033,ff01_0403,0503,0603,0804,0805,0806,0401,0501,0601,0203,0201"
            )),
            ja4s: None,
            later_ja4: vec![],
        }]
    );
    assert!(fx[0].is_tcp());
    let fx = parse_foxio_python(&read(
        &root.join("foxio-ja4/expected/python/badcurveball.pcap.json"),
    ));
    assert_eq!(fx.len(), 1);
    assert_eq!(
        fx[0].ja4.as_deref(),
        Some("t13d1615h2_46e7e9700bed_45f260be83e2")
    );
    assert_eq!(fx[0].ja4s.as_deref(), Some("t1205h1_c02b_845f7282a956"));
    let fx = parse_foxio_python(&read(
        &root.join("foxio-ja4/expected/python/tls-handshake.pcapng.json"),
    ));
    assert_eq!(fx.len(), 59);
    let f38 = fx.iter().find(|f| f.stream == 38).unwrap();
    assert_eq!(f38.client, (s("192.168.1.168"), 50159));
    assert_eq!(
        f38.ja4.as_deref(),
        Some("t13d1516h2_8daaf6152771_e5627efa2ab1")
    );
    assert_eq!(
        f38.later_ja4,
        vec![s("t13d1515h2_8daaf6152771_f37e75b10bcc")]
    );
    assert_eq!(f38.ja4s.as_deref(), Some("t130200_1302_a56c5b993250"));
    // JA4H-only objects are dropped; QUIC streams are recognised by their `q` prefix.
    let fx = parse_foxio_python(
        r#"[{"stream": 0, "src": "::1", "dst": "::1", "srcport": "1", "dstport": "2",
              "JA4H": "ge11nn05enus_x_y_z"},
             {"stream": 0, "src": "2001:db8:1::1", "dst": "2606:4700:10::6816:826",
              "srcport": "57098", "dstport": "443", "JA4.1": "q13d0310h3_55b375c5d22e_cd85d2d88918",
              "JA4S": "q130200_1301_234ea6891581"}]"#,
    );
    assert_eq!(fx.len(), 1);
    assert!(!fx[0].is_tcp());
    assert_eq!(fx[0].server, (s("2606:4700:10::6816:826"), 443));

    // --- nDPI flow lines. JA3C and the certificate SHA-1 agree with Wireshark's row for
    // the same flow (ndpi/tshark-ref/long_tls_certificate.pcap.tls.tsv).
    let nd = parse_ndpi_tls(&read(
        &root.join("ndpi/result/long_tls_certificate.pcap.out"),
    ));
    assert_eq!(
        nd,
        vec![NdpiTls {
            transport: s("tcp"),
            client: (s("192.168.1.60"), 55333),
            server: (s("106.15.100.123"), 443),
            ja3c: Some(s("2a26b1a62e40d25d4de3babc9d532f30")),
            ja4: Some(s("t12d6707h2_2955a3196ffa_c83f907a73d3")),
            ja3s: Some(s("eee3d2bf5f17d17548ac36ba1872951f")),
            cert_sha1: Some(s("2bc68222e994092434e15cf124769875457853da")),
            sni: Some(s("beacon-api.aliyuncs.com")),
        }]
    );
    let ts = parse_tshark_tls(&read(
        &root.join("ndpi/tshark-ref/long_tls_certificate.pcap.tls.tsv"),
    ));
    assert_eq!(Some(&ts[0].ja3), nd[0].ja3c.as_ref());
    assert_eq!(Some(&ts[1].ja3s), nd[0].ja3s.as_ref());
    assert_eq!(ts[2].cert_sha1.first(), nd[0].cert_sha1.as_ref());
    let nd = parse_ndpi_tls(
        "\t1\tTCP [2001:b07::1]:40294 -> [2a00:1450:4002:0414::2013]:443 [proto: 91/TLS]\
         [JA3S: 0123 (WEAK)][Certificate SHA-1: 0D:DB:34:F8][Hostname/SNI: no-client-hello]\n\
         \t2\tUDP 10.0.0.1:1 <-> 10.0.0.2:443 [proto: 188/QUIC][JA3C: abc][JA4: q13d0310h3_x_y]\n\
         \t3\tTCP 10.0.0.1:2 <-> 10.0.0.2:80 [proto: 7/HTTP][Hostname/SNI: www.example.com]\n\
         \t4\tTCP 10.0.0.1:3 <-> 10.0.0.2:25 [proto: 29.126/SMTPS.Google][Hostname/SNI: mx.x]\
         [JA3C: fab5][JA3S: 6b96 (INSECURE)]\n\
         \t5\tTCP 10.0.0.1:4 <-> 10.0.0.2:443 [proto: CAPWAP:91.239/TLS.GoogleServices]\
         [Hostname/SNI: www.google.com][JA3C: 1234]\n\
         \t\t 192.168.1.13 \t 1 [JA3C: ignored]\n",
    );
    assert_eq!(nd.len(), 4, "{nd:?}");
    assert_eq!(nd[0].transport, "tcp");
    assert_eq!(nd[0].client, (s("2001:b07::1"), 40294));
    assert_eq!(nd[0].server, (s("2a00:1450:4002:414::2013"), 443));
    assert_eq!(nd[0].ja3s.as_deref(), Some("0123"), "annotation dropped");
    assert_eq!(nd[0].cert_sha1.as_deref(), Some("0ddb34f8"));
    assert_eq!(
        nd[0].sni, None,
        "Hostname/SNI without a ClientHello is not an SNI"
    );
    assert_eq!(nd[1].transport, "udp");
    assert_eq!(nd[1].ja4.as_deref(), Some("q13d0310h3_x_y"));
    assert_eq!(nd[2].ja3c.as_deref(), Some("fab5"));
    assert_eq!(nd[2].ja3s.as_deref(), Some("6b96"));
    assert_eq!(nd[2].sni, None, "a STARTTLS greeting name is not an SNI");
    assert_eq!(nd[3].sni.as_deref(), Some("www.google.com"));

    // --- suricata-verify test.yaml and its MANIFEST mapping.
    let pcaps = suricata_yaml_pcaps(&read(&root.join("suricata-verify/MANIFEST.tsv")));
    assert_eq!(
        pcaps["bug-5713-02-ja4.test.yaml"],
        "bug-5713-01__TLSv1-Extracted-MaliciousC2.pcap"
    );
    assert_eq!(
        pcaps["tls__tls-ja3s.test.yaml"],
        "tls__tls-certs-alert__input.pcap"
    );
    let y = parse_suricata_yaml(&read(
        &root.join("suricata-verify/expected/bug-2646-01.test.yaml"),
    ));
    assert!(!y.lt_version && y.pcap.is_none());
    assert_eq!(y.filters.len(), 2);
    let f0 = &y.filters[0];
    assert_eq!(f0.count, Some(1));
    let get = |f: &SuriFilter, k: &str| {
        f.fields
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(
        get(f0, "tls.fingerprint").as_deref(),
        Some("cc:aa:48:48:66:46:0e:91:53:2c:9c:7c:23:2a:b1:74:4d:29:9d:33")
    );
    assert_eq!(
        get(f0, "tls.sni").as_deref(),
        Some("raw.githubusercontent.com")
    );
    assert_eq!(get(f0, "src_port").as_deref(), Some("49584"));
    assert_eq!(
        get(f0, "tls.notafter").as_deref(),
        Some("2020-05-13T12:00:00")
    );
    assert_eq!(
        get(f0, "tls.issuerdn").as_deref(),
        Some(
            "C=US, O=DigiCert Inc, OU=www.digicert.com, CN=DigiCert SHA2 High Assurance Server CA"
        )
    );
    // Suricata's fingerprint is Wireshark's leaf SHA-1 of the same flow.
    let (field, v) =
        suricata_field("tls.fingerprint", &get(f0, "tls.fingerprint").unwrap()).unwrap();
    assert_eq!(field, "cert_sha1");
    assert_eq!(v, Value::from("ccaa484866460e91532c9c7c232ab1744d299d33"));
    let y = parse_suricata_yaml(&read(
        &root.join("suricata-verify/expected/tls__tls-ja3s.test.yaml"),
    ));
    assert_eq!(
        y.pcap.as_deref(),
        Some("../../tls/tls-certs-alert/input.pcap")
    );
    assert_eq!(y.filters.len(), 2);
    assert_eq!(
        y.filters[1].fields,
        vec![
            (s("event_type"), s("tls")),
            (s("tls.ja3s.hash"), s("5d79edf64e03689ff559a54e9d9487bc")),
            (s("tls.ja3s.string"), s("771,49199,65281-0-11-16-23")),
        ]
    );
    let y = parse_suricata_yaml(&read(
        &root.join("suricata-verify/expected/ja4-rules-7.0.x-01.test.yaml"),
    ));
    assert!(y.lt_version, "top-level requires lt-version 8");
    assert_eq!(y.pcap.as_deref(), Some("../ja4-rules/input.pcap"));
    assert_eq!(y.filters.len(), 4);
    let y = parse_suricata_yaml(&read(
        &root.join("suricata-verify/expected/exception-policy-applayer-01.test.yaml"),
    ));
    let sni: Vec<&SuriFilter> = y
        .filters
        .iter()
        .filter(|f| get(f, "tls.sni").is_some())
        .collect();
    assert_eq!(sni.len(), 1);
    assert_eq!(sni[0].count, Some(0));
    assert!(y.filters.iter().all(|f| !f.lt_version), "min-version only");
    let y = parse_suricata_yaml(
        "requires:\n  features:\n    - HAVE_JA3\n  min-version: 7\nchecks:\n\
         - filter:\n    requires:\n      features:\n        - X\n      lt-version: 8.0.3\n\
         \x20   count: 1\n    match:\n      tls.sni: \"icloud.com\"\n      tls.version: 'TLS 1.3'\n\
         - filter:\n    count: 2\n    match:\n      tls.ja4: t13d\n",
    );
    assert!(!y.lt_version);
    assert_eq!(y.filters.len(), 2);
    assert!(y.filters[0].lt_version && !y.filters[1].lt_version);
    assert_eq!(
        y.filters[0].fields,
        vec![
            (s("tls.sni"), s("icloud.com")),
            (s("tls.version"), s("TLS 1.3"))
        ]
    );
    assert_eq!(y.filters[1].count, Some(2));

    // --- lab MANIFEST (the values the brief and /work/shared/data/lab/MANIFEST.tsv give).
    let lab = parse_lab_manifest(&read(&root.join("lab/MANIFEST.tsv")));
    let rx = lab.iter().find(|r| r.file == "xmrig-rx-tls.pcap").unwrap();
    assert_eq!(
        rx,
        &LabRow {
            file: s("xmrig-rx-tls.pcap"),
            client_hellos: 1,
            ja3: vec![(s("a3afc2c46ba4a7d7fbe1cfb7a3031c2f"), 1)],
            ja4: vec![(s("t13d311000_e8f1e7e78f70_1f22a2ca17c4"), 1)],
            sni: vec![(Some(s("localhost")), 1)],
            alpn: vec![(vec![], 1)],
        }
    );
    assert!(lab
        .iter()
        .any(|r| r.file == "xmrig-gr-tls.pcap" && r.ja3 == rx.ja3));
    assert_eq!(
        parse_counted_list(
            "t13d3112h2_e8f1e7e78f70_b26ce05bbdd6(x17),t13d3112h1_e8f1e7e78f70_b26ce05bbdd6(x25)"
        ),
        vec![
            (s("t13d3112h2_e8f1e7e78f70_b26ce05bbdd6"), 17),
            (s("t13d3112h1_e8f1e7e78f70_b26ce05bbdd6"), 25)
        ]
    );
    assert_eq!(
        parse_counted_list("h2,http/1.1(x17),http/1.1(x25)"),
        vec![(s("h2,http/1.1"), 17), (s("http/1.1"), 25)]
    );
    assert_eq!(parse_counted_list("-"), vec![]);
}

/// Matching a reference row to one of our flows: either orientation, TCP only, and by time
/// when a reused port gives several flows the same tuple (the corpus has no such TLS row today,
/// so this is checked on made-up flows).
#[test]
fn flow_matching_uses_tuple_and_time() {
    let flow = |transport: &str, c: (&str, u16), s: (&str, u16), first: f64, last: f64| Flow {
        rec: Value::Null,
        transport: transport.to_string(),
        client: (c.0.to_string(), c.1),
        server: (s.0.to_string(), s.1),
        first,
        last,
    };
    let flows = vec![
        flow("tcp", ("10.0.0.1", 5000), ("10.0.0.2", 443), 100.0, 110.0),
        flow("tcp", ("10.0.0.1", 5000), ("10.0.0.2", 443), 200.0, 210.0),
        flow("udp", ("10.0.0.1", 5000), ("10.0.0.2", 443), 100.0, 300.0),
        flow("tcp", ("10.0.0.3", 5000), ("10.0.0.2", 443), 100.0, 300.0),
        flow(
            "tcp",
            ("2001:db8::1", 6000),
            ("2001:db8::2", 443),
            100.0,
            300.0,
        ),
    ];
    let a = (s("10.0.0.1"), 5000);
    let b = (s("10.0.0.2"), 443);
    fn s(x: &str) -> String {
        x.to_string()
    }
    let c = tcp_candidates(&flows, &b, &a);
    assert_eq!(c, vec![0, 1], "either orientation, tcp only");
    assert_eq!(flow_at(&flows, &c, 105.0), Some(0));
    assert_eq!(flow_at(&flows, &c, 200.0), Some(1));
    assert_eq!(flow_at(&flows, &c, 210.000001), Some(1), "within 10 µs");
    assert_eq!(flow_at(&flows, &c, 150.0), None);
    assert_eq!(tcp_by_ports(&flows, 443, 6000, 150.0), vec![4]);
    // Reference addresses in other spellings.
    let v6 = endpoint("2001:0db8:0000::0001", "6000").unwrap();
    assert_eq!(
        tcp_candidates(&flows, &v6, &split_hostport("[2001:db8::2]:443").unwrap()),
        vec![4]
    );
    assert_eq!(last_of("172.50.100.155;10.1.3.68"), "10.1.3.68");
}

#[test]
fn fixtures_agree_with_wireshark() {
    check_wireshark(&fixtures()).finish(&[
        "ja3",
        "ja3_string",
        "sni",
        "ja3s",
        "ja3s_string",
        "cert_sha1",
        "cert_sha256",
        "cert_chain_sha256",
    ]);
}

#[test]
fn fixtures_agree_with_foxio_ja4() {
    check_foxio(&fixtures()).finish(&["ja4", "ja4_r", "ja4s"]);
}

#[test]
fn fixtures_agree_with_ndpi() {
    check_ndpi(&fixtures()).finish(&["ja3", "ja3s", "cert_sha1", "sni"]);
}

#[test]
fn fixtures_agree_with_suricata() {
    check_suricata(&fixtures()).finish(&["ja3", "ja3s", "ja4", "sni", "cert_sha1"]);
}

#[test]
fn fixtures_agree_with_lab_manifest() {
    check_lab(&fixtures()).finish(&["ja3", "ja4", "sni", "alpn"]);
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_agrees_with_wireshark() {
    let root = corpus();
    check_wireshark(&root).finish(&[
        "ja3",
        "ja3_string",
        "sni",
        "ja3s",
        "ja3s_string",
        "cert_sha1",
        "cert_sha256",
        "cert_chain_sha256",
    ]);
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_agrees_with_foxio_ja4() {
    let root = corpus();
    check_foxio(&root).finish(&["ja4", "ja4_r", "ja4s"]);
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_agrees_with_ndpi() {
    let root = corpus();
    check_ndpi(&root).finish(&["ja3", "ja3s", "cert_sha1", "sni"]);
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_agrees_with_suricata() {
    let root = corpus();
    check_suricata(&root).finish(&["ja3", "ja3s", "ja4", "sni", "cert_sha1"]);
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_agrees_with_lab_manifest() {
    let root = corpus();
    check_lab(&root).finish(&["ja3", "ja4", "sni", "alpn"]);
}
