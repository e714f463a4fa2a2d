"""NATS clients (nats-py) over TLS.

modes:
  sub        subscribe to a subject wildcard and consume messages
  pub        publish telemetry at Poisson intervals
  responder  answer requests on a service subject
  requester  send a request at Poisson intervals and wait for the reply
"""
import argparse
import asyncio
import json
import random
import ssl
import time

import nats

from labutil import padded_json

ap = argparse.ArgumentParser()
ap.add_argument("mode")
ap.add_argument("--server", required=True)
ap.add_argument("--cafile", required=True)
ap.add_argument("--subject", required=True)
ap.add_argument("--mean", type=float, default=10)
ap.add_argument("--size", type=int, default=100)
ap.add_argument("--ping", type=int, default=120)
ap.add_argument("--name", default="lab")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)


async def main():
    ctx = ssl.create_default_context(cafile=a.cafile)
    nc = await nats.connect(a.server, tls=ctx, name=a.name, ping_interval=a.ping,
                            max_reconnect_attempts=-1, reconnect_time_wait=3)
    if a.mode == "sub":
        async def consume(m):
            json.loads(m.data)
        await nc.subscribe(a.subject, cb=consume)
    elif a.mode == "responder":
        async def handle(m):
            req = json.loads(m.data)
            await m.respond(json.dumps({"id": req.get("id"), "price": round(rng.uniform(10, 20), 4),
                                        "ts": time.time()}).encode())
        await nc.subscribe(a.subject, queue="quote-workers", cb=handle)
    n = 0
    while True:
        if a.mode in ("sub", "responder"):
            await asyncio.sleep(3600)
            continue
        await asyncio.sleep(min(rng.expovariate(1.0 / a.mean), a.mean * 8))
        n += 1
        if a.mode == "pub":
            subj = a.subject.replace("*", rng.choice(["eu-1", "eu-2", "us-1"]))
            await nc.publish(subj, padded_json({"n": n, "ts": time.time(), "cpu": rng.uniform(0, 100)},
                                               a.size).encode())
        else:
            try:
                await nc.request(a.subject, json.dumps({"id": n, "sym": "ACME"}).encode(), timeout=5)
            except Exception as e:
                print("request failed", repr(e), flush=True)


asyncio.run(main())
