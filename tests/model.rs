//! The classifier end to end: trained on plaintext mining flows and benign flows only, it must
//! flag the lab's TLS mining captures (which it never saw, and which no payload rule can read)
//! with the feeds off, and leave the lab's benign look-alikes alone. Also: the shipped model
//! loads, is reproduced from its shipped training table, and a model of another feature
//! schema is refused with a clear message.

mod common;

use common::{corpus, poolscope};
use std::path::{Path, PathBuf};

fn lab(corpus: &Path, name: &str) -> PathBuf {
    corpus.join("lab").join(name)
}

/// Scores captures with a model and no feeds; returns the NDJSON records of every TCP flow.
fn score_records(model: &Path, captures: &[PathBuf]) -> Vec<serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.ndjson");
    let mut args: Vec<String> = vec![
        "score".into(),
        "-q".into(),
        "--no-feeds".into(),
        "--model".into(),
        model.display().to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    args.extend(captures.iter().map(|p| p.display().to_string()));
    let o = poolscope(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["transport"] == "tcp")
        .collect()
}

/// Scores captures with a model and no feeds; returns (capture file name, verdict, reasons)
/// of every TCP flow.
fn score(model: &Path, captures: &[PathBuf]) -> Vec<(String, String, String)> {
    score_records(model, captures)
        .into_iter()
        .map(|v| {
            let cap = Path::new(v["capture"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            (
                cap,
                v["verdict"].as_str().unwrap().to_string(),
                v["reasons"].to_string(),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn trained_on_plaintext_it_flags_tls_mining() {
    let c = corpus();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("plain.model");
    let benign_lab = [
        "benign-chat.pcap",
        "benign-https-bulk.pcap",
        "benign-https-short.pcap",
        "benign-mqtt-heartbeat.pcap",
        "benign-sse-push.pcap",
    ];
    let mut args: Vec<String> = vec!["train".into(), "-q".into(), "--data".into()];
    for p in [
        c.join("cjsniffer/pcap"),
        c.join("nesfit-cryptomining/pcap"),
        c.join("ndpi/pcap/mining.pcapng"),
        lab(&c, "xmrig-rx-plain.pcap"),
        lab(&c, "xmrig-gr-plain.pcap"),
    ] {
        args.push(p.display().to_string());
    }
    args.push("--benign".into());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for p in [
        c.join("ndpi/pcap"),
        c.join("foxio-ja4"),
        c.join("suricata-verify"),
        c.join("zeek-traces/pcap"),
        root.join("models/training/benign-lab"),
    ] {
        args.push(p.display().to_string());
    }
    for b in benign_lab {
        args.push(lab(&c, b).display().to_string());
    }
    args.extend(["--label-from", "stratum", "-o"].map(String::from));
    args.push(model.display().to_string());
    let o = poolscope(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
    // No TLS mining flow in the training set: the lab's TLS captures were not given, and
    // nothing else in the data is labelled mining except by the Stratum dissector.
    let sources = m["training"]["label_sources"].as_object().unwrap();
    assert!(
        sources
            .keys()
            .all(|k| k == "mining:stratum" || k == "benign:capture"),
        "{sources:?}"
    );

    let tls: Vec<PathBuf> = [
        "xmrig-rx-tls.pcap",
        "xmrig-gr-tls.pcap",
        "xmrig-rx-tls-expjobs.pcap",
        "xmrig-gr-tls-expjobs.pcap",
    ]
    .iter()
    .map(|n| lab(&c, n))
    .collect();
    let flagged = score(&model, &tls);
    assert_eq!(flagged.len(), 4, "{flagged:?}");
    for (cap, verdict, reasons) in &flagged {
        assert!(
            verdict == "suspect" || verdict == "mining",
            "{cap}: {verdict} {reasons}"
        );
        assert!(reasons.contains("model:"), "{cap}: {reasons}");
    }
    let benign: Vec<PathBuf> = benign_lab.iter().map(|n| lab(&c, n)).collect();
    let scored = score(&model, &benign);
    assert!(scored.len() >= 5);
    for (cap, verdict, reasons) in &scored {
        assert_eq!(verdict, "benign", "{cap}: {reasons}");
    }
}

#[test]
fn the_shipped_model_is_reproduced_from_its_training_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped = root.join("models/default.model");
    let table = root.join("models/training/default.parquet");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("again.model");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&shipped).unwrap()).unwrap();
    let o = &m["options"]["params"];
    let args = [
        "train".to_string(),
        "-q".into(),
        "--data".into(),
        table.display().to_string(),
        "--trees".into(),
        o["trees"].to_string(),
        "--max-depth".into(),
        o["max_depth"].to_string(),
        "--min-leaf".into(),
        o["min_samples_leaf"].to_string(),
        "--seed".into(),
        o["seed"].to_string(),
        "--folds".into(),
        m["options"]["folds"].to_string(),
        "-o".into(),
        out.display().to_string(),
    ];
    let r = poolscope(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let again: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    for key in [
        "forest",
        "thresholds",
        "calibration",
        "cv",
        "schema",
        "features",
    ] {
        assert_eq!(m[key], again[key], "{key} differs");
    }
}

#[test]
fn a_model_of_another_schema_is_refused() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("models/default.model")).unwrap())
            .unwrap();
    m["features"][0] = "flow_age_minutes".into();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("old.model");
    std::fs::write(&p, m.to_string()).unwrap();
    let o = poolscope(&[
        "score",
        "--model",
        p.to_str().unwrap(),
        "tests/data/pcap/xmrig-rx-tls.pcap",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("old.model") && err.contains("retrain"),
        "{err}"
    );
}

/// The shipped model flags the lab's TLS miner in the shipped sample (the README's first
/// command) with no feed, and names the features that drove it. That capture is part of the
/// shipped model's training data, so this checks the scoring path, not generalisation (the
/// test above does that).
#[test]
fn the_shipped_model_scores_the_sample() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let flagged = score(
        &root.join("models/default.model"),
        &[root.join("tests/data/pcap/xmrig-rx-tls.pcap")],
    );
    assert_eq!(flagged.len(), 1);
    assert_ne!(flagged[0].1, "benign", "{:?}", flagged[0]);
    assert!(flagged[0].2.contains("model:"), "{:?}", flagged[0]);
}

/// `extract --windows` writes the table `train` reads; a labels file names the captures.
#[test]
fn train_reads_extracted_window_tables_with_a_labels_file() {
    let dir = tempfile::tempdir().unwrap();
    for ext in ["csv", "ndjson", "parquet"] {
        let table = dir.path().join(format!("w.{ext}"));
        let o = poolscope(&[
            "extract",
            "-q",
            "--windows",
            "tests/data/pcap/xmrig-rx-tls.pcap",
            "tests/data/pcap/benign-mqtt-heartbeat.pcap",
            "tests/data/pcap/mining.pcapng",
            "-o",
            table.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let labels = dir.path().join("labels.csv");
        std::fs::write(
            &labels,
            "capture,server,label\nxmrig-*.pcap,,mining\nbenign-*.pcap,,benign\n",
        )
        .unwrap();
        let model = dir.path().join(format!("{ext}.model"));
        let o = poolscope(&[
            "train",
            "-q",
            "--data",
            table.to_str().unwrap(),
            "--labels",
            labels.to_str().unwrap(),
            "--label-from",
            "stratum",
            "--folds",
            "0",
            "--trees",
            "5",
            "-o",
            model.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let m: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&model).unwrap()).unwrap();
        let t = &m["training"];
        // The TLS miner (labels file) and mining.pcapng's four Stratum flows; the MQTT client.
        assert_eq!(t["label_sources"]["mining:labels"], 1, "{ext}: {t}");
        assert_eq!(t["label_sources"]["mining:stratum"], 4, "{ext}: {t}");
        assert_eq!(t["label_sources"]["benign:labels"], 1, "{ext}: {t}");
        // xmrig-rx-tls.pcap lasts 375 s: three windows (the 15 s tail is dropped).
        assert!(t["mining_rows"].as_u64().unwrap() >= 3 + 4, "{ext}: {t}");
    }
}

/// Short request/response exchanges cannot be told from a pool connection by their shape, so
/// the model must not judge them: a DNS query over TCP, a Zabbix server polling its agent, RPC
/// portmap calls and NFS, an HTTP request sent to an SSH server, MySQL logins. With the feeds
/// off, every such flow is benign, and the model either says `insufficient` or calls it benign.
#[test]
fn short_exchanges_are_benign_or_insufficient() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let captures: Vec<PathBuf> = [
        "dns-edns-tcp-keepalive.pcap",
        "dns__dns-tcp-www-google-com__dns.pcap",
        "zabbix-agent-poll.pcap",
        "nfs__nfs_write_bad_stable_how.pcap",
        "http__get-to-ssh-server.pcap",
        "mysql__auth.pcap",
    ]
    .iter()
    .map(|n| common::data(&format!("pcap/{n}")))
    .collect();
    let recs = score_records(&root.join("models/default.model"), &captures);
    let both_ways: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| {
            r["payload_bytes_c2s"].as_u64() > Some(0) && r["payload_bytes_s2c"].as_u64() > Some(0)
        })
        .collect();
    // 3 DNS, 12 agent polls, 4 RPC/NFS, 1 HTTP, 10 MySQL connections with data both ways.
    assert!(both_ways.len() >= 25, "{}", both_ways.len());
    let mut insufficient = 0;
    for r in &both_ways {
        let what = format!("{} flow {}: {}", r["capture"], r["flow_id"], r["reasons"]);
        assert_eq!(r["verdict"], "benign", "{what}");
        match r["model_verdict"].as_str() {
            None => {
                assert!(r["model_score"].is_null(), "{what}");
                assert!(
                    r["reasons"].to_string().contains("model:insufficient"),
                    "{what}"
                );
                insufficient += 1;
            }
            Some(v) => assert_eq!(v, "benign", "{what}"),
        }
    }
    // Every one of these is a handful of messages: the gate keeps the model out of all of them.
    assert_eq!(insufficient, both_ways.len());
}

/// Real XMRig sessions to a real pool (from the CJ-Sniffer data set), left out of training:
/// a model trained on the shipped table without them flags them by shape alone. They are
/// plaintext, so the Stratum dissector independently confirms what they are.
#[test]
fn cjsniffer_sessions_left_out_of_training_are_flagged_by_the_model() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let held_out = ["1618550187_hQST8.pcap", "1617741719_i6WEA.pcap"];
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("held-out.model");
    let table = root.join("models/training/default.parquet");
    let mut args = vec![
        "train".to_string(),
        "-q".into(),
        "--data".into(),
        table.display().to_string(),
        "--exclude".into(),
    ];
    args.extend(held_out.iter().map(|s| s.to_string()));
    args.extend(["-o".into(), model.display().to_string()]);
    let o = poolscope(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let read = |p: &Path| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    };
    // The sessions are in the shipped table, one flow each, and the new model lacks them.
    let shipped = read(&root.join("models/default.model"));
    let held = read(&model);
    assert_eq!(
        shipped["training"]["mining_flows"].as_u64().unwrap()
            - held["training"]["mining_flows"].as_u64().unwrap(),
        2
    );
    let captures: Vec<PathBuf> = held_out
        .iter()
        .map(|n| common::data(&format!("pcap/{n}")))
        .collect();
    let recs = score_records(&model, &captures);
    let sessions: Vec<&serde_json::Value> = recs
        .iter()
        .filter(|r| r["reasons"].to_string().contains("stratum:xmr"))
        .collect();
    assert_eq!(sessions.len(), 2, "{recs:?}");
    for r in sessions {
        let what = format!("{}: {} {}", r["capture"], r["model_score"], r["reasons"]);
        assert!(r["duration"].as_f64().unwrap() > 800.0, "{what}");
        let v = r["model_verdict"].as_str().unwrap_or("null");
        assert!(v == "suspect" || v == "mining", "{what}");
    }
}

/// `eval --model` on data with too few pools to cross-validate (one mining session, benign
/// flows too short for the model) still evaluates the model on it, and says why the
/// cross-validation was skipped.
#[test]
fn eval_of_a_model_on_too_few_pools_evaluates_the_model_alone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let o = poolscope(&[
        "eval",
        "-q",
        "--model",
        root.join("models/default.model").to_str().unwrap(),
        "--data",
        common::data("pcap/1618550187_hQST8.pcap").to_str().unwrap(),
        "--benign",
        common::data("pcap/zabbix-agent-poll.pcap")
            .to_str()
            .unwrap(),
        "--label-from",
        "stratum",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("applied to the data"), "{out}");
    assert!(out.contains("grouped cross-validation skipped"), "{out}");
    // One mining session of 34 minutes, flagged; twelve agent polls, too short to judge.
    assert!(
        out.contains("1 flows judged, 12 with too little data"),
        "{out}"
    );
    assert!(
        out.contains("long sessions (>= 300 s) flagged suspect: 1/1"),
        "{out}"
    );
}

/// Stratum V2 joins the training data: the shipped table holds the `sv2-lab` sessions,
/// labelled by the dissector's recognition of the Noise handshake. A capture that starts after
/// the handshake (a sensor started mid-session) leaves the dissector nothing to recognise; the
/// shipped model then flags the session by its shape. The session is a test capture of its own
/// run, not one of the training sessions, and the whole capture, handshake included, is the
/// independent label: the dissector calls it `sv2`.
#[test]
fn stratum_v2_sessions_cut_after_the_handshake_are_flagged_by_the_model() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shipped: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("models/default.model")).unwrap())
            .unwrap();
    let sources = &shipped["training"]["sources"];
    assert!(
        sources.as_array().unwrap().iter().any(|s| s == "sv2-lab"),
        "{sources}"
    );

    let full = common::data("pcap/sv2-noise-session.pcap");
    let whole = score_records(
        &root.join("models/default.model"),
        std::slice::from_ref(&full),
    );
    assert_eq!(whole.len(), 1, "{whole:?}");
    assert!(
        whole[0]["reasons"].to_string().contains("stratum:sv2"),
        "{whole:?}"
    );

    // Classic pcap: a 24-byte file header, then records of a 16-byte header (captured length
    // at bytes 8..12, little-endian in this file) and the frame. Keep the file header and drop
    // the records of the TCP handshake, the Noise handshake, SetupConnection and its answer.
    let bytes = std::fs::read(&full).unwrap();
    assert_eq!(bytes[..4], [0xd4, 0xc3, 0xb2, 0xa1]);
    let mut at = 24;
    for _ in 0..9 {
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("sv2-mid-session.pcap");
    let mut out = bytes[..24].to_vec();
    out.extend_from_slice(&bytes[at..]);
    std::fs::write(&cut, out).unwrap();

    let recs = score_records(&root.join("models/default.model"), &[cut]);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    let what = format!("{} {} {}", r["verdict"], r["model_score"], r["reasons"]);
    assert!(!r["reasons"].to_string().contains("stratum:"), "{what}");
    assert!(r["duration"].as_f64().unwrap() > 30.0, "{what}");
    let v = r["model_verdict"].as_str().unwrap_or("null");
    assert!(v == "suspect" || v == "mining", "{what}");
    assert_eq!(r["verdict"], r["model_verdict"], "{what}");
}
