//! Feeds the QUIC Initial reader a flow of datagrams cut from the input: each datagram is a
//! direction byte (even: client to server), a two-byte length, then that many bytes.
//!
//! Checks: no panic; a ClientHello or ServerHello is only ever read from a flow whose
//! version has known Initial keys; hellos once read stay; after `wants_more` turns false
//! nothing changes; the packet parser never reports a packet longer than its datagram.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolscope::dissect::quic::{long_header, QuicDissector};
use poolscope::flow::Direction;

fuzz_target!(|data: &[u8]| {
    let mut q = QuicDissector::new();
    let mut rest = data;
    while rest.len() >= 3 {
        let dir = if rest[0] % 2 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let d = &rest[3..3 + len];
        rest = &rest[3 + len..];
        if let Some(h) = long_header(d) {
            assert!(h.packet_len <= d.len() && h.pn_offset <= h.packet_len);
        }
        let before = (q.client_hello().cloned(), q.server_hello().cloned(), q.wants_more());
        q.on_datagram(dir, d);
        if before.0.is_some() {
            assert_eq!(q.client_hello().cloned(), before.0, "a ClientHello changed");
        }
        if before.1.is_some() {
            assert_eq!(q.server_hello().cloned(), before.1, "a ServerHello changed");
        }
        if !before.2 {
            assert!(!q.wants_more());
        }
        if q.client_hello().is_some() || q.server_hello().is_some() {
            assert!(q.version().is_some());
        }
    }
});
