//! The extraction pipeline: capture → decode → flow table with reassembly → dissectors (TLS,
//! DNS) → fingerprints and features → records. [`Extractor`] processes inputs one after
//! another; every flow still live at the end of an input is ended there, so each input's flows
//! are complete and independent, and each input has its own DNS name table.
//!
//! With more than one thread ([`ExtractConfig::threads`]), one thread reads and decodes the
//! capture and spreads the packets over worker lanes by a hash of their flow (`lane.rs`); the
//! calling thread merges what the lanes produce back into one ordered stream (`merge.rs`) and
//! hands it to the sink. The records, their order and their flow ids do not depend on the
//! number of threads.

mod flow_state;
mod inputs;
mod lane;
mod merge;

pub use flow_state::FlowState;
pub use inputs::{run_inputs, InputKind, InputProblem, Inputs, NoProgress, Progress, RunOutcome};

use crate::capture::{read_capture, CaptureEnd, RawPacket};
use crate::decode::{Decoder, Transport};
use crate::dissect::dns::{DnsCounters, NameTable};
use crate::error::Result;
use crate::flow::table::TableStats;
use crate::flow::{Endpoint, FlowConfig, FlowKey, Protocol};
use crate::output::FlowRecord;
use flow_state::TcpSeg;
use lane::{shard_count, shard_of, Events, Lane, Packet, Pos};
use merge::{Chunk, Merge};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;

/// Everything that tunes extraction.
#[derive(Debug, Clone)]
pub struct ExtractConfig {
    /// Timeouts and caps of the flow table.
    pub flow: FlowConfig,
    /// Per-direction reassembly limits.
    pub reassembly: ReassemblyConfig,
    /// Also work out what exporters would report for each flow under several active
    /// timeouts ([`FlowRecord::export_variants`]), for training the flow-only model.
    pub exporter_cuts: bool,
    /// Worker threads for the flows (1: everything on the calling thread). The output is the
    /// same whatever the number.
    pub threads: usize,
    /// Also hand the sink a snapshot of a flow while it is still open (its `end_reason` is
    /// [`EndReason::Open`](crate::flow::EndReason::Open)), each time it learns something a
    /// verdict may rise on: a completed window of the model, a confirmed Stratum session, a
    /// finished TLS handshake. Alerts are raised from these.
    pub updates: bool,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        ExtractConfig {
            flow: FlowConfig::default(),
            reassembly: ReassemblyConfig::default(),
            exporter_cuts: false,
            threads: 1,
            updates: false,
        }
    }
}

use crate::flow::reassembly::ReassemblyConfig;

/// Answers kept in the per-input name table (addresses).
const NAME_TABLE_ADDRS: usize = 262_144;

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
    /// QUIC flows whose ClientHello was read from their Initial packets.
    pub quic_client_hellos: u64,
    /// QUIC Initial packets that did not open, or held malformed frames or hellos.
    pub quic_parse_errors: u64,
    /// DNS messages read, and those that could not be parsed.
    pub dns: DnsCounters,
    /// Flows confirmed as a mining protocol, by dialect.
    pub stratum_flows: std::collections::BTreeMap<String, u64>,
}

impl Summary {
    /// Adds the counters of a lane (what its flows, dissectors and reassemblers did).
    fn absorb(&mut self, lane: Summary) {
        self.flows += lane.flows;
        self.tcp_flows += lane.tcp_flows;
        self.udp_flows += lane.udp_flows;
        self.reassembly_gaps += lane.reassembly_gaps;
        self.reassembly_gap_bytes += lane.reassembly_gap_bytes;
        self.retransmissions += lane.retransmissions;
        self.streams_capped += lane.streams_capped;
        self.tls_client_hellos += lane.tls_client_hellos;
        self.tls_parse_errors += lane.tls_parse_errors;
        self.quic_client_hellos += lane.quic_client_hellos;
        self.quic_parse_errors += lane.quic_parse_errors;
        self.dns.merge(&lane.dns);
        for (dialect, n) in lane.stratum_flows {
            *self.stratum_flows.entry(dialect).or_default() += n;
        }
    }
}

/// Capture-time seconds between expiry passes over the flow tables.
const EXPIRE_EVERY_S: f64 = 1.0;

