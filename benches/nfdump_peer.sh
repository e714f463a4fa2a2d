#!/usr/bin/env bash
# Flow exports against nfdump, on the same records: real NetFlow v9, made by softflowd from a
# capture and collected by nfcapd on loopback, then
#   - `nfdump -r FILE -o csv`    nfdump reading its own file and writing the CSV poolscope reads;
#   - `nfdump -r FILE -s proto`  nfdump reading the records only (one small aggregate out);
#   - `netflow_read flows.csv`   poolscope reading and stitching that CSV (no scoring);
#   - `poolscope score flows.csv --threads T`  the whole job: feeds, flow model, NDJSON out;
# alternating, RUNS times each, in the same minute.
#
#   benches/nfdump_peer.sh [PCAP] [RUNS]
# PCAP defaults to the capture benches/peer.sh builds. Needs: softflowd, nfcapd, nfdump, GNU time,
# and permission to raise net.core.rmem_max (so that nfcapd drops no export packet).
set -euo pipefail
pcap=${1:-target/peer-bench/big.pcap}
runs=${2:-3}
work=${BENCH_DIR:-target/nfdump-bench}
port=${NF_PORT:-39995}
mkdir -p "$work"
[ -s "$pcap" ] || { echo "no capture at $pcap: run benches/peer.sh first or name one" >&2; exit 2; }
cargo build --release --example netflow_read
bin=${POOLSCOPE:-target/release/poolscope}
read_bin=${CARGO_TARGET_DIR:-target}/release/examples/netflow_read
nf="$work/nfcapd.file"
if [ ! -s "$nf" ]; then
    rm -rf "$work/collect"
    mkdir -p "$work/collect"
    sysctl -qw net.core.rmem_max=268435456 || true
    nfcapd -l "$work/collect" -b 127.0.0.1 -p "$port" -B 200000000 -t 3600 >"$work/nfcapd.log" 2>&1 &
    collector=$!
    sleep 1
    softflowd -r "$pcap" -n "127.0.0.1:$port" -v 9 -m 4000000 >"$work/softflowd.log" 2>&1
    sleep 2
    kill -INT "$collector"
    wait "$collector" || true
    mv "$work"/collect/nfcapd.[0-9]* "$nf"
    grep -h "Flows exported\|Sequence Errors" "$work/softflowd.log" "$work/nfcapd.log" || true
fi
nfdump -r "$nf" -o csv >"$work/flows.csv"
records=$(($(grep -c '^[0-9]' "$work/flows.csv")))
echo "records: $records NetFlow v9 records from $pcap ($(stat -c %s "$work/flows.csv") bytes of CSV)"
for r in $(seq 1 "$runs"); do
    /usr/bin/time -f "nfdump -o csv run $r: %e s wall, %U s user, %M KB max RSS" \
        nfdump -r "$nf" -o csv >/dev/null
    /usr/bin/time -f "nfdump -s proto run $r: %e s wall, %U s user, %M KB max RSS" \
        nfdump -r "$nf" -q -s proto >/dev/null
    /usr/bin/time -f "poolscope read run $r: %e s wall, %U s user, %M KB max RSS" \
        sh -c '"$0" "$1" 2>/dev/null' "$read_bin" "$work/flows.csv" | tail -1
    for t in 1 $(nproc); do
        /usr/bin/time -f "poolscope score --threads $t run $r: %e s wall, %U s user, %M KB max RSS" \
            "$bin" score -q --threads "$t" "$work/flows.csv" -o /dev/null --format ndjson
    done
done
