//! Feeds the TLS dissector any bytes as the two reassembled directions of a connection, cut
//! into chunks at positions the input chooses, with gaps, and with chunks repeated so a short
//! input can fill the record and handshake buffers.
//!
//! Checks:
//! * the heap the dissector holds stays within `MAX_RECORD_BYTES + MAX_HANDSHAKE_BYTES` per
//!   direction (allowing for vector growth) plus what it parsed, measured with a counting
//!   allocator after every chunk;
//! * a direction is finished by a gap: bytes fed to it afterwards change nothing, and once
//!   `wants_more()` is false no chunk changes anything;
//! * `info()` agrees with itself and with the accessors: JA3/JA4 exactly when a ClientHello
//!   was parsed, JA3S/JA4S exactly when a ServerHello was, digests are lowercase hex of the
//!   right length, the leaf digests head the chain, an encrypted certificate means TLS 1.3, and
//!   a flow found not to be TLS reports nothing;
//! * cutting a chunk in two (same bytes, same order) gives the same result, since the
//!   dissector defragments records and handshake messages itself;
//! * two fresh dissectors fed the same chunks give the same result.
//!
//! `fuzz/regressions/tls/` keeps the input that found the dissector judging a plaintext opening
//! (`GET `, `OPTIONS `, `SSH-`, ...) on a first chunk shorter than the token; it now waits for
//! the rest of a possible token. `FUZZ_DEBUG=1` prints the chunks decoded from the input.
#![no_main]

#[path = "../common/heap.rs"]
mod heap;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use poolscope::dissect::tls::{TlsDissector, TlsInfo, MAX_HANDSHAKE_BYTES, MAX_RECORD_BYTES};
use poolscope::flow::reassembly::Chunk;
use poolscope::flow::Direction;

#[global_allocator]
static ALLOC: heap::Counting = heap::Counting;

#[derive(Debug)]
enum Step {
    Data { dir: Direction, bytes: Vec<u8>, cut: usize },
    Gap { dir: Direction, n: u64 },
}