/// Frames the reader puts in one batch for the lanes.
const BATCH_FRAMES: u64 = 2048;

/// Batches (and chunks of events) waiting in each queue: bounds the memory between threads.
const IN_FLIGHT: usize = 4;

/// Events a lane sends to the merge at once at the end of an input.
const DRAIN_CHUNK: usize = 1024;

/// The reading side: frame counters, the decoder, the clock of the expiry passes, and which lane
/// and shard each packet goes to.
struct Reader<'d> {
    decoder: &'d mut Decoder,
    /// Frames read over the run; the current frame's number.
    frames: u64,
    captured_bytes: u64,
    packets: u64,
    time_regressions: u64,
    last_ts: u64,
    last_expire: f64,
    shards: usize,
    lanes: usize,
}

/// What the reader hands on for one frame.
enum Item<'a> {
    /// A decoded packet for shard `local` of lane `lane`.
    Packet {
        lane: usize,
        local: usize,
        packet: Packet<'a>,
    },
    /// Every lane runs an expiry pass here.
    Expire { frame: u64, now: f64 },
}

impl Reader<'_> {
    fn frame(&mut self, raw: &RawPacket<'_>, emit: &mut dyn FnMut(Item<'_>)) {
        self.frames += 1;
        self.captured_bytes += raw.data.len() as u64;
        if raw.ts.saturating_add(1_000_000_000) < self.last_ts {
            self.time_regressions += 1;
        }
        self.last_ts = self.last_ts.max(raw.ts);
        let ts = raw.ts as f64 / 1e9;
        // Skips are counted by the decoder itself, by reason, for the summary.
        let Ok(pkt) = self.decoder.decode(raw.linktype, raw.data, raw.ts) else {
            return;
        };
        self.packets += 1;
        let (protocol, sport, dport, tcp) = match pkt.transport {
            Transport::Tcp(h) => (
                Protocol::Tcp,
                h.src_port,
                h.dst_port,
                Some(TcpSeg {
                    seq: h.seq,
                    ack: h.ack,
                    flags: h.flags,
                }),
            ),
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
        let shard = if self.shards == 1 {
            0
        } else {
            shard_of(&key, self.shards)
        };
        emit(Item::Packet {
            lane: shard % self.lanes,
            local: shard / self.lanes,
            packet: Packet {
                frame: self.frames,
                ts,
                key,
                tcp,
                ip_len: pkt.ip_len,
                wire_len: raw.wire_len,
                payload_len: pkt.payload_len,
                payload: pkt.payload,
            },
        });
        if ts - self.last_expire >= EXPIRE_EVERY_S {
            self.last_expire = ts;
            emit(Item::Expire {
                frame: self.frames,
                now: ts,
            });
        }
    }
}

/// One packet in a batch: its payload is a range of the batch's bytes.
struct Queued {
    local: u32,
    frame: u64,
    ts: f64,
    key: FlowKey,
    tcp: Option<TcpSeg>,
    ip_len: u32,
    wire_len: u32,
    payload_len: u32,
    payload: std::ops::Range<usize>,
}

enum BatchItem {
    Packet(Queued),
    Expire { frame: u64, now: f64 },
}

/// Frames for one lane, in order; every frame up to `upto` has been read.
#[derive(Default)]
struct Batch {
    items: Vec<BatchItem>,
    bytes: Vec<u8>,
    upto: u64,
}

/// A lane's worker thread: batches in, chunks of events out; the end of the input (the batch
/// channel closed) drains the lane.
fn run_lane(
    lane: &mut Lane,
    batches: Receiver<Batch>,
    used: Sender<Batch>,
    chunks: SyncSender<Chunk>,
) {
    let mut events: Vec<(Pos, lane::Event)> = Vec::new();
    for mut batch in batches.iter() {
        for item in &batch.items {
            // Pushing into a vector never fails.
            let _ = match item {
                BatchItem::Packet(q) => lane.packet(
                    q.local as usize,
                    &Packet {
                        frame: q.frame,
                        ts: q.ts,
                        key: q.key,
                        tcp: q.tcp,
                        ip_len: q.ip_len,
                        wire_len: q.wire_len,
                        payload_len: q.payload_len,
                        payload: &batch.bytes[q.payload.clone()],
                    },
                    &mut events,
                ),
                BatchItem::Expire { frame, now } => lane.expire(*frame, *now, &mut events),
            };
        }
        let chunk = Chunk {
            events: std::mem::take(&mut events),
            upto: Pos::done(batch.upto),
        };
        if chunks.send(chunk).is_err() {
            return;
        }
        // Back to the reader, which fills it again: its buffers are not allocated (and their
        // pages faulted in) anew for every batch.
        batch.items.clear();
        batch.bytes.clear();
        let _ = used.send(batch);
    }
    let mut out = Chunked {
        tx: chunks,
        events: Vec::new(),
        open: true,
    };
    let _ = lane.drain(&mut out);
    if out.open {
        let _ = out.tx.send(Chunk {
            events: out.events,
            upto: Pos::END,
        });
    }
}

