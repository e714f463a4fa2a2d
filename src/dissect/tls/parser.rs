//! Pure parsing of TLS bytes: record headers, handshake message framing, hellos, certificates.
//!
//! Nothing here keeps state between calls: the per-flow buffering lives in `state.rs`. Record
//! framing and the ClientHello body, the typed extension contents and the Certificate list are
//! read with tls-parser; the extension list itself is walked here as `(type, length, data)` so
//! that an extension whose content tls-parser rejects still counts in a fingerprint, and so that
//! a truncated extension block is an error rather than a silently shorter list. ServerHello is
//! read here too because tls-parser only knows the TLS 1.0–1.2 and draft-18 layouts.

use crate::fingerprint::{ClientHelloParams, ServerHelloParams};
use tls_parser::{parse_tls_extension, TlsExtension, TlsMessageHandshake};

/// Why a hello or certificate message could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// The message ends before a length it declares.
    Truncated,
    /// A field holds a value the format does not allow.
    Malformed,
}

/// Handshake message types this dissector acts on (RFC 8446 section 4, RFC 5246 section 7.4).
pub mod handshake_type {
    /// ClientHello.
    pub const CLIENT_HELLO: u8 = 1;
    /// ServerHello (and TLS 1.3 HelloRetryRequest, which shares its type).
    pub const SERVER_HELLO: u8 = 2;
    /// Certificate.
    pub const CERTIFICATE: u8 = 11;
    /// ServerKeyExchange.
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    /// ServerHelloDone: the server's plaintext flight is over.
    pub const SERVER_HELLO_DONE: u8 = 14;
}

/// TLS record content types (RFC 8446 section 5.1).
pub mod content_type {
    /// change_cipher_spec: everything after it in this direction is encrypted.
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert.
    pub const ALERT: u8 = 21;
    /// handshake.
    pub const HANDSHAKE: u8 = 22;
    /// application_data (also TLS 1.3's encrypted handshake).
    pub const APPLICATION_DATA: u8 = 23;
    /// heartbeat (RFC 6520).
    pub const HEARTBEAT: u8 = 24;
}

/// What the first bytes of a direction look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// Not enough bytes to tell.
    NeedMore,
    /// A TLS record header (SSL 3.0 to TLS 1.3 record versions).
    Tls,
    /// An SSLv2 record with a 2-byte header, whose body holds this message type
    /// (1 = CLIENT-HELLO, 4 = SERVER-HELLO).
    SslV2 {
        /// Length of the record body after the 2-byte header.
        body_len: usize,
        /// First byte of the body.
        msg_type: u8,
    },
    /// Neither.
    NotTls,
}

/// Classify the first bytes of a direction's stream.
pub fn classify_start(bytes: &[u8]) -> StreamStart {
    let Some(&first) = bytes.first() else {
        return StreamStart::NeedMore;
    };
    if first & 0x80 != 0 {
        // SSLv2 2-byte header: high bit set, 15-bit length; then CLIENT-HELLO (type 1, version
        // 0x0002 or 3.x) or SERVER-HELLO (type 4, session-id-hit 0/1, certificate type).
        let Some(&[hi, lo, msg_type, b3, b4]) = bytes.get(..5) else {
            return StreamStart::NeedMore;
        };
        let body_len = usize::from(u16::from_be_bytes([hi & 0x7f, lo]));
        let plausible = match msg_type {
            1 => body_len >= 9 && matches!((b3, b4), (0, 2) | (3, 0..=4)),
            4 => body_len >= 11 && b3 <= 1,
            _ => false,
        };
        return if plausible {
            StreamStart::SslV2 { body_len, msg_type }
        } else {
            StreamStart::NotTls
        };
    }
    if bytes.len() < 5 {
        // Judge what we have so far; the length needs all five bytes.
        let plausible = (content_type::CHANGE_CIPHER_SPEC..=content_type::HEARTBEAT)
            .contains(&first)
            && bytes.get(1).is_none_or(|&major| major == 3)
            && bytes.get(2).is_none_or(|&minor| minor <= 4);
        return if plausible {
            StreamStart::NeedMore
        } else {
            StreamStart::NotTls
        };
    }
    if record_header_is_plausible(bytes) {
        StreamStart::Tls
    } else {
        StreamStart::NotTls
    }
}

