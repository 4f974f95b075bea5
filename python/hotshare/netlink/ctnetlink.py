"""The conntrack table through a raw ctnetlink socket.

A raw ``AF_NETLINK`` / ``NETLINK_NETFILTER`` socket and a small parser, with
nothing heavier than the standard library: importing pyroute2 costs about
32 MB of RSS, which the resident service cannot afford on a 128 MB board, and
its conntrack dump needs about 68 MB for 20k entries.

* :func:`dump_raw` sends ``IPCTNL_MSG_CT_GET`` with ``NLM_F_DUMP`` and returns
  the kernel's answer verbatim (every receive buffer joined, the final
  ``NLMSG_DONE`` included); :func:`iter_dump_chunks` yields the receive
  buffers one by one so that a consumer can work in constant memory.
* :func:`iter_entries` decodes such a buffer into :class:`CtEntry` tuples.
* :func:`delete` / :func:`delete_entries` send ``IPCTNL_MSG_CT_DELETE`` by
  original tuple (and ``CTA_ID``, so a newer entry that reuses the tuple is
  left alone); :func:`flush_nat_via` drops the entries masqueraded behind an
  uplink address that went away, :func:`flush_subnet` every entry of a subnet.
* :func:`ensure_acct` switches on ``net.netfilter.nf_conntrack_acct``, without
  which the kernel sends no ``CTA_COUNTERS_*`` (it applies to entries created
  after it is set).

Names follow the kernel's (``linux/netfilter/nfnetlink_conntrack.h``).
Malformed input raises :class:`ConntrackParseError` (a ``ValueError``); the
parser never reads past the end of a message or attribute.

``python -m hotshare.tools.conntrack --help`` is a small command line on top
of it (dump, list, count, flush), used by the tests and handy on the board.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Callable, NamedTuple, Union

# linux/netlink.h
NETLINK_NETFILTER = 12
NLM_F_REQUEST = 0x1
NLM_F_MULTI = 0x2
NLM_F_ACK = 0x4
NLM_F_ROOT = 0x100
NLM_F_MATCH = 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLMSG_NOOP = 0x1
NLMSG_ERROR = 0x2
NLMSG_DONE = 0x3
NLMSG_OVERRUN = 0x4
NLMSG_HDRLEN = 16
NLA_HDRLEN = 4
NLA_F_NESTED = 0x8000
NLA_F_NET_BYTEORDER = 0x4000
NLA_TYPE_MASK = 0x3FFF

# linux/netfilter/nfnetlink.h
NFNL_SUBSYS_CTNETLINK = 1
NFNETLINK_V0 = 0
NFGENMSG_LEN = 4

# linux/netfilter/nfnetlink_conntrack.h: enum cntl_msg_types
IPCTNL_MSG_CT_NEW = 0
IPCTNL_MSG_CT_GET = 1
IPCTNL_MSG_CT_DELETE = 2
CT_NEW_MSG = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW

# enum ctattr_type
CTA_TUPLE_ORIG = 1
CTA_TUPLE_REPLY = 2
CTA_STATUS = 3
CTA_PROTOINFO = 4
CTA_TIMEOUT = 7
CTA_MARK = 8
CTA_COUNTERS_ORIG = 9
CTA_COUNTERS_REPLY = 10
CTA_USE = 11
CTA_ID = 12
CTA_ZONE = 18
# enum ctattr_tuple
CTA_TUPLE_IP = 1
CTA_TUPLE_PROTO = 2
CTA_TUPLE_ZONE = 3
# enum ctattr_ip
CTA_IP_V4_SRC = 1
CTA_IP_V4_DST = 2
CTA_IP_V6_SRC = 3
CTA_IP_V6_DST = 4
# enum ctattr_l4proto
CTA_PROTO_NUM = 1
CTA_PROTO_SRC_PORT = 2
CTA_PROTO_DST_PORT = 3
CTA_PROTO_ICMP_ID = 4
CTA_PROTO_ICMP_TYPE = 5
CTA_PROTO_ICMP_CODE = 6
CTA_PROTO_ICMPV6_ID = 7
CTA_PROTO_ICMPV6_TYPE = 8
CTA_PROTO_ICMPV6_CODE = 9
# enum ctattr_counters
CTA_COUNTERS_PACKETS = 1
CTA_COUNTERS_BYTES = 2
CTA_COUNTERS32_PACKETS = 3
CTA_COUNTERS32_BYTES = 4
CTA_COUNTERS_PAD = 5

# linux/netfilter/nf_conntrack_common.h: enum ip_conntrack_status (some)
IPS_SEEN_REPLY = 1 << 1
IPS_ASSURED = 1 << 2
IPS_CONFIRMED = 1 << 3
IPS_SRC_NAT = 1 << 4
IPS_DST_NAT = 1 << 5

ACCT_SYSCTL = "/proc/sys/net/netfilter/nf_conntrack_acct"

# A dump arrives in skbs of at most 32 KiB (the kernel caps its dump
# allocation there), unless one message is bigger, which a conntrack entry
# never is.  MSG_TRUNC tells us if that assumption ever breaks.
RECV_BUFSIZE = 64 * 1024
DELETE_BATCH = 64
DEFAULT_TIMEOUT = 10.0

# Status codes shared with csrc/ctacct.h (enum ctacct_status) and their
# texts, identical to ctacct_strerror(): both accounting paths raise the same
# message for the same input.
E_INVAL = -1
E_NLMSG_TRUNC = -2
E_NLMSG_LEN = -3
E_NFGENMSG = -4
E_NLA_TRUNC = -5
E_NLA_LEN = -6
E_NLA_PAST_END = -7
E_PAYLOAD = -8
E_NLMSG_ERROR = -9
E_NOSPC = -10
REASONS = {
    E_INVAL: "invalid argument",
    E_NLMSG_TRUNC: "truncated netlink message header",
    E_NLMSG_LEN: "netlink message length out of bounds",
    E_NFGENMSG: "ctnetlink message too short for nfgenmsg",
    E_NLA_TRUNC: "truncated netlink attribute header",
    E_NLA_LEN: "netlink attribute length below 4",
    E_NLA_PAST_END: "netlink attribute past the end of its container",
    E_PAYLOAD: "wrong payload size for an address or counter attribute",
    E_NLMSG_ERROR: "NLMSG_ERROR message in the dump",
    E_NOSPC: "client table full",
}

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_NLMSG_LEN_TYPE = struct.Struct("=IH")
_NLATTR = struct.Struct("=HH")  # nla_len, nla_type
_NFGENMSG = struct.Struct("=BBH")  # family, version, res_id (be16, 0 here)
_I32 = struct.Struct("=i")
_BE16 = struct.Struct(">H")
_BE32 = struct.Struct(">I")
_BE64 = struct.Struct(">Q")

Subnet = Union[IPv4Network, IPv6Network, str]
Buffer = Union[bytes, bytearray, memoryview]


class ConntrackParseError(ValueError):
    """A malformed or truncated ctnetlink message.

    ``offset`` is where the offending header (nlmsghdr or nlattr) starts in
    the buffer, ``code`` one of the ``E_*`` status codes above.
    """

    def __init__(self, offset: int, code: int, detail: str = "") -> None:
        self.offset = offset
        self.code = code
        reason = REASONS.get(code, "unknown error")
        msg = f"malformed conntrack dump at byte {offset}: {reason}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


class CtEntry(NamedTuple):
    """One conntrack entry, as the kernel reports it.

    For ICMP, ``orig_sport`` / ``reply_sport`` hold the ICMP id and
    ``icmp_type`` / ``icmp_code`` the type and code (``-1`` otherwise).
    ``orig_tuple`` is the raw payload of ``CTA_TUPLE_ORIG``, sent back
    unchanged by :func:`delete`.
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
# Parsing


