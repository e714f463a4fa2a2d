#!/usr/bin/env bash
# Captures Stratum V2 sessions between the sv2-capture pool and miner stubs (reference crates),
# and the look-alike negatives, in two network namespaces joined by a veth pair (MTU 1500,
# offloads off, so the capture shows the segments as they would cross a wire).
# Usage: sudo bash tools/sv2-capture/capture.sh [OUTDIR]   (default: tests/data/pcap)
#        sudo bash tools/sv2-capture/capture.sh --training [OUTDIR]
#                                            (default: models/training/sv2-lab)
# --training records the longer sessions of the classifier's training data instead, all at
# once (about 10 minutes), and merges them into one capture, sv2-farm.pcap: fourteen miners of
# one farm at one pool (the model weighs a capture's flows to one pool as one session).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TRAINING=0
if [ "${1:-}" = --training ]; then
    TRAINING=1
    shift
    OUT=$(realpath -m "${1:-$HERE/../../models/training/sv2-lab}")
else
    OUT=$(realpath -m "${1:-$HERE/../../tests/data/pcap}")
fi
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

# session NAME PORT "SERVER ARGS" "CLIENT ARGS": one training session in the background, on its
# own port, recorded by its own tcpdump.
session() {
    local name=$1 port=$2 server=$3 client=$4
    rm -f "$OUT/$name"
    (
        ip netns exec "$M" tcpdump -i sv2cap-m -n -U -s 0 -Z root -w "$OUT/$name" \
            "tcp port $port" 2>"/tmp/sv2cap-$name.tcpdump.log" &
        tpid=$!
        sleep 1
        # shellcheck disable=SC2086 # the argument lists are meant to split
        ip netns exec "$P" "$BIN" $server 2>"/tmp/sv2cap-$name.server.log" &
        spid=$!
        sleep 0.5
        # shellcheck disable=SC2086
        ip netns exec "$M" "$BIN" $client 2>"/tmp/sv2cap-$name.client.log"
        wait "$spid"
        sleep 1
        kill -INT "$tpid"
        wait "$tpid" || true
        echo "== $name: $(grep -h done "/tmp/sv2cap-$name.client.log")"
    ) </dev/null &
}

if [ "$TRAINING" = 1 ]; then
    # Template updates every 10-60 s, on a timer or up to 50-100 % early or late (a template
    # provider sends a template when fees change); blocks at exponential intervals of mean
    # 600 s (Bitcoin), each a future job and a new prev hash; shares at exponential intervals of
    # mean 4-40 s (what the pool's difficulty asks of the miner); sessions of 3-10 minutes;
    # standard and extended channels. The sessions run side by side, so each has its own port
    # near the reference pool's 34254 (ports are not features of the model).
    while read -r name port channel job jitter seconds shares seed; do
        ext=""
        [ "$channel" = extended ] && ext=--extended
        session "$name.pcap" "$port" \
            "pool 10.77.0.1:$port $ext --job-every $job --job-jitter $jitter --block-every 600 --seed $seed" \
            "miner 10.77.0.1:$port $ext --shares $shares --seconds $seconds --seed $seed"
    done <<'SESSIONS'
sv2-std-j10-s4 34260 standard 10 0 240 60 101
sv2-std-j20-s8 34261 standard 20 0.5 420 52 102
sv2-std-j30-s15 34262 standard 30 1.0 600 40 103
sv2-std-j45-s30 34263 standard 45 0 600 20 104
sv2-std-j60-s40 34264 standard 60 0.5 600 15 105
sv2-std-j30-s6 34265 standard 30 0 300 50 106
sv2-std-j15-s20 34266 standard 15 1.0 480 24 107
sv2-std-j60-s10 34267 standard 60 1.0 360 36 108
sv2-ext-j10-s5 34268 extended 10 0.5 180 36 201
sv2-ext-j20-s10 34269 extended 20 1.0 420 42 202
sv2-ext-j30-s20 34270 extended 30 0.5 600 30 203
sv2-ext-j45-s8 34271 extended 45 1.0 540 67 204
sv2-ext-j60-s30 34272 extended 60 0 600 20 205
sv2-ext-j15-s15 34273 extended 15 0.5 300 20 206
SESSIONS
    wait
    mergecap -F pcap -w "$OUT/sv2-farm.pcap" "$OUT"/sv2-std-*.pcap "$OUT"/sv2-ext-*.pcap
    rm -f "$OUT"/sv2-std-*.pcap "$OUT"/sv2-ext-*.pcap
    exit 0
fi

capture sv2-noise-session.pcap "pool 10.77.0.1:$PORT --job-every 5" \
    "miner 10.77.0.1:$PORT --shares 14 --seconds 35 --seed 19"
capture sv2-extended-split.pcap "pool 10.77.0.1:$PORT --extended --job-every 4" \
    "miner 10.77.0.1:$PORT --extended --shares 6 --seconds 12 --seed 20"
capture sv2-handshake-only.pcap "pool 10.77.0.1:$PORT" \
    "miner 10.77.0.1:$PORT --handshake-only"
capture sv2-lookalike.pcap "fake-server 10.77.0.1:$PORT" "fake-client 10.77.0.1:$PORT"
