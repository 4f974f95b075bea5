"""The conntrack table through a raw ctnetlink socket.

A NETLINK_NETFILTER :class:`~hotshare.netlink.core.NetlinkSocket` and the
decoder of ``netlink.ctparse``, with nothing heavier than the standard
library: importing pyroute2 costs about 32 MB of RSS, which the resident
service cannot afford on a 128 MB board, and its conntrack dump needs about
68 MB for 20k entries.

* :func:`dump_raw` sends ``IPCTNL_MSG_CT_GET`` with ``NLM_F_DUMP`` and returns
  the kernel's answer verbatim (every receive buffer joined, the final
  ``NLMSG_DONE`` included); :func:`iter_dump_chunks` yields the receive
  buffers one by one so that a consumer can work in constant memory.
* :func:`iter_entries` (from ``ctparse``) decodes such a buffer into
  :class:`CtEntry` tuples; malformed input raises
  :class:`ConntrackParseError` (a ``ValueError``, codes ``E_*``).
* :func:`delete` / :func:`delete_entries` send ``IPCTNL_MSG_CT_DELETE`` by
  original tuple (and ``CTA_ID``, so a newer entry that reuses the tuple is
  left alone); :func:`flush_nat_via` drops the entries masqueraded behind an
  uplink address that went away, :func:`flush_subnet` every entry of a subnet.
* :func:`ensure_acct` switches on ``net.netfilter.nf_conntrack_acct``, without
  which the kernel sends no ``CTA_COUNTERS_*`` (it applies to entries created
  after it is set).

``python -m hotshare.tools.conntrack --help`` is a small command line on top
of it (dump, list, count, flush), used by the tests and handy on the board.
"""

from __future__ import annotations

import errno
import io
import os
import socket
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Callable, Union

from .core import NetlinkSocket
from .ctparse import (
    CT_GET_MSG,
    CT_NEW_MSG,
    ConntrackParseError,
    CtEntry,
    delete_request,
    encode_tuple,
    iter_entries,
    nfgenmsg,
    parse_entry,
)
from .status import (
    E_INVAL,
    E_NFGENMSG,
    E_NLA_LEN,
    E_NLA_PAST_END,
    E_NLA_TRUNC,
    E_NLMSG_ERROR,
    E_NLMSG_LEN,
    E_NLMSG_TRUNC,
    E_NOSPC,
    E_PAYLOAD,
    REASONS,
)
from .uapi import NETLINK_NETFILTER

__all__ = [
    "ACCT_SYSCTL",
    "CT_NEW_MSG",
    "DEFAULT_TIMEOUT",
    "DELETE_BATCH",
    "E_INVAL",
    "E_NFGENMSG",
    "E_NLA_LEN",
    "E_NLA_PAST_END",
    "E_NLA_TRUNC",
    "E_NLMSG_ERROR",
    "E_NLMSG_LEN",
    "E_NLMSG_TRUNC",
    "E_NOSPC",
    "E_PAYLOAD",
    "REASONS",
    "ConntrackParseError",
    "CtEntry",
    "CtnetlinkSocket",
    "delete",
    "delete_entries",
    "dump_raw",
    "encode_tuple",
    "ensure_acct",
    "flush_nat_via",
    "flush_subnet",
    "get_acct",
    "iter_dump_chunks",
    "iter_entries",
    "parse_entry",
    "set_acct",
]

ACCT_SYSCTL = "/proc/sys/net/netfilter/nf_conntrack_acct"
DELETE_BATCH = 64
DEFAULT_TIMEOUT = 10.0

Subnet = Union[IPv4Network, IPv6Network, str]


