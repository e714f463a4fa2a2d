//! Feeds any bytes as a DNS message (a UDP payload), and as one direction of a DNS-over-TCP
//! stream cut into chunks at input-chosen positions, with or without one input-chosen gap.
//!
//! Checks on the message parser:
//! * an error names an offset within the message (the header's errors offset 0);
//! * every resolution has names that are lowercase, printable ASCII, without a trailing dot,
//!   at most a CNAME chain long, and no more resolutions come out than the bytes can carry;
//! * parsing is deterministic, and bytes after a message that parsed change nothing (the
//!   parser never reads past the answer section);
//! * `DnsCounters::parse` counts exactly what `parse_message` returned.
//!
//! Checks on the TCP framing, against a model of RFC 1035 length-prefix framing written from
//! the module's description (a gap drops the message it falls into and resynchronises at the
//! next prefix when it ends inside that message; a gap that swallows a prefix, or eight
//! failed messages in a row, abandon the direction):
//! * the messages, parse errors, resolutions, gap drops and abandonments counted, and the
//!   resolutions handed out, are those of the model, however the stream is cut into chunks;
//! * a gap hands out nothing by itself, the per-chunk error counts add up to the parse
//!   errors, and the direction not fed is untouched.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use poolscope::dissect::dns::parser::MAX_CNAME_CHAIN;
use poolscope::dissect::dns::{parse_message, DnsCounters, DnsError, DnsResolution, DnsTcpStream};
use poolscope::flow::reassembly::Chunk;
use poolscope::flow::Direction;

/// Failed messages in a row after which a direction is abandoned.
const ERRORS_IN_A_ROW: u32 = 8;

fn check_message(bytes: &[u8]) {
    let r = parse_message(bytes);
    assert_eq!(format!("{r:?}"), format!("{:?}", parse_message(bytes)), "parsing twice differed");
    match &r {
        Err(DnsError::Truncated { offset, .. }) | Err(DnsError::Malformed { offset, .. }) => {
            assert!(*offset <= bytes.len(), "error at offset {offset} of {}", bytes.len());
        }
        Err(_) => {}
        Ok(found) => {
            assert!(found.len() <= bytes.len() / 4, "{} resolutions from {} bytes", found.len(), bytes.len());
            for res in found {
                check_resolution(res);
            }
            // Whatever follows the message is never read.
            for tail in [&b"\xc0\x0c\x00\x01\x00\x01"[..], &bytes[..bytes.len().min(40)], &[0xff; 64][..]] {
                let longer = [bytes, tail].concat();
                assert_eq!(
                    format!("{r:?}"),
                    format!("{:?}", parse_message(&longer)),
                    "bytes after the message changed its parse"
                );
            }
        }
    }
    let mut counters = DnsCounters::default();
    let mut out = Vec::new();
    let counted = counters.parse(bytes, &mut out);
    assert_eq!(counters.messages, 1);
    match (&r, counted) {
        (Ok(found), Ok(n)) => {
            assert_eq!(n, found.len());
            assert_eq!(counters.resolutions, n as u64);
            assert_eq!(counters.parse_errors, 0);
            assert_eq!(&out, found);
        }
        (Err(_), Err(_)) => {
            assert_eq!(counters.parse_errors, 1);
            assert!(out.is_empty());
        }
        _ => panic!("DnsCounters::parse disagrees with parse_message"),
    }
}

fn check_resolution(res: &DnsResolution) {
    assert!(!res.names.is_empty(), "a resolution without a name");
    // The queried name, up to MAX_CNAME_CHAIN links, and an HTTPS/SVCB target.
    assert!(res.names.len() <= MAX_CNAME_CHAIN + 2, "{} names", res.names.len());
    for n in &res.names {
        assert!(
            n.bytes().all(|b| (0x20..0x7f).contains(&b) && !b.is_ascii_uppercase()),
            "name not lowercase printable ASCII: {n:?}"
        );
        assert!(!n.ends_with('.') || n.ends_with("\\."), "trailing dot in {n:?}");
    }
}

/// Length-prefix framing of one direction, as the module describes it.
#[derive(Debug)]
enum Framing {
    InSync(Vec<u8>),
    Skip(u64),
    Abandoned,
}

#[derive(Debug, Default, PartialEq)]
struct Expect {
    messages: u64,
    parse_errors: u64,
    resolutions: Vec<DnsResolution>,
    gap_drops: u64,
    abandoned: u64,
}

struct Model {
    framing: Framing,
    in_a_row: u32,
    e: Expect,
}

impl Model {
    fn new() -> Self {
        Model {
            framing: Framing::InSync(Vec::new()),
            in_a_row: 0,
            e: Expect::default(),
        }
    }

    fn abandon(&mut self) {
        if let Framing::InSync(buf) = &self.framing {
            if !buf.is_empty() {
                self.e.gap_drops += 1;
            }
        }
        self.framing = Framing::Abandoned;
        self.e.abandoned += 1;
    }

