//! Export tests over the fixture feeds in `tests/data/feeds-export/`. Expected sids and UUIDs
//! were computed apart from this code (Python's `uuid.uuid5` and a separate FNV-1a), the
//! escapes by hand from an ASCII table.

use super::*;
use crate::intel::{import_str, ImportFormat, ImportOptions};
use std::path::PathBuf;

fn fixture() -> PoolFeed {
    PoolFeed::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/feeds-export"))
        .unwrap()
}

fn all() -> ExportOptions {
    ExportOptions::parse_kinds("all").unwrap()
}

/// The rows of a feed without their line numbers, sorted, for comparing.
fn rows(entries: impl Iterator<Item = FeedEntry>) -> Vec<String> {
    let mut v: Vec<String> = entries
        .map(|mut e| {
            match &mut e {
                FeedEntry::PoolDomain(x) => x.provenance.line = None,
                FeedEntry::BrowserDomain(x) => x.provenance.line = None,
                FeedEntry::Endpoint(x) => x.provenance.line = None,
                FeedEntry::Cert(x) => x.provenance.line = None,
                FeedEntry::Fingerprint(x) => x.provenance.line = None,
                FeedEntry::Allow(x) => x.provenance.line = None,
            }
            format!("{e:?}")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn uuid5_matches_python() {
    // uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, 'poolscope:feed-export'),
    //            'domain:pool.example.com')
    assert_eq!(
        uuid5("domain:pool.example.com"),
        "8548ea77-cfa4-5a6e-9124-4d7b938208a3"
    );
}

#[test]
fn content_escapes_the_rule_metacharacters() {
    assert_eq!(rule_content("a\"b;c\\d|e"), "a|22|b|3B|c|5C|d|7C|e");
    assert_eq!(rule_content(".pool.example.com"), ".pool.example.com");
    assert_eq!(rule_content("tab\there"), "tab|09|here");
    assert_eq!(rule_text("say \"hi\"; ok\\"), "say \\\"hi\\\"\\; ok\\\\");
}

#[test]
fn sids_are_stable_unique_and_in_the_local_range() {
    let keys: Vec<String> = (0..5000).map(|i| format!("tls.sni:k{i}.example")).collect();
    let forward = assign_sids(keys.iter().map(String::as_str));
    let backward = assign_sids(keys.iter().rev().map(String::as_str));
    assert_eq!(forward, backward, "the order keys come in changed the sids");
    let distinct: BTreeSet<u32> = forward.values().copied().collect();
    assert_eq!(distinct.len(), keys.len(), "two keys share a sid");
    assert!(distinct
        .iter()
        .all(|s| (SID_BASE..SID_BASE + SID_RANGE).contains(s)));
    // 5000 keys in a million slots collide (birthday bound): find a colliding pair and check
    // the first in sorted order keeps its slot and the second moves up.
    let slot = |k: &str| (fnv1a(k.as_bytes()) % u64::from(SID_RANGE)) as u32;
    let mut by_slot: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for k in &keys {
        by_slot.entry(slot(k)).or_default().push(k);
    }
    let (s, pair) = by_slot
        .iter()
        .find(|(_, ks)| ks.len() > 1)
        .expect("5000 keys without a collision");
    let mut pair = pair.clone();
    pair.sort();
    assert_eq!(forward[pair[0]], SID_BASE + s);
    assert_ne!(forward[pair[1]], SID_BASE + s);
}

#[test]
fn suricata_rules_for_a_pool_domain() {
    let out = export(
        &fixture(),
        ExportFormat::Suricata,
        &ExportOptions::default(),
    )
    .unwrap();
    // sids: 1,000,000 + FNV-1a-64("tls.sni:pool.example.com") mod 1,000,000, computed apart.
    let want = "alert tls any any -> any any (msg:\"poolscope pool TLS SNI pool.example.com \
                (miningpoolstats 2025-01, team-intel 2024-05-06)\"; tls.sni; dotprefix; \
                content:\".pool.example.com\"; endswith; classtype:coin-mining; \
                metadata:poolscope_kind pool, source team-intel, date 2024-05-06, \
                source miningpoolstats, date 2025-01, coin XMR; sid:1781027; rev:1;)";
    assert!(out.text.lines().any(|l| l == want), "{}", out.text);
    assert!(out.text.contains("sid:1885949; rev:1;)"), "DNS rule sid");
    let endpoint = out
        .text
        .lines()
        .find(|l| l.starts_with("alert tcp any any -> 192.0.2.10 3333 ("))
        .expect("endpoint rule");
    assert!(endpoint.contains("flow:to_server;") && endpoint.contains("sid:1150889;"));
    let cert = out
        .text
        .lines()
        .find(|l| l.contains("tls.cert_fingerprint;"))
        .expect("certificate rule");
    assert!(
        cert.contains("content:\"01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67\";")
    );
    assert!(cert.contains("sid:1186101;"));
    // A URL in a note becomes a reference.
    assert!(out
        .text
        .contains("reference:url,example.org/report/7; metadata:poolscope_kind pool"));
}

#[test]
fn default_export_is_pool_rows_only_and_never_the_allowlist() {
    let feed = fixture();
    for format in ExportFormat::ALL {
        let pool = export(&feed, format, &ExportOptions::default()).unwrap();
        for hint in [
            "wallet.example.org",
            "c2.example.info",
            "coinhive.example.com",
            "203.0.113.5",
        ] {
            assert!(
                !pool.text.contains(hint),
                "{format}: hint {hint} exported by default"
            );
        }
        assert!(pool.text.contains("pool.example.com"), "{format}");
        let everything = export(&feed, format, &all()).unwrap();
        assert!(everything.text.contains("c2.example.info"), "{format}");
        assert!(
            !everything.text.contains("good.example.com"),
            "{format}: allowlist exported"
        );
        assert_eq!(
            everything
                .report
                .skipped
                .get("port-only endpoint rows (no server to name)"),
            Some(&1),
            "{format}"
        );
    }
}

#[test]
fn zeek_intel_lines() {
    let out = export(&fixture(), ExportFormat::ZeekIntel, &all()).unwrap();
    let lines: Vec<&str> = out.text.lines().collect();
    assert_eq!(
        lines[0],
        "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url"
    );
    for l in &lines[1..] {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 5, "{l}");
        assert!(
            f.iter().all(|c| !c.is_empty()),
            "empty cell (unset is -): {l}"
        );
    }
    let find = |ind: &str, ty: &str, src: &str| {
        lines
            .iter()
            .any(|l| l.starts_with(&format!("{ind}\t{ty}\t{src}\t")))
    };
    assert!(find("pool.example.com", "Intel::DOMAIN", "team-intel"));
    assert!(find("pool.example.com", "Intel::DOMAIN", "miningpoolstats"));
    assert!(find("2001:db8::7", "Intel::ADDR", "team-intel"));
    assert!(find("198.51.100.0/24", "Intel::SUBNET", "team-intel"));
    assert!(find(
        "0123456789abcdef0123456789abcdef01234567",
        "Intel::CERT_HASH",
        "learned"
    ));
    // Fingerprints and SHA-256-only certificates have no Zeek Intel type.
    assert!(!out.text.contains("40adfd923eb82b89d8836ba37a19bca1"));
    assert!(!out.text.contains("ffeeddccbbaa9988"));
}

#[test]
fn same_feed_same_bytes() {
    let feed = fixture();
    for format in ExportFormat::ALL {
        let a = export(&feed, format, &all()).unwrap();
        let b = export(&feed, format, &all()).unwrap();
        assert_eq!(a, b, "{format}");
    }
}

#[test]
fn misp_and_stix_round_trip_every_row() {
    let feed = fixture();
    // What the exports can carry: not the allowlist, port-only rows, SPKI-only certificates,
    // nor (STIX) JA4S fingerprints.
    let carried = |e: &FeedEntry, stix: bool| match e {
        FeedEntry::Allow(_) => false,
        FeedEntry::Endpoint(p) => !p.is_port_only(),
        FeedEntry::Cert(c) => c.sha1.is_some() || c.sha256.is_some(),
        FeedEntry::Fingerprint(f) => !(stix && f.kind == FingerprintKind::Ja4s),
        _ => true,
    };
    for (format, import_as, stix) in [
        (ExportFormat::Misp, ImportFormat::Misp, false),
        (ExportFormat::Stix, ImportFormat::Stix, true),
    ] {
        let out = export(&feed, format, &all()).unwrap();
        let opts = ImportOptions::new("not-used", "2000-01-01");
        let back = import_str(import_as, "export.json", &out.text, &opts).unwrap();
        assert_eq!(back.report.skipped, 0, "{format}: {}", back.report);
        let want = rows(feed.entries().filter(|e| carried(e, stix)));
        assert_eq!(rows(back.entries.into_iter()), want, "{format}");
    }
}

#[test]
fn stix_patterns_and_ids() {
    let out = export(&fixture(), ExportFormat::Stix, &all()).unwrap();
    let bundle: Value = serde_json::from_str(&out.text).unwrap();
    let objects = bundle["objects"].as_array().unwrap();
    let pattern_of = |name: &str| {
        objects
            .iter()
            .find(|o| o["name"] == name)
            .map(|o| o["pattern"].as_str().unwrap().to_string())
    };
    assert_eq!(
        pattern_of("poolscope pool server [2001:db8::7]:443").as_deref(),
        Some(
            "[network-traffic:dst_ref.type = 'ipv6-addr' AND network-traffic:dst_ref.value = \
             '2001:db8::7' AND network-traffic:dst_port = 443]"
        )
    );
    assert_eq!(
        pattern_of("poolscope pool domain pool.example.com").as_deref(),
        Some("[domain-name:value = 'pool.example.com']")
    );
    let domain = objects
        .iter()
        .find(|o| o["name"] == "poolscope pool domain pool.example.com")
        .unwrap();
    // uuid.UUID(bytes=uuid.uuid5(ns, 'stix-indicator:domain:pool.example.com').bytes,
    //           version=4) in Python.
    assert_eq!(
        domain["id"],
        "indicator--8a1e2b57-8176-41dc-b054-f5bd24873109"
    );
    assert_eq!(domain["valid_from"], "2024-05-06T00:00:00.000Z");
    assert_eq!(domain["modified"], "2025-01-01T00:00:00.000Z");
    assert_eq!(stix_str("it's \\ odd"), "'it\\'s \\\\ odd'");
}

/// Detections follow the age policy of `score`: measured to the feed's newest row
/// (2026-01-03, a maltrail-malware row) the fixture's addresses of 2024-05-06 and 2024-06-01
/// are 1.7 and 1.6 years old, within the two years an address stays proof; measured to
/// 2026-12-06 they are 2.6 and 2.5 years old and left out, while the names (ten years) stay.
/// MISP and STIX keep every row with its dates.
#[test]
fn detections_leave_out_rows_older_than_the_age_policy() {
    let feed = fixture();
    let text = |opts: &ExportOptions, format| export(&feed, format, opts).unwrap().text;
    let newest = ExportOptions::default();
    let rules = text(&newest, ExportFormat::Suricata);
    assert!(rules.contains("-> 192.0.2.10 3333"), "{rules}");
    assert!(rules.contains("-> 2001:db8::7 443"), "{rules}");
    assert!(rules.contains("-> 198.51.100.0/24 any"), "{rules}");

    let later = ExportOptions {
        at: crate::intel::age::row_time("2026-12-06"),
        ..ExportOptions::default()
    };
    let rules = text(&later, ExportFormat::Suricata);
    assert!(!rules.contains("192.0.2.10"), "{rules}");
    assert!(!rules.contains("2001:db8::7"), "{rules}");
    assert!(!rules.contains("198.51.100.0/24"), "{rules}");
    assert!(rules.contains("content:\".pool.example.com\""), "{rules}");
    let intel = text(&later, ExportFormat::ZeekIntel);
    assert!(!intel.contains("192.0.2.10"), "{intel}");
    assert!(intel.contains("pool.example.com\tIntel::DOMAIN"), "{intel}");
    let skipped = export(&feed, ExportFormat::Suricata, &later)
        .unwrap()
        .report;
    assert!(
        format!("{skipped:?}").contains("older than the age policy"),
        "{skipped:?}"
    );

    let stale_too = ExportOptions {
        include_stale: true,
        ..later.clone()
    };
    assert!(text(&stale_too, ExportFormat::Suricata).contains("192.0.2.10"));
    assert!(text(&later, ExportFormat::Misp).contains("192.0.2.10"));
    assert!(text(&later, ExportFormat::Stix).contains("192.0.2.10"));
}
