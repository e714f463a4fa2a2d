#!/usr/bin/env python3
"""Rebuild the Stratum stream vectors from the shared captures.

Each vector is one TCP stream as `tshark -q -z follow,tcp,raw,N` prints it (the reassembled
bytes the dissector is fed), one chunk per line in capture order, with the capture time of the
packet that carried it (zipped, per direction, from the stream's packets with payload that are
not retransmissions):

    # comment
    c <epoch seconds> <hex>      bytes client -> server
    s <epoch seconds> <hex>      bytes server -> client

The client is tshark's Node 0 (the side that sent the first packet, the SYN in all these
captures). Long sessions are cut after their first `max_chunks` chunks to keep the files small;
PROVENANCE.tsv says which. The expected values in `src/dissect/stratum/tests.rs` were checked
against these same bytes with Python's json module and against `tshark -d tcp.port==P,json`.

Usage: python3 make_vectors.py /path/to/shared/data
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# name, dataset/file, tcp stream, max chunks (None = all), what it shows
VECTORS = [
    ("lab-xmrig-rx-plain-s0", "lab/xmrig-rx-plain.pcap", 0, None,
     "XMRig 6.26.0 Monero dialect (rx/0): login with job, job pushes, submits, keepalived"),
    ("lab-xmrig-gr-plain-s0", "lab/xmrig-gr-plain.pcap", 0, None,
     "XMRig 6.26.0 GhostRider over Bitcoin-style Stratum v1: subscribe, authorize, notify, submit"),
    ("nesfit-xmr-nanopool-s0", "nesfit-cryptomining/pcap/xmr-eu1.nanopool.org.pcapng", 0, None,
     "xmr/1.0 agent, Monero login (no jsonrpc member) and job pushes, nanopool"),
    ("nesfit-zec-nanopool-s0", "nesfit-cryptomining/pcap/zec-eu1.nanopool.org.pcapng", 0, 24,
     "Equihash Stratum (zcash): set_target, 8-item notify, multi-segment submits; first 24 chunks"),
    ("nesfit-eth-nanopool-s0", "nesfit-cryptomining/pcap/eth-eu1.nanopool.org.pcapng", 0, 40,
     "eth-proxy dialect: eth_submitLogin, eth_getWork answered with id 0, eth_submitHashrate; first 40 chunks"),
    ("ndpi-mining-s1", "ndpi/pcap/mining.pcapng", 1, 30,
     "xmr-stak-cpu Monero login with wallet.paymentid.worker, submits reusing id 1; first 30 chunks"),
    ("ndpi-mining-s3", "ndpi/pcap/mining.pcapng", 3, None,
     "EWBF Zcash miner on flypool: subscribe, authorize, set_target, notify, one submit"),
    ("cgminer-g0-s156", "nesfit-cryptomining/pcap/cgminer.g0.pcapng", 156, None,
     "HTTP getblocktemplate POST answered by litecoinpool's Stratum port with an HTTP/1.0 JSON-RPC error"),
    ("cgminer-g0-s429", "nesfit-cryptomining/pcap/cgminer.g0.pcapng", 429, None,
     "HTTP getwork POST answered by p2pool with a work unit (X-Long-Polling)"),
    ("cgminer-g0-s458", "nesfit-cryptomining/pcap/cgminer.g0.pcapng", 458, None,
     "HTTP getwork POST to a line-based pool: it answers each line, the body's id 0 with an error"),
    ("cgminer-g0-s165", "nesfit-cryptomining/pcap/cgminer.g0.pcapng", 165, None,
     "HTTP getblocktemplate POST never answered: not confirmed"),
    ("cgminer-g0-s232", "nesfit-cryptomining/pcap/cgminer.g0.pcapng", 232, None,
     "HTTP 400 sent before the getblocktemplate POST: no answer to the mining call, not confirmed"),
    ("cgminer-s1-s0", "nesfit-cryptomining/pcap/cgminer.s1.pcapng", 0, None,
     "ckproxy: subscribe, authorize, set_difficulty, notify, client.show_message, mining.ping"),
    ("cgminer-s1-s1", "nesfit-cryptomining/pcap/cgminer.s1.pcapng", 1, None,
     "Equihash pool answering subscribe with the wrong id, then set_target and a notify: pushed job"),
    ("cgminer-s1-s4", "nesfit-cryptomining/pcap/cgminer.s1.pcapng", 4, None,
     "subscribe answered (same id) with error -9 'invalid signature'"),
    ("cgminer-s1-s63", "nesfit-cryptomining/pcap/cgminer.s1.pcapng", 63, None,
     "subscribe answered with result true but the wrong id: not confirmed"),
    ("cgminer-g2-s1215", "nesfit-cryptomining/pcap/cgminer.g2.pcapng", 1215, None,
     "Ethereum Stratum pool: set_difficulty and a 0x seed/header/boundary notify"),
]

# dataset -> (capture origin, licence), from the datasets' MANIFEST.tsv
ORIGINS = {
    "lab": ("poolscope lab capture, see shared/data/lab/MANIFEST.tsv", "project-owned"),
    "nesfit-cryptomining": (
        "nesfit/DI-cryptominingdetection/PCAPs/{file}@808c6a19fb70",
        "no licence file (paper supplement, Vesely & Zadnik, Digital Investigation 2019): research data",
    ),
    "ndpi": ("ntop/nDPI/tests/cfgs/default/pcap/{file}@3b1286ab03b0", "LGPL-3.0"),
}


def run(args):
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout


def endpoint(ip4, ip6, port):
    ip = ip4 or ip6
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def follow(pcap, stream):
    text = run(["tshark", "-r", pcap, "-q", "-z", f"follow,tcp,raw,{stream}"])
    nodes, chunks = ["", ""], []
    for line in text.splitlines():
        if line.startswith("Node 0: "):
            nodes[0] = line[8:].strip()
        elif line.startswith("Node 1: "):
            nodes[1] = line[8:].strip()
        elif line.startswith("=") or ":" in line or not line.strip():
            continue
        else:
            chunks.append((1 if line.startswith("\t") else 0, line.strip()))
    return nodes, chunks


def times(pcap, stream):
    text = run(["tshark", "-r", pcap, "-Y",
                f"tcp.stream=={stream} && tcp.len>0 && !tcp.analysis.retransmission",
                "-T", "fields", "-e", "frame.time_epoch", "-e", "ip.src", "-e", "ipv6.src",
                "-e", "tcp.srcport"])
    out = {}
    for line in text.splitlines():
        t, ip4, ip6, port = line.split("\t")
        out.setdefault(endpoint(ip4, ip6, port), []).append(float(t))
    return out


def main():
    data = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"
    rows = ["vector\tsource\tstream\tclient\tchunks\tcontents\tcapture_origin\tcapture_licence"]
    for name, src, stream, max_chunks, what in VECTORS:
        pcap = os.path.join(data, src)
        nodes, chunks = follow(pcap, stream)
        t = times(pcap, stream)
        per_node = [t.get(nodes[0], []), t.get(nodes[1], [])]
        used = [0, 0]
        total = len(chunks)
        if max_chunks is not None:
            chunks = chunks[:max_chunks]
        with open(os.path.join(HERE, f"{name}.hex"), "w") as f:
            f.write(f"# {src} tcp.stream {stream}: {nodes[0]} (c) <-> {nodes[1]} (s)\n")
            f.write(f"# {what}\n")
            last = 0.0
            for node, hx in chunks:
                lst = per_node[node]
                ts = lst[used[node]] if used[node] < len(lst) else (lst[-1] if lst else last)
                used[node] += 1
                last = ts
                f.write(f"{'cs'[node]} {ts:.6f} {hx}\n")
        kept = f"{len(chunks)} of {total}"
        origin, licence = ORIGINS[src.split("/")[0]]
        origin = origin.format(file=os.path.basename(src))
        rows.append(f"{name}.hex\t{src}\t{stream}\t{nodes[0]}\t{kept}\t{what}\t{origin}\t{licence}")
    with open(os.path.join(HERE, "PROVENANCE.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
