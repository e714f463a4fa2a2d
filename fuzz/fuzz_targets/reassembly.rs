//! Feeds one direction's `StreamReassembler` segments with input-chosen sequence numbers and
//! payloads, SYNs, FINs, overlaps, peer ACKs, cap raises and flushes, under input-chosen limits
//! and either overlap policy.
//!
//! Two kinds of runs:
//! * **faithful**: the input picks a sender's byte stream, its ISN and whether it ends with a
//!   FIN; every segment carries the true bytes at its true sequence number (any subset, order,
//!   duplication and overlap of them), every ACK acknowledges no more than was sent. Checked:
//!   each delivered byte is the sender's byte at that stream position, so no byte is delivered
//!   twice, out of order or made up; a gap only covers positions no segment carried before it
//!   was declared; delivered data plus gaps never run past what was sent; nothing conflicts;
//!   after a flush every captured byte is accounted for, and a stream whose FIN was seen is
//!   finished; both overlap policies give the same stream.
//! * **chaotic**: sequence numbers, payloads, ISNs and ACKs are arbitrary. Checked: no panic,
//!   chunks are never empty, delivered bytes never exceed the delivery cap nor the payload fed,
//!   nothing comes out once capped, an in-order segment delivers, a retransmission or an empty
//!   segment delivers nothing.
//!
//! In both: the counters in `stats()` match the chunks handed out (delivered bytes, gap count,
//! gap bytes) and the out-of-order buffer stays within `max_pending` between calls.
//!
//! A faithful run acknowledges the FIN only after feeding it: an ACK of a FIN the capture
//! missed cannot be told from the ACK of one more lost data byte, and the reassembler then
//! declares a one-byte gap past the end of the stream. `FUZZ_DEBUG=1` prints the decoded run.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use poolscope::flow::reassembly::{
    Chunk, OverlapPolicy, ReassemblyConfig, SegmentKind, StreamReassembler,
};

/// One event as handed out; adjacent data merged, so streams compare whatever their cuts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Data(Vec<u8>),
    Gap(u64),
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Syn(u32),
    /// Sequence number, payload range in the op's byte source, FIN flag.
    Seg { seq: u32, from: usize, to: usize, fin: bool },
    Ack(u32),
    /// The acknowledgement of the FIN (one past the last byte).
    AckFin(u32),
    Flush,
    RaiseCap(u64),
}

/// What the chunks handed out so far add up to.
#[derive(Debug, Default)]
struct Tally {
    events: Vec<Ev>,
    delivered: u64,
    gaps: u64,
    gap_bytes: u64,
    /// Chunks handed out by the current call, as they came.
    now: Vec<Ev>,
    data_now: u64,
    gap_now: u64,
}

impl Tally {
    fn take(&mut self, c: Chunk<'_>) {
        match c {
            Chunk::Data(b) => {
                assert!(!b.is_empty(), "empty data chunk");
                self.delivered += b.len() as u64;
                self.data_now += 1;
                self.now.push(Ev::Data(b.to_vec()));
                match self.events.last_mut() {
                    Some(Ev::Data(d)) => d.extend_from_slice(b),
                    _ => self.events.push(Ev::Data(b.to_vec())),
                }
            }
            Chunk::Gap(n) => {
                assert!(n > 0, "zero-length gap");
                self.gaps += 1;
                self.gap_bytes += n;
                self.gap_now += 1;
                self.now.push(Ev::Gap(n));
                self.events.push(Ev::Gap(n));
            }
        }
    }
}

fn config(u: &mut Unstructured<'_>) -> Result<ReassemblyConfig> {
    let max_delivered = match u.int_in_range(0..=7u8)? {
        0 => 0,
        1 => u64::from(u.int_in_range(1..=64u8)?),
        2 => u64::from(u.arbitrary::<u16>()?),
        _ => 64 * 1024,
    };
    let max_pending = match u.int_in_range(0..=7u8)? {
        0 => 0,
        1 => usize::from(u.int_in_range(1..=64u8)?),
        2 => usize::from(u.arbitrary::<u16>()?),
        _ => 256 * 1024,
    };
    let policy = if u.arbitrary()? {
        OverlapPolicy::Last
    } else {
        OverlapPolicy::First
    };
    Ok(ReassemblyConfig {
        max_delivered,
        max_pending,
        policy,
    })
}

/// Checks common to both kinds of run, after every call.
fn check_common(r: &StreamReassembler, t: &Tally, cap: u64, cfg: &ReassemblyConfig) {
    let st = r.stats();
    assert_eq!(st.delivered, t.delivered, "stats.delivered disagrees with the chunks");
    assert_eq!(st.gaps, t.gaps, "stats.gaps disagrees with the chunks");
    assert_eq!(st.gap_bytes, t.gap_bytes, "stats.gap_bytes disagrees with the chunks");
    assert!(st.delivered <= cap, "delivered {} past the cap {cap}", st.delivered);
    assert_eq!(st.capped, r.is_capped());
    assert!(
        r.pending_bytes() <= cfg.max_pending,
        "{} bytes buffered, limit {}",
        r.pending_bytes(),
        cfg.max_pending
    );
    if r.is_capped() {
        assert_eq!(r.pending_bytes(), 0, "a capped stream still buffers");
    }
}

