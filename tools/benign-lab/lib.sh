# Shared helpers for the benign traffic lab. Sourced by generate.sh.
# Every scenario runs in a subshell with these variables set:
#   NAME IDX            scenario name and index (1..N)
#   S C                 server / client network namespace names
#   VS VC               veth interface names in S / C
#   SIP CIP             server / client addresses (10.77.IDX.1 / .2)
#   SHOST               server host name (resolvable inside C via /etc/netns)
#   D                   scenario work directory
#   PY                  python interpreter of the lab venv
#   LAB                 directory holding this file (py/ helpers live there)
#   DURATION            capture length in seconds

log() { printf '%s [%s] %s\n' "$(date +%H:%M:%S)" "${NAME:-lab}" "$*" >&2; }

# ns_pair RTT_MS JITTER_MS HOSTNAME
# Creates a server and a client namespace joined through a third "wire"
# namespace, where py/wire.py forwards frames between two veth pairs with
# half of the RTT (plus jitter) as one-way delay in each direction.
#   [S] VS <-veth-> WS [W: wire.py] WC <-veth-> VC [C]
ns_pair() {
    local rtt=$1 jit=$2 host=$3
    S="bl-${NAME}-s"; C="bl-${NAME}-c"; W="bl-${NAME}-w"
    VS="bl${IDX}s"; VC="bl${IDX}c"
    local WS="bw${IDX}s" WC="bw${IDX}c"
    SIP="10.77.${IDX}.1"; CIP="10.77.${IDX}.2"
    SHOST="$host"
    ip netns add "$S"; ip netns add "$C"; ip netns add "$W"
    ip link add "$VS" type veth peer name "$WS"
    ip link add "$VC" type veth peer name "$WC"
    ip link set "$VS" netns "$S"; ip link set "$WS" netns "$W"
    ip link set "$VC" netns "$C"; ip link set "$WC" netns "$W"
    ip netns exec "$W" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    ip netns exec "$S" sysctl -qw "net.ipv6.conf.$VS.disable_ipv6=1"
    ip netns exec "$C" sysctl -qw "net.ipv6.conf.$VC.disable_ipv6=1"
    ip -n "$S" addr add "$SIP/24" dev "$VS"
    ip -n "$C" addr add "$CIP/24" dev "$VC"
    ip -n "$S" link set lo up; ip -n "$C" link set lo up
    # Real NICs hand MTU-sized, checksummed frames to the capture point;
    # switch the veth offloads off so the pcap (and the wire) see the same.
    local ns dev
    for pair in "$S:$VS" "$C:$VC" "$W:$WS" "$W:$WC"; do
        ns=${pair%%:*}; dev=${pair#*:}
        ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
        ip -n "$ns" link set "$dev" up
    done
    ip -n "$W" link set "$WS" promisc on; ip -n "$W" link set "$WC" promisc on
    ip netns exec "$W" "$PY" "$LAB/py/wire.py" "$WS" "$WC" --delay-ms "$((rtt / 2))" \
        --jitter-ms "$(((jit + 1) / 2))" --seed "$IDX" >"$D/log/wire.log" 2>&1 &
    disown
    # Name resolution inside the namespaces (ip netns exec bind-mounts these).
    mkdir -p "/etc/netns/$S" "/etc/netns/$C"
    printf '127.0.0.1 localhost\n%s %s\n%s client.%s\n' "$SIP" "$SHOST" "$CIP" "$SHOST" > "/etc/netns/$C/hosts"
    cp "/etc/netns/$C/hosts" "/etc/netns/$S/hosts"
    RTT_MS=$rtt; JITTER_MS=$jit
    sleep 0.5
}

# Run a command in the server / client namespace in the background, output
# to a log file under $D/log. Usage: sx LOGNAME cmd args...
sx() { local l=$1; shift; ip netns exec "$S" "$@" >>"$D/log/$l.log" 2>&1 & }
cx() { local l=$1; shift; ip netns exec "$C" "$@" >>"$D/log/$l.log" 2>&1 & }

# mkcert HOST [ec|rsa]  -> $D/tls/server.{crt,key} signed by the lab CA,
# with SANs for HOST and the server address. Also client.{crt,key}.
mkcert() {
    local host=$1 kind=${2:-ec} t="$D/tls"
    mkdir -p "$t"
    local keyopt
    if [ "$kind" = rsa ]; then keyopt=(-newkey rsa:2048); else keyopt=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
    for who in server client; do
        local cn san
        if [ $who = server ]; then cn=$host; san="DNS:$host,IP:$SIP"; else cn="client.$host"; san="DNS:client.$host,IP:$CIP"; fi
        openssl req -new -nodes "${keyopt[@]}" -keyout "$t/$who.key" -out "$t/$who.csr" \
            -subj "/O=Benign Lab/CN=$cn" >/dev/null 2>&1
        printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\nkeyUsage=critical,%s\n' \
            "$san" "$([ $who = server ] && echo serverAuth || echo clientAuth)" \
            "$([ "$kind" = rsa ] && echo digitalSignature,keyEncipherment || echo digitalSignature)" > "$t/$who.ext"
        openssl x509 -req -in "$t/$who.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" -CAcreateserial \
            -days 30 -sha256 -extfile "$t/$who.ext" -out "$t/$who.crt" >/dev/null 2>&1
    done
    cp "$CA/ca.crt" "$t/ca.crt"
    cat "$t/server.crt" "$CA/ca.crt" > "$t/server-chain.crt"
    chmod 644 "$t"/*.crt; chmod 640 "$t"/*.key
}

capture_start() {
    ip netns exec "$S" tcpdump -i "$VS" -n -U -Z root -w "$OUT/$NAME.pcap" >"$D/log/tcpdump.log" 2>&1 &
    TCPDUMP_PID=$!
    sleep 1
}

# Kill every process in a namespace (found by namespace, not by name).
ns_kill() {
    local ns=$1 sig=${2:-TERM} skip=${3:-}
    local p
    for p in $(ip netns pids "$ns" 2>/dev/null); do
        [ -n "$skip" ] && [ "$p" = "$skip" ] && continue
        kill -s "$sig" "$p" 2>/dev/null || true
    done
}

# Stop clients first (so that their closes are captured), then servers,
# then the capture; delete the namespaces.
teardown() {
    log "stopping"
    ns_kill "$C" TERM; sleep 3; ns_kill "$C" KILL
    ns_kill "$S" TERM "$TCPDUMP_PID"; sleep 3; ns_kill "$S" KILL "$TCPDUMP_PID"
    sleep 1
    kill -INT "$TCPDUMP_PID" 2>/dev/null || true
    wait "$TCPDUMP_PID" 2>/dev/null || true
    ns_kill "$S" KILL; ns_kill "$W" KILL
    ip netns del "$S" 2>/dev/null || true
    ip netns del "$W" 2>/dev/null || true
    ip netns del "$C" 2>/dev/null || true
    rm -rf "/etc/netns/$S" "/etc/netns/$C"
    log "done"
}

# Run for the capture duration; return early if asked to stop.
hold() { sleep "$DURATION"; }

dpkgv() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo '?'; }
pipv() { "$PY" -c "import importlib.metadata as m,sys; print(m.version(sys.argv[1]))" "$1" 2>/dev/null || echo '?'; }

# meta KEY VALUE: descriptive fields copied into MANIFEST.tsv
meta() { printf '%s\t%s\n' "$1" "$(printf '%s' "$2" | tr '\t\n' '  ')" >> "$D/meta"; }

# Wait until a TCP port listens in the server namespace (max ~30 s).
wait_port() {
    local port=$1 i
    for i in $(seq 1 60); do
        ip netns exec "$S" ss -Htln "sport = :$port" 2>/dev/null | grep -q . && return 0
        sleep 0.5
    done
    log "port $port did not open"; return 1
}
