//! The plaintext mining-protocol dissector end to end: every mining flow of the shared captures
//! is found with the right dialect, agent and login, and no benign flow is.
//!
//! Expectations come from outside poolscope: the lab's manifest (methods counted with
//! `tshark -d tcp.port==PORT,json`, shares and jobs from XMRig's own log), nDPI's currency
//! labels for `mining.pcapng`, and tshark string matches for the cgminer probe scans.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;

fn stratum_flows(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| !r["stratum"].is_null()).collect()
}

fn methods(r: &Value) -> BTreeMap<String, u64> {
    r["stratum"]["methods"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn lab_xmrig_monero_session_matches_the_manifest() {
    let recs = extract(&data("pcap/xmrig-rx-plain.pcap"));
    let s = stratum_flows(&recs);
    assert_eq!(s.len(), 1);
    let st = &s[0]["stratum"];
    assert_eq!(st["dialect"], "xmr");
    assert_eq!(st["coin"], "monero", "algo rx/0");
    assert!(st["agent"]
        .as_str()
        .unwrap()
        .starts_with("XMRig/6.26.0 (Linux x86_64)"));
    assert_eq!(
        methods(s[0]),
        map(&[("login", 1), ("submit", 9), ("job", 12), ("keepalived", 4)])
    );
    // XMRig's log: 9 accepted shares, 13 jobs received (12 pushed + the one in the login answer).
    assert_eq!(st["accepted"], 9);
    assert_eq!(st["jobs"], 13);
    // The pool stub sends a job every 30 s and difficulty 250 (target dd240601).
    assert!((st["difficulty"].as_f64().unwrap() - 250.0).abs() < 0.01);
    assert!((st["job_interval_mean"].as_f64().unwrap() - 30.0).abs() < 0.1);
}

#[test]
fn lab_xmrig_bitcoin_stratum_session_matches_the_manifest() {
    let recs = extract(&data("pcap/xmrig-gr-plain.pcap"));
    let s = stratum_flows(&recs);
    assert_eq!(s.len(), 1);
    let st = &s[0]["stratum"];
    assert_eq!(st["dialect"], "btc");
    assert!(st["agent"].as_str().unwrap().starts_with("XMRig/6.26.0"));
    assert_eq!(
        methods(s[0]),
        map(&[
            ("mining.subscribe", 1),
            ("mining.authorize", 1),
            ("mining.set_difficulty", 1),
            ("mining.notify", 10),
            ("mining.submit", 14)
        ])
    );
    assert_eq!(st["accepted"], 14);
    assert_eq!(st["jobs"], 10);
    assert!((st["difficulty"].as_f64().unwrap() - 0.01).abs() < 1e-9);
}

#[test]
fn ndpi_mining_capture_flows_match_ndpi_currency_labels() {
    let recs = extract(&data("pcap/mining.pcapng"));
    let s = stratum_flows(&recs);
    assert_eq!(s.len(), 4, "nDPI finds 4 mining flows");
    // nDPI's result/mining.pcapng.out: server → currency.
    for (server, port, currency) in [
        ("94.23.199.191", 3333, "ZCash"),
        ("185.71.66.39", 9999, "Ethereum"),
        ("178.32.196.217", 9050, "ZCash/Monero"),
        ("116.211.167.195", 3333, "ZCash"),
    ] {
        let r = s
            .iter()
            .find(|r| r["dst_ip"] == server && r["dst_port"] == port)
            .unwrap_or_else(|| panic!("{server}:{port} not found as mining"));
        let st = &r["stratum"];
        match currency {
            "ZCash" => {
                assert_eq!(st["dialect"], "btc");
                assert_eq!(st["coin"], "zcash");
            }
            "Ethereum" => {
                assert_eq!(st["dialect"], "eth");
                assert_eq!(st["coin"], "ethereum");
            }
            _ => assert_eq!(st["dialect"], "xmr", "xmr-stak speaks the Monero dialect"),
        }
        assert!(
            !st["login"].is_null(),
            "{server}: the wallet is in the login"
        );
    }
}

#[test]
fn nanopool_sessions_are_found() {
    for (f, dialect, coin) in [
        ("xmr-eu1.nanopool.org.pcapng", "xmr", None),
        ("zec-eu1.nanopool.org.pcapng", "btc", Some("zcash")),
        ("eth-eu1.nanopool.org.pcapng", "eth", Some("ethereum")),
    ] {
        let recs = extract(&data(&format!("pcap/{f}")));
        let s = stratum_flows(&recs);
        assert_eq!(s.len(), 1, "{f}");
        assert_eq!(s[0]["stratum"]["dialect"], dialect, "{f}");
        if let Some(c) = coin {
            assert_eq!(s[0]["stratum"]["coin"], c, "{f}");
        }
    }
}

/// Every TCP connection of a reference list is a mining-protocol flow: those in which the pool
/// sent `mining.notify` (tshark's string match), or answered a getblocktemplate/getwork POST
/// with HTTP 2xx. The reference lists (server, port, client, port).
fn check_cgminer(pcap: &std::path::Path, reference: &std::path::Path) -> Vec<String> {
    let recs = extract(pcap);
    let text = std::fs::read_to_string(reference).unwrap();
    let mut bad = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let f: Vec<&str> = line.split('\t').collect();
        let (sip, sport, cip, cport) = (
            f[0],
            f[1].parse::<u64>().unwrap(),
            f[2],
            f[3].parse::<u64>().unwrap(),
        );
        n += 1;
        let found = recs.iter().any(|r| {
            r["dst_ip"] == sip
                && r["dst_port"] == sport
                && r["src_ip"] == cip
                && r["src_port"] == cport
                && !r["stratum"].is_null()
        });
        if !found {
            bad.push(format!(
                "{}: {cip}:{cport} -> {sip}:{sport} not found as Stratum",
                pcap.display()
            ));
        }
    }
    assert!(n > 0);
    bad
}

#[test]
fn cgminer_probes_answered_with_jobs_are_found() {
    let bad = check_cgminer(
        &data("pcap/cgminer.s0.pcapng"),
        &data("ref/cgminer.s0.pcapng.notify.tsv"),
    );
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_cgminer_probes_answered_with_jobs_are_found() {
    let root = corpus();
    let mut bad = Vec::new();
    for f in ["g0", "g2", "s0", "s1"] {
        let pcap = root.join(format!("nesfit-cryptomining/pcap/cgminer.{f}.pcapng"));
        bad.extend(check_cgminer(
            &pcap,
            &data(&format!("ref/cgminer.{f}.pcapng.notify.tsv")),
        ));
    }
    // getblocktemplate/getwork over HTTP answered with a success status.
    let g0 = root.join("nesfit-cryptomining/pcap/cgminer.g0.pcapng");
    bad.extend(check_cgminer(
        &g0,
        &data("ref/cgminer.g0.pcapng.gbt2xx.tsv"),
    ));
    assert!(bad.is_empty(), "{} missed:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn benign_fixtures_have_no_stratum_flows() {
    for f in [
        "bitcoin.pcap",
        "ethereum.pcap",
        "nano.pcapng",
        "zug.pcap",
        "android.pcap",
        "benign-chat.pcap",
        "benign-mqtt-heartbeat.pcap",
        "benign-sse-push.pcap",
        // Encrypted mining: nothing to read, nothing claimed.
        "xmrig-rx-tls.pcap",
        "xmrig-gr-tls.pcap",
    ] {
        let recs = extract(&data(&format!("pcap/{f}")));
        assert!(stratum_flows(&recs).is_empty(), "{f}");
    }
}

/// Zero Stratum flows across every benign capture of the corpus (nDPI's, FoxIO's and
/// Suricata's test captures, the lab's look-alikes), crypto-node P2P captures included.
#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_benign_captures_have_no_stratum_flows() {
    let root = corpus();
    let mut captures = Vec::new();
    for dir in ["ndpi/pcap", "foxio-ja4/pcap", "suricata-verify/pcap"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            captures.push(e.unwrap().path());
        }
    }
    for e in std::fs::read_dir(root.join("lab")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("benign-")
        {
            captures.push(p);
        }
    }
    // nDPI's mining.pcapng is mining, not benign.
    captures.retain(|p| !p.ends_with("mining.pcapng"));
    assert!(captures.len() > 250, "{} captures", captures.len());
    let mut bad = Vec::new();
    for p in &captures {
        let out = poolscope(&["extract", "-q", p.to_str().unwrap()]);
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            if !r["stratum"].is_null() {
                bad.push(format!(
                    "{}: flow {} {}",
                    p.display(),
                    r["flow_id"],
                    r["stratum"]
                ));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} false positives:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
