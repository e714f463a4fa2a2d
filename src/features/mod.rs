//! Per-flow timing and size features: what separates a pool connection (long-lived, small
//! messages both ways, the pool pushing jobs at a rhythm, the client submitting at random
//! times) from web, streaming or chat traffic.
//!
//! [`FlowStats`] is updated once per packet in O(1) time and bounded memory; [`FlowStats::
//! features`] turns it into the named, versioned vector [`FEATURES`] describes. The schema is
//! documented in the README; changing a name, a meaning or the order means a new
//! [`FEATURE_SCHEMA_VERSION`], because trained models are checked against it.

use crate::flow::direction::Direction;
pub use crate::stats::Moments;

pub mod netflow;
pub mod shape;

/// Version of the feature schema; models record it and refuse another.
pub const FEATURE_SCHEMA_VERSION: &str = "flow-v1";

/// How many payload-carrying packets the size/direction sequence keeps.
pub const SEQ_LEN: usize = 20;
/// A payload up to this many bytes counts as small.
pub const SMALL_PAYLOAD: u32 = 256;
/// Same-direction payload packets closer than this belong to one message.
pub const MESSAGE_GAP_S: f64 = 0.1;
/// A server message this long after the client's last data is a push, not an answer.
pub const PUSH_DELAY_S: f64 = 1.0;
/// A silence at least this long counts as an idle gap.
pub const IDLE_GAP_S: f64 = 10.0;
/// Push intervals kept for the median (the dominant period); later ones only update moments.
const PUSH_INTERVALS_KEPT: usize = 256;

/// Whether a feature is a count (written as an integer) or a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Whole number.
    Int,
    /// Real number; may be missing (null) when it cannot be computed.
    Float,
}

/// Name and kind of one feature column.
#[derive(Debug, Clone, Copy)]
pub struct FeatureSpec {
    /// Column name in every output format.
    pub name: &'static str,
    /// How it is written.
    pub kind: FeatureKind,
}

macro_rules! feature_list {
    ($( $name:literal : $kind:ident ),* $(,)?) => {
        /// The feature columns in output order (after the flow's identity and counters).
        pub const FEATURES: &[FeatureSpec] = &[
            $( FeatureSpec { name: $name, kind: FeatureKind::$kind } ),*
        ];
    };
}

feature_list! {
    "pl_min_c2s": Int, "pl_mean_c2s": Float, "pl_max_c2s": Int, "pl_std_c2s": Float,
    "pl_min_s2c": Int, "pl_mean_s2c": Float, "pl_max_s2c": Int, "pl_std_s2c": Float,
    "iat_min_c2s": Float, "iat_mean_c2s": Float, "iat_max_c2s": Float, "iat_std_c2s": Float,
    "iat_min_s2c": Float, "iat_mean_s2c": Float, "iat_max_s2c": Float, "iat_std_s2c": Float,
    "pl_pkts_c2s": Int, "pl_pkts_s2c": Int,
    "small_share_c2s": Float, "small_share_s2c": Float, "small_share": Float,
    "msgs_c2s": Int, "msgs_s2c": Int,
    "msg_iat_mean_c2s": Float, "msg_iat_cv_c2s": Float,
    "msg_iat_mean_s2c": Float, "msg_iat_cv_s2c": Float,
    "msg_bytes_mean_c2s": Float, "msg_bytes_mean_s2c": Float,
    "pushes": Int, "push_share": Float,
    "push_iat_mean": Float, "push_iat_cv": Float, "push_period": Float,
    "idle_max": Float, "idle_gaps": Int,
    "bytes_ratio": Float, "payload_rate": Float, "pkt_rate": Float,
    "tcp_flags_c2s": Int, "tcp_flags_s2c": Int,
    "retrans_c2s": Int, "retrans_s2c": Int,
    "seq_01": Int, "seq_02": Int, "seq_03": Int, "seq_04": Int, "seq_05": Int,
    "seq_06": Int, "seq_07": Int, "seq_08": Int, "seq_09": Int, "seq_10": Int,
    "seq_11": Int, "seq_12": Int, "seq_13": Int, "seq_14": Int, "seq_15": Int,
    "seq_16": Int, "seq_17": Int, "seq_18": Int, "seq_19": Int, "seq_20": Int,
}

