"""What answers at an IPv6 address: the TCP ports that accept a connection,
the UDP ports that answer a datagram (a DNS query to 53, a few bytes to the
others), as a scan from the internet side sees the board.

    ip netns exec hs-inet python -m lab.scan6 ADDR 22,53,80 [--udp 53,547]

prints {"tcp": [open ports], "udp": [answering ports]}. The other side, a
service of the board open on every IPv6 address (TCP and UDP), which the
scan must find before hotshare runs and must not find while it runs:

    ip netns exec hs-board python -m lab.scan6 --listen 2222

In the QEMU lab both run in the test process (:func:`scan` inside the
internet namespace, ``with ns.entered()``; :class:`Listener`): no Python
start-up, which costs seconds under TCG.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading

from lab.netns import ROOT, Netns

TCP_PORTS = (22, 53, 80, 443, 547, 2222, 8080)
UDP_PORTS = (53, 547, 2222)
DNS_QUERY = bytes.fromhex("abcd01000001000000000000") + b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"


def scan(addr: str, tcp: tuple[int, ...] = TCP_PORTS, udp: tuple[int, ...] = UDP_PORTS,
         timeout: float = 0.5) -> dict[str, list[int]]:
    open_tcp = []
    for port in tcp:
        c = socket.socket(socket.AF_INET6)
        c.settimeout(timeout)
        try:
            c.connect((addr, port))
            open_tcp.append(port)
        except OSError:     # refused (closed) or no answer (dropped)
            pass
        c.close()
    answering = []
    for port in udp:
        u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        u.settimeout(timeout * 2)
        try:
            u.connect((addr, port))
            u.send(DNS_QUERY if port == 53 else b"hello?\n")
            u.recv(512)
            answering.append(port)
        except OSError:     # port unreachable (closed) or nothing (dropped)
            pass
        u.close()
    return {"tcp": open_tcp, "udp": answering}


class Listener:
    """TCP and UDP on [::]:``port`` in ``netns``: TCP says "board", UDP echoes."""

    def __init__(self, port: int, netns: Netns = ROOT) -> None:
        with netns.entered():
            self.tcp = socket.socket(socket.AF_INET6)
            self.udp = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("::", port))
        self.tcp.listen(16)
        self.udp.bind(("::", port))
        for target in (self._accept, self._echo):
            threading.Thread(target=target, daemon=True, name=f"listener-{port}").start()

    def _accept(self) -> None:
        while True:
            try:
                c, _ = self.tcp.accept()
            except OSError:     # closed
                return
            c.sendall(b"board")
            c.close()

    def _echo(self) -> None:
        while True:
            try:
                data, peer = self.udp.recvfrom(512)
                if peer is None:        # shut down
                    return
                self.udp.sendto(data, peer)
            except OSError:
                return

    def stop(self) -> None:
        for s in (self.tcp, self.udp):
            try:
                s.shutdown(socket.SHUT_RDWR)    # wakes the thread blocked in accept/recvfrom
            except OSError:
                pass
            s.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("addr", nargs="?")
    parser.add_argument("tcp", nargs="?", default=",".join(map(str, TCP_PORTS)), help="comma-separated TCP ports")
    parser.add_argument("--udp", default=",".join(map(str, UDP_PORTS)))
    parser.add_argument("--listen", type=int, help="be the board's service on this port instead")
    args = parser.parse_args(argv)
    if args.listen:
        Listener(args.listen)
        print("READY", flush=True)
        threading.Event().wait()    # until killed
        return 0
    ports = tuple(int(p) for p in args.tcp.split(",") if p)
    print(json.dumps(scan(args.addr, ports, tuple(int(p) for p in args.udp.split(",") if p))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
