"""Delay line between two interfaces (an emulated WAN path).

Bridges Ethernet frames between interface A and interface B through AF_PACKET
sockets and delays each frame by a one-way delay plus normal jitter, keeping
frame order within a direction (a real path does not reorder much) and
serialising frames at a given link rate. Used instead of tc-netem where the
kernel has no netem.

usage: wire.py IFACE_A IFACE_B --delay-ms 20 --jitter-ms 4 [--rate-mbit 50]
"""
import argparse
import collections
import random
import select
import socket
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4

ap = argparse.ArgumentParser()
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("--delay-ms", type=float, required=True)
ap.add_argument("--jitter-ms", type=float, default=0.0)
ap.add_argument("--rate-mbit", type=float, default=50.0)
ap.add_argument("--seed", type=int, default=0)
args = ap.parse_args()

rng = random.Random(args.seed)
delay = args.delay_ms / 1000.0
jit = args.jitter_ms / 1000.0
byte_time = 8.0 / (args.rate_mbit * 1e6)


def open_sock(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    return s


sa, sb = open_sock(args.a), open_sock(args.b)
peer = {sa: sb, sb: sa}
queues = {sa: collections.deque(), sb: collections.deque()}  # keyed by output socket
last_due = {sa: 0.0, sb: 0.0}

while True:
    now = time.monotonic()
    for out, q in queues.items():
        while q and q[0][0] <= now:
            _, frame = q.popleft()
            try:
                out.send(frame)
            except OSError:
                pass
    due = [q[0][0] for q in queues.values() if q]
    timeout = max(0.0, min(due) - time.monotonic()) if due else None
    ready, _, _ = select.select([sa, sb], [], [], timeout)
    now = time.monotonic()
    for s in ready:
        while True:
            try:
                frame, addr = s.recvfrom(65536)
            except BlockingIOError:
                break
            if addr[2] == PACKET_OUTGOING:
                continue
            out = peer[s]
            d = delay + max(-jit, min(jit, rng.gauss(0.0, jit / 2.0))) if jit else delay
            t = max(now + d, last_due[out] + len(frame) * byte_time)
            last_due[out] = t
            queues[out].append((t, frame))
