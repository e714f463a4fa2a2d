//! Pure parsing for the Stratum dissector: framing helpers, JSON-RPC message shapes, the table
//! of mining methods, the shape checks that tell a mining message from a look-alike, and the
//! conversions (targets to difficulty, algorithms to coins, user strings to wallet and worker).
//!
//! Nothing here keeps state between calls; `state.rs` owns the per-flow buffers and decisions.
//! Framing follows the "bytes consumed / bytes needed" contract: [`find_line_end`] and
//! [`parse_http_head`] either say how many bytes make up the next frame or that more are needed,
//! and never look past a cap the caller enforces.

use serde_json::Value;

/// A mining protocol family, as reported in [`super::StratumInfo::dialect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StratumDialect {
    /// Bitcoin-style Stratum v1 (`mining.subscribe`, `mining.notify`, …), including its
    /// Equihash and KawPow variants.
    Btc,
    /// Monero-style JSON-RPC over TCP (`login`, `job`, `submit`, `keepalived`).
    Xmr,
    /// Ethereum pools: `eth_submitLogin`/`eth_getWork`/`eth_submitWork`, and the Ethereum
    /// Stratum variants (NiceHash `EthereumStratum/1.0.0`, seed/header `mining.notify`).
    Eth,
    /// Bitcoin `getwork` over HTTP.
    Getwork,
    /// Bitcoin `getblocktemplate`/`submitblock` over HTTP (BIP 22/23).
    GetBlockTemplate,
}

impl StratumDialect {
    /// All dialects, in the order ties are broken when a flow shows several.
    pub const ALL: [StratumDialect; 5] = [
        StratumDialect::Eth,
        StratumDialect::Xmr,
        StratumDialect::Btc,
        StratumDialect::GetBlockTemplate,
        StratumDialect::Getwork,
    ];

    /// The name used in [`super::StratumInfo::dialect`].
    pub fn name(self) -> &'static str {
        match self {
            StratumDialect::Btc => "btc",
            StratumDialect::Xmr => "xmr",
            StratumDialect::Eth => "eth",
            StratumDialect::Getwork => "getwork",
            StratumDialect::GetBlockTemplate => "getblocktemplate",
        }
    }

    /// Index for per-dialect counters.
    pub fn index(self) -> usize {
        match self {
            StratumDialect::Btc => 0,
            StratumDialect::Xmr => 1,
            StratumDialect::Eth => 2,
            StratumDialect::Getwork => 3,
            StratumDialect::GetBlockTemplate => 4,
        }
    }
}

/// Which end of a mining session sends a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The miner (or a proxy acting as one).
    Miner,
    /// The pool (or a node's RPC server).
    Pool,
}

/// What a mining method does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `mining.subscribe`.
    Subscribe,
    /// `mining.authorize`.
    Authorize,
    /// `login`, `eth_submitLogin`.
    Login,
    /// Other miner-side session set-up: `mining.configure`, `mining.extranonce.subscribe`,
    /// `mining.suggest_difficulty`, `mining.get_transactions`, ….
    Setup,
    /// A share or block: `mining.submit`, `submit`, `eth_submitWork`, `getwork` with data,
    /// `submitblock`, `getblocktemplate` in submit mode.
    Submit,
    /// A request for work: `getjob`, `eth_getWork`, `getwork` without data, `getblocktemplate`.
    GetWork,
    /// `keepalived`.
    Keepalive,
    /// `eth_submitHashrate`, `mining.hashrate`.
    Hashrate,
    /// `mining.notify`: a new job.
    Notify,
    /// Monero-style `job`: a new job.
    Job,
    /// `mining.set_difficulty`.
    SetDifficulty,
    /// `mining.set_target`.
    SetTarget,
    /// Any other pool-side method: `mining.set_extranonce`, `client.reconnect`,
    /// `client.show_message`, `mining.ping`, ….
    PoolOther,
}

