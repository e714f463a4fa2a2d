#!/usr/bin/env python3
"""Rebuild the TLS stream vectors and the reference copies they are checked against.

Each vector is one TCP stream as `tshark -q -z follow,tcp,raw,N` prints it (the reassembled
bytes the dissector is fed), cut in each direction right after the first record that ends the
readable handshake (ChangeCipherSpec, application data, ServerHelloDone, a TLS 1.3
ServerHello) so that the files stay a few KiB. Format, one chunk per line, in capture order:

    # comment
    c <hex>      bytes client -> server
    s <hex>      bytes server -> client

The client is the endpoint that sent the ClientHello according to the tshark reference table
(or Node 0 when there is none). Reference rows for the same streams are copied, filtered, into
tests/data/tls-ref/ so the unit tests need nothing outside the repository.

Usage: python3 make_vectors.py /path/to/shared/data
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REF_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "tls-ref"))

# name, dataset, pcap file, tcp stream, why it is here
VECTORS = [
    ("ndpi-443-curl-s0", "ndpi", "443-curl.pcap", 0,
     "TLS 1.2, curl, certificate chain of 2 (Let's Encrypt)"),
    ("ndpi-long-cert-s0", "ndpi", "long_tls_certificate.pcap", 0,
     "certificate message spanning several records and TCP segments"),
    ("foxio-tls-handshake-s0", "foxio-ja4", "tls-handshake.pcapng", 0,
     "TLS 1.3 Chrome: GREASE, cert_encrypted, JA4 and JA4S"),
    ("foxio-tls-handshake-s5", "foxio-ja4", "tls-handshake.pcapng", 5,
     "TLS 1.2 with a certificate chain, JA4S t120300"),
    ("foxio-tls-non-ascii-alpn-s0", "foxio-ja4", "tls-non-ascii-alpn.pcapng", 0,
     "first ALPN value 0xbaad: JA4 ALPN hex rule"),
    ("foxio-tls-alpn-h2-s0", "foxio-ja4", "tls-alpn-h2.pcap", 0,
     "IPv6; server selects h2 (JA4S ALPN); 0xeeee-style non-GREASE sigalgs"),
    ("foxio-tls12-s0", "foxio-ja4", "tls12.pcap", 0,
     "Firefox ClientHello only (no server reply captured); FoxIO JA4_r and JA4_ro"),
    ("sv-client-hello-frag-s0", "suricata-verify", "tls__tls-client-hello-frag-01__dump_mtu300.pcap", 0,
     "ClientHello split over several TCP segments (MTU 300)"),
    ("sv-sslv2-upgrade-s0", "suricata-verify", "sslv2-tls-upgrade-01__ssl-v2-s1.pcap", 0,
     "SSLv2-format ClientHello answered by a TLS 1.0 ServerHello and certificate"),
    ("sv-tls13-draft18-s0", "suricata-verify", "tls__tls13-draft18__tls13_draft18.pcap", 0,
     "TLS 1.3 draft 18 ServerHello layout (no session id)"),
    ("sv-tls13-draft14-s0", "suricata-verify", "tls__tls13-draft14__tls13_draft14.pcap", 0,
     "TLS 1.3 draft 14 ServerHello with version 0x0304 (draft layout)"),
    ("sv-tls13-draft22-s0", "suricata-verify", "tls__tls13-draft22__tls13_draft22.pcap", 0,
     "TLS 1.3 draft 22 with HelloRetryRequest"),
    # nesfit-cryptomining has no licence file: its one TLS flow is checked by the corpus sweep
    # only, no bytes are copied here.
    ("lab-xmrig-rx-tls-s0", "lab", "xmrig-rx-tls.pcap", 0,
     "XMRig 6.26 (OpenSSL 3.0) to a TLS pool, SNI localhost"),
    ("lab-xmrig-rx-tls-expjobs-s0", "lab", "xmrig-rx-tls-expjobs.pcap", 0,
     "XMRig 6.26 to a TLS pool without SNI (JA4 'i')"),
]

HANDSHAKE, CCS, APPDATA = 22, 20, 23


def follow(pcap, stream):
    out = subprocess.run(
        ["tshark", "-r", pcap, "-q", "-z", f"follow,tcp,raw,{stream}"],
        check=True, capture_output=True, text=True).stdout
    nodes, chunks = {}, []
    for line in out.splitlines():
        if line.startswith("Node 0: ") or line.startswith("Node 1: "):
            nodes[int(line[5])] = line[8:].strip()
        elif line.startswith("=") or ":" in line or not line.strip():
            continue
        else:
            node = 1 if line.startswith("\t") else 0
            chunks.append((node, bytes.fromhex(line.strip())))
    return nodes, chunks


def end_of_readable(data):
    """Offset just after the record that ends the readable handshake, or None."""
    at, hs = 0, b""
    if data and data[0] & 0x80:  # SSLv2 record: keep it whole and stop
        n = 2 + (((data[0] & 0x7F) << 8) | data[1])
        return n if len(data) >= n else None
    while at + 5 <= len(data):
        ctype, length = data[at], int.from_bytes(data[at + 3:at + 5], "big")
        end = at + 5 + length
        if end > len(data):
            return None
        if ctype in (CCS, APPDATA):
            return end
        if ctype == HANDSHAKE:
            hs += data[at + 5:end]
            while len(hs) >= 4:
                mlen = int.from_bytes(hs[1:4], "big")
                if len(hs) < 4 + mlen:
                    break
                mtype, body = hs[0], hs[4:4 + mlen]
                hs = hs[4 + mlen:]
                if mtype == 14:
                    return end
                if mtype == 2 and b"\x00\x2b\x00\x02\x03\x04" in body:
                    return end
        at = end
    return None


def cut(chunks, node):
    """Keep a direction's chunks up to the end of its readable handshake."""
    data = b"".join(c for n, c in chunks if n == node)
    stop = end_of_readable(data)
    return len(data) if stop is None else stop


