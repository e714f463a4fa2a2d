//! Verdicts: each flow record becomes `mining`, `suspect` or `benign`, with a score and the
//! exact reasons.
//!
//! The evidence is weighed in a fixed order. A confirmed plaintext mining protocol is ground
//! truth (`mining`, score 1). A strong feed match (a pool domain in the SNI, DNS names or
//! certificate, a pool certificate, a pool address) is `mining`; the allowlist cancels feed
//! matches, never an observed protocol. Weak hints (a pool port alone, a miner's TLS
//! fingerprint, which default TLS stacks share) make a flow `suspect` at most. A classifier of
//! flow shape plugs in through [`FlowModel`]: it raises the verdict of the flows nothing else
//! settled, and what it alone says is kept for every flow it may judge (`model_score`,
//! `model_verdict`), so it can be audited on flows a protocol or a feed decided.
//! [`HostRollup`] answers the next question: which internal hosts mine, and where to.

mod alerts;
mod confirm;
mod rollup;

pub use alerts::{write_alert, Alert, AlertLog, AlertTracker};
pub use confirm::Confirmer;
pub use rollup::{HostRollup, HostRow, RunReport};

use crate::dissect::stratum::StratumInfo;
use crate::intel::{FlowView, Matcher, Strength};
use crate::output::FlowRecord;
use serde::Serialize;

/// How bad a flow looks, in increasing order.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Nothing points at mining.
    #[default]
    Benign,
    /// A hint, or the model's lower threshold: worth a look, not proof.
    Suspect,
    /// A mining protocol was seen, or the flow reaches a listed pool.
    Mining,
}

impl Verdict {
    /// Name as written in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Benign => "benign",
            Verdict::Suspect => "suspect",
            Verdict::Mining => "mining",
        }
    }

    /// Parses `benign`, `suspect` or `mining`.
    pub fn parse(s: &str) -> Option<Verdict> {
        match s.to_ascii_lowercase().as_str() {
            "benign" => Some(Verdict::Benign),
            "suspect" => Some(Verdict::Suspect),
            "mining" => Some(Verdict::Mining),
            _ => None,
        }
    }
}

/// The verdict on one flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    /// `mining`, `suspect` or `benign`.
    pub verdict: Verdict,
    /// 0 to 1: 1 for an observed mining protocol, 0.95 for a strong feed match, 0.5 for a
    /// hint alone, the model's calibrated probability where the model decided, else 0.
    pub score: f64,
    /// Short strings that say exactly what matched, strongest first.
    pub reasons: Vec<String>,
    /// The same evidence as values, for programs that act on it (`feed learn`).
    pub evidence: Vec<Evidence>,
    /// What the model alone says, when it may judge the flow: its calibrated probability and
    /// its verdict by its own thresholds. None when the model does not apply (not TCP, no data
    /// both ways, no model) or the flow offers too little to judge.
    pub model: Option<(f64, Verdict)>,
}

impl Scored {
    /// The verdict columns of a flow's record.
    pub fn columns(&self) -> crate::output::VerdictColumns {
        crate::output::VerdictColumns {
            verdict: self.verdict.as_str(),
            score: self.score,
            reasons: self.reasons.clone(),
            model_score: self.model.map(|m| m.0),
            model_verdict: self.model.map(|m| m.1.as_str()),
            evidence: self
                .evidence
                .iter()
                .filter_map(|e| serde_json::to_value(e).ok())
                .collect(),
        }
    }
}

/// One piece of evidence behind a verdict, as values (the `evidence` column); `reasons` says
/// the same in words.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Evidence {
    /// A mining protocol was seen in the flow.
    Stratum {
        /// `xmr`, `btc`, `eth`, `getwork`, …
        dialect: String,
        /// The call that identifies the session (`login`, `mining.subscribe`, …).
        method: String,
        /// The miner's user agent, when it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        agent: Option<String>,
    },
    /// A feed entry matched one of the flow's values.
    Feed {
        /// Which list: `domain`, `browser_domain`, `endpoint`, `cert`, `fingerprint`,
        /// `allowlist`.
        list: String,
        /// Which value of the flow (`sni`, `dns`, `cert_cn`, `server_ip`, `ja4`, …).
        field: String,
        /// The flow's value.
        observed: String,
        /// The entry's value.
        value: String,
        /// The entry's source.
        source: String,
        /// `mining` (strong), `suspect` (a hint) or `allowed`.
        strength: String,
        /// False when an allowlist entry cancels the match.
        effective: bool,
    },
    /// The flow-shape model judged the flow.
    Model {
        /// Its calibrated probability.
        probability: f64,
        /// Its verdict by its own thresholds.
        verdict: Verdict,
    },
    /// The server was probed (`score --confirm`).
    Probe {
        /// Whether it answered like a pool.
        pool: bool,
    },
}

