//! `poolscope feed export` end to end, on the shipped feeds and on the fixture feeds in
//! `tests/data/feeds-export/`: Suricata rules against the documented rule grammar, Zeek Intel
//! against its documented file format, the MISP/STIX round trip through `feed import`, and
//! (ignored unless asked for, as CI does) the format owners' validators: suricata-update's
//! rule parser, stix2-validator and pymisp (`tests/requirements.txt`).

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const FORMATS: [&str; 4] = ["suricata", "zeek-intel", "misp", "stix"];

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds")
}

fn fixture() -> PathBuf {
    data("feeds-export")
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("feed-export-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `poolscope feed --feeds DIR export --as FORMAT --kind KIND`; returns stdout.
fn export(feeds: &Path, format: &str, kind: &str) -> String {
    let out = poolscope(&[
        "feed",
        "--feeds",
        feeds.to_str().unwrap(),
        "export",
        "--as",
        format,
        "--kind",
        kind,
    ]);
    assert!(
        out.status.success(),
        "export {format}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ------------------------------------------------------------- Suricata rule grammar

/// Keywords the exported rules may use, as the Suricata 7 rule documentation defines them.
const STICKY_BUFFERS: [&str; 6] = [
    "tls.sni",
    "dns.query",
    "tls.cert_fingerprint",
    "ja3.hash",
    "ja3s.hash",
    "ja4.hash",
];
const TRANSFORMS: [&str; 1] = ["dotprefix"];
const CONTENT_MODIFIERS: [&str; 1] = ["endswith"];
const OTHER_KEYWORDS: [&str; 7] = [
    "msg",
    "flow",
    "classtype",
    "reference",
    "metadata",
    "sid",
    "rev",
];
/// From Suricata's classification.config: `config classification: coin-mining,Crypto
/// Currency Mining Activity Detected,2`.
const CLASSTYPES: [&str; 1] = ["coin-mining"];

/// Splits rule options at `;` outside quoted strings, honouring backslash escapes.
fn split_options(body: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in body.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => {
                cur.push(c);
                escaped = true;
            }
            '"' => {
                cur.push(c);
                quoted = !quoted;
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    if quoted || escaped {
        return Err("unterminated string or escape".into());
    }
    if !cur.trim().is_empty() {
        return Err(format!("text after the last ';': {cur:?}"));
    }
    Ok(out)
}

/// A content string: quoted, no raw `"` `;` `\` inside, `|..|` holding hex byte pairs.
fn check_content(v: &str) -> Result<(), String> {
    let inner = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .ok_or_else(|| format!("content {v} is not quoted"))?;
    let mut in_hex = false;
    let mut n = 0;
    for p in inner.split('|') {
        n += 1;
        if in_hex {
            let hex: String = p.split_whitespace().collect();
            if hex.is_empty() || hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!("bad hex block |{p}| in {v}"));
            }
        } else if p.contains(['"', ';', '\\']) {
            return Err(format!("unescaped metacharacter in {v}"));
        }
        in_hex = !in_hex;
    }
    if n % 2 == 0 {
        return Err(format!("unbalanced | in {v}"));
    }
    Ok(())
}

fn check_addr(a: &str) -> Result<(), String> {
    if a == "any" {
        return Ok(());
    }
    let (ip, prefix) = a.split_once('/').unwrap_or((a, ""));
    let ip: std::net::IpAddr = ip.parse().map_err(|_| format!("bad address {a}"))?;
    if !prefix.is_empty() {
        let p: u8 = prefix.parse().map_err(|_| format!("bad prefix {a}"))?;
        if p > if ip.is_ipv4() { 32 } else { 128 } {
            return Err(format!("prefix too long {a}"));
        }
    }
    Ok(())
}

fn check_port(p: &str) -> Result<(), String> {
    if p == "any" || p.parse::<u16>().is_ok_and(|n| n > 0) {
        Ok(())
    } else {
        Err(format!("bad port {p}"))
    }
}

/// One rule against the grammar; returns its sid and msg.
fn check_rule(rule: &str) -> Result<(u32, String), String> {
    let open = rule.find(" (").ok_or("no option list")?;
    let body = rule[open + 2..]
        .strip_suffix(')')
        .ok_or("option list not closed")?;
    let header: Vec<&str> = rule[..open].split(' ').collect();
    let [action, proto, src, sport, dir, dst, dport] = header[..] else {
        return Err(format!("header has {} fields, not 7", header.len()));
    };
    if !["alert", "pass", "drop", "reject"].contains(&action) {
        return Err(format!("action {action}"));
    }
    if !["tcp", "udp", "ip", "tls", "dns"].contains(&proto) {
        return Err(format!("protocol {proto}"));
    }
    if !["->", "<>"].contains(&dir) {
        return Err(format!("direction {dir}"));
    }
    check_addr(src)?;
    check_addr(dst)?;
    check_port(sport)?;
    check_port(dport)?;
    let mut sid = None;
    let mut msg = None;
    let mut rev = false;
    // After a sticky buffer, optionally transforms, then a content must follow.
    let mut pending_buffer: Option<String> = None;
    let mut last_was_content = false;
    for opt in split_options(body)? {
        let (kw, val) = match opt.split_once(':') {
            Some((k, v)) => (k.trim(), Some(v.trim())),
            None => (opt.as_str(), None),
        };
        let was_content = last_was_content;
        last_was_content = false;
        if STICKY_BUFFERS.contains(&kw) {
            if val.is_some() || pending_buffer.is_some() {
                return Err(format!("sticky buffer {kw} misused"));
            }
            pending_buffer = Some(kw.to_string());
        } else if TRANSFORMS.contains(&kw) {
            if pending_buffer.is_none() {
                return Err(format!("transform {kw} outside a buffer"));
            }
        } else if kw == "content" {
            check_content(val.ok_or("content without value")?)?;
            if pending_buffer.take().is_none() && proto != "tcp" {
                return Err("content outside a sticky buffer".into());
            }
            last_was_content = true;
        } else if CONTENT_MODIFIERS.contains(&kw) {
            if !was_content {
                return Err(format!("{kw} does not follow a content"));
            }
            last_was_content = true;
        } else if OTHER_KEYWORDS.contains(&kw) {
            let v = val.ok_or_else(|| format!("{kw} without value"))?;
            match kw {
                "msg" => {
                    let inner = v
                        .strip_prefix('"')
                        .and_then(|s| s.strip_suffix('"'))
                        .ok_or("msg not quoted")?;
                    msg = Some(inner.replace("\\\"", "\"").replace("\\;", ";"));
                }
                "sid" => sid = Some(v.parse::<u32>().map_err(|_| format!("sid {v}"))?),
                "rev" => rev = v.parse::<u32>().is_ok(),
                "classtype" if !CLASSTYPES.contains(&v) => return Err(format!("classtype {v}")),
                "metadata" => {
                    for kv in v.split(',') {
                        let kv: Vec<&str> = kv.split_whitespace().collect();
                        if kv.len() != 2 {
                            return Err(format!("metadata entry {kv:?} is not 'key value'"));
                        }
                    }
                }
                "reference" if !v.starts_with("url,") => return Err(format!("reference {v}")),
                "flow" if v != "to_server" => return Err(format!("flow {v}")),
                _ => {}
            }
        } else {
            return Err(format!("unknown keyword {kw}"));
        }
    }
    if let Some(b) = pending_buffer {
        return Err(format!("sticky buffer {b} without content"));
    }
    if !rev {
        return Err("no rev".into());
    }
    Ok((sid.ok_or("no sid")?, msg.ok_or("no msg")?))
}

/// Every rule of an export checked; sids unique and in the local range. Returns sid → msg.
fn check_rules(text: &str) -> BTreeMap<u32, String> {
    let mut sids = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (sid, msg) = check_rule(line).unwrap_or_else(|e| panic!("line {}: {e}\n{line}", i + 1));
        assert!(
            (1_000_000..2_000_000).contains(&sid),
            "sid {sid} outside the local range"
        );
        assert!(sids.insert(sid, msg).is_none(), "sid {sid} twice");
    }
    sids
}

#[test]
fn the_grammar_check_refuses_broken_rules() {
    // The checker itself must fail on what Suricata refuses.
    let good = "alert tls any any -> any any (msg:\"x\"; tls.sni; dotprefix; content:\".a.com\"; endswith; classtype:coin-mining; metadata:source a; sid:1000001; rev:1;)";
    assert!(check_rule(good).is_ok());
    for bad in [
        good.replace("content:\".a.com\"", "content:\".a;com\""),
        good.replace("content:\".a.com\"", "content:\".a|3.com\""),
        good.replace(
            "tls.sni; dotprefix; content:\".a.com\"; endswith;",
            "tls.sni;",
        ),
        good.replace("endswith;", "nocase_x;"),
        good.replace("rev:1;", ""),
        good.replace("classtype:coin-mining", "classtype:mining"),
        good.replace("any any ->", "any any =>"),
        good.replace("metadata:source a", "metadata:source a b"),
    ] {
        assert!(check_rule(&bad).is_err(), "accepted: {bad}");
    }
}

#[test]
fn suricata_rules_of_the_shipped_feeds_follow_the_grammar() {
    for kind in ["pool", "all"] {
        let text = export(&shipped(), "suricata", kind);
        let sids = check_rules(&text);
        assert!(
            sids.len() > 100,
            "only {} rules for --kind {kind}",
            sids.len()
        );
    }
}

#[test]
fn sids_survive_a_feed_change() {
    // A rule keeps its sid when other rows are added (barring a hash collision, which the
    // fixture has none of).
    let small = check_rules(&export(&fixture(), "suricata", "pool"));
    let large = check_rules(&export(&fixture(), "suricata", "all"));
    for (sid, msg) in &small {
        assert_eq!(large.get(sid), Some(msg), "sid {sid} changed meaning");
    }
    assert!(large.len() > small.len());
}

// ------------------------------------------------------------- Zeek Intel

#[test]
fn zeek_intel_file_follows_the_documented_format() {
    // Zeek's input framework: a `#fields` line naming the columns, tab separated, `-` unset;
    // indicator types of the Intel framework.
    let text = export(&shipped(), "zeek-intel", "all");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url")
    );
    let mut types = BTreeSet::new();
    let mut seen = BTreeSet::new();
    for l in lines {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 5, "{l}");
        assert!(f.iter().all(|c| !c.is_empty() && c.trim() == *c), "{l}");
        assert!(
            [
                "Intel::DOMAIN",
                "Intel::ADDR",
                "Intel::SUBNET",
                "Intel::CERT_HASH"
            ]
            .contains(&f[1]),
            "{l}"
        );
        match f[1] {
            "Intel::ADDR" => assert!(f[0].parse::<std::net::IpAddr>().is_ok(), "{l}"),
            "Intel::DOMAIN" => assert!(f[0] == f[0].to_ascii_lowercase() && f[0].contains('.')),
            _ => {}
        }
        assert!(
            seen.insert((f[0], f[1], f[2])),
            "indicator twice for one source: {l}"
        );
        types.insert(f[1]);
    }
    assert!(types.contains("Intel::DOMAIN") && types.contains("Intel::ADDR"));
}

