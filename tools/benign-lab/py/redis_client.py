"""redis-py clients on long-lived connections.

modes:
  publish   PUBLISH to a channel at Poisson intervals
  health    PING every --interval s, plus a GET/INCR of a counter every 3rd time
  producer  LPUSH jobs onto a list at Poisson intervals
  worker    BLPOP jobs (timeout 30 s), 'process' them, SET a result
"""
import argparse
import json
import random
import time

import redis

from labutil import next_delay, padded_json

ap = argparse.ArgumentParser()
ap.add_argument("mode")
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, default=6379)
ap.add_argument("--cafile")
ap.add_argument("--channel", default="events")
ap.add_argument("--mean", type=float, default=10)
ap.add_argument("--interval", type=float, default=5)
ap.add_argument("--size", type=int, default=120)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)

kw = dict(host=a.host, port=a.port, socket_keepalive=True, health_check_interval=0)
if a.cafile:
    kw.update(ssl=True, ssl_ca_certs=a.cafile)
r = redis.Redis(**kw)

n = 0
while True:
    try:
        if a.mode == "publish":
            time.sleep(next_delay("exp", a.mean, rng))
            n += 1
            r.publish(a.channel, padded_json({"event": a.channel, "n": n, "ts": time.time()}, a.size))
        elif a.mode == "health":
            r.ping()
            n += 1
            if n % 3 == 0:
                r.incr("health:checks")
                r.get("config:feature_flags")
            time.sleep(next_delay("fixed", a.interval, rng))
        elif a.mode == "producer":
            time.sleep(next_delay("exp", a.mean, rng))
            n += 1
            r.lpush("jobs:thumbnail", json.dumps({"job": n, "image": "img/%06d.jpg" % rng.randrange(10**6),
                                                   "sizes": [64, 128, 256]}))
        elif a.mode == "worker":
            item = r.blpop(["jobs:thumbnail"], timeout=30)
            if item:
                job = json.loads(item[1])
                time.sleep(rng.uniform(0.05, 0.5))
                r.set("result:%d" % job["job"], json.dumps({"ok": True, "t": time.time()}), ex=3600)
    except redis.RedisError as e:
        print("error", e, flush=True)
        time.sleep(5)
