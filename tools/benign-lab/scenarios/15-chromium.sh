# Headless Chromium on a dashboard page: WebSocket notifications + fetch() poll every 20 s (nginx TLS, HTTP/2).
scenario() {
    ns_pair 50 10 app.lab.internal
    mkcert "$SHOST" ec
    mkdir -p "$D/nginx-tmp"
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
    server {
        listen $SIP:443 ssl http2;
        server_name $SHOST;
        ssl_certificate $D/tls/server-chain.crt;
        ssl_certificate_key $D/tls/server.key;
        root $LAB/web;
        location /ws {
            proxy_pass http://127.0.0.1:8080;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 3600s;
        }
        location /api/ { proxy_pass http://127.0.0.1:8080; }
    }
}
CONF
    sx app "$PY" "$LAB/py/web_app.py" --port 8080 --mean 30
    sx nginx nginx -e "$D/log/nginx-error.log" -c "$D/nginx.conf"
    wait_port 443 || return 1
    capture_start
    mkdir -p "$D/chrome-profile"
    cx chromium chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-dev-shm-usage --ignore-certificate-errors --user-data-dir="$D/chrome-profile" \
        --remote-debugging-port=9222 "https://$SHOST/"
    meta programs "chromium $(dpkgv chromium) headless; nginx $(dpkgv nginx) (TLS, http2); aiohttp $(pipv aiohttp) backend"
    meta options "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --ignore-certificate-errors; page keeps a wss:// WebSocket (app heartbeat every 25 s, notifications Poisson mean 30 s) and fetch('/api/poll') every 20 s; nginx keepalive_timeout 75 s"
    meta behaviour "browser TLS stack: one HTTP/2 connection carrying a poll every 20 s answered at once, one HTTP/1.1 WebSocket connection with server pushes and heartbeat/pong pairs"
    meta transport "TLS"
    meta port "443"
    meta note "rtt ${RTT_MS}ms; Chromium's own ClientHello (GREASE, ALPN h2/http1.1)"
    hold
    teardown
}
