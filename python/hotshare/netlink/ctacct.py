"""Per-client traffic accounting from the conntrack table.

:func:`count_by_client` turns a raw ctnetlink dump (see
:func:`hotshare.netlink.ctnetlink.dump_raw`) into ``{client address: ClientCounters}``
for the stations of one IPv4 subnet; :func:`count_live` does the same straight
from the kernel, one receive buffer at a time, so its memory does not grow
with the table.

Which entry belongs to which client, and in which direction:

A *station* is an address of the subnet that is not in ``exclude`` -- pass
the router's own address(es) on the subnet there: the router sends IGMP
reports and may open connections to stations, and neither is a station's
traffic.

* original source a station -- the station opened the connection (the
  usual case, masqueraded out through the uplink): ``tx`` is the
  CTA_COUNTERS_ORIG direction, ``rx`` the CTA_COUNTERS_REPLY one;
* otherwise reply source a station -- a connection *into* the station.
  For a routed connection the reply source is the original destination; for
  a port forward (DNAT) the original destination is the router's public
  address and only the reply source names the station.  The directions are
  reversed: ``tx`` is the reply direction, ``rx`` the original one;
* otherwise the entry is not a station's (the router's own traffic) and is
  ignored.

An entry between two stations counts once, for the one that opened it; a
connection from the router (an excluded address) to a station counts for the
station, reversed.  Counters need ``net.netfilter.nf_conntrack_acct=1``
(:func:`hotshare.netlink.ctnetlink.ensure_acct`); without it entries still count in
``connections`` with zero bytes.  Entries that have expired are gone from the
table, so these are the figures of the connections alive now, not totals.

Two implementations give identical answers, errors included: a small C
helper (csrc/ctacct.c, bound through cffi as ``hotshare._ctacct``) and a
pure-Python walk.  The C one is used when it has been built, unless
``HOTSHARE_NO_CEXT=1``; :func:`backend` says which.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, ip_network
from typing import Any, NamedTuple

from .core import Buffer, iter_messages
from .ctnetlink import CtnetlinkSocket
from .ctparse import CT_NEW_MSG, ConntrackParseError
from .status import E_NFGENMSG, E_NLA_LEN, E_NLA_PAST_END, E_NLA_TRUNC, E_NLMSG_ERROR, E_NOSPC, E_PAYLOAD
from .uapi import (
    CTA_COUNTERS32_BYTES,
    CTA_COUNTERS32_PACKETS,
    CTA_COUNTERS_BYTES,
    CTA_COUNTERS_ORIG,
    CTA_COUNTERS_PACKETS,
    CTA_COUNTERS_REPLY,
    CTA_IP_V4_DST,
    CTA_IP_V4_SRC,
    CTA_TUPLE_IP,
    CTA_TUPLE_ORIG,
    CTA_TUPLE_REPLY,
    NFGENMSG,
    NLA_HDRLEN,
    NLA_TYPE_MASK,
    NLATTR,
    NLMSG_ERROR,
    NLMSG_HDRLEN,
)

log = logging.getLogger(__name__)

NOT_BUILT_MESSAGE = "hotshare: C accounting helper not built, using the pure-Python path"

U64 = (1 << 64) - 1
U32 = (1 << 32) - 1


class ClientCounters(NamedTuple):
    """What one station sent (tx) and received (rx), over its live entries."""

    tx_bytes: int
    tx_packets: int
    rx_bytes: int
    rx_packets: int
    connections: int


def _load_cext() -> Any:
    if os.environ.get("HOTSHARE_NO_CEXT", "") not in ("", "0"):
        log.debug("hotshare: C accounting helper disabled by HOTSHARE_NO_CEXT")
        return None
    try:
        from hotshare import _ctacct  # type: ignore[attr-defined]
    except ImportError:
        log.info(NOT_BUILT_MESSAGE)
        return None
    return _ctacct


_cext: Any = _load_cext()


def backend() -> str:
    """``"c"`` if the compiled helper is in use, else ``"python"``."""
    return "c" if _cext is not None else "python"


def available_backends() -> list[str]:
    return ["c", "python"] if _cext is not None else ["python"]


def _subnet(subnet: IPv4Network | str) -> IPv4Network:
    net = subnet if isinstance(subnet, IPv4Network) else ip_network(subnet)
    if not isinstance(net, IPv4Network):
        raise ValueError(f"{subnet}: conntrack accounting takes an IPv4 subnet")
    return net


# --------------------------------------------------------------------------
# The pure-Python path: the same walk as csrc/ctacct.c, rule for rule.
# Messages are framed by netlink.core.iter_messages (the same rules and
# codes as the C helper); the attribute walks below are inlined, as in C,
# because they are the hot loop of the fallback (a generator per container
# would double its time).

_NLA = NLATTR.unpack_from
_BE32 = struct.Struct(">I").unpack_from
_BE64 = struct.Struct(">Q").unpack_from
# struct ctacct_client: addr_be, connections, tx_bytes, tx_packets, rx_bytes, rx_packets
_CLIENT = struct.Struct("=IIQQQQ")
_PACK_BE32 = struct.Struct(">I").pack
_ntoa = socket.inet_ntoa
# Payload sizes the C helper insists on: an IPv4 address, a 64-bit and a
# 32-bit counter, each with its attribute header.
_V4_ATTR_LEN = NLA_HDRLEN + 4
_C64_ATTR_LEN = NLA_HDRLEN + 8
_C32_ATTR_LEN = NLA_HDRLEN + 4
_ATTRS_START = NLMSG_HDRLEN + NFGENMSG.size
_TUPLES = frozenset((CTA_TUPLE_ORIG, CTA_TUPLE_REPLY))
_V4_ADDRS = frozenset((CTA_IP_V4_SRC, CTA_IP_V4_DST))
_COUNTERS = frozenset((CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY))
_COUNTERS64 = frozenset((CTA_COUNTERS_PACKETS, CTA_COUNTERS_BYTES))
_COUNTERS32 = frozenset((CTA_COUNTERS32_PACKETS, CTA_COUNTERS32_BYTES))


def _attr_error(pos: int, alen: int) -> ConntrackParseError:
    return ConntrackParseError(pos, E_NLA_LEN if alen < NLA_HDRLEN else E_NLA_PAST_END)


def _count_py(buf: Buffer, net: int, mask: int, exclude: frozenset[int], acc: dict[int, list[int]]) -> None:
    """Add buf's entries to acc: {address: [tx_b, tx_p, rx_b, rx_p, conns]}.

    One function with the nested walks inlined: this is the hot loop of the
    fallback.  Steps past the end of a container simply end its loop, which
    is what the C code's clamping does.
    """
    nla = _NLA
    be32 = _BE32
    be64 = _BE64
    # locals: the hot loop compares against these many times per entry
    hdr, type_mask, v4_len, c64_len, c32_len = NLA_HDRLEN, NLA_TYPE_MASK, _V4_ATTR_LEN, _C64_ATTR_LEN, _C32_ATTR_LEN
    t_orig, t_ip, ip_src, c_orig = CTA_TUPLE_ORIG, CTA_TUPLE_IP, CTA_IP_V4_SRC, CTA_COUNTERS_ORIG
    c_pk, c32_pk = CTA_COUNTERS_PACKETS, CTA_COUNTERS32_PACKETS
    tuples, ips, counters, c64s, c32s = _TUPLES, _V4_ADDRS, _COUNTERS, _COUNTERS64, _COUNTERS32
    af_inet = socket.AF_INET
    for off, mlen, mtype, _flags, _seq in iter_messages(buf, ConntrackParseError):
        if mtype == CT_NEW_MSG:
            if mlen < _ATTRS_START:
                raise ConntrackParseError(off, E_NFGENMSG)
            end = off + mlen
            osrc = rsrc = -1  # -1: absent
            op = ob = rp = rb = 0
            pos = off + _ATTRS_START
            while pos < end:
                if end - pos < hdr:
                    raise ConntrackParseError(pos, E_NLA_TRUNC)
                alen, atype = nla(buf, pos)
                if alen < hdr or alen > end - pos:
                    raise _attr_error(pos, alen)
                atype &= type_mask
                if atype in tuples:
                    src = osrc if atype == t_orig else rsrc
                    p = pos + hdr
                    e2 = pos + alen
                    while p < e2:
                        if e2 - p < hdr:
                            raise ConntrackParseError(p, E_NLA_TRUNC)
                        blen, btype = nla(buf, p)
                        if blen < hdr or blen > e2 - p:
                            raise _attr_error(p, blen)
                        if btype & type_mask == t_ip:
                            q = p + hdr
                            e3 = p + blen
                            while q < e3:
                                if e3 - q < hdr:
                                    raise ConntrackParseError(q, E_NLA_TRUNC)
                                clen, ctype = nla(buf, q)
                                if clen < hdr or clen > e3 - q:
                                    raise _attr_error(q, clen)
                                ctype &= type_mask
                                if ctype in ips:
                                    if clen != v4_len:
                                        raise ConntrackParseError(q, E_PAYLOAD)
                                    if ctype == ip_src:
                                        src = be32(buf, q + hdr)[0]
                                q += (clen + 3) & ~3
                        p += (blen + 3) & ~3
                    if atype == t_orig:
                        osrc = src
                    else:
                        rsrc = src
                elif atype in counters:
                    packets, octets = (op, ob) if atype == c_orig else (rp, rb)
                    p = pos + hdr
                    e2 = pos + alen
                    while p < e2:
                        if e2 - p < hdr:
                            raise ConntrackParseError(p, E_NLA_TRUNC)
                        blen, btype = nla(buf, p)
                        if blen < hdr or blen > e2 - p:
                            raise _attr_error(p, blen)
                        btype &= type_mask
                        if btype in c64s:
                            if blen != c64_len:
                                raise ConntrackParseError(p, E_PAYLOAD)
                            if btype == c_pk:
                                packets = be64(buf, p + hdr)[0]
                            else:
                                octets = be64(buf, p + hdr)[0]
                        elif btype in c32s:
                            if blen != c32_len:
                                raise ConntrackParseError(p, E_PAYLOAD)
                            if btype == c32_pk:
                                packets = be32(buf, p + hdr)[0]
                            else:
                                octets = be32(buf, p + hdr)[0]
                        p += (blen + 3) & ~3
                    if atype == c_orig:
                        op, ob = packets, octets
                    else:
                        rp, rb = packets, octets
                pos += (alen + 3) & ~3
            if buf[off + NLMSG_HDRLEN] == af_inet:  # nfgen_family
                if osrc >= 0 and osrc & mask == net and osrc not in exclude:
                    who, tb, tp, xb, xp = osrc, ob, op, rb, rp
                elif rsrc >= 0 and rsrc & mask == net and rsrc not in exclude:
                    who, tb, tp, xb, xp = rsrc, rb, rp, ob, op
                else:
                    who = -1
                if who >= 0:
                    c = acc.get(who)
                    if c is None:
                        acc[who] = [tb, tp, xb, xp, 1]
                    else:
                        c[0] += tb
                        c[1] += tp
                        c[2] += xb
                        c[3] += xp
                        c[4] += 1
        elif mtype == NLMSG_ERROR:
            raise ConntrackParseError(off, E_NLMSG_ERROR)


# --------------------------------------------------------------------------
# The C path


def _initial_capacity(net: IPv4Network) -> int:
    """Room for every address of a small subnet at half load, 16..1024 slots."""
    want = min(2 * net.num_addresses, 1024)
    cap = 16
    while cap < want:
        cap *= 2
    return cap


class ClientAccounting:
    """Accumulate per-client counters over one or more buffers.

    ``feed()`` takes whole netlink messages (a dump, or any of its receive
    buffers); ``result()`` can be called at any time.  ``exclude``: addresses
    of the subnet that are not stations (the router's).  ``backend`` is
    ``"c"``, ``"python"`` or None for the default (:func:`backend`).
    """

    def __init__(
        self,
        subnet: IPv4Network | str,
        *,
        exclude: Iterable[IPv4Address | str] = (),
        backend: str | None = None,
    ) -> None:
        self.subnet = _subnet(subnet)
        self._net = int(self.subnet.network_address)
        self._mask = int(self.subnet.netmask)
        self._exclude = frozenset(int(IPv4Address(a)) for a in exclude)
        if backend is None:
            backend = "c" if _cext is not None else "python"
        if backend == "c":
            if _cext is None:
                raise RuntimeError(NOT_BUILT_MESSAGE)
            ffi = _cext.ffi
            if ffi.sizeof("struct ctacct_client") != _CLIENT.size:
                raise RuntimeError("hotshare._ctacct: unexpected struct ctacct_client layout")
            self._cap = _initial_capacity(self.subnet)
            self._table = ffi.new("struct ctacct_client[]", self._cap)
            self._n_used = ffi.new("size_t *")
            self._err_off = ffi.new("size_t *")
            # The C side compares addresses as they lie in the message.
            self._net_be = socket.htonl(self._net)
            self._mask_be = socket.htonl(self._mask)
            excl = sorted(self._exclude)
            self._excl = ffi.new("uint32_t[]", [socket.htonl(a) for a in excl]) if excl else ffi.NULL
            self._n_excl = len(excl)
        elif backend != "python":
            raise ValueError(f"unknown accounting backend {backend!r}")
        self.backend = backend
        self._acc: dict[int, list[int]] = {}

    def feed(self, buf: Buffer) -> None:
        """Add the entries of buf; ConntrackParseError if it is malformed."""
        if self.backend == "python":
            _count_py(buf, self._net, self._mask, self._exclude, self._acc)
            return
        ffi, lib = _cext.ffi, _cext.lib
        data = ffi.from_buffer("uint8_t[]", buf)
        total = len(buf)
        off = 0
        while True:
            rc = lib.ctacct_count(
                data + off,
                total - off,
                self._net_be,
                self._mask_be,
                self._excl,
                self._n_excl,
                self._table,
                self._cap,
                self._n_used,
                self._err_off,
            )
            if rc == 0:
                return
            if rc != E_NOSPC:
                raise ConntrackParseError(off + self._err_off[0], rc)
            # Everything before err_off is counted: grow and carry on there.
            off += self._err_off[0]
            self._grow()

    def _grow(self) -> None:
        ffi, lib = _cext.ffi, _cext.lib
        cap = self._cap * 4
        table = ffi.new("struct ctacct_client[]", cap)
        if lib.ctacct_rehash(self._table, self._cap, table, cap, self._n_used) != 0:
            raise MemoryError("ctacct_rehash failed")
        self._table, self._cap = table, cap

    def result(self) -> dict[str, ClientCounters]:
        """{address: ClientCounters}, in address order."""
        make = tuple.__new__  # ClientCounters(*values) minus the Python-level __new__
        if self.backend == "python":
            return {
                _ntoa(_PACK_BE32(addr)): make(
                    ClientCounters, (c[0] & U64, c[1] & U64, c[2] & U64, c[3] & U64, min(c[4], U32))
                )
                for addr, c in sorted(self._acc.items())
            }
        ffi, lib = _cext.ffi, _cext.lib
        size = _CLIENT.size
        copy = ffi.new("struct ctacct_client[]", self._cap)
        ffi.memmove(copy, self._table, size * self._cap)
        n = lib.ctacct_compact(copy, self._cap)
        ntohl = socket.ntohl
        rows = sorted((ntohl(c[0]), c) for c in _CLIENT.iter_unpack(ffi.buffer(copy, n * size)))
        return {_ntoa(_PACK_BE32(addr)): make(ClientCounters, (c[2], c[3], c[4], c[5], c[1])) for addr, c in rows}


def count_by_client(
    buf: Buffer,
    subnet: IPv4Network | str,
    *,
    exclude: Iterable[IPv4Address | str] = (),
    backend: str | None = None,
) -> dict[str, ClientCounters]:
    """Per-client counters of the stations of subnet in a raw dump.

    buf: raw ctnetlink messages (:func:`hotshare.netlink.ctnetlink.dump_raw`).
    exclude: the router's own address(es) on the subnet.
    Returns ``{"10.0.0.5": ClientCounters(...), ...}`` in address order.
    Raises :class:`hotshare.netlink.ctparse.ConntrackParseError` (a ValueError)
    on malformed input, with the same message from either backend.
    """
    acc = ClientAccounting(subnet, exclude=exclude, backend=backend)
    acc.feed(buf)
    return acc.result()


def count_chunks(
    chunks: Iterable[Buffer],
    subnet: IPv4Network | str,
    *,
    exclude: Iterable[IPv4Address | str] = (),
    backend: str | None = None,
) -> dict[str, ClientCounters]:
    """count_by_client over a dump that comes in pieces of whole messages."""
    acc = ClientAccounting(subnet, exclude=exclude, backend=backend)
    for chunk in chunks:
        acc.feed(chunk)
    return acc.result()


def count_live(
    subnet: IPv4Network | str,
    *,
    exclude: Iterable[IPv4Address | str] = (),
    backend: str | None = None,
) -> dict[str, ClientCounters]:
    """Dump the IPv4 conntrack table and count it, one receive buffer at a
    time: the memory used does not depend on the size of the table."""
    with CtnetlinkSocket() as sock:
        return count_chunks(sock.iter_dump_chunks(socket.AF_INET), subnet, exclude=exclude, backend=backend)


__all__ = [
    "NOT_BUILT_MESSAGE",
    "ClientAccounting",
    "ClientCounters",
    "available_backends",
    "backend",
    "count_by_client",
    "count_chunks",
    "count_live",
]
