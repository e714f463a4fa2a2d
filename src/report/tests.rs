//! Report tests: what the builder keeps and counts, reading score's rows back, and a page
//! that cannot be broken out of by the names in the data.

use super::*;

fn flow(host: &str, server: &str, name: Option<&str>, t: f64, v: Verdict, score: f64) -> FlowFacts {
    FlowFacts {
        capture: "c.pcap".into(),
        flow_id: t as u64,
        src_ip: host.into(),
        dst_ip: server.into(),
        dst_port: 3333,
        transport: "tcp".into(),
        name: name.map(str::to_string),
        cert_sha256: None,
        first_seen: t,
        last_seen: t + 10.0,
        packets: 10,
        bytes: 1000,
        verdict: v,
        score,
        reasons: vec![format!("feed:domain:{} (x 2026)", name.unwrap_or("-"))],
        model_score: Some(score),
    }
}

#[test]
fn counts_every_flow_and_keeps_the_flagged_ones() {
    let mut b = ReportBuilder::new();
    b.add(flow(
        "10.0.0.1",
        "1.1.1.1",
        Some("pool.example"),
        100.0,
        Verdict::Mining,
        0.95,
    ));
    b.add(flow(
        "10.0.0.1",
        "1.1.1.1",
        Some("pool.example"),
        105.0,
        Verdict::Mining,
        0.95,
    ));
    b.add(flow(
        "10.0.0.1",
        "2.2.2.2",
        None,
        300.0,
        Verdict::Suspect,
        0.5,
    ));
    b.add(flow(
        "10.0.0.2",
        "3.3.3.3",
        None,
        50.0,
        Verdict::Benign,
        0.01,
    ));
    let d = b.finish(RunInfo::default());
    assert_eq!(d.flows, 4);
    assert_eq!(d.packets, 40);
    assert_eq!(d.span, Some((50.0, 310.0)));
    assert_eq!(d.verdicts["mining"], 2);
    assert_eq!(d.verdicts["benign"], 1);
    assert_eq!(d.flagged.len(), 3);
    // Highest verdict and score first; texts interned once.
    let t = &d.flagged;
    assert_eq!(t.verdict[0], Verdict::Mining);
    assert_eq!(t.text(t.pool[2]), "2.2.2.2:3333");
    assert_eq!(t.host[0], t.host[2]);
    assert_eq!(t.reasons[0], t.reasons[1]);
    // One flagged host; its two overlapping mining flows are one span.
    assert_eq!(d.hosts.len(), 1);
    let h = &d.hosts[0];
    assert_eq!((h.mining_flows, h.suspect_flows), (2, 1));
    assert_eq!(
        h.spans,
        vec![
            (300.0, 310.0, Verdict::Suspect),
            (100.0, 115.0, Verdict::Mining)
        ]
    );
    assert_eq!(h.pools, vec!["pool.example", "2.2.2.2:3333"]);
    // Pools: mining first, with what named them.
    assert_eq!(d.pools[0].pool, "pool.example");
    assert_eq!(d.pools[0].flows, 2);
    assert_eq!(
        d.pools[0].named_by,
        vec![
            "feed:domain:pool.example (x 2026)".to_string(),
            "model:0.95 (highest)".to_string()
        ]
    );
    // Model scores: 0.95 twice in the last bin, 0.5 in bin 10, 0.01 in bin 0.
    assert_eq!(d.histogram.judged, 4);
    assert_eq!(d.histogram.bins[19], 2);
    assert_eq!(d.histogram.bins[10], 1);
    assert_eq!(d.histogram.bins[0], 1);
}

#[test]
fn beyond_the_limit_the_lowest_scores_are_counted_not_kept() {
    let mut b = ReportBuilder::with_limit(10);
    for i in 0..25 {
        let v = if i % 5 == 0 {
            Verdict::Mining
        } else {
            Verdict::Suspect
        };
        b.add(flow(
            "10.0.0.1",
            "1.1.1.1",
            None,
            i as f64,
            v,
            i as f64 / 100.0,
        ));
    }
    let d = b.finish(RunInfo::default());
    assert_eq!(d.flagged.len(), 10);
    assert_eq!(d.flagged_not_listed, 15);
    // The five mining flows, then the five highest-scored suspects (24, 23, 22, 21, 19).
    assert_eq!(
        d.flagged.flow_id,
        vec![20, 15, 10, 5, 0, 24, 23, 22, 21, 19]
    );
    assert_eq!(d.flows, 25);
}

