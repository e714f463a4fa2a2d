//! Feeds the Stratum V2 detector, and the mining dissector that wraps it, any sequence of
//! chunks of both directions with gaps. Half the inputs open with turns of sizes drawn from
//! around the protocol's exact ones (63, 64, 65; 233, 234, 235; the set-up frames' bounds) and
//! random-looking content, so that the fuzzer reaches the confirmed state and the boundaries.
//!
//! Checks, after every chunk, against a model of the rule written from the module
//! documentation:
//! * a flow is confirmed exactly when its opening turns (runs of data one way, ended by data
//!   the other way) are, from the first byte and with no gap before the confirming chunk:
//!   client exactly 64 bytes with at least 40 distinct values, server exactly 234 with at
//!   least 120, client 54 to 1,329 and server 43 to 298 bytes, each opening with 22 bytes
//!   that are not all text, then the client again; so never unless the first client bytes
//!   fit;
//! * the decision is final: confirmation never goes away and keeps `wants_more()` true; once
//!   `wants_more()` is false the detector reports nothing and nothing changes any more;
//! * a gap after the confirmation changes nothing; message counts never decrease, count at
//!   least the set-up exchange once confirmed, and never exceed the data chunks fed;
//! * the mining dissector reports `sv2` exactly when the detector confirms, with the same
//!   counts (unless its plaintext reader confirmed the flow first).
//!
//! And at the end: the same chunks cut into two pieces each (same time) give the same result.
//! `FUZZ_DEBUG=1` prints the chunks and the result.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use poolscope::dissect::stratum::MiningDissector;
use poolscope::dissect::sv2::{
    Sv2Detector, INITIATOR_MESSAGE_SIZE, RESPONDER_MESSAGE_SIZE, SETUP_ANSWER_FRAME,
    SETUP_CONNECTION_FRAME,
};
use poolscope::flow::reassembly::Chunk;
use poolscope::flow::Direction;

#[derive(Debug, Clone)]
enum Step {
    Data {
        dir: Direction,
        bytes: Vec<u8>,
        ts: f64,
    },
    Gap {
        dir: Direction,
        n: u64,
    },
}

const C: Direction = Direction::ClientToServer;
const S: Direction = Direction::ServerToClient;

/// Sizes of the opening turns tried in shaped inputs: the exact ones and their neighbours.
const SHAPED: [&[u64]; 4] = [
    &[64, 64, 64, 63, 65, 1],
    &[234, 234, 234, 233, 235, 64],
    &[98, 54, 1329, 53, 1330, 116],
    &[44, 43, 298, 42, 299, 91],
];

