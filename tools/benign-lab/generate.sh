#!/usr/bin/env bash
# Benign long-lived TCP traffic generator.
#
# usage: generate.sh [OUTDIR] [DURATION]
#   OUTDIR    where the pcaps and MANIFEST.tsv go (default /tmp/benign-lab-out)
#   DURATION  capture length per scenario: minutes (15) or seconds with an
#             "s" suffix (90s). Default 15 minutes.
# environment:
#   SCENARIOS="mqtt redis"  run only these scenarios (names as in scenarios/)
#   SKIP_INSTALL=1          do not run apt-get / pip
#   LAB_VENV=/path          python venv for the lab clients (default /opt/benign-lab/venv)
#   KEEP_WORK=1             keep the work directory (configs, server logs) even on success
#
# Must run as root on Debian 12. All traffic stays inside network namespaces
# named bl-<scenario>-{s,c} that this script creates and deletes.
set -u

LAB=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-/tmp/benign-lab-out}
DUR=${2:-15}
case $DUR in
    *s) DURATION=${DUR%s} ;;
    *) DURATION=$((DUR * 60)) ;;
esac
LAB_VENV=${LAB_VENV:-/opt/benign-lab/venv}
PY="$LAB_VENV/bin/python"

APT_PACKAGES=(
    iproute2 ethtool iputils-ping procps tcpdump tshark openssl ca-certificates curl
    python3 python3-venv
    mosquitto mosquitto-clients
    nginx
    prometheus prometheus-node-exporter
    openssh-server openssh-client
    dovecot-imapd
    redis-server redis-tools
    postgresql postgresql-client
    ngircd
    prosody
    unbound stubby knot-dnsutils
    openvpn
    chromium
    nats-server
    rsyslog rsyslog-gnutls
    rabbitmq-server
)

if [ "$(id -u)" != 0 ]; then echo "run as root" >&2; exit 1; fi

install_deps() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}" >&2
        # Keep the packaged services from starting system-wide; the lab
        # starts its own instances inside namespaces.
        local made_policy=0
        if [ ! -e /usr/sbin/policy-rc.d ]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod 755 /usr/sbin/policy-rc.d
            made_policy=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
        [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    fi
    if [ ! -x "$PY" ]; then
        /usr/bin/python3 -m venv "$LAB_VENV"
    fi
    "$PY" -m pip install -q --disable-pip-version-check wheel==0.45.1 || true
    "$PY" -m pip install -q --disable-pip-version-check -r "$LAB/requirements.txt"
}

cleanup_all() {
    local ns p
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^bl-'); do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
        ip netns del "$ns" 2>/dev/null
        rm -rf "/etc/netns/$ns"
    done
}

[ "${SKIP_INSTALL:-0}" = 1 ] || install_deps || { echo "dependency install failed" >&2; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d /tmp/benign-lab.XXXXXX)
chmod 755 "$WORK"
trap 'cleanup_all' EXIT
trap 'cleanup_all; exit 130' INT TERM

cleanup_all   # leftovers of an interrupted earlier run

# Lab certificate authority; each scenario gets its own server and client leaf.
CA="$WORK/ca"
mkdir -p "$CA"
openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 60 \
    -subj "/O=Benign Lab/CN=Benign Lab Root CA" \
    -keyout "$CA/ca.key" -out "$CA/ca.crt" >/dev/null 2>&1

export LAB OUT WORK CA PY DURATION
# Clients must trust only the lab CA given on their command lines.
unset REQUESTS_CA_BUNDLE CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR PIP_FIND_LINKS

echo "work dir $WORK, duration ${DURATION}s per scenario" >&2
: > "$WORK/failed.tsv"
pids=()
for f in "$LAB"/scenarios/[0-9]*.sh; do
    base=$(basename "$f" .sh)
    idx=$((10#${base%%-*}))
    name=${base#*-}
    if [ -n "${SCENARIOS:-}" ] && ! printf ' %s ' "$SCENARIOS" | grep -q " $name "; then continue; fi
    rm -f "$OUT/$name.pcap"
    (
        NAME=$name IDX=$idx D="$WORK/$name"
        mkdir -p "$D/log"
        # shellcheck source=lib.sh
        . "$LAB/lib.sh"
        . "$f"
        if scenario; then
            echo "$name ok" >&2
        else
            rc=$?
            log "FAILED (rc=$rc), see $D/log"
            printf '%s\t%s\n' "$name" "rc=$rc" >> "$WORK/failed.tsv"
            [ -n "${TCPDUMP_PID:-}" ] && teardown
            rm -f "$OUT/$name.pcap"
        fi
    ) > "$WORK/$name.out" 2>&1 &
    pids+=($!)
    sleep 2   # stagger set-up a little
done
for p in "${pids[@]}"; do wait "$p"; done

"$LAB/manifest.sh" "$OUT" "$WORK"
cp "$WORK/failed.tsv" "$OUT/failed.tsv"
if [ -s "$WORK/failed.tsv" ] || [ "${KEEP_WORK:-0}" = 1 ]; then
    echo "captures in $OUT; work dir and logs kept in $WORK" >&2
else
    rm -rf "$WORK"
    echo "captures in $OUT" >&2
fi
cut -f1,8-12 "$OUT/MANIFEST.tsv" | column -t -s $'\t' >&2 || true
