"""Helpers shared by bench/run.py (host) and bench/lab_bench.py (QEMU guest).

Nothing here measures by itself: it reads a process's counters from /proc,
fetches a page from inside a network namespace, takes medians, and says what
machine the figures come from.
"""

from __future__ import annotations

import os
import platform
import random
import select
import socket
import statistics
import struct
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TESTS = REPO / "tests"
for _p in (str(TESTS), str(TESTS / "netns")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from lab.netns import Netns  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")


def now() -> float:
    return time.monotonic()


def median(values: Sequence[float | None]) -> float | None:
    """Median of the values that were taken (None: a run that failed)."""
    taken = [v for v in values if v is not None]
    return statistics.median(taken) if taken else None


def status_fields(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def memory_kb(pid: int) -> dict[str, int]:
    """Resident set now (VmRSS) and its peak over the process's life (VmHWM), in kB."""
    st = status_fields(pid)
    return {"rss_kb": int(st["VmRSS"].split()[0]), "hwm_kb": int(st["VmHWM"].split()[0])}


def cpu_counters(pid: int) -> dict[str, float]:
    """CPU time (utime + stime, seconds) and context switches (voluntary +
    involuntary, all threads) of one process; its children are not counted."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    switches = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            st = status_fields(int(task.name))
        except (OSError, ValueError):
            continue
        switches += int(st.get("voluntary_ctxt_switches", 0)) + int(st.get("nonvoluntary_ctxt_switches", 0))
    return {"cpu_s": ticks / CLK_TCK, "switches": float(switches), "t": now()}


def idle_cost(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU milliseconds and wake-ups per minute between two cpu_counters() readings."""
    span = after["t"] - before["t"]
    return {
        "seconds": span,
        "cpu_ms": (after["cpu_s"] - before["cpu_s"]) * 1e3,
        "wakeups": after["switches"] - before["switches"],
        "cpu_ms_per_min": (after["cpu_s"] - before["cpu_s"]) * 1e3 * 60 / span,
        "wakeups_per_min": (after["switches"] - before["switches"]) * 60 / span,
    }


def http_get(ns: Netns, addr: str, port: int = 80, timeout: float = 1.0) -> tuple[float, str]:
    """One new TCP connection from inside ``ns`` and a GET on it.

    Returns (monotonic time the connection was established, body).  The lab's
    web server answers with the client address it saw, which names the uplink
    a masqueraded connection left through.  Raises OSError on failure."""
    sock = ns.make_socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect((addr, port))
        connected = now()
        sock.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
        data = b""
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
        if b"\r\n\r\n" not in data:
            raise OSError("incomplete HTTP answer")
        return connected, data.split(b"\r\n\r\n", 1)[1].decode(errors="replace").strip()
    finally:
        sock.close()


def wait_http(ns: Netns, addr: str, deadline: float, expect: str | None = None,
              interval: float = 0.01, timeout: float = 0.5) -> tuple[float, str]:
    """Open new connections until one succeeds (and, if ``expect`` is given,
    the server saw that client address); returns (connected at, body)."""
    last: Exception | None = None
    while True:
        try:
            t, body = http_get(ns, addr, timeout=max(0.05, min(timeout, deadline - now())))
            if expect is None or body == expect:
                return t, body
            last = OSError(f"server saw {body}, not {expect}")
        except OSError as e:
            last = e
        if now() >= deadline:
            raise TimeoutError(f"no connection to {addr} through NAT: {last}")
        time.sleep(interval)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "arch": platform.machine(),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }


# -- a DHCP client for the phones ------------------------------------------------------

DHCP_MAGIC = b"\x63\x82\x53\x63"
DHCP_NAMES = {1: "mask", 3: "router", 6: "dns", 51: "lease", 54: "serverid"}


def _dhcp_packet(xid: int, mac: bytes, msgtype: int, options: bytes) -> bytes:
    # op, htype, hlen, hops, xid, secs, flags (broadcast: we have no address yet),
    # ciaddr, yiaddr, siaddr, giaddr, chaddr, sname, file
    head = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, bytes(4), bytes(4), bytes(4),
                       bytes(4), mac.ljust(16, b"\0"), b"", b"")
    return head + DHCP_MAGIC + bytes([53, 1, msgtype]) + options + bytes([55, 4, 1, 3, 6, 51, 255])


def _dhcp_parse(data: bytes, xid: int) -> tuple[int, str, dict[str, str]] | None:
    if len(data) < 240 or data[0] != 2 or struct.unpack("!I", data[4:8])[0] != xid or data[236:240] != DHCP_MAGIC:
        return None
    opts: dict[str, str] = {}
    msgtype, i = 0, 240
    while i < len(data) and data[i] != 255:
        if data[i] == 0:
            i += 1
            continue
        code, n = data[i], data[i + 1]
        val = data[i + 2 : i + 2 + n]
        if code == 53:
            msgtype = val[0]
        elif code in (1, 3, 6, 54):
            addrs = [socket.inet_ntoa(val[k : k + 4]) for k in range(0, len(val) - 3, 4)]
            opts[DHCP_NAMES[code]] = " ".join(addrs)
        elif code == 51:
            opts["lease"] = str(struct.unpack("!I", val)[0])
        i += 2 + n
    return msgtype, socket.inet_ntoa(data[16:20]), opts


def dhcp_lease(ns: Netns, iface: str, mac: str, deadline: float, retransmit: float = 0.5,
               hostname: str = "") -> dict[str, Any]:
    """DISCOVER, OFFER, REQUEST, ACK from inside ``ns`` on ``iface``; returns
    the lease (ip, mask, router, dns, lease, serverid) and ``acked_at`` (the
    monotonic time the ACK arrived).  A message unanswered for ``retransmit``
    seconds is sent again with the same transaction id, so a late answer still
    counts.  Raises TimeoutError at ``deadline``.  The caller applies the lease."""
    xid = random.getrandbits(32)
    hw = bytes.fromhex(mac.replace(":", ""))
    name = bytes([12, len(hostname)]) + hostname.encode() if hostname else b""
    sock = ns.make_socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
        sock.bind(("0.0.0.0", 68))
        request: bytes | None = None
        msg = _dhcp_packet(xid, hw, 1, name)  # DISCOVER
        while True:
            if now() >= deadline:
                raise TimeoutError(f"no DHCP lease on {iface}")
            sock.sendto(msg, ("255.255.255.255", 67))
            until = min(deadline, now() + retransmit)
            while now() < until:
                ready, _, _ = select.select([sock], [], [], max(0.0, until - now()))
                if not ready:
                    continue
                got = _dhcp_parse(sock.recv(4096), xid)
                if got is None:
                    continue
                msgtype, yiaddr, opts = got
                if msgtype == 2 and request is None:  # OFFER -> REQUEST
                    request = (bytes([50, 4]) + socket.inet_aton(yiaddr)
                               + bytes([54, 4]) + socket.inet_aton(opts.get("serverid", "0.0.0.0")) + name)
                    msg = _dhcp_packet(xid, hw, 3, request)
                    break
                if msgtype == 5 and request is not None:  # ACK
                    return {"acked_at": now(), "ip": yiaddr, **opts}
                if msgtype == 6:  # NAK: start again
                    request, msg = None, _dhcp_packet(xid, hw, 1, name)
                    break
    finally:
        sock.close()