/// What the method table knows about a method name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodInfo {
    /// The dialect the name belongs to.
    pub dialect: StratumDialect,
    /// What it does.
    pub op: Op,
    /// Who sends it.
    pub sender: Sender,
    /// The name alone identifies a mining protocol (`mining.*`, `eth_submitWork`,
    /// `getblocktemplate`); generic names (`login`, `submit`, `job`, …) only count as mining when
    /// their parameters have the mining shape.
    pub distinctive: bool,
}

/// Look a method name up in the mining method table; `None` for every other method (node RPC
/// such as `getblockchaininfo` or `eth_blockNumber`, language-server methods, …).
pub fn method_info(name: &str) -> Option<MethodInfo> {
    use Op::*;
    use Sender::*;
    use StratumDialect::*;
    let (dialect, op, sender, distinctive) = match name {
        "mining.subscribe" => (Btc, Subscribe, Miner, true),
        "mining.authorize" => (Btc, Authorize, Miner, true),
        "mining.configure"
        | "mining.extranonce.subscribe"
        | "mining.suggest_difficulty"
        | "mining.suggest_target"
        | "mining.get_transactions"
        | "mining.multi_version"
        | "mining.capabilities" => (Btc, Setup, Miner, true),
        "mining.submit" => (Btc, Submit, Miner, true),
        "mining.hashrate" => (Btc, Hashrate, Miner, true),
        "mining.notify" => (Btc, Notify, Pool, true),
        "mining.set_difficulty" => (Btc, SetDifficulty, Pool, true),
        "mining.set_target" => (Btc, SetTarget, Pool, true),
        "mining.set_extranonce"
        | "mining.set_version_mask"
        | "mining.set_goal"
        | "mining.ping"
        | "client.reconnect"
        | "client.show_message"
        | "client.get_version" => (Btc, PoolOther, Pool, true),
        "login" => (Xmr, Login, Miner, false),
        "submit" => (Xmr, Submit, Miner, false),
        "getjob" => (Xmr, GetWork, Miner, false),
        "keepalived" => (Xmr, Keepalive, Miner, false),
        "job" => (Xmr, Job, Pool, false),
        "eth_submitLogin" => (Eth, Login, Miner, true),
        "eth_getWork" => (Eth, GetWork, Miner, true),
        "eth_submitWork" => (Eth, Submit, Miner, true),
        "eth_submitHashrate" => (Eth, Hashrate, Miner, true),
        "getwork" => (Getwork, GetWork, Miner, true),
        "getblocktemplate" => (GetBlockTemplate, GetWork, Miner, true),
        "submitblock" => (GetBlockTemplate, Submit, Miner, true),
        _ => return None,
    };
    Some(MethodInfo {
        dialect,
        op,
        sender,
        distinctive,
    })
}

/// The operation a miner call performs once its parameters are known: `getwork` with data and
/// `getblocktemplate` with `{"mode": "submit"}` submit a share rather than ask for work.
pub fn refine_op(method: &str, op: Op, params: &Value) -> Op {
    match method {
        "getwork" if non_empty_array(params) => Op::Submit,
        "getblocktemplate"
            if params
                .get(0)
                .and_then(|p| p.get("mode"))
                .and_then(Value::as_str)
                == Some("submit") =>
        {
            Op::Submit
        }
        _ => op,
    }
}

fn non_empty_array(v: &Value) -> bool {
    v.as_array().is_some_and(|a| !a.is_empty())
}

/// How far a miner call's name and parameters go as mining evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallShape {
    /// A mining call: an answer with the same id confirms the flow. Distinctive names, a
    /// Monero `login` with `params.login` and an `agent`, `algo` or `rigid`, and a Monero `submit`
    /// with `job_id`, `nonce` and `result`.
    Mining,
    /// Mining-like but generic (a `login` with only `login`/`pass`, `getjob` or `keepalived`
    /// with a session `id`): only an answer with a mining shape (a job, `KEEPALIVED`) confirms.
    NeedsMiningAnswer,
    /// Not a mining call (a generic name without the mining parameters).
    NotMining,
}

