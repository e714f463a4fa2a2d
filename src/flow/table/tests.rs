//! Flow table tests: client choice, timeouts, close and reuse, the cap, deterministic ids.

use super::*;
use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};

fn key(proto: Protocol, a: &str, ap: u16, b: &str, bp: u16) -> FlowKey {
    FlowKey {
        protocol: proto,
        src: Endpoint {
            ip: a.parse().unwrap(),
            port: ap,
        },
        dst: Endpoint {
            ip: b.parse().unwrap(),
            port: bp,
        },
    }
}

struct Harness {
    t: FlowTable<u32>,
    ended: Vec<(u64, FlowKey, EndReason)>,
}

impl Harness {
    fn new(cfg: FlowConfig) -> Self {
        Harness {
            t: FlowTable::new(cfg),
            ended: Vec::new(),
        }
    }
    fn pkt(&mut self, k: FlowKey, ts: f64, flags: Option<u8>) -> (u64, FlowKey, Direction) {
        let ended = &mut self.ended;
        let (e, d) = self.t.packet(k, ts, flags, |_| 0, &mut |e, r| {
            ended.push((e.id, e.key, r))
        });
        e.state += 1;
        (e.id, e.key, d)
    }
    fn expire(&mut self, now: f64) {
        let ended = &mut self.ended;
        self.t.expire(now, &mut |e, r| ended.push((e.id, e.key, r)));
    }
    fn drain(&mut self) {
        let ended = &mut self.ended;
        self.t.drain(&mut |e, r| ended.push((e.id, e.key, r)));
    }
}

#[test]
fn syn_sender_is_client_whatever_the_ports() {
    let mut h = Harness::new(FlowConfig::default());
    // A client on port 443 connecting to an ephemeral port: the SYN decides.
    let k = key(Protocol::Tcp, "10.0.0.1", 443, "10.0.0.2", 55555);
    let (id, fk, d) = h.pkt(k, 0.0, Some(SYN));
    assert_eq!((id, fk, d), (1, k, Direction::ClientToServer));
    let (id2, _, d2) = h.pkt(k.reverse(), 0.1, Some(SYN | ACK));
    assert_eq!((id2, d2), (1, Direction::ServerToClient));
}

#[test]
fn syn_ack_first_makes_its_receiver_the_client() {
    let mut h = Harness::new(FlowConfig::default());
    let k = key(Protocol::Tcp, "10.0.0.2", 3333, "10.0.0.1", 40000);
    let (_, fk, d) = h.pkt(k, 0.0, Some(SYN | ACK));
    assert_eq!(fk, k.reverse());
    assert_eq!(d, Direction::ServerToClient);
}

#[test]
fn without_syn_the_service_port_is_the_server() {
    let mut h = Harness::new(FlowConfig::default());
    // Mid-stream pickup: the first packet seen comes from the pool.
    let k = key(Protocol::Tcp, "1.2.3.4", 3333, "10.0.0.1", 50123);
    let (_, fk, d) = h.pkt(k, 0.0, Some(ACK));
    assert_eq!(fk.dst.port, 3333);
    assert_eq!(d, Direction::ServerToClient);
    // DNS answer seen first.
    let k = key(Protocol::Udp, "8.8.8.8", 53, "10.0.0.1", 40000);
    let (_, fk, _) = h.pkt(k, 0.0, None);
    assert_eq!(fk.dst.port, 53);
    // Two unknown ports: the ephemeral-range side is the client.
    let k = key(Protocol::Udp, "10.0.0.9", 20000, "10.0.0.1", 60000);
    let (_, fk, _) = h.pkt(k, 0.0, None);
    assert_eq!(fk.src.port, 60000);
    // Nothing tells: the first talker is the client.
    let k = key(Protocol::Udp, "10.0.0.9", 20000, "10.0.0.1", 21000);
    let (_, fk, _) = h.pkt(k, 0.0, None);
    assert_eq!(fk, k);
}

