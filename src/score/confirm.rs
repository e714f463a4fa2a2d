//! `score --confirm`: a `suspect` flow whose server answers a Stratum login like a pool is
//! mining. Probing sends traffic to the server, so it runs only when asked, and once per
//! server (address, port and SNI), however many flows reach it.

use super::{Evidence, Scored, Verdict, FEED_SCORE};
use crate::output::FlowRecord;
use crate::probe::{confirm_endpoint, ProbeOptions, ProbeOutcome};
use std::collections::HashMap;
use std::net::IpAddr;

/// Probes the servers of suspect flows and raises those that answer like pools.
pub struct Confirmer {
    opts: ProbeOptions,
    probed: HashMap<(IpAddr, u16, Option<String>), ProbeOutcome>,
}

impl Confirmer {
    /// A confirmer that probes with `opts`.
    pub fn new(opts: ProbeOptions) -> Self {
        Confirmer {
            opts,
            probed: HashMap::new(),
        }
    }

    /// Probes the server of a `suspect` flow (once per server) and records the outcome first
    /// among the reasons; a server that answers like a pool makes the flow `mining`. Other
    /// verdicts are left as they are, without any traffic.
    pub fn confirm(&mut self, rec: &FlowRecord, s: &mut Scored) {
        if s.verdict != Verdict::Suspect {
            return;
        }
        let opts = &self.opts;
        let o = self
            .probed
            .entry((rec.dst_ip, rec.dst_port, rec.tls.sni.clone()))
            .or_insert_with(|| {
                confirm_endpoint(rec.dst_ip, rec.dst_port, rec.tls.sni.as_deref(), opts)
            });
        s.reasons.insert(0, o.reason());
        let pool = o.answers_like_pool();
        s.evidence.insert(0, Evidence::Probe { pool });
        if pool {
            s.verdict = Verdict::Mining;
            s.score = s.score.max(FEED_SCORE);
        }
    }
}