fn steps(u: &mut Unstructured<'_>) -> Result<Vec<Step>> {
    let mut out = Vec::new();
    let mut total = 0usize;
    while !u.is_empty() && out.len() < 2048 && total < 2 << 20 {
        let ctl: u8 = u.arbitrary()?;
        let dir = if ctl & 0x80 == 0 {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        if ctl & 0x7f == 0x7f {
            out.push(Step::Gap { dir, n: u64::from(u.arbitrary::<u16>()?) + 1 });
            continue;
        }
        let len = (usize::from(ctl & 0x3f) + 1) * 8;
        let piece = u.bytes(len.min(u.len()))?;
        // Now and then repeat the piece 16 or 256 times to reach the buffer limits.
        let reps = match u.arbitrary::<u8>()? {
            0..=247 => 1,
            248..=253 => 16,
            _ => 256,
        };
        let bytes = piece.repeat(reps);
        if bytes.is_empty() {
            continue;
        }
        let cut = u.int_in_range(0..=bytes.len())?;
        total += bytes.len();
        out.push(Step::Data { dir, bytes, cut });
    }
    Ok(out)
}

fn state(d: &TlsDissector) -> String {
    format!(
        "{:?}|{}|{}|{}|{}|{}|{:?}",
        d.info(),
        d.parse_errors(),
        d.is_not_tls(),
        d.wants_more(),
        d.roles_reversed(),
        d.saw_hello_retry_request(),
        d.chain_sha1()
    )
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// An upper estimate of the heap taken by what the dissector parsed (hellos, certificate
/// summary, chain digests), to add to its buffer bound.
fn parsed_bytes(d: &TlsDissector, info: &TlsInfo) -> usize {
    let mut n = 0;
    if let Some(ch) = d.client_hello() {
        n += 2 * (ch.ciphers.len()
            + ch.extensions.len()
            + ch.supported_groups.len()
            + ch.signature_algorithms.len()
            + ch.supported_versions.len())
            + ch.ec_point_formats.len()
            + ch.alpn.iter().map(|a| a.len() + 24).sum::<usize>()
            + ch.sni.as_ref().map_or(0, String::len);
    }
    if let Some(sh) = d.server_hello() {
        n += 2 * sh.extensions.len() + sh.alpn.as_ref().map_or(0, Vec::len);
    }
    n += info.cert_chain_sha256.len() * (2 * 24 + 40 + 64);
    n += [&info.cert_subject, &info.cert_issuer, &info.cert_not_before, &info.cert_not_after]
        .into_iter()
        .flatten()
        .map(String::len)
        .sum::<usize>();
    n += info.cert_san.iter().map(|s| s.len() + 24).sum::<usize>();
    n
}

fn check_info(d: &TlsDissector) {
    let info = d.info();
    assert_eq!(info.ja3.is_some(), d.client_hello().is_some());
    assert_eq!(info.ja3_string.is_some(), d.client_hello().is_some());
    assert_eq!(info.ja4.is_some(), d.client_hello().is_some());
    assert_eq!(info.ja3s.is_some(), d.server_hello().is_some());
    assert_eq!(info.ja4s.is_some(), d.server_hello().is_some());
    if let Some(h) = &info.ja3 {
        assert!(is_hex(h, 32), "ja3 {h:?}");
    }
    if let Some(h) = &info.ja3s {
        assert!(is_hex(h, 32), "ja3s {h:?}");
    }
    let sha1 = d.chain_sha1();
    assert_eq!(sha1.len(), info.cert_chain_sha256.len(), "chain digests disagree");
    for h in &sha1 {
        assert!(is_hex(h, 40), "sha1 {h:?}");
    }
    for h in &info.cert_chain_sha256 {
        assert!(is_hex(h, 64), "sha256 {h:?}");
    }
    if let Some(h) = &info.cert_sha1 {
        assert_eq!(Some(h), sha1.first(), "leaf sha1 is not the chain's first");
    }
    if let Some(h) = &info.cert_sha256 {
        assert_eq!(Some(h), info.cert_chain_sha256.first(), "leaf sha256 is not the chain's first");
    }
    assert_eq!(info.cert_sha1.is_some(), info.cert_sha256.is_some());
    if info.cert_encrypted {
        assert_eq!(info.tls_version.as_deref(), Some("1.3"));
    }
    if d.is_not_tls() {
        assert!(!d.wants_more());
        assert_eq!(info, TlsInfo::default(), "a flow that is not TLS reports TLS facts");
    }
}

fn run(steps: &[Step], cut: bool) -> TlsDissector {
    let mut d = TlsDissector::new();
    for s in steps {
        match s {
            Step::Data { dir, bytes, cut: at } if cut => {
                d.on_chunk(*dir, Chunk::Data(&bytes[..*at]));
                d.on_chunk(*dir, Chunk::Data(&bytes[*at..]));
            }
            Step::Data { dir, bytes, .. } => d.on_chunk(*dir, Chunk::Data(bytes)),
            Step::Gap { dir, n } => d.on_chunk(*dir, Chunk::Gap(*n)),
        }
    }
    d
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(steps) = steps(&mut u) else {
        return;
    };
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{steps:?}");
    }
    let base = heap::live();
    let buffers = 2 * 2 * (MAX_RECORD_BYTES + MAX_HANDSHAKE_BYTES);
    let mut d = TlsDissector::new();
    let mut gapped = [false; 2];
    for s in &steps {
        let (dir, chunk) = match s {
            Step::Data { dir, bytes, .. } => (*dir, Chunk::Data(bytes)),
            Step::Gap { dir, n } => (*dir, Chunk::Gap(*n)),
        };
        let frozen = gapped[dir.index()] || !d.wants_more();
        let before = frozen.then(|| state(&d));
        d.on_chunk(dir, chunk);
        let held = heap::since(base);
        let before_len = before.as_ref().map_or(0, String::len);
        let info = d.info();
        let bound = buffers + 2 * parsed_bytes(&d, &info) + before_len + 16 * 1024;
        drop(info);
        assert!(held <= bound, "dissector holds {held} bytes (bound {bound})");
        if let Some(before) = before {
            assert_eq!(before, state(&d), "a finished direction or flow changed");
        }
        if matches!(chunk, Chunk::Gap(_)) {
            gapped[dir.index()] = true;
        }
        check_info(&d);
    }
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{}", state(&d));
    }
    let again = run(&steps, false);
    assert_eq!(state(&d), state(&again), "same chunks, different result");
    let cut = run(&steps, true);
    assert_eq!(state(&d), state(&cut), "cutting a chunk in two changed the result");
});
