//! Packet decoding: a captured frame becomes an IP/TCP/UDP view over borrowed bytes.
//!
//! Layer by layer: link (Ethernet with 802.1Q/QinQ, PPPoE and MPLS, Linux cooked SLL/SLL2, BSD
//! null/loopback, PPP, raw IP) → IPv4/IPv6 with extension headers → TCP or UDP. Tunnels are opened (GRE with
//! ERSPAN II/III and transparent Ethernet bridging, IP-in-IP, 6in4/4in6, VXLAN, Geneve, GTP-U)
//! so the flow of interest is the inner one. IPv4 and IPv6 fragments are reassembled in a
//! bounded pool; a fragment is never attributed to a flow by itself. Lengths come from the IP
//! headers, so a frame cut by the snap length still counts its full size on the wire.
//! `etherparse` does the header work; this module adds link types, tunnels and accounting.

use etherparse::defrag::IpDefragPool;
use etherparse::{
    EtherType, IpNumber, LaxNetSlice, LaxSlicedPacket, SlicedPacket, TcpSlice, UdpSlice,
};
use std::net::IpAddr;

/// pcap link types this decoder understands.
pub mod linktype {
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    pub const NULL: u16 = 0;
    /// Ethernet II.
    pub const ETHERNET: u16 = 1;
    /// PPP with its 2-byte protocol field (optionally after an HDLC 0xff03).
    pub const PPP: u16 = 9;
    /// Raw IP on some BSDs.
    pub const RAW_BSD: u16 = 12;
    /// Raw IP on some BSDs.
    pub const RAW_BSD14: u16 = 14;
    /// PPP in HDLC-like framing.
    pub const PPP_HDLC: u16 = 50;
    /// Raw IPv4 or IPv6.
    pub const RAW: u16 = 101;
    /// OpenBSD loopback: 4-byte address family in network byte order.
    pub const LOOP: u16 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: u16 = 113;
    /// Raw IPv4.
    pub const IPV4: u16 = 228;
    /// Raw IPv6.
    pub const IPV6: u16 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: u16 = 276;
}

/// How deep tunnels may nest before a packet is given up (guards against crafted loops).
const MAX_TUNNEL_DEPTH: u8 = 4;
/// Fragment trains kept at once; beyond this the pool is cleared (bounded memory).
const MAX_FRAGMENT_TRAINS: usize = 4096;
/// Seconds a fragment train may stay incomplete.
const FRAGMENT_TIMEOUT_NS: u64 = 30_000_000_000;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_ERSPAN2: u16 = 0x88be;
const ETHERTYPE_ERSPAN3: u16 = 0x22eb;
const UDP_VXLAN: u16 = 4789;
const UDP_GENEVE: u16 = 6081;
const UDP_GTPU: u16 = 2152;

/// TCP header fields that flow tracking and reassembly need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpHeader {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number (meaningful when the ACK flag is set).
    pub ack: u32,
    /// The flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE, CWR).
    pub flags: u8,
}

/// TCP flag bits as they appear in [`TcpHeader::flags`].
pub mod tcp_flags {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgement field is significant.
    pub const ACK: u8 = 0x10;
}

/// The transport layer of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TCP with its header fields.
    Tcp(TcpHeader),
    /// UDP with its ports.
    Udp {
        /// Source port.
        src_port: u16,
        /// Destination port.
        dst_port: u16,
    },
}

/// A decoded IP packet carrying TCP or UDP.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// Source address (innermost IP header).
    pub src: IpAddr,
    /// Destination address (innermost IP header).
    pub dst: IpAddr,
    /// TCP or UDP header.
    pub transport: Transport,
    /// Length of the IP packet from its header (IPv4 total length, IPv6 40 + payload length).
    pub ip_len: u32,
    /// Transport payload as captured (may be shorter than `payload_len` when the frame was cut).
    pub payload: &'a [u8],
    /// Transport payload length from the headers.
    pub payload_len: u32,
    /// How many tunnel headers were removed to get here.
    pub tunnel_depth: u8,
}

/// Why a frame produced no TCP/UDP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The link type is not one this decoder reads.
    UnsupportedLinkType,
    /// Not IP (ARP, LLDP, STP, …).
    NonIp,
    /// IP, but neither TCP nor UDP (ICMP, IGMP, ESP, …).
    OtherTransport,
    /// Headers cut off by the capture's snap length or a short frame.
    Truncated,
    /// Headers that contradict themselves.
    Malformed,
    /// A fragment kept until its train is complete.
    FragmentHeld,
    /// A fragment that could not be reassembled (overlap, conflicting ends, pool full).
    FragmentDropped,
    /// A tunnel this decoder does not open (e.g. PPTP's enhanced GRE).
    UnsupportedTunnel,
}

