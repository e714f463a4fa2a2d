//! Tests of the Stratum dissector: real streams checked against hand-verified values, the
//! streaming contract (every prefix, every split, gaps, over-long lines, garbage), and generic
//! JSON-RPC that must never be taken for mining.
//!
//! The vectors in `tests/data/vectors/stratum/` are TCP streams as `tshark -z follow,tcp,raw`
//! prints them, with capture times (see `PROVENANCE.tsv` and `make_vectors.py` there). Their
//! expected values were read off the JSON by hand and cross-checked with Python's `json` module
//! over the same bytes and with `tshark -d tcp.port==P,json` (which misses lines split across
//! segments, such as the Equihash submits).

use super::parser::{self, CallShape, HeadParse, HttpStart, NotifyShape, Opening, ShareVerdict};
use super::{Evidence, StratumDissector, StratumInfo, MAX_LINE, MAX_METHODS};
use crate::flow::direction::Direction;
use crate::flow::reassembly::Chunk;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;

const C: Direction = Direction::ClientToServer;
const S: Direction = Direction::ServerToClient;

// ---------------------------------------------------------------------------------------------
// Helpers

/// One TCP stream: chunks in capture order.
#[derive(Debug, Clone, Default)]
struct Stream {
    chunks: Vec<(Direction, f64, Vec<u8>)>,
}

fn load_vector(name: &str) -> Stream {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vectors/stratum")
        .join(format!("{name}.hex"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut stream = Stream::default();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let dir = match parts.next() {
            Some("c") => C,
            Some("s") => S,
            other => panic!("bad direction {other:?} in {name}"),
        };
        let ts: f64 = parts.next().and_then(|t| t.parse().ok()).expect("time");
        let bytes = hex::decode(parts.next().expect("hex").trim()).expect("valid hex");
        stream.chunks.push((dir, ts, bytes));
    }
    stream
}

/// Feed a stream as captured.
fn dissect(stream: &Stream) -> StratumDissector {
    dissect_in_pieces(stream, usize::MAX)
}

/// Feed a stream with every chunk cut into pieces of at most `size` bytes (same timestamp).
fn dissect_in_pieces(stream: &Stream, size: usize) -> StratumDissector {
    let mut d = StratumDissector::new();
    for (dir, ts, bytes) in &stream.chunks {
        for piece in bytes.chunks(size.max(1)) {
            d.on_chunk(*dir, Chunk::Data(piece), *ts);
        }
    }
    d
}

/// A hand-written exchange: (direction, text) pairs, one second apart.
fn exchange(parts: &[(Direction, &str)]) -> Stream {
    Stream {
        chunks: parts
            .iter()
            .enumerate()
            .map(|(i, (d, t))| (*d, 1000.0 + i as f64, t.as_bytes().to_vec()))
            .collect(),
    }
}

fn methods(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-12)
}

fn info_of(name: &str) -> (StratumDissector, StratumInfo) {
    let d = dissect(&load_vector(name));
    let info = d
        .info()
        .unwrap_or_else(|| panic!("{name}: not confirmed as mining"));
    (d, info)
}

// ---------------------------------------------------------------------------------------------
// Real streams

#[test]
fn xmrig_monero_session_matches_the_lab_manifest() {
    // Manifest: methods {'login': 1, 'submit': 9, 'job': 12, 'keepalived': 4}; xmrig log: 9
    // accepted shares, 13 jobs received (the login's job and 12 pushes); fakepool diff 250
    // (target dd240601), a job every 30 s.
    let (d, info) = info_of("lab-xmrig-rx-plain-s0");
    assert_eq!(d.evidence(), Some(Evidence::Reply));
    assert_eq!(info.dialect, "xmr");
    assert_eq!(info.coin.as_deref(), Some("monero"));
    assert_eq!(
        info.agent.as_deref(),
        Some("XMRig/6.26.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0")
    );
    assert_eq!(
        info.login.as_deref(),
        Some("45labWalletAddressForLoopbackOnly")
    );
    // pass is the "x" placeholder and there is no rigid.
    assert_eq!(info.worker, None);
    assert_eq!(
        info.methods,
        methods(&[("job", 12), ("keepalived", 4), ("login", 1), ("submit", 9)])
    );
    assert_eq!((info.jobs, info.submits), (13, 9));
    // keepalived answers ({"status":"KEEPALIVED"}) are not share answers.
    assert_eq!((info.accepted, info.rejected), (9, 0));
    assert!(close(info.difficulty.unwrap(), 250.0, 1e-6));
    assert!(close(info.job_interval_mean.unwrap(), 30.014_262, 1e-5));
    assert!(info.job_interval_cv.unwrap() < 0.001);
    // 9 submits between the first (login) and the last message, 372.634 s apart.
    assert!(close(info.submit_rate.unwrap(), 9.0 / 372.634_213, 1e-5));
    assert_eq!((info.messages, info.malformed_lines), (40, 0));
}

#[test]
fn xmrig_ghostrider_stratum_session_matches_the_lab_manifest() {
    // Manifest: {'mining.subscribe': 1, 'mining.authorize': 1, 'mining.set_difficulty': 1,
    // 'mining.notify': 10, 'mining.submit': 14}; 14 accepted, 10 jobs, difficulty 0.01.
    let (d, info) = info_of("lab-xmrig-gr-plain-s0");
    assert_eq!(d.evidence(), Some(Evidence::Reply));
    assert_eq!(info.dialect, "btc");
    // Nothing on the wire names GhostRider: the coin is not guessed.
    assert_eq!(info.coin, None);
    assert_eq!(
        info.agent.as_deref(),
        Some("XMRig/6.26.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0")
    );
    assert_eq!(
        info.login.as_deref(),
        Some("RlabRaptoreumAddressLoopbackOnly")
    );
    assert_eq!(info.worker.as_deref(), Some("rig1"));
    assert_eq!(
        info.methods,
        methods(&[
            ("mining.authorize", 1),
            ("mining.notify", 10),
            ("mining.set_difficulty", 1),
            ("mining.submit", 14),
            ("mining.subscribe", 1),
        ])
    );
    assert_eq!(
        (info.jobs, info.submits, info.accepted, info.rejected),
        (10, 14, 14, 0)
    );
    assert_eq!(info.difficulty, Some(0.01));
    assert!(close(info.job_interval_mean.unwrap(), 37.697_137, 1e-5));
    assert!(close(info.job_interval_cv.unwrap(), 0.408_569, 1e-4));
    assert_eq!((info.messages, info.malformed_lines), (43, 0));
}

#[test]
fn nanopool_monero_login_without_jsonrpc_member() {
    let (d, info) = info_of("nesfit-xmr-nanopool-s0");
    assert_eq!(d.evidence(), Some(Evidence::Reply));
    assert_eq!(info.dialect, "xmr");
    // No algo on the wire.
    assert_eq!(info.coin, None);
    assert_eq!(info.agent.as_deref(), Some("xmr/1.0"));
    assert_eq!(
        info.login.as_deref(),
        Some("47mr7jYTroxQMwdKoPQuJoc9Vs9S9qCUAL6Ek4qyNFWJdqgBZRn4RYY2QjQfqEMJZVWPscupSgaqmUn1dpdUTC4fQsu3yjN")
    );
    assert_eq!(info.methods, methods(&[("job", 3), ("login", 1)]));
    assert_eq!((info.jobs, info.submits), (4, 0));
    // target "69ba0000" = 0x0000ba69 = 47721 little-endian; 0xffffffff / 47721.
    assert!(close(
        info.difficulty.unwrap(),
        4_294_967_295.0 / 47_721.0,
        1e-9
    ));
    assert_eq!(info.submit_rate, Some(0.0));
    assert_eq!((info.messages, info.malformed_lines), (5, 0));
}

