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

/// Scores captures with a model and no feeds; returns (capture file name, verdict, reasons)
/// of every TCP flow.
fn score(model: &Path, captures: &[PathBuf]) -> Vec<(String, String, String)> {
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
fn trained_on_plaintext_it_flags_tls_mining() {
    let Some(c) = corpus() else {
        eprintln!("POOLSCOPE_CORPUS not set: skipping the corpus training test");
        return;
    };
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
        c.join("nesfit-cryptomining/pcap"),
        c.join("ndpi/pcap/mining.pcapng"),
        lab(&c, "xmrig-rx-plain.pcap"),
        lab(&c, "xmrig-gr-plain.pcap"),
    ] {
        args.push(p.display().to_string());
    }
    args.push("--benign".into());
    for p in [
        c.join("ndpi/pcap"),
        c.join("foxio-ja4"),
        c.join("suricata-verify"),
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
