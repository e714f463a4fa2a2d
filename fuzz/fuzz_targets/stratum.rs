//! Feeds the Stratum dissector any bytes as the two directions of a mining-protocol connection
//! (Stratum lines, HTTP getwork/getblocktemplate), cut into chunks at positions the input
//! chooses, with gaps of input-chosen sizes and chunks repeated so that a short input can reach
//! the dissector's buffer limits and decision budget.
//!
//! Checks, after every chunk:
//! * the heap the dissector holds stays within its documented bounds (at most
//!   `MAX_HTTP_BODY` bytes buffered per direction, allowing for vector growth, plus the fixed
//!   tables), measured with a counting allocator;
//! * a `Chunk::Gap` produces no output by itself: `info()` and `evidence()` are the same
//!   before and after it;
//! * the decision is final: evidence, once given, never changes and keeps `wants_more()` true;
//!   once `wants_more()` is false there is no evidence and nothing changes any more;
//! * what `info()` reports respects its caps and its own arithmetic (method names and counts,
//!   text lengths, answers never outnumber shares, finite positive difficulty, timing);
//! * in a one-direction JSON-lines run without gaps, an undecided flow gives up once it has
//!   seen `DECISION_MESSAGES` complete lines or more than `DECISION_BYTES` bytes.
//!
//! And at the end: two fresh dissectors fed the same chunks (same gaps, same bytes after them)
//! report the same `info()`; a gap reported in two pieces resynchronises exactly like the
//! same gap reported whole. `FUZZ_DEBUG=1` prints the chunks decoded and the result.
#![no_main]

#[path = "../common/heap.rs"]
mod heap;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use poolscope::dissect::stratum::{
    StratumDissector, DECISION_BYTES, DECISION_MESSAGES, MAX_HTTP_BODY, MAX_METHODS,
};
use poolscope::flow::reassembly::Chunk;
use poolscope::flow::Direction;

#[global_allocator]
static ALLOC: heap::Counting = heap::Counting;

/// Longest method name and longest agent/login/worker `info()` may report (the dissector's
/// documented cuts: 64 bytes per method name, 256 bytes per text).
const METHOD_NAME_MAX: usize = 64;
const TEXT_MAX: usize = 256;

/// Heap a dissector may hold: per direction one buffer of at most `MAX_HTTP_BODY` bytes, whose
/// capacity may be up to twice its length after growth, plus room for the fixed tables
/// (64 method names, 32 outstanding requests, 16 HTTP calls, three texts).
const HEAP_BOUND: usize = 2 * (2 * MAX_HTTP_BODY) + 64 * 1024;

#[derive(Debug, Clone)]
enum Step {
    Data { dir: Direction, bytes: Vec<u8>, ts: f64 },
    Gap { dir: Direction, n: u64, split: u64 },
}

fn dir_of(b: bool) -> Direction {
    if b {
        Direction::ServerToClient
    } else {
        Direction::ClientToServer
    }
}

/// Turns the input into chunks. `one_way`: a single direction, no gaps, opening with `{`.
fn steps(u: &mut Unstructured<'_>, one_way: bool) -> Result<Vec<Step>> {
    let mut out = Vec::new();
    let mut ts = 1_700_000_000.0;
    let mut first = true;
    let mut total = 0usize;
    while !u.is_empty() && out.len() < 4096 && total < 4 << 20 {
        let ctl: u8 = u.arbitrary()?;
        // Time moves on by 0..6.3 s, now and then a little backwards (captures reorder).
        let dt = f64::from(ctl & 0x3f) / 10.0;
        ts += if ctl & 0x40 != 0 && dt < 1.0 { -dt } else { dt };
        let dir = if one_way {
            Direction::ClientToServer
        } else {
            dir_of(ctl & 0x80 != 0)
        };
        let kind: u8 = u.arbitrary()?;
        if !one_way && kind % 8 == 0 {
            let n = match kind >> 3 {
                0..=15 => u64::from(kind >> 3) + 1,
                16..=27 => u64::from(u.arbitrary::<u16>()?) + 1,
                _ => u.arbitrary::<u64>()?.max(1),
            };
            let split = if n >= 2 { 1 + u.arbitrary::<u64>()? % (n - 1) } else { 0 };
            out.push(Step::Gap { dir, n, split });
            continue;
        }
        let len = usize::from(u.arbitrary::<u8>()?) + 1;
        let piece = u.bytes(len.min(u.len()))?;
        // Mostly once; now and then 4, 16, 64, 256 or 1024 times, to reach the limits.
        let reps = match kind >> 3 {
            0..=23 => 1,
            r => 1usize << (2 * (r - 23)).min(10),
        };
        let mut bytes = Vec::with_capacity(piece.len() * reps + 1);
        if one_way && first {
            bytes.push(b'{');
        }
        for _ in 0..reps {
            bytes.extend_from_slice(piece);
        }
        first = false;
        total += bytes.len();
        if !bytes.is_empty() {
            out.push(Step::Data { dir, bytes, ts });
        }
    }
    Ok(out)
}

fn snapshot(d: &StratumDissector) -> String {
    format!("{:?}|{:?}|{}", d.info(), d.evidence(), d.wants_more())
}

