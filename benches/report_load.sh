#!/usr/bin/env bash
# How long a report page with N flagged flows takes to open in headless Chromium: the page
# writes the milliseconds from navigation to its first drawn table into `data-ready-ms`.
# The flows are copies of the flagged flows of the shipped sample with distinct client
# addresses and times, written as `score` NDJSON.
#
#   bash benches/report_load.sh [N]     (default 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q
bin=target/release/poolscope
$bin score -q --min-verdict suspect tests/data/pcap/mining.pcapng tests/data/pcap/xmrig-rx-tls.pcap -o "$work/seed.ndjson"
python3 - "$work/seed.ndjson" "$n" > "$work/flows.ndjson" <<'PY'
import json, sys
seed = [json.loads(l) for l in open(sys.argv[1])]
for i in range(int(sys.argv[2])):
    r = dict(seed[i % len(seed)])
    r["src_ip"] = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
    r["flow_id"] = i
    r["first_seen"] += i * 7.0
    r["last_seen"] += i * 7.0
    print(json.dumps(r))
PY
/usr/bin/time -f "report: %e s, %M KB" $bin report -q "$work/flows.ndjson" -o "$work/report.html"
ls -l "$work/report.html" | awk '{printf "page: %.1f MB\n", $5 / 1e6}'
for run in 1 2 3; do
    dom=$(chromium --headless --no-sandbox --disable-gpu --no-first-run \
        --disable-background-networking --user-data-dir="$work/profile" \
        --dump-dom "file://$work/report.html" 2>/dev/null)
    echo "open $run: $(grep -o 'data-ready-ms="[0-9]*"' <<<"$dom") ms"
done
