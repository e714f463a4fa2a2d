//! Any bytes as NetFlow/IPFIX export datagrams: once alone, then split the way `.dat` dumps
//! are split, through one decoder so templates from one datagram meet data in the next.
#![no_main]
use libfuzzer_sys::fuzz_target;
use poolscope::netflow::export::{datagram_len, looks_like_export};
use poolscope::netflow::NetflowDecoder;

fuzz_target!(|data: &[u8]| {
    let from = "192.0.2.1:2055".parse().unwrap();
    let mut d = NetflowDecoder::new();
    let _ = looks_like_export(data);
    d.decode_datagram(from, data, &mut |_| {});
    let mut rest = data;
    while let Ok(n) = datagram_len(rest) {
        d.decode_datagram(from, &rest[..n], &mut |_| {});
        rest = &rest[n..];
    }
});
