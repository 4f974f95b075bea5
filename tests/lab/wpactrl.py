"""Client for the wpa_supplicant / hostapd control socket (like wpaspy).

The control socket is a path-named AF_UNIX datagram socket; path-named sockets
work across network namespaces, so the test process (root ns) can talk to a
wpa_supplicant running in a phone's namespace.  Our own end is bound to a
path too: an abstract name would live in the test's namespace only, and the
daemon's reply would not reach it.
"""

from __future__ import annotations

import os
import select
import socket
import time
from pathlib import Path

_counter = 0


class WpaCtrl:
    def __init__(self, path: Path, local_dir: Path) -> None:
        global _counter
        _counter += 1
        self.path = path
        local_dir.mkdir(parents=True, exist_ok=True)
        self.local = local_dir / f"ctrl-{os.getpid()}-{_counter}"
        self.local.unlink(missing_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.local))
        self.sock.connect(str(path))
        self.attached = False
        self.pending: list[str] = []

    def close(self) -> None:
        if self.attached:
            try:
                self.request("DETACH", timeout=1.0)
            except (OSError, TimeoutError):
                pass
            self.attached = False
        self.sock.close()
        self.local.unlink(missing_ok=True)

    def __enter__(self) -> WpaCtrl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, cmd: str, timeout: float = 5.0) -> str:
        """Send ``cmd`` and return the reply (unsolicited events are queued)."""
        self.sock.send(cmd.encode())
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no reply to {cmd!r} from {self.path}")
            ready, _, _ = select.select([self.sock], [], [], left)
            if not ready:
                continue
            msg = self.sock.recv(8192).decode(errors="replace")
            if self.attached and msg.startswith("<") and ">" in msg[:4]:
                self.pending.append(msg)
                continue
            return msg

    def attach(self) -> None:
        if self.request("ATTACH").strip() != "OK":
            raise RuntimeError(f"ATTACH refused by {self.path}")
        self.attached = True

    def wait_event(self, prefixes: list[str], timeout: float) -> str | None:
        """First event (without its ``<N>`` level) starting with one of
        ``prefixes``, or None after ``timeout`` s."""
        assert self.attached, "attach() first"
        deadline = time.monotonic() + timeout
        while True:
            while self.pending:
                event = _strip_level(self.pending.pop(0))
                if any(event.startswith(p) for p in prefixes):
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], left)
            if ready:
                self.pending.append(self.sock.recv(8192).decode(errors="replace"))


def _strip_level(msg: str) -> str:
    if msg.startswith("<") and ">" in msg[:4]:
        return msg[msg.index(">") + 1 :]
    return msg


def parse_status(text: str) -> dict[str, str]:
    """``key=value`` lines (``STATUS``, ``wpa_cli status``) as a dict."""
    result = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            result[key.strip()] = value.strip()
    return result
