//! The extraction pipeline: capture → decode → flow table with reassembly → dissectors (TLS,
//! DNS) → fingerprints and features → records. [`Extractor`] processes inputs one after
//! another; every flow still live at the end of an input is ended there, so each input's flows
//! are complete and independent, and each input has its own DNS name table.

mod inputs;

pub use inputs::{run_inputs, InputKind, InputProblem, Inputs, NoProgress, Progress, RunOutcome};

use crate::capture::{read_capture, CaptureEnd, RawPacket};
use crate::decode::{tcp_flags, Decoder, Transport};
use crate::dissect::dns::{DnsCounters, DnsResolution, DnsTcpStream, NameTable};
use crate::dissect::stratum::StratumDissector;
use crate::dissect::tls::{TlsDissector, TlsInfo};
use crate::error::Result;
use crate::features::shape::{ShapePacket, ShapeStats, TlsParams, SHAPE_SCHEMA};
use crate::features::{FlowStats, PacketObs};
use crate::flow::reassembly::{Chunk, ReassemblyConfig, SegmentKind, StreamReassembler};
use crate::flow::table::TableStats;
use crate::flow::{
    Direction, EndReason, Endpoint, FlowConfig, FlowEntry, FlowKey, FlowTable, Protocol,
};
use crate::netflow::cuts::ExporterCuts;
use crate::output::FlowRecord;
use std::io::Read;
use std::sync::Arc;

/// Everything that tunes extraction.
#[derive(Debug, Clone, Default)]
pub struct ExtractConfig {
    /// Timeouts and caps of the flow table.
    pub flow: FlowConfig,
    /// Per-direction reassembly limits.
    pub reassembly: ReassemblyConfig,
    /// Also work out what exporters would report for each flow under several active
    /// timeouts ([`FlowRecord::export_variants`]), for training the flow-only model.
    pub exporter_cuts: bool,
}

/// Ports whose payloads are read as DNS (DNS and multicast DNS).
fn is_dns_port(port: u16) -> bool {
    port == 53 || port == 5353
}

/// Answers kept in the per-input name table (addresses).
const NAME_TABLE_ADDRS: usize = 262_144;

/// The TLS dissector of a TCP flow: parsing while the handshake is readable, then only its
/// result (the parse buffers are freed as soon as nothing more can be learned).
enum TlsState {
    Parsing(Box<TlsDissector>),
    Done(Option<Box<TlsInfo>>),
}

/// The mining-protocol dissector of a TCP flow: reading until it knows, then following a
/// confirmed pool connection to its end (its streams are then reassembled without a cap).
enum StratumState {
    Reading(Box<StratumDissector>),
    Confirmed(Box<StratumDissector>),
    NotMining,
}

impl StratumState {
    fn dissector(&mut self) -> Option<&mut StratumDissector> {
        match self {
            StratumState::Reading(d) | StratumState::Confirmed(d) => Some(d),
            StratumState::NotMining => None,
        }
    }
}

/// Per-flow state the pipeline keeps in the flow table.
pub struct FlowState {
    stats: FlowStats,
    shape: ShapeStats,
    tcp: Option<Box<[StreamReassembler; 2]>>,
    tls: TlsState,
    dns: Option<Box<DnsTcpStream>>,
    stratum: StratumState,
    capture: Arc<str>,
    cuts: Option<Box<ExporterCuts>>,
}

impl FlowState {
    fn new(key: &FlowKey, ts: f64, cfg: &ReassemblyConfig, capture: Arc<str>, cuts: bool) -> Self {
        let (tcp, tls, dns, stratum) = match key.protocol {
            Protocol::Tcp => (
                Some(Box::new([
                    StreamReassembler::new(cfg.clone()),
                    StreamReassembler::new(cfg.clone()),
                ])),
                TlsState::Parsing(Box::new(TlsDissector::new())),
                (is_dns_port(key.dst.port) || is_dns_port(key.src.port))
                    .then(|| Box::new(DnsTcpStream::new())),
                StratumState::Reading(Box::default()),
            ),
            Protocol::Udp => (None, TlsState::Done(None), None, StratumState::NotMining),
        };
        FlowState {
            stats: FlowStats::new(ts),
            shape: ShapeStats::new(ts),
            tcp,
            tls,
            dns,
            stratum,
            capture,
            cuts: cuts.then(Box::default),
        }
    }

