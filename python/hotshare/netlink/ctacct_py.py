"""Per-client accounting, the pure-Python path: the same walk as
csrc/ctacct.c, rule for rule, with the same answers and the same errors
(codes, offsets and texts: see csrc/ctacct.h and ``netlink.status``).

``netlink.ctacct`` uses it when the C helper is not built or not asked for.
"""

from __future__ import annotations

import socket
import struct

from .core import Buffer, iter_messages
from .ctparse import CT_DELETE_MSG, CT_NEW_MSG, ConntrackParseError
from .status import E_NFGENMSG, E_NLA_LEN, E_NLA_PAST_END, E_NLA_TRUNC, E_NLMSG_ERROR, E_PAYLOAD
from .uapi import (
    CTA_COUNTERS32_BYTES,
    CTA_COUNTERS32_PACKETS,
    CTA_COUNTERS_BYTES,
    CTA_COUNTERS_ORIG,
    CTA_COUNTERS_PACKETS,
    CTA_COUNTERS_REPLY,
    CTA_IP_V4_DST,
    CTA_IP_V4_SRC,
    CTA_IP_V6_DST,
    CTA_IP_V6_SRC,
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

# Messages are framed by netlink.core.iter_messages (the same rules and
# codes as the C helper); the attribute walks below are inlined, as in C,
# because they are the hot loop of the fallback (core.iter_attrs would add
# a generator per container of every entry).

_NLA = NLATTR.unpack_from
_BE32 = struct.Struct(">I").unpack_from
_BE64 = struct.Struct(">Q").unpack_from
# Payload sizes the C helper insists on: an IPv4 address, a 64-bit and a
# 32-bit counter, each with its attribute header.
_V4_ATTR_LEN = NLA_HDRLEN + 4
_V6_ATTR_LEN = NLA_HDRLEN + 16
_C64_ATTR_LEN = NLA_HDRLEN + 8
_C32_ATTR_LEN = NLA_HDRLEN + 4
_ATTRS_START = NLMSG_HDRLEN + NFGENMSG.size
_TUPLES = frozenset((CTA_TUPLE_ORIG, CTA_TUPLE_REPLY))
_V4_ADDRS = frozenset((CTA_IP_V4_SRC, CTA_IP_V4_DST))
_ADDRS = frozenset((CTA_IP_V4_SRC, CTA_IP_V4_DST, CTA_IP_V6_SRC, CTA_IP_V6_DST))
_COUNTERS = frozenset((CTA_COUNTERS_ORIG, CTA_COUNTERS_REPLY))
_COUNTERS64 = frozenset((CTA_COUNTERS_PACKETS, CTA_COUNTERS_BYTES))
_COUNTERS32 = frozenset((CTA_COUNTERS32_PACKETS, CTA_COUNTERS32_BYTES))
_ENTRY_MSGS = frozenset((CT_NEW_MSG, CT_DELETE_MSG))  # dump entries, destroy events


def _attr_error(pos: int, alen: int) -> ConntrackParseError:
    return ConntrackParseError(pos, E_NLA_LEN if alen < NLA_HDRLEN else E_NLA_PAST_END)


Prefixes6 = tuple[tuple[int, int], ...]  # (network, mask) as integers


def _add(acc: dict[int, list[int]], who: int, tb: int, tp: int, xb: int, xp: int) -> None:
    c = acc.get(who)
    if c is None:
        acc[who] = [tb, tp, xb, xp, 1]
    else:
        c[0] += tb
        c[1] += tp
        c[2] += xb
        c[3] += xp
        c[4] += 1


def count_into(buf: Buffer, net: int, mask: int, exclude: frozenset[int], acc: dict[int, list[int]],
               v6: tuple[Prefixes6, frozenset[int], dict[int, list[int]]] | None = None) -> None:
    """Add buf's entries to acc: {address: [tx_b, tx_p, rx_b, rx_p, conns]};
    with ``v6`` (prefixes, excluded addresses, acc6), the IPv6 entries to acc6
    (what csrc/ctacct.c's ctacct_count and ctacct_count6 do, in one walk).

    One function with the nested walks inlined: this is the hot loop of the
    fallback.  Steps past the end of a container simply end its loop, which
    is what the C code's clamping does.
    """
    nla = _NLA
    be32 = _BE32
    be64 = _BE64
    # locals: the hot loop compares against these many times per entry
    hdr, type_mask, v4_len, c64_len, c32_len = NLA_HDRLEN, NLA_TYPE_MASK, _V4_ATTR_LEN, _C64_ATTR_LEN, _C32_ATTR_LEN
    t_orig, t_ip, c_orig = CTA_TUPLE_ORIG, CTA_TUPLE_IP, CTA_COUNTERS_ORIG
    ip_src, ip6_src = CTA_IP_V4_SRC, CTA_IP_V6_SRC
    v4s, v6_len, from_bytes = _V4_ADDRS, _V6_ATTR_LEN, int.from_bytes
    c_pk, c32_pk = CTA_COUNTERS_PACKETS, CTA_COUNTERS32_PACKETS
    tuples, ips, counters, c64s, c32s = _TUPLES, _ADDRS, _COUNTERS, _COUNTERS64, _COUNTERS32
    af_inet, af_inet6 = socket.AF_INET, socket.AF_INET6
    for off, mlen, mtype, _flags, _seq in iter_messages(buf, ConntrackParseError):
        if mtype in _ENTRY_MSGS:  # dump entries, destroy events
            if mlen < _ATTRS_START:
                raise ConntrackParseError(off, E_NFGENMSG)
            end = off + mlen
            osrc = rsrc = osrc6 = rsrc6 = -1  # -1: absent
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
                    src, src6 = (osrc, osrc6) if atype == t_orig else (rsrc, rsrc6)
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
                                    if clen != (v4_len if ctype in v4s else v6_len):
                                        raise ConntrackParseError(q, E_PAYLOAD)
                                    if ctype == ip_src:
                                        src = be32(buf, q + hdr)[0]
                                    elif ctype == ip6_src:
                                        src6 = from_bytes(buf[q + hdr:q + v6_len], "big")
                                q += (clen + 3) & ~3
                        p += (blen + 3) & ~3
                    if atype == t_orig:
                        osrc, osrc6 = src, src6
                    else:
                        rsrc, rsrc6 = src, src6
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
            family = buf[off + NLMSG_HDRLEN]  # nfgen_family
            if family == af_inet:
                if osrc in exclude or rsrc in exclude:  # the router's own traffic (DHCP, DNS, pings)
                    pass
                elif osrc >= 0 and osrc & mask == net and osrc not in exclude:
                    _add(acc, osrc, ob, op, rb, rp)
                elif rsrc >= 0 and rsrc & mask == net and rsrc not in exclude:
                    _add(acc, rsrc, rb, rp, ob, op)
            elif family == af_inet6 and v6 is not None:
                prefixes, exclude6, acc6 = v6
                if osrc6 in exclude6 or rsrc6 in exclude6:
                    pass
                elif osrc6 >= 0 and any(osrc6 & m == n for n, m in prefixes):
                    _add(acc6, osrc6, ob, op, rb, rp)
                elif rsrc6 >= 0 and any(rsrc6 & m == n for n, m in prefixes):
                    _add(acc6, rsrc6, rb, rp, ob, op)
        elif mtype == NLMSG_ERROR:
            raise ConntrackParseError(off, E_NLMSG_ERROR)
