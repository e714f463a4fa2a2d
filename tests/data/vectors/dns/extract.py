#!/usr/bin/env python3
"""Regenerate the DNS byte vectors and their tshark expectations.

Reads real captures under ../shared/data (relative to the crate root) with tshark and writes,
for each vector listed in VECTORS:
  NAME.hex          the DNS message (UDP payload, reassembled if fragmented), lowercase hex
  NAME.tshark.tsv   tshark's decode of the answer section, one record a line:
                    kind  owner  ttl  value     (kind A, AAAA or CNAME; other types omitted)
                    preceded by "QR - - 0|1" (query or response) and "Q name - qtype" per question
and for each TCP stream in STREAMS:
  NAME.c2s.hex / NAME.s2c.hex   the reassembled stream bytes of each direction (length-prefixed)
and PROVENANCE.tsv naming the capture and frame (or TCP stream) of each file.

Run from the crate root: python3 tests/data/vectors/dns/extract.py
"""
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

DATA = os.path.join("..", "shared", "data", "ndpi", "pcap")
OUT = os.path.join("tests", "data", "vectors", "dns")

# name, capture, frame, what it covers
VECTORS = [
    ("whatsapp_a", "dns.pcap", 5, "response, eight A records, no CNAME"),
    ("whatsapp_query", "dns.pcap", 4, "query (no resolutions)"),
    ("google_no_answer", "dns.pcap", 1, "response with an empty answer section"),
    ("apple_cname2", "dns_ambiguous_names.pcap", 2, "CNAME chain of two, eight A records, OPT"),
    ("skype_cname3", "dns_ambiguous_names.pcap", 6, "CNAME chain of three, one A record"),
    ("android_cname1", "dns_ambiguous_names.pcap", 10, "one CNAME, sixteen A records"),
    ("teams_nxdomain", "dns_ambiguous_names.pcap", 12, "NXDOMAIN for a wildcard name, SOA in authority"),
    ("erfpop_aaaa", "dns_fragmented.pcap", 35, "two AAAA records"),
    ("fg2mgmt_aaaa_glue", "dns_fragmented.pcap", 21, "AAAA answer; NS authority and A/AAAA glue that must be ignored"),
    ("pa_aaaa_rrsig_frag", "dns_fragmented.pcap", 6, "IPv6-fragmented response: AAAA + RRSIG answers, glue"),
    ("invalid_chars", "dns-invalid-chars.pcap", 2, "owner name with control bytes in a label"),
    ("long_domainname_nx", "dns_long_domainname.pcap", 2, "NXDOMAIN with SOA"),
    ("dnscat_cname_only", "bad-dns-traffic.pcap", 9, "dnscat2 tunnel: CNAME answer, no address"),
    ("dnscat_mx", "bad-dns-traffic.pcap", 3, "dnscat2 tunnel: MX answer"),
    ("dnscat_txt", "bad-dns-traffic.pcap", 5, "dnscat2 tunnel: TXT answer"),
    ("malformed_name_too_long", "malformed_dns.pcap", 2, "second question name too long (tshark: <Name too long>)"),
]

# name, capture, tcp.stream index, what it covers
STREAMS = [
    ("tcp_dnskey_v4", "dns_fragmented.pcap", 1, "DNS over TCP/IPv4: one DNSKEY query and its 1730-byte response"),
    ("tcp_dnskey_v6", "dns_fragmented.pcap", 0, "DNS over TCP/IPv6: one DNSKEY query and its 1730-byte response"),
]


def tshark(*args):
    return subprocess.run(["tshark", *args], check=True, capture_output=True, text=True).stdout


def answers(pcap, frame):
    pdml = tshark("-r", pcap, "-Y", f"frame.number=={frame}", "-T", "pdml")
    root = ET.fromstring(pdml)
    rows = []
    for proto in root.iter("proto"):
        if proto.get("name") != "dns":
            continue
        for flags in proto.iter("field"):
            if flags.get("name") == "dns.flags.response":
                rows.append(("QR", "-", "-", flags.get("show")))
                break
        for section in proto.findall("field"):
            if section.get("show") == "Queries":
                for q in section.findall("field"):
                    f = {c.get("name"): c.get("show") for c in q.findall("field")}
                    rows.append(("Q", f["dns.qry.name"], "-", f["dns.qry.type"]))
            if section.get("show") != "Answers":
                continue
            for rr in section.findall("field"):
                f = {c.get("name"): c.get("show") for c in rr.findall("field")}
                for kind, key in (("A", "dns.a"), ("AAAA", "dns.aaaa"), ("CNAME", "dns.cname")):
                    if key in f:
                        rows.append((kind, f["dns.resp.name"], f["dns.resp.ttl"], f[key]))
    return rows


def main():
    prov = [("file", "capture", "frame_or_stream", "what")]
    for name, cap, frame, what in VECTORS:
        pcap = os.path.join(DATA, cap)
        payload = tshark("-r", pcap, "-Y", f"frame.number=={frame}", "-T", "fields", "-e", "udp.payload").strip()
        if not payload:
            sys.exit(f"{cap} frame {frame}: no UDP payload")
        with open(os.path.join(OUT, name + ".hex"), "w") as f:
            f.write(payload.lower() + "\n")
        with open(os.path.join(OUT, name + ".tshark.tsv"), "w") as f:
            for row in answers(pcap, frame):
                f.write("\t".join(row) + "\n")
        prov.append((name + ".hex", "ndpi/pcap/" + cap, f"frame {frame}", what))
        prov.append((name + ".tshark.tsv", "ndpi/pcap/" + cap, f"frame {frame}", "tshark answer-section decode"))
    for name, cap, stream, what in STREAMS:
        pcap = os.path.join(DATA, cap)
        out = tshark("-r", pcap, "-q", "-z", f"follow,tcp,raw,{stream}")
        c2s, s2c = [], []
        for line in out.splitlines():
            if not line or line.startswith("=") or ":" in line:
                continue
            # follow,raw prints the second direction indented by a tab
            (s2c if line.startswith("\t") else c2s).append(line.strip())
        for suffix, parts in (("c2s", c2s), ("s2c", s2c)):
            with open(os.path.join(OUT, f"{name}.{suffix}.hex"), "w") as f:
                f.write("".join(parts).lower() + "\n")
            prov.append((f"{name}.{suffix}.hex", "ndpi/pcap/" + cap, f"tcp.stream {stream}", what))
    with open(os.path.join(OUT, "PROVENANCE.tsv"), "w") as f:
        for row in prov:
            f.write("\t".join(row) + "\n")


if __name__ == "__main__":
    main()
