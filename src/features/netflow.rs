//! The flow-only feature set `netflow-v1`: what a conversation's shape looks like when all that
//! is known are NetFlow counters. It is computed the same way from flow exports and from packet
//! captures ([`conversation_from_flow_record`]), so a model trained on labelled captures can
//! score flow exports. Ports and addresses are deliberately absent: they belong to the feeds,
//! and a model that learnt them would only learn the training set's pools.

use crate::decode::tcp_flags;
use crate::netflow::conversation::{Conversation, RunningStats, Side};
use crate::output::FlowRecord;

/// Name of the schema in [`FlowRecord::model_schema`].
pub const NETFLOW_SCHEMA: &str = "netflow-v2";

/// Column names of the `netflow-v2` model inputs, in order.
///
/// Exporters cut long connections by their active timeout (60 s to 30 min), and a cut that
/// stitching cannot undo leaves a piece as a conversation of its own. So the features are
/// rates and sizes, which a cut leaves alone, not totals: packets and bytes per minute each
/// way, bytes per packet, shares, TCP flags, and how even the pace is across the pieces.
pub const NETFLOW_FEATURES: &[&str] = &[
    "duration_log",
    "packets_c2s_pm_log",
    "packets_s2c_pm_log",
    "bytes_c2s_pm_log",
    "bytes_s2c_pm_log",
    "bytes_per_packet_c2s",
    "bytes_per_packet_s2c",
    "bytes_c2s_share",
    "packets_c2s_share",
    "syn_c2s",
    "fin_c2s",
    "rst_c2s",
    "psh_c2s",
    "syn_s2c",
    "fin_s2c",
    "rst_s2c",
    "psh_s2c",
    "record_rate_cv",
    "has_reverse",
];

/// Columns a `netflow-v2` row carries after the features, for the gate: duration in seconds
/// and packets each way.
pub const NETFLOW_CONTEXT: &[&str] = &["duration", "packets_c2s", "packets_s2c"];

fn ratio(a: f64, b: f64) -> f32 {
    if b > 0.0 {
        (a / b) as f32
    } else {
        f32::NAN
    }
}

fn flag(side: &Side, bit: u8) -> f32 {
    if side.tcp_flags & bit != 0 {
        1.0
    } else {
        0.0
    }
}

/// The `netflow-v2` row of a conversation: [`NETFLOW_FEATURES`], then [`NETFLOW_CONTEXT`]; NaN
/// where a value is undefined (a rate of an instantaneous flow, a CV of one record). TCP flag
/// bits are 0 for UDP.
pub fn netflow_features(c: &Conversation) -> Vec<f32> {
    let d = c.duration();
    let (pc, ps) = (c.c2s.packets as f64, c.s2c.packets as f64);
    let (bc, bs) = (c.c2s.bytes as f64, c.s2c.bytes as f64);
    let minutes = if d > 0.0 { d.max(1.0) / 60.0 } else { 0.0 };
    let log_rate = |x: f64| {
        if minutes > 0.0 {
            (x / minutes).ln_1p() as f32
        } else {
            f32::NAN
        }
    };
    let v = vec![
        d.ln_1p() as f32,
        log_rate(pc),
        log_rate(ps),
        log_rate(bc),
        log_rate(bs),
        ratio(bc, pc),
        ratio(bs, ps),
        ratio(bc, bc + bs),
        ratio(pc, pc + ps),
        flag(&c.c2s, tcp_flags::SYN),
        flag(&c.c2s, tcp_flags::FIN),
        flag(&c.c2s, tcp_flags::RST),
        flag(&c.c2s, tcp_flags::PSH),
        flag(&c.s2c, tcp_flags::SYN),
        flag(&c.s2c, tcp_flags::FIN),
        flag(&c.s2c, tcp_flags::RST),
        flag(&c.s2c, tcp_flags::PSH),
        c.record_rates.cv() as f32,
        if c.has_reverse() { 1.0 } else { 0.0 },
        // Context.
        d as f32,
        pc as f32,
        ps as f32,
    ];
    debug_assert_eq!(v.len(), NETFLOW_FEATURES.len() + NETFLOW_CONTEXT.len());
    v
}

