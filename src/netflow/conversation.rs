//! Unidirectional flow records → conversations.
//!
//! Exporters cut flows: each direction is its own record, and a long connection is split into
//! several records by the active timeout. A miner's session to its pool is exactly such a long
//! connection, and the rhythm of its pieces is part of its shape. [`Stitcher`] keeps a table of
//! open conversations keyed by the unordered 5-tuple: a record joins an open conversation when
//! it starts no later than `stitch_gap` after the conversation's last activity (the next piece
//! of the same flow, or the other direction), or within `pair_window` of its start, or — for
//! TCP — when it continues the connection: no SYN in it, no FIN or RST before it, and at most
//! `continuation_gap` of silence (a miner may say nothing for a minute, so the piece after an
//! active-timeout cut often starts well after the cut). Otherwise the open one is finished and
//! a new one begins. Conversations are flushed once the export clock
//! has moved past their end by more than the stitch gap plus a reordering allowance, and the
//! oldest are flushed when the table reaches its cap, so memory stays bounded whatever the
//! input size.

use super::ExportRecord;
use crate::flow::table::{is_service_port, EPHEMERAL_START};
use crate::hash::FxBuildHasher;
use std::collections::HashMap;
use std::net::IpAddr;

/// Running statistics of the records, so a conversation keeps no per-record lists.
pub use crate::stats::Moments as RunningStats;

/// One direction of a conversation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Side {
    /// Packets.
    pub packets: u64,
    /// IP bytes (what exporters count as octets).
    pub bytes: u64,
    /// OR of the TCP flags of every record.
    pub tcp_flags: u8,
    /// Records that contributed to this direction.
    pub records: u32,
    /// Start of the earliest record, epoch seconds (infinite when none).
    pub first: f64,
    /// End of the latest record (minus infinity when none).
    pub last: f64,
}

impl Default for Side {
    fn default() -> Self {
        Side {
            packets: 0,
            bytes: 0,
            tcp_flags: 0,
            records: 0,
            first: f64::INFINITY,
            last: f64::NEG_INFINITY,
        }
    }
}

impl Side {
    /// Whether any record fed this direction.
    pub fn is_present(&self) -> bool {
        self.records > 0 || self.packets > 0
    }

    fn add(&mut self, packets: u64, bytes: u64, flags: u8, first: f64, last: f64) {
        self.packets = self.packets.saturating_add(packets);
        self.bytes = self.bytes.saturating_add(bytes);
        self.tcp_flags |= flags;
        self.records += 1;
        self.first = self.first.min(first);
        self.last = self.last.max(last);
    }
}

/// A conversation: both directions of a 5-tuple over time, as one or more export records.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// IP protocol number.
    pub protocol: u8,
    /// Client address and port.
    pub client: (IpAddr, u16),
    /// Server address and port.
    pub server: (IpAddr, u16),
    /// Start, epoch seconds.
    pub first: f64,
    /// End, epoch seconds.
    pub last: f64,
    /// Client → server.
    pub c2s: Side,
    /// Server → client.
    pub s2c: Side,
    /// Durations of the records (each direction's records, and each bidirectional record once).
    pub record_durations: RunningStats,
    /// Gaps between consecutive records of the same direction (start minus previous end,
    /// at least 0).
    pub gaps: RunningStats,
    /// Packets per minute of each client → server record that lasted at least a second (both
    /// directions of a bidirectional record together): how even the conversation's pace is
    /// across the pieces an exporter cut it into.
    pub record_rates: RunningStats,
    /// Records that carried both directions (RFC 5103 biflows).
    pub biflow_records: u32,
    /// The smallest and largest tag of the records it was made of
    /// ([`Stitcher::push_tagged`]: a stream's offsets); None when they carried none.
    pub tags: Option<(u64, u64)>,
}

impl Conversation {
    /// Duration in seconds.
    pub fn duration(&self) -> f64 {
        (self.last - self.first).max(0.0)
    }

    /// How many pieces the exporter cut the conversation into: the record count of the
    /// direction with more records.
    pub fn stitched_records(&self) -> u32 {
        self.c2s.records.max(self.s2c.records)
    }

    /// Whether the server → client direction was seen.
    pub fn has_reverse(&self) -> bool {
        self.s2c.is_present()
    }
}

/// Canonical key of a 5-tuple regardless of direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PairKey {
    lo: (IpAddr, u16),
    hi: (IpAddr, u16),
    protocol: u8,
}

