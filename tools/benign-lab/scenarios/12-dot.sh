# DNS over TLS: unbound serving a local zone on 853; stubby and a dnspython stub.
scenario() {
    ns_pair 34 6 dns.lab.internal
    mkcert "$SHOST" ec
    local h i=10
    {
        cat <<CONF
server:
    interface: $SIP@853
    tls-port: 853
    tls-service-key: "$D/tls/server.key"
    tls-service-pem: "$D/tls/server-chain.crt"
    username: ""
    chroot: ""
    directory: "$D"
    pidfile: "$D/unbound.pid"
    use-syslog: no
    verbosity: 1
    do-ip6: no
    do-udp: no
    access-control: 10.77.0.0/16 allow
    module-config: "iterator"
    tcp-idle-timeout: 60000
    edns-tcp-keepalive: yes
    edns-tcp-keepalive-timeout: 120000
    incoming-num-tcp: 32
    local-zone: "." static
    local-zone: "lab.internal." static
CONF
        for h in www api mail cdn auth static img git wiki chat vpn db; do
            i=$((i + 1))
            printf '    local-data: "%s.lab.internal. 300 IN A 198.18.0.%d"\n' "$h" "$i"
            printf '    local-data: "%s.lab.internal. 300 IN AAAA 2001:db8::%d"\n' "$h" "$i"
        done
        printf 'remote-control:\n    control-enable: no\n'
    } > "$D/unbound.conf"
    sx unbound unbound -d -c "$D/unbound.conf"
    wait_port 853 || return 1
    cat > "$D/stubby.yml" <<CONF
resolution_type: GETDNS_RESOLUTION_STUB
dns_transport_list:
  - GETDNS_TRANSPORT_TLS
tls_authentication: GETDNS_AUTHENTICATION_REQUIRED
tls_query_padding_blocksize: 128
edns_client_subnet_private: 1
round_robin_upstreams: 1
idle_timeout: 60000
tls_ca_file: "$D/tls/ca.crt"
listen_addresses:
  - 127.0.0.1@53
upstream_recursive_servers:
  - address_data: $SIP
    tls_auth_name: "$SHOST"
CONF
    capture_start
    cx stubby stubby -C "$D/stubby.yml" -l
    sleep 1
    cx queries bash -c "H=(www api mail cdn auth static img git wiki chat vpn db); T=(A AAAA A HTTPS); while true; do kdig @127.0.0.1 +short \${H[RANDOM%12]}.lab.internal \${T[RANDOM%4]} >/dev/null; sleep \$((RANDOM%30+1)); done"
    cx dot1 "$PY" "$LAB/py/dot_client.py" --server "$SIP" --name "$SHOST" --cafile "$D/tls/ca.crt" --mean 20 --seed 121
    cx dot2 "$PY" "$LAB/py/dot_client.py" --server "$SIP" --name "$SHOST" --cafile "$D/tls/ca.crt" --mean 8 --seed 122
    meta programs "unbound $(dpkgv unbound); stubby $(dpkgv stubby) (getdns); kdig $(dpkgv knot-dnsutils); dnspython $(pipv dnspython)"
    meta options "unbound tcp-idle-timeout 60 s, edns-tcp-keepalive 120 s; stubby idle_timeout 60 s, padding 128, queries from kdig every 1-30 s (uniform); two dnspython stubs reusing one TLS socket, queries Poisson mean 20 s / 8 s, reconnect when closed"
    meta behaviour "client query (~100-150 B) answered at once with a small response on a kept-open TLS connection; server closes after idle timeout, client reconnects"
    meta transport "TLS"
    meta port "853"
    meta note "rtt ${RTT_MS}ms; clients reconnect only if the server closes an idle connection"
    hold
    teardown
}
