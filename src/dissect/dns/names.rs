//! The capture-wide table from server address to the names that resolved to it.
//!
//! Every [`DnsResolution`] the dissector finds is inserted with the time of its answer; when a
//! flow is written out, [`NameTable::names_for`] gives it the names whose answers came at most
//! a grace period after the flow started (a resolver's answer and the connection it enables
//! may be captured out of order or within the same millisecond) and at most a maximum age before
//! it. Memory is bounded three ways: a cap on addresses (the least recently inserted address is
//! evicted), on names per address and on remembered time spans per name.
//!
//! A name's sightings for one address are kept as spans `[first, last]` in which consecutive
//! answers are no further apart than the maximum age; a span is therefore valid for a flow
//! exactly when some answer inside it is, without keeping every answer. The maximum age of an
//! answer is its TTL clamped to [`MIN_MAX_AGE_SECS`, `MAX_MAX_AGE_SECS`]: clients often keep
//! using an address well past a short TTL (Java, long-lived miners reconnecting to the address
//! they already have), while a TTL of days would tie an address to a name long after it moved.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use super::parser::DnsResolution;

/// Default grace period, in seconds, by which an answer may follow the start of its flow.
pub const DEFAULT_GRACE_SECS: f64 = 5.0;
/// Shortest maximum age of an answer, in seconds, whatever its TTL (1 hour).
pub const MIN_MAX_AGE_SECS: f64 = 3600.0;
/// Longest maximum age of an answer, in seconds, whatever its TTL (24 hours).
pub const MAX_MAX_AGE_SECS: f64 = 86_400.0;
/// At most this many names are returned for one flow.
pub const MAX_NAMES_PER_FLOW: usize = 8;
/// At most this many names are remembered per address; the one seen least recently goes first.
pub const MAX_NAMES_PER_ADDR: usize = 32;
/// At most this many disjoint time spans are remembered per name and address; the oldest goes.
pub const MAX_SPANS_PER_NAME: usize = 4;

/// A run of answers for one name and address, consecutive ones at most `max_age` apart.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    first: f64,
    last: f64,
    /// The longest maximum age among the answers in the span.
    max_age: f64,
}

impl Span {
    /// The most recent answer time usable by a flow that started at `flow_start`, if any.
    ///
    /// Exact when `last` is before `limit`; otherwise an answer between `first` and `limit`
    /// exists within `max_age` of `limit` (spans have no larger holes), and `limit` stands in
    /// for it when ordering names.
    fn usable(&self, flow_start: f64, limit: f64) -> Option<f64> {
        if self.first > limit {
            return None;
        }
        let seen = self.last.min(limit);
        (seen >= flow_start - self.max_age).then_some(seen)
    }
}

#[derive(Debug, Clone)]
struct NameSightings {
    name: String,
    /// Smallest position in a chain this name was seen at (0 = the queried name); breaks ties
    /// between names of the same answer so that the queried name comes before the CDN's.
    depth: usize,
    spans: Vec<Span>,
}

impl NameSightings {
    fn latest(&self) -> f64 {
        self.spans
            .iter()
            .map(|s| s.last)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    fn observe(&mut self, ts: f64, max_age: f64) {
        let mut merged = Span {
            first: ts,
            last: ts,
            max_age,
        };
        // Absorb every span the new answer bridges to (answers may arrive out of order, so an
        // answer can join two spans into one).
        self.spans.retain(|s| {
            let gap = s.max_age.max(merged.max_age);
            if merged.first - gap <= s.last && s.first <= merged.last + gap {
                merged.first = merged.first.min(s.first);
                merged.last = merged.last.max(s.last);
                merged.max_age = merged.max_age.max(s.max_age);
                false
            } else {
                true
            }
        });
        self.spans.push(merged);
        if self.spans.len() > MAX_SPANS_PER_NAME {
            if let Some(oldest) = index_of_min(self.spans.iter().map(|s| s.last)) {
                self.spans.swap_remove(oldest);
            }
        }
    }
}

#[derive(Debug, Clone)]
struct AddrNames {
    /// Insertion tick; the key of this address in [`NameTable::order`].
    tick: u64,
    names: Vec<NameSightings>,
}

/// Capture-wide map from server address to the names that resolved to it, bounded in memory.
#[derive(Debug, Clone)]
pub struct NameTable {
    max_addrs: usize,
    grace: f64,
    addrs: HashMap<IpAddr, AddrNames>,
    /// Addresses by the tick of their last insertion, oldest first, for eviction.
    order: BTreeMap<u64, IpAddr>,
    next_tick: u64,
    evictions: u64,
}

impl NameTable {
    /// An empty table holding at most `max_addrs` addresses (0 keeps nothing); when full, the
    /// address least recently inserted is evicted. The grace period is [`DEFAULT_GRACE_SECS`].
    pub fn new(max_addrs: usize) -> Self {
        Self {
            max_addrs,
            grace: DEFAULT_GRACE_SECS,
            addrs: HashMap::new(),
            order: BTreeMap::new(),
            next_tick: 0,
            evictions: 0,
        }
    }