/// Sends a lane's end-of-input events to the merge a chunk at a time.
struct Chunked {
    tx: SyncSender<Chunk>,
    events: Vec<(Pos, lane::Event)>,
    open: bool,
}

impl Events for Chunked {
    fn push(&mut self, pos: Pos, event: lane::Event) -> Result<()> {
        if !self.open {
            return Ok(());
        }
        self.events.push((pos, event));
        if self.events.len() >= DRAIN_CHUNK {
            let chunk = Chunk {
                events: std::mem::take(&mut self.events),
                upto: pos,
            };
            self.open = self.tx.send(chunk).is_ok();
        }
        Ok(())
    }
}

/// Runs the pipeline over inputs and hands every finished flow record to a sink.
pub struct Extractor {
    decoder: Decoder,
    lanes: Vec<Lane>,
    shards: usize,
    /// Counters so far.
    pub summary: Summary,
}

impl Extractor {
    /// A pipeline with the given configuration.
    pub fn new(cfg: ExtractConfig) -> Self {
        let shards = shard_count(&cfg.flow);
        let lanes = cfg.threads.clamp(1, shards);
        Extractor {
            decoder: Decoder::new(),
            lanes: (0..lanes)
                .map(|i| Lane::new(&cfg, i, lanes, shards))
                .collect(),
            shards,
            summary: Summary::default(),
        }
    }

    /// Processes one capture read from `input` (named `label` in messages and records).
    ///
    /// `sink` receives each flow record as its flow ends; `progress` is called now and then
    /// with the count of frames read. A capture cut short or damaged is still processed up to
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
        let capture: Arc<str> = Arc::from(label);
        for lane in &mut self.lanes {
            lane.capture = capture.clone();
        }
        let mut merge = Merge::new(NameTable::new(NAME_TABLE_ADDRS), sink);
        let mut reader = Reader {
            decoder: &mut self.decoder,
            frames: self.summary.frames,
            captured_bytes: 0,
            packets: 0,
            time_regressions: 0,
            // Time regressions are judged within an input.
            last_ts: 0,
            // Each input has its own clock of expiry passes, as its flows do.
            last_expire: f64::NEG_INFINITY,
            shards: self.shards,
            lanes: self.lanes.len(),
        };
        let mut unknown = 0u64;
        let (read, merged) = if self.lanes.len() == 1 {
            let lane = &mut self.lanes[0];
            let mut failed: Option<crate::Error> = None;
            let read = read_capture(label, input, &mut unknown, &mut |raw| {
                if failed.is_some() {
                    return;
                }
                reader.frame(raw, &mut |item| {
                    let r = match item {
                        Item::Packet { local, packet, .. } => {
                            lane.packet(local, &packet, &mut merge)
                        }
                        Item::Expire { frame, now } => lane.expire(frame, now, &mut merge),
                    };
                    if let Err(e) = r {
                        failed.get_or_insert(e);
                    }
                });
                if reader.frames % 65_536 == 0 {
                    progress(reader.frames);
                }
            });
            let merged = match failed {
                Some(e) => {
                    let _ = lane.drain(&mut lane::Discard);
                    Err(e)
                }
                None => lane.drain(&mut merge),
            };
            (read, merged)
        } else {
            let frames_read = AtomicU64::new(reader.frames);
            let lanes = &mut self.lanes;
            std::thread::scope(|scope| {
                let mut to_lanes = Vec::new();
                let mut from_lanes = Vec::new();
                let (used_tx, used_rx) = channel::<Batch>();
                for lane in lanes.iter_mut() {
                    let (batch_tx, batch_rx) = sync_channel::<Batch>(IN_FLIGHT);
                    let used_tx = used_tx.clone();
                    let (chunk_tx, chunk_rx) = sync_channel::<Chunk>(IN_FLIGHT);
                    scope.spawn(move || run_lane(lane, batch_rx, used_tx, chunk_tx));
                    to_lanes.push(batch_tx);
                    from_lanes.push(chunk_rx);
                }
                let frames_read = &frames_read;
                let reader = &mut reader;
                let unknown = &mut unknown;
                let reading = scope.spawn(move || {
                    read_batches(
                        label,
                        input,
                        reader,
                        unknown,
                        to_lanes,
                        used_rx,
                        frames_read,
                    )
                });
                let mut shown = 0u64;
                let merged = merge.run(from_lanes, &mut || {
                    let n = frames_read.load(Ordering::Relaxed);
                    if n >= shown + 65_536 {
                        shown = n;
                        progress(n);
                    }
                });
                let read = match reading.join() {
                    Ok(read) => read,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                (read, merged)
            })
        };
        self.summary.unknown_interface_blocks += unknown;
        self.summary.frames = reader.frames;
        self.summary.captured_bytes += reader.captured_bytes;
        self.summary.packets += reader.packets;
        self.summary.time_regressions += reader.time_regressions;
        for lane in &mut self.lanes {
            self.summary.absorb(std::mem::take(&mut lane.summary));
        }
        let (created, evicted) = self.lanes.iter().fold((0, 0), |(c, e), l| {
            let (lc, le) = l.table_counts();
            (c + lc, e + le)
        });
        self.summary.table = TableStats {
            created,
            evicted,
            peak_live: self.summary.table.peak_live.max(merge.peak_live),
        };
        self.summary.decode = self.decoder.stats.clone();
        merged?;
        let end = read?;
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
        progress(self.summary.frames);
        Ok(end)
    }
}

