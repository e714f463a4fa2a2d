//! Helpers shared by the end-to-end tests: running the binary, and reading the reference
//! outputs of other tools (tshark conversation tables, nDPI flow listings).
#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Path of a fixture under `tests/data`.
pub fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// The corpus folder named by `POOLSCOPE_CORPUS`. The tests that read it are
/// `#[ignore = "needs POOLSCOPE_CORPUS"]`, so a plain `cargo test` says it did not run them;
/// asked for (`--include-ignored`), they fail when the variable is unset or wrong.
pub fn corpus() -> PathBuf {
    let dir = std::env::var_os("POOLSCOPE_CORPUS")
        .expect("POOLSCOPE_CORPUS must name the shared corpus folder for this test");
    let p = PathBuf::from(dir);
    assert!(
        p.is_dir(),
        "POOLSCOPE_CORPUS={} is set but is not a directory",
        p.display()
    );
    p
}

/// The first line where two texts differ (1-based), with both lines; line 0 and
/// `(line count)` when one text is the other with lines added or removed at its end.
pub fn first_difference<'a>(a: &'a str, b: &'a str) -> (usize, &'a str, &'a str) {
    a.lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map_or((0, "(line count)", "(line count)"), |(i, (x, y))| {
            (i + 1, x, y)
        })
}

/// Compares `now` with the golden file (`POOLSCOPE_BLESS=1` rewrites it instead), failing
/// with the first line that differs.
pub fn check_golden(golden: &Path, now: &str) {
    if std::env::var_os("POOLSCOPE_BLESS").is_some() {
        std::fs::write(golden, now).unwrap();
        return;
    }
    let before = std::fs::read_to_string(golden)
        .unwrap_or_else(|e| panic!("{}: {e} (run with POOLSCOPE_BLESS=1)", golden.display()));
    let (line, a, b) = first_difference(&before, now);
    assert!(
        before == now,
        "{} changed at line {line}\n  golden: {a}\n  now:    {b}",
        golden.display()
    );
}

/// Runs `poolscope` with arguments.
pub fn poolscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_poolscope"))
        .args(args)
        .output()
        .expect("run poolscope")
}

/// Runs `poolscope score -q` with arguments: exit code, NDJSON records, stderr.
pub fn score(args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut full = vec!["score", "-q"];
    full.extend_from_slice(args);
    run_ndjson(&full)
}

