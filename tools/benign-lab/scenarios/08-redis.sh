# Redis: pub/sub subscribers, a job queue (BLPOP worker), health checks; plain and TLS.
scenario() {
    ns_pair 16 3 cache.lab.internal
    mkcert "$SHOST" ec
    cat > "$D/redis.conf" <<CONF
bind $SIP
port 6379
tls-port 6380
tls-cert-file $D/tls/server-chain.crt
tls-key-file $D/tls/server.key
tls-ca-cert-file $D/tls/ca.crt
tls-auth-clients no
protected-mode no
daemonize no
save ""
appendonly no
dir $D
tcp-keepalive 300
timeout 0
CONF
    sx redis redis-server "$D/redis.conf"
    wait_port 6380 || return 1
    capture_start
    local P="$LAB/py/redis_client.py" ca="$D/tls/ca.crt"
    cx sub1 redis-cli -h "$SHOST" -p 6379 subscribe orders
    cx sub2 redis-cli -h "$SHOST" -p 6379 psubscribe 'alerts.*'
    cx sub3 redis-cli -h "$SHOST" -p 6380 --tls --cacert "$ca" subscribe orders prices
    cx pub1 "$PY" "$P" publish --host "$SHOST" --port 6380 --cafile "$ca" --channel orders --mean 8 --size 150 --seed 81
    cx pub2 "$PY" "$P" publish --host "$SHOST" --port 6379 --channel alerts.disk --mean 90 --size 300 --seed 82
    cx pub3 "$PY" "$P" publish --host "$SHOST" --port 6380 --cafile "$ca" --channel prices --mean 20 --size 90 --seed 83
    cx health "$PY" "$P" health --host "$SHOST" --port 6379 --interval 5 --seed 84
    cx producer "$PY" "$P" producer --host "$SHOST" --port 6380 --cafile "$ca" --mean 25 --seed 85
    cx worker "$PY" "$P" worker --host "$SHOST" --port 6380 --cafile "$ca" --seed 86
    meta programs "redis-server $(dpkgv redis-server); redis-cli $(dpkgv redis-tools); redis-py $(pipv redis)"
    meta options "server tcp-keepalive 300, no idle timeout; 3 redis-cli subscribers (2 plain, 1 TLS); publishers Poisson mean 8/90/20 s; PING every 5 s (+INCR/GET every 15 s); LPUSH jobs mean 25 s; BLPOP worker timeout 30 s writing a result per job"
    meta behaviour "server pushes pub/sub messages to idle subscribers; BLPOP is answered when a job arrives (or nil after 30 s), worker then sends a SET answered at once; health PING/PONG every 5 s"
    meta transport "TLS + plain"
    meta port "6380,6379"
    meta note "rtt ${RTT_MS}ms"
    hold
    teardown
}
