"""The lab's web server: answers every GET with the client address it sees.

In the lab it runs as a thread of the test process, its socket created in the
internet namespace (:class:`WebServer`); for manual use:

    ip netns exec inet python -m lab.httpserver --listen 198.18.0.10 [--port 80] --log FILE

Behind the hotspot's NAT a phone's request arrives from the board's uplink
address (10.64.0.2), not from the phone's 192.168.12.x: the body proves it.
The command prints ``READY`` on stdout once it listens. ``GET /bytes/N``
answers N bytes instead (at most 64 MB): a download, for path-MTU tests.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import sys
import threading
from pathlib import Path
from typing import TextIO

from lab.netns import ROOT, Netns


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.0"

    def do_GET(self) -> None:
        if self.path == "/generate_204":     # a connectivity check's answer (hotshare's HEALTH_METHOD=http)
            self.send_response(204)
            self.end_headers()
            return
        if self.path.startswith("/bytes/") and self.path[7:].isdigit():
            self._send_bytes(min(int(self.path[7:]), 64 << 20))
            return
        body = f"{self.client_address[0]}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_bytes(self, n: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        chunk = b"x" * 65536
        while n > 0:
            self.wfile.write(chunk[:n])
            n -= len(chunk)

    def log_message(self, format: str, *args: object) -> None:
        self.server.log.write(f"{self.client_address[0]} {format % args}\n")
        self.server.log.flush()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr: tuple[str, int], log: TextIO) -> None:
        self.log = log
        self.address_family = socket.AF_INET6 if ":" in addr[0] else socket.AF_INET
        super().__init__(addr, Handler)


class WebServer:
    """The server bound inside ``netns``, served by a daemon thread."""

    def __init__(self, listen: str, log: Path, netns: Netns | None = None, port: int = 80) -> None:
        self._log = open(log, "a", buffering=1)  # noqa: SIM115 - closed in stop()
        with (netns or ROOT).entered():
            self.server = Server((listen, port), self._log)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True, name="http"
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, default=80)
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    with open(args.log, "a", buffering=1) as log:
        server = Server((args.listen, args.port), log)
        print("READY", flush=True)
        sys.stdout.close()
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
