//! The probability forest: fitted with smartcore, compiled into flat arrays for scoring.
//!
//! smartcore's classification forest has no probabilities and fits slowly, so the model is a
//! regression forest on a 0/1 target — extremely randomised trees by default (each split at a
//! random threshold of a few random features, every tree on all rows), which in
//! leave-one-source-out evaluation generalised to unseen miners and benign software better than
//! bootstrap random forests with best splits: with squared error on 0/1 labels a split minimises the
//! Gini impurity, and a leaf's mean is the share of mining rows in it, so the mean over trees
//! is a probability. smartcore keeps its trees private; their serde form has every node's split
//! feature, threshold, children and mean, which [`FlatForest::from_smartcore`] copies into one
//! array of nodes. Walking that array is a few comparisons per tree, allocation-free, and it
//! also gives each feature's contribution to a prediction (the change of the node mean along
//! the path, summed over trees), which is how a verdict names the features that drove it.

use super::error::{fit_error, invalid, Result};
use serde::{Deserialize, Serialize};
use smartcore::ensemble::extra_trees_regressor::{
    ExtraTreesRegressor, ExtraTreesRegressorParameters,
};
use smartcore::ensemble::random_forest_regressor::{
    RandomForestRegressor, RandomForestRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// Value given to a missing feature (NaN) before fitting and scoring: far below every real
/// value (all are non-negative except `bytes_ratio`, at least -1). Far, not just below: an
/// extra-trees split draws its threshold uniformly between a feature's smallest and largest
/// value in the node, so with missing values present nearly every draw separates "missing"
/// from "measured", which is how a missing value (no pushes, no answers) should count.
pub const MISSING: f32 = -1.0e9;

/// Which kind of forest is grown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ForestKind {
    /// Breiman's random forest: bootstrap samples, the best split of a few random features.
    #[default]
    Random,
    /// Extremely randomised trees: every row in every tree, a random split of a few random
    /// features.
    Extra,
}

/// How the forest is grown.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForestParams {
    /// Kind of forest (models written before the choice existed are random forests).
    #[serde(default)]
    pub kind: ForestKind,
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
            kind: ForestKind::Extra,
            trees: 100,
            max_depth: 12,
            min_samples_leaf: 10,
            mtry: 0,
            seed: 7,
        }
    }
}

/// One node in the scoring layout (12 bytes). Trees are stored in depth-first order, so a
/// split's left child (value <= threshold) is the next node and only the right one is named.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// Split threshold, or the leaf's value.
    threshold: f32,
    /// Feature compared, or [`LEAF`].
    feature: u16,
    /// Index of the right child (value > threshold).
    right: u32,
}

const LEAF: u16 = u16::MAX;

/// Rows are copied into a stack buffer of this many values (NaN replaced once per row, not
/// once per node); wider rows take the slower path.
const ROW_BUF: usize = 64;

/// A fitted forest in array form. Stored as parallel arrays (compact JSON); scored from an
/// array of 12-byte nodes built on load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "ForestArrays", into = "ForestArrays")]
pub struct FlatForest {
    /// Features each row must have.
    pub n_features: usize,
    arrays: ForestArrays,
    nodes: Vec<Node>,
}

/// The stored form of a [`FlatForest`]: per node, in depth-first order within each tree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ForestArrays {
    /// Features each row must have.
    pub n_features: usize,
    /// Index of each tree's root.
    pub roots: Vec<u32>,
    /// Split feature, or 65535 for a leaf.
    pub feature: Vec<u16>,
    /// Split threshold (go left when the value is at most this); 0 for leaves.
    pub threshold: Vec<f32>,
    /// Right child of a split; 0 for leaves.
    pub right: Vec<u32>,
    /// Mean target of the training rows that reached the node.
    pub value: Vec<f32>,
}

impl From<ForestArrays> for FlatForest {
    fn from(a: ForestArrays) -> Self {
        let n = a.feature.len();
        let nodes = (0..n)
            .map(|i| {
                let leaf = a.feature[i] == LEAF;
                Node {
                    threshold: if leaf {
                        a.value.get(i).copied().unwrap_or(0.0)
                    } else {
                        a.threshold.get(i).copied().unwrap_or(0.0)
                    },
                    feature: a.feature[i],
                    right: a.right.get(i).copied().unwrap_or(0),
                }
            })
            .collect();
        FlatForest {
            n_features: a.n_features,
            arrays: a,
            nodes,
        }
    }
}

