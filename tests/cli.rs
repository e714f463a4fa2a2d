//! The command line as a user meets it: output formats agree with each other, bad input gets a
//! clear message naming the file and offset, and the exit codes follow the README.

mod common;
use common::*;
use polars::prelude::*;
use std::io::Write;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = poolscope(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The documented column order: identity and counters, TLS and DNS, then the features.
fn expected_columns() -> Vec<String> {
    poolscope::output::CORE_COLUMNS
        .iter()
        .chain(poolscope::output::DISSECTOR_COLUMNS)
        .map(|s| s.to_string())
        .chain(
            poolscope::features::FEATURES
                .iter()
                .map(|f| f.name.to_string()),
        )
        .collect()
}

#[test]
fn ndjson_keys_come_in_column_order() {
    let out = poolscope(&["extract", "-q", data("pcap/zug.pcap").to_str().unwrap()]);
    let line = String::from_utf8(out.stdout).unwrap();
    let line = line.lines().next().unwrap();
    let mut last = 0;
    for name in expected_columns() {
        let at = line
            .find(&format!("\"{name}\":"))
            .unwrap_or_else(|| panic!("{name} missing"));
        assert!(at >= last, "{name} out of order");
        last = at;
    }
}

#[test]
fn ndjson_csv_and_parquet_hold_the_same_records() {
    let dir = tempfile::tempdir().unwrap();
    let cap = data("pcap/mining.pcapng");
    let nd = extract(&cap);
    assert!(nd.len() >= 4);
    let csv = dir.path().join("f.csv");
    let pq = dir.path().join("f.parquet");
    for p in [&csv, &pq] {
        let (code, _, err) = run(&[
            "extract",
            "-q",
            cap.to_str().unwrap(),
            "-o",
            p.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let csv_df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(csv.clone()))
        .unwrap()
        .finish()
        .unwrap();
    let pq_df = ParquetReader::new(std::fs::File::open(&pq).unwrap())
        .finish()
        .unwrap();
    for df in [&csv_df, &pq_df] {
        assert_eq!(df.height(), nd.len());
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, expected_columns(), "same columns in the same order");
        for (i, rec) in nd.iter().enumerate() {
            for key in [
                "flow_id",
                "packets_c2s",
                "bytes_s2c",
                "payload_bytes_c2s",
                "dst_port",
                "pushes",
                "seq_01",
            ] {
                let v = df.column(key).unwrap().get(i).unwrap();
                let got = match v {
                    AnyValue::UInt64(x) => x as i64,
                    AnyValue::UInt32(x) => x as i64,
                    AnyValue::Int64(x) => x,
                    other => panic!("{key}: {other:?}"),
                };
                assert_eq!(got, rec[key].as_i64().unwrap(), "row {i} {key}");
            }
            let d = df
                .column("duration")
                .unwrap()
                .f64()
                .unwrap()
                .get(i)
                .unwrap();
            assert!((d - rec["duration"].as_f64().unwrap()).abs() < 1e-9);
            let ip = df
                .column("src_ip")
                .unwrap()
                .str()
                .unwrap()
                .get(i)
                .unwrap()
                .to_string();
            assert_eq!(ip, rec["src_ip"].as_str().unwrap());
        }
    }
    // Lists: native in Parquet, ';'-joined in CSV.
    let tls = extract(&data("pcap/xmrig-rx-tls.pcap"));
    let pq = dir.path().join("t.parquet");
    let csv = dir.path().join("t.csv");
    for p in [&csv, &pq] {
        let (code, _, err) = run(&[
            "extract",
            "-q",
            data("pcap/xmrig-rx-tls.pcap").to_str().unwrap(),
            "-o",
            p.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
    }
    let pq_df = ParquetReader::new(std::fs::File::open(&pq).unwrap())
        .finish()
        .unwrap();
    assert!(matches!(
        pq_df.column("alpn").unwrap().dtype(),
        DataType::List(_)
    ));
    assert_eq!(
        pq_df.column("ja4").unwrap().str().unwrap().get(0),
        tls[0]["ja4"].as_str()
    );
}

#[test]
fn format_comes_from_extension_or_flag() {
    let dir = tempfile::tempdir().unwrap();
    let cap = data("pcap/zug.pcap");
    let odd = dir.path().join("flows.txt");
    let (code, _, err) = run(&[
        "extract",
        "-q",
        cap.to_str().unwrap(),
        "-o",
        odd.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("flows.txt") && err.contains("--format"),
        "{err}"
    );
    let (code, _, _) = run(&[
        "extract",
        "-q",
        cap.to_str().unwrap(),
        "-o",
        odd.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0);
    assert!(std::fs::read_to_string(&odd)
        .unwrap()
        .starts_with("flow_id,transport,"));
    let (code, _, err) = run(&["extract", "-q", cap.to_str().unwrap(), "--format", "xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("xml"), "{err}");
}

#[test]
fn not_a_capture_is_named_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, "this is not a capture\n").unwrap();
    let (code, out, err) = run(&["extract", p.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(
        err.contains("notes.txt") && err.contains("not a pcap or pcapng capture"),
        "{err}"
    );
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let (code, _, err) = run(&["extract", empty.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("empty.pcap") && err.contains("empty"), "{err}");
    let (code, _, err) = run(&["extract", dir.path().join("missing.pcap").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("missing.pcap"), "{err}");
}

#[test]
fn a_good_input_still_runs_beside_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pcap");
    std::fs::write(&bad, [0u8; 64]).unwrap();
    let good = data("pcap/zug.pcap");
    let (code, out, err) = run(&["extract", bad.to_str().unwrap(), good.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("bad.pcap"));
    assert!(
        out.lines().count() >= 1,
        "the good capture's flows are written"
    );
}

#[test]
fn truncated_capture_keeps_what_it_has_and_names_the_offset() {
    let full = std::fs::read(data("pcap/xmrig-rx-plain.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("cut.pcap");
    // Cut in the middle of the last record.
    std::fs::write(&p, &full[..full.len() - 10]).unwrap();
    let (code, out, err) = run(&["extract", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("cut.pcap") && err.contains("truncated at byte offset"),
        "{err}"
    );
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 1);
    let n = recs[0]["packets_c2s"].as_u64().unwrap() + recs[0]["packets_s2c"].as_u64().unwrap();
    assert_eq!(n, 72, "all 73 packets but the cut one");
    // The offset named is where the last record starts: the file length minus that record.
    let offset: u64 = err
        .split("truncated at byte offset ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(offset < full.len() as u64 - 10 && offset > 24);
}

#[test]
fn corrupt_record_in_the_middle_stops_with_the_offset_and_exit_1() {
    let mut bytes = std::fs::read(data("pcap/xmrig-rx-plain.pcap")).unwrap();
    // Legacy pcap: 24-byte file header, then records of 16-byte header + data. Walk to the
    // 10th record and give it an impossible captured length.
    let mut off = 24usize;
    for _ in 0..10 {
        let caplen = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    bytes[off + 8..off + 12].copy_from_slice(&0x7fff_fff0u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("corrupt.pcap");
    std::fs::File::create(&p)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let (code, out, err) = run(&["extract", p.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("corrupt.pcap"), "{err}");
    assert!(
        err.contains(&format!("byte offset {off}")),
        "names the bad record's offset {off}: {err}"
    );
    let recs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 1, "flows up to the damage are written");
    let n = recs[0]["packets_c2s"].as_u64().unwrap() + recs[0]["packets_s2c"].as_u64().unwrap();
    assert_eq!(n, 10);
}

#[test]
fn stdin_is_read_with_a_dash() {
    let bytes = std::fs::read(data("pcap/zug.pcap")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_poolscope"))
        .args(["extract", "-q", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let from_file = poolscope(&["extract", "-q", data("pcap/zug.pcap").to_str().unwrap()]);
    let strip = |s: &[u8]| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(s)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("capture");
                v
            })
            .collect()
    };
    assert_eq!(strip(&out.stdout), strip(&from_file.stdout));
}

#[test]
fn summary_counts_what_was_skipped() {
    // cgminer.s0.pcapng: tshark shows 29 ICMPv6 and 3 ICMP frames, 855 frames in all.
    let (code, _, err) = run(&["extract", data("pcap/cgminer.s0.pcapng").to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(err.contains("855 frames"), "{err}");
    assert!(err.contains("other IP protocols 32"), "{err}");
    assert!(err.contains("non-IP 0"), "{err}");
    // The summary is on stderr only, and -q silences it.
    let (code, _, err) = run(&[
        "extract",
        "-q",
        data("pcap/cgminer.s0.pcapng").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(err.is_empty(), "{err}");
}

/// An installed binary (copied alone into a `bin/` directory, run from an unrelated directory
/// with no POOLSCOPE_* variables) finds the feeds and models built into it: the four pool
/// connections of mining.pcapng are `mining` with their feed and model reasons. Writing feeds
/// needs a directory, and says so.
#[test]
fn an_installed_binary_works_from_any_directory() {
    let prefix = tempfile::tempdir().unwrap();
    let bin = prefix.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let exe = bin.join("poolscope");
    std::fs::copy(env!("CARGO_BIN_EXE_poolscope"), &exe).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(&exe)
            .args(args)
            .current_dir(elsewhere.path())
            .env_remove("POOLSCOPE_FEEDS")
            .env_remove("POOLSCOPE_MODEL")
            .output()
            .unwrap()
    };
    let capture = data("pcap/mining.pcapng");
    let o = run(&["score", "-q", capture.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recs: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mining: Vec<&serde_json::Value> =
        recs.iter().filter(|r| r["verdict"] == "mining").collect();
    assert_eq!(mining.len(), 4);
    assert!(mining
        .iter()
        .any(|r| r["reasons"].to_string().contains("feed:endpoint:")));
    assert!(mining.iter().all(|r| !r["model_verdict"].is_null()));
    let o = run(&["feed", "check", "xmr.nanopool.org"]);
    assert_eq!(o.status.code(), Some(0));
    let list = elsewhere.path().join("list.txt");
    std::fs::write(&list, "pool.example\n").unwrap();
    let o = run(&["feed", "import", "domains", list.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--feeds DIR"));
}

/// A reader that goes away (`| head`) ends the run quietly with success, for every format.
#[test]
fn a_closed_output_pipe_is_success() {
    for format in ["ndjson", "csv"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_poolscope"))
            .args(["score", "--format", format])
            .arg(data("pcap/android.pcap"))
            .arg(data("pcap/mining.pcapng"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Close the reading end before poolscope writes its first byte.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{format}: {:?} {err}", out.status);
        assert!(!err.contains("cannot write output"), "{format}: {err}");
    }
}
