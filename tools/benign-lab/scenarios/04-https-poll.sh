# HTTP/1.1 keep-alive API polling over TLS against nginx.
scenario() {
    ns_pair 90 14 api.lab.internal
    mkcert "$SHOST" rsa
    mkdir -p "$D/www/api" "$D/nginx-tmp"
    cat > "$D/nginx.conf" <<CONF
user root;
worker_processes 1;
daemon off;
pid $D/nginx.pid;
error_log $D/log/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    access_log $D/log/nginx-access.log;
    client_body_temp_path $D/nginx-tmp/body;
    proxy_temp_path $D/nginx-tmp/proxy;
    fastcgi_temp_path $D/nginx-tmp/fcgi;
    uwsgi_temp_path $D/nginx-tmp/uwsgi;
    scgi_temp_path $D/nginx-tmp/scgi;
    keepalive_timeout 75s;
    keepalive_requests 1000;
    server {
        listen $SIP:443 ssl;
        server_name $SHOST;
        ssl_certificate $D/tls/server-chain.crt;
        ssl_certificate_key $D/tls/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $D/www;
        location /api/ { default_type application/json; add_header Cache-Control no-cache; }
    }
}
CONF
    echo '{"status":"ok","services":{"db":"up","queue":"up","cache":"up"},"version":"2.14.1"}' > "$D/www/api/health.json"
    # The quote document changes now and then, so conditional polls get a mix of 200 and 304.
    sx updater bash -c "while true; do printf '{\"symbol\":\"ACME\",\"price\":%d.%02d,\"ts\":%d}\n' \$((RANDOM%50+100)) \$((RANDOM%100)) \$(date +%s) > '$D/www/api/quote.json.tmp' && mv '$D/www/api/quote.json.tmp' '$D/www/api/quote.json'; sleep \$((RANDOM%40+10)); done"
    sx nginx nginx -e "$D/log/nginx-error.log" -c "$D/nginx.conf"
    wait_port 443 || return 1
    capture_start
    local P="$LAB/py/http_poll.py" ca="$D/tls/ca.crt" B="https://$SHOST/api"
    cx p5 "$PY" "$P" --url "$B/quote.json" --cafile "$ca" --interval 5 --mode fixed --seed 41
    cx p15 "$PY" "$P" --url "$B/health.json" --url "$B/quote.json" --cafile "$ca" --interval 15 --mode unif --seed 42
    cx p30 "$PY" "$P" --url "$B/quote.json" --cafile "$ca" --interval 30 --mode fixed --etag --seed 43
    cx p90 "$PY" "$P" --url "$B/health.json" --cafile "$ca" --interval 90 --mode fixed --etag --seed 44
    cx curl bash -c "while true; do curl -s --cacert '$ca' --keepalive-time 20 -o /dev/null '$B/health.json' '$B/quote.json'; sleep 60; done"
    meta programs "nginx $(dpkgv nginx); python requests $(pipv requests); curl $(dpkgv curl)"
    meta options "nginx keepalive_timeout 75 s, keepalive_requests 1000; requests.Session polling every 5 s (fixed), 15 s (uniform 7.5-22.5), 30 s (If-None-Match), 90 s (If-None-Match, longer than keepalive so reconnects); curl 2 GETs per connection every 60 s"
    meta behaviour "client request (~200-300 B) answered at once by a small JSON or 304 on a kept-alive TLS connection; server idle-closes after 75 s"
    meta transport "TLS"
    meta port "443"
    meta note "rtt ${RTT_MS}ms; 90 s and curl pollers make many short connections"
    hold
    teardown
}
