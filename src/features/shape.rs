//! The flow-shape features the classifier reads: one row per time window of a flow.
//!
//! A miner and its pool exchange small application messages both ways for hours: the pool
//! pushes a job at a block-time rhythm, the miner submits shares at random times and sends
//! keepalives. Those messages look the same in plaintext Stratum and inside TLS once the TLS
//! costs are taken out, which is what lets plaintext flows (labelled for free by the Stratum
//! dissector) teach the model about encrypted ones. So the rows are built from *application
//! messages*, not packets:
//!
//! * In a TLS flow the packets are walked record by record (5-byte headers, in sequence per
//!   direction). Handshake, change-cipher-spec and alert records are left out, and so are the
//!   encrypted handshake records of TLS 1.3 (the server's flight before the client's first
//!   encrypted record, and that record, the client's Finished). Each application-data record
//!   counts its length minus the cipher's per-record overhead (TLS 1.3 AEAD: 16-byte tag plus
//!   the inner content type; TLS 1.2 GCM: 8-byte explicit nonce plus tag; ChaCha20: tag only).
//! * In a plaintext flow every new TCP payload is one piece.
//! * Pieces in the same direction less than [`MESSAGE_GAP_S`] apart form one message, as
//!   records of one write do.
//!
//! Rows describe windows of [`WINDOW_S`] seconds from the flow's first packet, so a long pool
//! connection gives several training rows instead of one, and a scorer can judge a connection
//! after its first window. Rates are per minute of the window, so a row of a short flow and a
//! row of a long one are comparable. Memory is bounded: at most [`MAX_EVENTS`] messages are kept
//! per window and [`MAX_WINDOWS`] rows per flow.

use super::MESSAGE_GAP_S;
use crate::flow::direction::Direction;

/// Version of the window-row schema; a model trained on it refuses rows of another.
pub const SHAPE_SCHEMA: &str = "shape-v2";
/// Length of one window, seconds: five minutes hold two or three Monero blocks and a dozen
/// shares at common pool difficulties, enough for the size and timing statistics of a row (in
/// leave-one-source-out evaluation, 300 s windows found more unseen sessions than 120 s ones
/// at the same false-positive rate).
pub const WINDOW_S: f64 = 300.0;
/// Rows kept per flow (the first windows of a very long flow).
pub const MAX_WINDOWS: usize = 16;
/// Messages kept per window for the size and timing statistics; later ones only count.
pub const MAX_EVENTS: usize = 1024;
/// A server message within this long after a client message answers it; later it is a push.
pub const ANSWER_S: f64 = 1.0;
/// An application message at least this large counts as big (bulk transfer, not signalling).
pub const BIG_MESSAGE: u32 = 1200;
/// A final window shorter than this share of [`WINDOW_S`] is dropped when the flow has earlier
/// windows: a few seconds of a connection's end say little about its shape.
const MIN_LAST_WINDOW_SHARE: f64 = 0.5;
/// Payload packets after which a TLS flow whose cipher is still unknown uses
/// [`DEFAULT_TLS_OVERHEAD`].
const TLS_PARAM_TRIES: u32 = 32;
/// Per-record overhead assumed when the ServerHello was not seen.
pub const DEFAULT_TLS_OVERHEAD: u32 = 20;
/// Two message sizes are "the same" when they differ by at most this many bytes, or by
/// [`SAME_SIZE_SHARE`] of the size, whichever is more: a share submit or a job differs from the
/// previous one by a few digits of its id, nonce or height.
const SAME_SIZE_BYTES: f64 = 8.0;
/// See [`SAME_SIZE_BYTES`].
const SAME_SIZE_SHARE: f64 = 0.1;