/// Counters of what decoding saw and skipped, for the run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames of an unsupported link type.
    pub unsupported_link: u64,
    /// Frames without IP.
    pub non_ip: u64,
    /// IP packets that were neither TCP nor UDP.
    pub other_transport: u64,
    /// Frames whose headers were cut short.
    pub truncated: u64,
    /// Frames with inconsistent headers.
    pub malformed: u64,
    /// Fragments received (each counted once).
    pub fragments: u64,
    /// Fragment trains reassembled into whole packets.
    pub reassembled: u64,
    /// Fragments given up on.
    pub fragments_dropped: u64,
    /// Packets found inside a tunnel.
    pub tunneled: u64,
    /// Tunnels not opened.
    pub unsupported_tunnel: u64,
}

impl DecodeStats {
    fn count(&mut self, skip: Skip) {
        match skip {
            Skip::UnsupportedLinkType => self.unsupported_link += 1,
            Skip::NonIp => self.non_ip += 1,
            Skip::OtherTransport => self.other_transport += 1,
            Skip::Truncated => self.truncated += 1,
            Skip::Malformed => self.malformed += 1,
            Skip::FragmentHeld => {}
            Skip::FragmentDropped => self.fragments_dropped += 1,
            Skip::UnsupportedTunnel => self.unsupported_tunnel += 1,
        }
    }
}

/// Decodes frames; owns the fragment pool and the buffer reassembled packets live in.
pub struct Decoder {
    defrag: IpDefragPool<u64, ()>,
    /// Upper bound on incomplete fragment trains in the pool.
    trains: usize,
    /// A reassembled IP payload, borrowed by the packet returned from `decode`.
    reassembled: Vec<u8>,
    last_sweep: u64,
    /// What was seen and skipped so far.
    pub stats: DecodeStats,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

/// Where the IP layer of a frame starts.
enum L3<'a> {
    Ethernet(&'a [u8]),
    EtherType(u16, &'a [u8]),
    Ip(&'a [u8]),
}

impl Decoder {
    /// A decoder with an empty fragment pool.
    pub fn new() -> Self {
        Decoder {
            defrag: IpDefragPool::new(),
            trains: 0,
            reassembled: Vec::new(),
            last_sweep: 0,
            stats: DecodeStats::default(),
        }
    }

    /// Decodes one frame captured on a link of type `linktype` at time `ts` (ns).
    pub fn decode<'a>(
        &'a mut self,
        linktype: u16,
        data: &'a [u8],
        ts: u64,
    ) -> Result<Packet<'a>, Skip> {
        self.sweep_fragments(ts);
        let l3 = match link_layer(linktype, data) {
            Ok(l3) => l3,
            Err(skip) => {
                self.stats.count(skip);
                return Err(skip);
            }
        };
        // The common case is one pass. A fragment comes back as `FragmentHeld` from the first
        // pass; only then is the frame walked again to feed the pool, and if that completes a
        // train, the packet is built over the reassembled payload.
        let first = match view(&l3, 0, &[]) {
            Err(Skip::FragmentHeld) => match self.probe(l3_clone(&l3), ts) {
                Ok(()) => view(&l3, 0, &self.reassembled),
                Err(skip) => Err(skip),
            },
            other => other,
        };
        match first {
            Ok(p) => {
                if p.tunnel_depth > 0 {
                    self.stats.tunneled += 1;
                }
                Ok(p)
            }
            Err(skip) => {
                self.stats.count(skip);
                Err(skip)
            }
        }
    }

    /// Walks the layers once to feed fragments to the pool. Leaves `self.reassembled` empty
    /// unless this frame completed a fragment train.
    fn probe(&mut self, l3: L3<'_>, ts: u64) -> Result<(), Skip> {
        self.reassembled.clear();
        let sliced = slice_l3(&l3)?;
        let Some(net) = sliced.net.as_ref() else {
            return Ok(());
        };
        let Some(ip_payload) = net.ip_payload_ref() else {
            return Ok(());
        };
        if ip_payload.fragmented {
            self.stats.fragments += 1;
            let ip_bytes = match &l3 {
                L3::Ethernet(_) => match sliced.ether_payload() {
                    Some(p) => p.payload,
                    None => return Err(Skip::Malformed),
                },
                L3::EtherType(_, b) | L3::Ip(b) => b,
            };
            let strict = SlicedPacket::from_ip(ip_bytes).map_err(|_| Skip::FragmentDropped)?;
            if self.trains >= MAX_FRAGMENT_TRAINS {
                self.defrag.retain(|_| false);
                self.trains = 0;
            }
            return match self.defrag.process_sliced_packet(&strict, ts, ()) {
                Ok(Some(done)) => {
                    self.trains = self.trains.saturating_sub(1);
                    self.stats.reassembled += 1;
                    self.reassembled = done.payload;
                    Ok(())
                }
                Ok(None) => {
                    self.trains += 1;
                    Err(Skip::FragmentHeld)
                }
                Err(_) => Err(Skip::FragmentDropped),
            };
        }
        Ok(())
    }

    fn sweep_fragments(&mut self, ts: u64) {
        if self.trains == 0 || ts < self.last_sweep + FRAGMENT_TIMEOUT_NS {
            return;
        }
        self.last_sweep = ts;
        self.defrag
            .retain(|t| ts.saturating_sub(*t) < FRAGMENT_TIMEOUT_NS);
        // The pool cannot report how many trains survived; `trains` stays an upper bound
        // (fragments held since the last clear), which only makes the cap trigger early.
    }
}

fn l3_clone<'a>(l3: &L3<'a>) -> L3<'a> {
    match l3 {
        L3::Ethernet(b) => L3::Ethernet(b),
        L3::EtherType(t, b) => L3::EtherType(*t, b),
        L3::Ip(b) => L3::Ip(b),
    }
}

