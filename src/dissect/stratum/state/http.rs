//! HTTP framing of the getwork and getblocktemplate dialects: request and status lines, heads,
//! bodies framed by `Content-Length`, chunked encoding or the connection's end, a `CONNECT`
//! that turns both sides into lines, and requests paired with their answers in order. The
//! JSON-RPC bodies go to the same message handling as Stratum lines.

use super::*;

/// Where an HTTP direction is within its current message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum HttpPhase {
    /// Reading the head into the buffer.
    Head,
    /// A body of known length; `remaining` bytes to go.
    Body { remaining: u64 },
    /// A chunk-size line: the size so far, its digit count, and whether extensions started.
    ChunkSize { size: u64, digits: u8, ext: bool },
    /// Chunk data.
    ChunkData { remaining: u64 },
    /// The line end after chunk data.
    ChunkEnd,
    /// Trailer lines after the last chunk; `line` bytes of the current one seen.
    Trailers { line: usize },
    /// A response body that ends with the connection.
    UntilClose,
}

/// The HTTP message a direction is reading.
#[derive(Debug, Clone, Default)]
pub(super) struct HttpMessage {
    pub(super) request: bool,
    pub(super) post: bool,
    /// A HEAD request: its answer has no body.
    pub(super) head: bool,
    pub(super) status: u16,
    /// For a response, the request it answers.
    pub(super) answers: Option<HttpCall>,
    /// The body outgrew [`MAX_HTTP_BODY`] or lost bytes to a gap: it is not parsed.
    pub(super) unreadable: bool,
    pub(super) user_agent: Option<String>,
    pub(super) basic_auth: Option<String>,
    /// Attempts to read a body delimited by the connection's end.
    pub(super) close_tries: u32,
}

/// The start line of an HTTP message, reduced to what the framing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    Request {
        post: bool,
        connect: bool,
        head: bool,
    },
    Response {
        status: u16,
    },
}

/// What the framing keeps of an HTTP head, copied out of the buffer it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HeadFields {
    pub(super) start: Start,
    pub(super) content_length: Option<u64>,
    pub(super) chunked: bool,
    pub(super) user_agent: Option<String>,
    pub(super) basic_auth: Option<String>,
}

/// An HTTP request waiting for its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct HttpCall {
    pub(super) dir: Direction,
    /// The first mining call of its JSON-RPC body.
    pub(super) mining: Option<(StratumDialect, Op)>,
    pub(super) head: bool,
    pub(super) connect: bool,
}