/// The model's inputs in a window row, in order.
///
/// They describe the *kind* of conversation, not one pool's settings: no job interval, share
/// rate or keepalive period appears as such (those change with the coin, the pool's difficulty
/// and the miner's options), only sizes, their regularity, who speaks first, and how irregular
/// the timing is. Sizes are `ln(1 + bytes)`.
pub const SHAPE_FEATURES: &[&str] = &[
    // How busy the window is: messages and payload bytes per minute (ln(1 + x)).
    "msgs_pm_log",
    "bytes_pm_log",
    // Client message sizes: median, 90th percentile, largest; the share of messages of the
    // most common size; coefficient of variation.
    "c2s_med_log",
    "c2s_p90_log",
    "c2s_max_log",
    "c2s_same_share",
    "c2s_cv",
    // The same for server messages.
    "s2c_med_log",
    "s2c_p90_log",
    "s2c_max_log",
    "s2c_same_share",
    "s2c_cv",
    // Client messages the server answered within ANSWER_S.
    "answered_share",
    // Server messages that answer nothing (pool job pushes), their size and regularity of size.
    "push_share",
    "push_med_log",
    "push_same_share",
    // Server answers: their size and regularity of size (a pool's "share accepted").
    "answer_med_log",
    "answer_same_share",
    // A job is larger than an answer; a share submit is larger than its answer.
    "push_answer_ratio",
    "c2s_answer_ratio",
    // Irregularity of the intervals between pushes and between client messages (block arrivals
    // and found shares are random: near 1; timers: near 0).
    "push_iat_cv",
    "c2s_iat_cv",
    // The longest silence as a share of the window, big messages, balance.
    "idle_share",
    "big_msg_share",
    "bytes_ratio",
    "s2c_msg_share",
];

/// Columns a window row carries after [`SHAPE_FEATURES`]: not model inputs, but what the
/// scorer needs to decide whether the model may speak at all, and what training weighs rows by.
pub const SHAPE_CONTEXT: &[&str] = &[
    // Seconds from the flow's first packet to the end of the window.
    "flow_age_s",
    // Seconds the window covers.
    "span_s",
    // Client and server messages in the window.
    "msgs_c2s",
    "msgs_s2c",
];

/// What the TLS handshake told about record costs, for [`ShapeStats::packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsParams {
    /// TLS 1.3: the first encrypted records are handshake, not application data.
    pub tls13: bool,
    /// Bytes each application-data record adds to its plaintext.
    pub overhead: u32,
}

impl TlsParams {
    /// The record cost of a negotiated version ("1.3", "1.2", ...) and cipher suite.
    pub fn from_negotiated(version: Option<&str>, cipher: Option<u16>) -> Option<TlsParams> {
        let version = version?;
        if version == "1.3" {
            return Some(TlsParams {
                tls13: true,
                overhead: 17,
            });
        }
        let overhead = match cipher {
            // ChaCha20-Poly1305: tag only, implicit nonce.
            Some(0xcca8..=0xccae) => 16,
            // AES-GCM / AES-CCM suites: 8-byte explicit nonce + 16-byte tag.
            Some(0x009c..=0x00a7 | 0xc02b..=0xc032 | 0xc09c..=0xc0af) => 24,
            // CBC with HMAC-SHA1 (the old default): IV 16 + MAC 20 + padding on average 8.
            Some(_) => 44,
            None => DEFAULT_TLS_OVERHEAD,
        };
        Some(TlsParams {
            tls13: false,
            overhead,
        })
    }
}

/// One application message inside a window.
#[derive(Debug, Clone, Copy)]
struct Msg {
    /// Start, seconds since the window start.
    t: f32,
    dir: Direction,
    bytes: u32,
}

/// How the packets of a flow are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No client payload yet.
    Unknown,
    Plain,
    Tls,
}

/// Per-direction state of the TLS record walk.
#[derive(Debug, Clone, Copy, Default)]
struct RecordWalk {
    /// Bytes of a record that started in an earlier packet and continue in the next ones.
    rest: u32,
    /// The walk lost sync (a header made no sense); it resumes at the next packet that starts
    /// with a plausible header.
    lost: bool,
}

/// Window rows of one flow, built packet by packet.
#[derive(Debug, Clone)]
pub struct ShapeStats {
    flow_start: f64,
    win_start: f64,
    last_ts: f64,
    pkts: [u32; 2],
    ack_only: u32,
    msgs: Vec<Msg>,
    msgs_dropped: u32,
    /// The message being built: direction, start, time of its last piece, bytes.
    cur: Option<(Direction, f64, f64, u32)>,
    rows: Vec<Vec<f32>>,
    mode: Mode,
    walk: [RecordWalk; 2],
    tls: Option<TlsParams>,
    tls_tries: u32,
    client_finished: bool,
}

