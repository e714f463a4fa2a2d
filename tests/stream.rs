//! `poolscope stream` in a consumer group, against librdkafka's mock cluster (a real Kafka
//! protocol broker in this process, on loopback): a topic of 4 partitions with 100,000 flow
//! records, two `poolscope stream` processes in one group, one stopped mid-run. Every record
//! is scored, none is lost, and the verdicts equal those `poolscope score` gives the same
//! records in a file; malformed messages are skipped and named.

mod common;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RECORDS: usize = 100_000;

/// Flow records of the committed captures (mining sessions to public pools and the lab's
/// stub, benign look-alikes), as flow-table rows with both directions, copied onto distinct
/// client addresses until there are `RECORDS`: (row as JSON, client address).
fn rows() -> Vec<(serde_json::Map<String, Value>, String)> {
    let mut base = Vec::new();
    let mut seen = BTreeSet::new();
    let dir = common::data("pcap");
    let mut caps: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    caps.sort();
    for cap in caps {
        for r in common::extract(&cap) {
            if r["src_ip"].as_str().unwrap().contains(':') {
                continue;
            }
            let key = format!(
                "{} {} {} {} {}",
                r["transport"], r["src_ip"], r["src_port"], r["dst_ip"], r["dst_port"]
            );
            if seen.insert(key) {
                base.push(r);
            }
        }
    }
    assert!(base.len() > 500, "{} flows", base.len());
    let mut out = Vec::with_capacity(RECORDS);
    let mut tuples = BTreeSet::new();
    for k in 0.. {
        for r in &base {
            if out.len() == RECORDS {
                return out;
            }
            // Copy k moves the client into 10.k.0.0/16 (k = 0: the address as captured).
            let src: std::net::Ipv4Addr = r["src_ip"].as_str().unwrap().parse().unwrap();
            let client = if k == 0 {
                src
            } else {
                let o = src.octets();
                std::net::Ipv4Addr::new(10, k as u8, o[2], o[3])
            };
            // One row per 5-tuple: each conversation is one record, whoever reads it.
            let tuple = format!(
                "{client} {} {} {} {}",
                r["dst_ip"], r["src_port"], r["dst_port"], r["transport"]
            );
            if !tuples.insert(tuple) {
                continue;
            }
            let mut row = serde_json::Map::new();
            let mut put = |k: &str, v: Value| {
                row.insert(k.to_string(), v);
            };
            put("src_ip", client.to_string().into());
            put("dst_ip", r["dst_ip"].clone());
            put("src_port", r["src_port"].clone());
            put("dst_port", r["dst_port"].clone());
            put(
                "protocol",
                if r["transport"] == "tcp" { 6 } else { 17 }.into(),
            );
            put("first", r["first_seen"].clone());
            put("last", r["last_seen"].clone());
            put("packets", r["packets_c2s"].clone());
            put("bytes", r["bytes_c2s"].clone());
            put("tcp_flags", r["tcp_flags_c2s"].clone());
            put("packets_rev", r["packets_s2c"].clone());
            put("bytes_rev", r["bytes_s2c"].clone());
            out.push((row, client.to_string()));
        }
    }
    unreachable!()
}

/// The identity and verdict of a scored conversation.
fn verdict_key(v: &Value) -> String {
    format!(
        "{} {}:{} > {}:{} {}/{} {}/{} {}",
        v["transport"],
        v["src_ip"],
        v["src_port"],
        v["dst_ip"],
        v["dst_port"],
        v["packets_c2s"],
        v["packets_s2c"],
        v["bytes_c2s"],
        v["bytes_s2c"],
        v["verdict"]
    )
}

fn count(keys: impl Iterator<Item = String>) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// Every message of `topic` (its `partitions`, from the start) until none has come for
/// `idle`: (key, JSON payload).
fn read_topic(
    brokers: &str,
    topic: &str,
    partitions: i32,
    idle: Duration,
) -> Vec<(Vec<u8>, Value)> {
    let reader: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "check")
        .create()
        .unwrap();
    let mut all = rdkafka::TopicPartitionList::new();
    for p in 0..partitions {
        all.add_partition_offset(topic, p, rdkafka::Offset::Beginning)
            .unwrap();
    }
    reader.assign(&all).unwrap();
    // The mock broker drops the oldest messages of a partition past 5 MB: none may be gone.
    for p in 0..partitions {
        let (low, _) = reader
            .fetch_watermarks(topic, p, Duration::from_secs(5))
            .unwrap();
        assert_eq!(low, 0, "{topic} partition {p} lost its start");
    }
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < idle {
        if let Some(m) = reader.poll(Duration::from_millis(100)) {
            let m = m.unwrap();
            let v: Value = serde_json::from_slice(m.payload().unwrap()).unwrap();
            out.push((m.key().unwrap_or_default().to_vec(), v));
            last = Instant::now();
        }
    }
    out
}

