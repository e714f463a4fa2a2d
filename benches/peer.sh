#!/usr/bin/env bash
# Whole-process comparison of `poolscope score` (one worker thread, then one per core) with
# `ndpiReader -q` on one large capture, measured side by side, alternating runs, on the same
# machine in the same minute; checks that every thread count wrote the same records.
#
# The capture is built from the shared corpus: every Ethernet capture, merged in time order,
# cleaned of frames tcprewrite cannot rewrite, then copied N times onto distinct addresses
# (tcprewrite --seed) so the copies are distinct flows rather than retransmissions, and merged.
#
#   benches/peer.sh [CORPUS_DIR] [COPIES] [RUNS]
# Needs: tshark (editcap, mergecap, reordercap, capinfos), tcprewrite, ndpiReader (libndpi-bin).
set -euo pipefail
corpus=${1:-../shared/data}
copies=${2:-25}
runs=${3:-3}
work=${BENCH_DIR:-target/peer-bench}
mkdir -p "$work"
big="$work/big.pcap"
if [ ! -s "$big" ]; then
    n=0
    for f in "$corpus"/ndpi/pcap/* "$corpus"/nesfit-cryptomining/pcap/* "$corpus"/lab/*.pcap \
             "$corpus"/foxio-ja4/pcap/* "$corpus"/suricata-verify/pcap/*; do
        enc=$(capinfos -E -T "$f" 2>/dev/null | tail -1 | cut -f2)
        [ "$enc" = ether ] || continue
        n=$((n + 1))
        editcap -F pcap "$f" "$work/eth_$n.pcap" 2>/dev/null || rm -f "$work/eth_$n.pcap"
    done
    mergecap -a -F pcap -w "$work/base.pcap" "$work"/eth_*.pcap
    reordercap "$work/base.pcap" "$work/sorted.pcap" >/dev/null
    # tcprewrite refuses bogus IP headers and tunnels: keep plain, well-formed TCP/UDP frames.
    tshark -r "$work/sorted.pcap" -F pcap -w "$work/filtered.pcap" \
        -Y '(tcp || udp) && !_ws.expert.severity==error && !_ws.malformed && !icmp && !gre && !(ip.proto==41) && !(ip.proto==4) && !vxlan && !gtp && !geneve' 2>/dev/null
    for i in $(seq 1 "$copies"); do
        tcprewrite --seed="$i" -i "$work/filtered.pcap" -o "$work/copy_$i.pcap"
    done
    mergecap -F pcap -w "$big" "$work"/copy_*.pcap
    rm -f "$work"/eth_*.pcap "$work"/copy_*.pcap "$work/base.pcap" "$work/sorted.pcap"
fi
packets=$(capinfos -c -M "$big" | awk -F: '/Number of packets/ {gsub(/ /,"",$2); print $2}')
bytes=$(stat -c %s "$big")
echo "capture: $big, $packets packets, $bytes bytes"
bin=${POOLSCOPE:-target/release/poolscope}
cat "$big" > /dev/null # warm the page cache for both tools
threads=${THREADS:-"1 $(nproc)"}
for r in $(seq 1 "$runs"); do
    for t in $threads; do
        /usr/bin/time -f "poolscope score --threads $t run $r: %e s wall, %U s user, %S s sys, %M KB max RSS" \
            "$bin" score -q --threads "$t" "$big" -o /dev/null --format ndjson
    done
    /usr/bin/time -f "ndpiReader run $r: %e s wall, %U s user, %S s sys, %M KB max RSS" \
        ndpiReader -q -i "$big" >/dev/null 2>"$work/ndpi.err" || true
    tail -1 "$work/ndpi.err"
done
# The same records whatever the threads (digests of the whole output).
for t in $threads; do
    "$bin" score -q --threads "$t" "$big" -o "$work/out.ndjson"
    echo "--threads $t: $(md5sum <"$work/out.ndjson" | cut -d' ' -f1), $(wc -l <"$work/out.ndjson") records"
    rm -f "$work/out.ndjson"
done
