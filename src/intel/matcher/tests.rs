//! Matcher tests: suffix matching on label boundaries, longest-prefix CIDR, hash sets,
//! strengths, allowlist precedence, `check` and `stats`, on small inline feeds and on the
//! shipped feeds.

use super::*;
use crate::intel::feeds::{FeedFile, PoolFeed};
use std::path::Path;

/// A feed from inline TSV texts, one per file (header included).
fn feed(files: &[(FeedFile, &str)]) -> PoolFeed {
    let mut f = PoolFeed::default();
    for (file, text) in files {
        f.parse_file(*file, Path::new(file.file_name()), text)
            .unwrap();
    }
    f
}

fn domains(rows: &str) -> (FeedFile, String) {
    (
        FeedFile::PoolDomains,
        format!("domain\tcoin\tkind\tsource\tdate\n{rows}"),
    )
}

/// Rows that never age: the tests of matching itself. Ageing has its own tests below.
const AGELESS: AgePolicy = AgePolicy {
    domain_years: f64::INFINITY,
    address_years: f64::INFINITY,
};

fn matcher(files: &[(FeedFile, String)]) -> Matcher {
    let files: Vec<(FeedFile, &str)> = files.iter().map(|(f, t)| (*f, t.as_str())).collect();
    Matcher::new(&feed(&files)).with_policy(AGELESS)
}

fn sni(m: &Matcher, name: &str) -> Vec<Match> {
    m.match_flow(&FlowView {
        sni: Some(name),
        ..FlowView::default()
    })
}

fn to(m: &Matcher, ip: &str, port: u16) -> Vec<Match> {
    m.match_flow(&FlowView {
        server_ip: Some(ip.parse().unwrap()),
        server_port: Some(port),
        ..FlowView::default()
    })
}

fn values(ms: &[Match]) -> Vec<(String, Strength)> {
    ms.iter().map(|m| (m.value.clone(), m.strength)).collect()
}

#[test]
fn suffix_match_on_label_boundaries() {
    let m = matcher(&[domains(
        "pool.example\tXMR\tpool\tcoinblockerlists\t2018-06-06\n",
    )]);
    for hit in [
        "pool.example",
        "xmr.pool.example",
        "a.b.c.pool.example",
        "POOL.Example",
        "xmr.pool.example.",
        "*.pool.example",
    ] {
        let ms = sni(&m, hit);
        assert_eq!(ms.len(), 1, "{hit}");
        assert_eq!(ms[0].value, "pool.example");
        assert_eq!(ms[0].strength, Strength::Mining);
        assert_eq!(ms[0].field, Field::Sni);
    }
    for miss in [
        "notpool.example",
        "example",
        "pool.example.evil",
        "poolexample",
        "ool.example",
        "",
        ".",
    ] {
        assert!(sni(&m, miss).is_empty(), "{miss}");
    }
    assert_eq!(
        sni(&m, "xmr.pool.example")[0].reason(),
        "feed:domain:pool.example (coinblockerlists 2018-06-06)"
    );
    assert_eq!(sni(&m, "XMR.Pool.Example.")[0].observed, "xmr.pool.example");
}

#[test]
fn most_specific_listed_suffix_wins_and_every_source_is_cited() {
    let m = matcher(&[domains(
        "pool.example\t\tpool\tcoinblockerlists\t2018-06-06\n\
         xmr.pool.example\tXMR\tpool\tsmashed\t2018-05-13\n\
         xmr.pool.example\t\tpool\tcoinblockerlists\t2018-06-06\n",
    )]);
    let ms = sni(&m, "eu.xmr.pool.example");
    let cited: Vec<(&str, &str)> = ms
        .iter()
        .map(|m| (m.value.as_str(), m.source.as_str()))
        .collect();
    assert_eq!(
        cited,
        [
            ("xmr.pool.example", "smashed"),
            ("xmr.pool.example", "coinblockerlists")
        ]
    );
    assert_eq!(sni(&m, "web.pool.example")[0].value, "pool.example");
}

#[test]
fn idn_punycode_is_compared_as_is() {
    let m = matcher(&[domains(
        "xn--mytherwllet-r8a0c.com\t\tpool\tcoinblockerlists\t2018-06-06\n",
    )]);
    assert_eq!(sni(&m, "xn--mytherwllet-r8a0c.com").len(), 1);
    assert_eq!(sni(&m, "WWW.XN--MYTHERWLLET-R8A0C.COM").len(), 1);
    // No IDNA mapping: the Unicode form does not match the xn-- entry.
    assert!(sni(&m, "myètherwället.com").is_empty());
}

