#!/usr/bin/env bash
# Captures Stratum V2 sessions between the sv2-capture pool and miner stubs (reference crates),
# and the look-alike negatives, in two network namespaces joined by a veth pair (MTU 1500,
# offloads off, so the capture shows the segments as they would cross a wire).
# Usage: sudo bash tools/sv2-capture/capture.sh [OUTDIR]   (default: tests/data/pcap)
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(realpath -m "${1:-$HERE/../../tests/data/pcap}")
BIN=$HERE/target/release/sv2-capture
P=sv2cap-pool
M=sv2cap-miner
PORT=34254 # the reference pool's default listening port

cleanup() {
    ip netns del "$P" 2>/dev/null || true
    ip netns del "$M" 2>/dev/null || true
}
trap cleanup EXIT

(cd "$HERE" && cargo build --release --locked)
mkdir -p "$OUT"
cleanup
ip netns add "$P"
ip netns add "$M"
ip link add sv2cap-p netns "$P" type veth peer name sv2cap-m netns "$M"
ip -n "$P" addr add 10.77.0.1/24 dev sv2cap-p
ip -n "$M" addr add 10.77.0.2/24 dev sv2cap-m
for pair in "$P sv2cap-p" "$M sv2cap-m"; do
    set -- $pair
    ip -n "$1" link set lo up
    ip -n "$1" link set "$2" mtu 1500 up
    ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
done

# capture NAME "SERVER ARGS" "CLIENT ARGS": tcpdump on the miner's side of the wire.
capture() {
    local name=$1 server=$2 client=$3
    ip netns exec "$M" tcpdump -i sv2cap-m -n -U -s 0 -Z root -w "$OUT/$name" "tcp port $PORT" \
        2>"/tmp/sv2cap-$name.tcpdump.log" &
    local tpid=$!
    sleep 1
    # shellcheck disable=SC2086 # the argument lists are meant to split
    ip netns exec "$P" "$BIN" $server 2>"/tmp/sv2cap-$name.server.log" &
    local spid=$!
    sleep 0.5
    # shellcheck disable=SC2086
    ip netns exec "$M" "$BIN" $client 2>"/tmp/sv2cap-$name.client.log"
    wait "$spid"
    sleep 1
    kill -INT "$tpid"
    wait "$tpid" || true
    echo "== $name"
    cat "/tmp/sv2cap-$name.server.log" "/tmp/sv2cap-$name.client.log" | grep -E "done|left|handshake|closed"
}

capture sv2-noise-session.pcap "pool 10.77.0.1:$PORT --job-every 5" \
    "miner 10.77.0.1:$PORT --shares 14 --seconds 35 --seed 19"
capture sv2-extended-split.pcap "pool 10.77.0.1:$PORT --extended --job-every 4" \
    "miner 10.77.0.1:$PORT --extended --shares 6 --seconds 12 --seed 20"
capture sv2-handshake-only.pcap "pool 10.77.0.1:$PORT" \
    "miner 10.77.0.1:$PORT --handshake-only"
capture sv2-lookalike.pcap "fake-server 10.77.0.1:$PORT" "fake-client 10.77.0.1:$PORT"