/// Judge a miner call by its name and parameters.
pub fn miner_call_shape(info: &MethodInfo, params: &Value) -> CallShape {
    if info.distinctive {
        return CallShape::Mining;
    }
    let Some(p) = params.as_object() else {
        return CallShape::NotMining;
    };
    let session_id = p.get("id").is_some_and(Value::is_string);
    match info.op {
        Op::Login if p.get("login").is_some_and(Value::is_string) => {
            if ["agent", "algo", "rigid"]
                .iter()
                .any(|k| p.contains_key(*k))
            {
                CallShape::Mining
            } else {
                CallShape::NeedsMiningAnswer
            }
        }
        Op::Submit
            if p.contains_key("job_id") && p.contains_key("nonce") && p.contains_key("result") =>
        {
            CallShape::Mining
        }
        Op::GetWork | Op::Keepalive if session_id => CallShape::NeedsMiningAnswer,
        _ => CallShape::NotMining,
    }
}

/// A JSON-RPC message, borrowed from its parsed JSON.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rpc<'v> {
    /// A request or notification: an object with a string `method`.
    Call {
        /// The `id`; `None` when absent or `null` (a notification).
        id: Option<&'v Value>,
        /// The method name.
        method: &'v str,
        /// The `params` (`Null` when absent).
        params: &'v Value,
    },
    /// A response: an object with an `id` and a `result` or an `error`, and no `method`.
    Reply {
        /// The `id` (may be `null`).
        id: &'v Value,
        /// The `result` (`Null` when absent).
        result: &'v Value,
        /// The `error` (`Null` when absent or `null`).
        error: &'v Value,
    },
}

static NULL: Value = Value::Null;

/// Read a parsed JSON value as one JSON-RPC message (1.0 or 2.0, `jsonrpc` member optional, as
/// pools send it); `None` when it is not one.
pub fn classify(v: &Value) -> Option<Rpc<'_>> {
    let obj = v.as_object()?;
    if let Some(method) = obj.get("method") {
        let method = method.as_str()?;
        let id = obj.get("id").filter(|i| !i.is_null());
        let params = obj.get("params").unwrap_or(&NULL);
        return Some(Rpc::Call { id, method, params });
    }
    let id = obj.get("id")?;
    if !obj.contains_key("result") && !obj.contains_key("error") {
        return None;
    }
    Some(Rpc::Reply {
        id,
        result: obj.get("result").unwrap_or(&NULL),
        error: obj.get("error").unwrap_or(&NULL),
    })
}

/// A JSON-RPC `id` reduced to a fixed-size key, so that outstanding requests are remembered
/// without allocating: numbers by their `f64` bits, strings by a 64-bit FNV-1a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKey {
    /// A numeric id.
    Num(u64),
    /// A string id (hashed).
    Str(u64),
}

/// The key of an `id`; `None` for `null` and for ids that are neither numbers nor strings.
pub fn id_key(id: &Value) -> Option<IdKey> {
    match id {
        // +0.0 so that 0 and -0 (and 1 and 1.0) compare equal.
        Value::Number(n) => n.as_f64().map(|f| IdKey::Num((f + 0.0).to_bits())),
        Value::String(s) => Some(IdKey::Str(fnv1a(s.as_bytes()))),
        _ => None,
    }
}

pub use crate::hash::fnv1a;

/// Whether `s` is hexadecimal (an optional `0x` prefix, then at least `min_digits` hex
/// digits).
pub fn is_hex(s: &str, min_digits: usize) -> bool {
    let digits = s.strip_prefix("0x").unwrap_or(s);
    digits.len() >= min_digits && digits.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A 256-bit hash or target written as 64 hex digits (with or without `0x`).
fn is_hash256(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.strip_prefix("0x").unwrap_or(s).len() == 64 && is_hex(s, 64))
}

/// A Monero-style job as pools send it (in `job` notifications, in the `login` result's `job`,
/// and as the `getjob` result).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XmrJob<'v> {
    /// `job_id`.
    pub job_id: &'v str,
    /// `target`, little-endian hex (4 or 8 bytes).
    pub target: Option<&'v str>,
    /// `algo` (XMRig's extension), e.g. `rx/0`.
    pub algo: Option<&'v str>,
}

