//! TLS dissector: reads the plaintext handshake of a flow from its reassembled TCP streams.
//!
//! Miners talk to pools over TLS, so the handshake is the only part of such a flow that can be
//! read: the ClientHello (SNI, ALPN, JA3/JA4 of the mining software's TLS stack), the
//! ServerHello (negotiated version, JA3S/JA4S) and, up to TLS 1.2, the pool's certificate chain
//! (often self-signed or issued for a pool domain). [`TlsDissector`] takes the ordered bytes of
//! each direction as the flow layer reassembles them, defragments records and handshake messages
//! itself, and stops as soon as the handshake turns encrypted; [`TlsInfo`] is what it learned.
//! Parsing is in `parser.rs` (pure functions), per-flow buffering in `state.rs`, fingerprint
//! rules in [`crate::fingerprint`].

pub mod parser;
pub mod state;

#[cfg(test)]
mod tests;

pub use state::{TlsDissector, MAX_HANDSHAKE_BYTES, MAX_RECORD_BYTES};

/// What the TLS dissector learned about one flow; fields are empty or `None` when not seen.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TlsInfo {
    /// Negotiated version from the ServerHello: "1.0", "1.1", "1.2", "1.3" (from
    /// supported_versions; TLS 1.3 drafts also read "1.3"), "ssl3", "ssl2".
    pub tls_version: Option<String>,
    /// server_name from the ClientHello.
    pub sni: Option<String>,
    /// ALPN protocols the client offered, in order (lossy UTF-8).
    pub alpn: Vec<String>,
    /// JA3 of the ClientHello (MD5, lowercase hex).
    pub ja3: Option<String>,
    /// The JA3 input string.
    pub ja3_string: Option<String>,
    /// JA3S of the first ServerHello (MD5, lowercase hex); a TLS 1.3 HelloRetryRequest counts
    /// as that first ServerHello, as it does for Wireshark.
    pub ja3s: Option<String>,
    /// The JA3S input string.
    pub ja3s_string: Option<String>,
    /// JA4 of the ClientHello.
    pub ja4: Option<String>,
    /// JA4_r (raw, sorted) of the ClientHello.
    pub ja4_r: Option<String>,
    /// JA4S of the first ServerHello (see `ja3s`).
    pub ja4s: Option<String>,
    /// SHA-1 of the leaf certificate's DER, lowercase hex, no colons.
    pub cert_sha1: Option<String>,
    /// SHA-256 of the leaf certificate's DER, lowercase hex, no colons.
    pub cert_sha256: Option<String>,
    /// SHA-256 of every certificate sent, leaf first.
    pub cert_chain_sha256: Vec<String>,
    /// Leaf subject as x509-parser's Display writes it (`CN=…, O=…`).
    pub cert_subject: Option<String>,
    /// Leaf issuer, same format.
    pub cert_issuer: Option<String>,
    /// Leaf subjectAltName DNS names and IP addresses.
    pub cert_san: Vec<String>,
    /// Leaf notBefore, ISO 8601 UTC ("2019-01-02T03:04:05Z").
    pub cert_not_before: Option<String>,
    /// Leaf notAfter, ISO 8601 UTC.
    pub cert_not_after: Option<String>,
    /// Leaf subject equals issuer (byte-equal names; the signature is not verified).
    pub cert_self_signed: Option<bool>,
    /// TLS 1.3 was negotiated, so the certificate travelled encrypted and is not known.
    pub cert_encrypted: bool,
    /// The QUIC version whose Initial packets carried the hellos (`1`, `2`); `None` for TLS
    /// over TCP.
    pub quic_version: Option<String>,
}