/// What one direction of a flow accumulates.
#[derive(Debug, Clone, Default)]
pub struct DirStats {
    /// Packets sent.
    pub packets: u64,
    /// IP bytes sent (from the IP headers).
    pub ip_bytes: u64,
    /// Bytes of the frames on the wire as the capture recorded them.
    pub wire_bytes: u64,
    /// Transport payload bytes (from the headers, so cut frames count in full).
    pub payload_bytes: u64,
    /// Payload sizes of payload-carrying packets.
    pub payload: Moments,
    /// Inter-arrival times of all packets in this direction, seconds.
    pub iat: Moments,
    /// Payload-carrying packets of at most [`SMALL_PAYLOAD`] bytes.
    pub small: u64,
    /// Message start intervals, seconds.
    pub msg_iat: Moments,
    /// Messages (runs of same-direction payload packets).
    pub messages: u64,
    /// OR of all TCP flags sent.
    pub tcp_flags: u8,
    /// Segments that only repeated bytes already seen.
    pub retransmissions: u64,
    last_ts: Option<f64>,
    last_msg_start: Option<f64>,
}

/// All per-flow accumulators behind the feature vector.
#[derive(Debug, Clone, Default)]
pub struct FlowStats {
    /// Client-to-server and server-to-client accumulators.
    pub dir: [DirStats; 2],
    seq: [i32; SEQ_LEN],
    seq_n: usize,
    first_ts: f64,
    last_ts: Option<f64>,
    last_payload: Option<(Direction, f64)>,
    last_c2s_payload_ts: Option<f64>,
    client_spoke_since_server_msg: bool,
    s2c_messages: u64,
    pushes: u64,
    last_push_ts: Option<f64>,
    push_iat: Moments,
    push_intervals: Vec<f32>,
    idle_max: f64,
    idle_gaps: u64,
}

/// One packet as the feature accumulators see it.
#[derive(Debug, Clone, Copy)]
pub struct PacketObs {
    /// Seconds since the epoch.
    pub ts: f64,
    /// Which way it went.
    pub dir: Direction,
    /// IP length from the header.
    pub ip_len: u32,
    /// Frame length on the wire.
    pub wire_len: u32,
    /// Transport payload length from the headers.
    pub payload_len: u32,
    /// TCP flags (0 for UDP).
    pub tcp_flags: u8,
    /// True when this TCP segment carried only bytes already seen: it counts in the packet
    /// and byte totals but not in the message shape.
    pub retransmission: bool,
}

impl FlowStats {
    /// Empty accumulators for a flow whose first packet arrives at `ts`.
    pub fn new(ts: f64) -> Self {
        FlowStats {
            first_ts: ts,
            ..Default::default()
        }
    }

    /// Adds one packet.
    pub fn update(&mut self, p: &PacketObs) {
        let d = &mut self.dir[p.dir.index()];
        d.packets += 1;
        d.ip_bytes += p.ip_len as u64;
        d.wire_bytes += p.wire_len as u64;
        d.payload_bytes += p.payload_len as u64;
        d.tcp_flags |= p.tcp_flags;
        if let Some(last) = d.last_ts {
            d.iat.push((p.ts - last).max(0.0));
        }
        d.last_ts = Some(p.ts);
        if let Some(last) = self.last_ts {
            let gap = (p.ts - last).max(0.0);
            if gap > self.idle_max {
                self.idle_max = gap;
            }
            if gap >= IDLE_GAP_S {
                self.idle_gaps += 1;
            }
        }
        self.last_ts = Some(p.ts);
        if p.retransmission {
            d.retransmissions += 1;
            return;
        }
        if p.payload_len == 0 {
            return;
        }
        d.payload.push(p.payload_len as f64);
        if p.payload_len <= SMALL_PAYLOAD {
            d.small += 1;
        }
        if self.seq_n < SEQ_LEN {
            let size = p.payload_len.min(i32::MAX as u32) as i32;
            self.seq[self.seq_n] = match p.dir {
                Direction::ClientToServer => size,
                Direction::ServerToClient => -size,
            };
            self.seq_n += 1;
        }
        let new_message = match self.last_payload {
            Some((dir, ts)) => dir != p.dir || p.ts - ts > MESSAGE_GAP_S,
            None => true,
        };
        self.last_payload = Some((p.dir, p.ts));
        match p.dir {
            Direction::ClientToServer => {
                self.last_c2s_payload_ts = Some(p.ts);
                self.client_spoke_since_server_msg = true;
            }
            Direction::ServerToClient if new_message => {
                let answered_recently = self.client_spoke_since_server_msg
                    && self
                        .last_c2s_payload_ts
                        .is_some_and(|t| p.ts - t <= PUSH_DELAY_S);
                self.client_spoke_since_server_msg = false;
                self.s2c_messages += 1;
                if !answered_recently {
                    self.pushes += 1;
                    if let Some(last) = self.last_push_ts {
                        let iv = (p.ts - last).max(0.0);
                        self.push_iat.push(iv);
                        if self.push_intervals.len() < PUSH_INTERVALS_KEPT {
                            self.push_intervals.push(iv as f32);
                        }
                    }
                    self.last_push_ts = Some(p.ts);
                }
            }
            Direction::ServerToClient => {}
        }
        if new_message {
            let d = &mut self.dir[p.dir.index()];
            d.messages += 1;
            if let Some(last) = d.last_msg_start {
                d.msg_iat.push((p.ts - last).max(0.0));
            }
            d.last_msg_start = Some(p.ts);
        }
    }

