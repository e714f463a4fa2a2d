//! Tests of the TLS dissector on real streams, checked against other tools' outputs.
//!
//! The byte vectors in `tests/data/vectors/tls/` are TCP streams as `tshark -z follow,tcp,raw`
//! prints them (see `PROVENANCE.tsv` and `make_vectors.py` there); the expected values come
//! from filtered copies of Wireshark's, FoxIO's and the lab's reference outputs in
//! `tests/data/tls-ref/`. Disagreements we understand and keep are listed, with their reason, in
//! `tests/data/tls-ref/KNOWN_DISAGREEMENTS.tsv`; any other one fails. With `POOLSCOPE_CORPUS`
//! set to the shared data directory, `corpus_sweep` does the same over every TCP stream that
//! Wireshark saw a handshake in, running tshark itself (it fails if the directory is missing;
//! `POOLSCOPE_SWEEP_VERBOSE=1` lists nDPI differences and parse errors).
//! `POOLSCOPE_DEBUG_STREAM=file.pcap:N` prints what the dissector makes of one stream, and
//! `POOLSCOPE_TLS_STRESS=N` raises the number of mutated streams fed to the dissector.

use super::{TlsDissector, TlsInfo};
use crate::fingerprint::{Ja4, Ja4s};
use crate::flow::direction::Direction;
use crate::flow::reassembly::Chunk;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// Streams

/// One TCP stream: chunks in capture order.
#[derive(Debug, Clone, Default)]
struct Stream {
    chunks: Vec<(Direction, Vec<u8>)>,
}

impl Stream {
    fn bytes(&self, dir: Direction) -> Vec<u8> {
        self.chunks
            .iter()
            .filter(|(d, _)| *d == dir)
            .flat_map(|(_, b)| b.iter().copied())
            .collect()
    }

    fn count(&self, dir: Direction) -> usize {
        self.chunks.iter().filter(|(d, _)| *d == dir).count()
    }
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vectors_dir() -> PathBuf {
    crate_dir().join("tests/data/vectors/tls")
}

fn refs_dir() -> PathBuf {
    crate_dir().join("tests/data/tls-ref")
}

fn decode_hex(text: &str) -> Vec<u8> {
    hex::decode(text.trim())
        .unwrap_or_else(|e| panic!("bad hex {e}: {}", &text[..text.len().min(40)]))
}

/// Read a vector file: `c <hex>` / `s <hex>` lines, `#` comments.
fn load_vector(name: &str) -> Stream {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut stream = Stream::default();
    for line in text.lines() {
        if let Some(hex) = line.strip_prefix("c ") {
            stream
                .chunks
                .push((Direction::ClientToServer, decode_hex(hex)));
        } else if let Some(hex) = line.strip_prefix("s ") {
            stream
                .chunks
                .push((Direction::ServerToClient, decode_hex(hex)));
        }
    }
    stream
}

/// Feed a stream chunk by chunk, as the flow layer would, stopping when told to.
fn dissect(stream: &Stream) -> TlsDissector {
    let mut d = TlsDissector::new();
    for (dir, bytes) in &stream.chunks {
        if !d.wants_more() {
            break;
        }
        d.on_chunk(*dir, Chunk::Data(bytes));
    }
    d
}

/// Feed each direction in pieces of `size` bytes, the client's bytes first.
fn dissect_in_pieces(stream: &Stream, size: usize) -> TlsDissector {
    let mut d = TlsDissector::new();
    for dir in [Direction::ClientToServer, Direction::ServerToClient] {
        for piece in stream.bytes(dir).chunks(size) {
            d.on_chunk(dir, Chunk::Data(piece));
        }
    }
    d
}

// ---------------------------------------------------------------------------------------------
// Reference outputs

/// One value a reference tool gave for a stream. `Some("")` means the tool saw the message and
/// gave no value.
type RefValue = Option<String>;

/// What reference tools say about one stream, field by field.
#[derive(Debug, Clone, Default)]
struct Expected {
    /// field name -> (tool, value)
    fields: BTreeMap<&'static str, (&'static str, String)>,
    /// Endpoint ("ip:port", IPv6 in brackets) that sent the ClientHello, when known.
    client: Option<String>,
}

impl Expected {
    fn set(&mut self, field: &'static str, tool: &'static str, value: RefValue) {
        if let Some(v) = value {
            self.fields.entry(field).or_insert((tool, v));
        }
    }
}

fn endpoint(ip: &str, port: &str) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// Wireshark's per-frame table (`*/tshark-ref/*.tls.tsv`), TCP rows grouped by stream.
fn load_tshark_tsv(path: &Path) -> BTreeMap<u64, Expected> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (c_transport, c_stream, c_src, c_sport, c_dst, c_dport, c_types) = (
        col("transport"),
        col("stream"),
        col("src"),
        col("sport"),
        col("dst"),
        col("dport"),
        col("handshake_types"),
    );
    let (c_sni, c_ja3f, c_ja3, c_ja3sf, c_ja3s, c_count, c_sha1, c_sha256) = (
        col("sni"),
        col("ja3_full"),
        col("ja3"),
        col("ja3s_full"),
        col("ja3s"),
        col("cert_count"),
        col("cert_sha1"),
        col("cert_sha256"),
    );
    let mut out: BTreeMap<u64, Expected> = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < header.len() || f[c_transport] != "tcp" {
            continue;
        }
        let Ok(stream) = f[c_stream].parse::<u64>() else {
            continue;
        };
        let e = out.entry(stream).or_default();
        let types: Vec<&str> = f[c_types].split(';').collect();
        const WS: &str = "wireshark";
        if types.contains(&"1") && !e.fields.contains_key("ja3") {
            e.client
                .get_or_insert_with(|| endpoint(f[c_src], f[c_sport]));
            e.set("sni", WS, Some(f[c_sni].to_string()));
            e.set("ja3_string", WS, Some(f[c_ja3f].to_string()));
            e.set("ja3", WS, Some(f[c_ja3].to_string()));
        }
        if types.contains(&"2") && !e.fields.contains_key("ja3s") {
            e.client
                .get_or_insert_with(|| endpoint(f[c_dst], f[c_dport]));
            e.set("ja3s_string", WS, Some(f[c_ja3sf].to_string()));
            e.set("ja3s", WS, Some(f[c_ja3s].to_string()));
        }
        if f[c_count].parse::<u32>().is_ok_and(|n| n > 0) && !e.fields.contains_key("cert_sha1") {
            e.set(
                "cert_sha1",
                WS,
                Some(f[c_sha1].split(';').next().unwrap_or("").to_string()),
            );
            e.set("cert_chain_sha1", WS, Some(f[c_sha1].to_string()));
            e.set("cert_chain_sha256", WS, Some(f[c_sha256].to_string()));
        }
    }
    out
}