#[test]
fn ids_follow_first_appearance_and_drain_in_id_order() {
    let mut h = Harness::new(FlowConfig::default());
    let a = key(Protocol::Udp, "10.0.0.1", 1000, "10.0.0.2", 53);
    let b = key(Protocol::Udp, "10.0.0.1", 1001, "10.0.0.2", 53);
    let c = key(Protocol::Tcp, "10.0.0.1", 1002, "10.0.0.2", 80);
    assert_eq!(h.pkt(b, 0.0, None).0, 1);
    assert_eq!(h.pkt(a, 1.0, None).0, 2);
    assert_eq!(h.pkt(c, 2.0, Some(SYN)).0, 3);
    assert_eq!(h.pkt(b.reverse(), 3.0, None).0, 1);
    h.drain();
    let ids: Vec<u64> = h.ended.iter().map(|e| e.0).collect();
    assert_eq!(ids, vec![1, 2, 3]);
    assert!(h.ended.iter().all(|e| e.2 == EndReason::EndOfCapture));
    assert!(h.t.is_empty());
}

#[test]
fn idle_timeouts_per_class() {
    let cfg = FlowConfig {
        tcp_idle_timeout: 100.0,
        udp_idle_timeout: 10.0,
        tcp_closed_timeout: 5.0,
        active_timeout: 0.0,
        max_flows: 10,
    };
    let mut h = Harness::new(cfg);
    let u = key(Protocol::Udp, "10.0.0.1", 1000, "10.0.0.2", 53);
    let t = key(Protocol::Tcp, "10.0.0.1", 1001, "10.0.0.2", 80);
    let c = key(Protocol::Tcp, "10.0.0.1", 1002, "10.0.0.2", 80);
    h.pkt(u, 0.0, None);
    h.pkt(t, 0.0, Some(SYN));
    h.pkt(c, 0.0, Some(SYN));
    h.pkt(c, 1.0, Some(FIN | ACK));
    h.pkt(c.reverse(), 1.0, Some(FIN | ACK));
    h.expire(5.5);
    assert!(h.ended.is_empty(), "nothing is due yet: {:?}", h.ended);
    h.expire(6.5);
    assert_eq!(h.ended, vec![(3, c, EndReason::Closed)]);
    h.expire(10.5);
    assert_eq!(h.ended[1], (1, u, EndReason::Idle));
    h.expire(100.0);
    assert_eq!(h.ended.len(), 2);
    h.expire(100.5);
    assert_eq!(h.ended[2], (2, t, EndReason::Idle));
}

#[test]
fn a_late_packet_after_the_idle_timeout_starts_a_new_flow() {
    let cfg = FlowConfig {
        udp_idle_timeout: 10.0,
        ..FlowConfig::default()
    };
    let mut h = Harness::new(cfg);
    let u = key(Protocol::Udp, "10.0.0.1", 1000, "10.0.0.2", 53);
    h.pkt(u, 0.0, None);
    // No expiry pass ran in between: the lookup itself notices.
    let (id, _, _) = h.pkt(u, 20.0, None);
    assert_eq!(id, 2);
    assert_eq!(h.ended, vec![(1, u, EndReason::Idle)]);
}

#[test]
fn rst_closes_and_a_new_syn_reuses_the_tuple() {
    let mut h = Harness::new(FlowConfig::default());
    let k = key(Protocol::Tcp, "10.0.0.1", 40000, "10.0.0.2", 3333);
    h.pkt(k, 0.0, Some(SYN));
    h.pkt(k.reverse(), 0.1, Some(RST | ACK));
    // Retransmitted RST, same flow.
    assert_eq!(h.pkt(k.reverse(), 0.2, Some(RST)).0, 1);
    let (id, fk, _) = h.pkt(k, 1.0, Some(SYN));
    assert_eq!((id, fk), (2, k));
    assert_eq!(h.ended, vec![(1, k, EndReason::PortReuse)]);
    // A SYN retransmission on an open flow does not split it.
    assert_eq!(h.pkt(k, 1.5, Some(SYN)).0, 2);
}

