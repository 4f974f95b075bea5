"""A small read-only rtnetlink client: links, IPv4 addresses and routes.

The resident service must not import pyroute2 (about 32 MB of RSS, see the
README's figures); reading three tables and listening for their change events
only needs a socket and a few dozen lines of struct unpacking. Changes to the
system are acknowledged requests on the same kind of socket (``system.links``).
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterator

from ..plan.model import Address, Link, Route, Snapshot

NETLINK_ROUTE = 0
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST, NLM_F_ACK, NLM_F_DUMP = 0x1, 0x4, 0x300
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE = 0x1, 0x10, 0x40
IFLA_IFNAME, IFLA_OPERSTATE, IFLA_MASTER = 3, 16, 10
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL = 1, 2, 3
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
IF_OPER_UP = 6

_NLMSGHDR = struct.Struct("=IHHII")
_IFINFOMSG = struct.Struct("=BxHiII")
_IFADDRMSG = struct.Struct("=BBBBi")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")


def _attrs(buf: bytes, off: int, end: int) -> Iterator[tuple[int, bytes]]:
    while off + _RTATTR.size <= end:
        length, kind = _RTATTR.unpack_from(buf, off)
        if length < _RTATTR.size or off + length > end:
            raise ValueError("malformed rtnetlink attribute")
        yield kind & 0x3FFF, buf[off + 4:off + length]
        off += (length + 3) & ~3


def _cstr(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("ascii", "replace")


def parse_messages(buf: bytes) -> Iterator[tuple[int, bytes, int, int]]:
    """Yield (type, message, body_offset, end) for each netlink message."""
    off = 0
    while off + _NLMSGHDR.size <= len(buf):
        length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(buf, off)
        if length < _NLMSGHDR.size or off + length > len(buf):
            raise ValueError("truncated netlink message")
        yield kind, buf, off + _NLMSGHDR.size, off + length
        off += (length + 3) & ~3


def parse_link(buf: bytes, off: int, end: int) -> Link:
    _fam, _type, index, flags, _change = _IFINFOMSG.unpack_from(buf, off)
    name, oper, master = "", 0, 0
    for kind, val in _attrs(buf, off + _IFINFOMSG.size, end):
        if kind == IFLA_IFNAME:
            name = _cstr(val)
        elif kind == IFLA_OPERSTATE:
            oper = val[0]
        elif kind == IFLA_MASTER:
            master = struct.unpack("=I", val[:4])[0]
    return Link(index, name, flags, oper, master)


def parse_addr(buf: bytes, off: int, end: int, names: dict[int, str]) -> Address | None:
    family, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(buf, off)
    if family != socket.AF_INET:
        return None
    local = address = None
    for kind, val in _attrs(buf, off + _IFADDRMSG.size, end):
        if kind == IFA_LOCAL:
            local = socket.inet_ntoa(val[:4])
        elif kind == IFA_ADDRESS:
            address = socket.inet_ntoa(val[:4])
    ip = local or address
    if ip is None:
        return None
    return Address(index, names.get(index, str(index)), ipaddress.IPv4Interface(f"{ip}/{prefixlen}"))


def parse_route(buf: bytes, off: int, end: int, names: dict[int, str]) -> Route | None:
    family, dst_len, _src_len, _tos, table, _proto, scope, rtype, _flags = _RTMSG.unpack_from(buf, off)
    if family != socket.AF_INET or rtype != 1:  # RTN_UNICAST only
        return None
    dst, oif, gw, metric = "0.0.0.0", 0, None, 0
    for kind, val in _attrs(buf, off + _RTMSG.size, end):
        if kind == RTA_DST:
            dst = socket.inet_ntoa(val[:4])
        elif kind == RTA_OIF:
            oif = struct.unpack("=I", val[:4])[0]
        elif kind == RTA_GATEWAY:
            gw = ipaddress.IPv4Address(val[:4])
        elif kind == RTA_PRIORITY:
            metric = struct.unpack("=I", val[:4])[0]
        elif kind == RTA_TABLE:
            table = struct.unpack("=I", val[:4])[0]
    net = ipaddress.IPv4Network(f"{dst}/{dst_len}", strict=False)
    return Route(net, oif, names.get(oif, str(oif)), gw, metric, table, scope)


class RtnlSocket:
    """A NETLINK_ROUTE socket; optionally subscribed to change events."""

    def __init__(self, groups: int = 0) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.bind((0, groups))
        self._seq = 0

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def _dump(self, msg_type: int, body: bytes) -> bytes:
        self._seq += 1
        hdr = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, self._seq, 0)
        self.sock.send(hdr + body)
        chunks = []
        while True:
            data = self.sock.recv(1 << 16)
            for kind, buf, off, _end in parse_messages(data):
                if kind == NLMSG_DONE:
                    chunks.append(data[:off - _NLMSGHDR.size])
                    return b"".join(chunks)
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", buf, off)[0]
                    raise OSError(code, os.strerror(code))
            chunks.append(data)

    def request(self, msg_type: int, flags: int, body: bytes) -> None:
        """Send one change and wait for the kernel's acknowledgement;
        raise OSError with the kernel's errno when it refuses."""
        self._seq += 1
        hdr = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_ACK | flags, self._seq, 0)
        self.sock.send(hdr + body)
        while True:
            data = self.sock.recv(1 << 16)
            for kind, buf, off, _end in parse_messages(data):
                seq = _NLMSGHDR.unpack_from(buf, off - _NLMSGHDR.size)[3]
                if kind == NLMSG_ERROR and seq == self._seq:
                    code = -struct.unpack_from("=i", buf, off)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return

    def snapshot(self) -> Snapshot:
        links = []
        for kind, buf, off, end in parse_messages(self._dump(RTM_GETLINK, _IFINFOMSG.pack(0, 0, 0, 0, 0))):
            if kind == RTM_NEWLINK:
                links.append(parse_link(buf, off, end))
        names = {lk.index: lk.name for lk in links}
        addrs = []
        for kind, buf, off, end in parse_messages(self._dump(RTM_GETADDR, _IFADDRMSG.pack(socket.AF_INET, 0, 0, 0, 0))):
            if kind == RTM_NEWADDR and (a := parse_addr(buf, off, end, names)):
                addrs.append(a)
        routes = []
        rtmsg = _RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        for kind, buf, off, end in parse_messages(self._dump(RTM_GETROUTE, rtmsg)):
            if kind == RTM_NEWROUTE and (r := parse_route(buf, off, end, names)):
                routes.append(r)
        return Snapshot(tuple(links), tuple(addrs), tuple(routes))

    def drain_events(self) -> list[int]:
        """Read every pending event; return their message types. The service
        re-reads the (small) tables after a burst rather than patching a copy."""
        kinds: list[int] = []
        while True:
            try:
                data = self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            except BlockingIOError:
                return kinds
            except OSError as e:
                if e.errno == errno.ENOBUFS:  # events lost: a full re-read covers them
                    kinds.append(-1)
                    continue
                raise
            kinds.extend(k for k, _b, _o, _e in parse_messages(data))


def snapshot() -> Snapshot:
    s = RtnlSocket()
    try:
        return s.snapshot()
    finally:
        s.close()