#[test]
fn names_come_from_sni_dns_cn_and_san_each_once() {
    let m = matcher(&[domains("pool.example\t\tpool\ts\t2018\n")]);
    let dns = vec!["a.pool.example".to_string(), "pool.example".to_string()];
    let san = vec![
        "*.pool.example".to_string(),
        "10.0.0.1".to_string(),
        "other.example".to_string(),
    ];
    let ms = m.match_flow(&FlowView {
        sni: Some("pool.example"),
        dns_names: &dns,
        cert_san: &san,
        cert_subject_cn: Some("cn.pool.example"),
        ..FlowView::default()
    });
    let fields: Vec<(Field, &str)> = ms.iter().map(|m| (m.field, m.observed.as_str())).collect();
    assert_eq!(
        fields,
        [
            (Field::Sni, "pool.example"),
            (Field::DnsName, "a.pool.example"),
            (Field::CertSubjectCn, "cn.pool.example"),
        ]
    );
}

#[test]
fn crypto_related_sites_and_browser_domains() {
    let m = matcher(&[
        domains("binance.com\t\tcrypto-related\tcoinblockerlists\t2018-06-06\n"),
        (
            FeedFile::BrowserDomains,
            "domain\tsource\tdate\ncoinhive.com\tnocoin\t2025-11-10\n".into(),
        ),
    ]);
    let ms = sni(&m, "api.binance.com");
    assert_eq!(ms[0].strength, Strength::Suspect);
    assert_eq!(
        ms[0].reason(),
        "hint:domain:binance.com (crypto-related site, coinblockerlists 2018-06-06, weak)"
    );
    let ms = sni(&m, "ws.coinhive.com");
    assert_eq!(ms[0].kind, MatchKind::BrowserDomain);
    assert_eq!(
        ms[0].reason(),
        "feed:browser_domain:coinhive.com (nocoin 2025-11-10)"
    );
}

fn endpoints(rows: &str) -> (FeedFile, String) {
    (
        FeedFile::PoolEndpoints,
        format!("ip\tport\tcoin\thost\tsource\tdate\n{rows}"),
    )
}

#[test]
fn cidr_longest_prefix_v4() {
    let m = matcher(&[endpoints(
        "10.0.0.0/8\t\t\t\teight\t2018\n\
         10.1.0.0/16\t3333\tXMR\t\tsixteen\t2018\n\
         10.1.2.3\t4444\t\tpool.example\tthirtytwo\t2018\n",
    )]);
    let src = |ip: &str, port: u16| -> Vec<(String, Strength)> {
        to(&m, ip, port)
            .iter()
            .map(|m| (m.source.clone(), m.strength))
            .collect()
    };
    use Strength::*;
    assert_eq!(src("10.1.2.3", 4444), [("thirtytwo".into(), Mining)]);
    // The /32 row is for another port: the next prefix that fits wins.
    assert_eq!(src("10.1.2.3", 3333), [("sixteen".into(), Mining)]);
    assert_eq!(src("10.1.2.3", 80), [("eight".into(), Mining)]);
    assert_eq!(src("10.200.0.1", 80), [("eight".into(), Mining)]);
    assert!(src("11.0.0.1", 3333).is_empty());
    let ms = to(&m, "10.1.2.3", 4444);
    assert_eq!(ms[0].value, "10.1.2.3:4444");
    assert_eq!(ms[0].detail, "pool.example");
    assert_eq!(
        ms[0].reason(),
        "feed:endpoint:10.1.2.3:4444 (thirtytwo 2018)"
    );
    assert_eq!(to(&m, "10.1.9.9", 3333)[0].value, "10.1.0.0/16:3333");
}

#[test]
fn cidr_v6_and_mapped_v4() {
    let m = matcher(&[endpoints(
        "2001:db8::/32\t\t\t\twide\t2018\n\
         2001:db8:1::/48\t443\t\t\tnarrow\t2018\n\
         2001:db8:1::7\t\t\t\thost\t2018\n\
         192.0.2.1\t3333\t\t\tv4\t2018\n",
    )]);
    let first = |ip: &str, port: u16| to(&m, ip, port)[0].source.clone();
    assert_eq!(first("2001:db8:1::7", 443), "host");
    assert_eq!(first("2001:db8:1::8", 443), "narrow");
    assert_eq!(first("2001:db8:1::8", 80), "wide");
    assert_eq!(first("2001:db8:ffff::1", 80), "wide");
    assert!(to(&m, "2001:db9::1", 80).is_empty());
    assert_eq!(first("::ffff:192.0.2.1", 3333), "v4");
    assert_eq!(to(&m, "2001:db8:1::7", 443)[0].value, "2001:db8:1::7");
}

