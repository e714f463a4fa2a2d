//! `poolscope score` and `poolscope feed` end to end: every mining flow of the mining captures
//! is flagged with its reasons, benign captures give no `mining` verdict with the shipped feeds
//! on, and the feed commands behave like the tools analysts know.

mod common;
use common::*;
use serde_json::Value;

/// The mining flows of the mining captures, as their own references name them: nDPI's four
/// Mining flows in mining.pcapng, the one pool session of each nanopool capture and of each
/// plaintext lab capture.
#[test]
fn every_mining_flow_of_the_mining_captures_is_flagged_with_reasons() {
    for (f, servers) in [
        (
            "mining.pcapng",
            vec![
                ("94.23.199.191", 3333),
                ("185.71.66.39", 9999),
                ("178.32.196.217", 9050),
                ("116.211.167.195", 3333),
            ],
        ),
        ("xmrig-rx-plain.pcap", vec![("127.0.0.1", 3333)]),
        ("xmrig-gr-plain.pcap", vec![("127.0.0.1", 3335)]),
    ] {
        let (code, recs, err) = score(&[data(&format!("pcap/{f}")).to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        for (ip, port) in servers {
            let r = recs
                .iter()
                .find(|r| r["dst_ip"] == ip && r["dst_port"] == port)
                .unwrap_or_else(|| panic!("{f}: no flow to {ip}:{port}"));
            assert_eq!(r["verdict"], "mining", "{f} {ip}:{port}: {:?}", reasons(r));
            assert_eq!(r["score"], 1.0);
            assert!(reasons(r)[0].starts_with("stratum:"), "{:?}", reasons(r));
        }
    }
    for f in [
        "xmr-eu1.nanopool.org.pcapng",
        "zec-eu1.nanopool.org.pcapng",
        "eth-eu1.nanopool.org.pcapng",
    ] {
        let (_, recs, _) = score(&[data(&format!("pcap/{f}")).to_str().unwrap()]);
        let mining: Vec<_> = recs.iter().filter(|r| r["verdict"] == "mining").collect();
        assert_eq!(mining.len(), 1, "{f}");
    }
}

/// The same captures with the protocol hidden from the scorer's view cannot be told by
/// stratum: the feeds alone still name listed pools (sMaSheD lists these endpoints).
#[test]
fn feeds_name_listed_pool_endpoints() {
    let (_, recs, _) = score(&[data("pcap/mining.pcapng").to_str().unwrap()]);
    let r = recs
        .iter()
        .find(|r| r["dst_ip"] == "178.32.196.217" && r["dst_port"] == 9050)
        .unwrap();
    assert!(
        reasons(r)
            .iter()
            .any(|x| x.starts_with("feed:endpoint:178.32.196.217")),
        "{:?}",
        reasons(r)
    );
}

#[test]
fn benign_fixtures_are_never_mining_and_suspects_say_why() {
    for f in [
        "bitcoin.pcap",
        "ethereum.pcap",
        "android.pcap",
        "benign-chat.pcap",
        "benign-mqtt-heartbeat.pcap",
        "benign-sse-push.pcap",
    ] {
        let (code, recs, _) = score(&[data(&format!("pcap/{f}")).to_str().unwrap()]);
        assert_eq!(code, 0);
        assert!(!recs.is_empty());
        for r in &recs {
            assert_ne!(r["verdict"], "mining", "{f}: {:?}", reasons(r));
            if r["verdict"] == "suspect" {
                // A weak hint says why; the model, when it speaks, adds its own score.
                let rs = reasons(r);
                assert!(rs.iter().any(|x| x.starts_with("hint:")), "{f}: {rs:?}");
                assert!(
                    rs.iter()
                        .all(|x| x.starts_with("hint:") || x.starts_with("model:")),
                    "{f}: {rs:?}"
                );
            }
        }
    }
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_benign_captures_are_never_mining() {
    let root = corpus();
    let mut bad = Vec::new();
    let mut n = 0;
    for dir in ["ndpi/pcap", "foxio-ja4/pcap", "suricata-verify/pcap", "lab"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_string();
            if name == "mining.pcapng"
                || name.starts_with("xmrig-")
                || name.ends_with(".tsv")
                || p.is_dir()
            {
                continue;
            }
            let (_, recs, _) = score(&["--min-verdict", "mining", p.to_str().unwrap()]);
            n += 1;
            for r in recs {
                bad.push(format!("{name}: {} {:?}", r["dst_ip"], reasons(&r)));
            }
            // With the feeds alone, a benign flow is at most suspect, and only on a weak hint
            // that says why (a pool port, a fingerprint, a crypto site, a stale row...).
            let (_, recs, _) = score(&[
                "--no-model",
                "--min-verdict",
                "suspect",
                p.to_str().unwrap(),
            ]);
            for r in recs {
                let rs = reasons(&r);
                let explained = rs.iter().any(|x| x.starts_with("hint:"))
                    && rs
                        .iter()
                        .all(|x| x.starts_with("hint:") || x.starts_with("allow:"));
                if !explained {
                    bad.push(format!("{name}: {} {rs:?}", r["dst_ip"]));
                }
            }
        }
    }
    assert!(n > 250);
    assert!(
        bad.is_empty(),
        "{} benign flows scored mining, or suspect without a hint:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn min_verdict_keeps_only_flagged_flows_and_no_feeds_turns_feeds_off() {
    let cap = data("pcap/mining.pcapng");
    let (_, all, _) = score(&[cap.to_str().unwrap()]);
    let (_, flagged, _) = score(&["--min-verdict", "suspect", cap.to_str().unwrap()]);
    assert!(all.len() > flagged.len() || all.iter().all(|r| r["verdict"] != "benign"));
    assert!(flagged.iter().all(|r| r["verdict"] != "benign"));
    let (_, nofeeds, _) = score(&["--no-feeds", cap.to_str().unwrap()]);
    assert!(nofeeds
        .iter()
        .flat_map(reasons)
        .all(|x| !x.starts_with("feed:") && !x.starts_with("hint:")));
    assert_eq!(
        nofeeds.iter().filter(|r| r["verdict"] == "mining").count(),
        4
    );
    let (code, _, err) = score(&["--min-verdict", "bad", cap.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("--min-verdict"), "{err}");
}

#[test]
fn by_host_rolls_flows_up_per_client() {
    let (code, rows, err) = score(&[
        "--by-host",
        "--min-verdict",
        "mining",
        data("pcap/mining.pcapng").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // nDPI's listing: 192.168.2.148 has two mining flows, 147.229.13.222 and 192.168.2.92 one.
    let host = |h: &str| {
        rows.iter()
            .find(|r| r["host"] == h)
            .unwrap_or_else(|| panic!("{h}"))
    };
    assert_eq!(host("192.168.2.148")["mining_flows"], 2);
    assert_eq!(host("192.168.2.148")["pools"].as_array().unwrap().len(), 2);
    assert_eq!(host("147.229.13.222")["mining_flows"], 1);
    assert_eq!(host("192.168.2.92")["mining_flows"], 1);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["host"], "192.168.2.148", "most mining flows first");
}

#[test]
fn summary_names_verdicts_top_pools_and_hosts() {
    let out = poolscope(&[
        "score",
        data("pcap/mining.pcapng").to_str().unwrap(),
        "-o",
        "/dev/null",
        "--format",
        "csv",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("verdicts: mining 4"), "{err}");
    assert!(err.contains("top pools by mining flows: "), "{err}");
    assert!(
        err.contains("top hosts by mining flows: 192.168.2.148 (2)"),
        "{err}"
    );
}

#[test]
fn scored_csv_and_parquet_carry_the_verdict_columns() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["csv", "parquet"] {
        let p = dir.path().join(format!("s.{ext}"));
        let out = poolscope(&[
            "score",
            "-q",
            data("pcap/mining.pcapng").to_str().unwrap(),
            "-o",
            p.to_str().unwrap(),
        ]);
        assert!(out.status.success());
        assert!(std::fs::metadata(&p).unwrap().len() > 0);
    }
    let text = std::fs::read_to_string(dir.path().join("s.csv")).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.contains(
            ",capture,verdict,score,reasons,model_score,model_verdict,evidence,tls_version,"
        ),
        "{header}"
    );
    // The model's own view is kept on the flows a protocol decided: mining.pcapng's four
    // Stratum sessions (all long enough for the model) carry a model score and verdict.
    use polars::prelude::SerReader as _;
    let mut csv = polars::prelude::CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(dir.path().join("s.csv")))
        .unwrap()
        .finish()
        .unwrap();
    csv.rechunk_mut();
    let verdicts: Vec<Option<String>> = csv
        .column("model_verdict")
        .unwrap()
        .cast(&polars::prelude::DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect();
    let judged = verdicts.iter().filter(|v| v.is_some()).count();
    assert_eq!(judged, 4, "{verdicts:?}");
}

#[test]
fn feed_check_answers_like_grep() {
    // CoinBlockerLists lists xmr.nanopool.org: a name below it matches on the label boundary,
    // a name that merely ends with the same letters does not.
    let out = poolscope(&["feed", "check", "eu.xmr.nanopool.org"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("feed:domain:xmr.nanopool.org (coinblockerlists 2018-06-06)"));
    let out = poolscope(&["feed", "check", "notnanopool.org"]);
    assert_eq!(out.status.code(), Some(1));
    let out = poolscope(&["feed", "stats"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("pool-domains.tsv"));
}

#[test]
fn feed_import_adds_deduplicated_rows_with_provenance_and_bad_files_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("mylist.txt");
    std::fs::write(
        &list,
        "# my pools\n0.0.0.0 pool.mine.example\n0.0.0.0 pool.mine.example\n",
    )
    .unwrap();
    let feeds = dir.path().join("feeds");
    let imp = |extra: &[&str]| {
        let mut a = vec![
            "feed",
            "--feeds",
            feeds.to_str().unwrap(),
            "import",
            "hosts",
            list.to_str().unwrap(),
            "--source",
            "mine",
            "--date",
            "2026-11-27",
        ];
        a.extend_from_slice(extra);
        poolscope(&a)
    };
    let out = imp(&[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(feeds.join("pool-domains.tsv")).unwrap();
    assert_eq!(text.matches("pool.mine.example").count(), 1, "{text}");
    assert!(text.contains("mine\t2026-11-27"), "{text}");
    // A second import of the same list adds nothing.
    assert!(imp(&[]).status.success());
    let again = std::fs::read_to_string(feeds.join("pool-domains.tsv")).unwrap();
    assert_eq!(again.matches("pool.mine.example").count(), 1);
    let out = poolscope(&[
        "feed",
        "--feeds",
        feeds.to_str().unwrap(),
        "check",
        "a.pool.mine.example",
    ]);
    assert_eq!(out.status.code(), Some(0));
    // A broken feed file is an error naming file and line, and scoring refuses to run on it.
    std::fs::write(
        feeds.join("pool-endpoints.tsv"),
        "ip\tport\tcoin\thost\tsource\tdate\n1.2.3.4\tnot-a-port\t\t\tx\t2026-01-01\n",
    )
    .unwrap();
    let out = poolscope(&[
        "score",
        "-q",
        "--feeds",
        feeds.to_str().unwrap(),
        data("pcap/zug.pcap").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pool-endpoints.tsv:2"), "{err}");
}

/// Detection formats in, kinds and ages out: a Maltrail miner-family file is miner-malware
/// infrastructure (a hint naming the family), an ET rule's host match a pool, and `feed stats`
/// counts rows by source, kind and year.
#[test]
fn feed_import_detection_formats_keep_kind_family_and_rule_date() {
    let dir = tempfile::tempdir().unwrap();
    let feeds = dir.path().join("feeds");
    let fam = dir.path().join("demo_miner.txt");
    std::fs::write(
        &fam,
        "# Reference: https://example.org/report\n\nc2.demo-miner.example\n\
         198.51.100.20:8080\nhttp://payload.demo-miner.example/x.sh\n/panel/x.php\n",
    )
    .unwrap();
    let rules = dir.path().join("pools.rules");
    std::fs::write(
        &rules,
        "alert dns $HOME_NET any -> any any (msg:\"ET POLICY Observed DNS Query to Coin Mining \
         Domain (demo)\"; dns.query; content:\".pool-demo|2e|example\"; nocase; endswith; \
         sid:2000001; rev:1; metadata:created_at 2021_01_02, updated_at 2023_04_26;)\n",
    )
    .unwrap();
    let import = |args: &[&str]| {
        let mut a = vec!["feed", "--feeds", feeds.to_str().unwrap(), "import"];
        a.extend_from_slice(args);
        let out = poolscope(&a);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let report = import(&[
        "maltrail",
        fam.to_str().unwrap(),
        "--source",
        "maltrail-malware",
        "--date",
        "2026-01-03",
        "--kind",
        "miner-malware",
    ]);
    // Two hosts (one from its URL) and an address; the bare path names no host.
    assert!(report.contains("3 accepted"), "{report}");
    assert!(report.contains("URL path without a host"), "{report}");
    import(&[
        "suricata",
        rules.to_str().unwrap(),
        "--source",
        "et-open",
        "--date",
        "2024-04-21",
    ]);
    let check = |v: &str, at: &str| {
        let out = poolscope(&[
            "feed",
            "--feeds",
            feeds.to_str().unwrap(),
            "check",
            v,
            "--at",
            at,
        ]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        check("c2.demo-miner.example", "2026-02-01"),
        "hint:domain:c2.demo-miner.example (miner-malware infrastructure: demo_miner, \
         maltrail-malware 2026-01-03, weak)\n"
    );
    assert!(check("198.51.100.20:8080", "2026-02-01")
        .starts_with("hint:endpoint:198.51.100.20:8080 (miner-malware infrastructure: demo_miner"));
    // The rule's own date, not the import's; proof ten years either side, a hint beyond.
    assert_eq!(
        check("xmr.pool-demo.example", "2026-02-01"),
        "feed:domain:pool-demo.example (et-open 2023-04-26)\n"
    );
    assert!(check("xmr.pool-demo.example", "2034-01-01")
        .starts_with("hint:domain:pool-demo.example (listed 10.7 y before the flow"));
    let out = poolscope(&["feed", "--feeds", feeds.to_str().unwrap(), "stats"]);
    let stats = String::from_utf8_lossy(&out.stdout);
    for line in [
        "file\tsource\tkind\tyear\trows",
        "pool-domains.tsv\tmaltrail-malware\tminer-malware\t2026\t2",
        "pool-domains.tsv\tet-open\tpool\t2023\t1",
        "pool-endpoints.tsv\tmaltrail-malware\tminer-malware\t2026\t1",
    ] {
        assert!(stats.lines().any(|l| l == line), "{line:?} not in\n{stats}");
    }
    // A bad kind is refused before anything is written.
    let out = poolscope(&[
        "feed",
        "--feeds",
        feeds.to_str().unwrap(),
        "import",
        "maltrail",
        fam.to_str().unwrap(),
        "--kind",
        "c2",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kind"));
}

/// `--alerts` on captures: an alert the moment a pool session shows itself, another when the
/// verdict rises, each while the flow is still open; the flow records are those of a run
/// without alerts, and the alerts the same for any number of threads.
#[test]
fn alerts_come_while_pool_sessions_are_open() {
    let dir = tempfile::tempdir().unwrap();
    let read = |p: &std::path::Path| -> Vec<Value> {
        std::fs::read_to_string(p)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("NDJSON"))
            .collect()
    };
    for (name, threads) in [
        ("xmrig-rx-plain", "1"),
        ("xmrig-rx-tls", "1"),
        ("xmrig-rx-tls", "3"),
    ] {
        let cap = data(&format!("pcap/{name}.pcap"));
        let cap = cap.to_str().unwrap();
        let alerts = dir.path().join(format!("{name}-{threads}.ndjson"));
        let (code, with, _) = score(&[
            "--threads",
            threads,
            cap,
            "--alerts",
            alerts.to_str().unwrap(),
        ]);
        assert_eq!(code, 0);
        let (_, without, _) = score(&[cap]);
        assert_eq!(with, without, "{name}: --alerts changed the flow records");
        let a = read(&alerts);
        let flow = &with[0];
        let first = flow["first_seen"].as_f64().unwrap();
        let last = flow["last_seen"].as_f64().unwrap();
        assert!(a
            .iter()
            .all(|x| x["end_reason"] == "open" && x["flow_id"] == flow["flow_id"]));
        assert!(
            a.iter().all(|x| x["alert_time"].as_f64().unwrap() < last),
            "{name}"
        );
        assert_eq!(a.last().unwrap()["verdict"], "mining");
        assert_eq!(
            a.last().unwrap()["previous_verdict"],
            if a.len() > 1 {
                Value::from("suspect")
            } else {
                Value::Null
            }
        );
        let mining_at = a.last().unwrap()["alert_time"].as_f64().unwrap() - first;
        if name.ends_with("plain") {
            // XMRig's login (frame 4) and the pool's answer with the first job (frame 6, at
            // 0.011 s, as tshark shows) confirm the session.
            assert!(mining_at < 0.05, "{name}: mining alert at {mining_at} s");
        } else {
            // Only the flow's shape speaks for a TLS session: the model, at the end of its
            // first 300-second window, long before the session ends (375 s).
            assert_eq!(a[0]["verdict"], "suspect");
            assert!(
                (300.0..330.0).contains(&mining_at),
                "{name}: mining alert at {mining_at} s"
            );
        }
    }
    let alerts = dir.path().join("benign.ndjson");
    for name in ["benign-mqtt-heartbeat", "zabbix-agent-poll"] {
        let cap = data(&format!("pcap/{name}.pcap"));
        let (code, recs, _) = score(&[cap.to_str().unwrap(), "--alerts", alerts.to_str().unwrap()]);
        assert_eq!(code, 0);
        assert!(!recs.is_empty());
        assert_eq!(std::fs::read_to_string(&alerts).unwrap(), "", "{name}");
    }
}

/// sMaSheD's catalogue of 2018-05-13 (the corpus's `pool_endpoints.csv`: pool, host, port and
/// the addresses the host resolved to in 2018) names the pools of the NESFIT CGMiner captures
/// of 2018. Rows of the flow's own time are proof: every flow to a catalogued address and port
/// is `mining` by that row, although the same row is only a hint for traffic of today.
#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_pool_rows_of_the_flows_own_time_stay_proof() {
    let root = corpus();
    let csv = std::fs::read_to_string(
        root.join("nesfit-cryptomining/lists/smashed-20180513/pool_endpoints.csv"),
    )
    .unwrap();
    let mut listed = std::collections::HashSet::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        for ip in f[4].split_whitespace() {
            listed.insert(format!("{ip}:{}", f[2]));
        }
    }
    assert!(listed.len() > 500, "{}", listed.len());
    let mut found = 0;
    for cap in ["cgminer.g0", "cgminer.g2", "cgminer.s0", "cgminer.s1"] {
        let p = root.join(format!("nesfit-cryptomining/pcap/{cap}.pcapng"));
        let (code, recs, err) = score(&["--no-model", p.to_str().unwrap()]);
        assert_eq!(code, 0, "{err}");
        for r in &recs {
            let ep = format!("{}:{}", r["dst_ip"].as_str().unwrap(), r["dst_port"]);
            if !listed.contains(&ep) {
                continue;
            }
            found += 1;
            let want = format!("feed:endpoint:{ep} (smashed 2018-05-13)");
            assert_eq!(r["verdict"], "mining", "{cap} {ep}: {:?}", reasons(r));
            assert!(reasons(r).contains(&want), "{cap} {ep}: {:?}", reasons(r));
        }
    }
    assert!(found > 1000, "{found}");
    // The same address today: a hint that says how old the row is.
    let ep = listed.iter().min().unwrap();
    let out = poolscope(&["feed", "check", ep, "--at", "2026-12-06"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .filter(|l| l.contains("smashed 2018-05-13"))
            .all(|l| l.starts_with("hint:") && l.contains("y before the flow")),
        "{text}"
    );
}