/// Read a Monero-style job: an object with a hex `blob` of at least 64 digits and a string
/// `job_id`; `target` and `algo` when present.
pub fn xmr_job(v: &Value) -> Option<XmrJob<'_>> {
    let o = v.as_object()?;
    let blob = o.get("blob")?.as_str()?;
    if !is_hex(blob, 64) {
        return None;
    }
    let job_id = o.get("job_id")?.as_str()?;
    let target = o
        .get("target")
        .and_then(Value::as_str)
        .filter(|t| is_hex(t, 2));
    let algo = o.get("algo").and_then(Value::as_str);
    Some(XmrJob {
        job_id,
        target,
        algo,
    })
}

/// The layouts of `mining.notify` parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyShape {
    /// Bitcoin Stratum v1: job id, prevhash, coinbase 1 and 2, merkle branch (array), version,
    /// nbits, ntime, clean (9 items).
    Bitcoin,
    /// Equihash (Zcash-family) Stratum: job id, version, prevhash, merkle root, reserved, time,
    /// bits, clean (8 items).
    Equihash,
    /// Ethereum Stratum: a job id and the seed and header hashes (NiceHash
    /// `EthereumStratum/1.0.0`), or the eth-proxy header/seed/boundary triple (3 to 5 items, two
    /// or more 256-bit hashes).
    Ethereum,
    /// Other job layouts with a job id and at least one 256-bit hash (KawPow and friends).
    Other,
}

/// Recognise `mining.notify` parameters; `None` when they do not look like a job at all.
pub fn notify_shape(params: &Value) -> Option<NotifyShape> {
    let p = params.as_array()?;
    let hashes = p.iter().filter(|v| is_hash256(v)).count();
    if hashes == 0 {
        return None;
    }
    let job_id_ok = p.first().is_some_and(|j| j.is_string() || j.is_number());
    if p.len() >= 9 && job_id_ok && p.get(4).is_some_and(Value::is_array) {
        return Some(NotifyShape::Bitcoin);
    }
    if p.len() == 8
        && job_id_ok
        && p.get(7).is_some_and(Value::is_boolean)
        && p.get(1)
            .and_then(Value::as_str)
            .is_some_and(|v| v.len() == 8 && is_hex(v, 8))
    {
        return Some(NotifyShape::Equihash);
    }
    if (3..=5).contains(&p.len()) && hashes >= 2 {
        return Some(NotifyShape::Ethereum);
    }
    if p.len() >= 4 && job_id_ok {
        return Some(NotifyShape::Other);
    }
    None
}

/// Equihash notifications from Zcash and its forks carry block version 4 (`"04000000"`).
pub fn equihash_is_zcash(params: &Value) -> bool {
    params.get(1).and_then(Value::as_str) == Some("04000000")
}

/// An Ethereum work package: the result of `eth_getWork` (or the same array pushed by eth-proxy
/// pools with id 0): header hash, seed hash, boundary, each `0x` + 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EthWork<'v> {
    /// Header hash (the job's identity).
    pub header: &'v str,
    /// Share boundary (target).
    pub boundary: &'v str,
}

/// Read an Ethereum work package; `None` unless the first three items are 256-bit hex strings.
pub fn eth_work(result: &Value) -> Option<EthWork<'_>> {
    let a = result.as_array()?;
    if a.len() < 3 || !a.iter().take(3).all(is_hash256) {
        return None;
    }
    Some(EthWork {
        header: a.first()?.as_str()?,
        boundary: a.get(2)?.as_str()?,
    })
}

/// Whether a `getwork` result is a work unit (an object with hex `data`).
pub fn is_getwork_result(result: &Value) -> bool {
    result
        .get("data")
        .and_then(Value::as_str)
        .is_some_and(|d| is_hex(d, 64))
}

/// Whether a `getblocktemplate` result is a block template (an object with `previousblockhash`
/// or `height`).
pub fn is_block_template(result: &Value) -> bool {
    result
        .as_object()
        .is_some_and(|o| o.contains_key("previousblockhash") || o.contains_key("height"))
}