#[test]
fn nanopool_zcash_equihash_stratum() {
    // First 24 chunks: the stream ends inside the third submit, whose partial line is not
    // counted.
    let (_, info) = info_of("nesfit-zec-nanopool-s0");
    assert_eq!(info.dialect, "btc");
    assert_eq!(info.coin.as_deref(), Some("zcash"));
    assert_eq!(info.agent.as_deref(), Some("equihashminer"));
    assert_eq!(
        info.login.as_deref(),
        Some("t1KJkEGkUrmBRQdeQeNchfqgvDFD7Pk1kKQ")
    );
    assert_eq!(info.worker.as_deref(), Some("kvetak"));
    assert_eq!(
        info.methods,
        methods(&[
            ("mining.authorize", 1),
            ("mining.extranonce.subscribe", 1),
            ("mining.notify", 4),
            ("mining.set_target", 1),
            ("mining.submit", 2),
            ("mining.subscribe", 1),
        ])
    );
    assert_eq!(
        (info.jobs, info.submits, info.accepted, info.rejected),
        (4, 2, 2, 0)
    );
    // set_target 0004189300…00: 2^256 / T.
    let t = f64::from(0x0004_1893_u32) * 2f64.powi(256 - 32);
    assert!(close(info.difficulty.unwrap(), 2f64.powi(256) / t, 1e-9));
    assert!(close(info.job_interval_mean.unwrap(), 48.859_946, 1e-5));
    assert_eq!((info.messages, info.malformed_lines), (14, 0));
}

#[test]
fn nanopool_ethereum_proxy_dialect() {
    // First 40 chunks. The pool answers eth_getWork with id 0 instead of the request's 3, and
    // repeats the same work until a new block: 10 distinct consecutive header hashes.
    let (_, info) = info_of("nesfit-eth-nanopool-s0");
    assert_eq!(info.dialect, "eth");
    assert_eq!(info.coin.as_deref(), Some("ethereum"));
    assert_eq!(info.agent, None);
    assert_eq!(
        info.login.as_deref(),
        Some("0x9c99d212f7e5daa18ab50810e0fd255d1f04303b")
    );
    assert_eq!(info.worker.as_deref(), Some("eth1.0"));
    assert_eq!(
        info.methods,
        methods(&[
            ("eth_getWork", 11),
            ("eth_submitHashrate", 5),
            ("eth_submitLogin", 1),
            ("eth_submitWork", 1),
        ])
    );
    assert_eq!(
        (info.jobs, info.submits, info.accepted, info.rejected),
        (10, 1, 1, 0)
    );
    // Boundary 0x00000000dbe6fece…: about 5.0e9 hashes per share.
    assert!(close(info.difficulty.unwrap(), 5.0e9, 1e-3));
    assert!(close(info.job_interval_mean.unwrap(), 10.547_652, 1e-5));
    assert_eq!((info.messages, info.malformed_lines), (40, 0));
}

#[test]
fn xmr_stak_login_with_payment_id_and_worker() {
    // nDPI labels this flow ZCash/Monero; the wire names no algorithm, so no coin.
    let (_, info) = info_of("ndpi-mining-s1");
    assert_eq!(info.dialect, "xmr");
    assert_eq!(info.coin, None);
    assert_eq!(info.agent.as_deref(), Some("xmr-stak-cpu/1.3.0-1.5.0"));
    assert_eq!(
        info.login.as_deref(),
        Some("4BCeEPhodgPMbPWFN1dPwhWXdRX8q4mhhdZdA1dtSMLTLCEYvAj9QXjXAfF7CugEbmfBhgkqHbdgK9b2wKA6nqRZQCgvCDm")
    );
    // wallet.paymentid.worker: the 64-hex payment id is skipped.
    assert_eq!(info.worker.as_deref(), Some("ryzen"));
    assert_eq!(
        info.methods,
        methods(&[("job", 3), ("login", 1), ("submit", 13)])
    );
    // Every submit reuses id 1; answers pair in order. The last submit's answer is cut off.
    assert_eq!(
        (info.jobs, info.submits, info.accepted, info.rejected),
        (4, 13, 12, 0)
    );
    // target "dc460300" = 214748: 0xffffffff / 214748 ≈ 20000.
    assert!(close(
        info.difficulty.unwrap(),
        4_294_967_295.0 / 214_748.0,
        1e-9
    ));
    assert_eq!((info.messages, info.malformed_lines), (30, 0));
}

#[test]
fn ewbf_zcash_on_flypool() {
    let (_, info) = info_of("ndpi-mining-s3");
    assert_eq!(info.dialect, "btc");
    assert_eq!(info.coin.as_deref(), Some("zcash"));
    assert_eq!(info.agent.as_deref(), Some("EWBF 0.3.4b"));
    assert_eq!(
        info.login.as_deref(),
        Some("t1fJuHWrfcWnYMYyP9VAF96vRnvND2NziMG")
    );
    assert_eq!(info.worker.as_deref(), Some("c1"));
    assert_eq!(info.methods.get("mining.notify"), Some(&14));
    assert_eq!(
        (info.jobs, info.submits, info.accepted, info.rejected),
        (14, 1, 1, 0)
    );
    assert!(close(info.difficulty.unwrap(), 16_000.0, 1e-6));
    assert!(close(info.job_interval_mean.unwrap(), 81.787_275, 1e-5));
    assert!(close(info.job_interval_cv.unwrap(), 0.849_921, 1e-4));
    assert_eq!((info.messages, info.malformed_lines), (22, 0));
}

#[test]
fn getblocktemplate_answered_by_a_pool_over_http() {
    // litecoinpool's Stratum port answers cgminer's HTTP POST with HTTP/1.0 200 and a
    // JSON-RPC error telling it to use stratum+tcp: a node or pool answering a mining request.
    let (d, info) = info_of("cgminer-g0-s156");
    assert_eq!(d.evidence(), Some(Evidence::HttpReply));
    assert_eq!(info.dialect, "getblocktemplate");
    assert_eq!(info.agent.as_deref(), Some("cgminer 3.7.2"));
    // Authorization: Basic Qml0Y29pbjp4 = "Bitcoin:x".
    assert_eq!(info.login.as_deref(), Some("Bitcoin"));
    assert_eq!(info.methods, methods(&[("getblocktemplate", 1)]));
    assert_eq!(info.jobs, 0);
    assert_eq!((info.messages, info.malformed_lines), (2, 0));
}

