//! Stratum dissector: recognises plaintext mining protocols in a flow's reassembled TCP streams
//! and summarises the mining session.
//!
//! Miners that do not use TLS talk to pools in newline-delimited JSON-RPC: Bitcoin-style Stratum
//! v1 (`mining.subscribe`/`mining.notify`/`mining.submit`, also used for Equihash, KawPow and
//! GhostRider coins), the Monero dialect of XMRig and xmr-stak (`login`/`job`/`submit`), the
//! Ethereum pool dialects (`eth_submitLogin`/`eth_getWork`, NiceHash `EthereumStratum/1.0.0`),
//! and the older HTTP JSON-RPC of `getwork` and `getblocktemplate`. [`StratumDissector`] takes
//! the ordered bytes of both directions as the flow layer reassembles them, frames lines (or HTTP
//! messages), parses each with `serde_json`, and decides — precision first — whether the flow is
//! a mining session; once it is, it keeps counting jobs, shares and answers for the whole flow in
//! bounded memory. [`StratumInfo`] is what it learned, reported only for confirmed flows.
//!
//! # When a flow counts as mining
//!
//! A flow is confirmed ([`Evidence`]) only by two-sided or unmistakable evidence, never by a
//! method name alone:
//!
//! * **Reply**: one side sends a *mining call* — a miner method of the table in
//!   [`parser::method_info`] (`mining.subscribe`, `mining.authorize`, `mining.submit`,
//!   `eth_submitLogin`, `eth_getWork`, `getblocktemplate`, …), or a generic-named Monero method
//!   whose parameters have the mining shape (`login` with `params.login` and an
//!   `agent`/`algo`/`rigid`; `submit` with `job_id`, `nonce` and `result`) — and the *other*
//!   side answers it with a JSON-RPC response carrying the same `id` (a result or an error: a
//!   pool refusing a share or a bad worker is still a pool). Generic-named calls with less
//!   (`login` with only `login`/`pass`, `getjob`, `keepalived`) count only when the answer has
//!   the mining shape too: a job with a hex `blob`, or the `KEEPALIVED` status.
//! * **Push**: a side that has sent no mining call pushes a job with the mining fields: a
//!   `mining.notify` whose parameters hold a job id and 256-bit hashes, a Monero `job` with a hex
//!   `blob` and a `job_id`, or an Ethereum work package (`0x` + 64 hex digits ×3); or it pushes a
//!   valid `mining.set_difficulty` (positive number) or `mining.set_target` (hex target) while
//!   the other side has made a mining call (pools that answer `mining.subscribe` with a wrong id
//!   but then set the share target).
//! * **HTTP reply**: an HTTP request whose JSON-RPC body calls a mining method (`getwork`,
//!   `getblocktemplate`, `submitblock`, `eth_getWork`, …) is answered by an HTTP response, whatever
//!   its status (a node's RPC port or a pool's HTTP front end answering a miner).
//!
//! A lone request without an answer (an unanswered probe), Bitcoin or Ethereum node RPC
//! (`getblockchaininfo`, `eth_blockNumber`, even `eth_mining`), language servers and other
//! JSON-over-TCP never match. The decision is taken within the first
//! [`DECISION_MESSAGES`] messages (JSON-RPC messages, malformed lines and HTTP heads) and
//! [`DECISION_BYTES`] bytes; a direction that opens with binary bytes, an HTTP request that is
//! not a JSON-RPC POST, or an exhausted budget ends the look ([`StratumDissector::wants_more`]
//! turns false).
//!
//! Stratum V2 is encrypted from its first byte; [`MiningDissector`] runs this dissector beside
//! the SV2 detector of [`crate::dissect::sv2`], which recognises SV2 by the sizes of its Noise
//! handshake and set-up frames, and reports an SV2 session here too (dialect `sv2`).

mod mining;
pub mod parser;
pub mod state;

#[cfg(test)]
mod tests;

pub use mining::MiningDissector;
pub use parser::StratumDialect;
pub use state::{
    Evidence, StratumDissector, DECISION_BYTES, DECISION_MESSAGES, MAX_HTTP_BODY, MAX_HTTP_HEAD,
    MAX_LINE, MAX_METHODS, MAX_PENDING,
};

use std::collections::BTreeMap;

