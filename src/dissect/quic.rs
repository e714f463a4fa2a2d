//! QUIC Initial packets: the one part of a QUIC connection anyone on the path can read. Their
//! keys derive from the client's first Destination Connection ID and a salt the version fixes
//! (RFC 9001 section 5 for QUIC v1, RFC 9369 section 3.3 for v2), so a passive observer
//! removes header protection, opens the AES-128-GCM payload, and reassembles the CRYPTO
//! frames into the TLS ClientHello and ServerHello: SNI, ALPN, JA4 (with the `q` prefix) and
//! JA4S, as for TLS over TCP. Nothing beyond the Initial packets is decrypted (Handshake and
//! 1-RTT keys come from the TLS key exchange and are not known to an observer).
//!
//! [`QuicDissector`] takes a UDP flow's datagrams one at a time; it gives up on the first
//! datagram that is not a QUIC long-header packet of a known version, and stops once both
//! hellos are read or its budget of packets is spent.

use super::tls::parser::{
    parse_client_hello, parse_server_hello, split_handshake, HandshakeMessage,
};
use crate::fingerprint::{ClientHelloParams, ServerHelloParams, Transport};
use crate::flow::Direction;
use ring::aead::quic::{HeaderProtectionKey, AES_128};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM};
use ring::hkdf::{KeyType, Prk, Salt, HKDF_SHA256};

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369).
pub const VERSION_2: u32 = 0x6b33_43cf;

const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

/// Salts of the IETF drafts implementations still speak: draft-22 (and Facebook mvfst's
/// first version), drafts 23 to 28 (and later mvfst versions), drafts 29 to 32.
const SALT_DRAFT_22: [u8; 20] = [
    0x7f, 0xbc, 0xdb, 0x0e, 0x7c, 0x66, 0xbb, 0xe9, 0x19, 0x3a, 0x96, 0xcd, 0x21, 0x51, 0x9e, 0xbd,
    0x7a, 0x02, 0x64, 0x4a,
];
const SALT_DRAFT_23: [u8; 20] = [
    0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65,
    0xbe, 0xf9, 0xf5, 0x02,
];
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];

/// The Initial salt and key labels of a version, or `None` when they are not known.
fn version_secrets(version: u32) -> Option<(&'static [u8], [&'static [u8]; 3])> {
    const V1: [&[u8]; 3] = [b"quic key", b"quic iv", b"quic hp"];
    const V2: [&[u8]; 3] = [b"quicv2 key", b"quicv2 iv", b"quicv2 hp"];
    Some(match version {
        VERSION_1 | 0xff00_0021 | 0xff00_0022 => (&SALT_V1, V1),
        VERSION_2 => (&SALT_V2, V2),
        0xff00_001d..=0xff00_0020 => (&SALT_DRAFT_29, V1),
        0xff00_0017..=0xff00_001c | 0xface_b002 | 0xface_b00e => (&SALT_DRAFT_23, V1),
        0xff00_0016 | 0xface_b001 => (&SALT_DRAFT_22, V1),
        // A reserved version forces version negotiation (RFC 9000 section 15); the clients
        // that sent one in the drafts' time protected it as draft-29, as Wireshark assumes
        // too. The AEAD tag decides: a wrong guess opens nothing.
        v if v & 0x0f0f_0f0f == 0x0a0a_0a0a => (&SALT_DRAFT_29, V1),
        _ => return None,
    })
}

/// CRYPTO bytes kept per direction: a ClientHello with a post-quantum key share is about
/// 1.8 KB, a ServerHello far less; a hello beyond this is not read.
pub const MAX_CRYPTO_BYTES: usize = 16 * 1024;
/// Datagrams read per direction before giving up on a hello.
pub const MAX_DATAGRAMS: u32 = 16;

/// The version's name as outputs write it: `1`, `2`, `draft-29`, or the hex of another
/// version (`0xfaceb002`, Facebook's mvfst).
pub fn version_name(v: u32) -> String {
    match v {
        VERSION_1 => "1".into(),
        VERSION_2 => "2".into(),
        0xff00_0000..=0xff00_00ff => format!("draft-{}", v & 0xff),
        v => format!("0x{v:08x}"),
    }
}

