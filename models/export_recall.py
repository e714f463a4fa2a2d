#!/usr/bin/env python3
"""Recall of the flow-only model on real exporter output, by active timeout.

    python3 models/export_recall.py CORPUS [POOLSCOPE]

nfdump's exporter, nfpcapd, reads each capture with its packet times and the active timeouts
60, 120, 300 and 1800 s (inactive 60 s); nfdump writes the records as CSV; `poolscope score`
reads them with the feeds off. Mining: the CJ-Sniffer sessions (real XMRig and ethminer
sessions to real pools); a conversation of at least 300 s counts as a long session. Benign:
the benign captures of the corpus and the shipped benign look-alikes. Two models score each
export: the shipped one (which trained on these captures) and one trained on the shipped
table without the CJ-Sniffer sessions (held out). Prints one line per timeout and model.
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

here = Path(__file__).resolve().parent.parent
corpus = Path(sys.argv[1]).resolve()
poolscope = str(Path(sys.argv[2]).resolve()) if len(sys.argv) > 2 else str(here / "target/release/poolscope")
TIMEOUTS = [60, 120, 300, 1800]
MINING = sorted((corpus / "cjsniffer/pcap").glob("*.pcap"))
BENIGN_DIRS = ["ndpi/pcap", "ndpi-more/pcap", "zeek-traces/pcap", "suricata-verify/pcap",
               "suricata-verify-more/pcap", "foxio-ja4/pcap", "arkime-pcaps/pcap",
               "iot-longlived/pcap"]
BENIGN = [p for d in BENIGN_DIRS for p in sorted((corpus / d).glob("*.pcap*"))
          if p.name != "mining.pcapng"]
BENIGN += sorted((corpus / "lab").glob("benign-*.pcap"))
BENIGN += sorted((here / "models/training/benign-lab").glob("*.pcap"))


def export(captures, active, work, tag):
    """One nfdump CSV (header once) of every capture's nfpcapd records."""
    header, rows = None, []
    for i, cap in enumerate(captures):
        store = Path(work) / f"{tag}{active}-{i}"
        store.mkdir()
        r = subprocess.run(["nfpcapd", "-r", str(cap), "-w", str(store), "-e", f"{active},60"],
                           capture_output=True)
        if r.returncode != 0 or not any(store.iterdir()):
            continue
        out = subprocess.run(["nfdump", "-R", str(store), "-o", "csv", "-q"],
                             capture_output=True, text=True, env={**os.environ, "TZ": "UTC"})
        lines = [l for l in out.stdout.splitlines() if l and l[0].isdigit()]
        if header is None:
            full = subprocess.run(["nfdump", "-R", str(store), "-o", "csv"],
                                  capture_output=True, text=True, env={**os.environ, "TZ": "UTC"})
            header = full.stdout.splitlines()[0]
        rows += lines
    path = Path(work) / f"flows-{tag}{active}.csv"
    path.write_text("\n".join([header or ""] + rows) + "\n")
    return path


def score(csv_path, model):
    out = Path(str(csv_path) + f".{Path(model).stem}.ndjson")
    subprocess.run([poolscope, "score", "-q", "--no-feeds", "--netflow-model", str(model),
                    str(csv_path), "-o", str(out)], check=True)
    return [json.loads(l) for l in out.read_text().splitlines()]


def flagged(r):
    return r.get("model_verdict") in ("suspect", "mining")


with tempfile.TemporaryDirectory() as work:
    held = Path(work) / "held-out.model"
    subprocess.run([poolscope, "train", "-q", "--features", "netflow", "--data",
                    str(here / "models/training/netflow.parquet"), "--exclude", "cjsniffer/*",
                    "-o", str(held)], check=True)
    models = [("shipped", here / "models/netflow.model"), ("cjsniffer held out", held)]
    print(f"{'active timeout':>14}  {'model':<18} {'long sessions flagged':>22}  "
          f"{'benign conversations flagged (suspect/mining of TCP)':>40}")
    for t in TIMEOUTS:
        m_csv, b_csv = export(MINING, t, work, "m"), export(BENIGN, t, work, "b")
        for name, model in models:
            m = [r for r in score(m_csv, model) if r["transport"] == "tcp"]
            long_ = [r for r in m if r["duration"] >= 300]
            b = [r for r in score(b_csv, model) if r["transport"] == "tcp"]
            bs = sum(r["model_verdict"] in ("suspect", "mining") for r in b)
            bm = sum(r["model_verdict"] == "mining" for r in b)
            print(f"{t:>12} s  {name:<18} {sum(map(flagged, long_)):>10}/{len(long_):<11}  "
                  f"{bs}/{bm} of {len(b)} ({bs / max(1, len(b)) * 1e4:.1f}/{bm / max(1, len(b)) * 1e4:.1f} per 10k)")