/// What a flow-shape model says about one flow.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelOutput {
    /// Calibrated probability that the flow is mining.
    pub probability: f64,
    /// The verdict by the model's own thresholds (`benign` below the suspect threshold).
    pub verdict: Verdict,
    /// The features that drove the decision, most important first, as `name=value`.
    pub top_features: Vec<String>,
}

/// What a flow-shape model says about one flow.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelSays {
    /// The model does not read this kind of flow (another feature schema, not TCP, no data
    /// both ways).
    NotApplicable,
    /// The flow has data both ways but too little for its shape to tell (a DNS query over
    /// TCP, an agent poll, a scan): the reason says how much it had and how much is needed.
    Insufficient(String),
    /// The model judged it.
    Speaks(ModelOutput),
}

/// A classifier of flow shape.
pub trait FlowModel: Send + Sync {
    /// Scores one flow record.
    fn predict(&self, rec: &FlowRecord) -> ModelSays;
}

/// Score given to a strong feed match.
pub const FEED_SCORE: f64 = 0.95;
/// Score given to a weak hint alone.
pub const HINT_SCORE: f64 = 0.5;

/// Turns flow records into verdicts with the feeds and, when given, a model.
#[derive(Default)]
pub struct Scorer {
    matcher: Option<Matcher>,
    model: Option<Box<dyn FlowModel>>,
}

impl Scorer {
    /// A scorer with feeds (or none, for `--no-feeds`) and an optional model.
    pub fn new(matcher: Option<Matcher>, model: Option<Box<dyn FlowModel>>) -> Self {
        Scorer { matcher, model }
    }

    /// The verdict on one flow.
    pub fn score(&self, rec: &FlowRecord) -> Scored {
        let mut reasons = Vec::new();
        let mut evidence = Vec::new();
        let mut verdict = Verdict::Benign;
        let mut score: f64 = 0.0;
        if let Some(st) = &rec.stratum {
            verdict = Verdict::Mining;
            score = 1.0;
            let method = identifying_call(st);
            reasons.push(format!("stratum:{}:{method}", st.dialect));
            if let Some(agent) = &st.agent {
                reasons.push(format!("stratum:agent:{agent}"));
            }
            evidence.push(Evidence::Stratum {
                dialect: st.dialect.to_string(),
                method,
                agent: st.agent.clone(),
            });
        }
        if let Some(m) = &self.matcher {
            let view = FlowView::from_tls(rec.dst_ip, rec.dst_port, &rec.tls, &rec.dns_names)
                .at(rec.first_seen);
            let mut matches = m.match_flow(&view);
            matches.sort_by_key(|m| m.strength);
            for hit in &matches {
                reasons.push(hit.reason());
                evidence.push(Evidence::Feed {
                    list: hit.kind.as_str().to_string(),
                    field: hit.field.as_str().to_string(),
                    observed: hit.observed.clone(),
                    value: hit.value.clone(),
                    source: hit.source.clone(),
                    strength: hit.strength.as_str().to_string(),
                    effective: hit.is_effective(),
                });
                if !hit.is_effective() {
                    continue;
                }
                match hit.strength {
                    Strength::Mining => {
                        verdict = verdict.max(Verdict::Mining);
                        score = score.max(FEED_SCORE);
                    }
                    Strength::Suspect => {
                        verdict = verdict.max(Verdict::Suspect);
                        score = score.max(HINT_SCORE);
                    }
                    Strength::Allowed => {}
                }
            }
        }
        let mut model = None;
        match self.model.as_ref().map(|m| m.predict(rec)) {
            None | Some(ModelSays::NotApplicable) => {}
            Some(ModelSays::Insufficient(why)) => {
                reasons.push(format!("model:insufficient ({why})"))
            }
            Some(ModelSays::Speaks(out)) => {
                model = Some((out.probability, out.verdict));
                evidence.push(Evidence::Model {
                    probability: out.probability,
                    verdict: out.verdict,
                });
                let mut r = format!("model:{:.2}", out.probability);
                if !out.top_features.is_empty() {
                    r.push_str(&format!(" ({})", out.top_features.join(", ")));
                }
                reasons.push(r);
                // The model raises what the protocols and feeds left open; it never lowers.
                if verdict != Verdict::Mining {
                    if out.verdict > verdict {
                        verdict = out.verdict;
                    }
                    score = score.max(out.probability);
                }
            }
        }
        Scored {
            verdict,
            score,
            reasons,
            evidence,
            model,
        }
    }
}

/// The call that identifies a mining session, e.g. `login` (reason `stratum:xmr:login`).
fn identifying_call(st: &StratumInfo) -> String {
    const IDENTIFYING: &[&str] = &[
        "login",
        "mining.subscribe",
        "mining.authorize",
        "eth_submitLogin",
        "getblocktemplate",
        "getwork",
        "eth_getWork",
        "mining.notify",
        "job",
        "submit",
        "mining.submit",
    ];
    IDENTIFYING
        .iter()
        .find(|m| st.methods.contains_key(**m))
        .map(|m| m.to_string())
        .or_else(|| st.methods.keys().next().cloned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
