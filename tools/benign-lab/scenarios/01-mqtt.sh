# MQTT: mosquitto broker with a plain (1883) and a TLS (8883) listener,
# long-lived subscribers and publishers with different keepalives.
scenario() {
    ns_pair 40 8 mqtt.lab.internal
    mkcert "$SHOST" ec
    cat > "$D/mosquitto.conf" <<CONF
user root
persistence false
allow_anonymous true
log_dest stdout
connection_messages true
listener 1883 $SIP
listener 8883 $SIP
cafile $D/tls/ca.crt
certfile $D/tls/server.crt
keyfile $D/tls/server.key
CONF
    sx mosquitto mosquitto -c "$D/mosquitto.conf"
    wait_port 8883 || return 1
    capture_start
    local ca="$D/tls/ca.crt" P="$LAB/py/mqtt_pub.py"
    # Subscribers: the broker pushes every matching publish to them.
    cx sub1 mosquitto_sub -h "$SHOST" -p 1883 -k 30 -i dash-panel -t 'plant/+/temperature' -q 0 -v
    cx sub2 mosquitto_sub -h "$SHOST" -p 8883 --cafile "$ca" -k 60 -i historian -c -t 'plant/#' -q 1 -v
    cx sub3 mosquitto_sub -h "$SHOST" -p 8883 --cafile "$ca" -k 120 -i alert-relay -t 'alerts/#' -q 1 -v
    # Publishers on persistent connections.
    cx pub1 "$PY" "$P" --host "$SHOST" --port 8883 --cafile "$ca" --id line1-temp \
        --topic plant/line1/temperature --mode exp --mean 15 --size 70 --qos 1 --keepalive 60 --seed 11
    cx pub2 "$PY" "$P" --host "$SHOST" --port 1883 --id line2-press \
        --topic plant/line2/pressure --kind pressure --mode fixed --mean 10 --size 120 --qos 0 --keepalive 30 --seed 12
    cx pub3 "$PY" "$P" --host "$SHOST" --port 8883 --cafile "$ca" --id line3-temp \
        --topic plant/line3/temperature --mode fixed --mean 30 --size 40 --qos 1 --keepalive 90 --seed 13
    cx pub4 "$PY" "$P" --host "$SHOST" --port 8883 --cafile "$ca" --id alarm-gw \
        --topic alerts/line1 --kind humidity --mode exp --mean 120 --size 300 --qos 1 --keepalive 45 --seed 14
    # A gateway status publisher run from a shell loop (one short connection each time).
    cx pub5 bash -c "while sleep 60; do mosquitto_pub -h '$SHOST' -p 8883 --cafile '$ca' -i gw-status -q 1 -r \
        -t plant/gateway/status -m \"{\\\"up\\\":\$(cut -d. -f1 /proc/uptime),\\\"load\\\":\\\"\$(cut -d' ' -f1 /proc/loadavg)\\\"}\"; done"
    meta programs "mosquitto $(dpkgv mosquitto); mosquitto_sub/mosquitto_pub $(dpkgv mosquitto-clients); paho-mqtt $(pipv paho-mqtt)"
    meta options "subscribers keepalive 30/60/120 s (qos 0/1/1, one persistent session); paho publishers keepalive 60/30/90/45 s, qos 1/0/1/1; readings exp mean 15 s, fixed 10 s, fixed 30 s, exp mean 120 s; 40-300 B JSON; mosquitto_pub every 60 s"
    meta behaviour "broker pushes PUBLISH to long-lived subscribers (PUBACK back for qos 1); publishers send small readings answered by PUBACK; PINGREQ/PINGRESP when idle"
    meta transport "TLS + plain"
    meta port "8883,1883"
    meta note "rtt ${RTT_MS}ms; per-publish short TLS connections from the mosquitto_pub loop"
    hold
    teardown
}