impl PairKey {
    fn of(r: &ExportRecord) -> (PairKey, bool) {
        let a = (r.src_ip, r.src_port);
        let b = (r.dst_ip, r.dst_port);
        if a <= b {
            (
                PairKey {
                    lo: a,
                    hi: b,
                    protocol: r.protocol,
                },
                true,
            )
        } else {
            (
                PairKey {
                    lo: b,
                    hi: a,
                    protocol: r.protocol,
                },
                false,
            )
        }
    }
}

/// A conversation being built: sides by canonical order (`lo` → `hi` first).
#[derive(Debug, Clone)]
struct Open {
    key: PairKey,
    sides: [Side; 2],
    first: f64,
    last: f64,
    durations: RunningStats,
    gaps: RunningStats,
    /// Record rates per side, in canonical order (see [`Conversation::record_rates`]).
    rates: [RunningStats; 2],
    biflow: u32,
    /// Order of creation, for a deterministic output order.
    seq: u64,
    /// Smallest and largest tag of its records.
    tags: Option<(u64, u64)>,
}

/// Knobs for [`Stitcher`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StitchConfig {
    /// A reverse-direction record joins when it starts within this many seconds of the
    /// conversation's start.
    pub pair_window: f64,
    /// A record joins when it starts at most this many seconds after the conversation's last
    /// activity (the exporter's inactive timeout is the natural value).
    pub stitch_gap: f64,
    /// A TCP record that continues the connection (no SYN in it, no FIN or RST in the
    /// conversation so far) joins after up to this many seconds of silence.
    pub continuation_gap: f64,
    /// How far records may arrive out of start-time order, in seconds.
    pub reorder_slack: f64,
    /// Most conversations kept open; the oldest are flushed beyond it.
    pub max_open: usize,
}

impl Default for StitchConfig {
    fn default() -> Self {
        StitchConfig {
            pair_window: 60.0,
            stitch_gap: 30.0,
            continuation_gap: 300.0,
            reorder_slack: 120.0,
            max_open: 500_000,
        }
    }
}

/// Counters of the stitcher.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StitchStats {
    /// Records taken in.
    pub records: u64,
    /// Conversations finished.
    pub conversations: u64,
    /// Conversations made of more than one record in some direction.
    pub stitched: u64,
    /// Conversations whose two directions came as separate records and were paired.
    pub paired: u64,
    /// Conversations flushed early because the table was full.
    pub evicted: u64,
}

/// Pairs and stitches records into conversations in bounded memory.
#[derive(Debug)]
pub struct Stitcher {
    cfg: StitchConfig,
    open: HashMap<PairKey, Open, FxBuildHasher>,
    now: f64,
    last_sweep: f64,
    seq: u64,
    /// What happened so far.
    pub stats: StitchStats,
}

impl Stitcher {
    /// An empty table.
    pub fn new(cfg: StitchConfig) -> Self {
        Stitcher {
            cfg,
            open: HashMap::default(),
            now: f64::NEG_INFINITY,
            last_sweep: f64::NEG_INFINITY,
            seq: 0,
            stats: StitchStats::default(),
        }
    }

    /// Open conversations.
    pub fn len(&self) -> usize {
        self.open.len()
    }

    /// Whether no conversation is open.
    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    /// Takes one record; finished conversations go to `out`.
    pub fn push(&mut self, r: &ExportRecord, out: &mut dyn FnMut(Conversation)) {
        self.push_tagged(r, None, out)
    }