impl StratumDissector {
    pub(super) fn feed_http(&mut self, dir: Direction, mut bytes: &[u8], ts: f64) {
        let i = dir.index();
        while !bytes.is_empty() && self.reading(dir) {
            let Mode::Http(phase) = self.dirs[i].mode else {
                return self.feed(dir, bytes, ts);
            };
            match phase {
                HttpPhase::Head => {
                    let d = &mut self.dirs[i];
                    if d.buf.is_empty() {
                        // Stray line ends between messages (after a body) are not a head.
                        let start = bytes
                            .iter()
                            .position(|&b| b != b'\r' && b != b'\n')
                            .unwrap_or(bytes.len());
                        bytes = &bytes[start..];
                        if bytes.is_empty() {
                            return;
                        }
                    }
                    let old = d.buf.len();
                    let take = (MAX_HTTP_HEAD + 1 - old.min(MAX_HTTP_HEAD)).min(bytes.len());
                    d.buf.extend_from_slice(&bytes[..take]);
                    let head = if parser::has_blank_line(&d.buf[old.saturating_sub(3)..]) {
                        parser::parse_http_head(&d.buf)
                    } else {
                        HeadParse::NeedMore
                    };
                    match head {
                        HeadParse::NeedMore => {
                            if d.buf.len() > MAX_HTTP_HEAD {
                                d.mode = Mode::Dead;
                                d.buf = Vec::new();
                            }
                            bytes = &bytes[take..];
                        }
                        HeadParse::Invalid => {
                            d.mode = Mode::Dead;
                            d.buf = Vec::new();
                            return;
                        }
                        HeadParse::Complete(head) => {
                            let used = head.len.saturating_sub(old).min(take);
                            let start = match head.start {
                                HttpStart::Request { method } => Start::Request {
                                    post: method == "POST",
                                    connect: method == "CONNECT",
                                    head: method == "HEAD",
                                },
                                HttpStart::Response { status } => Start::Response { status },
                            };
                            let fields = HeadFields {
                                start,
                                content_length: head.content_length,
                                chunked: head.chunked,
                                user_agent: head.user_agent.map(|s| parser::bounded(s, MAX_TEXT)),
                                basic_auth: head.basic_auth.map(|s| parser::bounded(s, MAX_TEXT)),
                            };
                            d.buf.clear();
                            bytes = &bytes[used..];
                            self.on_http_head(dir, fields, ts);
                        }
                    }
                }
                HttpPhase::Body { remaining } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.http_body_bytes(i, &bytes[..n]);
                    bytes = &bytes[n..];
                    let remaining = remaining - n as u64;
                    self.dirs[i].mode = Mode::Http(HttpPhase::Body { remaining });
                    if remaining == 0 {
                        self.on_http_message_end(dir, ts);
                    }
                }
                HttpPhase::ChunkSize { size, digits, ext } => {
                    let Some((&b, rest)) = bytes.split_first() else {
                        return;
                    };
                    bytes = rest;
                    let d = &mut self.dirs[i];
                    let next = match b {
                        b'\n' if digits == 0 => Mode::Dead,
                        b'\n' if size == 0 => Mode::Http(HttpPhase::Trailers { line: 0 }),
                        b'\n' => Mode::Http(HttpPhase::ChunkData { remaining: size }),
                        _ if ext => Mode::Http(phase),
                        b';' | b' ' | b'\t' | b'\r' => Mode::Http(HttpPhase::ChunkSize {
                            size,
                            digits,
                            ext: digits > 0,
                        }),
                        _ => match char::from(b).to_digit(16) {
                            Some(v) if digits < 15 => Mode::Http(HttpPhase::ChunkSize {
                                size: size * 16 + u64::from(v),
                                digits: digits + 1,
                                ext,
                            }),
                            _ => Mode::Dead,
                        },
                    };
                    d.mode = next;
                }
                HttpPhase::ChunkData { remaining } => {
                    let n = remaining.min(bytes.len() as u64) as usize;
                    self.http_body_bytes(i, &bytes[..n]);
                    bytes = &bytes[n..];
                    let remaining = remaining - n as u64;
                    self.dirs[i].mode = Mode::Http(if remaining == 0 {
                        HttpPhase::ChunkEnd
                    } else {
                        HttpPhase::ChunkData { remaining }
                    });
                }
                HttpPhase::ChunkEnd => match parser::find_line_end(bytes) {
                    None => return,
                    Some(n) => {
                        bytes = &bytes[n + 1..];
                        self.dirs[i].mode = Mode::Http(HttpPhase::ChunkSize {
                            size: 0,
                            digits: 0,
                            ext: false,
                        });
                    }
                },
                HttpPhase::Trailers { line } => {
                    let Some((&b, rest)) = bytes.split_first() else {
                        return;
                    };
                    bytes = rest;
                    match b {
                        b'\n' if line == 0 => self.on_http_message_end(dir, ts),
                        b'\n' => self.dirs[i].mode = Mode::Http(HttpPhase::Trailers { line: 0 }),
                        b'\r' => {}
                        _ => self.dirs[i].mode = Mode::Http(HttpPhase::Trailers { line: line + 1 }),
                    }
                }
                HttpPhase::UntilClose => {
                    self.http_body_bytes(i, bytes);
                    bytes = &[];
                    let d = &mut self.dirs[i];
                    let body = trim_ascii(&d.buf);
                    if !d.http.unreadable && matches!(body.last(), Some(b'}' | b']')) {
                        // Try to read the body as soon as it could be complete, a bounded
                        // number of times (each try reads the whole body so far).
                        d.http.close_tries += 1;
                        if d.http.close_tries > MAX_CLOSE_TRIES {
                            d.http.unreadable = true;
                            d.buf.clear();
                        } else if serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok() {
                            self.on_http_message_end(dir, ts);
                            self.dirs[i].mode = Mode::Dead;
                        }
                    }
                }
            }
        }
    }

    pub(super) fn http_body_bytes(&mut self, i: usize, bytes: &[u8]) {
        let d = &mut self.dirs[i];
        if d.http.unreadable {
            return;
        }
        if d.buf.len() + bytes.len() > MAX_HTTP_BODY {
            d.http.unreadable = true;
            d.buf.clear();
        } else {
            d.buf.extend_from_slice(bytes);
        }
    }

    pub(super) fn on_http_head(&mut self, dir: Direction, fields: HeadFields, ts: f64) {
        let HeadFields {
            start,
            content_length,
            chunked,
            user_agent,
            basic_auth,
        } = fields;
        let i = dir.index();
        self.spend();
        if !self.reading(dir) {
            return;
        }
        let body = match start {
            Start::Request {
                post,
                connect,
                head,
            } => {
                self.dirs[i].http = HttpMessage {
                    request: true,
                    post,
                    head,
                    user_agent,
                    basic_auth,
                    ..HttpMessage::default()
                };
                if connect {
                    self.push_http_call(HttpCall {
                        dir,
                        mining: None,
                        head: false,
                        connect: true,
                    });
                    // The tunnel's bytes follow the head.
                    self.dirs[i].mode = Mode::Lines;
                    return;
                }
                if chunked {
                    None
                } else {
                    Some(content_length.unwrap_or(0))
                }
            }
            Start::Response { status } => {
                if (100..200).contains(&status) {
                    // An interim answer; the real one follows.
                    self.dirs[i].mode = Mode::Http(HttpPhase::Head);
                    return;
                }
                let answers = self.pop_http_call(dir.reverse());
                self.dirs[i].http = HttpMessage {
                    request: false,
                    status,
                    answers,
                    ..HttpMessage::default()
                };
                // Precision first: any web server answers a POST with 404 or 405; only a
                // success status says the server took the mining call.
                if answers.is_some_and(|c| c.mining.is_some()) && (200..300).contains(&status) {
                    self.confirm(Evidence::HttpReply);
                }
                if answers.is_some_and(|c| c.connect) && (200..300).contains(&status) {
                    self.dirs[i].mode = Mode::Lines;
                    return;
                }
                if status == 204 || status == 304 || answers.is_some_and(|c| c.head) {
                    Some(0)
                } else if chunked {
                    None
                } else if let Some(n) = content_length {
                    Some(n)
                } else {
                    self.dirs[i].mode = Mode::Http(HttpPhase::UntilClose);
                    return;
                }
            }
        };
        match body {
            Some(0) => {
                self.dirs[i].mode = Mode::Http(HttpPhase::Body { remaining: 0 });
                self.on_http_message_end(dir, ts);
            }
            Some(n) => {
                if n > MAX_HTTP_BODY as u64 {
                    self.dirs[i].http.unreadable = true;
                }
                self.dirs[i].mode = Mode::Http(HttpPhase::Body { remaining: n });
            }
            None => {
                self.dirs[i].mode = Mode::Http(HttpPhase::ChunkSize {
                    size: 0,
                    digits: 0,
                    ext: false,
                })
            }
        }
    }

    pub(super) fn on_http_message_end(&mut self, dir: Direction, ts: f64) {
        let i = dir.index();
        let msg = std::mem::take(&mut self.dirs[i].http);
        let mut body = std::mem::take(&mut self.dirs[i].buf);
        self.dirs[i].mode = Mode::Http(HttpPhase::Head);
        let summary = if msg.unreadable {
            ValueSummary::default()
        } else {
            match serde_json::from_slice::<Value>(trim_ascii(&body)) {
                Ok(v) => self.on_value(dir, &v, ts),
                Err(_) => ValueSummary::default(),
            }
        };
        body.clear();
        if self.dirs[i].buf.is_empty() {
            self.dirs[i].buf = body;
        }
        if msg.request {
            let mining = summary.first_miner_call;
            self.push_http_call(HttpCall {
                dir,
                mining,
                head: msg.head,
                connect: false,
            });
            if !msg.post || summary.rpc == 0 {
                // Plain HTTP: mining software only ever POSTs JSON-RPC.
                if self.verdict == Verdict::Undecided {
                    self.give_up();
                }
                return;
            }
            if mining.is_some() {
                if self.agent.is_none() {
                    self.agent = msg.user_agent;
                }
                if self.login.is_none() {
                    if let Some(user) = msg
                        .basic_auth
                        .as_deref()
                        .and_then(parser::base64_decode)
                        .and_then(|b| String::from_utf8(b).ok())
                    {
                        let user = user.split(':').next().unwrap_or_default();
                        self.set_user(user, '.');
                    }
                }
            }
        } else if let Some(HttpCall {
            mining: Some((_, Op::GetWork)),
            ..
        }) = msg.answers
        {
            // A work answer whose body could not be read (too large, cut by a gap, not JSON):
            // a successful status still means the miner received work.
            if summary.replies == 0 && (200..300).contains(&msg.status) {
                self.job(ts);
            }
        }
    }

    pub(super) fn push_http_call(&mut self, call: HttpCall) {
        if self.http_calls.len() >= MAX_HTTP_PENDING {
            self.http_calls.pop_front();
        }
        self.http_calls.push_back(call);
    }

    pub(super) fn pop_http_call(&mut self, from: Direction) -> Option<HttpCall> {
        if self.http_calls.front().is_some_and(|c| c.dir == from) {
            self.http_calls.pop_front()
        } else {
            None
        }
    }
}
