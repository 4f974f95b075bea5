"""DNS, by hand: one query to each upstream server, one answer (or none) back.

The only network I/O of the doctor besides netlink; :mod:`.gather` calls
:func:`probe_dns` with the servers dnsmasq forwards to.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import time
from collections.abc import Sequence

from .facts import DnsResult

DNS_TIMEOUT = 2.0


def dns_query(qid: int, name: str = "", qtype: int = 2) -> bytes:
    """A recursive query for ``name`` (default: the root's NS records, which
    every resolver answers and which names nothing of ours)."""
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.split(".") if p)
    return header + labels + b"\0" + struct.pack("!HH", qtype, 1)


def dns_rcode(reply: bytes, qid: int) -> int | None:
    """The response code of a reply to query ``qid``; None if it is not one."""
    if len(reply) < 12:
        return None
    rid, flags = struct.unpack_from("!HH", reply)
    if rid != qid or not flags & 0x8000:
        return None
    return flags & 0xF


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def probe_dns(servers: Sequence[str], timeout: float = DNS_TIMEOUT, port: int = 53) -> list[DnsResult]:
    """Ask every server at once; wait at most ``timeout`` in all."""
    results: dict[str, DnsResult] = {}
    pending: dict[socket.socket, tuple[str, int, float]] = {}
    for n, server in enumerate(servers):
        try:
            family = socket.AF_INET6 if ipaddress.ip_address(server).version == 6 else socket.AF_INET
        except ValueError:
            results[server] = DnsResult(server, False, "not an IP address")
            continue
        s = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        qid = (os.getpid() + n * 7919) & 0xFFFF
        try:
            s.connect((server, port))
            s.send(dns_query(qid))
        except OSError as e:
            results[server] = DnsResult(server, False, f"cannot send a query: {e.strerror or e}")
            s.close()
            continue
        s.setblocking(False)
        pending[s] = (server, qid, time.monotonic())
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select(list(pending), [], [], left)
        for s in ready:
            server, qid, sent = pending[s]
            try:
                reply = s.recv(4096)
            except OSError as e:   # ICMP port unreachable: nothing listens there
                results[server] = DnsResult(server, False,
                                            f"refused ({e.strerror or e}): no DNS server at that address")
                del pending[s]
                s.close()
                continue
            rcode = dns_rcode(reply, qid)
            if rcode is None:
                continue
            ms = (time.monotonic() - sent) * 1000
            name = RCODES.get(rcode, f"rcode {rcode}")
            usable = rcode in (0, 3)
            results[server] = DnsResult(server, usable, f"answered {name} in {ms:.0f} ms" if usable
                                        else f"answered {name}: it will not resolve for us")
            del pending[s]
            s.close()
    for s, (server, _qid, _sent) in pending.items():
        results[server] = DnsResult(server, False, f"no answer within {timeout:g} s")
        s.close()
    return [results[s] for s in servers if s in results]