#[test]
fn getwork_answered_by_p2pool_with_work() {
    let (d, info) = info_of("cgminer-g0-s429");
    assert_eq!(d.evidence(), Some(Evidence::HttpReply));
    assert_eq!(info.dialect, "getwork");
    assert_eq!(info.jobs, 1);
    // target 00…00ffff000000 is little-endian: bytes 27 and 28 are 0xff, so T = 0xffff * 2^216
    // and 2^256 / T = 2^40 / 0xffff (p2pool's easy pseudo-shares).
    assert!(close(
        info.difficulty.unwrap(),
        2f64.powi(40) / 65_535.0,
        1e-9
    ));
    assert_eq!((info.messages, info.malformed_lines), (2, 0));
}

#[test]
fn getwork_post_to_a_line_based_pool() {
    // The pool reads the HTTP head as JSON lines and answers each with id 999, then the body's
    // getwork (id 0) with "Miner not registered": the id-0 answer confirms.
    let (d, info) = info_of("cgminer-g0-s458");
    assert_eq!(d.evidence(), Some(Evidence::Reply));
    assert_eq!(info.dialect, "getwork");
    assert_eq!((info.messages, info.malformed_lines), (12, 0));
}

#[test]
fn ckproxy_bitcoin_session() {
    let (_, info) = info_of("cgminer-s1-s0");
    assert_eq!(info.dialect, "btc");
    assert_eq!(info.agent.as_deref(), Some("cgminer/3.7.2"));
    assert_eq!(
        (info.login.as_deref(), info.worker.as_deref()),
        (Some("Bitcoin"), None)
    );
    assert_eq!(
        info.methods,
        methods(&[
            ("client.show_message", 1),
            ("mining.authorize", 1),
            ("mining.notify", 3),
            ("mining.ping", 2),
            ("mining.set_difficulty", 1),
            ("mining.subscribe", 1),
        ])
    );
    assert_eq!(info.jobs, 3);
    assert_eq!(info.difficulty, Some(16384.0));
    assert!(close(info.job_interval_mean.unwrap(), 18.257_540, 1e-5));
    assert_eq!((info.messages, info.malformed_lines), (11, 0));
}

#[test]
fn pushed_equihash_job_confirms_despite_a_wrong_reply_id() {
    let (d, info) = info_of("cgminer-s1-s1");
    assert_eq!(d.evidence(), Some(Evidence::Push));
    assert_eq!(info.dialect, "btc");
    assert_eq!(info.coin.as_deref(), Some("zcash"));
    assert_eq!(info.jobs, 1);
}

#[test]
fn error_answer_with_the_same_id_confirms() {
    let (d, info) = info_of("cgminer-s1-s4");
    assert_eq!(d.evidence(), Some(Evidence::Reply));
    assert_eq!(info.methods, methods(&[("mining.subscribe", 1)]));
}

#[test]
fn ethereum_stratum_notify_with_seed_and_header() {
    let (_, info) = info_of("cgminer-g2-s1215");
    assert_eq!(info.dialect, "eth");
    assert_eq!(info.coin.as_deref(), Some("ethereum"));
    assert_eq!(info.jobs, 1);
    assert_eq!(info.difficulty, Some(65536.0));
}

#[test]
fn unanswered_or_mismatched_probes_are_not_mining() {
    for name in ["cgminer-g0-s165", "cgminer-g0-s232", "cgminer-s1-s63"] {
        let d = dissect(&load_vector(name));
        assert_eq!(d.info(), None, "{name}");
    }
}