/// One packet as [`ShapeStats::packet`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct ShapePacket<'a> {
    /// Epoch seconds.
    pub ts: f64,
    /// Which way it went.
    pub dir: Direction,
    /// The captured payload (may be shorter than `payload_len` in a cut frame).
    pub payload: &'a [u8],
    /// Payload length from the headers.
    pub payload_len: u32,
    /// A TCP segment repeating bytes already seen: counted as a packet, not as a message.
    pub retransmission: bool,
}

impl ShapeStats {
    /// Empty state for a flow whose first packet arrives at `ts`.
    pub fn new(ts: f64) -> Self {
        ShapeStats {
            flow_start: ts,
            win_start: ts,
            last_ts: ts,
            pkts: [0; 2],
            ack_only: 0,
            msgs: Vec::new(),
            msgs_dropped: 0,
            cur: None,
            rows: Vec::new(),
            mode: Mode::Unknown,
            walk: [RecordWalk::default(); 2],
            tls: None,
            tls_tries: 0,
            client_finished: false,
        }
    }

    /// True when the next payload packet needs [`TlsParams`] the caller may know by now (from
    /// the ServerHello).
    pub fn wants_tls_params(&self) -> bool {
        self.mode == Mode::Tls && self.tls.is_none() && self.tls_tries < TLS_PARAM_TRIES
    }

    /// Hands over what the handshake told about record costs.
    pub fn set_tls_params(&mut self, p: Option<TlsParams>) {
        match p {
            Some(p) => self.tls = Some(p),
            None => self.tls_tries += 1,
        }
    }

    /// Adds one packet.
    pub fn packet(&mut self, p: &ShapePacket<'_>) {
        let ts = p.ts.max(self.last_ts);
        if ts - self.win_start >= WINDOW_S {
            self.close_window(ts);
        }
        self.last_ts = ts;
        self.pkts[p.dir.index()] = self.pkts[p.dir.index()].saturating_add(1);
        if p.payload_len == 0 {
            self.ack_only = self.ack_only.saturating_add(1);
            return;
        }
        if p.retransmission {
            return;
        }
        if self.mode == Mode::Unknown {
            self.mode = if looks_like_tls(p.payload) {
                Mode::Tls
            } else {
                Mode::Plain
            };
        }
        match self.mode {
            Mode::Tls => self.tls_packet(p, ts),
            _ => self.piece(p.dir, ts, p.payload_len),
        }
    }

    fn tls_packet(&mut self, p: &ShapePacket<'_>, ts: f64) {
        let params = self.tls.unwrap_or(TlsParams {
            tls13: false,
            overhead: DEFAULT_TLS_OVERHEAD,
        });
        let walk = &mut self.walk[p.dir.index()];
        let len = p.payload_len;
        let mut pos: u32 = 0;
        let mut app: u32 = 0;
        let mut any_app = false;
        if walk.rest > 0 {
            let used = walk.rest.min(len);
            walk.rest -= used;
            pos = used;
        }
        if walk.lost {
            if pos == 0 && looks_like_record(p.payload) {
                walk.lost = false;
            } else {
                // Out of sync: the packet's bytes count as application data.
                self.piece(p.dir, ts, len.saturating_sub(params.overhead));
                return;
            }
        }
        while pos < len {
            let at = pos as usize;
            let Some(h) = p.payload.get(at..at + 5) else {
                // The header is beyond the captured bytes (a cut frame): count the rest as data.
                app += len - pos;
                any_app = true;
                break;
            };
            if !(20..=24).contains(&h[0]) || h[1] != 3 {
                walk.lost = true;
                app += len - pos;
                any_app = true;
                break;
            }
            let rlen = u16::from_be_bytes([h[3], h[4]]) as u32;
            let end = pos + 5 + rlen;
            if h[0] == 23 {
                let handshake = params.tls13
                    && match p.dir {
                        Direction::ClientToServer => {
                            let first = !self.client_finished;
                            self.client_finished = true;
                            first
                        }
                        Direction::ServerToClient => !self.client_finished,
                    };
                if !handshake {
                    app += rlen.saturating_sub(params.overhead);
                    any_app = true;
                }
            }
            if end > len {
                walk.rest = end - len;
                break;
            }
            pos = end;
        }
        if any_app {
            self.piece(p.dir, ts, app);
        }
    }

