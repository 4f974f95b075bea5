"""Netlink framing and one socket class, for every protocol hotshare speaks.

Framing: :func:`pack_message`, :func:`pack_attr` and :func:`pack_nested`
build messages; :func:`iter_messages` and :func:`iter_attrs` walk a buffer.
The walks are bounds-checked and never read outside the buffer or the
enclosing container; malformed input raises :class:`NetlinkFormatError` (a
``ValueError``) with the offset of the offending header and one of the
status codes of ``netlink.status`` -- the rules and the codes are those of
the C accounting helper (csrc/ctacct.h), which checks the same framing:

* a message header needs 16 bytes; 16 <= nlmsg_len <= bytes left; the next
  message starts NLMSG_ALIGN(nlmsg_len) further on (the walk ends when that
  is past the end);
* an attribute header needs 4 bytes; 4 <= nla_len <= bytes left in its
  container; the next one starts NLA_ALIGN(nla_len) further on.

:class:`NetlinkSocket` is a raw ``AF_NETLINK`` socket with sequence numbers,
acknowledged requests (:meth:`~NetlinkSocket.request`), dumps
(:meth:`~NetlinkSocket.dump`) and multicast event draining
(:meth:`~NetlinkSocket.drain_events`, :meth:`~NetlinkSocket.drain_messages`).
``netlink.rtnl``, ``netlink.ctnetlink`` and ``netlink.nftables`` are thin
layers over it.
"""

from __future__ import annotations

import errno
import os
import socket
from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Union

from .status import E_NLA_LEN, E_NLA_PAST_END, E_NLA_TRUNC, E_NLMSG_LEN, E_NLMSG_TRUNC, REASONS, UNKNOWN_REASON
from .uapi import (
    NETLINK_ADD_MEMBERSHIP,
    NLA_F_NESTED,
    NLA_HDRLEN,
    NLA_TYPE_MASK,
    NLATTR,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG_DONE,
    NLMSG_ERROR,
    NLMSG_HDRLEN,
    NLMSGERR_ERROR,
    NLMSGHDR,
    SOL_NETLINK,
)

if TYPE_CHECKING:
    from typing import Self

Buffer = Union[bytes, bytearray, memoryview]

# A dump arrives in skbs of at most 32 KiB (the kernel caps its dump
# allocation there), unless one message is bigger, which none of ours ever
# is.  MSG_TRUNC tells us if that assumption ever breaks.
RECV_BUFSIZE = 64 * 1024


class NetlinkFormatError(ValueError):
    """Malformed or truncated netlink data.

    ``offset`` is where the offending header (nlmsghdr or nlattr) starts in
    the buffer, ``code`` one of the ``netlink.status`` codes.  Subclasses
    name what was being read (``what``).
    """

    what = "malformed netlink data"

    def __init__(self, offset: int, code: int, detail: str = "") -> None:
        self.offset = offset
        self.code = code
        msg = f"{self.what} at byte {offset}: {REASONS.get(code, UNKNOWN_REASON)}"
        if detail:
            msg += f" ({detail})"
        super().__init__(msg)


def align(n: int) -> int:
    """NLMSG_ALIGN / NLA_ALIGN: round up to 4 bytes."""
    return (n + 3) & ~3


# --------------------------------------------------------------------------
# Building


def pack_attr(atype: int, payload: bytes) -> bytes:
    """One attribute, padded to 4 bytes."""
    length = NLA_HDRLEN + len(payload)
    return NLATTR.pack(length, atype) + payload + b"\0" * (align(length) - length)


def pack_nested(atype: int, *children: bytes) -> bytes:
    """A nested attribute (NLA_F_NESTED set) holding already packed children."""
    return pack_attr(atype | NLA_F_NESTED, b"".join(children))


def pack_message(msg_type: int, flags: int, seq: int, payload: bytes) -> bytes:
    """One message: an nlmsghdr (nlmsg_pid 0) and its payload."""
    return NLMSGHDR.pack(NLMSG_HDRLEN + len(payload), msg_type, flags, seq, 0) + payload


# --------------------------------------------------------------------------
# Walking


