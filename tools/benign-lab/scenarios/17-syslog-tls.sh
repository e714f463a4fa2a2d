# Syslog over TLS (RFC 5425): rsyslog client forwarding local log messages to an rsyslog collector.
scenario() {
    ns_pair 46 8 logs.lab.internal
    mkcert "$SHOST" rsa
    mkdir -p "$D/rs-server" "$D/rs-client"
    cat > "$D/rsyslog-server.conf" <<CONF
global(workDirectory="$D/rs-server"
       DefaultNetstreamDriver="gtls"
       DefaultNetstreamDriverCAFile="$D/tls/ca.crt"
       DefaultNetstreamDriverCertFile="$D/tls/server-chain.crt"
       DefaultNetstreamDriverKeyFile="$D/tls/server.key")
module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"
       KeepAlive="on")
input(type="imtcp" port="6514" address="$SIP")
action(type="omfile" file="$D/rs-server/received.log")
CONF
    cat > "$D/rsyslog-client.conf" <<CONF
global(workDirectory="$D/rs-client"
       DefaultNetstreamDriverCAFile="$D/tls/ca.crt")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="$D/rs-client/log.sock" CreatePath="on")
action(type="omfwd" target="$SHOST" port="6514" protocol="tcp"
       StreamDriver="gtls" StreamDriverMode="1" StreamDriverAuthMode="x509/name"
       StreamDriverPermittedPeers="$SHOST" KeepAlive="on"
       queue.type="LinkedList" queue.size="10000" action.resumeRetryCount="-1")
CONF
    sx rsyslog-server rsyslogd -n -f "$D/rsyslog-server.conf" -i "$D/rs-server/pid"
    wait_port 6514 || return 1
    capture_start
    cx rsyslog-client rsyslogd -n -f "$D/rsyslog-client.conf" -i "$D/rs-client/pid"
    sleep 2
    cx app-logs bash -c "M=('GET /api/items 200 12ms' 'user login ok uid=1042' 'cache miss key=session:81' 'job 7781 done in 340ms' 'POST /api/orders 201 48ms' 'health check ok' 'slow query 1203ms SELECT ... FROM orders'); while true; do logger -u '$D/rs-client/log.sock' -t webapp -p local0.info \"\${M[RANDOM%7]}\"; sleep \$((RANDOM%20+1)); done"
    cx cron-logs bash -c "while true; do sleep \$((RANDOM%120+60)); logger -u '$D/rs-client/log.sock' -t CRON -p cron.info '(root) CMD (run-parts /etc/cron.hourly)'; done"
    meta programs "rsyslog $(dpkgv rsyslog) with rsyslog-gnutls $(dpkgv rsyslog-gnutls) (collector and forwarder); util-linux logger"
    meta options "RFC 5425 TLS on 6514, x509/name peer check on the client, TCP keepalive on; messages every 1-20 s (uniform) plus a cron line every 60-180 s"
    meta behaviour "one long-lived TLS connection; small records client-to-server only, server sends TCP ACKs (and TLS handshake / session tickets) only"
    meta transport "TLS"
    meta port "6514"
    meta note "rtt ${RTT_MS}ms; unidirectional application data (a contrast to request/response shapes)"
    hold
    teardown
}