fn check_info(d: &StratumDissector) {
    let Some(info) = d.info() else {
        assert!(d.evidence().is_none(), "evidence without info");
        return;
    };
    assert!(d.evidence().is_some(), "info without evidence");
    assert!(info.methods.len() <= MAX_METHODS, "{} methods", info.methods.len());
    for name in info.methods.keys() {
        assert!(name.len() <= METHOD_NAME_MAX, "method name of {} bytes", name.len());
    }
    let calls: u64 = info.methods.values().sum();
    assert!(calls <= info.messages, "{calls} calls counted but {} messages", info.messages);
    assert!(info.submits <= info.messages, "more shares than messages");
    assert!(
        info.accepted + info.rejected <= info.submits,
        "{} answers to {} shares",
        info.accepted + info.rejected,
        info.submits
    );
    for t in [&info.agent, &info.login, &info.worker].into_iter().flatten() {
        assert!(t.len() <= TEXT_MAX, "text of {} bytes", t.len());
    }
    if let Some(x) = info.difficulty {
        assert!(x.is_finite() && x > 0.0, "difficulty {x}");
    }
    if let Some(m) = info.job_interval_mean {
        assert!(m.is_finite() && m >= 0.0, "job interval mean {m}");
    }
    if let Some(cv) = info.job_interval_cv {
        assert!(info.job_interval_mean.is_some(), "cv without a mean");
        assert!(cv.is_finite() && cv >= 0.0, "job interval cv {cv}");
        assert!(info.jobs >= 3, "cv from {} jobs", info.jobs);
    }
    if let Some(r) = info.submit_rate {
        assert!(r.is_finite() && r >= 0.0, "submit rate {r}");
    }
}

/// Feeds `steps` to a fresh dissector, checking the per-chunk properties.
fn run_checked(steps: &[Step], one_way: bool) -> StratumDissector {
    let base = heap::live();
    let mut d = StratumDissector::new();
    let mut given_up = false;
    let mut evidence = None;
    // One-way run: complete non-blank lines and bytes seen.
    let mut lines = 0u32;
    let mut line_has_text = false;
    let mut fed: u64 = 0;
    for step in steps {
        match step {
            Step::Data { dir, bytes, ts } => {
                let before = given_up.then(|| snapshot(&d));
                d.on_chunk(*dir, Chunk::Data(bytes), *ts);
                let held = heap::since(base);
                assert!(held <= HEAP_BOUND, "dissector holds {held} bytes");
                if let Some(before) = before {
                    assert_eq!(before, snapshot(&d), "a dissector that gave up changed");
                }
                if one_way {
                    fed += bytes.len() as u64;
                    for &b in bytes.iter() {
                        if b == b'\n' {
                            lines += u32::from(line_has_text);
                            line_has_text = false;
                        } else if !b.is_ascii_whitespace() {
                            line_has_text = true;
                        }
                    }
                    if d.evidence().is_none() && (lines >= DECISION_MESSAGES || fed > DECISION_BYTES)
                    {
                        assert!(
                            !d.wants_more(),
                            "undecided after {lines} lines and {fed} bytes, still wants more"
                        );
                    }
                }
            }
            Step::Gap { dir, n, .. } => {
                let before = (d.info(), d.evidence());
                d.on_chunk(*dir, Chunk::Gap(*n), 0.0);
                let after = (d.info(), d.evidence());
                assert_eq!(
                    format!("{before:?}"),
                    format!("{after:?}"),
                    "a gap changed what the dissector reports"
                );
                drop((before, after));
                let held = heap::since(base);
                assert!(held <= HEAP_BOUND, "dissector holds {held} bytes after a gap");
            }
        }
        match (evidence, d.evidence()) {
            (Some(a), b) => assert_eq!(Some(a), b, "evidence changed"),
            (None, b) => evidence = b,
        }
        if evidence.is_some() {
            assert!(d.wants_more(), "a confirmed flow stopped wanting bytes");
        }
        if !d.wants_more() {
            assert!(d.evidence().is_none() && d.info().is_none());
            given_up = true;
        }
        check_info(&d);
    }
    d
}

/// Feeds `steps` without checks; with `split_gaps`, every gap of two bytes or more is reported
/// as two gaps that add up to it.
fn run_plain(steps: &[Step], split_gaps: bool) -> StratumDissector {
    let mut d = StratumDissector::new();
    for step in steps {
        match step {
            Step::Data { dir, bytes, ts } => d.on_chunk(*dir, Chunk::Data(bytes), *ts),
            Step::Gap { dir, n, split } => {
                if split_gaps && *split > 0 {
                    d.on_chunk(*dir, Chunk::Gap(*split), 0.0);
                    d.on_chunk(*dir, Chunk::Gap(n - split), 0.0);
                } else {
                    d.on_chunk(*dir, Chunk::Gap(*n), 0.0);
                }
            }
        }
    }
    d
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mode) = u.arbitrary::<u8>() else {
        return;
    };
    let one_way = mode % 4 == 0;
    let Ok(steps) = steps(&mut u, one_way) else {
        return;
    };
    let d = run_checked(&steps, one_way);
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{steps:?}\n{}", snapshot(&d));
    }
    let again = run_plain(&steps, false);
    assert_eq!(snapshot(&d), snapshot(&again), "same chunks, different result");
    if steps.iter().any(|s| matches!(s, Step::Gap { split, .. } if *split > 0)) {
        let split = run_plain(&steps, true);
        assert_eq!(
            snapshot(&d),
            snapshot(&split),
            "a gap reported in two pieces resynchronised differently"
        );
    }
});
