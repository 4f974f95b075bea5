"""The neighbour tables: who answers ARP on an interface now; neighbour
events (RTM_NEWNEIGH/RTM_DELNEIGH) parsed for the IPv6 relay."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from .core import iter_attrs, iter_messages
from .rtnl import RtnlSocket
from .uapi import (
    NDA_DST,
    NDA_LLADDR,
    NDMSG,
    NLMSG_HDRLEN,
    NUD_DELAY,
    NUD_PROBE,
    NUD_REACHABLE,
    NUD_STALE,
    RTM_DELNEIGH,
    RTM_GETNEIGH,
    RTM_NEWNEIGH,
)


@dataclass(frozen=True)
class NeighEvent:
    deleted: bool          # RTM_DELNEIGH
    family: int
    ifindex: int
    state: int
    flags: int
    address: str

    @property
    def present(self) -> bool:
        return not self.deleted and bool(self.state & PRESENT)


def parse_event(mtype: int, msg: bytes) -> NeighEvent | None:
    """An RTM_NEWNEIGH/RTM_DELNEIGH message (header included); None for others."""
    if mtype not in (RTM_NEWNEIGH, RTM_DELNEIGH) or len(msg) < NLMSG_HDRLEN + NDMSG.size:
        return None
    family, index, state, flags, _t = NDMSG.unpack_from(msg, NLMSG_HDRLEN)
    size = 16 if family == socket.AF_INET6 else 4
    for kind, aoff, alen in iter_attrs(msg, NLMSG_HDRLEN + NDMSG.size, len(msg)):
        if kind == NDA_DST and alen == size:
            return NeighEvent(mtype == RTM_DELNEIGH, family, index, state, flags,
                              socket.inet_ntop(family, msg[aoff:aoff + size]))
    return None


# A neighbour that answered recently or is being checked; not one that
# stopped answering (FAILED) or never did (INCOMPLETE).
PRESENT = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE


def present(ifindex: int) -> dict[str, str]:
    """{MAC: IPv4 address} of the neighbours on ``ifindex`` that are there
    (one of them for a MAC that has several)."""
    return {mac: ip for ip, mac in addresses(ifindex)}


def by_address(ifindex: int, family: int = socket.AF_INET) -> dict[str, str]:
    """{address: MAC} of the neighbours on ``ifindex`` that are there (IPv4, or ``family``'s)."""
    return dict(addresses(ifindex, family))


def addresses(ifindex: int, family: int = socket.AF_INET) -> list[tuple[str, str]]:
    """(address, MAC) of the neighbours on ``ifindex`` that are there (IPv4, or ``family``'s)."""
    out: list[tuple[str, str]] = []
    want = 16 if family == socket.AF_INET6 else 4
    with RtnlSocket() as s:
        for chunk in s.dump(RTM_GETNEIGH, NDMSG.pack(family, ifindex, 0, 0, 0), "neighbour dump"):
            for off, mlen, mtype, _flags, _seq in iter_messages(chunk):
                if mtype != RTM_NEWNEIGH:
                    continue
                body = off + NLMSG_HDRLEN
                fam, index, state, _f, _t = NDMSG.unpack_from(chunk, body)
                if fam != family or index != ifindex or not state & PRESENT:
                    continue
                ip = mac = ""
                for kind, aoff, size in iter_attrs(chunk, body + NDMSG.size, off + mlen):
                    if kind == NDA_DST and size == want:
                        ip = socket.inet_ntop(family, bytes(chunk[aoff:aoff + want]))
                    elif kind == NDA_LLADDR and size == 6:
                        mac = ":".join(f"{b:02x}" for b in bytes(chunk[aoff:aoff + 6]))
                if ip and mac:
                    out.append((ip, mac))
    return out


def present_addresses(ifindex: int, family: int) -> list[str]:
    """The addresses of the neighbours on ``ifindex`` that are there (any family)."""
    out: list[str] = []
    with RtnlSocket() as s:
        for chunk in s.dump(RTM_GETNEIGH, NDMSG.pack(family, ifindex, 0, 0, 0), "neighbour dump"):
            for off, mlen, mtype, _flags, _seq in iter_messages(chunk):
                ev = parse_event(mtype, bytes(chunk[off:off + mlen]))
                if ev is not None and ev.family == family and ev.ifindex == ifindex and ev.present:
                    out.append(ev.address)
    return out
