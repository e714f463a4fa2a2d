"""Backend of the single-page dashboard used by the Chromium scenario
(aiohttp, plain HTTP on loopback behind nginx TLS):
  /ws        WebSocket: server pushes notifications at Poisson intervals,
             answers the page's heartbeat with a pong
  /api/poll  small JSON status, fetched by the page every 20 s
"""
import argparse
import asyncio
import json
import random
import time

from aiohttp import WSMsgType, web

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=8080)
ap.add_argument("--mean", type=float, default=30)
a = ap.parse_args()


async def ws_handler(request):
    ws = web.WebSocketResponse(heartbeat=None)
    await ws.prepare(request)
    rng = random.Random()

    async def push():
        n = 0
        while True:
            await asyncio.sleep(min(rng.expovariate(1.0 / a.mean), a.mean * 8))
            n += 1
            await ws.send_str(json.dumps({"type": "notification", "n": n, "ts": int(time.time() * 1000),
                                          "title": rng.choice(["New message", "Task assigned",
                                                               "Build passed", "Comment"]),
                                          "unread": rng.randrange(0, 30)}))

    t = asyncio.create_task(push())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                m = json.loads(msg.data)
                if m.get("type") == "ping":
                    await ws.send_str(json.dumps({"type": "pong", "t": m.get("t")}))
    finally:
        t.cancel()
    return ws


async def poll(request):
    return web.json_response({"ok": True, "ts": int(time.time()), "unread": random.randrange(0, 30),
                              "online": random.randrange(3, 40)}, headers={"Cache-Control": "no-store"})


app = web.Application()
app.router.add_get("/ws", ws_handler)
app.router.add_get("/api/poll", poll)
web.run_app(app, host="127.0.0.1", port=a.port, print=None, access_log=None)
