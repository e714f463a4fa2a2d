"""XMPP client (slixmpp): stays online, sends chat messages to a peer at
Poisson intervals and sometimes answers incoming ones; XEP-0199 keepalive
pings and whitespace keepalives as configured."""
import argparse
import asyncio
import random
import ssl

import slixmpp

ap = argparse.ArgumentParser()
ap.add_argument("--jid", required=True)
ap.add_argument("--password", required=True)
ap.add_argument("--host", required=True)
ap.add_argument("--cafile", required=True)
ap.add_argument("--peer")
ap.add_argument("--mean", type=float, default=0, help="mean seconds between own messages (0 = never)")
ap.add_argument("--reply", type=float, default=0.5, help="probability of replying")
ap.add_argument("--ping", type=float, default=0, help="XEP-0199 keepalive interval (0 = off)")
ap.add_argument("--whitespace", type=float, default=300)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)

PHRASES = ["hey, are you around?", "the report is ready", "ok", "sounds good", "see you at 3",
           "can you review my change?", "thanks!", "lunch?", "pushed a fix", "on my way"]


class Bot(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(a.jid, a.password)
        self.whitespace_keepalive = a.whitespace > 0
        self.whitespace_keepalive_interval = int(a.whitespace or 300)
        self.ssl_context = ssl.create_default_context(cafile=a.cafile)
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0199", {"keepalive": a.ping > 0, "interval": a.ping or 300, "timeout": 30})
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.on_message)

    async def start(self, _):
        self.send_presence()
        await self.get_roster()
        if a.peer and a.mean:
            asyncio.ensure_future(self.chatter())

    async def chatter(self):
        while True:
            await asyncio.sleep(min(rng.expovariate(1.0 / a.mean), a.mean * 8))
            self.send_message(mto=a.peer, mbody=rng.choice(PHRASES), mtype="chat")
            if rng.random() < 0.1:
                self.send_presence(pshow=rng.choice(["away", "chat", "dnd"]))

    def on_message(self, msg):
        if msg["type"] in ("chat", "normal") and rng.random() < a.reply:
            body = rng.choice(PHRASES)
            self.loop.call_later(rng.uniform(2, 15),
                                 lambda: self.send_message(mto=msg["from"].bare, mbody=body, mtype="chat"))


x = Bot()
x.connect((a.host, 5222))
x.loop.run_forever()
