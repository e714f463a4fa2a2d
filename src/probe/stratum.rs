//! Speaking a pool's protocol to confirm it is one: a Monero `login` or a Bitcoin
//! `mining.subscribe` with a dummy worker, and the judgement of the answer.
//!
//! A server answers "like a pool" when it replies with a JSON-RPC object carrying the request's
//! id (1) and either a job (Monero `login`), a subscription (Bitcoin `mining.subscribe`) or an
//! error object: pools reject the dummy login `x` with an error, and that refusal is as telling
//! as a job. A reply with the same id but some other result, anything that is not JSON-RPC,
//! silence and a closed connection are not. Notifications (`mining.set_difficulty`, `job`)
//! before the reply are noted and skipped.

use super::net::preview;
use serde::Serialize;
use serde_json::Value;
use std::io::{ErrorKind, Read, Write};

/// The user agent the probe announces: it says what it is.
pub const AGENT: &str = "poolscope-probe/0.1";

/// Most bytes read while waiting for the reply.
const MAX_REPLY_BYTES: usize = 64 * 1024;
/// Most lines read while waiting for the reply.
const MAX_REPLY_LINES: usize = 16;
/// How much of the answer a report keeps.
const ANSWER_PREVIEW: usize = 300;

/// The two requests the probe knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Monero-style Stratum (XMRig, xmr-node-proxy): `login`.
    Monero,
    /// Bitcoin Stratum v1: `mining.subscribe`.
    Bitcoin,
}

impl Dialect {
    /// Name as reports and the command line write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Monero => "monero",
            Dialect::Bitcoin => "bitcoin",
        }
    }

    /// The request line sent, newline included.
    pub fn request(self) -> String {
        match self {
            Dialect::Monero => format!(
                "{{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{{\"login\":\"x\",\
                 \"pass\":\"x\",\"agent\":\"{AGENT}\"}}}}\n"
            ),
            Dialect::Bitcoin => {
                format!("{{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"{AGENT}\"]}}\n")
            }
        }
    }
}

/// Which requests to try: one dialect, or Monero then Bitcoin until one answers like a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DialectChoice {
    /// `login` first; `mining.subscribe` on a new connection if that got no pool-like answer.
    #[default]
    Auto,
    /// Only this dialect.
    Only(Dialect),
}

impl DialectChoice {
    /// Parses `auto`, `monero` (or `xmr`), `bitcoin` (or `btc`).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "monero" | "xmr" => Some(Self::Only(Dialect::Monero)),
            "bitcoin" | "btc" => Some(Self::Only(Dialect::Bitcoin)),
            _ => None,
        }
    }

    /// The dialects to try, in order.
    pub fn order(self) -> &'static [Dialect] {
        match self {
            Self::Auto => &[Dialect::Monero, Dialect::Bitcoin],
            Self::Only(Dialect::Monero) => &[Dialect::Monero],
            Self::Only(Dialect::Bitcoin) => &[Dialect::Bitcoin],
        }
    }
}

/// What came back to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplyKind {
    /// A reply with our id whose result holds a job or a session (Monero `login`).
    Job,
    /// A reply with our id whose result is a subscription (Bitcoin `mining.subscribe`).
    Subscription,
    /// A reply with our id carrying a JSON-RPC error object (a pool refusing the dummy worker).
    Error,
    /// A reply with our id but neither a job, a subscription nor an error.
    OtherResult,
    /// Something that is not a JSON-RPC object (an HTTP error page, a banner, binary).
    NotJsonRpc,
    /// Nothing that answers the request before the timeout.
    NoReply,
    /// The server closed the connection without answering.
    Closed,
}

impl ReplyKind {
    /// Whether this reply is what a pool says.
    pub fn is_pool_like(self) -> bool {
        matches!(self, Self::Job | Self::Subscription | Self::Error)
    }
}

/// How one line of the server's answer reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// The reply to our request.
    Reply(ReplyKind),
    /// A notification (a call from the server), by method name.
    Notification(String),
    /// A JSON-RPC object that is neither (another id).
    Unrelated,
    /// Not a JSON object.
    NotJson,
}

fn is_error_object(v: &Value) -> bool {
    match v {
        Value::Object(o) => !o.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::String(s) => !s.is_empty(),
        _ => false,
    }
}

/// Classifies the `result` of a reply to `login` or `mining.subscribe`.
pub fn classify_result(result: &Value) -> ReplyKind {
    match result {
        // Monero login: {"id": session, "job": {...}, "status": "OK"}.
        Value::Object(o) if o.get("job").is_some_and(Value::is_object) => ReplyKind::Job,
        Value::Object(o) if o.contains_key("id") && o.contains_key("status") => ReplyKind::Job,
        // Bitcoin subscribe: [[subscriptions...], extranonce1, extranonce2_size].
        Value::Array(a) if a.len() >= 2 && (a[0].is_array() || a[1].is_string()) => {
            ReplyKind::Subscription
        }
        _ => ReplyKind::OtherResult,
    }
}

