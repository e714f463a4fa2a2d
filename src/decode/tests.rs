//! Decoder tests over frames built byte by byte (and with etherparse's builder, which is an
//! independent encoder of the same headers).

use super::*;
use etherparse::PacketBuilder;

const MAC_A: [u8; 6] = [0, 1, 2, 3, 4, 5];
const MAC_B: [u8; 6] = [6, 7, 8, 9, 10, 11];

fn tcp_v4(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
        .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
        .tcp(40000, 3333, 1000, 65535)
        .syn();
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

fn ip_tcp_v4(payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64).tcp(1234, 443, 7, 100);
    let mut v = Vec::new();
    b.write(&mut v, payload).unwrap();
    v
}

/// src, dst, transport, ip_len, captured payload, declared payload length, tunnel depth
type Decoded = (IpAddr, IpAddr, Transport, u32, Vec<u8>, u32, u8);

fn decode_one(linktype: u16, frame: &[u8]) -> Result<Decoded, Skip> {
    let mut d = Decoder::new();
    d.decode(linktype, frame, 0).map(|p| {
        (
            p.src,
            p.dst,
            p.transport,
            p.ip_len,
            p.payload.to_vec(),
            p.payload_len,
            p.tunnel_depth,
        )
    })
}

#[test]
fn ethernet_ipv4_tcp() {
    let f = tcp_v4(b"hello");
    let (src, dst, t, ip_len, payload, plen, depth) = decode_one(linktype::ETHERNET, &f).unwrap();
    assert_eq!(src, "10.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!(dst, "10.0.0.2".parse::<IpAddr>().unwrap());
    match t {
        Transport::Tcp(h) => {
            assert_eq!((h.src_port, h.dst_port, h.seq), (40000, 3333, 1000));
            assert_eq!(h.flags & tcp_flags::SYN, tcp_flags::SYN);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(ip_len, 20 + 20 + 5);
    assert_eq!(payload, b"hello");
    assert_eq!(plen, 5);
    assert_eq!(depth, 0);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut f = tcp_v4(b"");
    f.extend_from_slice(&[0u8; 6]); // 54-byte frame padded to the 60-byte minimum
    let (_, _, _, ip_len, payload, plen, _) = decode_one(linktype::ETHERNET, &f).unwrap();
    assert_eq!((ip_len, payload.len(), plen), (40, 0, 0));
}

#[test]
fn snaplen_cut_keeps_declared_lengths() {
    let f = tcp_v4(&[b'x'; 1000]);
    let cut = &f[..14 + 20 + 20 + 10];
    let (_, _, _, ip_len, payload, plen, _) = decode_one(linktype::ETHERNET, cut).unwrap();
    assert_eq!(ip_len, 1040);
    assert_eq!(plen, 1000);
    assert_eq!(payload.len(), 10);
}

#[test]
fn vlan_and_qinq() {
    let single = {
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
            .single_vlan(etherparse::VlanId::try_new(42).unwrap())
            .ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64)
            .udp(5353, 53);
        let mut v = Vec::new();
        b.write(&mut v, b"q").unwrap();
        v
    };
    let (src, _, t, ..) = decode_one(linktype::ETHERNET, &single).unwrap();
    assert_eq!(src, "1.1.1.1".parse::<IpAddr>().unwrap());
    assert_eq!(
        t,
        Transport::Udp {
            src_port: 5353,
            dst_port: 53
        }
    );
    let double = {
        let b = PacketBuilder::ethernet2(MAC_A, MAC_B)
            .double_vlan(
                etherparse::VlanId::try_new(1).unwrap(),
                etherparse::VlanId::try_new(2).unwrap(),
            )
            .ipv6([1; 16], [2; 16], 64)
            .udp(1000, 2000);
        let mut v = Vec::new();
        b.write(&mut v, b"abc").unwrap();
        v
    };
    let (src, _, t, ip_len, payload, ..) = decode_one(linktype::ETHERNET, &double).unwrap();
    assert!(src.is_ipv6());
    assert_eq!(
        t,
        Transport::Udp {
            src_port: 1000,
            dst_port: 2000
        }
    );
    assert_eq!(ip_len, 40 + 8 + 3);
    assert_eq!(payload, b"abc");
}

#[test]
fn raw_null_loop_sll_sll2_ppp() {
    let ip = ip_tcp_v4(b"data");
    assert!(decode_one(linktype::RAW, &ip).is_ok());
    assert!(decode_one(linktype::IPV4, &ip).is_ok());
    let mut null = vec![2, 0, 0, 0];
    null.extend_from_slice(&ip);
    assert!(decode_one(linktype::NULL, &null).is_ok());
    let mut null_be = vec![0, 0, 0, 2];
    null_be.extend_from_slice(&ip);
    assert!(decode_one(linktype::NULL, &null_be).is_ok());
    let mut lo = vec![0, 0, 0, 2];
    lo.extend_from_slice(&ip);
    assert!(decode_one(linktype::LOOP, &lo).is_ok());
    // SLL: packet type, ARPHRD (1 = Ethernet), addr len, 8-byte addr, protocol.
    let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    let (_, _, _, _, payload, ..) = decode_one(linktype::LINUX_SLL, &sll).unwrap();
    assert_eq!(payload, b"data");
    // SLL2: protocol, reserved, ifindex, ARPHRD, packet type, addr len, 8-byte addr.
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    assert!(decode_one(linktype::LINUX_SLL2, &sll2).is_ok());
    let mut ppp = vec![0xff, 0x03, 0x00, 0x21];
    ppp.extend_from_slice(&ip);
    assert!(decode_one(linktype::PPP, &ppp).is_ok());
}

#[test]
fn skips_are_named() {
    assert_eq!(
        decode_one(999, &[0; 60]).unwrap_err(),
        Skip::UnsupportedLinkType
    );
    // ARP
    let mut arp = vec![0u8; 12];
    arp.extend_from_slice(&[0x08, 0x06]);
    arp.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    arp.extend_from_slice(&[0u8; 20]);
    assert_eq!(
        decode_one(linktype::ETHERNET, &arp).unwrap_err(),
        Skip::NonIp
    );
    // ICMP
    let icmp = {
        let b = PacketBuilder::ipv4([1, 1, 1, 1], [2, 2, 2, 2], 64).icmpv4_echo_request(1, 1);
        let mut v = Vec::new();
        b.write(&mut v, b"ping").unwrap();
        v
    };
    assert_eq!(
        decode_one(linktype::RAW, &icmp).unwrap_err(),
        Skip::OtherTransport
    );
    // IPv4 header cut in half
    let ip = ip_tcp_v4(b"x");
    assert_eq!(
        decode_one(linktype::RAW, &ip[..10]).unwrap_err(),
        Skip::Truncated
    );
    // TCP header cut
    assert_eq!(
        decode_one(linktype::RAW, &ip[..30]).unwrap_err(),
        Skip::Truncated
    );
}

#[test]
fn gre_vxlan_ipip_are_opened() {
    let inner = ip_tcp_v4(b"inner");
    // GRE with key, carrying IPv4.
    let mut gre_payload = vec![0x20, 0x00, 0x08, 0x00, 0, 0, 0, 7];
    gre_payload.extend_from_slice(&inner);
    let outer = raw_ipv4_with_proto(47, &gre_payload);
    let (src, _, _, ip_len, payload, _, depth) = decode_one(linktype::RAW, &outer).unwrap();
    assert_eq!(src, "192.168.0.1".parse::<IpAddr>().unwrap());
    assert_eq!((ip_len, depth), (inner.len() as u32, 1));
    assert_eq!(payload, b"inner");
    // IP-in-IP
    let outer = raw_ipv4_with_proto(4, &inner);
    assert_eq!(decode_one(linktype::RAW, &outer).unwrap().6, 1);
    // VXLAN: UDP to 4789, 8-byte header with the I flag, then Ethernet.
    let eth = tcp_v4(b"vx");
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    vx.extend_from_slice(&eth);
    let outer = {
        let b = PacketBuilder::ipv4([9, 9, 9, 9], [8, 8, 8, 8], 64).udp(50000, 4789);
        let mut v = Vec::new();
        b.write(&mut v, &vx).unwrap();
        v
    };
    let (src, _, _, _, payload, _, depth) = decode_one(linktype::RAW, &outer).unwrap();
    assert_eq!(src, "10.0.0.1".parse::<IpAddr>().unwrap());
    assert_eq!((payload.as_slice(), depth), (&b"vx"[..], 1));
    // PPTP's enhanced GRE is not opened, and says so.
    let mut pptp = vec![0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0];
    pptp.extend_from_slice(&[0xff, 0x03, 0, 0x21]);
    let outer = raw_ipv4_with_proto(47, &pptp);
    assert_eq!(
        decode_one(linktype::RAW, &outer).unwrap_err(),
        Skip::UnsupportedTunnel
    );
}

#[test]
fn nested_tunnels_stop_at_the_depth_limit() {
    let mut pkt = ip_tcp_v4(b"deep");
    for _ in 0..(MAX_TUNNEL_DEPTH + 1) {
        pkt = raw_ipv4_with_proto(4, &pkt);
    }
    assert_eq!(
        decode_one(linktype::RAW, &pkt).unwrap_err(),
        Skip::UnsupportedTunnel
    );
}

#[test]
fn ipv4_fragments_are_reassembled_not_misattributed() {
    // A UDP datagram of 8 + 40 bytes split into two fragments at offset 24 (multiple of 8).
    let udp_payload: Vec<u8> = (0u8..40).collect();
    let full = {
        let b = PacketBuilder::ipv4([1, 2, 3, 4], [5, 6, 7, 8], 64).udp(1111, 2222);
        let mut v = Vec::new();
        b.write(&mut v, &udp_payload).unwrap();
        v
    };
    let l4 = &full[20..];
    let frag = |offset_units: u16, more: bool, body: &[u8]| {
        let mut h = full[..20].to_vec();
        let total = (20 + body.len()) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
        let ff = offset_units | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&ff.to_be_bytes());
        h[10] = 0;
        h[11] = 0;
        h.extend_from_slice(body);
        h
    };
    let f1 = frag(0, true, &l4[..24]);
    let f2 = frag(3, false, &l4[24..]);
    let mut d = Decoder::new();
    assert_eq!(
        d.decode(linktype::RAW, &f1, 0).unwrap_err(),
        Skip::FragmentHeld
    );
    let p = d.decode(linktype::RAW, &f2, 1).unwrap();
    assert_eq!(
        p.transport,
        Transport::Udp {
            src_port: 1111,
            dst_port: 2222
        }
    );
    assert_eq!(p.payload, &udp_payload[..]);
    assert_eq!(p.payload_len, 40);
    assert_eq!(p.ip_len, 20 + 48);
    assert_eq!(d.stats.fragments, 2);
    assert_eq!(d.stats.reassembled, 1);
    // A lone trailing fragment never becomes a packet of its own.
    let mut d = Decoder::new();
    assert!(d.decode(linktype::RAW, &f2, 0).is_err());
}

#[test]
fn no_panic_on_any_prefix_or_garbage() {
    let frames = [tcp_v4(b"payload"), ip_tcp_v4(b"x")];
    let mut d = Decoder::new();
    for lt in [
        linktype::ETHERNET,
        linktype::RAW,
        linktype::LINUX_SLL,
        linktype::NULL,
        linktype::PPP,
        linktype::LINUX_SLL2,
    ] {
        for f in &frames {
            for n in 0..=f.len() {
                let _ = d.decode(lt, &f[..n], 0);
            }
        }
    }
    let mut x: u32 = 12345;
    for _ in 0..2000 {
        let mut buf = vec![0u8; (x % 200) as usize];
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        let _ = d.decode(linktype::RAW, &buf, 0);
        let _ = d.decode(linktype::ETHERNET, &buf, 0);
    }
}

/// An IPv4 header (no options) with protocol `proto` around `payload`.
fn raw_ipv4_with_proto(proto: u8, payload: &[u8]) -> Vec<u8> {
    let total = (20 + payload.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&[172, 16, 0, 1, 172, 16, 0, 2]);
    h.extend_from_slice(payload);
    h
}

#[test]
fn pppoe_and_mpls_are_opened() {
    let ip = ip_tcp_v4(b"shim");
    let mut pppoe = MAC_A.to_vec();
    pppoe.extend_from_slice(&MAC_B);
    pppoe.extend_from_slice(&[0x88, 0x64, 0x11, 0x00, 0x00, 0x01]);
    pppoe.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
    pppoe.extend_from_slice(&[0x00, 0x21]);
    pppoe.extend_from_slice(&ip);
    let (_, _, _, _, payload, ..) = decode_one(linktype::ETHERNET, &pppoe).unwrap();
    assert_eq!(payload, b"shim");
    // Two MPLS labels, the second with the bottom-of-stack bit.
    let mut mpls = MAC_A.to_vec();
    mpls.extend_from_slice(&MAC_B);
    mpls.extend_from_slice(&[0x88, 0x47, 0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40]);
    mpls.extend_from_slice(&ip);
    let (_, _, _, _, payload, ..) = decode_one(linktype::ETHERNET, &mpls).unwrap();
    assert_eq!(payload, b"shim");
}
