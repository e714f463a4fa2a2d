//! Import tests over excerpts of the real lists in `tests/data/intel/` (provenance in its
//! PROVENANCE.tsv), and merge tests on a temporary feeds directory.

use super::*;
use crate::intel::feeds::EndpointAddr;
use crate::intel::matcher::{Matcher, Strength};
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/intel")
        .join(name)
}

fn run(format: ImportFormat, file: &str, opts: &ImportOptions) -> Imported {
    import(format, &data(file), opts).unwrap()
}

fn opts(source: &str, date: &str) -> ImportOptions {
    ImportOptions::new(source, date)
}

fn with_target(source: &str, date: &str, target: FeedFile) -> ImportOptions {
    ImportOptions {
        target: Some(target),
        ..opts(source, date)
    }
}

fn domains_of(imp: &Imported) -> Vec<String> {
    imp.entries
        .iter()
        .map(|e| match e {
            FeedEntry::PoolDomain(d) => d.domain.clone(),
            FeedEntry::BrowserDomain(d) => d.domain.clone(),
            FeedEntry::Allow(a) => a.value.to_string(),
            other => panic!("not a name entry: {other:?}"),
        })
        .collect()
}

#[test]
fn hosts_file_coinblockerlists() {
    let imp = run(
        ImportFormat::Hosts,
        "coinblockerlists-hosts.txt",
        &opts("coinblockerlists", "2018-06-06"),
    );
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.comments, r.skipped),
        (20, 14, 6, 0),
        "{r}"
    );
    let names = domains_of(&imp);
    assert_eq!(names[0], "000.0x1f4b0.com");
    assert!(names.contains(&"10k.suprnova.cc".to_string()));
    let FeedEntry::PoolDomain(d) = &imp.entries[0] else {
        panic!("{:?}", imp.entries[0])
    };
    assert_eq!(d.kind, DomainKind::Pool);
    assert_eq!(
        d.provenance,
        Provenance::new("coinblockerlists", "2018-06-06")
    );
}

#[test]
fn hosts_file_nocoin_as_browser_domains() {
    let imp = run(
        ImportFormat::Hosts,
        "nocoin-hosts.txt",
        &with_target("nocoin", "2025-03-05", FeedFile::BrowserDomains),
    );
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.comments, r.skipped),
        (25, 14, 11, 0),
        "{r}"
    );
    assert!(imp
        .entries
        .iter()
        .all(|e| e.file() == FeedFile::BrowserDomains));
    assert!(domains_of(&imp).contains(&"api.browsermine.com".to_string()));
}

#[test]
fn hosts_lines_in_general() {
    let text = "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n\
                0.0.0.0 a.example b.example # two names\nnot-an-address c.example\n";
    let imp = import_str(ImportFormat::Hosts, "t", text, &opts("t", "2026")).unwrap();
    assert_eq!(domains_of(&imp), ["a.example", "b.example"]);
    assert_eq!(imp.report.comments, 2);
    assert_eq!(imp.report.skipped, 1);
    assert!(imp.report.first_skipped[0]
        .1
        .starts_with("not a hosts line"));
}

#[test]
fn plain_domain_list_coinblockerlists_with_bad_lines() {
    let imp = run(
        ImportFormat::Domains,
        "coinblockerlists-list.txt",
        &opts("coinblockerlists", "2018-06-06"),
    );
    let r = &imp.report;
    assert_eq!((r.lines, r.accepted, r.skipped), (35, 30, 5), "{r}");
    // hashbag.cc:8688 and server.com:1234 are host:port; two names are not ASCII (the feed
    // wants their xn-- form); xmr.-eu1.nanopool.org has a label starting with '-'.
    assert_eq!(r.skipped_by_reason["host and port, not a domain"], 2, "{r}");
    assert_eq!(r.skipped_by_reason["bad domain"], 3, "{r}");
    let names = domains_of(&imp);
    assert!(names.contains(&"bestetnpool.com".to_string()), "lowercased");
    assert!(!names.iter().any(|n| n.contains("server.com")));
    assert_eq!(r.first_skipped[0].0, 16, "line of hashbag.cc:8688");
}

#[test]
fn plain_domain_list_ndpi_with_category_column() {
    let imp = run(
        ImportFormat::Domains,
        "ndpi-mining_hosts.txt",
        &with_target("ndpi", "2018-04-24", FeedFile::BrowserDomains),
    );
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.comments, r.skipped),
        (22, 11, 11, 0),
        "{r}"
    );
    assert_eq!(
        domains_of(&imp)[..3],
        ["cnhv.co", "coin-hive.com", "coinhive.com"]
    );
}

#[test]
fn adblock_nocoin_list() {
    let imp = run(
        ImportFormat::Adblock,
        "nocoin.txt",
        &with_target("nocoin", "2025-11-10", FeedFile::BrowserDomains),
    );
    let r = &imp.report;
    assert_eq!(r.lines, 358);
    assert_eq!(r.accepted, 190, "{r}");
    assert_eq!(r.duplicates, 1, "{r}");
    assert_eq!(r.comments, 41, "{r}");
    assert_eq!(r.skipped_by_reason["exception rule"], 8, "{r}");
    assert_eq!(r.skipped_by_reason["URL pattern"], 111, "{r}");
    // `||45.15.156.210^`: browser-mining proxies by address have no feed of that meaning.
    let key = "address in a list for browser-mining-domains.tsv (no address feed of that meaning)";
    assert_eq!(r.skipped_by_reason[key], 7, "{r}");
    assert_eq!(r.skipped, 8 + 111 + 7);
    let names = domains_of(&imp);
    for want in [
        "2miners.com",
        "authedwebmine.cz",
        "coinimp.com",
        "freecontent.date",
        "go.megabanners.cf",
    ] {
        assert!(names.contains(&want.to_string()), "{want}");
    }
    // `||minero-proxy-*.now.sh^` and `||dekoder.ws^*?proxy=` are URL patterns.
    assert!(!names
        .iter()
        .any(|n| n.contains("minero-proxy") || n.starts_with("dekoder")));
    assert!(names.contains(&"party-vqgdyvoycc.now.sh".to_string()));
}

#[test]
fn adblock_addresses_go_to_endpoints_for_the_pool_target() {
    let text = "||45.15.156.210^\n||pool.example^$third-party\n";
    let imp = import_str(ImportFormat::Adblock, "t", text, &opts("t", "2026")).unwrap();
    assert_eq!(imp.entries[0].file(), FeedFile::PoolEndpoints);
    assert_eq!(imp.entries[1].file(), FeedFile::PoolDomains);
}

