//! How well a model separates mining from benign flows: the numbers `eval` and the model card
//! report.

use serde::{Deserialize, Serialize};

/// Counts at one threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Mining flows flagged.
    pub tp: u64,
    /// Benign flows flagged.
    pub fp: u64,
    /// Benign flows not flagged.
    pub tn: u64,
    /// Mining flows missed.
    pub r#fn: u64,
}

/// Reads a number that JSON wrote as null because it was NaN (a precision with nothing
/// flagged, an AUC of one class): serde_json writes NaN as null, so a model file or report
/// holding one must read null back as NaN.
pub fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// One line of a threshold table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdRow {
    /// Probability at or above which a flow is flagged.
    pub threshold: f64,
    /// Share of flagged flows that are mining (NaN when nothing is flagged).
    #[serde(deserialize_with = "null_as_nan")]
    pub precision: f64,
    /// Share of mining flows flagged.
    #[serde(deserialize_with = "null_as_nan")]
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    #[serde(deserialize_with = "null_as_nan")]
    pub f1: f64,
    /// Benign flows flagged per 10,000 benign flows.
    #[serde(deserialize_with = "null_as_nan")]
    pub fp_per_10k: f64,
    /// The counts.
    pub confusion: Confusion,
}

/// Counts at threshold `t` of `(probability, is_mining)` pairs.
pub fn confusion(preds: &[(f64, bool)], t: f64) -> Confusion {
    let mut c = Confusion {
        tp: 0,
        fp: 0,
        tn: 0,
        r#fn: 0,
    };
    for &(p, y) in preds {
        match (p >= t, y) {
            (true, true) => c.tp += 1,
            (true, false) => c.fp += 1,
            (false, false) => c.tn += 1,
            (false, true) => c.r#fn += 1,
        }
    }
    c
}