#[test]
fn slash_zero_slash_32_and_port_only() {
    let m = matcher(&[endpoints(
        "0.0.0.0/0\t3333\t\t\tv4any\t2018\n\
         *\t14444\t\t\tsmashed-ports\t2018-05-13\n\
         192.0.2.1/32\t\t\t\texact\t2018\n\
         ::/0\t5555\t\t\tv6any\t2018\n",
    )]);
    let ms = to(&m, "8.8.8.8", 3333);
    assert_eq!(values(&ms), [("3333".to_string(), Strength::Suspect)]);
    assert_eq!(ms[0].field, Field::ServerPort);
    assert_eq!(
        ms[0].reason(),
        "hint:port:3333 (port only, v4any 2018, weak)"
    );
    // A /0 network is for its own family only; `*` is for both.
    assert!(to(&m, "2001:db8::1", 3333).is_empty());
    assert_eq!(to(&m, "2001:db8::1", 14444).len(), 1);
    assert_eq!(to(&m, "8.8.8.8", 14444).len(), 1);
    assert_eq!(to(&m, "2001:db8::1", 5555).len(), 1);
    assert!(to(&m, "8.8.8.8", 5555).is_empty());
    // /32 is exact; a strong hit makes the port-only hint redundant.
    assert_eq!(
        values(&to(&m, "192.0.2.1", 3333)),
        [("192.0.2.1".to_string(), Strength::Mining)]
    );
    assert!(to(&m, "192.0.2.2", 80).is_empty());
}

#[test]
fn address_listed_for_another_port_is_a_weak_hint() {
    let m = matcher(&[endpoints(
        "185.71.66.20\t14444\tXMR\txmr-eu1.nanopool.org\tsmashed\t2018-05-13\n",
    )]);
    let ms = to(&m, "185.71.66.20", 443);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].strength, Strength::Suspect);
    assert_eq!(
        ms[0].reason(),
        "hint:endpoint:185.71.66.20:14444 (address listed for another port, seen on 443, XMR, \
         xmr-eu1.nanopool.org, smashed 2018-05-13, weak)"
    );
    assert_eq!(to(&m, "185.71.66.20", 14444)[0].strength, Strength::Mining);
}

const SHA1: &str = "3e72d9be1e9e809e6792804dabad55c8a10536e4";
const SHA256: &str = "01191ced1202d80b4ff220c6cb0848dd09b743c8c12bba182a1c05c3fe35b682";
const JA4: &str = "t13d311000_e8f1e7e78f70_1f22a2ca17c4";

fn certs_and_prints() -> Vec<(FeedFile, String)> {
    vec![
        (
            FeedFile::PoolCerts,
            format!(
                "sha1\tsha256\tspki_sha256\tsubject\tissuer\tfirst_seen\tlast_seen\tsource\tnote\n\
                 {SHA1}\t{SHA256}\t\tCN=pool.example\t\t2026-11-01\t2026-11-26\tlearned\t\n"
            ),
        ),
        (
            FeedFile::MinerFingerprints,
            format!(
                "kind\tvalue\tclient\tsource\tdate\tnote\n\
                 ja4\t{JA4}\txmrig 6.26.0 tls+sni\tlab\t2026-11-26\tweak\n\
                 ja3\ta3afc2c46ba4a7d7fbe1cfb7a3031c2f\txmrig 6.26.0 tls+sni\tlab\t2026-11-26\tweak\n"
            ),
        ),
    ]
}

#[test]
fn certificate_and_fingerprint_sets() {
    let m = matcher(&certs_and_prints());
    let upper = SHA1.to_ascii_uppercase();
    let ms = m.match_flow(&FlowView {
        cert_sha1: Some(&upper),
        cert_sha256: Some(SHA256),
        ja4: Some(JA4),
        ja3: Some("00000000000000000000000000000000"),
        ..FlowView::default()
    });
    let reasons: Vec<String> = ms.iter().map(Match::reason).collect();
    assert_eq!(
        reasons,
        [
            format!("feed:cert:sha1:{SHA1} (learned 2026-11-26)"),
            format!("feed:cert:sha256:{SHA256} (learned 2026-11-26)"),
            format!("hint:ja4:{JA4} (xmrig 6.26.0 tls+sni, lab 2026-11-26, weak)"),
        ]
    );
    assert_eq!(ms[2].strength, Strength::Suspect);
}