    /// Time of the last packet.
    pub fn last_ts(&self) -> f64 {
        self.last_ts.unwrap_or(self.first_ts)
    }

    /// The feature vector, in [`FEATURES`] order. Missing values are NaN.
    pub fn features(&self) -> Vec<f64> {
        let [c, s] = &self.dir;
        let duration = self.last_ts() - self.first_ts;
        let pl_pkts = c.payload.count() + s.payload.count();
        let ratio = |num: u64, den: u64| {
            if den == 0 {
                f64::NAN
            } else {
                num as f64 / den as f64
            }
        };
        let per_second = |x: f64| {
            if duration > 0.0 {
                x / duration
            } else {
                f64::NAN
            }
        };
        let total_payload = (c.payload_bytes + s.payload_bytes) as f64;
        let bytes_ratio = if total_payload > 0.0 {
            (c.payload_bytes as f64 - s.payload_bytes as f64) / total_payload
        } else {
            f64::NAN
        };
        let msg_bytes = |d: &DirStats| ratio(d.payload_bytes, d.messages);
        let mut v = Vec::with_capacity(FEATURES.len());
        for d in [c, s] {
            v.extend([
                d.payload.min(),
                d.payload.mean(),
                d.payload.max(),
                d.payload.std(),
            ]);
        }
        for d in [c, s] {
            v.extend([d.iat.min(), d.iat.mean(), d.iat.max(), d.iat.std()]);
        }
        v.extend([c.payload.count() as f64, s.payload.count() as f64]);
        v.extend([
            ratio(c.small, c.payload.count()),
            ratio(s.small, s.payload.count()),
            ratio(c.small + s.small, pl_pkts),
        ]);
        v.extend([c.messages as f64, s.messages as f64]);
        v.extend([
            c.msg_iat.mean(),
            c.msg_iat.cv(),
            s.msg_iat.mean(),
            s.msg_iat.cv(),
        ]);
        v.extend([msg_bytes(c), msg_bytes(s)]);
        v.extend([
            self.pushes as f64,
            ratio(self.pushes, self.s2c_messages),
            self.push_iat.mean(),
            self.push_iat.cv(),
            median(&self.push_intervals),
        ]);
        v.extend([
            if self.last_ts.is_some() {
                self.idle_max
            } else {
                f64::NAN
            },
            self.idle_gaps as f64,
        ]);
        v.extend([
            bytes_ratio,
            per_second(total_payload),
            per_second((c.packets + s.packets) as f64),
        ]);
        v.extend([c.tcp_flags as f64, s.tcp_flags as f64]);
        v.extend([c.retransmissions as f64, s.retransmissions as f64]);
        v.extend(self.seq.iter().map(|&x| x as f64));
        debug_assert_eq!(v.len(), FEATURES.len());
        v
    }
}

/// Median of a small sample, NaN when empty.
fn median(xs: &[f32]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v: Vec<f32> = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m] as f64
    } else {
        (v[m - 1] as f64 + v[m] as f64) / 2.0
    }
}

#[cfg(test)]
mod tests;
