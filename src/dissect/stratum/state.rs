//! Per-flow Stratum state: line and HTTP framing over the reassembled streams, request/answer
//! pairing, the mining decision and the running session counters.
//!
//! Each direction is framed on its own. Its first bytes choose the framing: a JSON object or
//! array opens newline-delimited JSON-RPC, a request or status line opens HTTP (JSON-RPC bodies
//! framed by `Content-Length` or chunked encoding; a 2xx answer to `CONNECT` turns both sides into
//! lines), a control byte marks a binary protocol, and other text is taken for a capture that
//! starts mid-line. A line longer than [`MAX_LINE`] is counted and skipped up to its newline; a
//! gap drops the partial line and resynchronises at the next line start. Outstanding requests
//! are remembered in a fixed table of [`MAX_PENDING`] ids, job timing in running moments, so
//! that memory does not grow with the flow's length. The pure parsing is in `parser.rs`, the
//! HTTP framing in `state/http.rs`.

use super::parser::{
    self, classify, classify_opening, coin_from_algo, eth_work, id_key, is_binary_byte,
    is_block_template, is_getwork_result, method_info, miner_call_shape, notify_shape, refine_op,
    share_verdict, split_user, target256_difficulty, trim_ascii, xmr_job, xmr_target_difficulty,
    CallShape, EthWork, HeadParse, HttpStart, IdKey, NotifyShape, Op, Opening, Rpc, Sender,
    ShareVerdict, StratumDialect, XmrJob,
};
use super::StratumInfo;
use crate::flow::direction::Direction;
use crate::flow::reassembly::Chunk;
use crate::stats::Moments;
use serde_json::Value;

mod http;
use http::{HttpCall, HttpMessage, HttpPhase};
use std::collections::{BTreeMap, VecDeque};

/// Longest line parsed (16 KiB): Stratum lines are a few hundred bytes, a `mining.notify` with a
/// long merkle branch or an Equihash solution a few KiB.
pub const MAX_LINE: usize = 16 * 1024;

/// Longest HTTP head read.
pub const MAX_HTTP_HEAD: usize = 16 * 1024;

/// Largest HTTP body parsed; longer bodies (a full block template can be megabytes) are skipped
/// unread, and a 2xx answer to a work request is then counted as a job without its content.
pub const MAX_HTTP_BODY: usize = 64 * 1024;

/// Messages (JSON-RPC messages, malformed lines, HTTP heads) within which a flow must show
/// mining evidence; later, an undecided flow is dropped.
pub const DECISION_MESSAGES: u32 = 32;

/// Bytes (both directions) within which a flow must show mining evidence.
pub const DECISION_BYTES: u64 = 256 * 1024;

/// Outstanding requests remembered for id matching; the oldest is forgotten when full.
pub const MAX_PENDING: usize = 32;

/// Distinct method names counted per flow.
pub const MAX_METHODS: usize = 64;

/// Outstanding HTTP requests remembered (answers arrive in request order).
const MAX_HTTP_PENDING: usize = 16;

/// Longest method name kept (bytes).
const MAX_METHOD_NAME: usize = 64;

/// Longest agent, login or worker kept (bytes).
const MAX_TEXT: usize = 256;

/// Attempts to parse a body that ends with the connection (see [`HttpPhase::UntilClose`]).
const MAX_CLOSE_TRIES: u32 = 16;

/// Bytes gathered to classify a direction's opening (the longest HTTP token is 8 bytes).
const OPENING_BYTES: usize = 8;

/// What confirmed a flow as mining (see the module documentation of [`super`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A mining call answered by the other side with the same JSON-RPC id.
    Reply,
    /// A job pushed by a side that made no mining call.
    Push,
    /// An HTTP JSON-RPC mining request answered by an HTTP response.
    HttpReply,
    /// A Stratum V2 Noise handshake and set-up exchange of the exact sizes (reported by
    /// [`super::MiningDissector`], never by [`StratumDissector`]).
    NoiseHandshake,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Verdict {
    #[default]
    Undecided,
    Mining(Evidence),
    NotMining,
}

/// How a direction is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Mode {
    /// No byte other than whitespace yet.
    #[default]
    Opening,
    /// Newline-delimited JSON.
    Lines,
    /// HTTP messages.
    Http(HttpPhase),
    /// Nothing more is read in this direction (binary, unframeable after a gap, or an HTTP
    /// body read to the connection's end).
    Dead,
}

