//! Per-flow TLS state: record and handshake defragmentation over the reassembled stream.
//!
//! Each direction keeps at most one incomplete record and the handshake bytes that do not yet
//! form a whole message, both bounded, and stops for good at the first ChangeCipherSpec or
//! application-data record, at a gap, or once it has yielded what it can (the ClientHello; the
//! ServerHello and certificate chain). A direction that does not open with TLS is scanned for a
//! hello behind a short plaintext prelude (HTTP CONNECT, SOCKS, STARTTLS), which is how miners
//! behind proxies reach their pools; JSON-RPC and plain HTTP are dropped at once. Which side is
//! the TLS client is read from the messages themselves (who sends the ClientHello), so a flow
//! whose direction was guessed wrong, or whose capture starts mid-handshake, still reads right.
//! The pure parsing is in `parser.rs`.

use super::parser::{
    self, classify_start, content_type, handshake_type, may_open_plaintext_protocol,
    opens_plaintext_protocol, scan_for_hello, split_handshake, split_record, HandshakeMessage,
    PreludeScan, Record, StreamStart,
};
use super::TlsInfo;
use crate::fingerprint::{
    ja3, ja3_string, ja3s, ja3s_string, CertSummary, ClientHelloParams, Ja4, Ja4s,
    ServerHelloParams,
};
use crate::flow::direction::Direction;
use crate::flow::reassembly::Chunk;

/// Most handshake bytes buffered per direction while a message is incomplete. A Certificate
/// message is the largest; real chains are a few KiB, 64 KiB leaves ample room.
pub const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;

/// Most record bytes buffered per direction: one record header and body at most.
pub const MAX_RECORD_BYTES: usize = 5 + parser::MAX_RECORD_BODY;

/// Most plaintext bytes skipped per direction while looking for a hello behind a prelude.
pub const MAX_PRELUDE_BYTES: usize = 4 * 1024;

/// What a direction's opening bytes turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Start {
    /// Not decided yet (no bytes, or scanning a prelude).
    #[default]
    Unknown,
    /// TLS records (or an SSLv2 hello) from here on.
    Tls,
    /// No TLS in this direction.
    NotTls,
}

/// The TLS role of the endpoint sending a direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

#[derive(Debug, Default)]
struct DirState {
    /// Bytes not yet parsed: at most one incomplete record, or the tail of a prelude.
    pending: Vec<u8>,
    /// Handshake bytes that do not yet form a whole message.
    handshake: Vec<u8>,
    start: Start,
    /// Plaintext bytes skipped before the first TLS record.
    prelude: usize,
    role: Option<Role>,
    /// Nothing more is read in this direction.
    done: bool,
}

/// Leaf summary and chain digests of the server's certificate message.
#[derive(Debug, Clone, Default)]
struct Chain {
    leaf: Option<CertSummary>,
    sha1: Vec<String>,
    sha256: Vec<String>,
}

/// Per-flow TLS dissector fed with reassembled stream bytes.
///
/// Feed both directions with [`TlsDissector::on_chunk`] until [`TlsDissector::wants_more`] turns
/// false, then read [`TlsDissector::info`]. Never panics, and never buffers more than
/// [`MAX_RECORD_BYTES`] + [`MAX_HANDSHAKE_BYTES`] per direction.
#[derive(Debug, Default)]
pub struct TlsDissector {
    dirs: [DirState; 2],
    not_tls: bool,
    client_hello: Option<ClientHelloParams>,
    server_hello: Option<ServerHelloParams>,
    hello_retry: bool,
    sslv2_server_version: Option<u16>,
    chain: Option<Chain>,
    errors: u32,
}

