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
    "dns_names",
    "stratum",
];

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
        m.serialize_entry("packets_c2s", packets_c2s)?;
        m.serialize_entry("packets_s2c", packets_s2c)?;
        m.serialize_entry("bytes_c2s", bytes_c2s)?;
        m.serialize_entry("bytes_s2c", bytes_s2c)?;
        m.serialize_entry("payload_bytes_c2s", payload_bytes_c2s)?;
        m.serialize_entry("payload_bytes_s2c", payload_bytes_s2c)?;
        m.serialize_entry("wire_bytes_c2s", wire_bytes_c2s)?;
        m.serialize_entry("wire_bytes_s2c", wire_bytes_s2c)?;
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
        m.serialize_entry("dns_names", dns_names)?;
        m.serialize_entry("stratum", stratum)?;
        for (spec, &v) in FEATURES.iter().zip(features.iter()) {
            m.serialize_entry(spec.name, &feature_json(spec.kind, v))?;
        }
        m.end()
    }
}