/// Classifies one line the server sent after our request (id 1).
pub fn classify_line(line: &str) -> Line {
    let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
        return Line::NotJson;
    };
    let ours = match obj.get("id") {
        Some(Value::Number(n)) => n.as_u64() == Some(1),
        Some(Value::String(s)) => s == "1",
        _ => false,
    };
    if !ours {
        return match obj.get("method").and_then(Value::as_str) {
            Some(m) => Line::Notification(m.to_string()),
            None => Line::Unrelated,
        };
    }
    if obj.get("error").is_some_and(is_error_object) {
        return Line::Reply(ReplyKind::Error);
    }
    match obj.get("result") {
        Some(r) => Line::Reply(classify_result(r)),
        None => Line::Reply(ReplyKind::OtherResult),
    }
}

/// One request and what came back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StratumTry {
    /// The request sent.
    pub dialect: Dialect,
    /// How the answer reads.
    pub reply: ReplyKind,
    /// Whether that is what a pool says.
    pub pool_like: bool,
    /// The answer (its first bytes, escaped), when there was one.
    pub answer: Option<String>,
    /// Methods of notifications the server sent before (or instead of) its reply.
    pub notifications: Vec<String>,
    /// Why the conversation ended without a reply (timeout, reset), when it did.
    pub error: Option<String>,
}

impl StratumTry {
    fn new(dialect: Dialect, reply: ReplyKind) -> Self {
        StratumTry {
            dialect,
            reply,
            pool_like: reply.is_pool_like(),
            answer: None,
            notifications: Vec::new(),
            error: None,
        }
    }
}

