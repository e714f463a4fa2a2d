# XMPP: prosody with STARTTLS c2s; slixmpp users chatting and idling.
scenario() {
    ns_pair 70 12 xmpp.lab.internal
    mkcert "$SHOST" ec
    mkdir -p "$D/prosody-data"
    cp "$D/tls/server-chain.crt" "$D/prosody.crt"; cp "$D/tls/server.key" "$D/prosody.key"
    chown -R prosody:prosody "$D/prosody-data" "$D/prosody.crt" "$D/prosody.key"
    cat > "$D/prosody.cfg.lua" <<CONF
pidfile = "$D/prosody-data/prosody.pid"
data_path = "$D/prosody-data"
log = { info = "$D/prosody-data/prosody.log" }
interfaces = { "$SIP" }
c2s_ports = { 5222 }
c2s_direct_tls_ports = { }
s2s_ports = { }
http_ports = { }
https_ports = { }
admin_socket = "$D/prosody-data/admin.sock"
modules_enabled = { "roster"; "saslauth"; "tls"; "disco"; "ping"; "carbons"; "presence"; "message"; "iq"; "posix" }
modules_disabled = { "s2s"; "offline"; "c2s_direct_tls" }
authentication = "internal_hashed"
c2s_require_encryption = true
allow_registration = false
c2s_timeout = 300
VirtualHost "$SHOST"
    ssl = { certificate = "$D/prosody.crt"; key = "$D/prosody.key" }
CONF
    chmod 644 "$D/prosody.cfg.lua"
    local u
    for u in alice bob carol; do
        ip netns exec "$S" runuser -u prosody -- prosodyctl --config "$D/prosody.cfg.lua" register "$u" "$SHOST" "$u-pw" >>"$D/log/prosodyctl.log" 2>&1
    done
    sx prosody runuser -u prosody -- prosody --config "$D/prosody.cfg.lua" -F
    wait_port 5222 || return 1
    capture_start
    local P="$LAB/py/xmpp_client.py" ca="$D/tls/ca.crt"
    cx alice "$PY" "$P" --jid "alice@$SHOST/laptop" --password alice-pw --host "$SHOST" --cafile "$ca" \
        --peer "bob@$SHOST" --mean 90 --reply 0.5 --ping 0 --whitespace 300 --seed 111
    cx bob "$PY" "$P" --jid "bob@$SHOST/phone" --password bob-pw --host "$SHOST" --cafile "$ca" \
        --peer "alice@$SHOST" --mean 150 --reply 0.6 --ping 60 --whitespace 0 --seed 112
    cx carol "$PY" "$P" --jid "carol@$SHOST/desktop" --password carol-pw --host "$SHOST" --cafile "$ca" \
        --ping 120 --whitespace 300 --seed 113
    meta programs "prosody $(dpkgv prosody); slixmpp $(pipv slixmpp)"
    meta options "c2s 5222 with required STARTTLS; alice: whitespace keepalive 300 s, chats Poisson mean 90 s; bob: XEP-0199 ping every 60 s, chats mean 150 s; carol idle, XEP-0199 ping 120 s + whitespace 300 s; replies after 2-15 s"
    meta behaviour "small XML stanzas both ways: messages relayed by the server to the peer, iq ping/result pairs at fixed intervals, whitespace keepalives"
    meta transport "TLS (STARTTLS)"
    meta port "5222"
    meta note "rtt ${RTT_MS}ms; the TLS handshake follows a plaintext XMPP stream header exchange"
    hold
    teardown
}
