# AMQP 0-9-1: RabbitMQ with TLS (5671) and plain (5672); worker queue, confirms, RPC.
scenario() {
    ns_pair 28 5 mq.lab.internal
    mkcert "$SHOST" rsa
    local R="$D/rabbit"
    mkdir -p "$R/mnesia" "$R/log"
    cp "$D/tls/server-chain.crt" "$R/server.crt"; cp "$D/tls/server.key" "$R/server.key"; cp "$D/tls/ca.crt" "$R/ca.crt"
    cat > "$R/rabbitmq.conf" <<CONF
listeners.tcp.default = $SIP:5672
listeners.ssl.default = $SIP:5671
ssl_options.cacertfile = $R/ca.crt
ssl_options.certfile = $R/server.crt
ssl_options.keyfile = $R/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
default_user = lab
default_pass = lab-pw
loopback_users = none
heartbeat = 60
management.disable_stats = true
CONF
    echo '[].' > "$R/enabled_plugins"
    chown -R rabbitmq:rabbitmq "$R"
    chmod 600 "$R/server.key"
    sx rabbitmq runuser -u rabbitmq -- env HOME="$R" RABBITMQ_NODENAME=rabbit@localhost \
        RABBITMQ_CONFIG_FILE="$R/rabbitmq.conf" RABBITMQ_MNESIA_BASE="$R/mnesia" RABBITMQ_LOG_BASE="$R/log" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$R/enabled_plugins" RABBITMQ_PID_FILE="$R/pid" RABBITMQ_LOGS=- \
        RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="+sbwt none +sbwtdcpu none +sbwtdio none" \
        /usr/lib/rabbitmq/bin/rabbitmq-server
    wait_port 5671 || return 1
    capture_start
    local P="$LAB/py/amqp_client.py" ca="$D/tls/ca.crt"
    cx worker1 "$PY" "$P" consumer --host "$SHOST" --port 5671 --cafile "$ca" --heartbeat 60 --queue tasks --seed 181
    cx worker2 "$PY" "$P" consumer --host "$SHOST" --port 5672 --heartbeat 30 --queue tasks --seed 182
    cx producer "$PY" "$P" publisher --host "$SHOST" --port 5671 --cafile "$ca" --heartbeat 60 --queue tasks --mean 15 --size 250 --seed 183
    cx rpcsrv "$PY" "$P" rpc-server --host "$SHOST" --port 5671 --cafile "$ca" --heartbeat 120 --queue rpc.quote --seed 184
    cx rpccli "$PY" "$P" rpc-client --host "$SHOST" --port 5671 --cafile "$ca" --heartbeat 60 --queue rpc.quote --mean 25 --seed 185
    meta programs "rabbitmq-server $(dpkgv rabbitmq-server) (Erlang $(dpkgv erlang-base)); pika $(pipv pika)"
    meta options "heartbeat 60/30/60/120/60 s (client proposal, broker default 60 s); 2 consumers prefetch 1 (TLS and plain) ack after 50-600 ms; publisher with confirms Poisson mean 15 s, ~250 B; RPC request/reply Poisson mean 25 s"
    meta behaviour "broker pushes Basic.Deliver to idle consumers which answer Basic.Ack; publisher Basic.Publish answered at once by broker Basic.Ack (confirm); RPC request relayed and reply pushed back; heartbeat frames both ways"
    meta transport "TLS + plain"
    meta port "5671,5672"
    meta note "rtt ${RTT_MS}ms"
    hold
    teardown
}
