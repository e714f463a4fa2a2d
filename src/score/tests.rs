//! Scorer tests over hand-made records and a small feed written for the test.

use super::*;
use crate::dissect::tls::TlsInfo;
use crate::features::FEATURES;
use crate::intel::PoolFeed;
use std::sync::Arc;

pub(super) fn record(dst: &str, port: u16) -> FlowRecord {
    FlowRecord {
        flow_id: 1,
        transport: "tcp",
        src_ip: "10.0.0.2".parse().unwrap(),
        src_port: 50000,
        dst_ip: dst.parse().unwrap(),
        dst_port: port,
        // 2026-01-03 00:26:40 UTC: close to the test feed's rows, which are weighed by their
        // distance from the flow.
        first_seen: 1_767_400_000.0,
        last_seen: 1_767_400_300.0,
        duration: 300.0,
        packets_c2s: 10,
        packets_s2c: 10,
        bytes_c2s: 1000,
        bytes_s2c: 2000,
        payload_bytes_c2s: 500,
        payload_bytes_s2c: 1500,
        wire_bytes_c2s: 1140,
        wire_bytes_s2c: 2140,
        unknown_counters: crate::output::UnknownCounters::NONE,
        reassembly_gaps: 0,
        end_reason: "closed",
        capture: Arc::from("test"),
        verdict: None,
        tls: TlsInfo::default(),
        dns_names: Vec::new(),
        stratum: None,
        features: vec![f64::NAN; FEATURES.len()],
        model_rows: Vec::new(),
        model_schema: "",
        export_variants: Vec::new(),
    }
}

fn feed() -> Matcher {
    let dir = tempfile::tempdir().unwrap();
    let w = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    w(
        "pool-domains.tsv",
        "domain\tcoin\tkind\tsource\tdate\npool.example\tmonero\tpool\ttestlist\t2026-01-02\n",
    );
    w(
        "pool-endpoints.tsv",
        "ip\tport\tcoin\thost\tsource\tdate\n203.0.113.5\t3333\tmonero\tpool.example\ttestlist\t2026-01-02\n*\t3333\t\t\tports\t2026-01-02\n",
    );
    w(
        "allowlist.tsv",
        "kind\tvalue\treason\tsource\tdate\ndomain\tgood.pool.example\tour own test pool\tlocal\t2026-01-02\n",
    );
    let feed = PoolFeed::load(dir.path()).unwrap();
    Matcher::new(&feed)
}

#[test]
fn an_observed_mining_protocol_is_mining_with_certainty() {
    let mut r = record("198.51.100.7", 4444);
    let mut methods = std::collections::BTreeMap::new();
    methods.insert("login".to_string(), 1);
    methods.insert("job".to_string(), 3);
    r.stratum = Some(StratumInfo {
        dialect: "xmr",
        coin: Some("monero".into()),
        agent: Some("XMRig/6.26.0".into()),
        login: Some("wallet".into()),
        worker: None,
        methods,
        jobs: 4,
        submits: 0,
        accepted: 0,
        rejected: 0,
        difficulty: None,
        job_interval_mean: None,
        job_interval_cv: None,
        submit_rate: None,
        messages: 5,
        malformed_lines: 0,
        messages_c2s: None,
        messages_s2c: None,
    });
    let s = Scorer::new(None, None).score(&r);
    assert_eq!(s.verdict, Verdict::Mining);
    assert_eq!(s.score, 1.0);
    assert_eq!(s.reasons[0], "stratum:xmr:login");
    assert_eq!(s.reasons[1], "stratum:agent:XMRig/6.26.0");
}

#[test]
fn a_pool_domain_in_the_sni_is_mining_and_says_which_list() {
    let mut r = record("198.51.100.7", 443);
    r.tls = TlsInfo {
        sni: Some("xmr.pool.example".into()),
        ..TlsInfo::default()
    };
    let s = Scorer::new(Some(feed()), None).score(&r);
    assert_eq!(s.verdict, Verdict::Mining);
    assert_eq!(s.score, FEED_SCORE);
    assert!(
        s.reasons
            .iter()
            .any(|x| x.starts_with("feed:domain:pool.example (testlist 2026-01-02")),
        "{:?}",
        s.reasons
    );
}

