"""DNS-over-TLS stub (dnspython): sends queries for a set of names on one
kept-open TLS connection at Poisson intervals; reconnects when the server
closes an idle connection."""
import argparse
import random
import socket
import ssl
import time

import dns.exception
import dns.message
import dns.query

from labutil import next_delay

ap = argparse.ArgumentParser()
ap.add_argument("--server", required=True, help="server address")
ap.add_argument("--name", required=True, help="TLS name of the server")
ap.add_argument("--cafile", required=True)
ap.add_argument("--mean", type=float, default=20)
ap.add_argument("--zone", default="lab.internal")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)
ctx = ssl.create_default_context(cafile=a.cafile)
HOSTS = ["www", "api", "mail", "cdn", "auth", "static", "img", "git", "wiki", "chat", "vpn", "db"]
sock = None
while True:
    try:
        if sock is None:
            raw = socket.create_connection((a.server, 853), timeout=10)
            sock = ctx.wrap_socket(raw, server_hostname=a.name)
        qname = "%s.%s" % (rng.choice(HOSTS), a.zone)
        q = dns.message.make_query(qname, rng.choice(["A", "A", "AAAA", "HTTPS"]), use_edns=0)
        dns.query.tls(q, a.server, timeout=10, sock=sock)
    except (OSError, EOFError, dns.exception.DNSException) as e:
        print("reconnect:", repr(e), flush=True)
        try:
            sock and sock.close()
        except OSError:
            pass
        sock = None
        continue
    time.sleep(next_delay("exp", a.mean, rng))
