//! TCP stream reassembly, one direction at a time.
//!
//! The flow table hands every TCP segment of a flow to one of the flow's two
//! [`StreamReassembler`]s (one per direction); the reassembler turns those segments, which a
//! capture shows out of order, duplicated, overlapping, cut off by a missing SYN or with holes
//! where the capture dropped packets, into the ordered byte stream the dissectors (TLS, Stratum
//! JSON lines, DNS over TCP) parse. It hands that stream out as [`Chunk`]s, and a hole is always
//! an explicit [`Chunk::Gap`]: a dissector must never see the bytes on both sides of a hole
//! joined as if they were adjacent, because that makes up records that were never sent. Only the
//! first [`ReassemblyConfig::max_delivered`] bytes of each direction are delivered (everything a
//! fingerprint needs is at the start of a connection), and out-of-order data is buffered only up
//! to [`ReassemblyConfig::max_pending`] bytes, so memory per flow stays bounded whatever the
//! input.

use std::collections::BTreeMap;

/// A piece of the ordered byte stream handed to dissectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Bytes that follow the previous chunk with nothing missing in between.
    Data(&'a [u8]),
    /// This many stream bytes are missing here (never captured, or beyond a buffer limit).
    Gap(u64),
}

/// How many of the most recently delivered bytes are kept to detect retransmissions that
/// disagree with what was delivered. Retransmissions nearly always repeat the latest segments,
/// so a short tail catches the common case while costing a fixed few bytes per direction (a
/// flow table holds hundreds of thousands of them); older delivered bytes are not compared.
const TAIL_LEN: usize = 64;

/// Out-of-order segments are counted against a second budget besides their bytes: every
/// buffered segment costs bookkeeping beyond its payload, so a stream of tiny segments must not
/// be able to use many times `max_pending` in overhead. One slot per this many bytes of
/// `max_pending`...
const BYTES_PER_SEGMENT_SLOT: usize = 64;
/// ...and never fewer slots than this, so small `max_pending` values still buffer a few segments.
const MIN_SEGMENT_SLOTS: usize = 64;

/// How to resolve overlapping segments whose bytes differ, for bytes not yet delivered.
///
/// Operating systems disagree on which copy of an overlapping, conflicting byte they keep, and
/// evasion tricks rely on that; a fixed, documented choice keeps results reproducible. Bytes
/// already delivered never change under either policy (a dissector has already parsed them); a
/// conflicting retransmission of them is counted in [`ReassemblyStats::conflicts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverlapPolicy {
    /// Keep the bytes that arrived first.
    #[default]
    First,
    /// Newer bytes replace buffered-but-undelivered bytes.
    Last,
}

/// Per-direction limits and the overlap policy of a [`StreamReassembler`].
#[derive(Clone, Debug)]
pub struct ReassemblyConfig {
    /// Bytes delivered to dissectors per direction; nothing is delivered beyond it (default
    /// 64 KiB, plenty for handshakes and the first protocol messages).
    pub max_delivered: u64,
    /// Out-of-order bytes buffered while waiting for a hole to fill; when exceeded, the hole is
    /// declared a gap (default 256 KiB).
    pub max_pending: usize,
    /// Which bytes win when buffered segments overlap with different contents.
    pub policy: OverlapPolicy,
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        ReassemblyConfig {
            max_delivered: 64 * 1024,
            max_pending: 256 * 1024,
            policy: OverlapPolicy::First,
        }
    }
}

/// Counters of what one direction's reassembly saw, for flow records and the run summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReassemblyStats {
    /// Bytes delivered as [`Chunk::Data`].
    pub delivered: u64,
    /// [`Chunk::Gap`]s delivered.
    pub gaps: u64,
    /// Stream bytes covered by those gaps.
    pub gap_bytes: u64,
    /// Bytes received again for stream positions already received (delivered, buffered, or
    /// given up as a gap), whether in a full retransmission or in the overlapping part of a
    /// segment that also carried new bytes.
    pub retransmitted_bytes: u64,
    /// Segments that carried new bytes but also repeated bytes already received
    /// ([`SegmentKind::PartialOverlap`]).
    pub overlaps: u64,
    /// Segments that contradicted what was already received: different bytes for the same
    /// stream positions (compared against buffered bytes and the last few delivered bytes), a
    /// second FIN at another position, or data past the FIN.
    pub conflicts: u64,
    /// Segments whose new bytes started beyond the next expected byte and had to be buffered.
    pub out_of_order: u64,
    /// The delivery cap was reached: later bytes are not delivered.
    pub capped: bool,
    /// No SYN was seen before the data: the stream starts at the first data segment seen.
    pub midstream: bool,
}

/// What a segment turned out to be, for per-flow counters (retransmission rate and the like).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// Started exactly at the next expected byte and carried only new bytes.
    InOrder,
    /// Started beyond the next expected byte (a hole before it) and carried only new bytes.
    OutOfOrder,
    /// Carried no byte that had not been received before.
    Retransmission,
    /// Carried new bytes and also repeated some already received.
    PartialOverlap,
    /// Carried no payload that can belong to the stream: zero-length (a pure FIN or ACK), or
    /// entirely past the FIN.
    Empty,
    /// Arrived after the delivery cap was reached; ignored.
    AfterCap,
}

/// What inserting a segment into the out-of-order buffer did.
#[derive(Debug, Clone, Copy, Default)]
struct Insertion {
    /// Bytes at positions not held before.
    added: u64,
    /// Bytes at positions already buffered.
    overlapped: u64,
    /// Some overlapped byte differed from the buffered one.
    conflict: bool,
}

/// Reassembles one direction of a TCP connection into an ordered byte stream.
///
/// Stream positions are kept as 64-bit offsets from the first byte of the stream (the byte after
/// the SYN, or the first data byte seen when the SYN was missed), so the 32-bit sequence space
/// can wrap any number of times. A sequence number is placed relative to the next expected byte
/// with wrapping arithmetic: up to 2^31 - 1 ahead of it counts as ahead, anything else as behind
/// (old).
///
/// Every byte position up to the delivery point has been either delivered or declared a gap;
/// bytes beyond it wait in a buffer of non-overlapping segments until the hole before them
/// fills, the peer's ACK shows the capture lost the missing bytes, the buffer limit is hit, or
/// the flow ends.
#[derive(Debug, Clone)]
pub struct StreamReassembler {
    cfg: ReassemblyConfig,
    stats: ReassemblyStats,
    /// A SYN or a data segment has fixed where the stream starts.
    started: bool,
    /// Sequence number of stream offset 0.
    base: u32,
    /// Another start announced by a SYN with a different ISN before any byte was delivered
    /// (servers that answer a retransmitted SYN with a fresh SYN-ACK). The first data segment
    /// or peer ACK that fits it, and not `base`, makes it the start.
    alt_base: Option<u32>,
    /// Offset of the next byte to deliver.
    next: u64,
    /// Offset of the FIN, which is also where the data ends.
    fin: Option<u64>,
    /// Out-of-order segments by offset; they never overlap each other and all start after
    /// `next`, and none extends past `fin`.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Payload bytes in `pending`.
    pending_bytes: usize,
    /// The last `tail_len` bytes delivered, ending at `next`, for conflict detection.
    tail: [u8; TAIL_LEN],
    tail_len: usize,
}

impl StreamReassembler {
    /// A reassembler that has seen nothing yet.
    pub fn new(cfg: ReassemblyConfig) -> Self {
        // A zero cap is reached before anything arrives; marking it now keeps every later call
        // on the cheap path.
        let capped = cfg.max_delivered == 0;
        StreamReassembler {
            cfg,
            stats: ReassemblyStats {
                capped,
                ..ReassemblyStats::default()
            },
            started: false,
            base: 0,
            alt_base: None,
            next: 0,
            fin: None,
            pending: BTreeMap::new(),
            pending_bytes: 0,
            tail: [0; TAIL_LEN],
            tail_len: 0,
        }
    }

    /// A SYN (or SYN-ACK) from this direction's sender, with its sequence number (the ISN): the
    /// stream starts at `isn + 1`.
    ///
    /// A SYN with another ISN restarts a stream that has not delivered or skipped anything yet
    /// (the connection was re-opened, so whatever was buffered belonged to an older one); once
    /// bytes have been handed out it is ignored, since the dissectors cannot take them back. A
    /// SYN that arrives after the data it precedes (capture reordering) clears `midstream`.
    /// Payload carried on a SYN (TCP Fast Open) should be fed with `on_segment` at `isn + 1`.
    pub fn on_syn(&mut self, isn: u32) {
        if self.stats.capped {
            return;
        }
        let start = isn.wrapping_add(1);
        if !self.started {
            self.started = true;
            self.base = start;
            return;
        }
        if start == self.base {
            self.stats.midstream = false;
        } else if self.next == 0 {
            self.alt_base = Some(self.base);
            self.base = start;
            self.fin = None;
            self.pending = BTreeMap::new();
            self.pending_bytes = 0;
            self.stats.midstream = false;
        }
    }

