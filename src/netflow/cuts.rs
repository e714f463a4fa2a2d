//! What exporters would have reported for a packet-capture flow: the flow cut into pieces by
//! an active timeout, each piece one record per direction, then paired and stitched back by
//! the same [`Stitcher`] that reads real exports.
//!
//! Training the flow-only model on these, for several timeouts, teaches it what a miner's
//! session looks like however an exporter cut it: one record of an hour, sixty of a minute, or
//! pieces that stitching could not join because the miner was silent too long after a cut.
//! The cut follows software exporters such as nfdump's `nfpcapd -e active,inactive`: a piece
//! ends when it has lasted the active timeout or the connection was silent for the inactive
//! timeout ([`INACTIVE_TIMEOUT`], nfpcapd's default), and the next packet starts a new piece.
//! Both directions are cut together.

use super::conversation::{Conversation, StitchConfig, Stitcher};
use super::ExportRecord;
use crate::features::netflow::netflow_features;
use crate::flow::direction::Direction;
use std::net::IpAddr;

/// The active timeouts a capture flow is cut by, seconds; infinity means no cut (the exporter's
/// record is the whole capture flow).
pub const ACTIVE_TIMEOUTS: &[f64] = &[60.0, 120.0, 300.0, 1800.0, f64::INFINITY];

/// Seconds of silence after which an exporter ends a record (nfpcapd's default).
pub const INACTIVE_TIMEOUT: f64 = 60.0;

/// Pieces kept per timeout; a longer flow's last piece runs to its end.
const MAX_PIECES: usize = 4096;

/// One direction of the piece being built.
#[derive(Debug, Clone, Copy, Default)]
struct PieceSide {
    packets: u64,
    bytes: u64,
    flags: u8,
    first: f64,
    last: f64,
}

/// One finished piece: both directions.
#[derive(Debug, Clone, Copy)]
struct Piece {
    sides: [PieceSide; 2],
}

/// The cut of one flow by one timeout.
#[derive(Debug, Clone)]
struct Cut {
    timeout: f64,
    start: Option<f64>,
    last: f64,
    cur: [PieceSide; 2],
    done: Vec<Piece>,
}

impl Cut {
    fn close(&mut self) {
        if self.cur.iter().any(|s| s.packets > 0) {
            self.done.push(Piece { sides: self.cur });
        }
        self.cur = [PieceSide::default(); 2];
        self.start = None;
    }
}

/// The pieces of one flow under every timeout of [`ACTIVE_TIMEOUTS`], built packet by packet in
/// bounded memory.
#[derive(Debug, Clone)]
pub struct ExporterCuts {
    cuts: Vec<Cut>,
}

impl Default for ExporterCuts {
    fn default() -> Self {
        ExporterCuts {
            cuts: ACTIVE_TIMEOUTS
                .iter()
                .map(|&timeout| Cut {
                    timeout,
                    start: None,
                    last: f64::NEG_INFINITY,
                    cur: [PieceSide::default(); 2],
                    done: Vec::new(),
                })
                .collect(),
        }
    }
}

impl ExporterCuts {
    /// Adds one packet: its time, direction, IP length and TCP flags.
    pub fn packet(&mut self, ts: f64, dir: Direction, ip_len: u32, flags: u8) {
        for c in &mut self.cuts {
            if let Some(start) = c.start {
                let expired = ts - start >= c.timeout || ts - c.last >= INACTIVE_TIMEOUT;
                if expired && c.done.len() < MAX_PIECES {
                    c.close();
                }
            }
            c.start.get_or_insert(ts);
            c.last = ts;
            let s = &mut c.cur[dir.index()];
            if s.packets == 0 {
                s.first = ts;
            }
            s.packets += 1;
            s.bytes += ip_len as u64;
            s.flags |= flags;
            s.last = ts;
        }
    }

