"""TCP probes for the namespace tests: a listener that names itself, a
connect that reports what happened, and connections held open."""

from __future__ import annotations

import sys

from lab.netns import Netns

# A TCP listener that answers its name to whoever connects: python -c LISTENER PORT NAME
LISTENER = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(512)
print("READY", flush=True)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[2].encode()); c.close()
"""

# A TCP listener that accepts and holds every connection open: python -c SINK PORT
SINK = r"""
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(512)
print("READY", flush=True)
held = []
while True:
    held.append(s.accept()[0])
"""

# "open <what the server said>", or "closed <why connect() failed>"
CONNECT = r"""
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3]))
except OSError as e:
    print("closed", type(e).__name__); sys.exit()
try:
    print("open", c.recv(16).decode())
except OSError as e:
    print("open", type(e).__name__)
"""

# How many of N connections to ADDR:PORT open (all held open at once)
HOLD_OPEN = r"""
import socket, sys
addr, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
held, ok = [], 0
for _ in range(n):
    try:
        held.append(socket.create_connection((addr, port), timeout=1.0)); ok += 1
    except OSError:
        pass
print(ok)
"""


def connect_from(ns: Netns, addr: str, port: int, timeout: float = 2.0) -> str:
    return ns.run([sys.executable, "-c", CONNECT, addr, str(port), str(timeout)], timeout=timeout + 10).stdout.strip()


def connections_opened(ns: Netns, addr: str, port: int, n: int) -> int:
    return int(ns.run([sys.executable, "-c", HOLD_OPEN, addr, str(port), str(n)], timeout=n * 1.5 + 10).stdout)
