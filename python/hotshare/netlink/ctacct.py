"""Per-client traffic accounting from the conntrack table.

:func:`count_by_client` turns a raw ctnetlink dump (see
:func:`hotshare.netlink.ctnetlink.dump_raw`) into ``{client address: ClientCounters}``
for the stations of one IPv4 subnet (and, given ``prefixes6``, of IPv6
prefixes: the addresses the clients have there); :func:`count_live` does the same straight
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

An entry between two stations counts once, for the one that opened it; an
entry with the router (an excluded address) at either end is the router's
own traffic (DHCP, DNS to its resolver, its pings), no station's: only
traffic through the router counts.  Counters need ``net.netfilter.nf_conntrack_acct=1``
(:func:`hotshare.netlink.ctnetlink.ensure_acct`); without it entries still count in
``connections`` with zero bytes.  Entries that have expired are gone from the
table, so these are the figures of the connections alive now, not totals.

Two implementations give identical answers, errors included: a small C
helper (csrc/ctacct.c, bound through cffi as ``hotshare._ctacct``) and a
pure-Python walk (``netlink.ctacct_py``).  The C one is used when it has been built, unless
``HOTSHARE_NO_CEXT=1``; :func:`backend` says which.
"""

from __future__ import annotations

import logging
import os
import socket
import struct
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Any, NamedTuple

from .core import Buffer
from .ctacct_py import count_into
from .ctnetlink import CtnetlinkSocket
from .ctparse import ConntrackParseError
from .status import E_NOSPC

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


# struct ctacct_client: addr_be, connections, tx_bytes, tx_packets, rx_bytes, rx_packets
_CLIENT = struct.Struct("=IIQQQQ")
# struct ctacct_client6: addr[16], connections, pad, tx_bytes, tx_packets, rx_bytes, rx_packets
_CLIENT6 = struct.Struct("=16sIIQQQQ")
_PACK_BE32 = struct.Struct(">I").pack
_ntoa = socket.inet_ntoa


def _ntop6(packed: bytes) -> str:
    return socket.inet_ntop(socket.AF_INET6, packed)


def _prefix6(prefix: IPv6Network | str) -> IPv6Network:
    net = prefix if isinstance(prefix, IPv6Network) else ip_network(prefix)
    if not isinstance(net, IPv6Network):
        raise ValueError(f"{prefix}: an IPv6 prefix is needed")
    return net