/// Whether a direction's first bytes open a plaintext protocol that never turns into TLS:
/// JSON-RPC objects (Stratum, getwork proxies), HTTP requests other than CONNECT, SSH.
pub fn opens_plaintext_protocol(bytes: &[u8]) -> bool {
    PLAINTEXT_OPENINGS.iter().any(|p| bytes.starts_with(p))
}

/// True when `bytes` are fewer than a plaintext opening and its start: the next bytes decide
/// whether the stream opens with a plaintext protocol, so nothing may be skipped yet.
pub fn may_open_plaintext_protocol(bytes: &[u8]) -> bool {
    PLAINTEXT_OPENINGS
        .iter()
        .any(|p| bytes.len() < p.len() && p.starts_with(bytes))
}

/// Openings of the plaintext protocols seen on ports TLS also uses.
const PLAINTEXT_OPENINGS: [&[u8]; 9] = [
    b"{",
    b"GET ",
    b"POST ",
    b"HEAD ",
    b"PUT ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"SSH-",
];

/// Where a TLS hello starts inside a plaintext prelude (HTTP CONNECT, SOCKS, STARTTLS, a
/// Gnutella upgrade…).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreludeScan {
    /// A handshake record carrying a ClientHello or ServerHello header starts here.
    Found(usize),
    /// None in the bytes seen; the bytes before this offset can be dropped, the rest might be
    /// the beginning of a hello.
    NotYet(usize),
}

/// Look for a handshake record that opens with a ClientHello or ServerHello: record header
/// (type 22, version 3.0–3.4, length 4..=2^14+2048), handshake type 1 or 2 with a length of at
/// least 38, and a hello version 3.x. Eleven bytes must all fit, which plaintext protocols
/// practically never do by chance.
pub fn scan_for_hello(bytes: &[u8]) -> PreludeScan {
    const NEED: usize = 11;
    for i in 0..bytes.len() {
        let Some(w) = bytes.get(i..i + NEED) else {
            return PreludeScan::NotYet(i);
        };
        let record_len = usize::from(u16::from_be_bytes([w[3], w[4]]));
        let hs_len = usize::from(w[6]) << 16 | usize::from(w[7]) << 8 | usize::from(w[8]);
        if w[0] == content_type::HANDSHAKE
            && w[1] == 3
            && w[2] <= 4
            && (4..=MAX_RECORD_BODY).contains(&record_len)
            && (w[5] == handshake_type::CLIENT_HELLO || w[5] == handshake_type::SERVER_HELLO)
            && hs_len >= 38
            && w[9] == 3
            && w[10] <= 4
        {
            return PreludeScan::Found(i);
        }
    }
    PreludeScan::NotYet(bytes.len())
}

/// Largest record body accepted: TLSCiphertext's 2^14 + 2048 (RFC 5246 section 6.2.3).
pub const MAX_RECORD_BODY: usize = (1 << 14) + 2048;

/// Whether 5 bytes look like a TLS record header: known content type, version 3.0–3.4, and a
/// length within [`MAX_RECORD_BODY`].
pub fn record_header_is_plausible(header: &[u8]) -> bool {
    let [ty, major, minor, hi, lo, ..] = *header else {
        return false;
    };
    (content_type::CHANGE_CIPHER_SPEC..=content_type::HEARTBEAT).contains(&ty)
        && major == 3
        && minor <= 4
        && usize::from(u16::from_be_bytes([hi, lo])) <= MAX_RECORD_BODY
}

/// One TLS record split off the front of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// More bytes are needed for a whole record.
    NeedMore,
    /// The header is not a TLS record header.
    Invalid,
    /// A whole record: content type, body, and the bytes after it.
    Whole {
        /// Content type.
        content_type: u8,
        /// Record body (the fragment).
        body: &'a [u8],
        /// What follows the record.
        rest: &'a [u8],
    },
}

