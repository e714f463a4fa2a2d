//! Flow-export input checked against other tools: pmacct's decodes of its NetFlow/IPFIX test
//! captures, the akvorado and logstash decoder test data (each file decodes or is reported as
//! unsupported with a reason), and softflowd + nfcapd/nfdump over our own capture, compared
//! with what `poolscope extract` counts for the same connections.

mod common;

use common::{corpus, data};
use poolscope::netflow::export::unknown_exporter;
use poolscope::netflow::{
    read_flow_export, read_flow_exports, table, ExportRecord, InputFormat, NetflowDecoder,
    NetflowOptions, NETFLOW_FEATURES, NETFLOW_SCHEMA,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The values both sides report for one flow record.
type Key = (String, String, u16, u16, u8, u64, u64);

fn key_of(r: &ExportRecord) -> Key {
    (
        r.src_ip.to_string(),
        r.dst_ip.to_string(),
        r.src_port,
        r.dst_port,
        r.protocol,
        r.packets,
        r.bytes,
    )
}

/// Rows of a MANIFEST.tsv as (column name → value) maps.
fn manifest(dir: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(dir.join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            head.iter()
                .zip(l.split('\t'))
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// pmacct tests whose output is not a plain per-record decode, and why. What can still be
/// compared is: every expected record whose counters are not rewritten.
const PMACCT_DIFFERENCES: &[(&str, &str)] = &[
    (
        "110-IPFIXv10-NFv9-multiple-sources",
        "nfacctd's plugin aggregates records with equal primitives within its refresh interval \
         (five 1-packet BGP keepalive records become one of 5 packets); compared as sums per \
         5-tuple over the records left after the per-record match",
    ),
    (
        "111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources",
        "same aggregation: two IPFIX records (1 and 2 packets) of one IPv6 5-tuple are one \
         nfacctd record of 3 packets; compared as sums per 5-tuple",
    ),
];

/// pmacct tests where nfacctd renormalises counters by the sampling interval the exporter
/// announces in options data (`nfacctd_renormalize: true`), with that interval: our records
/// carry the exporter's counters as sent, multiplied here before the comparison. (Test 102
/// also configures sampling, but its capture announces no interval: a plain decode.)
const PMACCT_RENORMALISED: &[(&str, u64)] = &[("104-IPFIXv10-IPv6-CISCO-sampling_option", 256)];

struct PmacctResult {
    test: String,
    matched: usize,
    by_aggregation: usize,
    expected: usize,
    missing: Vec<String>,
}

/// Decodes every capture of each pmacct test through one decoder and looks each expected
/// record up in the multiset of decoded ones.
fn check_pmacct(dir: &Path) -> Vec<PmacctResult> {
    let mut by_ref: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for row in manifest(dir) {
        let file = &row["file"];
        let reference = row.get("reference_output").cloned().unwrap_or_default();
        if file.starts_with("pcap/") && !reference.is_empty() {
            by_ref.entry(reference).or_default().push(dir.join(file));
        }
    }
    let mut results = Vec::new();
    for (reference, pcaps) in by_ref {
        let mut dec = NetflowDecoder::new();
        let mut decoded = Vec::new();
        for p in &pcaps {
            dec.decode_pcap(p, &mut |r| decoded.push(r))
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        }
        let test = Path::new(&reference)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .split("__")
            .next()
            .unwrap()
            .to_string();
        let aggregated = PMACCT_DIFFERENCES.iter().any(|(t, _)| *t == test);
        let factor = PMACCT_RENORMALISED
            .iter()
            .find(|(t, _)| *t == test)
            .map_or(1, |(_, f)| *f);
        let mut got: HashMap<Key, usize> = HashMap::new();
        for mut r in decoded {
            r.packets *= factor;
            r.bytes *= factor;
            *got.entry(key_of(&r)).or_insert(0) += 1;
        }
        let text = std::fs::read_to_string(dir.join(&reference)).unwrap();
        let (mut matched, mut expected) = (0, 0);
        let mut left: Vec<Key> = Vec::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let v: Value = serde_json::from_str(line).expect("JSON line");
            let Some(src) = v["ip_src"].as_str() else {
                continue;
            };
            let proto = match &v["ip_proto"] {
                Value::String(s) => table::parse_protocol(s).unwrap_or_else(|| panic!("{s}")),
                n => n.as_u64().unwrap() as u8,
            };
            let k: Key = (
                src.to_string(),
                v["ip_dst"].as_str().unwrap().to_string(),
                v["port_src"].as_u64().unwrap_or(0) as u16,
                v["port_dst"].as_u64().unwrap_or(0) as u16,
                proto,
                v["packets"].as_u64().unwrap(),
                v["bytes"].as_u64().unwrap(),
            );
            expected += 1;
            match got.get_mut(&k) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    matched += 1;
                }
                _ => left.push(k),
            }
        }
        let mut missing = Vec::new();
        let mut by_aggregation = 0;
        if aggregated {
            // Sums per 5-tuple of what is left on both sides.
            type Tuple = (String, String, u16, u16, u8);
            let tuple = |k: &Key| (k.0.clone(), k.1.clone(), k.2, k.3, k.4);
            let mut ours: HashMap<Tuple, (u64, u64)> = HashMap::new();
            for (k, n) in &got {
                let e = ours.entry(tuple(k)).or_default();
                e.0 += k.5 * *n as u64;
                e.1 += k.6 * *n as u64;
            }
            let mut theirs: BTreeMap<Tuple, (u64, u64, usize)> = BTreeMap::new();
            for k in &left {
                let e = theirs.entry(tuple(k)).or_default();
                e.0 += k.5;
                e.1 += k.6;
                e.2 += 1;
            }
            for (t, (p, b, n)) in theirs {
                if ours.get(&t) == Some(&(p, b)) {
                    by_aggregation += n;
                } else {
                    missing.push(format!(
                        "{t:?}: pmacct {p} pkts {b} bytes, ours {:?}",
                        ours.get(&t)
                    ));
                }
            }
        } else {
            missing = left.iter().map(|k| format!("{k:?}")).collect();
        }
        results.push(PmacctResult {
            test,
            matched,
            by_aggregation,
            expected,
            missing,
        });
    }
    results
}

