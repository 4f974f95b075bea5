"""Conntrack destroy events and counter-zeroing dumps: the two sources of
per-client totals that add up.

Every byte a connection carries is counted exactly once, by one of:

* its **destroy event** (group ``NFNLGRP_CONNTRACK_DESTROY``): the kernel
  sends an ``IPCTNL_MSG_CT_DELETE`` with the entry's counters when it goes
  (closed, timed out, flushed);
* a **zeroing dump** (``IPCTNL_MSG_CT_GET_CTRZERO``): the live entries with
  their counters, each entry's counters reset to zero in the same step (the
  kernel swaps them atomically), so that what a later event or dump reports
  is only what came after.

Offloaded flows (the flowtable fast path) are counted too: the flowtable is
declared with ``counter``, so the kernel adds their bytes to the entry's
conntrack counters, which both sources read.  Counters need
``net.netfilter.nf_conntrack_acct=1`` (the service sets it, journaled, and
restores it on stop).

Subscribe first, dump second: an entry that ends before the dump is in an
event and not in the dump; one that ends after it has its remainder in the
event.  Events the kernel had to drop (its queue for us overflowed,
ENOBUFS) are lost bytes: :attr:`DestroyEvents.dropped` counts them and the
socket asks for a large receive buffer so that it does not happen.

Both kinds of message go through the same walk as a dump
(:class:`hotshare.netlink.ctacct.ClientAccounting`: the C helper or the
pure-Python path), one batch of messages per call.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

from .core import RECV_BUFSIZE, NetlinkSocket
from .ctacct import ClientAccounting, ClientCounters
from .ctparse import nfgenmsg
from .uapi import (
    IPCTNL_MSG_CT_GET_CTRZERO,
    NETLINK_NETFILTER,
    NFNL_SUBSYS_CTNETLINK,
    NFNLGRP_CONNTRACK_DESTROY,
    NFNLGRP_CONNTRACK_NEW,
)

CT_GET_CTRZERO_MSG = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET_CTRZERO
# Room for a burst of events between two wake-ups (a destroy event is about
# 200 bytes: some 5,000 of them); the kernel doubles what it is asked for.
EVENT_RCVBUF = 1 << 20
# One parser call per this much: 16 receive buffers' worth.
BATCH_BYTES = 16 * RECV_BUFSIZE
SO_RCVBUFFORCE = 33  # asm-generic/socket.h; not in Python's socket module

Counts = dict[str, ClientCounters]


class DestroyEvents(NetlinkSocket):
    """A ctnetlink socket on the destroy group (and, with ``new``, the new
    group too: a new connection's event carries no bytes, but it tells the
    reader that traffic has started); register it with a selector and call
    :meth:`read` when it is readable."""

    def __init__(self, new: bool = False) -> None:
        groups = 1 << (NFNLGRP_CONNTRACK_DESTROY - 1) | (1 << (NFNLGRP_CONNTRACK_NEW - 1) if new else 0)
        super().__init__(NETLINK_NETFILTER, groups, rcvbuf=EVENT_RCVBUF)
        try:  # root may go past net.core.rmem_max
            self._sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, EVENT_RCVBUF)
        except OSError:
            pass
        self.dropped = 0
        self._batch = bytearray(BATCH_BYTES)

    def batches(self) -> Iterator[memoryview]:
        """What is pending, in batches of whole messages (views valid until
        the next batch); empty when nothing is."""
        while True:
            used, dropped = self.drain_batch(self._batch)
            self.dropped += dropped
            if not used:
                return
            with memoryview(self._batch) as view:
                yield view[:used]
            if len(self._batch) - used >= RECV_BUFSIZE:
                return  # it stopped because nothing more was pending

    def read(self, accounting: ClientAccounting) -> int:
        """Feed every pending event to ``accounting``; return the bytes read."""
        total = 0
        for batch in self.batches():
            accounting.feed(batch)
            total += len(batch)
        return total


def iter_zeroing_dump(sock: NetlinkSocket, family: int = socket.AF_INET) -> Iterator[bytes]:
    """The live entries with their counters, zeroing them (receive buffers
    of whole messages, as :meth:`NetlinkSocket.dump`)."""
    return sock.dump(CT_GET_CTRZERO_MSG, nfgenmsg(family), "conntrack counter dump")


def collect_live(
    subnet: IPv4Network | str, *, exclude: Iterable[IPv4Address | IPv6Address | str] = (),
    prefixes6: Iterable[IPv6Network | str] = (), backend: str | None = None
) -> Counts:
    """Per-client counters of the live IPv4 entries (and IPv6 ones, given
    ``prefixes6``) since they were last zeroed, zeroing them."""
    acc = ClientAccounting(subnet, exclude=exclude, prefixes6=prefixes6, backend=backend)
    with NetlinkSocket(NETLINK_NETFILTER, timeout=10.0) as sock:
        for chunk in iter_zeroing_dump(sock, socket.AF_UNSPEC if acc.prefixes6 else socket.AF_INET):
            acc.feed(chunk)
    return acc.result()


__all__ = ["BATCH_BYTES", "CT_GET_CTRZERO_MSG", "Counts", "DestroyEvents", "collect_live", "iter_zeroing_dump"]
