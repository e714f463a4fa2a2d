//! `poolscope watch` on a real interface: two network namespaces made by the test joined by a
//! veth pair; `tcpreplay` sends the first seconds of a real capture into one end at their
//! original speed, `watch` listens on the other. Every address is inside those namespaces.
//!
//! Needs root (namespaces, packet sockets), `ip` (iproute2) and `tcpreplay`; ignored by a plain
//! `cargo test`, run by CI with `--include-ignored`.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two namespaces and a veth pair between them, removed on drop.
struct Link {
    ns: [String; 2],
}

impl Link {
    fn new(tag: &str) -> Link {
        let ns = [
            format!("psw-{}-{tag}-a", std::process::id()),
            format!("psw-{}-{tag}-b", std::process::id()),
        ];
        let link = Link { ns: ns.clone() };
        let ip = |args: &[&str]| {
            let out = Command::new("ip").args(args).output().expect("run ip");
            assert!(
                out.status.success(),
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        };
        for n in &ns {
            ip(&["netns", "add", n]);
            // No IPv6 autoconfiguration chatter on the link.
            ip(&[
                "netns",
                "exec",
                n,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
            ]);
        }
        ip(&[
            "-n", &ns[0], "link", "add", "ps0", "type", "veth", "peer", "ps1",
        ]);
        ip(&["-n", &ns[0], "link", "set", "ps1", "netns", &ns[1]]);
        // Loopback captures carry frames up to 64 KiB.
        ip(&["-n", &ns[0], "link", "set", "ps0", "mtu", "65535", "up"]);
        ip(&["-n", &ns[1], "link", "set", "ps1", "mtu", "65535", "up"]);
        link
    }

    /// `tcpreplay` of `capture` at its original speed into the first namespace's end.
    fn replay(&self, capture: &Path) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns[0], "tcpreplay", "-q", "-i", "ps0"])
            .arg(capture)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tcpreplay")
    }

    /// `poolscope watch` on the second namespace's end.
    fn watch(&self, args: &[&str]) -> Child {
        Command::new("ip")
            .args(["netns", "exec", &self.ns[1]])
            .arg(env!("CARGO_BIN_EXE_poolscope"))
            .args(["watch", "-i", "ps1"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run poolscope watch")
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        for n in &self.ns {
            let _ = Command::new("ip").args(["netns", "del", n]).status();
        }
    }
}

/// The records of `capture` up to `secs` seconds after its first, as a new legacy pcap.
fn slice(capture: &Path, secs: f64, out: &Path) {
    let b = std::fs::read(capture).unwrap();
    assert_eq!(
        &b[..4],
        &[0xd4, 0xc3, 0xb2, 0xa1],
        "a little-endian µs pcap"
    );
    let mut kept = b[..24].to_vec();
    let mut off = 24;
    let mut t0 = None;
    while off + 16 <= b.len() {
        let u = |i: usize| u32::from_le_bytes(b[off + i..off + i + 4].try_into().unwrap());
        let t = u(0) as f64 + u(4) as f64 / 1e6;
        let incl = u(8) as usize;
        if t - *t0.get_or_insert(t) > secs {
            break;
        }
        kept.extend_from_slice(&b[off..off + 16 + incl]);
        off += 16 + incl;
    }
    std::fs::write(out, kept).unwrap();
}

/// Sends SIGINT, as Ctrl-C does.
fn interrupt(child: &Child) {
    let ok = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("run kill")
        .success();
    assert!(ok, "kill -INT");
}

/// Waits for `watch` to be capturing: it says so on standard error before it reads.
fn wait_started(child: &mut Child) -> std::io::BufReader<std::process::ChildStderr> {
    use std::io::BufRead;
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.contains("watching"), "watch did not start: {line}");
    err
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display())))
        .collect()
}

fn files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    v.sort();
    v
}

/// `watch` on the lab's XMRig session, the first 8 s of it ready to replay: flow records to
/// `out`, alerts to `alerts`, with `more` arguments.
struct MiningRun {
    _dir: tempfile::TempDir,
    capture: PathBuf,
    out: PathBuf,
    alerts: PathBuf,
    link: Link,
    watch: Child,
    /// Kept open: `watch` writes its summary there at the end.
    err: std::io::BufReader<std::process::ChildStderr>,
}