class CtnetlinkSocket(NetlinkSocket):
    """A NETLINK_NETFILTER socket speaking ctnetlink; use as a context manager.

    ``timeout``: seconds a receive may wait for the kernel (None: forever);
    the kernel answers at once, so a timeout only guards the resident
    service against the unexpected.
    """

    def __init__(self, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        super().__init__(NETLINK_NETFILTER, timeout=timeout)

    def iter_dump_chunks(self, family: int = socket.AF_INET) -> Iterator[bytes]:
        """Dump the table; yield each receive buffer (whole messages).

        The last chunk ends with NLMSG_DONE.  Raises OSError if the kernel
        answers with an error (NLMSG_ERROR, or a negative NLMSG_DONE code).
        Closing the iterator early reads the rest of the dump away.
        """
        return self.dump(CT_GET_MSG, nfgenmsg(family), "conntrack dump")

    def dump_raw(self, family: int = socket.AF_INET) -> bytes:
        """The whole dump as one bytes object (see :func:`dump_raw`)."""
        out = io.BytesIO()
        for chunk in self.iter_dump_chunks(family):
            out.write(chunk)
        # BytesIO hands over its buffer without a copy when nothing else
        # references it, so the peak stays close to the size of the dump.
        return out.getvalue()

    def delete_many(self, entries: Iterable[CtEntry]) -> int:
        """Delete entries by original tuple and id; return how many went.

        Entries already gone (ENOENT) are not counted.  Requests go in
        batches of DELETE_BATCH, each acknowledged.
        """
        deleted = 0
        batch: list[int] = []
        for entry in entries:
            batch.append(self.send_request(*delete_request(entry)))
            if len(batch) >= DELETE_BATCH:
                deleted += self._collect_acks(batch)
                batch = []
        if batch:
            deleted += self._collect_acks(batch)
        return deleted

    def _collect_acks(self, batch: list[int]) -> int:
        ok = 0
        first_error: OSError | None = None
        for _seq, code in self.acks(batch):
            if code == 0:
                ok += 1
            elif code != errno.ENOENT and first_error is None:
                first_error = OSError(code, f"conntrack delete: {os.strerror(code)}")
        if first_error is not None:
            raise first_error
        return ok

    def delete(self, entry: CtEntry) -> bool:
        """Delete one entry; False if it was already gone."""
        return self.delete_many([entry]) == 1


# --------------------------------------------------------------------------
# Module-level helpers, one socket each


def iter_dump_chunks(family: int = socket.AF_INET) -> Iterator[bytes]:
    """Dump on a fresh socket, yielding receive buffers (constant memory)."""
    with CtnetlinkSocket() as sock:
        yield from sock.iter_dump_chunks(family)


def dump_raw(family: int = socket.AF_INET) -> bytes:
    """Dump the conntrack table (IPCTNL_MSG_CT_GET, NLM_F_DUMP).

    Returns the raw netlink messages as received, NLMSG_DONE included.
    ``family``: AF_INET (default), AF_INET6, or AF_UNSPEC for both.
    Raises OSError on a netlink error (EPERM without CAP_NET_ADMIN).
    """
    with CtnetlinkSocket() as sock:
        return sock.dump_raw(family)


def delete(entry: CtEntry) -> bool:
    """Delete one entry by its original tuple (and CTA_ID)."""
    with CtnetlinkSocket() as sock:
        return sock.delete(entry)


def delete_entries(predicate: Callable[[CtEntry], bool], family: int = socket.AF_INET) -> int:
    """Delete every entry for which predicate is true; return the count.

    The table is read chunk by chunk and only the matching entries are kept,
    then deleted once the dump is over.
    """
    with CtnetlinkSocket() as sock:
        doomed: list[CtEntry] = []
        for chunk in sock.iter_dump_chunks(family):
            doomed.extend(e for e in iter_entries(chunk) if predicate(e))
        return sock.delete_many(doomed)


def _network(subnet: Subnet) -> IPv4Network | IPv6Network:
    return subnet if isinstance(subnet, (IPv4Network, IPv6Network)) else ip_network(subnet)


def _member(net: IPv4Network | IPv6Network) -> Callable[[str], bool]:
    """A fast ``addr in net`` test on the address strings of CtEntry."""
    lo = int(net.network_address)
    mask = int(net.netmask)
    fam = socket.AF_INET if net.version == 4 else socket.AF_INET6

    def member(addr: str) -> bool:
        if not addr:
            return False
        try:
            value = int.from_bytes(socket.inet_pton(fam, addr), "big")
        except OSError:  # the other family
            return False
        return value & mask == lo

    return member


def flush_nat_via(subnet: Subnet, nat_address: str) -> int:
    """Drop the entries of subnet's stations that were masqueraded behind
    nat_address (an uplink address that went away).

    An entry goes when its original source is in subnet and its reply
    destination is nat_address.  Without this, a station's UDP "flows"
    (DNS, QUIC, VoIP) keep being NATed to the dead address after a failover
    until they time out.  Returns the number of entries deleted.
    """
    net = _network(subnet)
    nat = str(ip_address(nat_address))
    inside = _member(net)
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    return delete_entries(lambda e: e.reply_dst == nat and inside(e.orig_src), family)


def flush_subnet(subnet: Subnet) -> int:
    """Drop every entry with an address of subnet in either tuple.

    That is: original source or destination, or reply source or
    destination (a port forward to a station has it as reply source only).
    Returns the number of entries deleted.
    """
    net = _network(subnet)
    inside = _member(net)
    family = socket.AF_INET if net.version == 4 else socket.AF_INET6
    return delete_entries(
        lambda e: inside(e.orig_src) or inside(e.orig_dst) or inside(e.reply_src) or inside(e.reply_dst),
        family,
    )


# --------------------------------------------------------------------------
# net.netfilter.nf_conntrack_acct (per network namespace)


def get_acct(path: str = ACCT_SYSCTL) -> int:
    """Current nf_conntrack_acct (FileNotFoundError if nf_conntrack is absent)."""
    with open(path) as f:
        return int(f.read().strip())


def set_acct(value: int, path: str = ACCT_SYSCTL) -> None:
    with open(path, "w") as f:
        f.write(f"{int(value)}\n")


def ensure_acct(path: str = ACCT_SYSCTL) -> int:
    """Switch on conntrack accounting; return the previous value.

    Restore it with ``set_acct(previous)`` on shutdown.  Entries created
    before the switch carry no counters.
    """
    previous = get_acct(path)
    if previous != 1:
        set_acct(1, path)
    return previous