/// The sender's stream for a faithful run: `len` bytes that differ from their neighbours, so a
/// byte delivered at the wrong place shows.
fn true_stream(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn faithful_ops(u: &mut Unstructured<'_>, len: usize, isn: u32, has_fin: bool) -> Result<Vec<Op>> {
    let start = isn.wrapping_add(1);
    let mut ops = Vec::new();
    while !u.is_empty() && ops.len() < 512 {
        let op = match u.int_in_range(0..=15u8)? {
            0 => Op::Syn(isn),
            1 | 2 => {
                // The receiver cannot acknowledge more than was sent (the FIN counts one).
                let k = u.int_in_range(0..=len + usize::from(has_fin))?;
                if k > len {
                    Op::AckFin(start.wrapping_add(k as u32))
                } else {
                    Op::Ack(start.wrapping_add(k as u32))
                }
            }
            3 => Op::Flush,
            4 => Op::RaiseCap(u64::from(u.arbitrary::<u16>()?)),
            _ => {
                let from = u.int_in_range(0..=len)?;
                let to = if u.ratio(1, 3)? {
                    u.int_in_range(from..=len)?
                } else {
                    u.int_in_range(from..=(from + 64).min(len))?
                };
                let fin = has_fin && to == len && u.arbitrary()?;
                Op::Seg {
                    seq: start.wrapping_add(from as u32),
                    from,
                    to,
                    fin,
                }
            }
        };
        ops.push(op);
    }
    ops.push(Op::Flush);
    Ok(ops)
}

/// Runs a faithful scenario; returns the merged events and the final stats for comparing
/// policies.
fn faithful(
    cfg: &ReassemblyConfig,
    stream: &[u8],
    ops: &[Op],
) -> (Vec<Ev>, poolscope::flow::reassembly::ReassemblyStats) {
    let len = stream.len();
    let mut r = StreamReassembler::new(cfg.clone());
    let mut t = Tally::default();
    let mut cap = cfg.max_delivered;
    // Stream offset of reassembler offset 0, once it is fixed.
    let mut origin: Option<usize> = None;
    let mut captured = vec![false; len];
    let mut captured_end: Option<usize> = None;
    let mut fin_fed = false;
    for op in ops {
        let capped_before = r.is_capped();
        t.data_now = 0;
        t.gap_now = 0;
        let events_before = t.events.len();
        let pos_before = t.delivered + t.gap_bytes;
        match *op {
            Op::Syn(isn) => {
                r.on_syn(isn);
                if !capped_before && origin.is_none() {
                    origin = Some(0);
                }
            }
            Op::Seg { seq, from, to, fin } => {
                if !capped_before && origin.is_none() && to > from {
                    origin = Some(from);
                }
                if !capped_before {
                    for c in &mut captured[from..to] {
                        *c = true;
                    }
                    if to > from {
                        captured_end = Some(captured_end.map_or(to, |e| e.max(to)));
                    }
                    if fin && origin.is_some() {
                        fin_fed = true;
                    }
                }
                let mut out = |c: Chunk<'_>| t.take(c);
                r.on_segment(seq, &stream[from..to], fin, &mut out);
            }
            Op::Ack(ack) => r.on_peer_ack(ack, &mut |c: Chunk<'_>| t.take(c)),
            // Without the FIN, its acknowledgement cannot be told from that of one more data
            // byte the capture missed (the reassembler then declares a one-byte gap past the
            // end): acknowledge the FIN only once it was fed, else up to the last byte.
            Op::AckFin(ack) if fin_fed => r.on_peer_ack(ack, &mut |c: Chunk<'_>| t.take(c)),
            Op::AckFin(ack) => r.on_peer_ack(ack.wrapping_sub(1), &mut |c: Chunk<'_>| t.take(c)),
            Op::Flush => r.flush(&mut |c: Chunk<'_>| t.take(c)),
            Op::RaiseCap(extra) => {
                let want = cap.saturating_add(extra);
                r.raise_cap(want);
                if !capped_before && want > cap {
                    cap = want;
                }
            }
        }
        check_common(&r, &t, cap, cfg);
        if capped_before {
            assert_eq!(t.events.len(), events_before, "output after the cap was reached");
        }
        // Walk this call's chunks from the stream position before it.
        let mut pos = origin.unwrap_or(0) as u64 + pos_before;
        for ev in std::mem::take(&mut t.now) {
            let at = pos as usize;
            match ev {
                Ev::Data(d) => {
                    assert!(
                        at + d.len() <= len,
                        "delivered up to {} of a {len}-byte stream",
                        at + d.len()
                    );
                    assert!(
                        stream[at..at + d.len()] == d[..],
                        "bytes at stream offset {at} are not what the sender sent there"
                    );
                    assert!(
                        captured[at..at + d.len()].iter().all(|&c| c),
                        "delivered bytes no segment carried"
                    );
                    pos += d.len() as u64;
                }
                Ev::Gap(n) => {
                    assert!(pos + n <= len as u64, "gap to {} runs past the {len} bytes sent", pos + n);
                    assert!(
                        captured[at..at + n as usize].iter().all(|&c| !c),
                        "a gap at {at}+{n} covers bytes a segment carried"
                    );
                    pos += n;
                }
            }
        }
        assert_eq!(r.stats().conflicts, 0, "conflicts in a faithful stream");
        if matches!(op, Op::Flush) && !r.is_capped() {
            let reached = origin.unwrap_or(0) as u64 + t.delivered + t.gap_bytes;
            if let Some(end) = captured_end {
                assert!(reached >= end as u64, "flush left captured bytes before {end}");
            }
            if fin_fed {
                assert!(r.is_finished(), "flushed stream with a FIN is not finished");
                assert_eq!(reached, len as u64, "finished before the FIN");
            }
        }
    }
    (t.events, r.stats().clone())
}

fn chaotic(u: &mut Unstructured<'_>, cfg: &ReassemblyConfig) -> Result<()> {
    let mut r = StreamReassembler::new(cfg.clone());
    let mut t = Tally::default();
    let mut cap = cfg.max_delivered;
    let mut fed: u64 = 0;
    let mut seq: u32 = u.arbitrary()?;
    let mut n = 0;
    while !u.is_empty() && n < 512 {
        n += 1;
        let capped_before = r.is_capped();
        t.data_now = 0;
        t.gap_now = 0;
        t.now.clear();
        let events_before = t.events.len();
        match u.int_in_range(0..=15u8)? {
            0 => r.on_syn(u.arbitrary()?),
            1 => {
                let ack = seq.wrapping_add(u32::from(u.arbitrary::<u16>()?));
                r.on_peer_ack(ack, &mut |c: Chunk<'_>| t.take(c));
            }
            2 => r.on_peer_ack(u.arbitrary()?, &mut |c: Chunk<'_>| t.take(c)),
            3 => r.flush(&mut |c: Chunk<'_>| t.take(c)),
            4 => {
                let want = u.arbitrary::<u64>()?;
                r.raise_cap(want);
                if !capped_before && want > cap {
                    cap = want;
                }
            }
            k => {
                // Near the last sequence number mostly, anywhere sometimes.
                let at = if k == 5 {
                    u.arbitrary()?
                } else {
                    seq.wrapping_add(u.int_in_range(-64i32..=256)? as u32)
                };
                let len = u.int_in_range(0..=96usize)?;
                let payload = u.bytes(len.min(u.len()))?;
                let fin = u.ratio(1, 8)?;
                fed += payload.len() as u64;
                let kind = r.on_segment(at, payload, fin, &mut |c: Chunk<'_>| t.take(c));
                seq = at.wrapping_add(payload.len() as u32);
                match kind {
                    SegmentKind::InOrder => {
                        assert!(t.data_now > 0, "an in-order segment delivered nothing")
                    }
                    SegmentKind::Retransmission | SegmentKind::Empty | SegmentKind::AfterCap => {
                        assert_eq!(t.data_now + t.gap_now, 0, "{kind:?} segment produced output")
                    }
                    _ => {}
                }
                if capped_before {
                    assert_eq!(kind, SegmentKind::AfterCap);
                }
            }
        }
        check_common(&r, &t, cap, cfg);
        assert!(t.delivered <= fed, "delivered {} of {fed} bytes fed", t.delivered);
        if capped_before {
            assert_eq!(t.events.len(), events_before, "output after the cap was reached");
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(cfg) = config(&mut u) else {
        return;
    };
    let Ok(chaos) = u.ratio(1, 3) else {
        return;
    };
    if chaos {
        let _ = chaotic(&mut u, &cfg);
        return;
    }
    let (Ok(seed), Ok(len), Ok(isn), Ok(has_fin)) = (
        u.arbitrary::<u32>(),
        u.int_in_range(0..=2048usize),
        u.arbitrary::<u32>(),
        u.arbitrary::<bool>(),
    ) else {
        return;
    };
    let stream = true_stream(seed, len);
    let Ok(ops) = faithful_ops(&mut u, len, isn, has_fin) else {
        return;
    };
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{cfg:?} len={len} isn={isn} fin={has_fin}\n{ops:?}");
    }
    let (events, stats) = faithful(&cfg, &stream, &ops);
    let other = ReassemblyConfig {
        policy: match cfg.policy {
            OverlapPolicy::First => OverlapPolicy::Last,
            OverlapPolicy::Last => OverlapPolicy::First,
        },
        ..cfg.clone()
    };
    let (events2, stats2) = faithful(&other, &stream, &ops);
    assert_eq!(events, events2, "the overlap policy changed a stream without conflicts");
    assert_eq!(stats, stats2, "the overlap policy changed the counters of a stream without conflicts");
});
