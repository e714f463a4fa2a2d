# PostgreSQL: periodic health-check / dashboard queries and LISTEN/NOTIFY.
scenario() {
    ns_pair 20 4 db.lab.internal
    mkcert "$SHOST" rsa
    local PGBIN
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    mkdir -p "$D/pg" "$D/pgsock"
    chown postgres:postgres "$D/pg" "$D/pgsock"
    cp "$D/tls/server-chain.crt" "$D/pg-server.crt"; cp "$D/tls/server.key" "$D/pg-server.key"
    chown postgres:postgres "$D/pg-server.crt" "$D/pg-server.key"; chmod 600 "$D/pg-server.key"
    echo 'lab-secret' > "$D/pwfile"; chmod 644 "$D/pwfile"
    runuser -u postgres -- "$PGBIN/initdb" -D "$D/pg/data" -U postgres --pwfile="$D/pwfile" \
        --auth-host=scram-sha-256 --auth-local=trust >"$D/log/initdb.log" 2>&1 || return 1
    cat >> "$D/pg/data/postgresql.conf" <<CONF
listen_addresses = '$SIP'
port = 5432
unix_socket_directories = '$D/pgsock'
ssl = on
ssl_cert_file = '$D/pg-server.crt'
ssl_key_file = '$D/pg-server.key'
shared_buffers = 32MB
CONF
    cat >> "$D/pg/data/pg_hba.conf" <<CONF
hostssl all all 10.77.0.0/16 scram-sha-256
hostnossl all all 10.77.0.0/16 scram-sha-256
CONF
    sx postgres runuser -u postgres -- "$PGBIN/postgres" -D "$D/pg/data"
    wait_port 5432 || return 1
    ip netns exec "$S" runuser -u postgres -- psql -h "$D/pgsock" -q -c \
        "CREATE DATABASE app; " >>"$D/log/psql.log" 2>&1
    ip netns exec "$S" runuser -u postgres -- psql -h "$D/pgsock" -d app -q -c \
        "CREATE TABLE events(id serial primary key, kind text, body text, at timestamptz default now());
         INSERT INTO events(kind, body) SELECT 'seed', md5(g::text) FROM generate_series(1,500) g;" >>"$D/log/psql.log" 2>&1
    capture_start
    local P="$LAB/py/pg_client.py" tls="sslmode=verify-full sslrootcert=$D/tls/ca.crt"
    local base="host=$SHOST dbname=app user=postgres password=lab-secret"
    cx health "$PY" "$P" poll --dsn "$base $tls" --interval 10 --query "SELECT 1" --seed 91
    cx dash "$PY" "$P" poll --dsn "$base sslmode=disable" --interval 30 --seed 92 \
        --query "SELECT kind, count(*), max(at) FROM events GROUP BY kind ORDER BY kind"
    cx listen "$PY" "$P" listen --dsn "$base $tls" --channel jobs --seed 93
    cx notify "$PY" "$P" notify --dsn "$base $tls" --channel jobs --mean 30 --seed 94
    meta programs "PostgreSQL $(dpkgv postgresql-15 2>/dev/null || dpkgv postgresql); psycopg $(pipv psycopg) (libpq binary)"
    meta options "scram-sha-256; SELECT 1 every 10 s over TLS; aggregate query every 30 s without TLS; LISTEN client; INSERT + pg_notify Poisson mean 30 s"
    meta behaviour "client query answered at once on a long-lived connection at fixed intervals; server pushes NotificationResponse to an otherwise idle LISTEN connection"
    meta transport "TLS + plain"
    meta port "5432"
    meta note "rtt ${RTT_MS}ms; libpq starts TLS with SSLRequest on the same port"
    hold
    teardown
}
