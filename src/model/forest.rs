//! The probability forest: fitted with smartcore, compiled into flat arrays for scoring.
//!
//! smartcore's classification forest has no probabilities and fits slowly, so the model is its
//! regression forest on a 0/1 target: with squared error on 0/1 labels a split minimises the
//! Gini impurity, and a leaf's mean is the share of mining rows in it, so the mean over trees
//! is a probability. smartcore keeps its trees private; their serde form has every node's split
//! feature, threshold, children and mean, which [`FlatForest::from_smartcore`] copies into one
//! array of nodes. Walking that array is a few comparisons per tree, allocation-free, and it
//! also gives each feature's contribution to a prediction (the change of the node mean along
//! the path, summed over trees), which is how a verdict names the features that drove it.

use anyhow::{anyhow, bail, Context, Result};
use serde::{Deserialize, Serialize};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// Value given to a missing feature (NaN) before fitting and scoring: below every real
/// value, which are all non-negative except `bytes_ratio` (at least -1).
pub const MISSING: f32 = -10.0;

/// How the forest is grown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Number of trees.
    pub trees: usize,
    /// Depth limit.
    pub max_depth: u16,
    /// Rows a leaf needs at least.
    pub min_samples_leaf: usize,
    /// Features tried per split (0: the square root of the feature count).
    pub mtry: usize,
    /// Seed for bootstrap samples and feature choice.
    pub seed: u64,
}

impl Default for ForestParams {
    fn default() -> Self {
        ForestParams {
            trees: 100,
            max_depth: 12,
            min_samples_leaf: 2,
            mtry: 0,
            seed: 7,
        }
    }
}

/// One node. A leaf has `feature == u32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature compared at this node.
    #[serde(rename = "f")]
    pub feature: u32,
    /// Go left when the value is at most this.
    #[serde(rename = "t")]
    pub threshold: f32,
    /// Index of the left child (value <= threshold).
    #[serde(rename = "l")]
    pub left: u32,
    /// Index of the right child.
    #[serde(rename = "r")]
    pub right: u32,
    /// Mean target of the training rows that reached the node.
    #[serde(rename = "v")]
    pub value: f32,
}

const LEAF: u32 = u32::MAX;

/// A fitted forest in array form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlatForest {
    /// Features each row must have.
    pub n_features: usize,
    /// All nodes of all trees.
    pub nodes: Vec<Node>,
    /// Index of each tree's root in `nodes`.
    pub roots: Vec<u32>,
}

/// Replaces NaN by [`MISSING`].
#[inline]
pub fn clean(x: f32) -> f32 {
    if x.is_nan() {
        MISSING
    } else {
        x
    }
}