/// Strips the link header of a frame.
fn link_layer(linktype: u16, data: &[u8]) -> Result<L3<'_>, Skip> {
    use linktype::*;
    match linktype {
        ETHERNET => Ok(L3::Ethernet(data)),
        RAW | IPV4 | IPV6 | RAW_BSD | RAW_BSD14 => Ok(L3::Ip(data)),
        NULL | LOOP => {
            if data.len() < 4 {
                return Err(Skip::Truncated);
            }
            let raw = [data[0], data[1], data[2], data[3]];
            // The family is in the capturing host's byte order for NULL: accept either.
            let family = if linktype == LOOP {
                u32::from_be_bytes(raw)
            } else {
                let le = u32::from_le_bytes(raw);
                if le < 256 {
                    le
                } else {
                    u32::from_be_bytes(raw)
                }
            };
            match family {
                2 => Ok(L3::EtherType(ETHERTYPE_IPV4, &data[4..])),
                24 | 28 | 30 => Ok(L3::EtherType(ETHERTYPE_IPV6, &data[4..])),
                _ => Err(Skip::NonIp),
            }
        }
        LINUX_SLL => {
            if data.len() < 16 {
                return Err(Skip::Truncated);
            }
            let arphrd = u16::from_be_bytes([data[2], data[3]]);
            let proto = u16::from_be_bytes([data[14], data[15]]);
            if arphrd == 778 {
                return Err(Skip::UnsupportedTunnel);
            }
            Ok(L3::EtherType(proto, &data[16..]))
        }
        LINUX_SLL2 => {
            if data.len() < 20 {
                return Err(Skip::Truncated);
            }
            let proto = u16::from_be_bytes([data[0], data[1]]);
            Ok(L3::EtherType(proto, &data[20..]))
        }
        PPP | PPP_HDLC => {
            let body = if data.len() >= 2 && data[0] == 0xff && data[1] == 0x03 {
                &data[2..]
            } else {
                data
            };
            if body.len() < 2 {
                return Err(Skip::Truncated);
            }
            match u16::from_be_bytes([body[0], body[1]]) {
                0x0021 => Ok(L3::EtherType(ETHERTYPE_IPV4, &body[2..])),
                0x0057 => Ok(L3::EtherType(ETHERTYPE_IPV6, &body[2..])),
                _ => Err(Skip::NonIp),
            }
        }
        _ => Err(Skip::UnsupportedLinkType),
    }
}

fn slice_l3<'a>(l3: &L3<'a>) -> Result<LaxSlicedPacket<'a>, Skip> {
    match l3 {
        L3::Ethernet(b) => LaxSlicedPacket::from_ethernet(b).map_err(|_| Skip::Truncated),
        L3::EtherType(t, b) => match *t {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => {
                LaxSlicedPacket::from_ip(b).map_err(|_| Skip::Truncated)
            }
            other => Ok(LaxSlicedPacket::from_ether_type(EtherType(other), b)),
        },
        L3::Ip(b) => LaxSlicedPacket::from_ip(b).map_err(|_| Skip::Truncated),
    }
}

