//! Unit tests of the log readers: the parsers' pieces, and whole runs over the hand-made
//! fixtures under `tests/data/logs` (values checked by hand against the fixture text).

use super::zeek::{history_flags, unescape, Header, Row, TsvRow};
use super::*;
use crate::decode::tcp_flags::{ACK, FIN, PSH, SYN};
use std::io::Write;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/logs")
        .join(rel)
}

fn run(paths: &[PathBuf]) -> (Vec<FlowRecord>, LogSummary) {
    let mut recs = Vec::new();
    let s = read_logs(paths, None, &mut |r| {
        recs.push(r);
        Ok(())
    })
    .unwrap();
    (recs, s)
}

#[test]
fn times_are_numbers_or_iso_8601_and_masked_ones_are_told_apart() {
    assert_eq!(parse_time("1704067200.250000"), Ok(Some(1_704_067_200.25)));
    assert_eq!(
        parse_time("2024-04-17T19:36:41.000000+0000"),
        Ok(Some(1_713_382_601.0))
    );
    assert_eq!(
        parse_time("2024-04-17T21:36:41+02:00"),
        Ok(Some(1_713_382_601.0))
    );
    assert_eq!(
        parse_time("2024-01-01T00:00:10.5Z"),
        Ok(Some(1_704_067_210.5))
    );
    assert_eq!(parse_time("XXXXXXXXXX.XXXXXX"), Err(()));
    assert_eq!(parse_time("2024-13-01T00:00:00Z"), Ok(None));
    assert_eq!(parse_time("yesterday"), Ok(None));
    assert_eq!(parse_time("2024-01-01T00:00:00+0"), Ok(None));
    assert_eq!(
        iso_utc(1_700_000_000.0).as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
}

#[test]
fn versions_and_fingerprints_read_as_the_record_writes_them() {
    for (v, want) in [
        ("TLSv12", Some("1.2")),
        ("TLSv13", Some("1.3")),
        ("TLSv10", Some("1.0")),
        ("TLS 1.2", Some("1.2")),
        ("TLSv1", Some("1.0")),
        ("SSLv3", Some("ssl3")),
        ("DTLSv12", None),
        ("UNDETERMINED", None),
    ] {
        assert_eq!(tls_version(v).as_deref(), want, "{v}");
    }
    assert_eq!(plain_hex("90:86:A4").as_deref(), Some("9086a4"));
    assert_eq!(plain_hex("zz"), None);
}

#[test]
fn tsv_rows_undo_escapes_and_count_their_fields() {
    assert_eq!(unescape(r"a\x09b\\c\x2"), "a\tb\\c\\x2");
    let mut h = Header::default();
    assert!(h.read(r"#separator \x09"));
    assert!(h.read("#set_separator\t,"));
    assert!(h.read("#fields\tts\tuid\tcert_chain_fps\tserver_name"));
    assert!(!h.read("#close\t2024"));
    let row = TsvRow::parse(&h, "1.5\tCx\ta,b\t-").unwrap();
    assert_eq!(row.text("uid").as_deref(), Some("Cx"));
    assert_eq!(row.list("cert_chain_fps"), vec!["a", "b"]);
    assert_eq!(row.text("server_name"), None);
    assert_eq!(row.text("absent"), None);
    let empty = TsvRow::parse(&h, "1.5\tCx\t(empty)\tx").unwrap();
    assert!(empty.list("cert_chain_fps").is_empty());
    let err = TsvRow::parse(&h, "1.5\tCx").err().unwrap();
    assert_eq!(err, "bad field count (2 fields, the header has 4)");
    assert!(TsvRow::parse(&Header::default(), "a\tb").is_err());
}

#[test]
fn zeek_history_gives_the_flags_each_way() {
    assert_eq!(
        history_flags("ShADadFf"),
        (SYN | ACK | PSH | FIN, SYN | ACK | PSH | FIN)
    );
    assert_eq!(history_flags("S"), (SYN, 0));
    assert_eq!(history_flags(""), (0, 0));
}

#[test]
fn detection_reads_the_header_or_the_first_object() {
    let zeek = |log| Some(LogFormat::Zeek { log, json: false });
    assert_eq!(detect(&fixture("zeek-hand/conn.log")), zeek(ZeekLog::Conn));
    assert_eq!(detect(&fixture("zeek-hand/ssl.log")), zeek(ZeekLog::Ssl));
    assert_eq!(detect(&fixture("zeek-hand/x509.log")), zeek(ZeekLog::X509));
    assert_eq!(
        detect(&fixture(
            "zeek-json-rotated/conn.2024-01-01-00-00-00.log.gz"
        )),
        Some(LogFormat::Zeek {
            log: ZeekLog::Conn,
            json: true
        })
    );
    assert_eq!(
        detect(&fixture("zeek-json-rotated/ssl.log")),
        Some(LogFormat::Zeek {
            log: ZeekLog::Ssl,
            json: true
        })
    );
    assert_eq!(detect(&fixture("eve-hand.json")), Some(LogFormat::Eve));
    let pcap = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pcap/bitcoin.pcap");
    assert_eq!(detect(&pcap), None);
    assert!(is_log_input(&fixture("zeek-json-rotated")));
    assert!(!is_log_input(&pcap));
}

#[test]
fn zeek_tsv_logs_join_by_uid_and_fingerprint() {
    let (recs, s) = run(&[
        fixture("zeek-hand/conn.log"),
        fixture("zeek-hand/ssl.log"),
        fixture("zeek-hand/x509.log"),
    ]);
    assert_eq!(recs.len(), 3, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(
        (
            r.transport,
            r.src_ip.to_string(),
            r.src_port,
            r.dst_ip.to_string(),
            r.dst_port
        ),
        (
            "tcp",
            "192.0.2.10".into(),
            50123,
            "198.51.100.7".into(),
            443
        )
    );
    assert_eq!(
        (r.first_seen, r.duration, r.last_seen),
        (1_704_067_200.25, 120.5, 1_704_067_320.75)
    );
    assert_eq!((r.packets_c2s, r.packets_s2c), (40, 50));
    assert_eq!((r.bytes_c2s, r.bytes_s2c), (4080, 32000));
    assert_eq!((r.payload_bytes_c2s, r.payload_bytes_s2c), (2000, 30000));
    assert_eq!((r.wire_bytes_c2s, r.wire_bytes_s2c), (0, 0));
    let t = &r.tls;
    assert_eq!(t.sni.as_deref(), Some("pool.example.net"));
    assert_eq!(t.tls_version.as_deref(), Some("1.2"));
    assert_eq!(t.ja3.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    assert_eq!(t.ja3s.as_deref(), Some("fedcba9876543210fedcba9876543210"));
    assert_eq!(
        t.ja4.as_deref(),
        Some("t12d1210h2_aaaaaaaaaaaa_bbbbbbbbbbbb")
    );
    assert_eq!(t.cert_sha256, Some("aa".repeat(32)));
    assert_eq!(t.cert_chain_sha256, vec!["aa".repeat(32), "bb".repeat(32)]);
    assert_eq!(t.cert_sha1, None);
    assert_eq!(t.cert_subject.as_deref(), Some("CN=pool.example.net"));
    assert_eq!(t.cert_issuer.as_deref(), Some("CN=Example CA"));
    assert_eq!(t.cert_not_before.as_deref(), Some("2023-11-14T22:13:20Z"));
    assert_eq!(t.cert_not_after.as_deref(), Some("2025-01-01T00:00:00Z"));
    assert_eq!(t.cert_san, vec!["pool.example.net", "*.pool.example.net"]);
    assert!(!t.cert_encrypted);
    assert_eq!(
        &*r.capture,
        fixture("zeek-hand/conn.log").display().to_string()
    );
    assert_eq!(r.model_schema, NETFLOW_SCHEMA);
    assert_eq!(r.model_rows.len(), 1);
    let flags = FEATURES
        .iter()
        .position(|f| f.name == "tcp_flags_c2s")
        .unwrap();
    assert_eq!(r.features[flags], f64::from(SYN | ACK | PSH | FIN));

    let dns = &recs[1];
    assert_eq!((dns.transport, dns.dst_port), ("udp", 53));
    assert_eq!(dns.tls, TlsInfo::default());

    // The TLS session without a connection: what ssl.log says, no counters, no model row.
    let alone = &recs[2];
    assert_eq!(alone.transport, "");
    assert_eq!(alone.src_ip.to_string(), "192.0.2.11");
    assert_eq!(alone.tls.sni.as_deref(), Some("other.example.org"));
    assert_eq!(alone.tls.tls_version.as_deref(), Some("1.3"));
    assert!(alone.tls.cert_encrypted);
    assert_eq!(alone.first_seen, 1_704_067_300.0);
    assert!(alone.duration.is_nan() && alone.last_seen.is_nan());
    assert_eq!((alone.packets_c2s, alone.bytes_c2s), (0, 0));
    assert!(alone.model_rows.is_empty());
    assert_eq!((alone.flow_id, recs[0].flow_id, recs[1].flow_id), (3, 1, 2));

    assert_eq!(
        (s.files, s.records, s.bad_lines, s.other_protocols),
        (3, 3, 1, 1)
    );
    assert_eq!((s.ssl_joined, s.x509_joined), (1, 1));
    assert_eq!(s.zeek_rows.get("conn"), Some(&3));
    let conn = fixture("zeek-hand/conn.log").display().to_string();
    assert_eq!(
        s.messages,
        vec![format!(
            "{conn}:12: bad field count (4 fields, the header has 21)"
        )]
    );
    assert!(s.render().contains("1 bad"), "{}", s.render());
}

#[test]
fn a_directory_of_rotated_json_logs_is_read_as_one_run() {
    let (recs, s) = run(&[fixture("zeek-json-rotated")]);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(r.src_ip.to_string(), "2001:db8::10");
    assert_eq!((r.dst_port, r.duration), (3333, 60.0));
    assert_eq!(
        (r.bytes_c2s, r.bytes_s2c, r.payload_bytes_c2s),
        (2540, 3820, 1500)
    );
    assert_eq!((r.packets_c2s, r.packets_s2c), (20, 22));
    assert_eq!(r.tls.sni.as_deref(), Some("xmr.pool.example"));
    assert_eq!(
        r.tls.ja4.as_deref(),
        Some("t13d1516h2_8daaf6152771_02713d6af862")
    );
    assert!(r.tls.cert_encrypted);
    // ISO time in a JSON log; a one-packet connection has no duration in Zeek: 0.
    assert_eq!(
        (recs[1].first_seen, recs[1].duration),
        (1_704_067_210.5, 0.0)
    );
    assert_eq!(s.bad_lines, 1);
    assert!(
        s.messages[0].ends_with("conn.2024-01-01-00-00-00.log.gz:2: not a JSON object"),
        "{:?}",
        s.messages
    );
    assert_eq!(s.ssl_joined, 1);
}

#[test]
fn eve_tls_waits_for_its_flow_and_leftovers_come_out_at_the_end() {
    let (recs, s) = run(&[fixture("eve-hand.json")]);
    assert_eq!(recs.len(), 2, "{recs:#?}");
    let r = &recs[0];
    assert_eq!((r.src_port, r.dst_port, r.transport), (50000, 443, "tcp"));
    assert_eq!((r.first_seen, r.duration), (1_713_382_601.0, 60.5));
    assert_eq!((r.packets_c2s, r.packets_s2c), (12, 10));
    assert_eq!((r.wire_bytes_c2s, r.wire_bytes_s2c), (1800, 5400));
    assert_eq!((r.bytes_c2s, r.payload_bytes_c2s), (0, 0));
    let t = &r.tls;
    assert_eq!(t.sni.as_deref(), Some("pool.example.net"));
    assert_eq!(
        t.cert_sha1.as_deref(),
        Some("9086a43bf5cf1b2e4ef79796f9debab96635863f")
    );
    assert_eq!(t.ja3.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    assert_eq!(t.ja3_string.as_deref(), Some("771,4865,0,29,0"));
    assert_eq!(t.ja3s.as_deref(), Some("fedcba9876543210fedcba9876543210"));
    assert_eq!(
        t.ja4.as_deref(),
        Some("t12d1210h2_aaaaaaaaaaaa_bbbbbbbbbbbb")
    );
    assert_eq!(t.alpn, vec!["h2", "http/1.1"]);
    assert_eq!(t.cert_not_after.as_deref(), Some("2025-01-01T00:00:00Z"));
    assert_eq!(t.cert_issuer.as_deref(), Some("CN=Example CA"));
    assert_eq!(r.dns_names, vec!["pool.example.net"]);
    let flags = FEATURES
        .iter()
        .position(|f| f.name == "tcp_flags_s2c")
        .unwrap();
    assert_eq!(r.features[flags], f64::from(0x1a_u8));
    assert_eq!(r.model_rows.len(), 1);

    let lone = &recs[1];
    assert_eq!(lone.tls.sni.as_deref(), Some("lonely.example.org"));
    assert_eq!(
        lone.tls.ja4.as_deref(),
        Some("t13d1516h2_8daaf6152771_02713d6af862")
    );
    assert!(lone.first_seen.is_nan());
    assert!(lone.model_rows.is_empty());

    assert_eq!((s.tls_joined, s.bad_lines, s.records), (1, 1, 2));
    let count = |k: &str| s.eve_events.get(k).copied();
    assert_eq!(
        (
            count("dns"),
            count("tls"),
            count("flow"),
            count("alert"),
            count("stats")
        ),
        (Some(1), Some(2), Some(1), Some(1), Some(1))
    );
    assert!(s.messages[0].ends_with("eve-hand.json:5: not a JSON object"));
}

#[test]
fn gzip_is_read_through_and_a_cut_stream_is_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(fixture("eve-hand.json")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&text).unwrap();
    let bytes = gz.finish().unwrap();
    let whole = dir.path().join("eve.json.gz");
    std::fs::write(&whole, &bytes).unwrap();
    let (recs, _) = run(std::slice::from_ref(&whole));
    assert_eq!(recs.len(), 2);
    let cut = dir.path().join("eve.1.json.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (_, s) = run(&[cut]);
    assert!(
        s.messages
            .iter()
            .any(|m| m.contains("unreadable from here on")),
        "{:?}",
        s.messages
    );
}

#[test]
fn dns_answers_of_both_event_versions() {
    let v2: serde_json::Value = serde_json::from_str(
        r#"{"type":"answer","rrname":"a.example","rrtype":"A","answers":[{"rrname":"b.example","rrtype":"AAAA","rdata":"2001:db8::1"},{"rrname":"a.example","rrtype":"CNAME","rdata":"b.example"}]}"#,
    )
    .unwrap();
    let got = eve::dns_answers(v2.as_object().unwrap());
    assert_eq!(
        got,
        vec![("2001:db8::1".parse().unwrap(), "a.example".to_string())]
    );
    let v1: serde_json::Value = serde_json::from_str(
        r#"{"type":"answer","rrname":"Prod.Example.","rrtype":"A","rdata":"192.0.2.9"}"#,
    )
    .unwrap();
    let got = eve::dns_answers(v1.as_object().unwrap());
    assert_eq!(
        got,
        vec![("192.0.2.9".parse().unwrap(), "prod.example".to_string())]
    );
    let query: serde_json::Value =
        serde_json::from_str(r#"{"type":"query","rrname":"x.example","rrtype":"A"}"#).unwrap();
    assert!(eve::dns_answers(query.as_object().unwrap()).is_empty());
}

#[test]
fn nothing_panics_on_odd_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("conn.log");
    let mut body = String::from("#separator \\x09\n#path\tconn\n");
    body +=
        "data before fields\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\n";
    body += "1\tC\t300.1.1.1\t1\t2.2.2.2\t2\ttcp\n";
    body += "1\tC\t1.1.1.1\t99999\t2.2.2.2\t2\ttcp\n";
    body += "\u{0}\u{ff}\t\\x\t\\xZZ\t-\t(empty)\t\t\n";
    body += "{\"ts\":\"XXXXXXXXXX.XXXXXX\",\"id.orig_h\":\"1.1.1.1\",\"id.orig_p\":1,\"id.resp_h\":\"2.2.2.2\",\"id.resp_p\":2,\"proto\":\"udp\"}\n";
    std::fs::write(&p, body).unwrap();
    let (recs, s) = run(&[p]);
    assert_eq!(recs.len(), 1);
    assert!(recs[0].first_seen.is_nan());
    assert_eq!((s.bad_lines, s.masked_times), (4, 1));
}

#[test]
fn older_zeek_names_certificates_by_file_id() {
    let dir = tempfile::tempdir().unwrap();
    let ssl = dir.path().join("ssl.log");
    let x509 = dir.path().join("x509.log");
    std::fs::write(
        &ssl,
        r#"{"ts":1400000000.5,"uid":"Cold","id.orig_h":"192.0.2.1","id.orig_p":40000,"id.resp_h":"192.0.2.2","id.resp_p":443,"version":"TLSv12","server_name":"old.example","cert_chain_fuids":["FkLeaf","FkCA"]}"#,
    )
    .unwrap();
    std::fs::write(
        &x509,
        r#"{"ts":1400000000.6,"id":"FkLeaf","certificate.version":3,"certificate.subject":"CN=old.example","certificate.issuer":"CN=Old CA","certificate.not_valid_before":1388534400.0,"certificate.not_valid_after":1420070400.0,"san.dns":["old.example"]}"#,
    )
    .unwrap();
    assert_eq!(
        detect(&x509),
        Some(LogFormat::Zeek {
            log: ZeekLog::X509,
            json: true
        })
    );
    let (recs, s) = run(&[ssl, x509]);
    assert_eq!(recs.len(), 1);
    let t = &recs[0].tls;
    assert_eq!(t.cert_subject.as_deref(), Some("CN=old.example"));
    assert_eq!(t.cert_issuer.as_deref(), Some("CN=Old CA"));
    assert_eq!(t.cert_not_before.as_deref(), Some("2014-01-01T00:00:00Z"));
    assert_eq!(t.cert_not_after.as_deref(), Some("2015-01-01T00:00:00Z"));
    // No fingerprint in the log: no hash, rather than one made up.
    assert_eq!(
        (t.cert_sha1.as_deref(), t.cert_sha256.as_deref()),
        (None, None)
    );
    assert_eq!(s.x509_joined, 1);
}

#[test]
fn an_overlong_line_is_skipped_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("eve.json");
    let good = std::fs::read_to_string(fixture("eve-hand.json")).unwrap();
    let long = format!(
        "{{\"event_type\":\"flow\",\"x\":\"{}\"}}\n",
        "a".repeat(3 << 20)
    );
    std::fs::write(&p, format!("{long}{good}")).unwrap();
    let (recs, s) = run(&[p]);
    assert_eq!(recs.len(), 2);
    assert!(
        s.messages[0].ends_with("eve.json:1: line longer than 1 MiB"),
        "{:?}",
        s.messages
    );
    // The fixture's own cut line is line 5 there, 6 here.
    assert!(
        s.messages[1].ends_with("eve.json:6: not a JSON object"),
        "{:?}",
        s.messages
    );
}