#[test]
fn a_consumer_group_scores_every_record_once_a_member_leaves_mid_run() {
    let rows = rows();
    let dir = tempfile::tempdir().unwrap();
    // The same rows as a CSV flow table, for `poolscope score`.
    let cols = [
        "src_ip",
        "dst_ip",
        "src_port",
        "dst_port",
        "protocol",
        "first",
        "last",
        "packets",
        "bytes",
        "tcp_flags",
        "packets_rev",
        "bytes_rev",
    ];
    let mut csv = cols.join(",") + "\n";
    for (r, _) in &rows {
        let vals: Vec<String> = cols
            .iter()
            .map(|c| match &r[*c] {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                v => v.to_string(),
            })
            .collect();
        csv += &(vals.join(",") + "\n");
    }
    let table = dir.path().join("flows.csv");
    std::fs::write(&table, csv).unwrap();
    let file = common::poolscope(&["score", "-q", table.to_str().unwrap()]);
    assert!(
        file.status.success(),
        "{}",
        String::from_utf8_lossy(&file.stderr)
    );
    let expected = count(
        String::from_utf8(file.stdout)
            .unwrap()
            .lines()
            .map(|l| verdict_key(&serde_json::from_str(l).unwrap())),
    );
    assert_eq!(expected.values().sum::<usize>(), RECORDS);
    assert!(expected.keys().any(|k| k.ends_with("\"mining\"")));

    let cluster = MockCluster::new(3).unwrap();
    cluster.create_topic("flows", 4, 1).unwrap();
    // The mock broker keeps at most 5 MB a partition: the verdicts (full records, about
    // 2 KB each before compression) are spread over 16.
    cluster.create_topic("verdicts", 16, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .create()
        .unwrap();
    let send = |key: &str, payload: &[u8]| {
        let mut rec = BaseRecord::to("flows").key(key).payload(payload);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, r)) => {
                    producer.poll(Duration::from_millis(10));
                    rec = r;
                }
            }
        }
    };
    // Damaged messages among the records: truncated JSON, a row without its addresses.
    for (i, (row, client)) in rows.iter().enumerate() {
        send(client, serde_json::to_string(row).unwrap().as_bytes());
        if i == RECORDS / 3 {
            send("10.0.0.1", b"{\"src_ip\":\"10.0.0.1\",\"dst_i");
        }
        if i == RECORDS / 2 {
            send("10.0.0.2", b"{\"packets\":5}");
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();

    let member = || {
        Command::new(env!("CARGO_BIN_EXE_poolscope"))
            .args([
                "stream",
                "--brokers",
                &brokers,
                "--topic",
                "flows",
                "--group",
                "scorers",
                "--format",
                "ndjson",
                "--out-topic",
                "verdicts",
                "--commit-interval",
                "0.5",
                "--idle-exit",
                "8",
                "-X",
                "session.timeout.ms=6000",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run poolscope stream")
    };
    // Each member's standard error, line by line, as it comes.
    let follow = |child: &mut std::process::Child| {
        use std::io::BufRead;
        let err = std::io::BufReader::new(child.stderr.take().unwrap());
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let t = std::thread::spawn(move || {
            let mut all = String::new();
            for line in err.lines().map_while(Result::ok) {
                let _ = tx.send(line.clone());
                all += &line;
                all.push('\n');
            }
            all
        });
        (rx, t)
    };
    let mut a = member();
    let (a_lines, a_err) = follow(&mut a);
    let mut b = member();
    let (_, b_err) = follow(&mut b);
    // Stop one member mid-run, as an operator scaling down does (SIGTERM): once it has
    // partitions and has been reading them for a second.
    let t = Instant::now();
    loop {
        let line = a_lines
            .recv_timeout(Duration::from_secs(60))
            .expect("member a never got partitions");
        if line.contains("assigned") && !line.contains("(none)") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(60));
    }
    std::thread::sleep(Duration::from_secs(1));
    let ok = Command::new("kill")
        .args(["-TERM", &a.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let (sa, sb) = (a.wait().unwrap(), b.wait().unwrap());
    let (ea, eb) = (a_err.join().unwrap(), b_err.join().unwrap());
    assert!(sa.success(), "a: {ea}");
    assert!(sb.success(), "b: {eb}");
    let messages = |e: &str| -> u64 {
        let line = e.lines().last().unwrap_or("");
        line.split(" messages")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no summary: {e}"))
    };
    let (ma, mb) = (messages(&ea), messages(&eb));
    assert!(
        ma > 0 && mb > 0,
        "both members consumed: a {ma}, b {mb}\n{ea}\n{eb}"
    );
    assert!(ma < RECORDS as u64, "a was stopped mid-run: {ma}");
    // Both damaged messages were named with their partition and offset, and skipped.
    let named = format!("{ea}{eb}")
        .lines()
        .filter(|l| {
            l.contains("flows partition ") && l.contains(" offset ") && l.contains("skipped")
        })
        .count();
    assert!(named >= 2, "{ea}{eb}");

    // Every verdict produced, duplicates (records read again after the member left) dropped
    // by their partition and offsets, as a consumer downstream does.
    let mut seen = BTreeMap::new();
    for (key, v) in read_topic(&brokers, "verdicts", 16, Duration::from_secs(5)) {
        assert_eq!(key, v["src_ip"].as_str().unwrap().as_bytes());
        let k = &v["kafka"];
        let id = (
            k["partition"].as_i64().unwrap(),
            k["first_offset"].as_i64().unwrap(),
            k["last_offset"].as_i64().unwrap(),
        );
        seen.insert(id, verdict_key(&v));
    }
    let meta: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    for p in 0..4 {
        let (low, _) = meta
            .fetch_watermarks("flows", p, Duration::from_secs(5))
            .unwrap();
        assert_eq!(low, 0, "flows partition {p} lost its start");
    }
    // None lost: every record's offset is in a verdict (the two damaged messages aside).
    let covered: usize = seen.keys().map(|(_, a, b)| (b - a + 1) as usize).sum();
    assert_eq!(covered, RECORDS, "records covered by verdicts");
    assert_eq!(count(seen.into_values()), expected);
}

/// `score --kafka-out`: the flow records it writes and its alerts, produced to a topic keyed
/// by client address, as a sensor feeding the same pipeline does.
#[test]
fn score_produces_its_records_and_alerts_to_a_topic() {
    let cluster = MockCluster::new(1).unwrap();
    cluster.create_topic("sensor", 2, 1).unwrap();
    let brokers = cluster.bootstrap_servers();
    let dir = tempfile::tempdir().unwrap();
    let alerts = dir.path().join("alerts.ndjson");
    let caps = [
        common::data("pcap/xmrig-rx-plain.pcap"),
        common::data("pcap/benign-mqtt-heartbeat.pcap"),
    ];
    let out = common::poolscope(&[
        "score",
        "-q",
        caps[0].to_str().unwrap(),
        caps[1].to_str().unwrap(),
        "--alerts",
        alerts.to_str().unwrap(),
        "--kafka-out",
        &format!("{brokers}/sensor"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parse = |t: &str| -> Vec<Value> {
        t.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let records = parse(&String::from_utf8(out.stdout).unwrap());
    let alert_lines = parse(&std::fs::read_to_string(&alerts).unwrap());
    assert!(!alert_lines.is_empty());
    let (mut got_records, mut got_alerts) = (Vec::new(), Vec::new());
    for (key, v) in read_topic(&brokers, "sensor", 2, Duration::from_secs(3)) {
        assert_eq!(key, v["src_ip"].as_str().unwrap().as_bytes());
        if v.get("alert_time").is_some() {
            got_alerts.push(v);
        } else {
            got_records.push(v);
        }
    }
    let ids = |v: &[Value]| -> BTreeSet<String> {
        v.iter()
            .map(|r| format!("{} {}", r["flow_id"], r["verdict"]))
            .collect()
    };
    assert_eq!(got_records.len(), records.len());
    assert_eq!(ids(&got_records), ids(&records));
    assert_eq!(got_alerts.len(), alert_lines.len());
    assert_eq!(ids(&got_alerts), ids(&alert_lines));
}