impl FlatForest {
    /// Fits a forest on rows (NaN allowed) and 0/1 targets with per-row weights; returns it
    /// with smartcore's impurity-decrease importance per feature (normalised to sum 1).
    pub fn fit(
        rows: &[Vec<f32>],
        target: &[f64],
        weights: &[f64],
        p: &ForestParams,
    ) -> Result<(FlatForest, Vec<f64>)> {
        if rows.is_empty() {
            bail!("no training rows");
        }
        let n_features = rows[0].len();
        let x: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().map(|&v| clean(v) as f64).collect())
            .collect();
        let x = DenseMatrix::from_2d_vec(&x).map_err(|e| anyhow!("training matrix: {e}"))?;
        let y: Vec<f64> = target.to_vec();
        let mtry = if p.mtry == 0 {
            ((n_features as f64).sqrt().round() as usize).max(1)
        } else {
            p.mtry.min(n_features)
        };
        let params = RandomForestRegressorParameters::default()
            .with_n_trees(p.trees)
            .with_max_depth(p.max_depth)
            .with_min_samples_leaf(p.min_samples_leaf)
            .with_m(mtry)
            .with_seed(p.seed);
        let forest = RandomForestRegressor::fit_with_weights(&x, &y, weights, params)
            .map_err(|e| anyhow!("fitting the forest: {e}"))?;
        let mut imp = forest
            .compute_feature_importances()
            .map_err(|e| anyhow!("feature importances: {e}"))?;
        imp.resize(n_features, 0.0);
        let total: f64 = imp.iter().sum();
        if total > 0.0 {
            imp.iter_mut().for_each(|x| *x /= total);
        }
        Ok((FlatForest::from_smartcore(&forest, n_features)?, imp))
    }

    /// Copies a fitted smartcore forest into arrays, through its serde form.
    pub fn from_smartcore(
        forest: &RandomForestRegressor<f64, f64, DenseMatrix<f64>, Vec<f64>>,
        n_features: usize,
    ) -> Result<FlatForest> {
        let v = serde_json::to_value(forest).context("serialising the fitted forest")?;
        let trees = find_key(&v, "trees")
            .and_then(|t| t.as_array())
            .ok_or_else(|| anyhow!("fitted forest has no trees"))?;
        let mut out = FlatForest {
            n_features,
            nodes: Vec::new(),
            roots: Vec::with_capacity(trees.len()),
        };
        for tree in trees {
            let nodes = find_key(tree, "nodes")
                .and_then(|n| n.as_array())
                .ok_or_else(|| anyhow!("tree without nodes"))?;
            let base = out.nodes.len() as u32;
            out.roots.push(base);
            for n in nodes {
                let num = |k: &str| n.get(k).and_then(|x| x.as_f64());
                let child = |k: &str| n.get(k).and_then(|x| x.as_u64());
                let value = num("output").ok_or_else(|| anyhow!("node without output"))?;
                let node = match (num("split_value"), child("true_child"), child("false_child")) {
                    (Some(t), Some(l), Some(r)) => Node {
                        feature: n
                            .get("split_feature")
                            .and_then(|x| x.as_u64())
                            .ok_or_else(|| anyhow!("split without feature"))?
                            as u32,
                        threshold: threshold_f32(t),
                        left: base + l as u32,
                        right: base + r as u32,
                        value: value as f32,
                    },
                    _ => Node {
                        feature: LEAF,
                        threshold: 0.0,
                        left: 0,
                        right: 0,
                        value: value as f32,
                    },
                };
                out.nodes.push(node);
            }
        }
        out.check()?;
        Ok(out)
    }

    /// Checks that every index points inside the arrays, so scoring cannot go out of bounds
    /// or loop on a damaged model file.
    pub fn check(&self) -> Result<()> {
        let n = self.nodes.len() as u32;
        for (i, node) in self.nodes.iter().enumerate() {
            if node.feature != LEAF {
                if node.feature as usize >= self.n_features {
                    bail!("node {i} splits on feature {} of {}", node.feature, self.n_features);
                }
                if node.left >= n || node.right >= n || node.left <= i as u32 || node.right <= i as u32 {
                    bail!("node {i} has children outside the tree");
                }
            }
        }
        if self.roots.iter().any(|&r| r >= n) || self.roots.is_empty() {
            bail!("forest roots out of range");
        }
        Ok(())
    }

    /// Mean leaf value over the trees: the probability before calibration. `row` must have
    /// `n_features` values (NaN = missing).
    #[inline]
    pub fn predict(&self, row: &[f32]) -> f32 {
        let mut sum = 0.0;
        for &root in &self.roots {
            let mut i = root as usize;
            loop {
                let n = &self.nodes[i];
                if n.feature == LEAF {
                    sum += n.value;
                    break;
                }
                i = if clean(row[n.feature as usize]) <= n.threshold {
                    n.left as usize
                } else {
                    n.right as usize
                };
            }
        }
        sum / self.roots.len() as f32
    }

    /// Each feature's contribution to `predict(row)`: along every tree's path, the change of
    /// the node mean at a split is credited to the split's feature; averaged over trees. The
    /// contributions plus the mean root value equal the prediction.
    pub fn contributions(&self, row: &[f32]) -> Vec<f32> {
        let mut c = vec![0f32; self.n_features];
        for &root in &self.roots {
            let mut i = root as usize;
            loop {
                let n = &self.nodes[i];
                if n.feature == LEAF {
                    break;
                }
                let next = if clean(row[n.feature as usize]) <= n.threshold {
                    n.left as usize
                } else {
                    n.right as usize
                };
                c[n.feature as usize] += self.nodes[next].value - n.value;
                i = next;
            }
        }
        let k = self.roots.len() as f32;
        c.iter_mut().for_each(|x| *x /= k);
        c
    }

    /// Mean value at the roots: the prediction with no feature known.
    pub fn base_value(&self) -> f32 {
        self.roots
            .iter()
            .map(|&r| self.nodes[r as usize].value)
            .sum::<f32>()
            / self.roots.len() as f32
    }
}