    /// True while some dissector still reads this flow's TCP streams.
    fn wants_stream(&self) -> bool {
        matches!(self.tls, TlsState::Parsing(_))
            || self.dns.is_some()
            || !matches!(self.stratum, StratumState::NotMining)
    }
}

/// The dissectors a reassembled chunk goes to, borrowed from one flow's state.
struct Dissectors<'a> {
    tls: &'a mut TlsState,
    dns: &'a mut Option<Box<DnsTcpStream>>,
    stratum: &'a mut StratumState,
    resolutions: &'a mut Vec<DnsResolution>,
    /// Epoch seconds of the packet that delivered the bytes.
    ts: f64,
}

impl Dissectors<'_> {
    /// Hands one chunk of reassembled stream to the flow's dissectors.
    fn chunk(&mut self, dir: Direction, chunk: Chunk<'_>) {
        if let TlsState::Parsing(d) = self.tls {
            d.on_chunk(dir, chunk);
        }
        if let Some(d) = self.dns {
            d.on_chunk(dir, chunk, self.resolutions);
        }
        if let Some(d) = self.stratum.dissector() {
            d.on_chunk(dir, chunk, self.ts);
        }
    }
}

/// Moves the Stratum dissector on once it knows: a flow that is not mining frees it; a
/// confirmed one lifts the reassembly cap so every job and share is counted.
fn settle_stratum(stratum: &mut StratumState, reasm: &mut [StreamReassembler; 2]) {
    if let StratumState::Reading(d) = stratum {
        if d.evidence().is_some() {
            for r in reasm.iter_mut() {
                r.raise_cap(u64::MAX);
            }
            let d = std::mem::take(d);
            *stratum = StratumState::Confirmed(d);
        } else if !d.wants_more() {
            *stratum = StratumState::NotMining;
        }
    }
}

/// The record costs of a flow's TLS session, once its ServerHello was read.
fn tls_params(tls: &TlsState) -> Option<TlsParams> {
    match tls {
        TlsState::Parsing(d) => d.server_hello().and_then(|sh| {
            let name = if crate::dissect::tls::state::is_tls13(sh.negotiated_version()) {
                "1.3"
            } else {
                "1.2"
            };
            TlsParams::from_negotiated(Some(name), Some(sh.cipher))
        }),
        TlsState::Done(Some(info)) => {
            let cipher = info
                .ja3s_string
                .as_deref()
                .and_then(|s| s.split(',').nth(1))
                .and_then(|c| c.parse().ok());
            TlsParams::from_negotiated(info.tls_version.as_deref(), cipher)
        }
        TlsState::Done(None) => None,
    }
}

/// Closes the TLS dissector once it has nothing more to learn, keeping only its result.
fn settle_tls(tls: &mut TlsState, summary: &mut Summary, end: bool) {
    if let TlsState::Parsing(d) = tls {
        if end || !d.wants_more() {
            summary.tls_parse_errors += d.parse_errors() as u64;
            let info = (!d.is_not_tls()).then(|| Box::new(d.info()));
            if info.as_ref().is_some_and(|i| i.ja3.is_some()) {
                summary.tls_client_hellos += 1;
            }
            *tls = TlsState::Done(info);
        }
    }
}