/// FoxIO's Python reference output (`expected/python/*.json`), by stream.
fn load_foxio_python(path: &Path, out: &mut BTreeMap<u64, Expected>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let entries: serde_json::Value = serde_json::from_str(&text).expect("FoxIO JSON");
    const FOX: &str = "foxio-python";
    for entry in entries.as_array().into_iter().flatten() {
        let Some(stream) = entry.get("stream").and_then(|s| s.as_u64()) else {
            continue;
        };
        let get = |k: &str| entry.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let e = out.entry(stream).or_default();
        e.set("ja4", FOX, get("JA4.1"));
        e.set("ja4_r", FOX, get("JA4_r.1"));
        e.set("ja4_o", FOX, get("JA4_o.1"));
        e.set("ja4_ro", FOX, get("JA4_ro.1"));
        e.set("ja4s", FOX, get("JA4S"));
        e.set("ja4s_r", FOX, get("JA4S_r"));
    }
}

/// FoxIO's Rust reference output (`expected/rust/*.snap`, insta YAML), by stream.
fn load_foxio_rust(path: &Path, out: &mut BTreeMap<u64, Expected>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    const FOX: &str = "foxio-rust";
    let mut stream: Option<u64> = None;
    let mut transport_tcp = false;
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("- stream: ") {
            stream = s.trim().parse().ok();
            transport_tcp = false;
        } else if let Some(t) = line.strip_prefix("  transport: ") {
            transport_tcp = t.trim() == "tcp";
        } else if let (Some(s), true) = (stream, transport_tcp) {
            if let Some(v) = line.strip_prefix("  ja4: ") {
                out.entry(s)
                    .or_default()
                    .set("ja4(rust)", FOX, Some(v.trim().to_string()));
            } else if let Some(v) = line.strip_prefix("  ja4s: ") {
                out.entry(s)
                    .or_default()
                    .set("ja4s(rust)", FOX, Some(v.trim().to_string()));
            }
        }
    }
}

/// The lab manifest's per-capture client fingerprints: column -> "value(xN),value(xN)".
fn load_lab_manifest(path: &Path) -> HashMap<String, HashMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split('\t')
        .map(str::to_string)
        .collect();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let row: HashMap<String, String> = header
                .iter()
                .zip(f.iter())
                .map(|(h, v)| (h.clone(), v.to_string()))
                .collect();
            (f[0].to_string(), row)
        })
        .collect()
}

