//! Per-flow DNS state: message counters, and the framing of DNS over TCP.
//!
//! Over TCP every DNS message is preceded by its length in two bytes (RFC 1035 §4.2.2). The
//! reassembler hands us each direction's bytes as ordered [`Chunk`]s that may split a message
//! anywhere, or report a gap. [`DnsTcpStream`] cuts each direction into messages, feeds them to
//! [`parse_message`] and counts what happened in [`DnsCounters`]. A gap drops the message it
//! falls into; when the gap ends inside that same message the stream resyncs exactly at the next
//! length prefix, and otherwise (the gap swallowed a length prefix) the direction stops: guessing
//! at a boundary could turn arbitrary bytes into a false name-to-address mapping.

use crate::flow::direction::Direction;
use crate::flow::reassembly::Chunk;

use super::parser::{parse_message, DnsError, DnsResolution};

/// Largest buffered message: the 2-byte prefix plus the largest length it can announce. Every
/// legal message fits, so framing never needs to give up for size.
const MAX_FRAME: usize = 2 + u16::MAX as usize;

/// After this many consecutive messages that fail to parse, a direction is taken not to be DNS
/// (a tunnel or another protocol on port 53) and is no longer parsed.
pub const MAX_CONSECUTIVE_ERRORS: u32 = 8;

/// What happened to the DNS messages of a flow (or of a whole capture, by [`DnsCounters::merge`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DnsCounters {
    /// Messages handed to [`parse_message`].
    pub messages: u64,
    /// Messages [`parse_message`] rejected.
    pub parse_errors: u64,
    /// Resolutions produced.
    pub resolutions: u64,
    /// Messages lost to a gap in the TCP stream.
    pub gap_drops: u64,
    /// TCP directions abandoned: a gap swallowed a length prefix, or too many messages in a
    /// row failed to parse.
    pub abandoned: u64,
}

impl DnsCounters {
    /// Parse one message with [`parse_message`], count the outcome and append its resolutions
    /// to `out`. Returns how many resolutions were appended.
    pub fn parse(&mut self, bytes: &[u8], out: &mut Vec<DnsResolution>) -> Result<usize, DnsError> {
        self.messages += 1;
        match parse_message(bytes) {
            Ok(found) => {
                let n = found.len();
                self.resolutions += n as u64;
                out.extend(found);
                Ok(n)
            }
            Err(e) => {
                self.parse_errors += 1;
                Err(e)
            }
        }
    }

    /// Add another set of counters to this one.
    pub fn merge(&mut self, other: &DnsCounters) {
        let DnsCounters {
            messages,
            parse_errors,
            resolutions,
            gap_drops,
            abandoned,
        } = other;
        self.messages += messages;
        self.parse_errors += parse_errors;
        self.resolutions += resolutions;
        self.gap_drops += gap_drops;
        self.abandoned += abandoned;
    }
}

/// Where one direction's framing stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// At, or inside, a message whose start we saw; partial bytes are in the buffer.
    InSync,
    /// A gap cut the current message; this many of its bytes are still to come and be dropped.
    Skip(u64),
    /// Message boundaries are unknown, or the direction is not DNS: ignore the rest.
    Abandoned,
}

/// One direction of a DNS-over-TCP stream.
#[derive(Debug, Clone)]
struct DirectionFramer {
    framing: Framing,
    /// The current message so far, length prefix included; never longer than [`MAX_FRAME`].
    partial: Vec<u8>,
    consecutive_errors: u32,
}

impl DirectionFramer {
    fn new() -> Self {
        Self {
            framing: Framing::InSync,
            partial: Vec::new(),
            consecutive_errors: 0,
        }
    }

    /// Total frame length (prefix included) once the prefix is known.
    fn frame_len(prefix: &[u8]) -> Option<usize> {
        match prefix {
            [hi, lo, ..] => Some(2 + usize::from(u16::from_be_bytes([*hi, *lo]))),
            _ => None,
        }
    }

