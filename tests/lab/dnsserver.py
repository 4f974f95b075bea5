"""A tiny authoritative DNS server for the lab's "internet" (UDP and TCP).

In the lab it runs as threads of the test process, its sockets created in
the internet namespace (:class:`DNSServer`); for manual use:

    ip netns exec inet python -m lab.dnsserver --listen 10.64.0.1 --log FILE \\
        --record www.example.test=198.18.0.10 [--record ...]

Known names answer their A record, or their AAAA record for a name given an
IPv6 address (the other type: empty NOERROR); anything else gets
NXDOMAIN.  Every query is logged as ``<client-ip> <qname> <qtype> <rcode>``
so tests can see *who* asked (the board's uplink address when the hotspot's
dnsmasq forwards).  The command prints ``READY`` once its sockets are bound.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import socketserver
import struct
import sys
import threading
from pathlib import Path
from typing import TextIO

from lab import dnswire
from lab.netns import ROOT, Netns


class Zone:
    def __init__(self, records: dict[str, str], log: TextIO) -> None:
        self.records = {k.lower().rstrip("."): v for k, v in records.items()}
        self.log = log
        self.lock = threading.Lock()

    def answer(self, packet: bytes, client: str) -> bytes | None:
        try:
            query = dnswire.parse(packet)
        except (ValueError, IndexError, struct.error):
            return None
        if query.is_response:
            return None
        if len(query.questions) != 1:
            return dnswire.build_response(query, dnswire.RCODE_FORMERR, [])
        q = query.questions[0]
        addr = self.records.get(q.name.lower().rstrip("."))
        answers: list[tuple[int, bytes]] = []
        if addr is None:
            rcode = dnswire.RCODE_NXDOMAIN
        else:
            rcode = dnswire.RCODE_NOERROR
            ip = ipaddress.ip_address(addr)
            rtype = dnswire.TYPE_A if ip.version == 4 else dnswire.TYPE_AAAA
            if q.qtype in (rtype, dnswire.TYPE_ANY):
                answers.append((rtype, ip.packed))
        with self.lock:
            self.log.write(f"{client} {q.name} {q.qtype} {rcode}\n")
            self.log.flush()
        return dnswire.build_response(query, rcode, answers)


class UDPHandler(socketserver.BaseRequestHandler):
    server: UDPServer

    def handle(self) -> None:
        data, sock = self.request
        reply = self.server.zone.answer(data, self.client_address[0])
        if reply is not None:
            sock.sendto(reply, self.client_address)


class TCPHandler(socketserver.StreamRequestHandler):
    server: TCPServer

    def handle(self) -> None:
        self.connection.settimeout(5)
        head = self.rfile.read(2)
        if len(head) != 2:
            return
        data = self.rfile.read(struct.unpack("!H", head)[0])
        reply = self.server.zone.answer(data, self.client_address[0])
        if reply is not None:
            self.wfile.write(struct.pack("!H", len(reply)) + reply)


def bind_address(addr: tuple[str, int]) -> tuple[str, int] | tuple[str, int, int, int]:
    """A link-local address with its scope (fe80::53%isp0) as bind() takes it."""
    if "%" not in addr[0]:
        return addr
    return socket.getaddrinfo(addr[0], addr[1], socket.AF_INET6, socket.SOCK_DGRAM)[0][4]  # type: ignore[return-value]


class UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], zone: Zone) -> None:
        self.zone = zone
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(bind_address(addr), UDPHandler)


class TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple[str, int], zone: Zone) -> None:
        self.zone = zone
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(bind_address(addr), TCPHandler)


class DNSServer:
    """UDP+TCP servers on ``listen`` addresses, bound inside ``netns``, served by daemon threads."""

    def __init__(
        self, listen: list[str], records: dict[str, str], log: Path, netns: Netns | None = None, port: int = 53
    ) -> None:
        self._log = open(log, "a", buffering=1)  # noqa: SIM115 - closed in stop()
        self.zone = Zone(records, self._log)
        self.servers: list[socketserver.BaseServer] = []
        with (netns or ROOT).entered():
            for address in listen:
                self.servers.append(UDPServer((address, port), self.zone))
                self.servers.append(TCPServer((address, port), self.zone))
        self.threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="dns")
            for s in self.servers
        ]
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
        self._log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", action="append", required=True, help="address to bind (repeatable)")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--record", action="append", default=[], metavar="NAME=IPV4")
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    records = dict(r.split("=", 1) for r in args.record)
    with open(args.log, "a", buffering=1) as log:
        zone = Zone(records, log)
        servers: list[socketserver.BaseServer] = []
        for address in args.listen:
            servers.append(UDPServer((address, args.port), zone))
            servers.append(TCPServer((address, args.port), zone))
        threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
        for t in threads:
            t.start()
        print("READY", flush=True)
        sys.stdout.close()
        for t in threads:
            t.join()
    return 0


if __name__ == "__main__":
    sys.exit(main())
