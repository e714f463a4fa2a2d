//! The mining-protocol dissector of a TCP flow: the plaintext protocols and Stratum V2 side by
//! side, one result.
//!
//! The plaintext reader ([`StratumDissector`]) drops a flow whose bytes are binary at once,
//! which is what every Stratum V2 connection looks like; the SV2 detector ([`Sv2Detector`])
//! needs the first turns of both sides. [`MiningDissector`] feeds both while either still
//! wants bytes and reports whichever confirms, as one [`StratumInfo`]: an SV2 session is
//! dialect `sv2`, method `noise-handshake`, with its message counts each way.

use super::{Evidence, StratumDissector, StratumInfo};
use crate::dissect::sv2::{Sv2Detector, IDENTIFYING_CALL};
use crate::flow::direction::Direction;
use crate::flow::reassembly::Chunk;
use std::collections::BTreeMap;

/// Per-flow dissector of every mining protocol poolscope knows on TCP: plaintext Stratum and
/// its relatives ([`StratumDissector`]) and Stratum V2 ([`Sv2Detector`]).
///
/// Same contract as [`StratumDissector`]: feed both directions with
/// [`MiningDissector::on_chunk`] while [`MiningDissector::wants_more`] is true, then read
/// [`MiningDissector::info`].
#[derive(Debug, Default)]
pub struct MiningDissector {
    plain: StratumDissector,
    sv2: Sv2Detector,
}

impl MiningDissector {
    /// A dissector that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds reassembled stream bytes of one direction; `ts` is the capture time (epoch
    /// seconds) of the packet that delivered them.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, ts: f64) {
        if self.plain.evidence().is_none() && self.sv2.wants_more() {
            self.sv2.on_chunk(dir, chunk, ts);
        }
        if !self.sv2.is_confirmed() {
            self.plain.on_chunk(dir, chunk, ts);
        }
    }

    /// False once neither protocol family can match any more. A confirmed flow keeps
    /// returning true, so that it is followed to its end.
    pub fn wants_more(&self) -> bool {
        self.plain.wants_more() || self.sv2.wants_more()
    }

    /// What confirmed the flow as mining, if it is confirmed.
    pub fn evidence(&self) -> Option<Evidence> {
        self.plain
            .evidence()
            .or_else(|| self.sv2.is_confirmed().then_some(Evidence::NoiseHandshake))
    }

    /// The session summary; `None` unless the flow is confirmed as mining.
    pub fn info(&self) -> Option<StratumInfo> {
        if let Some(info) = self.plain.info() {
            return Some(info);
        }
        let s = self.sv2.session()?;
        let [c2s, s2c] = s.messages;
        Some(StratumInfo {
            dialect: "sv2",
            coin: None,
            agent: None,
            login: None,
            worker: None,
            methods: BTreeMap::from([(IDENTIFYING_CALL.to_string(), 1)]),
            jobs: 0,
            submits: 0,
            accepted: 0,
            rejected: 0,
            difficulty: None,
            job_interval_mean: None,
            job_interval_cv: None,
            submit_rate: None,
            messages: c2s + s2c,
            malformed_lines: 0,
            messages_c2s: Some(c2s),
            messages_s2c: Some(s2c),
        })
    }
}
