"""The board's uplinks and the "internet" behind them: one definition for the
QEMU lab (tests/qemu/guest), the namespace tests (tests/netns/board.py) and
the benchmarks (bench/run.py, bench/lab_bench.py).

    board (root ns in the guest,             inet (ns)
           hs-board on the host)
      ppp0 10.64.0.2/24  <-- veth -->  isp0 10.64.0.1/24   DNS  10.64.0.1:53
      default via 10.64.0.1 metric 250                     HTTP 198.18.0.10:80 (on lo)

    optional second uplink (failover tests):  inet2 (ns)
      usb0 192.168.43.100/24 <-- veth --> tether0 192.168.43.1/24  DNS 192.168.43.1:53
      default via 192.168.43.1 metric 300                  HTTP 198.18.0.10:80 (on lo)

(On the host the internet namespaces are named hs-inet and hs-inet2, or
hsbench-inet... for the benchmark: :meth:`Uplink.in_netns`.)

The internet namespaces have no route back to the hotspot subnet: a phone's
packet only gets an answer if the board masquerades it, and the HTTP server's
answer (the client address it saw) names the uplink that carried it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from lab.cellular import Modem
from lab.dnsserver import DNSServer
from lab.httpserver import WebServer
from lab.netns import ROOT, Netns, add_veth
from lab.proc import Daemon

WEB_NAME = "www.example.test"
# RFC 2544 benchmarking space: not one of the ranges dnsmasq's stop-dns-rebind refuses
# (RFC 1918, CGNAT, link-local, the TEST-NETs), so answers for it reach clients
WEB_ADDR = "198.18.0.10"
# The IPv6-only web server of an uplink with IPv6 (Uplink.prefix6): RFC 5180 benchmarking
# space, not documentation space (2001:db8::/32), which stop-dns-rebind refuses
WEB6_NAME = "v6.example.test"
WEB6_ADDR = "2001:2:0:ff::10"
TESTS = Path(__file__).resolve().parents[1]  # on PYTHONPATH of the server processes: ``-m lab.dnsserver``


@dataclass(frozen=True)
class Uplink:
    """How one uplink and its internet namespace are wired (tests/netns/board.py
    re-exports it as ``board.Uplink``)."""

    board_if: str
    board_addr: str  # with prefix, e.g. "10.64.0.2/24"; the gateway is in the same subnet
    gateway: str  # the internet side's address, also its DNS server
    metric: int  # of the board's default route over it
    ns: str  # the internet namespace's name
    peer_if: str  # the veth end in it
    records: dict[str, str] = field(default_factory=lambda: {WEB_NAME: WEB_ADDR}, hash=False)
    path_mtu: int = 0  # > 0: a cellular modem namespace in between (lab/cellular.py), this MTU
    # a /64 the internet side advertises on the link (dnsmasq's RA, SLAAC only, as LTE
    # carriers do); "" for an IPv4-only uplink. Its router's own address is prefix::1.
    prefix6: str = ""

    @property
    def board_ip(self) -> str:
        return self.board_addr.split("/")[0]

    @property
    def prefixlen(self) -> int:
        return int(self.board_addr.split("/")[1])

    def in_netns(self, netns: str) -> Uplink:
        """The same uplink, its internet in another namespace (another name)."""
        return replace(self, ns=netns)


# The board's two uplinks, as on seed 000: the 4G modem's ppp0 (the better
# metric) and the phone tethered on usb0.  Both internets serve the same web
# address; its answer (the client address) names the uplink that carried it.
PPP0 = Uplink("ppp0", "10.64.0.2/24", "10.64.0.1", 250, "inet", "isp0")
USB0 = Uplink("usb0", "192.168.43.100/24", "192.168.43.1", 300, "inet2", "tether0")


class Internet:
    """One uplink: the veth pair, the board's default route over it, and an
    internet namespace with a DNS server (at the gateway address) and an HTTP
    server at 198.18.0.10.

    ``board`` is the namespace the board's end goes to: the QEMU guest's root
    namespace (the guest is the board), or a ``hs-board`` namespace on the
    host (tests/netns/board.py).  The servers are threads of the calling
    process whose sockets live in the internet namespace, or, with
    ``processes=True``, ``python -m lab.dnsserver`` / ``lab.httpserver`` run
    in it: the guest wants threads (each Python start-up costs seconds under
    TCG), the host's board wants processes (its failover tests and
    bench/run.py poll the web server every few milliseconds from the test
    process, which must not share its interpreter lock with the server)."""

    def __init__(self, spec: Uplink, logdir: Path, board: Netns = ROOT, processes: bool = False) -> None:
        self.spec = spec
        self.ns = Netns(spec.ns)
        # a simulated cellular link: the board's link ends in the modem's namespace,
        # which also answers DNS at the gateway address
        self.modem = Modem(Netns(f"{spec.ns}-m"), spec.path_mtu) if spec.path_mtu else None
        self.board = board
        self.logdir = logdir
        self.processes = processes
        self.dns: DNSServer | None = None
        self.http: WebServer | None = None
        self.daemons: list[Daemon] = []

    # Names the tests read.
    @property
    def uplink(self) -> str:
        return self.spec.board_if

    @property
    def board_ip(self) -> str:
        return self.spec.board_ip

    @property
    def gateway(self) -> str:
        return self.spec.gateway

    @property
    def dns_server(self) -> str:
        return self.spec.gateway

    @property
    def gateway_ns(self) -> Netns:
        """Where the gateway address (and its DNS server) lives: the modem's, or the internet's."""
        return self.modem.ns if self.modem else self.ns

    @property
    def dns_log(self) -> Path:
        return self.logdir / f"{self.ns.name}-dns.log"

    @property
    def http_log(self) -> Path:
        return self.logdir / f"{self.ns.name}-http.log"

    def start(self, veth: Callable[..., None] = add_veth) -> Internet:
        """``veth``: tests/netns/board.py passes its own ``add_veth``, which its
        harness tests replace with one that fails half-way."""
        s = self.spec
        self.ns.create()
        if self.board.link_exists(s.board_if):
            self.board.ip("link", "del", s.board_if)
        far = self.modem.create(self.ns) if self.modem else self.ns
        veth(
            s.board_if,
            self.board,
            s.peer_if,
            far,
            addr=s.board_addr,
            peer_addr=f"{s.gateway}/{s.prefixlen}",
        )
        if self.modem:
            self.modem.attach(self.board, s.board_if, s.peer_if)
        self.board.ip("route", "add", "default", "via", s.gateway, "dev", s.board_if, "metric", str(s.metric))
        for address in sorted(set(s.records.values())):
            self.ns.ip("addr", "add", f"{address}/32", "dev", "lo")
        if s.prefix6:
            self._start_ipv6()
        if self.processes:
            self._start_daemons()
        else:
            self.dns = DNSServer([s.gateway], s.records, self.dns_log, netns=self.gateway_ns)
            self.http = WebServer(WEB_ADDR, self.http_log, netns=self.ns)
        return self

    def _start_ipv6(self) -> None:
        """The carrier's IPv6: router advertisements of ``prefix6`` on the link
        (dnsmasq, RA only, every 10 s and at once on a solicitation) and an
        IPv6-only web server at WEB6_ADDR, whose DNS name the DNS server answers."""
        s, name = self.spec, self.ns.name
        router = f"{s.prefix6.split('/')[0]}1/64"
        # a router: its neighbour advertisements carry the R flag. Without it the board,
        # checking that its default router is still there, hears "a host now" and drops
        # its default route (RFC 4861 7.2.5) until the next advertisement
        self.ns.sysctl_write("net.ipv6.conf.all.forwarding", "1")
        self.ns.ip("-6", "addr", "add", router, "dev", s.peer_if, "nodad")
        self.ns.ip("-6", "addr", "add", f"{WEB6_ADDR}/128", "dev", "lo")
        self.daemons.append(Daemon(
            f"{name}-ra", ["dnsmasq", "-k", "-C", "/dev/null", "-u", "root", "--port=0", f"--interface={s.peer_if}",
                           "--bind-interfaces", "--enable-ra", f"--dhcp-range=::,constructor:{s.peer_if},ra-only,64",
                           f"--ra-param={s.peer_if},10", f"--dhcp-leasefile={self.logdir}/{name}-ra.leases",
                           f"--pid-file={self.logdir}/{name}-ra.pid", "--log-facility=-"],
            netns=name, log=self.logdir / f"{name}-ra.log"))
        env = {**os.environ, "PYTHONPATH": str(TESTS)}
        self.daemons.append(Daemon(
            f"{name}-http6", [sys.executable, "-m", "lab.httpserver", "--listen", WEB6_ADDR,
                              "--log", str(self.http_log)],
            netns=name, log=self.logdir / f"{name}-http6.stderr.log", env=env, ready_line="READY"))

    def _start_daemons(self) -> None:
        s, name = self.spec, self.ns.name
        py = [sys.executable, "-m"]
        env = {**os.environ, "PYTHONPATH": str(TESTS)}
        records = [f"--record={n}={a}" for n, a in
                   {**s.records, **({WEB6_NAME: WEB6_ADDR} if s.prefix6 else {})}.items()]
        self.daemons.append(Daemon(
            f"{name}-dns", [*py, "lab.dnsserver", "--listen", s.gateway, "--log", str(self.dns_log), *records],
            netns=self.gateway_ns.name, log=self.logdir / f"{name}-dns.stderr.log", env=env, ready_line="READY"))
        self.daemons.append(Daemon(
            f"{name}-http", [*py, "lab.httpserver", "--listen", WEB_ADDR, "--log", str(self.http_log)],
            netns=name, log=self.logdir / f"{name}-http.stderr.log", env=env, ready_line="READY"))

    def stop_servers(self) -> None:
        for server in (self.http, self.dns):
            if server is not None:
                server.stop()
        self.http = self.dns = None
        while self.daemons:
            self.daemons.pop().stop()

    def stop(self) -> None:
        self.stop_servers()
        if self.board.link_exists(self.spec.board_if):
            self.board.ip("link", "del", self.spec.board_if, check=False)  # takes the route and the peer along
        if self.modem:
            self.modem.ns.delete()
        self.ns.delete()

    def dns_queries(self) -> list[tuple[str, str]]:
        """(client address, name) for every query the DNS server got so far."""
        try:
            lines = self.dns_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [(f[0], f[1]) for f in (line.split() for line in lines) if len(f) >= 2]

    def http_clients(self) -> list[str]:
        """Client address of every HTTP request the server got so far."""
        try:
            lines = self.http_log.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [line.split()[0] for line in lines if line.strip()]