/// The Initial keys of one direction.
#[derive(Clone)]
pub struct InitialKeys {
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
}

impl std::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialKeys(..)")
    }
}

struct Len(usize);

impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-Expand-Label of TLS 1.3 (RFC 8446 section 7.1) with an empty context.
fn expand_label(prk: &Prk, label: &[u8], out: &mut [u8]) {
    let full_len = 6 + label.len();
    let info = [
        &(out.len() as u16).to_be_bytes()[..],
        &[full_len as u8],
        b"tls13 ",
        label,
        &[0u8],
    ];
    prk.expand(&info, Len(out.len()))
        .and_then(|okm| okm.fill(out))
        .expect("HKDF output lengths are fixed and small");
}

impl InitialKeys {
    /// The client's (`server == false`) or the server's Initial keys for a connection whose
    /// client chose `dcid` as its first Destination Connection ID, or `None` for a version
    /// whose Initial salt is not known.
    pub fn derive(version: u32, dcid: &[u8], server: bool) -> Option<InitialKeys> {
        let (salt, [key_label, iv_label, hp_label]) = version_secrets(version)?;
        let initial = Salt::new(HKDF_SHA256, salt).extract(dcid);
        let mut secret = [0u8; 32];
        expand_label(
            &initial,
            if server { b"server in" } else { b"client in" },
            &mut secret,
        );
        let prk = Prk::new_less_safe(HKDF_SHA256, &secret);
        let mut k = InitialKeys {
            key: [0; 16],
            iv: [0; 12],
            hp: [0; 16],
        };
        expand_label(&prk, key_label, &mut k.key);
        expand_label(&prk, iv_label, &mut k.iv);
        expand_label(&prk, hp_label, &mut k.hp);
        Some(k)
    }
}

/// A QUIC variable-length integer at the start of `b`: value and length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    if b.len() < len {
        return None;
    }
    let mut v = u64::from(first & 0x3f);
    for &x in &b[1..len] {
        v = (v << 8) | u64::from(x);
    }
    Some((v, len))
}

/// The long header of one packet at the start of a datagram (RFC 9000 section 17.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongHeader<'a> {
    /// Version.
    pub version: u32,
    /// Packet type as the version numbers it: 0 Initial, 1 0-RTT, 2 Handshake, 3 Retry (v1);
    /// v2 turns these around (Initial is 1).
    pub kind: PacketKind,
    /// Destination Connection ID.
    pub dcid: &'a [u8],
    /// Source Connection ID.
    pub scid: &'a [u8],
    /// Offset of the (protected) packet number within the packet.
    pub pn_offset: usize,
    /// Length of the whole packet (header and payload) in the datagram.
    pub packet_len: usize,
}

/// The kinds of long-header packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// Initial: carries the hellos.
    Initial,
    /// 0-RTT.
    ZeroRtt,
    /// Handshake.
    Handshake,
    /// Retry: the server asks the client to start again with a token.
    Retry,
}

/// The version of a long-header packet at the start of `d` (0 for version negotiation).
fn long_header_version(d: &[u8]) -> Option<u32> {
    if d.first()? & 0x80 == 0 {
        return None;
    }
    Some(u32::from_be_bytes(d.get(1..5)?.try_into().ok()?))
}

