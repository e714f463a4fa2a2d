//! The TLS side of a probe: a rustls client that accepts any certificate and records it, the
//! handshake driven step by step over a socket with one deadline, and what the handshake showed
//! (version, cipher suite, ALPN, JA3S/JA4S, the whole certificate chain).
//!
//! Pools mostly serve self-signed certificates, so validation would only get in the way: the
//! verifier accepts every chain and keeps a copy, which survives a handshake that fails later.
//! Handshake signatures are still checked, so a recorded certificate is one whose key the server
//! holds; when the certificate is one webpki cannot read (X.509 v1, an RSA key under 2048
//! bits, as old pool software makes them) the signature is left unchecked and the observation
//! says so, rather than losing the certificate. rustls hides the ServerHello, so JA3S and JA4S come from the server's first bytes as
//! the wire recorded them, read with the dissector's own parser.

use super::net::{self, Wire};
use super::{Failure, FailureKind, Phase, ProbeOptions};
use crate::dissect::tls::parser::{
    classify_start, content_type, handshake_type, is_hello_retry_request, parse_server_hello,
    split_handshake, split_record, HandshakeMessage, Record, StreamStart,
};
use crate::fingerprint::{ja3s, ja3s_string, CertSummary, Ja4s, ServerHelloParams};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme,
    StreamOwned,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use x509_parser::prelude::{FromDer, X509Certificate};

/// One certificate of a served chain: digests, readable fields and validity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChainCert {
    /// Digests and fields read from the DER (see [`CertSummary`]).
    #[serde(flatten)]
    pub summary: CertSummary,
    /// SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex: stays the same when a pool
    /// re-issues its certificate with the same key. `None` when the certificate does not parse.
    pub spki_sha256: Option<String>,
    /// notAfter lies before the time of the probe.
    pub expired: Option<bool>,
    /// notBefore lies after the time of the probe.
    pub not_yet_valid: Option<bool>,
    /// Size of the DER in bytes.
    pub der_len: usize,
}

impl ChainCert {
    /// Reads one DER certificate; `now` (Unix seconds) decides `expired` and `not_yet_valid`.
    pub fn from_der(der: &[u8], now: i64) -> Self {
        let mut c = ChainCert {
            summary: CertSummary::from_der(der),
            der_len: der.len(),
            ..Default::default()
        };
        if let Ok((_, cert)) = X509Certificate::from_der(der) {
            c.spki_sha256 = Some(hex::encode(Sha256::digest(cert.public_key().raw)));
            let validity = cert.validity();
            c.expired = Some(validity.not_after.timestamp() < now);
            c.not_yet_valid = Some(validity.not_before.timestamp() > now);
        }
        c
    }
}

/// What a TLS handshake showed about the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsObservation {
    /// The handshake finished (when false, the fields hold what was seen before it failed).
    pub complete: bool,
    /// Negotiated version: `1.3`, `1.2` (or what the server chose when rustls refused it:
    /// `1.1`, `1.0`, `ssl3`).
    pub version: Option<String>,
    /// Negotiated cipher suite, IANA name as rustls writes it.
    pub cipher: Option<String>,
    /// ALPN protocol the server selected. The probe offers none, as miners do, so this stays
    /// empty unless a server insists.
    pub alpn: Option<String>,
    /// JA3S of the server's first ServerHello.
    pub ja3s: Option<String>,
    /// The JA3S input string.
    pub ja3s_string: Option<String>,
    /// JA4S of the server's first ServerHello.
    pub ja4s: Option<String>,
    /// JA4S_r (extension list written out).
    pub ja4s_r: Option<String>,
    /// The server's handshake signature: `verified`, or `unchecked: REASON` when the
    /// certificate could not be used to check it (the chain is recorded all the same).
    pub signature: Option<String>,
    /// The first ServerHello was a TLS 1.3 HelloRetryRequest (JA3S/JA4S are of it, as
    /// Wireshark computes them).
    pub hello_retry: bool,
    /// The certificate chain as served, leaf first.
    pub chain: Vec<ChainCert>,
}

impl TlsObservation {
    /// The server's own certificate (the first of the chain).
    pub fn leaf(&self) -> Option<&ChainCert> {
        self.chain.first()
    }
}