/// Random-looking bytes from a seed the input gives (ElligatorSwift keys and ciphertext
/// look uniform; the input's own bytes rarely do).
fn noise(n: u64, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn steps(u: &mut Unstructured<'_>, shaped: bool) -> Result<Vec<Step>> {
    let mut out = Vec::new();
    let mut ts = 1_700_000_000.0;
    if shaped {
        for (i, sizes) in SHAPED.iter().enumerate() {
            let size = sizes[usize::from(u.arbitrary::<u8>()?) % sizes.len()];
            let dir = if i % 2 == 0 { C } else { S };
            let bytes = noise(size, u.arbitrary()?);
            // Now and then a turn in two chunks.
            let cut = usize::from(u.arbitrary::<u8>()?);
            ts += 0.001;
            if cut > 0 && cut < bytes.len() && cut % 3 == 0 {
                out.push(Step::Data {
                    dir,
                    bytes: bytes[..cut].to_vec(),
                    ts,
                });
                out.push(Step::Data {
                    dir,
                    bytes: bytes[cut..].to_vec(),
                    ts,
                });
            } else {
                out.push(Step::Data { dir, bytes, ts });
            }
        }
    }
    while !u.is_empty() && out.len() < 2048 {
        let ctl: u8 = u.arbitrary()?;
        let dt = f64::from(ctl & 0x3f) / 100.0;
        ts += if ctl & 0x40 != 0 && dt < 0.05 {
            -dt
        } else {
            dt
        };
        let dir = if ctl & 0x80 != 0 { S } else { C };
        let kind: u8 = u.arbitrary()?;
        match kind % 8 {
            0 => out.push(Step::Gap {
                dir,
                n: u64::from(u.arbitrary::<u16>()?) + 1,
            }),
            1 | 2 => {
                let n = u64::from(u.arbitrary::<u16>()? % 1400) + 1;
                out.push(Step::Data {
                    dir,
                    bytes: noise(n, u.arbitrary()?),
                    ts,
                });
            }
            _ => {
                let len = usize::from(u.arbitrary::<u8>()?) + 1;
                let bytes = u.bytes(len.min(u.len()))?.to_vec();
                if !bytes.is_empty() {
                    out.push(Step::Data { dir, bytes, ts });
                }
            }
        }
    }
    Ok(out)
}

/// The rule, from the steps fed so far: would these confirm SV2? Written from the module
/// documentation, not from the detector's code.
fn model_confirms(fed: &[Step]) -> bool {
    // The first five turns: direction, length, and their first bytes (enough for the checks).
    let mut turns: Vec<(Direction, u64, Vec<u8>)> = Vec::new();
    for step in fed {
        match step {
            Step::Gap { .. } => {
                // A gap before the confirming chunk (the fifth turn's first) rules the flow out.
                if turns.len() < 5 {
                    return false;
                }
            }
            Step::Data { dir, bytes, .. } => {
                let head = &bytes[..bytes.len().min(300)];
                if let Some((_, n, h)) = turns.last_mut().filter(|t| t.0 == *dir) {
                    *n += bytes.len() as u64;
                    h.extend_from_slice(head);
                    h.truncate(300);
                } else if turns.len() == 5 {
                    break;
                } else {
                    turns.push((*dir, bytes.len() as u64, head.to_vec()));
                }
            }
        }
    }
    let distinct = |b: &[u8]| {
        let mut seen = [false; 256];
        b.iter().for_each(|&x| seen[usize::from(x)] = true);
        seen.iter().filter(|&&x| x).count()
    };
    let text = |b: u8| matches!(b, 0x20..=0x7e | b'\t' | b'\r' | b'\n');
    let binary_header = |h: &[u8]| h[..22].iter().any(|&b| !text(b));
    turns.len() == 5
        && turns[0].0 == C
        && turns[0].1 == INITIATOR_MESSAGE_SIZE
        && distinct(&turns[0].2) >= 40
        && turns[1].0 == S
        && turns[1].1 == RESPONDER_MESSAGE_SIZE
        && distinct(&turns[1].2) >= 120
        && turns[2].0 == C
        && SETUP_CONNECTION_FRAME.contains(&turns[2].1)
        && binary_header(&turns[2].2)
        && turns[3].0 == S
        && SETUP_ANSWER_FRAME.contains(&turns[3].1)
        && binary_header(&turns[3].2)
}

fn snapshot(d: &Sv2Detector) -> String {
    format!("{:?}|{}|{}", d.session(), d.is_confirmed(), d.wants_more())
}

fn feed(d: &mut Sv2Detector, m: &mut MiningDissector, step: &Step) {
    match step {
        Step::Data { dir, bytes, ts } => {
            d.on_chunk(*dir, Chunk::Data(bytes), *ts);
            m.on_chunk(*dir, Chunk::Data(bytes), *ts);
        }
        Step::Gap { dir, n } => {
            d.on_chunk(*dir, Chunk::Gap(*n), 0.0);
            m.on_chunk(*dir, Chunk::Gap(*n), 0.0);
        }
    }
}

fn run_checked(steps: &[Step]) -> Sv2Detector {
    let mut d = Sv2Detector::new();
    let mut m = MiningDissector::new();
    let mut confirmed = false;
    let mut done: Option<String> = None;
    let mut last = [0u64; 2];
    let mut chunks = [0u64; 2];
    for (i, step) in steps.iter().enumerate() {
        let before = d.session();
        feed(&mut d, &mut m, step);
        if let Step::Data { dir, .. } = step {
            chunks[dir.index()] += 1;
        }
        if let Some(s) = &done {
            assert_eq!(s, &snapshot(&d), "a detector that gave up changed");
        }
        if matches!(step, Step::Gap { .. }) && before.is_some() {
            assert_eq!(before, d.session(), "a gap changed a confirmed session");
        }
        assert_eq!(
            d.is_confirmed(),
            model_confirms(&steps[..=i]),
            "the detector and the rule disagree after {:?}",
            &steps[..=i]
        );
        if d.is_confirmed() {
            assert!(d.wants_more(), "a confirmed session stopped wanting bytes");
            let s = d.session().expect("confirmed without a session");
            for k in 0..2 {
                assert!(s.messages[k] >= last[k], "message count went down");
                assert!(
                    s.messages[k] >= 1,
                    "the set-up exchange is a message each way"
                );
                // The set-up turns count one each, every later message starts with a chunk.
                assert!(
                    s.messages[k] <= chunks[k],
                    "{:?} messages from {chunks:?} chunks",
                    s.messages
                );
            }
            last = s.messages;
        } else {
            assert!(!confirmed, "a confirmation went away");
            assert!(d.session().is_none());
        }
        confirmed |= d.is_confirmed();
        if !d.wants_more() && done.is_none() {
            assert!(!d.is_confirmed());
            done = Some(snapshot(&d));
        }
        // The mining dissector reports what the detector confirms, unless its plaintext reader
        // confirmed first (it then stops feeding the detector).
        let info = m.info();
        let sv2 = info.as_ref().is_some_and(|i| i.dialect == "sv2");
        if sv2 || info.is_none() {
            assert_eq!(
                sv2,
                d.is_confirmed(),
                "the mining dissector disagrees: {info:?}"
            );
        }
        if let Some(info) = info.filter(|i| i.dialect == "sv2") {
            let s = d.session().unwrap();
            assert_eq!(
                (info.messages_c2s, info.messages_s2c),
                (Some(s.messages[0]), Some(s.messages[1]))
            );
            assert_eq!(info.messages, s.messages[0] + s.messages[1]);
        }
    }
    d
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mode) = u.arbitrary::<u8>() else {
        return;
    };
    let Ok(steps) = steps(&mut u, mode % 2 == 0) else {
        return;
    };
    let d = run_checked(&steps);
    if std::env::var_os("FUZZ_DEBUG").is_some() {
        eprintln!("{steps:?}\n{}", snapshot(&d));
    }
    // Cut every data chunk in two: turns and message times are the same.
    let mut split = Sv2Detector::new();
    let mut m = MiningDissector::new();
    for step in &steps {
        match step {
            Step::Data { dir, bytes, ts } if bytes.len() >= 2 => {
                let (a, b) = bytes.split_at(bytes.len() / 2);
                for piece in [a, b] {
                    feed(
                        &mut split,
                        &mut m,
                        &Step::Data {
                            dir: *dir,
                            bytes: piece.to_vec(),
                            ts: *ts,
                        },
                    );
                }
            }
            _ => feed(&mut split, &mut m, step),
        }
    }
    assert_eq!(
        snapshot(&d),
        snapshot(&split),
        "cut chunks, different result"
    );
});