/// How a pool answered a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareVerdict {
    /// Accepted: `result: true`, `"OK"`, `{"status": "OK"}`, or `null` with no error for
    /// `submitblock` (BIP 22).
    Accepted,
    /// Rejected: a non-null `error`, `result: false`, or a BIP 22 reason string.
    Rejected,
    /// Neither (e.g. `null` result without error from a Stratum pool).
    Unknown,
}

/// Read a pool's answer to a share submission; `bip22` for `submitblock`/`getblocktemplate`
/// submit mode, whose success value is `null` and whose failures are reason strings.
pub fn share_verdict(result: &Value, error: &Value, bip22: bool) -> ShareVerdict {
    if !error.is_null() {
        return ShareVerdict::Rejected;
    }
    match result {
        Value::Bool(true) => ShareVerdict::Accepted,
        Value::Bool(false) => ShareVerdict::Rejected,
        Value::Null if bip22 => ShareVerdict::Accepted,
        Value::String(s) if s.eq_ignore_ascii_case("ok") => ShareVerdict::Accepted,
        Value::String(_) if bip22 => ShareVerdict::Rejected,
        Value::Object(o) => match o.get("status").and_then(Value::as_str) {
            Some(s) if s.eq_ignore_ascii_case("ok") => ShareVerdict::Accepted,
            _ => ShareVerdict::Unknown,
        },
        _ => ShareVerdict::Unknown,
    }
}

/// Difficulty of a Monero-style target: the hex is a little-endian integer `T` of `n` = 4 or 8
/// bytes, and a share must hash below `T` in the top `8n` bits, so
/// `difficulty = (2^(8n) - 1) / T` (expected hashes per share; `"dd240601"` gives 250).
pub fn xmr_target_difficulty(hex: &str) -> Option<f64> {
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    // from_str_radix reads the digits big-endian; swapping the bytes gives the wire's
    // little-endian value.
    let (max, t) = match hex.len() {
        8 => (
            f64::from(u32::MAX),
            f64::from(u32::from_str_radix(hex, 16).ok()?.swap_bytes()),
        ),
        16 => (
            u64::MAX as f64,
            u64::from_str_radix(hex, 16).ok()?.swap_bytes() as f64,
        ),
        _ => return None,
    };
    (t > 0.0).then(|| max / t)
}

/// Difficulty of a big-endian 256-bit target (Ethereum boundary, `mining.set_target`):
/// `difficulty = 2^256 / T`, the expected number of hashes per share. Shorter hex strings are
/// read as the high-order digits of a 256-bit value, as `mining.set_target` senders mean them.
pub fn target256_difficulty(hex: &str) -> Option<f64> {
    let digits = hex.strip_prefix("0x").unwrap_or(hex);
    if digits.is_empty() || digits.len() > 64 || !is_hex(digits, 1) {
        return None;
    }
    let mut value = 0.0_f64;
    for b in digits.bytes() {
        let d = char::from(b).to_digit(16)?;
        value = value * 16.0 + f64::from(d);
    }
    // Scale to 256 bits: each missing hex digit is a factor of 16.
    let missing = 64 - digits.len() as i32;
    let target = value * 16f64.powi(missing);
    (target > 0.0).then(|| 2f64.powi(256) / target)
}

/// Difficulty of a little-endian 256-bit target as `getwork` sends it (64 hex digits, least
/// significant byte first): `2^256 / T`, like [`target256_difficulty`].
pub fn target256_le_difficulty(hex: &str) -> Option<f64> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 || !is_hex(hex, 64) {
        return None;
    }
    let mut value = 0.0_f64;
    for pair in bytes.chunks(2).rev() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        value = value * 256.0 + f64::from(hi * 16 + lo);
    }
    (value > 0.0).then(|| 2f64.powi(256) / value)
}

