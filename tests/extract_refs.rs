//! `poolscope extract` against other tools' reference outputs on real captures: flow counts,
//! packets and bytes each way, and durations agree with tshark's conversation tables and with
//! nDPI's per-flow counters.

mod common;
use common::*;

/// Fixtures with a tshark conversation table in tests/data/ref.
const WITH_CONV: &[&str] = &[
    "mining.pcapng",
    "bitcoin.pcap",
    "ethereum.pcap",
    "nano.pcapng",
    "zug.pcap",
    "xmr-eu1.nanopool.org.pcapng",
    "zec-eu1.nanopool.org.pcapng",
    "eth-eu1.nanopool.org.pcapng",
    "cgminer.s0.pcapng",
];

fn check_conv(pcap: &std::path::Path, conv: &std::path::Path) -> Vec<String> {
    let recs = extract(pcap);
    let refs = parse_tshark_conv(&std::fs::read_to_string(conv).unwrap());
    assert!(
        !refs.is_empty(),
        "{}: no conversations parsed",
        conv.display()
    );
    let mut bad = compare(&recs, &refs);
    // Every flow of ours is one of tshark's conversations: none invented.
    for t in ["tcp", "udp"] {
        let ref_tuples: std::collections::HashSet<_> = refs
            .iter()
            .filter(|c| c.transport == t)
            .map(|c| {
                let mut v = [c.a.clone(), c.b.clone()];
                v.sort();
                v
            })
            .collect();
        for r in recs.iter().filter(|r| r["transport"] == t) {
            let mut v = [
                (
                    r["src_ip"].as_str().unwrap().to_string(),
                    r["src_port"].as_u64().unwrap() as u16,
                ),
                (
                    r["dst_ip"].as_str().unwrap().to_string(),
                    r["dst_port"].as_u64().unwrap() as u16,
                ),
            ];
            v.sort();
            if !ref_tuples.contains(&v) {
                bad.push(format!(
                    "{}: flow {} not in tshark's table",
                    pcap.display(),
                    r["flow_id"]
                ));
            }
        }
    }
    bad
}

