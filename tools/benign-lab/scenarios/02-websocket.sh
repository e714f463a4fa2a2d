# WebSocket over TLS: ticker / notification stream (python websockets).
scenario() {
    ns_pair 64 10 stream.lab.internal
    mkcert "$SHOST" ec
    sx server "$PY" "$LAB/py/ws_server.py" --host "$SIP" --port 8443 \
        --cert "$D/tls/server-chain.crt" --key "$D/tls/server.key" --ping-interval 25
    wait_port 8443 || return 1
    capture_start
    local U="wss://$SHOST:8443/stream" P="$LAB/py/ws_client.py" ca="$D/tls/ca.crt"
    cx c1 "$PY" "$P" --url "$U" --cafile "$ca" --channel fx --mean 5 --ping-interval 20 --msg-mean 60 --seed 21
    cx c2 "$PY" "$P" --url "$U" --cafile "$ca" --channel equities --mean 20 --ping-interval 30 --msg-mean 120 --seed 22
    cx c3 "$PY" "$P" --url "$U" --cafile "$ca" --channel alerts --mean 60 --ping-interval 0 --msg-mean 300 --seed 23
    cx c4 "$PY" "$P" --url "$U" --cafile "$ca" --channel crypto --mean 12 --ping-interval 20 --msg-mean 30 --seed 24
    meta programs "python websockets $(pipv websockets) (server and clients), CPython $("$PY" -c 'import platform;print(platform.python_version())')"
    meta options "server ping_interval 25 s; clients ping_interval 20/30/none/20 s; pushes Poisson mean 5/20/60/12 s, ~190 B JSON; client requests Poisson mean 60/120/300/30 s, acked at once"
    meta behaviour "server pushes ticker updates; client heartbeats/queries answered immediately by small ack; WebSocket ping/pong both ways"
    meta transport "TLS"
    meta port "8443"
    meta note "rtt ${RTT_MS}ms; 4 long-lived connections"
    hold
    teardown
}
