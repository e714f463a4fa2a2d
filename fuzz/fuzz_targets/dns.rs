//! Any bytes as a DNS message (UDP) and as a DNS-over-TCP stream cut at every position the
//! input picks: parsing and framing must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolscope::dissect::dns::{parse_message, DnsTcpStream};
use poolscope::flow::reassembly::Chunk;
use poolscope::flow::Direction;

fuzz_target!(|data: &[u8]| {
    let _ = parse_message(data);
    let Some((&cut, body)) = data.split_first() else { return };
    let cut = (cut as usize).min(body.len());
    let mut s = DnsTcpStream::new();
    let mut out = Vec::new();
    s.on_chunk(Direction::ServerToClient, Chunk::Data(&body[..cut]), &mut out);
    if cut % 3 == 0 {
        s.on_chunk(Direction::ServerToClient, Chunk::Gap(cut as u64 + 1), &mut out);
    }
    s.on_chunk(Direction::ServerToClient, Chunk::Data(&body[cut..]), &mut out);
});