    fn on_data(
        &mut self,
        mut data: &[u8],
        counters: &mut DnsCounters,
        out: &mut Vec<DnsResolution>,
    ) -> usize {
        let mut errors = 0;
        while !data.is_empty() {
            match self.framing {
                Framing::Abandoned => break,
                Framing::Skip(left) => {
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(data.len());
                    data = &data[n..];
                    let left = left - n as u64;
                    self.framing = if left == 0 {
                        Framing::InSync
                    } else {
                        Framing::Skip(left)
                    };
                }
                Framing::InSync => {
                    // Whole messages inside one chunk are parsed in place, without copying.
                    if self.partial.is_empty() {
                        if let Some(len) = Self::frame_len(data).filter(|&l| l <= data.len()) {
                            errors += self.deliver(&data[2..len], counters, out);
                            data = &data[len..];
                            continue;
                        }
                    }
                    let want = Self::frame_len(&self.partial).unwrap_or(2);
                    let n = (want - self.partial.len()).min(data.len());
                    self.partial.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if Self::frame_len(&self.partial) == Some(self.partial.len()) {
                        let frame = std::mem::take(&mut self.partial);
                        errors += self.deliver(&frame[2..], counters, out);
                        // Keep the allocation for the next message.
                        self.partial = frame;
                        self.partial.clear();
                    }
                }
            }
        }
        debug_assert!(self.partial.len() <= MAX_FRAME);
        errors
    }

    /// Parse one framed message; returns 1 if it failed, 0 otherwise.
    fn deliver(
        &mut self,
        message: &[u8],
        counters: &mut DnsCounters,
        out: &mut Vec<DnsResolution>,
    ) -> usize {
        if counters.parse(message, out).is_ok() {
            self.consecutive_errors = 0;
            return 0;
        }
        self.consecutive_errors += 1;
        if self.consecutive_errors >= MAX_CONSECUTIVE_ERRORS {
            self.abandon(counters);
        }
        1
    }

    fn on_gap(&mut self, missing: u64, counters: &mut DnsCounters) {
        if missing == 0 {
            return;
        }
        let resume = match self.framing {
            Framing::Abandoned => return,
            Framing::Skip(left) => left.checked_sub(missing),
            Framing::InSync => match Self::frame_len(&self.partial) {
                Some(len) => {
                    counters.gap_drops += 1;
                    let left = (len - self.partial.len()) as u64;
                    self.partial.clear();
                    left.checked_sub(missing)
                }
                // The gap holds (part of) a length prefix: the next boundary is unknowable.
                None => None,
            },
        };
        match resume {
            Some(0) => self.framing = Framing::InSync,
            Some(left) => self.framing = Framing::Skip(left),
            None => self.abandon(counters),
        }
    }

    fn abandon(&mut self, counters: &mut DnsCounters) {
        if !self.partial.is_empty() {
            counters.gap_drops += 1;
        }
        self.framing = Framing::Abandoned;
        self.partial = Vec::new();
        counters.abandoned += 1;
    }
}

/// DNS over TCP for one flow: per-direction framing by the 2-byte length prefix, across chunks.
///
/// Both directions are parsed (queries yield no resolutions but are counted); buffering is
/// bounded by one maximal message per direction (64 KiB + 2).
#[derive(Debug, Clone)]
pub struct DnsTcpStream {
    directions: [DirectionFramer; 2],
    counters: DnsCounters,
}

impl Default for DnsTcpStream {
    fn default() -> Self {
        Self::new()
    }
}

impl DnsTcpStream {
    /// A stream with both directions at a message boundary.
    pub fn new() -> Self {
        Self {
            directions: [DirectionFramer::new(), DirectionFramer::new()],
            counters: DnsCounters::default(),
        }
    }

