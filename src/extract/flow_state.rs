//! What the pipeline keeps for one flow: a light form for flows that have carried no payload,
//! then the feature accumulators, the reassemblers and the dissectors.

use super::{ExtractConfig, Summary};
use crate::decode::tcp_flags;
use crate::dissect::dns::{DnsResolution, DnsTcpStream};
use crate::dissect::quic::QuicDissector;
use crate::dissect::stratum::MiningDissector;
use crate::dissect::tls::{TlsDissector, TlsInfo};
use crate::features::shape::{ShapePacket, ShapeStats, TlsParams};
use crate::features::{FlowStats, PacketObs};
use crate::flow::reassembly::{Chunk, ReassemblyConfig, SegmentKind, StreamReassembler};
use crate::flow::{Direction, FlowKey, Protocol};
use crate::netflow::cuts::ExporterCuts;

/// Ports whose payloads are read as DNS (DNS and multicast DNS).
pub(super) fn is_dns_port(port: u16) -> bool {
    port == 53 || port == 5353
}

/// The TLS dissector of a TCP flow (or the QUIC Initial reader of a UDP flow): parsing while
/// the handshake is readable, then only its result (the parse buffers are freed as soon as
/// nothing more can be learned).
pub(super) enum TlsState {
    Parsing(Box<TlsDissector>),
    Quic(Box<QuicDissector>),
    Done(Option<Box<TlsInfo>>),
}

/// The mining-protocol dissector of a TCP flow: reading until it knows, then following a
/// confirmed pool connection to its end (its streams are then reassembled without a cap).
pub(super) enum StratumState {
    Reading(Box<MiningDissector>),
    Confirmed(Box<MiningDissector>),
    NotMining,
}

impl StratumState {
    fn dissector(&mut self) -> Option<&mut MiningDissector> {
        match self {
            StratumState::Reading(d) | StratumState::Confirmed(d) => Some(d),
            StratumState::NotMining => None,
        }
    }
}

/// A flow's state once it has carried payload (or more packets than its light form keeps):
/// the feature accumulators, and for TCP the reassemblers and dissectors.
pub(super) struct FullState {
    pub(super) stats: FlowStats,
    pub(super) shape: ShapeStats,
    pub(super) tcp: Option<Box<[StreamReassembler; 2]>>,
    pub(super) tls: TlsState,
    pub(super) dns: Option<Box<DnsTcpStream>>,
    pub(super) stratum: StratumState,
    pub(super) cuts: Option<Box<ExporterCuts>>,
}

