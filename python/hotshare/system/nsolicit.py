"""Neighbour solicitations seen on one interface (a packet socket with a
classic BPF filter: the kernel hands over ICMPv6 type 135 only, nothing of
the forwarded traffic), for the IPv6 relay's NDP proxy."""

from __future__ import annotations

import array
import ipaddress
import socket
import struct

ETH_P_IPV6 = 0x86DD
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
# ldb [6] (next header) == 58 (ICMPv6), ldb [40] (its type) == 135: accept, else drop.
# SOCK_DGRAM: offset 0 is the IPv6 header. (A solicitation behind extension headers is
# not seen: neighbour discovery never uses them, RFC 4861 section 7.1.1.)
_FILTER = ((0x30, 0, 0, 6), (0x15, 0, 3, 58), (0x30, 0, 0, 40), (0x15, 0, 1, 135),
           (0x06, 0, 0, 0xFFFF), (0x06, 0, 0, 0))
_PROGRAM = array.array("B", b"".join(struct.pack("=HBBI", *insn) for insn in _FILTER))


def open_listener(ifname: str) -> socket.socket:
    """A non-blocking socket receiving the solicitations that arrive on ``ifname``."""
    # protocol 0 until the filter is on and the socket bound: it receives nothing before
    s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, 0)
    try:
        address, _n = _PROGRAM.buffer_info()
        s.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, struct.pack("HL", len(_FILTER), address))
        s.bind((ifname, ETH_P_IPV6))
    except OSError:
        s.close()
        raise
    return s


def read(s: socket.socket) -> list[tuple[ipaddress.IPv6Address, ipaddress.IPv6Address]]:
    """(source, target) of each solicitation waiting on ``s`` that came in
    (the board's own, going out, are left out); source :: is a client's
    duplicate address detection for target."""
    out: list[tuple[ipaddress.IPv6Address, ipaddress.IPv6Address]] = []
    while True:
        try:
            data, addr = s.recvfrom(256)
        except OSError:     # nothing more waiting (EAGAIN), or the link went (ENETDOWN)
            return out
        if addr[2] == PACKET_OUTGOING or len(data) < 64:
            continue
        out.append((ipaddress.IPv6Address(data[8:24]), ipaddress.IPv6Address(data[48:64])))
