//! The classifier's speed: predictions per second of the shipped model in its flat-array form
//! (against smartcore's own forest of the same shape on the same rows), and fitting time.
//! Rows are the shipped training table's, so the trees have their real shapes. Fitting 100,000
//! rows once, outside criterion, is `benches/model_fit.sh`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use poolscope::features::shape::SHAPE_FEATURES;
use poolscope::model::data::read_window_table;
use poolscope::model::forest::{clean, FlatForest, ForestParams};
use poolscope::model::ModelFile;
use smartcore::ensemble::extra_trees_regressor::{
    ExtraTreesRegressor, ExtraTreesRegressorParameters,
};
use smartcore::linalg::basic::matrix::DenseMatrix;
use std::hint::black_box;
use std::path::Path;

fn rows() -> (Vec<Vec<f32>>, Vec<f64>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let flows = read_window_table(
        &root.join("models/training/default.parquet"),
        SHAPE_FEATURES,
    )
    .expect("training table");
    let mut rows = Vec::new();
    let mut y = Vec::new();
    for f in flows {
        for r in f.rows {
            rows.push(r);
            y.push(if f.label == Some(true) { 1.0 } else { 0.0 });
        }
    }
    (rows, y)
}

fn bench(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let model = ModelFile::load(&root.join("models/default.model")).expect("shipped model");
    let (rows, y) = rows();
    let mut g = c.benchmark_group("predict");
    g.throughput(Throughput::Elements(rows.len() as u64));
    g.bench_function("flat_forest_shipped_model", |b| {
        b.iter(|| {
            let mut s = 0f32;
            for r in &rows {
                s += model.forest.predict(black_box(r));
            }
            s
        })
    });
    // smartcore's own predict on a forest of the same kind, hyperparameters and data.
    let p = model.options.params;
    let x: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.iter().map(|&v| clean(v) as f64).collect())
        .collect();
    let xm = DenseMatrix::from_2d_vec(&x).unwrap();
    let rf = ExtraTreesRegressor::fit(
        &xm,
        &y,
        ExtraTreesRegressorParameters::default()
            .with_n_trees(p.trees)
            .with_max_depth(p.max_depth)
            .with_min_samples_leaf(p.min_samples_leaf)
            .with_m(5)
            .with_seed(p.seed),
    )
    .unwrap();
    g.bench_function("smartcore_predict_same_shape", |b| {
        b.iter(|| rf.predict(black_box(&xm)).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("fit");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows.len() as u64));
    let w = vec![1.0; rows.len()];
    g.bench_function("default_params_training_table", |b| {
        b.iter(|| FlatForest::fit(&rows, &y, &w, &ForestParams::default()).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
