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
from ipaddress import IPv4Address, IPv4Network, ip_network
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
_PACK_BE32 = struct.Struct(">I").pack
_ntoa = socket.inet_ntoa


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
            count_into(buf, self._net, self._mask, self._exclude, self._acc)
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
