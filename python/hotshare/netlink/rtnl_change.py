"""rtnetlink, write side: the messages that change links, addresses and routes.

Each function returns a :data:`Request`, ``(nlmsg_type, nlmsg_flags,
body)``, ready for :meth:`hotshare.netlink.core.NetlinkSocket.request`
(which adds NLM_F_REQUEST | NLM_F_ACK).  They take interface indexes, not
names: looking names up, and deciding what an operation means, is
``system.links``'s business.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

from .core import pack_attr
from .uapi import (
    IFA_ADDRESS,
    IFA_BROADCAST,
    IFA_F_NODAD,
    IFA_F_NOPREFIXROUTE,
    IFA_FLAGS,
    IFA_LOCAL,
    IFADDRMSG,
    IFF_UP,
    IFINFOMSG,
    IFLA_ADDRESS,
    IFLA_IFNAME,
    IFLA_INFO_KIND,
    IFLA_LINKINFO,
    IFLA_MASTER,
    NDA_DST,
    NDMSG,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REPLACE,
    NTF_PROXY,
    NTF_USE,
    NUD_PERMANENT,
    RT_SCOPE_LINK,
    RT_SCOPE_NOWHERE,
    RT_SCOPE_UNIVERSE,
    RT_TABLE_MAIN,
    RTA_DST,
    RTA_GATEWAY,
    RTA_OIF,
    RTA_PRIORITY,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_DELNEIGH,
    RTM_DELROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWNEIGH,
    RTM_NEWROUTE,
    RTMSG,
    RTN_UNICAST,
    RTPROT_BOOT,
)

Request = tuple[int, int, bytes]

_U32 = struct.Struct("=I")


def _ifinfomsg(index: int, flags: int = 0, change: int = 0, attrs: bytes = b"") -> bytes:
    return IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, flags, change) + attrs


def _ifaddrmsg(index: int, cidr: str) -> bytes:
    iface = ipaddress.IPv4Interface(cidr)
    body = IFADDRMSG.pack(socket.AF_INET, iface.network.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
    body += pack_attr(IFA_LOCAL, iface.ip.packed) + pack_attr(IFA_ADDRESS, iface.ip.packed)
    if iface.network.prefixlen < 31:
        body += pack_attr(IFA_BROADCAST, iface.network.broadcast_address.packed)
    return body


def add_bridge(name: str) -> Request:
    """RTM_NEWLINK creating a bridge called name (EEXIST if there is one)."""
    attrs = pack_attr(IFLA_IFNAME, name.encode() + b"\0")
    attrs += pack_attr(IFLA_LINKINFO, pack_attr(IFLA_INFO_KIND, b"bridge"))
    return RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, _ifinfomsg(0, attrs=attrs)


def del_link(index: int) -> Request:
    return RTM_DELLINK, 0, _ifinfomsg(index)


def set_up(index: int, up: bool) -> Request:
    """RTM_NEWLINK changing IFF_UP only."""
    return RTM_NEWLINK, 0, _ifinfomsg(index, IFF_UP if up else 0, IFF_UP)


def set_mac(index: int, mac: str) -> Request:
    """RTM_NEWLINK with IFLA_ADDRESS; mac as ``aa:bb:cc:dd:ee:ff``."""
    return RTM_NEWLINK, 0, _ifinfomsg(index, attrs=pack_attr(IFLA_ADDRESS, bytes.fromhex(mac.replace(":", ""))))


def set_master(index: int, master: int) -> Request:
    """RTM_NEWLINK with IFLA_MASTER: enslave index to the bridge master."""
    return RTM_NEWLINK, 0, _ifinfomsg(index, attrs=pack_attr(IFLA_MASTER, _U32.pack(master)))


def add_address(index: int, cidr: str) -> Request:
    """RTM_NEWADDR of an IPv4 ``address/prefix`` (with its broadcast below /31)."""
    return RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, _ifaddrmsg(index, cidr)


def del_address(index: int, cidr: str) -> Request:
    return RTM_DELADDR, 0, _ifaddrmsg(index, cidr)


def _rtmsg(
    index: int,
    dst: ipaddress.IPv4Network,
    gateway: ipaddress.IPv4Address | None,
    metric: int,
    scope: int,
    protocol: int,
) -> bytes:
    body = RTMSG.pack(socket.AF_INET, dst.prefixlen, 0, 0, RT_TABLE_MAIN, protocol, scope, RTN_UNICAST, 0)
    if dst.prefixlen:
        body += pack_attr(RTA_DST, dst.network_address.packed)
    body += pack_attr(RTA_OIF, _U32.pack(index))
    if gateway is not None:
        body += pack_attr(RTA_GATEWAY, gateway.packed)
    if metric:
        body += pack_attr(RTA_PRIORITY, _U32.pack(metric))
    return body


def add_route(
    index: int,
    dst: ipaddress.IPv4Network,
    gateway: ipaddress.IPv4Address | None = None,
    metric: int = 0,
    scope: int | None = None,
) -> Request:
    """RTM_NEWROUTE of a main-table unicast route out of index (RTPROT_BOOT,
    as ``ip route add`` does); scope: universe with a gateway, else link."""
    if scope is None:
        scope = RT_SCOPE_UNIVERSE if gateway is not None else RT_SCOPE_LINK
    return RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, _rtmsg(index, dst, gateway, metric, scope, RTPROT_BOOT)


def del_route(
    index: int,
    dst: ipaddress.IPv4Network,
    gateway: ipaddress.IPv4Address | None = None,
    metric: int = 0,
    scope: int | None = None,
) -> Request:
    """RTM_DELROUTE; scope None sends RT_SCOPE_NOWHERE, which matches any
    scope (RT_SCOPE_UNIVERSE, 0, would not)."""
    return RTM_DELROUTE, 0, _rtmsg(index, dst, gateway, metric, RT_SCOPE_NOWHERE if scope is None else scope, 0)


# -- IPv6: the AP's address in a relayed prefix, NDP proxy entries, neighbour probes --

def _ifaddrmsg6(index: int, cidr: str, flags: int = 0) -> bytes:
    iface = ipaddress.IPv6Interface(cidr)
    body = IFADDRMSG.pack(socket.AF_INET6, iface.network.prefixlen, flags & 0xFF, RT_SCOPE_UNIVERSE, index)
    body += pack_attr(IFA_LOCAL, iface.ip.packed) + pack_attr(IFA_ADDRESS, iface.ip.packed)
    if flags:
        body += pack_attr(IFA_FLAGS, _U32.pack(flags))
    return body


def add_address6(index: int, cidr: str, prefix_route: bool = False) -> Request:
    """RTM_NEWADDR of an IPv6 ``address/prefix``, without duplicate address
    detection (usable at once), and without a route for its prefix unless asked."""
    flags = IFA_F_NODAD | (0 if prefix_route else IFA_F_NOPREFIXROUTE)
    return RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, _ifaddrmsg6(index, cidr, flags)


def _host_route6(index: int, address: str) -> bytes:
    body = RTMSG.pack(socket.AF_INET6, 128, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
    return (body + pack_attr(RTA_DST, ipaddress.IPv6Address(address).packed)
            + pack_attr(RTA_OIF, _U32.pack(index)))


def add_host_route6(index: int, address: str) -> Request:
    """RTM_NEWROUTE of ``address``/128 out of ``index`` (a relayed client)."""
    return RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, _host_route6(index, address)


def del_host_route6(index: int, address: str) -> Request:
    return RTM_DELROUTE, 0, _host_route6(index, address)


def del_address6(index: int, cidr: str) -> Request:
    return RTM_DELADDR, 0, _ifaddrmsg6(index, cidr)


def _ndmsg(index: int, address: str, state: int, flags: int) -> bytes:
    return (NDMSG.pack(socket.AF_INET6, index, state, flags, 0)
            + pack_attr(NDA_DST, ipaddress.IPv6Address(address).packed))


def add_proxy(index: int, address: str) -> Request:
    """RTM_NEWNEIGH with NTF_PROXY: the kernel answers neighbour
    solicitations for ``address`` on ``index`` (with proxy_ndp on there)."""
    return RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, _ndmsg(index, address, NUD_PERMANENT, NTF_PROXY)


def del_proxy(index: int, address: str) -> Request:
    return RTM_DELNEIGH, 0, _ndmsg(index, address, 0, NTF_PROXY)


def resolve_neighbour(index: int, address: str) -> Request:
    """RTM_NEWNEIGH with NTF_USE: start neighbour discovery for ``address``
    on ``index`` now (the kernel sends the solicitation; an answer shows up
    as an RTM_NEWNEIGH event)."""
    return RTM_NEWNEIGH, NLM_F_CREATE | NLM_F_REPLACE, _ndmsg(index, address, 0, NTF_USE)
