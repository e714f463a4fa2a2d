#!/usr/bin/env bash
# manifest.sh OUTDIR WORKDIR: writes OUTDIR/MANIFEST.tsv from the pcaps and
# the per-scenario descriptions left in WORKDIR/<scenario>/meta.
OUT=$1; WORK=$2
M="$OUT/MANIFEST.tsv"
field() { awk -F'\t' -v k="$2" '$1==k {print $2; exit}' "$1" 2>/dev/null; }
printf 'file\tlabel\tprograms\toptions\tbehaviour\ttransport\tserver_port\tduration_s\tpackets\ttcp_flows\tlongest_flow_s\tbytes\tnote\n' > "$M"
for p in "$OUT"/*.pcap; do
    [ -e "$p" ] || continue
    f=$(basename "$p"); n=${f%.pcap}; meta="$WORK/$n/meta"
    pk=$(capinfos -c -M "$p" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
    du=$(capinfos -u -M "$p" 2>/dev/null | awk -F': *' '/Capture duration/ {sub(/ seconds/,"",$2); printf "%.0f", $2}')
    by=$(stat -c %s "$p")
    conv=$(tshark -r "$p" -q -z conv,tcp 2>/dev/null | grep '<->')
    nf=$(printf '%s\n' "$conv" | grep -c '<->')
    lf=$(printf '%s\n' "$conv" | awk 'NF {d=$NF+0; if (d>m) m=d} END {printf "%.0f", m}')
    printf '%s\tbenign\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$f" "$(field "$meta" programs)" "$(field "$meta" options)" "$(field "$meta" behaviour)" \
        "$(field "$meta" transport)" "$(field "$meta" port)" "$du" "$pk" "$nf" "$lf" "$by" \
        "$(field "$meta" note)" >> "$M"
done