/// Sends `dialect`'s request over `stream` and reads until the reply, a non-JSON answer, the
/// end of the stream or an error (the stream's own deadline bounds the wait).
pub(crate) fn converse<S: Read + Write>(stream: &mut S, dialect: Dialect) -> StratumTry {
    let sent = stream
        .write_all(dialect.request().as_bytes())
        .and_then(|()| stream.flush());
    if let Err(e) = sent {
        let mut t = StratumTry::new(dialect, ReplyKind::Closed);
        t.error = Some(format!("sending the request: {e}"));
        return t;
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut notifications = Vec::new();
    let mut lines = 0;
    let mut chunk = [0u8; 4096];
    let finish = |reply: ReplyKind, answer: Option<&[u8]>, notes: Vec<String>| {
        let mut t = StratumTry::new(dialect, reply);
        t.answer = answer.map(|a| preview(a, ANSWER_PREVIEW));
        t.notifications = notes;
        t
    };
    loop {
        while let Some(pos) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            lines += 1;
            match classify_line(text) {
                Line::Reply(kind) => return finish(kind, Some(text.as_bytes()), notifications),
                Line::NotJson => {
                    return finish(ReplyKind::NotJsonRpc, Some(text.as_bytes()), notifications)
                }
                Line::Notification(m) => notifications.push(m),
                Line::Unrelated => {}
            }
            if lines >= MAX_REPLY_LINES {
                let mut t = finish(ReplyKind::NoReply, None, notifications);
                t.error = Some(format!("no reply to id 1 in the first {lines} lines"));
                return t;
            }
        }
        // A JSON-RPC line starts with '{': anything else is already not a pool.
        if buf
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b != b'{')
        {
            return finish(ReplyKind::NotJsonRpc, Some(&buf), notifications);
        }
        if buf.len() > MAX_REPLY_BYTES {
            return finish(ReplyKind::NotJsonRpc, Some(&buf), notifications);
        }
        match stream.read(&mut chunk) {
            Ok(0) => {
                let text = String::from_utf8_lossy(&buf).trim().to_string();
                if !text.is_empty() {
                    // A last line without its newline.
                    if let Line::Reply(kind) = classify_line(&text) {
                        return finish(kind, Some(text.as_bytes()), notifications);
                    }
                }
                let mut t = finish(ReplyKind::Closed, None, notifications);
                t.error = Some("the server closed the connection without a reply".into());
                return t;
            }
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => {
                let timeout = matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock);
                let kind = if timeout {
                    ReplyKind::NoReply
                } else {
                    ReplyKind::Closed
                };
                let mut t = finish(kind, None, notifications);
                t.error = Some(if timeout {
                    "no reply within the timeout".into()
                } else {
                    e.to_string()
                });
                return t;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn requests_are_the_documented_lines() {
        assert_eq!(
            Dialect::Monero.request(),
            "{\"id\":1,\"jsonrpc\":\"2.0\",\"method\":\"login\",\"params\":{\"login\":\"x\",\
             \"pass\":\"x\",\"agent\":\"poolscope-probe/0.1\"}}\n"
        );
        assert_eq!(
            Dialect::Bitcoin.request(),
            "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"poolscope-probe/0.1\"]}\n"
        );
        for d in [Dialect::Monero, Dialect::Bitcoin] {
            let v: Value = serde_json::from_str(d.request().trim()).unwrap();
            assert_eq!(v["id"], 1);
        }
    }

    #[test]
    fn replies_are_judged() {
        let cases: &[(&str, Line)] = &[
            (
                r#"{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"a1","job":{"blob":"07","job_id":"1","target":"b88d0600"},"status":"OK"}}"#,
                Line::Reply(ReplyKind::Job),
            ),
            (
                r#"{"id":1,"result":[[["mining.set_difficulty","1"],["mining.notify","1"]],"08000002",4],"error":null}"#,
                Line::Reply(ReplyKind::Subscription),
            ),
            (
                r#"{"id":1,"jsonrpc":"2.0","error":{"code":-1,"message":"Invalid address used for login"}}"#,
                Line::Reply(ReplyKind::Error),
            ),
            (
                r#"{"id":1,"result":null,"error":[20,"Unknown method",null]}"#,
                Line::Reply(ReplyKind::Error),
            ),
            (
                r#"{"id":"1","result":true}"#,
                Line::Reply(ReplyKind::OtherResult),
            ),
            (
                r#"{"id":1,"result":null,"error":null}"#,
                Line::Reply(ReplyKind::OtherResult),
            ),
            (
                r#"{"id":null,"method":"mining.set_difficulty","params":[8]}"#,
                Line::Notification("mining.set_difficulty".into()),
            ),
            (r#"{"id":7,"result":[]}"#, Line::Unrelated),
            ("HTTP/1.1 400 Bad Request", Line::NotJson),
            ("[1,2]", Line::NotJson),
        ];
        for (line, want) in cases {
            assert_eq!(&classify_line(line), want, "{line}");
        }
        assert!(ReplyKind::Error.is_pool_like());
        assert!(!ReplyKind::OtherResult.is_pool_like());
    }

    /// A stream that yields a canned answer and records what was written.
    struct Canned {
        answer: Cursor<Vec<u8>>,
        written: Vec<u8>,
    }

    impl Read for Canned {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            // One byte at a time: every split of a line must work.
            let n = buf.len().min(1);
            self.answer.read(&mut buf[..n])
        }
    }

    impl Write for Canned {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn talk(answer: &str, d: Dialect) -> (StratumTry, Vec<u8>) {
        let mut s = Canned {
            answer: Cursor::new(answer.as_bytes().to_vec()),
            written: Vec::new(),
        };
        let t = converse(&mut s, d);
        (t, s.written)
    }

    #[test]
    fn conversations() {
        let (t, written) = talk(
            "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[1]}\n\
             {\"id\":1,\"result\":[[],\"00\",4],\"error\":null}\n",
            Dialect::Bitcoin,
        );
        assert_eq!(written, Dialect::Bitcoin.request().as_bytes());
        assert_eq!(t.reply, ReplyKind::Subscription);
        assert!(t.pool_like);
        assert_eq!(t.notifications, ["mining.set_difficulty"]);

        let (t, _) = talk("HTTP/1.0 400 Bad request\r\n\r\n", Dialect::Monero);
        assert_eq!(t.reply, ReplyKind::NotJsonRpc);
        assert_eq!(t.answer.as_deref(), Some("H"), "judged on its first byte");

        let (t, _) = talk("", Dialect::Monero);
        assert_eq!(t.reply, ReplyKind::Closed);
        assert!(!t.pool_like);

        // The last line may lack its newline when the server closes.
        let (t, _) = talk("{\"id\":1,\"error\":{\"code\":-1}}", Dialect::Monero);
        assert_eq!(t.reply, ReplyKind::Error);

        let many = "{\"id\":9,\"result\":1}\n".repeat(40);
        let (t, _) = talk(&many, Dialect::Monero);
        assert_eq!(t.reply, ReplyKind::NoReply);
    }

    #[test]
    fn dialect_choices() {
        assert_eq!(DialectChoice::parse("AUTO"), Some(DialectChoice::Auto));
        assert_eq!(
            DialectChoice::parse("btc").unwrap().order(),
            &[Dialect::Bitcoin]
        );
        assert_eq!(DialectChoice::Auto.order().len(), 2);
        assert_eq!(DialectChoice::parse("eth"), None);
    }
}
