//! Reassembly tests: in order, out of order, retransmissions, overlaps and their policies,
//! missing SYN, sequence wrap, gaps, caps and peer ACKs.
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
