"""gRPC (grpcio) over TLS without generated stubs: JSON-encoded messages with
generic handlers.

server: lab.Telemetry/Watch (server streaming: pushes updates at Poisson
        intervals with the mean the request asks for) and lab.Telemetry/Report
        (unary: acknowledged at once).
client: one channel; a Watch stream held open, and a Report call at Poisson
        intervals on the same HTTP/2 connection; HTTP/2 keepalive pings.
"""
import argparse
import json
import random
import threading
import time
from concurrent import futures

import grpc

ap = argparse.ArgumentParser()
ap.add_argument("role", choices=["server", "client"])
ap.add_argument("--addr", required=True)
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--cafile")
ap.add_argument("--name", help="TLS name of the server")
ap.add_argument("--mean", type=float, default=10, help="mean push interval asked for (s)")
ap.add_argument("--report-mean", type=float, default=30)
ap.add_argument("--keepalive-ms", type=int, default=30000)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()

enc = lambda o: json.dumps(o, separators=(",", ":")).encode()
dec = lambda b: json.loads(b)


def serve():
    def watch(req, ctx):
        rng = random.Random()
        mean = float(req.get("mean", 10))
        seq = 0
        while ctx.is_active():
            time.sleep(min(rng.expovariate(1.0 / mean), mean * 8))
            seq += 1
            yield {"seq": seq, "ts": time.time(), "metric": req.get("metric", "cpu"),
                   "value": round(rng.uniform(0, 100), 3), "host": "node-%02d" % rng.randrange(1, 40)}

    def report(req, ctx):
        return {"ok": True, "id": req.get("id"), "ts": time.time()}

    handler = grpc.method_handlers_generic_handler("lab.Telemetry", {
        "Watch": grpc.unary_stream_rpc_method_handler(watch, request_deserializer=dec, response_serializer=enc),
        "Report": grpc.unary_unary_rpc_method_handler(report, request_deserializer=dec, response_serializer=enc),
    })
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), options=[
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 10000),
        ("grpc.keepalive_time_ms", 7200000),
    ])
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials([(open(a.key, "rb").read(), open(a.cert, "rb").read())])
    server.add_secure_port(a.addr, creds)
    server.start()
    server.wait_for_termination()


def client():
    rng = random.Random(a.seed)
    creds = grpc.ssl_channel_credentials(root_certificates=open(a.cafile, "rb").read())
    opts = [("grpc.keepalive_time_ms", a.keepalive_ms), ("grpc.keepalive_timeout_ms", 10000),
            ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.max_pings_without_data", 0),
            ("grpc.ssl_target_name_override", a.name)]
    ch = grpc.secure_channel(a.addr, creds, options=opts)
    watch = ch.unary_stream("/lab.Telemetry/Watch", request_serializer=enc, response_deserializer=dec)
    report = ch.unary_unary("/lab.Telemetry/Report", request_serializer=enc, response_deserializer=dec)

    def reporter():
        n = 0
        while True:
            time.sleep(min(rng.expovariate(1.0 / a.report_mean), a.report_mean * 8))
            n += 1
            try:
                report({"id": n, "status": "healthy", "load": round(rng.uniform(0, 4), 2)}, timeout=10)
            except grpc.RpcError as e:
                print("report error", e.code(), flush=True)

    if a.report_mean:
        threading.Thread(target=reporter, daemon=True).start()
    while True:
        try:
            for _ in watch({"metric": rng.choice(["cpu", "mem", "net"]), "mean": a.mean}):
                pass
        except grpc.RpcError as e:
            print("watch error", e.code(), flush=True)
            time.sleep(3)


serve() if a.role == "server" else client()
