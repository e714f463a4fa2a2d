//! Feeds the packet decoder a sequence of frames, each on a link type the input picks (every
//! supported one and an unsupported one), through one decoder so fragments held by one frame
//! can complete in a later one.
//!
//! Checks:
//! * every call is counted once: a skip raises exactly the counter of its reason (a held
//!   fragment none), a packet raises none, and at the end packets + held fragments + skips add
//!   up to the frames decoded; fragment counters never run ahead of the fragments seen;
//! * a packet lies within what was captured: unless a fragment train just completed, its
//!   payload is a sub-slice of the frame; the transport payload from the headers never exceeds
//!   the IP length; tunnels nest at most four deep and `tunneled` counts exactly the packets
//!   found inside one;
//! * decoding is deterministic: a second decoder fed the same frames gives the same results
//!   and counters;
//! * the link layer does not change the packet: an IP packet decoded as raw IP, under every
//!   raw-IP link type, under an Ethernet header, a Linux cooked (v1 and v2) header, a BSD
//!   loopback header or a PPP header gives the same packet (or a skip in every case).
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use poolscope::decode::{linktype, DecodeStats, Decoder, Packet, Skip};

const LINKTYPES: [u16; 13] = [
    linktype::NULL,
    linktype::ETHERNET,
    linktype::PPP,
    linktype::RAW_BSD,
    linktype::RAW_BSD14,
    linktype::PPP_HDLC,
    linktype::RAW,
    linktype::LOOP,
    linktype::LINUX_SLL,
    linktype::IPV4,
    linktype::IPV6,
    linktype::LINUX_SLL2,
    147, // a user link type this decoder does not read
];

/// Deepest tunnel nesting the decoder opens.
const MAX_TUNNEL_DEPTH: u8 = 4;

fn skips(s: &DecodeStats) -> u64 {
    s.unsupported_link
        + s.non_ip
        + s.other_transport
        + s.truncated
        + s.malformed
        + s.fragments_dropped
        + s.unsupported_tunnel
}

fn counter(s: &DecodeStats, skip: Skip) -> Option<u64> {
    Some(match skip {
        Skip::UnsupportedLinkType => s.unsupported_link,
        Skip::NonIp => s.non_ip,
        Skip::OtherTransport => s.other_transport,
        Skip::Truncated => s.truncated,
        Skip::Malformed => s.malformed,
        Skip::FragmentDropped => s.fragments_dropped,
        Skip::UnsupportedTunnel => s.unsupported_tunnel,
        Skip::FragmentHeld => return None,
    })
}

fn describe(r: &std::result::Result<Packet<'_>, Skip>) -> String {
    format!("{r:?}")
}

/// The packet fields that must not depend on the link layer.
fn essence(r: &std::result::Result<Packet<'_>, Skip>) -> Option<String> {
    r.as_ref().ok().map(|p| format!("{p:?}"))
}

