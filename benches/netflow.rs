//! Flow-export throughput: an nfdump-style CSV (200 000 rows, both directions of conversations
//! cut in three by the active timeout) read, stitched and turned into FlowRecords, records
//! discarded. The file is generated in a temporary folder so nothing large is committed.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use poolscope::netflow::{read_flow_export, NetflowOptions};
use std::hint::black_box;
use std::io::Write;

const ROWS: u64 = 200_000;

fn generate(path: &std::path::Path) {
    let mut w = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        w,
        "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt"
    )
    .unwrap();
    for i in 0..ROWS {
        let conv = i / 6;
        let piece = (i % 6) / 2;
        let start = conv + piece * 300;
        let stamp = |t: u64| {
            format!(
                "2024-01-01 {:02}:{:02}:{:02}",
                t / 3600,
                (t / 60) % 60,
                t % 60
            )
        };
        let client = format!(
            "10.{}.{}.{}",
            (conv >> 16) & 0xff,
            (conv >> 8) & 0xff,
            conv & 0xff
        );
        let cport = 40_000 + conv % 20_000;
        let (sa, da, sp, dp) = if i % 2 == 1 {
            ("198.51.100.7".to_string(), client, 3333, cport)
        } else {
            (client, "198.51.100.7".to_string(), cport, 3333)
        };
        writeln!(
            w,
            "{}.250,{}.000,299.0,{sa},{da},{sp},{dp},TCP,...AP...,0,0,{p},{b},0,0",
            stamp(start),
            stamp(start + 299),
            p = 20 + conv % 50,
            b = 1500 + (conv % 50) * 80,
        )
        .unwrap();
    }
    w.flush().unwrap();
}

fn bench_netflow(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flows.csv");
    generate(&path);
    let mut g = c.benchmark_group("netflow");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS));
    g.bench_function("nfdump csv rows -> FlowRecords", |b| {
        b.iter(|| {
            let mut n = 0u64;
            read_flow_export(&path, &NetflowOptions::default(), &mut |r| {
                black_box(&r);
                n += 1;
                Ok(())
            })
            .unwrap();
            n
        })
    });
    g.finish();
}

criterion_group!(benches, bench_netflow);
criterion_main!(benches);
