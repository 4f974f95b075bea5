"""A /dev/log collector: the guest has no syslog daemon, the lab provides one.

Daemons of the hotspot (hostapd with ``-s``, dnsmasq by default) log through
syslog; the collector keeps every line in memory for assertions and appends
it to a file for the CI artifacts.

    log = SyslogCollector(out=Path(".../syslog.txt")).start()
    mark = log.mark()
    ...
    log.wait_for(r"DHCPACK\\(wlan0\\)", timeout=10, since=mark)
"""

from __future__ import annotations

import os
import re
import socket
import stat
import threading
import time
from pathlib import Path


class SyslogCollector:
    def __init__(self, out: Path, path: Path = Path("/dev/log")) -> None:
        self.out = out
        self.path = path
        self.sock: socket.socket | None = None
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.active = False

    def start(self) -> SyslogCollector:
        """Bind /dev/log unless someone already listens there."""
        if self.path.exists() and stat.S_ISSOCK(self.path.stat().st_mode):
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            try:
                probe.connect(str(self.path))
                return self  # a real syslog daemon: leave it alone
            except OSError:
                self.path.unlink()
            finally:
                probe.close()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        os.chmod(self.path, 0o666)
        self.active = True
        self._thread = threading.Thread(target=self._loop, name="syslog", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        sock = self.sock                # stop() clears the attribute while this waits
        assert sock is not None
        with open(self.out, "a", buffering=1) as f:
            while True:
                try:
                    data = sock.recv(65536)
                except OSError:
                    return
                line = re.sub(r"^<\d+>", "", data.decode(errors="replace").rstrip("\n\0"))
                f.write(f"{time.strftime('%H:%M:%S')} {line}\n")
                with self._cond:
                    self._lines.append(line)
                    self._cond.notify_all()

    def stop(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.path.unlink(missing_ok=True)
        self.active = False

    def mark(self) -> int:
        with self._cond:
            return len(self._lines)

    def lines(self, since: int = 0) -> list[str]:
        with self._cond:
            return self._lines[since:]

    def wait_for(self, pattern: str, timeout: float, since: int = 0) -> str | None:
        """First line (from index ``since``) matching regex ``pattern``, or None."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        pos = since
        with self._cond:
            while True:
                for line in self._lines[pos:]:
                    if rx.search(line):
                        return line
                pos = len(self._lines)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
