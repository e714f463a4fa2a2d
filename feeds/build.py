#!/usr/bin/env python3
"""Build poolscope's shipped intelligence feeds from the upstream lists in ../shared/data.

Usage (from the repository root or from feeds/):

    python3 feeds/build.py [--data ../shared/data] [--out feeds]

Python 3 standard library only. The output is deterministic: the same inputs give byte-identical
files. Rows whose `source` is not one this script produces (for example `learned` rows, or rows
merged by `poolscope feed import`) are read back from the existing files and kept, so a rebuild
never drops an analyst's additions.

What goes where, and why, is described in feeds/README.md.
"""

import argparse
import csv
import datetime
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# Source names written in the `source` column, and the files' snapshot dates (YYYY-MM-DD, or a
# shorter YYYY when upstream gives no better date). Dates come from the data's MANIFEST.tsv or
# from the files' own "Last modified" headers; see README.md.
COINBLOCKER = "coinblockerlists"
COINBLOCKER_DATE = "2018-06-06"
NOCOIN = "nocoin"
NDPI = "ndpi"
NDPI_MINING_HOSTS_DATE = "2018-04-24"
SMASHED = "smashed"
SMASHED_DATE = "2018-05-13"
SMASHED_PORTS = "smashed-ports"
NEMEA = "nemea"
NEMEA_DATE = "2017"
SSLBL = "abuse.ch-sslbl"
LAB = "lab"
# 2024-2026 lists (shared/data/pool-lists-2026/MANIFEST.tsv gives each file's commit and date).
MALTRAIL = "maltrail"
MALTRAIL_MALWARE = "maltrail-malware"
ET_OPEN = "et-open"
FALCO = "falco"
FALCO_DATE = "2021-09-17"  # the lists' last upstream change (the file itself is from 2026)
FALCO_PORTS = "falco-ports"
XMRIG = "xmrig"
SHADOWWHISPERER = "shadowwhisperer"

BUILD_SOURCES = {
    COINBLOCKER,
    NOCOIN,
    NDPI,
    SMASHED,
    SMASHED_PORTS,
    NEMEA,
    SSLBL,
    LAB,
    MALTRAIL,
    MALTRAIL_MALWARE,
    ET_OPEN,
    FALCO,
    FALCO_PORTS,
    XMRIG,
    SHADOWWHISPERER,
}

# A port used by at least this many distinct pools of the sMaSheD catalogue becomes a port-only
# hint (`*` address); ports below 1024 and the common HTTP alternates are left out because
# ordinary services use them far more than pools do.
PORT_HINT_MIN_POOLS = 2
PORT_HINT_EXCLUDE = {8008, 8080, 8443, 8888}
# Falco's miner_ports also lists ports that ordinary services own (SMTP 25, HTTP alternates
# 8000/8001, Privoxy 8118, the Bitcoin peer-to-peer port 8333, which is a node and not a pool,
# and 8899): those would make half the internet a hint, so they are left out.
FALCO_PORT_EXCLUDE = {8000, 8001, 8118, 8333, 8899}

HEADERS = {
    "pool-domains.tsv": ["domain", "coin", "kind", "source", "date", "note"],
    "browser-mining-domains.tsv": ["domain", "source", "date"],
    "pool-endpoints.tsv": ["ip", "port", "coin", "host", "kind", "source", "date", "note"],
    "pool-certs.tsv": [
        "sha1",
        "sha256",
        "spki_sha256",
        "subject",
        "issuer",
        "first_seen",
        "last_seen",
        "source",
        "note",
    ],
    "miner-fingerprints.tsv": ["kind", "value", "client", "source", "date", "note"],
    "allowlist.tsv": ["kind", "value", "reason", "source", "date"],
}