/// Parses the long header at the start of `d`, or `None` when `d` does not begin with one
/// (short header, version negotiation, too short).
pub fn long_header(d: &[u8]) -> Option<LongHeader<'_>> {
    let first = *d.first()?;
    // The fixed bit (0x40) may be cleared by peers that greased it (RFC 9287).
    if first & 0x80 == 0 {
        return None;
    }
    let version = u32::from_be_bytes(d.get(1..5)?.try_into().ok()?);
    if version == 0 {
        return None;
    }
    let bits = (first >> 4) & 0x03;
    // RFC 9369 section 3.2: v2 numbers the long-header types differently.
    let kind = match (version == VERSION_2, bits) {
        (false, 0) | (true, 1) => PacketKind::Initial,
        (false, 1) | (true, 2) => PacketKind::ZeroRtt,
        (false, 2) | (true, 3) => PacketKind::Handshake,
        _ => PacketKind::Retry,
    };
    let mut i = 5;
    let dcid_len = usize::from(*d.get(i)?);
    if dcid_len > 20 {
        return None;
    }
    let dcid = d.get(i + 1..i + 1 + dcid_len)?;
    i += 1 + dcid_len;
    let scid_len = usize::from(*d.get(i)?);
    if scid_len > 20 {
        return None;
    }
    let scid = d.get(i + 1..i + 1 + scid_len)?;
    i += 1 + scid_len;
    if kind == PacketKind::Retry {
        return Some(LongHeader {
            version,
            kind,
            dcid,
            scid,
            pn_offset: d.len(),
            packet_len: d.len(),
        });
    }
    if kind == PacketKind::Initial {
        let (token_len, n) = varint(d.get(i..)?)?;
        i = i
            .checked_add(n)?
            .checked_add(usize::try_from(token_len).ok()?)?;
    }
    let (length, n) = varint(d.get(i..)?)?;
    i += n;
    let packet_len = i.checked_add(usize::try_from(length).ok()?)?;
    if packet_len > d.len() || length < 20 {
        return None;
    }
    Some(LongHeader {
        version,
        kind,
        dcid,
        scid,
        pn_offset: i,
        packet_len,
    })
}

/// Removes header protection from the Initial packet `p` (header `h`) and opens its
/// payload with `keys`: the plaintext frames, or `None` when the packet does not open (other
/// keys, damage).
pub fn open_initial(p: &[u8], h: &LongHeader<'_>, keys: &InitialKeys) -> Option<Vec<u8>> {
    let pn_offset = h.pn_offset;
    let sample = p.get(pn_offset + 4..pn_offset + 20)?;
    let hp = HeaderProtectionKey::new(&AES_128, &keys.hp).ok()?;
    let mask = hp.new_mask(sample).ok()?;
    let mut header = p.get(..pn_offset + 4)?.to_vec();
    header[0] ^= mask[0] & 0x0f;
    let pn_len = usize::from(header[0] & 0x03) + 1;
    header.truncate(pn_offset + pn_len);
    let mut pn: u64 = 0;
    for i in 0..pn_len {
        header[pn_offset + i] ^= mask[1 + i];
        pn = (pn << 8) | u64::from(header[pn_offset + i]);
    }
    let mut nonce = keys.iv;
    for (i, b) in pn.to_be_bytes().iter().enumerate() {
        nonce[4 + i] ^= b;
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &keys.key).ok()?);
    let mut payload = p.get(pn_offset + pn_len..h.packet_len)?.to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&header[..]),
            &mut payload,
        )
        .ok()?;
    let n = plain.len();
    payload.truncate(n);
    Some(payload)
}

/// The CRYPTO frames of an Initial packet's plaintext as (offset, data), or `None` when a
/// frame is malformed or of a type an Initial packet may not carry.
pub fn crypto_frames(plain: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < plain.len() {
        let (ty, n) = varint(&plain[i..])?;
        i += n;
        match ty {
            0x00 | 0x01 => {} // PADDING, PING
            0x02 | 0x03 => {
                // ACK: largest, delay, range count, first range, ranges, [ECN counts].
                let mut fields = 4;
                let read = |i: &mut usize| -> Option<u64> {
                    let (v, n) = varint(plain.get(*i..)?)?;
                    *i += n;
                    Some(v)
                };
                let mut ranges = 0;
                for f in 0..fields {
                    let v = read(&mut i)?;
                    if f == 2 {
                        ranges = v;
                    }
                }
                fields = usize::try_from(ranges).ok()?.checked_mul(2)?;
                if ty == 0x03 {
                    fields += 3;
                }
                for _ in 0..fields {
                    read(&mut i)?;
                }
            }
            0x06 => {
                let (off, n) = varint(plain.get(i..)?)?;
                i += n;
                let (len, n) = varint(plain.get(i..)?)?;
                i += n;
                let end = i.checked_add(usize::try_from(len).ok()?)?;
                out.push((off, plain.get(i..end)?));
                i = end;
            }
            0x1c => {
                // CONNECTION_CLOSE (transport): code, frame type, reason.
                for _ in 0..2 {
                    let (_, n) = varint(plain.get(i..)?)?;
                    i += n;
                }
                let (len, n) = varint(plain.get(i..)?)?;
                i = i.checked_add(n)?.checked_add(usize::try_from(len).ok()?)?;
            }
            _ => return None,
        }
    }
    Some(out)
}