/// The threshold table row at `t`.
pub fn at_threshold(preds: &[(f64, bool)], t: f64) -> ThresholdRow {
    let c = confusion(preds, t);
    let div = |a: u64, b: u64| {
        if b == 0 {
            f64::NAN
        } else {
            a as f64 / b as f64
        }
    };
    let precision = div(c.tp, c.tp + c.fp);
    let recall = div(c.tp, c.tp + c.r#fn);
    let f1 = if precision + recall > 0.0 {
        2.0 * precision * recall / (precision + recall)
    } else {
        f64::NAN
    };
    ThresholdRow {
        threshold: t,
        precision,
        recall,
        f1,
        fp_per_10k: div(c.fp, c.fp + c.tn) * 10_000.0,
        confusion: c,
    }
}

/// Area under the ROC curve (the probability that a random mining flow scores above a random
/// benign one, ties counting half); NaN without both classes.
pub fn roc_auc(preds: &[(f64, bool)]) -> f64 {
    let mut v: Vec<(f64, bool)> = preds.to_vec();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pos = v.iter().filter(|x| x.1).count() as f64;
    let neg = v.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return f64::NAN;
    }
    // Sum of the ranks of the positives, with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            j += 1;
        }
        let avg = (i + 1 + j) as f64 / 2.0;
        rank_sum += v[i..j].iter().filter(|x| x.1).count() as f64 * avg;
        i = j;
    }
    (rank_sum - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Area under the precision-recall curve (average precision).
pub fn average_precision(preds: &[(f64, bool)]) -> f64 {
    let mut v: Vec<(f64, bool)> = preds.to_vec();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    let pos = v.iter().filter(|x| x.1).count() as f64;
    if pos == 0.0 {
        return f64::NAN;
    }
    let (mut tp, mut fp, mut ap) = (0.0, 0.0, 0.0);
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        let mut new_tp = 0.0;
        while j < v.len() && v[j].0 == v[i].0 {
            if v[j].1 {
                new_tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        tp += new_tp;
        ap += new_tp / pos * (tp / (tp + fp));
        i = j;
    }
    ap
}

/// The lowest threshold among the candidates whose benign flag rate is at most
/// `max_fp_per_10k`; 1.0 when none is.
pub fn threshold_for_fp_rate(preds: &[(f64, bool)], max_fp_per_10k: f64) -> f64 {
    let mut benign: Vec<f64> = preds.iter().filter(|p| !p.1).map(|p| p.0).collect();
    benign.sort_by(|a, b| a.total_cmp(b));
    let neg = benign.len();
    let mut cands: Vec<f64> = preds.iter().map(|p| p.0).filter(|&t| t > 0.0).collect();
    cands.push(1.0);
    cands.sort_by(|a, b| a.total_cmp(b));
    cands.dedup();
    for t in cands {
        if neg == 0 {
            // No benign flows at all counts as within the limit.
            return t;
        }
        let fp = neg - benign.partition_point(|&b| b < t);
        if fp as f64 / neg as f64 * 10_000.0 <= max_fp_per_10k {
            return t;
        }
    }
    1.0
}

/// The 95% Wilson score interval of a proportion `k` of `n`, as (low, high); (0, 1) when `n` is
/// 0. With `k` = 0 the upper end is about 3.84 / n: zero false alarms among 3,000 benign flows
/// still allow a rate of up to 12.8 per 10,000.
pub fn wilson_interval(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054f64;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let den = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / den;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / den;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_and_counts_by_hand() {
        // Positives 0.9, 0.4; negatives 0.6, 0.2, 0.1: of 6 pairs, 5 ordered right.
        let p = [
            (0.9, true),
            (0.4, true),
            (0.6, false),
            (0.2, false),
            (0.1, false),
        ];
        assert!((roc_auc(&p) - 5.0 / 6.0).abs() < 1e-12);
        let r = at_threshold(&p, 0.5);
        assert_eq!(
            r.confusion,
            Confusion {
                tp: 1,
                fp: 1,
                tn: 2,
                r#fn: 1
            }
        );
        assert_eq!(r.precision, 0.5);
        assert!((r.fp_per_10k - 10_000.0 / 3.0).abs() < 1e-9);
        // Average precision: 0.9 → P=1 at R=.5; 0.4 → P=2/3 at R=1.
        assert!((average_precision(&p) - (0.5 + 0.5 * 2.0 / 3.0)).abs() < 1e-12);
        assert_eq!(threshold_for_fp_rate(&p, 0.0), 0.9);
        assert!((roc_auc(&[(0.5, true), (0.5, false)]) - 0.5).abs() < 1e-12);
        // Three benign of 0.6, 0.2, 0.1: one flag in three is 3,333 per 10k.
        assert_eq!(threshold_for_fp_rate(&p, 3334.0), 0.4);
        assert_eq!(threshold_for_fp_rate(&p, 3333.0), 0.9);
    }

    #[test]
    fn nan_metrics_survive_json() {
        // Nothing flagged: precision is NaN, which JSON can only write as null.
        let r = at_threshold(&[(0.1, true), (0.2, false)], 0.9);
        assert!(r.precision.is_nan());
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"precision\":null"), "{text}");
        let back: ThresholdRow = serde_json::from_str(&text).unwrap();
        assert!(back.precision.is_nan());
        assert_eq!(back.confusion, r.confusion);
    }

    #[test]
    fn wilson_intervals_by_hand() {
        // 0 of 3,000: upper end z^2 / (n + z^2).
        let (lo, hi) = wilson_interval(0, 3000);
        assert_eq!(lo, 0.0);
        assert!((hi - 3.8415 / 3003.8415).abs() < 1e-6, "{hi}");
        // 5 of 10 is centred on one half: 0.2366 to 0.7634 (the textbook value).
        let (lo, hi) = wilson_interval(5, 10);
        assert!(
            (lo - 0.2366).abs() < 1e-4 && (hi - 0.7634).abs() < 1e-4,
            "{lo} {hi}"
        );
        assert_eq!(wilson_interval(0, 0), (0.0, 1.0));
    }
}