fn assert_pmacct(dir: &Path) {
    let results = check_pmacct(dir);
    assert!(
        !results.is_empty(),
        "no pmacct tests under {}",
        dir.display()
    );
    let mut bad = Vec::new();
    for r in &results {
        eprintln!(
            "pmacct {}: {}/{} records matched one to one, {} more as per-5-tuple sums",
            r.test, r.matched, r.expected, r.by_aggregation
        );
        if r.matched + r.by_aggregation != r.expected || r.expected == 0 {
            bad.push(format!(
                "{}: {}/{} matched; missing (first 5): {:?}",
                r.test,
                r.matched,
                r.expected,
                &r.missing[..r.missing.len().min(5)]
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn pmacct_fixtures_decode_like_nfacctd() {
    assert_pmacct(&data("netflow/pmacct"));
}

#[test]
fn pmacct_corpus_decodes_like_nfacctd() {
    let Some(root) = corpus() else {
        eprintln!("POOLSCOPE_CORPUS not set: pmacct corpus comparison not run");
        return;
    };
    assert_pmacct(&root.join("pmacct-netflow"));
}

/// Groups export files that share templates: `X-template.pcap` with `X-data.pcap`,
/// `X_tpl256.dat` with `X_data256.dat`; templates first within a group.
fn template_groups(files: Vec<PathBuf>) -> Vec<Vec<PathBuf>> {
    let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for f in files {
        let name = f.file_name().unwrap().to_str().unwrap().to_string();
        let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
        let cut = ["-template", "-data", "_opttpl", "_tpldata", "_tpl", "_data"]
            .iter()
            .filter_map(|m| stem.find(m))
            .min()
            .unwrap_or(stem.len());
        // akvorado's plain `template.pcap` serves `data.pcap`.
        let key = match &stem[..cut] {
            "data" | "template" => "",
            k => k,
        };
        groups.entry(key.to_string()).or_default().push(f);
    }
    groups
        .into_values()
        .map(|mut g| {
            let is_template = |p: &PathBuf| {
                let n = p.file_name().unwrap().to_str().unwrap();
                (n.contains("tpl") || n.contains("template")) && !n.contains("tpldata")
            };
            g.sort_by_key(|p| (!is_template(p), p.clone()));
            g
        })
        .collect()
}

/// Per-file outcome: records, templates, and the reasons of anything unsupported.
#[derive(Default)]
struct Tally {
    decoded: Vec<String>,
    templates_only: Vec<String>,
    /// Data whose template never came (held, not decoded).
    held: Vec<String>,
    unsupported: BTreeMap<String, Vec<String>>,
}

fn tally(groups: Vec<Vec<PathBuf>>) -> Tally {
    let mut t = Tally::default();
    for group in groups {
        let mut dec = NetflowDecoder::new();
        for f in group {
            let name = f.file_name().unwrap().to_str().unwrap().to_string();
            let before = dec.summary.clone();
            let mut records = 0u64;
            let mut on = |_r: ExportRecord| records += 1;
            let res = if name.ends_with(".dat") {
                dec.decode_dat(&f, unknown_exporter(), &mut on)
            } else {
                dec.decode_pcap(&f, &mut on)
            };
            res.unwrap_or_else(|e| panic!("{name}: an error stopped decoding: {e}"));
            let s = &dec.summary;
            let new_reasons: Vec<String> = s
                .unsupported
                .iter()
                .filter(|(k, v)| before.unsupported.get(*k) != Some(v))
                .map(|(k, _)| k.clone())
                .collect();
            let templates = s.templates - before.templates;
            let options = s.options_records - before.options_records;
            let held = s.pending_sets - before.pending_sets;
            let without = s.without_addresses - before.without_addresses;
            if !new_reasons.is_empty() {
                for r in new_reasons {
                    t.unsupported.entry(r).or_default().push(name.clone());
                }
            } else if records > 0 || without > 0 {
                t.decoded.push(format!("{name} ({records} flow records)"));
            } else if held > 0 {
                t.held.push(name);
            } else if templates > 0 || options > 0 {
                t.templates_only.push(name);
            } else {
                t.unsupported
                    .entry("nothing decoded and no reason given".into())
                    .or_default()
                    .push(name);
            }
        }
    }
    t
}

fn print_tally(label: &str, t: &Tally) -> usize {
    let n_unsup: usize = t.unsupported.values().map(Vec::len).sum();
    eprintln!(
        "{label}: {} files with flow records, {} with templates/options only, {} with data whose \
         template never came, {} with something unsupported",
        t.decoded.len(),
        t.templates_only.len(),
        t.held.len(),
        n_unsup
    );
    if !t.held.is_empty() {
        eprintln!("  template never came: {}", t.held.join(", "));
    }
    for (reason, files) in &t.unsupported {
        eprintln!("  unsupported: {reason}: {}", files.join(", "));
    }
    t.decoded.len() + t.templates_only.len() + t.held.len() + n_unsup
}

fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

fn assert_explained(t: &Tally) {
    assert!(
        !t.unsupported
            .contains_key("nothing decoded and no reason given"),
        "files decoded to nothing without a reason: {:?}",
        t.unsupported["nothing decoded and no reason given"]
    );
}

#[test]
fn akvorado_and_logstash_fixtures_decode_or_say_why() {
    let t = tally(template_groups(files_in(&data("netflow/akvorado"), "pcap")));
    print_tally("akvorado fixtures", &t);
    assert_explained(&t);
    assert!(t.unsupported.is_empty(), "{:?}", t.unsupported);
    assert!(t.decoded.len() >= 3);
    let t = tally(template_groups(files_in(&data("netflow/logstash"), "dat")));
    print_tally("logstash fixtures", &t);
    assert_explained(&t);
    assert!(t.decoded.len() >= 3);
}

#[test]
fn akvorado_and_logstash_corpus_decode_or_say_why() {
    let Some(root) = corpus() else {
        eprintln!("POOLSCOPE_CORPUS not set: akvorado/logstash corpus not run");
        return;
    };
    let files = files_in(&root.join("akvorado-netflow/pcap"), "pcap");
    let n = files.len();
    let t = tally(template_groups(files));
    assert_eq!(print_tally("akvorado", &t), n);
    assert_explained(&t);
    let files = files_in(&root.join("logstash-netflow/dat"), "dat");
    let n = files.len();
    assert_eq!(n, 92, "the logstash corpus has 92 .dat files");
    let t = tally(template_groups(files));
    assert_eq!(print_tally("logstash", &t), n);
    assert_explained(&t);
}