fn allowlist(rows: &str) -> (FeedFile, String) {
    (
        FeedFile::Allowlist,
        format!("kind\tvalue\treason\tsource\tdate\n{rows}"),
    )
}

#[test]
fn allowlisted_domain_suppresses_every_list_on_that_name() {
    let m = matcher(&[
        domains("pr0gramm.com\t\tpool\tx\t2018\n"),
        (
            FeedFile::BrowserDomains,
            "domain\tsource\tdate\nminer.pr0gramm.com\tndpi\t2018-04-24\n".into(),
        ),
        allowlist("domain\tpr0gramm.com\twrongly listed\tcoinblockerlists\t2018-06-06\n"),
    ]);
    let ms = sni(&m, "miner.pr0gramm.com");
    assert_eq!(ms.len(), 3, "{ms:#?}");
    assert!(ms[..2]
        .iter()
        .all(|m| m.suppressed_by.is_some() && !m.is_effective()));
    assert_eq!(
        ms[1].reason(),
        "allow:domain:pr0gramm.com (coinblockerlists 2018-06-06) suppresses \
         feed:browser_domain:miner.pr0gramm.com (ndpi 2018-04-24)"
    );
    assert_eq!(ms[2].kind, MatchKind::Allowlist);
    assert_eq!(ms[2].strength, Strength::Allowed);
    assert_eq!(
        ms[2].reason(),
        "allow:domain:pr0gramm.com (coinblockerlists 2018-06-06: wrongly listed)"
    );
    // Not a parent: the allowlist entry does not cover other names.
    assert!(sni(&m, "notpr0gramm.com").is_empty());
}

#[test]
fn allowlisted_host_covers_that_name_only() {
    let m = matcher(&[
        (
            FeedFile::BrowserDomains,
            "domain\tsource\tdate\npr0gramm.com\tcoinblockerlists\t2018-06-06\n".into(),
        ),
        allowlist("host\tm.pr0gramm.com\twrongly listed\tcoinblockerlists\t2018-06-06\n"),
    ]);
    let ms = sni(&m, "M.pr0gramm.com.");
    assert!(ms.iter().all(|m| !m.is_effective()), "{ms:#?}");
    assert_eq!(
        ms[1].reason(),
        "allow:host:m.pr0gramm.com (coinblockerlists 2018-06-06: wrongly listed)"
    );
    let ms = sni(&m, "miner.pr0gramm.com");
    assert_eq!(ms.len(), 1);
    assert!(ms[0].is_effective());
    // Nor does a host row cover the names under it.
    assert!(sni(&m, "x.m.pr0gramm.com")[0].is_effective());
}