PREAMBLE = {
    "pool-domains.tsv": "Mining-pool domains (suffix match on label boundaries). kind=pool is "
    "strong evidence while the row is fresh; kind=crypto-related (wallets, exchanges, miner "
    "software sites) and kind=miner-malware (a miner family's control or payload hosts) are weak hints.",
    "browser-mining-domains.tsv": "Browser-mining (cryptojacking script / WebSocket proxy) "
    "domains. Kept apart from pool domains: a hit means a web page mined, not a miner program.",
    "pool-endpoints.tsv": "Pool server addresses: IP or CIDR, port (empty = any port). "
    "ip=* with a port is a port-only hint (weak). kind=pool (strong while fresh) or miner-malware (weak).",
    "pool-certs.tsv": "Certificates of pool servers (hex, lowercase). No public list exists in "
    "the shipped data; rows come from `learned` captures or `poolscope feed import`.",
    "miner-fingerprints.tsv": "TLS client/server fingerprints of miners. Always weak hints: "
    "a miner built on a stock TLS library shares its fingerprint with benign programs.",
    "allowlist.tsv": "Known-good values: kind domain (and names under it), host (exactly "
    "this name), ip, cidr, cert. An allowlisted value suppresses every list's match on it.",
}

MONTHS = {
    m: i + 1
    for i, m in enumerate(
        [
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        ]
    )
}

DOMAIN_RE = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)+$")
IPV4_RE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


class Skips:
    """Counts of input lines left out, per (file, reason), for the build summary."""

    def __init__(self):
        self.counts = {}

    def add(self, path, reason):
        key = (os.path.basename(path), reason)
        self.counts[key] = self.counts.get(key, 0) + 1


SKIPS = Skips()


def norm_domain(raw):
    """Lowercase, strip a trailing dot and a leading wildcard, IDNA-encode; None if not a name."""
    d = raw.strip().rstrip(".").lower()
    if d.startswith("*."):
        d = d[2:]
    elif d.startswith("."):
        d = d[1:]
    if not d.isascii():
        try:
            d = d.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if IPV4_RE.match(d) or len(d) > 253 or not DOMAIN_RE.match(d):
        return None
    return d


def is_ipv4(s):
    if not IPV4_RE.match(s):
        return False
    return all(0 <= int(p) <= 255 for p in s.split("."))


def read_lines(path):
    with open(path, encoding="utf-8-sig") as f:
        return f.read().splitlines()


def last_modified(path):
    """The `Last modified: 05 March 2025` date of a NoCoin file, as YYYY-MM-DD."""
    for line in read_lines(path)[:20]:
        m = re.search(r"Last modified:\s*(\d{1,2})\s+([A-Za-z]+)\s+(\d{4})", line)
        if m and m.group(2).lower() in MONTHS:
            d = datetime.date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
            return d.isoformat()
    sys.exit(f"{path}: no 'Last modified' date")


def domain_list(path):
    """Plain list (one name a line) or hosts file (`0.0.0.0 name`), normalised."""
    out = []
    for line in read_lines(path):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        parts = s.split()
        if len(parts) >= 2 and (is_ipv4(parts[0]) or ":" in parts[0]):
            parts = parts[1:]
        name = parts[0]
        if ":" in name:
            # `host:port` lines (`hashbag.cc:8688`, `server.com:1234`) are configuration
            # snippets, not list entries; `server.com` would be a false positive for everyone.
            SKIPS.add(path, "host:port")
            continue
        d = norm_domain(name)
        if d is None:
            SKIPS.add(path, "not a domain name")
            continue
        if d == "localhost" or d.endswith(".localhost"):
            continue
        out.append(d)
    return out


def adblock_domains(path):
    """`||domain^` rules (with or without options) of an Adblock Plus list."""
    out = []
    for line in read_lines(path):
        s = line.strip()
        if not s or s.startswith("!") or s.startswith("["):
            continue
        if s.startswith("@@"):
            SKIPS.add(path, "exception rule")
            continue
        if "##" in s or "#@#" in s or "#?#" in s or "#$#" in s:
            SKIPS.add(path, "cosmetic rule")
            continue
        if not s.startswith("||"):
            SKIPS.add(path, "URL pattern")
            continue
        body = s[2:].split("$", 1)[0]
        if body.endswith("^"):
            body = body[:-1]
        if any(c in body for c in "/*^?=|:"):
            SKIPS.add(path, "URL pattern")
            continue
        if is_ipv4(body):
            # Browser-mining proxies by address: there is no browser-mining IP feed, and a
            # pool-endpoint row would give them the wrong meaning.
            SKIPS.add(path, "IP address rule")
            continue
        d = norm_domain(body)
        if d is None:
            SKIPS.add(path, "not a domain name")
            continue
        out.append(d)
    return out


