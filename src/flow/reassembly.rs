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
mod tests;