#[test]
fn a_listed_pool_address_is_mining_and_a_port_alone_only_suspect() {
    let s = Scorer::new(Some(feed()), None).score(&record("203.0.113.5", 3333));
    assert_eq!(s.verdict, Verdict::Mining, "{:?}", s.reasons);
    let s = Scorer::new(Some(feed()), None).score(&record("192.0.2.1", 3333));
    assert_eq!(s.verdict, Verdict::Suspect, "{:?}", s.reasons);
    assert_eq!(s.score, HINT_SCORE);
}

#[test]
fn the_allowlist_wins_over_the_lists() {
    let mut r = record("198.51.100.7", 443);
    r.dns_names = vec!["good.pool.example".into()];
    let s = Scorer::new(Some(feed()), None).score(&r);
    assert_eq!(s.verdict, Verdict::Benign, "{:?}", s.reasons);
    assert!(
        s.reasons.iter().any(|x| x.starts_with("allow:")),
        "{:?}",
        s.reasons
    );
}

#[test]
fn nothing_known_is_benign_and_without_feeds_a_domain_is_nothing() {
    let s = Scorer::new(Some(feed()), None).score(&record("192.0.2.1", 443));
    assert_eq!(
        (s.verdict, s.score, s.reasons.len()),
        (Verdict::Benign, 0.0, 0)
    );
    let mut r = record("198.51.100.7", 443);
    r.tls.sni = Some("xmr.pool.example".into());
    assert_eq!(Scorer::new(None, None).score(&r).verdict, Verdict::Benign);
}

struct Fixed(f64, Verdict);

impl FlowModel for Fixed {
    fn predict(&self, _rec: &FlowRecord) -> ModelSays {
        ModelSays::Speaks(ModelOutput {
            probability: self.0,
            verdict: self.1,
            top_features: vec!["push_iat_cv=0.01".into()],
        })
    }
}

struct TooLittle;

impl FlowModel for TooLittle {
    fn predict(&self, _rec: &FlowRecord) -> ModelSays {
        ModelSays::Insufficient(
            "1 client and 1 server messages in 0.1 s; needs 4 each way over 30 s".into(),
        )
    }
}

#[test]
fn the_model_speaks_for_flows_nothing_else_settled() {
    let s = Scorer::new(None, Some(Box::new(Fixed(0.97, Verdict::Mining))))
        .score(&record("192.0.2.1", 443));
    assert_eq!((s.verdict, s.score), (Verdict::Mining, 0.97));
    assert_eq!(s.reasons, vec!["model:0.97 (push_iat_cv=0.01)".to_string()]);
    assert_eq!(s.model, Some((0.97, Verdict::Mining)));
    // A model cannot clear what a feed established, but what it says is kept for audit.
    let s = Scorer::new(Some(feed()), Some(Box::new(Fixed(0.01, Verdict::Benign))))
        .score(&record("203.0.113.5", 3333));
    assert_eq!(s.verdict, Verdict::Mining);
    assert_eq!(s.score, FEED_SCORE);
    assert_eq!(s.model, Some((0.01, Verdict::Benign)));
    assert!(s.reasons.last().unwrap().starts_with("model:0.01"));
}

#[test]
fn a_flow_with_too_little_data_gets_no_model_verdict() {
    let s = Scorer::new(None, Some(Box::new(TooLittle))).score(&record("192.0.2.1", 443));
    assert_eq!((s.verdict, s.score, s.model), (Verdict::Benign, 0.0, None));
    assert_eq!(
        s.reasons,
        vec!["model:insufficient (1 client and 1 server messages in 0.1 s; needs 4 each way over 30 s)".to_string()]
    );
}