    /// Adds a piece of an application message.
    fn piece(&mut self, dir: Direction, ts: f64, bytes: u32) {
        if let Some((d, start, last, b)) = &mut self.cur {
            if *d == dir && ts - *last <= MESSAGE_GAP_S {
                *last = ts;
                *b = b.saturating_add(bytes);
                return;
            }
            let (d, start, b) = (*d, *start, *b);
            self.push_msg(d, start, b);
        }
        self.cur = Some((dir, ts, ts, bytes));
    }

    fn push_msg(&mut self, dir: Direction, start: f64, bytes: u32) {
        if self.msgs.len() < MAX_EVENTS {
            self.msgs.push(Msg {
                t: (start - self.win_start).max(0.0) as f32,
                dir,
                bytes,
            });
        } else {
            self.msgs_dropped = self.msgs_dropped.saturating_add(1);
        }
    }

    /// Ends the current window because a packet arrived at `ts`, past its end.
    fn close_window(&mut self, ts: f64) {
        if let Some((d, start, _, b)) = self.cur.take() {
            self.push_msg(d, start, b);
        }
        self.emit(WINDOW_S);
        // Skip windows nothing happened in: the next window is the one `ts` falls into.
        let k = ((ts - self.win_start) / WINDOW_S).floor().max(1.0);
        self.win_start += k * WINDOW_S;
    }

    fn emit(&mut self, span: f64) {
        if self.rows.len() < MAX_WINDOWS && (self.pkts[0] + self.pkts[1]) > 0 {
            let row = self.row(span);
            self.rows.push(row);
        }
        self.pkts = [0; 2];
        self.ack_only = 0;
        self.msgs.clear();
        self.msgs_dropped = 0;
    }

    /// The rows of the windows completed so far (a live flow's view, for alerts).
    pub fn rows(&self) -> &[Vec<f32>] {
        &self.rows
    }

    /// The rows, after the flow ended: the last window is added unless it is a short tail of a
    /// flow that already has rows.
    pub fn finish(mut self) -> Vec<Vec<f32>> {
        if let Some((d, start, _, b)) = self.cur.take() {
            self.push_msg(d, start, b);
        }
        let span = self.last_ts - self.win_start;
        if self.rows.is_empty() || span >= WINDOW_S * MIN_LAST_WINDOW_SHARE {
            self.emit(span);
        }
        self.rows
    }