def iter_messages(
    buf: Buffer, error: type[NetlinkFormatError] = NetlinkFormatError
) -> Iterator[tuple[int, int, int, int, int]]:
    """Yield ``(offset, nlmsg_len, nlmsg_type, nlmsg_flags, nlmsg_seq)`` per message.

    Raises ``error`` (E_NLMSG_TRUNC, E_NLMSG_LEN) on bad framing.  Control
    messages (NLMSG_ERROR, NLMSG_DONE...) are yielded like the others.
    """
    n = len(buf)
    off = 0
    while off < n:
        left = n - off
        if left < NLMSG_HDRLEN:
            raise error(off, E_NLMSG_TRUNC)
        mlen, mtype, mflags, seq, _pid = NLMSGHDR.unpack_from(buf, off)
        if mlen < NLMSG_HDRLEN or mlen > left:
            raise error(off, E_NLMSG_LEN)
        yield off, mlen, mtype, mflags, seq
        off += align(mlen)


def iter_attrs(
    buf: Buffer, start: int, end: int, error: type[NetlinkFormatError] = NetlinkFormatError
) -> Iterator[tuple[int, int, int]]:
    """Yield ``(nla_type, payload_offset, payload_len)`` for the attributes
    of ``buf[start:end]``; nla_type without the NLA_F_* flag bits.

    Raises ``error`` (E_NLA_TRUNC, E_NLA_LEN, E_NLA_PAST_END) on bad framing.
    """
    pos = start
    while pos < end:
        left = end - pos
        if left < NLA_HDRLEN:
            raise error(pos, E_NLA_TRUNC)
        alen, atype = NLATTR.unpack_from(buf, pos)
        if alen < NLA_HDRLEN:
            raise error(pos, E_NLA_LEN)
        if alen > left:
            raise error(pos, E_NLA_PAST_END)
        yield atype & NLA_TYPE_MASK, pos + NLA_HDRLEN, alen - NLA_HDRLEN
        pos += align(alen)


def message_error(buf: Buffer, off: int, mlen: int) -> int:
    """The ``error`` field of the NLMSG_ERROR (or NLMSG_DONE) message at off:
    0 or a negative errno; 0 when the message is too short to carry one."""
    if mlen < NLMSG_HDRLEN + NLMSGERR_ERROR.size:
        return 0
    return int(NLMSGERR_ERROR.unpack_from(buf, off + NLMSG_HDRLEN)[0])


# --------------------------------------------------------------------------
# The socket