impl MiningRun {
    fn start(tag: &str, more: &[&str]) -> MiningRun {
        let dir = tempfile::tempdir().unwrap();
        // XMRig's plaintext session with a pool stub: login and first job at once, a share
        // at 7.35 s.
        let capture = dir.path().join("xmrig-8s.pcap");
        slice(&common::data("pcap/xmrig-rx-plain.pcap"), 8.0, &capture);
        let link = Link::new(tag);
        let out = dir.path().join("out");
        let alerts = dir.path().join("alerts.ndjson");
        let mut args = vec![
            "-o".to_string(),
            out.to_str().unwrap().to_string(),
            "--alerts".to_string(),
            alerts.to_str().unwrap().to_string(),
        ];
        args.extend(more.iter().map(|a| a.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut watch = link.watch(&args);
        let err = wait_started(&mut watch);
        MiningRun {
            _dir: dir,
            capture,
            out,
            alerts,
            link,
            watch,
            err,
        }
    }
}

#[test]
#[ignore = "needs root, iproute2 and tcpreplay (network namespaces)"]
fn a_replayed_pool_session_alerts_before_it_ends_and_scores_as_the_file_does() {
    let MiningRun {
        capture,
        out,
        alerts,
        link,
        watch,
        _dir: _kept,
        err: _err,
    } = MiningRun::start("mine", &[]);
    let mut replay = link.replay(&capture);
    let started = Instant::now();
    // The alert must come while the replay (and the flow) still runs.
    let mut alerted_at = None;
    let replay_end = loop {
        if alerted_at.is_none() && std::fs::metadata(&alerts).is_ok_and(|m| m.len() > 0) {
            alerted_at = Some(started.elapsed());
        }
        if let Some(status) = replay.try_wait().unwrap() {
            assert!(status.success(), "tcpreplay failed");
            break started.elapsed();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let alerted_at = alerted_at.expect("no alert while the replay ran");
    assert!(
        alerted_at < replay_end && alerted_at < Duration::from_secs(5),
        "alert at {alerted_at:?}, replay ended at {replay_end:?}"
    );
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&watch);
    let done = watch.wait_with_output().unwrap();
    assert!(done.status.success(), "watch: {:?}", done.status);

    let a = ndjson(&alerts);
    assert!(!a.is_empty());
    assert_eq!(a[0]["end_reason"], "open");
    let last = a.last().unwrap();
    assert_eq!(last["verdict"], "mining");
    assert_eq!(last["end_reason"], "open", "raised before the flow ended");
    assert!(last["alert_time"].as_f64().unwrap() <= last["last_seen"].as_f64().unwrap());

    // The flow record equals what `score` says of the same packets in a file, but for the
    // times (stamped on arrival) and the input's name.
    let flows = files(&out, "flows-");
    assert_eq!(flows.len(), 1, "{flows:?}");
    let live = ndjson(&flows[0]);
    let scored = common::poolscope(&["score", "-q", capture.to_str().unwrap()]);
    assert!(scored.status.success());
    let file: Vec<Value> = String::from_utf8(scored.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(live.len(), file.len());
    for (l, f) in live.iter().zip(&file) {
        for k in [
            "src_ip",
            "src_port",
            "dst_ip",
            "dst_port",
            "packets_c2s",
            "packets_s2c",
            "bytes_c2s",
            "bytes_s2c",
            "payload_bytes_c2s",
            "payload_bytes_s2c",
            "ja3",
            "ja4",
            "sni",
            "end_reason",
            "verdict",
        ] {
            assert_eq!(l[k], f[k], "{k}");
        }
        // Reasons name the same evidence; their details may quote times, which differ.
        let heads = |r: &Value| -> Vec<String> {
            r["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_str().unwrap().split(" (").next().unwrap().to_string())
                .collect()
        };
        assert_eq!(heads(l), heads(f));
        assert_eq!(l["stratum"]["login"], f["stratum"]["login"]);
        assert_eq!(l["stratum"]["submits"], f["stratum"]["submits"]);
    }
    // The per-host rollup: the client mined, to the stub's port.
    let hosts = files(&out, "hosts-");
    assert!(!hosts.is_empty());
    let h = ndjson(hosts.last().unwrap());
    assert_eq!(h[0]["verdict"], "mining");
    assert_eq!(h[0]["pools"][0], "127.0.0.1:3333");
}

#[test]
#[ignore = "needs root, iproute2 and tcpreplay (network namespaces)"]
fn a_benign_replay_raises_no_alert() {
    let dir = tempfile::tempdir().unwrap();
    // An MQTT-like TLS client: connect, subscribe, keepalives.
    let capture = dir.path().join("mqtt-8s.pcap");
    slice(
        &common::data("pcap/benign-mqtt-heartbeat.pcap"),
        8.0,
        &capture,
    );
    let link = Link::new("benign");
    let alerts = dir.path().join("alerts.ndjson");
    let mut watch = link.watch(&["--alerts", alerts.to_str().unwrap()]);
    let _err = wait_started(&mut watch);
    assert!(link.replay(&capture).wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(500));
    interrupt(&watch);
    let done = watch.wait_with_output().unwrap();
    assert!(done.status.success());
    assert_eq!(std::fs::read_to_string(&alerts).unwrap(), "");
    // The flows still come out, on standard output, as benign.
    let recs: Vec<Value> = String::from_utf8(done.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!recs.is_empty());
    assert!(recs.iter().all(|r| r["verdict"] == "benign"));
}

#[test]
#[ignore = "needs root, iproute2 and tcpreplay (network namespaces)"]
fn ctrl_c_mid_replay_leaves_whole_files() {
    let MiningRun {
        capture,
        out,
        alerts,
        link,
        watch,
        _dir: _kept,
        err: _err,
    } = MiningRun::start("intr", &["--rotate", "1h"]);
    let mut replay = link.replay(&capture);
    let t = Instant::now();
    while std::fs::metadata(&alerts).map_or(true, |m| m.len() == 0) {
        assert!(t.elapsed() < Duration::from_secs(6), "no alert");
        std::thread::sleep(Duration::from_millis(20));
    }
    interrupt(&watch);
    let done = watch.wait_with_output().unwrap();
    assert!(
        replay.try_wait().unwrap().is_none(),
        "the replay was still running when watch stopped"
    );
    let _ = replay.kill();
    assert!(done.status.success());
    // No part file left; the flow file and the rollup are whole NDJSON.
    let left: Vec<PathBuf> = files(&out, ".");
    assert!(left.is_empty(), "{left:?}");
    let flows = files(&out, "flows-");
    assert_eq!(flows.len(), 1);
    let recs = ndjson(&flows[0]);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["end_reason"], "end_of_capture");
    assert_eq!(recs[0]["verdict"], "mining");
    assert!(!ndjson(files(&out, "hosts-").last().unwrap()).is_empty());
    assert!(!ndjson(&alerts).is_empty());
}

#[test]
fn a_missing_interface_is_named_with_the_ones_there_are() {
    let out = common::poolscope(&["watch", "-q", "-i", "no-such-if0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-if0: no such interface (there are: "),
        "{err}"
    );
    assert!(err.contains("lo"), "{err}");
}

#[test]
#[ignore = "needs root, iproute2 and tcpreplay (network namespaces)"]
fn an_interface_going_down_is_reported_and_what_was_captured_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("xmrig-1s.pcap");
    slice(&common::data("pcap/xmrig-rx-plain.pcap"), 1.0, &capture);
    let link = Link::new("down");
    let out = dir.path().join("out");
    let mut watch = link.watch(&["-o", out.to_str().unwrap()]);
    let err = wait_started(&mut watch);
    assert!(link.replay(&capture).wait().unwrap().success());
    std::thread::sleep(Duration::from_millis(300));
    let down = Command::new("ip")
        .args(["-n", &link.ns[1], "link", "set", "ps1", "down"])
        .status()
        .unwrap();
    assert!(down.success());
    // watch ends by itself, with exit code 1 (partial results) and the reason.
    let t = Instant::now();
    let status = loop {
        if let Some(s) = watch.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "watch did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let text = std::io::read_to_string(err).unwrap();
    assert!(
        text.contains("ps1") && text.contains("the interface went down"),
        "{text}"
    );
    let recs = ndjson(&files(&out, "flows-")[0]);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["verdict"], "mining");
}