    /// Takes one record with a tag (a stream offset), which its conversation keeps
    /// ([`Conversation::tags`]) and [`Stitcher::min_open_tag`] reports while it is open.
    pub fn push_tagged(
        &mut self,
        r: &ExportRecord,
        tag: Option<u64>,
        out: &mut dyn FnMut(Conversation),
    ) {
        self.stats.records += 1;
        let (key, forward) = PairKey::of(r);
        let (first, last) = (r.first, r.last.max(r.first));
        if let Some(o) = self.open.get(&key) {
            const SYN: u8 = crate::decode::tcp_flags::SYN;
            const ENDED: u8 = crate::decode::tcp_flags::FIN | crate::decode::tcp_flags::RST;
            let flags_seen = o.sides[0].tcp_flags | o.sides[1].tcp_flags;
            // Flags 0 on TCP means the exporter did not report them: no continuation then.
            let continues = r.protocol == 6
                && r.tcp_flags != 0
                && r.tcp_flags & SYN == 0
                && flags_seen & ENDED == 0
                && first <= o.last + self.cfg.continuation_gap;
            let joins = first <= o.last + self.cfg.stitch_gap
                || (first - o.first).abs() <= self.cfg.pair_window
                || continues;
            if !joins {
                let o = self.open.remove(&key).expect("present");
                self.finish(o, out);
            }
        }
        let seq = self.seq;
        let o = self.open.entry(key).or_insert_with(|| Open {
            key,
            sides: [Side::default(), Side::default()],
            first,
            last,
            durations: RunningStats::default(),
            gaps: RunningStats::default(),
            rates: [RunningStats::default(); 2],
            biflow: 0,
            seq,
            tags: None,
        });
        if o.seq == seq {
            self.seq += 1;
        }
        if let Some(t) = tag {
            o.tags = Some(o.tags.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        }
        let (fwd, rev) = if forward { (0, 1) } else { (1, 0) };
        let prev_end = o.sides[fwd].last;
        if prev_end.is_finite() {
            o.gaps.push((first - prev_end).max(0.0));
        }
        o.sides[fwd].add(r.packets, r.bytes, r.tcp_flags, first, last);
        if let Some(rc) = r.reverse {
            if rc.packets > 0 || rc.bytes > 0 {
                o.sides[rev].add(rc.packets, rc.bytes, rc.tcp_flags, first, last);
                o.biflow += 1;
            }
        }
        o.durations.push(last - first);
        if last - first >= 1.0 {
            let packets = r.packets + r.reverse.map_or(0, |rc| rc.packets);
            o.rates[fwd].push(packets as f64 * 60.0 / (last - first));
        }
        o.first = o.first.min(first);
        o.last = o.last.max(last);
        if first > self.now {
            self.now = first;
        }
        let horizon = self
            .cfg
            .stitch_gap
            .max(self.cfg.pair_window)
            .max(self.cfg.continuation_gap)
            + self.cfg.reorder_slack;
        if self.now - self.last_sweep > horizon / 4.0 {
            self.last_sweep = self.now;
            self.sweep(self.now - horizon, out);
        }
        if self.open.len() > self.cfg.max_open {
            self.evict(out);
        }
    }

    /// The smallest tag of the records of the open conversations: what a stream may not yet
    /// call done.
    pub fn min_open_tag(&self) -> Option<u64> {
        self.open.values().filter_map(|o| o.tags.map(|t| t.0)).min()
    }

    /// Finishes every open conversation (end of input).
    pub fn flush(&mut self, out: &mut dyn FnMut(Conversation)) {
        self.sweep(f64::INFINITY, out);
    }

    /// Finishes conversations whose last activity is before `before`, oldest first.
    fn sweep(&mut self, before: f64, out: &mut dyn FnMut(Conversation)) {
        let mut done: Vec<PairKey> = self
            .open
            .values()
            .filter(|o| o.last < before)
            .map(|o| o.key)
            .collect();
        self.finish_keys(&mut done, out);
    }

    fn evict(&mut self, out: &mut dyn FnMut(Conversation)) {
        let mut by_age: Vec<(f64, PairKey)> = self.open.values().map(|o| (o.last, o.key)).collect();
        let n = by_age.len() - self.cfg.max_open * 3 / 4;
        by_age.select_nth_unstable_by(n.saturating_sub(1), |a, b| a.0.total_cmp(&b.0));
        let mut done: Vec<PairKey> = by_age[..n].iter().map(|(_, k)| *k).collect();
        self.stats.evicted += done.len() as u64;
        self.finish_keys(&mut done, out);
    }

    fn finish_keys(&mut self, keys: &mut [PairKey], out: &mut dyn FnMut(Conversation)) {
        let mut opens: Vec<Open> = keys.iter().filter_map(|k| self.open.remove(k)).collect();
        opens.sort_by(|a, b| a.first.total_cmp(&b.first).then(a.seq.cmp(&b.seq)));
        for o in opens {
            self.finish(o, out);
        }
    }

    fn finish(&mut self, o: Open, out: &mut dyn FnMut(Conversation)) {
        let Open {
            key,
            sides,
            first,
            last,
            durations,
            gaps,
            rates,
            biflow,
            seq: _,
            tags,
        } = o;
        // Client: the side that talks to a service port, else the ephemeral-range side, else
        // the side with the higher port, else the side whose first record started first.
        let (lo_port, hi_port) = (key.lo.1, key.hi.1);
        let lo_is_client = match (is_service_port(lo_port), is_service_port(hi_port)) {
            (false, true) => true,
            (true, false) => false,
            _ => match (lo_port >= EPHEMERAL_START, hi_port >= EPHEMERAL_START) {
                (true, false) => true,
                (false, true) => false,
                // Neither or both in the ephemeral range (Linux picks client ports from 32768):
                // the higher port is the client's, as in nfdump's and pmacct's pairing; equal
                // ports fall back to the first record.
                _ if lo_port != hi_port => lo_port > hi_port,
                _ => {
                    if sides[0].records == 0 {
                        false
                    } else if sides[1].records == 0 {
                        true
                    } else {
                        sides[0].first <= sides[1].first
                    }
                }
            },
        };
        let (client, server, c2s, s2c, rates) = if lo_is_client {
            (key.lo, key.hi, sides[0], sides[1], rates[0])
        } else {
            (key.hi, key.lo, sides[1], sides[0], rates[1])
        };
        let c = Conversation {
            protocol: key.protocol,
            client,
            server,
            first,
            last,
            c2s,
            s2c,
            record_durations: durations,
            gaps,
            record_rates: rates,
            biflow_records: biflow,
            tags,
        };
        self.stats.conversations += 1;
        if c.stitched_records() > 1 {
            self.stats.stitched += 1;
        }
        if c.c2s.records > c.biflow_records.min(c.c2s.records)
            && c.s2c.records > c.biflow_records.min(c.s2c.records)
        {
            self.stats.paired += 1;
        }
        out(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(
        src: (&str, u16),
        dst: (&str, u16),
        first: f64,
        last: f64,
        p: u64,
        b: u64,
    ) -> ExportRecord {
        ExportRecord {
            exporter: "192.0.2.1".parse().unwrap(),
            domain: 0,
            version: 9,
            first,
            last,
            src_ip: src.0.parse().unwrap(),
            dst_ip: dst.0.parse().unwrap(),
            src_port: src.1,
            dst_port: dst.1,
            protocol: 6,
            packets: p,
            bytes: b,
            tcp_flags: 0x18,
            reverse: None,
        }
    }

    fn run(records: &[ExportRecord], cfg: StitchConfig) -> (Vec<Conversation>, StitchStats) {
        let mut s = Stitcher::new(cfg);
        let mut out = Vec::new();
        for r in records {
            s.push(r, &mut |c| out.push(c));
        }
        s.flush(&mut |c| out.push(c));
        (out, s.stats)
    }

    const MINER: (&str, u16) = ("10.0.0.5", 51000);
    const POOL: (&str, u16) = ("198.51.100.7", 3333);

    #[test]
    fn three_active_timeout_pieces_and_their_reverse_make_one_conversation() {
        // An exporter with a 300 s active timeout cuts a 900 s session in three, each way.
        let mut recs = Vec::new();
        for i in 0..3 {
            let t = 1000.0 + 300.0 * i as f64;
            recs.push(rec(MINER, POOL, t, t + 299.0, 100 + i, 10_000 + i));
            recs.push(rec(POOL, MINER, t + 0.1, t + 299.5, 90 + i, 20_000 + i));
        }
        let (convs, stats) = run(&recs, StitchConfig::default());
        assert_eq!(convs.len(), 1);
        let c = &convs[0];
        assert_eq!(c.client, ("10.0.0.5".parse().unwrap(), 51000));
        assert_eq!(c.server.1, 3333);
        assert_eq!((c.c2s.packets, c.c2s.bytes), (100 + 101 + 102, 30_003));
        assert_eq!((c.s2c.packets, c.s2c.bytes), (90 + 91 + 92, 60_003));
        assert_eq!(c.stitched_records(), 3);
        assert_eq!(c.first, 1000.0);
        assert_eq!(c.last, 1000.0 + 600.0 + 299.5);
        assert_eq!(c.record_durations.count(), 6);
        // Gaps between pieces of one direction: 1 s (client) and 0.6 s (server), twice each.
        assert_eq!(c.gaps.count(), 4);
        assert!((c.gaps.mean() - 0.8).abs() < 1e-9);
        assert_eq!(
            stats,
            StitchStats {
                records: 6,
                conversations: 1,
                stitched: 1,
                paired: 1,
                evicted: 0
            }
        );
    }

    #[test]
    fn a_new_connection_after_a_silence_starts_a_new_conversation() {
        let mut again = rec(MINER, POOL, 10.0 + 31.0, 50.0, 5, 500);
        again.tcp_flags = 0x02 | 0x18;
        let recs = [rec(MINER, POOL, 0.0, 10.0, 5, 500), again];
        let (convs, stats) = run(
            &recs,
            StitchConfig {
                pair_window: 20.0,
                ..Default::default()
            },
        );
        assert_eq!(convs.len(), 2);
        assert_eq!(stats.stitched, 0);
        assert!(convs.iter().all(|c| !c.has_reverse()));
    }

    #[test]
    fn a_quiet_continuation_joins_but_not_after_a_fin_or_without_flags() {
        // softflowd's maxlife cut a session at 300 s; the miner's next packet came 200 s later.
        let recs = [
            rec(MINER, POOL, 0.0, 300.0, 50, 5000),
            rec(MINER, POOL, 500.0, 800.0, 60, 6000),
        ];
        let (convs, stats) = run(&recs, StitchConfig::default());
        assert_eq!(convs.len(), 1);
        assert_eq!(stats.stitched, 1);
        // Per-record pace: 10 and 12 packets a minute.
        assert_eq!(convs[0].record_rates.count(), 2);
        assert!((convs[0].record_rates.mean() - 11.0).abs() < 1e-9);
        // The connection was closed: what comes 200 s later is another one.
        let mut closed = recs.clone();
        closed[0].tcp_flags |= 0x01;
        assert_eq!(run(&closed, StitchConfig::default()).0.len(), 2);
        // No flags reported: only the stitch gap applies.
        let mut unknown = recs.clone();
        unknown.iter_mut().for_each(|r| r.tcp_flags = 0);
        assert_eq!(run(&unknown, StitchConfig::default()).0.len(), 2);
        // Beyond the continuation gap.
        let mut late = recs.clone();
        late[1].first = 300.0 + 301.0;
        late[1].last = 900.0;
        assert_eq!(run(&late, StitchConfig::default()).0.len(), 2);
    }

    #[test]
    fn the_service_port_side_is_the_server_even_when_it_is_seen_first() {
        let recs = [
            rec(POOL, MINER, 5.0, 6.0, 1, 60),
            rec(MINER, POOL, 5.5, 6.0, 1, 60),
        ];
        let (convs, _) = run(&recs, StitchConfig::default());
        assert_eq!(convs.len(), 1);
        assert_eq!(convs[0].server.1, 3333);
    }

    #[test]
    fn biflow_records_fill_both_sides_and_are_not_counted_as_paired() {
        let mut r = rec(MINER, POOL, 0.0, 1.0, 3, 300);
        r.reverse = Some(super::super::ReverseCounters {
            packets: 2,
            bytes: 200,
            tcp_flags: 0x12,
        });
        let (convs, stats) = run(&[r], StitchConfig::default());
        assert_eq!((convs[0].s2c.packets, convs[0].s2c.bytes), (2, 200));
        assert_eq!(convs[0].s2c.tcp_flags, 0x12);
        assert_eq!(stats.paired, 0);
    }

    #[test]
    fn memory_stays_bounded_by_time_and_by_the_cap() {
        let cfg = StitchConfig {
            max_open: 100,
            ..Default::default()
        };
        let mut s = Stitcher::new(cfg);
        let mut n = 0u64;
        for i in 0..10_000u32 {
            let src = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            let r = rec(
                (&src, 40000),
                POOL,
                f64::from(i) * 0.01,
                f64::from(i) * 0.01,
                1,
                40,
            );
            s.push(&r, &mut |_| n += 1);
            assert!(s.len() <= 101);
        }
        s.flush(&mut |_| n += 1);
        assert_eq!(n, 10_000);
        assert!(s.stats.evicted > 0);
        // Time-ordered records far apart are flushed by time alone.
        let mut s = Stitcher::new(StitchConfig::default());
        for i in 0..1000u32 {
            let src = std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string();
            let r = rec(
                (&src, 40000),
                POOL,
                f64::from(i) * 10.0,
                f64::from(i) * 10.0,
                1,
                40,
            );
            s.push(&r, &mut |_| {});
        }
        assert!(s.len() < 100, "{}", s.len());
        assert_eq!(s.stats.evicted, 0);
    }
}
