#!/usr/bin/env bash
# Rebuilds the shipped models and their training tables from the corpus:
#
#   bash models/build.sh ../shared/data [target/release/poolscope]
#
# Every data set is given as its own directory, so each becomes one source of the
# leave-one-source-out evaluation (`poolscope eval`). Captures are named relative to the corpus
# (`cjsniffer/pcap/…`), through a folder of links, so the tables do not depend on where the
# corpus lies. The benign look-alikes made by tools/benign-lab ship in models/training/benign-lab,
# the Stratum V2 sessions made by tools/sv2-capture in models/training/sv2-lab.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
corpus="$(cd "${1:?usage: models/build.sh CORPUS [POOLSCOPE]}" && pwd)"
bin="${2:-$here/target/release/poolscope}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for d in cjsniffer nesfit-cryptomining ndpi ndpi-more zeek-traces suricata-verify \
    suricata-verify-more foxio-ja4 arkime-pcaps iot-longlived lab; do
    ln -s "$corpus/$d" "$work/$d"
done
ln -s "$here/models/training/benign-lab" "$work/benign-lab"
ln -s "$here/models/training/sv2-lab" "$work/sv2-lab"
cd "$work"

# Labels, strongest first: a confirmed mining protocol (the Stratum dissector, which also
# recognises Stratum V2's Noise handshake and encrypted frames), a flow to
# a listed pool (feeds), then whole captures: the lab's TLS miners are mining; every capture of
# the benign data sets is benign.
data=(--data cjsniffer/pcap nesfit-cryptomining/pcap lab sv2-lab
    --benign ndpi/pcap ndpi-more/pcap zeek-traces/pcap suricata-verify/pcap
    suricata-verify-more/pcap foxio-ja4/pcap arkime-pcaps/pcap iot-longlived/pcap
    lab/benign-*.pcap benign-lab
    --mining lab/xmrig-*-tls*.pcap
    --label-from stratum,feeds --feeds "$here/feeds")

# Exit code 1 means some capture had a corrupt record (the corpus holds a few fuzzed ones):
# its flows up to the damage are used, as the summary says.
run() { "$bin" "$@" || [ $? -eq 1 ]; }
run train "${data[@]}" -o "$here/models/default.model" \
    --save-table "$here/models/training/default.parquet"
run train --features netflow "${data[@]}" -o "$here/models/netflow.model" \
    --save-table "$here/models/training/netflow.parquet"
