#!/usr/bin/env bash
# check.sh OUTDIR: per capture, TCP connections, how many last >= 5 minutes,
# the longest one and its payload bytes in each direction.
OUT=${1:-/tmp/benign-lab-out}
printf '%-18s %7s %6s %6s %9s %12s %12s %9s\n' file packets flows ge5min longest_s c2s_payload s2c_payload size
for p in "$OUT"/*.pcap; do
    pk=$(capinfos -c -M "$p" 2>/dev/null | awk -F': *' '/Number of packets/ {print $2}')
    tshark -r "$p" -Y tcp -T fields -e tcp.stream -e frame.time_relative -e ip.src -e tcp.len 2>/dev/null |
    awk -v f="$(basename "$p")" -v pk="$pk" -v sz="$(du -h "$p" | cut -f1)" '
        { s=$1; t=$2+0; if (!(s in first)) { first[s]=t; cli[s]=$3 }  # first packet is the SYN
          last[s]=t; if ($3==cli[s]) c2s[s]+=$4; else s2c[s]+=$4 }
        END { n=0; l=0; best=""; for (s in first) { n++; d=last[s]-first[s]; if (d>=300) l++;
                  if (d>=maxd) { maxd=d; best=s } }
              printf "%-18s %7s %6d %6d %9.0f %12d %12d %9s\n", f, pk, n, l, maxd, c2s[best], s2c[best], sz }'
done
