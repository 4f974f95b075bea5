"""The whole plan of one hotspot, as plain data: what the service applies,
what the journal records and what ``--dry-run`` prints.

``plan.make.make_plan`` builds it, a pure function of the validated
configuration and the facts read from the system; the renderers
(hostapd.py, dnsmasq.py, ruleset.py) read the decisions made here.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from ..coexist.analysis import Action
from ..config import HotspotConfig
from .ipv6 import Ipv6Mode
from .ops import LinkOp
from .paths import Paths
from .regulatory import Radio
from .samecard import SameCard
from .uplink_dns import IPAddress, Server


@dataclass(frozen=True)
class GeneratedFile:
    path: str
    mode: int
    text: str = field(repr=False)
    shown: str = ""                     # the text with secrets masked (journal, dry run)


@dataclass(frozen=True)
class ChildSpec:
    """A supervised program: its whole command line, and the line of its
    output that says it is ready (empty: ready when the service says so)."""

    name: str
    argv: tuple[str, ...]
    ready_marker: str = ""


@dataclass(frozen=True)
class BridgePlan:
    """SHARE_METHOD=bridge: our bridge, the uplink it joins, and what moves
    from the uplink to the bridge so the board stays reachable."""

    name: str
    uplink: str
    moved_addresses: tuple[str, ...] = ()
    moved_routes: tuple[tuple[str, str, int], ...] = ()   # (dst, gateway, metric)


@dataclass(frozen=True)
class Plan:
    cfg: HotspotConfig
    paths: Paths
    wireless: bool
    gateway: ipaddress.IPv4Interface
    dhcp_range: tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
    uplinks: tuple[str, ...]            # interfaces NAT may leave through
    best_uplink: str | None             # the one the kernel routes through now
    upstream_dns: tuple[IPAddress, ...]
    table: str                          # our nftables table (family inet)
    # DNS that follows the uplink (plan/uplink_dns.py): dnsmasq reads a
    # resolv-file made from these for the uplink in use; () with
    # dns_follows False: the static upstream_dns (or resolv.conf) as before
    dns_servers: tuple[Server, ...] = ()
    dns_follows: bool = False
    dns_from_links: bool = False        # the servers are re-read from LINK_DNS_FILES as uplinks change
    uplink_mtu: int = 0                 # the MTU of the uplink in use at start (DHCP option 26 below 1500)
    sysctls: dict[str, str] = field(default_factory=dict)
    bridge_plan: BridgePlan | None = None
    same_card: SameCard | None = None   # the AP shares its radio with a station uplink
    channel: int = 0                    # hostapd's channel=; 0 with a chanlist: its ACS picks one
    chanlist: tuple[int, ...] = ()      # ACS: the allowed channels without DFS or no-IR
    radio: Radio | None = None          # the AP radio's channels (plan.regulatory); None: not read
    ipv6: Ipv6Mode = field(default_factory=lambda: Ipv6Mode("off", "not planned"))  # at start; followed later
    # What make_plan adds once the decisions above are made:
    link_ops: tuple[LinkOp, ...] = ()   # the AP interface (or bridge) configured, in order
    orig_mac: str = ""                  # NEW_MACADDR: the MAC to give back on stop
    files: tuple[GeneratedFile, ...] = ()
    children: tuple[ChildSpec, ...] = ()
    ruleset: str = ""                   # our table, with the flowtable fast path if any
    ruleset_fallback: str = ""          # the same without it (kernels without flowtables)
    fastpath_devices: tuple[str, ...] = ()
    firewall: tuple[Action, ...] = ()   # remedies in other firewalls
    firewall_notes: tuple[str, ...] = ()

    @property
    def bridge(self) -> str:
        return self.bridge_plan.name if self.bridge_plan else ""

    @property
    def scan_first(self) -> bool:
        """CHANNEL=auto: the channel is chosen at start, once the radio is up
        and has scanned (service.channel_scan); until then as if it saw nothing."""
        return (self.wireless and self.cfg.auto_channel and self.radio is not None
                and self.radio.scanned is None)

    @property
    def runs_dnsmasq(self) -> bool:     # bridged clients get DHCP from the uplink's network
        return not self.cfg.no_dnsmasq and not self.bridge

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        return self.gateway.network

    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON data, secrets masked: journaled at start, printed by --dry-run."""
        return {
            "iface": self.cfg.wifi_iface, "mode": self.cfg.share_method, "wireless": self.wireless,
            "subnet": None if self.bridge else str(self.subnet),
            "gateway": None if self.bridge else str(self.gateway.ip),
            "dhcp_range": [str(a) for a in self.dhcp_range] if self.runs_dnsmasq else None,
            "uplinks": list(self.uplinks), "best_uplink": self.best_uplink,
            "upstream_dns": [str(a) for a in self.upstream_dns],
            "dns_servers": [s.line() for s in self.dns_servers] if self.dns_follows else None,
            "uplink_mtu": self.uplink_mtu, "table": self.table if self.ruleset else None,
            "bridge": ({"name": self.bridge_plan.name, "uplink": self.bridge_plan.uplink,
                        "moved_addresses": list(self.bridge_plan.moved_addresses),
                        "moved_routes": [list(r) for r in self.bridge_plan.moved_routes]}
                       if self.bridge_plan else None),
            "same_card": self.same_card.to_dict() if self.same_card else None,
            "channel": self.channel or ("acs" if self.chanlist else None), "chanlist": list(self.chanlist),
            "channel_from_scan": self.scan_first,
            "sysctls": dict(self.sysctls), "ipv6": self.ipv6.text(),
            "link_ops": [op.to_dict() for op in self.link_ops],
            "files": [{"path": f.path, "mode": oct(f.mode), "text": f.shown or f.text} for f in self.files],
            "children": [{"name": c.name, "argv": list(c.argv), "ready_marker": c.ready_marker}
                         for c in self.children],
            "ruleset": self.ruleset or None, "fastpath_devices": list(self.fastpath_devices),
            "firewall": [a.to_dict() for a in self.firewall], "firewall_notes": list(self.firewall_notes),
        }