    fn message(&mut self, body: &[u8]) {
        self.e.messages += 1;
        match parse_message(body) {
            Ok(found) => {
                self.e.resolutions.extend(found);
                self.in_a_row = 0;
            }
            Err(_) => {
                self.e.parse_errors += 1;
                self.in_a_row += 1;
                if self.in_a_row >= ERRORS_IN_A_ROW {
                    self.abandon();
                }
            }
        }
    }

    fn byte(&mut self, b: u8) {
        match &mut self.framing {
            Framing::Abandoned => {}
            Framing::Skip(left) => {
                *left -= 1;
                if *left == 0 {
                    self.framing = Framing::InSync(Vec::new());
                }
            }
            Framing::InSync(buf) => {
                buf.push(b);
                if buf.len() >= 2 && buf.len() == 2 + usize::from(u16::from_be_bytes([buf[0], buf[1]])) {
                    let frame = std::mem::take(buf);
                    self.message(&frame[2..]);
                }
            }
        }
    }

    fn gap(&mut self, missing: u64) {
        if missing == 0 {
            return;
        }
        let left = match &mut self.framing {
            Framing::Abandoned => return,
            Framing::Skip(left) => Some(*left),
            Framing::InSync(buf) if buf.len() >= 2 => {
                let total = 2 + u64::from(u16::from_be_bytes([buf[0], buf[1]]));
                let left = total - buf.len() as u64;
                buf.clear();
                self.e.gap_drops += 1;
                Some(left)
            }
            Framing::InSync(_) => None,
        };
        match left {
            Some(left) if missing < left => self.framing = Framing::Skip(left - missing),
            Some(left) if missing == left => self.framing = Framing::InSync(Vec::new()),
            _ => self.abandon(),
        }
    }
}

fn check_stream(u: &mut Unstructured<'_>, stream: &[u8]) -> Result<()> {
    // An optional gap [g0, g1) and the chunk cuts.
    let gap = if u.arbitrary()? {
        let g0 = u.int_in_range(0..=stream.len())?;
        let g1 = u.int_in_range(g0..=stream.len())?;
        let extra = if u.ratio(1, 4)? { u64::from(u.arbitrary::<u16>()?) } else { 0 };
        Some((g0, g1, extra))
    } else {
        None
    };
    let mut cuts = vec![0, stream.len()];
    while !u.is_empty() && cuts.len() < 64 {
        cuts.push(u.int_in_range(0..=stream.len())?);
    }
    if let Some((g0, g1, _)) = gap {
        cuts.extend([g0, g1]);
    }
    cuts.sort_unstable();
    cuts.dedup();

    let dir = Direction::ServerToClient;
    let mut s = DnsTcpStream::new();
    let mut out = Vec::new();
    let mut failed = 0u64;
    let mut m = Model::new();
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        if let Some((g0, g1, extra)) = gap {
            if a == g0 {
                // The gap, reported where it starts; its bytes are never fed. A gap past the
                // end of the bytes (`extra`) is allowed only at the very end.
                let missing = (g1 - g0) as u64 + if g1 == stream.len() { extra } else { 0 };
                let before = (out.len(), s.counters().messages, s.counters().resolutions);
                assert_eq!(s.on_chunk(dir, Chunk::Gap(missing), &mut out), 0);
                assert_eq!(before, (out.len(), s.counters().messages, s.counters().resolutions), "a gap handed out messages");
                m.gap(missing);
            }
            if a >= g0 && b <= g1 && g1 > g0 {
                continue;
            }
        }
        failed += s.on_chunk(dir, Chunk::Data(&stream[a..b]), &mut out) as u64;
        for &byte in &stream[a..b] {
            m.byte(byte);
        }
    }
    if let Some((g0, g1, extra)) = gap {
        if g0 == stream.len() && g1 == g0 {
            let missing = extra;
            s.on_chunk(dir, Chunk::Gap(missing), &mut out);
            m.gap(missing);
        }
    }
    let c = s.counters();
    let got = Expect {
        messages: c.messages,
        parse_errors: c.parse_errors,
        resolutions: out,
        gap_drops: c.gap_drops,
        abandoned: c.abandoned,
    };
    assert_eq!(got, m.e, "framing differs from the model");
    assert_eq!(c.resolutions, got.resolutions.len() as u64);
    assert_eq!(failed, c.parse_errors, "per-chunk error counts do not add up");
    assert_eq!(s.is_abandoned(dir), matches!(m.framing, Framing::Abandoned));
    assert!(!s.is_abandoned(dir.reverse()), "the other direction was abandoned");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    // The first byte says how much of the rest is the message; what follows drives the cuts.
    let n = rest.len() * usize::from(split) / 255;
    let (message, control) = rest.split_at(n);
    check_message(message);
    let _ = check_stream(&mut Unstructured::new(control), message);
});
