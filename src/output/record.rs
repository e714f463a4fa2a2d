//! The flow record: identity, counters and features of one flow, and its serialisations.

use crate::dissect::stratum::StratumInfo;
use crate::dissect::tls::TlsInfo;
use crate::features::{FeatureKind, FEATURES};
use serde::ser::{Serialize, SerializeMap, Serializer};
use std::net::IpAddr;
use std::sync::Arc;

/// The columns before the features, in output order.
pub const CORE_COLUMNS: &[&str] = &[
    "flow_id",
    "transport",
    "src_ip",
    "src_port",
    "dst_ip",
    "dst_port",
    "first_seen",
    "last_seen",
    "duration",
    "packets_c2s",
    "packets_s2c",
    "bytes_c2s",
    "bytes_s2c",
    "payload_bytes_c2s",
    "payload_bytes_s2c",
    "wire_bytes_c2s",
    "wire_bytes_s2c",
    "reassembly_gaps",
    "end_reason",
    "capture",
];

/// The verdict columns `poolscope score` adds after [`CORE_COLUMNS`].
pub const SCORE_COLUMNS: &[&str] = &[
    "verdict",
    "score",
    "reasons",
    "model_score",
    "model_verdict",
    "evidence",
];

/// A flow's verdict as written: kept as plain values so the output layer needs nothing from
/// the scorer.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictColumns {
    /// `mining`, `suspect` or `benign`.
    pub verdict: &'static str,
    /// 0 to 1.
    pub score: f64,
    /// What matched, strongest first.
    pub reasons: Vec<String>,
    /// The model's own calibrated probability, when it may judge the flow (null otherwise).
    pub model_score: Option<f64>,
    /// The model's own verdict by its thresholds, when it may judge the flow.
    pub model_verdict: Option<&'static str>,
    /// The evidence behind the verdict as JSON objects with a `kind` (`stratum`, `feed`,
    /// `model`, `probe`) and its values; in CSV and Parquet, one JSON text per item.
    pub evidence: Vec<serde_json::Value>,
}

/// The columns the dissectors fill (TLS, DNS, mining protocol), after [`CORE_COLUMNS`] and
/// before the features.
pub const DISSECTOR_COLUMNS: &[&str] = &[
    "tls_version",
    "sni",
    "alpn",
    "ja3",
    "ja3_string",
    "ja3s",
    "ja3s_string",
    "ja4",
    "ja4_r",
    "ja4s",
    "cert_sha1",
    "cert_sha256",
    "cert_chain_sha256",
    "cert_subject",
    "cert_issuer",
    "cert_san",
    "cert_not_before",
    "cert_not_after",
    "cert_self_signed",
    "cert_encrypted",
    "quic_version",
    "dns_names",
    "stratum",
];

/// Which counter columns the source of a record did not report, so that they are written as
/// null rather than as a guessed 0: flow exports have no payload or frame bytes, a Zeek
/// `ssl.log` row alone has no counters at all, Suricata counts whole frames only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UnknownCounters(u8);

impl UnknownCounters {
    /// Every counter is known (packet captures).
    pub const NONE: UnknownCounters = UnknownCounters(0);
    /// `packets_*`.
    pub const PACKETS: UnknownCounters = UnknownCounters(1);
    /// `bytes_*` (IP bytes).
    pub const BYTES: UnknownCounters = UnknownCounters(2);
    /// `payload_bytes_*`.
    pub const PAYLOAD: UnknownCounters = UnknownCounters(4);
    /// `wire_bytes_*`.
    pub const WIRE: UnknownCounters = UnknownCounters(8);

    /// True when every counter of `other` is unknown.
    pub fn contains(self, other: UnknownCounters) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// `v`, or None when the counters of `which` are unknown.
    pub fn value(self, which: UnknownCounters, v: u64) -> Option<u64> {
        (!self.contains(which)).then_some(v)
    }
}

impl std::ops::BitOr for UnknownCounters {
    type Output = UnknownCounters;
    fn bitor(self, o: UnknownCounters) -> UnknownCounters {
        UnknownCounters(self.0 | o.0)
    }
}

impl std::ops::BitOrAssign for UnknownCounters {
    fn bitor_assign(&mut self, o: UnknownCounters) {
        self.0 |= o.0;
    }
}

