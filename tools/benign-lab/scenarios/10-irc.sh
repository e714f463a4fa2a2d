# IRC: ngircd with plain and TLS listeners; lurkers answering server PINGs, a bot posting.
scenario() {
    ns_pair 80 15 irc.lab.internal
    mkcert "$SHOST" rsa
    cat > "$D/ngircd.conf" <<CONF
[Global]
    Name = $SHOST
    Info = Benign lab IRC
    Listen = $SIP
    Ports = 6667
    MotdPhrase = "Welcome"
    PidFile = $D/ngircd.pid
    ServerUID = irc
    ServerGID = irc
[Limits]
    PingTimeout = 120
    PongTimeout = 20
[Options]
    DNS = no
    Ident = no
    PAM = no
[SSL]
    CertFile = $D/tls/server-chain.crt
    KeyFile = $D/tls/server.key
    Ports = 6697
[Channel]
    Name = #ops
    Topic = operations chatter
CONF
    chmod 644 "$D/tls/server.key"
    id irc >/dev/null 2>&1 || sed -i "/ServerUID\\|ServerGID/d" "$D/ngircd.conf"
    sx ngircd ngircd -n -f "$D/ngircd.conf"
    wait_port 6697 || return 1
    capture_start
    local P="$LAB/py/irc_client.py" ca="$D/tls/ca.crt"
    cx lurk1 "$PY" "$P" --host "$SHOST" --port 6667 --nick lurker1 --seed 101
    cx lurk2 "$PY" "$P" --host "$SHOST" --port 6697 --tls --cafile "$ca" --nick lurker2 --chat 300 --seed 102
    cx bot "$PY" "$P" --host "$SHOST" --port 6697 --tls --cafile "$ca" --nick opsbot --bot-mean 40 --seed 103
    meta programs "ngircd $(dpkgv ngircd); python irc $(pipv irc)"
    meta options "ngircd PingTimeout 120 s / PongTimeout 20 s; 2 lurkers (plain 6667, TLS 6697, one chatting ~every 300 s), bot posting Poisson mean 40 s (TLS)"
    meta behaviour "server relays channel lines to idle members; server PING after 120 s idle answered by PONG; client PRIVMSG lines"
    meta transport "TLS + plain"
    meta port "6697,6667"
    meta note "rtt ${RTT_MS}ms"
    hold
    teardown
}
