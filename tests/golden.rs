//! Golden files: the full `score` output of a few captures, reviewed when it changes (as nDPI
//! keeps one result file per test capture). A change to any field shows up as a diff of the
//! committed file; `POOLSCOPE_BLESS=1 cargo test --test golden` rewrites them after review.

mod common;
use common::*;

const CAPTURES: &[&str] = &[
    "mining.pcapng",
    "xmrig-rx-plain.pcap",
    "xmrig-gr-tls.pcap",
    "benign-mqtt-heartbeat.pcap",
    "android.pcap",
];

/// `score` output with the capture path reduced to its file name, one JSON object a line.
fn scored(capture: &str) -> String {
    let path = data(&format!("pcap/{capture}"));
    let out = poolscope(&["score", "-q", path.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut text = String::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v["capture"] = serde_json::Value::from(capture);
        text.push_str(&serde_json::to_string(&v).unwrap());
        text.push('\n');
    }
    text
}

#[test]
fn score_output_matches_the_golden_files() {
    let bless = std::env::var_os("POOLSCOPE_BLESS").is_some();
    let mut changed = Vec::new();
    for c in CAPTURES {
        let golden = data(&format!("golden/{c}.ndjson"));
        let now = scored(c);
        if bless {
            std::fs::write(&golden, &now).unwrap();
            continue;
        }
        let before = std::fs::read_to_string(&golden)
            .unwrap_or_else(|e| panic!("{}: {e} (run with POOLSCOPE_BLESS=1)", golden.display()));
        if before != now {
            let (line, a, b) = first_difference(&before, &now);
            changed.push(format!("{c}: line {line}\n  golden: {a}\n  now:    {b}"));
        }
    }
    assert!(
        changed.is_empty(),
        "outputs changed:\n{}",
        changed.join("\n")
    );
}
