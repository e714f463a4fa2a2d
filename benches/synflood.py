#!/usr/bin/env python3
"""Writes a pcap of N distinct half-open TCP flows: one SYN each, as a SYN flood or a port scan
makes them, all within a minute so that every flow is live at once.

    benches/synflood.py OUT.pcap [N]

Sources are spread over 10.0.0.0/8 and ports 1024-65535, the destination is one web server port (80);
every (source, port) pair is distinct, so N packets make N flows.
"""
import struct
import sys


def main() -> None:
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    eth = bytes.fromhex("020000000002" "020000000001" "0800")
    dst = bytes([192, 0, 2, 80])
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        t0 = 1_764_000_000
        for i in range(n):
            host, port = divmod(i, 64_000)
            src = struct.pack(">I", (10 << 24) | (host + 1))
            sport = 1024 + port
            ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, i & 0xFFFF, 0, 64, 6, 0, src, dst)
            tcp = struct.pack(">HHIIBBHHH", sport, 80, i * 7919 & 0xFFFFFFFF, 0, 0x50, 0x02, 64240, 0, 0)
            frame = eth + ip + tcp
            us = i * 60_000_000 // n
            f.write(struct.pack("<IIII", t0 + us // 1_000_000, us % 1_000_000, len(frame), len(frame)))
            f.write(frame)


if __name__ == "__main__":
    main()