#[test]
fn allowlisted_address_and_certificate() {
    let mut files = vec![
        domains("pool.example\t\tpool\tx\t2018\n"),
        endpoints(
            "104.28.16.189\t\t\t\tcoinblockerlists\t2018-06-06\n\
             *\t3333\t\t\tsmashed-ports\t2018-05-13\n\
             198.51.100.7\t\t\t\tsmashed\t2018\n",
        ),
        allowlist(&format!(
            "ip\t104.28.16.189\tshared CDN address\tcoinblockerlists\t2018-06-06\n\
             cidr\t203.0.113.0/24\tour lab\tsite\t2026\n\
             cert\t{SHA1}\tour CDN certificate\tsite\t2026\n\
             domain\tgood.example\tours\tsite\t2026\n"
        )),
    ];
    files.extend(certs_and_prints());
    let m = matcher(&files);

    // Allowlisted address: endpoint hit cancelled, port-only and fingerprint hints too.
    let ms = m.match_flow(&FlowView {
        server_ip: Some("104.28.16.189".parse().unwrap()),
        server_port: Some(443),
        ja4: Some(JA4),
        ..FlowView::default()
    });
    assert!(ms.iter().all(|m| !m.is_effective()), "{ms:#?}");
    assert_eq!(
        ms.last().unwrap().reason(),
        "allow:ip:104.28.16.189 (coinblockerlists 2018-06-06: shared CDN address)"
    );

    // A network allowlist cancels a port-only hint inside it.
    let ms = to(&m, "203.0.113.9", 3333);
    assert_eq!(ms.len(), 2);
    assert!(ms[0]
        .suppressed_by
        .as_ref()
        .is_some_and(|s| s.kind == "cidr"));

    // Allowlisted certificate: its hash hit and names taken from it are cancelled, but the
    // SNI (chosen by the client) and a listed address still count.
    let san = vec!["pool.example".to_string()];
    let ms = m.match_flow(&FlowView {
        server_ip: Some("198.51.100.7".parse().unwrap()),
        server_port: Some(443),
        sni: Some("x.pool.example"),
        cert_san: &san,
        cert_sha1: Some(SHA1),
        ..FlowView::default()
    });
    let effective: Vec<String> = ms
        .iter()
        .filter(|m| m.is_effective())
        .map(Match::reason)
        .collect();
    assert_eq!(
        effective,
        [
            "feed:domain:pool.example (x 2018)".to_string(),
            "feed:endpoint:198.51.100.7 (smashed 2018)".to_string(),
        ]
    );
    let cancelled: Vec<Field> = ms
        .iter()
        .filter(|m| m.suppressed_by.is_some())
        .map(|m| m.field)
        .collect();
    assert_eq!(cancelled, [Field::CertSan, Field::CertSha1]);

    // An allowlisted SNI does not excuse a listed pool address.
    let ms = m.match_flow(&FlowView {
        server_ip: Some("198.51.100.7".parse().unwrap()),
        server_port: Some(443),
        sni: Some("www.good.example"),
        ..FlowView::default()
    });
    assert!(ms
        .iter()
        .any(|m| m.kind == MatchKind::Endpoint && m.is_effective()));
    assert!(ms.iter().any(|m| m.kind == MatchKind::Allowlist));
}

#[test]
fn check_single_values() {
    let mut files = vec![
        domains("pool.example\t\tpool\tx\t2018\n"),
        endpoints(
            "192.0.2.1\t3333\t\t\ts\t2018\n*\t3333\t\t\tports\t2018\n2001:db8::1\t\t\t\ts6\t2018\n",
        ),
        allowlist("domain\tgood.example\tours\tsite\t2026\n"),
    ];
    files.extend(certs_and_prints());
    let m = matcher(&files);
    let kinds = |v: &str| -> Vec<(MatchKind, Strength)> {
        m.check(v).iter().map(|m| (m.kind, m.strength)).collect()
    };
    use MatchKind::*;
    use Strength::*;
    assert_eq!(kinds("xmr.pool.example"), [(Domain, Mining)]);
    // An underscore does not make a name a JA4.
    assert_eq!(kinds("stratum_ltc.pool.example"), [(Domain, Mining)]);
    assert_eq!(m.check("xmr.pool.example")[0].field, Field::Name);
    // An address alone matches its rows whatever their port.
    assert_eq!(kinds("192.0.2.1"), [(Endpoint, Mining)]);
    assert_eq!(kinds("192.0.2.1:3333"), [(Endpoint, Mining)]);
    assert_eq!(kinds("192.0.2.1:80"), [(Endpoint, Suspect)]);
    assert_eq!(kinds("192.0.2.9:3333"), [(Endpoint, Suspect)]);
    assert_eq!(kinds("[2001:db8::1]:80"), [(Endpoint, Mining)]);
    assert_eq!(kinds("2001:db8::1"), [(Endpoint, Mining)]);
    assert_eq!(kinds(SHA1), [(Cert, Mining)]);
    assert_eq!(kinds(&SHA256.to_ascii_uppercase()), [(Cert, Mining)]);
    assert_eq!(kinds(JA4), [(Fingerprint, Suspect)]);
    assert_eq!(
        kinds("a3afc2c46ba4a7d7fbe1cfb7a3031c2f"),
        [(Fingerprint, Suspect)]
    );
    assert_eq!(kinds("www.good.example"), [(Allowlist, Allowed)]);
    assert!(m.check("nothing.example").is_empty());
    assert!(m.check("").is_empty());
    assert!(m.check("not a value at all").is_empty());
}