#[test]
fn vectors_read_the_same_in_any_piece_size() {
    let names = [
        "lab-xmrig-rx-plain-s0",
        "lab-xmrig-gr-plain-s0",
        "nesfit-xmr-nanopool-s0",
        "nesfit-zec-nanopool-s0",
        "nesfit-eth-nanopool-s0",
        "ndpi-mining-s1",
        "ndpi-mining-s3",
        "cgminer-g0-s156",
        "cgminer-g0-s429",
        "cgminer-g0-s458",
        "cgminer-g0-s165",
        "cgminer-s1-s0",
        "cgminer-s1-s1",
        "cgminer-g2-s1215",
    ];
    for name in names {
        let stream = load_vector(name);
        let whole = dissect(&stream).info();
        for size in [1, 2, 3, 7, 64, 1000] {
            let split = dissect_in_pieces(&stream, size).info();
            assert_eq!(split, whole, "{name} in pieces of {size}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Streaming contract

const LOGIN: &str = r#"{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4Wallet","pass":"x","agent":"XMRig/6.21.0","algo":["rx/0"]}}"#;
const LOGIN_OK: &str = r#"{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"s1","job":{"blob":"0e0ea6e0e2a2067a5d06fd6a3cf37c4d3d1f36c7ff0ef8a3a1e08e22b1d5c81e6b58a7c94b6b50000000005a5f1c0a0ea7f3e8e4c3e3bd3b2c9b8d9f4c1d5b8a5e7e3a2c2b9f8d6e5c4b3a2","job_id":"j1","target":"dd240601","algo":"rx/0","height":1,"seed_hash":"00"},"status":"OK"}}"#;

fn login_exchange() -> Vec<(Direction, String)> {
    vec![(C, format!("{LOGIN}\n")), (S, format!("{LOGIN_OK}\n"))]
}

#[test]
fn every_prefix_of_a_message_waits_for_its_newline() {
    let reply = format!("{LOGIN_OK}\n");
    let bytes = reply.as_bytes();
    for k in 0..=bytes.len() {
        let mut d = StratumDissector::new();
        d.on_chunk(C, Chunk::Data(format!("{LOGIN}\n").as_bytes()), 1.0);
        d.on_chunk(S, Chunk::Data(&bytes[..k]), 2.0);
        let complete = k == bytes.len();
        assert_eq!(d.counts(), (1 + u64::from(complete), 0), "prefix {k}");
        assert_eq!(d.info().is_some(), complete, "prefix {k}");
        assert!(d.wants_more());
        // The rest completes it exactly as if it had come whole.
        d.on_chunk(S, Chunk::Data(&bytes[k..]), 2.0);
        let info = d.info().expect("confirmed once whole");
        assert_eq!((info.messages, info.jobs, info.malformed_lines), (2, 1, 0));
    }
}

#[test]
fn a_message_split_at_every_byte_reads_the_same() {
    let whole = {
        let mut d = StratumDissector::new();
        for (dir, text) in login_exchange() {
            d.on_chunk(dir, Chunk::Data(text.as_bytes()), 1.0);
        }
        d.info().expect("confirmed")
    };
    for (i, (dir, text)) in login_exchange().into_iter().enumerate() {
        for cut in 0..=text.len() {
            let mut d = StratumDissector::new();
            for (j, (other_dir, other)) in login_exchange().into_iter().enumerate() {
                if i == j {
                    d.on_chunk(dir, Chunk::Data(&text.as_bytes()[..cut]), 1.0);
                    d.on_chunk(dir, Chunk::Data(&text.as_bytes()[cut..]), 1.0);
                } else {
                    d.on_chunk(other_dir, Chunk::Data(other.as_bytes()), 1.0);
                }
            }
            assert_eq!(d.info().as_ref(), Some(&whole), "message {i} cut at {cut}");
        }
    }
}

#[test]
fn crlf_line_ends_and_blank_lines() {
    let s = exchange(&[
        (
            C,
            "\r\n{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"cpuminer/2.5\"]}\r\n\r\n",
        ),
        (S, "{\"id\":1,\"result\":[[],\"ab\",4],\"error\":null}\r\n"),
    ]);
    let info = dissect(&s).info().expect("confirmed");
    assert_eq!((info.messages, info.malformed_lines), (2, 0));
    assert_eq!(info.agent.as_deref(), Some("cpuminer/2.5"));
}

#[test]
fn gap_drops_the_partial_line_and_resyncs() {
    let mut d = StratumDissector::new();
    d.on_chunk(C, Chunk::Data(format!("{LOGIN}\n").as_bytes()), 1.0);
    // The reply's first half, then 100 bytes lost: the half line must not be glued to what
    // follows the gap.
    let half = &LOGIN_OK.as_bytes()[..LOGIN_OK.len() / 2];
    d.on_chunk(S, Chunk::Data(half), 2.0);
    d.on_chunk(S, Chunk::Gap(100), 2.0);
    // After the gap: the tail of some line (skipped), then a whole job push.
    let job = r#"{"jsonrpc":"2.0","method":"job","params":{"blob":"0e0ea6e0e2a2067a5d06fd6a3cf37c4d3d1f36c7ff0ef8a3a1e08e22b1d5c81e6b58a7c94b6b","job_id":"j2","target":"dd240601"}}"#;
    d.on_chunk(S, Chunk::Data(format!("e\"}}}}\n{job}\n").as_bytes()), 3.0);
    let info = d.info().expect("the job push confirms");
    assert_eq!(d.evidence(), Some(Evidence::Push));
    assert_eq!((info.messages, info.malformed_lines), (2, 0));
    assert_eq!(info.jobs, 1);
}

#[test]
fn a_whole_line_right_after_a_gap_is_read() {
    let mut d = StratumDissector::new();
    d.on_chunk(C, Chunk::Data(format!("{LOGIN}\n").as_bytes()), 1.0);
    d.on_chunk(S, Chunk::Gap(500), 1.5);
    d.on_chunk(S, Chunk::Data(format!("{LOGIN_OK}\n").as_bytes()), 2.0);
    assert_eq!(d.evidence(), Some(Evidence::Reply));
    // A fragment that opens like JSON but is not whole is dropped silently.
    d.on_chunk(S, Chunk::Gap(7), 3.0);
    d.on_chunk(
        S,
        Chunk::Data(b"{\"blob\":\"00\",\"job_id\":\"x\"}}\n"),
        3.0,
    );
    assert_eq!(d.counts(), (2, 0));
}

#[test]
fn capture_starting_mid_line_skips_the_fragment() {
    // No SYN: the first bytes are the end of a notify.
    let notify = r#"{"id":null,"method":"mining.notify","params":["4f","000000000000000000034b1e22e5c4dfbbd1f1b8aab1e1c0a0fcd9d0f5d3a3c2","01000000","ffffffff",["a3c9f0f3b5bd3c0e4dd5c0b5e47d7ff3e1d3e3a8cf1f6e0e9bbf1ab4f31f2a14"],"20000000","1705ae3a","5c8b8c3b",false]}"#;
    let mut d = StratumDissector::new();
    d.on_chunk(S, Chunk::Data(b"5b\",false]}\n"), 1.0);
    d.on_chunk(S, Chunk::Data(format!("{notify}\n").as_bytes()), 2.0);
    assert_eq!(d.counts(), (1, 0));
    assert_eq!(d.evidence(), Some(Evidence::Push));
    assert_eq!(d.info().unwrap().jobs, 1);
}

#[test]
fn oversized_line_is_counted_and_skipped() {
    let mut d = StratumDissector::new();
    d.on_chunk(C, Chunk::Data(format!("{LOGIN}\n").as_bytes()), 1.0);
    // 40 KiB without a newline, in 1 KiB pieces, then its end and a real reply.
    let filler = vec![b'a'; 1024];
    d.on_chunk(S, Chunk::Data(b"{\"junk\":\""), 2.0);
    for _ in 0..40 {
        d.on_chunk(S, Chunk::Data(&filler), 2.0);
        assert!(d.footprint().0 <= 2 * MAX_LINE + 64);
    }
    d.on_chunk(
        S,
        Chunk::Data(format!("\"}}\n{LOGIN_OK}\n").as_bytes()),
        3.0,
    );
    let info = d.info().expect("the reply after the long line confirms");
    assert_eq!((info.messages, info.malformed_lines), (2, 1));
    // A long line that ends inside one chunk is counted too.
    let long = format!("{{\"x\":\"{}\"}}\n", "b".repeat(MAX_LINE + 1));
    d.on_chunk(S, Chunk::Data(long.as_bytes()), 4.0);
    assert_eq!(d.counts(), (2, 2));
}

#[test]
fn binary_openings_are_dropped_at_once() {
    // A TLS ClientHello record header.
    let mut d = StratumDissector::new();
    d.on_chunk(
        C,
        Chunk::Data(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc]),
        1.0,
    );
    assert!(!d.wants_more());
    assert_eq!(d.info(), None);
    // Raw control bytes inside a line are not JSON either.
    let mut d = StratumDissector::new();
    d.on_chunk(C, Chunk::Data(b"{\"a\":\x01\x02}\n"), 1.0);
    assert!(!d.wants_more());
}

#[test]
fn garbage_never_panics_and_stays_bounded() {
    // A deterministic pseudo-random byte soup with some JSON and HTTP sprinkled in.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seeds: [&[u8]; 6] = [
        b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n",
        b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n",
        b"{\"id\":1,\"result\":[\"0x",
        b"\n\n\n[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n",
        b"{\"method\":\"job\",\"params\":{\"blob\":\"zz\"}}\n",
    ];
    for round in 0..200 {
        let mut d = StratumDissector::new();
        for step in 0..60 {
            let dir = if next() % 2 == 0 { C } else { S };
            let chunk: Vec<u8> = match next() % 4 {
                0 => seeds[(next() % seeds.len() as u64) as usize].to_vec(),
                1 => (0..(next() % 300)).map(|_| next() as u8).collect(),
                2 => (0..(next() % 300))
                    .map(|_| {
                        let alphabet = b"{}[]\":,0123abcx \n\r";
                        alphabet[(next() % alphabet.len() as u64) as usize]
                    })
                    .collect(),
                _ => {
                    d.on_chunk(dir, Chunk::Gap(next() % 5000), step as f64);
                    continue;
                }
            };
            d.on_chunk(dir, Chunk::Data(&chunk), step as f64);
            let (buffered, names, tables) = d.footprint();
            assert!(buffered <= 2 * (super::MAX_HTTP_BODY + 64), "round {round}");
            assert!(names <= MAX_METHODS && tables <= super::MAX_PENDING);
        }
        let _ = d.info();
    }
}

#[test]
fn decision_budget_ends_an_undecided_flow() {
    let mut d = StratumDissector::new();
    for i in 0..40 {
        let line =
            format!("{{\"jsonrpc\":\"2.0\",\"id\":{i},\"method\":\"ping\",\"params\":[]}}\n");
        d.on_chunk(C, Chunk::Data(line.as_bytes()), 1.0);
    }
    assert!(!d.wants_more());
    // Mining evidence after the decision is not looked at.
    for (dir, text) in login_exchange() {
        d.on_chunk(dir, Chunk::Data(text.as_bytes()), 2.0);
    }
    assert_eq!(d.info(), None);
}

#[test]
fn confirmed_flows_keep_counting_in_bounded_memory() {
    let mut d = StratumDissector::new();
    for (dir, text) in login_exchange() {
        d.on_chunk(dir, Chunk::Data(text.as_bytes()), 0.0);
    }
    let job = r#"{"jsonrpc":"2.0","method":"job","params":{"blob":"0e0ea6e0e2a2067a5d06fd6a3cf37c4d3d1f36c7ff0ef8a3a1e08e22b1d5c81e6b58a7c94b6b","job_id":"j","target":"b88d0600","algo":"rx/0"}}"#;
    for i in 1..=5000u64 {
        let ts = i as f64 * 10.0;
        d.on_chunk(S, Chunk::Data(format!("{job}\n").as_bytes()), ts);
        let submit = format!(
            "{{\"id\":{},\"jsonrpc\":\"2.0\",\"method\":\"submit\",\"params\":{{\"id\":\"s1\",\"job_id\":\"j\",\"nonce\":\"00000001\",\"result\":\"ff\"}}}}\n",
            i + 1
        );
        d.on_chunk(C, Chunk::Data(submit.as_bytes()), ts + 1.0);
        // Every other share is accepted, every fourth rejected, the rest unanswered.
        let answer = match i % 4 {
            0 => format!("{{\"id\":{},\"jsonrpc\":\"2.0\",\"error\":{{\"code\":-1,\"message\":\"Low difficulty share\"}}}}\n", i + 1),
            1 | 3 => format!("{{\"id\":{},\"jsonrpc\":\"2.0\",\"error\":null,\"result\":{{\"status\":\"OK\"}}}}\n", i + 1),
            _ => continue,
        };
        d.on_chunk(S, Chunk::Data(answer.as_bytes()), ts + 1.5);
        assert!(d.wants_more());
    }
    let info = d.info().expect("confirmed");
    assert_eq!(info.jobs, 5001);
    assert_eq!(
        (info.submits, info.accepted, info.rejected),
        (5000, 2500, 1250)
    );
    assert!(close(info.job_interval_mean.unwrap(), 10.0, 1e-9));
    assert!(info.job_interval_cv.unwrap() < 1e-9);
    // target b88d0600 = 0x00068db8 = 429496: difficulty 10000.
    assert!(close(info.difficulty.unwrap(), 10_000.0, 1e-4));
    // 1250 submits were never answered: the table of outstanding ids stays at its cap (less
    // the last share, which was answered).
    let (buffered, names, pending) = d.footprint();
    assert!(buffered <= 4096, "{buffered}");
    assert_eq!(names, 3);
    assert_eq!(pending, super::MAX_PENDING - 1);
}

#[test]
fn method_names_are_capped() {
    let mut d = StratumDissector::new();
    for (dir, text) in login_exchange() {
        d.on_chunk(dir, Chunk::Data(text.as_bytes()), 0.0);
    }
    for i in 0..500 {
        let line = format!(
            "{{\"id\":null,\"method\":\"m{i}{}\",\"params\":[]}}\n",
            "x".repeat(100)
        );
        d.on_chunk(S, Chunk::Data(line.as_bytes()), 1.0);
    }
    let info = d.info().unwrap();
    assert_eq!(info.methods.len(), MAX_METHODS);
    assert!(info.methods.keys().all(|k| k.len() <= 64));
    assert_eq!(info.messages, 502);
}

#[test]
fn http_chunked_getwork_answer_and_content_length_split() {
    let body = r#"{"method":"getwork","params":[],"id":1}"#;
    let request = format!(
        "POST / HTTP/1.1\r\nHost: pool\r\nUser-Agent: bfgminer/5.5.0\r\nAuthorization: Basic dXNlci53b3JrZXI6eA==\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let work = r#"{"result":{"midstate":"00","data":"00000001c570c4764aadb3f09895619f549000b8b51a789e7f58ea750000709700000000103ca064f8c76c390683f8203043e91466a7fcc40e6ebc428fbcc2d89b574a864db8345b1b00b5ac00000000000000800000000000000000000000000000000000000000000000000000000000000000000000000000000080020000","hash1":"00","target":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffff00000000"},"error":null,"id":1}"#;
    let (a, b) = work.split_at(100);
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nX-Long-Polling: /LP\r\n\r\n{:x}\r\n{a}\r\n{:x};ext=1\r\n{b}\r\n0\r\nX-Trailer: 1\r\n\r\n",
        a.len(),
        b.len()
    );
    let s = exchange(&[(C, &request), (S, &response)]);
    for size in [1, 5, 1000] {
        let d = dissect_in_pieces(&s, size);
        assert_eq!(d.evidence(), Some(Evidence::HttpReply), "size {size}");
        let info = d.info().unwrap();
        assert_eq!(info.dialect, "getwork");
        assert_eq!(info.agent.as_deref(), Some("bfgminer/5.5.0"));
        assert_eq!(info.login.as_deref(), Some("user"));
        assert_eq!(info.worker.as_deref(), Some("worker"));
        assert_eq!((info.jobs, info.messages), (1, 2));
        // Difficulty-1 target (0x00000000ffff…ff): about 2^32 hashes per share.
        assert!(close(info.difficulty.unwrap(), 2f64.powi(32), 1e-6));
    }
}

#[test]
fn getblocktemplate_long_poll_and_submitblock() {
    let gbt = r#"{"id":"lp","method":"getblocktemplate","params":[{"rules":["segwit"],"longpollid":"0000abcd1"}]}"#;
    let template = r#"{"result":{"version":536870912,"previousblockhash":"0000000000000000000a1b2c","height":840000,"target":"0000000000000000000000000000000000000000000000000000000000000000"},"error":null,"id":"lp"}"#;
    let submit = r#"{"id":"sb","method":"submitblock","params":["00000020ab"]}"#;
    let rejected = r#"{"result":"high-hash","error":null,"id":"sb"}"#;
    let post = |b: &str| {
        format!(
            "POST / HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        )
    };
    let ok = |b: &str| format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{b}", b.len());
    let s = exchange(&[
        (C, &post(gbt)),
        (S, &ok(template)),
        (C, &post(submit)),
        (S, &ok(rejected)),
    ]);
    let info = dissect(&s).info().expect("confirmed");
    assert_eq!(info.dialect, "getblocktemplate");
    assert_eq!(
        (info.jobs, info.submits, info.accepted, info.rejected),
        (1, 1, 0, 1)
    );
    // An all-zero target has no difficulty.
    assert_eq!(info.difficulty, None);
}

#[test]
fn oversized_http_work_answer_still_counts_as_a_job() {
    let gbt = r#"{"id":1,"method":"getblocktemplate","params":[]}"#;
    let body = format!(
        "{{\"result\":{{\"transactions\":[\"{}\"]}},\"id\":1}}",
        "ab".repeat(60_000)
    );
    let s = exchange(&[
        (
            C,
            &format!(
                "POST / HTTP/1.0\r\nContent-Length: {}\r\n\r\n{gbt}",
                gbt.len()
            ),
        ),
        (
            S,
            &format!(
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            ),
        ),
    ]);
    let d = dissect_in_pieces(&s, 1460);
    let info = d.info().unwrap();
    assert_eq!((info.jobs, info.messages), (1, 1));
    assert!(d.footprint().0 <= super::MAX_HTTP_BODY + 4096);
}

#[test]
fn http_keep_alive_stray_line_ends_and_close_delimited_answer() {
    let body = r#"{"method":"getwork","params":[],"id":1}"#;
    let post = format!(
        "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}\r\n",
        body.len()
    );
    let work = r#"{"result":{"data":"00000001c570c4764aadb3f09895619f549000b8b51a789e7f58ea750000709700000000","target":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffff00000000"},"error":null,"id":1}"#;
    let s = exchange(&[
        (C, &post),
        (
            S,
            &format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{work}",
                work.len()
            ),
        ),
        (C, &post),
        // HTTP/1.0 without a length: the body ends with the connection.
        (
            S,
            &format!(
                "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{}",
                &work[..50]
            ),
        ),
        (S, &work[50..]),
    ]);
    for size in [1, 9, usize::MAX] {
        let info = dissect_in_pieces(&s, size).info().expect("confirmed");
        assert_eq!((info.jobs, info.messages), (2, 4), "pieces of {size}");
    }
}

#[test]
fn reversed_directions_are_read_by_role() {
    // No SYN in the capture: the pool spoke first and was taken for the client.
    let notify = r#"{"id":null,"method":"mining.notify","params":["4f","000000000000000000034b1e22e5c4dfbbd1f1b8aab1e1c0a0fcd9d0f5d3a3c2","01000000","ffffffff",[],"20000000","1705ae3a","5c8b8c3b",true]}"#;
    let s = exchange(&[
        (C, &format!("{notify}\n")),
        (S, "{\"id\":5,\"method\":\"mining.submit\",\"params\":[\"w.1\",\"4f\",\"00000000\",\"5c8b8c3b\",\"1a2b3c4d\"]}\n"),
        (C, "{\"id\":5,\"result\":true,\"error\":null}\n"),
    ]);
    let d = dissect(&s);
    assert_eq!(d.evidence(), Some(Evidence::Push));
    let info = d.info().unwrap();
    assert_eq!((info.jobs, info.submits, info.accepted), (1, 1, 1));
    assert_eq!(
        (info.login.as_deref(), info.worker.as_deref()),
        (None, None)
    );
}

#[test]
fn stratum_through_an_http_connect_proxy() {
    let s = exchange(&[
        (C, "CONNECT pool.example:3333 HTTP/1.1\r\nHost: pool.example:3333\r\n\r\n"),
        (S, "HTTP/1.1 200 Connection established\r\n\r\n"),
        (C, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"bfgminer/5.5.0\"]}\n{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"acct.w1\",\"x\"]}\n"),
        (S, "{\"id\":1,\"result\":[[[\"mining.notify\",\"ae68\"]],\"08000002\",4],\"error\":null}\n{\"id\":2,\"result\":true,\"error\":null}\n"),
    ]);
    let info = dissect(&s).info().expect("confirmed inside the tunnel");
    assert_eq!(info.dialect, "btc");
    assert_eq!(
        (info.login.as_deref(), info.worker.as_deref()),
        (Some("acct"), Some("w1"))
    );
}

#[test]
fn nicehash_ethereum_stratum() {
    let s = exchange(&[
        (C, "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"ethminer/0.19.0\",\"EthereumStratum/1.0.0\"]}\n"),
        (S, "{\"id\":1,\"result\":[[\"mining.notify\",\"ae6812eb4cd7735a302a8a9dd95cf71f\",\"EthereumStratum/1.0.0\"],\"080c\"],\"error\":null}\n"),
        (C, "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"0xabcdef0123456789abcdef0123456789abcdef01.rig7\",\"x\"]}\n"),
        (S, "{\"id\":2,\"result\":true,\"error\":null}\n{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[0.5]}\n{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"bf0488aa\",\"abad8f99f3918bf903c6a909d9bbc0fdfa5a2f4b9cb1196175ec825c6610126c\",\"645cf20198c2f3861e947d4f67e3ab63b7b2e24dcc9095bd9123e7b33371f6cc\",true]}\n"),
        (C, "{\"id\":4,\"method\":\"mining.submit\",\"params\":[\"0xabcdef0123456789abcdef0123456789abcdef01.rig7\",\"bf0488aa\",\"6a909d9bbc0f\"]}\n"),
        (S, "{\"id\":4,\"result\":false,\"error\":null}\n"),
    ]);
    let info = dissect(&s).info().expect("confirmed");
    assert_eq!(info.dialect, "eth");
    assert_eq!(info.coin.as_deref(), Some("ethereum"));
    assert_eq!(info.agent.as_deref(), Some("ethminer/0.19.0"));
    assert_eq!(info.worker.as_deref(), Some("rig7"));
    assert_eq!(
        (info.jobs, info.submits, info.accepted, info.rejected),
        (1, 1, 0, 1)
    );
    assert_eq!(info.difficulty, Some(0.5));
}

// ---------------------------------------------------------------------------------------------
// Generic JSON-RPC: never mining

fn assert_not_mining(name: &str, s: &Stream) {
    for size in [1, 13, usize::MAX] {
        let d = dissect_in_pieces(s, size);
        assert_eq!(d.info(), None, "{name} (pieces of {size})");
        assert_eq!(d.evidence(), None, "{name}");
    }
}

fn http_post(body: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: 127.0.0.1:8332\r\nAuthorization: Basic X19jb29raWVfXzpzZWNyZXQ=\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn http_ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn bitcoind_rpc_is_not_mining() {
    let calls = [
        (
            r#"{"jsonrpc":"1.0","id":"curltest","method":"getblockchaininfo","params":[]}"#,
            r#"{"result":{"chain":"main","blocks":840000,"headers":840000,"bestblockhash":"0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5","difficulty":86388558925171.02},"error":null,"id":"curltest"}"#,
        ),
        (
            r#"{"jsonrpc":"1.0","id":"m","method":"getmininginfo","params":[]}"#,
            r#"{"result":{"blocks":840000,"difficulty":86388558925171.02,"networkhashps":6.1e20,"pooledtx":3000,"chain":"main","warnings":""},"error":null,"id":"m"}"#,
        ),
        (
            r#"{"jsonrpc":"1.0","id":"n","method":"getnetworkhashps","params":[]}"#,
            r#"{"result":6.1e20,"error":null,"id":"n"}"#,
        ),
        (
            r#"[{"jsonrpc":"2.0","id":1,"method":"getblockcount"},{"jsonrpc":"2.0","id":2,"method":"getbestblockhash"}]"#,
            r#"[{"result":840000,"error":null,"id":1},{"result":"0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5","error":null,"id":2}]"#,
        ),
        (
            r#"{"jsonrpc":"1.0","id":"t","method":"getrawtransaction","params":["4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b",true]}"#,
            r#"{"result":null,"error":{"code":-5,"message":"No such mempool or blockchain transaction"},"id":"t"}"#,
        ),
    ];
    let mut parts = vec![];
    for (req, resp) in calls {
        parts.push((C, http_post(req)));
        parts.push((S, http_ok(resp)));
    }
    let parts: Vec<(Direction, &str)> = parts.iter().map(|(d, t)| (*d, t.as_str())).collect();
    assert_not_mining("bitcoind", &exchange(&parts));
}

#[test]
fn geth_rpc_and_subscriptions_are_not_mining() {
    // HTTP JSON-RPC, including the mining *status* queries eth_mining and eth_hashrate.
    let calls = [
        (
            r#"{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":83}"#,
            r#"{"jsonrpc":"2.0","id":83,"result":"0x12a05f2"}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"eth_mining","params":[],"id":71}"#,
            r#"{"jsonrpc":"2.0","id":71,"result":false}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"eth_hashrate","params":[],"id":72}"#,
            r#"{"jsonrpc":"2.0","id":72,"result":"0x0"}"#,
        ),
        (
            r#"{"jsonrpc":"2.0","method":"eth_getBlockByNumber","params":["latest",false],"id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{"number":"0x12a05f2","hash":"0x8e38b4dbf6b11fcc3b9dee84fb7986e29ca0a02cecd8977c161ff7333329681e","parentHash":"0x6b4f9fd1a6c9b2f6e5c7b6a9d6c4d1bd1d3f0a8e3b9f2d4c6a8b0d2f4a6c8e0a","miner":"0x95222290dd7278aa3ddd389cc1e1d165cc4bafe5"}}"#,
        ),
    ];
    let mut parts = vec![];
    for (req, resp) in calls {
        parts.push((C, http_post(req)));
        parts.push((S, http_ok(resp)));
    }
    let parts: Vec<(Direction, &str)> = parts.iter().map(|(d, t)| (*d, t.as_str())).collect();
    assert_not_mining("geth http", &exchange(&parts));

    // Newline-delimited over a socket (IPC / raw TCP), with eth_subscribe notifications that
    // carry 256-bit hashes.
    let s = exchange(&[
        (C, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"eth_subscribe\",\"params\":[\"newHeads\"]}\n"),
        (S, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0xcd0c3e8af590364c09d0fa6a1210faf5\"}\n"),
        (S, "{\"jsonrpc\":\"2.0\",\"method\":\"eth_subscription\",\"params\":{\"subscription\":\"0xcd0c3e8af590364c09d0fa6a1210faf5\",\"result\":{\"hash\":\"0x8e38b4dbf6b11fcc3b9dee84fb7986e29ca0a02cecd8977c161ff7333329681e\",\"parentHash\":\"0x6b4f9fd1a6c9b2f6e5c7b6a9d6c4d1bd1d3f0a8e3b9f2d4c6a8b0d2f4a6c8e0a\",\"number\":\"0x1b4\"}}}\n"),
        (C, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"eth_getBlockByHash\",\"params\":[\"0x8e38b4dbf6b11fcc3b9dee84fb7986e29ca0a02cecd8977c161ff7333329681e\",false]}\n"),
        (S, "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":[\"0x8e38b4dbf6b11fcc3b9dee84fb7986e29ca0a02cecd8977c161ff7333329681e\",\"0x6b4f9fd1a6c9b2f6e5c7b6a9d6c4d1bd1d3f0a8e3b9f2d4c6a8b0d2f4a6c8e0a\"]}\n"),
    ]);
    assert_not_mining("geth ipc", &s);
}

#[test]
fn language_server_exchange_is_not_mining() {
    let msg = |body: &str| format!("Content-Length: {}\r\n\r\n{body}", body.len());
    let s = exchange(&[
        (
            C,
            &msg(
                r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"processId":4242,"rootUri":"file:///home/dev/poolscope","capabilities":{}}}"#,
            ),
        ),
        (
            S,
            &msg(
                r#"{"jsonrpc":"2.0","id":1,"result":{"capabilities":{"textDocumentSync":2,"hoverProvider":true},"serverInfo":{"name":"rust-analyzer","version":"1.85.0"}}}"#,
            ),
        ),
        (
            C,
            &msg(r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#),
        ),
        (
            C,
            &msg(
                r#"{"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"file:///home/dev/poolscope/src/main.rs","languageId":"rust","version":1,"text":"fn main() {}\n"}}}"#,
            ),
        ),
        (
            S,
            &msg(
                r#"{"jsonrpc":"2.0","method":"window/logMessage","params":{"type":3,"message":"indexing"}}"#,
            ),
        ),
        (
            C,
            &msg(
                r#"{"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"textDocument":{"uri":"file:///home/dev/poolscope/src/main.rs"},"position":{"line":0,"character":3}}}"#,
            ),
        ),
        (
            S,
            &msg(
                r#"{"jsonrpc":"2.0","id":2,"result":{"contents":{"kind":"markdown","value":"fn main()"}}}"#,
            ),
        ),
    ]);
    assert_not_mining("lsp", &s);
}

#[test]
fn electrum_and_generic_json_over_tcp_are_not_mining() {
    // Electrum protocol: newline-delimited JSON-RPC about the Bitcoin chain, not mining.
    let s = exchange(&[
        (C, "{\"jsonrpc\":\"2.0\",\"method\":\"server.version\",\"params\":[\"electrum/4.5.4\",\"1.4\"],\"id\":0}\n"),
        (S, "{\"jsonrpc\":\"2.0\",\"result\":[\"ElectrumX 1.16.0\",\"1.4\"],\"id\":0}\n"),
        (C, "{\"jsonrpc\":\"2.0\",\"method\":\"blockchain.headers.subscribe\",\"params\":[],\"id\":1}\n"),
        (S, "{\"jsonrpc\":\"2.0\",\"result\":{\"hex\":\"00000020a1b2\",\"height\":840000},\"id\":1}\n"),
        (S, "{\"jsonrpc\":\"2.0\",\"method\":\"blockchain.headers.subscribe\",\"params\":[{\"hex\":\"00000020c3d4\",\"height\":840001}]}\n"),
    ]);
    assert_not_mining("electrum", &s);

    // An app whose API happens to use "login", "submit" and "job" without the mining shapes.
    let s = exchange(&[
        (C, "{\"id\":1,\"method\":\"login\",\"params\":{\"user\":\"bob\",\"password\":\"hunter2\"}}\n"),
        (S, "{\"id\":1,\"result\":{\"token\":\"c2VjcmV0\",\"status\":\"OK\"},\"error\":null}\n"),
        (C, "{\"id\":2,\"method\":\"login\",\"params\":{\"login\":\"bob\",\"pass\":\"hunter2\"}}\n"),
        (S, "{\"id\":2,\"result\":{\"id\":\"sess-1\",\"status\":\"OK\"},\"error\":null}\n"),
        (C, "{\"id\":3,\"method\":\"submit\",\"params\":{\"form\":\"contact\",\"fields\":{\"name\":\"bob\"}}}\n"),
        (S, "{\"id\":3,\"result\":true,\"error\":null}\n"),
        (S, "{\"method\":\"job\",\"params\":{\"job_id\":\"print-42\",\"state\":\"done\"}}\n"),
        (C, "{\"id\":4,\"method\":\"keepalived\",\"params\":{\"id\":\"sess-1\"}}\n"),
        (S, "{\"id\":4,\"result\":{\"status\":\"OK\"},\"error\":null}\n"),
    ]);
    assert_not_mining("generic login/submit/job", &s);
}

#[test]
fn lone_or_one_sided_mining_lines_are_not_mining() {
    // A request nobody answers.
    let s = exchange(&[(
        C,
        "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n",
    )]);
    assert_not_mining("lone subscribe", &s);
    // An answer to a request that was never made.
    let s = exchange(&[(S, "{\"id\":1,\"result\":true,\"error\":null}\n")]);
    assert_not_mining("lone answer", &s);
    // A difficulty setting without any mining call.
    let s = exchange(&[(
        S,
        "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[8]}\n",
    )]);
    assert_not_mining("lone set_difficulty", &s);
    // A notify without hashes is not a job.
    let s = exchange(&[(
        S,
        "{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"a\",\"b\",\"c\",\"d\"]}\n",
    )]);
    assert_not_mining("hashless notify", &s);
    // An echo server: the same side that calls cannot answer itself, and the echoed call is a
    // call, not an answer.
    let line = "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n";
    let s = exchange(&[(C, line), (S, line)]);
    assert_not_mining("echo", &s);
    // Plain HTTP: dropped at the first request.
    let s = exchange(&[(C, "GET /mining.notify HTTP/1.1\r\nHost: x\r\n\r\n")]);
    let d = dissect(&s);
    assert!(!d.wants_more());
    assert_eq!(d.info(), None);
}

// ---------------------------------------------------------------------------------------------
// Pure parsing

#[test]
fn target_conversions() {
    assert!(close(
        parser::xmr_target_difficulty("dd240601").unwrap(),
        250.0,
        1e-7
    ));
    assert!(close(
        parser::xmr_target_difficulty("8b4fc60100000000").unwrap(),
        u64::MAX as f64 / f64::from(0x01c6_4f8b_u32),
        1e-12
    ));
    assert_eq!(parser::xmr_target_difficulty("00000000"), None);
    assert_eq!(parser::xmr_target_difficulty("zz240601"), None);
    assert_eq!(parser::xmr_target_difficulty("dd2406"), None);
    assert!(close(
        parser::target256_difficulty(
            "0x00000000ffff0000000000000000000000000000000000000000000000000000"
        )
        .unwrap(),
        2f64.powi(32) / (65535.0 / 65536.0),
        1e-9
    ));
    assert!(close(
        parser::target256_difficulty(
            "0004189374bc6a7ef9db22d0e5604189374bc6a7ef9db22d0e5604189374bc6a"
        )
        .unwrap(),
        16_000.0,
        1e-9
    ));
    assert_eq!(parser::target256_difficulty("0x"), None);
    assert_eq!(parser::target256_difficulty(&"0".repeat(64)), None);
    assert_eq!(parser::target256_le_difficulty("ff"), None);
}

#[test]
fn coins_users_and_shapes() {
    assert_eq!(parser::coin_from_algo("rx/0"), Some("monero"));
    assert_eq!(parser::coin_from_algo("GR"), Some("raptoreum"));
    assert_eq!(parser::coin_from_algo("kawpow"), Some("ravencoin"));
    assert_eq!(parser::coin_from_algo("cn/2"), None);
    assert_eq!(
        parser::split_user("wallet.rig1", '.'),
        ("wallet", Some("rig1"))
    );
    assert_eq!(parser::split_user("wallet.", '.'), ("wallet", None));
    assert_eq!(parser::split_user("wallet", '.'), ("wallet", None));

    let info = parser::method_info("login").unwrap();
    let shape = |p: Value| parser::miner_call_shape(&info, &p);
    assert_eq!(
        shape(json!({"login": "w", "pass": "x", "agent": "a"})),
        CallShape::Mining
    );
    assert_eq!(
        shape(json!({"login": "w", "pass": "x"})),
        CallShape::NeedsMiningAnswer
    );
    assert_eq!(shape(json!({"user": "w"})), CallShape::NotMining);
    assert_eq!(shape(json!(["w"])), CallShape::NotMining);
    assert!(parser::method_info("getblockchaininfo").is_none());
    assert!(parser::method_info("eth_blockNumber").is_none());

    let btc = json!([
        "1",
        "00".repeat(32),
        "01",
        "02",
        [],
        "20000000",
        "1705ae3a",
        "5c8b8c3b",
        true
    ]);
    assert_eq!(parser::notify_shape(&btc), Some(NotifyShape::Bitcoin));
    let eth = json!(["1", "ab".repeat(32), "cd".repeat(32), true]);
    assert_eq!(parser::notify_shape(&eth), Some(NotifyShape::Ethereum));
    assert_eq!(parser::notify_shape(&json!([1, 2, 3, 4])), None);

    assert_eq!(
        parser::share_verdict(&json!(true), &Value::Null, false),
        ShareVerdict::Accepted
    );
    assert_eq!(
        parser::share_verdict(&json!({"status": "OK"}), &Value::Null, false),
        ShareVerdict::Accepted
    );
    assert_eq!(
        parser::share_verdict(&json!(null), &json!([21, "Stale job", null]), false),
        ShareVerdict::Rejected
    );
    assert_eq!(
        parser::share_verdict(&json!(null), &Value::Null, true),
        ShareVerdict::Accepted
    );
    assert_eq!(
        parser::share_verdict(&json!("duplicate"), &Value::Null, true),
        ShareVerdict::Rejected
    );
    assert_eq!(
        parser::share_verdict(&json!(null), &Value::Null, false),
        ShareVerdict::Unknown
    );

    assert_eq!(parser::id_key(&json!(1)), parser::id_key(&json!(1.0)));
    assert_ne!(parser::id_key(&json!(1)), parser::id_key(&json!("1")));
    assert_eq!(parser::id_key(&Value::Null), None);
}

#[test]
fn framing_helpers() {
    assert_eq!(parser::classify_opening(b"{\"id\""), Opening::Json);
    assert_eq!(parser::classify_opening(b"POS"), Opening::NeedMore);
    assert_eq!(parser::classify_opening(b"POST / H"), Opening::Http);
    assert_eq!(parser::classify_opening(b"HTTP/1.1"), Opening::Http);
    assert_eq!(parser::classify_opening(b"\x16\x03\x01"), Opening::Binary);
    assert_eq!(parser::classify_opening(b"220 smtp"), Opening::Text);

    let head = b"POST /lp HTTP/1.1\r\ncontent-length: 12\r\nUser-Agent: cgminer 4.10\r\nAuthorization: Basic Qml0Y29pbjp4\r\n\r\n{}";
    match parser::parse_http_head(head) {
        HeadParse::Complete(h) => {
            assert_eq!(h.start, HttpStart::Request { method: "POST" });
            assert_eq!(h.content_length, Some(12));
            assert_eq!(h.user_agent, Some("cgminer 4.10"));
            assert_eq!(h.basic_auth, Some("Qml0Y29pbjp4"));
            assert_eq!(h.len, head.len() - 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parser::parse_http_head(b"HTTP/1.1 200 OK\r\n"),
        HeadParse::NeedMore
    );
    assert_eq!(
        parser::parse_http_head(b"hello world\n\n"),
        HeadParse::Invalid
    );
    assert_eq!(parser::base64_decode("Qml0Y29pbjp4").unwrap(), b"Bitcoin:x");
    assert_eq!(parser::base64_decode("a$b"), None);
    assert_eq!(parser::chunk_size(b"1a;x=y\r"), Some(26));
    assert_eq!(parser::chunk_size(b"\r"), None);
    assert_eq!(parser::trim_ascii(b" \r\n{}\r\n"), b"{}");
}
