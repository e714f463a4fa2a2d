//! Extraction throughput over committed captures held in memory: the whole pipeline (reader,
//! decoder, flow table, reassembly, features) with records discarded, so what is measured is
//! poolscope and not the disk or the output format.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use poolscope::decode::Decoder;
use poolscope::extract::{ExtractConfig, Extractor};
use std::hint::black_box;

fn load(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/pcap/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn count_frames(bytes: &[u8]) -> u64 {
    let mut ex = Extractor::new(ExtractConfig::default());
    ex.process(
        "count",
        std::io::Cursor::new(bytes.to_vec()),
        &mut |_| Ok(()),
        &mut |_| {},
    )
    .unwrap();
    ex.summary.frames
}

fn bench_extract(c: &mut Criterion) {
    let mut g = c.benchmark_group("extract");
    for name in ["bitcoin.pcap", "mining.pcapng", "cgminer.s0.pcapng"] {
        let bytes = load(name);
        let frames = count_frames(&bytes);
        g.throughput(Throughput::Elements(frames));
        for threads in [1, 2] {
            g.bench_function(format!("{name} packets, {threads} thread(s)"), |b| {
                b.iter(|| {
                    let mut ex = Extractor::new(ExtractConfig {
                        threads,
                        ..ExtractConfig::default()
                    });
                    let mut n = 0u64;
                    ex.process(
                        name,
                        std::io::Cursor::new(&bytes[..]),
                        &mut |r| {
                            n += black_box(r.flow_id);
                            Ok(())
                        },
                        &mut |_| {},
                    )
                    .unwrap();
                    n
                })
            });
        }
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("{name} bytes"), |b| {
            b.iter(|| {
                let mut ex = Extractor::new(ExtractConfig::default());
                ex.process(
                    name,
                    std::io::Cursor::new(&bytes[..]),
                    &mut |_| Ok(()),
                    &mut |_| {},
                )
                .unwrap();
            })
        });
    }
    g.finish();
}

fn bench_decode(c: &mut Criterion) {
    // One realistic frame: Ethernet/IPv4/TCP with a 100-byte payload.
    let mut frame = vec![0u8; 14 + 20 + 20 + 100];
    frame[12] = 0x08;
    frame[14] = 0x45;
    let total = (20 + 20 + 100u16).to_be_bytes();
    frame[16..18].copy_from_slice(&total);
    frame[22] = 64;
    frame[23] = 6;
    frame[26..30].copy_from_slice(&[10, 0, 0, 1]);
    frame[30..34].copy_from_slice(&[10, 0, 0, 2]);
    frame[34..36].copy_from_slice(&40000u16.to_be_bytes());
    frame[36..38].copy_from_slice(&3333u16.to_be_bytes());
    frame[46] = 0x50;
    frame[47] = 0x18;
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("ethernet ipv4 tcp", |b| {
        let mut d = Decoder::new();
        b.iter(|| {
            d.decode(1, black_box(&frame), 0)
                .map(|p| p.payload_len)
                .ok()
        })
    });
    g.finish();
}

criterion_group!(benches, bench_extract, bench_decode);
criterion_main!(benches);
