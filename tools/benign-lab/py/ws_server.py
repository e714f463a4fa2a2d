"""WebSocket (TLS) market-ticker / notification server using `websockets`.

A client subscribes to a channel with a mean push interval; the server then
pushes near-constant-size JSON updates at Poisson intervals. Client messages
(app-level heartbeats, order-status queries) are acknowledged at once.
"""
import argparse
import asyncio
import json
import random
import time

import websockets

from labutil import server_ctx

ap = argparse.ArgumentParser()
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, default=8443)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--ping-interval", type=float, default=25)
a = ap.parse_args()

SYMBOLS = ["BTC-EUR", "ETH-EUR", "AAPL", "MSFT", "EURUSD", "XAU"]


async def pusher(ws, channel, mean, rng):
    seq = 0
    price = {s: rng.uniform(50, 500) for s in SYMBOLS}
    while True:
        await asyncio.sleep(min(rng.expovariate(1.0 / mean), mean * 8))
        sym = rng.choice(SYMBOLS)
        price[sym] *= 1 + rng.gauss(0, 0.001)
        seq += 1
        msg = {
            "type": "tick", "channel": channel, "seq": seq, "sym": sym,
            "bid": f"{price[sym]:.4f}", "ask": f"{price[sym] * 1.0004:.4f}",
            "vol": f"{rng.uniform(0, 1000):09.3f}", "ts": int(time.time() * 1000),
        }
        await ws.send(json.dumps(msg))


async def handler(ws):
    rng = random.Random()
    task = None
    try:
        async for raw in ws:
            m = json.loads(raw)
            op = m.get("op")
            if op == "subscribe" and task is None:
                task = asyncio.create_task(pusher(ws, m["channel"], float(m.get("mean", 10)), rng))
                await ws.send(json.dumps({"type": "subscribed", "channel": m["channel"]}))
            else:
                await ws.send(json.dumps({"type": "ack", "op": op, "id": m.get("id"), "ts": int(time.time() * 1000)}))
    finally:
        if task:
            task.cancel()


async def main():
    async with websockets.serve(handler, a.host, a.port, ssl=server_ctx(a.cert, a.key),
                                ping_interval=a.ping_interval, ping_timeout=20):
        await asyncio.Future()


asyncio.run(main())
