//! The flow table: finds the flow of each packet, decides which side is the client, and ends
//! flows on timeouts, connection close, port reuse and the live-flow cap.
//!
//! Live flows sit in a slab and in one of three lists ordered by last activity (open TCP,
//! closed TCP, UDP), each with its own idle timeout. Captures are nearly time-ordered, so the
//! head of each list is the next to expire: expiry is O(1) per ended flow and no sweep walks
//! the whole table. The cap on live flows evicts the least recently seen of the three heads.

use super::direction::Direction;
use super::key::{Endpoint, FlowKey, Protocol};
use crate::decode::tcp_flags;
use crate::hash::FxBuildHasher;
use hashbrown::HashTable;
use std::hash::BuildHasher;

/// Timeouts and caps of the flow table.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    /// Seconds without a packet after which an open TCP flow ends.
    pub tcp_idle_timeout: f64,
    /// Seconds without a packet after which a closed (FIN both ways, or RST) TCP flow ends.
    pub tcp_closed_timeout: f64,
    /// Seconds without a packet after which a UDP flow ends.
    pub udp_idle_timeout: f64,
    /// Seconds after its first packet at which a flow is ended and a new one begun, whatever
    /// its activity (0 = never), as flow exporters do.
    pub active_timeout: f64,
    /// Live flows at most; a new flow beyond it evicts the least recently seen.
    pub max_flows: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            tcp_idle_timeout: 600.0,
            tcp_closed_timeout: 30.0,
            udp_idle_timeout: 120.0,
            active_timeout: 3600.0,
            max_flows: 1_000_000,
        }
    }
}

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// No packet for the idle timeout.
    Idle,
    /// Closed by FIN in both directions or by RST, then quiet.
    Closed,
    /// Reached the active timeout; the connection goes on as a new flow.
    Active,
    /// A new connection reused the tuple (SYN after close).
    PortReuse,
    /// Evicted to keep the table under its cap.
    Evicted,
    /// The capture ended with the flow still live.
    EndOfCapture,
    /// Not ended: the flow so far, as an alert describes a flow that is still open.
    Open,
}

impl EndReason {
    /// Name as written in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Idle => "idle",
            EndReason::Closed => "closed",
            EndReason::Active => "active_timeout",
            EndReason::PortReuse => "port_reuse",
            EndReason::Evicted => "evicted",
            EndReason::EndOfCapture => "end_of_capture",
            EndReason::Open => "open",
        }
    }
}

/// A live flow with the caller's per-flow state `S`.
#[derive(Debug)]
pub struct FlowEntry<S> {
    /// Deterministic id: flows are numbered from 1 in the order they are first seen, unless
    /// the caller numbers them ([`FlowTable::set_next_id`]).
    pub id: u64,
    /// Oriented client → server.
    pub key: FlowKey,
    /// Seconds since the epoch of the first packet.
    pub first_ts: f64,
    /// Seconds since the epoch of the last packet.
    pub last_ts: f64,
    /// True when the first TCP packet was a SYN from the client (a complete connection).
    pub saw_syn: bool,
    /// FIN seen from client, from server.
    pub fin: [bool; 2],
    /// RST seen.
    pub rst: bool,
    /// The caller's state (features, reassembly, dissectors).
    pub state: S,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    TcpOpen = 0,
    TcpClosed = 1,
    Udp = 2,
}

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Slot<S> {
    entry: FlowEntry<S>,
    class: Class,
    prev: u32,
    next: u32,
}

#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
}

/// Counters the table keeps for the run summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Flows created.
    pub created: u64,
    /// Flows evicted by the cap.
    pub evicted: u64,
    /// Largest number of live flows at once.
    pub peak_live: u64,
}

/// Bidirectional flow table over caller state `S`.
pub struct FlowTable<S> {
    cfg: FlowConfig,
    /// Slot numbers, hashed by the canonical key of the slot's flow.
    map: HashTable<u32>,
    slots: Vec<Option<Slot<S>>>,
    free: Vec<u32>,
    lists: [List; 3],
    next_id: u64,
    now: f64,
    /// What the table did.
    pub stats: TableStats,
}

