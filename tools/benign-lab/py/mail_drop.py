"""Delivers generated messages into Maildir INBOXes at Poisson intervals
(local delivery, no network)."""
import argparse
import os
import random
import socket
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

ap = argparse.ArgumentParser()
ap.add_argument("--maildir", action="append", required=True)
ap.add_argument("--mean", type=float, default=90)
ap.add_argument("--uid", type=int, default=65534)
ap.add_argument("--gid", type=int, default=65534)
ap.add_argument("--seed", type=int, default=1)
a = ap.parse_args()
rng = random.Random(a.seed)
SUBJ = ["Weekly report", "Re: meeting notes", "Invoice 2024-%04d", "Your order has shipped",
        "[ci] build #%d passed", "Lunch?", "Re: Re: question about the API", "Newsletter %d"]
n = 0
while True:
    time.sleep(min(rng.expovariate(1.0 / a.mean), a.mean * 6))
    n += 1
    m = EmailMessage()
    m["From"] = rng.choice(["alice@corp.example", "ci@build.example", "shop@store.example", "bob@corp.example"])
    m["To"] = "user@mail.lab.internal"
    s = rng.choice(SUBJ)
    m["Subject"] = s % rng.randrange(9999) if "%" in s else s
    m["Date"] = formatdate(localtime=True)
    m["Message-ID"] = make_msgid(domain="mail.lab.internal")
    m.set_content("\n".join("Line %d: %s" % (i, "lorem ipsum dolor sit amet " * rng.randint(1, 3))
                            for i in range(rng.randint(3, 40))))
    data = bytes(m)
    md = rng.choice(a.maildir)
    name = "%d.M%dP%d.%s" % (time.time(), n, os.getpid(), socket.gethostname())
    tmp = os.path.join(md, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    os.chown(tmp, a.uid, a.gid)
    os.rename(tmp, os.path.join(md, "new", name))