/// Split one record off `bytes`.
pub fn split_record(bytes: &[u8]) -> Record<'_> {
    if bytes.len() < 5 {
        return Record::NeedMore;
    }
    if !record_header_is_plausible(bytes) {
        return Record::Invalid;
    }
    match tls_parser::parse_tls_raw_record(bytes) {
        Ok((rest, record)) => Record::Whole {
            content_type: record.hdr.record_type.0,
            body: record.data,
            rest,
        },
        Err(tls_parser::nom::Err::Incomplete(_)) => Record::NeedMore,
        // tls-parser refuses bodies over 2^14 + 256 that our looser bound let through.
        Err(_) => Record::Invalid,
    }
}

/// One handshake message split off the front of the defragmented handshake stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakeMessage<'a> {
    /// The header or body is not complete yet; the body will be this long.
    NeedMore {
        /// Declared body length, once the 4-byte header is there.
        declared_len: Option<usize>,
    },
    /// A whole message.
    Whole {
        /// Handshake type.
        msg_type: u8,
        /// Message body (after the 4-byte header).
        body: &'a [u8],
        /// Bytes consumed from the input, header included.
        consumed: usize,
    },
}

/// Split one handshake message (1-byte type, 24-bit length, body) off `bytes`.
pub fn split_handshake(bytes: &[u8]) -> HandshakeMessage<'_> {
    let [msg_type, a, b, c, ..] = *bytes else {
        return HandshakeMessage::NeedMore { declared_len: None };
    };
    let len = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
    match bytes.get(4..4 + len) {
        Some(body) => HandshakeMessage::Whole {
            msg_type,
            body,
            consumed: 4 + len,
        },
        None => HandshakeMessage::NeedMore {
            declared_len: Some(len),
        },
    }
}

/// A small big-endian reader that never panics.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        if self.bytes.len() < n {
            return Err(ParseError::Truncated);
        }
        let (head, tail) = self.bytes.split_at(n);
        self.bytes = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, ParseError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, ParseError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn rest(&self) -> &'a [u8] {
        self.bytes
    }
}

/// One extension as walked: its type, and the whole `type|len|data` slice for tls-parser.
struct RawExtension<'a> {
    ext_type: u16,
    whole: &'a [u8],
}

/// Walk an extension block (the bytes after the 2-byte block length).
fn walk_extensions(block: &[u8]) -> Result<Vec<RawExtension<'_>>, ParseError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < block.len() {
        let mut r = Reader::new(&block[at..]);
        let ext_type = r.u16()?;
        let len = usize::from(r.u16()?);
        r.take(len)?;
        out.push(RawExtension {
            ext_type,
            whole: &block[at..at + 4 + len],
        });
        at += 4 + len;
    }
    Ok(out)
}

/// Read an extension's typed content with tls-parser; `None` when it does not parse.
fn typed<'a>(ext: &RawExtension<'a>) -> Option<TlsExtension<'a>> {
    parse_tls_extension(ext.whole).ok().map(|(_, e)| e)
}

/// Parse a ClientHello body (after the 4-byte handshake header).
pub fn parse_client_hello(body: &[u8]) -> Result<ClientHelloParams, ParseError> {
    let (rest, hello) = match tls_parser::parse_tls_handshake_client_hello(body) {
        Ok(ok) => ok,
        Err(tls_parser::nom::Err::Incomplete(_)) => return Err(ParseError::Truncated),
        Err(_) => return Err(ParseError::Malformed),
    };
    // tls-parser reads the extension block as optional: a block whose length overruns the
    // message comes back as "no extensions" with the bytes left over.
    if hello.ext.is_none() && !rest.is_empty() {
        return Err(ParseError::Truncated);
    }
    let mut params = ClientHelloParams {
        version: hello.version.0,
        ciphers: hello.ciphers.iter().map(|c| c.0).collect(),
        ..Default::default()
    };
    let extensions = walk_extensions(hello.ext.unwrap_or_default())?;
    for ext in &extensions {
        params.extensions.push(ext.ext_type);
        match (ext.ext_type, typed(ext)) {
            (0x0000, Some(TlsExtension::SNI(names))) if params.sni.is_none() => {
                params.sni = names
                    .iter()
                    .find(|(kind, _)| kind.0 == 0)
                    .map(|(_, name)| String::from_utf8_lossy(name).into_owned());
            }
            (0x000a, Some(TlsExtension::EllipticCurves(groups))) => {
                params.supported_groups = groups.iter().map(|g| g.0).collect();
            }
            (0x000b, Some(TlsExtension::EcPointFormats(formats))) => {
                params.ec_point_formats = formats.to_vec();
            }
            (0x000d, Some(TlsExtension::SignatureAlgorithms(algs))) => {
                params.signature_algorithms = algs;
            }
            (0x0010, Some(TlsExtension::ALPN(names))) => {
                params.alpn = names.iter().map(|n| n.to_vec()).collect();
            }
            (0x002b, Some(TlsExtension::SupportedVersions(versions))) => {
                params.supported_versions = versions.iter().map(|v| v.0).collect();
            }
            _ => {}
        }
    }
    Ok(params)
}

