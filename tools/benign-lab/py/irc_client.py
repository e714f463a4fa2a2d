"""IRC client built on the `irc` library: joins a channel and idles (the
library answers server PINGs); in bot mode it posts lines at Poisson
intervals; --chat M makes a lurker say something every ~M seconds."""
import argparse
import random
import ssl
import threading
import time

import irc.client
import irc.connection

ap = argparse.ArgumentParser()
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, default=6667)
ap.add_argument("--tls", action="store_true")
ap.add_argument("--cafile")
ap.add_argument("--nick", required=True)
ap.add_argument("--channel", default="#ops")
ap.add_argument("--bot-mean", type=float, default=0)
ap.add_argument("--chat", type=float, default=0)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)

LINES = ["deploy of api-%d finished", "disk usage on db%d at %d%%", "backup job %d ok",
         "queue depth %d", "build #%d green", "cert renewal in %d days", "user %d logged in"]
CHAT = ["morning", "anyone looking at the alerts?", "lgtm", "brb", "ok thanks", "ack", "on it"]

reactor = irc.client.Reactor()
if a.tls:
    ctx = ssl.create_default_context(cafile=a.cafile)
    factory = irc.connection.Factory(wrapper=lambda s: ctx.wrap_socket(s, server_hostname=a.host))
else:
    factory = irc.connection.Factory()
conn = reactor.server().connect(a.host, a.port, a.nick, username=a.nick.lower(),
                                 ircname="lab " + a.nick, connect_factory=factory)
joined = threading.Event()


def on_welcome(c, e):
    c.join(a.channel)


def on_join(c, e):
    if e.source.nick == a.nick:
        joined.set()


reactor.add_global_handler("welcome", on_welcome)
reactor.add_global_handler("join", on_join)


def speaker(mean, lines):
    joined.wait()
    while True:
        time.sleep(min(rng.expovariate(1.0 / mean), mean * 8))
        t = rng.choice(lines)
        n = t.count("%")
        msg = t % tuple(rng.randrange(1, 99) for _ in range(n)) if n else t
        reactor.scheduler.execute_after(0, lambda m=msg: conn.privmsg(a.channel, m))


if a.bot_mean:
    threading.Thread(target=speaker, args=(a.bot_mean, LINES), daemon=True).start()
if a.chat:
    threading.Thread(target=speaker, args=(a.chat, CHAT), daemon=True).start()
reactor.process_forever()
