"""The system model planning reads: links, addresses and routes, as the
kernel's rtnetlink reports them (netlink/rtnl.py fills it in). Pure data."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# linux/if.h, linux/rtnetlink.h: the flags and the table planning looks at
# (defined here because plan is pure; netlink/uapi.py re-exports them)
IFF_UP, IFF_RUNNING, IFF_LOWER_UP = 0x1, 0x40, 0x10000
RT_TABLE_MAIN = 254


@dataclass(frozen=True)
class Link:
    index: int
    name: str
    flags: int
    operstate: int
    master: int = 0
    mtu: int = 0          # IFLA_MTU; 0: not reported

    @property
    def up(self) -> bool:
        """Administratively up and with a carrier (ppp links report 'unknown')."""
        return bool(self.flags & IFF_UP) and bool(self.flags & IFF_LOWER_UP)


@dataclass(frozen=True)
class Address:
    index: int
    ifname: str
    interface: ipaddress.IPv4Interface


@dataclass(frozen=True)
class Address6:
    """An IPv6 address; ``usable``: neither tentative (DAD running) nor deprecated."""

    index: int
    ifname: str
    interface: ipaddress.IPv6Interface
    usable: bool = True


@dataclass(frozen=True)
class Route:
    dst: ipaddress.IPv4Network
    oif: int
    ifname: str
    gateway: ipaddress.IPv4Address | None
    metric: int
    table: int
    scope: int = 0

    @property
    def is_default(self) -> bool:
        return self.dst.prefixlen == 0


@dataclass(frozen=True)
class Snapshot:
    """The parts of the kernel's network state that planning needs."""

    links: tuple[Link, ...]
    addresses: tuple[Address, ...]
    routes: tuple[Route, ...]
    addresses6: tuple[Address6, ...] = ()

    def link(self, name: str) -> Link | None:
        return next((lk for lk in self.links if lk.name == name), None)

    def default_routes(self) -> list[Route]:
        """Default routes of the main table, best (lowest metric) first."""
        return sorted((r for r in self.routes if r.is_default and r.table == RT_TABLE_MAIN),
                      key=lambda r: r.metric)

    def addresses_of(self, name: str) -> list[ipaddress.IPv4Interface]:
        return [a.interface for a in self.addresses if a.ifname == name]

    def global6_of(self, name: str) -> list[ipaddress.IPv6Interface]:
        """The usable global (or ULA) IPv6 addresses of a link: not link-local."""
        return [a.interface for a in self.addresses6
                if a.ifname == name and a.usable and not a.interface.ip.is_link_local]

    def mtu_of(self, name: str | None) -> int:
        """The link's MTU; 0 when the link (or its MTU) is unknown."""
        link = self.link(name) if name else None
        return link.mtu if link is not None else 0