/// Whether a ServerHello body version uses the TLS 1.3 draft layout without session id and
/// compression (drafts up to 21, and early implementations that wrote 0x0304 there).
fn is_draft_layout(version: u16) -> bool {
    version == 0x0304 || (version & 0xff00 == 0x7f00 && (version & 0x00ff) < 22)
}

/// Parse a ServerHello (or HelloRetryRequest) body.
pub fn parse_server_hello(body: &[u8]) -> Result<ServerHelloParams, ParseError> {
    let mut r = Reader::new(body);
    let version = r.u16()?;
    if !(0x0300..=0x0304).contains(&version) && version & 0xff00 != 0x7f00 {
        return Err(ParseError::Malformed);
    }
    r.take(32)?; // random
    let draft = is_draft_layout(version);
    if !draft {
        let sid_len = usize::from(r.u8()?);
        if sid_len > 32 {
            return Err(ParseError::Malformed);
        }
        r.take(sid_len)?;
    }
    let cipher = r.u16()?;
    if !draft {
        r.u8()?; // compression method
    }
    let mut params = ServerHelloParams {
        version,
        cipher,
        ..Default::default()
    };
    if r.rest().is_empty() {
        return Ok(params);
    }
    let block_len = usize::from(r.u16()?);
    let block = r.take(block_len)?;
    for ext in walk_extensions(block)? {
        params.extensions.push(ext.ext_type);
        match (ext.ext_type, typed(&ext)) {
            (0x0010, Some(TlsExtension::ALPN(names))) => {
                params.alpn = names.first().map(|n| n.to_vec());
            }
            (0x002b, Some(TlsExtension::SupportedVersions(versions))) => {
                params.supported_version = versions.first().map(|v| v.0);
            }
            _ => {}
        }
    }
    Ok(params)
}

/// The TLS 1.3 HelloRetryRequest marker: a ServerHello whose random is SHA-256 of
/// "HelloRetryRequest" (RFC 8446 section 4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// Whether a ServerHello body is really a HelloRetryRequest.
pub fn is_hello_retry_request(body: &[u8]) -> bool {
    body.get(2..34) == Some(&HELLO_RETRY_RANDOM[..])
}

/// Parse a TLS 1.0–1.2 Certificate message body into the DER certificates, leaf first.
pub fn parse_certificate_list(body: &[u8]) -> Result<Vec<&[u8]>, ParseError> {
    match tls_parser::parse_tls_handshake_msg_certificate(body) {
        Ok((_, TlsMessageHandshake::Certificate(contents))) => {
            Ok(contents.cert_chain.iter().map(|c| c.data).collect())
        }
        Ok(_) => Err(ParseError::Malformed),
        Err(tls_parser::nom::Err::Incomplete(_)) => Err(ParseError::Truncated),
        Err(_) => Err(ParseError::Malformed),
    }
}

