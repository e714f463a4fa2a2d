//! Any bytes as the two reassembled directions of a TLS connection, cut into chunks at
//! positions the input chooses, with gaps: the TLS dissector (records, handshake messages,
//! hellos, certificates, fingerprints) must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolscope::dissect::tls::TlsDissector;
use poolscope::flow::reassembly::Chunk;
use poolscope::flow::Direction;

fuzz_target!(|data: &[u8]| {
    let mut d = TlsDissector::new();
    let mut rest = data;
    // Each step: a control byte (direction, gap or not, chunk length), then the chunk.
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 0x80 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        if ctl & 0x40 != 0 && ctl & 0x3f == 0 {
            d.on_chunk(dir, Chunk::Gap(17));
            rest = tail;
            continue;
        }
        let n = ((ctl & 0x3f) as usize * 8 + 1).min(tail.len());
        d.on_chunk(dir, Chunk::Data(&tail[..n]));
        rest = &tail[n..];
        if !d.wants_more() {
            break;
        }
    }
    let _ = d.info();
});
