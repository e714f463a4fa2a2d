"""Writes shell commands to stdout one keystroke at a time with human-like
timing (for piping into `ssh -tt`): bursts of typing, pauses to read output,
long idle stretches."""
import random
import sys
import time

rng = random.Random(int(sys.argv[1]) if len(sys.argv) > 1 else 1)
COMMANDS = [
    "uptime", "df -h /", "free -m", "ls -la /etc | head -20", "tail -n 5 /var/log/dpkg.log",
    "ps aux | head -15", "cat /proc/loadavg", "date", "who", "ip -br addr", "uname -a",
    "du -sh /usr/share/doc", "grep -c processor /proc/cpuinfo", "ls /tmp", "echo $SHELL",
]
time.sleep(3)
while True:
    cmd = rng.choice(COMMANDS)
    for ch in cmd + "\n":
        sys.stdout.write(ch)
        sys.stdout.flush()
        time.sleep(max(0.03, rng.gauss(0.16, 0.07)) if ch != " " else rng.uniform(0.1, 0.4))
    r = rng.random()
    if r < 0.6:
        time.sleep(rng.uniform(2, 20))       # read the output, type the next command
    elif r < 0.9:
        time.sleep(rng.uniform(30, 180))     # thinking / doing something else
    else:
        time.sleep(rng.uniform(300, 600))    # away from the keyboard
