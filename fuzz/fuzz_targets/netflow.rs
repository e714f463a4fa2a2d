//! Feeds any bytes as NetFlow v5/v9 and IPFIX export datagrams: once whole, then split the way
//! `.dat` dumps are split by their length fields, through one decoder so templates from one
//! datagram serve data in the next.
//!
//! Checks:
//! * `datagram_len` gives a length of at least a header and within the bytes; a datagram that
//!   `looks_like_export` is exactly as long as its header says;
//! * the summary adds up: one datagram counted per call, every decoded data record either
//!   handed out or counted as having no addresses, no more held data sets resolved than held;
//! * every record handed out names the exporter it came from (port aside), the version of its
//!   datagram, finite times with the end not before the start;
//! * decoding is deterministic: a second decoder fed the same datagrams hands out the same
//!   records and summary;
//! * templates are scoped by exporter: the same datagrams interleaved with copies sent by
//!   another exporter give, for the first exporter, the same records as before.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolscope::netflow::export::{datagram_len, looks_like_export};
use poolscope::netflow::{ExportRecord, NetflowDecoder};
use std::net::SocketAddr;

fn datagrams(data: &[u8]) -> Vec<&[u8]> {
    let mut out = vec![data];
    let mut rest = data;
    while let Ok(n) = datagram_len(rest) {
        assert!(n >= 4 && n <= rest.len(), "datagram_len {n} of {} bytes", rest.len());
        out.push(&rest[..n]);
        rest = &rest[n..];
    }
    out
}

fn decode(
    d: &mut NetflowDecoder,
    from: SocketAddr,
    dgram: &[u8],
    out: &mut Vec<ExportRecord>,
) {
    let before = d.summary.clone();
    let start = out.len();
    d.decode_datagram(from, dgram, &mut |r| out.push(r));
    let s = &d.summary;
    assert_eq!(s.datagrams, before.datagrams + 1, "datagram not counted once");
    let decoded = s.decoded_records() - before.decoded_records();
    let handed = (out.len() - start) as u64;
    let without = s.without_addresses - before.without_addresses;
    assert_eq!(decoded, handed + without, "{decoded} records decoded, {handed} handed out, {without} without addresses");
    assert!(s.pending_resolved <= s.pending_sets, "more held sets resolved than held");
    let version = dgram.get(..2).map(|v| u16::from_be_bytes([v[0], v[1]]));
    for r in &out[start..] {
        assert_eq!(r.exporter, from.ip(), "record from another exporter");
        assert_eq!(Some(r.version), version, "record of another version");
        assert!(r.first.is_finite() && r.last.is_finite(), "times {} {}", r.first, r.last);
        assert!(r.last >= r.first, "ends at {} before it starts at {}", r.last, r.first);
    }
}

fuzz_target!(|data: &[u8]| {
    if looks_like_export(data) {
        assert_eq!(datagram_len(data), Ok(data.len()), "an export whose header disagrees with its length");
    }
    let dgrams = datagrams(data);
    let a: SocketAddr = "192.0.2.1:2055".parse().unwrap();
    let b: SocketAddr = "198.51.100.9:2055".parse().unwrap();

    let mut d = NetflowDecoder::new();
    let mut recs = Vec::new();
    for g in &dgrams {
        decode(&mut d, a, g, &mut recs);
    }

    let mut again = NetflowDecoder::new();
    let mut recs2 = Vec::new();
    for g in &dgrams {
        again.decode_datagram(a, g, &mut |r| recs2.push(r));
    }
    assert_eq!(format!("{recs:?}"), format!("{recs2:?}"), "decoding again differed");
    assert_eq!(format!("{:?}", d.summary), format!("{:?}", again.summary));

    let mut mixed = NetflowDecoder::new();
    let mut recs3 = Vec::new();
    for g in &dgrams {
        decode(&mut mixed, b, g, &mut recs3);
        decode(&mut mixed, a, g, &mut recs3);
    }
    let from_a: Vec<&ExportRecord> = recs3.iter().filter(|r| r.exporter == a.ip()).collect();
    assert_eq!(
        format!("{:?}", recs.iter().collect::<Vec<_>>()),
        format!("{from_a:?}"),
        "another exporter's datagrams changed this exporter's records"
    );
});
