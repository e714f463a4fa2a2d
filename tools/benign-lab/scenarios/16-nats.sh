# NATS over TLS: subscribers, telemetry publishers, request/reply.
scenario() {
    ns_pair 18 4 nats.lab.internal
    mkcert "$SHOST" ec
    cat > "$D/nats.conf" <<CONF
listen: $SIP:4222
ping_interval: "2m"
ping_max: 2
tls {
  cert_file: "$D/tls/server-chain.crt"
  key_file: "$D/tls/server.key"
  timeout: 5
}
CONF
    sx nats nats-server -c "$D/nats.conf"
    wait_port 4222 || return 1
    capture_start
    local P="$LAB/py/nats_client.py" ca="$D/tls/ca.crt" U="tls://$SHOST:4222"
    cx sub "$PY" "$P" sub --server "$U" --cafile "$ca" --subject 'telemetry.>' --name dashboard --ping 120 --seed 161
    cx pub1 "$PY" "$P" pub --server "$U" --cafile "$ca" --subject 'telemetry.*.cpu' --mean 10 --size 110 --name agent-a --ping 120 --seed 162
    cx pub2 "$PY" "$P" pub --server "$U" --cafile "$ca" --subject 'telemetry.*.disk' --mean 60 --size 200 --name agent-b --ping 60 --seed 163
    cx resp "$PY" "$P" responder --server "$U" --cafile "$ca" --subject svc.quote --name quote-svc --ping 120 --seed 164
    cx req "$PY" "$P" requester --server "$U" --cafile "$ca" --subject svc.quote --mean 20 --name web-frontend --ping 120 --seed 165
    meta programs "nats-server $(dpkgv nats-server); nats-py $(pipv nats-py)"
    meta options "TLS on 4222 (server INFO then TLS upgrade); server ping_interval 2 min; client ping_interval 120/120/60/120/120 s; publishers Poisson mean 10 s / 60 s; request/reply Poisson mean 20 s"
    meta behaviour "server pushes MSG to subscribers; requester PUB answered within one RTT by responder via the server; PING/PONG both ways"
    meta transport "TLS"
    meta port "4222"
    meta note "rtt ${RTT_MS}ms; NATS sends a plaintext INFO line before the TLS handshake"
    hold
    teardown
}