#[test]
fn adblock_ublock_cosmetic_rules_are_skipped() {
    let imp = run(
        ImportFormat::Adblock,
        "nocoin-ublock.txt",
        &opts("nocoin", "2025-11-10"),
    );
    let r = &imp.report;
    assert_eq!(r.accepted, 0);
    assert_eq!(r.skipped_by_reason["cosmetic rule"], 8, "{r}");
    assert_eq!(r.lines, r.comments + r.skipped);
}

#[test]
fn sslbl_sha1_keeps_only_coinminer_rows_by_default() {
    let imp = run(
        ImportFormat::SslblSha1,
        "sslbl-sha1_fingerprints.csv",
        &opts("abuse.ch-sslbl", "2022-07-02"),
    );
    let r = &imp.report;
    assert_eq!(r.accepted, 1, "{r}");
    assert_eq!(r.comments, 10, "{r}");
    assert_eq!(
        r.skipped_by_reason["listing reason not selected"], 18,
        "{r}"
    );
    let FeedEntry::Cert(c) = &imp.entries[0] else {
        panic!()
    };
    assert_eq!(
        c.sha1.as_deref(),
        Some("84ec9d5d579caa0983fe30917e09aa355af9fe3c")
    );
    assert_eq!(c.first_seen, "2018-10-16");
    assert_eq!(c.last_seen, "2022-07-02");
    assert_eq!(c.note, "SSLBL listing reason: CoinMiner C&C");

    let all = ImportOptions {
        listing_reason: Some("*".into()),
        ..opts("abuse.ch-sslbl", "2022-07-02")
    };
    let imp = run(ImportFormat::SslblSha1, "sslbl-sha1_fingerprints.csv", &all);
    assert_eq!(imp.report.accepted, 19, "{}", imp.report);
    // nDPI's fake first row is uppercase hex: normalised like any other.
    let FeedEntry::Cert(c) = &imp.entries[0] else {
        panic!()
    };
    assert_eq!(
        c.sha1.as_deref(),
        Some("0ddb34f875632c7e1ec09d75827f82d2336dfeb6")
    );
}

#[test]
fn sslbl_ja3() {
    let imp = run(
        ImportFormat::SslblJa3,
        "sslbl-ja3_fingerprints.csv",
        &opts("abuse.ch-sslbl", "2021-08-03"),
    );
    assert_eq!(imp.report.accepted, 1, "{}", imp.report);
    let FeedEntry::Fingerprint(f) = &imp.entries[0] else {
        panic!()
    };
    assert_eq!(f.value, "40adfd923eb82b89d8836ba37a19bca1");
    assert_eq!(f.client, "CoinMiner");
    assert_eq!(f.provenance.date, "2021-04-11");
    let trickbot = ImportOptions {
        listing_reason: Some("trickbot".into()),
        ..opts("abuse.ch-sslbl", "2021-08-03")
    };
    let imp = run(
        ImportFormat::SslblJa3,
        "sslbl-ja3_fingerprints.csv",
        &trickbot,
    );
    assert!(imp.report.accepted >= 1);
}

#[test]
fn ip_lists() {
    let imp = run(
        ImportFormat::Ips,
        "coinblockerlists-MiningServerIPList.txt",
        &opts("coinblockerlists", "2018-06-06"),
    );
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.comments, r.skipped),
        (22, 15, 7, 0),
        "{r}"
    );

    let imp = run(
        ImportFormat::Ips,
        "nemea-default_blacklisted_ip.txt",
        &opts("nemea", "2017"),
    );
    assert_eq!(imp.report.accepted, 31, "{}", imp.report);
    let FeedEntry::Endpoint(e) = &imp.entries[0] else {
        panic!()
    };
    assert_eq!(e.display_value(), "54.235.94.19:9332");

    let text =
        "10.0.0.0/8\n10.0.0.1/8\n[2001:db8::1]:3333\n2001:db8::/32 # lab\nnot-an-ip\n1.2.3.4:0\n";
    let imp = import_str(ImportFormat::Ips, "t", text, &opts("t", "2026")).unwrap();
    let shown: Vec<String> = imp
        .entries
        .iter()
        .map(|e| match e {
            FeedEntry::Endpoint(e) => e.display_value(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(shown, ["10.0.0.0/8", "[2001:db8::1]:3333", "2001:db8::/32"]);
    assert_eq!(imp.report.skipped, 3, "{}", imp.report);

    // To the allowlist: addresses and networks, not ports.
    let imp = run(
        ImportFormat::Ips,
        "nemea-default_blacklisted_ip.txt",
        &with_target("x", "2026", FeedFile::Allowlist),
    );
    assert_eq!(imp.report.accepted, 0);
    assert_eq!(imp.report.skipped, 31);
}

#[test]
fn csv_with_column_map() {
    // sMaSheD's joined table: pool names with their coin.
    let o = ImportOptions {
        map: ImportOptions::parse_map("domain=fqdn").unwrap(),
        ..opts("smashed", "2018-05-13")
    };
    let imp = run(ImportFormat::Csv, "smashed-pool_endpoints.csv", &o);
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.duplicates, r.skipped),
        (16, 9, 6, 0),
        "{r}"
    );
    let FeedEntry::PoolDomain(d) = &imp.entries[0] else {
        panic!()
    };
    assert_eq!(
        (d.domain.as_str(), d.coin.as_str()),
        ("stratum.slushpool.com", "BTC")
    );

    // The same table as endpoints: a cell with several addresses gives one row each.
    let o = ImportOptions {
        target: Some(FeedFile::PoolEndpoints),
        map: ImportOptions::parse_map("ip=resolved_ips_2018, host=fqdn").unwrap(),
        ..opts("smashed", "2018-05-13")
    };
    let imp = run(ImportFormat::Csv, "smashed-pool_endpoints.csv", &o);
    assert_eq!(imp.report.skipped, 0, "{}", imp.report);
    let FeedEntry::Endpoint(e) = &imp.entries[0] else {
        panic!()
    };
    assert_eq!(e.display_value(), "52.18.177.202:3333");
    assert_eq!(e.host, "stratum.slushpool.com");
    assert_eq!(e.coin, "BTC");
    assert_eq!(e.addr, EndpointAddr::Net("52.18.177.202".parse().unwrap()));
    // 6+3+3+2+2+1+2+1+1+1+1+1+2+2+1 address cells, minus (ip, port) pairs repeated across rows.
    assert_eq!(imp.report.accepted + imp.report.duplicates, 29);

    // `--map coin=currency` style, TSV input, per-row date.
    let text = "# exported\nhost\tcurrency\tseen\nXMR.Pool.Example\tXMR\t2026-01-02\nbad..name\tBTC\t2026\n";
    let o = ImportOptions {
        map: ImportOptions::parse_map("domain=host,coin=currency,date=seen").unwrap(),
        ..opts("team", "2026-11-01")
    };
    let imp = import_str(ImportFormat::Csv, "t.tsv", text, &o).unwrap();
    let FeedEntry::PoolDomain(d) = &imp.entries[0] else {
        panic!()
    };
    assert_eq!(
        (d.domain.as_str(), d.coin.as_str()),
        ("xmr.pool.example", "XMR")
    );
    assert_eq!(d.provenance, Provenance::new("team", "2026-01-02"));
    assert_eq!(imp.report.skipped, 1);
    assert_eq!(imp.report.first_skipped[0].0, 4);
}