/// CRYPTO stream bytes of one direction, put back in order from their offsets.
#[derive(Debug, Default, Clone)]
struct CryptoStream {
    /// Contiguous bytes from offset 0.
    data: Vec<u8>,
    /// Pieces that arrived ahead of the contiguous part.
    ahead: Vec<(u64, Vec<u8>)>,
}

impl CryptoStream {
    fn add(&mut self, off: u64, bytes: &[u8]) {
        let Ok(off) = usize::try_from(off) else {
            return;
        };
        if off >= MAX_CRYPTO_BYTES {
            return;
        }
        let bytes = &bytes[..bytes.len().min(MAX_CRYPTO_BYTES - off)];
        if off > self.data.len() {
            if self.ahead.len() < 64 {
                self.ahead.push((off as u64, bytes.to_vec()));
            }
            return;
        }
        let end = off + bytes.len();
        if end > self.data.len() {
            self.data.extend_from_slice(&bytes[self.data.len() - off..]);
        }
        // Pieces now reached.
        loop {
            let len = self.data.len() as u64;
            let Some(k) = self.ahead.iter().position(|(o, _)| *o <= len) else {
                break;
            };
            let (o, b) = self.ahead.swap_remove(k);
            let skip = (len - o) as usize;
            if skip < b.len() {
                self.data.extend_from_slice(&b[skip..]);
            }
        }
    }

    /// The first handshake message, once it is whole: its type and body.
    fn first_message(&self) -> Option<(u8, &[u8])> {
        match split_handshake(&self.data) {
            HandshakeMessage::Whole { msg_type, body, .. } => Some((msg_type, body)),
            _ => None,
        }
    }
}

/// What one direction of a QUIC flow has shown so far.
#[derive(Debug, Default, Clone)]
struct Side {
    crypto: CryptoStream,
    datagrams: u32,
    opened: u32,
}

/// The QUIC reader of one UDP flow.
#[derive(Debug, Default, Clone)]
pub struct QuicDissector {
    version: Option<u32>,
    /// The Destination Connection ID of the client's first Initial (the keys' input); a
    /// Retry clears it, and the client's next Initial sets it again.
    dcid: Option<Vec<u8>>,
    client_keys: Option<InitialKeys>,
    server_keys: Option<InitialKeys>,
    sides: [Side; 2],
    client_hello: Option<ClientHelloParams>,
    server_hello: Option<ServerHelloParams>,
    not_quic: bool,
    /// The server answered with a version negotiation: the client may start again in
    /// another version.
    negotiated: bool,
    errors: u32,
}

