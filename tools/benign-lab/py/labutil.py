"""Small shared helpers for the lab clients and servers."""
import base64
import json
import os
import random
import ssl
import time


def next_delay(mode, mean, rng=random):
    """Seconds to wait before the next event.

    mode 'exp'   -> exponential (Poisson process) with the given mean
    mode 'fixed' -> the mean itself, with +-2% scheduling noise
    mode 'unif'  -> uniform in [0.5*mean, 1.5*mean]
    """
    if mode == "exp":
        return min(rng.expovariate(1.0 / mean), mean * 8)
    if mode == "unif":
        return rng.uniform(0.5 * mean, 1.5 * mean)
    return mean * rng.uniform(0.98, 1.02)


def client_ctx(cafile, certfile=None, keyfile=None):
    ctx = ssl.create_default_context(cafile=cafile)
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    return ctx


def server_ctx(certfile, keyfile):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


def padded_json(obj, size):
    """JSON text of obj padded with a 'pad' field to roughly `size` bytes."""
    text = json.dumps(obj, separators=(",", ":"))
    if len(text) + 10 < size:
        n = size - len(text) - 10
        obj = dict(obj, ref=base64.b64encode(os.urandom(n)).decode()[:n])
        text = json.dumps(obj, separators=(",", ":"))
    return text


def sensor_reading(rng, kind="temperature", size=80):
    base = {"temperature": 21.0, "pressure": 1013.0, "humidity": 45.0}.get(kind, 10.0)
    obj = {
        "ts": round(time.time(), 3),
        "sensor": kind,
        "value": round(base + rng.gauss(0, 1.5), 2),
        "unit": {"temperature": "C", "pressure": "hPa", "humidity": "%"}.get(kind, "u"),
        "seq": rng.randrange(1 << 20),
    }
    return padded_json(obj, size)
