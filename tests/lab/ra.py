"""Router advertisements as a client sees them: send a router solicitation,
collect the advertisements that come within a time (raw ICMPv6, RFC 4861).

    ip netns exec hs-phone python -m lab.ra --iface eth0 --timeout 3

prints a JSON list, one item per advertisement: its source, router
lifetime, prefixes (prefix, length, valid and preferred lifetimes, flags)
and RDNSS servers. An empty list: no router advertised anything.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import select
import socket
import struct
import sys
import time
from typing import Any

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