def read_csv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def pcap_date(path):
    """UTC date of the first packet of a little- or big-endian classic pcap file."""
    with open(path, "rb") as f:
        head = f.read(24 + 16)
    magic = head[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        sys.exit(f"{path}: not a classic pcap file")
    (ts,) = struct.unpack(endian + "I", head[24:28])
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).date().isoformat()


class Table:
    """Rows of one feed file, deduplicated on a key; later dates win on a duplicate key."""

    def __init__(self, name, key_cols, date_col="date"):
        self.name = name
        self.cols = HEADERS[name]
        self.key_cols = key_cols
        self.date_col = date_col
        self.rows = {}

    def add(self, merge=None, **row):
        full = {c: str(row.get(c, "")) for c in self.cols}
        if "kind" in full and not full["kind"] and self.name != "miner-fingerprints.tsv":
            full["kind"] = "pool"
        for c, v in full.items():
            if "\t" in v or "\n" in v:
                sys.exit(f"{self.name}: tab or newline in {c}={v!r}")
        key = tuple(full[c] for c in self.key_cols)
        old = self.rows.get(key)
        if old is None:
            self.rows[key] = full
        elif merge:
            merge(old, full)
        elif full[self.date_col] > old[self.date_col]:
            self.rows[key] = full

    def keep_foreign(self, path):
        """Carry over rows of the existing file whose source this script does not produce."""
        if not os.path.exists(path):
            return 0
        header = None
        kept = 0
        for line in read_lines(path):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if header is None:
                header = fields
                continue
            row = dict(zip(header, fields))
            if row.get("source", "") in BUILD_SOURCES:
                continue
            self.add(**row)
            kept += 1
        return kept

    def write(self, path):
        rows = sorted(self.rows.values(), key=lambda r: [r[c] for c in self.cols])
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(f"# {PREAMBLE[self.name]}\n")
            f.write("# Generated by feeds/build.py from ../shared/data (see feeds/README.md); rows\n")
            f.write("# from other sources (learned, imported) are kept on rebuild.\n")
            f.write("\t".join(self.cols) + "\n")
            for r in rows:
                f.write("\t".join(r[c] for c in self.cols) + "\n")
        return rows


def manifest_dates(folder):
    """`file -> YYYY-MM-DD` (the commit date) from a data folder's MANIFEST.tsv."""
    out = {}
    for r in read_csv_tsv(os.path.join(folder, "MANIFEST.tsv")):
        out[r["file"]] = r["commit_date"].strip()[:10]
    return out


def read_csv_tsv(path):
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def maltrail_trails(path):
    """A Maltrail static trail file: yields (kind, value, port, from_url) per trail, kind
    `domain` or `ip`. `# ` lines (references, commented-out trails) are comments. A URL
    (`http://host/path`, `host/path`) gives its host; a bare path (`/panel/x.php`) names no
    host and is skipped."""
    for line in read_lines(path):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        from_url = False
        if "://" in s:
            s = s.split("://", 1)[1]
            from_url = True
        if s.startswith("/"):
            SKIPS.add(path, "URL path without a host")
            continue
        if "/" in s:
            s = s.split("/", 1)[0]
            from_url = True
        host, port = s, None
        if s.count(":") == 1:
            host, p = s.split(":")
            if not p.isdigit() or not 0 < int(p) < 65536:
                SKIPS.add(path, "bad port")
                continue
            port = int(p)
        if is_ipv4(host):
            yield "ip", host, port, from_url
            continue
        d = norm_domain(host)
        if d is None:
            SKIPS.add(path, "not a domain name")
            continue
        yield "domain", d, None, from_url


ET_HOST_RE = re.compile(
    r"\b(dns\.query|tls\.sni|http\.host|tls\.cert_subject)\s*;\s*content\s*:\s*\"([^\"]*)\""
)


def et_content(raw):
    """A Suricata content string with its `|2e|` hex runs decoded."""
    return re.sub(
        r"\|([0-9a-fA-F ]+)\|",
        lambda m: bytes.fromhex(m.group(1).replace(" ", "")).decode("latin-1"),
        raw,
    )