#[test]
fn stats_count_per_file_source_kind_and_year() {
    let m = matcher(&[
        domains(
            "a.example\t\tpool\tx\t2018\nb.example\t\tpool\ty\t2018\nc.example\t\tpool\tx\t2018\n\
             d.example\t\tminer-malware\tx\t2026-01-03\n",
        ),
        allowlist("domain\tgood.example\tours\tsite\t2026\n"),
    ]);
    let s = m.stats();
    assert_eq!(s.per_file["pool-domains.tsv"], 4);
    assert_eq!(s.per_file["pool-certs.tsv"], 0);
    assert_eq!(s.per_source["pool-domains.tsv"]["x"], 3);
    assert_eq!(s.per_source["allowlist.tsv"]["site"], 1);
    assert!(serde_json::to_string(&s).is_ok());
    let text = s.to_string();
    assert!(
        text.starts_with("file\tsource\tkind\tyear\trows\n"),
        "{text}"
    );
    assert!(
        text.contains("pool-domains.tsv\tx\tpool\t2018\t2\n"),
        "{text}"
    );
    assert!(
        text.contains("pool-domains.tsv\tx\tminer-malware\t2026\t1\n"),
        "{text}"
    );
    assert!(
        text.contains("pool-domains.tsv\ty\tpool\t2018\t1\n"),
        "{text}"
    );
    assert!(text.contains("pool-domains.tsv\t*\t*\t*\t4\n"), "{text}");
    assert!(
        text.contains("allowlist.tsv\tsite\tdomain\t2026\t1\n"),
        "{text}"
    );
}

#[test]
fn flow_view_from_tls_info() {
    let m = matcher(&[domains("pool.example\t\tpool\tx\t2018\n")]);
    let tls = TlsInfo {
        sni: Some("other.example".into()),
        cert_subject: Some("CN=stratum.pool.example, O=Pool".into()),
        ..TlsInfo::default()
    };
    let dns: Vec<String> = Vec::new();
    let view = FlowView::from_tls("192.0.2.1".parse().unwrap(), 443, &tls, &dns);
    assert_eq!(view.cert_subject_cn, Some("stratum.pool.example"));
    let ms = m.match_flow(&view);
    assert_eq!(ms.len(), 1);
    assert_eq!(ms[0].field, Field::CertSubjectCn);
}

#[test]
fn match_serialises_for_reports() {
    let m = matcher(&[domains("pool.example\tXMR\tpool\tx\t2018\n")]);
    let json = serde_json::to_value(&sni(&m, "a.pool.example")[0]).unwrap();
    assert_eq!(json["kind"], "domain");
    assert_eq!(json["field"], "sni");
    assert_eq!(json["strength"], "mining");
    assert_eq!(json["detail"], "XMR");
    assert!(json["suppressed_by"].is_null());
}

/// The shipped feeds answer for values from the data the project tests on.
#[test]
fn shipped_feeds() {
    let feed = PoolFeed::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds")).unwrap();
    let m = Matcher::new(&feed);
    let effective = |v: &str| -> Vec<String> {
        m.check(v)
            .iter()
            .filter(|m| m.is_effective())
            .map(Match::reason)
            .collect()
    };
    // nesfit xmr-eu1.nanopool.org.pcapng: the pool name is listed.
    assert!(
        effective("xmr-eu1.nanopool.org")
            .iter()
            .any(|r| r.starts_with("feed:domain:")),
        "{:?}",
        effective("xmr-eu1.nanopool.org")
    );
    // sMaSheD: stratum.slushpool.com resolved to 52.21.154.145, port 3333: proof for a flow
    // of 2018, only a hint for one of today (the address may have changed hands since).
    let in_2018 = m.check_at("52.21.154.145:3333", age::row_time("2018-06-01"));
    assert!(in_2018
        .iter()
        .any(|h| h.reason() == "feed:endpoint:52.21.154.145:3333 (smashed 2018-05-13)"));
    let today = m.check("52.21.154.145:3333");
    let smashed = today.iter().find(|h| h.source == "smashed").unwrap();
    assert_eq!(smashed.strength, Strength::Suspect);
    assert!(smashed.detail.contains("y before the flow"), "{smashed:?}");
    // Browser mining.
    assert!(effective("coinhive.com")
        .iter()
        .any(|r| r.starts_with("feed:browser_domain:coinhive.com")));
    // XMRig's JA4 is only ever a weak hint.
    let ja4 = m.check(JA4);
    assert!(!ja4.is_empty() && ja4.iter().all(|m| m.strength == Strength::Suspect));
    // CoinBlockerLists whitelists the hosts pr0gramm.com and m.pr0gramm.com exactly, and lists
    // miner.pr0gramm.com itself: the one is cancelled, the other stands.
    let ms = m.check("m.pr0gramm.com");
    assert!(ms.iter().any(|m| m.kind == MatchKind::BrowserDomain));
    assert!(ms.iter().all(|m| !m.is_effective()), "{ms:#?}");
    assert!(ms.iter().any(|m| m
        .reason()
        .starts_with("allow:host:m.pr0gramm.com (coinblockerlists")));
    assert!(effective("miner.pr0gramm.com")
        .contains(&"feed:browser_domain:miner.pr0gramm.com (ndpi 2018-04-24)".to_string()));
    // Ordinary names and addresses are not listed.
    assert!(m.check("www.example.com").is_empty());
    assert!(m.check("9.9.9.9").is_empty());
    assert!(m.check("notnanopool.org").is_empty());
}

