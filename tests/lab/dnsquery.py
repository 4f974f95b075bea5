"""Send one DNS query over UDP and print the result as JSON.

    python -m lab.dnsquery --server 192.168.12.1 [--type A|AAAA] [--timeout 3] NAME

Prints ``{"rcode": 0, "addresses": ["198.18.0.10"], "server": ...}``.  Exit
status 0 when a response arrived (whatever its rcode), 2 on timeout.  Run it
inside a namespace with ``ip netns exec NS python -m lab.dnsquery ...`` so the
query leaves from that namespace (a phone's).  The lab itself calls
:func:`query` with ``netns=``: the socket is created in the phone's namespace
and no Python process has to start (seconds under TCG).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time

from lab import dnswire
from lab.netns import ROOT, Netns


def query(
    server: str,
    name: str,
    qtype: int = dnswire.TYPE_A,
    timeout: float = 3.0,
    port: int = 53,
    netns: Netns | None = None,
) -> dnswire.Message:
    """One UDP query, sent from ``netns`` (default: the caller's), retried
    every second until ``timeout``; raises TimeoutError."""
    ident = int.from_bytes(os.urandom(2), "big")
    packet = dnswire.build_query(ident, name, qtype)
    deadline = time.monotonic() + timeout
    family = socket.AF_INET6 if ":" in server else socket.AF_INET   # fe80::1%eth0 too
    with (netns or ROOT).make_socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(socket.getaddrinfo(server, port, family, socket.SOCK_DGRAM)[0][4])  # with the scope
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer from {server} for {name} within {timeout}s")
            sock.send(packet)
            sock.settimeout(min(1.0, left))
            try:
                while True:
                    reply = dnswire.parse(sock.recv(4096))
                    if reply.ident == ident and reply.is_response:
                        return reply
            except (TimeoutError, socket.timeout):
                continue
            except ConnectionRefusedError:
                # ICMP port unreachable: nothing listens (yet); retry until the deadline.
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one DNS query, JSON result")
    parser.add_argument("--server", required=True)
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("--type", choices=["A", "AAAA"], default="A")
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("name")
    args = parser.parse_args(argv)
    qtype = dnswire.TYPE_A if args.type == "A" else dnswire.TYPE_AAAA
    try:
        reply = query(args.server, args.name, qtype, args.timeout, args.port)
    except TimeoutError as exc:
        print(json.dumps({"error": str(exc), "server": args.server}))
        return 2
    print(json.dumps({"rcode": reply.rcode, "addresses": reply.addresses(), "server": args.server}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
