# Prometheus scraping node exporters (plain and TLS) every 15 / 30 s.
scenario() {
    ns_pair 12 2 node1.lab.internal
    mkcert "$SHOST" ec
    cat > "$D/web-tls.yml" <<CONF
tls_server_config:
  cert_file: $D/tls/server-chain.crt
  key_file: $D/tls/server.key
CONF
    sx nodeexp prometheus-node-exporter --web.listen-address="$SIP:9100"
    sx nodeexp-tls prometheus-node-exporter --web.listen-address="$SIP:9101" --web.config.file="$D/web-tls.yml"
    wait_port 9100 || return 1
    wait_port 9101 || return 1
    cat > "$D/prometheus.yml" <<CONF
global:
  scrape_interval: 15s
  scrape_timeout: 10s
  evaluation_interval: 15s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['$SHOST:9100']
  - job_name: node-tls
    scrape_interval: 30s
    scheme: https
    tls_config:
      ca_file: $D/tls/ca.crt
      server_name: $SHOST
    static_configs:
      - targets: ['$SHOST:9101']
CONF
    mkdir -p "$D/tsdb"
    capture_start
    cx prometheus prometheus --config.file="$D/prometheus.yml" --storage.tsdb.path="$D/tsdb" \
        --web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=1d
    meta programs "prometheus $(dpkgv prometheus); prometheus-node-exporter $(dpkgv prometheus-node-exporter)"
    meta options "scrape_interval 15 s (plain :9100) and 30 s (TLS :9101), scrape_timeout 10 s, default collectors, gzip"
    meta behaviour "client GET /metrics every 15/30 s on a kept-alive connection, answered at once by a ~10-15 KB gzip body; strictly periodic"
    meta transport "TLS + plain"
    meta port "9101,9100"
    meta note "rtt ${RTT_MS}ms; datacenter-like latency; responses larger than typical pool jobs"
    hold
    teardown
}