/// "a(x2),b(x1)" -> {a: 2, b: 1}; "-" -> {}.
fn manifest_counts(cell: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if cell == "-" || cell.is_empty() {
        return out;
    }
    for part in cell.split("),") {
        let part = part.trim_end_matches(')');
        if let Some((value, n)) = part.rsplit_once("(x") {
            *out.entry(value.to_string()).or_insert(0) += n.parse::<usize>().unwrap_or(0);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Comparison

/// Our value of a reference field, in the reference's format.
fn ours(field: &str, info: &TlsInfo, d: &TlsDissector) -> String {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let ja4 = d.client_hello().map(Ja4::from_client_hello);
    let ja4s = d.server_hello().map(Ja4s::from_server_hello);
    match field {
        "sni" => opt(&info.sni),
        "ja3_string" => opt(&info.ja3_string),
        "ja3" => opt(&info.ja3),
        "ja3s_string" => opt(&info.ja3s_string),
        "ja3s" => opt(&info.ja3s),
        "cert_sha1" => opt(&info.cert_sha1),
        "cert_chain_sha1" => d.chain_sha1().join(";"),
        "cert_chain_sha256" => info.cert_chain_sha256.join(";"),
        "ja4" | "ja4(rust)" => opt(&info.ja4),
        "ja4_r" => opt(&info.ja4_r),
        "ja4_o" => ja4.map(|j| j.original_hashed()).unwrap_or_default(),
        "ja4_ro" => ja4.map(|j| j.original_raw()).unwrap_or_default(),
        "ja4s" | "ja4s(rust)" => opt(&info.ja4s),
        "ja4s_r" => ja4s.map(|j| j.raw()).unwrap_or_default(),
        other => panic!("unknown field {other}"),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Mismatch {
    source: String,
    stream: u64,
    field: String,
    tool: String,
    theirs: String,
    ours: String,
}

/// Compare; returns (fields checked, mismatches).
fn compare(source: &str, stream: u64, d: &TlsDissector, exp: &Expected) -> (usize, Vec<Mismatch>) {
    let info = d.info();
    let mut bad = Vec::new();
    for (field, (tool, theirs)) in &exp.fields {
        let mine = ours(field, &info, d);
        if &mine != theirs {
            bad.push(Mismatch {
                source: source.to_string(),
                stream,
                field: field.to_string(),
                tool: tool.to_string(),
                theirs: theirs.clone(),
                ours: mine,
            });
        }
    }
    (exp.fields.len(), bad)
}

/// (source, stream, field) -> reason, from KNOWN_DISAGREEMENTS.tsv.
fn known_disagreements() -> HashMap<(String, u64, String), String> {
    let path = refs_dir().join("KNOWN_DISAGREEMENTS.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert!(f.len() >= 4, "KNOWN_DISAGREEMENTS.tsv: bad line {l}");
            let stream = f[1].parse().expect("stream number");
            (
                (f[0].to_string(), stream, f[2].to_string()),
                f[3].to_string(),
            )
        })
        .collect()
}

fn describe(m: &Mismatch) -> String {
    format!(
        "{} stream {} {} ({}):\n    theirs {}\n    ours   {}",
        m.source, m.stream, m.field, m.tool, m.theirs, m.ours
    )
}

// ---------------------------------------------------------------------------------------------
// Vector tests

/// PROVENANCE.tsv rows: (vector file, source "dataset/pcap", stream).
fn provenance() -> Vec<(String, String, u64)> {
    let text =
        std::fs::read_to_string(vectors_dir().join("PROVENANCE.tsv")).expect("PROVENANCE.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].parse().expect("stream"),
            )
        })
        .collect()
}

/// Expected values for a vector, from the reference copies in tests/data/tls-ref.
fn vector_expectations(source: &str, stream: u64) -> Expected {
    let (dataset, pcap) = source.split_once('/').expect("dataset/pcap");
    let refs = refs_dir();
    let mut all = BTreeMap::new();
    let tsv = refs.join(format!("{pcap}.tls.tsv"));
    if tsv.exists() {
        all = load_tshark_tsv(&tsv);
    }
    let fox = refs.join(format!("{pcap}.foxio.json"));
    if fox.exists() {
        load_foxio_python(&fox, &mut all);
    }
    let mut exp = all.remove(&stream).unwrap_or_default();
    if dataset == "lab" {
        let manifest = load_lab_manifest(&refs.join("lab-MANIFEST.tsv"));
        let row = manifest.get(pcap).expect("lab manifest row");
        for (field, column) in [
            ("ja3", "client_ja3"),
            ("ja4", "client_ja4_ja4plus"),
            ("sni", "sni"),
        ] {
            let counts = manifest_counts(&row[column]);
            assert_eq!(counts.len(), 1, "{pcap}: one value expected in {column}");
            let value = counts.into_keys().next().unwrap_or_default();
            let value = if value == "(none)" {
                String::new()
            } else {
                value
            };
            exp.set(field, "lab-manifest", Some(value));
        }
    }
    exp
}

#[test]
fn vectors_agree_with_reference_tools() {
    let known = known_disagreements();
    let mut checked = 0;
    let mut unexplained = Vec::new();
    let mut explained = 0;
    for (file, source, stream) in provenance() {
        let s = load_vector(&file);
        let d = dissect(&s);
        let both_sides = s.count(Direction::ServerToClient) > 0;
        assert!(
            !both_sides || !d.wants_more(),
            "{file}: dissector still wants bytes at the end of the vector"
        );
        assert_eq!(d.parse_errors(), 0, "{file}: parse errors");
        let exp = vector_expectations(&source, stream);
        assert!(!exp.fields.is_empty(), "{file}: no reference values found");
        let (n, bad) = compare(&source, stream, &d, &exp);
        checked += n;
        for m in bad {
            if known.contains_key(&(m.source.clone(), m.stream, m.field.clone())) {
                explained += 1;
            } else {
                unexplained.push(describe(&m));
            }
        }
        // Byte-at-a-time and odd-sized feeding must not change anything.
        for size in [1, 7, 300] {
            let other = dissect_in_pieces(&s, size);
            assert_eq!(
                other.info(),
                d.info(),
                "{file}: feeding in {size}-byte pieces"
            );
        }
    }
    eprintln!("vectors: {checked} reference fields checked, {explained} known disagreements");
    assert!(
        unexplained.is_empty(),
        "disagreements:\n{}",
        unexplained.join("\n")
    );
}

#[test]
fn tls12_curl_with_certificate_chain() {
    let d = dissect(&load_vector("ndpi-443-curl-s0.hex"));
    let info = d.info();
    assert_eq!(info.tls_version.as_deref(), Some("1.2"));
    assert_eq!(info.sni.as_deref(), Some("www.ntop.org"));
    assert_eq!(info.alpn, vec!["h2", "http/1.1"]);
    assert_eq!(
        info.ja3.as_deref(),
        Some("2a26b1a62e40d25d4de3babc9d532f30")
    );
    assert_eq!(
        info.ja3s.as_deref(),
        Some("ae53107a2e47ea20c72ac44821a728bf")
    );
    // nDPI (result/443-curl.pcap.out) agrees with FoxIO's rules here.
    assert_eq!(
        info.ja4.as_deref(),
        Some("t12d6707h2_2955a3196ffa_c83f907a73d3")
    );
    assert_eq!(
        info.cert_sha1.as_deref(),
        Some("dba7e43e6dbb21ab684735e80b8f15dfdbc7c96f")
    );
    assert_eq!(info.cert_chain_sha256.len(), 2);
    assert_eq!(info.cert_subject.as_deref(), Some("CN=www.ntop.org"));
    assert_eq!(
        info.cert_issuer.as_deref(),
        Some("C=US, O=Let's Encrypt, CN=Let's Encrypt Authority X3")
    );
    assert_eq!(info.cert_san, vec!["www.ntop.org"]);
    // nDPI: "Validity: 2019-12-17 01:17:28 - 2020-03-16 01:17:28".
    assert_eq!(
        info.cert_not_before.as_deref(),
        Some("2019-12-17T01:17:28Z")
    );
    assert_eq!(info.cert_not_after.as_deref(), Some("2020-03-16T01:17:28Z"));
    assert_eq!(info.cert_self_signed, Some(false));
    assert!(!info.cert_encrypted);
}

#[test]
fn tls13_certificate_is_reported_encrypted() {
    let d = dissect(&load_vector("foxio-tls-handshake-s0.hex"));
    let info = d.info();
    assert_eq!(info.tls_version.as_deref(), Some("1.3"));
    assert!(info.cert_encrypted);
    assert_eq!(info.cert_sha1, None);
    assert!(info.cert_chain_sha256.is_empty());
    assert_eq!(
        info.ja4.as_deref(),
        Some("t13d1516h2_8daaf6152771_e5627efa2ab1")
    );
    assert_eq!(info.ja4s.as_deref(), Some("t130200_1301_234ea6891581"));
    // Chrome's GREASE: present on the wire, absent from every fingerprint.
    let ch = d.client_hello().expect("client hello");
    assert!(ch.ciphers.iter().any(|&c| crate::fingerprint::is_grease(c)));
    assert!(
        ch.extensions
            .iter()
            .filter(|&&e| crate::fingerprint::is_grease(e))
            .count()
            >= 2
    );
    assert!(!info.ja3_string.unwrap_or_default().contains("2570"));
}

#[test]
fn client_hello_split_over_segments() {
    let s = load_vector("sv-client-hello-frag-s0.hex");
    // The hello really is in several pieces on the wire.
    assert!(s.count(Direction::ClientToServer) >= 2);
    let first = &s.chunks[0].1;
    let record_len = usize::from(u16::from_be_bytes([first[3], first[4]]));
    assert!(
        first.len() < 5 + record_len,
        "first segment holds the whole record"
    );
    let info = dissect(&s).info();
    // suricata-verify tls-client-hello-frag-01 expects this SNI.
    assert_eq!(info.sni.as_deref(), Some("www.google.com"));
    assert!(info.ja3.is_some());
}

#[test]
fn handshake_message_split_over_records() {
    // Rewrap the curl ClientHello into 10-byte records: the dissector must glue them back.
    let s = load_vector("ndpi-443-curl-s0.hex");
    let client = s.bytes(Direction::ClientToServer);
    let len = usize::from(u16::from_be_bytes([client[3], client[4]]));
    let hello = &client[5..5 + len];
    let mut rewrapped = Vec::new();
    for piece in hello.chunks(10) {
        rewrapped.extend_from_slice(&[0x16, 0x03, 0x01, 0x00, piece.len() as u8]);
        rewrapped.extend_from_slice(piece);
    }
    let mut d = TlsDissector::new();
    d.on_chunk(Direction::ClientToServer, Chunk::Data(&rewrapped));
    assert_eq!(
        d.info().ja3.as_deref(),
        Some("2a26b1a62e40d25d4de3babc9d532f30")
    );
    assert_eq!(d.parse_errors(), 0);
}

#[test]
fn long_certificate_chain() {
    let d = dissect(&load_vector("ndpi-long-cert-s0.hex"));
    let info = d.info();
    assert_eq!(info.cert_chain_sha256.len(), 2);
    assert_eq!(
        info.cert_sha256.as_deref(),
        Some("cb9665a2c7421b8efd985861d7f23ffd9badb261ba07877eaccce4dd28a78842")
    );
    assert!(info.cert_san.len() > 10, "SANs: {:?}", info.cert_san);
}

#[test]
fn sslv2_hello_and_tls_upgrade() {
    let d = dissect(&load_vector("sv-sslv2-upgrade-s0.hex"));
    let info = d.info();
    let ch = d.client_hello().expect("SSLv2 hello parsed");
    assert!(ch.sslv2_format);
    assert_eq!(ch.version, 0x0301);
    assert_eq!(info.tls_version.as_deref(), Some("1.0"));
    assert_eq!(info.ja3s_string.as_deref(), Some("769,57,"));
    // suricata-verify sslv2-tls-upgrade-01 expectations: Suricata writes the names exactly as
    // x509-parser does, the fingerprint with colons, the dates without the zone.
    assert_eq!(
        info.cert_sha1.as_deref(),
        Some("8c90bd2ab3aee60bd0eab786b01ae4b1cc57ef22")
    );
    assert_eq!(
        info.cert_not_before.as_deref(),
        Some("2003-03-29T00:57:44Z")
    );
    assert_eq!(info.cert_not_after.as_deref(), Some("2008-03-27T00:57:44Z"));
    assert_eq!(
        info.cert_subject.as_deref(),
        Some(
            "C=US, ST=California, L=Sunnyvale, O=NetScreen Technologies, Inc., OU=Security Team, \
             CN=sigdb.secteam.netscreen.com, Email=aturner@netscreen.com"
        )
    );
    assert_eq!(
        info.cert_issuer.as_deref(),
        Some(
            "C=US, ST=California, L=Sunnyvale, O=OneSecure, Inc., OU=Fulfillment, \
             CN=jumper.sv-staging.onesecure.com, Email=fulfillment@onesecure.com"
        )
    );
    assert_eq!(info.cert_self_signed, Some(false));
}

#[test]
fn xmrig_hello_matches_the_lab_manifest() {
    let info = dissect(&load_vector("lab-xmrig-rx-tls-s0.hex")).info();
    assert_eq!(
        info.ja3.as_deref(),
        Some("a3afc2c46ba4a7d7fbe1cfb7a3031c2f")
    );
    assert_eq!(
        info.ja4.as_deref(),
        Some("t13d311000_e8f1e7e78f70_1f22a2ca17c4")
    );
    assert_eq!(info.sni.as_deref(), Some("localhost"));
    assert!(info.alpn.is_empty());
    assert!(info.cert_encrypted);
    let info = dissect(&load_vector("lab-xmrig-rx-tls-expjobs-s0.hex")).info();
    assert_eq!(
        info.ja3.as_deref(),
        Some("c216e752cae6f8755fd27f561d031636")
    );
    assert_eq!(
        info.ja4.as_deref(),
        Some("t13i310900_e8f1e7e78f70_1f22a2ca17c4")
    );
    assert_eq!(info.sni, None);
}

#[test]
fn non_alphanumeric_alpn_uses_the_hex_rule() {
    let d = dissect(&load_vector("foxio-tls-non-ascii-alpn-s0.hex"));
    assert_eq!(
        d.client_hello().map(|c| c.alpn[0].clone()),
        Some(vec![0xba, 0xad])
    );
    // The current specification's rule gives "bd"; FoxIO's older tools wrote "99" (see
    // KNOWN_DISAGREEMENTS.tsv).
    assert_eq!(
        d.info().ja4.as_deref(),
        Some("t13d1516bd_8daaf6152771_e5627efa2ab1")
    );
}

#[test]
fn tls13_drafts_are_read() {
    let d = dissect(&load_vector("sv-tls13-draft18-s0.hex"));
    assert_eq!(d.info().ja3s_string.as_deref(), Some("32530,4865,40"));
    assert_eq!(d.info().tls_version.as_deref(), Some("1.3"));
    assert!(d.info().cert_encrypted);
    let d = dissect(&load_vector("sv-tls13-draft22-s0.hex"));
    assert!(d.saw_hello_retry_request());
    assert_eq!(d.info().ja3s_string.as_deref(), Some("771,4865,43-40"));
}

#[test]
fn gap_stops_an_unfinished_direction() {
    let s = load_vector("sv-client-hello-frag-s0.hex");
    let mut d = TlsDissector::new();
    let (dir, first) = &s.chunks[0];
    d.on_chunk(*dir, Chunk::Data(first));
    d.on_chunk(Direction::ClientToServer, Chunk::Gap(100));
    for (dir, bytes) in &s.chunks[1..] {
        d.on_chunk(*dir, Chunk::Data(bytes));
    }
    let info = d.info();
    assert_eq!(
        info.ja3, None,
        "nothing after a gap may be glued to the hello"
    );
    assert!(info.ja3s.is_some(), "the server direction is unaffected");
}

#[test]
fn gap_after_the_hello_changes_nothing() {
    let s = load_vector("lab-xmrig-rx-tls-s0.hex");
    let mut d = TlsDissector::new();
    for (dir, bytes) in &s.chunks {
        d.on_chunk(*dir, Chunk::Data(bytes));
        d.on_chunk(*dir, Chunk::Gap(5));
    }
    assert_eq!(d.info(), dissect(&s).info());
}

#[test]
fn other_protocols_are_dropped_at_once() {
    for first in [
        &b"{\"id\":1,\"method\":\"login\",\"params\":{}}\n"[..],
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.6\r\n",
    ] {
        let mut d = TlsDissector::new();
        d.on_chunk(Direction::ClientToServer, Chunk::Data(first));
        assert!(!d.wants_more());
        assert!(d.is_not_tls());
        assert_eq!(d.info(), TlsInfo::default());
        assert_eq!(d.parse_errors(), 0);
    }
    // A server banner may precede STARTTLS: scanned, then given up after the prelude budget.
    let mut d = TlsDissector::new();
    d.on_chunk(
        Direction::ServerToClient,
        Chunk::Data(b"220 mail ESMTP\r\n"),
    );
    assert!(d.wants_more());
    let filler = vec![b'x'; super::state::MAX_PRELUDE_BYTES];
    d.on_chunk(Direction::ServerToClient, Chunk::Data(&filler));
    assert!(!d.wants_more());
    assert!(d.is_not_tls());
}

#[test]
fn hello_behind_a_proxy_prelude() {
    let s = load_vector("lab-xmrig-rx-tls-s0.hex");
    let plain = dissect(&s).info();
    let preludes: [(&[u8], &[u8]); 3] = [
        (
            b"CONNECT pool.example:3334 HTTP/1.1\r\nHost: pool.example:3334\r\n\r\n",
            b"HTTP/1.1 200 Connection established\r\n\r\n",
        ),
        // SOCKS5: greeting, then CONNECT to a domain name.
        (
            b"\x05\x01\x00\x05\x01\x00\x03\x0cpool.example\x0d\x06",
            b"\x05\x00\x05\x00\x00\x01\x7f\x00\x00\x01\x0d\x06",
        ),
        // SOCKS4a.
        (
            b"\x04\x01\x0d\x06\x00\x00\x00\x01xmrig\x00pool.example\x00",
            b"\x00\x5a\x00\x00\x00\x00\x00\x00",
        ),
    ];
    for (client, server) in preludes {
        let mut d = TlsDissector::new();
        d.on_chunk(Direction::ClientToServer, Chunk::Data(client));
        d.on_chunk(Direction::ServerToClient, Chunk::Data(server));
        assert!(d.wants_more());
        for (dir, bytes) in &s.chunks {
            d.on_chunk(*dir, Chunk::Data(bytes));
        }
        assert_eq!(d.info(), plain);
    }
}

#[test]
fn reversed_flow_direction_is_corrected() {
    let s = load_vector("ndpi-443-curl-s0.hex");
    let mut d = TlsDissector::new();
    for (dir, bytes) in &s.chunks {
        d.on_chunk(dir.reverse(), Chunk::Data(bytes));
    }
    assert!(d.roles_reversed());
    assert_eq!(d.info(), dissect(&s).info());
}

#[test]
fn stops_at_change_cipher_spec_and_application_data() {
    let s = load_vector("ndpi-443-curl-s0.hex");
    let d = dissect(&s);
    assert!(!d.wants_more());
    // Application data straight away (capture started mid-connection): nothing to learn.
    let mut d = TlsDissector::new();
    d.on_chunk(
        Direction::ClientToServer,
        Chunk::Data(&[0x17, 3, 3, 0, 2, 1, 2]),
    );
    d.on_chunk(
        Direction::ServerToClient,
        Chunk::Data(&[0x17, 3, 3, 0, 1, 9]),
    );
    assert!(!d.wants_more());
    assert_eq!(d.info(), TlsInfo::default());
}

#[test]
fn corrupted_and_truncated_streams_never_panic() {
    let mut seed = 0x9e37_79b9_u32;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        seed
    };
    // POOLSCOPE_TLS_STRESS=N raises the number of mutants per vector and direction.
    let rounds: usize = std::env::var("POOLSCOPE_TLS_STRESS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(40);
    for (file, _, _) in provenance() {
        let s = load_vector(&file);
        for dir in [Direction::ClientToServer, Direction::ServerToClient] {
            let bytes = s.bytes(dir);
            if bytes.is_empty() {
                continue;
            }
            for _ in 0..rounds {
                let mut b = bytes.clone();
                for _ in 0..1 + next() % 4 {
                    let at = next() as usize % b.len();
                    b[at] = next() as u8;
                }
                let cut = next() as usize % (b.len() + 1);
                let mut d = TlsDissector::new();
                for piece in b[..cut].chunks(1 + next() as usize % 700) {
                    d.on_chunk(dir, Chunk::Data(piece));
                }
                let _ = d.info();
            }
        }
    }
}

#[test]
fn buffers_stay_bounded() {
    // A handshake message that claims 16 MiB, fed in full records forever.
    let mut d = TlsDissector::new();
    let mut rec = vec![0x16, 0x03, 0x03, 0x40, 0x00];
    rec.extend_from_slice(&[0x0b, 0xff, 0xff, 0xff]);
    rec.resize(5 + 0x4000, 0);
    d.on_chunk(Direction::ServerToClient, Chunk::Data(&rec));
    assert!(!d.wants_more() || d.parse_errors() == 1);
    assert_eq!(d.parse_errors(), 1);
    // Records that each add to a message that never completes stop at the bound.
    let mut d = TlsDissector::new();
    let mut first = vec![0x16, 0x03, 0x03, 0x40, 0x00, 0x0b, 0x00, 0xff, 0xff];
    first.resize(5 + 0x4000, 0);
    d.on_chunk(Direction::ServerToClient, Chunk::Data(&first));
    let mut more = vec![0x16, 0x03, 0x03, 0x40, 0x00];
    more.resize(5 + 0x4000, 0);
    for _ in 0..10 {
        d.on_chunk(Direction::ServerToClient, Chunk::Data(&more));
    }
    assert_eq!(d.parse_errors(), 1);
}

// ---------------------------------------------------------------------------------------------
// Corpus sweep

/// tshark's `follow,tcp,raw` output for many streams of one capture: stream -> (node 0
/// endpoint, node 1 endpoint, chunks as (node, bytes)).
type Followed = HashMap<u64, (String, String, Vec<(u8, Vec<u8>)>)>;

fn tshark_follow(pcap: &Path, streams: &[u64]) -> Followed {
    let mut out = Followed::new();
    for batch in streams.chunks(64) {
        let mut cmd = Command::new("tshark");
        cmd.arg("-r").arg(pcap).arg("-q");
        for s in batch {
            cmd.arg("-z").arg(format!("follow,tcp,raw,{s}"));
        }
        let output = cmd
            .output()
            .expect("tshark runs (POOLSCOPE_CORPUS needs tshark)");
        assert!(
            output.status.success(),
            "tshark failed on {}",
            pcap.display()
        );
        let text = String::from_utf8_lossy(&output.stdout);
        let mut current: Option<u64> = None;
        for line in text.lines() {
            if let Some(s) = line.strip_prefix("Filter: tcp.stream eq ") {
                current = s.trim().parse().ok();
                if let Some(c) = current {
                    out.entry(c).or_default();
                }
            } else if let Some(n) = line.strip_prefix("Node 0: ") {
                if let Some(e) = current.and_then(|c| out.get_mut(&c)) {
                    e.0 = n.trim().to_string();
                }
            } else if let Some(n) = line.strip_prefix("Node 1: ") {
                if let Some(e) = current.and_then(|c| out.get_mut(&c)) {
                    e.1 = n.trim().to_string();
                }
            } else if line.starts_with('=') || line.contains(':') || line.trim().is_empty() {
                continue;
            } else if let Some(e) = current.and_then(|c| out.get_mut(&c)) {
                let node = u8::from(line.starts_with('\t'));
                e.2.push((node, decode_hex(line)));
            }
        }
    }
    out
}

/// Turn a followed stream into our direction-tagged chunks. The client is the endpoint the
/// reference table names (by address, else by port: tunnelled captures show outer addresses),
/// else node 0, the side tshark saw first, as the flow layer would guess.
fn to_stream(node0: &str, node1: &str, chunks: &[(u8, Vec<u8>)], client: Option<&str>) -> Stream {
    let port = |ep: &str| ep.rsplit_once(':').map(|(_, p)| p.to_string());
    let client_node = match client {
        Some(c) if c == node0 => 0,
        Some(c) if c == node1 => 1,
        Some(c) if port(c) == port(node1) && port(c) != port(node0) => 1,
        _ => 0,
    };
    Stream {
        chunks: chunks
            .iter()
            .map(|(n, b)| {
                let dir = if *n == client_node {
                    Direction::ClientToServer
                } else {
                    Direction::ServerToClient
                };
                (dir, b.clone())
            })
            .collect(),
    }
}

/// nDPI's JA3C/JA4 per flow from `result/*.out`: unordered endpoint pair -> (ja3c, ja4).
fn load_ndpi(path: &Path) -> HashMap<(String, String), (Option<String>, Option<String>)> {
    let mut out = HashMap::new();
    let Ok(text) = std::fs::read_to_string(path) else {
        return out;
    };
    let field = |line: &str, key: &str| {
        line.split_once(key)
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(v, _)| v.to_string())
    };
    for line in text.lines() {
        let Some((_, rest)) = line.split_once("TCP ") else {
            continue;
        };
        let mut words = rest.split(' ');
        let (Some(a), Some("<->"), Some(b)) = (words.next(), words.next(), words.next()) else {
            continue;
        };
        let key = if a <= b {
            (a.to_string(), b.to_string())
        } else {
            (b.to_string(), a.to_string())
        };
        out.insert(key, (field(line, "[JA3C: "), field(line, "[JA4: ")));
    }
    out
}

/// Which parts of two JA4 strings differ: "version", "sni", "ciphers", "extensions", "alpn",
/// "cipher hash", "extension hash".
fn ja4_diff(a: &str, b: &str) -> String {
    let (pa, pb) = (
        a.split('_').collect::<Vec<_>>(),
        b.split('_').collect::<Vec<_>>(),
    );
    if pa.len() != 3 || pb.len() != 3 || pa[0].len() != 10 || pb[0].len() != 10 {
        return "shape".into();
    }
    let parts = [
        ("version", 1..3),
        ("sni", 3..4),
        ("ciphers", 4..6),
        ("extensions", 6..8),
        ("alpn", 8..10),
    ];
    let mut out: Vec<&str> = parts
        .iter()
        .filter(|(_, r)| pa[0].get(r.clone()) != pb[0].get(r.clone()))
        .map(|(n, _)| *n)
        .collect();
    if pa[1] != pb[1] {
        out.push("cipher hash");
    }
    if pa[2] != pb[2] {
        out.push("extension hash");
    }
    out.join("+")
}

#[derive(Default)]
struct Tally {
    agree: BTreeMap<String, usize>,
    total: BTreeMap<String, usize>,
}

impl Tally {
    fn add(&mut self, key: &str, ok: bool) {
        *self.total.entry(key.to_string()).or_default() += 1;
        if ok {
            *self.agree.entry(key.to_string()).or_default() += 1;
        }
    }

    fn report(&self) -> String {
        self.total
            .iter()
            .map(|(k, n)| {
                format!(
                    "  {k:<34} {:>5} / {n}",
                    self.agree.get(k).copied().unwrap_or(0)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// With POOLSCOPE_CORPUS set to the shared data directory, dissect every TCP stream in which
/// Wireshark saw a TLS handshake and compare with Wireshark, FoxIO (Python and Rust) and the
/// lab manifest; nDPI's JA3C/JA4 are compared for information only.
#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_sweep() {
    let corpus = std::env::var_os("POOLSCOPE_CORPUS")
        .expect("POOLSCOPE_CORPUS must name the shared corpus folder for this test");
    let corpus = PathBuf::from(corpus);
    assert!(
        corpus.is_dir(),
        "POOLSCOPE_CORPUS={} is not a directory",
        corpus.display()
    );
    let known = known_disagreements();
    let mut tally = Tally::default();
    let mut info_tally = Tally::default();
    let mut unexplained = Vec::new();
    let mut explained_seen = HashSet::new();
    let mut unexplained_flows = HashSet::new();
    let mut flows = 0usize;
    let mut flows_agreeing = 0usize;
    let mut lab_flows = 0usize;
    let mut parse_errors = 0u32;

    for dataset in [
        "foxio-ja4",
        "ndpi",
        "suricata-verify",
        "nesfit-cryptomining",
    ] {
        let ref_dir = corpus.join(dataset).join("tshark-ref");
        let mut tsvs: Vec<PathBuf> = std::fs::read_dir(&ref_dir)
            .unwrap_or_else(|e| panic!("{}: {e}", ref_dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".tls.tsv"))
            .collect();
        tsvs.sort();
        for tsv in tsvs {
            let file = tsv
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string();
            let pcap_name = file.trim_end_matches(".tls.tsv").to_string();
            let pcap = corpus.join(dataset).join("pcap").join(&pcap_name);
            let mut exps = load_tshark_tsv(&tsv);
            if dataset == "foxio-ja4" {
                let py = corpus
                    .join(dataset)
                    .join("expected/python")
                    .join(format!("{pcap_name}.json"));
                if py.exists() {
                    load_foxio_python(&py, &mut exps);
                }
                let rs = corpus
                    .join(dataset)
                    .join("expected/rust")
                    .join(format!("{pcap_name}.snap"));
                if rs.exists() {
                    load_foxio_rust(&rs, &mut exps);
                }
            }
            let ndpi = load_ndpi(&corpus.join("ndpi/result").join(format!("{pcap_name}.out")));
            // Only streams Wireshark saw as TCP TLS; FoxIO rows of QUIC streams are dropped.
            let tsv_streams: HashSet<u64> = load_tshark_tsv(&tsv).into_keys().collect();
            exps.retain(|s, _| tsv_streams.contains(s));
            let streams: Vec<u64> = exps.keys().copied().collect();
            if streams.is_empty() {
                continue;
            }
            let followed = tshark_follow(&pcap, &streams);
            let source = format!("{dataset}/{pcap_name}");
            for (stream, exp) in &exps {
                let Some((node0, node1, chunks)) = followed.get(stream) else {
                    continue;
                };
                let s = to_stream(node0, node1, chunks, exp.client.as_deref());
                let d = dissect(&s);
                parse_errors += d.parse_errors();
                if d.parse_errors() > 0 && std::env::var_os("POOLSCOPE_SWEEP_VERBOSE").is_some() {
                    eprintln!(
                        "parse errors: {source} stream {stream}: {}",
                        d.parse_errors()
                    );
                }
                flows += 1;
                let (_, bad) = compare(&source, *stream, &d, exp);
                let bad_fields: HashSet<String> = bad.iter().map(|m| m.field.clone()).collect();
                for field in exp.fields.keys() {
                    tally.add(field, !bad_fields.contains(*field));
                }
                if bad.is_empty() {
                    flows_agreeing += 1;
                }
                let known_only = bad
                    .iter()
                    .all(|m| known.contains_key(&(m.source.clone(), m.stream, m.field.clone())));
                if !known_only {
                    unexplained_flows.insert((source.clone(), *stream));
                }
                for m in bad {
                    let key = (m.source.clone(), m.stream, m.field.clone());
                    if known.contains_key(&key) {
                        explained_seen.insert(key);
                    } else {
                        unexplained.push(describe(&m));
                    }
                }
                let pair = if node0 <= node1 {
                    (node0.clone(), node1.clone())
                } else {
                    (node1.clone(), node0.clone())
                };
                if let Some((ja3c, ja4)) = ndpi.get(&pair) {
                    let info = d.info();
                    if let Some(v) = ja3c {
                        info_tally.add("ndpi JA3C = ours", info.ja3.as_deref() == Some(v.as_str()));
                    }
                    if let Some(v) = ja4 {
                        let ours = info.ja4.clone().unwrap_or_default();
                        info_tally.add("ndpi JA4 = ours", ours == *v);
                        if ours != *v {
                            info_tally.add(
                                &format!("ndpi JA4 differs in {}", ja4_diff(v, &ours)),
                                false,
                            );
                            if std::env::var_os("POOLSCOPE_SWEEP_VERBOSE").is_some() {
                                eprintln!("ndpi {source} {stream}: ndpi {v} ours {ours}");
                            }
                        }
                    }
                }
            }
        }
    }

    // The lab captures: per-capture multisets of client JA3, JA4 and SNI from the manifest.
    let manifest = load_lab_manifest(&corpus.join("lab/MANIFEST.tsv"));
    let mut lab_names: Vec<&String> = manifest.keys().collect();
    lab_names.sort();
    for name in lab_names {
        let row = &manifest[name];
        if row.get("client_hellos").is_none_or(|n| n == "0") {
            continue;
        }
        let pcap = corpus.join("lab").join(name);
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&pcap)
            .args(["-T", "fields", "-e", "tcp.stream", "-Y", "tcp"])
            .output()
            .expect("tshark runs");
        let streams: Vec<u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect::<std::collections::BTreeSet<u64>>()
            .into_iter()
            .collect();
        let followed = tshark_follow(&pcap, &streams);
        let mut got: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
        for (node0, node1, chunks) in followed.values() {
            let d = dissect(&to_stream(node0, node1, chunks, None));
            parse_errors += d.parse_errors();
            let info = d.info();
            if info.ja3.is_none() {
                continue;
            }
            lab_flows += 1;
            let sni = info.sni.clone().unwrap_or_else(|| "(none)".into());
            for (col, v) in [
                ("client_ja3", info.ja3.clone().unwrap_or_default()),
                ("client_ja4_ja4plus", info.ja4.clone().unwrap_or_default()),
                ("sni", sni),
            ] {
                *got.entry(col).or_default().entry(v).or_default() += 1;
            }
        }
        for col in ["client_ja3", "client_ja4_ja4plus", "sni"] {
            let want = manifest_counts(&row[col]);
            let have = got.get(col).cloned().unwrap_or_default();
            tally.add(&format!("lab {col} (per capture)"), want == have);
            if want != have {
                unexplained.push(format!(
                    "lab/{name} {col}: manifest {want:?}, ours {have:?}"
                ));
            }
        }
    }

    // suricata-verify: the EVE `tls` event expectations of each test, against every TCP stream
    // of its capture (a filter holds when some stream matches all of its comparable keys).
    let sv = corpus.join("suricata-verify");
    let manifest = std::fs::read_to_string(sv.join("MANIFEST.tsv")).expect("suricata MANIFEST");
    for line in manifest.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (Some(yaml), Some(contents)) = (f.first(), f.get(5)) else {
            continue;
        };
        let Some(pcap_name) = contents.rsplit_once("for pcap/").map(|(_, p)| p.trim()) else {
            continue;
        };
        if !yaml.ends_with(".test.yaml") {
            continue;
        }
        let text = std::fs::read_to_string(sv.join(yaml)).unwrap_or_default();
        let filters = suricata_tls_filters(&text);
        if filters.is_empty() {
            continue;
        }
        let pcap = sv.join("pcap").join(pcap_name);
        let infos: Vec<TlsInfo> = all_tcp_streams(&pcap)
            .values()
            .map(|(node0, node1, chunks)| dissect(&to_stream(node0, node1, chunks, None)).info())
            .collect();
        for (i, filter) in filters.iter().enumerate() {
            let wanted: Vec<(&str, String)> = filter
                .iter()
                .filter_map(|(k, v)| suricata_expectation(k, v).map(|w| (k.as_str(), w)))
                .collect();
            if wanted.is_empty() {
                continue;
            }
            let matches = |info: &TlsInfo| {
                wanted
                    .iter()
                    .all(|(k, w)| suricata_value(k, info).as_deref() == Some(w.as_str()))
            };
            let ok = infos.iter().any(matches);
            tally.add("suricata-verify tls event filters", ok);
            let key = (
                format!("suricata-verify/{yaml}"),
                i as u64,
                "eve".to_string(),
            );
            if ok {
                continue;
            }
            if known.contains_key(&key) {
                explained_seen.insert(key);
            } else {
                let closest: Vec<String> = infos
                    .iter()
                    .filter(|info| info.ja3.is_some() || info.ja3s.is_some())
                    .map(|info| {
                        wanted
                            .iter()
                            .map(|(k, _)| format!("{k}={:?}", suricata_value(k, info)))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                unexplained.push(format!(
                    "{} filter {i}: wants {wanted:?}\n    ours per stream: {closest:?}",
                    key.0
                ));
            }
        }
    }

    let stale: Vec<String> = known
        .keys()
        .filter(|k| !explained_seen.contains(*k))
        .map(|k| format!("{} stream {} {}", k.0, k.1, k.2))
        .collect();
    eprintln!(
        "corpus_sweep: {flows} flows with Wireshark/FoxIO references, {flows_agreeing} agreeing \
         on every field, {} differing only as KNOWN_DISAGREEMENTS.tsv explains; {lab_flows} lab \
         flows; {parse_errors} parse errors\nfields (agree / checked):\n{}\ninformational:\n{}\n\
         known disagreements seen: {}; listed but not seen: {:?}",
        flows - flows_agreeing - unexplained_flows.len(),
        tally.report(),
        info_tally.report(),
        explained_seen.len(),
        stale
    );
    assert!(
        unexplained.is_empty(),
        "{} disagreements:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
}

/// Every TCP stream of a capture, followed.
fn all_tcp_streams(pcap: &Path) -> Followed {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-T", "fields", "-e", "tcp.stream", "-Y", "tcp"])
        .output()
        .expect("tshark runs");
    let streams: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect::<std::collections::BTreeSet<u64>>()
        .into_iter()
        .collect();
    tshark_follow(pcap, &streams)
}

/// The `match:` blocks of a suricata-verify test that expect an EVE `tls` event: key/value
/// pairs with the quotes taken off. Filters expecting no event (`count: 0`) or the absence of
/// a key are left out: they test Suricata's configuration, not the handshake.
fn suricata_tls_filters(yaml: &str) -> Vec<Vec<(String, String)>> {
    let mut filters = Vec::new();
    let mut current: Option<Vec<(String, String)>> = None;
    let mut skip = false;
    // Indentation of `match:`, and of the keys under it (deeper lines continue a value).
    let mut match_indent: Option<usize> = None;
    let mut key_indent: Option<usize> = None;
    let mut finish = |f: Option<Vec<(String, String)>>, skip: bool| {
        if let Some(f) = f {
            if !skip && f.iter().any(|(k, v)| k == "event_type" && v == "tls") {
                filters.push(f);
            }
        }
    };
    for line in yaml.lines() {
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if t.starts_with("- filter:") || (indent == 0 && current.is_some()) {
            finish(current.take(), skip);
            skip = false;
            match_indent = None;
            key_indent = None;
            if t.starts_with("- filter:") {
                current = Some(Vec::new());
            }
            continue;
        }
        let Some(filter) = current.as_mut() else {
            continue;
        };
        if t == "count: 0" || t.starts_with("not-has-key") {
            skip = true;
        }
        if t == "match:" {
            match_indent = Some(indent);
            continue;
        }
        let Some(mi) = match_indent else {
            continue;
        };
        if indent <= mi {
            match_indent = None;
            key_indent = None;
            continue;
        }
        let unquote = |v: &str| v.trim().trim_matches('"').trim_matches('\'').to_string();
        match key_indent {
            // A plain scalar folded onto the next line: joined with a space.
            Some(ki) if indent > ki => {
                if let Some((_, v)) = filter.last_mut() {
                    v.push(' ');
                    v.push_str(&unquote(t));
                }
            }
            _ => {
                key_indent = Some(indent);
                if let Some((k, v)) = t.split_once(": ") {
                    filter.push((k.trim().to_string(), unquote(v)));
                }
            }
        }
    }
    finish(current.take(), skip);
    filters
}

/// The value we must produce for a Suricata EVE key, in our format; `None` when the key is
/// not one we can compare.
fn suricata_expectation(key: &str, value: &str) -> Option<String> {
    let base = key.split('[').next().unwrap_or(key);
    match base {
        "tls.sni" | "tls.subject" | "tls.issuerdn" | "tls.ja3.string" | "tls.ja3.hash"
        | "tls.ja3s.string" | "tls.ja3s.hash" | "tls.ja4" | "tls.client_alpns"
        | "tls.subjectaltname" => Some(value.to_string()),
        "tls.fingerprint" => Some(value.replace(':', "").to_lowercase()),
        "tls.notbefore" | "tls.notafter" => Some(format!("{value}Z")),
        "tls.version" => match value {
            "TLSv1" => Some("1.0".into()),
            "TLSv1.1" => Some("1.1".into()),
            "TLS 1.2" | "TLSv1.2" => Some("1.2".into()),
            v if v.starts_with("TLS 1.3") => Some("1.3".into()),
            "SSLv3" => Some("ssl3".into()),
            _ => None,
        },
        _ => None,
    }
}

/// Our value for a Suricata EVE key.
fn suricata_value(key: &str, info: &TlsInfo) -> Option<String> {
    let index = key
        .split_once('[')
        .and_then(|(_, i)| i.trim_end_matches(']').parse::<usize>().ok());
    match key.split('[').next().unwrap_or(key) {
        "tls.sni" => info.sni.clone(),
        "tls.subject" => info.cert_subject.clone(),
        "tls.issuerdn" => info.cert_issuer.clone(),
        "tls.ja3.string" => info.ja3_string.clone(),
        "tls.ja3.hash" => info.ja3.clone(),
        "tls.ja3s.string" => info.ja3s_string.clone(),
        "tls.ja3s.hash" => info.ja3s.clone(),
        "tls.ja4" => info.ja4.clone(),
        "tls.client_alpns" => index.and_then(|i| info.alpn.get(i).cloned()),
        "tls.subjectaltname" => index.and_then(|i| info.cert_san.get(i).cloned()),
        "tls.fingerprint" => info.cert_sha1.clone(),
        "tls.notbefore" => info.cert_not_before.clone(),
        "tls.notafter" => info.cert_not_after.clone(),
        "tls.version" => info.tls_version.clone(),
        _ => None,
    }
}

/// A plaintext opening cut across chunks ("O" then "PTIONS ") is recognised as it is whole: the
/// dissector waits for the rest of a possible token instead of skipping its first byte.
#[test]
fn a_plaintext_opening_split_across_chunks_is_still_plaintext() {
    for cut in 0..=8 {
        let opening = b"OPTIONS / HTTP/1.1\r\n";
        let mut d = TlsDissector::new();
        d.on_chunk(Direction::ClientToServer, Chunk::Data(&opening[..cut]));
        d.on_chunk(Direction::ClientToServer, Chunk::Data(&opening[cut..]));
        assert!(d.is_not_tls(), "cut at {cut}");
    }
    assert!(super::parser::may_open_plaintext_protocol(b"GE"));
    assert!(!super::parser::may_open_plaintext_protocol(b"GET "));
    assert!(!super::parser::may_open_plaintext_protocol(b"\x16\x03"));
}

/// Inside a plaintext prelude only a hello's signature starts TLS: bytes that look like a
/// record header (but carry no hello) give the same result wherever the chunks begin.
#[test]
fn a_prelude_reads_alike_however_it_is_cut() {
    let mut data = b"xpool\x16\x03\x01\x00\x70\x6c".to_vec();
    data.extend(std::iter::repeat_n(0x7d, 112));
    let run = |cut: usize| {
        let mut d = TlsDissector::new();
        d.on_chunk(Direction::ClientToServer, Chunk::Data(&data[..cut]));
        d.on_chunk(Direction::ClientToServer, Chunk::Data(&data[cut..]));
        (d.parse_errors(), d.is_not_tls(), d.wants_more())
    };
    let whole = run(data.len());
    assert_eq!(whole.0, 0);
    for cut in 0..data.len() {
        assert_eq!(run(cut), whole, "cut at {cut}");
    }
}