def _subnet(subnet: IPv4Network | str) -> IPv4Network:
    net = subnet if isinstance(subnet, IPv4Network) else ip_network(subnet)
    if not isinstance(net, IPv4Network):
        raise ValueError(f"{subnet}: conntrack accounting takes an IPv4 subnet")
    return net


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
    of the subnet (or of the prefixes) that are not stations (the router's).
    ``prefixes6``: the clients' IPv6 prefixes; without them IPv6 entries are
    not counted.  ``backend`` is
    ``"c"``, ``"python"`` or None for the default (:func:`backend`).
    """

    def __init__(
        self,
        subnet: IPv4Network | str,
        *,
        exclude: Iterable[IPv4Address | IPv6Address | str] = (),
        prefixes6: Iterable[IPv6Network | str] = (),
        backend: str | None = None,
    ) -> None:
        self.subnet = _subnet(subnet)
        self._net = int(self.subnet.network_address)
        self._mask = int(self.subnet.netmask)
        excluded = [ip_address(a) for a in exclude]
        self._exclude = frozenset(int(a) for a in excluded if a.version == 4)
        self.prefixes6 = tuple(_prefix6(p) for p in prefixes6)
        exclude6 = sorted({int(a) for a in excluded if a.version == 6})
        self._acc6: dict[int, list[int]] = {}
        self._v6 = ((tuple((int(n.network_address), int(n.netmask)) for n in self.prefixes6),
                     frozenset(exclude6), self._acc6) if self.prefixes6 else None)
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
            if self.prefixes6:
                self._cap6 = 16
                self._table6 = ffi.new("struct ctacct_client6[]", self._cap6)
                self._n_used6 = ffi.new("size_t *")
                self._prefixes_c = ffi.new("uint8_t[]", b"".join(n.network_address.packed + n.netmask.packed
                                                                 for n in self.prefixes6))
                self._n_prefixes = len(self.prefixes6)
                packed = b"".join(a.to_bytes(16, "big") for a in exclude6)
                self._excl6 = ffi.new("uint8_t[]", packed) if packed else ffi.NULL
                self._n_excl6 = len(exclude6)
        elif backend != "python":
            raise ValueError(f"unknown accounting backend {backend!r}")
        self.backend = backend
        self._acc: dict[int, list[int]] = {}

    def feed(self, buf: Buffer) -> None:
        """Add the entries of buf; ConntrackParseError if it is malformed."""
        if self.backend == "python":
            count_into(buf, self._net, self._mask, self._exclude, self._acc, self._v6)
            return
        lib = _cext.lib
        data = _cext.ffi.from_buffer("uint8_t[]", buf)
        self._feed_c(data, len(buf), lambda d, n: lib.ctacct_count(
            d, n, self._net_be, self._mask_be, self._excl, self._n_excl, self._table, self._cap, self._n_used,
            self._err_off), self._grow)
        if self.prefixes6:  # a second walk, for the IPv6 entries
            self._feed_c(data, len(buf), lambda d, n: lib.ctacct_count6(
                d, n, self._prefixes_c, self._n_prefixes, self._excl6, self._n_excl6, self._table6, self._cap6,
                self._n_used6, self._err_off), self._grow6)

    def _feed_c(self, data: Any, total: int, count: Any, grow: Any) -> None:
        off = 0
        while True:
            rc = count(data + off, total - off)
            if rc == 0:
                return
            if rc != E_NOSPC:
                raise ConntrackParseError(off + self._err_off[0], rc)
            # Everything before err_off is counted: grow and carry on there.
            off += self._err_off[0]
            grow()

    def _grow(self) -> None:
        ffi, lib = _cext.ffi, _cext.lib
        cap = self._cap * 4
        table = ffi.new("struct ctacct_client[]", cap)
        if lib.ctacct_rehash(self._table, self._cap, table, cap, self._n_used) != 0:
            raise MemoryError("ctacct_rehash failed")
        self._table, self._cap = table, cap

    def _grow6(self) -> None:
        ffi, lib = _cext.ffi, _cext.lib
        cap = self._cap6 * 4
        table = ffi.new("struct ctacct_client6[]", cap)
        if lib.ctacct_rehash6(self._table6, self._cap6, table, cap, self._n_used6) != 0:
            raise MemoryError("ctacct_rehash6 failed")
        self._table6, self._cap6 = table, cap

    def result(self) -> dict[str, ClientCounters]:
        """{address: ClientCounters}: IPv4 addresses in order, then IPv6 ones."""
        return {**self._result4(), **self._result6()}

    def _result6(self) -> dict[str, ClientCounters]:
        make = tuple.__new__
        if not self.prefixes6:
            return {}
        ntop = _ntop6  # the kernel's spelling (inet_ntop), as the neighbour table gives it
        if self.backend == "python":
            return {ntop(addr.to_bytes(16, "big")): make(ClientCounters, (c[0] & U64, c[1] & U64, c[2] & U64,
                                                                           c[3] & U64, min(c[4], U32)))
                    for addr, c in sorted(self._acc6.items())}
        ffi, lib = _cext.ffi, _cext.lib
        size = _CLIENT6.size
        copy = ffi.new("struct ctacct_client6[]", self._cap6)
        ffi.memmove(copy, self._table6, size * self._cap6)
        n = lib.ctacct_compact6(copy, self._cap6)
        rows = sorted(_CLIENT6.iter_unpack(ffi.buffer(copy, n * size)))
        return {ntop(c[0]): make(ClientCounters, (c[3], c[4], c[5], c[6], c[1])) for c in rows}

    def _result4(self) -> dict[str, ClientCounters]:
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
    exclude: Iterable[IPv4Address | IPv6Address | str] = (),
    prefixes6: Iterable[IPv6Network | str] = (),
    backend: str | None = None,
) -> dict[str, ClientCounters]:
    """Per-client counters of the stations of subnet in a raw dump.

    buf: raw ctnetlink messages (:func:`hotshare.netlink.ctnetlink.dump_raw`).
    exclude: the router's own address(es) on the subnet.
    Returns ``{"10.0.0.5": ClientCounters(...), ...}`` in address order.
    Raises :class:`hotshare.netlink.ctparse.ConntrackParseError` (a ValueError)
    on malformed input, with the same message from either backend.
    """
    acc = ClientAccounting(subnet, exclude=exclude, prefixes6=prefixes6, backend=backend)
    acc.feed(buf)
    return acc.result()


def count_chunks(
    chunks: Iterable[Buffer],
    subnet: IPv4Network | str,
    *,
    exclude: Iterable[IPv4Address | IPv6Address | str] = (),
    prefixes6: Iterable[IPv6Network | str] = (),
    backend: str | None = None,
) -> dict[str, ClientCounters]:
    """count_by_client over a dump that comes in pieces of whole messages."""
    acc = ClientAccounting(subnet, exclude=exclude, prefixes6=prefixes6, backend=backend)
    for chunk in chunks:
        acc.feed(chunk)
    return acc.result()


def count_live(
    subnet: IPv4Network | str,
    *,
    exclude: Iterable[IPv4Address | IPv6Address | str] = (),
    prefixes6: Iterable[IPv6Network | str] = (),
    backend: str | None = None,
) -> dict[str, ClientCounters]:
    """Dump the IPv4 conntrack table (and the IPv6 one, given ``prefixes6``)
    and count it, one receive buffer at a time: the memory used does not
    depend on the size of the table."""
    family = socket.AF_UNSPEC if prefixes6 else socket.AF_INET
    with CtnetlinkSocket() as sock:
        return count_chunks(sock.iter_dump_chunks(family), subnet, exclude=exclude, prefixes6=prefixes6,
                            backend=backend)


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
