//! Feed lookups per second with the full shipped feeds (`feeds/`) loaded: domain names, server
//! addresses (with ports) and hashes, each for hits and for misses, plus whole flows the way
//! the scorer asks. Misses are what a matcher mostly sees, so they get their own numbers.
//! Inputs are built from the feeds themselves (hits) and from a fixed pseudo-random sequence
//! (misses), so runs are comparable.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use poolscope::intel::feeds::EndpointAddr;
use poolscope::intel::{FlowView, Matcher, PoolFeed};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// How many lookups one iteration makes per group.
const N: usize = 1000;

/// A fixed xorshift sequence: the same "random" misses on every run.
struct Seq(u64);

impl Seq {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            s.push_str(&format!("{:016x}", self.next()));
        }
        s.truncate(digits);
        s
    }
}

fn load() -> (PoolFeed, Matcher) {
    let feed = PoolFeed::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds")).unwrap();
    let m = Matcher::new(&feed);
    (feed, m)
}

fn names(feed: &PoolFeed, seq: &mut Seq) -> (Vec<String>, Vec<String>) {
    // Hits: a subdomain of every n-th listed pool domain (so the suffix walk is exercised).
    let step = (feed.pool_domains.len() / N).max(1);
    let hits: Vec<String> = feed
        .pool_domains
        .iter()
        .step_by(step)
        .take(N)
        .map(|d| format!("eu1.{}", d.domain))
        .collect();
    // Misses: names shaped like real traffic (3-4 labels, CDN-like hosts).
    let tlds = ["com", "net", "org", "io", "de", "co.uk"];
    let misses: Vec<String> = (0..N)
        .map(|i| {
            let r = seq.next();
            format!(
                "node-{}.edge{}.cdn-{:x}.{}",
                r % 997,
                i % 13,
                r >> 40,
                tlds[(r as usize >> 8) % tlds.len()]
            )
        })
        .collect();
    (hits, misses)
}

/// A server address and port.
type Endpoint = (IpAddr, u16);

fn addrs(feed: &PoolFeed, seq: &mut Seq) -> (Vec<Endpoint>, Vec<Endpoint>) {
    let listed: Vec<Endpoint> = feed
        .endpoints
        .iter()
        .filter_map(|e| match e.addr {
            EndpointAddr::Net(n) if n.is_host() => Some((n.addr(), e.port.unwrap_or(443))),
            _ => None,
        })
        .collect();
    let step = (listed.len() / N).max(1);
    let hits: Vec<Endpoint> = listed.into_iter().step_by(step).take(N).collect();
    let misses: Vec<Endpoint> = (0..N)
        .map(|_| {
            let r = seq.next();
            // 198.18.0.0/15 (benchmarking range): never in a feed.
            let ip = Ipv4Addr::from(0xc612_0000 | (r as u32 & 0x0001_ffff));
            (
                IpAddr::V4(ip),
                [443u16, 80, 8443, 993][(r >> 20) as usize % 4],
            )
        })
        .collect();
    (hits, misses)
}

fn bench_matcher(c: &mut Criterion) {
    let (feed, m) = load();
    let mut seq = Seq(0x9e37_79b9_7f4a_7c15);
    let (name_hits, name_misses) = names(&feed, &mut seq);
    let (addr_hits, addr_misses) = addrs(&feed, &mut seq);
    let ja_hits: Vec<String> = feed.fingerprints.iter().map(|f| f.value.clone()).collect();
    let sha256_misses: Vec<String> = (0..N).map(|_| seq.hex(64)).collect();
    let ja3_misses: Vec<String> = (0..N).map(|_| seq.hex(32)).collect();

    let mut g = c.benchmark_group("matcher");
    g.throughput(Throughput::Elements(N as u64));

    for (label, names) in [("domain hit", &name_hits), ("domain miss", &name_misses)] {
        g.bench_function(label, |b| {
            b.iter(|| {
                let mut n = 0;
                for name in names.iter() {
                    n += m
                        .match_flow(&FlowView {
                            sni: Some(black_box(name)),
                            ..FlowView::default()
                        })
                        .len();
                }
                n
            })
        });
    }
    for (label, addrs) in [("ip:port hit", &addr_hits), ("ip:port miss", &addr_misses)] {
        g.bench_function(label, |b| {
            b.iter(|| {
                let mut n = 0;
                for (ip, port) in addrs.iter() {
                    n += m
                        .match_flow(&FlowView {
                            server_ip: Some(black_box(*ip)),
                            server_port: Some(*port),
                            ..FlowView::default()
                        })
                        .len();
                }
                n
            })
        });
    }
    g.bench_function("cert sha256 miss", |b| {
        b.iter(|| {
            let mut n = 0;
            for h in &sha256_misses {
                n += m
                    .match_flow(&FlowView {
                        cert_sha256: Some(black_box(h)),
                        ..FlowView::default()
                    })
                    .len();
            }
            n
        })
    });
    g.bench_function("ja3 miss", |b| {
        b.iter(|| {
            let mut n = 0;
            for h in &ja3_misses {
                n += m
                    .match_flow(&FlowView {
                        ja3: Some(black_box(h)),
                        ..FlowView::default()
                    })
                    .len();
            }
            n
        })
    });
    g.throughput(Throughput::Elements(ja_hits.len() as u64));
    g.bench_function("fingerprint hit (check)", |b| {
        b.iter(|| {
            let mut n = 0;
            for h in &ja_hits {
                n += m.check(black_box(h)).len();
            }
            n
        })
    });

    // Whole flows as the scorer sees them: SNI, one DNS name, address and port, certificate
    // hashes, JA3 and JA4. A benign flow misses everywhere; a mining flow hits by name and
    // address (and by the weak fingerprint hint).
    g.throughput(Throughput::Elements(N as u64));
    let dns: Vec<Vec<String>> = name_misses.iter().map(|n| vec![n.clone()]).collect();
    g.bench_function("flow miss (all fields)", |b| {
        b.iter(|| {
            let mut n = 0;
            for i in 0..N {
                let (ip, port) = addr_misses[i];
                n += m
                    .match_flow(black_box(&FlowView {
                        server_ip: Some(ip),
                        server_port: Some(port),
                        sni: Some(&name_misses[i]),
                        dns_names: &dns[i],
                        cert_sha1: Some(&sha256_misses[i][..40]),
                        cert_sha256: Some(&sha256_misses[i]),
                        ja3: Some(&ja3_misses[i]),
                        ja4: Some("t13d1516h2_8daaf6152771_e5627efa2ab1"),
                        ..FlowView::default()
                    }))
                    .len();
            }
            n
        })
    });
    let hit_n = name_hits.len().min(addr_hits.len());
    g.throughput(Throughput::Elements(hit_n as u64));
    g.bench_function("flow hit (all fields)", |b| {
        b.iter(|| {
            let mut n = 0;
            for i in 0..hit_n {
                let (ip, port) = addr_hits[i];
                n += m
                    .match_flow(black_box(&FlowView {
                        server_ip: Some(ip),
                        server_port: Some(port),
                        sni: Some(&name_hits[i]),
                        ja4: Some("t13d311000_e8f1e7e78f70_1f22a2ca17c4"),
                        ..FlowView::default()
                    }))
                    .len();
            }
            n
        })
    });
    g.finish();

    c.bench_function("matcher build (index shipped feeds)", |b| {
        b.iter(|| Matcher::new(black_box(&feed)))
    });
}

criterion_group!(benches, bench_matcher);
criterion_main!(benches);
