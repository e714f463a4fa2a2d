"""MQTT publisher (paho-mqtt) sending sensor readings on one long-lived connection."""
import argparse
import random
import time

import paho.mqtt.client as mqtt

from labutil import next_delay, sensor_reading

ap = argparse.ArgumentParser()
ap.add_argument("--host", required=True)
ap.add_argument("--port", type=int, default=1883)
ap.add_argument("--cafile")
ap.add_argument("--id", required=True)
ap.add_argument("--topic", required=True)
ap.add_argument("--kind", default="temperature")
ap.add_argument("--mode", default="exp")
ap.add_argument("--mean", type=float, default=15)
ap.add_argument("--size", type=int, default=80)
ap.add_argument("--qos", type=int, default=0)
ap.add_argument("--keepalive", type=int, default=60)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()

rng = random.Random(a.seed)
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=a.id, clean_session=True)
if a.cafile:
    c.tls_set(ca_certs=a.cafile)
c.reconnect_delay_set(1, 30)
c.connect(a.host, a.port, keepalive=a.keepalive)
c.loop_start()
while True:
    time.sleep(next_delay(a.mode, a.mean, rng))
    size = max(20, int(a.size * rng.uniform(0.9, 1.1)))
    c.publish(a.topic, sensor_reading(rng, a.kind, size), qos=a.qos)
