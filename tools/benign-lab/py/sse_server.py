"""Server-Sent Events over HTTPS (aiohttp). GET /events?topic=T&mean=M streams
events at Poisson intervals with a comment heartbeat when idle."""
import argparse
import asyncio
import json
import random
import time

from aiohttp import web

from labutil import server_ctx

ap = argparse.ArgumentParser()
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, default=8444)
ap.add_argument("--cert", required=True)
ap.add_argument("--key", required=True)
ap.add_argument("--heartbeat", type=float, default=15)
a = ap.parse_args()


async def events(request):
    topic = request.query.get("topic", "news")
    mean = float(request.query.get("mean", "20"))
    rng = random.Random()
    resp = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    await resp.write(b"retry: 5000\n\n")
    seq = int(request.headers.get("Last-Event-ID", "0") or 0)
    next_event = time.monotonic() + rng.expovariate(1.0 / mean)
    while True:
        now = time.monotonic()
        wait = next_event - now
        if wait > a.heartbeat:
            await asyncio.sleep(a.heartbeat)
            await resp.write(b": keepalive\n\n")
            continue
        await asyncio.sleep(max(0.0, wait))
        seq += 1
        data = {"topic": topic, "seq": seq, "ts": int(time.time()),
                "status": rng.choice(["ok", "ok", "ok", "degraded"]),
                "value": round(rng.uniform(0, 100), 2)}
        if topic == "notifications":
            data["text"] = rng.choice(["Build finished", "New comment on your ticket",
                                       "Deployment approved", "Backup completed"])
        await resp.write(f"id: {seq}\nevent: {topic}\ndata: {json.dumps(data)}\n\n".encode())
        next_event = time.monotonic() + min(rng.expovariate(1.0 / mean), mean * 8)


app = web.Application()
app.router.add_get("/events", events)
web.run_app(app, host=a.host, port=a.port, ssl_context=server_ctx(a.cert, a.key), print=None,
            access_log=None)