/// Parse an SSLv2 CLIENT-HELLO body (after the 2-byte record header, starting at the message
/// type byte) into hello parameters.
///
/// Cipher specs are 3 bytes in SSLv2. Those whose first byte is zero name a TLS cipher suite
/// (RFC 5246 appendix E.2) and are kept as that 16-bit value; SSLv2-only specs are dropped.
/// There are no extensions. Wireshark computes no JA3 for these hellos, so no reference tool
/// confirms the resulting fingerprints: they compare only with each other.
pub fn parse_sslv2_client_hello(body: &[u8]) -> Result<ClientHelloParams, ParseError> {
    let mut r = Reader::new(body);
    if r.u8()? != 1 {
        return Err(ParseError::Malformed);
    }
    let version = r.u16()?;
    let specs_len = usize::from(r.u16()?);
    let sid_len = usize::from(r.u16()?);
    let challenge_len = usize::from(r.u16()?);
    if specs_len % 3 != 0 {
        return Err(ParseError::Malformed);
    }
    let specs = r.take(specs_len)?;
    r.take(sid_len)?;
    r.take(challenge_len)?;
    let ciphers = specs
        .chunks_exact(3)
        .filter(|spec| spec[0] == 0)
        .map(|spec| u16::from_be_bytes([spec[1], spec[2]]))
        .collect();
    Ok(ClientHelloParams {
        version,
        ciphers,
        sslv2_format: true,
        ..Default::default()
    })
}

/// What an SSLv2 SERVER-HELLO tells: the version and the server certificate, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SslV2ServerHello<'a> {
    /// The server's protocol version (0x0002 for SSL 2.0).
    pub version: u16,
    /// The certificate DER, when the certificate type is X.509 (1) and it is present.
    pub certificate: Option<&'a [u8]>,
}