#[test]
fn csv_map_errors_are_usage_errors() {
    let path = data("smashed-pool_endpoints.csv");
    let o = |map: &str| ImportOptions {
        map: ImportOptions::parse_map(map).unwrap(),
        ..opts("s", "2018")
    };
    let e = import(ImportFormat::Csv, &path, &o("domain=nosuchcolumn"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no column \"nosuchcolumn\""), "{e}");
    let e = import(ImportFormat::Csv, &path, &o("colour=fqdn"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("has no column \"colour\""), "{e}");
    let e = import(ImportFormat::Csv, &path, &o(""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no column for \"domain\""), "{e}");
    assert!(ImportOptions::parse_map("domain").is_err());
}

#[test]
fn csv_reader_handles_quotes_and_multiline_cells() {
    let text = std::fs::read_to_string(data("salesforce-osx-nix-ja3.csv")).unwrap();
    let recs = csv_records(&text, ',');
    assert_eq!(recs.len(), 5);
    assert!(recs[0].1[0].starts_with("Copyright (c) 2017 salesforce.com inc.\nAll rights"));
    assert_eq!(
        recs[1],
        (
            5,
            vec!["61d50e7771aee7f2f4b89a7200b4d45e".into(), "AcroCEF".into()]
        )
    );
    let recs = csv_records("a,\"b \"\"q\"\", c\"\r\nd,e", ',');
    assert_eq!(recs[0].1, ["a", "b \"q\", c"]);
    assert_eq!(recs[1].1, ["d", "e"]);
}

#[test]
fn options_are_checked() {
    let e = import_str(ImportFormat::Hosts, "t", "", &opts("", "2026")).unwrap_err();
    assert!(e.to_string().contains("source"));
    let e = import_str(ImportFormat::Hosts, "t", "", &opts("s", "yesterday")).unwrap_err();
    assert!(e.to_string().contains("date"));
    let e = import_str(
        ImportFormat::SslblJa3,
        "t",
        "",
        &with_target("s", "2026", FeedFile::PoolDomains),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("cannot fill pool-domains.tsv"),
        "{e}"
    );
    assert_eq!(
        "sslbl-sha1".parse::<ImportFormat>().unwrap(),
        ImportFormat::SslblSha1
    );
    assert_eq!(
        "ABP".parse::<ImportFormat>().unwrap(),
        ImportFormat::Adblock
    );
    let e = "rss".parse::<ImportFormat>().unwrap_err().to_string();
    assert!(e.contains("hosts, domains, adblock"), "{e}");
}

#[test]
fn allowlist_import_as_domains_or_exact_hosts() {
    let o = ImportOptions {
        exact_hosts: true,
        ..with_target("coinblockerlists", "2018-06-06", FeedFile::Allowlist)
    };
    let imp = run(ImportFormat::Domains, "coinblockerlists-white_list.txt", &o);
    assert_eq!(imp.report.accepted, 15, "{}", imp.report);
    assert!(imp
        .entries
        .iter()
        .all(|e| matches!(e, FeedEntry::Allow(a) if a.value.kind() == "host")));
    let o = with_target("site", "2026", FeedFile::Allowlist);
    let imp = run(ImportFormat::Domains, "coinblockerlists-white_list.txt", &o);
    assert!(imp
        .entries
        .iter()
        .all(|e| matches!(e, FeedEntry::Allow(a) if a.value.kind() == "domain")));
}

#[test]
fn merge_appends_new_rows_dedupes_and_creates_files() {
    let dir = tempfile::tempdir().unwrap();
    let domains = dir.path().join("pool-domains.tsv");
    let original = "# analyst notes stay\ndomain\tcoin\tkind\tsource\tdate\n\
                    10k.suprnova.cc\t\tpool\tcoinblockerlists\t2018-06-06";
    std::fs::write(&domains, original).unwrap();

    let imp = run(
        ImportFormat::Hosts,
        "coinblockerlists-hosts.txt",
        &opts("coinblockerlists", "2018-06-06"),
    );
    let rep = merge_into_dir(dir.path(), &imp.entries).unwrap();
    assert_eq!(rep.added[&FeedFile::PoolDomains], 13);
    assert_eq!(rep.already_present[&FeedFile::PoolDomains], 1);
    let text = std::fs::read_to_string(&domains).unwrap();
    assert!(text.starts_with(original), "existing lines untouched");
    assert!(text.contains("\n000.0x1f4b0.com\t\tpool\tcoinblockerlists\t2018-06-06\n"));

    // The same value from another source is new provenance, so it is added.
    let again = run(
        ImportFormat::Hosts,
        "coinblockerlists-hosts.txt",
        &opts("mirror", "2018-06-07"),
    );
    let rep = merge_into_dir(dir.path(), &again.entries).unwrap();
    assert_eq!(rep.added[&FeedFile::PoolDomains], 14);
    // A second identical merge adds nothing.
    let rep = merge_into_dir(dir.path(), &again.entries).unwrap();
    assert_eq!(rep.added[&FeedFile::PoolDomains], 0);
    assert_eq!(
        rep.to_string(),
        "pool-domains.tsv: 0 added, 14 already present\n"
    );

    // A file that did not exist is created with its header.
    let ips = run(
        ImportFormat::Ips,
        "nemea-default_blacklisted_ip.txt",
        &opts("nemea", "2017"),
    );
    merge_into_dir(dir.path(), &ips.entries).unwrap();
    let feed = PoolFeed::load(dir.path()).unwrap();
    assert_eq!(feed.pool_domains.len(), 1 + 13 + 14);
    assert_eq!(feed.endpoints.len(), 31);
    assert_eq!(feed.duplicates, 0);

    // And the matcher sees the merged rows with their provenance (weighed at the list's own
    // date: an address row is strong only near it).
    let m = Matcher::new(&feed);
    let hits = m.check_at("54.235.94.19:9332", crate::intel::age::row_time("2017"));
    assert_eq!(hits[0].strength, Strength::Mining);
    assert_eq!(
        hits[0].reason(),
        "feed:endpoint:54.235.94.19:9332 (nemea 2017)"
    );
}

#[test]
fn merge_refuses_a_broken_feed_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool-domains.tsv");
    let broken = "domain\tcoin\tkind\tsource\tdate\nok.example\t\tpool\ts\t2018\nbad..example\t\tpool\ts\t2018\n";
    std::fs::write(&path, broken).unwrap();
    let imp = import_str(
        ImportFormat::Domains,
        "t",
        "new.example\n",
        &opts("t", "2026"),
    )
    .unwrap();
    let e = merge_into_dir(dir.path(), &imp.entries)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pool-domains.tsv:3:"), "{e}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
}