/// Everything written for one flow. `src` is the client, `dst` the server.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowRecord {
    /// The number of the frame that opened the flow, counted from 1 over the run's captures
    /// (unique in the run; flow exports number their conversations 1, 2, …).
    pub flow_id: u64,
    /// `tcp` or `udp`.
    pub transport: &'static str,
    /// Client address.
    pub src_ip: IpAddr,
    /// Client port.
    pub src_port: u16,
    /// Server address.
    pub dst_ip: IpAddr,
    /// Server port.
    pub dst_port: u16,
    /// Epoch seconds of the first packet.
    pub first_seen: f64,
    /// Epoch seconds of the last packet.
    pub last_seen: f64,
    /// `last_seen - first_seen`.
    pub duration: f64,
    /// Packets client → server.
    pub packets_c2s: u64,
    /// Packets server → client.
    pub packets_s2c: u64,
    /// IP bytes client → server.
    pub bytes_c2s: u64,
    /// IP bytes server → client.
    pub bytes_s2c: u64,
    /// Transport payload bytes client → server.
    pub payload_bytes_c2s: u64,
    /// Transport payload bytes server → client.
    pub payload_bytes_s2c: u64,
    /// Frame bytes on the wire client → server (what tshark and nDPI count).
    pub wire_bytes_c2s: u64,
    /// Frame bytes on the wire server → client.
    pub wire_bytes_s2c: u64,
    /// Counter columns the source did not report (0 in the fields above, null when written).
    pub unknown_counters: UnknownCounters,
    /// Holes in the reassembled TCP streams (both directions).
    pub reassembly_gaps: u64,
    /// Why the flow ended (`idle`, `closed`, `active_timeout`, `port_reuse`, `evicted`,
    /// `end_of_capture`).
    pub end_reason: &'static str,
    /// The input file the flow came from.
    pub capture: Arc<str>,
    /// The verdict, when the record was scored (`poolscope score`); None for `extract`.
    pub verdict: Option<VerdictColumns>,
    /// What the TLS handshake showed (empty when the flow is not TLS).
    pub tls: TlsInfo,
    /// Names that resolved to the server's address around the flow's start, most recent first.
    pub dns_names: Vec<String>,
    /// The plaintext mining protocol the flow speaks, when confirmed (None otherwise).
    pub stratum: Option<StratumInfo>,
    /// Feature values in [`FEATURES`] order; NaN = missing.
    pub features: Vec<f64>,
    /// What the flow-shape model reads: one row per time window of the flow (packet
    /// captures) or per stitched conversation (flow exports), in the order of the schema
    /// named by `model_schema`. Not written by `extract`; empty when nothing was computed.
    pub model_rows: Vec<Vec<f32>>,
    /// Name of the feature schema of `model_rows` (`shape-v2` for captures, `netflow-v2` for
    /// flow exports); a model refuses rows of another schema.
    pub model_schema: &'static str,
    /// For training the flow-only model from captures: the conversations exporters would
    /// report for this flow, by active timeout (`active_timeout=300`…), each a `netflow-v2`
    /// row. Empty unless extraction was asked for them ([`crate::extract::ExtractConfig`]).
    pub export_variants: Vec<(String, Vec<f32>)>,
}

/// A feature value as written: integers for counts, null for missing values.
pub(crate) fn feature_json(kind: FeatureKind, v: f64) -> serde_json::Value {
    if !v.is_finite() {
        return serde_json::Value::Null;
    }
    match kind {
        FeatureKind::Int => serde_json::Value::from(v as i64),
        FeatureKind::Float => serde_json::Value::from(v),
    }
}

