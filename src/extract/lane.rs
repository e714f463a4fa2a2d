//! A lane: the flow tables of some shards, and what happens to a packet once its flow is found
//! (reassembly, dissectors, features), to a flow when it ends (its record), at the expiry passes
//! and at the end of an input. A run has one lane, or one per worker thread.
//!
//! Every packet's flow lives in one shard, chosen by a hash of the flow's key. The number of
//! shards depends only on the live-flow cap, never on the number of threads, and each shard has
//! its own table, cap and expiry: so whatever the threads, each shard sees the same packets in
//! the same order and ends the same flows at the same points. Everything a lane produces is an
//! [`Event`] at a [`Pos`], and the merge writes events in `Pos` order: the output is the same
//! records in the same order for any number of threads.

use super::flow_state::{
    is_dns_port, settle_tls, Dissectors, FlowPacket, FlowState, FullState, StratumState, TcpSeg,
    TlsState,
};
use super::{ExtractConfig, Summary};
use crate::dissect::dns::DnsResolution;
use crate::dissect::tls::TlsInfo;
use crate::error::Result;
use crate::features::shape::{ShapeStats, SHAPE_SCHEMA};
use crate::flow::reassembly::Chunk;
use crate::flow::{Direction, EndReason, FlowConfig, FlowEntry, FlowKey, FlowTable, Protocol};
use crate::output::FlowRecord;
use std::sync::Arc;

/// Where an event falls in a run. Events are written in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Pos {
    /// The frame (counted from 1 over the run) that caused the event.
    pub(super) frame: u64,
    /// What kind of event, in the order the kinds happen for one frame.
    pub(super) phase: Phase,
    /// Shard (expiry) or flow id (end of input); 0 otherwise.
    pub(super) major: u64,
    /// The event's rank among those of the same frame, phase and `major`.
    pub(super) minor: u64,
}

/// The kinds of events of one frame, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Phase {
    /// DNS answers the frame carried.
    Resolved,
    /// The flow of the frame, still open, after it learned something (updates only).
    Updated,
    /// Flows the frame ended (timed out, port reused, evicted for the cap).
    Ended,
    /// Flows an expiry pass after the frame ended.
    Expired,
    /// The count of live flows at an expiry pass or at the end of the input.
    Live,
    /// Flows still live at the end of the input, in flow id order.
    Drained,
    /// Nothing of this frame or before remains to come (a lane's promise to the merge).
    Done,
}

impl Pos {
    fn new(frame: u64, phase: Phase, major: u64, minor: u64) -> Self {
        Pos {
            frame,
            phase,
            major,
            minor,
        }
    }

    /// After every event of `frame` and before.
    pub(super) fn done(frame: u64) -> Self {
        Pos::new(frame, Phase::Done, u64::MAX, u64::MAX)
    }

    /// After every event of the input.
    pub(super) const END: Pos = Pos {
        frame: u64::MAX,
        phase: Phase::Done,
        major: u64::MAX,
        minor: u64::MAX,
    };
}

/// The frame number of the end of an input: after every frame of it.
const END_FRAME: u64 = u64::MAX;

/// What a lane hands to the merge.
pub(super) enum Event {
    /// DNS answers read, at the time they count from.
    Resolved(f64, DnsResolution),
    /// A finished flow, its DNS names still to be found.
    Ended(Box<Finished>),
    /// A flow still open, as it stands (its DNS names still to be found).
    Updated(Box<Finished>),
    /// Live flows of a lane.
    Live(u64),
}

/// A finished flow's record, with the DNS answers its own end produced (they count from its
/// last packet, and before its names are looked up).
pub(super) struct Finished {
    pub(super) record: FlowRecord,
    pub(super) resolutions: Vec<DnsResolution>,
}

/// Where a lane's events go: straight to the merge when the run has one lane, into a chunk
/// for the merge thread otherwise.
pub(super) trait Events {
    /// Takes one event; events come in [`Pos`] order.
    fn push(&mut self, pos: Pos, event: Event) -> Result<()>;
}

/// Drops every event: the end of an input whose output already failed still empties the tables.
pub(super) struct Discard;

