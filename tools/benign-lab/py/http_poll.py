"""HTTP/1.1 keep-alive API poller (requests.Session): one connection reused
for periodic GETs, optionally conditional (If-None-Match)."""
import argparse
import random
import time

import requests

from labutil import next_delay

ap = argparse.ArgumentParser()
ap.add_argument("--url", action="append", required=True)
ap.add_argument("--cafile", required=True)
ap.add_argument("--interval", type=float, required=True)
ap.add_argument("--mode", default="fixed")
ap.add_argument("--etag", action="store_true")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)

s = requests.Session()
s.verify = a.cafile
s.headers["User-Agent"] = "status-poller/1.4 python-requests"
etags = {}
i = 0
while True:
    url = a.url[i % len(a.url)]
    i += 1
    h = {"If-None-Match": etags[url]} if a.etag and url in etags else {}
    try:
        r = s.get(url, headers=h, timeout=20, verify=a.cafile)
        if "ETag" in r.headers:
            etags[url] = r.headers["ETag"]
        r.content
    except requests.RequestException as e:
        print("error", e, flush=True)
    time.sleep(next_delay(a.mode, a.interval, rng))