/// What the Stratum dissector learned about a confirmed mining flow.
///
/// Counters cover the whole flow (both directions) from its first byte, including the
/// messages that led to the decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StratumInfo {
    /// Protocol family: `"btc"`, `"xmr"`, `"eth"`, `"getwork"` or `"getblocktemplate"` (see
    /// [`StratumDialect`]). Ethereum markers (`eth_*` mining methods, `EthereumStratum/…` in
    /// `mining.subscribe`, seed/header `mining.notify`) win over `btc`, whose method names the
    /// Ethereum Stratum variants reuse; otherwise the dialect with the most mining messages.
    /// `"sv2"` is an encrypted Stratum V2 session (see [`crate::dissect::sv2`]): its content
    /// cannot be read, so only `methods` (`noise-handshake`) and the message counts are
    /// filled, and the other counters stay 0.
    pub dialect: &'static str,
    /// Coin, where the flow tells it: from the job's `algo` (`rx/0` → `monero`, `gr` →
    /// `raptoreum`, `kawpow` → `ravencoin`, `etchash` → `ethereum-classic`, …, see
    /// [`parser::coin_from_algo`]); `ethereum` for the `eth` dialect; `zcash` for Equihash
    /// `mining.notify` with block version 4. `None` when unsure (plain Bitcoin-style Stratum is
    /// used by many SHA-256d, Scrypt and other coins).
    pub coin: Option<String>,
    /// Mining software: `params.agent` of a Monero `login`, `params[0]` of `mining.subscribe`, or
    /// the `User-Agent` of an HTTP mining request (at most 256 bytes).
    pub agent: Option<String>,
    /// Wallet or pool user: Monero `params.login` up to its first `.` (and without a `+diff`
    /// suffix); `mining.authorize` `params[0]` before the first `.`; `eth_submitLogin`
    /// `params[0]` before the first `/` (or `.`); the HTTP Basic user of a mining request.
    pub login: Option<String>,
    /// Worker name: after the `.` of a Stratum user; Monero `params.rigid`, else `params.pass`
    /// unless it is the `x` placeholder, else the last `.` part of the login; the top-level
    /// `worker` member of `eth_submitLogin`, else the part after the wallet in `params[0]`.
    pub worker: Option<String>,
    /// JSON-RPC method names seen in both directions, with counts (at most [`MAX_METHODS`]
    /// names, each cut to 64 bytes).
    pub methods: BTreeMap<String, u64>,
    /// Jobs received: `mining.notify`, Monero `job` pushes and the job in the `login` or `getjob`
    /// result, Ethereum work packages with a new header hash (pools answer repeated `eth_getWork`
    /// polls with the same work, which is not a new job), `getwork` work units and block
    /// templates.
    pub jobs: u64,
    /// Shares submitted: `mining.submit`, `submit`, `eth_submitWork`, `getwork` with data,
    /// `submitblock`.
    pub submits: u64,
    /// Share answers matched by id that accept: `true`, `"OK"`, `{"status": "OK"}`, or a `null`
    /// `submitblock` result.
    pub accepted: u64,
    /// Share answers matched by id that reject: a non-null `error`, `false`, or a BIP 22
    /// reason string.
    pub rejected: u64,
    /// The last difficulty the pool set. `mining.set_difficulty`: the value as sent (pool
    /// units). Monero target (little-endian hex of n = 4 or 8 bytes, value T):
    /// `(2^(8n) − 1) / T`. Ethereum boundary, `mining.set_target` and the block template's
    /// `target` (big-endian 256-bit T), and the `getwork` `target` (little-endian 256-bit T):
    /// `2^256 / T`. The target forms are expected hashes per share.
    pub difficulty: Option<f64>,
    /// Mean seconds between consecutive jobs (needs two jobs).
    pub job_interval_mean: Option<f64>,
    /// Coefficient of variation of those intervals: population standard deviation / mean
    /// (needs three jobs and a positive mean).
    pub job_interval_cv: Option<f64>,
    /// Shares submitted per second between the first and the last JSON-RPC message (`None` when
    /// they share a timestamp).
    pub submit_rate: Option<f64>,
    /// JSON-RPC messages parsed (a batch counts each member).
    pub messages: u64,
    /// Lines that are not JSON-RPC (invalid JSON, other JSON, over-long lines); the tail of a
    /// line cut by a gap is not counted.
    pub malformed_lines: u64,
    /// Stratum V2 only (absent otherwise): encrypted messages from the client after the
    /// handshake, as runs of bytes one way (frame lengths travel encrypted, so frames cannot
    /// be told apart); `messages` is the sum of both ways.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_c2s: Option<u64>,
    /// Stratum V2 only: the same from the server (the set-up answer, jobs, share answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_s2c: Option<u64>,
}