impl TlsDissector {
    /// A dissector that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed reassembled stream bytes of one direction.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>) {
        if !self.reading(dir) {
            return;
        }
        match chunk {
            Chunk::Gap(_) => self.stop(dir),
            Chunk::Data(bytes) => self.feed(dir, bytes),
        }
    }

    /// False once nothing more is to be learned (hellos and certificate seen, or
    /// ChangeCipherSpec/encrypted data reached in both directions, or clearly not TLS): the
    /// caller stops feeding bytes.
    pub fn wants_more(&self) -> bool {
        !self.not_tls && !self.dirs.iter().all(|d| d.done)
    }

    /// True once the flow's opening bytes showed it is not TLS.
    pub fn is_not_tls(&self) -> bool {
        self.not_tls
    }

    /// Count of handshake messages or records that could not be parsed (for the run summary).
    pub fn parse_errors(&self) -> u32 {
        self.errors
    }

    /// The ClientHello as observed, if one was parsed.
    pub fn client_hello(&self) -> Option<&ClientHelloParams> {
        self.client_hello.as_ref()
    }

    /// The first ServerHello (or HelloRetryRequest) as observed, if one was parsed.
    pub fn server_hello(&self) -> Option<&ServerHelloParams> {
        self.server_hello.as_ref()
    }

    /// SHA-1 of every certificate the server sent, leaf first (SHA-1 blocklists such as
    /// abuse.ch SSLBL also list intermediates).
    pub fn chain_sha1(&self) -> Vec<String> {
        self.chain
            .as_ref()
            .map(|c| c.sha1.clone())
            .unwrap_or_default()
    }

    /// Whether the first ServerHello was a TLS 1.3 HelloRetryRequest.
    pub fn saw_hello_retry_request(&self) -> bool {
        self.hello_retry
    }

    /// Whether the TLS client turned out to be the flow's server side (the ClientHello came in
    /// the `ServerToClient` direction): the flow's direction was guessed wrong.
    pub fn roles_reversed(&self) -> bool {
        self.dirs[Direction::ServerToClient.index()].role == Some(Role::Client)
            || self.dirs[Direction::ClientToServer.index()].role == Some(Role::Server)
    }

    /// What was learned; fields are empty or `None` when not seen.
    pub fn info(&self) -> TlsInfo {
        let mut info = hello_info(self.client_hello.as_ref(), self.server_hello.as_ref());
        if let (None, Some(v)) = (&self.server_hello, self.sslv2_server_version) {
            info.tls_version = version_name(v).map(str::to_string);
        }
        if let Some(chain) = &self.chain {
            info.cert_chain_sha256 = chain.sha256.clone();
            if let Some(leaf) = &chain.leaf {
                info.cert_sha1 = Some(leaf.sha1.clone());
                info.cert_sha256 = Some(leaf.sha256.clone());
                info.cert_subject = leaf.subject.clone();
                info.cert_issuer = leaf.issuer.clone();
                info.cert_san = leaf.san.clone();
                info.cert_not_before = leaf.not_before.clone();
                info.cert_not_after = leaf.not_after.clone();
                info.cert_self_signed = leaf.self_signed;
            }
        }
        info
    }

    fn reading(&self, dir: Direction) -> bool {
        !self.not_tls && !self.dirs[dir.index()].done
    }

    fn stop(&mut self, dir: Direction) {
        let d = &mut self.dirs[dir.index()];
        d.done = true;
        d.pending = Vec::new();
        d.handshake = Vec::new();
    }

    fn fail(&mut self, dir: Direction) {
        self.errors = self.errors.saturating_add(1);
        self.stop(dir);
    }

    /// This direction carries no TLS. With no TLS seen the other way either, the flow is
    /// not TLS: a TLS client always speaks first with a hello.
    fn not_tls_in(&mut self, dir: Direction) {
        self.dirs[dir.index()].start = Start::NotTls;
        self.stop(dir);
        if self.dirs[dir.reverse().index()].start != Start::Tls {
            self.not_tls = true;
            self.stop(dir.reverse());
        }
    }

    fn feed(&mut self, dir: Direction, mut data: &[u8]) {
        let d = dir.index();
        while !data.is_empty() && self.reading(dir) {
            if self.dirs[d].pending.is_empty() {
                let used = self.process(dir, data);
                data = &data[used..];
                if self.reading(dir) && !data.is_empty() {
                    // `process` consumes every whole record: what is left is less than one.
                    if data.len() > MAX_RECORD_BYTES {
                        self.fail(dir);
                        return;
                    }
                    self.dirs[d].pending = data.to_vec();
                }
                return;
            }
            // Append what fits, parse from the copy, keep the unparsed tail.
            let room = MAX_RECORD_BYTES.saturating_sub(self.dirs[d].pending.len());
            let take = room.min(data.len());
            self.dirs[d].pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            let buf = std::mem::take(&mut self.dirs[d].pending);
            let used = self.process(dir, &buf);
            if !self.reading(dir) {
                return;
            }
            if used == 0 && take == 0 {
                // A full buffer that holds no whole frame cannot make progress.
                self.fail(dir);
                return;
            }
            self.dirs[d].pending = buf[used..].to_vec();
        }
    }

    /// Parse every whole frame at the front of `bytes`; return how many bytes were used.
    fn process(&mut self, dir: Direction, bytes: &[u8]) -> usize {
        let d = dir.index();
        let mut at = 0usize;
        while self.reading(dir) && at < bytes.len() {
            let rest = &bytes[at..];
            if self.dirs[d].start == Start::Unknown {
                // A record header decides only at the very start of the direction; inside a
                // prelude only a hello's signature does (`scan_for_hello`), so where the chunks
                // happen to begin cannot change the outcome.
                let start = if self.dirs[d].prelude == 0 {
                    classify_start(rest)
                } else {
                    StreamStart::NotTls
                };
                match start {
                    StreamStart::NeedMore => break,
                    StreamStart::Tls => self.dirs[d].start = Start::Tls,
                    StreamStart::SslV2 { body_len, msg_type } => {
                        let Some(body) = rest.get(2..2 + body_len) else {
                            break;
                        };
                        self.dirs[d].start = Start::Tls;
                        at += 2 + body_len;
                        self.on_sslv2(dir, msg_type, body);
                        continue;
                    }
                    StreamStart::NotTls => {
                        if self.dirs[d].prelude == 0 {
                            if opens_plaintext_protocol(rest) {
                                self.not_tls_in(dir);
                                break;
                            }
                            if may_open_plaintext_protocol(rest) {
                                // "GE" may become "GET ": wait for the rest of the token.
                                break;
                            }
                        }
                        let (skip, found) = match scan_for_hello(rest) {
                            PreludeScan::Found(i) => (i, true),
                            PreludeScan::NotYet(i) => (i, false),
                        };
                        // Skip at least one byte: the front is not a record start.
                        let skip = skip.max(usize::from(!found));
                        at += skip;
                        self.dirs[d].prelude += skip;
                        if self.dirs[d].prelude > MAX_PRELUDE_BYTES {
                            self.not_tls_in(dir);
                            break;
                        }
                        if found {
                            self.dirs[d].start = Start::Tls;
                            continue;
                        }
                        break;
                    }
                }
            }
            match split_record(rest) {
                Record::NeedMore => break,
                Record::Invalid => {
                    self.fail(dir);
                    break;
                }
                Record::Whole {
                    content_type,
                    body,
                    rest: after,
                } => {
                    at = bytes.len() - after.len();
                    self.on_record(dir, content_type, body);
                }
            }
        }
        at
    }

    fn on_record(&mut self, dir: Direction, ctype: u8, body: &[u8]) {
        match ctype {
            content_type::HANDSHAKE => self.on_handshake_bytes(dir, body),
            content_type::CHANGE_CIPHER_SPEC | content_type::APPLICATION_DATA => self.stop(dir),
            // Plaintext alerts and heartbeats carry nothing for us; keep reading.
            _ => {}
        }
    }

    fn on_handshake_bytes(&mut self, dir: Direction, body: &[u8]) {
        let d = dir.index();
        if self.dirs[d].handshake.len() + body.len() > MAX_HANDSHAKE_BYTES {
            self.fail(dir);
            return;
        }
        self.dirs[d].handshake.extend_from_slice(body);
        let buf = std::mem::take(&mut self.dirs[d].handshake);
        let mut at = 0usize;
        while self.reading(dir) {
            match split_handshake(&buf[at..]) {
                HandshakeMessage::Whole {
                    msg_type,
                    body,
                    consumed,
                } => {
                    at += consumed;
                    self.on_handshake(dir, msg_type, body);
                }
                HandshakeMessage::NeedMore { declared_len } => {
                    if declared_len.is_some_and(|n| n + 4 > MAX_HANDSHAKE_BYTES) {
                        self.fail(dir);
                    }
                    break;
                }
            }
        }
        if self.reading(dir) {
            self.dirs[d].handshake = buf[at..].to_vec();
        }
    }

    /// The role of the endpoint sending `dir`, learnt from its first handshake message (or
    /// from the other direction's), else assumed from the flow direction.
    fn role(&mut self, dir: Direction, msg_type: u8) -> Role {
        let d = dir.index();
        if let Some(role) = self.dirs[d].role {
            return role;
        }
        let role = match (msg_type, self.dirs[dir.reverse().index()].role) {
            (handshake_type::CLIENT_HELLO, _) => Role::Client,
            (
                handshake_type::SERVER_HELLO
                | handshake_type::CERTIFICATE
                | handshake_type::SERVER_KEY_EXCHANGE
                | handshake_type::SERVER_HELLO_DONE,
                None,
            ) => Role::Server,
            (_, Some(Role::Client)) => Role::Server,
            (_, Some(Role::Server)) => Role::Client,
            _ if dir == Direction::ClientToServer => Role::Client,
            _ => Role::Server,
        };
        self.dirs[d].role = Some(role);
        role
    }

    fn on_handshake(&mut self, dir: Direction, msg_type: u8, body: &[u8]) {
        match (self.role(dir, msg_type), msg_type) {
            (Role::Client, handshake_type::CLIENT_HELLO) => {
                if self.client_hello.is_none() {
                    match parser::parse_client_hello(body) {
                        Ok(hello) => self.client_hello = Some(hello),
                        Err(_) => self.errors = self.errors.saturating_add(1),
                    }
                }
                // Nothing the client sends later is needed (a client certificate is not the
                // server's, which is what `TlsInfo` describes).
                self.stop(dir);
            }
            (Role::Server, handshake_type::SERVER_HELLO) => {
                if self.server_hello.is_some() {
                    return;
                }
                match parser::parse_server_hello(body) {
                    Ok(hello) => {
                        self.hello_retry = parser::is_hello_retry_request(body);
                        let tls13 = is_tls13(hello.negotiated_version());
                        self.server_hello = Some(hello);
                        if tls13 {
                            // The certificate follows encrypted: nothing more to read.
                            self.stop(dir);
                        }
                    }
                    Err(_) => self.fail(dir),
                }
            }
            (Role::Server, handshake_type::CERTIFICATE) => {
                match parser::parse_certificate_list(body) {
                    Ok(ders) => self.chain = Some(chain_of(&ders)),
                    Err(_) => self.errors = self.errors.saturating_add(1),
                }
                self.stop(dir);
            }
            (Role::Server, handshake_type::SERVER_HELLO_DONE) => self.stop(dir),
            _ => {}
        }
    }

    fn on_sslv2(&mut self, dir: Direction, msg_type: u8, body: &[u8]) {
        match msg_type {
            1 => {
                self.dirs[dir.index()].role = Some(Role::Client);
                match parser::parse_sslv2_client_hello(body) {
                    Ok(hello) => {
                        self.client_hello.get_or_insert(hello);
                    }
                    Err(_) => self.errors = self.errors.saturating_add(1),
                }
            }
            4 => {
                self.dirs[dir.index()].role = Some(Role::Server);
                match parser::parse_sslv2_server_hello(body) {
                    Ok(hello) => {
                        self.sslv2_server_version = Some(hello.version);
                        if let Some(der) = hello.certificate {
                            self.chain = Some(chain_of(&[der]));
                        }
                    }
                    Err(_) => self.errors = self.errors.saturating_add(1),
                }
            }
            _ => {}
        }
        // After an SSLv2 hello only SSLv2 messages or, after an upgrade to TLS, records past
        // the hello follow in this direction: nothing more to learn.
        self.stop(dir);
    }
}

