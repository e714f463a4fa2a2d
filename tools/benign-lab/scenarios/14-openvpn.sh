# OpenVPN over TCP with keepalive 10 60; light traffic inside the tunnel.
scenario() {
    ns_pair 120 20 vpn.lab.internal
    mkcert "$SHOST" rsa
    [ -c /dev/net/tun ] || { log "no /dev/net/tun"; return 2; }
    cat > "$D/server.conf" <<CONF
port 1194
proto tcp-server
local $SIP
dev tun
topology subnet
server 10.8.0.0 255.255.255.0
ca $D/tls/ca.crt
cert $D/tls/server-chain.crt
key $D/tls/server.key
dh none
keepalive 10 60
persist-key
verb 3
CONF
    cat > "$D/client.conf" <<CONF
client
proto tcp-client
remote $SHOST 1194
dev tun
nobind
ca $D/tls/ca.crt
cert $D/tls/client.crt
key $D/tls/client.key
remote-cert-tls server
verify-x509-name $SHOST name
persist-key
verb 3
CONF
    sx openvpn-server openvpn --config "$D/server.conf"
    wait_port 1194 || return 1
    capture_start
    cx openvpn-client openvpn --config "$D/client.conf"
    # Traffic through the tunnel: a monitoring ping and a periodic small HTTP check.
    sx tunnel-http "$PY" -m http.server 8081 --bind 10.8.0.1 --directory "$D"
    cx tunnel-ping bash -c "sleep 10; ping -i 30 -s 56 10.8.0.1"
    cx tunnel-curl bash -c "sleep 12; while true; do curl -s -o /dev/null http://10.8.0.1:8081/client.conf; sleep \$((RANDOM%60+30)); done"
    meta programs "OpenVPN $(dpkgv openvpn) (server and client)"
    meta options "proto tcp, keepalive 10 60 (ping every 10 s, restart after 60 s), TLS control channel, AES-256-GCM data channel (negotiated), tun subnet 10.8.0.0/24; inside: ping every 30 s, HTTP GET every 30-90 s"
    meta behaviour "encrypted keepalive packets both ways every 10 s on one TCP connection, plus small tunnelled request/response bursts"
    meta transport "OpenVPN (TLS-in-OpenVPN framing)"
    meta port "1194"
    meta note "rtt ${RTT_MS}ms"
    hold
    teardown
}
