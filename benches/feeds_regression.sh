#!/usr/bin/env bash
# Feeds before and after: scores every corpus capture (ndpi, foxio-ja4, suricata-verify, lab,
# nesfit-cryptomining, cjsniffer) with protocol evidence and feeds only (--no-model), once with
# the feeds of commit dc0a2b7 and ageing off (the behaviour before rows were weighed by age),
# once with the shipped feeds and the default ageing, and lists flows the feeds found before
# and no longer find, flows they newly find, and the benign suspects by reason.
#
#   bash benches/feeds_regression.sh [CORPUS]      (default ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus="$(cd "${1:-../shared/data}" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo build --release -q
bin=target/release/poolscope
mkdir -p "$work/old-feeds" "$work/A" "$work/B"
for f in $(git ls-tree --name-only dc0a2b7 feeds/ | grep '\.tsv$'); do
    git show "dc0a2b7:$f" > "$work/old-feeds/$(basename "$f")"
done
for f in "$corpus"/ndpi/pcap/* "$corpus"/foxio-ja4/pcap/* "$corpus"/suricata-verify/pcap/* \
    "$corpus"/lab/*.pcap* "$corpus"/nesfit-cryptomining/pcap/* "$corpus"/cjsniffer/pcap/*; do
    [ -f "$f" ] || continue
    n=$(echo "${f#"$corpus"/}" | sed 's#/#__#g')
    $bin score -q --no-model --feeds "$work/old-feeds" --domain-max-age inf --address-max-age inf \
        "$f" > "$work/A/$n.ndjson" 2>/dev/null || true
    $bin score -q --no-model "$f" > "$work/B/$n.ndjson" 2>/dev/null || true
done
python3 - "$work/A" "$work/B" <<'PY'
import collections, json, os, sys
A, B = sys.argv[1], sys.argv[2]
count = collections.Counter(); lost = []; new = []; hints = collections.Counter()
for n in sorted(os.listdir(A)):
    mining = n.startswith(("nesfit", "cjsniffer", "lab__xmrig")) or "mining.pcapng" in n
    load = lambda d: {json.loads(l)["flow_id"]: json.loads(l) for l in open(os.path.join(d, n))}
    a, b = load(A), load(B)
    for k, ra in a.items():
        rb = b[k]
        fa = [x for x in ra["reasons"] if x.startswith("feed:")]
        fb = [x for x in rb["reasons"] if x.startswith("feed:")]
        side = "mining captures" if mining else "other captures"
        count[f"found by a feed before, {side}"] += bool(fa)
        count[f"found by a feed after, {side}"] += bool(fb)
        if fa and not fb:
            lost.append((n, rb["dst_ip"], rb["dst_port"], fa[:2]))
        if fb and not fa:
            new.append((n, rb["dst_ip"], rb["dst_port"], fb[:2]))
        if not mining:
            count[f"benign {ra['verdict']} before"] += 1
            count[f"benign {rb['verdict']} after"] += 1
            if rb["verdict"] == "suspect":
                for x in rb["reasons"]:
                    if x.startswith("hint:"):
                        hints[x.split(" (")[0]] += 1
for k, v in sorted(count.items()):
    print(f"{k}: {v}")
print(f"lost: {len(lost)}"); [print("  ", *x) for x in lost]
print(f"new: {len(new)}"); [print("  ", *x) for x in new]
print("benign suspects after, by hint:"); [print(f"   {v} {k}") for k, v in hints.most_common()]
PY
