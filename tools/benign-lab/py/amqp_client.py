"""AMQP 0-9-1 clients (pika BlockingConnection), heartbeats negotiated.

modes:
  consumer   consume a work queue; the broker pushes deliveries, client acks
  publisher  publish events with publisher confirms at Poisson intervals
  rpc-server answer requests from the rpc queue
  rpc-client send a request at Poisson intervals and wait for the reply
"""
import argparse
import json
import random
import ssl
import time
import uuid

import pika

from labutil import padded_json

ap = argparse.ArgumentParser()
ap.add_argument("mode")
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, default=5671)
ap.add_argument("--cafile")
ap.add_argument("--heartbeat", type=int, default=60)
ap.add_argument("--queue", default="tasks")
ap.add_argument("--mean", type=float, default=20)
ap.add_argument("--size", type=int, default=200)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)

params = dict(host=a.host, port=a.port, heartbeat=a.heartbeat, virtual_host="/",
              credentials=pika.PlainCredentials("lab", "lab-pw"), blocked_connection_timeout=300)
if a.cafile:
    ctx = ssl.create_default_context(cafile=a.cafile)
    params["ssl_options"] = pika.SSLOptions(ctx, a.host)


def pause(conn):
    conn.sleep(min(rng.expovariate(1.0 / a.mean), a.mean * 8))


while True:
    try:
        conn = pika.BlockingConnection(pika.ConnectionParameters(**params))
        ch = conn.channel()
        ch.queue_declare(a.queue, durable=True)
        if a.mode == "consumer":
            ch.basic_qos(prefetch_count=1)

            def on_msg(c, method, props, body):
                conn.sleep(rng.uniform(0.05, 0.6))  # do the work
                c.basic_ack(method.delivery_tag)
            ch.basic_consume(a.queue, on_msg)
            ch.start_consuming()
        elif a.mode == "publisher":
            ch.confirm_delivery()
            n = 0
            while True:
                pause(conn)
                n += 1
                ch.basic_publish("", a.queue, padded_json({"task": n, "ts": time.time()}, a.size).encode(),
                                 pika.BasicProperties(delivery_mode=2, content_type="application/json"))
        elif a.mode == "rpc-server":
            def on_req(c, method, props, body):
                req = json.loads(body)
                c.basic_publish("", props.reply_to, json.dumps({"id": req["id"], "ok": True}).encode(),
                                pika.BasicProperties(correlation_id=props.correlation_id))
                c.basic_ack(method.delivery_tag)
            ch.basic_consume(a.queue, on_req)
            ch.start_consuming()
        else:
            cb = ch.queue_declare("", exclusive=True).method.queue
            replies = {}
            ch.basic_consume(cb, lambda c, m, p, b: replies.__setitem__(p.correlation_id, b), auto_ack=True)
            n = 0
            while True:
                pause(conn)
                n += 1
                cid = str(uuid.uuid4())
                ch.basic_publish("", a.queue, json.dumps({"id": n, "q": "price"}).encode(),
                                 pika.BasicProperties(reply_to=cb, correlation_id=cid))
                t0 = time.monotonic()
                while cid not in replies and time.monotonic() - t0 < 10:
                    conn.process_data_events(time_limit=1)
                replies.pop(cid, None)
    except pika.exceptions.AMQPError as e:
        print("reconnect after", repr(e), flush=True)
        time.sleep(5)