/// The coin an algorithm name (XMRig's `algo`, as in `rx/0`) is mined for; `None` for names
/// shared by several coins or not known.
pub fn coin_from_algo(algo: &str) -> Option<&'static str> {
    let a = algo.to_ascii_lowercase();
    Some(match a.as_str() {
        "rx/0" | "randomx" | "rx" | "cn/r" | "cryptonight/r" => "monero",
        "rx/wow" => "wownero",
        "rx/arq" => "arqma",
        "rx/graft" => "graft",
        "rx/sfx" => "safex",
        "rx/keva" => "kevacoin",
        "rx/yada" => "yadacoin",
        "cn/half" => "masari",
        "cn/ccx" => "conceal",
        "cn/upx2" => "uplexa",
        "cn-heavy/xhv" => "haven",
        "cn-pico/tlo" => "talleo",
        "argon2/chukwa" | "argon2/chukwav2" => "turtlecoin",
        "argon2/ninja" => "ninjacoin",
        "gr" | "ghostrider" => "raptoreum",
        "kawpow" => "ravencoin",
        "ethash" => "ethereum",
        "etchash" => "ethereum-classic",
        "equihash" | "equihash200_9" => "zcash",
        "autolykos2" => "ergo",
        "kheavyhash" => "kaspa",
        "astrobwt" => "dero",
        "panthera" => "scala",
        _ => return None,
    })
}

/// Split a pool user string at its first `sep`: `"wallet.rig1"` gives `("wallet",
/// Some("rig1"))`; an empty part after the separator is `None`.
pub fn split_user(user: &str, sep: char) -> (&str, Option<&str>) {
    match user.split_once(sep) {
        Some((login, rest)) => (login, Some(rest).filter(|w| !w.is_empty())),
        None => (user, None),
    }
}

/// Find the end of the next line: the index of its `\n` within `buf`, or `None` when the line
/// is not complete yet (more bytes needed).
pub fn find_line_end(buf: &[u8]) -> Option<usize> {
    buf.iter().position(|&b| b == b'\n')
}

/// Trim ASCII whitespace (including the `\r` of CRLF line ends) from both ends.
pub fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// Whether a byte never occurs in a text protocol (C0 controls other than tab, CR and LF, and
/// DEL): a direction opening with one is binary (TLS, SSH key exchange, …).
pub fn is_binary_byte(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) || b == 0x7f
}

/// HTTP request methods recognised at the start of a direction.
const HTTP_METHODS: [&[u8]; 8] = [
    b"POST ",
    b"GET ",
    b"PUT ",
    b"HEAD ",
    b"OPTIONS ",
    b"CONNECT ",
    b"DELETE ",
    b"PATCH ",
];

/// What the first bytes of a direction look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// Not enough bytes to tell.
    NeedMore,
    /// A JSON object or array: newline-delimited JSON-RPC.
    Json,
    /// An HTTP request or status line.
    Http,
    /// A control byte: a binary protocol.
    Binary,
    /// Some other text (or the middle of a line, when the capture starts mid-stream).
    Text,
}

/// Classify the first bytes of a direction, leading whitespace already skipped.
pub fn classify_opening(bytes: &[u8]) -> Opening {
    let Some(&first) = bytes.first() else {
        return Opening::NeedMore;
    };
    if first == b'{' || first == b'[' {
        return Opening::Json;
    }
    let mut maybe_http = false;
    for token in HTTP_METHODS.iter().chain(std::iter::once(&&b"HTTP/1."[..])) {
        let n = token.len().min(bytes.len());
        if bytes[..n] == token[..n] {
            if n == token.len() {
                return Opening::Http;
            }
            maybe_http = true;
        }
    }
    if maybe_http {
        return Opening::NeedMore;
    }
    if bytes.iter().take(64).any(|&b| is_binary_byte(b)) {
        return Opening::Binary;
    }
    Opening::Text
}

/// The start line of an HTTP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpStart<'a> {
    /// A request: method and target.
    Request {
        /// `POST`, `GET`, ….
        method: &'a str,
    },
    /// A response: status code.
    Response {
        /// `200`, `404`, ….
        status: u16,
    },
}