/// An f64 threshold as the largest f32 not above it, so `x <= t` decides the same way for
/// every f32 input `x`.
fn threshold_f32(t: f64) -> f32 {
    let f = t as f32;
    if (f as f64) > t {
        f32::from_bits(if f > 0.0 {
            f.to_bits() - 1
        } else if f < 0.0 {
            f.to_bits() + 1
        } else {
            (-f32::MIN_POSITIVE).to_bits()
        })
    } else {
        f
    }
}

/// The first value under `key`, searching objects depth-first.
fn find_key<'a>(v: &'a serde_json::Value, key: &str) -> Option<&'a serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(x) = m.get(key) {
                return Some(x);
            }
            m.values().find_map(|x| find_key(x, key))
        }
        serde_json::Value::Array(a) => a.iter().find_map(|x| find_key(x, key)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The flat forest predicts exactly what smartcore's own forest predicts, on rows it was
    /// not fitted on.
    #[test]
    fn flat_forest_equals_smartcore() {
        let mut rows = Vec::new();
        let mut y = Vec::new();
        let mut s: u64 = 1;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) as f32 / (1u64 << 31) as f32
        };
        for _ in 0..600 {
            let r: Vec<f32> = (0..5).map(|_| rnd() * 10.0).collect();
            y.push(if r[0] + 2.0 * r[3] > 14.0 { 1.0 } else { 0.0 });
            rows.push(r);
        }
        let x: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect();
        let x = DenseMatrix::from_2d_vec(&x).unwrap();
        let params = RandomForestRegressorParameters::default()
            .with_n_trees(15)
            .with_max_depth(8)
            .with_seed(3);
        let rf = RandomForestRegressor::fit(&x, &y, params).unwrap();
        let flat = FlatForest::from_smartcore(&rf, 5).unwrap();
        let test: Vec<Vec<f32>> = (0..300)
            .map(|_| (0..5).map(|_| rnd() * 10.0).collect())
            .collect();
        let tx: Vec<Vec<f64>> = test
            .iter()
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect();
        let expected = rf.predict(&DenseMatrix::from_2d_vec(&tx).unwrap()).unwrap();
        let mut correct = 0;
        for (r, e) in test.iter().zip(&expected) {
            let p = flat.predict(r);
            assert!((p as f64 - e).abs() < 1e-5, "{p} vs {e}");
            let c = flat.contributions(r);
            let sum: f32 = c.iter().sum::<f32>() + flat.base_value();
            assert!((sum - p).abs() < 1e-4);
            correct += ((p > 0.5) == (r[0] + 2.0 * r[3] > 14.0)) as u32;
        }
        assert!(correct > 270, "{correct}/300");
    }

    #[test]
    fn thresholds_round_down() {
        for t in [0.1f64, 1.0 / 3.0, -0.7, 12345.678, 0.0] {
            let f = threshold_f32(t);
            assert!(f as f64 <= t);
        }
    }

    #[test]
    fn damaged_forest_is_refused() {
        let f = FlatForest {
            n_features: 2,
            nodes: vec![Node {
                feature: 0,
                threshold: 1.0,
                left: 0,
                right: 5,
                value: 0.5,
            }],
            roots: vec![0],
        };
        assert!(f.check().is_err());
    }
}