fn chain_of(ders: &[&[u8]]) -> Chain {
    Chain {
        leaf: ders.first().map(|der| CertSummary::from_der(der)),
        sha1: ders
            .iter()
            .map(|der| crate::fingerprint::cert_sha1(der))
            .collect(),
        sha256: ders
            .iter()
            .map(|der| crate::fingerprint::cert_sha256(der))
            .collect(),
    }
}

/// What the hellos say, for TLS over TCP and QUIC alike: SNI, ALPN, JA3/JA4 of the
/// ClientHello, version and JA3S/JA4S of the ServerHello.
pub fn hello_info(ch: Option<&ClientHelloParams>, sh: Option<&ServerHelloParams>) -> TlsInfo {
    let mut info = TlsInfo::default();
    if let Some(ch) = ch {
        info.sni = ch.sni.clone();
        info.alpn = ch
            .alpn
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let s = ja3_string(ch);
        info.ja3 = Some(ja3(ch));
        info.ja3_string = Some(s);
        let ja4 = Ja4::from_client_hello(ch);
        info.ja4 = Some(ja4.hashed());
        info.ja4_r = Some(ja4.raw());
    }
    if let Some(sh) = sh {
        info.tls_version = version_name(sh.negotiated_version()).map(str::to_string);
        info.ja3s_string = Some(ja3s_string(sh));
        info.ja3s = Some(ja3s(sh));
        info.ja4s = Some(Ja4s::from_server_hello(sh).hashed());
        info.cert_encrypted = is_tls13(sh.negotiated_version());
    }
    info
}

/// TLS 1.3 final (0x0304) or one of its drafts (0x7fxx).
pub fn is_tls13(version: u16) -> bool {
    version == 0x0304 || version & 0xff00 == 0x7f00
}

/// The `tls_version` name of a negotiated version; drafts of 1.3 read "1.3".
fn version_name(version: u16) -> Option<&'static str> {
    match version {
        0x0002 => Some("ssl2"),
        0x0300 => Some("ssl3"),
        0x0301 => Some("1.0"),
        0x0302 => Some("1.1"),
        0x0303 => Some("1.2"),
        v if is_tls13(v) => Some("1.3"),
        _ => None,
    }
}
