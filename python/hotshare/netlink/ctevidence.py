"""Conntrack events as evidence that an uplink's data is alive.

A reply that conntrack sees come back through an uplink proves the uplink
works, at no cost on a metered SIM. The kernel announces it: the first
reply of a connection sets IPS_SEEN_REPLY and sends an UPDATE event
(IPCT_REPLY) on NFNLGRP_CONNTRACK_UPDATE; a new connection is a NEW event
(NLM_F_CREATE) on NFNLGRP_CONNTRACK_NEW, sent when the entry is confirmed,
after masquerade, so its reply tuple's destination is the uplink's address
-- for the phones' connections (NATed to it) and the board's own alike.

Under load those events cost CPU (one message per connection and state
change; a Cortex-A7 notices). So membership is dynamic: the caller joins
the groups (NETLINK_ADD_MEMBERSHIP) only while it wants evidence, and drops
them (NETLINK_DROP_MEMBERSHIP) once every uplink is proven alive; a socket
with no membership costs nothing. Measured on the lab board: 10 s of a
phone's browsing cost 7 wake-ups (41 a minute, 9 ms of CPU), an idle minute
11 (2 ms), bench/health_bench.py.

Why not nft's ``ct event set`` in hotshare's table to cut the event types:
it marks the connections themselves, so every other listener (``conntrack
-E``, a metering daemon following DESTROY events) would lose those events
too; dropping our own membership saves the same work and touches nobody.
"""

from __future__ import annotations

from typing import NamedTuple

from .core import NetlinkSocket
from .ctparse import CT_NEW_MSG, ConntrackParseError, parse_entry
from .uapi import (
    IPS_SEEN_REPLY,
    NETLINK_ADD_MEMBERSHIP,
    NETLINK_DROP_MEMBERSHIP,
    NETLINK_NETFILTER,
    NFNLGRP_CONNTRACK_NEW,
    NFNLGRP_CONNTRACK_UPDATE,
    NLM_F_CREATE,
    NLMSG_HDRLEN,
    SOL_NETLINK,
)

GROUPS = (NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE)
RCVBUF = 1 << 17    # a burst between joining and the first reply; an overflow only loses evidence


class CtEvent(NamedTuple):
    reply_dst: str      # the uplink's address (masqueraded) or the board's own source
    new: bool           # a NEW event: traffic went out
    replied: bool       # IPS_SEEN_REPLY: something came back


class CtEvidence(NetlinkSocket):
    """A NETLINK_NETFILTER socket that joins the conntrack event groups on demand."""

    def __init__(self) -> None:
        super().__init__(NETLINK_NETFILTER, rcvbuf=RCVBUF)
        self.subscribed = False

    def subscribe(self, on: bool) -> None:
        if on == self.subscribed:
            return
        opt = NETLINK_ADD_MEMBERSHIP if on else NETLINK_DROP_MEMBERSHIP
        for group in GROUPS:
            self._sock.setsockopt(SOL_NETLINK, opt, group)
        self.subscribed = on

    def read(self) -> list[CtEvent]:
        """The events queued so far (without waiting); malformed ones are skipped."""
        out = []
        for mtype, msg in self.drain_messages():
            if mtype != CT_NEW_MSG:
                continue
            try:
                e = parse_entry(msg, 0, len(msg))
            except ConntrackParseError:
                continue
            flags = int.from_bytes(msg[6:8], "little") if len(msg) >= NLMSG_HDRLEN else 0
            out.append(CtEvent(e.reply_dst, bool(flags & NLM_F_CREATE), bool(e.status & IPS_SEEN_REPLY)))
        return out