#[derive(Debug, Default)]
struct DirState {
    mode: Mode,
    /// The partial line, the opening bytes, or the HTTP head or body being read.
    buf: Vec<u8>,
    /// Discarding up to the next newline (an over-long line, or the tail of a line cut by a
    /// gap or by a mid-stream start).
    skip: bool,
    /// The next line follows a gap: it is parsed only if it opens like JSON, and a failure is
    /// not counted as malformed.
    resync: bool,
    http: HttpMessage,
    /// This side sent a mining call (it is the miner).
    miner_calls: bool,
}

/// A request waiting for its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    seq: u64,
    dir: Direction,
    id: IdKey,
    dialect: StratumDialect,
    op: Op,
    /// `submitblock` / `getblocktemplate` submit: BIP 22 answer semantics.
    bip22: bool,
    /// A generic-named call ([`CallShape::NeedsMiningAnswer`]): only a mining-shaped answer
    /// confirms.
    weak: bool,
}

/// What a pool-side method carried, as evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Push {
    /// A job with its mining fields: confirms on its own.
    Job,
    /// A valid difficulty or target: confirms only when the other side made a mining call.
    Setting,
    /// Nothing usable.
    Nothing,
}

/// What one parsed JSON value contained.
#[derive(Debug, Default)]
struct ValueSummary {
    rpc: u32,
    replies: u32,
    first_miner_call: Option<(StratumDialect, Op)>,
}

/// Per-flow dissector of newline-delimited JSON-RPC mining protocols and their HTTP relatives.
///
/// Feed both directions with [`StratumDissector::on_chunk`] while
/// [`StratumDissector::wants_more`] is true, then read [`StratumDissector::info`]. Never panics
/// on any input, and keeps at most [`MAX_HTTP_BODY`] bytes buffered per direction plus fixed-size
/// tables.
#[derive(Debug, Default)]
pub struct StratumDissector {
    dirs: [DirState; 2],
    verdict: Verdict,
    /// Messages counted against [`DECISION_MESSAGES`] while undecided.
    units: u32,
    /// Bytes counted against [`DECISION_BYTES`] while undecided.
    bytes: u64,
    /// Outstanding requests, at most [`MAX_PENDING`] (allocated at the first mining call).
    pending: Vec<Pending>,
    pending_seq: u64,
    http_calls: VecDeque<HttpCall>,
    /// Mining messages seen per dialect ([`StratumDialect::index`]).
    hits: [u32; 5],
    eth_marker: bool,
    zcash_marker: bool,
    algo_coin: Option<&'static str>,
    agent: Option<String>,
    login: Option<String>,
    worker: Option<String>,
    methods: BTreeMap<String, u64>,
    jobs: u64,
    submits: u64,
    accepted: u64,
    rejected: u64,
    difficulty: Option<f64>,
    last_job_ts: Option<f64>,
    intervals: Moments,
    last_eth_header: Option<u64>,
    first_ts: Option<f64>,
    last_ts: Option<f64>,
    messages: u64,
    malformed: u64,
}

impl StratumDissector {
    /// A dissector that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed reassembled stream bytes of one direction; `ts` is the capture time (epoch seconds)
    /// of the packet that delivered them, used for job and share timing.
    pub fn on_chunk(&mut self, dir: Direction, chunk: Chunk<'_>, ts: f64) {
        if !self.reading(dir) {
            return;
        }
        match chunk {
            Chunk::Gap(n) => self.on_gap(dir, n),
            Chunk::Data(bytes) => {
                if self.verdict == Verdict::Undecided {
                    self.bytes = self.bytes.saturating_add(bytes.len() as u64);
                    if self.bytes > DECISION_BYTES {
                        self.give_up();
                        return;
                    }
                }
                self.feed(dir, bytes, ts);
            }
        }
    }

    /// False once the flow is clearly not a mining protocol (binary, plain HTTP, or no evidence
    /// within the decision budget), so the caller can stop feeding it. A confirmed mining flow
    /// keeps returning true, so that jobs and shares are counted to its end.
    pub fn wants_more(&self) -> bool {
        match self.verdict {
            Verdict::Mining(_) => true,
            Verdict::NotMining => false,
            Verdict::Undecided => !self.dirs.iter().all(|d| d.mode == Mode::Dead),
        }
    }