/// `file|value|kind|note|date` of an entry, for comparing imports of the rule formats.
fn show(e: &FeedEntry) -> String {
    match e {
        FeedEntry::PoolDomain(d) => format!(
            "domain|{}|{}|{}|{}",
            d.domain, d.kind, d.note, d.provenance.date
        ),
        FeedEntry::Endpoint(p) => format!(
            "endpoint|{}|{}|{}|{}",
            p.display_value(),
            p.kind,
            p.note,
            p.provenance.date
        ),
        FeedEntry::BrowserDomain(d) => format!("browser|{}|||{}", d.domain, d.provenance.date),
        other => panic!("not a rule-format entry: {other:?}"),
    }
}

/// The corpus directory (`POOLSCOPE_CORPUS`, e.g. `/work/shared/data`) joined with `rel`;
/// `None` (the test returns early) when the variable is unset.
fn corpus(rel: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("POOLSCOPE_CORPUS")?;
    Some(PathBuf::from(dir).join(rel))
}

#[test]
fn maltrail_trails() {
    // Lines of maltrail's trails/static/suspicious/crypto_mining.txt and of the malware
    // trails elf_coinminer.txt (`/bonn.sh`), gupti_miner.txt (`deanmiller.net/m/ `, with its
    // trailing blank) and mykings_miner.txt (its `http://45.58.135.106/xpdown.dat` without the
    // scheme), plus a commented-out trail, a repeated address and a host:port.
    let text = "\
# Copyright (c) 2014-2026 Maltrail developers (https://github.com/stamparm/maltrail/)
# See the file 'LICENSE' for copying permission

# Reference: https://hackforums.net/printthread.php?tid=5655422

107.191.47.239:3333
minergate.com
pool.minergate.com
mineXMR.com
minexmr.com
http://185.141.25.35
# coinhive.com
/bonn.sh
45.58.135.106/xpdown.dat
deanmiller.net/m/ 
185.141.25.35
xmr.pool.minergate.com:45700
";
    let imp = import_str(
        ImportFormat::Maltrail,
        "crypto_mining.txt",
        text,
        &opts("maltrail", "2026-08-16"),
    )
    .unwrap();
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.duplicates, r.comments, r.skipped),
        (17, 7, 2, 6, 2),
        "{r}"
    );
    assert_eq!(r.skipped_by_reason["URL path without a host"], 1, "{r}");
    assert_eq!(r.skipped_by_reason["host and port, not a domain"], 1, "{r}");
    assert_eq!((r.first_skipped[0].0, r.first_skipped[1].0), (13, 17));
    let shown: Vec<String> = imp.entries.iter().map(show).collect();
    assert_eq!(
        shown,
        [
            "endpoint|107.191.47.239:3333|pool||2026-08-16",
            "domain|minergate.com|pool||2026-08-16",
            "domain|pool.minergate.com|pool||2026-08-16",
            "domain|minexmr.com|pool||2026-08-16",
            "endpoint|185.141.25.35|pool|from URL http://185.141.25.35|2026-08-16",
            "endpoint|45.58.135.106|pool|from URL 45.58.135.106/xpdown.dat|2026-08-16",
            "domain|deanmiller.net|pool|from URL deanmiller.net/m/|2026-08-16",
        ]
    );

    // An endpoint target keeps the addresses only.
    let imp = import_str(
        ImportFormat::Maltrail,
        "crypto_mining.txt",
        text,
        &with_target("maltrail", "2026-08-16", FeedFile::PoolEndpoints),
    )
    .unwrap();
    assert_eq!(imp.report.accepted, 3, "{}", imp.report);
    // The five names (minexmr.com twice: skipped lines are not duplicates) and the host:port.
    assert_eq!(imp.report.skipped_by_reason["not an address"], 6);
}

#[test]
fn maltrail_malware_family_is_the_note() {
    // From maltrail's trails/static/malware/elf_coinminer.txt (lines 7, 10, 20, 35, 74).
    let text = "\
# Reference: https://blog.talosintelligence.com/2018/08/rocke-champion-of-monero-miners.html

3g2upl4pq6kufc4m.tk
sydwzl.cn
/bonn.sh
http://107.173.102.59
";
    let malware = ImportOptions {
        domain_kind: DomainKind::MinerMalware,
        ..opts("maltrail", "2026-08-17")
    };
    let imp = import_str(
        ImportFormat::Maltrail,
        "maltrail/malware_miners/elf_coinminer.txt",
        text,
        &malware,
    )
    .unwrap();
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.comments, r.skipped),
        (6, 3, 2, 1),
        "{r}"
    );
    let shown: Vec<String> = imp.entries.iter().map(show).collect();
    assert_eq!(
        shown,
        [
            "domain|3g2upl4pq6kufc4m.tk|miner-malware|elf_coinminer|2026-08-17",
            "domain|sydwzl.cn|miner-malware|elf_coinminer|2026-08-17",
            "endpoint|107.173.102.59|miner-malware|elf_coinminer; from URL http://107.173.102.59|2026-08-17",
        ]
    );

    // A note given explicitly wins over the file name; without the miner-malware kind the
    // file name is not a family.
    let named = ImportOptions {
        note: Some("rocke".into()),
        ..malware.clone()
    };
    let imp = import_str(ImportFormat::Maltrail, "elf_coinminer.txt", text, &named).unwrap();
    assert!(show(&imp.entries[0]).ends_with("|rocke|2026-08-17"));
    assert!(show(&imp.entries[2]).contains("|rocke; from URL http://107.173.102.59|"));
    let pool = opts("maltrail", "2026-08-17");
    let imp = import_str(ImportFormat::Maltrail, "elf_coinminer.txt", text, &pool).unwrap();
    assert_eq!(
        show(&imp.entries[0]),
        "domain|3g2upl4pq6kufc4m.tk|pool||2026-08-17"
    );
}