def _align4(n: int) -> int:
    return (n + 3) & ~3


def iter_messages(buf: Buffer) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(offset, nlmsg_len, nlmsg_type, nlmsg_flags)`` per message.

    Same framing rules as the accounting parsers (see csrc/ctacct.h):
    raises :class:`ConntrackParseError` on a truncated header or a length
    out of bounds.  NLMSG_ERROR messages are yielded, not raised.
    """
    n = len(buf)
    off = 0
    while off < n:
        left = n - off
        if left < NLMSG_HDRLEN:
            raise ConntrackParseError(off, E_NLMSG_TRUNC)
        mlen, mtype, mflags, _seq, _pid = _NLMSGHDR.unpack_from(buf, off)
        if mlen < NLMSG_HDRLEN or mlen > left:
            raise ConntrackParseError(off, E_NLMSG_LEN, f"nlmsg_len {mlen}")
        yield off, mlen, mtype, mflags
        step = _align4(mlen)
        if step >= left:
            break
        off += step


def iter_attrs(buf: Buffer, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """Yield ``(nla_type, payload_offset, payload_len)`` for buf[start:end]."""
    pos = start
    while pos < end:
        left = end - pos
        if left < NLA_HDRLEN:
            raise ConntrackParseError(pos, E_NLA_TRUNC)
        alen, atype = _NLATTR.unpack_from(buf, pos)
        if alen < NLA_HDRLEN:
            raise ConntrackParseError(pos, E_NLA_LEN, f"nla_len {alen}")
        if alen > left:
            raise ConntrackParseError(pos, E_NLA_PAST_END, f"nla_len {alen}")
        yield atype & NLA_TYPE_MASK, pos + NLA_HDRLEN, alen - NLA_HDRLEN
        step = _align4(alen)
        pos = pos + step if step < left else end


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


def _parse_tuple(buf: Buffer, start: int, end: int) -> _Tuple:
    t = _Tuple()
    for atype, off, size in iter_attrs(buf, start, end):
        if atype == CTA_TUPLE_IP:
            for itype, ioff, isize in iter_attrs(buf, off, off + size):
                if itype == CTA_IP_V4_SRC:
                    t.src = _addr(buf, ioff, isize, 4, "CTA_IP_V4_SRC")
                elif itype == CTA_IP_V4_DST:
                    t.dst = _addr(buf, ioff, isize, 4, "CTA_IP_V4_DST")
                elif itype == CTA_IP_V6_SRC:
                    t.src = _addr(buf, ioff, isize, 16, "CTA_IP_V6_SRC")
                elif itype == CTA_IP_V6_DST:
                    t.dst = _addr(buf, ioff, isize, 16, "CTA_IP_V6_DST")
        elif atype == CTA_TUPLE_PROTO:
            for ptype, poff, psize in iter_attrs(buf, off, off + size):
                if ptype == CTA_PROTO_NUM:
                    _need(psize, 1, poff, "CTA_PROTO_NUM")
                    t.proto = buf[poff]
                elif ptype in (
                    CTA_PROTO_SRC_PORT,
                    CTA_PROTO_DST_PORT,
                    CTA_PROTO_ICMP_ID,
                    CTA_PROTO_ICMPV6_ID,
                ):
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
    for atype, off, size in iter_attrs(buf, start, end):
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
    if mlen < NLMSG_HDRLEN + NFGENMSG_LEN:
        raise ConntrackParseError(off, E_NFGENMSG)
    family = buf[off + NLMSG_HDRLEN]
    orig = reply = _Tuple()
    orig_raw = b""
    op = ob = rp = rb = 0
    mark = status = zone = timeout = 0
    ct_id: int | None = None
    for atype, aoff, size in iter_attrs(buf, off + NLMSG_HDRLEN + NFGENMSG_LEN, end):
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
    """Decode every conntrack entry of a raw dump (see :func:`dump_raw`).

    Control messages (NOOP, DONE, OVERRUN) and other message types are
    skipped; an NLMSG_ERROR message raises :class:`ConntrackParseError`.
    """
    for off, mlen, mtype, _flags in iter_messages(buf):
        if mtype == NLMSG_ERROR:
            raise ConntrackParseError(off, E_NLMSG_ERROR)
        if mtype == CT_NEW_MSG:
            yield parse_entry(buf, off, mlen)


# --------------------------------------------------------------------------
# Encoding


def nlattr(atype: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    length = NLA_HDRLEN + len(payload)
    return _NLATTR.pack(length, atype) + payload + b"\0" * (_align4(length) - length)


def nlattr_nested(atype: int, *children: bytes) -> bytes:
    return nlattr(atype | NLA_F_NESTED, b"".join(children))


def nlmsg(msg_type: int, flags: int, seq: int, payload: bytes) -> bytes:
    return _NLMSGHDR.pack(NLMSG_HDRLEN + len(payload), msg_type, flags, seq, 0) + payload


def encode_tuple(src: str, dst: str, proto: int, sport: int = 0, dport: int = 0) -> bytes:
    """The payload of a CTA_TUPLE_ORIG for TCP/UDP-like protocols (ports).

    For ICMP, use an entry's ``orig_tuple`` from :func:`iter_entries`.
    """
    a_src, a_dst = ip_address(src), ip_address(dst)
    if a_src.version == 4:
        ip = nlattr(CTA_IP_V4_SRC, a_src.packed) + nlattr(CTA_IP_V4_DST, a_dst.packed)
    else:
        ip = nlattr(CTA_IP_V6_SRC, a_src.packed) + nlattr(CTA_IP_V6_DST, a_dst.packed)
    l4 = (
        nlattr(CTA_PROTO_NUM, bytes([proto]))
        + nlattr(CTA_PROTO_SRC_PORT, _BE16.pack(sport))
        + nlattr(CTA_PROTO_DST_PORT, _BE16.pack(dport))
    )
    return nlattr_nested(CTA_TUPLE_IP, ip) + nlattr_nested(CTA_TUPLE_PROTO, l4)


def _delete_request(entry: CtEntry, seq: int) -> bytes:
    tuple_payload = entry.orig_tuple or encode_tuple(
        entry.orig_src, entry.orig_dst, entry.proto, entry.orig_sport, entry.orig_dport
    )
    if not tuple_payload:
        # Without a tuple the kernel would flush the whole table.
        raise ValueError("refusing to send IPCTNL_MSG_CT_DELETE without a tuple")
    attrs = nlattr_nested(CTA_TUPLE_ORIG, tuple_payload)
    if entry.id is not None:
        attrs += nlattr(CTA_ID, _BE32.pack(entry.id))
    if entry.zone:
        attrs += nlattr(CTA_ZONE, _BE16.pack(entry.zone))
    return nlmsg(
        (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        _NFGENMSG.pack(entry.family, NFNETLINK_V0, 0) + attrs,
    )


# --------------------------------------------------------------------------
# The socket


class CtnetlinkSocket:
    """A NETLINK_NETFILTER socket speaking ctnetlink; use as a context manager.

    ``timeout``: seconds a receive may wait for the kernel (None: forever);
    the kernel answers at once, so a timeout only guards the resident
    service against the unexpected.
    """

    def __init__(self, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        try:
            self._sock.bind((0, 0))
            self._sock.settimeout(timeout)
        except OSError:
            self._sock.close()
            raise
        self._seq = int.from_bytes(os.urandom(2), "little") << 8
        self._buf = bytearray(RECV_BUFSIZE)
        self._view = memoryview(self._buf)

    def close(self) -> None:
        self._view.release()
        self._sock.close()

    def __enter__(self) -> CtnetlinkSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fileno(self) -> int:
        return self._sock.fileno()

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def _recv(self) -> int:
        n = self._sock.recv_into(self._buf, RECV_BUFSIZE, socket.MSG_TRUNC)
        if n > RECV_BUFSIZE:
            raise OSError(errno.EMSGSIZE, f"netlink message of {n} bytes truncated")
        return n

    def iter_dump_chunks(self, family: int = socket.AF_INET) -> Iterator[bytes]:
        """Dump the table; yield each receive buffer (whole messages).

        The last chunk ends with NLMSG_DONE.  Raises OSError if the kernel
        answers with an error (NLMSG_ERROR, or a negative NLMSG_DONE code).
        """
        seq = self._next_seq()
        req = nlmsg(
            (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET,
            NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            _NFGENMSG.pack(family, NFNETLINK_V0, 0),
        )
        self._sock.send(req)
        done = False
        while not done:
            n = self._recv()
            chunk = bytes(self._view[:n])
            done = self._check_chunk(chunk)
            try:
                yield chunk
            except GeneratorExit:
                if not done:
                    self._drain()
                raise

    def _drain(self) -> None:
        """Read and drop the rest of an abandoned dump, so the socket stays usable."""
        try:
            while not self._check_chunk(self._view[: self._recv()]):
                pass
        except (OSError, ValueError):
            pass

    @staticmethod
    def _check_chunk(chunk: Buffer) -> bool:
        """True if chunk ends the dump; raise on an error message."""
        for off, mlen, mtype, _flags in iter_messages(chunk):
            if mtype in (NLMSG_DONE, NLMSG_ERROR):
                code = _I32.unpack_from(chunk, off + NLMSG_HDRLEN)[0] if mlen >= 20 else 0
                if code < 0:
                    raise OSError(-code, f"conntrack dump failed: {os.strerror(-code)}")
                return True
        return False

    def dump_raw(self, family: int = socket.AF_INET) -> bytes:
        """The whole dump as one bytes object (see :func:`dump_raw`)."""
        import io

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
        batch: dict[int, CtEntry] = {}
        for entry in entries:
            seq = self._next_seq()
            self._sock.send(_delete_request(entry, seq))
            batch[seq] = entry
            if len(batch) >= DELETE_BATCH:
                deleted += self._collect_acks(batch)
        if batch:
            deleted += self._collect_acks(batch)
        return deleted

    def _collect_acks(self, batch: dict[int, CtEntry]) -> int:
        ok = 0
        first_error: OSError | None = None
        while batch:
            n = self._recv()
            view = self._view[:n]
            for off, mlen, mtype, _flags in iter_messages(view):
                if mtype != NLMSG_ERROR or mlen < 20:
                    continue
                seq = _NLMSGHDR.unpack_from(view, off)[3]
                if batch.pop(seq, None) is None:
                    continue
                code = -_I32.unpack_from(view, off + NLMSG_HDRLEN)[0]
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
