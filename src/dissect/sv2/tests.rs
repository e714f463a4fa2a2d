//! Tests of the SV2 detector with byte streams built by hand to the exact sizes the reference
//! implementation writes (64-byte initiator key, 234-byte responder answer, 98-byte
//! `SetupConnection`, 44-byte `SetupConnection.Success`, …, as `tools/sv2-capture` logs them),
//! every way of cutting them into chunks, and the near misses one byte or one property away.

use super::*;
use crate::dissect::stratum::{Evidence, MiningDissector};

const C: Direction = Direction::ClientToServer;
const S: Direction = Direction::ServerToClient;

/// Deterministic random-looking bytes (xorshift64), standing in for ciphertext and
/// ElligatorSwift encodings.
fn noise(n: usize, seed: u64) -> Vec<u8> {
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

/// One stream: (direction, capture time, bytes) in capture order.
type Stream = Vec<(Direction, f64, Vec<u8>)>;

/// A standard-channel session as the reference roles write it (sizes from the capture in
/// `tests/data/pcap/sv2-noise-session.pcap`): handshake, set-up, channel, a job and its prev
/// hash together, a job push 5 s later, two shares answered at once.
fn session() -> Stream {
    let mut t = 1_767_225_600.0;
    let mut s = Vec::new();
    let mut push = |dir, dt: f64, n: usize| {
        t += dt;
        s.push((dir, t, noise(n, s.len() as u64 + 1)));
    };
    push(C, 0.0, 64); // initiator's ephemeral key
    push(S, 0.0004, 234); // responder: e, encrypted s, encrypted certificate
    push(C, 0.0005, 98); // SetupConnection
    push(S, 0.0001, 44); // SetupConnection.Success
    push(C, 0.0001, 116); // OpenStandardMiningChannel: confirms
    push(S, 0.0001, 91); // OpenStandardMiningChannel.Success
    push(S, 0.0001, 83); // NewMiningJob (future) ...
    push(S, 0.00003, 86); // ... and SetNewPrevHash, the same message
    push(S, 5.0, 87); // NewMiningJob push
    push(C, 4.1, 62); // SubmitSharesStandard
    push(S, 0.0002, 58); // SubmitSharesSuccess
    push(C, 0.3, 62);
    push(S, 0.0002, 58);
    s
}

fn run(stream: &Stream) -> Sv2Detector {
    let mut d = Sv2Detector::new();
    for (dir, ts, bytes) in stream {
        d.on_chunk(*dir, Chunk::Data(bytes), *ts);
    }
    d
}

/// The stream with every chunk cut into pieces of at most `size` bytes (same time).
fn run_in_pieces(stream: &Stream, size: usize) -> Sv2Detector {
    let mut d = Sv2Detector::new();
    for (dir, ts, bytes) in stream {
        for piece in bytes.chunks(size) {
            d.on_chunk(*dir, Chunk::Data(piece), *ts);
        }
    }
    d
}

/// The first `turns` chunks of a session, the chunk at `at` resized to `len` bytes.
fn with_size(turns: usize, at: usize, len: usize) -> Stream {
    let mut s: Stream = session().into_iter().take(turns).collect();
    s[at].2 = noise(len, 1000 + at as u64);
    s
}

fn is_sv2(stream: &Stream) -> bool {
    run(stream).is_confirmed()
}

#[test]
fn sizes_are_the_reference_implementations() {
    assert_eq!(INITIATOR_MESSAGE_SIZE, 64);
    assert_eq!(RESPONDER_MESSAGE_SIZE, 234);
    assert_eq!(ENCRYPTED_SV2_FRAME_HEADER_SIZE, 22);
    assert_eq!(
        encrypted_frame_size(0),
        22,
        "an empty payload has no MAC of its own"
    );
    assert_eq!(encrypted_frame_size(1), 39);
    // SetupConnection.Success (u16 + u32), SubmitSharesStandard (6 × u32), SubmitSharesSuccess
    // (3 × u32 + u64), SetNewPrevHash, NewMiningJob without and with min_ntime: the sizes the
    // capture shows.
    assert_eq!(encrypted_frame_size(6), 44);
    assert_eq!(encrypted_frame_size(24), 62);
    assert_eq!(encrypted_frame_size(20), 58);
    assert_eq!(encrypted_frame_size(48), 86);
    assert_eq!(encrypted_frame_size(45), 83);
    assert_eq!(encrypted_frame_size(49), 87);
    // Pieces of 65,519 plaintext bytes, 65,535 encrypted.
    assert_eq!(encrypted_frame_size(65_519), 22 + 65_535);
    assert_eq!(encrypted_frame_size(65_520), 22 + 65_535 + 1 + 16);
    assert_eq!(SETUP_CONNECTION_FRAME, 54..=1329);
    assert_eq!(SETUP_ANSWER_FRAME, 43..=298);
}

#[test]
fn a_session_is_confirmed_by_the_channel_opening_and_its_messages_counted() {
    let s = session();
    let mut d = Sv2Detector::new();
    for (i, (dir, ts, bytes)) in s.iter().enumerate() {
        d.on_chunk(*dir, Chunk::Data(bytes), *ts);
        // Undecided through the set-up answer, confirmed by the client's next bytes.
        assert_eq!(d.is_confirmed(), i >= 4, "after chunk {i}");
        assert!(d.wants_more());
    }
    // Client: set-up, channel, 2 shares; server: set-up answer, channel answer with the job and
    // prev hash, the job push, 2 share answers.
    assert_eq!(d.session(), Some(Sv2Session { messages: [4, 5] }));
}

#[test]
fn any_cut_of_the_stream_gives_the_same_result() {
    let s = session();
    let whole = run(&s).session();
    assert!(whole.is_some());
    for size in [1, 2, 7, 22, 63, 64, 65, 100, 233] {
        assert_eq!(run_in_pieces(&s, size).session(), whole, "pieces of {size}");
    }
}

#[test]
fn the_set_up_bounds_are_inclusive() {
    for (at, len, want) in [
        (2, 53, false),
        (2, 54, true),
        (2, 1329, true),
        (2, 1330, false),
        (3, 42, false),
        (3, 43, true),
        (3, 298, true),
        (3, 299, false),
    ] {
        assert_eq!(
            is_sv2(&with_size(5, at, len)),
            want,
            "turn {at} of {len} bytes"
        );
    }
}

#[test]
fn handshake_sizes_must_be_exact() {
    for len in [1, 32, 63, 65, 96, 517] {
        assert!(!is_sv2(&with_size(5, 0, len)), "initiator message of {len}");
    }
    for len in [64, 80, 144, 233, 235, 250] {
        assert!(!is_sv2(&with_size(5, 1, len)), "responder message of {len}");
    }
}

#[test]
fn the_client_must_wait_for_the_server() {
    // 64 bytes, then 16 more before the server answers: one 80-byte turn.
    let mut s = session();
    s.insert(1, (C, s[0].1, noise(16, 77)));
    assert!(!is_sv2(&s));
    // The server speaks first (a banner): not the initiator's protocol.
    let mut s = session();
    s.insert(0, (S, s[0].1, noise(64, 78)));
    assert!(!is_sv2(&s));
}

#[test]
fn an_unanswered_handshake_or_set_up_is_not_confirmed() {
    // Handshake only (sv2-handshake-only.pcap), or the set-up answered and nothing after it (a
    // SetupConnection.Error before the close): undecided, so never reported.
    for turns in [1, 2, 3, 4] {
        let d = run(&session().into_iter().take(turns).collect());
        assert!(!d.is_confirmed() && d.session().is_none(), "{turns} turns");
        assert!(d.wants_more(), "{turns} turns");
    }
}

#[test]
fn text_and_structured_openings_are_dropped_early() {
    // A TLS ClientHello, an HTTP request, a JSON-RPC login: over 64 bytes, or text.
    let mut hello = vec![
        0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
    ];
    hello.extend(noise(506, 5));
    let http = b"GET /mining.notify HTTP/1.1\r\nHost: pool.example\r\nAccept: */*\r\n\r\n";
    let json = b"{\"id\":1,\"method\":\"login\",\"params\":{\"login\":\"x\",\"pass\":\"x\"}}\n";
    for opening in [&hello[..], &http[..], &json[..]] {
        let mut d = Sv2Detector::new();
        d.on_chunk(C, Chunk::Data(opening), 1.0);
        assert!(
            !d.wants_more(),
            "{:?}",
            String::from_utf8_lossy(&opening[..8])
        );
    }
    // 64 bytes of text, of zeros, of a counter: the right size, but not an ElligatorSwift key.
    // The text is given up at once; the counter's 64 distinct values pass the byte-value test,
    // so it takes the size of the answer to end it: an answer of another size is complete
    // when the client speaks again (until then the server might still send the rest).
    let text = [b'a'; 64];
    let zeros = [0u8; 64];
    for opening in [&text[..], &zeros[..]] {
        let mut d = Sv2Detector::new();
        d.on_chunk(C, Chunk::Data(&opening[..40]), 1.0);
        assert!(!d.wants_more());
    }
    let counter: Vec<u8> = (0..64).collect();
    let mut d = Sv2Detector::new();
    d.on_chunk(C, Chunk::Data(&counter), 1.0);
    assert!(d.wants_more());
    d.on_chunk(S, Chunk::Data(b"HTTP/1.1 400 Bad Request\r\n\r\n"), 1.1);
    assert!(d.wants_more());
    d.on_chunk(C, Chunk::Data(&noise(98, 9)), 1.2);
    assert!(!d.wants_more());
    // A low-entropy responder answer of the right size.
    let mut s = session();
    s[1].2 = vec![0; 234];
    let d = run(&s);
    assert!(!d.wants_more() && !d.is_confirmed());
}

#[test]
fn plaintext_after_a_random_looking_handshake_is_not_sv2() {
    // sv2-lookalike.pcap's "plain-after" flow: 64 random bytes, 234 random bytes, then lines.
    let mut s = session();
    let mut line = b"HELLO pool, this is a plain text line after 64 random bytes".to_vec();
    line.resize(79, b' ');
    line.push(b'\n');
    s[2].2 = line;
    assert!(!is_sv2(&s));
    let mut s = session();
    s[3].2 = b"OK welcome, protocol version 2, flags 0, ready\n".to_vec();
    assert!(!is_sv2(&s));
    // Text after 22 binary bytes is still an encrypted header followed by ... anything: the
    // header is what is checked.
    let mut s = session();
    s[2].2.truncate(22);
    s[2].2.extend_from_slice(&[b'x'; 76]);
    assert!(is_sv2(&s));
}

#[test]
fn a_gap_before_the_decision_ends_the_look_and_after_it_is_skipped() {
    let s = session();
    for at in 0..5 {
        let mut d = Sv2Detector::new();
        for (i, (dir, ts, bytes)) in s.iter().enumerate() {
            if i == at {
                d.on_chunk(*dir, Chunk::Gap(10), *ts);
            }
            d.on_chunk(*dir, Chunk::Data(bytes), *ts);
        }
        assert!(
            !d.is_confirmed() && !d.wants_more(),
            "gap before chunk {at}"
        );
    }
    let mut d = Sv2Detector::new();
    for (i, (dir, ts, bytes)) in s.iter().enumerate() {
        if i == 7 {
            d.on_chunk(*dir, Chunk::Gap(1400), *ts);
        }
        d.on_chunk(*dir, Chunk::Data(bytes), *ts);
    }
    assert_eq!(d.session(), run(&s).session());
}

#[test]
fn once_given_up_nothing_changes() {
    let mut d = Sv2Detector::new();
    d.on_chunk(C, Chunk::Data(&noise(65, 1)), 1.0);
    assert!(!d.wants_more());
    for (dir, ts, bytes) in session() {
        d.on_chunk(dir, Chunk::Data(&bytes), ts);
    }
    assert!(!d.wants_more() && d.session().is_none());
}

#[test]
fn the_mining_dissector_reports_sv2_as_a_stratum_dialect() {
    let mut m = MiningDissector::new();
    for (dir, ts, bytes) in session() {
        assert!(m.wants_more());
        m.on_chunk(dir, Chunk::Data(&bytes), ts);
    }
    assert_eq!(m.evidence(), Some(Evidence::NoiseHandshake));
    let info = m.info().unwrap();
    assert_eq!(info.dialect, "sv2");
    assert_eq!(info.methods.keys().collect::<Vec<_>>(), ["noise-handshake"]);
    assert_eq!(
        (info.messages_c2s, info.messages_s2c, info.messages),
        (Some(4), Some(5), 9)
    );
    assert_eq!((info.jobs, info.submits, &info.agent), (0, 0, &None));
    // The JSON form carries the counts; plaintext dialects do not have them.
    let v = serde_json::to_value(&info).unwrap();
    assert_eq!(v["messages_c2s"], 4);
}

#[test]
fn the_mining_dissector_still_reads_plaintext_stratum_and_drops_other_binary() {
    let mut m = MiningDissector::new();
    m.on_chunk(
        C,
        Chunk::Data(b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"cgminer/4.10\"]}\n"),
        1.0,
    );
    let answer = concat!(
        r#"{"id":1,"result":[[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f"]],"#,
        r#""08000002",4],"error":null}"#,
        "\n"
    );
    m.on_chunk(S, Chunk::Data(answer.as_bytes()), 1.1);
    let info = m.info().expect("plaintext Stratum confirmed");
    assert_eq!(info.dialect, "btc");
    assert_eq!(info.messages_c2s, None);
    assert!(serde_json::to_value(&info)
        .unwrap()
        .get("messages_c2s")
        .is_none());
    // A binary flow that is not SV2 is dropped once the server's answer is known to have
    // another size: when it passes 234 bytes, or when the client speaks again.
    for answer in [300, 120] {
        let mut m = MiningDissector::new();
        m.on_chunk(C, Chunk::Data(&noise(64, 3)), 1.0);
        assert!(m.wants_more(), "the SV2 detector waits for the answer");
        m.on_chunk(S, Chunk::Data(&noise(answer, 4)), 1.1);
        m.on_chunk(C, Chunk::Data(&noise(98, 5)), 1.2);
        assert!(!m.wants_more(), "answer of {answer}");
        assert_eq!(m.info(), None);
    }
}
