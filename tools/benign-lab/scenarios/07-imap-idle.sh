# IMAP over TLS with IDLE push (dovecot) and a NOOP-polling client.
scenario() {
    ns_pair 55 10 mail.lab.internal
    mkcert "$SHOST" rsa
    local u
    mkdir -p "$D/dovecot-run" "$D/mail"
    : > "$D/passwd"
    for u in alice bob carol; do
        printf '%s:{PLAIN}%s-secret::::::\n' "$u" "$u" >> "$D/passwd"
        mkdir -p "$D/mail/$u/Maildir/"{new,cur,tmp}
    done
    chown -R nobody:nogroup "$D/mail"
    cat > "$D/dovecot.conf" <<CONF
protocols = imap
listen = $SIP
base_dir = $D/dovecot-run
state_dir = $D/dovecot-run/state
log_path = $D/log/dovecot-main.log
ssl = required
ssl_cert = <$D/tls/server-chain.crt
ssl_key = <$D/tls/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:$D/mail/%u/Maildir
mailbox_idle_check_interval = 30 secs
imap_idle_notify_interval = 2 mins
passdb {
  driver = passwd-file
  args = scheme=PLAIN $D/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/mail/%u
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 993
    ssl = yes
  }
}
CONF
    mkdir -p "$D/dovecot-run/state"
    sx dovecot dovecot -F -c "$D/dovecot.conf"
    wait_port 993 || return 1
    sx maildrop "$PY" "$LAB/py/mail_drop.py" --maildir "$D/mail/alice/Maildir" --maildir "$D/mail/bob/Maildir" \
        --maildir "$D/mail/carol/Maildir" --mean 60 --uid "$(id -u nobody)" --gid "$(getent group nogroup | cut -d: -f3)" --seed 71
    capture_start
    local P="$LAB/py/imap_idle.py" ca="$D/tls/ca.crt"
    cx alice "$PY" "$P" --host "$SHOST" --user alice --password alice-secret --cafile "$ca" --reidle 600
    cx bob "$PY" "$P" --host "$SHOST" --user bob --password bob-secret --cafile "$ca" --reidle 1680
    cx carol "$PY" "$P" --host "$SHOST" --user carol --password carol-secret --cafile "$ca" --poll 60
    meta programs "dovecot-imapd $(dpkgv dovecot-imapd); IMAPClient $(pipv IMAPClient)"
    meta options "IMAPS 993; two IDLE clients renewing IDLE every 10 min / 28 min, dovecot imap_idle_notify_interval 2 min, mailbox_idle_check_interval 30 s; one client NOOP every 60 s; mail delivered Poisson mean 60 s spread over 3 mailboxes"
    meta behaviour "server pushes untagged EXISTS while client idles, client leaves IDLE, fetches, re-enters IDLE; '* OK Still here' every 2 min; NOOP poll/answer every 60 s"
    meta transport "TLS"
    meta port "993"
    meta note "rtt ${RTT_MS}ms"
    hold
    teardown
}