impl FullState {
    pub(super) fn new(key: &FlowKey, ts: f64, cfg: &ReassemblyConfig, cuts: bool) -> Self {
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
            Protocol::Udp if is_dns_port(key.dst.port) || is_dns_port(key.src.port) => {
                (None, TlsState::Done(None), None, StratumState::NotMining)
            }
            Protocol::Udp => (
                None,
                TlsState::Quic(Box::default()),
                None,
                StratumState::NotMining,
            ),
        };
        FullState {
            stats: FlowStats::new(ts),
            shape: ShapeStats::new(ts),
            tcp,
            tls,
            dns,
            stratum,
            cuts: cuts.then(Box::default),
        }
    }

    /// What a verdict may rise on, as far as the flow has got: completed model windows, a
    /// confirmed Stratum session, a finished TLS handshake. A change calls for an update.
    pub(super) fn milestones(&self) -> (usize, bool, bool) {
        (
            self.shape.rows().len(),
            matches!(self.stratum, StratumState::Confirmed(_)),
            matches!(self.tls, TlsState::Done(_)),
        )
    }

    /// True while some dissector still reads this flow's TCP streams.
    fn wants_stream(&self) -> bool {
        matches!(self.tls, TlsState::Parsing(_))
            || self.dns.is_some()
            || !matches!(self.stratum, StratumState::NotMining)
    }

    /// Feeds one packet of this flow to the reassemblers, dissectors and accumulators.
    /// DNS answers read go to `resolutions`.
    pub(super) fn packet(
        &mut self,
        p: &FlowPacket<'_>,
        dns_port: bool,
        summary: &mut Summary,
        resolutions: &mut Vec<DnsResolution>,
    ) {
        let mut retransmission = false;
        let wants_stream = self.wants_stream();
        let FullState {
            tcp,
            tls,
            dns,
            stratum,
            stats,
            shape,
            cuts,
        } = self;
        let dir = p.dir;
        if let (Some(h), Some(reasm)) = (p.tcp, tcp.as_mut()) {
            let mut ds = Dissectors {
                tls,
                dns,
                stratum,
                resolutions,
                ts: p.ts,
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
            } else if !p.payload.is_empty() || h.flags & tcp_flags::FIN != 0 {
                let kind =
                    mine.on_segment(h.seq, p.payload, h.flags & tcp_flags::FIN != 0, &mut sink);
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
            settle_tls(ds.tls, summary, false);
            settle_stratum(ds.stratum, reasm);
        } else if dns_port {
            let _ = summary.dns.parse(p.payload, resolutions);
        } else if let TlsState::Quic(q) = tls {
            q.on_datagram(dir, p.payload);
            settle_tls(tls, summary, false);
        }
        let flags = p.tcp.map_or(0, |h| h.flags);
        if let Some(c) = cuts {
            c.packet(p.ts, dir, p.ip_len, flags);
        }
        stats.update(&PacketObs {
            ts: p.ts,
            dir,
            ip_len: p.ip_len,
            wire_len: p.wire_len,
            payload_len: p.payload_len,
            tcp_flags: flags,
            retransmission,
        });
        if p.payload_len > 0 && shape.wants_tls_params() {
            shape.set_tls_params(tls_params(tls));
        }
        shape.packet(&ShapePacket {
            ts: p.ts,
            dir,
            payload: p.payload,
            payload_len: p.payload_len,
            retransmission,
        });
    }
}

/// The TCP header fields the per-flow state reads.
#[derive(Debug, Clone, Copy)]
pub(super) struct TcpSeg {
    pub(super) seq: u32,
    pub(super) ack: u32,
    pub(super) flags: u8,
}

/// One packet as a flow's state sees it.
pub(super) struct FlowPacket<'a> {
    /// Seconds since the epoch.
    pub(super) ts: f64,
    pub(super) dir: Direction,
    pub(super) ip_len: u32,
    pub(super) wire_len: u32,
    pub(super) payload_len: u32,
    pub(super) payload: &'a [u8],
    /// None for UDP.
    pub(super) tcp: Option<TcpSeg>,
}

/// A packet without payload, as a light flow keeps it (32 bytes).
#[derive(Debug, Clone, Copy)]
struct BarePacket {
    ts: f64,
    ip_len: u32,
    wire_len: u32,
    seq: u32,
    ack: u32,
    /// TCP flags; meaningless for UDP.
    flags: u8,
    dir: Direction,
}

impl BarePacket {
    fn of(p: &FlowPacket<'_>) -> Self {
        let h = p.tcp.unwrap_or(TcpSeg {
            seq: 0,
            ack: 0,
            flags: 0,
        });
        BarePacket {
            ts: p.ts,
            ip_len: p.ip_len,
            wire_len: p.wire_len,
            seq: h.seq,
            ack: h.ack,
            flags: h.flags,
            dir: p.dir,
        }
    }

    fn view(&self, protocol: Protocol) -> FlowPacket<'static> {
        FlowPacket {
            ts: self.ts,
            dir: self.dir,
            ip_len: self.ip_len,
            wire_len: self.wire_len,
            payload_len: 0,
            payload: &[],
            tcp: (protocol == Protocol::Tcp).then_some(TcpSeg {
                seq: self.seq,
                ack: self.ack,
                flags: self.flags,
            }),
        }
    }
}

/// Payload-less packets a flow keeps before it takes its full state.
const BARE_PACKETS: usize = 2;

/// Per-flow state the pipeline keeps in the flow table.
///
/// A flow starts light: its first packets without payload (a SYN, a SYN-ACK, a lone UDP
/// datagram header, an RST) are kept as they came, in a few bytes, so that a scan or a SYN flood
/// costs little per flow. The full state (accumulators, reassemblers, dissectors) is made when
/// payload arrives, when the light form is full, or when the flow ends, and the kept packets
/// are replayed into it: the flow's record is the same either way.
pub struct FlowState(Form);

