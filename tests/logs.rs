//! Zeek and Suricata logs as input, end to end: `score`, `extract` and `train` read them by
//! content (gzip or not, a directory of them too), and where the trace behind a log is at hand
//! the records from the log agree with `extract` on the trace in SNI, certificate hashes,
//! bytes and durations, except for the differences listed with their reason in
//! `tests/data/logs/KNOWN_DISAGREEMENTS.tsv`.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn run_extract(paths: &[&Path]) -> (i32, Vec<Value>, String) {
    let mut args = vec!["extract".to_string(), "--quiet".to_string()];
    args.extend(paths.iter().map(|p| p.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::run_ndjson(&args)
}

#[test]
fn score_reads_zeek_logs_given_together_and_names_the_bad_line() {
    let dir = data("logs/zeek-hand");
    let (conn, ssl, x509) = (
        dir.join("conn.log"),
        dir.join("ssl.log"),
        dir.join("x509.log"),
    );
    let out = poolscope(&[
        "score",
        conn.to_str().unwrap(),
        ssl.to_str().unwrap(),
        x509.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("conn.log:12: bad field count (4 fields, the header has 21)"),
        "{stderr}"
    );
    assert!(stderr.contains("1 bad"), "{stderr}");
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 3);
    // Every record is scored; the joined one carries the log's TLS columns.
    assert!(recs.iter().all(|r| r["verdict"].is_string()));
    assert_eq!(s(&recs[0]["sni"]), "pool.example.net");
    assert_eq!(recs[0]["bytes_s2c"], 32000);
    assert_eq!(recs[0]["end_reason"], "log");
    assert_eq!(s(&recs[0]["capture"]), conn.to_str().unwrap());
    // Unknown stays null: ssl.log alone has no duration.
    assert!(recs[2]["duration"].is_null() && recs[2]["last_seen"].is_null());
}

#[test]
fn forced_kind_and_gzip_and_directories() {
    // A directory of JSON logs with a gzip-rotated conn.log, forced as Zeek.
    let dir = data("logs/zeek-json-rotated");
    let (code, recs, err) = score(&["--input-format", "zeek", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(recs.len(), 2);
    assert_eq!(s(&recs[0]["sni"]), "xmr.pool.example");
    // EVE, detected from content, through `extract`.
    let (code, recs, err) = run_extract(&[&data("logs/eve-hand.json")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(recs.len(), 2);
    assert_eq!(
        recs[0]["dns_names"],
        serde_json::json!(["pool.example.net"])
    );
    assert_eq!(recs[0]["wire_bytes_s2c"], 5400);
}

/// Fields of a record compared between a log and the trace: SNI and certificate hashes.
const TEXT_FIELDS: &[&str] = &["sni", "cert_sha1", "cert_sha256"];

/// Counters Zeek's conn.log has: IP bytes, payload bytes and packets each way.
const ZEEK_COUNTERS: &[&str] = &[
    "bytes_c2s",
    "bytes_s2c",
    "payload_bytes_c2s",
    "payload_bytes_s2c",
    "packets_c2s",
    "packets_s2c",
];

/// Durations agree within this many seconds: both come from the same packet timestamps,
/// Zeek writes them rounded to the microsecond, and poolscope's are differences of
/// microsecond timestamps held as floating-point epoch seconds (about 0.2 µs of error).
const DURATION_TOLERANCE: f64 = 2e-6;

/// One difference between a log's record and the trace's: (case, client port, field).
type Difference = (String, u64, String);

fn known_disagreements() -> BTreeMap<Difference, String> {
    let text = std::fs::read_to_string(data("logs/KNOWN_DISAGREEMENTS.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 4, "{l}");
            (
                (f[0].to_string(), f[1].parse().unwrap(), f[2].to_string()),
                f[3].to_string(),
            )
        })
        .collect()
}

/// The records of a log run compared with `extract` on its trace: the differences found,
/// and how many (record, field) pairs were compared.
fn compare(
    case: &str,
    logs: &[PathBuf],
    trace: &Path,
    counters: &[&str],
) -> (BTreeSet<Difference>, usize) {
    let from_trace = extract(trace);
    let paths: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
    let (code, from_log, err) = run_extract(&paths);
    assert_eq!(code, 0, "{case}: {err}");
    assert!(!from_log.is_empty(), "{case}: no records from the logs");
    let mut diffs = BTreeSet::new();
    let mut compared = 0;
    for l in &from_log {
        let port = l["src_port"].as_u64().unwrap();
        let tuple = |r: &Value| {
            (
                s(&r["src_ip"]).to_string(),
                r["src_port"].as_u64(),
                s(&r["dst_ip"]).to_string(),
                r["dst_port"].as_u64(),
            )
        };
        let t = from_trace
            .iter()
            .find(|t| tuple(t) == tuple(l))
            .or_else(|| {
                from_trace
                    .iter()
                    .find(|t| t["src_port"].as_u64() == Some(port))
            });
        let mut differ = |field: &str| {
            if let Some(t) = t {
                eprintln!(
                    "  {case} port {port} {field}: log {} trace {}",
                    l[field], t[field]
                );
            }
            diffs.insert((case.to_string(), port, field.to_string()));
        };
        let Some(t) = t else {
            differ("flow");
            continue;
        };
        for f in TEXT_FIELDS {
            // Compared where the log says something: a log without the column is not
            // a disagreement (Zeek's fingerprints are SHA-256, EVE's SHA-1).
            if !l[*f].is_null() {
                compared += 1;
                if l[*f] != t[*f] {
                    differ(f);
                }
            }
        }
        // Counters come with the flow (conn.log, EVE flow events): a record of a TLS session
        // alone has none, and they are null.
        if l["packets_c2s"].is_null() {
            continue;
        }
        for f in counters {
            if l[*f].is_null() {
                continue;
            }
            compared += 1;
            if l[*f] != t[*f] {
                differ(f);
            }
        }
        if let (Some(a), Some(b)) = (l["duration"].as_f64(), t["duration"].as_f64()) {
            compared += 1;
            if (a - b).abs() > DURATION_TOLERANCE {
                differ("duration");
            }
        }
    }
    (diffs, compared)
}

/// Zeek cases with the trace at hand, from the corpus manifest: (case, trace path).
fn zeek_cases_with_traces(corpus: &Path) -> Vec<(String, PathBuf)> {
    let manifest = std::fs::read_to_string(corpus.join("zeek-logs/MANIFEST.tsv")).unwrap();
    let mut out = Vec::new();
    for line in manifest.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (case, notes) = (f[0], f[f.len() - 1]);
        let Some(rest) = notes.split("trace copy in shared/data: ").nth(1) else {
            continue;
        };
        let rel = rest.split([';', ' ']).next().unwrap();
        let trace = corpus.join(rel);
        assert!(trace.is_file(), "{case}: {} is missing", trace.display());
        out.push((case.to_string(), trace));
    }
    out
}

/// The logs of a case that poolscope joins: conn, ssl and x509 (TSV, with `#fields`).
fn case_logs(dir: &Path) -> Vec<PathBuf> {
    ["conn.log", "ssl.log", "x509.log"]
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect()
}

fn check_against_known(found: BTreeSet<Difference>, cases: &BTreeSet<String>) {
    let known = known_disagreements();
    let unexplained: Vec<_> = found.iter().filter(|d| !known.contains_key(*d)).collect();
    let stale: Vec<_> = known
        .keys()
        .filter(|k| cases.contains(&k.0) && !found.contains(*k))
        .collect();
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "differences not in KNOWN_DISAGREEMENTS.tsv: {unexplained:#?}\nlisted but not found: {stale:#?}"
    );
}

#[test]
fn imap_starttls_fixture_logs_give_the_values_written_in_them() {
    // The committed copy of Zeek's IMAP STARTTLS logs (the trace is in the corpus only): the
    // values below are read off the three files by eye: the leaf's SHA-256 is the first of
    // ssl.log's cert_chain_fps, its dates and SANs are x509.log's first row.
    let dir = data("logs/zeek-imap-starttls");
    let (code, recs, err) = run_extract(
        &case_logs(&dir)
            .iter()
            .map(PathBuf::as_path)
            .collect::<Vec<_>>(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(
        s(&r["cert_sha256"]),
        "e0129ac9d82beb2ad399c85a2d246c0a5376e1094a5410ba9157cc42c3d514c1"
    );
    assert_eq!(
        (r["bytes_c2s"].as_u64(), r["payload_bytes_s2c"].as_u64()),
        (Some(1284), Some(5653))
    );
    assert!(r["first_seen"].is_null(), "masked ts is null");
    assert_eq!(s(&r["cert_not_after"]), "2016-11-17T23:59:59Z");
    assert_eq!(
        r["cert_san"],
        serde_json::json!(["imap.gmx.net", "imap.gmx.de"])
    );
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn zeek_logs_agree_with_extract_on_their_traces() {
    let corpus = corpus();
    let cases = zeek_cases_with_traces(&corpus);
    assert!(cases.len() >= 8, "{cases:?}");
    let mut found = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut compared = 0;
    for (case, trace) in &cases {
        let logs = case_logs(&corpus.join("zeek-logs").join(case));
        // Cut logs without `#fields` (a plain column list) cannot be read as Zeek logs.
        let readable: Vec<PathBuf> = logs
            .into_iter()
            .filter(|p| std::fs::read_to_string(p).unwrap().contains("#fields"))
            .collect();
        if readable.is_empty() {
            continue;
        }
        names.insert(case.clone());
        let (d, n) = compare(case, &readable, trace, ZEEK_COUNTERS);
        eprintln!("{case}: {n} values compared, {} differences", d.len());
        compared += n;
        found.extend(d);
    }
    assert!(compared >= 50, "only {compared} values compared");
    check_against_known(found, &names);
}

#[test]
fn suricata_verify_eve_agrees_with_extract_on_its_pcap() {
    let (d, n) = compare(
        "suricata-verify-2016",
        &[data("logs/suricata-verify-2016.tls.eve.json")],
        &data("logs/suricata-verify-2016.tls.pcap"),
        &[],
    );
    assert_eq!(n, 2, "SNI and SHA-1 compared");
    assert!(d.is_empty(), "{d:?}");
    let (_, recs, _) = run_extract(&[&data("logs/suricata-verify-2016.tls.eve.json")]);
    assert_eq!(s(&recs[0]["sni"]), "www.google.com");
    assert_eq!(
        s(&recs[0]["cert_sha1"]),
        "9086a43bf5cf1b2e4ef79796f9debab96635863f"
    );
}

/// Counts of a field over the EVE events of a file, read here with serde_json.
fn tls_events_with(path: &Path, field: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["event_type"] == "tls")
        .filter(|v| {
            let x = &v["tls"][field];
            x.is_string() || x["hash"].is_string()
        })
        .count()
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_eve_files_give_every_tls_session_and_name_the_bad_line() {
    let dir = corpus().join("suricata-eve");
    for (file, field) in [
        ("nicoaller.suricata-log-analyzer.eve.json", "ja3"),
        ("stamus.suricata-analytics.training-02.eve.json", "ja4"),
    ] {
        let path = dir.join(file);
        let out = poolscope(&["extract", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let key = if field == "ja3" { "ja3" } else { "ja4" };
        let with = recs.iter().filter(|r| r[key].is_string()).count();
        assert_eq!(with, tls_events_with(&path, field), "{file}: {key}");
        let sni_events = tls_events_with(&path, "sni");
        assert_eq!(
            recs.iter().filter(|r| r["sni"].is_string()).count(),
            sni_events,
            "{file}: sni"
        );
        if file.starts_with("nicoaller") {
            assert!(
                stderr.contains(&format!("{file}:2325: no event_type")),
                "{stderr}"
            );
        }
    }
}

#[test]
fn train_accepts_logs_like_flow_exports() {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m.model");
    let out = poolscope(&[
        "train",
        "--features",
        "netflow",
        "--data",
        data("logs/eve-hand.json").to_str().unwrap(),
        "--mining",
        data("logs/zeek-json-rotated").to_str().unwrap(),
        "--benign",
        data("logs/zeek-hand").to_str().unwrap(),
        "--save-table",
        tmp.path().join("rows.csv").to_str().unwrap(),
        "-o",
        model.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Too few flows to fit a model; what matters is that the logs were read and labelled.
    let table = std::fs::read_to_string(tmp.path().join("rows.csv")).unwrap_or_default();
    assert!(
        table.contains("conn.2024-01-01-00-00-00.log.gz"),
        "{stderr}\n{table}"
    );
    assert!(table.contains("zeek-hand/conn.log"), "{stderr}\n{table}");
}

/// The golden file of one scored log run (as `tests/golden.rs` keeps one per capture): the
/// hand-made Zeek logs and EVE file scored together, capture paths reduced to file names.
/// `POOLSCOPE_BLESS=1 cargo test --test logs` rewrites it after review.
#[test]
fn scored_logs_match_the_golden_file() {
    let dir = data("logs/zeek-hand");
    let inputs = [
        dir.join("conn.log"),
        dir.join("ssl.log"),
        dir.join("x509.log"),
        data("logs/eve-hand.json"),
    ];
    let mut args = vec!["score", "-q"];
    args.extend(inputs.iter().map(|p| p.to_str().unwrap()));
    let out = poolscope(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut now = String::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        let name = Path::new(s(&v["capture"]))
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        v["capture"] = Value::from(name);
        now.push_str(&serde_json::to_string(&v).unwrap());
        now.push('\n');
    }
    check_golden(&data("golden/logs-zeek-eve-hand.ndjson"), &now);
}

/// The feeds see what the logs say: an SNI with no flow time (a `tls` event whose flow never
/// ended) and a DNS answer naming a later flow's server both match `pool.supportxmr.com`, a
/// pool domain of the shipped feeds, as proof (not as a stale hint).
#[test]
fn feeds_match_sni_and_dns_names_from_eve() {
    let tmp = tempfile::tempdir().unwrap();
    let eve = tmp.path().join("eve.json");
    std::fs::write(
        &eve,
        concat!(
            r#"{"timestamp":"2024-04-17T19:36:40.000000+0000","flow_id":1,"event_type":"dns","src_ip":"10.0.0.1","src_port":53,"dest_ip":"10.0.0.5","dest_port":5353,"proto":"UDP","dns":{"type":"answer","id":1,"rrname":"pool.supportxmr.com","rrtype":"A","rdata":"198.51.100.9"}}"#,
            "\n",
            r#"{"timestamp":"2024-04-17T19:36:41.000000+0000","flow_id":2,"event_type":"tls","src_ip":"10.0.0.5","src_port":50000,"dest_ip":"203.0.113.5","dest_port":443,"proto":"TCP","tls":{"sni":"pool.supportxmr.com","version":"TLS 1.3"}}"#,
            "\n",
            r#"{"timestamp":"2024-04-17T19:38:00.000000+0000","flow_id":3,"event_type":"flow","src_ip":"10.0.0.5","src_port":50001,"dest_ip":"198.51.100.9","dest_port":3333,"proto":"TCP","flow":{"pkts_toserver":3,"pkts_toclient":3,"bytes_toserver":300,"bytes_toclient":300,"start":"2024-04-17T19:36:41.000000+0000","end":"2024-04-17T19:36:42.000000+0000"}}"#,
            "\n"
        ),
    )
    .unwrap();
    let (code, recs, err) = score(&[eve.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(recs.len(), 2);
    let by_port = |p: u64| recs.iter().find(|r| r["dst_port"] == p).unwrap();
    let dns = by_port(3333);
    assert_eq!(dns["dns_names"], serde_json::json!(["pool.supportxmr.com"]));
    let sni = by_port(443);
    assert!(sni["first_seen"].is_null());
    for r in [dns, sni] {
        assert_eq!(r["verdict"], "mining", "{r}");
        assert!(
            reasons(r)
                .iter()
                .any(|x| x.starts_with("feed:domain:pool.supportxmr.com")),
            "{:?}",
            reasons(r)
        );
    }
}

/// `report` scores logs as it scores captures: an EVE file is NDJSON, but not `score`'s.
#[test]
fn report_scores_logs_first() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("r.html");
    let out = poolscope(&[
        "report",
        "-q",
        "-o",
        page.to_str().unwrap(),
        data("logs/eve-hand.json").to_str().unwrap(),
        data("logs/zeek-hand").to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("not an output of `poolscope score`"),
        "{stderr}"
    );
    assert!(std::fs::metadata(&page).unwrap().len() > 0);
}
