# Server-Sent Events over HTTPS (aiohttp) consumed by curl.
scenario() {
    ns_pair 24 4 events.lab.internal
    mkcert "$SHOST" rsa
    sx server "$PY" "$LAB/py/sse_server.py" --host "$SIP" --port 8444 \
        --cert "$D/tls/server-chain.crt" --key "$D/tls/server.key" --heartbeat 15
    wait_port 8444 || return 1
    capture_start
    local B="https://$SHOST:8444/events" ca="$D/tls/ca.crt"
    cx c1 curl -sN --cacert "$ca" -H 'Accept: text/event-stream' "$B?topic=status&mean=10"
    cx c2 curl -sN --cacert "$ca" -H 'Accept: text/event-stream' --keepalive-time 30 "$B?topic=notifications&mean=45"
    cx c3 curl -sN --cacert "$ca" -H 'Accept: text/event-stream' --no-keepalive "$B?topic=metrics&mean=25"
    meta programs "aiohttp $(pipv aiohttp) SSE server; curl $(dpkgv curl)"
    meta options "events Poisson mean 10/45/25 s, ':keepalive' comment after 15 s idle; curl -N, TCP keepalive default(60 s)/30 s/off"
    meta behaviour "one HTTP/1.1 response streamed for the whole capture: server-to-client events and heartbeats; client sends only ACKs (and TCP keepalives)"
    meta transport "TLS"
    meta port "8444"
    meta note "rtt ${RTT_MS}ms; mostly unidirectional application data"
    hold
    teardown
}