/// Well-known service ports above 1023 that decide the server side when no SYN was seen:
/// databases, brokers, proxies, VPNs, and the usual mining pool ports.
const SERVICE_PORTS: &[u16] = &[
    1080, 1194, 1433, 1521, 1883, 2049, 2375, 3128, 3306, 3333, 3334, 3335, 3336, 3389, 3478, 4444,
    4445, 5000, 5060, 5222, 5223, 5228, 5349, 5432, 5555, 5671, 5672, 5900, 6379, 6667, 7777, 8000,
    8008, 8080, 8081, 8333, 8443, 8545, 8883, 8888, 9000, 9050, 9092, 9200, 9999, 10128, 10300,
    11211, 14433, 14444, 18081, 19302, 20535, 27017, 30303, 45560, 45700,
];

/// Ports at or above this are the dynamic range clients draw from (IANA).
pub(crate) const EPHEMERAL_START: u16 = 49152;

pub(crate) fn is_service_port(p: u16) -> bool {
    p < 1024 || SERVICE_PORTS.binary_search(&p).is_ok()
}

/// Which endpoint of a first-seen packet (`src` → `dst`) is the client.
fn client_is_src(key: &FlowKey, flags: Option<u8>) -> bool {
    if let Some(f) = flags {
        if f & tcp_flags::SYN != 0 {
            return f & tcp_flags::ACK == 0;
        }
    }
    let (s, d) = (key.src.port, key.dst.port);
    match (is_service_port(s), is_service_port(d)) {
        (false, true) => return true,
        (true, false) => return false,
        _ => {}
    }
    match (s >= EPHEMERAL_START, d >= EPHEMERAL_START) {
        (true, false) => true,
        (false, true) => false,
        // Nothing tells: the first talker is the client.
        _ => true,
    }
}