/// Builds the packet view; `reassembled` holds the IP payload if a fragment train just
/// completed (it then replaces the fragment's own payload).
fn view<'a>(l3: &L3<'a>, depth: u8, reassembled: &'a [u8]) -> Result<Packet<'a>, Skip> {
    let sliced = slice_l3(l3)?;
    // The lax slicer already parsed TCP when the payload was whole; reuse it.
    let parsed_tcp = match &sliced.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => Some(t.clone()),
        _ => None,
    };
    let net = match sliced.net {
        Some(net) => net,
        None => {
            if let Some(inner) = sliced
                .ether_payload()
                .and_then(|p| shim(p.ether_type.0, p.payload))
            {
                return view(&inner, depth, &[]);
            }
            return Err(match sliced.stop_err {
                Some(_) if is_ip_ethertype(&sliced) => Skip::Truncated,
                _ => Skip::NonIp,
            });
        }
    };
    let (src, dst, header_len, ip_payload) = match &net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.total_len() as u32,
                v4.payload(),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                40 + h.payload_length() as u32,
                v6.payload(),
            )
        }
        LaxNetSlice::Arp(_) => return Err(Skip::NonIp),
    };
    let (ip_number, payload_bytes, ip_len) = if ip_payload.fragmented {
        if depth > 0 {
            // Fragments inside tunnels are counted, not reassembled.
            return Err(Skip::FragmentDropped);
        }
        if reassembled.is_empty() {
            return Err(Skip::FragmentHeld);
        }
        let header_bytes = header_len.saturating_sub(ip_payload.payload.len() as u32);
        (
            ip_payload.ip_number,
            reassembled,
            header_bytes + reassembled.len() as u32,
        )
    } else {
        (ip_payload.ip_number, ip_payload.payload, header_len)
    };
    // Bytes of transport header and payload according to the IP header (not the capture).
    let l4_len_declared = if ip_payload.fragmented {
        reassembled.len() as u32
    } else {
        declared_payload_len(&net)
    };
    match ip_number {
        IpNumber::TCP => {
            let tcp = match parsed_tcp {
                Some(t) if !ip_payload.fragmented => t,
                _ => TcpSlice::from_slice(payload_bytes).map_err(|_| Skip::Truncated)?,
            };
            let hl = tcp.slice().len() - tcp.payload().len();
            let flags = tcp.slice()[13];
            Ok(Packet {
                src,
                dst,
                transport: Transport::Tcp(TcpHeader {
                    src_port: tcp.source_port(),
                    dst_port: tcp.destination_port(),
                    seq: tcp.sequence_number(),
                    ack: tcp.acknowledgment_number(),
                    flags,
                }),
                ip_len,
                payload: tcp.payload(),
                payload_len: l4_len_declared.saturating_sub(hl as u32),
                tunnel_depth: depth,
            })
        }
        IpNumber::UDP => {
            let udp = UdpSlice::from_slice_lax(payload_bytes).map_err(|_| Skip::Truncated)?;
            let (sp, dp) = (udp.source_port(), udp.destination_port());
            if depth < MAX_TUNNEL_DEPTH {
                if let Some(inner) = udp_tunnel(sp, dp, udp.payload()) {
                    return view(&inner, depth + 1, &[]);
                }
            }
            Ok(Packet {
                src,
                dst,
                transport: Transport::Udp {
                    src_port: sp,
                    dst_port: dp,
                },
                ip_len,
                payload: udp.payload(),
                payload_len: l4_len_declared.saturating_sub(8),
                tunnel_depth: depth,
            })
        }
        IpNumber::IPV4 | IpNumber::IPV6 => tunnel(L3::Ip(payload_bytes), depth),
        IpNumber::GRE => match gre(payload_bytes) {
            Some(inner) => tunnel(inner, depth),
            None => Err(Skip::UnsupportedTunnel),
        },
        _ => Err(Skip::OtherTransport),
    }
}

fn tunnel<'a>(inner: L3<'a>, depth: u8) -> Result<Packet<'a>, Skip> {
    if depth >= MAX_TUNNEL_DEPTH {
        return Err(Skip::UnsupportedTunnel);
    }
    view(&inner, depth + 1, &[])
}

fn is_ip_ethertype(sliced: &LaxSlicedPacket<'_>) -> bool {
    match sliced.ether_payload() {
        Some(p) => p.ether_type == EtherType::IPV4 || p.ether_type == EtherType::IPV6,
        None => true,
    }
}