    /// Use `grace_secs` (negative and non-finite values count as 0) instead of
    /// [`DEFAULT_GRACE_SECS`].
    pub fn with_grace(mut self, grace_secs: f64) -> Self {
        self.grace = if grace_secs.is_finite() {
            grace_secs.max(0.0)
        } else {
            0.0
        };
        self
    }

    /// Record `res` as answered at `ts` (epoch seconds). Answers with a non-finite time are
    /// ignored; re-inserting an address makes it the most recently inserted.
    pub fn insert(&mut self, ts: f64, res: &DnsResolution) {
        if !ts.is_finite() || self.max_addrs == 0 || res.names.is_empty() {
            return;
        }
        let max_age = f64::from(res.ttl).clamp(MIN_MAX_AGE_SECS, MAX_MAX_AGE_SECS);
        let tick = self.next_tick;
        self.next_tick += 1;

        if let Some(entry) = self.addrs.get(&res.addr) {
            self.order.remove(&entry.tick);
        } else if self.addrs.len() >= self.max_addrs {
            if let Some((_, evicted)) = self.order.pop_first() {
                self.addrs.remove(&evicted);
                self.evictions += 1;
            }
        }
        self.order.insert(tick, res.addr);
        let entry = self.addrs.entry(res.addr).or_insert_with(|| AddrNames {
            tick,
            names: Vec::new(),
        });
        entry.tick = tick;

        for (depth, name) in res.names.iter().enumerate() {
            let i = match entry.names.iter().position(|s| s.name == *name) {
                Some(i) => i,
                None => {
                    if entry.names.len() >= MAX_NAMES_PER_ADDR {
                        if let Some(stale) = index_of_min(entry.names.iter().map(|s| s.latest())) {
                            entry.names.swap_remove(stale);
                        }
                    }
                    entry.names.push(NameSightings {
                        name: name.clone(),
                        depth,
                        spans: Vec::new(),
                    });
                    entry.names.len() - 1
                }
            };
            let sightings = &mut entry.names[i];
            sightings.depth = sightings.depth.min(depth);
            sightings.observe(ts, max_age);
        }
    }

    /// Names for `addr` for a flow that started at `flow_start` (epoch seconds): names whose
    /// answers came at or before `flow_start` + grace and no more than their maximum age before
    /// `flow_start`, most recent answer first (names of one answer: queried name first), without
    /// duplicates, at most [`MAX_NAMES_PER_FLOW`].
    pub fn names_for(&self, addr: IpAddr, flow_start: f64) -> Vec<String> {
        let Some(entry) = self.addrs.get(&addr) else {
            return Vec::new();
        };
        if !flow_start.is_finite() {
            return Vec::new();
        }
        let limit = flow_start + self.grace;
        let mut found: Vec<(f64, usize, &str)> = entry
            .names
            .iter()
            .filter_map(|s| {
                let seen = s
                    .spans
                    .iter()
                    .filter_map(|span| span.usable(flow_start, limit))
                    .fold(None, |best: Option<f64>, t| {
                        Some(best.map_or(t, |b| b.max(t)))
                    })?;
                Some((seen, s.depth, s.name.as_str()))
            })
            .collect();
        found.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then(a.1.cmp(&b.1))
                .then_with(|| a.2.cmp(b.2))
        });
        found
            .into_iter()
            .take(MAX_NAMES_PER_FLOW)
            .map(|(_, _, name)| name.to_owned())
            .collect()
    }

    /// Number of addresses held.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// Whether no address is held.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// Addresses evicted so far because the table was full.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }
}

