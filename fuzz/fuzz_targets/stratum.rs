//! Any bytes as the two directions of a mining-protocol connection (Stratum lines, HTTP
//! getwork/getblocktemplate), cut into chunks at positions the input chooses, with gaps: the
//! dissector must never panic and must stay within its memory bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolscope::dissect::stratum::StratumDissector;
use poolscope::flow::reassembly::Chunk;
use poolscope::flow::Direction;

fuzz_target!(|data: &[u8]| {
    let mut d = StratumDissector::new();
    let mut rest = data;
    let mut ts = 0.0;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 0x80 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        ts += 0.5;
        if ctl & 0x40 != 0 && ctl & 0x3f == 0 {
            d.on_chunk(dir, Chunk::Gap(9), ts);
            rest = tail;
            continue;
        }
        let n = ((ctl & 0x3f) as usize * 8 + 1).min(tail.len());
        d.on_chunk(dir, Chunk::Data(&tail[..n]), ts);
        rest = &tail[n..];
    }
    let _ = d.info();
});