#[test]
fn maltrail_corpus_files() {
    let Some(path) = corpus("pool-lists-2026/maltrail/crypto_mining.txt") else {
        return;
    };
    let imp = import(
        ImportFormat::Maltrail,
        &path,
        &opts("maltrail", "2026-08-16"),
    )
    .unwrap();
    let r = &imp.report;
    // f=crypto_mining.txt; wc -l <$f → 1928; grep -cE '^[[:space:]]*(#|$)' $f → 743;
    // distinct hosts, URL hosts included (1 URL, no path-only trail):
    //   grep -v '^#' $f | awk 'NF{print tolower($1)}' | sed -E 's#^[a-z]+://##; s#/.*##' \
    //     | grep -vE '^[0-9.]+(:[0-9]+)?$' | sort -u | wc -l   → 386 domains
    //   (the same with grep -E instead of grep -vE)             → 735 endpoints
    // 1928 - 743 = 1185 trail lines, so 1185 - 386 - 735 = 64 repeats.
    assert_eq!(
        (r.lines, r.accepted, r.duplicates, r.comments, r.skipped),
        (1928, 386 + 735, 64, 743, 0),
        "{r}"
    );
    let domains = imp
        .entries
        .iter()
        .filter(|e| e.file() == FeedFile::PoolDomains)
        .count();
    assert_eq!(domains, 386);

    // A family file as miner-malware: f=elf_coinminer.txt; wc -l → 1592;
    // grep -cE '^[[:space:]]*(#|$)' → 500; grep -c '^/' → 200 path-only trails;
    // grep -vE '^[[:space:]]*(#|$)' $f | grep -v '^/' | awk '{print tolower($1)}' \
    //   | sed -E 's#^[a-z]+://##; s#[/?].*##' > h.txt   → 892 host lines, of which
    // grep -vE '^[0-9.]+(:[0-9]+)?$' h.txt | sort -u | wc -l → 133 domains and
    // grep -E  '^[0-9.]+(:[0-9]+)?$' h.txt | sort -u | wc -l → 754 endpoints (5 repeats).
    let dir = path.with_file_name("malware_miners");
    let malware = ImportOptions {
        domain_kind: DomainKind::MinerMalware,
        ..opts("maltrail", "2026-08-17")
    };
    let imp = import(
        ImportFormat::Maltrail,
        &dir.join("elf_coinminer.txt"),
        &malware,
    )
    .unwrap();
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.duplicates, r.comments, r.skipped),
        (1592, 133 + 754, 5, 500, 200),
        "{r}"
    );
    assert_eq!(r.skipped_by_reason["URL path without a host"], 200);
    assert!(imp.entries.iter().all(|e| match e {
        FeedEntry::PoolDomain(d) =>
            d.kind == DomainKind::MinerMalware && d.note.starts_with("elf_coinminer"),
        FeedEntry::Endpoint(p) =>
            p.kind == DomainKind::MinerMalware && p.note.starts_with("elf_coinminer"),
        _ => false,
    }));

    // Every family file, each its own import: the same commands summed over the 40 files give
    // 4740 lines, 1709 comments, 282 path-only trails, 2749 host lines, 879 domains and 1811
    // endpoints (distinct per file), 59 repeats.
    let mut total = ImportReport::default();
    let mut files = 0;
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|x| x == "txt") {
            files += 1;
            let r = import(ImportFormat::Maltrail, &f, &malware).unwrap().report;
            total.lines += r.lines;
            total.accepted += r.accepted;
            total.duplicates += r.duplicates;
            total.comments += r.comments;
            total.skipped += r.skipped;
        }
    }
    assert_eq!(files, 40);
    assert_eq!(
        (
            total.lines,
            total.accepted,
            total.duplicates,
            total.comments,
            total.skipped
        ),
        (4740, 879 + 1811, 59, 1709, 282),
        "{total}"
    );
}

#[test]
fn sigma_rule_file() {
    // A hand-written two-document rule in SigmaHQ's shape; expected counts by line in the
    // comments below (60 lines).
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/import/sigma-mining-pools.yml");
    let imp = import(
        ImportFormat::Sigma,
        &path,
        &opts("sigma-test", "2026-01-01"),
    )
    .unwrap();
    let r = &imp.report;
    // Entries: lines 22-25 (4), 45 (a flow list of 3), 46, 48 (an address); line 26 repeats
    // line 23. Skipped: 28 (`contains: 'minexmr.'`, a prefix), 30 (Image), 49
    // (DestinationPort), 52-54 (wildcard inside, URL, blanks), 56 (`|re`), 58
    // (SourceHostname). The other 44 lines are comments and structure.
    assert_eq!(
        (r.lines, r.accepted, r.duplicates, r.comments, r.skipped),
        (60, 9, 1, 44, 8),
        "{r}"
    );
    assert_eq!(r.skipped_by_reason["not a host field"], 3, "{r}");
    for reason in [
        "partial name (ends with a dot)",
        "wildcard inside a name",
        "not a host name (URL or path)",
        "not a host name (has blanks)",
        "regular expression, not a name",
    ] {
        assert_eq!(r.skipped_by_reason.get(reason), Some(&1), "{reason}: {r}");
    }
    let shown: Vec<String> = imp.entries.iter().map(show).collect();
    let dns = "pool|Mining Pool DNS Query (poolscope test)|2024-01-19";
    let conn = "pool|Network Connection To Mining Pool (poolscope test)|2022-03-01";
    assert_eq!(
        shown,
        [
            format!("domain|nanopool.org|{dns}"),
            format!("domain|pool.minexmr.com|{dns}"),
            format!("domain|2miners.com|{dns}"),
            format!("domain|xmr.pool.minergate.com|{dns}"),
            format!("domain|supportxmr.com|{conn}"),
            format!("domain|pool.supportxmr.com|{conn}"),
            format!("domain|pool.hashvault.pro|{conn}"),
            format!("domain|moneroocean.stream|{conn}"),
            format!("endpoint|51.15.65.182|{conn}"),
        ]
    );
}

#[test]
fn sigma_inline_rule() {
    // The shape of SigmaHQ's net_dns_pua_cryptocoin_mining_xmr.yml: `query|contains` with a
    // list, `keywords`, a CRLF line end, a note and kind from the options, no rule date.
    let text = "title: Monero Pool Lookup\r\nlogsource:\r\n    category: dns\r\ndetection:\r\n\
                \x20   selection:\r\n        query|contains:\r\n            - 'pool.supportxmr.com'\r\n\
                \x20           - 'mine.c3pool.com'\r\n    keywords:\r\n        - 'xmrig'\r\n\
                \x20   condition: selection or keywords\r\n";
    let o = ImportOptions {
        domain_kind: DomainKind::CryptoRelated,
        note: Some("xmr".into()),
        ..opts("sigmahq", "2026-02-03")
    };
    let imp = import_str(ImportFormat::Sigma, "xmr.yml", text, &o).unwrap();
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.comments, r.skipped),
        (11, 2, 8, 1),
        "{r}"
    );
    assert_eq!(r.skipped_by_reason["not a host field"], 1);
    assert_eq!(
        show(&imp.entries[1]),
        "domain|mine.c3pool.com|crypto-related|xmr; Monero Pool Lookup|2026-02-03"
    );
}