/// The reader thread: frames into per-lane batches, a batch to every lane each
/// [`BATCH_FRAMES`] frames (empty ones too: they tell the merge how far the lanes are).
fn read_batches<R: Read + Send>(
    label: &str,
    input: R,
    reader: &mut Reader<'_>,
    unknown: &mut u64,
    to_lanes: Vec<SyncSender<Batch>>,
    used: Receiver<Batch>,
    frames_read: &AtomicU64,
) -> Result<CaptureEnd> {
    let mut batches: Vec<Batch> = to_lanes.iter().map(|_| Batch::default()).collect();
    let mut open = true;
    let mut since = 0u64;
    let send = |batches: &mut Vec<Batch>, upto: u64, open: &mut bool| {
        for (batch, tx) in batches.iter_mut().zip(&to_lanes) {
            let mut b = std::mem::replace(batch, used.try_recv().unwrap_or_default());
            b.upto = upto;
            if *open && tx.send(b).is_err() {
                *open = false;
            }
        }
        frames_read.store(upto, Ordering::Relaxed);
    };
    let read = read_capture(label, input, unknown, &mut |raw| {
        if !open {
            return;
        }
        reader.frame(raw, &mut |item| match item {
            Item::Packet {
                lane,
                local,
                packet,
            } => {
                let batch = &mut batches[lane];
                let start = batch.bytes.len();
                batch.bytes.extend_from_slice(packet.payload);
                batch.items.push(BatchItem::Packet(Queued {
                    local: local as u32,
                    frame: packet.frame,
                    ts: packet.ts,
                    key: packet.key,
                    tcp: packet.tcp,
                    ip_len: packet.ip_len,
                    wire_len: packet.wire_len,
                    payload_len: packet.payload_len,
                    payload: start..batch.bytes.len(),
                }));
            }
            Item::Expire { frame, now } => {
                for batch in batches.iter_mut() {
                    batch.items.push(BatchItem::Expire { frame, now });
                }
            }
        });
        since += 1;
        if since >= BATCH_FRAMES {
            since = 0;
            send(&mut batches, reader.frames, &mut open);
        }
    });
    send(&mut batches, reader.frames, &mut open);
    read
}