/// The flow time of a day, Unix seconds.
fn day(d: &str) -> f64 {
    age::row_time(d).unwrap()
}

fn sni_at(m: &Matcher, name: &str, port: u16, at: &str) -> Vec<Match> {
    m.match_flow(&FlowView {
        sni: Some(name),
        server_port: Some(port),
        at: Some(day(at)),
        ..FlowView::default()
    })
}

#[test]
fn pool_rows_weaken_with_their_distance_from_the_flow() {
    let m = Matcher::new(&feed(&[
        (
            FeedFile::PoolDomains,
            "domain\tcoin\tkind\tsource\tdate\npool.example\tXMR\tpool\ts\t2018-05-13\n",
        ),
        (
            FeedFile::PoolEndpoints,
            "ip\tport\tcoin\thost\tsource\tdate\n198.51.100.7\t3333\t\t\ts\t2018-05-13\n",
        ),
    ]));
    let to_at = |at: &str| {
        m.match_flow(&FlowView {
            server_ip: Some("198.51.100.7".parse().unwrap()),
            server_port: Some(3333),
            at: Some(day(at)),
            ..FlowView::default()
        })
    };
    // An address: proof within two years either side of its date, a hint beyond.
    assert_eq!(to_at("2018-06-01")[0].strength, Strength::Mining);
    assert_eq!(to_at("2016-06-01")[0].strength, Strength::Mining);
    let later = &to_at("2021-02-19")[0];
    assert_eq!(later.strength, Strength::Suspect);
    // 2018-05-13 to 2021-02-19 is 1013 days, 2.77 years.
    assert_eq!(
        later.reason(),
        "hint:endpoint:198.51.100.7:3333 (listed 2.8 y before the flow, s 2018-05-13, weak)"
    );
    assert!(to_at("2015-01-01")[0].detail.contains("y after the flow"));
    // A name: ten years.
    assert_eq!(
        sni_at(&m, "xmr.pool.example", 443, "2026-12-06")[0].strength,
        Strength::Mining
    );
    let late = &sni_at(&m, "xmr.pool.example", 443, "2029-01-01")[0];
    assert_eq!(late.strength, Strength::Suspect);
    assert_eq!(late.detail, "listed 10.6 y before the flow, XMR");
    // The analyst's own limits.
    let lenient = Matcher::new(m.feed()).with_policy(AgePolicy {
        domain_years: 20.0,
        address_years: f64::INFINITY,
    });
    let hits = lenient.match_flow(&FlowView {
        server_ip: Some("198.51.100.7".parse().unwrap()),
        server_port: Some(3333),
        sni: Some("xmr.pool.example"),
        at: Some(day("2029-01-01")),
        ..FlowView::default()
    });
    assert!(
        hits.iter().all(|h| h.strength == Strength::Mining),
        "{hits:?}"
    );
}

#[test]
fn miner_malware_and_crypto_sites_are_hints_whatever_their_age() {
    let m = matcher(&[
        domains(
            "c2.example\t\tminer-malware\tmaltrail-malware\t2026-01-03\n\
             exchange.example\t\tcrypto-related\tsw\t2026-08-20\n",
        ),
        (
            FeedFile::PoolEndpoints,
            "ip\tport\tcoin\thost\tkind\tsource\tdate\tnote\n\
             203.0.113.9\t\t\t\tminer-malware\tmaltrail-malware\t2026-01-03\tredtail_miner\n"
                .to_string(),
        ),
    ]);
    let hits = m.match_flow(&FlowView {
        sni: Some("c2.example"),
        server_ip: Some("203.0.113.9".parse().unwrap()),
        server_port: Some(80),
        at: Some(day("2026-02-01")),
        ..FlowView::default()
    });
    let reasons: Vec<String> = hits.iter().map(Match::reason).collect();
    assert_eq!(
        reasons,
        [
            "hint:domain:c2.example (miner-malware infrastructure, maltrail-malware 2026-01-03, weak)",
            "hint:endpoint:203.0.113.9 (miner-malware infrastructure: redtail_miner, maltrail-malware 2026-01-03, weak)",
        ]
    );
    let ex = sni_at(&m, "www.exchange.example", 443, "2026-09-01");
    assert_eq!(ex[0].strength, Strength::Suspect);
    assert_eq!(ex[0].detail, "crypto-related site");
}

