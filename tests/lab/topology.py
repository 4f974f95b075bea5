"""The board's uplinks and the "internet" behind them.

    board (root ns)                          inet (ns)
      ppp0 10.64.0.2/24  <-- veth -->  isp0 10.64.0.1/24   DNS  10.64.0.1:53
      default via 10.64.0.1 metric 250                     HTTP 198.18.0.10:80 (on lo)

    optional second uplink (failover tests):  inet2 (ns)
      usb0 192.168.43.100/24 <-- veth --> tether0 192.168.43.1/24  DNS 192.168.43.1:53
      default via 192.168.43.1 metric 300                  HTTP 198.18.0.10:80 (on lo)

The internet namespaces have no route back to the hotspot subnet: a phone's
packet only gets an answer if the board masquerades it, and the HTTP server's
answer (the client address it saw) names the uplink that carried it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lab.dnsserver import DNSServer
from lab.httpserver import WebServer
from lab.netns import ROOT, Netns, add_veth

WEB_NAME = "www.example.test"
# RFC 2544 benchmarking space: not one of the ranges dnsmasq's stop-dns-rebind refuses
# (RFC 1918, CGNAT, link-local, the TEST-NETs), so answers for it reach clients
WEB_ADDR = "198.18.0.10"


@dataclass
class UplinkSpec:
    """How one uplink and its internet namespace are wired."""

    board_if: str
    board_addr: str  # with prefix, e.g. "10.64.0.2/24"
    gateway: str  # the internet side's address, also its DNS server
    prefixlen: int
    metric: int
    netns: str
    peer_if: str
    records: dict[str, str] = field(default_factory=lambda: {WEB_NAME: WEB_ADDR})

    @property
    def board_ip(self) -> str:
        return self.board_addr.split("/")[0]


PPP0 = UplinkSpec("ppp0", "10.64.0.2/24", "10.64.0.1", 24, 250, "inet", "isp0")
USB0 = UplinkSpec("usb0", "192.168.43.100/24", "192.168.43.1", 24, 300, "inet2", "tether0")


class Internet:
    """One uplink: the veth pair, the board's default route over it, and an
    internet namespace with a DNS server (at the gateway address) and an HTTP
    server at 198.18.0.10.  The servers are threads of the test process
    whose sockets live in the internet namespace."""

    def __init__(self, spec: UplinkSpec, logdir: Path) -> None:
        self.spec = spec
        self.ns = Netns(spec.netns)
        self.logdir = logdir
        self.dns: DNSServer | None = None
        self.http: WebServer | None = None

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
    def dns_log(self) -> Path:
        return self.logdir / f"{self.ns.name}-dns.log"

    @property
    def http_log(self) -> Path:
        return self.logdir / f"{self.ns.name}-http.log"

    def start(self) -> Internet:
        s = self.spec
        self.ns.create()
        if ROOT.link_exists(s.board_if):
            ROOT.ip("link", "del", s.board_if)
        add_veth(
            s.board_if,
            ROOT,
            s.peer_if,
            self.ns,
            addr=s.board_addr,
            peer_addr=f"{s.gateway}/{s.prefixlen}",
        )
        ROOT.ip("route", "add", "default", "via", s.gateway, "dev", s.board_if, "metric", str(s.metric))
        for address in sorted(set(s.records.values())):
            self.ns.ip("addr", "add", f"{address}/32", "dev", "lo")
        self.dns = DNSServer([s.gateway], s.records, self.dns_log, netns=self.ns)
        self.http = WebServer(WEB_ADDR, self.http_log, netns=self.ns)
        return self

    def stop(self) -> None:
        for server in (self.http, self.dns):
            if server is not None:
                server.stop()
        self.http = self.dns = None
        if ROOT.link_exists(self.spec.board_if):
            ROOT.ip("link", "del", self.spec.board_if, check=False)  # takes the route and the peer along
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
