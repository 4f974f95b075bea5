"""nftables change events: which tables a burst of them touched.

The kernel announces every committed change to the ruleset (tables, chains,
rules, sets and their elements, objects, flowtables) on NETLINK_NETFILTER
multicast group NFNLGRP_NFTABLES, whoever made it: ``nft``, iptables-nft,
firewalld, Docker. Each batch ends with NFT_MSG_NEWGEN. Subscribing costs
nothing until something changes; reading needs no dump.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from .core import NetlinkFormatError, NetlinkSocket, iter_attrs
from .uapi import (
    NETLINK_NETFILTER,
    NFGENMSG,
    NFNL_SUBSYS_NFTABLES,
    NFNLGRP_NFTABLES,
    NFPROTO_ARP,
    NFPROTO_BRIDGE,
    NFPROTO_INET,
    NFPROTO_IPV4,
    NFPROTO_IPV6,
    NFPROTO_NETDEV,
    NFT_MSG_DELCHAIN,
    NFT_MSG_DELFLOWTABLE,
    NFT_MSG_DELOBJ,
    NFT_MSG_DELRULE,
    NFT_MSG_DELSET,
    NFT_MSG_DELSETELEM,
    NFT_MSG_DELTABLE,
    NFT_MSG_DESTROYCHAIN,
    NFT_MSG_DESTROYFLOWTABLE,
    NFT_MSG_DESTROYOBJ,
    NFT_MSG_DESTROYRULE,
    NFT_MSG_DESTROYSET,
    NFT_MSG_DESTROYSETELEM,
    NFT_MSG_DESTROYTABLE,
    NFT_MSG_NEWCHAIN,
    NFT_MSG_NEWFLOWTABLE,
    NFT_MSG_NEWOBJ,
    NFT_MSG_NEWRULE,
    NFT_MSG_NEWSET,
    NFT_MSG_NEWSETELEM,
    NFT_MSG_NEWTABLE,
    NFTA_TABLE_NAME,
    NLMSG_HDRLEN,
)

FAMILIES = {NFPROTO_INET: "inet", NFPROTO_IPV4: "ip", NFPROTO_IPV6: "ip6", NFPROTO_ARP: "arp",
            NFPROTO_BRIDGE: "bridge", NFPROTO_NETDEV: "netdev"}
# The messages that change the ruleset (NEWGEN only closes a batch; GET*
# and TRACE are never announced on this group).
CHANGES = frozenset({
    NFT_MSG_NEWTABLE, NFT_MSG_DELTABLE, NFT_MSG_DESTROYTABLE,
    NFT_MSG_NEWCHAIN, NFT_MSG_DELCHAIN, NFT_MSG_DESTROYCHAIN,
    NFT_MSG_NEWRULE, NFT_MSG_DELRULE, NFT_MSG_DESTROYRULE,
    NFT_MSG_NEWSET, NFT_MSG_DELSET, NFT_MSG_DESTROYSET,
    NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM, NFT_MSG_DESTROYSETELEM,
    NFT_MSG_NEWOBJ, NFT_MSG_DELOBJ, NFT_MSG_DESTROYOBJ,
    NFT_MSG_NEWFLOWTABLE, NFT_MSG_DELFLOWTABLE, NFT_MSG_DESTROYFLOWTABLE,
})
UNKNOWN = ("?", "?")            # a change whose table could not be read
# A restore of a large ruleset announces thousands of messages at once; an
# overflow (ENOBUFS) only means "something changed", but is rarer this way.
RCVBUF = 1 << 18


def table_of(msg: bytes) -> tuple[str, str] | None:
    """(family, table) a change message is about; None if it is not a change
    to the ruleset; UNKNOWN if it is one whose table cannot be read."""
    if len(msg) < NLMSG_HDRLEN:
        return None
    mtype = int.from_bytes(msg[4:6], "little")
    if mtype >> 8 != NFNL_SUBSYS_NFTABLES or mtype & 0xFF not in CHANGES:
        return None
    if len(msg) < NLMSG_HDRLEN + NFGENMSG.size:
        return UNKNOWN
    family = FAMILIES.get(NFGENMSG.unpack_from(msg, NLMSG_HDRLEN)[0], "?")
    try:
        for kind, off, size in iter_attrs(msg, NLMSG_HDRLEN + NFGENMSG.size, len(msg)):
            if kind == NFTA_TABLE_NAME:
                return family, msg[off : off + size].split(b"\0", 1)[0].decode("ascii", "replace")
    except NetlinkFormatError:
        pass
    return UNKNOWN


def touched(messages: Iterable[tuple[int, bytes]], ignore: Collection[tuple[str, str]] = ()) -> set[tuple[str, str]]:
    """The (family, table) pairs a batch of ``drain_messages`` changed, but
    those of ``ignore``; UNKNOWN among them where events were lost or could
    not be read."""
    out: set[tuple[str, str]] = set()
    for mtype, msg in messages:
        table = UNKNOWN if mtype == -1 else table_of(msg)
        if table is not None and table not in ignore:
            out.add(table)
    return out


class NftEventSocket(NetlinkSocket):
    """Subscribed to NFNLGRP_NFTABLES: readable when the ruleset changed."""

    def __init__(self) -> None:
        super().__init__(NETLINK_NETFILTER, 1 << (NFNLGRP_NFTABLES - 1), rcvbuf=RCVBUF)

    def changes(self, ignore: Collection[tuple[str, str]] = ()) -> set[tuple[str, str]]:
        """Read what is pending; the tables it changed (see :func:`touched`)."""
        return touched(self.drain_messages(), ignore)