// ------------------------------------------------------------- round trip

/// Export, import into an empty feeds directory, export again: the same bytes.
fn round_trip(feeds: &Path, format: &str, name: &str) {
    let first = export(feeds, format, "all");
    let dir = scratch(name);
    let file = dir.join(format!("export.{format}.json"));
    std::fs::write(&file, &first).unwrap();
    let empty = dir.join("feeds");
    std::fs::create_dir_all(&empty).unwrap();
    let out = poolscope(&[
        "feed",
        "--feeds",
        empty.to_str().unwrap(),
        "import",
        format,
        file.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "import {format}: {stderr}");
    assert!(
        stderr.contains(" 0 skipped"),
        "import {format} skipped records: {stderr}"
    );
    let second = export(&empty, format, "all");
    if first != second {
        let (line, a, b) = first_difference(&first, &second);
        panic!("{format} round trip differs at line {line}:\n{a}\n{b}");
    }
    // And the other formats agree too: nothing was lost on the way.
    for other in FORMATS {
        if other != "misp" && other != "stix" {
            assert_eq!(
                export(feeds, other, "all"),
                export(&empty, other, "all"),
                "{other}"
            );
        }
    }
}

#[test]
fn misp_round_trip_of_the_fixture() {
    round_trip(&fixture(), "misp", "misp-fixture");
}

#[test]
fn stix_round_trip_of_the_fixture() {
    round_trip(&fixture(), "stix", "stix-fixture");
}

#[test]
fn misp_round_trip_of_the_shipped_feeds() {
    round_trip(&shipped(), "misp", "misp-shipped");
}

#[test]
fn stix_round_trip_of_the_shipped_feeds() {
    round_trip(&shipped(), "stix", "stix-shipped");
}

#[test]
fn output_file_and_stdout_agree() {
    let dir = scratch("output");
    let file = dir.join("pools.rules");
    let out = poolscope(&[
        "feed",
        "--feeds",
        fixture().to_str().unwrap(),
        "export",
        "--as",
        "suricata",
        "-o",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        export(&fixture(), "suricata", "pool")
    );
    let bad = poolscope(&["feed", "export", "--as", "snort3"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "an unknown format is a usage error"
    );
}

// ------------------------------------------------------------- the format owners' validators

/// Runs `tests/validate_exports.py CHECK FILE`; returns its JSON report, panicking with it
/// when the validator refuses the file.
fn validate(check: &str, text: &str, name: &str) -> Value {
    let dir = scratch(name);
    let file = dir.join(format!("export-{check}"));
    std::fs::write(&file, text).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/validate_exports.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg(check)
        .arg(&file)
        .output()
        .expect("python3 (tests/requirements.txt installed)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{check} validator refused the export: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

#[test]
#[ignore = "needs python3 with tests/requirements.txt (suricata-update)"]
fn suricata_update_parses_every_rule() {
    for (feeds, name) in [(shipped(), "shipped"), (fixture(), "fixture")] {
        let text = export(&feeds, "suricata", "all");
        let ours = check_rules(&text);
        let report = validate("suricata", &text, &format!("suricata-{name}"));
        let rules = report["rules"].as_array().unwrap();
        assert_eq!(rules.len(), ours.len(), "{name}: rules parsed");
        for r in rules {
            let sid = r["sid"].as_u64().unwrap() as u32;
            assert_eq!(r["classtype"], "coin-mining");
            assert_eq!(r["rev"], 1);
            // suricata-update keeps the escapes in msg; ours were removed.
            let msg = r["msg"]
                .as_str()
                .unwrap()
                .replace("\\\"", "\"")
                .replace("\\;", ";");
            assert_eq!(ours.get(&sid), Some(&msg), "{name}: sid {sid}");
        }
    }
}

#[test]
#[ignore = "needs python3 with tests/requirements.txt (stix2-validator)"]
fn stix2_validator_accepts_the_bundles() {
    for (feeds, name) in [(shipped(), "shipped"), (fixture(), "fixture")] {
        for kind in ["pool", "all"] {
            let text = export(&feeds, "stix", kind);
            let report = validate("stix", &text, &format!("stix-{name}-{kind}"));
            assert_eq!(report["errors"], Value::Array(vec![]), "{name} {kind}");
            assert_eq!(report["warnings"], Value::Array(vec![]), "{name} {kind}");
            assert_eq!(report["valid"], true);
        }
    }
}

#[test]
#[ignore = "needs python3 with tests/requirements.txt (pymisp)"]
fn pymisp_loads_the_events() {
    for (feeds, name) in [(shipped(), "shipped"), (fixture(), "fixture")] {
        let text = export(&feeds, "misp", "all");
        let ours: Value = serde_json::from_str(&text).unwrap();
        let report = validate("misp", &text, &format!("misp-{name}"));
        assert_eq!(report["refused"], Value::Array(vec![]), "{name}");
        let attrs = report["attributes"].as_array().unwrap();
        assert_eq!(
            attrs.len(),
            ours["Event"]["Attribute"].as_array().unwrap().len(),
            "{name}: attributes pymisp kept"
        );
        let uuids: BTreeSet<&str> = attrs.iter().map(|a| a["uuid"].as_str().unwrap()).collect();
        assert_eq!(
            uuids.len(),
            attrs.len(),
            "{name}: attribute uuids not unique"
        );
        for a in attrs {
            assert!(a["first_seen"].as_str() <= a["last_seen"].as_str(), "{a}");
        }
    }
}
