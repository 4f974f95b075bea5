"""nl80211 events over generic netlink: a station's connects, roams,
disconnects and channel switches (the "mlme" multicast group), for the AP
that shares its radio (service.samecard). Framing is netlink.core's; this
resolves the family and group ids and reads the few attributes needed."""

from __future__ import annotations

import errno
import os
import struct
from dataclasses import dataclass

from .core import NetlinkSocket, iter_attrs, iter_messages, message_error, pack_attr
from .uapi import (
    CTRL_ATTR_FAMILY_ID,
    CTRL_ATTR_FAMILY_NAME,
    CTRL_ATTR_MCAST_GROUPS,
    CTRL_ATTR_MCAST_GRP_ID,
    CTRL_ATTR_MCAST_GRP_NAME,
    CTRL_CMD_GETFAMILY,
    GENL_ID_CTRL,
    GENLMSGHDR,
    NETLINK_GENERIC,
    NL80211_ATTR_CH_SWITCH_COUNT,
    NL80211_ATTR_IFINDEX,
    NL80211_ATTR_WIPHY_FREQ,
    NLMSG_ERROR,
    NLMSG_HDRLEN,
)

_U32 = struct.Struct("=I")
_BODY = NLMSG_HDRLEN + GENLMSGHDR.size


@dataclass(frozen=True)
class Event:
    cmd: int            # NL80211_CMD_*
    ifindex: int
    freq: int = 0       # MHz, where the event carries it
    count: int = 0      # beacons before a channel switch (CH_SWITCH_STARTED_NOTIFY)


def _family(sock: NetlinkSocket, name: str) -> tuple[int, dict[str, int]]:
    """The generic netlink family id of ``name`` and its multicast groups."""
    body = GENLMSGHDR.pack(CTRL_CMD_GETFAMILY, 1, 0) + pack_attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
    seq = sock.send_request(GENL_ID_CTRL, 0, body)
    family, groups = 0, dict[str, int]()
    while True:
        view = sock.recv()
        for off, mlen, mtype, _f, mseq in iter_messages(view):
            if mseq != seq:
                continue
            if mtype == NLMSG_ERROR:
                code = -message_error(view, off, mlen)
                if code or not family:
                    code = code or errno.ENOENT
                    raise OSError(code, f"generic netlink family {name}: {os.strerror(code)}")
                return family, groups
            for atype, start, length in iter_attrs(view, off + _BODY, off + mlen):
                if atype == CTRL_ATTR_FAMILY_ID:
                    family = struct.unpack_from("=H", view, start)[0]
                elif atype == CTRL_ATTR_MCAST_GROUPS:
                    for _i, gstart, glen in iter_attrs(view, start, start + length):
                        gname, gid = "", 0
                        for t, s, n in iter_attrs(view, gstart, gstart + glen):
                            if t == CTRL_ATTR_MCAST_GRP_NAME:
                                gname = bytes(view[s:s + n]).rstrip(b"\0").decode()
                            elif t == CTRL_ATTR_MCAST_GRP_ID:
                                gid = _U32.unpack_from(view, s)[0]
                        groups[gname] = gid


class MlmeEvents:
    """A socket on nl80211's "mlme" group: ``fileno()`` for the selector loop,
    :meth:`events` for what arrived (every interface's; filter by ifindex)."""

    def __init__(self) -> None:
        self.sock = NetlinkSocket(NETLINK_GENERIC, timeout=2.0)
        try:
            self.family, groups = _family(self.sock, "nl80211")
            if "mlme" not in groups:
                raise OSError(errno.ENOENT, "nl80211 has no mlme multicast group")
            self.sock.add_membership(groups["mlme"])
        except BaseException:
            self.sock.close()
            raise

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def events(self) -> list[Event]:
        """Every pending event, without waiting; Event(-1, 0) where the kernel dropped some."""
        out = []
        for mtype, msg in self.sock.drain_messages():
            if mtype == -1:
                out.append(Event(-1, 0))
            elif mtype == self.family and len(msg) >= _BODY:
                out.append(parse_event(msg))
        return out


def parse_event(msg: bytes) -> Event:
    """One nl80211 message (header included) as an Event."""
    cmd = GENLMSGHDR.unpack_from(msg, NLMSG_HDRLEN)[0]
    values = {NL80211_ATTR_IFINDEX: 0, NL80211_ATTR_WIPHY_FREQ: 0, NL80211_ATTR_CH_SWITCH_COUNT: 0}
    for atype, start, length in iter_attrs(msg, _BODY, len(msg)):
        if atype in values and length >= 4:
            values[atype] = _U32.unpack_from(msg, start)[0]
    return Event(cmd, values[NL80211_ATTR_IFINDEX], values[NL80211_ATTR_WIPHY_FREQ],
                 values[NL80211_ATTR_CH_SWITCH_COUNT])