impl Serialize for FlowRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let FlowRecord {
            flow_id,
            transport,
            src_ip,
            src_port,
            dst_ip,
            dst_port,
            first_seen,
            last_seen,
            duration,
            packets_c2s,
            packets_s2c,
            bytes_c2s,
            bytes_s2c,
            payload_bytes_c2s,
            payload_bytes_s2c,
            wire_bytes_c2s,
            wire_bytes_s2c,
            unknown_counters: u,
            reassembly_gaps,
            end_reason,
            capture,
            verdict,
            tls,
            dns_names,
            stratum,
            features,
            model_rows: _,
            model_schema: _,
            export_variants: _,
        } = self;
        let mut m = s.serialize_map(Some(
            CORE_COLUMNS.len() + DISSECTOR_COLUMNS.len() + FEATURES.len(),
        ))?;
        m.serialize_entry("flow_id", flow_id)?;
        m.serialize_entry("transport", transport)?;
        m.serialize_entry("src_ip", &src_ip.to_string())?;
        m.serialize_entry("src_port", src_port)?;
        m.serialize_entry("dst_ip", &dst_ip.to_string())?;
        m.serialize_entry("dst_port", dst_port)?;
        m.serialize_entry("first_seen", first_seen)?;
        m.serialize_entry("last_seen", last_seen)?;
        m.serialize_entry("duration", duration)?;
        for (name, which, v) in [
            ("packets_c2s", UnknownCounters::PACKETS, packets_c2s),
            ("packets_s2c", UnknownCounters::PACKETS, packets_s2c),
            ("bytes_c2s", UnknownCounters::BYTES, bytes_c2s),
            ("bytes_s2c", UnknownCounters::BYTES, bytes_s2c),
            (
                "payload_bytes_c2s",
                UnknownCounters::PAYLOAD,
                payload_bytes_c2s,
            ),
            (
                "payload_bytes_s2c",
                UnknownCounters::PAYLOAD,
                payload_bytes_s2c,
            ),
            ("wire_bytes_c2s", UnknownCounters::WIRE, wire_bytes_c2s),
            ("wire_bytes_s2c", UnknownCounters::WIRE, wire_bytes_s2c),
        ] {
            m.serialize_entry(name, &u.value(which, *v))?;
        }
        m.serialize_entry("reassembly_gaps", reassembly_gaps)?;
        m.serialize_entry("end_reason", end_reason)?;
        m.serialize_entry("capture", &**capture)?;
        if let Some(VerdictColumns {
            verdict,
            score,
            reasons,
            model_score,
            model_verdict,
            evidence,
        }) = verdict
        {
            m.serialize_entry("verdict", verdict)?;
            m.serialize_entry("score", score)?;
            m.serialize_entry("reasons", reasons)?;
            m.serialize_entry("model_score", model_score)?;
            m.serialize_entry("model_verdict", model_verdict)?;
            m.serialize_entry("evidence", evidence)?;
        }
        let TlsInfo {
            tls_version,
            sni,
            alpn,
            ja3,
            ja3_string,
            ja3s,
            ja3s_string,
            ja4,
            ja4_r,
            ja4s,
            cert_sha1,
            cert_sha256,
            cert_chain_sha256,
            cert_subject,
            cert_issuer,
            cert_san,
            cert_not_before,
            cert_not_after,
            cert_self_signed,
            cert_encrypted,
            quic_version,
        } = tls;
        m.serialize_entry("tls_version", tls_version)?;
        m.serialize_entry("sni", sni)?;
        m.serialize_entry("alpn", alpn)?;
        m.serialize_entry("ja3", ja3)?;
        m.serialize_entry("ja3_string", ja3_string)?;
        m.serialize_entry("ja3s", ja3s)?;
        m.serialize_entry("ja3s_string", ja3s_string)?;
        m.serialize_entry("ja4", ja4)?;
        m.serialize_entry("ja4_r", ja4_r)?;
        m.serialize_entry("ja4s", ja4s)?;
        m.serialize_entry("cert_sha1", cert_sha1)?;
        m.serialize_entry("cert_sha256", cert_sha256)?;
        m.serialize_entry("cert_chain_sha256", cert_chain_sha256)?;
        m.serialize_entry("cert_subject", cert_subject)?;
        m.serialize_entry("cert_issuer", cert_issuer)?;
        m.serialize_entry("cert_san", cert_san)?;
        m.serialize_entry("cert_not_before", cert_not_before)?;
        m.serialize_entry("cert_not_after", cert_not_after)?;
        m.serialize_entry("cert_self_signed", cert_self_signed)?;
        m.serialize_entry("cert_encrypted", cert_encrypted)?;
        m.serialize_entry("quic_version", quic_version)?;
        m.serialize_entry("dns_names", dns_names)?;
        m.serialize_entry("stratum", stratum)?;
        for (spec, &v) in FEATURES.iter().zip(features.iter()) {
            m.serialize_entry(spec.name, &feature_json(spec.kind, v))?;
        }
        m.end()
    }
}

/// JSON text written straight into a byte buffer, byte for byte as serde_json's compact
/// serializer writes it (numbers through serde_json's own formatter), without its generic
/// per-field machinery: keys are written as they are (they need no escaping) and strings are
/// scanned once.
struct Json<'a>(&'a mut Vec<u8>);