def et_rules(path):
    """ET Open rules: yields (kind, domain, date, note) for each host a rule matches in
    `dns.query`, `tls.sni`, `http.host` or the CN of `tls.cert_subject`. The kind follows the
    rule's msg: browser mining (`browser`), a miner's control server (`miner-malware`), else a
    pool. The date is the rule's `updated_at` (else `created_at`)."""
    for line in read_lines(path):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        hosts = []
        for buf, content in ET_HOST_RE.findall(s):
            c = et_content(content)
            if buf == "tls.cert_subject":
                m = re.search(r"CN=([^,]+)", c)
                if not m:
                    continue
                c = m.group(1)
            d = norm_domain(c.lstrip("."))
            if d is not None:
                hosts.append(d)
        if not hosts:
            SKIPS.add(path, "rule without a host match")
            continue
        msg = re.search(r'msg:"([^"]*)"', s)
        msg = msg.group(1) if msg else ""
        sid = re.search(r"\bsid:(\d+)", s)
        sid = sid.group(1) if sid else "?"
        date = re.search(r"updated_at (\d{4})_(\d{2})_(\d{2})", s) or re.search(
            r"created_at (\d{4})_(\d{2})_(\d{2})", s
        )
        date = "-".join(date.groups()) if date else ""
        low = msg.lower()
        if re.search(r"browser|coin-?hive|crypto-?loot", low):
            kind = "browser"
        elif re.search(r"\bcnc\b|checkin", low):
            kind = "miner-malware"
        else:
            kind = "pool"
        for d in hosts:
            yield kind, d, date, f"sid:{sid} {msg}"


def falco_lists(path):
    """`- list: NAME` / `items: [...]` blocks of a Falco rules file: NAME -> items (strings
    without quotes, numbers as text)."""
    out = {}
    name = None
    for line in read_lines(path):
        m = re.match(r"\s*-\s*list:\s*(\S+)", line)
        if m:
            name = m.group(1)
            out[name] = []
            continue
        if name is None or line.lstrip().startswith("#"):
            continue
        body = line.split("items:", 1)[-1]
        out[name] += re.findall(r'"([^"]+)"', body)
        if '"' not in body:
            out[name] += re.findall(r"\b(\d+)\b", body)
    return out


def join_set(old, new, col):
    vals = set(filter(None, old[col].split(","))) | set(filter(None, new[col].split(",")))
    old[col] = ",".join(sorted(vals))


