//! Feeds a `FlowTable` packets with input-chosen 5-tuples (from a small pool of addresses and
//! ports, so flows meet again), times (mostly forward, sometimes backwards), TCP flags and
//! UDP, interleaved with expiry passes and drains, under input-chosen timeouts and a small
//! live-flow cap.
//!
//! Checks, against a model of the live flows kept beside the table:
//! * live flows never exceed `max_flows` (at least one), and `len()` matches the model;
//! * every ended flow was live and ends exactly once; after the final drain every flow
//!   ever created has ended;
//! * flow ids are unique and handed out 1, 2, 3, ... in creation order (each flow's state
//!   records the id the model expected when it was made);
//! * two live flows never share a conversation (canonical key); a packet's flow is the
//!   conversation of that packet, oriented either way, and the direction it reports is the
//!   packet's direction within that orientation;
//! * end reasons hold: an eviction only at the cap, an active-timeout end only after the active
//!   timeout, idle and closed ends only after their idle timeout, port reuse only on a pure SYN,
//!   end-of-capture only from a drain and in id order;
//! * times and counters agree: first seen <= last seen, `stats.created`, `stats.evicted` and
//!   `stats.peak_live` match the model.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use poolscope::flow::{
    Direction, EndReason, Endpoint, FlowConfig, FlowEntry, FlowKey, FlowTable, Protocol,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

const ADDRS: [&str; 4] = ["10.0.0.1", "10.0.0.2", "192.0.2.7", "2001:db8::1"];
const PORTS: [u16; 6] = [443, 3333, 50000, 50001, 8080, 1234];

#[derive(Default)]
struct Model {
    /// Live flows: id → (canonical key, first seen).
    live: BTreeMap<u64, (FlowKey, f64)>,
    by_key: HashMap<FlowKey, u64>,
    ended: HashSet<u64>,
    created: u64,
    evicted: u64,
    peak: u64,
}

impl Model {
    fn end(&mut self, e: &FlowEntry<u64>) {
        assert_eq!(e.state, e.id, "flow {} carries the state made for {}", e.id, e.state);
        let Some((canonical, first)) = self.live.remove(&e.id) else {
            panic!("flow {} ended but was not live", e.id);
        };
        assert!(self.ended.insert(e.id), "flow {} ended twice", e.id);
        assert_eq!(self.by_key.remove(&canonical), Some(e.id));
        assert_eq!(e.key.canonical(), canonical, "flow {} changed conversation", e.id);
        assert_eq!(e.first_ts, first, "flow {} changed its first time", e.id);
        assert!(e.first_ts <= e.last_ts, "flow {} ends before it starts", e.id);
    }
}