/// Parse an SSLv2 SERVER-HELLO body (after the 2-byte record header).
pub fn parse_sslv2_server_hello(body: &[u8]) -> Result<SslV2ServerHello<'_>, ParseError> {
    let mut r = Reader::new(body);
    if r.u8()? != 4 {
        return Err(ParseError::Malformed);
    }
    r.u8()?; // session id hit
    let cert_type = r.u8()?;
    let version = r.u16()?;
    let cert_len = usize::from(r.u16()?);
    let _specs_len = r.u16()?;
    let _conn_id_len = r.u16()?;
    let cert = r.take(cert_len)?;
    Ok(SslV2ServerHello {
        version,
        certificate: (cert_type == 1 && !cert.is_empty()).then_some(cert),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_start_tells_tls_sslv2_and_other() {
        assert_eq!(classify_start(b""), StreamStart::NeedMore);
        assert_eq!(classify_start(&[0x16, 0x03]), StreamStart::NeedMore);
        assert_eq!(
            classify_start(&[0x16, 0x03, 0x01, 0x02, 0x00]),
            StreamStart::Tls
        );
        assert_eq!(classify_start(b"GET / HTTP/1.1\r\n"), StreamStart::NotTls);
        assert_eq!(classify_start(b"{\"id\":1}"), StreamStart::NotTls);
        assert_eq!(
            classify_start(&[0x80, 0x4c, 0x01, 0x03]),
            StreamStart::NeedMore
        );
        assert_eq!(
            classify_start(&[0x80, 0x4c, 0x01, 0x07, 0x01]),
            StreamStart::NotTls
        );
        assert_eq!(
            classify_start(&[0x80, 0x4c, 0x01, 0x03, 0x01]),
            StreamStart::SslV2 {
                body_len: 0x4c,
                msg_type: 1
            }
        );
        // Too long for a record.
        assert_eq!(
            classify_start(&[0x16, 0x03, 0x01, 0xff, 0xff]),
            StreamStart::NotTls
        );
    }

    #[test]
    fn prelude_scan_finds_the_hello() {
        let hello = [0x16, 3, 1, 0, 0xc7, 1, 0, 0, 0xc3, 3, 3, 0xaa];
        let mut bytes = b"CONNECT pool.example:443 HTTP/1.1\r\n\r\n".to_vec();
        let at = bytes.len();
        bytes.extend_from_slice(&hello);
        assert_eq!(scan_for_hello(&bytes), PreludeScan::Found(at));
        // The hello's first bytes at the end: keep them for the next round.
        assert_eq!(
            scan_for_hello(&bytes[..at + 4]),
            PreludeScan::NotYet(at - 6)
        );
        assert_eq!(
            scan_for_hello(b"220 mail ESMTP ready\r\n"),
            PreludeScan::NotYet(12)
        );
        assert!(opens_plaintext_protocol(
            b"{\"id\":1,\"method\":\"mining.subscribe\"}"
        ));
        assert!(!opens_plaintext_protocol(b"CONNECT a:443 HTTP/1.1"));
    }

    #[test]
    fn split_record_waits_for_the_whole_body() {
        let rec = [0x16, 0x03, 0x01, 0x00, 0x02, 0xaa, 0xbb, 0x17];
        assert_eq!(split_record(&rec[..6]), Record::NeedMore);
        assert_eq!(
            split_record(&rec),
            Record::Whole {
                content_type: 0x16,
                body: &[0xaa, 0xbb],
                rest: &[0x17]
            }
        );
        assert_eq!(split_record(&[0x99, 3, 1, 0, 1, 0]), Record::Invalid);
    }

    #[test]
    fn split_handshake_reports_declared_length() {
        assert_eq!(
            split_handshake(&[1, 0, 1, 0, 9]),
            HandshakeMessage::NeedMore {
                declared_len: Some(256)
            }
        );
        assert_eq!(
            split_handshake(&[14, 0, 0, 0, 1]),
            HandshakeMessage::Whole {
                msg_type: 14,
                body: &[],
                consumed: 4
            }
        );
    }

    #[test]
    fn truncated_extension_block_is_an_error() {
        // version, random, sid 0, 1 cipher, 1 compression, extensions block claiming 10 bytes.
        let mut body = vec![0x03, 0x03];
        body.extend([0u8; 32]);
        body.extend([0, 0, 2, 0x13, 0x01, 1, 0, 0, 10, 0, 0, 0]);
        assert_eq!(parse_client_hello(&body), Err(ParseError::Truncated));
        // Whole block, one unknown extension with bad content still counted.
        let mut body = vec![0x03, 0x03];
        body.extend([0u8; 32]);
        body.extend([
            0, 0, 2, 0x13, 0x01, 1, 0, 0, 9, 0, 0, 0, 1, 0xff, 0, 0x0a, 0, 0,
        ]);
        let hello = parse_client_hello(&body).expect("parses");
        assert_eq!(hello.extensions, vec![0x0000, 0x000a]);
        assert_eq!(hello.sni, None);
    }

    #[test]
    fn server_hello_draft_layout() {
        let mut body = vec![0x7f, 0x12];
        body.extend([0u8; 32]);
        body.extend([0x13, 0x01, 0, 4, 0, 0x28, 0, 0]);
        let hello = parse_server_hello(&body).expect("parses");
        assert_eq!(hello.version, 0x7f12);
        assert_eq!(hello.cipher, 0x1301);
        assert_eq!(hello.extensions, vec![0x0028]);
    }

    #[test]
    fn sslv2_client_hello_keeps_tls_suites() {
        let body = [
            1, 0x03, 0x01, 0, 6, 0, 0, 0, 2, // type, version, specs, sid, challenge lengths
            0x07, 0x00, 0xc0, 0x00, 0x00, 0x39, // an SSLv2-only spec and TLS suite 0x0039
            0xaa, 0xbb,
        ];
        let hello = parse_sslv2_client_hello(&body).expect("parses");
        assert_eq!(hello.version, 0x0301);
        assert_eq!(hello.ciphers, vec![0x0039]);
        assert!(hello.sslv2_format);
    }

    #[test]
    fn no_input_panics() {
        // A cheap deterministic sweep over short inputs; the fuzz target does the real work.
        let mut seed = 0x1234_5678_u32;
        for len in 0..300usize {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (seed >> 16) as u8
                })
                .collect();
            let _ = classify_start(&bytes);
            let _ = split_record(&bytes);
            let _ = split_handshake(&bytes);
            let _ = parse_client_hello(&bytes);
            let _ = parse_server_hello(&bytes);
            let _ = parse_certificate_list(&bytes);
            let _ = parse_sslv2_client_hello(&bytes);
            let _ = parse_sslv2_server_hello(&bytes);
        }
    }
}
