//! The output does not depend on the number of threads: the same records, in the same order,
//! with the same flow ids, from `--threads 1` and from several worker threads, on the committed
//! captures, on a flood of half-open flows past the live-flow cap, and on corpus captures.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// `poolscope extract` of the inputs with `--threads n` and further arguments: its stdout and
/// stderr summary.
fn extract_with(inputs: &[PathBuf], n: usize, extra: &[&str]) -> (String, String) {
    let threads = n.to_string();
    let mut args = vec!["extract", "--threads", &threads];
    args.extend_from_slice(extra);
    let paths: Vec<&str> = inputs.iter().map(|p| p.to_str().unwrap()).collect();
    args.extend(paths);
    let out = poolscope(&args);
    assert!(
        out.status.success() || out.status.code() == Some(1),
        "extract --threads {n} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn assert_same_for_any_threads(inputs: &[PathBuf], extra: &[&str]) -> String {
    let (one, _) = extract_with(inputs, 1, extra);
    assert!(!one.is_empty());
    for n in [2, 3, 8] {
        let (many, _) = extract_with(inputs, n, extra);
        if many != one {
            let (line, a, b) = first_difference(&one, &many);
            panic!(
                "--threads {n} differs from --threads 1 at record {line} ({} vs {} records)\n  1: {a}\n  {n}: {b}",
                one.lines().count(),
                many.lines().count()
            );
        }
    }
    one
}

fn committed_captures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(data("pcap"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn committed_captures_give_the_same_records_whatever_the_threads() {
    let out = assert_same_for_any_threads(&committed_captures(), &["-q"]);
    // Flow ids are frame numbers over the run: unique, and rising within each capture's
    // drained flows.
    let ids: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["flow_id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "flow ids repeat");
}

/// A pcap of `n` half-open flows: one SYN each from distinct source ports, a millisecond apart.
fn syn_flood(path: &Path, n: u32) {
    let mut buf = Vec::with_capacity(24 + n as usize * 70);
    for v in [
        0xa1b2_c3d4u32.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
    ] {
        buf.extend_from_slice(v);
    }
    for v in [0u32, 0, 65535, 1] {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    for i in 0..n {
        let (host, port) = (i / 60_000, (i % 60_000) as u16 + 1024);
        let mut frame = Vec::with_capacity(54);
        frame.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 8, 0]);
        frame.extend_from_slice(&[0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0]);
        frame.extend_from_slice(&(0x0a00_0001u32 + host).to_be_bytes());
        frame.extend_from_slice(&[192, 0, 2, 80]);
        frame.extend_from_slice(&port.to_be_bytes());
        frame.extend_from_slice(&80u16.to_be_bytes());
        frame.extend_from_slice(&i.wrapping_mul(7919).to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x02, 0xfa, 0xf0, 0, 0, 0, 0]);
        let (sec, usec) = (1_764_000_000 + i / 1000, (i % 1000) * 1000);
        for v in [sec, usec, frame.len() as u32, frame.len() as u32] {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        buf.extend_from_slice(&frame);
    }
    std::fs::write(path, buf).unwrap();
}

#[test]
fn a_flood_past_the_cap_evicts_the_same_flows_whatever_the_threads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flood.pcap");
    let n = 50_000;
    syn_flood(&path, n);
    // 40,000 live flows at most, in two shards of 20,000: about 10,000 flows are evicted.
    let out =
        assert_same_for_any_threads(std::slice::from_ref(&path), &["-q", "--max-flows", "40000"]);
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), n as usize, "one record per half-open flow");
    let evicted = recs.iter().filter(|r| r["end_reason"] == "evicted").count();
    assert!(
        (9_000..=11_000).contains(&evicted),
        "{evicted} evicted with a cap of 40,000 over 50,000 flows"
    );
    // With a cap above the flood, nothing is evicted, and every flow is a SYN from the client.
    let (out, _) = extract_with(&[path], 2, &["-q", "--max-flows", "60000"]);
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), n as usize);
    assert!(recs.iter().all(|r| r["end_reason"] == "end_of_capture"
        && r["packets_c2s"] == 1
        && r["packets_s2c"] == 0
        && r["dst_port"] == 80));
}

#[test]
#[ignore = "needs POOLSCOPE_CORPUS"]
fn corpus_captures_give_the_same_records_whatever_the_threads() {
    let corpus = corpus();
    let mut inputs = Vec::new();
    for dir in [
        "cjsniffer/pcap",
        "nesfit-cryptomining/pcap",
        "lab",
        "iot-longlived/pcap",
    ] {
        let Ok(rd) = std::fs::read_dir(corpus.join(dir)) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
            .collect();
        files.sort();
        inputs.extend(files);
    }
    assert!(inputs.len() > 20, "corpus captures found: {}", inputs.len());
    assert_same_for_any_threads(&inputs, &["-q"]);
}