    /// A segment from this direction's sender. `fin` = FIN flag set (the FIN takes the sequence
    /// number after the payload). Calls `out` zero or more times with [`Chunk::Data`] /
    /// [`Chunk::Gap`] in stream order, and says what the segment was.
    ///
    /// When nothing is buffered, in-order payload is passed to `out` as a sub-slice of
    /// `payload`, without copying. Without an earlier SYN, the first segment with payload fixes
    /// the start of the stream; bytes placed before that start are treated as old.
    pub fn on_segment(
        &mut self,
        seq: u32,
        payload: &[u8],
        fin: bool,
        out: &mut dyn FnMut(Chunk<'_>),
    ) -> SegmentKind {
        if self.stats.capped {
            return SegmentKind::AfterCap;
        }
        if !self.started {
            // A bare FIN or ACK says nothing about where the data starts.
            if payload.is_empty() {
                return SegmentKind::Empty;
            }
            self.started = true;
            self.base = seq;
            self.stats.midstream = true;
        }
        if !payload.is_empty() {
            self.settle_start(seq);
        }
        let mut conflict = false;
        // Positions relative to `next`: negative = already delivered or skipped.
        let mut start = self.rel(seq);
        let len = i64::try_from(payload.len()).unwrap_or(i64::MAX);
        let mut end = start.saturating_add(len);
        let mut payload = payload;
        if fin {
            conflict |= self.register_fin(end);
        }
        if let Some(fin_at) = self.fin {
            let fin_rel = i64::try_from(fin_at.saturating_sub(self.next)).unwrap_or(i64::MAX);
            if end > fin_rel {
                // A sender never sends past its FIN; such bytes cannot be stream data.
                conflict = true;
                if start >= fin_rel {
                    self.stats.conflicts += 1;
                    return SegmentKind::Empty;
                }
                payload = &payload[..to_index(fin_rel - start)];
                end = fin_rel;
            }
        }
        if payload.is_empty() {
            self.stats.conflicts += u64::from(conflict);
            return SegmentKind::Empty;
        }
        if end <= 0 {
            conflict |= self.differs_from_delivered(start, payload);
            self.stats.retransmitted_bytes += payload.len() as u64;
            self.stats.conflicts += u64::from(conflict);
            return SegmentKind::Retransmission;
        }
        let mut repeated = 0u64;
        if start < 0 {
            let old = to_index(-start);
            conflict |= self.differs_from_delivered(start, &payload[..old]);
            repeated = old as u64;
            payload = &payload[old..];
            start = 0;
        }
        // Zero-copy when the segment ends before anything buffered: the usual case of an
        // in-order segment, even while a far-ahead segment waits in the buffer.
        let fits = start == 0
            && self
                .pending
                .keys()
                .next()
                .is_none_or(|&at| at >= self.next.saturating_add(payload.len() as u64));
        let kind = if fits {
            self.deliver(payload, out);
            self.deliver_ready(out);
            if repeated > 0 {
                SegmentKind::PartialOverlap
            } else {
                SegmentKind::InOrder
            }
        } else {
            let ins = self.insert(self.next.saturating_add(start as u64), payload);
            conflict |= ins.conflict;
            repeated += ins.overlapped;
            if start > 0 && ins.added > 0 {
                self.stats.out_of_order += 1;
            }
            self.deliver_ready(out);
            self.enforce_pending_limit(out);
            if ins.added == 0 {
                SegmentKind::Retransmission
            } else if repeated > 0 {
                SegmentKind::PartialOverlap
            } else if start > 0 {
                SegmentKind::OutOfOrder
            } else {
                SegmentKind::InOrder
            }
        };
        self.stats.retransmitted_bytes += repeated;
        self.stats.overlaps += u64::from(kind == SegmentKind::PartialOverlap);
        self.stats.conflicts += u64::from(conflict);
        kind
    }

    /// The peer acknowledged `ack` for this direction: the receiver got every byte before
    /// `ack`, so bytes before it that we never saw were lost by the capture, not by the network,
    /// and will not be retransmitted. Declares gaps for those holes and delivers what was
    /// buffered between and after them, instead of waiting for data that will never come.
    ///
    /// Cheap when `ack` is not ahead of the delivery point, so it can be called for every ACK.
    /// An ACK before the stream has started (no SYN, no data yet) is ignored. The ACK of a FIN
    /// does not make a gap out of the FIN's sequence number.
    pub fn on_peer_ack(&mut self, ack: u32, out: &mut dyn FnMut(Chunk<'_>)) {
        if self.stats.capped || !self.started {
            return;
        }
        self.settle_start(ack);
        let ahead = self.rel(ack);
        if ahead > 0 {
            self.skip_to(self.next.saturating_add(ahead as u64), out);
        }
    }

    /// Before the first byte is delivered, a sequence number that is exactly the other
    /// announced start (and not the current one) decides between two SYNs' ISNs.
    fn settle_start(&mut self, seq: u32) {
        if self.next == 0 && seq != self.base && self.alt_base == Some(seq) {
            self.alt_base = Some(self.base);
            self.base = seq;
            self.fin = None;
            self.pending = BTreeMap::new();
            self.pending_bytes = 0;
        }
    }

    /// End of flow (timeout, eviction, end of capture): delivers everything buffered, with gaps
    /// for the holes before and between the buffered segments, and before the FIN if one was
    /// seen. Without a FIN, nothing is declared after the last byte seen, since the stream may
    /// simply have ended there.
    pub fn flush(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        if self.stats.capped || !self.started {
            return;
        }
        let end = self.fin.or_else(|| {
            self.pending
                .last_key_value()
                .map(|(&at, data)| at + data.len() as u64)
        });
        if let Some(end) = end {
            self.skip_to(end, out);
        }
    }

    /// What this direction's reassembly has seen so far.
    pub fn stats(&self) -> &ReassemblyStats {
        &self.stats
    }

    /// Raises the delivery cap, for a stream a dissector has recognised and wants to follow to
    /// its end (a confirmed pool connection is counted message by message for hours). Has no
    /// effect once the cap was reached: the bytes after it are gone.
    pub fn raise_cap(&mut self, max_delivered: u64) {
        if !self.stats.capped && max_delivered > self.cfg.max_delivered {
            self.cfg.max_delivered = max_delivered;
        }
    }

    /// True once the delivery cap is reached: nothing more will be delivered, so callers may
    /// stop feeding payload bytes.
    pub fn is_capped(&self) -> bool {
        self.stats.capped
    }

    /// True when a FIN was seen and every byte before it was delivered or declared a gap: this
    /// direction can produce no more output.
    pub fn is_finished(&self) -> bool {
        self.fin == Some(self.next)
    }

    /// Out-of-order payload bytes currently buffered (at most `max_pending` between calls).
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    /// The sequence number of the next byte to deliver.
    fn next_seq(&self) -> u32 {
        // Offsets grow past 2^32; only their low 32 bits map onto sequence numbers.
        self.base.wrapping_add(self.next as u32)
    }

    /// Where `seq` lies relative to the next byte to deliver, taking the nearer way round the
    /// 32-bit sequence space.
    fn rel(&self, seq: u32) -> i64 {
        i64::from(seq.wrapping_sub(self.next_seq()) as i32)
    }

    /// Records a FIN at `fin_rel` (relative to `next`); returns whether it contradicts what was
    /// seen before. The first FIN wins: the sender cannot move its end of stream.
    fn register_fin(&mut self, fin_rel: i64) -> bool {
        if fin_rel < 0 {
            // Behind the delivery point: a stale FIN, or one whose position was already given up
            // as part of a gap; nothing to end any more.
            return false;
        }
        let at = self.next.saturating_add(fin_rel as u64);
        match self.fin {
            Some(known) => known != at,
            None => {
                self.fin = Some(at);
                self.truncate_pending(at)
            }
        }
    }

    /// Drops buffered bytes at or after `end`; returns whether there were any.
    fn truncate_pending(&mut self, end: u64) -> bool {
        let mut dropped = false;
        let beyond = self.pending.split_off(&end);
        for data in beyond.values() {
            self.pending_bytes -= data.len();
            dropped = true;
        }
        if let Some((&at, data)) = self.pending.range_mut(..end).next_back() {
            let keep = to_index_u64(end - at);
            if data.len() > keep {
                self.pending_bytes -= data.len() - keep;
                data.truncate(keep);
                dropped = true;
            }
        }
        dropped
    }

    /// Whether `bytes`, placed at `start` relative to `next`, differ from the remembered tail of
    /// delivered bytes where the two overlap.
    fn differs_from_delivered(&self, start: i64, bytes: &[u8]) -> bool {
        let tail_start = -(self.tail_len as i64);
        let end = start.saturating_add(i64::try_from(bytes.len()).unwrap_or(i64::MAX));
        let lo = start.max(tail_start);
        let hi = end.min(0);
        if lo >= hi {
            return false;
        }
        let held = &self.tail[to_index(lo - tail_start)..to_index(hi - tail_start)];
        held != &bytes[to_index(lo - start)..to_index(hi - start)]
    }

    /// Buffers `data` at offset `at` (not before `next`), resolving overlaps with buffered
    /// segments by the policy.
    fn insert(&mut self, at: u64, data: &[u8]) -> Insertion {
        // Offsets this far out only come from absurd inputs; dropping them keeps the arithmetic
        // below free of overflow.
        if at.checked_add(data.len() as u64).is_none() {
            return Insertion::default();
        }
        match self.cfg.policy {
            OverlapPolicy::First => self.insert_keep_first(at, data),
            OverlapPolicy::Last => self.insert_keep_last(at, data),
        }
    }

    /// Inserts only the parts of `data` at positions not yet buffered.
    fn insert_keep_first(&mut self, at: u64, data: &[u8]) -> Insertion {
        let end = at + data.len() as u64;
        let mut ins = Insertion::default();
        let mut pos = at;
        while pos < end {
            let covered = match self.pending.range(..=pos).next_back() {
                Some((&k, held)) if k + held.len() as u64 > pos => {
                    let stop = (k + held.len() as u64).min(end);
                    let same = held[to_index_u64(pos - k)..to_index_u64(stop - k)]
                        == data[to_index_u64(pos - at)..to_index_u64(stop - at)];
                    Some((stop, same))
                }
                _ => None,
            };
            if let Some((stop, same)) = covered {
                ins.overlapped += stop - pos;
                ins.conflict |= !same;
                pos = stop;
            } else {
                let stop = self
                    .pending
                    .range(pos..)
                    .next()
                    .map_or(end, |(&k, _)| k.min(end));
                self.put(pos, &data[to_index_u64(pos - at)..to_index_u64(stop - at)]);
                ins.added += stop - pos;
                pos = stop;
            }
        }
        ins
    }

    /// Inserts all of `data`, cutting the parts of buffered segments it overlaps.
    fn insert_keep_last(&mut self, at: u64, data: &[u8]) -> Insertion {
        let end = at + data.len() as u64;
        let mut ins = Insertion::default();
        let mut displaced: Option<(u64, Vec<u8>)> = None;
        // A segment that starts before `at` and reaches into it keeps its head; the part under
        // `data` goes, and a part sticking out past `end` is re-buffered there.
        if let Some((&k, held)) = self.pending.range_mut(..at).next_back() {
            let held_end = k + held.len() as u64;
            if held_end > at {
                let mut rest = held.split_off(to_index_u64(at - k));
                let over = to_index_u64(held_end.min(end) - at);
                ins.conflict |= rest[..over] != data[..over];
                ins.overlapped += over as u64;
                self.pending_bytes -= rest.len();
                if held_end > end {
                    displaced = Some((end, rest.split_off(over)));
                }
            }
        }
        // Segments starting under `data` go entirely, except a part sticking out past `end`.
        while let Some(k) = self.pending.range(at..end).next().map(|(&k, _)| k) {
            let Some(mut held) = self.pending.remove(&k) else {
                break;
            };
            self.pending_bytes -= held.len();
            let held_end = k + held.len() as u64;
            let over_end = held_end.min(end);
            ins.conflict |= held[..to_index_u64(over_end - k)]
                != data[to_index_u64(k - at)..to_index_u64(over_end - at)];
            ins.overlapped += over_end - k;
            if held_end > end {
                displaced = Some((end, held.split_off(to_index_u64(end - k))));
            }
        }
        if let Some((k, rest)) = displaced {
            self.pending_bytes += rest.len();
            self.pending.insert(k, rest);
        }
        self.put(at, data);
        ins.added = data.len() as u64 - ins.overlapped;
        ins
    }

    /// Buffers `piece` at `pos`, a position range known to be free, appending to the segment
    /// that ends exactly there if any (fewer, larger segments cost less bookkeeping).
    fn put(&mut self, pos: u64, piece: &[u8]) {
        if piece.is_empty() {
            return;
        }
        self.pending_bytes += piece.len();
        if let Some((&k, held)) = self.pending.range_mut(..pos).next_back() {
            if k + held.len() as u64 == pos {
                held.extend_from_slice(piece);
                return;
            }
        }
        self.pending.insert(pos, piece.to_vec());
    }

    /// Delivers buffered segments that have become contiguous with the delivery point.
    fn deliver_ready(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some(entry) = self.pending.first_entry() {
            let at = *entry.key();
            if at > self.next {
                break;
            }
            let data = entry.remove();
            self.pending_bytes -= data.len();
            let skip = to_index_u64(self.next - at);
            if skip < data.len() {
                self.deliver(&data[skip..], out);
                if self.stats.capped {
                    return;
                }
            }
        }
    }

    /// Moves the delivery point to `target` (never past the FIN), declaring gaps for the holes
    /// and delivering the buffered segments on the way, then whatever follows contiguously.
    fn skip_to(&mut self, target: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        let target = self.fin.map_or(target, |fin| target.min(fin));
        loop {
            self.deliver_ready(out);
            if self.stats.capped || self.next >= target {
                return;
            }
            let hole_end = self
                .pending
                .keys()
                .next()
                .map_or(target, |&at| at.min(target));
            self.gap(hole_end - self.next, out);
        }
    }

    /// Declares gaps until the buffer is back within its byte and segment budgets, each time up
    /// to the lowest buffered segment, which is then delivered with whatever follows it.
    fn enforce_pending_limit(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        let slots = (self.cfg.max_pending / BYTES_PER_SEGMENT_SLOT).max(MIN_SEGMENT_SLOTS);
        while self.pending_bytes > self.cfg.max_pending || self.pending.len() > slots {
            let Some(&first) = self.pending.keys().next() else {
                break;
            };
            let before = self.pending.len();
            self.skip_to(first, out);
            if self.stats.capped || self.pending.len() >= before {
                break;
            }
        }
    }

    /// Hands `n` missing bytes to `out` as a gap.
    fn gap(&mut self, n: u64, out: &mut dyn FnMut(Chunk<'_>)) {
        self.stats.gaps += 1;
        self.stats.gap_bytes += n;
        self.next += n;
        // The remembered tail must end at `next`; bytes before a hole no longer do.
        self.tail_len = 0;
        out(Chunk::Gap(n));
    }

    /// Hands `bytes`, which start at the delivery point, to `out`, up to the delivery cap.
    fn deliver(&mut self, bytes: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        let room = self.cfg.max_delivered.saturating_sub(self.stats.delivered);
        let n = to_index_u64(room.min(bytes.len() as u64));
        if n > 0 {
            let bytes = &bytes[..n];
            out(Chunk::Data(bytes));
            self.remember(bytes);
            self.next += n as u64;
            self.stats.delivered += n as u64;
        }
        if self.stats.delivered >= self.cfg.max_delivered {
            self.stats.capped = true;
            // Nothing buffered can be delivered any more; free it now rather than at flow end.
            self.pending = BTreeMap::new();
            self.pending_bytes = 0;
        }
    }

    /// Appends delivered bytes to the remembered tail.
    fn remember(&mut self, bytes: &[u8]) {
        if bytes.len() >= TAIL_LEN {
            self.tail.copy_from_slice(&bytes[bytes.len() - TAIL_LEN..]);
            self.tail_len = TAIL_LEN;
        } else {
            let keep = (TAIL_LEN - bytes.len()).min(self.tail_len);
            self.tail
                .copy_within(self.tail_len - keep..self.tail_len, 0);
            self.tail[keep..keep + bytes.len()].copy_from_slice(bytes);
            self.tail_len = keep + bytes.len();
        }
    }
}

/// A non-negative in-memory length or index computed in `i64`.
fn to_index(n: i64) -> usize {
    usize::try_from(n).unwrap_or(0)
}

/// An in-memory length or index computed in `u64`; the callers only pass values bounded by the
/// length of a slice.
fn to_index_u64(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One output event; adjacent data chunks are merged so tests compare the stream, not how
    /// it happened to be cut.
    #[derive(Debug, Clone, PartialEq, Eq)]
    enum Ev {
        D(Vec<u8>),
        G(u64),
    }

    fn d(bytes: &[u8]) -> Ev {
        Ev::D(bytes.to_vec())
    }

    fn record(evs: &mut Vec<Ev>, chunk: Chunk<'_>) {
        match chunk {
            Chunk::Data(bytes) => {
                assert!(!bytes.is_empty(), "empty data chunk");
                if let Some(Ev::D(last)) = evs.last_mut() {
                    last.extend_from_slice(bytes);
                } else {
                    evs.push(Ev::D(bytes.to_vec()));
                }
            }
            Chunk::Gap(n) => {
                assert!(n > 0, "zero-length gap");
                evs.push(Ev::G(n));
            }
        }
    }

    /// A reassembler plus everything it delivered.
    struct H {
        r: StreamReassembler,
        evs: Vec<Ev>,
    }

    impl H {
        fn new(cfg: ReassemblyConfig) -> Self {
            H {
                r: StreamReassembler::new(cfg),
                evs: Vec::new(),
            }
        }
        fn default_cfg() -> Self {
            H::new(ReassemblyConfig::default())
        }
        fn with_policy(policy: OverlapPolicy) -> Self {
            H::new(ReassemblyConfig {
                policy,
                ..ReassemblyConfig::default()
            })
        }
        fn syn(&mut self, isn: u32) {
            self.r.on_syn(isn);
        }
        fn seg(&mut self, seq: u32, data: &[u8]) -> SegmentKind {
            let evs = &mut self.evs;
            self.r
                .on_segment(seq, data, false, &mut |c: Chunk<'_>| record(evs, c))
        }
        fn fin(&mut self, seq: u32, data: &[u8]) -> SegmentKind {
            let evs = &mut self.evs;
            self.r
                .on_segment(seq, data, true, &mut |c: Chunk<'_>| record(evs, c))
        }
        fn ack(&mut self, ack: u32) {
            let evs = &mut self.evs;
            self.r.on_peer_ack(ack, &mut |c: Chunk<'_>| record(evs, c));
        }
        fn flush(&mut self) {
            let evs = &mut self.evs;
            self.r.flush(&mut |c: Chunk<'_>| record(evs, c));
        }
        fn stats(&self) -> &ReassemblyStats {
            self.r.stats()
        }
        /// The delivered bytes, asserting there was no gap.
        fn bytes(&self) -> Vec<u8> {
            match self.evs.as_slice() {
                [] => Vec::new(),
                [Ev::D(b)] => b.clone(),
                other => panic!("expected one contiguous run, got {other:?}"),
            }
        }
    }

    #[test]
    fn defaults() {
        let cfg = ReassemblyConfig::default();
        assert_eq!(cfg.max_delivered, 64 * 1024);
        assert_eq!(cfg.max_pending, 256 * 1024);
        assert_eq!(cfg.policy, OverlapPolicy::First);
        assert_eq!(OverlapPolicy::default(), OverlapPolicy::First);
        let r = StreamReassembler::new(cfg);
        assert_eq!(r.stats(), &ReassemblyStats::default());
        assert!(!r.is_capped());
        assert!(!r.is_finished());
    }

    #[test]
    fn in_order() {
        let mut h = H::default_cfg();
        h.syn(1000);
        assert_eq!(h.seg(1001, b"hello "), SegmentKind::InOrder);
        assert_eq!(h.seg(1007, b"world"), SegmentKind::InOrder);
        assert_eq!(h.evs, vec![d(b"hello world")]);
        assert_eq!(
            h.stats(),
            &ReassemblyStats {
                delivered: 11,
                ..ReassemblyStats::default()
            }
        );
    }

    #[test]
    fn in_order_is_zero_copy() {
        let mut r = StreamReassembler::new(ReassemblyConfig::default());
        r.on_syn(0);
        let payload = b"GET / HTTP/1.1\r\n".to_vec();
        let mut seen = Vec::new();
        r.on_segment(1, &payload, false, &mut |c: Chunk<'_>| {
            if let Chunk::Data(b) = c {
                seen.push((b.as_ptr(), b.len()));
            }
        });
        assert_eq!(seen, vec![(payload.as_ptr(), payload.len())]);
        // Still zero-copy while a far-ahead segment waits in the buffer.
        r.on_segment(1000, b"later", false, &mut |_c: Chunk<'_>| {});
        let next = b"Host: x\r\n".to_vec();
        seen.clear();
        let kind = r.on_segment(17, &next, false, &mut |c: Chunk<'_>| {
            if let Chunk::Data(b) = c {
                seen.push((b.as_ptr(), b.len()));
            }
        });
        assert_eq!(kind, SegmentKind::InOrder);
        assert_eq!(seen, vec![(next.as_ptr(), next.len())]);
    }

    #[test]
    fn out_of_order_all_permutations() {
        // Stream "abcdefghi" in three segments at offsets 0, 3, 7.
        let segs: [(u32, &[u8]); 3] = [(1, b"abc"), (4, b"defg"), (8, b"hi")];
        let orders = [
            [0, 1, 2],
            [0, 2, 1],
            [1, 0, 2],
            [1, 2, 0],
            [2, 0, 1],
            [2, 1, 0],
        ];
        for order in orders {
            let mut h = H::default_cfg();
            h.syn(0);
            let mut arrived = [false; 3];
            let mut expected_ooo = 0;
            for &i in &order {
                let kind = h.seg(segs[i].0, segs[i].1);
                let expected = if arrived[..i].iter().all(|&a| a) {
                    SegmentKind::InOrder
                } else {
                    expected_ooo += 1;
                    SegmentKind::OutOfOrder
                };
                assert_eq!(kind, expected, "order {order:?}, segment {i}");
                arrived[i] = true;
            }
            assert_eq!(h.evs, vec![d(b"abcdefghi")], "order {order:?}");
            assert_eq!(h.r.pending_bytes(), 0);
            assert_eq!(
                h.stats(),
                &ReassemblyStats {
                    delivered: 9,
                    out_of_order: expected_ooo,
                    ..ReassemblyStats::default()
                },
                "order {order:?}"
            );
        }
    }

    #[test]
    fn retransmission_full_duplicate() {
        let mut h = H::default_cfg();
        h.syn(0);
        assert_eq!(h.seg(1, b"hello"), SegmentKind::InOrder);
        assert_eq!(h.seg(1, b"hello"), SegmentKind::Retransmission);
        // Duplicate of a buffered out-of-order segment.
        assert_eq!(h.seg(10, b"xyz"), SegmentKind::OutOfOrder);
        assert_eq!(h.seg(10, b"xyz"), SegmentKind::Retransmission);
        assert_eq!(h.seg(6, b"abcd"), SegmentKind::InOrder);
        assert_eq!(h.evs, vec![d(b"helloabcdxyz")]);
        assert_eq!(
            h.stats(),
            &ReassemblyStats {
                delivered: 12,
                retransmitted_bytes: 8,
                out_of_order: 1,
                ..ReassemblyStats::default()
            }
        );
    }

    #[test]
    fn partial_overlap_front() {
        let mut h = H::default_cfg();
        h.syn(0);
        h.seg(1, b"hello");
        // Starts 2 bytes back inside delivered data.
        assert_eq!(h.seg(4, b"lo world"), SegmentKind::PartialOverlap);
        assert_eq!(h.evs, vec![d(b"hello world")]);
        assert_eq!(
            h.stats(),
            &ReassemblyStats {
                delivered: 11,
                retransmitted_bytes: 2,
                overlaps: 1,
                ..ReassemblyStats::default()
            }
        );
    }

    #[test]
    fn partial_overlap_back() {
        let mut h = H::default_cfg();
        h.syn(0);
        assert_eq!(h.seg(7, b"world"), SegmentKind::OutOfOrder);
        // Its last two bytes lie under the buffered segment.
        assert_eq!(h.seg(1, b"hello wo"), SegmentKind::PartialOverlap);
        assert_eq!(h.evs, vec![d(b"hello world")]);
        assert_eq!(
            h.stats(),
            &ReassemblyStats {
                delivered: 11,
                retransmitted_bytes: 2,
                overlaps: 1,
                out_of_order: 1,
                ..ReassemblyStats::default()
            }
        );
    }

    #[test]
    fn overlap_between_buffered_segments() {
        // Out-of-order segments overlapping each other front and back, and one spanning
        // several, all with consistent bytes.
        for policy in [OverlapPolicy::First, OverlapPolicy::Last] {
            let mut h = H::with_policy(policy);
            h.syn(0);
            assert_eq!(h.seg(6, b"fghij"), SegmentKind::OutOfOrder); // [5,10)
            assert_eq!(h.seg(9, b"ijkl"), SegmentKind::PartialOverlap); // [8,12)
            assert_eq!(h.seg(4, b"defg"), SegmentKind::PartialOverlap); // [3,7)
            assert_eq!(h.seg(14, b"no"), SegmentKind::OutOfOrder); // [13,15)
            assert_eq!(h.seg(5, b"efghijklmn"), SegmentKind::PartialOverlap); // [4,14)
            assert_eq!(h.seg(7, b"ghi"), SegmentKind::Retransmission);
            assert!(h.evs.is_empty());
            assert_eq!(h.seg(1, b"abc"), SegmentKind::InOrder);
            assert_eq!(h.evs, vec![d(b"abcdefghijklmno")], "{policy:?}");
            let st = h.stats();
            assert_eq!(st.conflicts, 0);
            assert_eq!(st.delivered, 15);
            assert_eq!(st.overlaps, 3);
            // 2 + 2 + (10 - 1 new) + 3.
            assert_eq!(st.retransmitted_bytes, 2 + 2 + 9 + 3);
        }
    }

    #[test]
    fn conflicting_overlap_first_keeps_buffered() {
        let mut h = H::with_policy(OverlapPolicy::First);
        h.syn(0);
        h.seg(4, b"XYZW"); // [3,7)
        assert_eq!(h.seg(1, b"abcdefgh"), SegmentKind::PartialOverlap);
        assert_eq!(h.evs, vec![d(b"abcXYZWh")]);
        assert_eq!(h.stats().conflicts, 1);
        assert_eq!(h.stats().retransmitted_bytes, 4);
    }

    #[test]
    fn conflicting_overlap_last_takes_newer() {
        let mut h = H::with_policy(OverlapPolicy::Last);
        h.syn(0);
        h.seg(4, b"XYZW"); // [3,7)
        assert_eq!(h.seg(1, b"abcdefgh"), SegmentKind::PartialOverlap);
        assert_eq!(h.evs, vec![d(b"abcdefgh")]);
        assert_eq!(h.stats().conflicts, 1);
        assert_eq!(h.stats().retransmitted_bytes, 4);
    }

    #[test]
    fn conflicting_buffered_segments_by_policy() {
        // Buffered [3,7) "DEFG", then buffered [5,9) "ffgh" conflicting on [5,7), then a
        // buffered [4,6) "ee" inside, then the hole [0,3) fills.
        let run = |policy| {
            let mut h = H::with_policy(policy);
            h.syn(0);
            assert_eq!(h.seg(4, b"DEFG"), SegmentKind::OutOfOrder);
            assert_eq!(h.seg(6, b"ffgh"), SegmentKind::PartialOverlap);
            assert_eq!(h.seg(5, b"ee"), SegmentKind::Retransmission);
            assert_eq!(h.seg(1, b"abc"), SegmentKind::InOrder);
            assert_eq!(h.stats().conflicts, 2);
            h.evs
        };
        assert_eq!(run(OverlapPolicy::First), vec![d(b"abcDEFGgh")]);
        // Last: "ffgh" replaces [5,7), then "ee" replaces [4,6) (splitting both segments).
        assert_eq!(run(OverlapPolicy::Last), vec![d(b"abcDeefgh")]);
    }

    #[test]
    fn last_policy_splits_a_longer_buffered_segment() {
        let mut h = H::with_policy(OverlapPolicy::Last);
        h.syn(0);
        h.seg(3, b"cdefghij"); // [2,10)
        assert_eq!(h.seg(5, b"EF"), SegmentKind::Retransmission); // [4,6)
        assert_eq!(h.r.pending_bytes(), 8);
        h.seg(1, b"ab");
        assert_eq!(h.evs, vec![d(b"abcdEFghij")]);
        assert_eq!(h.stats().conflicts, 1);
    }

    #[test]
    fn conflict_with_delivered_bytes_is_counted_not_applied() {
        for policy in [OverlapPolicy::First, OverlapPolicy::Last] {
            let mut h = H::with_policy(policy);
            h.syn(0);
            h.seg(1, b"abcdef");
            assert_eq!(h.seg(1, b"abXdef"), SegmentKind::Retransmission);
            assert_eq!(h.seg(4, b"dEfgh"), SegmentKind::PartialOverlap);
            // Same bytes again: no conflict.
            assert_eq!(h.seg(2, b"bcd"), SegmentKind::Retransmission);
            assert_eq!(h.evs, vec![d(b"abcdefgh")], "{policy:?}");
            assert_eq!(h.stats().conflicts, 2);
            assert_eq!(h.stats().retransmitted_bytes, 6 + 3 + 3);
        }
    }

    #[test]
    fn conflict_detection_covers_only_the_delivered_tail() {
        let mut h = H::default_cfg();
        h.syn(0);
        let msg = vec![b'a'; 200];
        h.seg(1, &msg);
        // Inside the remembered tail: detected.
        h.seg(1 + 200 - 10, b"bbbbbbbbbb");
        assert_eq!(h.stats().conflicts, 1);
        // Older than the tail: not compared (documented limitation).
        h.seg(1, b"bbbbbbbbbb");
        assert_eq!(h.stats().conflicts, 1);
        // Straddling the tail's start: only the remembered part is compared.
        let mut straddle = vec![b'z'; (200 - TAIL_LEN) - 5];
        straddle.extend_from_slice(b"aaaaa");
        h.seg(1 + 5, &straddle);
        assert_eq!(h.stats().conflicts, 1);
        h.seg(1 + 200 - TAIL_LEN as u32 - 1, b"aX");
        assert_eq!(h.stats().conflicts, 2);
        assert_eq!(h.evs, vec![Ev::D(msg)]);
    }

    #[test]
    fn midstream_start() {
        let mut h = H::default_cfg();
        // ACKs and empty segments before any data say nothing.
        h.ack(12345);
        assert_eq!(h.seg(4000, b""), SegmentKind::Empty);
        assert_eq!(h.fin(4000, b""), SegmentKind::Empty);
        assert_eq!(h.seg(5000, b"abc"), SegmentKind::InOrder);
        assert!(h.stats().midstream);
        assert_eq!(h.seg(5003, b"def"), SegmentKind::InOrder);
        // Bytes before the first segment seen are outside the stream.
        assert_eq!(h.seg(4990, b"xx"), SegmentKind::Retransmission);
        assert_eq!(h.evs, vec![d(b"abcdef")]);
        assert_eq!(
            h.stats(),
            &ReassemblyStats {
                delivered: 6,
                retransmitted_bytes: 2,
                midstream: true,
                ..ReassemblyStats::default()
            }
        );
        // The SYN shows up late but matches: the stream did start at the first byte seen.
        h.syn(4999);
        assert!(!h.stats().midstream);
        // A SYN that does not match, after data was delivered, changes nothing.
        h.syn(1);
        assert_eq!(h.seg(5006, b"g"), SegmentKind::InOrder);
        assert_eq!(h.evs, vec![d(b"abcdefg")]);
    }

    #[test]
    fn sequence_wraps_around_zero() {
        let isn = u32::MAX - 3;
        let mut h = H::default_cfg();
        h.syn(isn);
        // Stream offset 0 is at u32::MAX - 2; "abcdef" covers MAX-2, MAX-1, MAX, 0, 1, 2.
        assert_eq!(h.seg(3, b"ghi"), SegmentKind::OutOfOrder);
        assert_eq!(h.seg(u32::MAX - 2, b"abcdef"), SegmentKind::InOrder);
        assert_eq!(h.seg(6, b"jk"), SegmentKind::InOrder);
        assert_eq!(h.seg(u32::MAX, b"cdefg"), SegmentKind::Retransmission);
        assert_eq!(h.evs, vec![d(b"abcdefghijk")]);
        // ACK across the wrap: everything acked was seen, so no gap.
        h.ack(8);
        assert_eq!(h.stats().gaps, 0);
        // A hole across nothing but acked later.
        h.ack(10);
        assert_eq!(h.evs, vec![d(b"abcdefghijk"), Ev::G(2)]);
        assert_eq!(h.seg(10, b"n"), SegmentKind::InOrder);
        assert_eq!(h.evs.last(), Some(&d(b"n")));
    }

    #[test]
    fn wrap_with_isn_at_max() {
        // The ISN itself is u32::MAX: the stream starts at sequence 0.
        let mut h = H::default_cfg();
        h.syn(u32::MAX);
        assert_eq!(h.seg(0, b"ab"), SegmentKind::InOrder);
        assert_eq!(h.fin(2, b"cd"), SegmentKind::InOrder);
        h.ack(5);
        assert_eq!(h.evs, vec![d(b"abcd")]);
        assert_eq!(h.stats().gaps, 0);
        assert!(h.r.is_finished());
    }

    #[test]
    fn long_stream_crosses_many_wraps() {
        // Offsets are 64-bit, so a stream longer than 4 GiB keeps working (with gaps, since
        // delivery is capped well below that).
        let mut h = H::new(ReassemblyConfig {
            max_delivered: u64::MAX,
            ..ReassemblyConfig::default()
        });
        h.syn(7);
        let mut seq = 8u32;
        for _ in 0..5 {
            // Jump ahead 1 GiB with an ACK (bytes lost in the capture), then a byte.
            seq = seq.wrapping_add(1 << 30);
            h.ack(seq);
            assert_eq!(h.seg(seq, b"x"), SegmentKind::InOrder);
            seq = seq.wrapping_add(1);
        }
        assert_eq!(h.stats().gaps, 5);
        assert_eq!(h.stats().gap_bytes, 5 << 30);
        assert_eq!(h.stats().delivered, 5);
    }

    #[test]
    fn gap_declared_by_peer_ack() {
        let mut h = H::default_cfg();
        h.syn(100);
        h.seg(101, b"ab"); // [0,2)
        h.seg(107, b"gh"); // [6,8)
        h.seg(111, b"kl"); // [10,12)
        assert_eq!(h.evs, vec![d(b"ab")]);
        // An old or current ACK does nothing.
        h.ack(101);
        h.ack(103);
        assert_eq!(h.evs, vec![d(b"ab")]);
        // The receiver got everything up to offset 14.
        h.ack(115);
        assert_eq!(
            h.evs,
            vec![d(b"ab"), Ev::G(4), d(b"gh"), Ev::G(2), d(b"kl"), Ev::G(2)]
        );
        assert_eq!(h.stats().gaps, 3);
        assert_eq!(h.stats().gap_bytes, 8);
        assert_eq!(h.r.pending_bytes(), 0);
        // The lost bytes show up late: too late, they count as retransmitted.
        assert_eq!(h.seg(103, b"cdef"), SegmentKind::Retransmission);
        assert_eq!(h.seg(115, b"op"), SegmentKind::InOrder);
        assert_eq!(h.evs.last(), Some(&d(b"op")));
        assert_eq!(h.stats().retransmitted_bytes, 4);
    }

    #[test]
    fn peer_ack_delivers_buffered_data_beyond_it() {
        let mut h = H::default_cfg();
        h.syn(0);
        h.seg(5, b"efgh"); // [4,8)
        h.seg(9, b"ijk"); // [8,11)
        h.ack(3); // [0,2) lost; nothing buffered there yet beyond the ack
        assert_eq!(h.evs, vec![Ev::G(2)]);
        h.ack(6); // up to offset 5, inside the buffered segment
        assert_eq!(h.evs, vec![Ev::G(2), Ev::G(2), d(b"efghijk")]);
        assert_eq!(h.stats().delivered, 7);
    }

    #[test]
    fn gap_forced_by_max_pending() {
        let mut h = H::new(ReassemblyConfig {
            max_pending: 8,
            ..ReassemblyConfig::default()
        });
        h.syn(0);
        h.seg(1, b"ab"); // [0,2)
        assert_eq!(h.seg(5, b"efgh"), SegmentKind::OutOfOrder); // [4,8), 4 buffered
        assert_eq!(h.r.pending_bytes(), 4);
        assert_eq!(h.seg(11, b"klmno"), SegmentKind::OutOfOrder); // [10,15), 9 > 8
        assert_eq!(h.evs, vec![d(b"ab"), Ev::G(2), d(b"efgh")]);
        assert_eq!(h.r.pending_bytes(), 5);
        h.flush();
        assert_eq!(
            h.evs,
            vec![d(b"ab"), Ev::G(2), d(b"efgh"), Ev::G(2), d(b"klmno")]
        );
        assert_eq!(h.stats().gaps, 2);
        assert_eq!(h.stats().gap_bytes, 4);
        assert_eq!(h.stats().delivered, 11);
    }

    #[test]
    fn one_oversized_segment_beyond_a_hole_with_no_buffer() {
        let mut h = H::new(ReassemblyConfig {
            max_pending: 0,
            ..ReassemblyConfig::default()
        });
        h.syn(0);
        assert_eq!(h.seg(4, b"def"), SegmentKind::OutOfOrder);
        assert_eq!(h.evs, vec![Ev::G(3), d(b"def")]);
        assert_eq!(h.r.pending_bytes(), 0);
    }

    #[test]
    fn many_tiny_segments_hit_the_segment_budget() {
        // max_pending 256 gives 64 slots; 100 one-byte segments in reverse order cannot merge.
        let mut h = H::new(ReassemblyConfig {
            max_pending: 256,
            ..ReassemblyConfig::default()
        });
        h.syn(0);
        for i in (1..=100u32).rev() {
            h.seg(1 + 2 * i, b"x");
            assert!(h.r.pending.len() <= MIN_SEGMENT_SLOTS);
        }
        assert!(h.stats().gaps > 0);
    }

    #[test]
    fn flush_with_holes() {
        let mut h = H::default_cfg();
        h.syn(0);
        h.seg(1, b"ab"); // [0,2)
        h.seg(4, b"de"); // [3,5)
        h.seg(8, b"hi"); // [7,9)
        h.flush();
        assert_eq!(
            h.evs,
            vec![d(b"ab"), Ev::G(1), d(b"de"), Ev::G(2), d(b"hi")]
        );
        assert_eq!(h.stats().gaps, 2);
        assert_eq!(h.stats().gap_bytes, 3);
        // Nothing buffered, nothing more to say; no trailing gap without a FIN.
        h.flush();
        assert_eq!(h.evs.len(), 5);
    }

    #[test]
    fn flush_declares_hole_before_known_fin() {
        let mut h = H::default_cfg();
        h.syn(0);
        h.seg(1, b"ab"); // [0,2)
        h.seg(4, b"de"); // [3,5)
        h.fin(8, b"hi"); // [7,9), FIN at 9
        h.fin(8, b"hi"); // retransmitted FIN: nothing new
                         // A hole right before the FIN: its bytes were sent, so flush declares them.
        h.flush();
        assert_eq!(
            h.evs,
            vec![d(b"ab"), Ev::G(1), d(b"de"), Ev::G(2), d(b"hi")]
        );
        assert!(h.r.is_finished());
        let mut h = H::default_cfg();
        h.syn(0);
        h.seg(1, b"ab");
        h.fin(6, b""); // FIN at 5: [2,5) missing
        h.flush();
        assert_eq!(h.evs, vec![d(b"ab"), Ev::G(3)]);
        assert_eq!(h.stats().conflicts, 0);
    }

    #[test]
    fn flush_before_anything() {
        let mut h = H::default_cfg();
        h.flush();
        h.syn(5);
        h.flush();
        assert!(h.evs.is_empty());
        assert_eq!(h.stats(), &ReassemblyStats::default());
    }

    #[test]
    fn cap_stops_delivery() {
        let mut h = H::new(ReassemblyConfig {
            max_delivered: 10,
            ..ReassemblyConfig::default()
        });
        h.syn(0);
        assert_eq!(h.seg(1, b"0123456"), SegmentKind::InOrder);
        assert!(!h.r.is_capped());
        h.seg(20, b"buffered"); // out of order, dropped at the cap
        assert_eq!(h.seg(8, b"789abc"), SegmentKind::InOrder);
        assert!(h.r.is_capped());
        assert_eq!(h.evs, vec![d(b"0123456789")]);
        assert_eq!(h.r.pending_bytes(), 0);
        assert_eq!(h.seg(14, b"def"), SegmentKind::AfterCap);
        assert_eq!(h.seg(1, b"0123"), SegmentKind::AfterCap);
        h.ack(1000);
        h.syn(77);
        h.flush();
        assert_eq!(h.evs, vec![d(b"0123456789")]);
        assert_eq!(
            h.stats(),
            &ReassemblyStats {
                delivered: 10,
                out_of_order: 1,
                capped: true,
                ..ReassemblyStats::default()
            }
        );
    }

    #[test]
    fn cap_reached_while_draining_buffer() {
        let mut h = H::new(ReassemblyConfig {
            max_delivered: 10,
            ..ReassemblyConfig::default()
        });
        h.syn(0);
        h.seg(5, b"efgh"); // [4,8)
        h.seg(9, b"ijklmn"); // [8,14)
        h.seg(1, b"abcd");
        assert_eq!(h.evs, vec![d(b"abcdefghij")]);
        assert!(h.r.is_capped());
        assert_eq!(h.r.pending_bytes(), 0);
    }

    #[test]
    fn cap_exactly_reached() {
        let mut h = H::new(ReassemblyConfig {
            max_delivered: 4,
            ..ReassemblyConfig::default()
        });
        h.syn(0);
        h.seg(1, b"abcd");
        assert!(h.r.is_capped());
        assert_eq!(h.evs, vec![d(b"abcd")]);
        let mut h = H::new(ReassemblyConfig {
            max_delivered: 0,
            ..ReassemblyConfig::default()
        });
        assert!(h.r.is_capped());
        assert_eq!(h.seg(1, b"abcd"), SegmentKind::AfterCap);
        assert!(h.evs.is_empty());
    }

    #[test]
    fn gaps_do_not_count_against_the_cap() {
        let mut h = H::new(ReassemblyConfig {
            max_delivered: 4,
            ..ReassemblyConfig::default()
        });
        h.syn(0);
        h.seg(1, b"ab");
        h.ack(1000);
        h.seg(1000, b"cdef");
        assert_eq!(h.evs, vec![d(b"ab"), Ev::G(997), d(b"cd")]);
        assert!(h.r.is_capped());
    }

    #[test]
    fn fin_then_ack_of_fin_is_no_gap() {
        let mut h = H::default_cfg();
        h.syn(0);
        assert_eq!(h.fin(1, b"abc"), SegmentKind::InOrder); // FIN at offset 3 = seq 4
        assert!(h.r.is_finished());
        h.ack(5);
        h.flush();
        assert_eq!(h.evs, vec![d(b"abc")]);
        assert_eq!(h.stats().gaps, 0);
        // Pure FIN retransmission.
        assert_eq!(h.fin(4, b""), SegmentKind::Empty);
        assert_eq!(h.stats().conflicts, 0);
        // Data after the FIN is not stream data, and not a gap either.
        assert_eq!(h.seg(5, b"zz"), SegmentKind::Empty);
        assert_eq!(h.seg(4, b"zz"), SegmentKind::Empty);
        h.ack(100);
        h.flush();
        assert_eq!(h.evs, vec![d(b"abc")]);
        assert_eq!(h.stats().gaps, 0);
        assert_eq!(h.stats().conflicts, 2);
    }

    #[test]
    fn separate_fin_segment_and_its_ack() {
        let mut h = H::default_cfg();
        h.syn(9);
        h.seg(10, b"abc");
        assert_eq!(h.fin(13, b""), SegmentKind::Empty);
        h.ack(14);
        assert_eq!(h.evs, vec![d(b"abc")]);
        assert_eq!(h.stats().gaps, 0);
    }

    #[test]
    fn fin_arriving_before_missing_data() {
        let mut h = H::default_cfg();
        h.syn(0);
        h.seg(1, b"ab");
        h.fin(4, b"de"); // [3,5), FIN at 5
        h.ack(6); // acks the FIN: byte 2 was lost, the FIN itself is not a gap
        assert_eq!(h.evs, vec![d(b"ab"), Ev::G(1), d(b"de")]);
        assert_eq!(h.stats().gap_bytes, 1);
    }

    #[test]
    fn fin_truncates_buffered_data_beyond_it() {
        let mut h = H::default_cfg();
        h.syn(0);
        h.seg(6, b"fghij"); // [5,10)
        h.seg(12, b"lm"); // [11,13)
        h.fin(1, b"abcdefg"); // FIN at 7: buffered bytes from 7 on are not data
        assert_eq!(h.evs, vec![d(b"abcdefg")]);
        assert_eq!(h.r.pending_bytes(), 0);
        assert!(h.r.is_finished());
        assert_eq!(h.stats().conflicts, 1);
        // A second FIN elsewhere is a conflict and is ignored.
        assert_eq!(h.fin(9, b""), SegmentKind::Empty);
        assert_eq!(h.stats().conflicts, 2);
    }

    #[test]
    fn segment_straddling_the_fin_is_cut_there() {
        let mut h = H::default_cfg();
        h.syn(0);
        h.fin(4, b"d"); // FIN at 4
        assert_eq!(h.seg(1, b"abcdXY"), SegmentKind::PartialOverlap);
        assert_eq!(h.evs, vec![d(b"abcd")]);
        assert_eq!(h.stats().conflicts, 1);
        assert!(h.r.is_finished());
    }

    #[test]
    fn repeated_syn_restarts_only_a_fresh_stream() {
        let mut h = H::default_cfg();
        h.syn(100);
        h.syn(100); // retransmitted SYN
        h.seg(150, b"stale"); // buffered for the old ISN
        h.syn(5000); // nothing delivered yet: the connection restarted
        assert_eq!(h.r.pending_bytes(), 0);
        assert_eq!(h.seg(5001, b"abc"), SegmentKind::InOrder);
        h.syn(9999); // after delivery: ignored
        assert_eq!(h.seg(5004, b"d"), SegmentKind::InOrder);
        h.flush();
        assert_eq!(h.evs, vec![d(b"abcd")]);
        assert!(!h.stats().midstream);
    }

    #[test]
    fn zero_length_segments_are_empty() {
        let mut h = H::default_cfg();
        h.syn(0);
        assert_eq!(h.seg(1, b""), SegmentKind::Empty);
        assert_eq!(h.seg(500, b""), SegmentKind::Empty);
        h.seg(1, b"a");
        assert_eq!(h.seg(2, b""), SegmentKind::Empty);
        assert_eq!(h.evs, vec![d(b"a")]);
        assert_eq!(
            h.stats(),
            &ReassemblyStats {
                delivered: 1,
                ..ReassemblyStats::default()
            }
        );
    }

    #[test]
    fn huge_sequence_jumps() {
        let mut h = H::default_cfg();
        h.syn(0);
        h.seg(1, b"a");
        // The farthest point still ahead (2^31 - 1 past the next byte): buffered.
        let far = 2u32.wrapping_add(i32::MAX as u32);
        assert_eq!(h.seg(far, b"b"), SegmentKind::OutOfOrder);
        // One further is behind, by the nearer way round: old.
        assert_eq!(
            h.seg(far.wrapping_add(1), b"c"),
            SegmentKind::Retransmission
        );
        // An ACK that far is ignored for the same reason.
        h.ack(far.wrapping_add(5));
        assert_eq!(h.evs, vec![d(b"a")]);
        h.ack(far);
        assert_eq!(h.evs, vec![d(b"a"), Ev::G(i32::MAX as u64), d(b"b")]);
        h.flush();
        assert_eq!(h.evs.len(), 3);
        // A payload longer than the sequence space in front of it.
        let big = vec![7u8; 1 << 16];
        h.seg(0, &big);
        h.flush();
    }

    /// A small deterministic generator, so failures reproduce.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }
        /// Uniform-ish in `0..n` (n > 0).
        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
        fn chance(&mut self, percent: u64) -> bool {
            self.below(100) < percent
        }
        fn shuffle<T>(&mut self, v: &mut [T]) {
            for i in (1..v.len()).rev() {
                let j = self.below(i as u64 + 1) as usize;
                v.swap(i, j);
            }
        }
    }

    #[test]
    fn every_two_segment_split_in_reverse_order() {
        let msg: Vec<u8> = (0..100u8)
            .map(|i| i.wrapping_mul(37).wrapping_add(11))
            .collect();
        for isn in [0u32, 1000, u32::MAX - 50, u32::MAX] {
            for policy in [OverlapPolicy::First, OverlapPolicy::Last] {
                for split in 1..msg.len() {
                    let mut h = H::with_policy(policy);
                    h.syn(isn);
                    let start = isn.wrapping_add(1);
                    let second = h.seg(start.wrapping_add(split as u32), &msg[split..]);
                    assert_eq!(second, SegmentKind::OutOfOrder);
                    assert!(h.evs.is_empty());
                    let first = h.seg(start, &msg[..split]);
                    assert_eq!(first, SegmentKind::InOrder);
                    assert_eq!(h.bytes(), msg, "isn {isn}, split {split}");
                    assert_eq!(h.stats().out_of_order, 1);
                    assert_eq!(h.stats().delivered, 100);
                }
            }
        }
    }

    #[test]
    fn every_prefix_midstream_then_rest() {
        // Without a SYN the first segment seen fixes the start, so feed the head first, then
        // the tail split at every point in reverse order.
        let msg: Vec<u8> = (0..100u8).collect();
        for split in 1..99 {
            let mut h = H::default_cfg();
            let base = u32::MAX - 40;
            h.seg(base, &msg[..1]);
            h.seg(base.wrapping_add(split as u32), &msg[split..]);
            h.seg(base.wrapping_add(1), &msg[1..split]);
            assert_eq!(h.bytes(), msg, "split {split}");
            assert!(h.stats().midstream);
        }
    }

    #[test]
    fn random_shuffled_duplicated_overlapping_segments() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..400 {
            let len = 1 + rng.below(3000) as usize;
            let msg: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            let isn = if rng.chance(25) {
                u32::MAX - rng.below(200) as u32
            } else {
                rng.next() as u32
            };
            let start = isn.wrapping_add(1);
            // Cover the message with consecutive segments...
            let mut segs: Vec<(usize, usize)> = Vec::new();
            let mut pos = 0;
            while pos < len {
                let n = (1 + rng.below(300) as usize).min(len - pos);
                segs.push((pos, pos + n));
                pos += n;
            }
            // ...plus duplicates and segments overlapping arbitrary ranges (same bytes).
            let extra = rng.below(segs.len() as u64 + 1) as usize;
            for _ in 0..extra {
                if rng.chance(50) {
                    let s = segs[rng.below(segs.len() as u64) as usize];
                    segs.push(s);
                } else {
                    let a = rng.below(len as u64) as usize;
                    let b = a + 1 + rng.below((len - a) as u64) as usize;
                    segs.push((a, b));
                }
            }
            rng.shuffle(&mut segs);
            let policy = if rng.chance(50) {
                OverlapPolicy::First
            } else {
                OverlapPolicy::Last
            };
            let with_fin = rng.chance(50);
            let mut h = H::with_policy(policy);
            h.syn(isn);
            for &(a, b) in &segs {
                let seq = start.wrapping_add(a as u32);
                if with_fin && b == len {
                    h.fin(seq, &msg[a..b]);
                } else {
                    h.seg(seq, &msg[a..b]);
                }
                // ACK what has been delivered so far: never a gap.
                if rng.chance(30) {
                    let got = match h.evs.as_slice() {
                        [Ev::D(v)] => v.len(),
                        _ => 0,
                    };
                    h.ack(start.wrapping_add(got as u32));
                }
            }
            h.flush();
            if with_fin {
                h.ack(start.wrapping_add(len as u32 + 1));
                assert!(h.r.is_finished(), "round {round}");
            }
            assert_eq!(h.bytes(), msg, "round {round}");
            let st = h.stats();
            assert_eq!(st.gaps, 0, "round {round}");
            assert_eq!(st.conflicts, 0, "round {round}");
            assert_eq!(st.delivered, len as u64, "round {round}");
            assert_eq!(h.r.pending_bytes(), 0, "round {round}");
        }
    }

    #[test]
    fn random_garbage_keeps_invariants() {
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for round in 0..300 {
            let cfg = ReassemblyConfig {
                max_delivered: rng.below(5000),
                max_pending: rng.below(3000) as usize,
                policy: if rng.chance(50) {
                    OverlapPolicy::First
                } else {
                    OverlapPolicy::Last
                },
            };
            let slots = (cfg.max_pending / BYTES_PER_SEGMENT_SLOT).max(MIN_SEGMENT_SLOTS);
            let mut r = StreamReassembler::new(cfg.clone());
            let mut data_bytes = 0u64;
            let mut gap_bytes = 0u64;
            let mut gaps = 0u64;
            let mut after_cap_output = false;
            let base = rng.next() as u32;
            let buf: Vec<u8> = (0..2000).map(|_| rng.next() as u8).collect();
            for _ in 0..200 {
                let was_capped = r.is_capped();
                let mut out = |c: Chunk<'_>| match c {
                    Chunk::Data(b) => {
                        assert!(!b.is_empty());
                        data_bytes += b.len() as u64;
                        after_cap_output |= was_capped;
                    }
                    Chunk::Gap(n) => {
                        assert!(n > 0);
                        gap_bytes += n;
                        gaps += 1;
                        after_cap_output |= was_capped;
                    }
                };
                let near = base.wrapping_add(rng.below(4000) as u32).wrapping_sub(500);
                let seq = if rng.chance(5) {
                    rng.next() as u32
                } else {
                    near
                };
                match rng.below(10) {
                    0 => r.on_syn(if rng.chance(50) { base } else { seq }),
                    1 | 2 => r.on_peer_ack(seq, &mut out),
                    3 if rng.chance(10) => r.flush(&mut out),
                    _ => {
                        let a = rng.below(buf.len() as u64) as usize;
                        let b = (a + rng.below(400) as usize).min(buf.len());
                        r.on_segment(seq, &buf[a..b], rng.chance(5), &mut out);
                    }
                }
                let st = r.stats();
                assert_eq!(st.delivered, data_bytes, "round {round}");
                assert_eq!(st.gap_bytes, gap_bytes, "round {round}");
                assert_eq!(st.gaps, gaps, "round {round}");
                assert!(st.delivered <= cfg.max_delivered, "round {round}");
                assert_eq!(
                    st.capped,
                    st.delivered == cfg.max_delivered,
                    "round {round}"
                );
                assert!(r.pending_bytes() <= cfg.max_pending, "round {round}");
                assert!(r.pending.len() <= slots, "round {round}");
                let held: usize = r.pending.values().map(Vec::len).sum();
                assert_eq!(held, r.pending_bytes(), "round {round}");
                assert!(r.pending.values().all(|v| !v.is_empty()));
                let mut prev_end = r.next;
                for (&at, v) in &r.pending {
                    assert!(at > r.next && at >= prev_end, "round {round}");
                    prev_end = at + v.len() as u64;
                }
                if let Some(fin) = r.fin {
                    assert!(fin >= prev_end && fin >= r.next, "round {round}");
                }
                assert!(!after_cap_output, "round {round}");
            }
        }
    }

    /// A server that answers retransmitted SYNs with SYN-ACKs of two different ISNs, the
    /// wrong one last (seen in a real capture): the data and the client's ACK pick the ISN.
    #[test]
    fn two_syn_acks_with_different_isns_resolve_on_the_data() {
        let mut r = StreamReassembler::new(ReassemblyConfig::default());
        let (old, new) = (3_212_050_950u32, 97_572_840u32);
        r.on_syn(old);
        r.on_syn(new);
        r.on_syn(old);
        let mut got = Vec::new();
        r.on_peer_ack(new.wrapping_add(1), &mut |c| got.push(format!("{c:?}")));
        assert!(
            got.is_empty(),
            "no gap from the ACK of the other ISN: {got:?}"
        );
        let mut data = Vec::new();
        r.on_segment(new.wrapping_add(1), b"hello", false, &mut |c| {
            if let Chunk::Data(d) = c {
                data.extend_from_slice(d)
            } else {
                panic!("{c:?}")
            }
        });
        assert_eq!(data, b"hello");
        // Without the ACK, the first data segment decides too.
        let mut r = StreamReassembler::new(ReassemblyConfig::default());
        r.on_syn(new);
        r.on_syn(old);
        let mut data = Vec::new();
        r.on_segment(new.wrapping_add(1), b"hi", false, &mut |c| {
            if let Chunk::Data(d) = c {
                data.extend_from_slice(d)
            }
        });
        assert_eq!(data, b"hi");
        assert_eq!(r.stats().gaps, 0);
    }

    #[test]
    fn raised_cap_lets_a_recognised_stream_go_on() {
        let cfg = ReassemblyConfig {
            max_delivered: 4,
            ..ReassemblyConfig::default()
        };
        let mut r = StreamReassembler::new(cfg.clone());
        r.on_syn(0);
        let mut got = Vec::new();
        r.on_segment(1, b"ab", false, &mut |c| got.push(format!("{c:?}")));
        r.raise_cap(100);
        r.on_segment(3, b"cdefgh", false, &mut |c| got.push(format!("{c:?}")));
        assert_eq!(r.stats().delivered, 8);
        assert!(!r.is_capped());
        // Too late once capped.
        let mut r = StreamReassembler::new(cfg);
        r.on_syn(0);
        r.on_segment(1, b"abcdef", false, &mut |_| {});
        assert!(r.is_capped());
        r.raise_cap(100);
        r.on_segment(7, b"gh", false, &mut |_| {});
        assert_eq!(r.stats().delivered, 4);
    }
}
