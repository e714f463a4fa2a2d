//! Feature tests with hand-computed expectations.

use super::*;
use crate::flow::Direction::{ClientToServer as C, ServerToClient as S};

fn obs(ts: f64, dir: Direction, payload: u32) -> PacketObs {
    PacketObs {
        ts,
        dir,
        ip_len: 40 + payload,
        wire_len: 54 + payload,
        payload_len: payload,
        tcp_flags: 0x18,
        retransmission: false,
    }
}

fn feature(f: &[f64], name: &str) -> f64 {
    let i = FEATURES
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name}"));
    f[i]
}

#[test]
fn names_are_unique_and_match_the_vector() {
    let mut names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    let n = names.len();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), n);
    assert_eq!(FlowStats::new(0.0).features().len(), n);
}

#[test]
fn moments_match_hand_computation() {
    let mut m = Moments::default();
    for x in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0] {
        m.push(x);
    }
    assert_eq!(m.mean(), 5.0);
    assert!((m.std() - 2.0).abs() < 1e-12);
    assert_eq!((m.min(), m.max()), (2.0, 9.0));
    assert!((m.cv() - 0.4).abs() < 1e-12);
    assert!(Moments::default().mean().is_nan());
}

/// A pool-like conversation: login, answer with the first job, then jobs pushed every 30 s,
/// submits at other times answered at once.
#[test]
fn pool_rhythm_gives_regular_pushes() {
    let mut s = FlowStats::new(0.0);
    s.update(&obs(0.0, C, 0)); // handshake ACK, no payload
    s.update(&obs(0.01, C, 300)); // login
    s.update(&obs(0.02, S, 600)); // answer with job: a response, not a push
    for k in 1..=4 {
        let t = 30.0 * k as f64;
        s.update(&obs(t, S, 500)); // job push
        s.update(&obs(t + 7.0, C, 200)); // submit
        s.update(&obs(t + 7.05, S, 60)); // accepted: a response
    }
    let f = s.features();
    assert_eq!(feature(&f, "pushes"), 4.0);
    assert_eq!(feature(&f, "msgs_s2c"), 9.0);
    assert!((feature(&f, "push_share") - 4.0 / 9.0).abs() < 1e-12);
    assert!((feature(&f, "push_iat_mean") - 30.0).abs() < 1e-9);
    assert!(feature(&f, "push_iat_cv").abs() < 1e-9);
    assert!((feature(&f, "push_period") - 30.0).abs() < 1e-4);
    assert_eq!(feature(&f, "seq_01"), 300.0);
    assert_eq!(feature(&f, "seq_02"), -600.0);
    assert_eq!(feature(&f, "seq_03"), -500.0);
    assert_eq!(feature(&f, "seq_04"), 200.0);
    assert_eq!(feature(&f, "seq_15"), 0.0);
    assert_eq!(feature(&f, "pl_pkts_c2s"), 5.0);
    assert_eq!(feature(&f, "pl_min_c2s"), 200.0);
    assert_eq!(feature(&f, "pl_max_s2c"), 600.0);
    // Silences of ≥ 10 s: 0.02→30, 37.05→60, 67.05→90, 97.05→120 (30→37 is only 7 s).
    assert_eq!(feature(&f, "idle_gaps"), 4.0);
    assert!((feature(&f, "idle_max") - 29.98).abs() < 1e-9);
    // 5 client payloads of ≤ 256 except the 300-byte login: 4 small of 5.
    assert!((feature(&f, "small_share_c2s") - 0.8).abs() < 1e-12);
}

#[test]
fn segments_of_one_response_form_one_message() {
    let mut s = FlowStats::new(0.0);
    s.update(&obs(0.0, C, 100));
    for i in 0..10 {
        s.update(&obs(0.05 + i as f64 * 0.001, S, 1448));
    }
    let f = s.features();
    assert_eq!(feature(&f, "msgs_s2c"), 1.0);
    assert_eq!(feature(&f, "pushes"), 0.0);
    assert_eq!(feature(&f, "msg_bytes_mean_s2c"), 14480.0);
    assert!((feature(&f, "bytes_ratio") - (100.0 - 14480.0) / 14580.0).abs() < 1e-12);
}

#[test]
fn retransmissions_count_bytes_but_not_shape() {
    let mut s = FlowStats::new(0.0);
    s.update(&obs(0.0, C, 100));
    let mut r = obs(0.5, C, 100);
    r.retransmission = true;
    s.update(&r);
    assert_eq!(s.dir[0].packets, 2);
    assert_eq!(s.dir[0].payload_bytes, 200);
    let f = s.features();
    assert_eq!(feature(&f, "pl_pkts_c2s"), 1.0);
    assert_eq!(feature(&f, "retrans_c2s"), 1.0);
    assert_eq!(feature(&f, "seq_02"), 0.0);
}

#[test]
fn empty_directions_give_missing_values_not_zeros() {
    let mut s = FlowStats::new(0.0);
    s.update(&obs(0.0, C, 0));
    let f = s.features();
    assert!(feature(&f, "pl_mean_s2c").is_nan());
    assert!(feature(&f, "iat_mean_c2s").is_nan());
    assert!(feature(&f, "bytes_ratio").is_nan());
    assert!(feature(&f, "payload_rate").is_nan()); // zero duration
}
