//! Fingerprints of a TLS handshake: JA3/JA3S, JA4/JA4S and certificate digests.
//!
//! Everything here is a pure function of what a dissector observed. The TLS dissector
//! (`crate::dissect::tls`) fills a [`ClientHelloParams`] and a [`ServerHelloParams`] with the
//! values in wire order, GREASE included, and hands the certificate DER bytes over as they are;
//! each fingerprint then applies its own rules (GREASE removal, sorting, hashing). Keeping the
//! observation apart from the fingerprint rules lets the same hello feed several fingerprint
//! schemes and lets the rules be tested without any packet parsing.

pub mod cert;
pub mod ja3;
pub mod ja4;

pub use cert::{cert_sha1, cert_sha256, CertSummary};
pub use ja3::{ja3, ja3_string, ja3s, ja3s_string};
pub use ja4::{Ja4, Ja4s};

/// The 16 GREASE values reserved by RFC 8701 (`0x0a0a`, `0x1a1a`, … `0xfafa`).
///
/// This is the exact test. tls-parser's own check (`t & 0x0f0f == 0x0a0a`) also matches values
/// such as `0x0a1a`, which are not GREASE and must stay in a fingerprint.
pub fn is_grease(value: u16) -> bool {
    let [hi, lo] = value.to_be_bytes();
    hi == lo && hi & 0x0f == 0x0a
}

/// Transport the hello travelled over; JA4's first character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum Transport {
    /// TLS over TCP (`t`).
    #[default]
    Tcp,
    /// TLS inside QUIC (`q`).
    Quic,
    /// DTLS (`d`).
    Dtls,
}

impl Transport {
    /// The JA4/JA4S prefix character.
    pub fn ja4_char(self) -> char {
        match self {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
            Transport::Dtls => 'd',
        }
    }
}

/// What a ClientHello offered, as seen on the wire (GREASE values kept, wire order kept).
///
/// Filled by the TLS dissector; the input of [`ja3()`] and [`Ja4`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientHelloParams {
    /// Transport the hello was seen on.
    pub transport: Transport,
    /// `legacy_version` / `client_version` of the hello body (not the record version).
    pub version: u16,
    /// Cipher suites in wire order.
    pub ciphers: Vec<u16>,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// supported_groups (formerly elliptic_curves, 0x000a) in wire order.
    pub supported_groups: Vec<u16>,
    /// ec_point_formats (0x000b) in wire order.
    pub ec_point_formats: Vec<u8>,
    /// signature_algorithms (0x000d) in wire order.
    pub signature_algorithms: Vec<u16>,
    /// supported_versions (0x002b) in wire order.
    pub supported_versions: Vec<u16>,
    /// ALPN protocol names (0x0010) in wire order, raw bytes (they need not be UTF-8).
    pub alpn: Vec<Vec<u8>>,
    /// The first host_name of the server_name extension, if any.
    pub sni: Option<String>,
    /// True when the hello came in the SSLv2-compatible record format (RFC 5246 appendix E.2):
    /// it has no extensions, and only the cipher specs that map onto TLS suites are kept.
    pub sslv2_format: bool,
}

/// What a ServerHello chose, as seen on the wire.
///
/// Filled by the TLS dissector; the input of [`ja3s()`] and [`Ja4s`].
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerHelloParams {
    /// Transport the hello was seen on.
    pub transport: Transport,
    /// `legacy_version` / `server_version` of the hello body.
    pub version: u16,
    /// The cipher suite chosen.
    pub cipher: u16,
    /// Extension types in wire order.
    pub extensions: Vec<u16>,
    /// The version selected in supported_versions (0x002b), TLS 1.3 only.
    pub supported_version: Option<u16>,
    /// The ALPN protocol the server selected, raw bytes.
    pub alpn: Option<Vec<u8>>,
}

impl ServerHelloParams {
    /// The version actually negotiated: supported_versions if present, else the hello version.
    pub fn negotiated_version(&self) -> u16 {
        self.supported_version.unwrap_or(self.version)
    }
}

/// Lowercase hex of the first 12 characters of SHA-256 over `text`, or `000000000000` for an
/// empty list, as JA4 writes its hashed sections.
pub(crate) fn sha256_12(text: &str) -> String {
    use sha2::{Digest, Sha256};
    if text.is_empty() {
        return "000000000000".to_string();
    }
    let digest = Sha256::digest(text.as_bytes());
    let mut out = hex::encode(digest);
    out.truncate(12);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grease_is_exactly_the_rfc8701_set() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|&v| is_grease(v)).collect();
        let expected: Vec<u16> = (0..16u16)
            .map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a)
            .collect();
        assert_eq!(all, expected);
        assert_eq!(all.first(), Some(&0x0a0a));
        assert_eq!(all.last(), Some(&0xfafa));
        // tls-parser's broader test would call these GREASE; they are not.
        assert!(!is_grease(0x0a1a));
        assert!(!is_grease(0x1a0a));
    }

    #[test]
    fn empty_hash_is_zeros() {
        assert_eq!(sha256_12(""), "000000000000");
        // JA4 spec example: the sorted cipher list of Chrome.
        assert_eq!(
            sha256_12("002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9"),
            "8daaf6152771"
        );
    }
}
