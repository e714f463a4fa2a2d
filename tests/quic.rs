//! QUIC Initial fingerprints of `poolscope extract` against the tools that decrypt them:
//!
//! * Wireshark: `tshark` run here on the committed fixtures (a QUIC v2 handshake and a v1
//!   handshake with a Retry), and over the corpus the `<folder>/tshark-ref/<capture>.tls.tsv`
//!   rows of UDP transport (tshark 4.0.17 decrypts the Initials): the first ClientHello of each
//!   UDP flow gives `sni` and `ja3`, the first ServerHello `ja3s`;
//! * FoxIO's JA4 reference (`foxio-ja4/expected/rust/<capture>.snap`): `ja4`, `ja4s` and the SNI
//!   of every UDP stream.
//!
//! Every difference must be listed in `tests/data/quic-ref/KNOWN_DISAGREEMENTS.tsv` (folder and
//! capture, client port, field, reason); an entry that matches no difference is itself a
//! failure, so the list stays true.

mod common;
use common::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

/// Our UDP flow records of a capture.
fn udp_flows(capture: &Path) -> Vec<Value> {
    extract(capture)
        .into_iter()
        .filter(|r| r["transport"] == "udp")
        .collect()
}

/// Whether a flow's client port is `port` (as text).
fn port_is(f: &Value, port: &str) -> bool {
    f["src_port"].as_u64().map(|p| p.to_string()).as_deref() == Some(port)
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

/// `(capture, client port, field)` of every listed disagreement.
fn known() -> BTreeSet<(String, String, String)> {
    std::fs::read_to_string(data("quic-ref/KNOWN_DISAGREEMENTS.tsv"))
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

/// The first ClientHello / ServerHello of each client port, as tshark's rows give them:
/// client port -> (sni, ja3, ja3s).
type Hellos = HashMap<String, (Option<String>, Option<String>, Option<String>)>;

fn hellos_of_rows(
    rows: impl Iterator<Item = (String, String, String, String, String, String)>,
) -> Hellos {
    // (types, sport, dport, sni, ja3, ja3s)
    let mut out: Hellos = HashMap::new();
    for (types, sport, dport, sni, ja3, ja3s) in rows {
        let types: Vec<&str> = types.split([';', ',']).collect();
        if types.contains(&"1") {
            let e = out.entry(sport).or_default();
            if e.1.is_none() {
                e.0 = Some(sni);
                e.1 = Some(ja3);
            }
        }
        if types.contains(&"2") {
            let e = out.entry(dport).or_default();
            if e.2.is_none() {
                e.2 = Some(ja3s);
            }
        }
    }
    out
}

/// Compares our UDP flows with the hellos, appending differences as (port, field, text).
fn compare(flows: &[Value], want: &Hellos, diffs: &mut Vec<(String, String, String)>) -> usize {
    let mut fields = 0;
    for (port, (sni, ja3, ja3s)) in want {
        let Some(f) = flows.iter().find(|f| port_is(f, port)) else {
            diffs.push((
                port.clone(),
                "flow".into(),
                "no UDP flow from this port".into(),
            ));
            continue;
        };
        for (field, w) in [("sni", sni), ("ja3", ja3), ("ja3s", ja3s)] {
            let Some(w) = w else { continue };
            fields += 1;
            let got = s(&f[field]);
            if got != *w {
                diffs.push((
                    port.clone(),
                    field.into(),
                    format!(
                        "ours {got:?}, reference {w:?} (quic_version {})",
                        f["quic_version"]
                    ),
                ));
            }
        }
    }
    fields
}

#[test]
fn fixtures_agree_with_tshark() {
    for (name, version) in [("quic-v2-echo.pcap", "2"), ("quic-v1-retry.pcap", "1")] {
        let p = data(&format!("pcap/{name}"));
        let out = Command::new("tshark")
            .args([
                "-r",
                p.to_str().unwrap(),
                "-Y",
                "tls.handshake.type == 1 || tls.handshake.type == 2",
            ])
            .args(["-T", "fields", "-E", "separator=\t"])
            .args([
                "-e",
                "tls.handshake.type",
                "-e",
                "udp.srcport",
                "-e",
                "udp.dstport",
            ])
            .args(["-e", "tls.handshake.extensions_server_name"])
            .args(["-e", "tls.handshake.ja3", "-e", "tls.handshake.ja3s"])
            .output()
            .expect("tshark (apt-get install tshark)");
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let want = hellos_of_rows(text.lines().map(|l| {
            let f: Vec<String> = l.split('\t').map(str::to_string).collect();
            let g = |i: usize| f.get(i).cloned().unwrap_or_default();
            (g(0), g(1), g(2), g(3), g(4), g(5))
        }));
        assert_eq!(want.len(), 1, "{name}: {text}");
        let flows = udp_flows(&p);
        let mut diffs = Vec::new();
        assert_eq!(compare(&flows, &want, &mut diffs), 3, "{name}");
        assert!(diffs.is_empty(), "{name}: {diffs:?}");
        let f = &flows[0];
        assert_eq!(f["quic_version"], version, "{name}");
        // JA4 of a QUIC ClientHello starts with `q`, and so does JA4S.
        assert!(s(&f["ja4"]).starts_with("q13d"), "{name}: {}", f["ja4"]);
        assert!(s(&f["ja4s"]).starts_with("q13"), "{name}: {}", f["ja4s"]);
    }
}

/// Wireshark's decrypted Initials over the corpus, and FoxIO's JA4 of the QUIC captures.
#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_quic_agrees_with_wireshark_and_foxio() {
    let root = corpus();
    let known = known();
    let mut unexplained = Vec::new();
    let mut explained = BTreeSet::new();
    let (mut captures, mut fields) = (0, 0);
    let mut note = |capture: &str, (port, field, text): (String, String, String)| {
        let key = (capture.to_string(), port.clone(), field.clone());
        if known.contains(&key) {
            explained.insert(key);
        } else {
            unexplained.push(format!("{capture} port {port} {field}: {text}"));
        }
    };
    let mut folders: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().collect();
    folders.sort_by_key(|e| e.file_name());
    for folder in folders {
        let refs = folder.path().join("tshark-ref");
        let Ok(list) = std::fs::read_dir(&refs) else {
            continue;
        };
        let mut list: Vec<_> = list.flatten().map(|e| e.path()).collect();
        list.sort();
        for tsv in list {
            let fname = tsv.file_name().unwrap().to_string_lossy().into_owned();
            let Some(capture) = fname.strip_suffix(".tls.tsv") else {
                continue;
            };
            let text = std::fs::read_to_string(&tsv).unwrap();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
            let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
            let rows: Vec<Vec<&str>> = lines
                .map(|l| l.split('\t').collect::<Vec<_>>())
                .filter(|f| f.get(col("transport")) == Some(&"udp"))
                .collect();
            if rows.is_empty() {
                continue;
            }
            let name = format!("{}/{capture}", folder.file_name().to_string_lossy());
            let want = hellos_of_rows(rows.iter().map(|f| {
                let g = |c: &str| f.get(col(c)).copied().unwrap_or("").to_string();
                (
                    g("handshake_types"),
                    g("sport"),
                    g("dport"),
                    g("sni"),
                    g("ja3"),
                    g("ja3s"),
                )
            }));
            let flows = udp_flows(&folder.path().join("pcap").join(capture));
            captures += 1;
            let mut diffs = Vec::new();
            fields += compare(&flows, &want, &mut diffs);
            for d in diffs {
                note(&name, d);
            }
            // FoxIO's JA4 and JA4S of the UDP streams, where it has a snapshot.
            let snap = folder
                .path()
                .join("expected/rust")
                .join(format!("{capture}.snap"));
            if let Ok(snap) = std::fs::read_to_string(snap) {
                for stream in snap.split("\n- ").filter(|b| b.contains("transport: udp")) {
                    let get = |k: &str| {
                        stream
                            .lines()
                            .find_map(|l| l.trim().strip_prefix(&format!("{k}: ")))
                            .map(str::to_string)
                    };
                    let port = get("src_port").unwrap_or_default();
                    let Some(f) = flows.iter().find(|f| port_is(f, &port)) else {
                        note(
                            &name,
                            (port, "flow".into(), "FoxIO stream without a flow".into()),
                        );
                        continue;
                    };
                    for (field, key) in
                        [("ja4", "ja4"), ("ja4s", "ja4s"), ("sni", "tls_server_name")]
                    {
                        if let Some(w) = get(key) {
                            fields += 1;
                            if s(&f[field]) != w {
                                let text = format!("ours {}, FoxIO {w}", f[field]);
                                note(&name, (port.clone(), format!("foxio {field}"), text));
                            }
                        }
                    }
                }
            }
        }
    }
    let stale: Vec<_> = known.difference(&explained).collect();
    eprintln!(
        "QUIC: {captures} captures, {fields} fields compared, {} explained disagreements",
        explained.len()
    );
    assert!(
        captures >= 30 && fields >= 500,
        "{captures} captures, {fields} fields"
    );
    assert!(
        unexplained.is_empty(),
        "unexplained:\n{}",
        unexplained.join("\n")
    );
    assert!(stale.is_empty(), "listed but not seen: {stale:?}");
}