impl From<FlatForest> for ForestArrays {
    fn from(f: FlatForest) -> Self {
        f.arrays
    }
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
            return Err(fit_error!("no training rows"));
        }
        let n_features = rows[0].len();
        let x: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| r.iter().map(|&v| clean(v) as f64).collect())
            .collect();
        let x = DenseMatrix::from_2d_vec(&x).map_err(|e| fit_error!("training matrix: {e}"))?;
        let y: Vec<f64> = target.to_vec();
        let mtry = if p.mtry == 0 {
            ((n_features as f64).sqrt().round() as usize).max(1)
        } else {
            p.mtry.min(n_features)
        };
        let (flat, mut imp) = match p.kind {
            ForestKind::Random => {
                let params = RandomForestRegressorParameters::default()
                    .with_n_trees(p.trees)
                    .with_max_depth(p.max_depth)
                    .with_min_samples_leaf(p.min_samples_leaf)
                    .with_m(mtry)
                    .with_seed(p.seed);
                let forest = RandomForestRegressor::fit_with_weights(&x, &y, weights, params)
                    .map_err(|e| fit_error!("fitting the forest: {e}"))?;
                let imp = forest
                    .compute_feature_importances()
                    .map_err(|e| fit_error!("feature importances: {e}"))?;
                (FlatForest::from_smartcore(&forest, n_features)?, imp)
            }
            ForestKind::Extra => {
                let params = ExtraTreesRegressorParameters::default()
                    .with_n_trees(p.trees)
                    .with_max_depth(p.max_depth)
                    .with_min_samples_leaf(p.min_samples_leaf)
                    .with_m(mtry)
                    .with_seed(p.seed);
                let forest = ExtraTreesRegressor::fit_with_weights(&x, &y, weights, params)
                    .map_err(|e| fit_error!("fitting the forest: {e}"))?;
                let imp = forest
                    .compute_feature_importances()
                    .map_err(|e| fit_error!("feature importances: {e}"))?;
                (FlatForest::from_smartcore(&forest, n_features)?, imp)
            }
        };
        imp.resize(n_features, 0.0);
        let total: f64 = imp.iter().sum();
        if total > 0.0 {
            imp.iter_mut().for_each(|x| *x /= total);
        }
        Ok((flat, imp))
    }

    /// Copies a fitted smartcore forest (random forest or extra trees: both keep their trees
    /// in the same form) into arrays, through its serde form, re-laid out depth-first.
    pub fn from_smartcore<F: Serialize>(forest: &F, n_features: usize) -> Result<FlatForest> {
        let v = serde_json::to_value(forest)
            .map_err(|e| fit_error!("serialising the fitted forest: {e}"))?;
        let trees = find_key(&v, "trees")
            .and_then(|t| t.as_array())
            .ok_or_else(|| invalid!("fitted forest has no trees"))?;
        let mut a = ForestArrays {
            n_features,
            ..Default::default()
        };
        for tree in trees {
            let nodes = find_key(tree, "nodes")
                .and_then(|n| n.as_array())
                .ok_or_else(|| invalid!("tree without nodes"))?;
            a.roots.push(a.feature.len() as u32);
            // Depth-first: (smartcore node, index of the parent whose right child it is).
            let mut stack: Vec<(usize, Option<usize>)> = vec![(0, None)];
            while let Some((k, parent)) = stack.pop() {
                let n = nodes
                    .get(k)
                    .ok_or_else(|| invalid!("tree refers to a missing node {k}"))?;
                let here = a.feature.len();
                if let Some(p) = parent {
                    a.right[p] = here as u32;
                }
                let num = |key: &str| n.get(key).and_then(|x| x.as_f64());
                let child = |key: &str| n.get(key).and_then(|x| x.as_u64());
                a.value
                    .push(num("output").ok_or_else(|| invalid!("node without output"))? as f32);
                match (
                    num("split_value"),
                    child("true_child"),
                    child("false_child"),
                ) {
                    (Some(t), Some(l), Some(r)) => {
                        let f = n
                            .get("split_feature")
                            .and_then(|x| x.as_u64())
                            .filter(|&f| (f as usize) < n_features && f < LEAF as u64)
                            .ok_or_else(|| invalid!("split on a feature out of range"))?;
                        a.feature.push(f as u16);
                        a.threshold.push(threshold_f32(t));
                        a.right.push(0);
                        // Right pushed first so the left subtree comes next.
                        stack.push((r as usize, Some(here)));
                        stack.push((l as usize, None));
                    }
                    _ => {
                        a.feature.push(LEAF);
                        a.threshold.push(0.0);
                        a.right.push(0);
                    }
                }
                if a.feature.len() > u32::MAX as usize / 2 {
                    return Err(invalid!("forest too large"));
                }
            }
        }
        let out = FlatForest::from(a);
        out.check()?;
        Ok(out)
    }

    /// Checks that every index points inside the arrays and moves forward, so scoring cannot
    /// go out of bounds or loop on a damaged model file.
    pub fn check(&self) -> Result<()> {
        let a = &self.arrays;
        let n = a.feature.len();
        if a.threshold.len() != n || a.right.len() != n || a.value.len() != n {
            return Err(invalid!("forest arrays differ in length"));
        }
        if a.roots.is_empty() || a.roots.iter().any(|&r| r as usize >= n) {
            return Err(invalid!("forest roots out of range"));
        }
        if self.n_features > LEAF as usize {
            return Err(invalid!("too many features"));
        }
        for i in 0..n {
            if a.feature[i] != LEAF {
                if a.feature[i] as usize >= self.n_features {
                    return Err(invalid!(
                        "node {i} splits on feature {} of {}",
                        a.feature[i],
                        self.n_features
                    ));
                }
                let r = a.right[i] as usize;
                if i + 1 >= n || r <= i + 1 || r >= n {
                    return Err(invalid!("node {i} has children outside the tree"));
                }
            }
        }
        Ok(())
    }

    /// Number of trees.
    pub fn trees(&self) -> usize {
        self.arrays.roots.len()
    }

    /// Mean leaf value over the trees: the probability before calibration. `row` must have
    /// `n_features` values (NaN = missing).
    #[inline]
    pub fn predict(&self, row: &[f32]) -> f32 {
        if row.len() <= ROW_BUF {
            let mut x = [MISSING; ROW_BUF];
            for (d, s) in x.iter_mut().zip(row) {
                *d = clean(*s);
            }
            self.walk_all(&x)
        } else {
            let x: Vec<f32> = row.iter().map(|&v| clean(v)).collect();
            self.walk_all(&x)
        }
    }

    #[inline]
    fn walk_all(&self, x: &[f32]) -> f32 {
        let nodes = &self.nodes[..];
        let mut sum = 0.0;
        for &root in &self.arrays.roots {
            let mut i = root as usize;
            loop {
                let n = nodes[i];
                if n.feature == LEAF {
                    sum += n.threshold;
                    break;
                }
                i = if x[n.feature as usize] <= n.threshold {
                    i + 1
                } else {
                    n.right as usize
                };
            }
        }
        sum / self.arrays.roots.len() as f32
    }

    /// Each feature's contribution to `predict(row)`: along every tree's path, the change of
    /// the node mean at a split is credited to the split's feature; averaged over trees. The
    /// contributions plus [`FlatForest::base_value`] equal the prediction.
    pub fn contributions(&self, row: &[f32]) -> Vec<f32> {
        let a = &self.arrays;
        let mut c = vec![0f32; self.n_features];
        for &root in &a.roots {
            let mut i = root as usize;
            while a.feature[i] != LEAF {
                let f = a.feature[i] as usize;
                let next = if clean(row[f]) <= a.threshold[i] {
                    i + 1
                } else {
                    a.right[i] as usize
                };
                c[f] += a.value[next] - a.value[i];
                i = next;
            }
        }
        let k = a.roots.len() as f32;
        c.iter_mut().for_each(|x| *x /= k);
        c
    }

    /// Mean value at the roots: the prediction with no feature known.
    pub fn base_value(&self) -> f32 {
        let a = &self.arrays;
        a.roots.iter().map(|&r| a.value[r as usize]).sum::<f32>() / a.roots.len() as f32
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
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
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
        let f = FlatForest::from(ForestArrays {
            n_features: 2,
            roots: vec![0],
            feature: vec![0],
            threshold: vec![1.0],
            right: vec![5],
            value: vec![0.5],
        });
        assert!(f.check().is_err());
        let looping = FlatForest::from(ForestArrays {
            n_features: 2,
            roots: vec![0],
            feature: vec![0, LEAF, LEAF],
            threshold: vec![1.0, 0.0, 0.0],
            right: vec![0, 0, 0],
            value: vec![0.5, 0.0, 1.0],
        });
        assert!(looping.check().is_err());
    }
}
