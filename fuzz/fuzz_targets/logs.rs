//! Feeds any bytes as Zeek logs and as a Suricata EVE file, through the log readers and their
//! joins ([`poolscope::logs::read_logs`]). The input is cut at input-chosen points into a
//! `conn.log`, an `ssl.log` and an `x509.log` (read as one Zeek run), and read whole as
//! `eve.json`; each is also read gzip-compressed when the input says so.
//!
//! Checks:
//! * no input panics or stops the run: reading ends with a summary, never an error;
//! * records are numbered 1, 2, … in the order written, and the summary counts them all;
//! * bad lines are no more than the lines read, and every record is TCP, UDP or (an `ssl.log`
//!   session without its connection) of unknown transport;
//! * a record's duration is its last time less its first, or unknown (NaN) with them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use poolscope::logs::read_logs;
use std::io::Write;
use std::path::PathBuf;

fn write(dir: &std::path::Path, name: &str, bytes: &[u8], gz: bool) -> PathBuf {
    let p = dir.join(name);
    if gz {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        std::fs::write(&p, e.finish().unwrap()).unwrap();
    } else {
        std::fs::write(&p, bytes).unwrap();
    }
    p
}

fn check(paths: &[PathBuf]) {
    let mut ids = Vec::new();
    let s = read_logs(paths, None, &mut |r| {
        assert!(matches!(r.transport, "tcp" | "udp" | ""), "{}", r.transport);
        if r.duration.is_finite() && r.first_seen.is_finite() {
            assert!((r.last_seen - r.first_seen - r.duration).abs() <= 1e-6 * r.duration.abs().max(1.0) + 1e-3);
        }
        ids.push(r.flow_id);
        Ok(())
    })
    .expect("reading logs never fails while the sink accepts");
    assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
    assert_eq!(s.records, ids.len() as u64);
    assert!(s.bad_lines <= s.lines + paths.len() as u64);
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let (a, b, gz) = (data[0] as usize, data[1] as usize, data[2] & 1 == 1);
    let body = &data[3..];
    let i = (a * body.len() / 256).min(body.len());
    let j = (i + b * (body.len() - i) / 256).min(body.len());
    let dir = std::env::temp_dir().join(format!("poolscope-fuzz-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let zeek = vec![
        write(&dir, "conn.log", &body[..i], gz),
        write(&dir, "ssl.log", &body[i..j], false),
        write(&dir, "x509.log", &body[j..], gz),
    ];
    check(&zeek);
    let eve = write(&dir, "eve.json", body, gz);
    check(&[eve]);
});