impl QuicDissector {
    /// A reader that has seen nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one datagram of the flow.
    pub fn on_datagram(&mut self, dir: Direction, mut d: &[u8]) {
        if !self.wants_more() {
            return;
        }
        let side = dir.index();
        self.sides[side].datagrams += 1;
        if self.sides[side].datagrams > MAX_DATAGRAMS {
            return;
        }
        if self.version.is_none() {
            // The flow's first datagram must be a long-header packet of a version whose
            // Initial keys are known (or a version negotiation, version 0, before one).
            // Anything else is not (readable) QUIC.
            match long_header_version(d) {
                Some(v) if version_secrets(v).is_some() => self.version = Some(v),
                Some(0) => return,
                _ => {
                    self.not_quic = true;
                    return;
                }
            }
        }
        if dir == Direction::ServerToClient && long_header_version(d) == Some(0) {
            self.negotiated = true;
            return;
        }
        // A datagram may carry several packets back to back (coalescing).
        while let Some(h) = long_header(d) {
            if Some(h.version) != self.version {
                // After version negotiation the client starts again in the version it
                // chose, on the same ports.
                let restart = dir == Direction::ClientToServer
                    && h.kind == PacketKind::Initial
                    && version_secrets(h.version).is_some()
                    && (self.negotiated || self.sides[0].opened == 0);
                if !restart {
                    break;
                }
                // The first ClientHello stays the one reported, as for TLS over TCP.
                self.version = Some(h.version);
                self.negotiated = false;
                self.dcid = None;
                self.client_keys = None;
                self.server_keys = None;
                self.sides[0].crypto = CryptoStream::default();
            }
            match h.kind {
                PacketKind::Initial => self.initial(dir, &d[..h.packet_len], &h),
                PacketKind::Retry if dir == Direction::ServerToClient => {
                    // The client starts again toward the server's new connection ID.
                    self.dcid = None;
                    self.sides[0].crypto = CryptoStream::default();
                    self.client_keys = None;
                    self.server_keys = None;
                    return;
                }
                _ => {}
            }
            if h.kind == PacketKind::Retry || h.packet_len >= d.len() {
                break;
            }
            d = &d[h.packet_len..];
        }
    }

    fn initial(&mut self, dir: Direction, p: &[u8], h: &LongHeader<'_>) {
        let version = h.version;
        let server = dir == Direction::ServerToClient;
        let keys = if server {
            &mut self.server_keys
        } else {
            &mut self.client_keys
        };
        if keys.is_none() {
            if self.dcid.is_none() && !server {
                self.dcid = Some(h.dcid.to_vec());
            }
            let Some(dcid) = &self.dcid else {
                // A server Initial before any client Initial: the keys are not known.
                return;
            };
            *keys = InitialKeys::derive(version, dcid, server);
        }
        let Some(k) = keys.as_ref() else {
            return;
        };
        let Some(plain) = open_initial(p, h, k) else {
            self.errors = self.errors.saturating_add(1);
            return;
        };
        let Some(frames) = crypto_frames(&plain) else {
            self.errors = self.errors.saturating_add(1);
            return;
        };
        let s = &mut self.sides[dir.index()];
        s.opened += 1;
        for (off, bytes) in frames {
            s.crypto.add(off, bytes);
        }
        match s.crypto.first_message() {
            Some((1, body)) if !server && self.client_hello.is_none() => {
                match parse_client_hello(body) {
                    Ok(mut ch) => {
                        ch.transport = Transport::Quic;
                        self.client_hello = Some(ch);
                    }
                    Err(_) => self.errors = self.errors.saturating_add(1),
                }
            }
            Some((2, body)) if server && self.server_hello.is_none() => {
                match parse_server_hello(body) {
                    Ok(mut sh) => {
                        sh.transport = Transport::Quic;
                        self.server_hello = Some(sh);
                    }
                    Err(_) => self.errors = self.errors.saturating_add(1),
                }
            }
            _ => {}
        }
    }

    /// False once the flow is known not to be QUIC, or both hellos are read.
    pub fn wants_more(&self) -> bool {
        !self.not_quic && (self.client_hello.is_none() || self.server_hello.is_none())
    }

    /// The QUIC version, once the flow's first packet showed one with known Initial keys.
    pub fn version(&self) -> Option<u32> {
        self.version
    }

    /// The ClientHello, once read.
    pub fn client_hello(&self) -> Option<&ClientHelloParams> {
        self.client_hello.as_ref()
    }

    /// The ServerHello, once read.
    pub fn server_hello(&self) -> Option<&ServerHelloParams> {
        self.server_hello.as_ref()
    }

    /// Initial packets that did not open or held malformed frames or hellos.
    pub fn errors(&self) -> u32 {
        self.errors
    }
}

#[cfg(test)]
mod tests;