impl Events for Discard {
    fn push(&mut self, _: Pos, _: Event) -> Result<()> {
        Ok(())
    }
}

impl Events for Vec<(Pos, Event)> {
    fn push(&mut self, pos: Pos, event: Event) -> Result<()> {
        Vec::push(self, (pos, event));
        Ok(())
    }
}

/// A decoded packet on its way to its flow.
pub(super) struct Packet<'a> {
    /// The frame number (from 1 over the run).
    pub(super) frame: u64,
    /// Seconds since the epoch.
    pub(super) ts: f64,
    /// As sent: `src` is the sender.
    pub(super) key: FlowKey,
    pub(super) tcp: Option<TcpSeg>,
    pub(super) ip_len: u32,
    pub(super) wire_len: u32,
    pub(super) payload_len: u32,
    pub(super) payload: &'a [u8],
}

/// Shards for a live-flow cap: one table under 16,384 flows (the cap then holds exactly), up to
/// 64 for large caps. Never a function of the thread count.
pub(super) fn shard_count(flow: &FlowConfig) -> usize {
    (flow.max_flows / 16_384).clamp(1, 64)
}

/// The shard of a packet's flow (both directions give the same shard).
pub(super) fn shard_of(key: &FlowKey, shards: usize) -> usize {
    use std::hash::BuildHasher;
    let h = crate::hash::FxBuildHasher.hash_one(key.canonical());
    // The high bits: the table's own index takes the low ones.
    ((h >> 40) % shards as u64) as usize
}

struct Shard {
    index: u64,
    table: FlowTable<FlowState>,
}

/// The shards of one lane and the counters of what it did.
pub(super) struct Lane {
    id: u64,
    shards: Vec<Shard>,
    cfg: ExtractConfig,
    /// The input being read (flows never outlive their input).
    pub(super) capture: Arc<str>,
    /// What the lane's flows did (flows, dissectors, reassembly).
    pub(super) summary: Summary,
    ended: Vec<(FlowEntry<FlowState>, EndReason)>,
    resolutions: Vec<DnsResolution>,
}

impl Lane {
    /// Lane `id` of `lanes`, owning shards `id`, `id + lanes`, `id + 2 × lanes`… of `shards`.
    pub(super) fn new(cfg: &ExtractConfig, id: usize, lanes: usize, shards: usize) -> Self {
        let flow = FlowConfig {
            max_flows: cfg.flow.max_flows.div_ceil(shards),
            ..cfg.flow.clone()
        };
        Lane {
            id: id as u64,
            shards: (id..shards)
                .step_by(lanes)
                .map(|index| Shard {
                    index: index as u64,
                    table: FlowTable::new(flow.clone()),
                })
                .collect(),
            cfg: cfg.clone(),
            capture: Arc::from(""),
            summary: Summary::default(),
            ended: Vec::new(),
            resolutions: Vec::new(),
        }
    }

    /// The lane's shard `local` (the packet's shard divided by the number of lanes) takes a
    /// packet.
    pub(super) fn packet(
        &mut self,
        local: usize,
        p: &Packet<'_>,
        out: &mut dyn Events,
    ) -> Result<()> {
        let table = &mut self.shards[local].table;
        table.set_next_id(p.frame);
        let ended = &mut self.ended;
        let (entry, dir) = table.packet(
            p.key,
            p.ts,
            p.tcp.map(|h| h.flags),
            |_| FlowState::new(),
            &mut |e, r| ended.push((e, r)),
        );
        let fp = FlowPacket {
            ts: p.ts,
            dir,
            ip_len: p.ip_len,
            wire_len: p.wire_len,
            payload_len: p.payload_len,
            payload: p.payload,
            tcp: p.tcp,
        };
        if !entry.state.keep_bare(&fp) {
            let full = entry.state.full(
                &entry.key,
                entry.first_ts,
                &self.cfg,
                &mut self.summary,
                &mut self.resolutions,
            );
            let dns_port = is_dns_port(p.key.src.port) || is_dns_port(p.key.dst.port);
            let before = self.cfg.updates.then(|| full.milestones());
            full.packet(&fp, dns_port, &mut self.summary, &mut self.resolutions);
            for (k, r) in self.resolutions.drain(..).enumerate() {
                out.push(
                    Pos::new(p.frame, Phase::Resolved, 0, k as u64),
                    Event::Resolved(p.ts, r),
                )?;
            }
            if before.is_some_and(|b| b != full.milestones()) {
                let record = flow_record(
                    &self.capture,
                    entry.id,
                    &entry.key,
                    (entry.first_ts, entry.last_ts),
                    full,
                    EndReason::Open,
                );
                out.push(
                    Pos::new(p.frame, Phase::Updated, 0, 0),
                    Event::Updated(Box::new(Finished {
                        record,
                        resolutions: Vec::new(),
                    })),
                )?;
            }
        }
        self.finish_ended(p.frame, Phase::Ended, 0, out)
    }

