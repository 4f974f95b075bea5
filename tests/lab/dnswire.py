"""Just enough of the DNS wire format (RFC 1035) for A/AAAA queries and answers."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field

TYPE_A = 1
TYPE_AAAA = 28
TYPE_ANY = 255
CLASS_IN = 1

RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_SERVFAIL = 2
RCODE_NXDOMAIN = 3
RCODE_NOTIMP = 4
RCODE_REFUSED = 5

_HEADER = struct.Struct("!HHHHHH")


def encode_name(name: str) -> bytes:
    if not name.rstrip("."):
        return b"\0"                    # the root (a query for its NS: hotshare's DNS probe)
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("idna") if label else b""
        if not raw or len(raw) > 63:
            raise ValueError(f"bad DNS name {name!r}")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def decode_name(msg: bytes, offset: int) -> tuple[str, int]:
    """Name at ``offset`` (following compression pointers) and the offset after it."""
    labels: list[str] = []
    end: int | None = None
    for _ in range(128):  # bound pointer loops
        length = msg[offset]
        if length & 0xC0 == 0xC0:
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | msg[offset + 1]
            continue
        offset += 1
        if length == 0:
            return ".".join(labels), end if end is not None else offset
        labels.append(msg[offset : offset + length].decode("ascii", errors="replace"))
        offset += length
    raise ValueError("DNS name compression loop")


@dataclass
class Question:
    name: str
    qtype: int = TYPE_A
    qclass: int = CLASS_IN


@dataclass
class Message:
    ident: int
    flags: int
    questions: list[Question] = field(default_factory=list)
    answers: list[tuple[str, int, int, bytes]] = field(default_factory=list)  # name, type, ttl, rdata

    @property
    def rcode(self) -> int:
        return self.flags & 0xF

    @property
    def is_response(self) -> bool:
        return bool(self.flags & 0x8000)

    def addresses(self) -> list[str]:
        """A and AAAA answers as text."""
        result = []
        for _name, rtype, _ttl, rdata in self.answers:
            if rtype == TYPE_A and len(rdata) == 4:
                result.append(str(ipaddress.IPv4Address(rdata)))
            elif rtype == TYPE_AAAA and len(rdata) == 16:
                result.append(str(ipaddress.IPv6Address(rdata)))
        return result


def build_query(ident: int, name: str, qtype: int = TYPE_A, recursion_desired: bool = True) -> bytes:
    flags = 0x0100 if recursion_desired else 0
    return _HEADER.pack(ident, flags, 1, 0, 0, 0) + encode_name(name) + struct.pack("!HH", qtype, CLASS_IN)


def parse(msg: bytes) -> Message:
    if len(msg) < _HEADER.size:
        raise ValueError("short DNS message")
    ident, flags, qd, an, _ns, _ar = _HEADER.unpack_from(msg)
    out = Message(ident, flags)
    off = _HEADER.size
    for _ in range(qd):
        name, off = decode_name(msg, off)
        qtype, qclass = struct.unpack_from("!HH", msg, off)
        off += 4
        out.questions.append(Question(name, qtype, qclass))
    for _ in range(an):
        name, off = decode_name(msg, off)
        rtype, _rclass, ttl, rdlen = struct.unpack_from("!HHIH", msg, off)
        off += 10
        out.answers.append((name, rtype, ttl, msg[off : off + rdlen]))
        off += rdlen
    return out


def build_response(query: Message, rcode: int, answers: list[tuple[int, bytes]], ttl: int = 60) -> bytes:
    """Answer ``query``: flags QR|AA|RD(copied)|RA, its first question echoed,
    ``answers`` as (type, rdata) records for that question's name."""
    flags = 0x8000 | 0x0400 | (query.flags & 0x0100) | 0x0080 | (rcode & 0xF)
    if not query.questions:
        return _HEADER.pack(query.ident, flags, 0, 0, 0, 0)
    q = query.questions[0]
    body = encode_name(q.name) + struct.pack("!HH", q.qtype, q.qclass)
    for rtype, rdata in answers:
        body += b"\xc0\x0c" + struct.pack("!HHIH", rtype, CLASS_IN, ttl, len(rdata)) + rdata
    return _HEADER.pack(query.ident, flags, 1, len(answers), 0, 0) + body