impl Json<'_> {
    fn key(&mut self, first: bool, name: &str) {
        if !first {
            self.0.push(b',');
        }
        self.0.push(b'"');
        self.0.extend_from_slice(name.as_bytes());
        self.0.extend_from_slice(b"\":");
    }

    fn u64(&mut self, v: u64) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn i64(&mut self, v: i64) {
        self.0
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
    }

    fn f64(&mut self, v: f64) {
        use serde_json::ser::Formatter;
        if v.is_finite() {
            // Writing into a vector cannot fail.
            let _ = serde_json::ser::CompactFormatter.write_f64(&mut *self.0, v);
        } else {
            // As serde_json writes a number that is not finite.
            self.null();
        }
    }

    fn null(&mut self) {
        self.0.extend_from_slice(b"null");
    }

    fn bool(&mut self, v: bool) {
        self.0.extend_from_slice(if v { b"true" } else { b"false" });
    }

    fn str(&mut self, s: &str) {
        let out = &mut *self.0;
        out.push(b'"');
        let bytes = s.as_bytes();
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            let esc: &[u8] = match b {
                b'"' => b"\\\"",
                b'\\' => b"\\\\",
                0x08 => b"\\b",
                0x0c => b"\\f",
                b'\n' => b"\\n",
                b'\r' => b"\\r",
                b'\t' => b"\\t",
                0..=0x1f => b"",
                _ => continue,
            };
            out.extend_from_slice(&bytes[start..i]);
            if esc.is_empty() {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
            } else {
                out.extend_from_slice(esc);
            }
            start = i + 1;
        }
        out.extend_from_slice(&bytes[start..]);
        out.push(b'"');
    }

    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            Some(s) => self.str(s),
            None => self.null(),
        }
    }

    /// Fields that are text or null, in order.
    fn opt_fields(&mut self, fields: &[(&str, &Option<String>)]) {
        for (name, v) in fields {
            self.key(false, name);
            self.opt_str(v);
        }
    }

    fn strs(&mut self, v: &[String]) {
        self.0.push(b'[');
        for (i, s) in v.iter().enumerate() {
            if i > 0 {
                self.0.push(b',');
            }
            self.str(s);
        }
        self.0.push(b']');
    }

    /// Anything else, through serde_json (rare values: the stratum summary, evidence).
    fn value<T: Serialize + ?Sized>(&mut self, v: &T) {
        if serde_json::to_writer(&mut *self.0, v).is_err() {
            self.null();
        }
    }
}

impl FlowRecord {
    /// True for a flow still open: an update the pipeline hands out while the flow goes on
    /// ([`ExtractConfig::updates`](crate::extract::ExtractConfig::updates)), not its record.
    pub fn is_open(&self) -> bool {
        self.end_reason == crate::flow::EndReason::Open.as_str()
    }

