"""rtnetlink, read side: a snapshot of links, IPv4 addresses and routes
into ``plan.model``'s types, and change events.

A NETLINK_ROUTE :class:`~hotshare.netlink.core.NetlinkSocket` and a few
struct unpacks, in the calling process: the resident service does not
import pyroute2 (about 32 MB of RSS, see the README's figures).  The
messages that change links, addresses and routes are built by
``netlink.rtnl_change`` and sent, acknowledged, by ``system.links``.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from collections.abc import Iterator

from ..plan.model import Address, Address6, Link, Route, Snapshot
from .core import Buffer, NetlinkSocket, iter_attrs, iter_messages
from .uapi import (
    IFA_ADDRESS,
    IFA_F_DADFAILED,
    IFA_F_DEPRECATED,
    IFA_F_TENTATIVE,
    IFA_FLAGS,
    IFA_LOCAL,
    IFADDRMSG,
    IFINFOMSG,
    IFLA_IFNAME,
    IFLA_MASTER,
    IFLA_MTU,
    IFLA_OPERSTATE,
    NETLINK_ROUTE,
    NLMSG_HDRLEN,
    RTA_DST,
    RTA_GATEWAY,
    RTA_OIF,
    RTA_PRIORITY,
    RTA_TABLE,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_LINK,
    RTMSG,
    RTN_UNICAST,
)

__all__ = [
    "RTMGRP_IPV4_IFADDR",
    "RTMGRP_IPV4_ROUTE",
    "RTMGRP_LINK",
    "Address",
    "Link",
    "Route",
    "RtnlSocket",
    "Snapshot",
    "parse_addr",
    "parse_addr6",
    "parse_link",
    "parse_route",
    "snapshot",
]

_U32 = struct.Struct("=I")
# The kernel queues events faster than a busy service reads them; a larger
# buffer makes an ENOBUFS (events lost, full re-read) rarer.
RCVBUF = 1 << 20


def _cstr(b: Buffer) -> str:
    return bytes(b).split(b"\0", 1)[0].decode("ascii", "replace")


def _u32(buf: Buffer, off: int, size: int) -> int:
    return int(_U32.unpack_from(buf, off)[0]) if size >= 4 else 0


def _ipv4(buf: Buffer, off: int) -> str:
    return socket.inet_ntoa(bytes(buf[off : off + 4]))


def parse_link(buf: Buffer, off: int, end: int) -> Link:
    """The RTM_NEWLINK body (struct ifinfomsg and attributes) in buf[off:end]."""
    _fam, _type, index, flags, _change = IFINFOMSG.unpack_from(buf, off)
    name, oper, master, mtu = "", 0, 0, 0
    for kind, aoff, size in iter_attrs(buf, off + IFINFOMSG.size, end):
        if kind == IFLA_IFNAME:
            name = _cstr(buf[aoff : aoff + size])
        elif kind == IFLA_OPERSTATE and size:
            oper = buf[aoff]
        elif kind == IFLA_MASTER:
            master = _u32(buf, aoff, size)
        elif kind == IFLA_MTU:
            mtu = _u32(buf, aoff, size)
    return Link(index, name, flags, oper, master, mtu)


def parse_addr(buf: Buffer, off: int, end: int, names: dict[int, str]) -> Address | None:
    """The RTM_NEWADDR body in buf[off:end]; None unless an IPv4 address."""
    family, prefixlen, _flags, _scope, index = IFADDRMSG.unpack_from(buf, off)
    if family != socket.AF_INET:
        return None
    local = address = None
    for kind, aoff, size in iter_attrs(buf, off + IFADDRMSG.size, end):
        if kind == IFA_LOCAL and size >= 4:
            local = _ipv4(buf, aoff)
        elif kind == IFA_ADDRESS and size >= 4:
            address = _ipv4(buf, aoff)
    ip = local or address
    if ip is None:
        return None
    return Address(index, names.get(index, str(index)), ipaddress.IPv4Interface(f"{ip}/{prefixlen}"))


def parse_addr6(buf: Buffer, off: int, end: int, names: dict[int, str]) -> Address6 | None:
    """The RTM_NEWADDR body in buf[off:end]; None unless an IPv6 address."""
    family, prefixlen, flags, _scope, index = IFADDRMSG.unpack_from(buf, off)
    if family != socket.AF_INET6:
        return None
    ip = None
    for kind, aoff, size in iter_attrs(buf, off + IFADDRMSG.size, end):
        if kind in (IFA_ADDRESS, IFA_LOCAL) and size >= 16 and ip is None:
            ip = socket.inet_ntop(socket.AF_INET6, bytes(buf[aoff : aoff + 16]))
        elif kind == IFA_FLAGS:
            flags = _u32(buf, aoff, size)
    if ip is None:
        return None
    usable = not flags & (IFA_F_TENTATIVE | IFA_F_DEPRECATED | IFA_F_DADFAILED)
    return Address6(index, names.get(index, str(index)), ipaddress.IPv6Interface(f"{ip}/{prefixlen}"), usable)


def parse_route(buf: Buffer, off: int, end: int, names: dict[int, str]) -> Route | None:
    """The RTM_NEWROUTE body in buf[off:end]; None unless an IPv4 unicast route."""
    family, dst_len, _src_len, _tos, table, _proto, scope, rtype, _flags = RTMSG.unpack_from(buf, off)
    if family != socket.AF_INET or rtype != RTN_UNICAST:
        return None
    dst, oif, gw, metric = "0.0.0.0", 0, None, 0
    for kind, aoff, size in iter_attrs(buf, off + RTMSG.size, end):
        if kind == RTA_DST and size >= 4:
            dst = _ipv4(buf, aoff)
        elif kind == RTA_OIF:
            oif = _u32(buf, aoff, size)
        elif kind == RTA_GATEWAY and size >= 4:
            gw = ipaddress.IPv4Address(bytes(buf[aoff : aoff + 4]))
        elif kind == RTA_PRIORITY:
            metric = _u32(buf, aoff, size)
        elif kind == RTA_TABLE:
            table = _u32(buf, aoff, size)
    net = ipaddress.IPv4Network(f"{dst}/{dst_len}", strict=False)
    return Route(net, oif, names.get(oif, str(oif)), gw, metric, table, scope)


class RtnlSocket(NetlinkSocket):
    """A NETLINK_ROUTE socket; ``groups`` (RTMGRP_*) subscribes it to change
    events, read with :meth:`drain_events`."""

    def __init__(self, groups: int = 0) -> None:
        super().__init__(NETLINK_ROUTE, groups, rcvbuf=RCVBUF)

    def _bodies(self, msg_type: int, body: bytes, want: int) -> Iterator[tuple[bytes, int, int]]:
        """Dump a table; yield (buffer, body offset, end) of its ``want`` messages."""
        for chunk in self.dump(msg_type, body, "rtnetlink dump"):
            for off, mlen, mtype, _flags, _seq in iter_messages(chunk):
                if mtype == want:
                    yield chunk, off + NLMSG_HDRLEN, off + mlen

    def snapshot(self) -> Snapshot:
        links = [parse_link(*m) for m in self._bodies(RTM_GETLINK, IFINFOMSG.pack(0, 0, 0, 0, 0), RTM_NEWLINK)]
        names = {lk.index: lk.name for lk in links}
        addrs = []
        for m in self._bodies(RTM_GETADDR, IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0), RTM_NEWADDR):
            if a := parse_addr(*m, names):
                addrs.append(a)
        addrs6 = []
        for m in self._bodies(RTM_GETADDR, IFADDRMSG.pack(socket.AF_INET6, 0, 0, 0, 0), RTM_NEWADDR):
            if a6 := parse_addr6(*m, names):
                addrs6.append(a6)
        routes = []
        for m in self._bodies(RTM_GETROUTE, RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0), RTM_NEWROUTE):
            if r := parse_route(*m, names):
                routes.append(r)
        return Snapshot(tuple(links), tuple(addrs), tuple(routes), tuple(addrs6))


def addresses6() -> list[Address6]:
    """Every IPv6 address of the board now (Address6.ifname is the index
    as text: the caller compares indexes)."""
    with RtnlSocket() as s:
        return [a for m in s._bodies(RTM_GETADDR, IFADDRMSG.pack(socket.AF_INET6, 0, 0, 0, 0), RTM_NEWADDR)
                if (a := parse_addr6(*m, {}))]


def snapshot() -> Snapshot:
    """Links, IPv4 and IPv6 addresses and IPv4 unicast routes, read on a fresh socket."""
    with RtnlSocket() as s:
        return s.snapshot()