#[test]
fn suricata_rules() {
    // ET Open rules (emerging-coinminer.rules and the coin-mining rules of other categories,
    // 2024-04-21) without their references and most metadata, plus three test rules for the
    // legacy keywords and a prefix content.
    let text = r#"# Emerging Threats

#alert tls $HOME_NET any  -> $EXTERNAL_NET any (msg:"ET POLICY Request for Coinhive Browser Monero Miner M1"; flow:established,to_server; tls_sni; content:"coinhive.com"; classtype:policy-violation; sid:2024785; rev:2;)
alert dns $HOME_NET any -> any any (msg:"ET POLICY Observed DNS Query to Coin Mining Domain (nanopool .org)"; dns.query; content:".nanopool.org"; nocase; endswith; classtype:policy-violation; sid:2033268; rev:2; metadata:attack_target Client_Endpoint, created_at 2021_07_07, updated_at 2021_07_07;)
alert tcp $EXTERNAL_NET any -> $HOME_NET any (msg:"ET COINMINER W32/BitCoinMiner.MultiThreat Stratum Protocol Mining.Notify Initial Connection Server Response"; flow:established,to_client; content:"|22|result|22 3A| [[|22|mining.notify|22|"; depth:120; classtype:coin-mining; sid:2017872; rev:2; metadata:created_at 2013_12_17, updated_at 2019_07_26;)
alert tls $EXTERNAL_NET any -> $HOME_NET any (msg:"ET COINMINER Observed Suspicious SSL Cert (Minerpool - CoinMining)"; flow:from_server,established; tls.cert_subject; content:"CN=eu.minerpool.pw"; nocase; fast_pattern; endswith; tls.cert_issuer; content:"C=US, O=Let's Encrypt, CN=Let's Encrypt Authority X3"; classtype:coin-mining; sid:2028623; rev:3; metadata:created_at 2019_09_25, updated_at 2020_09_02;)
alert tls $HOME_NET any -> $EXTERNAL_NET any (msg:"ET COINMINER Observed Coin-Hive In Browser Mining Domain (coin-hive .com in TLS SNI)"; flow:established,to_server; tls.sni; content:"coin-hive.com"; endswith; classtype:trojan-activity; sid:2025535; rev:3; metadata:created_at 2018_04_26, updated_at 2020_09_16;)
alert tls $EXTERNAL_NET any -> $HOME_NET any (msg:"ET COINMINER Observed Malicious SSL Cert (Coin-Hive In Browser Mining)"; flow:established,to_client; tls.cert_subject; content:"CN=*.coin-hive.com"; nocase; endswith; classtype:coin-mining; sid:2025536; rev:3; metadata:created_at 2018_04_26, updated_at 2020_09_16;)
alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"ET COINMINER Possible BitCoin Miner User-Agent (miner)"; flow:established,to_server; http.user_agent; content:"miner"; nocase; content:!"IdleMiner"; content:!"CFNetwork"; pcre:"/miner[^a-z]/i"; http.host; content:!".kaspersky.com"; endswith; classtype:coin-mining; sid:2016067; rev:7; metadata:created_at 2012_12_21, updated_at 2021_11_15;)
alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"poolscope test legacy http_host modifier"; flow:established,to_server; content:"GET"; http_method; content:"xmr|2e|pool|2e|minergate|2e|com"; http_host; sid:9000001; rev:1;)
alert tls $HOME_NET any -> $EXTERNAL_NET any (msg:"poolscope test legacy tls_sni sticky buffer"; tls_sni; content:"pool.minexmr.com"; sid:9000002; rev:1; metadata:created_at 2017_09_29;)
alert dns $HOME_NET any -> any any (msg:"poolscope test prefix"; dns.query; content:"minexmr."; startswith; sid:9000003; rev:1;)
this is not a rule
"#;
    let imp = import_str(
        ImportFormat::Suricata,
        "t.rules",
        text,
        &opts("et-open", "2024-04-21"),
    )
    .unwrap();
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.duplicates, r.comments, r.skipped),
        (13, 5, 1, 3, 4),
        "{r}"
    );
    assert_eq!(r.skipped_by_reason["no host match"], 2, "{r}");
    assert_eq!(r.skipped_by_reason["partial name (ends with a dot)"], 1);
    assert_eq!(r.skipped_by_reason["not a rule"], 1);
    let shown: Vec<String> = imp.entries.iter().map(show).collect();
    assert_eq!(
        shown,
        [
            "domain|nanopool.org|pool|sid:2033268 ET POLICY Observed DNS Query to Coin Mining Domain (nanopool .org)|2021-07-07",
            "domain|eu.minerpool.pw|pool|sid:2028623 ET COINMINER Observed Suspicious SSL Cert (Minerpool - CoinMining)|2020-09-02",
            // Browser mining goes to its own file; the certificate rule after it repeats it.
            "browser|coin-hive.com|||2020-09-16",
            "domain|xmr.pool.minergate.com|pool|sid:9000001 poolscope test legacy http_host modifier|2024-04-21",
            "domain|pool.minexmr.com|pool|sid:9000002 poolscope test legacy tls_sni sticky buffer|2017-09-29",
        ]
    );

    // With the browser file as the target every name goes there.
    let imp = import_str(
        ImportFormat::Suricata,
        "t.rules",
        text,
        &with_target("et-open", "2024-04-21", FeedFile::BrowserDomains),
    )
    .unwrap();
    assert_eq!(imp.report.accepted, 5);
    assert!(imp
        .entries
        .iter()
        .all(|e| e.file() == FeedFile::BrowserDomains));
}

