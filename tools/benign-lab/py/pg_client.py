"""PostgreSQL clients (psycopg 3) on long-lived connections.

modes:
  poll    run a small query every --interval s (health check / dashboard poller)
  listen  LISTEN on a channel and print notifications as they arrive
  notify  insert an event row and NOTIFY at Poisson intervals (mean --mean s)
"""
import argparse
import random
import time

import psycopg

from labutil import next_delay

ap = argparse.ArgumentParser()
ap.add_argument("mode")
ap.add_argument("--dsn", required=True)
ap.add_argument("--interval", type=float, default=10)
ap.add_argument("--mean", type=float, default=30)
ap.add_argument("--query", default="SELECT 1")
ap.add_argument("--channel", default="jobs")
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)

while True:
    try:
        with psycopg.connect(a.dsn, autocommit=True, application_name="lab-" + a.mode) as conn:
            if a.mode == "poll":
                while True:
                    conn.execute(a.query).fetchall()
                    time.sleep(next_delay("fixed", a.interval, rng))
            elif a.mode == "listen":
                conn.execute("LISTEN " + a.channel)
                for n in conn.notifies():
                    print(n.channel, n.payload, flush=True)
            else:
                while True:
                    time.sleep(next_delay("exp", a.mean, rng))
                    with conn.transaction():
                        row = conn.execute(
                            "INSERT INTO events(kind, body) VALUES (%s, %s) RETURNING id",
                            (rng.choice(["order", "refund", "signup"]), "x" * rng.randint(20, 200))).fetchone()
                        conn.execute("SELECT pg_notify(%s, %s)", (a.channel, str(row[0])))
    except psycopg.Error as e:
        print("error", e, flush=True)
        time.sleep(5)