    /// Finishes every flow the table just ended, in the order it ended them, as events at
    /// (`frame`, `phase`, `major`). All are finished even after an output error (the first
    /// is returned), so none stays behind for a later frame.
    fn finish_ended(
        &mut self,
        frame: u64,
        phase: Phase,
        major: u64,
        out: &mut dyn Events,
    ) -> Result<()> {
        let mut ended = std::mem::take(&mut self.ended);
        let mut result = Ok(());
        for (k, (e, r)) in ended.drain(..).enumerate() {
            let f = self.finish(e, r);
            if result.is_ok() {
                result = out.push(Pos::new(frame, phase, major, k as u64), Event::Ended(f));
            }
        }
        self.ended = ended;
        result
    }

    /// The expiry pass after `frame`, at capture time `now`: every shard ends its idle flows.
    pub(super) fn expire(&mut self, frame: u64, now: f64, out: &mut dyn Events) -> Result<()> {
        let mut live = 0;
        for i in 0..self.shards.len() {
            let shard = &mut self.shards[i];
            let ended = &mut self.ended;
            shard.table.expire(now, &mut |e, r| ended.push((e, r)));
            live += shard.table.len() as u64;
            let index = shard.index;
            self.finish_ended(frame, Phase::Expired, index, out)?;
        }
        out.push(Pos::new(frame, Phase::Live, self.id, 0), Event::Live(live))
    }

    /// The end of an input: every live flow ends, in flow id order.
    pub(super) fn drain(&mut self, out: &mut dyn Events) -> Result<()> {
        let mut order: Vec<(u64, usize, u32)> = Vec::new();
        for (i, shard) in self.shards.iter().enumerate() {
            order.extend(shard.table.live().into_iter().map(|(id, s)| (id, i, s)));
        }
        out.push(
            Pos::new(END_FRAME, Phase::Live, self.id, 0),
            Event::Live(order.len() as u64),
        )?;
        order.sort_unstable();
        for (id, shard, slot) in order {
            if let Some(e) = self.shards[shard].table.take(slot) {
                let f = self.finish(e, EndReason::EndOfCapture);
                out.push(Pos::new(END_FRAME, Phase::Drained, id, 0), Event::Ended(f))?;
            }
        }
        for shard in &mut self.shards {
            shard.table.restart_clock();
        }
        Ok(())
    }