/// Runs poolscope with arguments that write NDJSON to stdout: exit code, records, stderr.
pub fn run_ndjson(args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = poolscope(args);
    let recs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("NDJSON"))
        .collect();
    (
        out.status.code().unwrap_or(-1),
        recs,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The reasons of a scored record.
pub fn reasons(r: &Value) -> Vec<String> {
    r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Runs `poolscope extract --quiet` on one capture and parses its NDJSON records.
pub fn extract(capture: &Path) -> Vec<Value> {
    let out = poolscope(&["extract", "--quiet", capture.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "extract {} failed: {}",
        capture.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("valid NDJSON line"))
        .collect()
}

/// One conversation as a reference tool reports it: endpoint A, endpoint B, frames and bytes
/// A→B and B→A.
#[derive(Debug, Clone, PartialEq)]
pub struct RefConv {
    pub transport: &'static str,
    pub a: (String, u16),
    pub b: (String, u16),
    pub frames_ab: u64,
    pub frames_ba: u64,
    /// Bytes with the unit tshark printed: (value, multiplier); nDPI gives exact bytes (×1).
    pub bytes_ab: (u64, u64),
    pub bytes_ba: (u64, u64),
    pub duration: Option<f64>,
}

fn split_endpoint(s: &str) -> (String, u16) {
    let s = s.trim();
    let (host, port) = s.rsplit_once(':').expect("host:port");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (host.to_string(), port.parse().expect("port"))
}

fn unit(u: &str) -> u64 {
    match u {
        "bytes" => 1,
        "kB" => 1_000,
        "MB" => 1_000_000,
        other => panic!("unknown unit {other}"),
    }
}

/// Parses `tshark -q -z conv,tcp -z conv,udp` output.
pub fn parse_tshark_conv(text: &str) -> Vec<RefConv> {
    let mut out = Vec::new();
    let mut transport = "";
    for line in text.lines() {
        if line.starts_with("TCP Conversations") {
            transport = "tcp";
            continue;
        }
        if line.starts_with("UDP Conversations") {
            transport = "udp";
            continue;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() != 14 || t[1] != "<->" {
            continue;
        }
        // tshark columns: "<-" is B→A, "->" is A→B.
        out.push(RefConv {
            transport,
            a: split_endpoint(t[0]),
            b: split_endpoint(t[2]),
            frames_ba: t[3].parse().unwrap(),
            bytes_ba: (t[4].parse().unwrap(), unit(t[5])),
            frames_ab: t[6].parse().unwrap(),
            bytes_ab: (t[7].parse().unwrap(), unit(t[8])),
            duration: Some(t[13].parse().unwrap()),
        });
    }
    out
}

/// Parses the per-flow lines of an `ndpiReader` result file (TCP and UDP flows only).
pub fn parse_ndpi_out(text: &str) -> Vec<RefConv> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start();
        let mut it = line.splitn(2, char::is_whitespace);
        let (Some(idx), Some(rest)) = (it.next(), it.next()) else {
            continue;
        };
        if idx.parse::<u64>().is_err() {
            continue;
        }
        let rest = rest.trim_start();
        let transport = if rest.starts_with("TCP ") {
            "tcp"
        } else if rest.starts_with("UDP ") {
            "udp"
        } else {
            continue;
        };
        let head: Vec<&str> = rest.splitn(5, ' ').collect();
        let (a, b) = (split_endpoint(head[1]), split_endpoint(head[3]));
        let Some(start) = rest.find(" pkts/") else {
            continue;
        };
        let open = rest[..start].rfind('[').unwrap();
        let close = open + rest[open..].find(']').unwrap();
        let counters = &rest[open + 1..close];
        let nums: Vec<u64> = counters
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(nums.len(), 4, "{counters}");
        out.push(RefConv {
            transport,
            a,
            b,
            frames_ab: nums[0],
            bytes_ab: (nums[1], 1),
            frames_ba: nums[2],
            bytes_ba: (nums[3], 1),
            duration: None,
        });
    }
    out
}

/// Our records keyed like a reference conversation: (transport, A, B) with A→B counters.
pub struct OurConv {
    pub frames_ab: u64,
    pub frames_ba: u64,
    pub wire_ab: u64,
    pub wire_ba: u64,
    pub duration: f64,
}

/// Finds the record matching a reference conversation in either orientation.
pub fn find<'a>(recs: &'a [Value], c: &RefConv) -> Vec<(&'a Value, OurConv)> {
    let mut found = Vec::new();
    for r in recs {
        if r["transport"] != c.transport {
            continue;
        }
        let src = (
            r["src_ip"].as_str().unwrap().to_string(),
            r["src_port"].as_u64().unwrap() as u16,
        );
        let dst = (
            r["dst_ip"].as_str().unwrap().to_string(),
            r["dst_port"].as_u64().unwrap() as u16,
        );
        let g = |k: &str| r[k].as_u64().unwrap();
        let ours = if src == c.a && dst == c.b {
            OurConv {
                frames_ab: g("packets_c2s"),
                frames_ba: g("packets_s2c"),
                wire_ab: g("wire_bytes_c2s"),
                wire_ba: g("wire_bytes_s2c"),
                duration: r["duration"].as_f64().unwrap(),
            }
        } else if src == c.b && dst == c.a {
            OurConv {
                frames_ab: g("packets_s2c"),
                frames_ba: g("packets_c2s"),
                wire_ab: g("wire_bytes_s2c"),
                wire_ba: g("wire_bytes_c2s"),
                duration: r["duration"].as_f64().unwrap(),
            }
        } else {
            continue;
        };
        found.push((r, ours));
    }
    found
}

/// True when `ours` bytes agree with a reference value printed in `unit`s (tshark truncates
/// to whole units).
pub fn bytes_agree(ours: u64, reference: (u64, u64)) -> bool {
    let (v, unit) = reference;
    if unit == 1 {
        ours == v
    } else {
        // tshark prints kB/MB rounded; accept the value either side of the rounding.
        let x = ours as f64 / unit as f64;
        (x - v as f64).abs() < 1.0
    }
}

/// Compares every reference conversation with our records; returns the mismatches.
pub fn compare(recs: &[Value], refs: &[RefConv]) -> Vec<String> {
    let mut bad = Vec::new();
    for c in refs {
        let found = find(recs, c);
        if found.is_empty() {
            bad.push(format!("{c:?}: no matching flow"));
            continue;
        }
        // Reference tools aggregate a 5-tuple into one conversation even when the port was
        // reused by a new connection; we end a flow at reuse. Sum the pieces to compare.
        let first = found
            .iter()
            .map(|(r, _)| r["first_seen"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min);
        let last = found
            .iter()
            .map(|(r, _)| r["last_seen"].as_f64().unwrap())
            .fold(f64::NEG_INFINITY, f64::max);
        let o = OurConv {
            frames_ab: found.iter().map(|(_, o)| o.frames_ab).sum(),
            frames_ba: found.iter().map(|(_, o)| o.frames_ba).sum(),
            wire_ab: found.iter().map(|(_, o)| o.wire_ab).sum(),
            wire_ba: found.iter().map(|(_, o)| o.wire_ba).sum(),
            duration: last - first,
        };
        let mut why = Vec::new();
        if o.frames_ab != c.frames_ab || o.frames_ba != c.frames_ba {
            why.push(format!(
                "frames {}/{} vs {}/{}",
                o.frames_ab, o.frames_ba, c.frames_ab, c.frames_ba
            ));
        }
        if !bytes_agree(o.wire_ab, c.bytes_ab) || !bytes_agree(o.wire_ba, c.bytes_ba) {
            why.push(format!(
                "bytes {}/{} vs {:?}/{:?}",
                o.wire_ab, o.wire_ba, c.bytes_ab, c.bytes_ba
            ));
        }
        if let Some(d) = c.duration {
            if (o.duration - d).abs() > 1e-3 {
                why.push(format!("duration {} vs {d}", o.duration));
            }
        }
        if !why.is_empty() {
            bad.push(format!(
                "{}:{} <-> {}:{} {}: {}",
                c.a.0,
                c.a.1,
                c.b.0,
                c.b.1,
                c.transport,
                why.join("; ")
            ));
        }
    }
    bad
}

fn canonical_ip(s: &str) -> String {
    s.parse::<std::net::IpAddr>()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| s.to_string())
}

/// Rewrites our records' addresses in canonical form (they already are; kept for symmetry).
pub fn normalise_ips(mut recs: Vec<Value>) -> Vec<Value> {
    for r in &mut recs {
        for k in ["src_ip", "dst_ip"] {
            let v = canonical_ip(r[k].as_str().unwrap());
            r[k] = Value::from(v);
        }
    }
    recs
}

/// Rewrites reference addresses in canonical form (nDPI compresses IPv6 differently).
pub fn normalise_ref_ips(mut refs: Vec<RefConv>) -> Vec<RefConv> {
    for c in &mut refs {
        c.a.0 = canonical_ip(&c.a.0);
        c.b.0 = canonical_ip(&c.b.0);
    }
    refs
}
