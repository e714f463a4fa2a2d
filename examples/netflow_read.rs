//! Reads a flow export with the library and reports records per second; with `--gen N`, first
//! writes an nfdump-style CSV of N rows (both directions of long, active-timeout-split
//! conversations) to the path. Used by `benches/netflow_big.sh`.
//!
//! `cargo run --release --example netflow_read -- [--gen N] FILE`

use poolscope::netflow::{read_flow_export, NetflowOptions};
use std::io::Write;
use std::time::Instant;

/// `2024-01-DD HH:MM:SS` for `t` seconds after 2024-01-01 00:00:00 (t under 31 days).
fn stamp(t: u64) -> String {
    let (d, h, m, s) = (1 + t / 86_400, (t / 3600) % 24, (t / 60) % 60, t % 60);
    format!("2024-01-{d:02} {h:02}:{m:02}:{s:02}")
}

/// Writes `rows` nfdump CSV rows: conversations of 6 records (3 active-timeout pieces each
/// way), starting a second apart, over 60 000 client addresses.
fn generate(path: &str, rows: u64) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    writeln!(
        w,
        "ts,te,td,sa,da,sp,dp,pr,flg,fwd,stos,ipkt,ibyt,opkt,obyt"
    )?;
    for i in 0..rows {
        let conv = i / 6;
        let piece = (i % 6) / 2;
        let reverse = i % 2 == 1;
        let start = conv + piece * 300;
        let client = format!(
            "10.{}.{}.{}",
            (conv >> 16) & 0xff,
            (conv >> 8) & 0xff,
            conv & 0xff
        );
        let server = format!("198.51.100.{}", conv % 200);
        let cport = 40_000 + (conv % 20_000);
        let (sa, da, sp, dp) = if reverse {
            (server.as_str(), client.as_str(), 3333, cport)
        } else {
            (client.as_str(), server.as_str(), cport, 3333)
        };
        let (p, b) = (20 + conv % 50, 1500 + (conv % 50) * 80);
        writeln!(
            w,
            "{}.{:03},{}.000,299.0,{sa},{da},{sp},{dp},TCP,...AP...,0,0,{p},{b},0,0",
            stamp(start),
            i % 1000,
            stamp(start + 299),
        )?;
    }
    w.flush()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (gen, path) = match args.as_slice() {
        [flag, n, path] if flag == "--gen" => (Some(n.parse::<u64>().expect("row count")), path),
        [path] => (None, path),
        _ => {
            eprintln!("usage: netflow_read [--gen N] FILE");
            std::process::exit(2);
        }
    };
    if let Some(n) = gen {
        let t = Instant::now();
        generate(path, n).expect("write CSV");
        eprintln!("wrote {n} rows in {:.1} s", t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let mut out = 0u64;
    let summary = read_flow_export(path.as_ref(), &NetflowOptions::default(), &mut |_| {
        out += 1;
        Ok(())
    })
    .expect("read");
    let secs = t.elapsed().as_secs_f64();
    eprint!("{}", summary.render());
    println!(
        "{} records -> {out} conversations in {secs:.2} s: {:.0} records/s",
        summary.records,
        summary.records as f64 / secs
    );
}