#[test]
fn hosts_under_a_pool_operators_domain() {
    let m = Matcher::new(&feed(&[
        (
            FeedFile::PoolDomains,
            "domain\tcoin\tkind\tsource\tdate\n\
             eth.op-pool.com\t\tpool\tmaltrail\t2026-08-16\n\
             xmr.op-pool.com\t\tpool\tcbl\t2018-06-06\n\
             lone.single.net\t\tpool\tmaltrail\t2026-08-16\n\
             a.ddns.net\t\tpool\tmaltrail\t2026-08-16\n\
             b.ddns.net\t\tpool\tmaltrail\t2026-08-16\n\
             c2.bad-op.com\t\tminer-malware\tmaltrail\t2026-08-16\n\
             d2.bad-op.com\t\tminer-malware\tmaltrail\t2026-08-16\n",
        ),
        (
            FeedFile::PoolEndpoints,
            "ip\tport\tcoin\thost\tsource\tdate\n*\t3333\t\t\tports\t2018\n",
        ),
    ]));
    // On a listed pool port: two independent signs, strong; the freshest row is cited.
    let hits = sni_at(&m, "rvn.op-pool.com", 3333, "2026-12-01");
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].kind, MatchKind::Operator);
    assert_eq!(hits[0].strength, Strength::Mining);
    assert_eq!(
        hits[0].reason(),
        "feed:operator:op-pool.com (pool port 3333, 2 listed pool hosts under it: \
         eth.op-pool.com, xmr.op-pool.com, maltrail 2026-08-16)"
    );
    // Elsewhere (the operator's web site, say): a hint.
    let web = sni_at(&m, "www.op-pool.com", 443, "2026-12-01");
    assert_eq!(web[0].strength, Strength::Suspect);
    assert!(
        web[0]
            .detail
            .starts_with("port 443 is not a pool port, 2 listed"),
        "{web:?}"
    );
    // The operator domain itself (a certificate's `*.op-pool.com` SAN) is one of its names.
    assert_eq!(sni_at(&m, "op-pool.com", 3333, "2026-12-01").len(), 1);
    // A listed host is matched by its own row, not as an operator's.
    let own = sni_at(&m, "eth.op-pool.com", 3333, "2026-12-01");
    assert!(own.iter().all(|h| h.kind == MatchKind::Domain), "{own:?}");
    // One listed host is not an operator; a dynamic-DNS suffix is a public suffix, so its
    // hosts are separate domains; malware hosts make no operator.
    assert!(sni_at(&m, "other.single.net", 3333, "2026-12-01").is_empty());
    assert!(sni_at(&m, "c.ddns.net", 3333, "2026-12-01").is_empty());
    assert!(sni_at(&m, "x.bad-op.com", 3333, "2026-12-01").is_empty());
    assert!(sni_at(&m, "notop-pool.com", 3333, "2026-12-01").is_empty());
    // `feed check` has no port: a hint.
    let checked = m.check("ltc.op-pool.com");
    assert_eq!(checked[0].strength, Strength::Suspect);
    // An allowlisted name cancels it.
    let mut f = m.feed().clone();
    f.parse_file(
        FeedFile::Allowlist,
        Path::new("allowlist.tsv"),
        "kind\tvalue\treason\tsource\tdate\ndomain\twww.op-pool.com\tweb\tus\t2026\n",
    )
    .unwrap();
    let hits = Matcher::new(&f).match_flow(&FlowView {
        sni: Some("www.op-pool.com"),
        server_port: Some(3333),
        at: Some(day("2026-12-01")),
        ..FlowView::default()
    });
    let op = hits.iter().find(|h| h.kind == MatchKind::Operator).unwrap();
    assert!(!op.is_effective());
}