/// Index of the smallest value (the first of equals), or `None` for an empty iterator.
fn index_of_min(values: impl Iterator<Item = f64>) -> Option<usize> {
    values
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dissect::dns::parser::parse_message;
    use crate::dissect::dns::testdata::{message, res};

    fn ip(addr: &str) -> IpAddr {
        addr.parse().unwrap()
    }

    #[test]
    fn grace_window_and_max_age() {
        let mut table = NameTable::new(16);
        table.insert(1000.0, &res("192.0.2.1", &["pool.test"], 60));
        let names = |t: f64| table.names_for(ip("192.0.2.1"), t);
        // The answer may come up to 5 s after the flow started...
        assert_eq!(names(995.0), ["pool.test"]);
        assert!(names(994.9).is_empty());
        // ...and a short TTL still counts for an hour.
        assert_eq!(names(1000.0), ["pool.test"]);
        assert_eq!(names(4600.0), ["pool.test"]);
        assert!(names(4600.1).is_empty());
        assert!(table.names_for(ip("192.0.2.2"), 1000.0).is_empty());
        assert!(names(f64::NAN).is_empty());

        // A longer TTL counts for itself, up to a day.
        table.insert(1000.0, &res("192.0.2.3", &["long.test"], 7200));
        assert_eq!(table.names_for(ip("192.0.2.3"), 8200.0), ["long.test"]);
        assert!(table.names_for(ip("192.0.2.3"), 8200.5).is_empty());
        table.insert(1000.0, &res("192.0.2.4", &["huge.test"], u32::MAX));
        assert_eq!(table.names_for(ip("192.0.2.4"), 87_400.0), ["huge.test"]);
        assert!(table.names_for(ip("192.0.2.4"), 87_401.0).is_empty());

        let strict = NameTable::new(16).with_grace(0.0);
        let mut strict = strict;
        strict.insert(1000.0, &res("192.0.2.1", &["pool.test"], 60));
        assert!(strict.names_for(ip("192.0.2.1"), 999.9).is_empty());
        assert_eq!(strict.names_for(ip("192.0.2.1"), 1000.0), ["pool.test"]);
    }

    #[test]
    fn most_recent_first_and_queried_name_before_its_cnames() {
        let mut table = NameTable::new(16);
        let addr = "198.51.100.7";
        table.insert(100.0, &res(addr, &["old.test"], 300));
        table.insert(200.0, &res(addr, &["pool.test", "edge.cdn.test"], 300));
        table.insert(300.0, &res(addr, &["new.test"], 300));
        assert_eq!(
            table.names_for(ip(addr), 400.0),
            ["new.test", "pool.test", "edge.cdn.test", "old.test"]
        );
        // A flow that started before the later answers (beyond the grace) sees only the earlier.
        assert_eq!(
            table.names_for(ip(addr), 250.0),
            ["pool.test", "edge.cdn.test", "old.test"]
        );
        assert_eq!(table.names_for(ip(addr), 150.0), ["old.test"]);
        // Seeing an old name again makes it recent.
        table.insert(350.0, &res(addr, &["old.test"], 300));
        assert_eq!(table.names_for(ip(addr), 400.0)[0], "old.test");
    }

    #[test]
    fn names_are_deduplicated_and_capped() {
        let mut table = NameTable::new(16);
        let addr = "203.0.113.9";
        table.insert(10.0, &res(addr, &["pool.test", "lb.test"], 60));
        table.insert(11.0, &res(addr, &["other.test", "lb.test"], 60));
        table.insert(12.0, &res(addr, &["pool.test"], 60));
        // lb.test was last seen at 11 with other.test, behind it in that chain.
        assert_eq!(
            table.names_for(ip(addr), 20.0),
            ["pool.test", "other.test", "lb.test"]
        );

        for i in 0..12 {
            table.insert(
                100.0 + f64::from(i),
                &res(addr, &[&format!("n{i}.test")], 60),
            );
        }
        let names = table.names_for(ip(addr), 200.0);
        assert_eq!(names.len(), MAX_NAMES_PER_FLOW);
        assert_eq!(names[0], "n11.test");
        assert_eq!(names[7], "n4.test");
    }

    #[test]
    fn eviction_at_cap_removes_least_recently_inserted() {
        let mut table = NameTable::new(2);
        table.insert(1.0, &res("192.0.2.1", &["a.test"], 60));
        table.insert(2.0, &res("192.0.2.2", &["b.test"], 60));
        table.insert(3.0, &res("192.0.2.1", &["a2.test"], 60)); // refreshes 192.0.2.1
        table.insert(4.0, &res("192.0.2.3", &["c.test"], 60));
        assert_eq!(table.len(), 2);
        assert_eq!(table.evictions(), 1);
        assert!(table.names_for(ip("192.0.2.2"), 4.0).is_empty());
        assert_eq!(table.names_for(ip("192.0.2.1"), 4.0), ["a2.test", "a.test"]);
        assert_eq!(table.names_for(ip("192.0.2.3"), 4.0), ["c.test"]);

        let mut none = NameTable::new(0);
        none.insert(1.0, &res("192.0.2.1", &["a.test"], 60));
        assert!(none.is_empty());
    }

    #[test]
    fn memory_per_address_is_bounded() {
        let mut table = NameTable::new(4);
        let addr = "192.0.2.1";
        for i in 0..100 {
            table.insert(f64::from(i), &res(addr, &[&format!("n{i}.test")], 60));
        }
        let entry = &table.addrs[&ip(addr)];
        assert_eq!(entry.names.len(), MAX_NAMES_PER_ADDR);
        assert!(entry.names.iter().all(|s| s.name != "n0.test"));
        // Sightings a day apart are separate spans; only the latest few are kept.
        for day in 0..10 {
            table.insert(
                f64::from(day) * 86_400.0 * 2.0,
                &res(addr, &["daily.test"], 60),
            );
        }
        let daily = entry_of(&table, addr, "daily.test");
        assert_eq!(daily.spans.len(), MAX_SPANS_PER_NAME);
        assert!(table.names_for(ip(addr), 86_400.0 * 2.0 + 10.0).is_empty());
        assert_eq!(table.names_for(ip(addr), 86_400.0 * 18.0)[0], "daily.test");
    }

    fn entry_of<'a>(table: &'a NameTable, addr: &str, name: &str) -> &'a NameSightings {
        table.addrs[&ip(addr)]
            .names
            .iter()
            .find(|s| s.name == name)
            .unwrap()
    }

    #[test]
    fn out_of_order_answers_and_long_runs() {
        let mut table = NameTable::new(4);
        let addr = "192.0.2.1";
        // An answer every 30 minutes for two days, inserted backwards: one span.
        for i in (0..96).rev() {
            table.insert(f64::from(i) * 1800.0, &res(addr, &["busy.test"], 60));
        }
        assert_eq!(entry_of(&table, addr, "busy.test").spans.len(), 1);
        for t in [0.0, 50_000.0, 170_000.0, 171_000.0 + 3600.0] {
            assert_eq!(table.names_for(ip(addr), t), ["busy.test"], "flow at {t}");
        }
        assert!(table.names_for(ip(addr), 171_000.0 + 3601.0).is_empty());

        // Two sightings far apart, then one in between that bridges them.
        table.insert(1_000_000.0, &res(addr, &["rare.test"], 60));
        table.insert(1_005_000.0, &res(addr, &["rare.test"], 60));
        assert_eq!(entry_of(&table, addr, "rare.test").spans.len(), 2);
        assert!(table.names_for(ip(addr), 1_004_000.0).is_empty());
        table.insert(1_002_500.0, &res(addr, &["rare.test"], 60));
        assert_eq!(entry_of(&table, addr, "rare.test").spans.len(), 1);
        assert_eq!(table.names_for(ip(addr), 1_004_000.0), ["rare.test"]);

        table.insert(f64::NAN, &res("192.0.2.9", &["nan.test"], 60));
        assert!(table.names_for(ip("192.0.2.9"), 0.0).is_empty());
    }

    #[test]
    fn names_from_a_real_answer() {
        // dns_ambiguous_names.pcap frame 6, then frame 2 at a later time for another address.
        let mut table = NameTable::new(64);
        for r in parse_message(&message("skype_cname3")).unwrap() {
            table.insert(1_625_744_123.82, &r);
        }
        for r in parse_message(&message("apple_cname2")).unwrap() {
            table.insert(1_625_744_130.0, &r);
        }
        assert_eq!(table.len(), 9);
        assert_eq!(
            table.names_for(ip("52.113.194.131"), 1_625_744_123.9),
            [
                "api.teams.skype.com",
                "teams-afd.trafficmanager.net",
                "teams-afd-trafficmanager-net.s-0004.s-msedge.net",
                "s-0004.s-msedge.net",
            ]
        );
        assert_eq!(
            table.names_for(ip("17.57.146.133"), 1_625_744_126.0),
            [
                "41-courier.push.apple.com",
                "41.courier-push-apple.com.akadns.net",
                "eu-north-courier-4.push-apple.com.akadns.net",
            ]
        );
        assert!(table
            .names_for(ip("17.57.146.133"), 1_625_744_124.0)
            .is_empty());
    }
}
