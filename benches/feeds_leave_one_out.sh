#!/usr/bin/env bash
# Leave one source out: for each source, its pool names are checked (`feed check`, as of a day)
# against the shipped feeds without that source's rows, an estimate of how the feeds do on a
# list they have not seen.
#
#   bash benches/feeds_leave_one_out.sh [DAY]      (default 2026-12-06)
set -euo pipefail
cd "$(dirname "$0")/.."
day="${1:-2026-12-06}"
cargo build --release -q
bin=target/release/poolscope
for src in maltrail et-open falco xmrig smashed; do
    d=$(mktemp -d)
    cp feeds/*.tsv "$d/"
    awk -F'\t' -v s="$src" '$4 != s' feeds/pool-domains.tsv > "$d/pool-domains.tsv"
    n=0; any=0; proof=0
    for v in $(awk -F'\t' -v s="$src" '$4 == s && $3 == "pool" {print $1}' feeds/pool-domains.tsv | sort -u); do
        n=$((n + 1))
        out=$($bin feed --feeds "$d" check "$v" --at "$day" 2>/dev/null || true)
        [ -n "$out" ] && any=$((any + 1))
        grep -q '^feed:' <<<"$out" && proof=$((proof + 1))
    done
    echo "$src: $n pool names; named by the other sources $any ($((100 * any / n))%); as proof $proof ($((100 * proof / n))%)"
    rm -rf "$d"
done