/// The conversation an exporter would have reported for a packet-capture flow with no
/// timeouts: one record per direction, with the OR of the TCP flags each way.
pub fn conversation_from_flow_record(r: &FlowRecord) -> Conversation {
    let side = |packets: u64, bytes: u64| {
        let mut s = Side {
            packets,
            bytes,
            ..Side::default()
        };
        if packets > 0 {
            s.records = 1;
            s.first = r.first_seen;
            s.last = r.last_seen;
        }
        s
    };
    let mut c2s = side(r.packets_c2s, r.bytes_c2s);
    let mut s2c = side(r.packets_s2c, r.bytes_s2c);
    // The capture's OR of TCP flags each way, as an exporter keeps it.
    for (s, name) in [(&mut c2s, "tcp_flags_c2s"), (&mut s2c, "tcp_flags_s2c")] {
        if let Some(v) = crate::features::FEATURES
            .iter()
            .position(|f| f.name == name)
            .and_then(|i| r.features.get(i))
            .filter(|v| v.is_finite())
        {
            s.tcp_flags = *v as u8;
        }
    }
    let mut durations = RunningStats::default();
    for s in [&c2s, &s2c] {
        if s.records > 0 {
            durations.push(r.duration);
        }
    }
    let mut record_rates = RunningStats::default();
    if r.duration >= 1.0 {
        record_rates.push((r.packets_c2s + r.packets_s2c) as f64 * 60.0 / r.duration);
    }
    Conversation {
        protocol: if r.transport == "tcp" { 6 } else { 17 },
        client: (r.src_ip, r.src_port),
        server: (r.dst_ip, r.dst_port),
        first: r.first_seen,
        last: r.last_seen,
        c2s,
        s2c,
        record_durations: durations,
        gaps: RunningStats::default(),
        record_rates,
        biflow_records: 0,
        tags: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_line_up() {
        let mut c = Conversation {
            protocol: 6,
            client: ("10.0.0.1".parse().unwrap(), 50000),
            server: ("10.0.0.2".parse().unwrap(), 3333),
            first: 100.0,
            last: 220.0,
            c2s: Side {
                packets: 10,
                bytes: 1000,
                tcp_flags: tcp_flags::SYN | tcp_flags::PSH,
                records: 2,
                first: 100.0,
                last: 220.0,
            },
            s2c: Side::default(),
            record_durations: RunningStats::default(),
            gaps: RunningStats::default(),
            record_rates: RunningStats::default(),
            biflow_records: 0,
            tags: None,
        };
        c.record_rates.push(4.0);
        c.record_rates.push(6.0);
        let v = netflow_features(&c);
        let cols: Vec<&str> = NETFLOW_FEATURES
            .iter()
            .chain(NETFLOW_CONTEXT)
            .copied()
            .collect();
        assert_eq!(v.len(), cols.len());
        let get = |n: &str| v[cols.iter().position(|x| *x == n).unwrap()];
        assert_eq!(get("duration"), 120.0);
        assert_eq!(get("duration_log"), 121f32.ln());
        assert_eq!(get("bytes_per_packet_c2s"), 100.0);
        assert!(get("bytes_per_packet_s2c").is_nan());
        assert_eq!(get("bytes_c2s_share"), 1.0);
        assert_eq!(get("packets_c2s_share"), 1.0);
        // 10 packets and 1000 bytes in two minutes.
        assert_eq!(get("packets_c2s_pm_log"), 6f32.ln());
        assert_eq!(get("bytes_c2s_pm_log"), 501f32.ln());
        assert_eq!(get("packets_s2c_pm_log"), 0.0);
        assert_eq!(
            (get("syn_c2s"), get("fin_c2s"), get("psh_c2s")),
            (1.0, 0.0, 1.0)
        );
        // Rates 4 and 6: mean 5, population std 1.
        assert!((get("record_rate_cv") - 0.2).abs() < 1e-6);
        assert_eq!(get("has_reverse"), 0.0);
        assert_eq!((get("packets_c2s"), get("packets_s2c")), (10.0, 0.0));
    }
}
