# OpenSSH interactive and long-running sessions with ServerAliveInterval.
scenario() {
    ns_pair 110 20 shell.lab.internal
    mkdir -p "$D/ssh" /run/sshd
    ssh-keygen -q -t ed25519 -N '' -f "$D/ssh/host_ed25519" -C host
    ssh-keygen -q -t rsa -b 3072 -N '' -f "$D/ssh/host_rsa" -C host
    ssh-keygen -q -t ed25519 -N '' -f "$D/ssh/id_ed25519" -C ops@client
    cp "$D/ssh/id_ed25519.pub" "$D/ssh/authorized_keys"
    printf '%s %s\n' "$SHOST" "$(cut -d' ' -f1,2 "$D/ssh/host_ed25519.pub")" > "$D/ssh/known_hosts"
    cat > "$D/sshd_config" <<CONF
ListenAddress $SIP
Port 22
HostKey $D/ssh/host_ed25519
HostKey $D/ssh/host_rsa
PidFile $D/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile $D/ssh/authorized_keys
StrictModes no
UsePAM no
PrintMotd no
AllowTcpForwarding yes
X11Forwarding no
Subsystem sftp internal-sftp
CONF
    sx sshd /usr/sbin/sshd -D -e -f "$D/sshd_config"
    wait_port 22 || return 1
    capture_start
    local O=(-F /dev/null -i "$D/ssh/id_ed25519" -o UserKnownHostsFile="$D/ssh/known_hosts" -o StrictHostKeyChecking=yes -o BatchMode=yes)
    export TERM=xterm-256color
    # 1: a person typing commands into a login shell
    cx typing bash -c "'$PY' '$LAB/py/typer.py' 61 | ssh -tt ${O[*]} -o ServerAliveInterval=30 root@$SHOST"
    # 2: a remote loop printing the date at random intervals
    cx dates bash -c "sleep infinity | ssh -tt ${O[*]} -o ServerAliveInterval=30 root@$SHOST 'while sleep \$((RANDOM%20+1)); do date; done'"
    # 3: top refreshing every 15 s on a terminal
    cx top bash -c "sleep infinity | ssh -tt ${O[*]} -o ServerAliveInterval=60 root@$SHOST 'top -d 15'"
    # 4: watch refreshing every 10 s
    cx watch bash -c "sleep infinity | ssh -tt ${O[*]} -o ServerAliveInterval=15 -o ServerAliveCountMax=4 root@$SHOST 'watch -n 10 uptime'"
    # 5: an idle port-forwarding tunnel kept alive every 60 s
    cx tunnel ssh -N ${O[*]} -o ServerAliveInterval=60 -o ExitOnForwardFailure=yes -L 127.0.0.1:15432:127.0.0.1:5432 "root@$SHOST"
    meta programs "OpenSSH server/client $(dpkgv openssh-server) (ssh -V: $(ssh -V 2>&1))"
    meta options "ed25519 key auth; ServerAliveInterval 30/30/60/15/60 s; interactive typing, remote date loop (1-20 s), top -d 15, watch -n 10, idle -N -L tunnel"
    meta behaviour "keystroke-sized client packets echoed by the server, periodic screen updates pushed by the server, keepalive request/reply pairs (global request) at fixed intervals"
    meta transport "SSH"
    meta port "22"
    meta note "rtt ${RTT_MS}ms; 5 sessions lasting the whole capture"
    hold
    teardown
}
