//! QUIC Initial tests: the key schedules against the RFCs' own test vectors, header parsing,
//! frames and CRYPTO reassembly.

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// RFC 9001 appendix A.1: the Initial keys of DCID 0x8394c8f03e515708.
#[test]
fn v1_initial_keys_match_rfc9001() {
    let dcid = hex("8394c8f03e515708");
    let c = InitialKeys::derive(VERSION_1, &dcid, false).unwrap();
    assert_eq!(c.key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
    assert_eq!(c.iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
    assert_eq!(c.hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
    let s = InitialKeys::derive(VERSION_1, &dcid, true).unwrap();
    assert_eq!(s.key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
    assert_eq!(s.iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
    assert_eq!(s.hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
}

/// RFC 9369 appendix A.1: the same DCID under QUIC v2.
#[test]
fn v2_initial_keys_match_rfc9369() {
    let dcid = hex("8394c8f03e515708");
    let c = InitialKeys::derive(VERSION_2, &dcid, false).unwrap();
    assert_eq!(c.key.to_vec(), hex("8b1a0bc121284290a29e0971b5cd045d"));
    assert_eq!(c.iv.to_vec(), hex("91f73e2351d8fa91660e909f"));
    assert_eq!(c.hp.to_vec(), hex("45b95e15235d6f45a6b19cbcb0294ba9"));
    let s = InitialKeys::derive(VERSION_2, &dcid, true).unwrap();
    assert_eq!(s.key.to_vec(), hex("82db637861d55e1d011f19ea71d5d2a7"));
    assert_eq!(s.iv.to_vec(), hex("dd13c276499c0249d3310652"));
    assert_eq!(s.hp.to_vec(), hex("edf6d05c83121201b436e16877593c3a"));
    // Google QUIC T050 uses a salt no RFC publishes: not read.
    assert!(InitialKeys::derive(0x5430_3530, &dcid, false).is_none());
}

/// RFC 9001 appendix A.2: header protection of the client Initial (sample
/// d1b1c98dd7689fb8ec11d242b123dc9b gives mask 437b9aec36).
#[test]
fn header_protection_mask_matches_rfc9001() {
    let c = InitialKeys::derive(VERSION_1, &hex("8394c8f03e515708"), false).unwrap();
    let hp = HeaderProtectionKey::new(&AES_128, &c.hp).unwrap();
    let mask = hp
        .new_mask(&hex("d1b1c98dd7689fb8ec11d242b123dc9b"))
        .unwrap();
    assert_eq!(mask.to_vec(), hex("437b9aec36"));
}

#[test]
fn varints_of_every_length() {
    // RFC 9000 appendix A.1 examples.
    assert_eq!(
        varint(&hex("c2197c5eff14e88c")),
        Some((151_288_809_941_952_652, 8))
    );
    assert_eq!(varint(&hex("9d7f3e7d")), Some((494_878_333, 4)));
    assert_eq!(varint(&hex("7bbd")), Some((15_293, 2)));
    assert_eq!(varint(&hex("25")), Some((37, 1)));
    assert_eq!(varint(&hex("7b")), None);
}

/// The protected client Initial header of RFC 9001 appendix A.2 (first bytes).
#[test]
fn long_header_of_the_rfc_client_initial() {
    let mut d = hex("c000000001088394c8f03e5157080000449e7b9aec34");
    // Length 0x449e is a two-byte varint: 0x049e = 1182 bytes after it, 1200 in all.
    d.resize(1200, 0);
    let h = long_header(&d).unwrap();
    assert_eq!(h.version, VERSION_1);
    assert_eq!(h.kind, PacketKind::Initial);
    assert_eq!(h.dcid, &hex("8394c8f03e515708")[..]);
    assert!(h.scid.is_empty());
    assert_eq!(h.pn_offset, 18);
    assert_eq!(h.packet_len, 1200);
    // Short headers, version negotiation and truncated headers are not long headers.
    assert!(long_header(&hex("40aabbcc")).is_none());
    assert!(long_header(&hex("c000000000")).is_none());
    assert!(long_header(&d[..20]).is_none());
}

#[test]
fn crypto_frames_among_padding_ping_and_ack() {
    // PING, ACK (largest 5, delay 0, 0 more ranges, first range 1), CRYPTO at 0 of "abc",
    // PADDING.
    let plain = hex("01 02 05 00 00 01 06 00 03 616263 00 00");
    assert_eq!(crypto_frames(&plain), Some(vec![(0, &b"abc"[..])]));
    // A STREAM frame has no place in an Initial packet.
    assert_eq!(crypto_frames(&hex("08 00 00")), None);
}

#[test]
fn crypto_stream_reassembles_out_of_order_pieces() {
    let mut s = CryptoStream::default();
    s.add(4, b"efgh");
    assert!(s.data.is_empty());
    s.add(0, b"abcd");
    assert_eq!(s.data, b"abcdefgh");
    s.add(2, b"cdefghij");
    assert_eq!(s.data, b"abcdefghij");
}

#[test]
fn a_flow_that_does_not_start_with_a_client_initial_is_not_quic() {
    let mut q = QuicDissector::new();
    q.on_datagram(Direction::ClientToServer, b"\x12\x34 DNS or anything");
    assert!(!q.wants_more());
    assert_eq!(q.version(), None);
}