class NetlinkSocket:
    """A raw netlink socket of ``protocol``, bound to the multicast ``groups``.

    ``timeout``: seconds a receive may wait for the kernel (None: forever).
    ``rcvbuf``: SO_RCVBUF to ask for (0: the system's default).  Usable as a
    context manager; ``fileno()`` makes it usable with selectors.
    """

    def __init__(self, protocol: int, groups: int = 0, *, timeout: float | None = None, rcvbuf: int = 0) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, protocol)
        try:
            if rcvbuf:
                self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self._sock.bind((0, groups))
            self._sock.settimeout(timeout)
        except OSError:
            self._sock.close()
            raise
        self._seq = int.from_bytes(os.urandom(2), "little") << 8
        self._buf = bytearray(RECV_BUFSIZE)
        self._view = memoryview(self._buf)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._view.release()
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add_membership(self, group: int) -> None:
        """Join a multicast group by number (generic netlink's are above 32)."""
        self._sock.setsockopt(SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group)

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        return self._seq

    def recv(self, flags: int = 0) -> memoryview:
        """One receive buffer (a view of the socket's own buffer, valid until
        the next receive); OSError(EMSGSIZE) if the kernel had to cut it."""
        n = self._sock.recv_into(self._buf, RECV_BUFSIZE, socket.MSG_TRUNC | flags)
        if n > RECV_BUFSIZE:
            raise OSError(errno.EMSGSIZE, f"netlink message of {n} bytes truncated")
        return self._view[:n]

    # ---- acknowledged requests

    def send_request(self, msg_type: int, flags: int, body: bytes) -> int:
        """Send one request with NLM_F_REQUEST | NLM_F_ACK | flags; return its
        sequence number, for :meth:`acks`."""
        seq = self.next_seq()
        self._sock.send(pack_message(msg_type, NLM_F_REQUEST | NLM_F_ACK | flags, seq, body))
        return seq

    def acks(self, pending: Collection[int]) -> Iterator[tuple[int, int]]:
        """Receive until every sequence number of ``pending`` is acknowledged;
        yield ``(seq, errno)`` for each (errno 0: done).  Other messages are
        dropped."""
        waiting = set(pending)
        while waiting:
            view = self.recv()
            for off, mlen, mtype, _flags, seq in iter_messages(view):
                if mtype != NLMSG_ERROR or seq not in waiting or mlen < NLMSG_HDRLEN + NLMSGERR_ERROR.size:
                    continue
                waiting.discard(seq)
                yield seq, -message_error(view, off, mlen)

    def request(self, msg_type: int, flags: int, body: bytes) -> None:
        """Send one change and wait for the kernel's acknowledgement;
        raise OSError with the kernel's errno when it refuses."""
        seq = self.send_request(msg_type, flags, body)
        for _seq, code in self.acks((seq,)):
            if code:
                raise OSError(code, os.strerror(code))

    # ---- dumps

    def dump(self, msg_type: int, body: bytes, what: str = "netlink dump") -> Iterator[bytes]:
        """Send a NLM_F_DUMP request; yield each receive buffer of the answer
        (whole messages; the last one ends with NLMSG_DONE).

        Raises OSError ``"<what> failed: ..."`` if the kernel answers with an
        error (NLMSG_ERROR, or a negative NLMSG_DONE code).  A dump abandoned
        half way (the generator closed) is read to its end, so the socket
        stays usable.
        """
        self._sock.send(pack_message(msg_type, NLM_F_REQUEST | NLM_F_DUMP, self.next_seq(), body))
        done = False
        while not done:
            chunk = bytes(self.recv())
            done = self._dump_done(chunk, what)
            try:
                yield chunk
            except GeneratorExit:
                if not done:
                    self._drain_dump(what)
                raise

    def _drain_dump(self, what: str) -> None:
        try:
            while not self._dump_done(self.recv(), what):
                pass
        except (OSError, ValueError):
            pass

    @staticmethod
    def _dump_done(chunk: Buffer, what: str) -> bool:
        """True if chunk ends the dump; raise on an error message."""
        for off, mlen, mtype, _flags, _seq in iter_messages(chunk):
            if mtype in (NLMSG_DONE, NLMSG_ERROR):
                code = message_error(chunk, off, mlen)
                if code < 0:
                    raise OSError(-code, f"{what} failed: {os.strerror(-code)}")
                return True
        return False

    # ---- events

    def drain_events(self) -> list[int]:
        """Read every pending multicast message without waiting; return their
        message types, with -1 where the kernel dropped some (ENOBUFS: its
        queue overflowed, so the reader must re-read the state)."""
        return [mtype for mtype, _msg in self.drain_messages(keep=False)]

    def drain_batch(self, batch: bytearray) -> tuple[int, int]:
        """Read pending multicast messages without waiting, one after the
        other into ``batch`` (each at a 4-byte boundary, as in a dump), until
        nothing is pending or the next one might not fit.  Return ``(bytes
        used, times the kernel dropped some)``: a parser then walks the whole
        batch in one call instead of one call per event."""
        used = dropped = 0
        view = memoryview(batch)
        try:
            while len(batch) - used >= RECV_BUFSIZE:
                try:
                    n = self._sock.recv_into(view[used:], RECV_BUFSIZE, socket.MSG_DONTWAIT | socket.MSG_TRUNC)
                except BlockingIOError:
                    break
                except OSError as e:
                    if e.errno == errno.ENOBUFS:
                        dropped += 1
                        continue
                    raise
                if n > RECV_BUFSIZE:
                    raise OSError(errno.EMSGSIZE, f"netlink message of {n} bytes truncated")
                batch[used + n : used + align(n)] = bytes(align(n) - n)
                used += align(n)
        finally:
            view.release()
        return used, dropped

    def drain_messages(self, keep: bool = True) -> list[tuple[int, bytes]]:
        """As :meth:`drain_events`, with each message (header and body, a
        copy; empty unless ``keep``): ``(nlmsg_type, message)``, and
        ``(-1, b"")`` where the kernel dropped some."""
        out: list[tuple[int, bytes]] = []
        timeout = self._sock.gettimeout()
        if timeout is not None:
            self._sock.setblocking(False)
        try:
            while True:
                try:
                    view = self.recv(socket.MSG_DONTWAIT)
                except BlockingIOError:
                    return out
                except OSError as e:
                    if e.errno == errno.ENOBUFS:
                        out.append((-1, b""))
                        continue
                    raise
                out.extend((mtype, bytes(view[off : off + mlen]) if keep else b"")
                           for off, mlen, mtype, _f, _s in iter_messages(view))
        finally:
            if timeout is not None:
                self._sock.settimeout(timeout)