/// Counters for the run summary.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Inputs read.
    pub files: u64,
    /// Frames read from captures.
    pub frames: u64,
    /// Bytes of frames as captured.
    pub captured_bytes: u64,
    /// TCP and UDP packets that reached the flow table.
    pub packets: u64,
    /// Flows written.
    pub flows: u64,
    /// TCP flows written.
    pub tcp_flows: u64,
    /// UDP flows written.
    pub udp_flows: u64,
    /// Decoder counters (skips by reason, fragments, tunnels).
    pub decode: crate::decode::DecodeStats,
    /// Flow-table counters (evictions, peak).
    pub table: TableStats,
    /// Holes in reassembled TCP streams.
    pub reassembly_gaps: u64,
    /// Bytes in those holes.
    pub reassembly_gap_bytes: u64,
    /// TCP segments that only repeated bytes already seen.
    pub retransmissions: u64,
    /// TCP directions that reached the reassembly cap.
    pub streams_capped: u64,
    /// pcapng packet blocks naming an interface that was never described.
    pub unknown_interface_blocks: u64,
    /// Frames whose timestamp went backwards by more than a second.
    pub time_regressions: u64,
    /// Captures that ended inside a record: (input, byte offset).
    pub truncated: Vec<(String, u64)>,
    /// Captures with a corrupt record: (input, byte offset, reason).
    pub corrupt: Vec<(String, u64, String)>,
    /// TLS flows whose ClientHello was read.
    pub tls_client_hellos: u64,
    /// TLS handshake messages that could not be parsed.
    pub tls_parse_errors: u64,
    /// DNS messages read, and those that could not be parsed.
    pub dns: DnsCounters,
    /// Flows confirmed as a mining protocol, by dialect.
    pub stratum_flows: std::collections::BTreeMap<String, u64>,
}

/// Runs the pipeline over inputs and hands every finished flow record to a sink.
pub struct Extractor {
    cfg: ExtractConfig,
    decoder: Decoder,
    table: FlowTable<FlowState>,
    ended: Vec<(FlowEntry<FlowState>, EndReason)>,
    names: NameTable,
    resolutions: Vec<DnsResolution>,
    last_expire: f64,
    /// Counters so far.
    pub summary: Summary,
}

/// Capture-time seconds between expiry passes over the flow table.
const EXPIRE_EVERY_S: f64 = 1.0;

impl Extractor {
    /// A pipeline with the given configuration.
    pub fn new(cfg: ExtractConfig) -> Self {
        Extractor {
            table: FlowTable::new(cfg.flow.clone()),
            cfg,
            decoder: Decoder::new(),
            ended: Vec::new(),
            names: NameTable::new(NAME_TABLE_ADDRS),
            resolutions: Vec::new(),
            last_expire: f64::NEG_INFINITY,
            summary: Summary::default(),
        }
    }

    /// Processes one capture read from `input` (named `label` in messages and records).
    ///
    /// `sink` receives each flow record as its flow ends; `progress` is called now and then
    /// with the count of packets read. A capture cut short or damaged is still processed up to
    /// the damage (recorded in the summary and returned); an `Err` means nothing of this input
    /// could be read, or the sink failed.
    pub fn process<R: Read + Send>(
        &mut self,
        label: &str,
        input: R,
        sink: &mut dyn FnMut(FlowRecord) -> Result<()>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<CaptureEnd> {
        self.summary.files += 1;
        self.names = NameTable::new(NAME_TABLE_ADDRS);
        let capture: Arc<str> = Arc::from(label);
        let mut sink_err: Option<crate::Error> = None;
        let mut unknown = 0u64;
        let mut last_ts = 0u64;
        let end = {
            let mut visit = |raw: &RawPacket<'_>| {
                if sink_err.is_some() {
                    return;
                }
                self.summary.frames += 1;
                self.summary.captured_bytes += raw.data.len() as u64;
                if raw.ts.saturating_add(1_000_000_000) < last_ts {
                    self.summary.time_regressions += 1;
                }
                last_ts = last_ts.max(raw.ts);
                self.packet(raw, &capture);
                if self.summary.frames % 65_536 == 0 {
                    progress(self.summary.frames);
                }
                if !self.ended.is_empty() {
                    if let Err(e) = self.emit(sink) {
                        sink_err = Some(e);
                    }
                }
            };
            read_capture(label, input, &mut unknown, &mut visit)
        };
        self.summary.unknown_interface_blocks += unknown;
        if let Some(e) = sink_err {
            return Err(e);
        }
        let end = end?;
        match &end {
            CaptureEnd::Complete => {}
            CaptureEnd::Truncated { offset } => {
                self.summary.truncated.push((label.to_string(), *offset))
            }
            CaptureEnd::Corrupt { offset, reason } => {
                self.summary
                    .corrupt
                    .push((label.to_string(), *offset, reason.clone()))
            }
        }
        let ended = &mut self.ended;
        self.table.drain(&mut |e, r| ended.push((e, r)));
        self.last_expire = f64::NEG_INFINITY;
        self.emit(sink)?;
        self.summary.decode = self.decoder.stats.clone();
        self.summary.table = self.table.stats.clone();
        progress(self.summary.frames);
        Ok(end)
    }