    /// The row of the current window, covering `span` seconds: [`SHAPE_FEATURES`], then
    /// [`SHAPE_CONTEXT`].
    fn row(&self, span: f64) -> Vec<f32> {
        let span = span.max(1.0);
        let per_min = |x: f64| x * 60.0 / span;
        let mut sizes: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        let mut bytes = [0f64; 2];
        for m in &self.msgs {
            sizes[m.dir.index()].push(m.bytes as f64);
            bytes[m.dir.index()] += m.bytes as f64;
        }
        // Messages beyond MAX_EVENTS only count: scale the totals up to them.
        let scale = if self.msgs_dropped > 0 {
            (self.msgs.len() as f64 + self.msgs_dropped as f64) / self.msgs.len() as f64
        } else {
            1.0
        };
        let n = [sizes[0].len() as f64 * scale, sizes[1].len() as f64 * scale];
        bytes[0] *= scale;
        bytes[1] *= scale;
        let all_bytes = bytes[0] + bytes[1];
        let total_msgs = n[0] + n[1];
        // A server message answers the client message that started at most ANSWER_S before it,
        // with no other server message in between; every other server message is a push.
        let mut pushes: Vec<(f64, f64)> = Vec::new();
        let mut answers: Vec<f64> = Vec::new();
        let mut answered = 0usize;
        let mut c2s_starts = Vec::new();
        let mut last_c2s: Option<f32> = None;
        let mut idle_max = 0f64;
        let mut prev_t = 0f64;
        for m in &self.msgs {
            idle_max = idle_max.max(m.t as f64 - prev_t);
            prev_t = m.t as f64;
            match m.dir {
                Direction::ClientToServer => {
                    c2s_starts.push(m.t as f64);
                    last_c2s = Some(m.t);
                }
                Direction::ServerToClient => match last_c2s.take() {
                    Some(c) if (m.t - c) as f64 <= ANSWER_S => {
                        answered += 1;
                        answers.push(m.bytes as f64);
                    }
                    _ => pushes.push((m.t as f64, m.bytes as f64)),
                },
            }
        }
        idle_max = idle_max.max(span - prev_t);
        let push_sizes: Vec<f64> = pushes.iter().map(|p| p.1).collect();
        let push_times: Vec<f64> = pushes.iter().map(|p| p.0).collect();
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
        let log = |x: f64| if x.is_nan() { x } else { x.max(0.0).ln_1p() };
        let size_ratio = |a: f64, b: f64| {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a / b.max(1.0)
            }
        };
        let med_push = quantile(&push_sizes, 0.5);
        let med_answer = quantile(&answers, 0.5);
        let big = self.msgs.iter().filter(|m| m.bytes >= BIG_MESSAGE).count() as f64;
        let v: Vec<f64> = vec![
            log(per_min(total_msgs)),
            log(per_min(all_bytes)),
            log(quantile(&sizes[0], 0.5)),
            log(quantile(&sizes[0], 0.9)),
            log(quantile(&sizes[0], 1.0)),
            same_size_share(&sizes[0]),
            cv(&sizes[0]),
            log(quantile(&sizes[1], 0.5)),
            log(quantile(&sizes[1], 0.9)),
            log(quantile(&sizes[1], 1.0)),
            same_size_share(&sizes[1]),
            cv(&sizes[1]),
            ratio(answered as f64, sizes[0].len() as f64),
            ratio(pushes.len() as f64, sizes[1].len() as f64),
            log(med_push),
            same_size_share(&push_sizes),
            log(med_answer),
            same_size_share(&answers),
            size_ratio(med_push, med_answer),
            size_ratio(quantile(&sizes[0], 0.5), med_answer),
            cv(&diffs(&push_times)),
            cv(&diffs(&c2s_starts)),
            if self.msgs.is_empty() {
                1.0
            } else {
                (idle_max / span).min(1.0)
            },
            ratio(big, self.msgs.len() as f64),
            ratio(bytes[0] - bytes[1], all_bytes),
            ratio(n[1], total_msgs),
            // Context.
            (self.win_start + span - self.flow_start).max(0.0),
            span,
            n[0].round(),
            n[1].round(),
        ];
        debug_assert_eq!(v.len(), SHAPE_FEATURES.len() + SHAPE_CONTEXT.len());
        v.into_iter().map(|x| x as f32).collect()
    }
}

/// The share of values within [`SAME_SIZE_BYTES`] or [`SAME_SIZE_SHARE`] of the most common
/// value: 1 when every message has one size (up to a few digits), low for free text. NaN when
/// empty.
fn same_size_share(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let reach = |x: f64| SAME_SIZE_BYTES.max(SAME_SIZE_SHARE * x);
    // Both ends of the band around v[i] grow with v[i]: two pointers find each band's count.
    let (mut lo, mut hi, mut best) = (0usize, 0usize, 0usize);
    for &x in &v {
        while v[lo] < x - reach(x) {
            lo += 1;
        }
        while hi < v.len() && v[hi] <= x + reach(x) {
            hi += 1;
        }
        best = best.max(hi - lo);
    }
    best as f64 / v.len() as f64
}

/// True when a client's first payload starts like a TLS handshake record (or an SSLv2 hello).
fn looks_like_tls(p: &[u8]) -> bool {
    (p.len() >= 3 && p[0] == 22 && p[1] == 3 && p[2] <= 4)
        || (p.len() >= 3 && p[0] & 0x80 != 0 && p[2] == 1)
}