def ref_rows(data_dir, dataset, pcap_name, stream):
    path = os.path.join(data_dir, dataset, "tshark-ref", pcap_name + ".tls.tsv")
    if not os.path.exists(path):
        return None, []
    with open(path) as f:
        lines = f.read().splitlines()
    header = lines[0]
    rows = [l for l in lines[1:] if l.split("\t")[3] == str(stream) and l.split("\t")[2] == "tcp"]
    return header, rows


def manifest_row(data_dir, dataset, pcap_name):
    """The dataset manifest's row for a capture: file, repo, path, commit, licence, ..."""
    with open(os.path.join(data_dir, dataset, "MANIFEST.tsv")) as f:
        rows = [l.split("\t") for l in f.read().splitlines()[1:]]
    for r in rows:
        if r[0] in (f"pcap/{pcap_name}", pcap_name):
            return r
    return None


def main():
    data_dir = sys.argv[1]
    os.makedirs(REF_OUT, exist_ok=True)
    provenance = ["vector\tsource\tstream\tclient\treferences\tcontents\tcapture_origin\tcapture_licence"]
    tsv_copies, fox_copies = {}, {}
    for name, dataset, pcap_name, stream, why in VECTORS:
        pcap = os.path.join(data_dir, dataset, "pcap" if dataset != "lab" else "", pcap_name)
        nodes, chunks = follow(pcap, stream)
        header, rows = ref_rows(data_dir, dataset, pcap_name, stream)
        client = next((n for n, c in chunks if c[:1] == b"\x16" and c[5:6] == b"\x01"), 0)
        for r in rows:
            f = r.split("\t")
            if f[8].split(";")[0] == "1":
                ep = f"[{f[4]}]:{f[5]}" if ":" in f[4] else f"{f[4]}:{f[5]}"
                client = 0 if nodes.get(0) == ep else 1
                break
        keep = {0: cut(chunks, 0), 1: cut(chunks, 1)}
        seen = {0: 0, 1: 0}
        lines = [f"# {dataset}/{pcap_name} tcp stream {stream}: {why}",
                 f"# client {nodes.get(client)} server {nodes.get(1 - client)}"]
        for node, data in chunks:
            room = keep[node] - seen[node]
            if room <= 0:
                continue
            part = data[:room]
            seen[node] += len(part)
            lines.append(("c " if node == client else "s ") + part.hex())
        with open(os.path.join(HERE, name + ".hex"), "w") as f:
            f.write("\n".join(lines) + "\n")
        refs = []
        if rows:
            refs.append(f"tshark-ref/{pcap_name}.tls.tsv")
            tsv_copies.setdefault(pcap_name, (header, []))[1].extend(rows)
        if dataset == "foxio-ja4":
            jpath = os.path.join(data_dir, dataset, "expected", "python", pcap_name + ".json")
            with open(jpath) as f:
                entries = [e for e in json.load(f) if e.get("stream") == stream]
            if entries:
                refs.append(f"foxio-ja4/expected/python/{pcap_name}.json")
                fox_copies.setdefault(pcap_name, []).extend(entries)
        if dataset == "lab":
            refs.append("lab/MANIFEST.tsv")
        if dataset == "lab":
            origin, licence = "lab capture made for this project", "project"
        else:
            r = manifest_row(data_dir, dataset, pcap_name) or ["", "?", "?", "?", "?"]
            origin, licence = f"{r[1]}/{r[2]}@{r[3][:12]}", r[4]
        provenance.append("\t".join([name + ".hex", f"{dataset}/{pcap_name}", str(stream),
                                     nodes.get(client, "?"), ";".join(refs) or "-", why,
                                     origin, licence]))
    with open(os.path.join(HERE, "PROVENANCE.tsv"), "w") as f:
        f.write("\n".join(provenance) + "\n")
    for pcap_name, (header, rows) in tsv_copies.items():
        with open(os.path.join(REF_OUT, pcap_name + ".tls.tsv"), "w") as f:
            f.write("\n".join([header] + rows) + "\n")
    for pcap_name, entries in fox_copies.items():
        with open(os.path.join(REF_OUT, pcap_name + ".foxio.json"), "w") as f:
            json.dump(entries, f, indent=1)
            f.write("\n")
    # Where each reference copy comes from, with the licence its dataset manifest gives.
    ref_prov = ["copy\tcopied_from\tfiltered_to\tcapture_origin\tcapture_licence\tmade_by"]
    datasets = {v[2]: v[1] for v in VECTORS}
    for pcap_name, (header, rows) in sorted(tsv_copies.items()):
        ds = datasets[pcap_name]
        r = manifest_row(data_dir, ds, pcap_name) or ["", "?", "?", "?", "?"]
        streams = sorted({int(x.split("\t")[3]) for x in rows})
        ref_prov.append("\t".join([
            pcap_name + ".tls.tsv", f"{ds}/tshark-ref/{pcap_name}.tls.tsv",
            "tcp streams " + ",".join(map(str, streams)),
            f"{r[1]}/{r[2]}@{r[3][:12]}", r[4], "Wireshark/tshark (table made for the shared data)"]))
    for pcap_name, entries in sorted(fox_copies.items()):
        ds = datasets[pcap_name]
        r = manifest_row(data_dir, ds, pcap_name) or ["", "?", "?", "?", "?"]
        streams = sorted({e["stream"] for e in entries})
        ref_prov.append("\t".join([
            pcap_name + ".foxio.json", f"{ds}/expected/python/{pcap_name}.json",
            "streams " + ",".join(map(str, streams)),
            f"{r[1]}/{r[2]}@{r[3][:12]}", r[4], "FoxIO ja4.py output shipped with FoxIO-LLC/ja4"]))
    ref_prov.append("\t".join(["lab-MANIFEST.tsv", "lab/MANIFEST.tsv", "rows of the vectors' captures",
                                "lab captures (made for this project)", "project", "lab notes"]))
    ref_prov.append("\t".join(["KNOWN_DISAGREEMENTS.tsv", "-", "-", "-", "project",
                                "written by hand: each disagreement we keep, with its reason"]))
    with open(os.path.join(REF_OUT, "PROVENANCE.tsv"), "w") as f:
        f.write("\n".join(ref_prov) + "\n")
    with open(os.path.join(data_dir, "lab", "MANIFEST.tsv")) as f:
        manifest = f.read().splitlines()
    with open(os.path.join(REF_OUT, "lab-MANIFEST.tsv"), "w") as f:
        wanted = {v[2] for v in VECTORS if v[1] == "lab"}
        f.write("\n".join([manifest[0]] + [l for l in manifest[1:] if l.split("\t")[0] in wanted]) + "\n")


if __name__ == "__main__":
    main()