/// An HTTP message head (start line and the headers this dissector uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpHead<'a> {
    /// Start line.
    pub start: HttpStart<'a>,
    /// `Content-Length`, when present and valid.
    pub content_length: Option<u64>,
    /// `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// `Authorization: Basic` credentials, still base64.
    pub basic_auth: Option<&'a str>,
    /// Bytes of the head, terminating blank line included.
    pub len: usize,
}

/// Result of [`parse_http_head`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadParse<'a> {
    /// A whole head.
    Complete(HttpHead<'a>),
    /// The blank line that ends the head has not arrived.
    NeedMore,
    /// Not an HTTP/1.x head.
    Invalid,
}

/// Parse an HTTP/1.x head at the start of `buf` (lines may end in CRLF or bare LF).
pub fn parse_http_head(buf: &[u8]) -> HeadParse<'_> {
    let Some(len) = head_end(buf) else {
        return HeadParse::NeedMore;
    };
    let Ok(text) = std::str::from_utf8(&buf[..len]) else {
        return HeadParse::Invalid;
    };
    let mut lines = text.split('\n').map(|l| l.trim_end_matches('\r'));
    let Some(start_line) = lines.next() else {
        return HeadParse::Invalid;
    };
    let mut parts = start_line.splitn(3, ' ');
    let (Some(a), Some(b)) = (parts.next(), parts.next()) else {
        return HeadParse::Invalid;
    };
    let start = if a.starts_with("HTTP/1.") {
        match b.parse::<u16>() {
            Ok(status) if (100..=999).contains(&status) => HttpStart::Response { status },
            _ => return HeadParse::Invalid,
        }
    } else if parts.next().is_some_and(|v| v.starts_with("HTTP/1."))
        && !a.is_empty()
        && a.bytes().all(|c| c.is_ascii_uppercase())
    {
        HttpStart::Request { method: a }
    } else {
        return HeadParse::Invalid;
    };
    let mut head = HttpHead {
        start,
        content_length: None,
        chunked: false,
        user_agent: None,
        basic_auth: None,
        len,
    };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value.to_ascii_lowercase().contains("chunked");
        } else if name.eq_ignore_ascii_case("user-agent") {
            head.user_agent = Some(value);
        } else if name.eq_ignore_ascii_case("authorization") {
            if let Some((scheme, cred)) = value.split_once(' ') {
                if scheme.eq_ignore_ascii_case("basic") {
                    head.basic_auth = Some(cred.trim());
                }
            }
        }
    }
    HeadParse::Complete(head)
}

/// Length of the head up to and including the blank line (`\r\n\r\n` or `\n\n`).
fn head_end(buf: &[u8]) -> Option<usize> {
    let mut i = 0;
    while let Some(off) = buf.get(i..).and_then(find_line_end) {
        let nl = i + off;
        // The line that ends at `nl` is empty when the previous line end is right before it.
        let line = &buf[i..nl];
        if i > 0 && (line.is_empty() || line == b"\r") {
            return Some(nl + 1);
        }
        i = nl + 1;
    }
    None
}

/// Whether `buf` contains the blank line that ends an HTTP head (`\n\n` or `\n\r\n`): a
/// cheap test on newly arrived bytes (plus the three before them) before
/// [`parse_http_head`] reads the whole head, so that a head trickling in byte by byte costs
/// linear time.
pub fn has_blank_line(buf: &[u8]) -> bool {
    buf.windows(2).any(|w| w == b"\n\n") || buf.windows(3).any(|w| w == b"\n\r\n")
}

/// Decode standard base64 (padding optional); `None` on any other character.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine as _;
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    LENIENT.decode(text.trim_end_matches('=')).ok()
}

/// Parse the size line of an HTTP chunk (hex digits, optional `;extensions`).
pub fn chunk_size(line: &[u8]) -> Option<u64> {
    let line = trim_ascii(line);
    let digits = line.split(|&b| b == b';').next()?;
    let digits = trim_ascii(digits);
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let text = std::str::from_utf8(digits).ok()?;
    u64::from_str_radix(text, 16).ok()
}

/// Truncate a wire string to at most `max` bytes on a character boundary, as an owned value.
pub fn bounded(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}