    /// Flows created and evicted by the lane's tables so far.
    pub(super) fn table_counts(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(c, e), s| {
            (c + s.table.stats.created, e + s.table.stats.evicted)
        })
    }

    fn finish(&mut self, mut entry: FlowEntry<FlowState>, reason: EndReason) -> Box<Finished> {
        let mut gaps = 0;
        let mut resolutions = Vec::new();
        let full = entry.state.full(
            &entry.key,
            entry.first_ts,
            &self.cfg,
            &mut self.summary,
            &mut resolutions,
        );
        let FullState {
            tcp,
            tls,
            dns,
            stratum,
            ..
        } = &mut *full;
        if let Some(reasm) = tcp.as_mut() {
            let mut ds = Dissectors {
                tls,
                dns,
                stratum,
                resolutions: &mut resolutions,
                ts: entry.last_ts,
            };
            for (i, r) in reasm.iter_mut().enumerate() {
                let dir = if i == 0 {
                    Direction::ClientToServer
                } else {
                    Direction::ServerToClient
                };
                r.flush(&mut |chunk: Chunk<'_>| ds.chunk(dir, chunk));
                let st = r.stats();
                gaps += st.gaps;
                self.summary.reassembly_gap_bytes += st.gap_bytes;
                self.summary.streams_capped += st.capped as u64;
            }
        }
        settle_tls(tls, &mut self.summary, true);
        let stratum = match std::mem::replace(stratum, StratumState::NotMining) {
            StratumState::Reading(d) | StratumState::Confirmed(d) => d.info(),
            StratumState::NotMining => None,
        };
        if let Some(info) = &stratum {
            *self
                .summary
                .stratum_flows
                .entry(info.dialect.to_string())
                .or_default() += 1;
        }
        if let Some(d) = dns.as_ref() {
            self.summary.dns.merge(d.counters());
        }
        let tls = match std::mem::replace(tls, TlsState::Done(None)) {
            TlsState::Done(Some(info)) => *info,
            _ => TlsInfo::default(),
        };
        self.summary.reassembly_gaps += gaps;
        self.summary.flows += 1;
        match entry.key.protocol {
            Protocol::Tcp => self.summary.tcp_flows += 1,
            Protocol::Udp => self.summary.udp_flows += 1,
        }
        let model_rows = std::mem::replace(&mut full.shape, ShapeStats::new(0.0)).finish();
        let export_variants = full.cuts.take().map_or_else(Vec::new, |c| {
            c.finish(
                match entry.key.protocol {
                    Protocol::Tcp => 6,
                    Protocol::Udp => 17,
                },
                (entry.key.src.ip, entry.key.src.port),
                (entry.key.dst.ip, entry.key.dst.port),
            )
        });
        let s = &full.stats;
        self.summary.retransmissions += s.dir[0].retransmissions + s.dir[1].retransmissions;
        let record = FlowRecord {
            unknown_counters: crate::output::UnknownCounters::NONE,
            reassembly_gaps: gaps,
            tls,
            stratum,
            model_rows,
            export_variants,
            ..flow_record(
                &self.capture,
                entry.id,
                &entry.key,
                (entry.first_ts, entry.last_ts),
                full,
                reason,
            )
        };
        Box::new(Finished {
            record,
            resolutions,
        })
    }
}

/// The record of a flow of input `capture` as its state stands: counters, features, and what
/// the dissectors have decided so far (an open flow's TLS result once its handshake is done,
/// its Stratum session, the model windows completed). [`Lane::finish`] replaces the parts only
/// the end of the flow settles.
fn flow_record(
    capture: &Arc<str>,
    id: u64,
    key: &FlowKey,
    (first_ts, last_ts): (f64, f64),
    full: &FullState,
    reason: EndReason,
) -> FlowRecord {
    let s = &full.stats;
    let [c, sv] = &s.dir;
    let tls = match &full.tls {
        TlsState::Done(Some(info)) => (**info).clone(),
        _ => TlsInfo::default(),
    };
    let stratum = match &full.stratum {
        StratumState::Reading(d) | StratumState::Confirmed(d) => d.info(),
        StratumState::NotMining => None,
    };
    FlowRecord {
        flow_id: id,
        transport: key.protocol.as_str(),
        src_ip: key.src.ip,
        src_port: key.src.port,
        dst_ip: key.dst.ip,
        dst_port: key.dst.port,
        first_seen: first_ts,
        last_seen: last_ts,
        duration: last_ts - first_ts,
        packets_c2s: c.packets,
        packets_s2c: sv.packets,
        bytes_c2s: c.ip_bytes,
        bytes_s2c: sv.ip_bytes,
        payload_bytes_c2s: c.payload_bytes,
        payload_bytes_s2c: sv.payload_bytes,
        wire_bytes_c2s: c.wire_bytes,
        wire_bytes_s2c: sv.wire_bytes,
        unknown_counters: crate::output::UnknownCounters::NONE,
        reassembly_gaps: 0,
        end_reason: reason.as_str(),
        capture: capture.clone(),
        verdict: None,
        tls,
        dns_names: Vec::new(),
        stratum,
        features: s.features(),
        model_rows: full.shape.rows().to_vec(),
        model_schema: SHAPE_SCHEMA,
        export_variants: Vec::new(),
    }
}