fn key(u: &mut Unstructured<'_>) -> Result<FlowKey> {
    let tcp: bool = u.arbitrary()?;
    let a = *u.choose(&ADDRS)?;
    // Both ends of one family.
    let b = if a.contains(':') {
        "2001:db8::2"
    } else {
        *u.choose(&ADDRS[..3])?
    };
    let ip = |s: &str| s.parse::<IpAddr>().expect("literal address");
    Ok(FlowKey {
        protocol: if tcp { Protocol::Tcp } else { Protocol::Udp },
        src: Endpoint {
            ip: ip(a),
            port: *u.choose(&PORTS)?,
        },
        dst: Endpoint {
            ip: ip(b),
            port: *u.choose(&PORTS)?,
        },
    })
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let cfg = FlowConfig {
        tcp_idle_timeout: f64::from(u.int_in_range(0..=60u8)?),
        tcp_closed_timeout: f64::from(u.int_in_range(0..=30u8)?),
        udp_idle_timeout: f64::from(u.int_in_range(0..=60u8)?),
        active_timeout: f64::from(u.int_in_range(0..=120u8)?),
        max_flows: u.int_in_range(0..=8usize)?,
    };
    let cap = cfg.max_flows.max(1);
    let mut table: FlowTable<u64> = FlowTable::new(cfg.clone());
    let mut m = Model::default();
    let mut now = 1_000.0f64;
    // Latest time the table has seen (its clock only moves forward, until a drain).
    let mut clock = f64::NEG_INFINITY;
    let mut steps = 0;
    while !u.is_empty() && steps < 1024 {
        steps += 1;
        let step: u8 = u.arbitrary()?;
        let dt = f64::from(step & 0x3f) / 4.0;
        now += if step & 0x40 != 0 && step & 0x80 != 0 { -dt / 4.0 } else { dt };
        match u.int_in_range(0..=15u8)? {
            0 => {
                let at = now;
                clock = clock.max(at);
                let mut ends = Vec::new();
                table.expire(at, &mut |e, r| ends.push((e, r)));
                for (e, r) in &ends {
                    m.end(e);
                    let timeout = match r {
                        EndReason::Idle if e.key.protocol == Protocol::Udp => cfg.udp_idle_timeout,
                        EndReason::Idle => cfg.tcp_idle_timeout,
                        EndReason::Closed => cfg.tcp_closed_timeout,
                        other => panic!("expiry ended flow {} as {other:?}", e.id),
                    };
                    assert!(
                        clock - e.last_ts > timeout,
                        "flow {} expired after {} s of a {timeout} s timeout",
                        e.id,
                        clock - e.last_ts
                    );
                }
            }
            1 => {
                let mut ends = Vec::new();
                table.drain(&mut |e, r| ends.push((e, r)));
                assert!(table.is_empty());
                let ids: Vec<u64> = ends.iter().map(|(e, _)| e.id).collect();
                assert!(ids.windows(2).all(|w| w[0] < w[1]), "drain out of id order: {ids:?}");
                for (e, r) in &ends {
                    assert_eq!(*r, EndReason::EndOfCapture);
                    m.end(e);
                }
                assert!(m.live.is_empty(), "drain left flows {:?}", m.live.keys());
                clock = f64::NEG_INFINITY;
            }
            _ => {
                let pkt = key(u)?;
                let flags = match pkt.protocol {
                    Protocol::Tcp => Some(u.arbitrary::<u8>()?),
                    Protocol::Udp => None,
                };
                let ts = now;
                clock = clock.max(ts);
                let live_before = m.live.len();
                let expected_id = m.created + 1;
                let mut made = false;
                let mut ends = Vec::new();
                let (id, entry_key, dir, first, last) = {
                    let (entry, dir) = table.packet(
                        pkt,
                        ts,
                        flags,
                        |_| {
                            made = true;
                            expected_id
                        },
                        &mut |e, r| ends.push((e, r)),
                    );
                    (entry.id, entry.key, dir, entry.first_ts, entry.last_ts)
                };
                let mut evictions = 0;
                for (e, r) in &ends {
                    m.end(e);
                    match r {
                        EndReason::Evicted => {
                            evictions += 1;
                            m.evicted += 1;
                        }
                        EndReason::Active => {
                            assert!(cfg.active_timeout > 0.0);
                            assert!(
                                ts - e.first_ts >= cfg.active_timeout,
                                "flow {} cut after {} s",
                                e.id,
                                ts - e.first_ts
                            );
                            assert_eq!(e.key.canonical(), pkt.canonical());
                        }
                        EndReason::Idle | EndReason::Closed => {
                            assert_eq!(e.key.canonical(), pkt.canonical());
                            let timeout = match (r, e.key.protocol) {
                                (EndReason::Closed, _) => cfg.tcp_closed_timeout,
                                (_, Protocol::Udp) => cfg.udp_idle_timeout,
                                _ => cfg.tcp_idle_timeout,
                            };
                            assert!(ts - e.last_ts > timeout, "flow {} ended idle early", e.id);
                        }
                        EndReason::PortReuse => {
                            assert_eq!(e.key.canonical(), pkt.canonical());
                            let f = flags.expect("port reuse of a UDP flow");
                            assert_eq!(f & (SYN | ACK), SYN, "port reuse without a pure SYN");
                        }
                        EndReason::EndOfCapture => panic!("a packet ended a flow as end of capture"),
                        EndReason::Open => panic!("the table ended a flow as still open"),
                    }
                }
                assert!(evictions <= 1, "one packet evicted {evictions} flows");
                if evictions == 1 {
                    assert!(made, "eviction without a new flow");
                    assert!(live_before - (ends.len() - 1) >= cap, "evicted below the cap");
                }
                assert_eq!(entry_key.canonical(), pkt.canonical(), "packet put in another conversation");
                assert!(entry_key == pkt || entry_key == pkt.reverse());
                let expect_dir = if entry_key.src == pkt.src {
                    Direction::ClientToServer
                } else {
                    Direction::ServerToClient
                };
                assert_eq!(dir, expect_dir);
                assert!(first <= last, "first seen after last seen");
                assert!(last >= ts, "last seen before this packet");
                if made {
                    assert_eq!(id, expected_id, "flow ids out of creation order");
                    assert_eq!(first, ts);
                    m.created += 1;
                    let c = pkt.canonical();
                    assert!(!m.by_key.contains_key(&c), "two live flows for one conversation");
                    m.by_key.insert(c, id);
                    m.live.insert(id, (c, ts));
                } else {
                    assert!(ends.is_empty(), "flows ended though the packet joined flow {id}");
                    assert_eq!(m.by_key.get(&pkt.canonical()), Some(&id), "packet joined a flow of another conversation");
                }
                m.peak = m.peak.max(m.live.len() as u64);
            }
        }
        assert_eq!(table.len(), m.live.len(), "table and model disagree on live flows");
        assert!(table.len() <= cap, "{} live flows, cap {cap}", table.len());
        assert_eq!(table.stats.created, m.created);
        assert_eq!(table.stats.evicted, m.evicted);
        assert_eq!(table.stats.peak_live, m.peak);
    }
    let mut ends = Vec::new();
    table.drain(&mut |e, r| ends.push((e, r)));
    for (e, _) in &ends {
        m.end(e);
    }
    assert_eq!(m.ended.len() as u64, m.created, "some flows never ended");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
