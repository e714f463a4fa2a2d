"""WebSocket (TLS) client: subscribes to a ticker channel, keeps the connection
open with protocol pings, and now and then sends a small request."""
import argparse
import asyncio
import json
import random

import websockets

from labutil import client_ctx, next_delay

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--cafile", required=True)
ap.add_argument("--channel", required=True)
ap.add_argument("--mean", type=float, default=10, help="mean server push interval (s)")
ap.add_argument("--ping-interval", type=float, default=20, help="0 = no client pings")
ap.add_argument("--msg-mean", type=float, default=60, help="mean interval of client requests (s)")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)


async def talk(ws):
    n = 0
    while True:
        await asyncio.sleep(next_delay("exp", a.msg_mean, rng))
        n += 1
        op = rng.choice(["heartbeat", "order_status", "heartbeat", "balance"])
        await ws.send(json.dumps({"op": op, "id": n}))


async def main():
    while True:
        try:
            async with websockets.connect(a.url, ssl=client_ctx(a.cafile),
                                          ping_interval=a.ping_interval or None, ping_timeout=20) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channel": a.channel, "mean": a.mean}))
                t = asyncio.create_task(talk(ws))
                try:
                    async for _ in ws:
                        pass
                finally:
                    t.cancel()
        except (OSError, websockets.ConnectionClosed):
            await asyncio.sleep(5)


asyncio.run(main())
