"""Probes of one uplink's data path: ICMP echo, DNS query, TCP connect, HTTP 204.

Each :class:`Probe` is one non-blocking socket bound to the uplink
(SO_BINDTODEVICE: the kernel's route lookup then only takes that
interface's routes, whatever the main table prefers), registered in the
service's selectors loop by the caller; :meth:`Probe.handle` is called when
it is ready and says whether the target answered. Nothing here blocks or
sleeps; timeouts are the caller's timers.

Cost on a metered SIM: an ICMP echo without payload is 28 bytes each way;
a DNS query for the root's NS about 45 bytes out and (answered) some 500
back; a TCP connect 3 small packets and a RST or FIN; HTTP 204 a connect
plus some 100 bytes each way.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
from ipaddress import IPv4Address

SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)
ICMP_ECHO, ICMP_ECHOREPLY = 8, 0
HTTP_REQUEST = "GET /generate_204 HTTP/1.0\r\nHost: {host}\r\nUser-Agent: hotshare\r\n\r\n"


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident: int, seq: int) -> bytes:
    """An ICMP echo request without payload (8 bytes: the cheapest probe)."""
    head = struct.pack("!BBHHH", ICMP_ECHO, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ICMP_ECHO, 0, _checksum(head), ident, seq)


def dns_query(ident: int) -> bytes:
    """A query for the root zone's NS records: any answer (even REFUSED) proves the path."""
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + b"\0" + struct.pack("!HH", 2, 1)


class Probe:
    """One probe of ``target`` through ``ifname`` by ``method``."""

    def __init__(self, ifname: str, method: str, target: IPv4Address, port: int) -> None:
        self.ifname, self.method, self.target, self.port = ifname, method, str(target), port
        self.ident = int.from_bytes(os.urandom(2), "big")
        self.raw = False
        self.sock = self._open()
        self.want_write = method in ("tcp", "http")  # connecting; else waiting for a reply
        self._sent_request = False

    def _open(self) -> socket.socket:
        if self.method == "icmp":
            try:    # a ping socket: the kernel hands it only its own replies
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK, socket.IPPROTO_ICMP)
            except OSError:     # net.ipv4.ping_group_range excludes us (Buildroot's default "1 0")
                sock = socket.socket(socket.AF_INET, socket.SOCK_RAW | socket.SOCK_NONBLOCK, socket.IPPROTO_ICMP)
                self.raw = True
        elif self.method == "dns":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        else:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, self.ifname.encode())
            if self.method == "icmp":
                sock.sendto(echo_request(self.ident, 1), (self.target, 0))
            elif self.method == "dns":
                sock.connect((self.target, self.port))
                sock.send(dns_query(self.ident))
            else:
                err = sock.connect_ex((self.target, self.port))
                if err not in (0, errno.EINPROGRESS):
                    raise OSError(err, os.strerror(err))
        except OSError:
            sock.close()
            raise
        return sock

    def fileno(self) -> int:
        return self.sock.fileno()

    def close(self) -> None:
        self.sock.close()

    def handle(self) -> bool | None:
        """The socket is ready: True if the target answered, False if it
        cannot (an error that proves nothing came back), None to wait more."""
        try:
            if self.want_write:
                return self._connected()
            data = self.sock.recv(2048)
        except BlockingIOError:
            return None
        except OSError as e:
            # ECONNREFUSED on a connected UDP/TCP socket: an ICMP or RST came back, the path works
            return e.errno == errno.ECONNREFUSED
        if self.method == "icmp":
            return self._echo_reply(data)
        if self.method == "dns":
            return True if len(data) >= 2 and int.from_bytes(data[:2], "big") == self.ident else None
        # http: the status line; a captive portal's 200 or 302 is no internet
        return data.startswith(b"HTTP/1.") and data[9:12] == b"204"

    def _connected(self) -> bool | None:
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err == errno.ECONNREFUSED:
            return True         # a RST from the target: the path works
        if err:
            return False
        if self.method == "tcp":
            return True
        self.want_write = False
        self.sock.send(HTTP_REQUEST.format(host=self.target).encode())
        return None

    def _echo_reply(self, data: bytes) -> bool | None:
        if self.raw:    # a raw socket sees the IP header, and every ICMP message of the interface
            if len(data) < 20:
                return None
            src = socket.inet_ntoa(data[12:16])
            data = data[(data[0] & 0x0F) * 4:]
            if src != self.target or len(data) < 8 or struct.unpack("!H", data[4:6])[0] != self.ident:
                return None
        return True if len(data) >= 8 and data[0] == ICMP_ECHOREPLY else None