#[test]
fn suricata_rule_pieces() {
    assert_eq!(
        decode_content("pool|2e|example|2E 6f 72 67|").as_deref(),
        Some("pool.example.org")
    );
    assert_eq!(decode_content("a|2e"), None);
    assert_eq!(decode_content("a|zz|b"), None);
    let opts = rule_options(r#"msg:"a \"b\"; c"; content:"x"; nocase; sid:1"#);
    assert_eq!(
        opts,
        [
            ("msg", Some(r#""a \"b\"; c""#)),
            ("content", Some(r#""x""#)),
            ("nocase", None),
            ("sid", Some("1")),
        ]
    );
    assert_eq!(rule_string(r#""a \"b\"\; c""#), r#"a "b"; c"#);
    assert_eq!(
        rule_date(&["created_at 2018_04_26, updated_at 2020_09_16"]).as_deref(),
        Some("2020-09-16")
    );
    assert_eq!(
        rule_date(&["created_at 2018_04_26"]).as_deref(),
        Some("2018-04-26")
    );
    assert_eq!(rule_date(&["former_category POLICY"]), None);
}

#[test]
fn suricata_corpus_rules() {
    let Some(dir) = corpus("pool-lists-2026/et-open-2024-04-21") else {
        return;
    };
    let o = opts("et-open", "2024-04-21");
    // f=emerging-coinminer.rules: wc -l → 98; grep -c '^alert' → 26 rules, the other 72 lines
    // are comments (41 `#`, 31 blank). Rules with a host content:
    //   grep '^alert' $f | grep -oE '(dns\.query|tls\.sni|http\.host|tls\.cert_subject);[^"]*content:"[^"]*"' \
    //     | sed -E 's/.*content:"//; s/"$//; s/^CN=//; s/^\*//; s/^\.//' | sort -u | wc -l
    // → 9 contents in 9 rules, 8 distinct names (coin-hive.com twice); 26 - 9 = 17 rules with
    // no host match. Browser mining (msg with browser/coinhive/coin-hive):
    //   ... | grep -ciE 'msg:"[^"]*(browser|coinhive|coin-hive)' → 4 rules, 3 names.
    let imp = import(
        ImportFormat::Suricata,
        &dir.join("emerging-coinminer.rules"),
        &o,
    )
    .unwrap();
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.duplicates, r.comments, r.skipped),
        (98, 8, 1, 72, 17),
        "{r}"
    );
    assert_eq!(r.skipped_by_reason["no host match"], 17);
    let browser = imp
        .entries
        .iter()
        .filter(|e| e.file() == FeedFile::BrowserDomains)
        .count();
    assert_eq!(browser, 3);

    // f=coin-mining-rules-from-other-categories.rules: wc -l → 34; 17 `#` lines, 17 rules; the
    // same pipeline → 6 names in 6 rules, none about browser mining; 11 with no host match.
    let imp = import(
        ImportFormat::Suricata,
        &dir.join("coin-mining-rules-from-other-categories.rules"),
        &o,
    )
    .unwrap();
    let r = &imp.report;
    assert_eq!(
        (r.lines, r.accepted, r.duplicates, r.comments, r.skipped),
        (34, 6, 0, 17, 11),
        "{r}"
    );
    assert!(imp
        .entries
        .iter()
        .all(|e| e.file() == FeedFile::PoolDomains));
}

#[test]
fn rule_format_names() {
    for (name, f) in [
        ("maltrail", ImportFormat::Maltrail),
        ("sigma", ImportFormat::Sigma),
        ("suricata", ImportFormat::Suricata),
        ("ET", ImportFormat::Suricata),
        ("snort", ImportFormat::Suricata),
    ] {
        assert_eq!(name.parse::<ImportFormat>().unwrap(), f, "{name}");
    }
    for f in [
        ImportFormat::Maltrail,
        ImportFormat::Sigma,
        ImportFormat::Suricata,
    ] {
        assert_eq!(f.default_target(), FeedFile::PoolDomains);
        assert!(ImportFormat::ALL.contains(&f));
    }
    let e = import_str(
        ImportFormat::Suricata,
        "t",
        "",
        &with_target("s", "2026", FeedFile::Allowlist),
    )
    .unwrap_err();
    assert!(e.to_string().contains("cannot fill allowlist.tsv"), "{e}");
}

#[test]
fn kind_and_note_options_reach_every_pool_row() {
    // Addresses in a host list become endpoints of the same kind; the note goes on both, and
    // CSV cells of their own win over the options.
    let o = ImportOptions {
        domain_kind: DomainKind::MinerMalware,
        note: Some("kinsing".into()),
        ..opts("team", "2026-03-04")
    };
    let imp = import_str(ImportFormat::Domains, "t", "c2.example\n1.2.3.4:3333\n", &o).unwrap();
    let shown: Vec<String> = imp.entries.iter().map(show).collect();
    assert_eq!(
        shown,
        [
            "domain|c2.example|miner-malware|kinsing|2026-03-04",
            "endpoint|1.2.3.4:3333|miner-malware|kinsing|2026-03-04",
        ]
    );
    let text = "domain\tnote\tkind\nc2.example\t\t\npool.example\tseen 2026\tpool\n";
    let imp = import_str(ImportFormat::Csv, "t.tsv", text, &o).unwrap();
    let shown: Vec<String> = imp.entries.iter().map(show).collect();
    assert_eq!(
        shown,
        [
            "domain|c2.example|miner-malware|kinsing|2026-03-04",
            "domain|pool.example|pool|seen 2026|2026-03-04",
        ]
    );
}

// ---------------------------------------------------------------- MISP and STIX from elsewhere

/// A MISP event as another organisation's MISP exports it (hand-written after MISP's JSON
/// format): attributes with and without dates, one inside an object, one of a type poolscope
/// does not keep.
const THIRD_PARTY_MISP: &str = r#"{"Event": {
  "info": "Mining pools seen by CIRCL", "date": "2025-02-03",
  "Orgc": {"name": "CIRCL"},
  "Attribute": [
    {"type": "domain", "category": "Network activity", "value": "Pool.Example.COM",
     "comment": "xmr pool\nsecond line"},
    {"type": "ip-dst|port", "value": "192.0.2.1|3333",
     "first_seen": "2024-12-01T10:00:00.000000+00:00"},
    {"type": "x509-fingerprint-sha1", "value": "0123456789ABCDEF0123456789ABCDEF01234567"},
    {"type": "ja3-fingerprint-md5", "value": "40adfd923eb82b89d8836ba37a19bca1",
     "comment": "xmrig"},
    {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"}
  ],
  "Object": [{"name": "domain-ip", "Attribute": [
    {"type": "hostname", "value": "eu.pool.example.net"}]}]
}}"#;

#[test]
fn misp_event_from_elsewhere_takes_its_provenance_from_the_event() {
    let got = import_str(
        ImportFormat::Misp,
        "circl.json",
        THIRD_PARTY_MISP,
        &opts("fallback", "2000-01-01"),
    )
    .unwrap();
    let r = &got.report;
    assert_eq!((r.lines, r.accepted, r.skipped), (6, 5, 1), "{r}");
    assert!(
        r.skipped_by_reason.keys().any(|k| k.contains("\"md5\"")),
        "{r}"
    );
    let mut domains = Vec::new();
    for e in &got.entries {
        assert_eq!(e.provenance().source, "CIRCL", "{e:?}");
        match e {
            FeedEntry::PoolDomain(d) => {
                assert_eq!(d.kind, DomainKind::Pool);
                assert_eq!(d.provenance.date, "2025-02-03");
                domains.push((d.domain.clone(), d.note.clone()));
            }
            FeedEntry::Endpoint(p) => {
                assert_eq!(p.display_value(), "192.0.2.1:3333");
                assert_eq!(p.provenance.date, "2024-12-01");
            }
            FeedEntry::Cert(c) => {
                assert_eq!(
                    c.sha1.as_deref(),
                    Some("0123456789abcdef0123456789abcdef01234567")
                );
                assert_eq!(c.first_seen, "2025-02-03");
            }
            FeedEntry::Fingerprint(f) => {
                assert_eq!(f.value, "40adfd923eb82b89d8836ba37a19bca1");
                assert_eq!(f.client, "xmrig");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        domains,
        vec![
            ("pool.example.com".to_string(), "xmr pool".to_string()),
            ("eu.pool.example.net".to_string(), String::new()),
        ]
    );
    // Without an organisation, the import's source stands in.
    let bare = THIRD_PARTY_MISP.replace("\"Orgc\": {\"name\": \"CIRCL\"},", "");
    let got = import_str(
        ImportFormat::Misp,
        "x.json",
        &bare,
        &opts("fallback", "2000-01-01"),
    )
    .unwrap();
    assert!(got
        .entries
        .iter()
        .all(|e| e.provenance().source == "fallback"));
}

/// A STIX 2.1 bundle as another producer writes it (hand-written after the STIX 2.1 spec).
const THIRD_PARTY_STIX: &str = r#"{"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
 "objects": [
  {"type": "identity", "spec_version": "2.1", "id": "identity--023d105b-752e-4e3c-941c-7d3f3cb15e9e",
   "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
   "name": "ACME CERT", "identity_class": "organization"},
  {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
   "created_by_ref": "identity--023d105b-752e-4e3c-941c-7d3f3cb15e9e",
   "created": "2024-03-04T12:00:00.000Z", "modified": "2024-03-04T12:00:00.000Z",
   "name": "Monero pool", "pattern_type": "stix", "valid_from": "2024-03-04T12:00:00Z",
   "pattern": "[domain-name:value = 'pool.example.com' OR domain-name:value='xmr.example.net']"},
  {"type": "indicator", "spec_version": "2.1", "id": "indicator--c6a5c5b5-1111-4a4a-9b9b-222233334444",
   "created": "2023-05-06T00:00:00.000Z", "modified": "2023-05-06T00:00:00.000Z",
   "pattern_type": "stix", "valid_from": "2023-05-06T00:00:00Z",
   "pattern": "[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '198.51.100.7' AND network-traffic:dst_port = 14444]"},
  {"type": "indicator", "spec_version": "2.1", "id": "indicator--0a0a0a0a-2222-4b4b-8c8c-555566667777",
   "created_by_ref": "identity--023d105b-752e-4e3c-941c-7d3f3cb15e9e",
   "created": "2024-03-04T12:00:00.000Z", "modified": "2024-03-04T12:00:00.000Z",
   "pattern_type": "stix", "valid_from": "2024-03-04T12:00:00Z",
   "pattern": "[x509-certificate:hashes.'SHA-256' = 'AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00112233445566778899']"},
  {"type": "indicator", "spec_version": "2.1", "id": "indicator--0b0b0b0b-2222-4b4b-8c8c-555566667777",
   "created": "2024-03-04T12:00:00.000Z", "modified": "2024-03-04T12:00:00.000Z",
   "pattern_type": "stix", "valid_from": "2024-03-04T12:00:00Z",
   "pattern": "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']"},
  {"type": "indicator", "spec_version": "2.1", "id": "indicator--0c0c0c0c-2222-4b4b-8c8c-555566667777",
   "created": "2024-03-04T12:00:00.000Z", "modified": "2024-03-04T12:00:00.000Z",
   "pattern_type": "yara", "valid_from": "2024-03-04T12:00:00Z", "pattern": "rule x { condition: true }"},
  {"type": "relationship", "spec_version": "2.1", "id": "relationship--0d0d0d0d-2222-4b4b-8c8c-555566667777",
   "created": "2024-03-04T12:00:00.000Z", "modified": "2024-03-04T12:00:00.000Z",
   "relationship_type": "indicates",
   "source_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
   "target_ref": "identity--023d105b-752e-4e3c-941c-7d3f3cb15e9e"}
 ]}"#;

#[test]
fn stix_bundle_from_elsewhere_takes_creator_and_valid_from() {
    let mut o = opts("fallback", "2000-01-01");
    o.domain_kind = DomainKind::CryptoRelated;
    let got = import_str(ImportFormat::Stix, "acme.json", THIRD_PARTY_STIX, &o).unwrap();
    let r = &got.report;
    assert_eq!(
        (r.lines, r.comments, r.accepted, r.skipped),
        (7, 2, 4, 2),
        "{r}"
    );
    let summary: Vec<String> = got
        .entries
        .iter()
        .map(|e| {
            let p = e.provenance();
            let v = match e {
                FeedEntry::PoolDomain(d) => format!("{} {} {}", d.domain, d.kind, d.note),
                FeedEntry::Endpoint(x) => format!("{} {}", x.display_value(), x.kind),
                FeedEntry::Cert(c) => c.sha256.clone().unwrap_or_default(),
                other => format!("{other:?}"),
            };
            format!("{v} | {} {}", p.source, p.date)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            "pool.example.com crypto-related Monero pool | ACME CERT 2024-03-04",
            "xmr.example.net crypto-related Monero pool | ACME CERT 2024-03-04",
            "198.51.100.7:14444 crypto-related | fallback 2023-05-06",
            "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899 | ACME CERT 2024-03-04",
        ]
    );
}

#[test]
fn stix_patterns_read_as_values() {
    use super::exchange::{stix_pattern, PatternValue};
    assert_eq!(
        stix_pattern("[ipv6-addr:value = '2001:db8::/32']").unwrap(),
        vec![PatternValue::Addr("2001:db8::/32".into(), String::new())]
    );
    assert_eq!(
        stix_pattern("[domain-name:value = 'it\\'s.example']").unwrap(),
        vec![PatternValue::Domain("it's.example".into())]
    );
    assert_eq!(
        stix_pattern(
            "[x509-certificate:hashes.'SHA-1' = 'AB' OR x509-certificate:hashes.'SHA-256' = 'CD']"
        )
        .unwrap(),
        vec![PatternValue::Cert {
            sha1: "ab".into(),
            sha256: "cd".into()
        }]
    );
    for bad in [
        "[domain-name:value != 'a.example']",
        "[domain-name:value = 'unterminated]",
        "[network-traffic:dst_port = 3333]",
        "[url:value = 'http://a.example/']",
        "",
    ] {
        assert!(stix_pattern(bad).is_err(), "accepted {bad:?}");
    }
}

#[test]
fn misp_and_stix_refuse_text_that_is_not_json() {
    for format in [ImportFormat::Misp, ImportFormat::Stix] {
        let err = import_str(
            format,
            "bad.json",
            "{\n\"Event\": [",
            &opts("s", "2024-01-01"),
        )
        .unwrap_err();
        assert!(matches!(err, FeedError::Line { line: 2, .. }), "{err:?}");
    }
}
