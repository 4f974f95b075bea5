"""ctnetlink messages: decoding conntrack entries, encoding tuples.

* :func:`iter_entries` decodes a raw dump (``ctnetlink.dump_raw``) into
  :class:`CtEntry` tuples; :func:`parse_entry` decodes one message.
* :func:`encode_tuple` builds a ``CTA_TUPLE_ORIG`` payload, and
  :func:`delete_request` the ``IPCTNL_MSG_CT_DELETE`` for an entry.

Framing goes through ``netlink.core`` (the C accounting helper's rules);
malformed input raises :class:`ConntrackParseError` (a ``ValueError``)
with one of the ``E_*`` codes of ``netlink.status``.  Nothing is read past
the end of a message or attribute.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from ipaddress import ip_address
from typing import NamedTuple

from .core import Buffer, NetlinkFormatError, iter_attrs, iter_messages, pack_attr, pack_nested
from .status import E_NFGENMSG, E_NLMSG_ERROR, E_PAYLOAD
from .uapi import (
    CTA_COUNTERS32_BYTES,
    CTA_COUNTERS32_PACKETS,
    CTA_COUNTERS_BYTES,
    CTA_COUNTERS_ORIG,
    CTA_COUNTERS_PACKETS,
    CTA_COUNTERS_REPLY,
    CTA_ID,
    CTA_IP_V4_DST,
    CTA_IP_V4_SRC,
    CTA_IP_V6_DST,
    CTA_IP_V6_SRC,
    CTA_MARK,
    CTA_PROTO_DST_PORT,
    CTA_PROTO_ICMP_CODE,
    CTA_PROTO_ICMP_ID,
    CTA_PROTO_ICMP_TYPE,
    CTA_PROTO_ICMPV6_CODE,
    CTA_PROTO_ICMPV6_ID,
    CTA_PROTO_ICMPV6_TYPE,
    CTA_PROTO_NUM,
    CTA_PROTO_SRC_PORT,
    CTA_STATUS,
    CTA_TIMEOUT,
    CTA_TUPLE_IP,
    CTA_TUPLE_ORIG,
    CTA_TUPLE_PROTO,
    CTA_TUPLE_REPLY,
    CTA_ZONE,
    IPCTNL_MSG_CT_DELETE,
    IPCTNL_MSG_CT_GET,
    IPCTNL_MSG_CT_NEW,
    NFGENMSG,
    NFNETLINK_V0,
    NFNL_SUBSYS_CTNETLINK,
    NLA_HDRLEN,
    NLMSG_ERROR,
    NLMSG_HDRLEN,
)

# nlmsg_type of ctnetlink messages: subsystem in the high byte
CT_NEW_MSG = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW
CT_GET_MSG = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET
CT_DELETE_MSG = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE

_BE16 = struct.Struct(">H")
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")


class ConntrackParseError(NetlinkFormatError):
    """A malformed or truncated ctnetlink message.

    ``offset`` is where the offending header (nlmsghdr or nlattr) starts in
    the buffer, ``code`` one of the ``E_*`` status codes (netlink.status).
    """

    what = "malformed conntrack dump"


class CtEntry(NamedTuple):
    """One conntrack entry, as the kernel reports it.

    For ICMP, ``orig_sport`` / ``reply_sport`` hold the ICMP id and
    ``icmp_type`` / ``icmp_code`` the type and code (``-1`` otherwise).
    ``orig_tuple`` is the raw payload of ``CTA_TUPLE_ORIG``, sent back
    unchanged by ``ctnetlink.delete``.
    """

    family: int
    proto: int
    orig_src: str
    orig_dst: str
    orig_sport: int
    orig_dport: int
    reply_src: str
    reply_dst: str
    reply_sport: int
    reply_dport: int
    orig_packets: int
    orig_bytes: int
    reply_packets: int
    reply_bytes: int
    mark: int
    status: int
    id: int | None
    zone: int
    timeout: int
    icmp_type: int
    icmp_code: int
    orig_tuple: bytes


# --------------------------------------------------------------------------
# Decoding


def _attrs(buf: Buffer, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    return iter_attrs(buf, start, end, ConntrackParseError)


def _need(size: int, want: int, off: int, what: str) -> None:
    if size != want:
        raise ConntrackParseError(off - NLA_HDRLEN, E_PAYLOAD, f"{what}: {size} bytes, want {want}")


def _addr(buf: Buffer, off: int, size: int, want: int, what: str) -> str:
    _need(size, want, off, what)
    fam = socket.AF_INET if want == 4 else socket.AF_INET6
    return socket.inet_ntop(fam, bytes(buf[off : off + want]))


class _Tuple:
    __slots__ = ("dport", "dst", "icode", "itype", "proto", "sport", "src")

    def __init__(self) -> None:
        self.src = ""
        self.dst = ""
        self.proto = 0
        self.sport = 0
        self.dport = 0
        self.itype = -1
        self.icode = -1


_IP_ATTRS = {
    CTA_IP_V4_SRC: (4, "CTA_IP_V4_SRC", "src"),
    CTA_IP_V4_DST: (4, "CTA_IP_V4_DST", "dst"),
    CTA_IP_V6_SRC: (16, "CTA_IP_V6_SRC", "src"),
    CTA_IP_V6_DST: (16, "CTA_IP_V6_DST", "dst"),
}
_PORT_ATTRS = (CTA_PROTO_SRC_PORT, CTA_PROTO_DST_PORT, CTA_PROTO_ICMP_ID, CTA_PROTO_ICMPV6_ID)


def _parse_tuple(buf: Buffer, start: int, end: int) -> _Tuple:
    t = _Tuple()
    for atype, off, size in _attrs(buf, start, end):
        if atype == CTA_TUPLE_IP:
            for itype, ioff, isize in _attrs(buf, off, off + size):
                if itype in _IP_ATTRS:
                    want, what, field = _IP_ATTRS[itype]
                    setattr(t, field, _addr(buf, ioff, isize, want, what))
        elif atype == CTA_TUPLE_PROTO:
            for ptype, poff, psize in _attrs(buf, off, off + size):
                if ptype == CTA_PROTO_NUM:
                    _need(psize, 1, poff, "CTA_PROTO_NUM")
                    t.proto = buf[poff]
                elif ptype in _PORT_ATTRS:
                    _need(psize, 2, poff, "port/id")
                    value = _BE16.unpack_from(buf, poff)[0]
                    if ptype == CTA_PROTO_DST_PORT:
                        t.dport = value
                    else:
                        t.sport = value
                elif ptype in (CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMPV6_TYPE):
                    _need(psize, 1, poff, "icmp type")
                    t.itype = buf[poff]
                elif ptype in (CTA_PROTO_ICMP_CODE, CTA_PROTO_ICMPV6_CODE):
                    _need(psize, 1, poff, "icmp code")
                    t.icode = buf[poff]
    return t


def _parse_counters(buf: Buffer, start: int, end: int) -> tuple[int, int]:
    packets = octets = 0
    for atype, off, size in _attrs(buf, start, end):
        if atype in (CTA_COUNTERS_PACKETS, CTA_COUNTERS_BYTES):
            _need(size, 8, off, "CTA_COUNTERS_*")
            value = _BE64.unpack_from(buf, off)[0]
        elif atype in (CTA_COUNTERS32_PACKETS, CTA_COUNTERS32_BYTES):
            _need(size, 4, off, "CTA_COUNTERS32_*")
            value = _BE32.unpack_from(buf, off)[0]
        else:
            continue
        if atype in (CTA_COUNTERS_PACKETS, CTA_COUNTERS32_PACKETS):
            packets = value
        else:
            octets = value
    return packets, octets


def _be32_attr(buf: Buffer, off: int, size: int, what: str) -> int:
    _need(size, 4, off, what)
    return int(_BE32.unpack_from(buf, off)[0])


def parse_entry(buf: Buffer, off: int, mlen: int) -> CtEntry:
    """Decode the IPCTNL_MSG_CT_NEW message of mlen bytes at ``buf[off]``."""
    end = off + mlen
    if mlen < NLMSG_HDRLEN + NFGENMSG.size:
        raise ConntrackParseError(off, E_NFGENMSG)
    family = buf[off + NLMSG_HDRLEN]
    orig = reply = _Tuple()
    orig_raw = b""
    op = ob = rp = rb = 0
    mark = status = zone = timeout = 0
    ct_id: int | None = None
    for atype, aoff, size in _attrs(buf, off + NLMSG_HDRLEN + NFGENMSG.size, end):
        if atype == CTA_TUPLE_ORIG:
            orig = _parse_tuple(buf, aoff, aoff + size)
            orig_raw = bytes(buf[aoff : aoff + size])
        elif atype == CTA_TUPLE_REPLY:
            reply = _parse_tuple(buf, aoff, aoff + size)
        elif atype == CTA_COUNTERS_ORIG:
            op, ob = _parse_counters(buf, aoff, aoff + size)
        elif atype == CTA_COUNTERS_REPLY:
            rp, rb = _parse_counters(buf, aoff, aoff + size)
        elif atype == CTA_MARK:
            mark = _be32_attr(buf, aoff, size, "CTA_MARK")
        elif atype == CTA_STATUS:
            status = _be32_attr(buf, aoff, size, "CTA_STATUS")
        elif atype == CTA_ID:
            ct_id = _be32_attr(buf, aoff, size, "CTA_ID")
        elif atype == CTA_TIMEOUT:
            timeout = _be32_attr(buf, aoff, size, "CTA_TIMEOUT")
        elif atype == CTA_ZONE:
            _need(size, 2, aoff, "CTA_ZONE")
            zone = _BE16.unpack_from(buf, aoff)[0]
    return CtEntry(
        family=family,
        proto=orig.proto,
        orig_src=orig.src,
        orig_dst=orig.dst,
        orig_sport=orig.sport,
        orig_dport=orig.dport,
        reply_src=reply.src,
        reply_dst=reply.dst,
        reply_sport=reply.sport,
        reply_dport=reply.dport,
        orig_packets=op,
        orig_bytes=ob,
        reply_packets=rp,
        reply_bytes=rb,
        mark=mark,
        status=status,
        id=ct_id,
        zone=zone,
        timeout=timeout,
        icmp_type=orig.itype,
        icmp_code=orig.icode,
        orig_tuple=orig_raw,
    )


def iter_entries(buf: Buffer) -> Iterator[CtEntry]:
    """Decode every conntrack entry of a raw dump (see ``ctnetlink.dump_raw``).

    Control messages (NOOP, DONE, OVERRUN) and other message types are
    skipped; an NLMSG_ERROR message raises :class:`ConntrackParseError`.
    """
    for off, mlen, mtype, _flags, _seq in iter_messages(buf, ConntrackParseError):
        if mtype == NLMSG_ERROR:
            raise ConntrackParseError(off, E_NLMSG_ERROR)
        if mtype == CT_NEW_MSG:
            yield parse_entry(buf, off, mlen)


# --------------------------------------------------------------------------
# Encoding


def nfgenmsg(family: int) -> bytes:
    """The struct nfgenmsg that starts every ctnetlink payload."""
    return NFGENMSG.pack(family, NFNETLINK_V0, 0)


def encode_tuple(src: str, dst: str, proto: int, sport: int = 0, dport: int = 0) -> bytes:
    """The payload of a CTA_TUPLE_ORIG for TCP/UDP-like protocols (ports).

    For ICMP, use an entry's ``orig_tuple`` from :func:`iter_entries`.
    """
    a_src, a_dst = ip_address(src), ip_address(dst)
    if a_src.version == 4:
        ip = pack_attr(CTA_IP_V4_SRC, a_src.packed) + pack_attr(CTA_IP_V4_DST, a_dst.packed)
    else:
        ip = pack_attr(CTA_IP_V6_SRC, a_src.packed) + pack_attr(CTA_IP_V6_DST, a_dst.packed)
    l4 = (
        pack_attr(CTA_PROTO_NUM, bytes([proto]))
        + pack_attr(CTA_PROTO_SRC_PORT, _BE16.pack(sport))
        + pack_attr(CTA_PROTO_DST_PORT, _BE16.pack(dport))
    )
    return pack_nested(CTA_TUPLE_IP, ip) + pack_nested(CTA_TUPLE_PROTO, l4)


def delete_request(entry: CtEntry) -> tuple[int, int, bytes]:
    """(type, flags, body) of the IPCTNL_MSG_CT_DELETE of entry: by original
    tuple, and CTA_ID so that a newer entry reusing the tuple is left alone."""
    tuple_payload = entry.orig_tuple or encode_tuple(
        entry.orig_src, entry.orig_dst, entry.proto, entry.orig_sport, entry.orig_dport
    )
    if not tuple_payload:
        # Without a tuple the kernel would flush the whole table.
        raise ValueError("refusing to send IPCTNL_MSG_CT_DELETE without a tuple")
    attrs = pack_nested(CTA_TUPLE_ORIG, tuple_payload)
    if entry.id is not None:
        attrs += pack_attr(CTA_ID, _BE32.pack(entry.id))
    if entry.zone:
        attrs += pack_attr(CTA_ZONE, _BE16.pack(entry.zone))
    return CT_DELETE_MSG, 0, nfgenmsg(entry.family) + attrs