    fn packet(&mut self, raw: &RawPacket<'_>, capture: &Arc<str>) {
        let ts = raw.ts as f64 / 1e9;
        // Skips are counted by the decoder itself, by reason, for the summary.
        let Ok(pkt) = self.decoder.decode(raw.linktype, raw.data, raw.ts) else {
            return;
        };
        self.summary.packets += 1;
        let (protocol, sport, dport, flags) = match pkt.transport {
            Transport::Tcp(h) => (Protocol::Tcp, h.src_port, h.dst_port, Some(h.flags)),
            Transport::Udp { src_port, dst_port } => (Protocol::Udp, src_port, dst_port, None),
        };
        let key = FlowKey {
            protocol,
            src: Endpoint {
                ip: pkt.src,
                port: sport,
            },
            dst: Endpoint {
                ip: pkt.dst,
                port: dport,
            },
        };
        let rcfg = &self.cfg.reassembly;
        let cuts = self.cfg.exporter_cuts;
        let ended = &mut self.ended;
        let (entry, dir) = self.table.packet(
            key,
            ts,
            flags,
            |k| FlowState::new(k, ts, rcfg, capture.clone(), cuts),
            &mut |e, r| ended.push((e, r)),
        );
        let mut retransmission = false;
        let wants_stream = entry.state.wants_stream();
        let FlowState {
            tcp,
            tls,
            dns,
            stratum,
            stats,
            shape,
            cuts,
            ..
        } = &mut entry.state;
        let resolutions = &mut self.resolutions;
        if let (Transport::Tcp(h), Some(reasm)) = (pkt.transport, tcp.as_mut()) {
            let mut ds = Dissectors {
                tls,
                dns,
                stratum,
                resolutions,
                ts,
            };
            let mut sink = |chunk: Chunk<'_>| {
                if wants_stream {
                    ds.chunk(dir, chunk)
                }
            };
            let [c2s, s2c] = &mut **reasm;
            let (mine, peer) = match dir {
                Direction::ClientToServer => (c2s, s2c),
                Direction::ServerToClient => (s2c, c2s),
            };
            if h.flags & tcp_flags::SYN != 0 {
                mine.on_syn(h.seq);
            } else if !pkt.payload.is_empty() || h.flags & tcp_flags::FIN != 0 {
                let kind =
                    mine.on_segment(h.seq, pkt.payload, h.flags & tcp_flags::FIN != 0, &mut sink);
                retransmission = kind == SegmentKind::Retransmission;
            }
            if h.flags & tcp_flags::ACK != 0 && !peer.is_capped() {
                let mut peer_sink = |chunk: Chunk<'_>| {
                    if wants_stream {
                        ds.chunk(dir.reverse(), chunk)
                    }
                };
                peer.on_peer_ack(h.ack, &mut peer_sink);
            }
            settle_tls(ds.tls, &mut self.summary, false);
            settle_stratum(ds.stratum, reasm);
        } else if is_dns_port(sport) || is_dns_port(dport) {
            let _ = self.summary.dns.parse(pkt.payload, resolutions);
        }
        for r in self.resolutions.drain(..) {
            self.names.insert(ts, &r);
        }
        if let Some(c) = cuts {
            c.packet(ts, dir, pkt.ip_len, flags.unwrap_or(0));
        }
        stats.update(&PacketObs {
            ts,
            dir,
            ip_len: pkt.ip_len,
            wire_len: raw.wire_len,
            payload_len: pkt.payload_len,
            tcp_flags: flags.unwrap_or(0),
            retransmission,
        });
        if pkt.payload_len > 0 && shape.wants_tls_params() {
            shape.set_tls_params(tls_params(tls));
        }
        shape.packet(&ShapePacket {
            ts,
            dir,
            payload: pkt.payload,
            payload_len: pkt.payload_len,
            retransmission,
        });
        if ts - self.last_expire >= EXPIRE_EVERY_S {
            self.last_expire = ts;
            let ended = &mut self.ended;
            self.table.expire(ts, &mut |e, r| ended.push((e, r)));
        }
    }

    fn emit(&mut self, sink: &mut dyn FnMut(FlowRecord) -> Result<()>) -> Result<()> {
        let mut ended = std::mem::take(&mut self.ended);
        for (entry, reason) in ended.drain(..) {
            let rec = self.finish(entry, reason);
            sink(rec)?;
        }
        self.ended = ended;
        Ok(())
    }

    fn finish(&mut self, mut entry: FlowEntry<FlowState>, reason: EndReason) -> FlowRecord {
        let mut gaps = 0;
        let FlowState {
            tcp,
            tls,
            dns,
            stratum,
            ..
        } = &mut entry.state;
        if let Some(reasm) = tcp.as_mut() {
            let mut ds = Dissectors {
                tls,
                dns,
                stratum,
                resolutions: &mut self.resolutions,
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
        for r in self.resolutions.drain(..) {
            self.names.insert(entry.last_ts, &r);
        }
        let tls = match std::mem::replace(tls, TlsState::Done(None)) {
            TlsState::Done(Some(info)) => *info,
            _ => TlsInfo::default(),
        };
        let dns_names = self.names.names_for(entry.key.dst.ip, entry.first_ts);
        self.summary.reassembly_gaps += gaps;
        self.summary.flows += 1;
        match entry.key.protocol {
            Protocol::Tcp => self.summary.tcp_flows += 1,
            Protocol::Udp => self.summary.udp_flows += 1,
        }
        let model_rows = std::mem::replace(&mut entry.state.shape, ShapeStats::new(0.0)).finish();
        let export_variants = entry.state.cuts.take().map_or_else(Vec::new, |c| {
            c.finish(
                match entry.key.protocol {
                    Protocol::Tcp => 6,
                    Protocol::Udp => 17,
                },
                (entry.key.src.ip, entry.key.src.port),
                (entry.key.dst.ip, entry.key.dst.port),
            )
        });
        let s = &entry.state.stats;
        self.summary.retransmissions += s.dir[0].retransmissions + s.dir[1].retransmissions;
        let [c, sv] = &s.dir;
        FlowRecord {
            flow_id: entry.id,
            transport: entry.key.protocol.as_str(),
            src_ip: entry.key.src.ip,
            src_port: entry.key.src.port,
            dst_ip: entry.key.dst.ip,
            dst_port: entry.key.dst.port,
            first_seen: entry.first_ts,
            last_seen: entry.last_ts,
            duration: entry.last_ts - entry.first_ts,
            packets_c2s: c.packets,
            packets_s2c: sv.packets,
            bytes_c2s: c.ip_bytes,
            bytes_s2c: sv.ip_bytes,
            payload_bytes_c2s: c.payload_bytes,
            payload_bytes_s2c: sv.payload_bytes,
            wire_bytes_c2s: c.wire_bytes,
            wire_bytes_s2c: sv.wire_bytes,
            reassembly_gaps: gaps,
            end_reason: reason.as_str(),
            capture: entry.state.capture.clone(),
            verdict: None,
            tls,
            dns_names,
            stratum,
            features: s.features(),
            model_rows,
            model_schema: SHAPE_SCHEMA,
            export_variants,
        }
    }
}
