"""The live conntrack lab: a router namespace with masquerade, two stations,
two uplinks, and a traffic generator that says what it sent.

Topology (all names random per lab, prefix ``cta``)::

    c1 10.77.0.11 ─┐                       ┌─ up0 192.0.2.1 ─── s1 192.0.2.2
                   ├─ br0 10.77.0.1 [r] ───┤
    c2 10.77.0.12 ─┘   fd77::1             └─ up1 198.51.100.1 ─ s2 198.51.100.2

r masquerades out of up0/up1 and forwards tcp/8080 arriving on up0 to c2
(a port forward).  Everything hotshare does runs inside r through
``ip netns exec r python -m hotshare.tools.conntrack ...``; the reference figures
come from the ``conntrack`` tool (:func:`parse_conntrack_text`) and from what
the traffic generator sent.

Used by tests/netns/test_conntrack_live.py, by tests/data/record_conntrack_dump.py
(which records the dump the unit tests replay) and by ``bench/accounting.py --live``.
Needs root, iproute2, nftables and conntrack-tools (:func:`have_tools` says
what is missing).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import time
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable

LAN = "10.77.0.0/24"
R_LAN, C1, C2 = "10.77.0.1", "10.77.0.11", "10.77.0.12"
R_UP0, S1 = "192.0.2.1", "192.0.2.2"
R_UP1, S2 = "198.51.100.1", "198.51.100.2"
R_LAN6, C1_6 = "fd77::1", "fd77::11"
UDP_ECHO_REPLY = 10  # the echo server answers with the first 10 bytes
IPV4_UDP_OVERHEAD = 28  # IPv4 header 20 + UDP header 8, counted by conntrack

NFT_RULES = """
table ip cta_nat {
    chain pre {
        type nat hook prerouting priority -100;
        iifname "up0" tcp dport 8080 dnat to 10.77.0.12
    }
    chain post {
        type nat hook postrouting priority 100;
        oifname { "up0", "up1" } masquerade
    }
}
table inet cta_track {
    chain input {
        type filter hook input priority 0;
        ct state new counter
    }
}
"""

# The router joins multicast groups when its interfaces come up and sends a
# few IGMP reports at random times: each makes (or refreshes) a conntrack
# entry of the router's own.  Real, but it would make the live tests racy
# (an entry appearing between two listings), so they do not track it; the
# recorded dump keeps it (record_conntrack_dump.py: track_igmp=True).
NFT_NO_IGMP = """
table ip cta_raw {
    chain output {
        type filter hook output priority raw;
        ip protocol igmp notrack
    }
}
"""

# The traffic generator, run inside the namespaces.  Every client mode prints
# one JSON line describing what it sent, so the tests can match entries by
# source port.
TOOL = r"""
import json, os, socket, struct, sys, threading

def serve(addr):
    tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind((addr, 5001)); tcp.listen(64)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind((addr, 5353))
    def sink(conn):
        n = 0
        while True:
            d = conn.recv(65536)
            if not d:
                break
            n += len(d)
        conn.sendall(str(n).encode()); conn.close()
    def tcp_loop():
        while True:
            conn, _ = tcp.accept()
            threading.Thread(target=sink, args=(conn,), daemon=True).start()
    def udp_loop():
        while True:
            d, a = udp.recvfrom(65536)
            udp.sendto(d[:10], a)
    threading.Thread(target=tcp_loop, daemon=True).start()
    threading.Thread(target=udp_loop, daemon=True).start()
    print("ready", flush=True)
    sys.stdin.read()  # until the test closes our stdin

def tcp_send(host, port, nbytes):
    s = socket.create_connection((host, int(port)), timeout=10)
    sport = s.getsockname()[1]
    chunk = b"x" * 16384; left = int(nbytes)
    while left:
        left -= s.send(chunk[:min(left, len(chunk))])
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        d = s.recv(100)
        if not d:
            break
        reply += d
    s.close()
    print(json.dumps({"proto": 6, "dst": host, "dport": int(port), "sport": sport,
                      "sent": int(nbytes), "acked": int(reply)}))