fn wrappings(ip: &[u8]) -> Vec<(u16, Vec<u8>)> {
    let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
    let ethertype: [u8; 2] = if v6 { [0x86, 0xdd] } else { [0x08, 0x00] };
    let with = |head: &[u8]| [head, ip].concat();
    let mut eth = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
    eth.extend_from_slice(&ethertype);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0];
    sll.extend_from_slice(&ethertype);
    let mut sll2 = ethertype.to_vec();
    sll2.extend_from_slice(&[0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0]);
    let null_family: u32 = if v6 { 24 } else { 2 };
    let ppp: [u8; 2] = if v6 { [0x00, 0x57] } else { [0x00, 0x21] };
    vec![
        (linktype::IPV4, ip.to_vec()),
        (linktype::IPV6, ip.to_vec()),
        (linktype::RAW_BSD, ip.to_vec()),
        (linktype::RAW_BSD14, ip.to_vec()),
        (linktype::ETHERNET, with(&eth)),
        (linktype::LINUX_SLL, with(&sll)),
        (linktype::LINUX_SLL2, with(&sll2)),
        (linktype::NULL, with(&null_family.to_le_bytes())),
        (linktype::LOOP, with(&null_family.to_be_bytes())),
        (linktype::PPP, with(&ppp)),
        (linktype::PPP_HDLC, with(&[&[0xff, 0x03][..], &ppp].concat())),
    ]
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let mut frames: Vec<(u16, Vec<u8>, u64)> = Vec::new();
    let mut ts = 0u64;
    while !u.is_empty() && frames.len() < 64 {
        let lt = *u.choose(&LINKTYPES)?;
        let len = u.int_in_range(0..=1600usize)?;
        let frame = u.bytes(len.min(u.len()))?.to_vec();
        // Mostly a few milliseconds apart, now and then past the fragment timeout.
        ts += if u.ratio(1, 32)? { 31_000_000_000 } else { u64::from(u.arbitrary::<u16>()?) * 1000 };
        frames.push((lt, frame, ts));
    }

    let mut d = Decoder::new();
    let mut results = Vec::new();
    let (mut packets, mut held) = (0u64, 0u64);
    for (lt, frame, ts) in &frames {
        let before = d.stats.clone();
        let r = d.decode(*lt, frame, *ts);
        let desc = describe(&r);
        let mut payload_in_frame = true;
        let mut depth = None;
        if let Ok(p) = &r {
            let range = frame.as_ptr_range();
            let pr = p.payload.as_ptr_range();
            payload_in_frame = p.payload.is_empty()
                || (range.start <= pr.start && pr.end <= range.end);
            assert!(p.tunnel_depth <= MAX_TUNNEL_DEPTH, "tunnel depth {}", p.tunnel_depth);
            assert!(p.payload_len <= p.ip_len, "payload {} in a {}-byte IP packet", p.payload_len, p.ip_len);
            depth = Some(p.tunnel_depth);
        }

        let after = &d.stats;
        assert!(after.fragments - before.fragments <= 1, "one frame, two fragments");
        assert!(after.reassembled <= after.fragments, "more trains reassembled than fragments");
        let completed = after.reassembled > before.reassembled;
        if !completed {
            assert!(payload_in_frame, "payload outside the frame: {desc}");
        }
        match depth {
            Some(depth) => {
                packets += 1;
                assert_eq!(skips(after), skips(&before), "a decoded packet counted a skip");
                let tunneled = after.tunneled - before.tunneled;
                assert_eq!(tunneled, u64::from(depth > 0), "tunneled counter for depth {depth}");
            }
            None => {
                assert_eq!(after.tunneled, before.tunneled);
                if desc == format!("Err({:?})", Skip::FragmentHeld) {
                    held += 1;
                    assert_eq!(skips(after), skips(&before), "a held fragment counted a skip");
                } else {
                    assert_eq!(skips(after), skips(&before) + 1, "{desc} not counted once");
                }
            }
        }
        results.push(desc);
    }
    let s = &d.stats;
    assert_eq!(packets + held + skips(s), frames.len() as u64, "counters do not add up: {s:?}");
    for skip in [
        Skip::UnsupportedLinkType,
        Skip::NonIp,
        Skip::OtherTransport,
        Skip::Truncated,
        Skip::Malformed,
        Skip::FragmentDropped,
        Skip::UnsupportedTunnel,
    ] {
        let n = results.iter().filter(|r| **r == format!("Err({skip:?})")).count() as u64;
        assert_eq!(counter(s, skip), Some(n), "{skip:?} counted {:?}, returned {n}", counter(s, skip));
    }

    let mut again = Decoder::new();
    for ((lt, frame, ts), want) in frames.iter().zip(&results) {
        assert_eq!(&describe(&again.decode(*lt, frame, *ts)), want, "decoding again differed");
    }
    assert_eq!(again.stats, d.stats);

    // The first frame, taken as an IP packet, under every link layer.
    if let Some((_, ip, ts)) = frames.first() {
        let mut raw = Decoder::new();
        let want = essence(&raw.decode(linktype::RAW, ip, *ts));
        let v = ip.first().map(|b| b >> 4);
        if matches!(v, Some(4 | 6)) {
            for (lt, frame) in wrappings(ip) {
                let mut w = Decoder::new();
                let got = essence(&w.decode(lt, &frame, *ts));
                assert_eq!(got, want, "link type {lt} changed the packet");
            }
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