impl<S> FlowTable<S> {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        FlowTable {
            cfg,
            map: HashTable::new(),
            slots: Vec::new(),
            free: Vec::new(),
            lists: [List {
                head: NIL,
                tail: NIL,
            }; 3],
            next_id: 1,
            now: f64::NEG_INFINITY,
            stats: TableStats::default(),
        }
    }

    /// Live flows.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when no flow is live.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The flow of a packet sent `pkt.src` → `pkt.dst` at `ts` with TCP `flags` (None for UDP).
    ///
    /// Creates the flow when needed (with `make`), first ending any flow this packet cannot
    /// belong to (timed out, or a new SYN after close) and, at the cap, the least recently seen
    /// flow; every ended flow goes to `ended`. Also records FIN/RST. Returns the flow and the
    /// packet's direction in it.
    pub fn packet(
        &mut self,
        pkt: FlowKey,
        ts: f64,
        flags: Option<u8>,
        make: impl FnOnce(&FlowKey) -> S,
        ended: &mut dyn FnMut(FlowEntry<S>, EndReason),
    ) -> (&mut FlowEntry<S>, Direction) {
        if ts > self.now {
            self.now = ts;
        }
        let canonical = pkt.canonical();
        let hash = key_hash(&canonical);
        let slots = &self.slots;
        let found = self
            .map
            .find(hash, |&i| slot_canonical(slots, i) == canonical);
        if let Some(&idx) = found {
            let slot = self.slots[idx as usize]
                .as_ref()
                .expect("mapped slot is live");
            let e = &slot.entry;
            let dir = if e.key.src == pkt.src {
                Direction::ClientToServer
            } else {
                Direction::ServerToClient
            };
            let pure_syn =
                flags.is_some_and(|f| f & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN);
            let reason =
                if self.cfg.active_timeout > 0.0 && ts - e.first_ts >= self.cfg.active_timeout {
                    Some(EndReason::Active)
                } else if ts - e.last_ts > self.timeout(slot.class) {
                    Some(if slot.class == Class::TcpClosed {
                        EndReason::Closed
                    } else {
                        EndReason::Idle
                    })
                } else if pure_syn && slot.class == Class::TcpClosed {
                    Some(EndReason::PortReuse)
                } else {
                    None
                };
            match reason {
                None => return (self.touch(idx, ts, dir, flags), dir),
                Some(r) => {
                    // A connection cut by the active timeout keeps its client.
                    let keep_client = r == EndReason::Active;
                    let client_key = e.key;
                    let old = self.remove(idx);
                    ended(old, r);
                    let key = if keep_client {
                        client_key
                    } else {
                        orient(pkt, flags)
                    };
                    return self.insert(pkt.src, hash, key, ts, flags, make, ended);
                }
            }
        }
        let key = orient(pkt, flags);
        self.insert(pkt.src, hash, key, ts, flags, make, ended)
    }

    /// Ends every flow idle for longer than its timeout at time `now`.
    pub fn expire(&mut self, now: f64, ended: &mut dyn FnMut(FlowEntry<S>, EndReason)) {
        if now > self.now {
            self.now = now;
        }
        for class in [Class::TcpOpen, Class::TcpClosed, Class::Udp] {
            let timeout = self.timeout(class);
            loop {
                let head = self.lists[class as usize].head;
                if head == NIL {
                    break;
                }
                let slot = self.slots[head as usize]
                    .as_ref()
                    .expect("listed slot is live");
                if self.now - slot.entry.last_ts <= timeout {
                    break;
                }
                let reason = if class == Class::TcpClosed {
                    EndReason::Closed
                } else {
                    EndReason::Idle
                };
                let e = self.remove(head);
                ended(e, reason);
            }
        }
    }

    /// Ends every live flow (end of capture), in flow id order.
    ///
    /// Flows leave the table one at a time, so the ended flows are never all held twice.
    pub fn drain(&mut self, ended: &mut dyn FnMut(FlowEntry<S>, EndReason)) {
        let mut order = self.live();
        order.sort_unstable();
        for (_, slot) in order {
            if let Some(e) = self.take(slot) {
                ended(e, EndReason::EndOfCapture);
            }
        }
        self.restart_clock();
    }

    /// Numbers the next flow the table creates. Left alone, flows are numbered 1, 2, 3…; the
    /// pipeline numbers each by the frame that opened it, which does not depend on how the
    /// flows are spread over tables.
    pub fn set_next_id(&mut self, id: u64) {
        self.next_id = id;
    }

    /// The live flows as (id, slot), in no particular order: with [`FlowTable::take`], a caller
    /// ends them in the order it chooses.
    pub fn live(&self) -> Vec<(u64, u32)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (s.entry.id, i as u32)))
            .collect()
    }

    /// Removes the live flow in `slot` (from [`FlowTable::live`]); None if the slot is empty.
    pub fn take(&mut self, slot: u32) -> Option<FlowEntry<S>> {
        self.slots.get(slot as usize)?.as_ref()?;
        Some(self.remove(slot))
    }

    /// Starts the clock afresh (at the end of an input: the next may be older, and every flow in
    /// it would look idle against this one's last timestamp); an empty table also gives back
    /// its memory.
    pub fn restart_clock(&mut self) {
        self.now = f64::NEG_INFINITY;
        if self.map.is_empty() {
            self.map = HashTable::new();
            self.slots = Vec::new();
            self.free = Vec::new();
        }
    }

    fn timeout(&self, class: Class) -> f64 {
        match class {
            Class::TcpOpen => self.cfg.tcp_idle_timeout,
            Class::TcpClosed => self.cfg.tcp_closed_timeout,
            Class::Udp => self.cfg.udp_idle_timeout,
        }
    }

    fn touch(&mut self, idx: u32, ts: f64, dir: Direction, flags: Option<u8>) -> &mut FlowEntry<S> {
        let (old_class, new_class) = {
            let slot = self.slots[idx as usize].as_mut().expect("live");
            let e = &mut slot.entry;
            if ts > e.last_ts {
                e.last_ts = ts;
            }
            if let Some(f) = flags {
                if f & tcp_flags::FIN != 0 {
                    e.fin[dir.index()] = true;
                }
                if f & tcp_flags::RST != 0 {
                    e.rst = true;
                }
            }
            let closed = e.rst || (e.fin[0] && e.fin[1]);
            let new_class = if slot.class == Class::TcpOpen && closed {
                Class::TcpClosed
            } else {
                slot.class
            };
            (slot.class, new_class)
        };
        self.unlink(idx, old_class);
        self.slots[idx as usize].as_mut().expect("live").class = new_class;
        self.link_tail(idx, new_class);
        &mut self.slots[idx as usize].as_mut().expect("live").entry
    }

    #[allow(clippy::too_many_arguments)] // one call site each; a struct would only rename them
    fn insert(
        &mut self,
        pkt_src: Endpoint,
        hash: u64,
        key: FlowKey,
        ts: f64,
        flags: Option<u8>,
        make: impl FnOnce(&FlowKey) -> S,
        ended: &mut dyn FnMut(FlowEntry<S>, EndReason),
    ) -> (&mut FlowEntry<S>, Direction) {
        if self.map.len() >= self.cfg.max_flows.max(1) {
            self.evict_oldest(ended);
        }
        let class = match key.protocol {
            Protocol::Tcp => Class::TcpOpen,
            Protocol::Udp => Class::Udp,
        };
        let saw_syn = flags.is_some_and(|f| f & tcp_flags::SYN != 0);
        let entry = FlowEntry {
            id: self.next_id,
            key,
            first_ts: ts,
            last_ts: ts,
            saw_syn,
            fin: [false; 2],
            rst: false,
            state: make(&key),
        };
        self.next_id += 1;
        self.stats.created += 1;
        let slot = Slot {
            entry,
            class,
            prev: NIL,
            next: NIL,
        };
        let idx = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        };
        let slots = &self.slots;
        self.map
            .insert_unique(hash, idx, |&i| key_hash(&slot_canonical(slots, i)));
        self.stats.peak_live = self.stats.peak_live.max(self.map.len() as u64);
        self.link_tail(idx, class);
        let dir = if key.src == pkt_src {
            Direction::ClientToServer
        } else {
            Direction::ServerToClient
        };
        (self.touch(idx, ts, dir, flags), dir)
    }

    fn evict_oldest(&mut self, ended: &mut dyn FnMut(FlowEntry<S>, EndReason)) {
        let mut best: Option<(u32, f64)> = None;
        for l in &self.lists {
            if l.head != NIL {
                let ts = self.slots[l.head as usize]
                    .as_ref()
                    .expect("live")
                    .entry
                    .last_ts;
                if best.is_none_or(|(_, b)| ts < b) {
                    best = Some((l.head, ts));
                }
            }
        }
        if let Some((idx, _)) = best {
            let e = self.remove(idx);
            self.stats.evicted += 1;
            ended(e, EndReason::Evicted);
        }
    }

    fn remove(&mut self, idx: u32) -> FlowEntry<S> {
        let class = self.slots[idx as usize].as_ref().expect("live").class;
        self.unlink(idx, class);
        let canonical = slot_canonical(&self.slots, idx);
        let slot = self.slots[idx as usize].take().expect("live");
        if let Ok(found) = self.map.find_entry(key_hash(&canonical), |&i| i == idx) {
            found.remove();
        }
        self.free.push(idx);
        slot.entry
    }

    fn unlink(&mut self, idx: u32, class: Class) {
        let (prev, next) = {
            let s = self.slots[idx as usize].as_ref().expect("live");
            (s.prev, s.next)
        };
        let list = &mut self.lists[class as usize];
        if prev == NIL {
            list.head = next;
        } else {
            self.slots[prev as usize].as_mut().expect("live").next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.slots[next as usize].as_mut().expect("live").prev = prev;
        }
        let s = self.slots[idx as usize].as_mut().expect("live");
        s.prev = NIL;
        s.next = NIL;
    }

    fn link_tail(&mut self, idx: u32, class: Class) {
        let tail = self.lists[class as usize].tail;
        {
            let s = self.slots[idx as usize].as_mut().expect("live");
            s.prev = tail;
            s.next = NIL;
        }
        if tail == NIL {
            self.lists[class as usize].head = idx;
        } else {
            self.slots[tail as usize].as_mut().expect("live").next = idx;
        }
        self.lists[class as usize].tail = idx;
    }
}

/// The hash of a canonical key in the table's index.
fn key_hash(canonical: &FlowKey) -> u64 {
    FxBuildHasher.hash_one(canonical)
}

/// The canonical key of a live slot's flow.
fn slot_canonical<S>(slots: &[Option<Slot<S>>], idx: u32) -> FlowKey {
    slots[idx as usize]
        .as_ref()
        .expect("indexed slot is live")
        .entry
        .key
        .canonical()
}

/// Orients a first-seen packet's tuple client → server.
fn orient(pkt: FlowKey, flags: Option<u8>) -> FlowKey {
    if client_is_src(&pkt, flags) {
        pkt
    } else {
        pkt.reverse()
    }
}

#[cfg(test)]
mod tests;