def udp_send(host, port, size, count):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.connect((host, int(port)))
    sport = s.getsockname()[1]
    answers = 0
    for _ in range(int(count)):
        s.send(b"u" * int(size))
        try:
            s.recv(65536); answers += 1
        except (socket.timeout, ConnectionRefusedError):
            pass
    print(json.dumps({"proto": 17, "dst": host, "dport": int(port), "sport": sport,
                      "size": int(size), "count": int(count), "answers": answers}))

def udp_burst(host, port, n, first_sport=20000):
    ports = []
    for sport in range(int(first_sport), int(first_sport) + int(n)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", sport))
        s.sendto(b"b", (host, int(port)))
        ports.append(sport); s.close()
    print(json.dumps({"proto": 17, "dst": host, "dport": int(port), "sports": ports}))

def icmp_echo(host, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(2)
    ident = os.getpid() & 0xFFFF
    for seq in range(int(count)):
        body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"p" * 56
        c = sum(struct.unpack("!%dH" % (len(body) // 2), body)); c = (c >> 16) + (c & 0xFFFF); c += c >> 16
        body = body[:2] + struct.pack("!H", ~c & 0xFFFF) + body[4:]
        s.sendto(body, (host, 0))
        try:
            s.recv(1024)
        except socket.timeout:
            pass
    print(json.dumps({"proto": 1, "dst": host, "id": ident, "count": int(count)}))

def tcp_sink(addr, port):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((addr, int(port))); l.listen(4)
    print("ready", flush=True)
    conn, _ = l.accept(); n = 0
    while True:
        d = conn.recv(65536)
        if not d:
            break
        n += len(d)
    conn.sendall(str(n).encode()); conn.close()

{"serve": serve, "tcp-send": tcp_send, "udp-send": udp_send, "udp-burst": udp_burst,
 "icmp-echo": icmp_echo, "tcp-sink": tcp_sink}[sys.argv[1]](*sys.argv[2:])
"""


def have_tools() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    for tool in ("ip", "nft", "conntrack"):
        if shutil.which(tool) is None:
            return f"needs {tool}"
    if (
        not Path("/proc/sys/net/netfilter").exists()
        and subprocess.run(["modprobe", "nf_conntrack"], capture_output=True, check=False).returncode
    ):
        return "needs nf_conntrack"
    return None


class CtLab:
    """The namespaces above; ``with CtLab() as lab: ...`` builds and removes them."""

    def __init__(self, tag: str | None = None, track_igmp: bool = False) -> None:
        tag = tag or secrets.token_hex(3)
        self.track_igmp = track_igmp
        self.r, self.c1, self.c2 = f"cta{tag}r", f"cta{tag}c1", f"cta{tag}c2"
        self.s1, self.s2 = f"cta{tag}s1", f"cta{tag}s2"
        self.namespaces = [self.r, self.c1, self.c2, self.s1, self.s2]
        self.env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
        self._procs: list[subprocess.Popen[str]] = []
        self._tmp = tempfile.mkdtemp(prefix="ctlab-")
        self.tool = os.path.join(self._tmp, "cttool.py")
        Path(self.tool).write_text(TOOL)

    # -- plumbing -------------------------------------------------------------

    def sh(self, ns: str | None, *argv: str, check: bool = True, timeout: float = 60) -> str:
        full = list(argv) if ns is None else ["ip", "netns", "exec", ns, *argv]
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=self.env, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(full)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def hotshare(self, *args: str, ns: str | None = None) -> str:
        """``python -m hotshare.tools.conntrack ARGS`` inside the router namespace."""
        return self.sh(ns or self.r, PYTHON, "-m", "hotshare.tools.conntrack", *args)

    def py(self, ns: str, code: str, *args: str) -> Any:
        """Run Python code (with args in sys.argv[1:]) in ns; it prints one JSON document."""
        return json.loads(self.sh(ns, PYTHON, "-c", code, *args))

    def tool_run(self, ns: str, *args: str) -> Any:
        return json.loads(self.sh(ns, PYTHON, self.tool, *args))

    def tool_start(self, ns: str, *args: str) -> subprocess.Popen[str]:
        """Start a tool server and wait for its "ready" line."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, PYTHON, self.tool, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=self.env,
        )
        self._procs.append(proc)
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        if not ready or proc.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{args} in {ns} did not start")
        return proc

    # -- life cycle -------------------------------------------------------------

    def __enter__(self) -> CtLab:
        try:
            self.setup()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.teardown()

    def setup(self) -> None:
        ip = ["ip"]
        for ns in self.namespaces:
            self.sh(None, *ip, "netns", "add", ns)
            self.sh(None, *ip, "-n", ns, "link", "set", "lo", "up")
        r = self.r
        self.sh(None, *ip, "-n", r, "link", "add", "br0", "type", "bridge")
        links = [(self.c1, "lan1"), (self.c2, "lan2")]
        for ns, port in links:
            self.sh(None, *ip, "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", port, "netns", r)
            self.sh(None, *ip, "-n", r, "link", "set", port, "master", "br0", "up")
        for ns, up in ((self.s1, "up0"), (self.s2, "up1")):
            self.sh(None, *ip, "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", up, "netns", r)
        addrs = [
            (r, "br0", f"{R_LAN}/24"),
            (r, "br0", f"{R_LAN6}/64"),
            (r, "up0", f"{R_UP0}/24"),
            (r, "up1", f"{R_UP1}/24"),
            (self.c1, "eth0", f"{C1}/24"),
            (self.c1, "eth0", f"{C1_6}/64"),
            (self.c2, "eth0", f"{C2}/24"),
            (self.s1, "eth0", f"{S1}/24"),
            (self.s2, "eth0", f"{S2}/24"),
        ]
        for ns, dev, addr in addrs:
            extra = ["nodad"] if ":" in addr else []
            self.sh(None, *ip, "-n", ns, "addr", "add", addr, "dev", dev, *extra)
        for ns, dev in [(r, "br0"), (r, "up0"), (r, "up1")] + [(n, "eth0") for n in self.namespaces[1:]]:
            self.sh(None, *ip, "-n", ns, "link", "set", dev, "up")
        for ns in (self.c1, self.c2):
            self.sh(None, *ip, "-n", ns, "route", "add", "default", "via", R_LAN)
        self.sh(r, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        rules = NFT_RULES + ("" if self.track_igmp else NFT_NO_IGMP)
        proc = subprocess.run(
            ["ip", "netns", "exec", r, "nft", "-f", "-"], input=rules, capture_output=True, text=True, check=False
        )
        if proc.returncode:
            raise RuntimeError(f"nft: {proc.stderr}")
        # nf_conntrack_acct is per namespace: through hotshare's own helper.
        self.hotshare("acct", "1")
        self.tool_start(self.s1, "serve", S1)
        self.tool_start(self.s2, "serve", S2)

    def teardown(self) -> None:
        try:
            for proc in self._procs:
                if proc.poll() is None:
                    proc.kill()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    pass  # deleting its namespace below does not wait for it either
            self._procs.clear()
        finally:
            for ns in self.namespaces:
                subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
            shutil.rmtree(self._tmp, ignore_errors=True)

    # -- traffic ----------------------------------------------------------------

    def standard_traffic(self, icmp: bool = True, ipv6: bool = True) -> list[dict[str, Any]]:
        """Stations' flows through both uplinks, a port forward into c2, a
        station-to-router flow and a router-originated one.  Returns what each
        flow sent, tagged with the station ("from") it is expected to count for."""
        flows: list[dict[str, Any]] = []

        def client(ns: str, addr: str | None, *args: str) -> None:
            flow = self.tool_run(ns, *args)
            flow["from"] = addr
            flows.append(flow)

        client(self.c1, C1, "tcp-send", S1, "5001", "200000")
        client(self.c1, C1, "udp-send", S1, "5353", "300", "5")
        client(self.c1, C1, "udp-send", S2, "5353", "200", "3")
        client(self.c1, C1, "udp-send", R_LAN, "9999", "50", "1")  # to the router: not NATed
        client(self.c2, C2, "tcp-send", S2, "5001", "50000")
        client(self.c2, C2, "udp-send", S1, "5353", "100", "2")
        if icmp:
            client(self.c1, C1, "icmp-echo", S1, "2")
        if ipv6:
            client(self.c1, C1_6, "udp-send", R_LAN6, "9999", "40", "1")
        # A port forward: s1 connects to r's public address, lands on c2.
        sink = self.tool_start(self.c2, "tcp-sink", "0.0.0.0", "8080")
        client(self.s1, None, "tcp-send", R_UP0, "8080", "30000")
        flows[-1]["into"] = C2
        sink.wait(timeout=10)
        # The router's own traffic out of up0: never a station's.
        client(self.r, None, "udp-send", S1, "5353", "20", "1")
        time.sleep(0.3)  # let the last FIN/ACKs pass
        return flows

    # -- reading the table ----------------------------------------------------------

    def conntrack_text(self) -> str:
        return self.sh(self.r, "conntrack", "-L", "-o", "extended,id")

    def entries(self) -> list[dict[str, Any]]:
        """hotshare's view of the IPv4 table (iter_entries over dump_raw)."""
        out = self.hotshare("list")
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def counts(self, backend: str) -> dict[str, dict[str, int]]:
        out = self.hotshare("count", LAN, "--exclude", R_LAN, "--backend", backend)
        return json.loads(out)


# --------------------------------------------------------------------------
# `conntrack -L -o extended[,id]` text: the independent reference


def parse_conntrack_text(text: str) -> list[dict[str, Any]]:
    """One dict per line: family, proto, orig/reply src, dst, sport, dport,
    packets, bytes, and the conntrack id (the last ``id=``)."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[0] not in ("ipv4", "ipv6"):
            continue
        kv: dict[str, list[str]] = {}
        for tok in fields:
            m = re.fullmatch(r"([a-z]+)=(\S+)", tok)
            if m:
                kv.setdefault(m.group(1), []).append(m.group(2))

        def pick(key: str, i: int, default: str = "0", kv: dict[str, list[str]] = kv) -> str:
            values = kv.get(key, [])
            return values[i] if len(values) > i else default

        rows.append(
            {
                "family": fields[0],
                "proto": int(fields[3]),
                "orig_src": pick("src", 0, ""),
                "orig_dst": pick("dst", 0, ""),
                "orig_sport": int(pick("sport", 0)),
                "orig_dport": int(pick("dport", 0)),
                "reply_src": pick("src", 1, ""),
                "reply_dst": pick("dst", 1, ""),
                "orig_packets": int(pick("packets", 0)),
                "orig_bytes": int(pick("bytes", 0)),
                "reply_packets": int(pick("packets", 1)),
                "reply_bytes": int(pick("bytes", 1)),
                "id": int(kv["id"][-1]) if "id" in kv else None,
            }
        )
    return rows


def counts_from_rows(
    rows: list[dict[str, Any]], subnet: str, exclude: tuple[str, ...] = ()
) -> dict[str, dict[str, int]]:
    """The documented attribution rule, applied to conntrack-tool rows."""
    net = ip_network(subnet)
    out: dict[str, dict[str, int]] = {}

    def inside(addr: str) -> bool:
        return bool(addr) and ip_address(addr).version == 4 and ip_address(addr) in net and addr not in exclude

    for row in rows:
        if row["family"] != "ipv4":
            continue
        if row["orig_src"] in exclude or row["reply_src"] in exclude:   # the router's own traffic
            continue
        if inside(row["orig_src"]):
            who, tx, rx = row["orig_src"], "orig", "reply"
        elif inside(row["reply_src"]):
            who, tx, rx = row["reply_src"], "reply", "orig"
        else:
            continue
        c = out.setdefault(who, {"tx_bytes": 0, "tx_packets": 0, "rx_bytes": 0, "rx_packets": 0, "connections": 0})
        c["tx_bytes"] += row[f"{tx}_bytes"]
        c["tx_packets"] += row[f"{tx}_packets"]
        c["rx_bytes"] += row[f"{rx}_bytes"]
        c["rx_packets"] += row[f"{rx}_packets"]
        c["connections"] += 1
    return out