#[test]
fn score_rows_read_back_from_ndjson_and_csv_cells() {
    let ndjson: Map<String, Value> = serde_json::from_str(
        r#"{"capture":"a.pcap","flow_id":7,"src_ip":"10.0.0.9","dst_ip":"2001:db8::1",
            "dst_port":443,"transport":"tcp","sni":null,"dns_names":["xmr.pool.example"],
            "first_seen":1.5,"last_seen":9.5,"packets_c2s":3,"packets_s2c":4,"bytes_c2s":10,
            "bytes_s2c":20,"verdict":"mining","score":0.95,
            "reasons":["feed:domain:pool.example (x 2026)"],"model_score":null}"#,
    )
    .unwrap();
    let f = FlowFacts::from_json(&ndjson).unwrap();
    assert_eq!(f.name.as_deref(), Some("xmr.pool.example"));
    assert_eq!((f.packets, f.bytes), (7, 30));
    assert_eq!(f.verdict, Verdict::Mining);
    assert_eq!(f.model_score, None);
    // CSV and Parquet: numbers may be text, lists are JSON texts.
    let csv: Map<String, Value> = serde_json::from_str(
        r#"{"src_ip":"10.0.0.9","dst_ip":"2001:db8::1","dst_port":"443","verdict":"suspect",
            "score":"0.5","reasons":"[\"hint:port:3333 (port only, s 2018, weak)\"]",
            "dns_names":"[]","model_score":"0.25"}"#,
    )
    .unwrap();
    let f = FlowFacts::from_json(&csv).unwrap();
    assert_eq!(f.reasons, vec!["hint:port:3333 (port only, s 2018, weak)"]);
    assert_eq!(f.pool_key(), "[2001:db8::1]:443");
    assert_eq!(f.server(), "[2001:db8::1]:443");
    assert_eq!(f.model_score, Some(0.25));
    let mut no_verdict = csv.clone();
    no_verdict.remove("verdict");
    assert!(FlowFacts::from_json(&no_verdict)
        .unwrap_err()
        .contains("not an output of `poolscope score`"));
}

#[test]
fn names_in_the_data_cannot_break_out_of_the_page() {
    let mut b = ReportBuilder::new();
    let evil = "</script><script>alert(1)</script>.example";
    b.add(flow(
        "10.0.0.1",
        "1.1.1.1",
        Some(evil),
        100.0,
        Verdict::Mining,
        0.95,
    ));
    let d = b.finish(RunInfo::default());
    let page = html::render(&d);
    assert_eq!(
        page.matches("<script").count(),
        2,
        "only the page's own scripts"
    );
    assert_eq!(page.matches("</script>").count(), 2);
    assert!(page.contains("&lt;/script&gt;&lt;script&gt;alert(1)"));
    // The embedded data still says the name exactly.
    let start = page.find("id=\"report-data\">").unwrap() + "id=\"report-data\">".len();
    let end = start + page[start..].find("</script>").unwrap();
    let back: Value = serde_json::from_str(&page[start..end]).unwrap();
    assert!(back["flagged"]["strings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s.as_str().unwrap().contains(evil)));
    // The page asks the browser to refuse every network access.
    assert!(page.contains("default-src 'none'"));
}

#[test]
fn csv_reason_cells_split_where_a_reason_begins() {
    assert_eq!(
        split_reasons(
            "stratum:xmr:login;stratum:agent:Mozilla/5.0 (Windows NT 10.0; Win64);\
             feed:domain:p.example (x 2026);model:0.99 (a=1)"
        ),
        vec![
            "stratum:xmr:login",
            "stratum:agent:Mozilla/5.0 (Windows NT 10.0; Win64)",
            "feed:domain:p.example (x 2026)",
            "model:0.99 (a=1)"
        ]
    );
}
