"""Router advertisements as a client sees them: send a router solicitation,
collect the advertisements that come within a time (raw ICMPv6, RFC 4861).

    ip netns exec hs-phone python -m lab.ra --iface eth0 --timeout 3

prints a JSON list, one item per advertisement: its source, router
lifetime, prefixes (prefix, length, valid and preferred lifetimes, flags)
and RDNSS servers. An empty list: no router advertised anything.

:class:`Advertiser` is the other side, a carrier's router for the QEMU lab
(where a dnsmasq of the lab's own would count as a hotspot's leftover and
each process start costs seconds): a thread of the test process whose
socket lives in the internet namespace, advertising one /64 for SLAAC.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import select
import socket
import struct
import sys
import threading
import time
from typing import Any

from lab.netns import Netns

ND_ROUTER_SOLICIT, ND_ROUTER_ADVERT = 133, 134
OPT_PREFIX, OPT_MTU, OPT_RDNSS = 3, 5, 25


def parse_ra(data: bytes) -> dict[str, Any] | None:
    if len(data) < 16 or data[0] != ND_ROUTER_ADVERT:
        return None
    _t, _c, _sum, hop, flags, lifetime, _reach, _retrans = struct.unpack_from("!BBHBBHII", data)
    ra: dict[str, Any] = {"hop_limit": hop, "managed": bool(flags & 0x80), "router_lifetime": lifetime,
                          "prefixes": [], "rdnss": [], "mtu": None}
    off = 16
    while off + 2 <= len(data):
        kind, length = data[off], data[off + 1] * 8
        if length == 0 or off + length > len(data):
            break
        body = data[off:off + length]
        if kind == OPT_PREFIX and length == 32:
            plen, pflags, valid, preferred = struct.unpack_from("!BBII", body, 2)
            ra["prefixes"].append({"prefix": f"{ipaddress.IPv6Address(body[16:32])}/{plen}", "valid": valid,
                                   "preferred": preferred, "onlink": bool(pflags & 0x80),
                                   "autonomous": bool(pflags & 0x40)})
        elif kind == OPT_RDNSS and length >= 24:
            ra["rdnss"] += [str(ipaddress.IPv6Address(body[i:i + 16])) for i in range(8, length, 16)]
        elif kind == OPT_MTU and length == 8:
            ra["mtu"] = struct.unpack_from("!I", body, 4)[0]
        off += length
    return ra


def collect(iface: str, timeout: float, solicit: bool = True) -> list[dict[str, Any]]:
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
    index = socket.if_nametoindex(iface)
    deadline = time.monotonic() + timeout
    while solicit:
        try:
            s.sendto(struct.pack("!BBHI", ND_ROUTER_SOLICIT, 0, 0, 0), ("ff02::2", 0, 0, index))
            break
        except OSError:     # EADDRNOTAVAIL while the link-local address is tentative (DAD)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    deadline = time.monotonic() + timeout
    out = []
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        data, src = s.recvfrom(2048)
        ra = parse_ra(data)
        if ra is not None:
            ra["source"] = src[0].split("%")[0]
            out.append(ra)
    s.close()
    return out


def build_ra(prefix: ipaddress.IPv6Network, router_lifetime: int = 1800) -> bytes:
    """An advertisement of ``prefix`` on-link and autonomous (SLAAC), valid 1 day."""
    head = struct.pack("!BBHBBHII", ND_ROUTER_ADVERT, 0, 0, 64, 0, router_lifetime, 0, 0)
    pio = struct.pack("!BBBBIII", OPT_PREFIX, 4, prefix.prefixlen, 0xC0, 86400, 14400, 0)
    return head + pio + prefix.network_address.packed


class Advertiser:
    """Router advertisements of ``prefix`` on ``iface`` in ``netns``: a few at
    once, then every ``interval`` s and at once on a router solicitation (as
    dnsmasq's ``ra-only`` does), from a daemon thread."""

    def __init__(self, netns: Netns, iface: str, prefix: str, interval: float = 10.0) -> None:
        self.prefix, self.interval = ipaddress.IPv6Network(prefix), interval
        with netns.entered():
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            self.index = socket.if_nametoindex(iface)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, iface.encode())
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        # all-routers: the solicitations come to ff02::2
        mreq = socket.inet_pton(socket.AF_INET6, "ff02::2") + struct.pack("@I", self.index)
        self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"ra-{iface}")
        self.thread.start()

    def _send(self) -> bool:
        try:
            self.sock.sendto(build_ra(self.prefix), ("ff02::1", 0, 0, self.index))
        except OSError:     # EADDRNOTAVAIL while the link-local address is tentative
            return False
        self.sent += 1
        return True

    def _run(self) -> None:
        next_at = time.monotonic()
        early = 3           # the first few a second apart (RFC 4861 MAX_INITIAL_RTR_ADVERTISEMENTS)
        while not self.stopping.is_set():
            left = next_at - time.monotonic()
            if left <= 0:
                if not self._send():
                    next_at = time.monotonic() + 0.2
                    continue
                early -= 1
                next_at = time.monotonic() + (1.0 if early > 0 else self.interval)
                continue
            if select.select([self.sock], [], [], min(left, 0.5))[0]:
                data = self.sock.recv(2048)
                if data[:1] == bytes([ND_ROUTER_SOLICIT]):
                    self._send()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        self.sock.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", required=True)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--no-solicit", action="store_true", help="only listen (for unsolicited ones)")
    args = parser.parse_args(argv)
    print(json.dumps(collect(args.iface, args.timeout, not args.no_solicit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