/// Transport bytes (header + payload) the IP header announces.
fn declared_payload_len(net: &LaxNetSlice<'_>) -> u32 {
    match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            (h.total_len() as u32).saturating_sub(h.ihl() as u32 * 4)
        }
        LaxNetSlice::Ipv6(v6) => {
            let ext_len: usize = v6.extensions().slice().len();
            (v6.header().payload_length() as u32).saturating_sub(ext_len as u32)
        }
        LaxNetSlice::Arp(_) => 0,
    }
}

/// Opens the shims that sit between Ethernet and IP without being tunnels: a PPPoE session
/// (6-byte header, then PPP) and an MPLS label stack (IP after the bottom-of-stack label).
fn shim(ether_type: u16, p: &[u8]) -> Option<L3<'_>> {
    match ether_type {
        ETHERTYPE_PPPOE_SESSION => {
            let ppp = p.get(6..)?;
            match u16::from_be_bytes([*ppp.first()?, *ppp.get(1)?]) {
                0x0021 => Some(L3::EtherType(ETHERTYPE_IPV4, &ppp[2..])),
                0x0057 => Some(L3::EtherType(ETHERTYPE_IPV6, &ppp[2..])),
                _ => None,
            }
        }
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => {
            let mut off = 0;
            loop {
                let label = p.get(off..off + 4)?;
                off += 4;
                if label[2] & 0x01 != 0 {
                    break;
                }
            }
            let rest = p.get(off..)?;
            match rest.first()? >> 4 {
                4 | 6 => Some(L3::Ip(rest)),
                _ => None,
            }
        }
        _ => None,
    }
}

/// Opens a GRE header (RFC 2784/2890), with ERSPAN II/III and transparent Ethernet bridging.
fn gre(b: &[u8]) -> Option<L3<'_>> {
    if b.len() < 4 {
        return None;
    }
    let flags = u16::from_be_bytes([b[0], b[1]]);
    let version = flags & 0x7;
    if version != 0 {
        return None; // PPTP enhanced GRE carries PPP, not opened here
    }
    let proto = u16::from_be_bytes([b[2], b[3]]);
    let mut off = 4;
    if flags & 0x8000 != 0 {
        off += 4; // checksum + reserved
    }
    if flags & 0x2000 != 0 {
        off += 4; // key
    }
    let seq_present = flags & 0x1000 != 0;
    if seq_present {
        off += 4;
    }
    let rest = b.get(off..)?;
    match proto {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(L3::Ip(rest)),
        ETHERTYPE_TEB => Some(L3::Ethernet(rest)),
        // ERSPAN type I has no header and no sequence number; type II has an 8-byte header.
        ETHERTYPE_ERSPAN2 => {
            if seq_present {
                rest.get(8..).map(L3::Ethernet)
            } else {
                Some(L3::Ethernet(rest))
            }
        }
        ETHERTYPE_ERSPAN3 => {
            let h = rest.get(..12)?;
            let optional = h[11] & 0x01 != 0;
            rest.get(if optional { 20 } else { 12 }..).map(L3::Ethernet)
        }
        _ => None,
    }
}

/// Recognises UDP-encapsulated tunnels by their well-known destination ports and headers.
fn udp_tunnel(_sp: u16, dp: u16, p: &[u8]) -> Option<L3<'_>> {
    match dp {
        UDP_VXLAN if p.len() >= 8 && p[0] & 0x08 != 0 => Some(L3::Ethernet(&p[8..])),
        UDP_GENEVE if p.len() >= 8 && p[0] >> 6 == 0 => {
            let opt_len = (p[0] & 0x3f) as usize * 4;
            let proto = u16::from_be_bytes([p[2], p[3]]);
            let inner = p.get(8 + opt_len..)?;
            match proto {
                ETHERTYPE_TEB => Some(L3::Ethernet(inner)),
                ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Some(L3::Ip(inner)),
                _ => None,
            }
        }
        UDP_GTPU if p.len() >= 8 && p[0] >> 5 == 1 && p[1] == 0xff => {
            let mut off = 8;
            if p[0] & 0x07 != 0 {
                off += 4;
                // Extension headers: each has a length in 4-byte units and names the next.
                let mut next = *p.get(off - 1)?;
                while next != 0 {
                    let len = *p.get(off)? as usize * 4;
                    if len == 0 {
                        return None;
                    }
                    next = *p.get(off + len - 1)?;
                    off += len;
                }
            }
            let inner = p.get(off..)?;
            match inner.first()? >> 4 {
                4 | 6 => Some(L3::Ip(inner)),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