def build(data, out):
    cb = os.path.join(data, "coinblockerlists")
    nc = os.path.join(data, "nocoin-list")
    sm = os.path.join(data, "nesfit-cryptomining", "lists", "smashed-20180513")

    pool = Table("pool-domains.tsv", ["domain", "source"])
    browser = Table("browser-mining-domains.tsv", ["domain", "source"])
    endpoints = Table("pool-endpoints.tsv", ["ip", "port", "source"])
    certs = Table("pool-certs.tsv", ["sha1", "sha256", "spki_sha256", "source"], "last_seen")
    prints = Table("miner-fingerprints.tsv", ["kind", "value", "source"])
    allow = Table("allowlist.tsv", ["kind", "value", "source"])

    # --- CoinBlockerLists: list.txt is pools + browser mining; list_browser.txt is the browser
    # part, so pools are the difference. list_optional.txt is crypto-adjacent sites (exchanges,
    # wallets, ad networks paying in coin, miner software downloads): weak hints only.
    cb_browser = set(domain_list(os.path.join(cb, "list_browser.txt")))
    cb_all = set(domain_list(os.path.join(cb, "list.txt")))
    for d in cb_all - cb_browser:
        pool.add(domain=d, kind="pool", source=COINBLOCKER, date=COINBLOCKER_DATE)
    for d in cb_browser:
        browser.add(domain=d, source=COINBLOCKER, date=COINBLOCKER_DATE)
    for d in set(domain_list(os.path.join(cb, "list_optional.txt"))) - cb_all:
        pool.add(domain=d, kind="crypto-related", source=COINBLOCKER, date=COINBLOCKER_DATE)
    for line in read_lines(os.path.join(cb, "MiningServerIPList.txt")):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        if not is_ipv4(s):
            SKIPS.add("MiningServerIPList.txt", "not an IPv4 address")
            continue
        endpoints.add(ip=s, source=COINBLOCKER, date=COINBLOCKER_DATE)
    # CoinBlockerLists' whitelist names exact hosts: the same snapshot whitelists pr0gramm.com
    # and lists miner.pr0gramm.com, so these rows are kind=host (no subdomains).
    for d in domain_list(os.path.join(cb, "white_list.txt")):
        allow.add(
            kind="host",
            value=d,
            reason="CoinBlockerLists whitelist: wrongly listed",
            source=COINBLOCKER,
            date=COINBLOCKER_DATE,
        )
    for line in read_lines(os.path.join(cb, "white_list_IPs.txt")):
        s = line.split("#", 1)[0].strip()
        if is_ipv4(s):
            allow.add(
                kind="ip",
                value=s,
                reason="CoinBlockerLists IP whitelist: shared CDN address wrongly listed",
                source=COINBLOCKER,
                date=COINBLOCKER_DATE,
            )

    # --- NoCoin (browser mining): hosts file and the `||domain^` rules of the Adblock list.
    for fname, reader in (("hosts.txt", domain_list), ("nocoin.txt", adblock_domains)):
        path = os.path.join(nc, fname)
        date = last_modified(path)
        for d in reader(path):
            browser.add(domain=d, source=NOCOIN, date=date)

    # --- nDPI's mining_hosts.txt: the NoCoin hosts list of 2018-04-24 with nDPI category ids.
    path = os.path.join(data, "ndpi", "lists", "mining_hosts.txt")
    for line in read_lines(path):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        d = norm_domain(s.split("\t")[0])
        if d is None:
            SKIPS.add(path, "not a domain name")
            continue
        browser.add(domain=d, source=NDPI, date=NDPI_MINING_HOSTS_DATE)

    # --- sMaSheD catalogue (2018-05-13): servers x ports (with coin) x resolved addresses.
    cryptos = {r["id"]: r["abbreviation"] for r in read_csv(os.path.join(sm, "cryptos.csv"))}
    servers = {r["id"]: r for r in read_csv(os.path.join(sm, "servers.csv"))}
    ports_by_server = {}
    pools_by_port = {}
    for r in read_csv(os.path.join(sm, "ports.csv")):
        s = servers.get(r["server_id"])
        if s is None:
            SKIPS.add("ports.csv", "unknown server_id")
            continue
        coin = cryptos.get(r["crypto_id"], "")
        ports_by_server.setdefault(r["server_id"], set()).add((int(r["number"]), coin))
        pools_by_port.setdefault(int(r["number"]), set()).add(s["pool_id"])
    addrs_by_server = {}
    for r in read_csv(os.path.join(sm, "addresses.csv")):
        if r["server_id"] not in servers:
            SKIPS.add("addresses.csv", "unknown server_id")
            continue
        if not is_ipv4(r["address"]):
            SKIPS.add("addresses.csv", "not an IPv4 address")
            continue
        addrs_by_server.setdefault(r["server_id"], set()).add(r["address"])
    for sid, s in servers.items():
        ports = ports_by_server.get(sid, set())
        fqdn = norm_domain(s["fqdn"])
        if fqdn is not None:
            coins = ",".join(sorted({c for _, c in ports if c}))
            pool.add(
                merge=lambda o, n: join_set(o, n, "coin"),
                domain=fqdn,
                coin=coins,
                kind="pool",
                source=SMASHED,
                date=SMASHED_DATE,
            )
        elif is_ipv4(s["fqdn"]):
            # A server catalogued by address only: its endpoints below still count.
            fqdn = ""
        else:
            SKIPS.add("servers.csv", "not a domain name")
            continue
        for ip in addrs_by_server.get(sid, ()):
            for port, coin in ports:

                def merge(o, n):
                    join_set(o, n, "coin")
                    join_set(o, n, "host")

                endpoints.add(
                    merge=merge,
                    ip=ip,
                    port=port,
                    coin=coin,
                    host=fqdn,
                    source=SMASHED,
                    date=SMASHED_DATE,
                )
    for port, pools in pools_by_port.items():
        if len(pools) >= PORT_HINT_MIN_POOLS and port >= 1024 and port not in PORT_HINT_EXCLUDE:
            endpoints.add(ip="*", port=port, source=SMASHED_PORTS, date=SMASHED_DATE)

    # --- CESNET Nemea miner_detector default blacklist: pool ip:port pairs (c. 2016-2017).
    path = os.path.join(data, "nemea-miner-detector", "lists", "default_blacklisted_ip.txt")
    for line in read_lines(path):
        s = line.split("#", 1)[0].strip()
        if not s:
            continue
        ip, _, port = s.rpartition(":")
        if not is_ipv4(ip) or not port.isdigit():
            SKIPS.add(path, "not ip:port")
            continue
        endpoints.add(ip=ip, port=int(port), source=NEMEA, date=NEMEA_DATE)

    # --- Fingerprints. abuse.ch SSLBL is malware C2 intelligence; only the rows whose listing
    # reason is CoinMiner concern mining, and only the JA3 one describes a miner (the SHA-1 one
    # is a C&C server certificate, not a pool's), so that single JA3 is kept, as a weak hint.
    path = os.path.join(data, "ndpi", "lists", "ja3_fingerprints.csv")
    for line in read_lines(path):
        if line.startswith("#") or not line.strip():
            continue
        f = line.split(",")
        if len(f) >= 4 and f[3].strip().lower() == "coinminer":
            prints.add(
                kind="ja3",
                value=f[0].strip().lower(),
                client="CoinMiner malware (abuse.ch label)",
                source=SSLBL,
                date=f[2].strip()[:10],
                note="weak: malware family label, first seen " + f[1].strip()[:10],
            )

    # XMRig 6.26.0 in the lab captures (shared/data/lab/MANIFEST.tsv); date = capture date.
    lab = os.path.join(data, "lab")
    lab_date = pcap_date(os.path.join(lab, "xmrig-rx-tls.pcap"))
    stock = (
        "weak: stock OpenSSL 3.0 ClientHello, identical to `openssl s_client` and Python ssl "
        "(lab benign-sse-push and benign-chat carry it too)"
    )
    for kind, value, client in (
        ("ja3", "a3afc2c46ba4a7d7fbe1cfb7a3031c2f", "xmrig 6.26.0 tls+sni"),
        ("ja4", "t13d311000_e8f1e7e78f70_1f22a2ca17c4", "xmrig 6.26.0 tls+sni"),
        ("ja3", "c216e752cae6f8755fd27f561d031636", "xmrig 6.26.0 tls without sni"),
        ("ja4", "t13i310900_e8f1e7e78f70_1f22a2ca17c4", "xmrig 6.26.0 tls without sni"),
    ):
        prints.add(kind=kind, value=value, client=client, source=LAB, date=lab_date, note=stock)

    # --- 2024-2026 lists (pool-lists-2026/MANIFEST.tsv: commit, date and licence of each).
    pl = os.path.join(data, "pool-lists-2026")
    pl_dates = manifest_dates(pl)

    # Maltrail's crypto_mining trail: public pool host names and pool ip:port endpoints, as of
    # the file's last commit. Its commented-out lines (browser miners such as coinhive.com)
    # are comments, not trails.
    rel = "maltrail/crypto_mining.txt"
    date = pl_dates[rel]
    for kind, value, port, from_url in maltrail_trails(os.path.join(pl, rel)):
        note = "from a URL trail" if from_url else ""
        if kind == "domain":
            pool.add(domain=value, kind="pool", source=MALTRAIL, date=date, note=note)
        else:
            endpoints.add(
                ip=value, port=port or "", kind="pool", source=MALTRAIL, date=date, note=note
            )

    # Maltrail's miner-malware families: control servers, payload hosts and the endpoints a
    # family was configured with, mixed. Not pools: kind=miner-malware (a weak hint naming the
    # family). The same value in several families is one row listing them all.
    def merge_note(o, n):
        notes = set(filter(None, o["note"].split(", "))) | set(filter(None, n["note"].split(", ")))
        o["note"] = ", ".join(sorted(notes))
        o["date"] = max(o["date"], n["date"])

    malware_dir = os.path.join(pl, "maltrail", "malware_miners")
    for fname in sorted(os.listdir(malware_dir)):
        if not fname.endswith(".txt"):
            continue
        rel = "maltrail/malware_miners/" + fname
        date = pl_dates[rel]
        family = fname[: -len(".txt")]
        for kind, value, port, _ in maltrail_trails(os.path.join(malware_dir, fname)):
            if kind == "domain":
                pool.add(
                    merge=merge_note,
                    domain=value,
                    kind="miner-malware",
                    source=MALTRAIL_MALWARE,
                    date=date,
                    note=family,
                )
            else:
                endpoints.add(
                    merge=merge_note,
                    ip=value,
                    port=port or "",
                    kind="miner-malware",
                    source=MALTRAIL_MALWARE,
                    date=date,
                    note=family,
                )

    # ET Open coin-mining rules (2024-04-21 copy): the hosts their dns.query / tls.sni /
    # http.host / certificate-CN matches name, not the rule text. Dated by each rule's
    # updated_at.
    et = os.path.join(pl, "et-open-2024-04-21")
    for fname in sorted(os.listdir(et)):
        if not fname.endswith(".rules"):
            continue
        for kind, d, date, note in et_rules(os.path.join(et, fname)):
            if kind == "browser":
                browser.add(domain=d, source=ET_OPEN, date=date)
            else:
                pool.add(
                    merge=merge_note, domain=d, kind=kind, source=ET_OPEN, date=date, note=note
                )

    # Falco's miner_domains lists (pool host names) and miner_ports (port-only hints, less
    # the ports ordinary services own).
    lists = falco_lists(os.path.join(pl, "falco", "falco-sandbox_rules.miner-lists.yaml"))
    for name in ("miner_domains", "https_miner_domains", "http_miner_domains"):
        for raw in lists.get(name, []):
            d = norm_domain(raw)
            if d is None:
                SKIPS.add("falco miner lists", "not a domain name")
                continue
            pool.add(domain=d, kind="pool", source=FALCO, date=FALCO_DATE)
    for raw in lists.get("miner_ports", []):
        port = int(raw)
        if port < 1024 or port in PORT_HINT_EXCLUDE or port in FALCO_PORT_EXCLUDE:
            SKIPS.add("falco miner_ports", "port owned by ordinary services")
            continue
        endpoints.add(ip="*", port=port, kind="pool", source=FALCO_PORTS, date=FALCO_DATE)

    # XMRig's built-in donation pools: every stock XMRig build connects to them.
    rel = "xmrig/donate-endpoints.tsv"
    for r in read_csv_tsv(os.path.join(pl, rel)):
        d = norm_domain(r["host"])
        tls = "TLS" if r["tls"] == "true" else "plain Stratum"
        pool.add(
            merge=merge_note,
            domain=d,
            kind="pool",
            source=XMRIG,
            date=pl_dates[rel],
            note=f"XMRig donation pool, port {r['port']} ({tls})",
        )

    # ShadowWhisperer's Cryptocurrency list: exchanges, wallets, faucets and some pools mixed.
    # General crypto sites are never proof of mining: kind=crypto-related, a weak hint. (The
    # Block List Project's crypto.txt re-publishes the same list, 1273 of its 1274 names, and
    # is not imported twice.)
    rel = "shadowwhisperer/Cryptocurrency.txt"
    for d in domain_list(os.path.join(pl, rel)):
        pool.add(domain=d, kind="crypto-related", source=SHADOWWHISPERER, date=pl_dates[rel])

    written = {}
    for table in (pool, browser, endpoints, certs, prints, allow):
        path = os.path.join(out, table.name)
        kept = table.keep_foreign(path)
        rows = table.write(path)
        written[table.name] = (rows, kept)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data"))
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    written = build(args.data, args.out)
    for name, (rows, kept) in written.items():
        by_source = {}
        for r in rows:
            by_source[r["source"]] = by_source.get(r["source"], 0) + 1
        detail = ", ".join(f"{s} {n}" for s, n in sorted(by_source.items()))
        extra = f" (kept {kept} foreign)" if kept else ""
        print(f"{name}: {len(rows)} rows{extra}: {detail}")
    for (fname, reason), n in sorted(SKIPS.counts.items()):
        print(f"skipped {fname}: {reason}: {n}")


if __name__ == "__main__":
    main()
