#!/usr/bin/env bash
# Fitting time of `poolscope train` on 100,000 rows: the shipped training table resampled with
# small multiplicative noise (seeded) to 100k rows, then one timed `train --folds 0` (the final
# fit alone) and one with the default 5-fold cross-validation (six fits).
# Usage: benches/model_fit.sh [ROWS]   (needs python3 with polars)
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-100000}
OUT=${BENCH_DIR:-/tmp/poolscope-bench}
mkdir -p "$OUT"
python3 - "$ROWS" "$OUT/big.parquet" <<'PY'
import sys, polars as pl, numpy as np
n, out = int(sys.argv[1]), sys.argv[2]
df = pl.read_parquet("models/training/default.parquet").filter(pl.col("label").is_not_null())
rng = np.random.default_rng(7)
idx = rng.integers(0, df.height, n)
big = df[idx]
feats = [c for c in df.columns if df[c].dtype == pl.Float64]
big = big.with_columns([(pl.col(c) * pl.Series(rng.uniform(0.95, 1.05, n))).alias(c) for c in feats])
big = big.with_columns(pl.Series("flow_id", np.arange(n)))
big.write_parquet(out)
print(f"{n} rows -> {out}")
PY
cargo build --release --quiet
for folds in 0 5; do
  /usr/bin/time -f "train --folds $folds: %e s wall, %M KB peak" \
    target/release/poolscope train -q --data "$OUT/big.parquet" --folds $folds -o "$OUT/big.model"
done