#[test]
fn active_timeout_cuts_and_keeps_the_client() {
    let cfg = FlowConfig {
        active_timeout: 60.0,
        ..FlowConfig::default()
    };
    let mut h = Harness::new(cfg);
    let k = key(Protocol::Tcp, "10.0.0.1", 40000, "10.0.0.2", 3333);
    h.pkt(k, 0.0, Some(SYN));
    for i in 1..=59 {
        h.pkt(k.reverse(), i as f64, Some(ACK));
    }
    // The server speaks first after the cut; the client stays the client.
    let (id, fk, d) = h.pkt(k.reverse(), 60.0, Some(ACK));
    assert_eq!((id, fk, d), (2, k, Direction::ServerToClient));
    assert_eq!(h.ended, vec![(1, k, EndReason::Active)]);
}

#[test]
fn the_cap_evicts_the_least_recently_seen() {
    let cfg = FlowConfig {
        max_flows: 3,
        ..FlowConfig::default()
    };
    let mut h = Harness::new(cfg);
    let ks: Vec<FlowKey> = (0..4)
        .map(|i| key(Protocol::Udp, "10.0.0.1", 1000 + i, "10.0.0.2", 53))
        .collect();
    let t = key(Protocol::Tcp, "10.0.0.1", 999, "10.0.0.2", 80);
    h.pkt(ks[0], 0.0, None);
    h.pkt(t, 1.0, Some(SYN));
    h.pkt(ks[1], 2.0, None);
    h.pkt(ks[0], 3.0, None); // refreshed: now the TCP flow is the oldest
    h.pkt(ks[2], 4.0, None);
    assert_eq!(h.ended, vec![(2, t, EndReason::Evicted)]);
    assert_eq!(h.t.len(), 3);
    h.pkt(ks[3], 5.0, None);
    assert_eq!(h.ended[1], (3, ks[1], EndReason::Evicted));
    assert_eq!(h.t.stats.evicted, 2);
    assert_eq!(h.t.stats.peak_live, 3);
}

#[test]
fn memory_stays_bounded_under_many_flows() {
    let cfg = FlowConfig {
        max_flows: 100,
        ..FlowConfig::default()
    };
    let mut h = Harness::new(cfg);
    for i in 0..10_000u32 {
        let k = key(
            Protocol::Udp,
            "10.0.0.1",
            (i % 60000) as u16 + 1,
            &format!("10.1.{}.{}", i / 250, i % 250),
            53,
        );
        h.pkt(k, i as f64 * 0.001, None);
        assert!(h.t.len() <= 100);
    }
    assert_eq!(h.t.slots.len(), 100, "slots are reused, not grown");
}

/// A capture older than the one before it (files read in any order) keeps its flows whole:
/// draining at the end of a capture restarts the clock.
#[test]
fn an_older_capture_after_a_newer_one_keeps_its_flows() {
    let mut h = Harness::new(FlowConfig::default());
    let newer = key(Protocol::Tcp, "10.0.0.1", 40000, "10.0.0.2", 443);
    h.pkt(newer, 1_600_000_000.0, Some(SYN));
    h.drain();
    let older = key(Protocol::Tcp, "10.0.0.1", 40001, "10.0.0.3", 3333);
    h.pkt(older, 1_500_000_000.0, Some(SYN));
    for i in 1..20 {
        let t = 1_500_000_000.0 + i as f64 * 30.0;
        h.expire(t);
        h.pkt(older, t, Some(ACK));
    }
    h.drain();
    let ids: Vec<(u64, EndReason)> = h.ended.iter().map(|e| (e.0, e.2)).collect();
    assert_eq!(
        ids,
        vec![(1, EndReason::EndOfCapture), (2, EndReason::EndOfCapture)]
    );
}