    /// Appends the record as one line of NDJSON (with its newline): the same text as
    /// `serde_json::to_writer` of the record, several times faster (the output of a run of
    /// a million flows is mostly this).
    pub fn write_ndjson(&self, out: &mut Vec<u8>) {
        let mut j = Json(out);
        j.0.push(b'{');
        j.key(true, "flow_id");
        j.u64(self.flow_id);
        j.key(false, "transport");
        j.str(self.transport);
        j.key(false, "src_ip");
        j.str(&self.src_ip.to_string());
        j.key(false, "src_port");
        j.u64(self.src_port.into());
        j.key(false, "dst_ip");
        j.str(&self.dst_ip.to_string());
        j.key(false, "dst_port");
        j.u64(self.dst_port.into());
        for (name, v) in [
            ("first_seen", self.first_seen),
            ("last_seen", self.last_seen),
            ("duration", self.duration),
        ] {
            j.key(false, name);
            j.f64(v);
        }
        let u = self.unknown_counters;
        for (name, v) in [
            (
                "packets_c2s",
                u.value(UnknownCounters::PACKETS, self.packets_c2s),
            ),
            (
                "packets_s2c",
                u.value(UnknownCounters::PACKETS, self.packets_s2c),
            ),
            ("bytes_c2s", u.value(UnknownCounters::BYTES, self.bytes_c2s)),
            ("bytes_s2c", u.value(UnknownCounters::BYTES, self.bytes_s2c)),
            (
                "payload_bytes_c2s",
                u.value(UnknownCounters::PAYLOAD, self.payload_bytes_c2s),
            ),
            (
                "payload_bytes_s2c",
                u.value(UnknownCounters::PAYLOAD, self.payload_bytes_s2c),
            ),
            (
                "wire_bytes_c2s",
                u.value(UnknownCounters::WIRE, self.wire_bytes_c2s),
            ),
            (
                "wire_bytes_s2c",
                u.value(UnknownCounters::WIRE, self.wire_bytes_s2c),
            ),
            ("reassembly_gaps", Some(self.reassembly_gaps)),
        ] {
            j.key(false, name);
            match v {
                Some(v) => j.u64(v),
                None => j.null(),
            }
        }
        j.key(false, "end_reason");
        j.str(self.end_reason);
        j.key(false, "capture");
        j.str(&self.capture);
        if let Some(v) = &self.verdict {
            j.key(false, "verdict");
            j.str(v.verdict);
            j.key(false, "score");
            j.f64(v.score);
            j.key(false, "reasons");
            j.strs(&v.reasons);
            j.key(false, "model_score");
            match v.model_score {
                Some(s) => j.f64(s),
                None => j.null(),
            }
            j.key(false, "model_verdict");
            match v.model_verdict {
                Some(s) => j.str(s),
                None => j.null(),
            }
            j.key(false, "evidence");
            j.value(&v.evidence);
        }
        let t = &self.tls;
        j.opt_fields(&[("tls_version", &t.tls_version), ("sni", &t.sni)]);
        j.key(false, "alpn");
        j.strs(&t.alpn);
        j.opt_fields(&[
            ("ja3", &t.ja3),
            ("ja3_string", &t.ja3_string),
            ("ja3s", &t.ja3s),
            ("ja3s_string", &t.ja3s_string),
            ("ja4", &t.ja4),
            ("ja4_r", &t.ja4_r),
            ("ja4s", &t.ja4s),
            ("cert_sha1", &t.cert_sha1),
            ("cert_sha256", &t.cert_sha256),
        ]);
        j.key(false, "cert_chain_sha256");
        j.strs(&t.cert_chain_sha256);
        j.opt_fields(&[
            ("cert_subject", &t.cert_subject),
            ("cert_issuer", &t.cert_issuer),
        ]);
        j.key(false, "cert_san");
        j.strs(&t.cert_san);
        j.opt_fields(&[
            ("cert_not_before", &t.cert_not_before),
            ("cert_not_after", &t.cert_not_after),
        ]);
        j.key(false, "cert_self_signed");
        match t.cert_self_signed {
            Some(b) => j.bool(b),
            None => j.null(),
        }
        j.key(false, "cert_encrypted");
        j.bool(t.cert_encrypted);
        j.opt_fields(&[("quic_version", &t.quic_version)]);
        j.key(false, "dns_names");
        j.strs(&self.dns_names);
        j.key(false, "stratum");
        match &self.stratum {
            Some(s) => j.value(s),
            None => j.null(),
        }
        for (spec, &v) in FEATURES.iter().zip(self.features.iter()) {
            j.key(false, spec.name);
            if !v.is_finite() {
                j.null();
            } else {
                match spec.kind {
                    FeatureKind::Int => j.i64(v as i64),
                    FeatureKind::Float => j.f64(v),
                }
            }
        }
        j.0.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{ExtractConfig, Extractor};

    fn check(rec: &FlowRecord) {
        let mut line = Vec::new();
        rec.write_ndjson(&mut line);
        let want = serde_json::to_string(rec).unwrap() + "\n";
        assert_eq!(String::from_utf8(line).unwrap(), want);
    }

    /// The fast NDJSON text is serde_json's, for real records (TLS, Stratum, DNS names, UDP)
    /// and for records given a verdict and values that need escaping or are not finite.
    #[test]
    fn ndjson_lines_are_serde_json_text() {
        let mut recs = Vec::new();
        for cap in [
            "mining.pcapng",
            "xmrig-gr-tls.pcap",
            "android.pcap",
            "dns-edns-tcp-keepalive.pcap",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/pcap")
                .join(cap);
            let mut ex = Extractor::new(ExtractConfig::default());
            ex.process(
                cap,
                std::fs::File::open(path).unwrap(),
                &mut |r| {
                    recs.push(r);
                    Ok(())
                },
                &mut |_| {},
            )
            .unwrap();
        }
        assert!(recs.iter().any(|r| r.tls.ja3.is_some()));
        assert!(recs.iter().any(|r| r.stratum.is_some()));
        for rec in &recs {
            check(rec);
        }
        let mut odd = recs[0].clone();
        odd.capture = Arc::from("dir\\a \"b\".pcap\u{1}\u{7f}é");
        odd.tls.sni = Some("x\ty\r\n\u{8}\u{c}\u{1f}".into());
        odd.tls.cert_self_signed = Some(false);
        odd.dns_names = vec!["pool.example".into(), "ü.example".into()];
        odd.features[0] = f64::INFINITY;
        odd.features[1] = f64::NAN;
        odd.features[2] = -0.0;
        odd.first_seen = 1e21;
        odd.verdict = Some(VerdictColumns {
            verdict: "suspect",
            score: 0.5,
            reasons: vec!["hint:port:*:3333 (\"lists\")".into()],
            model_score: Some(f64::NAN),
            model_verdict: Some("benign"),
            evidence: vec![serde_json::json!({"kind": "feed", "value": "a\"b"})],
        });
        check(&odd);
        odd.verdict.as_mut().unwrap().model_score = Some(0.125);
        odd.verdict.as_mut().unwrap().model_verdict = None;
        check(&odd);
    }
}