    /// What confirmed the flow as mining, if it is confirmed.
    pub fn evidence(&self) -> Option<Evidence> {
        match self.verdict {
            Verdict::Mining(e) => Some(e),
            _ => None,
        }
    }

    /// The session summary; `None` unless the flow is confirmed as mining.
    pub fn info(&self) -> Option<StratumInfo> {
        let Verdict::Mining(_) = self.verdict else {
            return None;
        };
        let dialect = self.dialect();
        let coin = self
            .algo_coin
            .or_else(|| (dialect == StratumDialect::Eth).then_some("ethereum"))
            .or_else(|| self.zcash_marker.then_some("zcash"))
            .map(str::to_string);
        let m = &self.intervals;
        let job_interval_mean = (m.count() >= 1).then(|| m.mean());
        let job_interval_cv = Some(m.cv()).filter(|c| !c.is_nan());
        let submit_rate = match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) if b > a => Some(self.submits as f64 / (b - a)),
            _ => None,
        };
        Some(StratumInfo {
            dialect: dialect.name(),
            coin,
            agent: self.agent.clone(),
            login: self.login.clone(),
            worker: self.worker.clone(),
            methods: self.methods.clone(),
            jobs: self.jobs,
            submits: self.submits,
            accepted: self.accepted,
            rejected: self.rejected,
            difficulty: self.difficulty,
            job_interval_mean,
            job_interval_cv,
            submit_rate,
            messages: self.messages,
            malformed_lines: self.malformed,
            messages_c2s: None,
            messages_s2c: None,
        })
    }

    fn dialect(&self) -> StratumDialect {
        if self.eth_marker {
            return StratumDialect::Eth;
        }
        let mut best = StratumDialect::Btc;
        let mut best_hits = 0;
        for d in StratumDialect::ALL {
            if d != StratumDialect::Eth && self.hits[d.index()] > best_hits {
                best = d;
                best_hits = self.hits[d.index()];
            }
        }
        best
    }

    fn reading(&self, dir: Direction) -> bool {
        self.verdict != Verdict::NotMining && self.dirs[dir.index()].mode != Mode::Dead
    }

    fn give_up(&mut self) {
        self.verdict = Verdict::NotMining;
        for d in &mut self.dirs {
            d.buf = Vec::new();
        }
        self.http_calls = VecDeque::new();
    }

    fn confirm(&mut self, evidence: Evidence) {
        if self.verdict == Verdict::Undecided {
            self.verdict = Verdict::Mining(evidence);
        }
    }

    /// Count one message against the decision budget.
    fn spend(&mut self) {
        if self.verdict == Verdict::Undecided {
            self.units += 1;
            if self.units >= DECISION_MESSAGES {
                self.give_up();
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Framing

    fn on_gap(&mut self, dir: Direction, n: u64) {
        let d = &mut self.dirs[dir.index()];
        d.buf.clear();
        d.skip = false;
        match d.mode {
            Mode::Opening | Mode::Lines => {
                d.mode = Mode::Lines;
                d.resync = true;
            }
            Mode::Http(HttpPhase::Body { remaining }) if n <= remaining => {
                d.http.unreadable = true;
                d.mode = Mode::Http(HttpPhase::Body {
                    remaining: remaining - n,
                });
            }
            Mode::Http(HttpPhase::ChunkData { remaining }) if n <= remaining => {
                d.http.unreadable = true;
                d.mode = Mode::Http(HttpPhase::ChunkData {
                    remaining: remaining - n,
                });
            }
            Mode::Http(HttpPhase::UntilClose) => d.http.unreadable = true,
            // HTTP framing cannot be recovered from an unknown point.
            Mode::Http(_) | Mode::Dead => d.mode = Mode::Dead,
        }
    }

    fn feed(&mut self, dir: Direction, bytes: &[u8], ts: f64) {
        match self.dirs[dir.index()].mode {
            Mode::Opening => self.feed_opening(dir, bytes, ts),
            Mode::Lines => self.feed_lines(dir, bytes, ts),
            Mode::Http(_) => self.feed_http(dir, bytes, ts),
            Mode::Dead => {}
        }
    }

    fn feed_opening(&mut self, dir: Direction, bytes: &[u8], ts: f64) {
        let i = dir.index();
        let mut bytes = bytes;
        if self.dirs[i].buf.is_empty() {
            let start = bytes
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(bytes.len());
            bytes = &bytes[start..];
        }
        let take = OPENING_BYTES
            .saturating_sub(self.dirs[i].buf.len())
            .min(bytes.len());
        self.dirs[i].buf.extend_from_slice(&bytes[..take]);
        let rest = &bytes[take..];
        let d = &mut self.dirs[i];
        match classify_opening(&d.buf) {
            Opening::NeedMore => return,
            Opening::Json => d.mode = Mode::Lines,
            Opening::Http => d.mode = Mode::Http(HttpPhase::Head),
            Opening::Binary => {
                d.mode = Mode::Dead;
                d.buf = Vec::new();
                if self.verdict == Verdict::Undecided {
                    self.give_up();
                }
                return;
            }
            Opening::Text => {
                // Another text protocol, or a capture that starts in the middle of a line:
                // either way the first line is not a whole message.
                d.mode = Mode::Lines;
                d.skip = true;
            }
        }
        let opening = std::mem::take(&mut self.dirs[i].buf);
        self.feed(dir, &opening, ts);
        if self.dirs[i].buf.is_empty() {
            // Keep the allocation for the partial lines to come.
            let mut opening = opening;
            opening.clear();
            self.dirs[i].buf = opening;
        }
        if self.reading(dir) {
            self.feed(dir, rest, ts);
        }
    }

    fn feed_lines(&mut self, dir: Direction, mut bytes: &[u8], ts: f64) {
        let i = dir.index();
        while !bytes.is_empty() && self.reading(dir) {
            let d = &mut self.dirs[i];
            if d.mode != Mode::Lines {
                // Nothing a line does changes its own direction's framing today; should that
                // change, the rest goes to whatever framing is now in force.
                return self.feed(dir, bytes, ts);
            }
            if d.skip {
                match parser::find_line_end(bytes) {
                    None => return,
                    Some(n) => {
                        bytes = &bytes[n + 1..];
                        d.skip = false;
                        d.resync = false;
                        continue;
                    }
                }
            }
            if d.resync && d.buf.is_empty() {
                // The first byte after a gap: a line that opens like JSON is probably whole
                // (pools write one message per segment); anything else is the tail of a lost
                // line.
                match bytes.first() {
                    Some(b'{' | b'[') => {}
                    Some(b'\n') => {
                        d.resync = false;
                        bytes = &bytes[1..];
                        continue;
                    }
                    _ => {
                        d.skip = true;
                        continue;
                    }
                }
            }
            match parser::find_line_end(bytes) {
                None => {
                    if d.buf.len() + bytes.len() > MAX_LINE {
                        d.buf.clear();
                        d.skip = true;
                        let counted = !std::mem::take(&mut d.resync);
                        if counted {
                            self.malformed += 1;
                            self.spend();
                        }
                    } else {
                        d.buf.extend_from_slice(bytes);
                    }
                    return;
                }
                Some(n) => {
                    let after_gap = std::mem::take(&mut d.resync);
                    let line = &bytes[..n];
                    bytes = &bytes[n + 1..];
                    if d.buf.len() + line.len() > MAX_LINE {
                        d.buf.clear();
                        if !after_gap {
                            self.malformed += 1;
                            self.spend();
                        }
                    } else if d.buf.is_empty() {
                        self.on_line(dir, line, ts, after_gap);
                    } else {
                        let mut buf = std::mem::take(&mut d.buf);
                        buf.extend_from_slice(line);
                        self.on_line(dir, &buf, ts, after_gap);
                        buf.clear();
                        if self.dirs[i].buf.is_empty() {
                            self.dirs[i].buf = buf;
                        }
                    }
                }
            }
        }
    }

    fn on_line(&mut self, dir: Direction, line: &[u8], ts: f64, after_gap: bool) {
        let line = trim_ascii(line);
        if line.is_empty() {
            return;
        }
        let rpc = match serde_json::from_slice::<Value>(line) {
            Ok(v) => self.on_value(dir, &v, ts).rpc,
            Err(_) => 0,
        };
        if rpc == 0 && !after_gap {
            self.malformed += 1;
            if self.verdict == Verdict::Undecided && line.iter().any(|&b| is_binary_byte(b)) {
                // Raw control bytes never occur in JSON text.
                self.give_up();
                return;
            }
            self.spend();
        }
    }

    // -----------------------------------------------------------------------------------------
    // Messages

    fn on_value(&mut self, dir: Direction, v: &Value, ts: f64) -> ValueSummary {
        let mut summary = ValueSummary::default();
        match v {
            Value::Array(items) => {
                for item in items {
                    self.on_message(dir, item, ts, &mut summary);
                    if !self.reading(dir) {
                        break;
                    }
                }
            }
            _ => self.on_message(dir, v, ts, &mut summary),
        }
        summary
    }

    fn on_message(&mut self, dir: Direction, v: &Value, ts: f64, summary: &mut ValueSummary) {
        let Some(rpc) = classify(v) else {
            return;
        };
        summary.rpc += 1;
        self.messages += 1;
        if ts.is_finite() {
            self.first_ts.get_or_insert(ts);
            self.last_ts = Some(ts);
        }
        match rpc {
            Rpc::Call { id, method, params } => {
                self.count_method(method);
                if let Some(call) = self.on_call(dir, v, id, method, params, ts) {
                    summary.first_miner_call.get_or_insert(call);
                }
            }
            Rpc::Reply { id, result, error } => {
                summary.replies += 1;
                self.on_reply(dir, id, result, error, ts);
            }
        }
        self.spend();
    }

    fn count_method(&mut self, method: &str) {
        let key = clip(method, MAX_METHOD_NAME);
        if let Some(n) = self.methods.get_mut(key) {
            *n += 1;
        } else if self.methods.len() < MAX_METHODS {
            self.methods.insert(key.to_string(), 1);
        }
    }

    fn on_call(
        &mut self,
        dir: Direction,
        whole: &Value,
        id: Option<&Value>,
        method: &str,
        params: &Value,
        ts: f64,
    ) -> Option<(StratumDialect, Op)> {
        let info = method_info(method)?;
        if info.sender == Sender::Pool {
            self.on_pool_call(dir, info.op, params, ts);
            return None;
        }
        let shape = miner_call_shape(&info, params);
        if shape == CallShape::NotMining {
            return None;
        }
        let op = refine_op(method, info.op, params);
        let weak = shape == CallShape::NeedsMiningAnswer;
        if !weak {
            self.dirs[dir.index()].miner_calls = true;
            self.hits[info.dialect.index()] += 1;
            if info.dialect == StratumDialect::Eth {
                self.eth_marker = true;
            }
        }
        match op {
            Op::Subscribe => {
                if let Some(agent) = params.get(0).and_then(Value::as_str) {
                    if !agent.is_empty() && self.agent.is_none() {
                        self.agent = Some(parser::bounded(agent, MAX_TEXT));
                    }
                }
                let eth_stratum = params.as_array().is_some_and(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .any(|s| s.starts_with("EthereumStratum/"))
                });
                if eth_stratum {
                    self.eth_marker = true;
                }
            }
            Op::Authorize => {
                if let Some(user) = params.get(0).and_then(Value::as_str) {
                    self.set_user(user, '.');
                }
            }
            Op::Login if info.dialect == StratumDialect::Xmr => self.xmr_login(params),
            Op::Login => self.eth_login(whole, params),
            Op::Submit => {
                self.submits += 1;
                if let Some(algo) = params.get("algo").and_then(Value::as_str) {
                    self.note_algo(algo);
                }
            }
            _ => {}
        }
        if let Some(key) = id.and_then(id_key) {
            let bip22 = info.dialect == StratumDialect::GetBlockTemplate && op == Op::Submit;
            self.remember(Pending {
                seq: 0,
                dir,
                id: key,
                dialect: info.dialect,
                op,
                bip22,
                weak,
            });
        }
        (!weak).then_some((info.dialect, op))
    }

    fn on_pool_call(&mut self, dir: Direction, op: Op, params: &Value, ts: f64) {
        let push = match op {
            Op::Notify => match notify_shape(params) {
                Some(shape) => {
                    match shape {
                        NotifyShape::Ethereum => self.eth_marker = true,
                        NotifyShape::Equihash if parser::equihash_is_zcash(params) => {
                            self.zcash_marker = true
                        }
                        _ => {}
                    }
                    let dialect = if shape == NotifyShape::Ethereum {
                        StratumDialect::Eth
                    } else {
                        StratumDialect::Btc
                    };
                    self.hits[dialect.index()] += 1;
                    self.job(ts);
                    Push::Job
                }
                None => Push::Nothing,
            },
            Op::Job => match xmr_job(params) {
                Some(job) => {
                    self.hits[StratumDialect::Xmr.index()] += 1;
                    self.xmr_job(&job, ts);
                    Push::Job
                }
                None => Push::Nothing,
            },
            Op::SetDifficulty => match params.get(0).and_then(Value::as_f64) {
                Some(d) if d.is_finite() && d > 0.0 => {
                    self.difficulty = Some(d);
                    Push::Setting
                }
                _ => Push::Nothing,
            },
            Op::SetTarget => match params
                .get(0)
                .and_then(Value::as_str)
                .and_then(target256_difficulty)
            {
                Some(d) => {
                    self.difficulty = Some(d);
                    Push::Setting
                }
                None => Push::Nothing,
            },
            _ => Push::Nothing,
        };
        let this_side_mines = self.dirs[dir.index()].miner_calls;
        let other_side_mines = self.dirs[dir.reverse().index()].miner_calls;
        let confirmed = match push {
            Push::Job => !this_side_mines,
            Push::Setting => !this_side_mines && other_side_mines,
            Push::Nothing => false,
        };
        if confirmed {
            self.confirm(Evidence::Push);
        }
    }

    fn on_reply(&mut self, dir: Direction, id: &Value, result: &Value, error: &Value, ts: f64) {
        let pending = id_key(id).and_then(|k| self.take_pending(dir.reverse(), k));
        let Some(p) = pending else {
            // Eth-proxy pools push new work as an unsolicited result (id 0).
            if let Some(work) = eth_work(result) {
                self.eth_marker = true;
                self.hits[StratumDialect::Eth.index()] += 1;
                self.eth_job(&work, ts);
                if !self.dirs[dir.index()].miner_calls {
                    self.confirm(Evidence::Push);
                }
            }
            return;
        };
        let login_job = match p.op {
            Op::Login => result.get("job").and_then(xmr_job),
            Op::GetWork if p.dialect == StratumDialect::Xmr => xmr_job(result),
            _ => None,
        };
        let mining_answer = login_job.is_some()
            || (p.op == Op::Keepalive
                && result.get("status").and_then(Value::as_str) == Some("KEEPALIVED"));
        if !p.weak || mining_answer {
            self.confirm(Evidence::Reply);
            if p.weak {
                self.dirs[dir.reverse().index()].miner_calls = true;
                self.hits[p.dialect.index()] += 1;
            }
        }
        match p.op {
            Op::Login => {
                if let Some(job) = login_job {
                    self.xmr_job(&job, ts);
                }
            }
            Op::Submit => match share_verdict(result, error, p.bip22) {
                ShareVerdict::Accepted => self.accepted += 1,
                ShareVerdict::Rejected => self.rejected += 1,
                ShareVerdict::Unknown => {}
            },
            Op::GetWork if error.is_null() => match p.dialect {
                StratumDialect::Eth => {
                    if let Some(work) = eth_work(result) {
                        self.eth_job(&work, ts);
                    }
                }
                StratumDialect::Xmr => {
                    if let Some(job) = login_job {
                        self.xmr_job(&job, ts);
                    }
                }
                StratumDialect::Getwork if is_getwork_result(result) => {
                    self.job(ts);
                    let target = result.get("target").and_then(Value::as_str);
                    if let Some(d) = target.and_then(parser::target256_le_difficulty) {
                        self.difficulty = Some(d);
                    }
                }
                StratumDialect::GetBlockTemplate if is_block_template(result) => {
                    self.job(ts);
                    let target = result.get("target").and_then(Value::as_str);
                    if let Some(d) = target.and_then(target256_difficulty) {
                        self.difficulty = Some(d);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    // -----------------------------------------------------------------------------------------
    // Session facts

    fn remember(&mut self, mut p: Pending) {
        self.pending_seq += 1;
        p.seq = self.pending_seq;
        if self.pending.len() < MAX_PENDING {
            self.pending.push(p);
        } else if let Some(oldest) = self.pending.iter_mut().min_by_key(|e| e.seq) {
            *oldest = p;
        }
    }

    /// The oldest outstanding request from `dir` with this id (pools answer in order).
    fn take_pending(&mut self, dir: Direction, id: IdKey) -> Option<Pending> {
        let slot = self
            .pending
            .iter()
            .enumerate()
            .filter(|(_, p)| p.dir == dir && p.id == id)
            .min_by_key(|(_, p)| p.seq)?
            .0;
        Some(self.pending.swap_remove(slot))
    }

    fn job(&mut self, ts: f64) {
        self.jobs += 1;
        if !ts.is_finite() {
            return;
        }
        if let Some(prev) = self.last_job_ts {
            let dt = ts - prev;
            if dt >= 0.0 {
                self.intervals.push(dt);
            }
        }
        self.last_job_ts = Some(ts);
    }

    fn xmr_job(&mut self, job: &XmrJob<'_>, ts: f64) {
        self.job(ts);
        if let Some(d) = job.target.and_then(xmr_target_difficulty) {
            self.difficulty = Some(d);
        }
        if let Some(algo) = job.algo {
            self.note_algo(algo);
        }
    }

    fn eth_job(&mut self, work: &EthWork<'_>, ts: f64) {
        let header = parser::fnv1a(work.header.as_bytes());
        if self.last_eth_header != Some(header) {
            self.last_eth_header = Some(header);
            self.job(ts);
        }
        if let Some(d) = target256_difficulty(work.boundary) {
            self.difficulty = Some(d);
        }
    }

    fn note_algo(&mut self, algo: &str) {
        if let Some(coin) = coin_from_algo(algo) {
            self.algo_coin = Some(coin);
        }
    }

    /// Record a pool user (`wallet.worker`), first one wins.
    fn set_user(&mut self, user: &str, sep: char) {
        let (login, worker) = split_user(user, sep);
        if self.login.is_none() && !login.is_empty() {
            self.login = Some(parser::bounded(login, MAX_TEXT));
        }
        if self.worker.is_none() {
            self.worker = worker.map(|w| parser::bounded(w, MAX_TEXT));
        }
    }

    fn xmr_login(&mut self, params: &Value) {
        let text = |k: &str| {
            params
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(agent) = text("agent") {
            if self.agent.is_none() {
                self.agent = Some(parser::bounded(agent, MAX_TEXT));
            }
        }
        let Some(user) = text("login") else {
            return;
        };
        let mut parts = user.split('.');
        let wallet = parts.next().unwrap_or_default();
        // A fixed difficulty may be appended as `wallet+5000`.
        let wallet = wallet.split('+').next().unwrap_or_default();
        let payment_id = |p: &str| p.len() == 64 && parser::is_hex(p, 64);
        let suffix = parts.rfind(|p| !(p.is_empty() || payment_id(p)));
        if self.login.is_none() && !wallet.is_empty() {
            self.login = Some(parser::bounded(wallet, MAX_TEXT));
        }
        if self.worker.is_none() {
            let pass = text("pass").filter(|p| !p.eq_ignore_ascii_case("x"));
            self.worker = text("rigid")
                .or(pass)
                .or(suffix)
                .map(|w| parser::bounded(w, MAX_TEXT));
        }
    }

    fn eth_login(&mut self, whole: &Value, params: &Value) {
        let Some(user) = params.get(0).and_then(Value::as_str) else {
            return;
        };
        let sep = if user.contains('/') { '/' } else { '.' };
        let (wallet, rest) = split_user(user, sep);
        if self.login.is_none() && !wallet.is_empty() {
            self.login = Some(parser::bounded(wallet, MAX_TEXT));
        }
        if self.worker.is_none() {
            let field = whole
                .get("worker")
                .and_then(Value::as_str)
                .filter(|w| !w.is_empty());
            let from_user = rest
                .and_then(|r| r.split('/').next())
                .filter(|w| !w.is_empty());
            self.worker = field.or(from_user).map(|w| parser::bounded(w, MAX_TEXT));
        }
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
impl StratumDissector {
    /// JSON-RPC messages and malformed lines counted so far, confirmed or not.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (self.messages, self.malformed)
    }

    /// Buffer capacity held by both directions, method names kept, and the larger of the two
    /// request tables.
    pub(crate) fn footprint(&self) -> (usize, usize, usize) {
        (
            self.dirs.iter().map(|d| d.buf.capacity()).sum(),
            self.methods.len(),
            self.http_calls.len().max(self.pending.len()),
        )
    }
}
