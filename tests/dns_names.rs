//! `dns_names`: every flow to an address that a DNS answer gave out before the flow started
//! carries the name that was asked for. The answers come from Wireshark's decode of the same
//! capture (tests/data/ref/android.pcap.dns.tsv), not from our DNS parser.

mod common;
use common::*;
use std::net::IpAddr;

#[test]
fn flows_carry_the_names_that_resolved_to_their_server() {
    let text = std::fs::read_to_string(data("ref/android.pcap.dns.tsv")).unwrap();
    // (answer time, queried name, addresses)
    let answers: Vec<(f64, String, Vec<IpAddr>)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let addrs = f[2]
                .split(',')
                .chain(f[3].split(','))
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            (f[0].parse().unwrap(), f[1].to_lowercase(), addrs)
        })
        .collect();
    let recs = extract(&data("pcap/android.pcap"));
    let mut checked = 0;
    for r in &recs {
        let dst: IpAddr = r["dst_ip"].as_str().unwrap().parse().unwrap();
        let start = r["first_seen"].as_f64().unwrap();
        let names: Vec<&str> = r["dns_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let latest = answers
            .iter()
            .filter(|(t, _, a)| *t <= start && a.contains(&dst))
            .max_by(|x, y| x.0.total_cmp(&y.0));
        match latest {
            Some((_, name, _)) => {
                checked += 1;
                assert!(
                    names.contains(&name.as_str()),
                    "flow {} to {dst}: {name} missing from {names:?}",
                    r["flow_id"]
                );
                // And when the flow has an SNI that DNS asked for, the two agree.
                if let Some(sni) = r["sni"].as_str() {
                    if answers.iter().any(|(_, n, a)| n == sni && a.contains(&dst)) {
                        assert!(
                            names.contains(&sni),
                            "flow {}: sni {sni} not in {names:?}",
                            r["flow_id"]
                        );
                    }
                }
            }
            None => {
                // No answer named this server: nothing may be invented.
                let any_later = answers
                    .iter()
                    .any(|(t, _, a)| *t <= start + 5.0 && a.contains(&dst));
                if !any_later {
                    assert!(
                        names.is_empty(),
                        "flow {} to {dst}: invented {names:?}",
                        r["flow_id"]
                    );
                }
            }
        }
    }
    assert!(checked >= 15, "only {checked} flows had a preceding answer");
}