    /// Feed the next chunk of one direction; resolutions of every message it completes are
    /// appended to `out`. Returns how many of those messages failed to parse (also counted in
    /// [`DnsTcpStream::counters`]).
    pub fn on_chunk(
        &mut self,
        dir: Direction,
        chunk: Chunk<'_>,
        out: &mut Vec<DnsResolution>,
    ) -> usize {
        let Self {
            directions,
            counters,
        } = self;
        let framer = &mut directions[dir.index()];
        match chunk {
            Chunk::Data(data) => framer.on_data(data, counters, out),
            Chunk::Gap(missing) => {
                framer.on_gap(missing, counters);
                0
            }
        }
    }

    /// What this stream has seen so far.
    pub fn counters(&self) -> &DnsCounters {
        &self.counters
    }

    /// Whether this direction has stopped being parsed (lost framing, or not DNS).
    pub fn is_abandoned(&self, dir: Direction) -> bool {
        self.directions[dir.index()].framing == Framing::Abandoned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dns::testdata::{self, frame, message};
    use Direction::{ClientToServer as C2S, ServerToClient as S2C};

    /// Feed `stream` to one direction of a fresh stream, cut at the given offsets.
    fn feed(dir: Direction, stream: &[u8], cuts: &[usize]) -> (DnsTcpStream, Vec<DnsResolution>) {
        let mut tcp = DnsTcpStream::new();
        let mut out = Vec::new();
        let mut start = 0;
        for &cut in cuts.iter().chain(std::iter::once(&stream.len())) {
            tcp.on_chunk(dir, Chunk::Data(&stream[start..cut]), &mut out);
            start = cut;
        }
        (tcp, out)
    }

    /// Three real responses framed back to back: dns.pcap 5, dns_ambiguous_names.pcap 6 and
    /// dns_fragmented.pcap 35.
    fn three_responses() -> (Vec<u8>, Vec<usize>, Vec<DnsResolution>) {
        let mut stream = Vec::new();
        let mut ends = Vec::new();
        let mut expected = Vec::new();
        for name in ["whatsapp_a", "skype_cname3", "erfpop_aaaa"] {
            let msg = message(name);
            expected.extend(parse_message(&msg).unwrap());
            stream.extend(frame(&msg));
            ends.push(stream.len());
        }
        (stream, ends, expected)
    }

    #[test]
    fn real_tcp_stream_both_directions() {
        // dns_fragmented.pcap tcp.stream 1 and 0: tshark decodes one DNSKEY query (54 bytes on
        // the wire) and one response (1732 bytes) without error, and no A/AAAA answer.
        for (c2s, s2c) in [
            (testdata::TCP_V4_C2S, testdata::TCP_V4_S2C),
            (testdata::TCP_V6_C2S, testdata::TCP_V6_S2C),
        ] {
            let (c2s, s2c) = (testdata::unhex(c2s), testdata::unhex(s2c));
            assert_eq!((c2s.len(), s2c.len()), (54, 1732));
            let mut tcp = DnsTcpStream::new();
            let mut out = Vec::new();
            assert_eq!(tcp.on_chunk(C2S, Chunk::Data(&c2s), &mut out), 0);
            assert_eq!(tcp.on_chunk(S2C, Chunk::Data(&s2c), &mut out), 0);
            assert!(out.is_empty());
            assert_eq!(
                *tcp.counters(),
                DnsCounters {
                    messages: 2,
                    ..DnsCounters::default()
                }
            );
        }
    }

    #[test]
    fn real_response_split_at_every_byte() {
        let s2c = testdata::unhex(testdata::TCP_V4_S2C);
        for cut in 0..=s2c.len() {
            let (tcp, out) = feed(S2C, &s2c, &[cut]);
            assert!(out.is_empty());
            assert_eq!(
                (tcp.counters().messages, tcp.counters().parse_errors),
                (1, 0)
            );
        }
    }

    #[test]
    fn framed_responses_split_at_every_byte_and_pair() {
        let (stream, _, expected) = three_responses();
        assert_eq!(expected.len(), 8 + 1 + 2);
        for cut in 0..=stream.len() {
            let (tcp, out) = feed(S2C, &stream, &[cut]);
            assert_eq!(out, expected, "cut at {cut}");
            assert_eq!(tcp.counters().messages, 3);
            assert_eq!(tcp.counters().resolutions, expected.len() as u64);
        }
        for a in (0..stream.len()).step_by(7) {
            for b in a..=stream.len() {
                assert_eq!(feed(S2C, &stream, &[a, b]).1, expected, "cuts {a}, {b}");
            }
        }
        let every: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(feed(S2C, &stream, &every).1, expected, "one byte at a time");
    }

    #[test]
    fn directions_are_framed_separately() {
        let query = frame(&message("whatsapp_query"));
        let (responses, _, expected) = three_responses();
        let mut tcp = DnsTcpStream::new();
        let mut out = Vec::new();
        // Interleave the directions, each cut mid-prefix and mid-message.
        tcp.on_chunk(C2S, Chunk::Data(&query[..1]), &mut out);
        tcp.on_chunk(S2C, Chunk::Data(&responses[..1]), &mut out);
        tcp.on_chunk(C2S, Chunk::Data(&query[1..10]), &mut out);
        tcp.on_chunk(S2C, Chunk::Data(&responses[1..100]), &mut out);
        tcp.on_chunk(C2S, Chunk::Data(&query[10..]), &mut out);
        tcp.on_chunk(S2C, Chunk::Data(&responses[100..]), &mut out);
        assert_eq!(out, expected);
        assert_eq!(tcp.counters().messages, 4);
        assert_eq!(tcp.counters().parse_errors, 0);
    }

    #[test]
    fn gap_inside_a_message_resyncs_at_the_next_one() {
        let (stream, ends, expected) = three_responses();
        let second = &expected[8..9];
        let third = &expected[9..];
        let mut want = expected[..8].to_vec();
        want.extend_from_slice(third);
        // Gaps that start after the second message's prefix and end inside it or at its end.
        for (from, to) in [
            (ends[0] + 2, ends[0] + 3),
            (ends[0] + 5, ends[1] - 1),
            (ends[0] + 2, ends[1]),
            (ends[1] - 1, ends[1]),
        ] {
            let mut tcp = DnsTcpStream::new();
            let mut out = Vec::new();
            tcp.on_chunk(S2C, Chunk::Data(&stream[..from]), &mut out);
            tcp.on_chunk(S2C, Chunk::Gap((to - from) as u64), &mut out);
            tcp.on_chunk(S2C, Chunk::Data(&stream[to..]), &mut out);
            assert_eq!(out, want, "gap {from}..{to}");
            assert!(!out.contains(&second[0]));
            assert_eq!(tcp.counters().gap_drops, 1);
            assert_eq!(tcp.counters().parse_errors, 0);
            assert!(!tcp.is_abandoned(S2C));
        }
        // Two gaps inside the same message.
        let mut tcp = DnsTcpStream::new();
        let mut out = Vec::new();
        let a = ends[0] + 4;
        tcp.on_chunk(S2C, Chunk::Data(&stream[..a]), &mut out);
        tcp.on_chunk(S2C, Chunk::Gap(10), &mut out);
        tcp.on_chunk(S2C, Chunk::Data(&stream[a + 10..a + 20]), &mut out);
        tcp.on_chunk(S2C, Chunk::Gap(5), &mut out);
        tcp.on_chunk(S2C, Chunk::Data(&stream[a + 25..]), &mut out);
        assert_eq!(out, want);
    }

    #[test]
    fn gap_over_a_length_prefix_abandons_the_direction() {
        let (stream, ends, expected) = three_responses();
        // At a boundary, across a boundary, and after one byte of a prefix.
        for (from, to) in [
            (ends[0], ends[0] + 10),
            (ends[0] + 10, ends[1] + 3),
            (ends[0] + 1, ends[0] + 3),
        ] {
            let mut tcp = DnsTcpStream::new();
            let mut out = Vec::new();
            tcp.on_chunk(S2C, Chunk::Data(&stream[..from]), &mut out);
            tcp.on_chunk(S2C, Chunk::Gap((to - from) as u64), &mut out);
            tcp.on_chunk(S2C, Chunk::Data(&stream[to..]), &mut out);
            assert_eq!(out, expected[..8], "gap {from}..{to}");
            assert!(tcp.is_abandoned(S2C));
            assert!(!tcp.is_abandoned(C2S));
            assert_eq!(tcp.counters().abandoned, 1);
        }
        // A stream whose capture starts mid-way.
        let mut tcp = DnsTcpStream::new();
        let mut out = Vec::new();
        tcp.on_chunk(S2C, Chunk::Gap(1), &mut out);
        tcp.on_chunk(S2C, Chunk::Data(&stream[1..]), &mut out);
        assert!(out.is_empty());
        // An empty gap changes nothing.
        let mut tcp = DnsTcpStream::new();
        tcp.on_chunk(S2C, Chunk::Gap(0), &mut out);
        tcp.on_chunk(S2C, Chunk::Data(&stream), &mut out);
        assert_eq!(out, expected);
    }

    #[test]
    fn errors_are_counted_and_a_non_dns_direction_is_abandoned() {
        let truncated = message("whatsapp_a");
        let mut stream = frame(&truncated[..truncated.len() - 3]);
        stream.extend(frame(&message("skype_cname3")));
        let (tcp, out) = feed(S2C, &stream, &[]);
        assert_eq!(out.len(), 1);
        assert_eq!(tcp.counters().parse_errors, 1);

        // Length-prefixed junk, then a real message: after MAX_CONSECUTIVE_ERRORS failures in a
        // row the direction is no longer parsed.
        let mut tcp = DnsTcpStream::new();
        let mut out = Vec::new();
        let junk = frame(b"\xffnot dns at all");
        let mut errors = 0;
        for _ in 0..MAX_CONSECUTIVE_ERRORS {
            errors += tcp.on_chunk(C2S, Chunk::Data(&junk), &mut out);
        }
        assert_eq!(errors, MAX_CONSECUTIVE_ERRORS as usize);
        assert!(tcp.is_abandoned(C2S));
        let real = frame(&message("skype_cname3"));
        assert_eq!(tcp.on_chunk(C2S, Chunk::Data(&real), &mut out), 0);
        assert!(out.is_empty());
        assert_eq!(
            tcp.counters().parse_errors,
            u64::from(MAX_CONSECUTIVE_ERRORS)
        );
    }

    #[test]
    fn largest_frame_is_buffered_and_empty_frames_are_errors() {
        let mut tcp = DnsTcpStream::new();
        let mut out = Vec::new();
        let mut big = vec![0xff, 0xff];
        big.resize(MAX_FRAME, 0);
        for piece in big.chunks(1000) {
            tcp.on_chunk(S2C, Chunk::Data(piece), &mut out);
        }
        assert_eq!(tcp.counters().messages, 1);
        assert!(tcp.directions[S2C.index()].partial.capacity() <= 2 * MAX_FRAME);
        assert_eq!(tcp.on_chunk(S2C, Chunk::Data(&[0, 0]), &mut out), 1);
        assert_eq!(tcp.counters().messages, 2);
    }

    #[test]
    fn counters_merge() {
        let mut total = DnsCounters::default();
        let mut out = Vec::new();
        let mut one = DnsCounters::default();
        one.parse(&message("whatsapp_a"), &mut out).unwrap();
        one.parse(&[1, 2, 3], &mut out).unwrap_err();
        total.merge(&one);
        total.merge(&one);
        assert_eq!(
            total,
            DnsCounters {
                messages: 4,
                parse_errors: 2,
                resolutions: 16,
                ..DnsCounters::default()
            }
        );
    }
}
