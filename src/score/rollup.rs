//! Rollups over scored flows: the per-host table of `--by-host` and the run report on stderr.

use super::{Scored, Verdict};
use crate::output::FlowRecord;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

/// Pools listed per host at most (a host talking to more is named by its top ones).
const POOLS_PER_HOST: usize = 16;

/// One client address and what it did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRow {
    /// The client address.
    pub host: String,
    /// The worst verdict among its flows.
    pub verdict: Verdict,
    /// Flows scored `mining`.
    pub mining_flows: u64,
    /// Flows scored `suspect`.
    pub suspect_flows: u64,
    /// All its flows.
    pub flows: u64,
    /// The servers of its mining and suspect flows: `ip:port` with the best name known.
    pub pools: Vec<String>,
    /// Epoch seconds of the first mining or suspect flow (of any flow if none).
    pub first_seen: f64,
    /// Epoch seconds of the last packet of a mining or suspect flow (of any flow if none).
    pub last_seen: f64,
    /// IP bytes, both ways, of its mining and suspect flows.
    pub flagged_bytes: u64,
    /// IP bytes, both ways, of all its flows.
    pub total_bytes: u64,
}

#[derive(Debug, Default)]
struct HostAcc {
    verdict: Option<Verdict>,
    mining: u64,
    suspect: u64,
    flows: u64,
    pools: BTreeSet<String>,
    flagged_span: Option<(f64, f64)>,
    span: Option<(f64, f64)>,
    flagged_bytes: u64,
    total_bytes: u64,
}

fn widen(span: &mut Option<(f64, f64)>, first: f64, last: f64) {
    *span = Some(match *span {
        Some((a, b)) => (a.min(first), b.max(last)),
        None => (first, last),
    });
}

/// `ip:port` of a flow's server, with the best name poolscope saw for it.
pub fn server_label(rec: &FlowRecord) -> String {
    let name = rec
        .tls
        .sni
        .as_deref()
        .or(rec.dns_names.first().map(String::as_str));
    let addr = match rec.dst_ip {
        IpAddr::V6(a) => format!("[{a}]:{}", rec.dst_port),
        IpAddr::V4(a) => format!("{a}:{}", rec.dst_port),
    };
    match name {
        Some(n) => format!("{addr} ({n})"),
        None => addr,
    }
}

/// Accumulates scored flows per client address.
#[derive(Debug, Default)]
pub struct HostRollup {
    hosts: HashMap<IpAddr, HostAcc>,
}

impl HostRollup {
    /// Adds one scored flow.
    pub fn add(&mut self, rec: &FlowRecord, s: &Scored) {
        let h = self.hosts.entry(rec.src_ip).or_default();
        h.flows += 1;
        h.verdict = Some(h.verdict.map_or(s.verdict, |v| v.max(s.verdict)));
        let bytes = rec.bytes_c2s + rec.bytes_s2c;
        h.total_bytes += bytes;
        widen(&mut h.span, rec.first_seen, rec.last_seen);
        if s.verdict >= Verdict::Suspect {
            match s.verdict {
                Verdict::Mining => h.mining += 1,
                _ => h.suspect += 1,
            }
            h.flagged_bytes += bytes;
            widen(&mut h.flagged_span, rec.first_seen, rec.last_seen);
            if h.pools.len() < POOLS_PER_HOST {
                h.pools.insert(server_label(rec));
            }
        }
    }

    /// One row per host whose worst verdict is at least `min`, worst first, then by mining
    /// flows and address.
    pub fn rows(&self, min: Verdict) -> Vec<HostRow> {
        let mut rows: Vec<HostRow> = self
            .hosts
            .iter()
            .filter(|(_, h)| h.verdict.unwrap_or(Verdict::Benign) >= min)
            .map(|(ip, h)| {
                let (first, last) = h.flagged_span.or(h.span).unwrap_or((0.0, 0.0));
                HostRow {
                    host: ip.to_string(),
                    verdict: h.verdict.unwrap_or(Verdict::Benign),
                    mining_flows: h.mining,
                    suspect_flows: h.suspect,
                    flows: h.flows,
                    pools: h.pools.iter().cloned().collect(),
                    first_seen: first,
                    last_seen: last,
                    flagged_bytes: h.flagged_bytes,
                    total_bytes: h.total_bytes,
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.verdict
                .cmp(&a.verdict)
                .then(b.mining_flows.cmp(&a.mining_flows))
                .then(b.suspect_flows.cmp(&a.suspect_flows))
                .then(a.host.cmp(&b.host))
        });
        rows
    }
}

/// What the run found, for the summary on stderr.
#[derive(Debug, Default)]
pub struct RunReport {
    /// Flows by verdict.
    pub verdicts: BTreeMap<Verdict, u64>,
    pools: HashMap<String, u64>,
    hosts: HashMap<IpAddr, u64>,
}

impl RunReport {
    /// Adds one scored flow.
    pub fn add(&mut self, rec: &FlowRecord, s: &Scored) {
        *self.verdicts.entry(s.verdict).or_default() += 1;
        if s.verdict == Verdict::Mining {
            *self.pools.entry(server_label(rec)).or_default() += 1;
            *self.hosts.entry(rec.src_ip).or_default() += 1;
        }
    }

    /// The `n` servers with the most mining flows, most first.
    pub fn top_pools(&self, n: usize) -> Vec<(String, u64)> {
        top(self.pools.iter().map(|(k, v)| (k.clone(), *v)), n)
    }

    /// The `n` client hosts with the most mining flows, most first.
    pub fn top_hosts(&self, n: usize) -> Vec<(String, u64)> {
        top(self.hosts.iter().map(|(k, v)| (k.to_string(), *v)), n)
    }
}

fn top(items: impl Iterator<Item = (String, u64)>, n: usize) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = items.collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(n);
    v
}
