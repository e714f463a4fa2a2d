#!/bin/sh
# Reads a generated nfdump-style CSV of ROWS rows (default 5,000,000) through the library and
# prints records per second and the peak memory. Not run by `cargo bench`.
#   benches/netflow_big.sh [ROWS]
set -eu
ROWS=${1:-5000000}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
cargo build --release --example netflow_read
BIN=${CARGO_TARGET_DIR:-target}/release/examples/netflow_read
"$BIN" --gen "$ROWS" "$DIR/flows.csv"
ls -l "$DIR/flows.csv"
if command -v /usr/bin/time >/dev/null; then
    /usr/bin/time -f "peak RSS %M KiB, %e s" "$BIN" "$DIR/flows.csv"
else
    "$BIN" "$DIR/flows.csv"
fi
