"""IMAP client (IMAPClient) that keeps a TLS session open in IDLE, fetches new
mail when notified, and re-issues IDLE periodically like mail user agents do.
With --poll N it instead checks the mailbox with NOOP every N seconds."""
import argparse
import ssl
import time

from imapclient import IMAPClient

ap = argparse.ArgumentParser()
ap.add_argument("--host", required=True)
ap.add_argument("--user", required=True)
ap.add_argument("--password", required=True)
ap.add_argument("--cafile", required=True)
ap.add_argument("--reidle", type=float, default=600, help="seconds before IDLE is renewed")
ap.add_argument("--poll", type=float, default=0)
a = ap.parse_args()

ctx = ssl.create_default_context(cafile=a.cafile)


def fetch_new(c, seen):
    ids = c.search(["UNSEEN"])
    new = [i for i in ids if i not in seen]
    if new:
        c.fetch(new, ["ENVELOPE", "FLAGS", "RFC822.SIZE"])
        c.fetch(new[-1:], ["BODY.PEEK[]"])
        c.add_flags(new, [b"\\Seen"])
        seen.update(new)


while True:
    try:
        with IMAPClient(a.host, port=993, ssl=True, ssl_context=ctx, timeout=120) as c:
            c.login(a.user, a.password)
            c.capabilities()
            c.list_folders()
            c.select_folder("INBOX")
            seen = set()
            fetch_new(c, seen)
            while True:
                if a.poll:
                    time.sleep(a.poll)
                    c.noop()
                    fetch_new(c, seen)
                    continue
                c.idle()
                t0 = time.monotonic()
                got = []
                while time.monotonic() - t0 < a.reidle and not got:
                    got = c.idle_check(timeout=min(30, a.reidle))
                c.idle_done()
                if got:
                    fetch_new(c, seen)
    except Exception as e:  # reconnect like a mail client would
        print("reconnect after", repr(e), flush=True)
        time.sleep(10)