/// True when `p` starts with a plausible TLS record header.
fn looks_like_record(p: &[u8]) -> bool {
    p.len() >= 5 && (20..=24).contains(&p[0]) && p[1] == 3 && p[2] <= 4
}

/// Differences of consecutive values.
fn diffs(xs: &[f64]) -> Vec<f64> {
    xs.windows(2).map(|w| (w[1] - w[0]).max(0.0)).collect()
}

/// The `q` quantile (nearest rank) of unsorted values; NaN when empty.
fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    v[i.min(v.len() - 1)]
}

/// Coefficient of variation (population std / mean); NaN with fewer than two values or a mean
/// of zero.
fn cv(xs: &[f64]) -> f64 {
    crate::stats::Moments::of(xs).cv()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{ClientToServer as C2S, ServerToClient as S2C};

    fn pkt(st: &mut ShapeStats, ts: f64, dir: Direction, payload: &[u8]) {
        st.packet(&ShapePacket {
            ts,
            dir,
            payload,
            payload_len: payload.len() as u32,
            retransmission: false,
        });
    }

    fn record(kind: u8, len: usize) -> Vec<u8> {
        let mut v = vec![kind, 3, 3, (len >> 8) as u8, len as u8];
        v.resize(5 + len, 0xaa);
        v
    }

    fn col(row: &[f32], name: &str) -> f32 {
        let cols: Vec<&str> = SHAPE_FEATURES
            .iter()
            .chain(SHAPE_CONTEXT)
            .copied()
            .collect();
        row[cols.iter().position(|c| *c == name).unwrap()]
    }

    /// A plaintext exchange and the same exchange in TLS 1.3 records give the same message
    /// sizes once the handshake and the per-record overhead are taken out.
    #[test]
    fn tls_messages_match_plaintext_ones() {
        let mut plain = ShapeStats::new(0.0);
        pkt(&mut plain, 0.0, C2S, &[b'{'; 120]);
        pkt(&mut plain, 0.05, S2C, &[b'{'; 400]);
        pkt(&mut plain, 30.0, S2C, &[b'{'; 380]);
        pkt(&mut plain, 47.0, C2S, &[b'{'; 150]);
        pkt(&mut plain, 47.1 + 0.02, S2C, &[b'{'; 60]);
        let plain_rows = plain.finish();

        let mut tls = ShapeStats::new(0.0);
        let mut hello = record(22, 300);
        hello.truncate(305);
        pkt(&mut tls, 0.0, C2S, &hello);
        tls.set_tls_params(Some(TlsParams {
            tls13: true,
            overhead: 17,
        }));
        // Server flight: ServerHello, CCS, encrypted handshake (all before the client Finished).
        let mut flight = record(22, 90);
        flight.extend(record(20, 1));
        flight.extend(record(23, 2000));
        pkt(&mut tls, 0.0, S2C, &flight);
        // Client: CCS + Finished, then the first message in its own record, same packet.
        let mut fin = record(20, 1);
        fin.extend(record(23, 53));
        fin.extend(record(23, 120 + 17));
        pkt(&mut tls, 0.0, C2S, &fin);
        pkt(&mut tls, 0.05, S2C, &record(23, 400 + 17));
        pkt(&mut tls, 30.0, S2C, &record(23, 380 + 17));
        pkt(&mut tls, 47.0, C2S, &record(23, 150 + 17));
        pkt(&mut tls, 47.12, S2C, &record(23, 60 + 17));
        let tls_rows = tls.finish();
        assert_eq!(plain_rows.len(), 1);
        assert_eq!(tls_rows.len(), 1);
        for name in SHAPE_FEATURES.iter().chain(SHAPE_CONTEXT) {
            let (p, t) = (col(&plain_rows[0], name), col(&tls_rows[0], name));
            assert!(p == t || (p.is_nan() && t.is_nan()), "{name}: {p} vs {t}");
        }
        assert_eq!(col(&plain_rows[0], "msgs_c2s"), 2.0);
        assert_eq!(col(&plain_rows[0], "msgs_s2c"), 3.0);
        // One push (the 30 s job); the two others answer the client.
        assert_eq!(col(&plain_rows[0], "push_share"), 1.0 / 3.0);
        assert_eq!(col(&plain_rows[0], "answered_share"), 1.0);
        assert_eq!(col(&plain_rows[0], "push_med_log"), 380f32.ln_1p());
        // Answers of 400 and 60 bytes: the median (nearest rank, rounded up) is 400.
        assert_eq!(col(&plain_rows[0], "answer_med_log"), 400f32.ln_1p());
        assert_eq!(col(&plain_rows[0], "push_answer_ratio"), 380.0 / 400.0);
    }

    /// A record split over three packets counts once, with its full length.
    #[test]
    fn records_spanning_packets() {
        let mut st = ShapeStats::new(0.0);
        pkt(&mut st, 0.0, C2S, &record(22, 50));
        st.set_tls_params(Some(TlsParams {
            tls13: false,
            overhead: 24,
        }));
        let big = record(23, 3000);
        pkt(&mut st, 1.0, S2C, &big[..1000]);
        pkt(&mut st, 1.01, S2C, &big[1000..2000]);
        pkt(&mut st, 1.02, S2C, &big[2000..]);
        pkt(&mut st, 2.0, C2S, &record(23, 124));
        let rows = st.finish();
        assert_eq!(col(&rows[0], "s2c_max_log"), 2976f32.ln_1p());
        assert_eq!(col(&rows[0], "c2s_max_log"), 100f32.ln_1p());
        assert_eq!(col(&rows[0], "msgs_c2s") + col(&rows[0], "msgs_s2c"), 2.0);
    }

    /// A rhythmic push every 30 s for 12 minutes gives two full windows plus a tail, which is
    /// dropped: the rows see a timer (push intervals of CV 0) of one-size pushes.
    #[test]
    fn windows_of_a_long_flow() {
        let mut st = ShapeStats::new(0.0);
        pkt(&mut st, 0.0, C2S, b"{\"id\":1,\"method\":\"login\"}");
        let mut t = 0.2;
        while t < 740.0 {
            pkt(&mut st, t, S2C, &[b'j'; 300]);
            t += 30.0;
        }
        let rows = st.finish();
        assert_eq!(rows.len(), 2, "the 140 s tail is dropped");
        assert!(col(&rows[1], "push_iat_cv") < 1e-5);
        assert_eq!(col(&rows[1], "push_same_share"), 1.0);
        assert_eq!(col(&rows[1], "push_share"), 1.0);
        assert_eq!(col(&rows[1], "flow_age_s"), 600.0);
        assert_eq!(col(&rows[1], "span_s"), 300.0);
        assert_eq!(col(&rows[1], "msgs_s2c"), 10.0);
        // 10 messages of 300 bytes in 5 minutes.
        assert!((col(&rows[1], "msgs_pm_log") - 3f32.ln()).abs() < 1e-6);
        assert!((col(&rows[1], "bytes_pm_log") - 601f32.ln()).abs() < 1e-5);
        // The longest silence: 30 s between pushes.
        assert!((col(&rows[1], "idle_share") - 0.1).abs() < 1e-4);
    }

    #[test]
    fn same_size_share_allows_a_few_digits() {
        // 150..=156 are one size; 60 and 62 another; 700 alone.
        let xs = [150.0, 151.0, 156.0, 60.0, 62.0, 700.0, 153.0];
        assert_eq!(same_size_share(&xs), 4.0 / 7.0);
        // Large sizes: 10% either way (1000 and 1090 are one size, 1250 is not).
        assert_eq!(same_size_share(&[1000.0, 1090.0, 1250.0]), 2.0 / 3.0);
        assert!(same_size_share(&[]).is_nan());
        assert_eq!(same_size_share(&[5.0]), 1.0);
    }

    #[test]
    fn cipher_overheads() {
        let p = |v, c| TlsParams::from_negotiated(Some(v), c).unwrap().overhead;
        assert_eq!(p("1.3", Some(0x1301)), 17);
        assert_eq!(p("1.2", Some(0xc02f)), 24);
        assert_eq!(p("1.2", Some(0xcca8)), 16);
        assert_eq!(p("1.2", Some(0x002f)), 44);
        assert_eq!(TlsParams::from_negotiated(None, None), None);
    }
}