    /// The conversations a collector would make of the pieces, for each timeout: one
    /// `netflow-v2` row each, named `active_timeout=300` (with `#2`, `#3`… when stitching
    /// left several).
    pub fn finish(
        mut self,
        protocol: u8,
        client: (IpAddr, u16),
        server: (IpAddr, u16),
    ) -> Vec<(String, Vec<f32>)> {
        let mut out = Vec::new();
        for c in &mut self.cuts {
            c.close();
            let mut stitcher = Stitcher::new(StitchConfig::default());
            let mut convs: Vec<Conversation> = Vec::new();
            for p in &c.done {
                for (i, s) in p.sides.iter().enumerate() {
                    if s.packets == 0 {
                        continue;
                    }
                    let (src, dst) = if i == 0 {
                        (client, server)
                    } else {
                        (server, client)
                    };
                    let r = ExportRecord {
                        exporter: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
                        domain: 0,
                        version: 0,
                        first: s.first,
                        last: s.last,
                        src_ip: src.0,
                        dst_ip: dst.0,
                        src_port: src.1,
                        dst_port: dst.1,
                        protocol,
                        packets: s.packets,
                        bytes: s.bytes,
                        tcp_flags: s.flags,
                        reverse: None,
                    };
                    stitcher.push(&r, &mut |c| convs.push(c));
                }
            }
            stitcher.flush(&mut |c| convs.push(c));
            let name = if c.timeout.is_finite() {
                format!("active_timeout={}", c.timeout)
            } else {
                "active_timeout=none".to_string()
            };
            for (k, conv) in convs.iter().enumerate() {
                let variant = if k == 0 {
                    name.clone()
                } else {
                    format!("{name}#{}", k + 1)
                };
                out.push((variant, netflow_features(conv)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::netflow::{NETFLOW_CONTEXT, NETFLOW_FEATURES};
    use Direction::{ClientToServer as C2S, ServerToClient as S2C};

    fn col(row: &[f32], name: &str) -> f32 {
        let cols: Vec<&str> = NETFLOW_FEATURES
            .iter()
            .chain(NETFLOW_CONTEXT)
            .copied()
            .collect();
        row[cols.iter().position(|c| *c == name).unwrap()]
    }

    /// A 20-minute session with a packet each way every 20 s, then a 280 s silence (which ends
    /// a record by the inactive timeout) and fourteen more minutes: under every timeout it is
    /// still one conversation (the pieces continue the connection) with every packet.
    #[test]
    fn every_cut_is_stitched_back_to_the_session() {
        let mut cuts = ExporterCuts::default();
        let syn = crate::decode::tcp_flags::SYN;
        let ack = crate::decode::tcp_flags::ACK;
        cuts.packet(0.0, C2S, 60, syn);
        cuts.packet(0.01, S2C, 60, syn | ack);
        let mut t = 1.0;
        let mut n = 1;
        while t < 2050.0 {
            if !(1200.0..1450.0).contains(&t) {
                cuts.packet(t, C2S, 200, ack);
                cuts.packet(t + 0.1, S2C, 100, ack);
                n += 1;
            }
            t += 20.0;
        }
        let client = ("10.0.0.5".parse().unwrap(), 51000);
        let server = ("198.51.100.7".parse().unwrap(), 3333);
        let rows = cuts.finish(6, client, server);
        let names: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "active_timeout=60",
                "active_timeout=120",
                "active_timeout=300",
                "active_timeout=1800",
                "active_timeout=none"
            ]
        );
        for (name, row) in &rows {
            assert_eq!(col(row, "packets_c2s"), n as f32, "{name}");
            assert_eq!(col(row, "packets_s2c"), n as f32, "{name}");
            assert_eq!(col(row, "syn_c2s"), 1.0, "{name}");
            assert!(col(row, "duration") > 2000.0, "{name}");
        }
        // Even pieces: a low CV of the pace across them (with no active timeout, the two
        // records either side of the silence).
        for (name, row) in &rows {
            assert!(col(row, "record_rate_cv") < 0.3, "{name}");
        }
    }

    /// Past the continuation gap the pieces stay apart: two conversations, the second named
    /// `#2`, without the SYN.
    #[test]
    fn a_long_silence_after_a_cut_leaves_two_conversations() {
        let mut cuts = ExporterCuts::default();
        let ack = crate::decode::tcp_flags::ACK;
        for t in [0.0, 10.0, 50.0] {
            cuts.packet(t, C2S, 100, ack);
            cuts.packet(t + 0.1, S2C, 100, ack);
        }
        cuts.packet(1000.0, C2S, 100, ack);
        cuts.packet(1000.1, S2C, 100, ack);
        let client = ("10.0.0.5".parse().unwrap(), 51000);
        let server = ("198.51.100.7".parse().unwrap(), 3333);
        let rows = cuts.finish(6, client, server);
        let sixty: Vec<&(String, Vec<f32>)> = rows
            .iter()
            .filter(|r| r.0.starts_with("active_timeout=60"))
            .collect();
        assert_eq!(sixty.len(), 2);
        assert_eq!(sixty[1].0, "active_timeout=60#2");
        assert_eq!(col(&sixty[0].1, "packets_c2s"), 3.0);
        assert_eq!(col(&sixty[1].1, "packets_c2s"), 1.0);
        // With no active timeout the inactive timeout still ends the first record.
        let none: Vec<_> = rows
            .iter()
            .filter(|r| r.0.starts_with("active_timeout=none"))
            .collect();
        assert_eq!(none.len(), 2);
        assert_eq!(col(&none[0].1, "packets_c2s"), 3.0);
    }
}
