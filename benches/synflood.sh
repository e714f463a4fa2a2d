#!/usr/bin/env bash
# A flood of half-open TCP flows (one SYN each, all live at once): peak memory and time of
# `poolscope score`, by thread count, beside `ndpiReader -q` on the same capture, runs
# alternating in the same minute.
#
#   benches/synflood.sh [FLOWS] [RUNS]
# Needs: python3, ndpiReader (libndpi-bin), GNU time.
set -euo pipefail
flows=${1:-1000000}
runs=${2:-2}
work=${BENCH_DIR:-target/synflood-bench}
mkdir -p "$work"
cap="$work/syn-$flows.pcap"
[ -s "$cap" ] || python3 "$(dirname "$0")/synflood.py" "$cap" "$flows"
bin=${POOLSCOPE:-target/release/poolscope}
echo "capture: $cap, $flows half-open flows, $(stat -c %s "$cap") bytes"
cat "$cap" >/dev/null
cap_flows=$((flows * 2))
for r in $(seq 1 "$runs"); do
    for t in 1 $(nproc); do
        /usr/bin/time -f "poolscope score --threads $t run $r: %e s wall, %U s user, %S s sys, %M KB max RSS" \
            "$bin" score -q --threads "$t" --max-flows "$cap_flows" "$cap" -o /dev/null --format ndjson
    done
    /usr/bin/time -f "ndpiReader run $r: %e s wall, %U s user, %S s sys, %M KB max RSS" \
        ndpiReader -q -i "$cap" >/dev/null 2>"$work/ndpi.err" || true
    tail -1 "$work/ndpi.err"
done
# Every flow written, none evicted (records counted as they stream out).
"$bin" score -q --max-flows "$cap_flows" "$cap" --format ndjson |
    awk '/"end_reason":"evicted"/ {e++} END {print "records: " NR ", evicted: " e + 0}'