#[test]
fn flows_agree_with_tshark_conversations() {
    let mut bad = Vec::new();
    for f in WITH_CONV {
        bad.extend(check_conv(
            &data(&format!("pcap/{f}")),
            &data(&format!("ref/{f}.conv.txt")),
        ));
    }
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn flows_agree_with_ndpi_counters() {
    let mut bad = Vec::new();
    for f in [
        "mining.pcapng",
        "bitcoin.pcap",
        "ethereum.pcap",
        "nano.pcapng",
        "zug.pcap",
    ] {
        let recs = extract(&data(&format!("pcap/{f}")));
        let refs = parse_ndpi_out(&std::fs::read_to_string(data(&format!("ref/{f}.out"))).unwrap());
        assert!(!refs.is_empty(), "{f}: no nDPI flows parsed");
        bad.extend(
            compare(&recs, &refs)
                .into_iter()
                .map(|m| format!("{f}: {m}")),
        );
    }
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// The lab captures hold exactly one TCP connection each; its packet count and duration are
/// in the lab's manifest (measured by the capture tooling, not by us).
#[test]
fn lab_captures_match_their_manifest() {
    for (f, packets, duration) in [
        ("xmrig-rx-tls.pcap", 71, 374.9),
        ("xmrig-rx-plain.pcap", 73, 375.0),
        ("xmrig-gr-tls.pcap", 91, 374.9),
        ("xmrig-gr-plain.pcap", 78, 375.0),
        ("benign-mqtt-heartbeat.pcap", 64, 375.0),
        ("benign-sse-push.pcap", 48, 375.6),
        ("benign-chat.pcap", 94, 375.5),
    ] {
        let recs = extract(&data(&format!("pcap/{f}")));
        let tcp: Vec<_> = recs.iter().filter(|r| r["transport"] == "tcp").collect();
        assert_eq!(tcp.len(), 1, "{f}");
        let r = tcp[0];
        let n = r["packets_c2s"].as_u64().unwrap() + r["packets_s2c"].as_u64().unwrap();
        assert_eq!(n, packets, "{f}");
        assert!(
            (r["duration"].as_f64().unwrap() - duration).abs() < 0.06,
            "{f}: {}",
            r["duration"]
        );
        assert_eq!(r["reassembly_gaps"], 0, "{f}");
    }
}

/// The full corpus: every tshark conversation table under `POOLSCOPE_CORPUS`.
#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_flows_agree_with_tshark_conversations() {
    let root = corpus();
    let mut bad = Vec::new();
    let mut checked = 0;
    for folder in std::fs::read_dir(&root).unwrap() {
        let refdir = folder.unwrap().path().join("tshark-ref");
        let Ok(entries) = std::fs::read_dir(&refdir) else {
            continue;
        };
        for e in entries {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            let Some(capture) = name.strip_suffix(".conv.txt") else {
                continue;
            };
            let pcap = refdir.parent().unwrap().join("pcap").join(capture);
            assert!(pcap.exists(), "{} has no capture", p.display());
            bad.extend(check_conv(&pcap, &p));
            checked += 1;
        }
    }
    assert!(
        checked >= 12,
        "only {checked} conversation tables found under {}",
        root.display()
    );
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

/// nDPI's per-flow packet and byte counters for every TCP/UDP flow of every nDPI test capture
/// under `POOLSCOPE_CORPUS`. Captures where nDPI counts differently by design are listed with
/// the reason; everywhere else the agreement must be exact.
#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_flows_agree_with_ndpi_counters() {
    let root = corpus();
    // (capture, why nDPI's numbers differ from ours and tshark's)
    const DIFFERENT_BY_DESIGN: &[(&str, &str)] = &[
        ("dnscrypt-v1-and-resolver-pings.pcap", "IP fragments: nDPI counts the first fragment as the packet; we reassemble, and the datagram counts once with the frame that completed it, as tshark does"),
        ("dns_fragmented.pcap", "IP fragments, as above"),
        ("quic-fuzz-overflow.pcapng", "a lone first fragment: nDPI makes a flow of it; we never complete the datagram"),
        ("capwap.pcap", "CAPWAP tunnels are opened by nDPI, not by us"),
        ("capwap_data.pcapng", "CAPWAP tunnels are opened by nDPI, not by us"),
        ("fuzz-2006-06-26-2594.pcap", "fuzzed capture: nDPI drops some packets that tshark and we count (we agree with tshark's conversation table)"),
        ("pinterest.pcap", "nDPI prints some IPv6 addresses in an invalid form (e.g. 2600:1901::7a0b::), so they cannot be matched"),
        ("stun.pcap", "nDPI prints an IPv6 address in an invalid form"),
        ("ja3_lots_of_cipher_suites_2_anon.pcap", "frames cut by the snap length: nDPI counts captured bytes, we and tshark count bytes on the wire"),
    ];
    let dir = root.join("ndpi");
    let mut bad = Vec::new();
    let (mut flows, mut files) = (0, 0);
    for e in std::fs::read_dir(dir.join("result")).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap();
        let Some(capture) = name.strip_suffix(".out") else {
            continue;
        };
        if DIFFERENT_BY_DESIGN.iter().any(|(c, _)| *c == capture) {
            continue;
        }
        let pcap = dir.join("pcap").join(capture);
        if !pcap.exists() {
            continue;
        }
        let refs = parse_ndpi_out(&std::fs::read_to_string(&p).unwrap());
        if refs.is_empty() {
            continue;
        }
        let recs = normalise_ips(extract(&pcap));
        let refs = normalise_ref_ips(refs);
        flows += refs.len();
        files += 1;
        bad.extend(
            compare(&recs, &refs)
                .into_iter()
                .map(|m| format!("{capture}: {m}")),
        );
    }
    assert!(
        files > 150 && flows > 4000,
        "only {files} captures / {flows} flows compared"
    );
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad.join("\n")
    );
}