enum Form {
    Light([Option<BarePacket>; BARE_PACKETS]),
    Full(Box<FullState>),
}

impl FlowState {
    pub(super) fn new() -> Self {
        FlowState(Form::Light([None; BARE_PACKETS]))
    }

    /// Keeps a payload-less packet in the light form; false when the flow needs its full state.
    pub(super) fn keep_bare(&mut self, p: &FlowPacket<'_>) -> bool {
        if p.payload_len > 0 || !p.payload.is_empty() {
            return false;
        }
        match &mut self.0 {
            Form::Light(kept) => match kept.iter_mut().find(|k| k.is_none()) {
                Some(slot) => {
                    *slot = Some(BarePacket::of(p));
                    true
                }
                None => false,
            },
            Form::Full(_) => false,
        }
    }

    /// The full state, made now (and the kept packets replayed into it) if the flow was light.
    pub(super) fn full(
        &mut self,
        key: &FlowKey,
        first_ts: f64,
        cfg: &ExtractConfig,
        summary: &mut Summary,
        resolutions: &mut Vec<DnsResolution>,
    ) -> &mut FullState {
        if let Form::Light(kept) = &self.0 {
            let kept = *kept;
            let mut full = Box::new(FullState::new(
                key,
                first_ts,
                &cfg.reassembly,
                cfg.exporter_cuts,
            ));
            let dns_port = is_dns_port(key.src.port) || is_dns_port(key.dst.port);
            for b in kept.iter().flatten() {
                full.packet(&b.view(key.protocol), dns_port, summary, resolutions);
            }
            self.0 = Form::Full(full);
        }
        match &mut self.0 {
            Form::Full(full) => full,
            Form::Light(_) => unreachable!("made full above"),
        }
    }
}

/// The dissectors a reassembled chunk goes to, borrowed from one flow's state.
pub(super) struct Dissectors<'a> {
    pub(super) tls: &'a mut TlsState,
    pub(super) dns: &'a mut Option<Box<DnsTcpStream>>,
    pub(super) stratum: &'a mut StratumState,
    pub(super) resolutions: &'a mut Vec<DnsResolution>,
    /// Epoch seconds of the packet that delivered the bytes.
    pub(super) ts: f64,
}

impl Dissectors<'_> {
    /// Hands one chunk of reassembled stream to the flow's dissectors.
    pub(super) fn chunk(&mut self, dir: Direction, chunk: Chunk<'_>) {
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
pub(super) fn settle_stratum(stratum: &mut StratumState, reasm: &mut [StreamReassembler; 2]) {
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
pub(super) fn tls_params(tls: &TlsState) -> Option<TlsParams> {
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
        TlsState::Quic(_) | TlsState::Done(None) => None,
    }
}

/// Closes the TLS dissector (or QUIC reader) once it has nothing more to learn, keeping only
/// its result.
pub(super) fn settle_tls(tls: &mut TlsState, summary: &mut Summary, end: bool) {
    match tls {
        TlsState::Parsing(d) if end || !d.wants_more() => {
            summary.tls_parse_errors += d.parse_errors() as u64;
            let info = (!d.is_not_tls()).then(|| Box::new(d.info()));
            if info.as_ref().is_some_and(|i| i.ja3.is_some()) {
                summary.tls_client_hellos += 1;
            }
            *tls = TlsState::Done(info);
        }
        TlsState::Quic(q) if end || !q.wants_more() => {
            summary.quic_parse_errors += q.errors() as u64;
            let info = q.version().map(|v| {
                let mut info =
                    crate::dissect::tls::state::hello_info(q.client_hello(), q.server_hello());
                info.quic_version = Some(crate::dissect::quic::version_name(v));
                Box::new(info)
            });
            if info.as_ref().is_some_and(|i| i.ja4.is_some()) {
                summary.quic_client_hellos += 1;
            }
            *tls = TlsState::Done(info);
        }
        _ => {}
    }
}
