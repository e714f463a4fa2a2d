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

    // And the matcher sees the merged rows with their provenance.
    let m = Matcher::new(&feed);
    let hits = m.check("54.235.94.19:9332");
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