/// A verifier that accepts every certificate chain and records it. Signatures over the
/// handshake are verified with the provider's algorithms.
#[derive(Debug)]
struct RecordingVerifier {
    provider: Arc<CryptoProvider>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
    signature: Mutex<Option<String>>,
}

impl RecordingVerifier {
    fn chain(&self) -> Vec<CertificateDer<'static>> {
        self.chain.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn signature(&self) -> Option<String> {
        self.signature.lock().ok().and_then(|s| s.clone())
    }

    /// A bad signature fails the handshake; a certificate webpki cannot use for checking does
    /// not (it is noted as unchecked).
    fn judge(
        &self,
        result: Result<HandshakeSignatureValid, rustls::Error>,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let (verdict, result) = match result {
            Ok(v) => ("verified".to_string(), Ok(v)),
            Err(e @ rustls::Error::InvalidCertificate(CertificateError::BadSignature)) => {
                ("bad signature".to_string(), Err(e))
            }
            Err(rustls::Error::InvalidCertificate(e)) => (
                format!("unchecked: {e}"),
                Ok(HandshakeSignatureValid::assertion()),
            ),
            Err(e) => (format!("failed: {e}"), Err(e)),
        };
        if let Ok(mut s) = self.signature.lock() {
            *s = Some(verdict);
        }
        result
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            chain.clear();
            chain.push(end_entity.clone().into_owned());
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.judge(rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.judge(rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        ))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// An established TLS session over a [`Wire`], ready for a Stratum conversation.
pub(crate) type TlsStream = StreamOwned<ClientConnection, Wire>;

/// The result of one handshake attempt.
pub(crate) struct Handshake {
    /// What was seen, even when the handshake failed; `None` when nothing TLS came back.
    pub(crate) observed: Option<TlsObservation>,
    /// The session, or why there is none.
    pub(crate) result: Result<TlsStream, Failure>,
    /// Bytes the server sent (0 = it said nothing at all).
    pub(crate) server_bytes: usize,
}

impl Handshake {
    fn failed(failure: Failure) -> Self {
        Handshake {
            observed: None,
            result: Err(failure),
            server_bytes: 0,
        }
    }
}

/// `1.3`, `1.2`, `1.1`, `1.0`, `ssl3` for a version number from a hello.
pub fn version_name(v: u16) -> String {
    match v {
        0x0304 => "1.3".into(),
        0x0303 => "1.2".into(),
        0x0302 => "1.1".into(),
        0x0301 => "1.0".into(),
        0x0300 => "ssl3".into(),
        v if v & 0xff00 == 0x7f00 => "1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

/// The first ServerHello in the server's recorded bytes, and whether it is a
/// HelloRetryRequest. `None` when the bytes do not start with one.
pub(crate) fn first_server_hello(bytes: &[u8]) -> Option<(ServerHelloParams, bool)> {
    let mut handshake = Vec::new();
    let mut rest = bytes;
    loop {
        let Record::Whole {
            content_type: ct,
            body,
            rest: after,
        } = split_record(rest)
        else {
            return None;
        };
        if ct != content_type::HANDSHAKE {
            return None;
        }
        handshake.extend_from_slice(body);
        rest = after;
        if let HandshakeMessage::Whole { msg_type, body, .. } = split_handshake(&handshake) {
            if msg_type != handshake_type::SERVER_HELLO {
                return None;
            }
            let hrr = is_hello_retry_request(body);
            return parse_server_hello(body).ok().map(|p| (p, hrr));
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Fills an observation from the recorded bytes, the verifier's copy of the chain and, when
/// the handshake finished, the connection's own view.
fn observe(
    received: &[u8],
    chain: &[CertificateDer<'static>],
    signature: Option<String>,
    conn: Option<&ClientConnection>,
) -> Option<TlsObservation> {
    let hello = first_server_hello(received);
    if hello.is_none() && chain.is_empty() && conn.is_none() {
        return None;
    }
    let mut obs = TlsObservation {
        signature,
        ..Default::default()
    };
    if let Some((params, hrr)) = &hello {
        obs.version = Some(version_name(params.negotiated_version()));
        obs.ja3s = Some(ja3s(params));
        obs.ja3s_string = Some(ja3s_string(params));
        let j = Ja4s::from_server_hello(params);
        obs.ja4s = Some(j.hashed());
        obs.ja4s_r = Some(j.raw());
        obs.hello_retry = *hrr;
        obs.alpn = params
            .alpn
            .as_ref()
            .map(|a| String::from_utf8_lossy(a).into_owned());
    }
    let now = unix_now();
    obs.chain = chain
        .iter()
        .map(|c| ChainCert::from_der(c.as_ref(), now))
        .collect();
    if let Some(conn) = conn {
        obs.complete = true;
        if let Some(v) = conn.protocol_version() {
            obs.version = Some(version_name(u16::from(v)));
        }
        obs.cipher = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        if let Some(a) = conn.alpn_protocol() {
            obs.alpn = Some(String::from_utf8_lossy(a).into_owned());
        }
        if obs.chain.is_empty() {
            if let Some(certs) = conn.peer_certificates() {
                obs.chain = certs
                    .iter()
                    .map(|c| ChainCert::from_der(c.as_ref(), now))
                    .collect();
            }
        }
    }
    Some(obs)
}

enum Stop {
    Io(std::io::Error),
    Eof,
    Tls(rustls::Error),
}

/// Runs the handshake to its end, writing an alert when rustls gives up, as any client would.
fn drive(conn: &mut ClientConnection, wire: &mut Wire) -> Result<(), Stop> {
    while conn.is_handshaking() {
        while conn.wants_write() {
            conn.write_tls(wire).map_err(Stop::Io)?;
        }
        if !conn.is_handshaking() {
            break;
        }
        if conn.read_tls(wire).map_err(Stop::Io)? == 0 {
            return Err(Stop::Eof);
        }
        if let Err(e) = conn.process_new_packets() {
            let _ = conn.write_tls(wire);
            return Err(Stop::Tls(e));
        }
    }
    while conn.wants_write() {
        conn.write_tls(wire).map_err(Stop::Io)?;
    }
    Ok(())
}

fn tls_error_text(e: &rustls::Error, chosen: Option<&str>) -> String {
    use rustls::{Error as E, InvalidMessage, PeerIncompatible};
    match (e, chosen) {
        (E::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13), _)
        | (E::PeerIncompatible(_), Some("1.1" | "1.0" | "ssl3")) => format!(
            "{e} (the server chose TLS {}; the probe speaks TLS 1.2 and 1.3 only)",
            chosen.unwrap_or("< 1.2")
        ),
        (E::AlertReceived(rustls::AlertDescription::ProtocolVersion), _) => format!(
            "{e} (the server speaks no TLS version the probe has: rustls does TLS 1.2 and 1.3 \
             only)"
        ),
        (E::InvalidMessage(InvalidMessage::HandshakePayloadTooLarge), _) => {
            format!("{e} (a handshake message over 64 KiB, most likely a huge certificate chain)")
        }
        _ => e.to_string(),
    }
}

fn client_config(verifier: Arc<RecordingVerifier>) -> Result<ClientConfig, rustls::Error> {
    let provider = verifier.provider.clone();
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    // A resumed session would skip the Certificate message: every probe is a full handshake.
    config.resumption = Resumption::disabled();
    Ok(config)
}

/// The name to put in SNI: a DNS name when `sni` is one, else the address (rustls sends no SNI
/// for an address).
fn server_name(sni: Option<&str>, addr: SocketAddr) -> ServerName<'static> {
    sni.and_then(|s| ServerName::try_from(s.to_string()).ok())
        .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()))
}

/// Connects to `addr` and runs a TLS handshake with `sni`, within the options' timeouts.
pub(crate) fn handshake(addr: SocketAddr, sni: Option<&str>, opts: &ProbeOptions) -> Handshake {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(RecordingVerifier {
        provider,
        chain: Mutex::new(Vec::new()),
        signature: Mutex::new(None),
    });
    let conn = client_config(verifier.clone())
        .and_then(|c| ClientConnection::new(Arc::new(c), server_name(sni, addr)));
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            return Handshake::failed(Failure {
                kind: FailureKind::Io,
                phase: Phase::Handshake,
                message: format!("TLS client set-up: {e}"),
            })
        }
    };
    let stream = match net::connect(addr, opts.connect_timeout) {
        Ok(s) => s,
        Err(f) => return Handshake::failed(f),
    };
    let mut wire = Wire::new(stream, opts.io_timeout);
    let outcome = drive(&mut conn, &mut wire);
    let server_bytes = wire.received_total;
    let chain = verifier.chain();
    let signature = verifier.signature();
    match outcome {
        Ok(()) => Handshake {
            observed: observe(&wire.received, &chain, signature, Some(&conn)),
            result: Ok(StreamOwned::new(conn, wire)),
            server_bytes,
        },
        Err(stop) => {
            let observed = observe(&wire.received, &chain, signature, None);
            let chosen = observed.as_ref().and_then(|o| o.version.clone());
            let failure = if classify_start(&wire.received) == StreamStart::NotTls {
                Failure {
                    kind: FailureKind::NotTls,
                    phase: Phase::Handshake,
                    message: format!(
                        "the server answered the ClientHello with non-TLS bytes: {}",
                        net::preview(&wire.received, 48)
                    ),
                }
            } else {
                match stop {
                    Stop::Io(e) => net::classify_io(&e, Phase::Handshake),
                    Stop::Eof if server_bytes == 0 => Failure {
                        kind: FailureKind::Handshake,
                        phase: Phase::Handshake,
                        message: "the server closed the connection without answering the \
                                  ClientHello"
                            .into(),
                    },
                    Stop::Eof => Failure {
                        kind: FailureKind::Handshake,
                        phase: Phase::Handshake,
                        message: format!(
                            "the server closed the connection in the middle of the handshake \
                             (after {server_bytes} bytes)"
                        ),
                    },
                    Stop::Tls(e) => Failure {
                        kind: FailureKind::Handshake,
                        phase: Phase::Handshake,
                        message: tls_error_text(&e, chosen.as_deref()),
                    },
                }
            };
            wire.shutdown();
            Handshake {
                observed,
                result: Err(failure),
                server_bytes,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names() {
        assert_eq!(version_name(0x0304), "1.3");
        assert_eq!(version_name(0x0303), "1.2");
        assert_eq!(version_name(0x0301), "1.0");
        assert_eq!(version_name(0x7f17), "1.3");
        assert_eq!(version_name(0x1234), "0x1234");
    }

    /// A TLS 1.2 ServerHello record (cipher 0xc02f, extensions renegotiation_info and
    /// ec_point_formats), split over two records to check the defragmentation.
    fn server_hello_records() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend_from_slice(&[7u8; 32]); // random
        body.push(0); // no session id
        body.extend_from_slice(&[0xc0, 0x2f, 0x00]); // cipher, compression
        let exts: &[u8] = &[
            0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,
        ];
        body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        body.extend_from_slice(exts);
        let mut hs = vec![2, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let (a, b) = hs.split_at(10);
        let mut out = Vec::new();
        for part in [a, b] {
            out.extend_from_slice(&[22, 3, 3]);
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    #[test]
    fn server_hello_from_recorded_bytes() {
        let bytes = server_hello_records();
        let (params, hrr) = first_server_hello(&bytes).unwrap();
        assert!(!hrr);
        assert_eq!(params.cipher, 0xc02f);
        assert_eq!(params.extensions, vec![0xff01, 0x000b]);
        assert_eq!(ja3s_string(&params), "771,49199,65281-11");
        let obs = observe(&bytes, &[], None, None).unwrap();
        assert!(!obs.complete);
        assert_eq!(obs.version.as_deref(), Some("1.2"));
        assert_eq!(obs.ja4s.as_deref().map(|s| &s[..7]), Some("t120200"));
        // Cut short, or not TLS: no hello.
        assert!(first_server_hello(&bytes[..20]).is_none());
        assert!(first_server_hello(b"HTTP/1.1 400 Bad Request\r\n").is_none());
        assert!(observe(b"HTTP/1.1 400", &[], None, None).is_none());
    }

    #[test]
    fn garbage_certificate_still_has_digests() {
        let c = ChainCert::from_der(b"junk", 0);
        assert_eq!(c.der_len, 4);
        assert_eq!(c.summary.sha256.len(), 64);
        assert_eq!(c.spki_sha256, None);
        assert_eq!(c.expired, None);
    }

    #[test]
    fn sni_only_for_names() {
        let addr: SocketAddr = "127.0.0.1:443".parse().unwrap();
        assert!(matches!(
            server_name(Some("pool.example"), addr),
            ServerName::DnsName(_)
        ));
        assert!(matches!(server_name(None, addr), ServerName::IpAddress(_)));
        assert!(matches!(
            server_name(Some("bad name"), addr),
            ServerName::IpAddress(_)
        ));
    }
}
