# gRPC over TLS (grpcio): server-streaming subscriptions plus unary reports, HTTP/2 keepalive pings.
scenario() {
    ns_pair 30 6 telemetry.lab.internal
    mkcert "$SHOST" ec
    local P="$LAB/py/grpc_lab.py" ca="$D/tls/ca.crt"
    sx server "$PY" "$P" server --addr "$SIP:50051" --cert "$D/tls/server-chain.crt" --key "$D/tls/server.key"
    wait_port 50051 || return 1
    capture_start
    cx c1 "$PY" "$P" client --addr "$SHOST:50051" --name "$SHOST" --cafile "$ca" --mean 10 --report-mean 30 --keepalive-ms 30000 --seed 131
    cx c2 "$PY" "$P" client --addr "$SHOST:50051" --name "$SHOST" --cafile "$ca" --mean 45 --report-mean 0 --keepalive-ms 60000 --seed 132
    cx c3 "$PY" "$P" client --addr "$SHOST:50051" --name "$SHOST" --cafile "$ca" --mean 120 --report-mean 60 --keepalive-ms 20000 --seed 133
    meta programs "grpcio $(pipv grpcio) (server and clients)"
    meta options "HTTP/2 over TLS (ALPN h2); server-streaming Watch with pushes Poisson mean 10/45/120 s; unary Report Poisson mean 30/none/60 s; client keepalive_time 30/60/20 s, permit without calls"
    meta behaviour "server pushes small DATA frames on an open stream; client unary calls answered at once; HTTP/2 PING/PING-ACK at fixed intervals"
    meta transport "TLS"
    meta port "50051"
    meta note "rtt ${RTT_MS}ms; JSON message bodies (no protobuf schema), gRPC framing unchanged"
    hold
    teardown
}
